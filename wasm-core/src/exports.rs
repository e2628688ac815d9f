//! The raw wasm ABI (no generated glue). Hosts copy bytes into memory obtained from
//! `reel_alloc`, call one export per batch, and read results from the result block at
//! `reel_result_ptr()` (u32 words, see `ResultWord`). Positions cross as f64, exact up to
//! 2^53. Any call may grow memory: hosts re-create their views after each call.
#![allow(clippy::missing_safety_doc)]

use crate::codec::{self, error_code, CodecError};
use crate::format::{NamedKinds, NAMED_KINDS_BYTES, STORE_ID_BYTES};
use crate::frame::{encode_frame_marked, frame_length, EntryInput};
use crate::intern::Interner;
use crate::scan::{probe_after, scan, ScanInput, ENTRY_RECORD_WORDS};
use crate::segment::{decode_header, encode_header, HeaderError};
use crate::verify::{entry_check, verify_batch, VerifyBatch};
use core::slice;

/// Word offsets in the result block.
#[repr(usize)]
enum ResultWord {
    Status = 0,
    ErrorCode = 1,
    Consumed = 2,
    Frames = 3,
    Entries = 4,
    Needed = 5,
    Checksum = 6,
    BadEvent = 7,
    /// f64 at byte 32.
    Position = 8,
    /// Pointer/length pairs for returned byte strings (a stream name, checkpoint bytes).
    BytesPointer = 10,
    BytesLength = 11,
}
const RESULT_WORDS: usize = 16;

/// 8-byte aligned so the host can read the f64 at word 8 with a Float64Array.
#[repr(C, align(8))]
struct ResultBlock([u32; RESULT_WORDS]);

struct Core {
    result: ResultBlock,
    message: String,
    interner: Interner,
    /// The bytes of the last checkpoint encode or decode, lent to the host until the next one.
    codec_output: Vec<u8>,
    /// The kinds `reel_scan` indexes by name (`reel_set_named_kinds`).
    named_kinds: NamedKinds,
}

static mut CORE: Option<Core> = None;

fn core() -> &'static mut Core {
    // wasm32 without threads: one instance, one caller at a time.
    #[allow(static_mut_refs)]
    unsafe {
        CORE.get_or_insert_with(|| Core { result: ResultBlock([0; RESULT_WORDS]), message: String::new(), interner: Interner::default(), codec_output: Vec::new(), named_kinds: NamedKinds::DEFAULT })
    }
}

fn set_position(core: &mut Core, position: u64) {
    let bits = (position as f64).to_bits();
    core.result.0[ResultWord::Position as usize] = bits as u32;
    core.result.0[ResultWord::Position as usize + 1] = (bits >> 32) as u32;
}

/// The host may pass pointer 0 with length 0 (no previous state).
unsafe fn bytes<'a>(pointer: *const u8, length: u32) -> &'a [u8] {
    if length == 0 {
        &[]
    } else {
        slice::from_raw_parts(pointer, length as usize)
    }
}

unsafe fn store_id<'a>(pointer: *const u8) -> &'a [u8; STORE_ID_BYTES] {
    &*(pointer as *const [u8; STORE_ID_BYTES])
}

#[no_mangle]
pub extern "C" fn reel_abi_version() -> u32 {
    // 2: entry checks (reel_frame_encode's `checks_out`, scan table word 6, reel_entries_verify).
    // 3: the host passes the named kinds to the scan (reel_set_named_kinds).
    3
}

/// Sets the kinds whose entries `reel_scan` indexes by name and version (the named-entry layout,
/// docs/FORMAT.md §8) from a bitmap of `NAMED_KINDS_BYTES` bytes at `pointer`: kind `k` is bit
/// `k % 8` of byte `k / 8`. Pointer 0 restores the built-in set (kinds 0x30–0x32, 0x80–0x82),
/// which is also the set before any call. The instance keeps the set for every later scan.
/// Returns the number of kinds in the set.
#[no_mangle]
pub unsafe extern "C" fn reel_set_named_kinds(pointer: *const u8) -> u32 {
    let core = core();
    core.named_kinds = if pointer.is_null() {
        NamedKinds::DEFAULT
    } else {
        NamedKinds(*(pointer as *const [u8; NAMED_KINDS_BYTES]))
    };
    core.named_kinds.len()
}

