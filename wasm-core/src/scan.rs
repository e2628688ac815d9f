//! Scan a run of frames: verify each, follow the position and checksum chain, and emit the
//! packed entry table the host builds its index from. The scan never decides what to do with
//! a bad frame; it says where valid data ends and why, and `find_valid_frame` lets the host
//! tell a torn tail (nothing valid after) from corruption (valid data after).
use crate::event::parse_event;
use crate::format::*;
use crate::frame::{body_checksum, check_frame, check_frame_with, entries, FrameError};
use crate::intern::Interner;
use crate::verify::entry_check;

/// u32 words per entry in the output table:
/// payload offset · payload length · kind · stream number · stream version (low, high) ·
/// entry check (`verify::entry_check`, computed once the frame checksum matched).
pub const ENTRY_RECORD_WORDS: usize = 7;
pub const NO_STREAM: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanStatus {
    /// Every byte was a valid frame.
    End = 0,
    /// The last frame continues past the bytes given; call again with more.
    NeedMore = 1,
    /// The frame at `consumed` is not valid; see `error`.
    Bad = 2,
    /// The entry table is full; call again from `consumed`.
    TableFull = 3,
}

#[derive(Debug, Clone, Copy)]
pub struct ScanResult {
    pub status: ScanStatus,
    pub error: Option<FrameError>,
    /// Offset just past the last valid frame.
    pub consumed: usize,
    pub frames: u32,
    pub entries: u32,
    /// Bytes needed from `consumed` to complete the next frame (NeedMore).
    pub needed: usize,
    pub next_position: u64,
    pub last_checksum: u32,
    /// The bad frame passed its checksum but an event inside it is malformed.
    pub bad_event: bool,
}

pub struct ScanInput<'a> {
    pub bytes: &'a [u8],
    pub is_final: bool,
    pub expected_position: u64,
    pub previous_checksum: u32,
    pub store_id: &'a [u8; STORE_ID_BYTES],
    /// The kinds whose entries have the named-entry layout: the scan interns their name and
    /// reports their version, and a frame holding one that does not parse is bad.
    pub named_kinds: &'a NamedKinds,
}

pub fn scan(input: &ScanInput, interner: &mut Interner, table: &mut [u32]) -> ScanResult {
    let capacity = table.len() / ENTRY_RECORD_WORDS;
    let mut result = ScanResult {
        status: ScanStatus::End,
        error: None,
        consumed: 0,
        frames: 0,
        entries: 0,
        needed: 0,
        next_position: input.expected_position,
        last_checksum: input.previous_checksum,
        bad_event: false,
    };
    let bytes = input.bytes;
    while result.consumed < bytes.len() {
        let rest = &bytes[result.consumed..];
        let info = match check_frame(rest, input.store_id) {
            Ok(info) => info,
            Err(FrameError::Incomplete { needed }) if !input.is_final => {
                result.status = ScanStatus::NeedMore;
                result.needed = needed;
                return result;
            }
            Err(error) => return bad(result, error),
        };
        if info.first_position != result.next_position {
            let error = FrameError::PositionMismatch { expected: result.next_position, found: info.first_position };
            return bad(result, error);
        }
        if info.previous_checksum != result.last_checksum {
            let error = FrameError::ChainMismatch { expected: result.last_checksum, found: info.previous_checksum };
            return bad(result, error);
        }
        if result.entries as usize + info.entry_count as usize > capacity {
            if result.entries == 0 {
                // Not even one frame fits: the host must grow the table to this many records.
                result.needed = info.entry_count as usize;
            }
            result.status = ScanStatus::TableFull;
            return result;
        }
        let frame = &rest[..info.length];
        let table_start = result.entries as usize * ENTRY_RECORD_WORDS;
        let mut record = table_start;
        for (index, (kind, start, length)) in entries(frame, info.entry_count).enumerate() {
            let mut stream = NO_STREAM;
            let mut version = 0u64;
            if input.named_kinds.contains(kind) {
                let payload = &frame[start..start + length];
                match parse_event(payload) {
                    Some(layout) => {
                        stream = interner.intern(&payload[layout.stream.0..][..layout.stream.1]);
                        version = layout.stream_version;
                    }
                    None => {
                        result.bad_event = true;
                        return bad(result, FrameError::BadEntries);
                    }
                }
            }
            let words = &mut table[record..record + ENTRY_RECORD_WORDS];
            words[0] = (result.consumed + start) as u32;
            words[1] = length as u32;
            words[2] = kind as u32;
            words[3] = stream;
            words[4] = version as u32;
            words[5] = (version >> 32) as u32;
            words[6] = entry_check(&frame[start..start + length], result.next_position + index as u64);
            record += ENTRY_RECORD_WORDS;
        }
        result.entries += info.entry_count;
        result.frames += 1;
        result.consumed += info.length;
        result.next_position += info.entry_count as u64;
        result.last_checksum = info.checksum;
    }
    result
}

