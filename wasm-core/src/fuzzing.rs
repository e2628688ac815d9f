//! Fuzz-target bodies, shared by the cargo-fuzz targets in `wasm-core/fuzz/` and by the corpus
//! replay test (`wasm-core/tests/fuzz_corpus.rs`), so an input that fails one fails the other.
//!
//! Each target takes arbitrary bytes and panics only when the core breaks a promise: decoding
//! never panics, never loops without progress, never reports an offset or length outside the
//! bytes it was given, never asks the host for more table room than the bytes can fill, and
//! whatever the encoders write the decoders read back. Nothing here is exported to wasm, so
//! the linker leaves it out of the .wasm.
use crate::event::parse_event;
use crate::format::*;
use crate::frame::{check_frame, encode_frame_marked, entries, frame_length, EntryInput, FrameError};
use crate::intern::Interner;
use crate::scan::{find_valid_frame, probe_after, probe_after_with_budget, scan as scan_frames, ScanInput, ScanResult, ScanStatus, ENTRY_RECORD_WORDS, NO_STREAM};
use crate::segment::{decode_header, encode_header, HeaderError};

/// The store id of the golden vectors (test/vectors/format-v1.json), so frames taken from
/// them are valid seeds.
pub const STORE_ID: [u8; STORE_ID_BYTES] = [0, 17, 34, 51, 68, 85, 102, 119, 136, 153, 170, 187, 204, 221, 238, 255];

/// A fuzz target: arbitrary bytes in, a panic only on a broken promise.
pub type Target = fn(&[u8]);

/// The fuzz targets by name (the names of `wasm-core/fuzz/fuzz_targets/*.rs` and of the
/// corpus folders in `test/fuzz-corpus/`).
pub const TARGETS: [(&str, Target); 4] = [("scan", scan), ("frame", frame), ("header", header), ("event", event)];

/// Bits of the `scan` target's first byte; the log bytes follow it.
pub mod scan_control {
    /// Pass `is_final = true`.
    pub const FINAL: u8 = 1;
    /// Recompute the checksums of the run of frames at the start of the log, so that
    /// mutations get past them to the entry, event and table checks.
    pub const REPAIR: u8 = 2;
    /// With `REPAIR`: also rewrite positions and previous checksums so the chain holds.
    pub const CHAIN: u8 = 4;
    /// Start at the first begin record's position and previous checksum (any u64) instead
    /// of 0 and 0.
    pub const START_FROM_FIRST_FRAME: u8 = 8;
    /// Bits 4–5: where `find_valid_frame` starts: 0 after the scan's stopping point (as
    /// recovery does), 1 at 0, 2 at the end of the log, 3 near `usize::MAX` (a u32 start
    /// from the host is `usize::MAX` on wasm32).
    pub const PROBE_START_SHIFT: u32 = 4;
    /// Bits 6–7: the small table's capacity in records (0–3).
    pub const SMALL_TABLE_SHIFT: u32 = 6;
}

/// Longest input for which the probe is cross-checked against a brute-force search (it is
/// quadratic).
const BRUTE_FORCE_BYTES_MAX: usize = 1 << 16;

/// `scan::scan` on arbitrary bytes, the way recovery drives it: once with a table that holds
/// every entry the bytes could contain, once with a small table resumed and grown on
/// `TableFull`; both must agree. Then `find_valid_frame`/`probe_after` from a chosen start.
pub fn scan(data: &[u8]) {
    use scan_control::*;
    let Some((&control, log)) = data.split_first() else { return };
    let mut log = log.to_vec();
    let is_final = control & FINAL != 0;
    let (position, previous) = if control & START_FROM_FIRST_FRAME != 0 && log.len() >= FRAME_BEGIN_BYTES {
        (read_u64(&log, 16), read_u32(&log, 24))
    } else {
        (0, 0)
    };
    if control & REPAIR != 0 {
        repair_frames(&mut log, control & CHAIN != 0, position, previous, &STORE_ID);
    }
    // A valid frame of n entries is at least 40 + 8n bytes, so this table never fills.
    let large = log.len() / ENTRY_HEADER_BYTES + 1;
    let small = (control >> SMALL_TABLE_SHIFT) as usize & 3;
    let whole = scan_like_recovery(&log, is_final, position, previous, large, &NamedKinds::DEFAULT);
    assert_eq!(whole.table_full_calls, 0, "a table with room for len/8 entries filled up");
    let pieces = scan_like_recovery(&log, is_final, position, previous, small, &NamedKinds::DEFAULT);
    assert_eq!(whole.result, pieces.result, "scan with a small table disagrees with one large table");
    assert_eq!(whole.records, pieces.records);
    assert_eq!(whole.streams, pieces.streams);
    check_unnamed_scan(&log, is_final, position, previous, large, &whole);

    let start = match (control >> PROBE_START_SHIFT) & 3 {
        0 => whole.result.consumed + FRAME_ALIGN_BYTES,
        1 => 0,
        2 => log.len(),
        _ => usize::MAX - (control & 7) as usize,
    };
    check_probe(&log, start);
}

