//! Replays the fuzz corpus (`test/fuzz-corpus/<target>/`) through `reeldb_core::fuzzing`, the
//! same functions the cargo-fuzz targets call (`scripts/fuzz.sh`), then runs a deterministic
//! mutation loop over it, so `cargo test` keeps the decoders panic-free without libFuzzer.
//! Every execution also runs under an allocation meter: decoding may allocate in proportion to
//! the bytes it is given, never to a length it read from them.
//!
//! `REELDB_FUZZ_MUTATIONS=N` changes the number of mutated inputs (default 200,000 in all);
//! `REELDB_WRITE_FUZZ_SEEDS=1` rewrites the `seed-*` files from the golden vectors.
mod common;
use common::peak_allocation;
use reeldb_core::format::*;
use reeldb_core::frame::{encode_frame, frame_length, EntryInput};
use reeldb_core::fuzzing::{self, scan_control, STORE_ID, TARGETS};
use reeldb_core::intern::Interner;
use reeldb_core::scan::{find_valid_frame, probe_after, scan, ScanInput, ScanStatus, ENTRY_RECORD_WORDS};
use reeldb_core::segment::encode_header;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../test/fuzz-corpus");
const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../test/vectors/format-v1.json");
const MUTATIONS_DEFAULT: usize = 200_000;
/// Mutated inputs are cut to this length (libFuzzer runs use -max_len=4096 too).
const INPUT_BYTES_MAX: usize = 8192;
/// An execution may allocate this much per input byte, plus the floor: the harness copies the
/// input and sizes tables by it. A length field believed would need far more.
const ALLOCATION_BYTES_PER_INPUT_BYTE: usize = 64;
const ALLOCATION_BYTES_FLOOR: usize = 64 << 10;


#[test]
fn the_meter_sees_allocations() {
    let peak = peak_allocation(|| drop(std::hint::black_box(vec![1u8; 1 << 20])));
    assert!(peak >= 1 << 20, "the allocation meter saw {peak} bytes");
}

/// Runs one target on one input: no panic, and allocation bounded by the input's length.
fn execute(target: &str, run: fn(&[u8]), input: &[u8], origin: &dyn Fn() -> String) {
    let mut outcome = Ok(());
    let peak = peak_allocation(|| outcome = catch_unwind(AssertUnwindSafe(|| run(input))));
    if let Err(panic) = outcome {
        let saved = save_failure(target, input);
        eprintln!("fuzz target `{target}` panicked on {} ({} bytes), saved to {}", origin(), input.len(), saved.display());
        eprintln!("reproduce: bash scripts/fuzz.sh {target} --reproduce {}", saved.display());
        std::panic::resume_unwind(panic);
    }
    let allowed = input.len() * ALLOCATION_BYTES_PER_INPUT_BYTE + ALLOCATION_BYTES_FLOOR;
    if peak > allowed {
        let saved = save_failure(target, input);
        panic!("fuzz target `{target}` allocated {peak} bytes for a {}-byte input ({}; saved to {})", input.len(), origin(), saved.display());
    }
}

fn save_failure(target: &str, input: &[u8]) -> PathBuf {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fuzz-failures").join(target);
    let _ = std::fs::create_dir_all(&directory);
    let path = directory.join(format!("failure-{:08x}", crc32c(input)));
    let _ = std::fs::write(&path, input);
    path
}

fn crc32c(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let directory = Path::new(CORPUS).join(target);
    let mut files: Vec<_> = std::fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("{}: {error}", directory.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&path).unwrap()))
        .collect()
}

#[test]
fn replays_the_corpus() {
    let started = Instant::now();
    let mut executions = 0;
    for (target, run) in TARGETS {
        let files = corpus(target);
        assert!(files.iter().any(|(name, _)| name.starts_with("seed-")), "no seeds for `{target}` in {CORPUS}");
        for (name, bytes) in &files {
            execute(target, run, bytes, &|| format!("test/fuzz-corpus/{target}/{name}"));
            executions += 1;
        }
    }
    eprintln!("fuzz corpus: replayed {executions} files through {} targets in {:.2?}", TARGETS.len(), started.elapsed());
}

// ---- deterministic mutations ----

/// xorshift64*: small, seeded, no dependency.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, bound: usize) -> usize {
        if bound == 0 { 0 } else { (self.next() % bound as u64) as usize }
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