fn bad(mut result: ScanResult, error: FrameError) -> ScanResult {
    result.status = ScanStatus::Bad;
    result.error = Some(error);
    result
}

/// The offset of the first complete valid frame at or after `start` (aligned), if any.
pub fn find_valid_frame(bytes: &[u8], start: usize, store_id: &[u8; STORE_ID_BYTES]) -> Option<usize> {
    probe_after(bytes, start, store_id).map(|probe| probe.first_offset)
}

/// What the valid frames after a bad one say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// Offset of the first valid frame at or after the start.
    pub first_offset: usize,
    /// How many valid frames were found.
    pub frames: u32,
    /// The highest durable position any of them records: every position below it was
    /// synced before that frame was written.
    pub durable_position: u64,
}

/// Looks for valid frames at or after `start` (aligned), skipping over each one found. Used
/// after a bad frame at position P: a valid frame written after P was known durable
/// (durable_position > P) means the bad frame is damage to synced data (corruption);
/// otherwise everything from the bad frame on was unsynced when the crash came (torn tail).
///
/// Its checksum work is O(n log n) in the bytes given, whatever they hold: see
/// `probe_after_with_budget`.
pub fn probe_after(bytes: &[u8], start: usize, store_id: &[u8; STORE_ID_BYTES]) -> Option<Probe> {
    let budget = bytes.len().saturating_mul(PROBE_DIRECT_CRC_BYTES_PER_BYTE).saturating_add(PROBE_DIRECT_CRC_BYTES_MIN);
    probe_after_with_budget(bytes, start, store_id, budget)
}

/// Frame-body bytes `probe_after` checksums directly, per byte given (plus a floor), before it
/// switches to prefix checksums. Valid frames are skipped over, so honest bytes stay far below it;
/// only many overlapping begin records that each claim a long frame reach it.
pub const PROBE_DIRECT_CRC_BYTES_PER_BYTE: usize = 4;
pub const PROBE_DIRECT_CRC_BYTES_MIN: usize = 1 << 20;

/// `probe_after` that checksums candidate frame bodies directly until it has read
/// `direct_crc_bytes_max` bytes that way, then from prefix checksums (`PrefixCrc`). Begin
/// records with valid begin checksums every 32 bytes, each claiming a frame up to one shared
/// end marker, otherwise cost O(n²): a crafted 4 MiB segment took 10 s natively and 190 s in
/// the wasm (test: probe_after_is_not_quadratic_on_crafted_begin_records). Same answers
/// either way.
pub fn probe_after_with_budget(bytes: &[u8], start: usize, store_id: &[u8; STORE_ID_BYTES], direct_crc_bytes_max: usize) -> Option<Probe> {
    // `start` comes from the host as a u32, which is usize::MAX on wasm32: rounding it up must
    // not wrap around to 0 (found by fuzzing: fuzz_probe_start_near_usize_max).
    let mut at = start.checked_next_multiple_of(FRAME_ALIGN_BYTES)?;
    let mut probe: Option<Probe> = None;
    let mut direct_crc_bytes = 0usize;
    let mut prefix: Option<PrefixCrc> = None;
    while at <= bytes.len() && bytes.len() - at >= FRAME_BEGIN_BYTES + FRAME_END_BYTES {
        if read_u32(bytes, at) == FRAME_BEGIN_MAGIC {
            let checked = match &prefix {
                Some(prefix) => check_frame_with(&bytes[at..], store_id, |body| {
                    crc32c::crc32c_append(prefix.range(at, at + body.len()), store_id)
                }),
                None => check_frame_with(&bytes[at..], store_id, |body| {
                    direct_crc_bytes += body.len();
                    body_checksum(body, store_id)
                }),
            };
            if prefix.is_none() && direct_crc_bytes > direct_crc_bytes_max {
                prefix = Some(PrefixCrc::new(bytes));
            }
            if let Ok(info) = checked {
                let found = probe.get_or_insert(Probe { first_offset: at, frames: 0, durable_position: 0 });
                found.frames += 1;
                found.durable_position = found.durable_position.max(info.durable_position());
                at += info.length;
                continue;
            }
        }
        at += FRAME_ALIGN_BYTES;
    }
    probe
}