/// What a whole scan found, in absolute offsets.
#[derive(Debug, PartialEq, Eq)]
pub struct ScanSummary {
    pub result: FinalResult,
    /// One `ENTRY_RECORD_WORDS` record per entry, offsets from the start of the log.
    pub records: Vec<[u32; ENTRY_RECORD_WORDS]>,
    /// Interned stream names by number.
    pub streams: Vec<Vec<u8>>,
    pub table_full_calls: u32,
}

/// The last `ScanResult` of a run, with offsets from the start of the log.
#[derive(Debug, PartialEq, Eq)]
pub struct FinalResult {
    pub status: ScanStatus,
    pub error: Option<FrameError>,
    pub consumed: usize,
    pub frames: u32,
    pub needed: usize,
    pub next_position: u64,
    pub last_checksum: u32,
    pub bad_event: bool,
}

/// Calls `scan` until it stops for a reason other than a full table, growing the table only
/// when not even one frame fits (to the size the scan asks for), as the host does.
pub fn scan_like_recovery(log: &[u8], is_final: bool, position: u64, previous: u32, capacity: usize, named_kinds: &NamedKinds) -> ScanSummary {
    let mut capacity = capacity;
    let mut table = vec![0u32; capacity * ENTRY_RECORD_WORDS];
    let mut interner = Interner::default();
    let mut records = Vec::new();
    let (mut offset, mut position, mut previous, mut frames, mut table_full_calls) = (0usize, position, previous, 0u32, 0u32);
    loop {
        let input = ScanInput { bytes: &log[offset..], is_final, expected_position: position, previous_checksum: previous, store_id: &STORE_ID, named_kinds };
        let result = scan_frames(&input, &mut interner, &mut table);
        check_scan_result(&input, &result, &table, &interner);
        for record in table[..result.entries as usize * ENTRY_RECORD_WORDS].chunks_exact(ENTRY_RECORD_WORDS) {
            let mut record: [u32; ENTRY_RECORD_WORDS] = record.try_into().unwrap();
            record[0] += offset as u32;
            records.push(record);
        }
        offset += result.consumed;
        position = result.next_position;
        previous = result.last_checksum;
        frames += result.frames;
        if result.status != ScanStatus::TableFull {
            let streams = (0..interner.len() as u32).map(|number| interner.name(number).unwrap().to_vec()).collect();
            let result = FinalResult {
                status: result.status,
                error: result.error,
                consumed: offset,
                frames,
                needed: result.needed,
                next_position: position,
                last_checksum: previous,
                bad_event: result.bad_event,
            };
            return ScanSummary { result, records, streams, table_full_calls };
        }
        table_full_calls += 1;
        if result.entries == 0 {
            // The table is grown only to what the next frame needs, and that frame is complete
            // and valid, so the need is bounded by the bytes given, never by a length field alone.
            assert!(result.needed > capacity, "TableFull with no entries asks for {} records, table has {capacity}", result.needed);
            assert!(result.needed <= (log.len() - offset) / ENTRY_HEADER_BYTES, "TableFull asks for more records than the bytes can hold");
            capacity = result.needed;
            table = vec![0u32; capacity * ENTRY_RECORD_WORDS];
        }
    }
}