const INTERESTING_U32: [u32; 16] = [
    0, 1, 7, 8, 32, 40, 48, 0x7FFF_FFFF, 0x8000_0000, u32::MAX, u32::MAX - 7,
    FRAME_BEGIN_MAGIC, FRAME_END_MAGIC, FRAME_BYTES_MAX as u32, FRAME_ENTRIES_MAX, FRAME_ENTRIES_MAX + 1,
];
const INTERESTING_U64: [u64; 6] = [0, 1, u64::MAX, u64::MAX - 1, 1 << 53, 1 << 32];

fn mutate(random: &mut Random, input: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    for _ in 0..1 + random.below(4) {
        let length = input.len();
        match random.below(11) {
            0 | 1 if length > 0 => {
                let bit = random.below(length * 8);
                input[bit / 8] ^= 1 << (bit % 8);
            }
            2 if length > 0 => {
                let at = random.below(length);
                input[at] = [0, 0xFF, 0x7F, 0x80, 1, random.next() as u8][random.below(6)];
            }
            3 if length >= 4 => {
                let at = if random.chance(2) { random.below(length - 3) & !3 } else { random.below(length - 3) };
                let value = INTERESTING_U32[random.below(INTERESTING_U32.len())];
                let value = if random.chance(4) { value.wrapping_add(random.below(17) as u32).wrapping_sub(8) } else { value };
                input[at..at + 4].copy_from_slice(&value.to_le_bytes());
            }
            4 if length >= 8 => {
                let at = random.below(length - 7);
                input[at..at + 8].copy_from_slice(&INTERESTING_U64[random.below(INTERESTING_U64.len())].to_le_bytes());
            }
            5 => {
                let at = random.below(length + 1);
                let count = 1 + random.below(16);
                let bytes: Vec<u8> = (0..count).map(|_| random.next() as u8).collect();
                input.splice(at..at, bytes);
            }
            6 if length > 0 => {
                let at = random.below(length);
                let end = (at + 1 + random.below(32)).min(length);
                input.drain(at..end);
            }
            7 => input.truncate(random.below(length + 1)),
            8 if length > 0 => {
                // Repeat a stretch (a frame after itself, a duplicated entry).
                let at = random.below(length);
                let end = (at + 1 + random.below(256)).min(length);
                let copy = input[at..end].to_vec();
                let to = random.below(length + 1);
                input.splice(to..to, copy);
            }
            9 => {
                // Splice: this input's head with another seed's tail.
                let other = &seeds[random.below(seeds.len())];
                let keep = random.below(length + 1);
                let from = random.below(other.len() + 1);
                input.truncate(keep);
                input.extend_from_slice(&other[from..]);
            }
            _ if length > 0 => input[0] = random.next() as u8, // the scan target's control byte
            _ => input.push(random.next() as u8),
        }
    }
    input.truncate(INPUT_BYTES_MAX);
}

fn mutations_total() -> usize {
    std::env::var("REELDB_FUZZ_MUTATIONS").ok().and_then(|text| text.parse().ok()).unwrap_or(MUTATIONS_DEFAULT)
}

#[test]
fn mutated_corpus_never_panics_nor_allocates_by_a_length_field() {
    let started = Instant::now();
    let total = mutations_total();
    let mut executions = 0;
    for (index, (target, run)) in TARGETS.into_iter().enumerate() {
        let seeds: Vec<Vec<u8>> = corpus(target).into_iter().map(|(_, bytes)| bytes).collect();
        let mut random = Random(0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
        for iteration in 0..total / TARGETS.len() {
            let seed = random.below(seeds.len());
            let mut input = seeds[seed].clone();
            mutate(&mut random, &mut input, &seeds);
            execute(target, run, &input, &|| format!("mutation {iteration} of seed {seed}"));
            executions += 1;
        }
    }
    eprintln!("fuzz mutations: {executions} mutated inputs through {} targets in {:.2?}", TARGETS.len(), started.elapsed());
}

// ---- bounded allocation and time for huge declared lengths ----

/// A begin record with a valid begin checksum that declares `length` bytes and `count`
/// entries, followed by `tail` zero bytes.
fn begin_record(length: u32, count: u32, position: u64, tail: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; FRAME_BEGIN_BYTES + tail];
    write_u32(&mut bytes, 0, FRAME_BEGIN_MAGIC);
    write_u32(&mut bytes, 4, length);
    write_u32(&mut bytes, 8, count);
    write_u64(&mut bytes, 16, position);
    let begin = crc32c(&[&bytes[..28], &STORE_ID[..]].concat());
    write_u32(&mut bytes, 28, begin);
    bytes
}