#[no_mangle]
pub extern "C" fn reel_alloc(size: u32) -> *mut u8 {
    let mut buffer = Vec::<u8>::with_capacity(size.max(1) as usize);
    let pointer = buffer.as_mut_ptr();
    core::mem::forget(buffer);
    pointer
}

#[no_mangle]
pub unsafe extern "C" fn reel_free(pointer: *mut u8, size: u32) {
    drop(Vec::from_raw_parts(pointer, 0, size.max(1) as usize));
}

#[no_mangle]
pub extern "C" fn reel_result_ptr() -> *const u32 {
    core().result.0.as_ptr()
}

#[no_mangle]
pub extern "C" fn reel_message_ptr() -> *const u8 {
    core().message.as_ptr()
}

#[no_mangle]
pub extern "C" fn reel_message_len() -> u32 {
    core().message.len() as u32
}

#[no_mangle]
pub unsafe extern "C" fn reel_crc32c(pointer: *const u8, length: u32, initial: u32) -> u32 {
    crc32c::crc32c_append(initial, slice::from_raw_parts(pointer, length as usize))
}

/// The entry check (`verify::entry_check`) of the bytes with `seed` as the position; snapshots
/// use it with seed 0 for their section checksums.
#[no_mangle]
pub unsafe extern "C" fn reel_entry_check(pointer: *const u8, length: u32, seed: f64) -> u32 {
    entry_check(bytes(pointer, length), seed as u64)
}

#[no_mangle]
pub unsafe extern "C" fn reel_segment_header_encode(out: *mut u8, store: *const u8, first_position: f64) -> u32 {
    let out = slice::from_raw_parts_mut(out, crate::format::SEGMENT_HEADER_BYTES);
    encode_header(out, store_id(store), first_position as u64);
    out.len() as u32
}

/// 0 = valid (first position in the result block, store id copied to `store_out`);
/// 1 too short, 2 bad magic, 3 bad checksum, 4 unsupported version, 5 other store.
#[no_mangle]
pub unsafe extern "C" fn reel_segment_header_decode(pointer: *const u8, length: u32, expected_store: *const u8, store_out: *mut u8) -> u32 {
    let core = core();
    let bytes = slice::from_raw_parts(pointer, length as usize);
    let expected = if expected_store.is_null() { None } else { Some(store_id(expected_store)) };
    core.result.0[ResultWord::ErrorCode as usize] = 0;
    match decode_header(bytes, expected) {
        Ok((first_position, store)) => {
            set_position(core, first_position);
            slice::from_raw_parts_mut(store_out, STORE_ID_BYTES).copy_from_slice(&store);
            0
        }
        Err(HeaderError::TooShort) => 1,
        Err(HeaderError::BadMagic) => 2,
        Err(HeaderError::BadChecksum) => 3,
        Err(HeaderError::UnsupportedVersion(version)) => {
            core.result.0[ResultWord::ErrorCode as usize] = version;
            4
        }
        Err(HeaderError::WrongStore) => 5,
    }
}

#[no_mangle]
pub extern "C" fn reel_frame_length(entry_count: u32, payload_bytes: u32) -> u32 {
    frame_length(entry_count as usize, payload_bytes as usize) as u32
}

/// Encodes one frame. `kinds_lengths` holds (kind, payload length) u32 pairs; the payloads
/// lie back to back at `payloads`. `unsynced_before` counts the entries before the frame
/// not yet known durable. Writes the frame at `out` (room for `reel_frame_length`) and
/// returns its length; the frame checksum goes to the result block, and the entry check of
/// each entry (`verify::entry_check`) to `checks_out` (`entry_count` u32s; null: none).
#[no_mangle]
pub unsafe extern "C" fn reel_frame_encode(
    kinds_lengths: *const u32,
    entry_count: u32,
    payloads: *const u8,
    first_position: f64,
    unsynced_before: u32,
    previous_checksum: u32,
    store: *const u8,
    out: *mut u8,
    checks_out: *mut u32,
) -> u32 {
    let pairs = slice::from_raw_parts(kinds_lengths, entry_count as usize * 2);
    let payload_bytes: usize = pairs.chunks_exact(2).map(|pair| pair[1] as usize).sum();
    let payloads = slice::from_raw_parts(payloads, payload_bytes);
    let mut inputs = Vec::with_capacity(entry_count as usize);
    let mut at = 0;
    for pair in pairs.chunks_exact(2) {
        let length = pair[1] as usize;
        inputs.push(EntryInput { kind: pair[0] as u8, payload: &payloads[at..at + length] });
        at += length;
    }
    let length = frame_length(inputs.len(), payload_bytes);
    let out = slice::from_raw_parts_mut(out, length);
    let (length, checksum) = encode_frame_marked(out, &inputs, first_position as u64, unsynced_before, previous_checksum, store_id(store));
    if !checks_out.is_null() {
        let checks = slice::from_raw_parts_mut(checks_out, inputs.len());
        for (index, input) in inputs.iter().enumerate() {
            checks[index] = entry_check(input.payload, first_position as u64 + index as u64);
        }
    }
    core().result.0[ResultWord::Checksum as usize] = checksum;
    length as u32
}