/// The named kinds change only what the scan indexes and which payloads it parses: with none,
/// the same bytes scan to the same frames and entries with no names, never a bad event, and at
/// least as far as with the built-in set (which stops at an entry that does not parse).
fn check_unnamed_scan(log: &[u8], is_final: bool, position: u64, previous: u32, capacity: usize, named: &ScanSummary) {
    let unnamed = scan_like_recovery(log, is_final, position, previous, capacity, &NamedKinds::NONE);
    assert!(!unnamed.result.bad_event && unnamed.streams.is_empty(), "a scan with no named kinds parsed a payload");
    let same_entry = |a: &[u32; ENTRY_RECORD_WORDS], b: &[u32; ENTRY_RECORD_WORDS]| a[..3] == b[..3] && a[6] == b[6];
    if named.result.bad_event {
        assert!(unnamed.result.consumed > named.result.consumed, "the frame with the unparsable named entry is valid without named kinds");
        assert!(unnamed.records.len() > named.records.len());
    } else {
        assert_eq!(unnamed.result, named.result, "named kinds changed a scan that parsed every named entry");
        assert_eq!(unnamed.records.len(), named.records.len());
    }
    for (a, b) in named.records.iter().zip(&unnamed.records) {
        assert!(same_entry(a, b), "named kinds changed an entry's offset, length, kind or check");
    }
}

/// What every `scan` call must promise, whatever the bytes.
fn check_scan_result(input: &ScanInput, result: &ScanResult, table: &[u32], interner: &Interner) {
    let bytes = input.bytes;
    let capacity = table.len() / ENTRY_RECORD_WORDS;
    assert!(result.consumed <= bytes.len());
    assert_eq!(result.consumed % FRAME_ALIGN_BYTES, 0, "frames end on 8-byte boundaries");
    assert!(result.entries as usize <= capacity);
    assert_eq!(Some(result.next_position), input.expected_position.checked_add(result.entries as u64));
    assert!(result.frames as usize <= result.consumed / (FRAME_BEGIN_BYTES + FRAME_END_BYTES));
    assert_eq!(result.consumed == 0, result.frames == 0);
    match result.status {
        ScanStatus::End => {
            assert_eq!(result.consumed, bytes.len());
            assert!(result.error.is_none() && !result.bad_event);
        }
        ScanStatus::NeedMore => {
            assert!(!input.is_final && result.error.is_none());
            assert!(result.consumed < bytes.len());
            assert!(result.needed >= FRAME_BEGIN_BYTES && result.needed <= FRAME_BYTES_MAX);
            assert!(result.consumed + result.needed > bytes.len(), "NeedMore although the bytes hold the frame");
        }
        ScanStatus::Bad => {
            assert!(result.consumed < bytes.len());
            let error = result.error.expect("Bad without an error");
            assert!((1..=9).contains(&error.code()));
            let _ = error.describe();
            if matches!(error, FrameError::Incomplete { .. }) {
                assert!(input.is_final, "Incomplete reported as Bad although more bytes may come");
            }
            if result.bad_event {
                assert_eq!(error, FrameError::BadEntries);
            }
            // Errors about the frame itself are what `check_frame` says about it.
            if !matches!(error, FrameError::PositionMismatch { .. } | FrameError::ChainMismatch { .. }) && !result.bad_event {
                assert_eq!(check_frame(&bytes[result.consumed..], input.store_id), Err(error));
            }
        }
        ScanStatus::TableFull => {
            assert!(result.consumed < bytes.len() && result.error.is_none());
            if result.entries == 0 {
                assert!(result.needed > capacity);
            }
        }
    }
    let mut previous_end = 0usize;
    for (entry, record) in table[..result.entries as usize * ENTRY_RECORD_WORDS].chunks_exact(ENTRY_RECORD_WORDS).enumerate() {
        let (offset, length) = (record[0] as usize, record[1] as usize);
        assert!(offset >= previous_end + ENTRY_HEADER_BYTES, "entry records overlap or go backwards");
        assert!(offset + length <= result.consumed, "entry record outside the valid frames");
        previous_end = offset + length;
        assert_eq!(record[6], crate::verify::entry_check(&bytes[offset..offset + length], input.expected_position + entry as u64), "entry check");
        let kind = record[2];
        assert!(kind <= 0xFF);
        if input.named_kinds.contains(kind as u8) {
            let name = interner.name(record[3]).expect("named entry with an unknown name number");
            let layout = parse_event(&bytes[offset..offset + length]).expect("indexed named entry does not parse");
            assert_eq!(name, &bytes[offset + layout.stream.0..][..layout.stream.1]);
            assert_eq!(record[4] as u64 | (record[5] as u64) << 32, layout.stream_version);
        } else {
            assert_eq!(record[3], NO_STREAM);
            assert_eq!((record[4], record[5]), (0, 0));
        }
    }
}