#[test]
fn huge_declared_lengths_allocate_nothing_and_finish_fast() {
    let started = Instant::now();
    let claims = begin_record(FRAME_BYTES_MAX as u32, FRAME_ENTRIES_MAX, 0, 32);
    let mut interner = Interner::default();
    let mut table = vec![0u32; 16 * ENTRY_RECORD_WORDS];
    for is_final in [false, true] {
        let input = ScanInput { bytes: &claims, is_final, expected_position: 0, previous_checksum: 0, store_id: &STORE_ID, named_kinds: &NamedKinds::DEFAULT };
        let mut result = None;
        let peak = peak_allocation(|| result = Some(scan(&input, &mut interner, &mut table)));
        let result = result.unwrap();
        assert_eq!(peak, 0, "scan allocated for a frame it only heard of");
        if is_final {
            assert_eq!(result.status, ScanStatus::Bad);
        } else {
            assert_eq!((result.status, result.needed), (ScanStatus::NeedMore, FRAME_BYTES_MAX));
        }
    }

    // A megabyte of such begin records, each claiming a gigabyte: the probe reads them all.
    let many: Vec<u8> = (0..(1 << 20) / 64).flat_map(|_| begin_record(FRAME_BYTES_MAX as u32, FRAME_ENTRIES_MAX, 0, 32)).collect();
    let peak = peak_allocation(|| assert_eq!(probe_after(&many, 0, &STORE_ID), None));
    assert!(peak <= many.len() / 32, "probe allocated {peak} bytes");

    // Event lengths of 4 GiB each in a 40-byte payload.
    let mut event = vec![0u8; 40];
    write_u32(&mut event, 16, u32::MAX);
    write_u32(&mut event, 20, u32::MAX);
    event[24] = 0xFF;
    event[26] = 0xFF;
    let peak = peak_allocation(|| assert!(reeldb_core::event::parse_event(&event).is_none()));
    assert_eq!(peak, 0);

    // A frame of 10,000 empty entries and a table with no room: the scan asks for exactly
    // the records that frame needs, which the bytes bound (8 per entry at least).
    let payloads = vec![Vec::new(); 10_000];
    let entries: Vec<_> = payloads.iter().map(|payload| EntryInput { kind: 0xC0, payload }).collect();
    let mut frame = vec![0u8; frame_length(entries.len(), 0)];
    encode_frame(&mut frame, &entries, 0, 0, &STORE_ID);
    let input = ScanInput { bytes: &frame, is_final: true, expected_position: 0, previous_checksum: 0, store_id: &STORE_ID, named_kinds: &NamedKinds::DEFAULT };
    let result = scan(&input, &mut interner, &mut []);
    assert_eq!((result.status, result.needed), (ScanStatus::TableFull, 10_000));
    assert!(result.needed <= frame.len() / ENTRY_HEADER_BYTES);

    // The same inputs through the fuzz targets, under the general allocation bound.
    for control in [0u8, scan_control::FINAL, scan_control::FINAL | scan_control::REPAIR] {
        execute("scan", fuzzing::scan, &[&[control][..], &claims].concat(), &|| "huge claims".into());
    }
    execute("frame", fuzzing::frame, &claims, &|| "huge claims".into());
    execute("event", fuzzing::event, &event, &|| "huge event lengths".into());
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

// ---- regressions for what fuzzing found (inputs also in test/fuzz-corpus/*/regression-*) ----

/// `find_valid_frame(bytes, start)` rounded `start` up with `start + 7`, which overflows for a
/// start near usize::MAX; on wasm32 a u32 start of 0xFFFFFFFF wrapped to 0 and the shipped
/// wasm returned a frame at offset 0, before the start. Found by cargo-fuzz (`scan`,
/// input `[191, 10, 37]`) in seconds.
#[test]
fn fuzz_probe_start_near_usize_max() {
    let frame = golden_frames().remove(0);
    for start in [usize::MAX, usize::MAX - 7, usize::MAX - 8, usize::MAX - 39, frame.len() + 1] {
        assert_eq!(find_valid_frame(&frame, start, &STORE_ID), None, "start {start}");
        assert_eq!(probe_after(&frame, start, &STORE_ID), None);
    }
    assert_eq!(find_valid_frame(&frame, 0, &STORE_ID), Some(0));
    fuzzing::scan(&[191, 10, 37]);
}

/// A checksum-valid frame whose first position is near u64::MAX, scanned from that position:
/// `next_position += entry_count` overflowed (a panic in debug builds, a silent wrap to a
/// small position in the release wasm). `check_frame` now rejects a frame whose entries'
/// positions do not fit in a u64 (BadLength). Found by cargo-fuzz (`scan`) in ~690k runs.
#[test]
fn fuzz_positions_past_u64_max() {
    // Golden frame 0 holds two entries: from u64::MAX - 1 they would take positions
    // u64::MAX - 1 and u64::MAX, and the next frame would start at 2^64.
    let mut frame = golden_frames().remove(0);
    write_u64(&mut frame, 16, u64::MAX - 1);
    fuzzing::repair_frames(&mut frame, false, 0, 0, &STORE_ID);
    assert_eq!(reeldb_core::frame::check_frame(&frame, &STORE_ID), Err(reeldb_core::frame::FrameError::BadLength));
    let input = ScanInput { bytes: &frame, is_final: true, expected_position: u64::MAX - 1, previous_checksum: 0, store_id: &STORE_ID, named_kinds: &NamedKinds::DEFAULT };
    let result = scan(&input, &mut Interner::default(), &mut [0u32; 4 * ENTRY_RECORD_WORDS]);
    assert_eq!((result.status, result.error), (ScanStatus::Bad, Some(reeldb_core::frame::FrameError::BadLength)));
    // From u64::MAX - 2 they fit: positions u64::MAX - 2 and u64::MAX - 1, next u64::MAX.
    write_u64(&mut frame, 16, u64::MAX - 2);
    fuzzing::repair_frames(&mut frame, false, 0, 0, &STORE_ID);
    let input = ScanInput { bytes: &frame, is_final: true, expected_position: u64::MAX - 2, previous_checksum: 0, store_id: &STORE_ID, named_kinds: &NamedKinds::DEFAULT };
    let result = scan(&input, &mut Interner::default(), &mut [0u32; 4 * ENTRY_RECORD_WORDS]);
    assert_eq!((result.status, result.next_position), (ScanStatus::End, u64::MAX));
    // The input cargo-fuzz found.
    let found = std::fs::read(Path::new(CORPUS).join("scan/regression-positions-past-u64-max")).unwrap();
    fuzzing::scan(&found);
}

/// parse_event summed the five lengths in usize: on wasm32 (32-bit usize) a data length near
/// 4 GiB made the sum wrap to the payload length, the event "parsed", and the scan sliced the
/// stream name past the payload: a trap in the shipped wasm on a checksum-valid frame. Not
/// reachable by native fuzzing (64-bit usize); found by checking the fuzz targets' u64 rule
/// against the wasm. The sum is now u64 on every target.
#[test]
fn fuzz_event_lengths_wrapping_u32() {
    let mut payload = vec![0u8; 40];
    let stream = 65_535u64;
    let data = (1u64 << 32) + 40 - 32 - stream - 1; // 32 + stream + type + data ≡ 40 (mod 2^32)
    write_u32(&mut payload, 16, data as u32);
    payload[24..26].copy_from_slice(&(stream as u16).to_le_bytes());
    payload[26..28].copy_from_slice(&1u16.to_le_bytes());
    assert!(reeldb_core::event::parse_event(&payload).is_none());
    fuzzing::event(&payload);
    let entries = [EntryInput { kind: KIND_EVENT, payload: &payload }];
    let mut frame = vec![0u8; frame_length(1, payload.len())];
    encode_frame(&mut frame, &entries, 0, 0, &STORE_ID);
    let input = ScanInput { bytes: &frame, is_final: true, expected_position: 0, previous_checksum: 0, store_id: &STORE_ID, named_kinds: &NamedKinds::DEFAULT };
    let result = scan(&input, &mut Interner::default(), &mut [0u32; 4 * ENTRY_RECORD_WORDS]);
    assert!(result.status == ScanStatus::Bad && result.bad_event);
}

// ---- seeds ----

fn hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

fn vectors() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(VECTORS).unwrap()).unwrap()
}