/// Verifies a batch of entries read from one segment against their entry checks, in one
/// call: `data` holds file bytes from file offset `base`; `table` holds `count` payload
/// offsets (file offsets), then `count` lengths, then `count` expected checks, then, when
/// `sparse` is 1, `count` indexes relative to `first_position` (otherwise the entries are
/// the positions `first_position`, `first_position + 1`, …). Returns `count` when every entry
/// verifies; otherwise the index of the first that does not, with the reason in word 1
/// (1 check mismatch, 2 offset and length run past the bytes) and the computed check in word 6.
#[no_mangle]
pub unsafe extern "C" fn reel_entries_verify(data: *const u8, length: u32, base: f64, table: *const u32, count: u32, first_position: f64, sparse: u32) -> u32 {
    let count_usize = count as usize;
    let words = slice::from_raw_parts(table, count_usize * if sparse != 0 { 4 } else { 3 });
    let batch = VerifyBatch {
        bytes: bytes(data, length),
        base: base as u64,
        offsets: &words[..count_usize],
        lengths: &words[count_usize..2 * count_usize],
        checks: &words[2 * count_usize..3 * count_usize],
        locals: if sparse != 0 { Some(&words[3 * count_usize..]) } else { None },
        first_position: first_position as u64,
    };
    let core = core();
    match verify_batch(&batch) {
        Ok(()) => {
            core.result.0[ResultWord::ErrorCode as usize] = 0;
            count
        }
        Err((index, error)) => {
            core.result.0[ResultWord::ErrorCode as usize] = error.code();
            core.result.0[ResultWord::Checksum as usize] = match error {
                crate::verify::VerifyError::Mismatch { computed } => computed,
                crate::verify::VerifyError::OutOfRange => 0,
            };
            index as u32
        }
    }
}

/// Scans frames in `bytes`, filling `table` (`ENTRY_RECORD_WORDS` u32 per entry, offsets
/// relative to `bytes`). Entries of the kinds set by `reel_set_named_kinds` are indexed by name
/// and version. Returns the scan status; details are in the result block, and a bad frame's
/// description in the message buffer.
#[no_mangle]
pub unsafe extern "C" fn reel_scan(
    bytes: *const u8,
    length: u32,
    is_final: u32,
    expected_position: f64,
    previous_checksum: u32,
    store: *const u8,
    table: *mut u32,
    table_capacity: u32,
) -> u32 {
    let core = core();
    let input = ScanInput {
        bytes: slice::from_raw_parts(bytes, length as usize),
        is_final: is_final != 0,
        expected_position: expected_position as u64,
        previous_checksum,
        store_id: store_id(store),
        named_kinds: &core.named_kinds,
    };
    let table = slice::from_raw_parts_mut(table, table_capacity as usize * ENTRY_RECORD_WORDS);
    let result = scan(&input, &mut core.interner, table);
    core.result.0[ResultWord::Status as usize] = result.status as u32;
    core.result.0[ResultWord::ErrorCode as usize] = result.error.map_or(0, |error| error.code());
    core.result.0[ResultWord::Consumed as usize] = result.consumed as u32;
    core.result.0[ResultWord::Frames as usize] = result.frames;
    core.result.0[ResultWord::Entries as usize] = result.entries;
    core.result.0[ResultWord::Needed as usize] = result.needed as u32;
    core.result.0[ResultWord::Checksum as usize] = result.last_checksum;
    core.result.0[ResultWord::BadEvent as usize] = result.bad_event as u32;
    set_position(core, result.next_position);
    core.message = match (result.bad_event, result.error) {
        (true, _) => "an entry of a named kind does not have the named-entry layout: its lengths do not add up".into(),
        (false, Some(error)) => error.describe(),
        (false, None) => String::new(),
    };
    result.status as u32
}