/// `find_valid_frame` and `probe_after` from `start`: what they find is valid and aligned, the
/// same with prefix checksums, and for small inputs exactly what checking every aligned offset
/// finds.
pub fn check_probe(log: &[u8], start: usize) {
    let first = find_valid_frame(log, start, &STORE_ID);
    let probe = probe_after(log, start, &STORE_ID);
    assert_eq!(first, probe.map(|probe| probe.first_offset));
    // With no budget for direct checksums the probe uses prefix checksums from the start.
    assert_eq!(probe_after_with_budget(log, start, &STORE_ID, 0), probe, "prefix checksums changed the probe's answer");
    if let Some(probe) = probe {
        let at = probe.first_offset;
        assert!(at >= start && at % FRAME_ALIGN_BYTES == 0);
        assert!(check_frame(&log[at..], &STORE_ID).is_ok());
        assert!(probe.frames >= 1 && probe.frames as usize <= (log.len() - at) / (FRAME_BEGIN_BYTES + FRAME_END_BYTES));
    }
    if log.len() <= BRUTE_FORCE_BYTES_MAX && start <= log.len() {
        let brute = (start.div_ceil(FRAME_ALIGN_BYTES) * FRAME_ALIGN_BYTES..log.len())
            .step_by(FRAME_ALIGN_BYTES)
            .find(|&at| check_frame(&log[at..], &STORE_ID).is_ok());
        assert_eq!(first, brute, "find_valid_frame missed or invented a valid frame");
    }
}

/// Recomputes the begin and frame checksums (and end magic) of the run of frames at the start
/// of `log`, stopping at the first begin record without the magic or with a length that does
/// not fit. With `chain`, positions and previous checksums are rewritten to follow on from
/// `position` and `previous`. Lets mutations reach the checks behind the checksums.
pub fn repair_frames(log: &mut [u8], chain: bool, mut position: u64, mut previous: u32, store_id: &[u8; STORE_ID_BYTES]) {
    let mut at = 0;
    while log.len() - at >= FRAME_BEGIN_BYTES {
        let frame = &mut log[at..];
        if read_u32(frame, 0) != FRAME_BEGIN_MAGIC {
            break;
        }
        if chain {
            write_u64(frame, 16, position);
            write_u32(frame, 24, previous);
        }
        let begin = crc32c::crc32c_append(crc32c::crc32c(&frame[..28]), store_id);
        write_u32(frame, 28, begin);
        let length = read_u32(frame, 4) as usize;
        if length < FRAME_BEGIN_BYTES + FRAME_END_BYTES || !length.is_multiple_of(FRAME_ALIGN_BYTES) || length > frame.len() {
            break;
        }
        let end_at = length - FRAME_END_BYTES;
        let checksum = crc32c::crc32c_append(crc32c::crc32c(&frame[..end_at]), store_id);
        write_u32(frame, end_at, checksum);
        write_u32(frame, end_at + 4, FRAME_END_MAGIC);
        position = position.wrapping_add(read_u32(frame, 8) as u64);
        previous = checksum;
        at += length;
    }
}