fn golden_frames() -> Vec<Vec<u8>> {
    vectors()["frames"].as_array().unwrap().iter().map(|frame| hex(frame["bytes"].as_str().unwrap())).collect()
}

fn flip(bytes: &[u8], bit: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[bit / 8] ^= 1 << (bit % 8);
    out
}

fn with_u32(bytes: &[u8], at: usize, value: u32) -> Vec<u8> {
    let mut out = bytes.to_vec();
    write_u32(&mut out, at, value);
    out
}

/// The seed inputs, by target and name: golden bytes, truncations, bit flips and edge values.
fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let vectors = vectors();
    assert_eq!(hex(vectors["storeId"].as_str().unwrap()), STORE_ID, "fuzzing::STORE_ID is the golden store id");
    let frames = golden_frames();
    let header = hex(vectors["segmentHeader"]["bytes"].as_str().unwrap());
    let events: Vec<Vec<u8>> = vectors["events"].as_array().unwrap().iter().map(|event| hex(event["payload"].as_str().unwrap())).collect();
    let log = frames.concat();
    let mut seeds: Vec<(&str, String, Vec<u8>)> = Vec::new();
    let mut add = |target: &'static str, name: String, bytes: Vec<u8>| seeds.push((target, name, bytes));

    // scan: control byte, then log bytes.
    use scan_control::*;
    let many_entries = {
        let payloads = vec![Vec::new(); 5];
        let entries: Vec<_> = payloads.iter().map(|payload| EntryInput { kind: 0xC0, payload }).collect();
        let mut frame = vec![0u8; frame_length(5, 0)];
        encode_frame(&mut frame, &entries, 0, 0, &STORE_ID);
        frame
    };
    let empty_frame = {
        let mut frame = vec![0u8; frame_length(0, 0)];
        encode_frame(&mut frame, &[], 0, 0, &STORE_ID);
        frame
    };
    for (name, control) in [("final", FINAL), ("more", 0), ("repair", FINAL | REPAIR | CHAIN), ("small-table", FINAL | 1 << SMALL_TABLE_SHIFT)] {
        add("scan", format!("log-{name}"), [&[control][..], &log].concat());
    }
    add("scan", "frame-0".into(), [&[FINAL][..], &frames[0]].concat());
    add("scan", "frame-1-from-its-position".into(), [&[FINAL | START_FROM_FIRST_FRAME][..], &frames[1]].concat());
    add("scan", "zero-entries".into(), [&[FINAL][..], &empty_frame, &many_entries].concat());
    add("scan", "many-entries-table-0".into(), [&[FINAL][..], &many_entries].concat());
    add("scan", "many-entries-table-3".into(), [&[FINAL | 3 << SMALL_TABLE_SHIFT][..], &many_entries, &log].concat());
    for cut in [1, 31, 32, 33, frames[0].len() - 1, frames[0].len() + 40, log.len() - 8] {
        add("scan", format!("log-cut-{cut}-final"), [&[FINAL][..], &log[..cut]].concat());
        add("scan", format!("log-cut-{cut}-more"), [&[0][..], &log[..cut]].concat());
    }
    for bit in [0, 37, 8 * 8 + 3, 8 * 16, 8 * 24, 8 * 28, 8 * 40, 8 * 70, 8 * (frames[0].len() - 6)] {
        add("scan", format!("log-flip-{bit}"), [&[FINAL][..], &flip(&log, bit)].concat());
    }
    add("scan", "reordered".into(), [&[FINAL][..], &frames[1], &frames[0]].concat());
    add("scan", "zero-tail".into(), [&[FINAL][..], &log, &[0u8; 64][..]].concat());
    add("scan", "huge-claims".into(), [&[0][..], &begin_record(FRAME_BYTES_MAX as u32, FRAME_ENTRIES_MAX, 0, 40)].concat());
    add("scan", "probe-near-max".into(), [&[FINAL | 3 << PROBE_START_SHIFT][..], &log].concat());
    add("scan", "positions-near-max".into(), [&[FINAL | REPAIR | CHAIN | START_FROM_FIRST_FRAME][..], &with_u32(&with_u32(&log, 16, u32::MAX), 20, u32::MAX)].concat());
    add("scan", "bad-event".into(), [&[FINAL | REPAIR][..], &with_u32(&log, 40 + 16, 0xFFFF_FF00)].concat());

    // frame: any bytes; the round trip reads (position, mark, previous, (kind, length, payload)*).
    for (index, frame) in frames.iter().enumerate() {
        add("frame", format!("golden-{index}"), frame.clone());
        for cut in [0, 8, 31, 32, frame.len() / 2, frame.len() - 1] {
            add("frame", format!("golden-{index}-cut-{cut}"), frame[..cut].to_vec());
        }
        for bit in [3, 8 * 5, 8 * 9, 8 * 12, 8 * 29, 8 * 36, 8 * (frame.len() - 8), 8 * (frame.len() - 1)] {
            add("frame", format!("golden-{index}-flip-{bit}"), flip(frame, bit));
        }
    }
    add("frame", "empty".into(), empty_frame.clone());
    add("frame", "many-entries".into(), many_entries.clone());
    add("frame", "huge-claims".into(), begin_record(FRAME_BYTES_MAX as u32, FRAME_ENTRIES_MAX, 0, 16));
    add("frame", "entry-overrun".into(), with_u32(&frames[0], 36, 0x1000));
    add("frame", "round-trip-input".into(), b"\x05\0\0\0\0\0\0\0\x02\0\0\0\x09\0\0\0\x30\x04abcd\xc0\x00\x10\x01z".to_vec());

    // header.
    add("header", "golden".into(), header.clone());
    for cut in [0, 8, 44, 47] {
        add("header", format!("cut-{cut}"), header[..cut].to_vec());
    }
    for bit in [0, 8 * 8, 8 * 12, 8 * 16, 8 * 33, 8 * 40, 8 * 44] {
        add("header", format!("flip-{bit}"), flip(&header, bit));
    }
    let mut other = [0u8; SEGMENT_HEADER_BYTES];
    encode_header(&mut other, &[9; 16], u64::MAX);
    add("header", "other-store".into(), other.to_vec());
    add("header", "version-2".into(), with_u32(&header, 8, 2));
    let mut flagged = with_u32(&with_u32(&header, 12, 1), 40, 7);
    let checksum = crc32c(&flagged[..44]);
    write_u32(&mut flagged, 44, checksum);
    add("header", "flags-and-reserved".into(), flagged);
    add("header", "long".into(), [&header[..], &frames[0]].concat());

    // event.
    for (index, event) in events.iter().enumerate() {
        add("event", format!("golden-{index}"), event.clone());
        add("event", format!("golden-{index}-short"), event[..event.len() - 1].to_vec());
        add("event", format!("golden-{index}-long"), [&event[..], b"x"].concat());
        add("event", format!("golden-{index}-header-only"), event[..EVENT_HEADER_BYTES].to_vec());
    }
    add("event", "zero-stream".into(), { let mut e = events[0].clone(); e[24] = 0; e[25] = 0; e });
    add("event", "zero-type".into(), { let mut e = events[0].clone(); e[26] = 0; e[27] = 0; e });
    add("event", "huge-lengths".into(), with_u32(&with_u32(&events[0], 16, u32::MAX), 20, u32::MAX));
    let mut wrapping = vec![0u8; 40];
    write_u32(&mut wrapping, 16, ((1u64 << 32) + 40 - 32 - 65_535 - 1) as u32);
    wrapping[24..28].copy_from_slice(&[0xFF, 0xFF, 1, 0]);
    add("event", "lengths-wrapping-u32".into(), wrapping);
    add("event", "empty".into(), Vec::new());
    seeds
}

/// With `REELDB_WRITE_FUZZ_SEEDS=1`, rewrites the `seed-*` files; either way runs every seed,
/// as built from the current golden vectors, through its target (the committed files may be
/// from an older format, which does not matter to a fuzzer).
#[test]
fn seeds_run_clean() {
    let seeds = seeds();
    if std::env::var_os("REELDB_WRITE_FUZZ_SEEDS").is_some() {
        for (target, _) in TARGETS {
            let directory = Path::new(CORPUS).join(target);
            std::fs::create_dir_all(&directory).unwrap();
            for entry in std::fs::read_dir(&directory).unwrap() {
                let path = entry.unwrap().path();
                if path.file_name().unwrap().to_string_lossy().starts_with("seed-") {
                    std::fs::remove_file(path).unwrap();
                }
            }
        }
        for (target, name, bytes) in &seeds {
            std::fs::write(Path::new(CORPUS).join(target).join(format!("seed-{name}")), bytes).unwrap();
        }
    }
    for (target, name, bytes) in &seeds {
        let run = TARGETS.iter().find(|(known, _)| known == target).unwrap().1;
        execute(target, run, bytes, &|| format!("seed {name}"));
    }
}
