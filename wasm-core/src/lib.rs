//! reeldb core: record framing, CRC32C, scan/recover, index rebuild and the checkpoint codec,
//! with no I/O.
//!
//! The wasm exports live in `exports.rs` and speak in pointers into linear memory; the
//! modules below are plain Rust with unit tests that run natively (`cargo test`).
pub mod codec;
pub mod event;
pub mod format;
pub mod frame;
/// Fuzz-target bodies (cargo-fuzz in `fuzz/` and `tests/fuzz_corpus.rs`). Behind a feature so
/// the shipped .wasm is built from exactly the code above, whatever the harness does.
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod intern;
pub mod names;
pub mod scan;
pub mod segment;
pub mod verify;

mod exports;

#[cfg(test)]
mod vectors;