/// `check_frame` on arbitrary bytes (as given, and with the checksums repaired), then a round
/// trip: entries built from the bytes, encoded, must check and give back the same entries;
/// every truncation of it is incomplete and a bit flip is caught.
pub fn frame(data: &[u8]) {
    check_any_frame(data);
    let mut repaired = data.to_vec();
    repair_frames(&mut repaired, false, 0, 0, &STORE_ID);
    check_any_frame(&repaired);

    let mut reader = Reader(data);
    let first_position = reader.u64();
    let unsynced_before = reader.u32();
    let previous_checksum = reader.u32();
    let mut owned = Vec::new();
    while let Some(kind) = reader.byte() {
        let length = reader.byte().unwrap_or(0) as usize;
        owned.push((kind, reader.take(length).to_vec()));
    }
    // The last entry's position must fit in a u64 (check_frame rejects frames whose do not).
    let first_position = first_position.min(u64::MAX - owned.len() as u64);
    let inputs: Vec<_> = owned.iter().map(|(kind, payload)| EntryInput { kind: *kind, payload }).collect();
    let length = frame_length(inputs.len(), owned.iter().map(|(_, payload)| payload.len()).sum());
    let mut out = vec![0u8; length];
    let (written, checksum) = encode_frame_marked(&mut out, &inputs, first_position, unsynced_before, previous_checksum, &STORE_ID);
    assert_eq!(written, length);
    let info = check_frame(&out, &STORE_ID).expect("an encoded frame does not check");
    assert_eq!((info.length, info.entry_count, info.checksum), (length, inputs.len() as u32, checksum));
    assert_eq!((info.first_position, info.unsynced_before, info.previous_checksum), (first_position, unsynced_before, previous_checksum));
    let decoded: Vec<_> = entries(&out, info.entry_count).map(|(kind, start, length)| (kind, out[start..start + length].to_vec())).collect();
    assert_eq!(decoded, owned, "entries changed in a round trip");

    let seed = crc32c::crc32c(data) as usize;
    let cut = seed % length;
    assert!(matches!(check_frame(&out[..cut], &STORE_ID), Err(FrameError::Incomplete { .. })), "a frame cut at {cut} is not incomplete");
    let bit = (seed >> 3) % (length * 8);
    out[bit / 8] ^= 1 << (bit % 8);
    assert!(check_frame(&out, &STORE_ID).is_err(), "flipping bit {bit} went unnoticed");
}

/// What `check_frame` must promise about any bytes.
fn check_any_frame(bytes: &[u8]) {
    match check_frame(bytes, &STORE_ID) {
        Ok(info) => {
            assert!(info.length <= bytes.len() && info.length <= FRAME_BYTES_MAX);
            assert!(info.length >= FRAME_BEGIN_BYTES + FRAME_END_BYTES && info.length % FRAME_ALIGN_BYTES == 0);
            assert!(info.entry_count as usize * ENTRY_HEADER_BYTES <= info.length - FRAME_BEGIN_BYTES - FRAME_END_BYTES);
            assert!(info.first_position.checked_add(info.entry_count as u64).is_some(), "a valid frame's positions run past u64::MAX");
            let end_at = info.length - FRAME_END_BYTES;
            let mut next = FRAME_BEGIN_BYTES;
            let mut owned = Vec::new();
            for (kind, start, length) in entries(bytes, info.entry_count) {
                assert_eq!(start, next + ENTRY_HEADER_BYTES);
                assert!(start + length <= end_at);
                next = start + length;
                owned.push((kind, &bytes[start..start + length]));
            }
            assert_eq!(align_up(next) + FRAME_END_BYTES, info.length, "entries do not tile a valid frame");
            // Re-encoding what was read gives a frame that reads the same (flags, reserved
            // bytes and padding are not checked, so the bytes themselves may differ).
            let inputs: Vec<_> = owned.iter().map(|(kind, payload)| EntryInput { kind: *kind, payload }).collect();
            let mut out = vec![0u8; info.length];
            let (length, _) = encode_frame_marked(&mut out, &inputs, info.first_position, info.unsynced_before, info.previous_checksum, &STORE_ID);
            assert_eq!(length, info.length);
            let again = check_frame(&out, &STORE_ID).expect("a re-encoded valid frame does not check");
            assert_eq!((again.entry_count, again.first_position, again.previous_checksum), (info.entry_count, info.first_position, info.previous_checksum));
            let _ = info.durable_position();
        }
        Err(FrameError::Incomplete { needed }) => {
            assert!(needed > bytes.len() && needed <= FRAME_BYTES_MAX);
        }
        Err(error) => {
            assert!((2..=7).contains(&error.code()), "check_frame reported a scan-only error");
            let _ = error.describe();
        }
    }
}