/// CRC32C of the prefixes of `bytes` ending at each multiple of `STRIDE_BYTES`, so the CRC32C
/// of any range costs at most two strides of reading plus one shift (zlib's crc32_combine
/// method: multiply by x^(8·length) modulo the polynomial). Memory: 4 bytes per stride.
pub(crate) struct PrefixCrc<'a> {
    bytes: &'a [u8],
    strides: Vec<u32>,
    /// x^(2^k) mod P for every k a usize length can need, in CRC32C's reflected bit order.
    powers: [u32; 67],
}

impl<'a> PrefixCrc<'a> {
    const STRIDE_BYTES: usize = 256;
    /// CRC32C's polynomial, reflected.
    const POLYNOMIAL: u32 = 0x82F6_3B78;

    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        let mut strides = Vec::with_capacity(bytes.len() / Self::STRIDE_BYTES + 1);
        let mut crc = 0;
        strides.push(crc);
        for chunk in bytes.chunks_exact(Self::STRIDE_BYTES) {
            crc = crc32c::crc32c_append(crc, chunk);
            strides.push(crc);
        }
        let mut powers = [0u32; 67];
        let mut power = 1 << 30; // x^1
        for slot in &mut powers {
            *slot = power;
            power = Self::multiply(power, power);
        }
        PrefixCrc { bytes, strides, powers }
    }

    /// CRC32C of `bytes[..end]`.
    fn prefix(&self, end: usize) -> u32 {
        let stride = end / Self::STRIDE_BYTES;
        crc32c::crc32c_append(self.strides[stride], &self.bytes[stride * Self::STRIDE_BYTES..end])
    }

    /// CRC32C of `bytes[start..end]`: crc(A‖B) = crc(A)·x^(8·|B|) ⊕ crc(B) for this CRC's
    /// conditioning, so crc(B) = crc(A‖B) ⊕ crc(A)·x^(8·|B|).
    pub(crate) fn range(&self, start: usize, end: usize) -> u32 {
        self.prefix(end) ^ self.shift(self.prefix(start), end - start)
    }

    /// `crc` multiplied by x^(8·bytes) mod P.
    fn shift(&self, crc: u32, bytes: usize) -> u32 {
        let mut operator = 1 << 31; // x^0
        let mut bits = bytes as u64;
        let mut k = 3; // 8 = 2^3
        while bits != 0 {
            if bits & 1 != 0 {
                operator = Self::multiply(self.powers[k], operator);
            }
            bits >>= 1;
            k += 1;
        }
        Self::multiply(operator, crc)
    }

    /// a·b mod P, both in reflected bit order (zlib's multmodp).
    fn multiply(a: u32, mut b: u32) -> u32 {
        if a == 0 {
            return 0;
        }
        let mut m = 1u32 << 31;
        let mut product = 0;
        loop {
            if a & m != 0 {
                product ^= b;
                if a & (m - 1) == 0 {
                    return product;
                }
            }
            m >>= 1;
            b = if b & 1 != 0 { (b >> 1) ^ Self::POLYNOMIAL } else { b >> 1 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{encode_frame, frame_length, EntryInput};
    const STORE: [u8; 16] = [3; 16];

    fn event(stream: &[u8], version: u64) -> Vec<u8> {
        let mut out = vec![0u8; EVENT_HEADER_BYTES];
        write_u64(&mut out, 8, version);
        write_u32(&mut out, 16, 2);
        out[24..26].copy_from_slice(&(stream.len() as u16).to_le_bytes());
        out[26..28].copy_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(stream);
        out.extend_from_slice(b"t{}");
        out
    }

    /// Three frames: positions 0..2 (2 events), 2 (1 event), 3 (1 event).
    fn log() -> (Vec<u8>, Vec<usize>) {
        let mut bytes = Vec::new();
        let mut starts = Vec::new();
        let mut previous = 0;
        let mut position = 0;
        for batch in [vec![event(b"a", 0), event(b"b", 0)], vec![event(b"a", 1)], vec![event(b"b", 1)]] {
            let inputs: Vec<_> = batch.iter().map(|p| EntryInput { kind: KIND_EVENT, payload: p }).collect();
            let mut out = vec![0u8; frame_length(inputs.len(), batch.iter().map(|p| p.len()).sum())];
            let (_, checksum) = encode_frame(&mut out, &inputs, position, previous, &STORE);
            starts.push(bytes.len());
            bytes.extend_from_slice(&out);
            previous = checksum;
            position += inputs.len() as u64;
        }
        (bytes, starts)
    }

    fn run(bytes: &[u8], is_final: bool) -> (ScanResult, Vec<u32>, Interner) {
        let mut interner = Interner::default();
        let mut table = vec![0u32; 64 * ENTRY_RECORD_WORDS];
        let input = ScanInput { bytes, is_final, expected_position: 0, previous_checksum: 0, store_id: &STORE, named_kinds: &NamedKinds::DEFAULT };
        let result = scan(&input, &mut interner, &mut table);
        (result, table, interner)
    }

    #[test]
    fn scans_whole_log_and_interns() {
        let (bytes, _) = log();
        let (result, table, interner) = run(&bytes, true);
        assert_eq!(result.status, ScanStatus::End);
        assert_eq!((result.frames, result.entries, result.next_position), (3, 4, 4));
        let streams: Vec<u32> = (0..4).map(|i| table[i * ENTRY_RECORD_WORDS + 3]).collect();
        assert_eq!(streams, vec![0, 1, 0, 1]);
        let versions: Vec<u32> = (0..4).map(|i| table[i * ENTRY_RECORD_WORDS + 4]).collect();
        assert_eq!(versions, vec![0, 0, 1, 1]);
        assert_eq!(interner.name(1), Some(&b"b"[..]));
        // Word 6: the entry check of each payload at its position.
        for entry in 0..4 {
            let record = &table[entry * ENTRY_RECORD_WORDS..][..ENTRY_RECORD_WORDS];
            let payload = &bytes[record[0] as usize..][..record[1] as usize];
            assert_eq!(record[6], entry_check(payload, entry as u64));
        }
    }

    #[test]
    fn torn_tail_versus_need_more() {
        let (bytes, starts) = log();
        let cut = &bytes[..bytes.len() - 3];
        let (result, ..) = run(cut, false);
        assert_eq!(result.status, ScanStatus::NeedMore);
        assert_eq!(result.consumed, starts[2]);
        let (result, ..) = run(cut, true);
        assert_eq!(result.status, ScanStatus::Bad);
        assert_eq!(result.consumed, starts[2]);
        assert!(find_valid_frame(cut, starts[2] + 8, &STORE).is_none());
    }

    #[test]
    fn middle_damage_is_found_with_valid_frame_after() {
        let (mut bytes, starts) = log();
        bytes[starts[1] + 40] ^= 0x10;
        let (result, ..) = run(&bytes, true);
        assert_eq!(result.status, ScanStatus::Bad);
        assert_eq!(result.consumed, starts[1]);
        assert!(matches!(result.error, Some(FrameError::BadChecksum { .. })));
        assert_eq!(find_valid_frame(&bytes, starts[1] + 8, &STORE), Some(starts[2]));
    }

    #[test]
    fn reordered_frames_break_the_chain() {
        let (bytes, starts) = log();
        let mut swapped = bytes[..starts[1]].to_vec();
        swapped.extend_from_slice(&bytes[starts[2]..]);
        swapped.extend_from_slice(&bytes[starts[1]..starts[2]]);
        let (result, ..) = run(&swapped, true);
        assert_eq!(result.status, ScanStatus::Bad);
        assert!(matches!(result.error, Some(FrameError::PositionMismatch { .. })));
    }

    #[test]
    fn table_full_stops_at_frame_boundary() {
        let (bytes, starts) = log();
        let mut interner = Interner::default();
        let mut table = vec![0u32; 3 * ENTRY_RECORD_WORDS];
        let input = ScanInput { bytes: &bytes, is_final: true, expected_position: 0, previous_checksum: 0, store_id: &STORE, named_kinds: &NamedKinds::DEFAULT };
        let result = scan(&input, &mut interner, &mut table);
        assert_eq!(result.status, ScanStatus::TableFull);
        assert_eq!(result.consumed, starts[2]);
        assert_eq!(result.entries, 3);
    }

    #[test]
    fn probe_reports_the_highest_durable_position_after_damage() {
        let (mut bytes, starts) = log();
        bytes[starts[0] + 40] ^= 1;
        let probe = probe_after(&bytes, starts[0] + 8, &STORE).unwrap();
        assert_eq!((probe.first_offset, probe.frames), (starts[1], 2));
        // `log()` writes unsynced_before = 0, so each frame says all before it was durable.
        assert_eq!(probe.durable_position, 3);
    }

    #[test]
    fn prefix_crc_gives_every_range_and_matches_crc32c_combine() {
        let bytes: Vec<u8> = (0..3000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let prefix = PrefixCrc::new(&bytes);
        for (start, end) in [(0, 0), (0, 1), (0, 3000), (5, 5), (7, 263), (255, 257), (256, 512), (1000, 2999), (2999, 3000)] {
            assert_eq!(prefix.range(start, end), crc32c::crc32c(&bytes[start..end]), "{start}..{end}");
        }
        for length in [0usize, 1, 8, 255, 4096, 1 << 20, (1 << 29) + 7, 1 << 31, usize::MAX >> 1] {
            assert_eq!(prefix.shift(0xDEAD_BEEF, length), crc32c::crc32c_combine(0xDEAD_BEEF, 0, length), "{length}");
        }
    }

    #[test]
    fn probe_with_prefix_checksums_answers_the_same() {
        let (mut bytes, starts) = log();
        bytes[starts[0] + 40] ^= 1;
        bytes.extend_from_slice(&bytes.clone());
        for start in [0, 8, starts[1], bytes.len() / 2] {
            assert_eq!(probe_after_with_budget(&bytes, start, &STORE, 0), probe_after(&bytes, start, &STORE));
        }
    }

    /// A begin record every 32 bytes, each with a valid begin checksum and a length reaching
    /// one shared end marker, and no valid frame: each candidate's body checksum covers the
    /// rest of the bytes. Checked directly that was O(n²): 8 MiB took ~40 s natively.
    #[test]
    fn probe_after_is_not_quadratic_on_crafted_begin_records() {
        let length = 8 << 20;
        let mut bytes = vec![0u8; length];
        write_u32(&mut bytes, length - 4, FRAME_END_MAGIC);
        for at in (0..length - 40).step_by(32) {
            write_u32(&mut bytes, at, FRAME_BEGIN_MAGIC);
            write_u32(&mut bytes, at + 4, (length - at) as u32);
            let begin = crc32c::crc32c_append(crc32c::crc32c(&bytes[at..at + 28]), &STORE);
            write_u32(&mut bytes, at + 28, begin);
        }
        let started = std::time::Instant::now();
        assert_eq!(probe_after(&bytes, 0, &STORE), None);
        let elapsed = started.elapsed();
        assert!(elapsed < std::time::Duration::from_secs(10), "probe took {elapsed:?}");
    }

    /// One frame at position 0: an event, then an entry of `kind` with `payload`.
    fn frame_with(kind: u8, payload: &[u8]) -> Vec<u8> {
        let first = event(b"a", 0);
        let inputs = [EntryInput { kind: KIND_EVENT, payload: &first }, EntryInput { kind, payload }];
        let mut out = vec![0u8; frame_length(2, first.len() + payload.len())];
        encode_frame(&mut out, &inputs, 0, 0, &STORE);
        out
    }

    fn run_with(bytes: &[u8], named_kinds: &NamedKinds) -> (ScanResult, Vec<u32>, Interner) {
        let mut interner = Interner::default();
        let mut table = vec![0u32; 8 * ENTRY_RECORD_WORDS];
        let input = ScanInput { bytes, is_final: true, expected_position: 0, previous_checksum: 0, store_id: &STORE, named_kinds };
        let result = scan(&input, &mut interner, &mut table);
        (result, table, interner)
    }

    #[test]
    fn a_kind_the_host_names_is_indexed_by_name_and_version() {
        let bytes = frame_with(0xC5, &event(b"tags", 7));
        let custom = NamedKinds::DEFAULT.with(0xC5);
        let (result, table, interner) = run_with(&bytes, &custom);
        assert_eq!((result.status, result.entries), (ScanStatus::End, 2));
        let record = &table[ENTRY_RECORD_WORDS..][..ENTRY_RECORD_WORDS];
        assert_eq!(record[2], 0xC5);
        assert_eq!(interner.name(record[3]), Some(&b"tags"[..]));
        assert_eq!((record[4], record[5]), (7, 0));

        // The built-in set does not name 0xC5: the same entry is indexed without a name.
        let (result, table, interner) = run_with(&bytes, &NamedKinds::DEFAULT);
        assert_eq!((result.status, result.entries), (ScanStatus::End, 2));
        let record = &table[ENTRY_RECORD_WORDS..][..ENTRY_RECORD_WORDS];
        assert_eq!((record[2], record[3], record[4], record[5]), (0xC5, NO_STREAM, 0, 0));
        assert_eq!(interner.len(), 1);
        // Nor does a set that leaves the events out name them.
        let (_, table, _) = run_with(&bytes, &NamedKinds::NONE.with(0xC5));
        assert_eq!(table[3], NO_STREAM);
    }

    #[test]
    fn a_named_kind_whose_payload_is_not_the_named_layout_is_a_bad_frame() {
        // Lengths that do not add up: one byte short of what the header declares.
        let mut payload = event(b"tags", 0);
        payload.pop();
        let bytes = frame_with(0xC5, &payload);
        let (result, _, _) = run_with(&bytes, &NamedKinds::DEFAULT.with(0xC5));
        assert_eq!((result.status, result.error, result.bad_event), (ScanStatus::Bad, Some(FrameError::BadEntries), true));
        assert_eq!((result.consumed, result.entries), (0, 0));
        // Unnamed, the payload is opaque and the frame valid.
        let (result, _, _) = run_with(&bytes, &NamedKinds::DEFAULT);
        assert_eq!((result.status, result.bad_event), (ScanStatus::End, false));
        // A built-in named kind stays checked as before.
        let (result, _, _) = run_with(&frame_with(KIND_CHECKPOINT, &payload), &NamedKinds::DEFAULT);
        assert_eq!((result.status, result.bad_event), (ScanStatus::Bad, true));
    }

    #[test]
    fn zero_filled_tail_is_bad_with_nothing_after() {
        let (mut bytes, _) = log();
        let end = bytes.len();
        bytes.extend_from_slice(&[0u8; 4096]);
        let (result, ..) = run(&bytes, true);
        assert_eq!(result.status, ScanStatus::Bad);
        assert_eq!(result.consumed, end);
        assert!(find_valid_frame(&bytes, end + 8, &STORE).is_none());
    }
}