/// Offset of the first valid frame at or after `start`, or -1. Also puts the number of valid
/// frames found in word 3 and the highest durable position they record in the position word.
#[no_mangle]
pub unsafe extern "C" fn reel_find_valid_frame(bytes: *const u8, length: u32, start: u32, store: *const u8) -> f64 {
    let core = core();
    let bytes = slice::from_raw_parts(bytes, length as usize);
    let probe = probe_after(bytes, start as usize, store_id(store));
    core.result.0[ResultWord::Frames as usize] = probe.map_or(0, |found| found.frames);
    set_position(core, probe.map_or(0, |found| found.durable_position));
    probe.map_or(-1.0, |found| found.first_offset as f64)
}

#[no_mangle]
pub unsafe extern "C" fn reel_intern(pointer: *const u8, length: u32) -> u32 {
    core().interner.intern(slice::from_raw_parts(pointer, length as usize))
}

#[no_mangle]
pub extern "C" fn reel_interned_count() -> u32 {
    core().interner.len() as u32
}

/// Puts a pointer/length to the name of stream `number` in the result block; 0 if unknown.
#[no_mangle]
pub extern "C" fn reel_interned_name(number: u32) -> u32 {
    let core = core();
    match core.interner.name(number) {
        Some(name) => {
            core.result.0[ResultWord::BytesPointer as usize] = name.as_ptr() as usize as u32;
            core.result.0[ResultWord::BytesLength as usize] = name.len() as u32;
            1
        }
        None => 0,
    }
}

#[no_mangle]
pub extern "C" fn reel_interner_clear() {
    core().interner.clear();
}

/// Checkpoint stored-bytes mode: one zstd frame of the state.
const CHECKPOINT_FULL: u32 = 0;
/// Checkpoint stored-bytes mode: a delta against the previous state (codec.rs).
const CHECKPOINT_DELTA: u32 = 1;

/// Ends a codec call: on success lends `output` to the host through words 10–11 and returns
/// 0; on failure returns the `CodecError` code (also in word 1) with its message.
fn finish_codec(core: &mut Core, outcome: Result<Vec<u8>, CodecError>) -> u32 {
    let code = match outcome {
        Ok(output) => {
            core.codec_output = output;
            core.message.clear();
            0
        }
        Err(error) => {
            core.codec_output = Vec::new();
            core.message = error.message;
            error.code
        }
    };
    core.result.0[ResultWord::Status as usize] = code;
    core.result.0[ResultWord::ErrorCode as usize] = code;
    core.result.0[ResultWord::BytesPointer as usize] = core.codec_output.as_ptr() as usize as u32;
    core.result.0[ResultWord::BytesLength as usize] = core.codec_output.len() as u32;
    code
}

fn unknown_mode(mode: u32) -> CodecError {
    CodecError { code: error_code::INVALID_ARGUMENT, message: format!("unknown checkpoint mode {mode} (0 full, 1 delta)") }
}

/// Compresses a checkpoint state: `mode` 0 full (`previous` ignored, may be 0/0), 1 a delta
/// from `previous`. `level` is a zstd level (clamped by zstd; 0 = zstd's default, 3). Returns
/// 0 with the stored bytes at words 10–11 (valid until the next checkpoint call), or an error
/// code (codec.rs `error_code`) with the message.
#[no_mangle]
pub unsafe extern "C" fn reel_checkpoint_encode(previous: *const u8, previous_length: u32, raw: *const u8, raw_length: u32, level: i32, mode: u32) -> u32 {
    let (previous, raw) = (bytes(previous, previous_length), bytes(raw, raw_length));
    let outcome = match mode {
        CHECKPOINT_FULL => Ok(codec::encode_full(raw, level)),
        CHECKPOINT_DELTA => Ok(codec::encode_delta(previous, raw, level)),
        _ => Err(unknown_mode(mode)),
    };
    finish_codec(core(), outcome)
}