/// `segment::decode_header` on arbitrary bytes, then a round trip from a store id and
/// position read from the bytes; every single-bit flip of the encoded header is caught.
pub fn header(data: &[u8]) {
    let any = decode_header(data, None);
    let ours = decode_header(data, Some(&STORE_ID));
    match &any {
        Ok((position, store_id)) => {
            assert!(data.len() >= SEGMENT_HEADER_BYTES);
            assert_eq!(store_id[..], data[16..32]);
            if store_id == &STORE_ID {
                assert_eq!(ours, any);
            } else {
                assert_eq!(ours, Err(HeaderError::WrongStore));
            }
            let mut again = [0u8; SEGMENT_HEADER_BYTES];
            encode_header(&mut again, store_id, *position);
            // Flags and reserved are not checked; with them zero the bytes are canonical.
            if data[12..16] == [0; 4] && data[40..44] == [0; 4] {
                assert_eq!(again[..], data[..SEGMENT_HEADER_BYTES]);
            }
        }
        Err(error) => assert_eq!(ours.as_ref().err(), Some(error), "checking the store changed an earlier verdict"),
    }

    let mut reader = Reader(data);
    let mut store_id = [0u8; STORE_ID_BYTES];
    store_id.copy_from_slice(&pad::<STORE_ID_BYTES>(reader.take(STORE_ID_BYTES)));
    let position = reader.u64();
    let mut bytes = [0u8; SEGMENT_HEADER_BYTES];
    encode_header(&mut bytes, &store_id, position);
    assert_eq!(decode_header(&bytes, Some(&store_id)), Ok((position, store_id)));
    assert_eq!(decode_header(&bytes[..SEGMENT_HEADER_BYTES - 1], None), Err(HeaderError::TooShort));
    let bit = crc32c::crc32c(data) as usize % (SEGMENT_HEADER_BYTES * 8);
    bytes[bit / 8] ^= 1 << (bit % 8);
    assert!(decode_header(&bytes, None).is_err(), "flipping bit {bit} of a header went unnoticed");
}

/// `event::parse_event` on arbitrary bytes: it accepts exactly the payloads the format
/// defines (computed here in u64, so no width can wrap), and its ranges tile the payload.
/// Then a round trip of an event built from the bytes.
pub fn event(data: &[u8]) {
    check_any_event(data);

    let mut reader = Reader(data);
    let timestamp = reader.u64();
    let version = reader.u64();
    let flags = reader.byte().unwrap_or(0);
    let lengths = [reader.byte().unwrap_or(0) as usize | 1, reader.byte().unwrap_or(0) as usize | 1, reader.byte().unwrap_or(0) as usize, reader.byte().unwrap_or(0) as usize];
    let mut parts: Vec<Vec<u8>> = lengths.iter().map(|&length| pad_to(reader.take(length), length)).collect();
    parts.push(reader.rest().to_vec());
    let payload = encode_event(timestamp, version, flags, &parts[0], &parts[1], &parts[2], &parts[3], &parts[4]);
    let layout = parse_event(&payload).expect("an encoded event does not parse");
    assert_eq!((layout.timestamp_ms, layout.stream_version, layout.flags), (timestamp, version, flags));
    let ranges = [layout.stream, layout.event_type, layout.id, layout.metadata, layout.data];
    for (range, part) in ranges.iter().zip(&parts) {
        assert_eq!(&payload[range.0..][..range.1], &part[..]);
    }
    assert!(parse_event(&payload[..payload.len() - 1]).is_none());
}

fn check_any_event(payload: &[u8]) {
    let valid = payload.len() >= EVENT_HEADER_BYTES && {
        let sum = EVENT_HEADER_BYTES as u64
            + read_u32(payload, 16) as u64
            + read_u32(payload, 20) as u64
            + read_u16(payload, 24) as u64
            + read_u16(payload, 26) as u64
            + payload[28] as u64;
        sum == payload.len() as u64 && read_u16(payload, 24) >= 1 && read_u16(payload, 26) >= 1
    };
    let layout = parse_event(payload);
    assert_eq!(layout.is_some(), valid, "parse_event disagrees with the format's rule");
    if let Some(layout) = layout {
        let mut next = EVENT_HEADER_BYTES;
        for range in [layout.stream, layout.event_type, layout.id, layout.metadata, layout.data] {
            assert_eq!(range.0, next);
            next = range.0 + range.1;
            assert!(next <= payload.len());
        }
        assert_eq!(next, payload.len());
        assert_eq!(layout.flags, payload[29]);
    }
}

