#![no_main]
// The body lives in reeldb_core::fuzzing so tests/fuzz_corpus.rs replays exactly this.
libfuzzer_sys::fuzz_target!(|data: &[u8]| reeldb_core::fuzzing::frame(data));