/// Restores a checkpoint state from its stored bytes: `mode` 0 full, 1 a delta applied to
/// `previous`. A state longer than `raw_length_max` is an error (2) before anything that size
/// is allocated; damaged bytes are error 1. On 0 the state is at words 10–11.
#[no_mangle]
pub unsafe extern "C" fn reel_checkpoint_decode(previous: *const u8, previous_length: u32, stored: *const u8, stored_length: u32, mode: u32, raw_length_max: u32) -> u32 {
    let (previous, stored) = (bytes(previous, previous_length), bytes(stored, stored_length));
    let core = core();
    // Free the last output first: a decode may need the room.
    core.codec_output = Vec::new();
    let outcome = match mode {
        CHECKPOINT_FULL => codec::decode_full(stored, raw_length_max as usize),
        CHECKPOINT_DELTA => codec::decode_delta(previous, stored, raw_length_max as usize),
        _ => Err(unknown_mode(mode)),
    };
    finish_codec(core, outcome)
}

/// Restores a checkpoint from its chain: `count` stored byte strings lying back to back at
/// `links`, their lengths as u32 at `lengths`; the first is a full checkpoint, each later one
/// a delta against the state before it (applied in place, codec.rs `decode_chain`). On 0 the
/// state is at words 10–11 and word 6 holds its CRC32C (lengths: `count` little-endian u32); otherwise word 2 holds the index of
/// the link that failed, with the error code and message as for `reel_checkpoint_decode`.
#[no_mangle]
pub unsafe extern "C" fn reel_checkpoint_decode_chain(links: *const u8, lengths: *const u8, count: u32, raw_length_max: u32) -> u32 {
    // Little-endian u32s at any alignment (the host's buffer is a byte allocation).
    let lengths: Vec<u32> = bytes(lengths, count.saturating_mul(4)).chunks_exact(4).map(|word| u32::from_le_bytes([word[0], word[1], word[2], word[3]])).collect();
    let total: u64 = lengths.iter().map(|length| *length as u64).sum();
    if total > u32::MAX as u64 {
        let error = CodecError { code: codec::error_code::INVALID_ARGUMENT, message: format!("a checkpoint chain of {total} bytes does not fit the core's memory") };
        return finish_codec(core(), Err(error));
    }
    let all = bytes(links, total as u32);
    let mut at = 0usize;
    let slices = lengths.iter().map(|length| {
        let slice = &all[at..at + *length as usize];
        at += *length as usize;
        slice
    });
    let core = core();
    core.codec_output = Vec::new();
    let (outcome, failed) = match codec::decode_chain(slices, raw_length_max as usize) {
        Ok(state) => (Ok(state), 0),
        Err((index, error)) => (Err(error), index),
    };
    let code = finish_codec(core, outcome);
    core.result.0[ResultWord::Consumed as usize] = failed as u32;
    core.result.0[ResultWord::Checksum as usize] = if code == 0 { crc32c::crc32c(&core.codec_output) } else { 0 };
    code
}

/// The NFC form of the most recent `reel_name_normalize`, lent to the host until the next call.
static mut NAME_OUTPUT: Vec<u8> = Vec::new();

/// Normalises a name (names.rs): 0 with its NFC bytes at words 10–11 (valid until the next
/// call), or 1 when the bytes are not UTF-8, with the offset of the first invalid sequence in
/// word 2 and the message. `lossy` 1 (names read from a log): invalid sequences become U+FFFD
/// and the call never fails.
#[no_mangle]
pub unsafe extern "C" fn reel_name_normalize(pointer: *const u8, length: u32, lossy: u32) -> u32 {
    let name = bytes(pointer, length);
    let outcome = if lossy != 0 { Ok(crate::names::normalize_lossy(name)) } else { crate::names::normalize(name) };
    let core = core();
    #[allow(static_mut_refs)]
    let output = &mut NAME_OUTPUT;
    let code = match outcome {
        Ok(normalized) => {
            output.clear();
            output.extend_from_slice(&normalized);
            core.message.clear();
            0
        }
        Err(error) => {
            let crate::names::NameError::NotUtf8 { offset } = error;
            output.clear();
            core.result.0[ResultWord::Consumed as usize] = offset as u32;
            core.message = error.describe();
            1
        }
    };
    core.result.0[ResultWord::Status as usize] = code;
    core.result.0[ResultWord::BytesPointer as usize] = output.as_ptr() as usize as u32;
    core.result.0[ResultWord::BytesLength as usize] = output.len() as u32;
    code
}