/// The previous state the `codec` target decodes deltas against (seed deltas are made from it).
pub const CODEC_PREVIOUS: &[u8] = br#"{"thread":"demo","messages":[{"role":"user","content":"what is the weather in paris"},{"role":"assistant","tool_calls":[{"name":"search","arguments":"{\"query\":\"paris weather\"}"}]},{"role":"tool","content":"18 degrees, light rain"}],"step":3}"#;

/// State length limits the `codec` target decodes under (bits 1–2 of its first byte).
pub const CODEC_LIMITS: [usize; 4] = [0, 64, 4096, 1 << 20];

/// The checkpoint codec (not yet a cargo-fuzz target: tests/codec_bounds.rs runs it under an
/// allocation meter). First byte even: the rest is stored bytes, decoded as a full checkpoint
/// and as a delta against `CODEC_PREVIOUS` under `CODEC_LIMITS[(first >> 1) & 3]`: an error or a
/// state within the limit, never a panic. First byte odd: the rest, split at a share given by
/// its first byte, is a previous and a next state, which must round-trip through a full
/// checkpoint and a delta at level `(first >> 1) % 8 - 1`.
pub fn codec(data: &[u8]) {
    use crate::codec::{decode_delta, decode_full, encode_delta, encode_full};
    let Some((&control, rest)) = data.split_first() else { return };
    if control & 1 == 0 {
        let limit = CODEC_LIMITS[(control >> 1) as usize & 3];
        if let Ok(raw) = decode_full(rest, limit) {
            assert!(raw.len() <= limit, "decode_full gave {} bytes over a limit of {limit}", raw.len());
        }
        if let Ok(raw) = decode_delta(CODEC_PREVIOUS, rest, limit) {
            assert!(raw.len() <= limit, "decode_delta gave {} bytes over a limit of {limit}", raw.len());
        }
    } else {
        let split = rest.first().map_or(0, |&share| share as usize * rest.len() / 256);
        let (previous, next) = rest.split_at(split);
        let level = ((control >> 1) % 8) as i32 - 1;
        let full = encode_full(next, level);
        assert_eq!(decode_full(&full, next.len()).expect("a full checkpoint does not decode"), next);
        let delta = encode_delta(previous, next, level);
        assert_eq!(decode_delta(previous, &delta, next.len()).expect("a delta does not decode"), next);
    }
}

/// An event payload as the JS writer lays it out (docs/FORMAT.md §8).
#[allow(clippy::too_many_arguments)]
pub fn encode_event(timestamp: u64, version: u64, flags: u8, stream: &[u8], event_type: &[u8], id: &[u8], metadata: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; EVENT_HEADER_BYTES];
    write_u64(&mut out, 0, timestamp);
    write_u64(&mut out, 8, version);
    write_u32(&mut out, 16, data.len() as u32);
    write_u32(&mut out, 20, metadata.len() as u32);
    out[24..26].copy_from_slice(&(stream.len() as u16).to_le_bytes());
    out[26..28].copy_from_slice(&(event_type.len() as u16).to_le_bytes());
    out[28] = id.len() as u8;
    out[29] = flags;
    for part in [stream, event_type, id, metadata, data] {
        out.extend_from_slice(part);
    }
    out
}

/// Reads fields off the front of fuzz input, padding with zeros when it runs out.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, length: usize) -> &'a [u8] {
        let (taken, rest) = self.0.split_at(length.min(self.0.len()));
        self.0 = rest;
        taken
    }
    fn rest(&mut self) -> &'a [u8] {
        self.take(self.0.len())
    }
    fn byte(&mut self) -> Option<u8> {
        self.take(1).first().copied()
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(pad(self.take(4)))
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(pad(self.take(8)))
    }
}

fn pad_to(bytes: &[u8], length: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out.resize(length, b'x');
    out
}

fn pad<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out[..bytes.len()].copy_from_slice(bytes);
    out
}
