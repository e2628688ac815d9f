//! The checkpoint codec: a checkpoint's serialised state stored as one zstd frame (full) or as
//! a delta against the thread's previous state. Pure functions over byte slices, no I/O.
//!
//! A delta trims the prefix and the suffix that the previous and the next state share, and
//! compresses only the changed middle of the next state, with a stretch of the previous state
//! as zstd reference prefix ("patch-from"): the bytes just before the change point and the
//! bytes the middle replaces. The typical agent state (JSON growing by one message per step)
//! thus costs a few hundred bytes per step, and an edit near the start plus an append (a step
//! counter, then the messages) still matches the old middle instead of costing a full frame.
//!
//! Decoding never panics and never allocates more than the caller's `raw_length_max` plus a
//! constant (zstd's decompression context, `DECODE_OVERHEAD_BYTES_MAX`), whatever the bytes.
use core::fmt;
use zstd_safe::{CCtx, CParameter, DCtx, DParameter};

/// zstd level used when the host does not choose one. Measured on 500 KB JSON agent states in
/// the wasm (Node 20): level 3 stores full states 7–18% smaller than level 1 at about the same
/// speed (200–500 MB/s); levels 5 and up save 5–15% more at a third to a fifth of the speed.
/// Deltas of one appended message are 60–170 bytes at any of them.
pub const LEVEL_DEFAULT: i32 = 3;

/// Bytes of the previous state before the change point given to zstd as reference: enough
/// to hold many earlier messages that a new one resembles, small enough that indexing it
/// stays cheap next to compressing a few hundred new bytes.
pub const REFERENCE_BEFORE_CHANGE_BYTES_MAX: usize = 256 << 10;

/// Longest reference as a whole (before the change plus the replaced bytes): bounds the work
/// of a delta whose change spans most of a large state.
pub const REFERENCE_BYTES_MAX: usize = 8 << 20;

/// Fixed header of a delta: four u32 (prefix, suffix, middle, reference start).
pub const DELTA_HEADER_BYTES: usize = 16;

/// What decoding may allocate beyond the state itself: zstd's decompression context (about
/// 95 KB in zstd 1.5.7 on 64-bit targets, less on wasm32), with margin.
pub const DECODE_OVERHEAD_BYTES_MAX: usize = 256 << 10;

/// Window sizes (log2) zstd accepts on every target, wasm32 included (ZSTD_WINDOWLOG_MIN and
/// ZSTD_WINDOWLOG_MAX_32), so what native code encodes the wasm decodes.
const WINDOW_LOG_MIN: u32 = 10;
const WINDOW_LOG_MAX: u32 = 30;

/// Why stored bytes do not decode. `code` (`error_code`) crosses the wasm ABI and is stable;
/// `message` is for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError {
    pub code: u32,
    pub message: String,
}

/// Error codes of `CodecError`.
pub mod error_code {
    /// The stored bytes are inconsistent with themselves or with the previous state.
    pub const CORRUPT: u32 = 1;
    /// The state would be longer than the caller allows.
    pub const TOO_LARGE: u32 = 2;
    /// Bad arguments from the host (an unknown mode).
    pub const INVALID_ARGUMENT: u32 = 3;
}

impl CodecError {
    fn corrupt(message: String) -> Self {
        CodecError { code: error_code::CORRUPT, message }
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

/// The layout of a delta, all integers u32 little-endian:
///
/// | offset | field | meaning |
/// | --- | --- | --- |
/// | 0 | prefix `p` | bytes at the start shared by the previous and the next state |
/// | 4 | suffix `s` | bytes at the end shared by both (`p + s <= min` of both lengths) |
/// | 8 | middle `m` | length of `next[p .. p + m]`; the next state is `p + m + s` bytes |
/// | 12 | reference start `r` | the zstd reference prefix is `previous[r .. previous.len() - s]` |
/// | 16 | frame | one zstd frame of the middle, compressed with that reference |
///
/// The reference is the stretch of the previous state before the change point (at most
/// `REFERENCE_BEFORE_CHANGE_BYTES_MAX`) followed by the bytes the middle replaces
/// (`previous[p .. len - s]`, empty for a pure append), at most `REFERENCE_BYTES_MAX` in all.
/// Decoding needs exactly the same previous state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeltaHeader {
    pub prefix: u32,
    pub suffix: u32,
    pub middle: u32,
    pub reference_start: u32,
}

impl DeltaHeader {
    pub fn write(&self, out: &mut Vec<u8>) {
        for value in [self.prefix, self.suffix, self.middle, self.reference_start] {
            out.extend_from_slice(&value.to_le_bytes());
        }
    }

    pub fn read(stored: &[u8]) -> Option<DeltaHeader> {
        let word = |index: usize| Some(u32::from_le_bytes(stored.get(index * 4..index * 4 + 4)?.try_into().ok()?));
        Some(DeltaHeader { prefix: word(0)?, suffix: word(1)?, middle: word(2)?, reference_start: word(3)? })
    }
}

fn length_u32(length: usize, what: &str) -> u32 {
    // The host passes u32 lengths; natively a state over 4 GiB is a caller bug.
    u32::try_from(length).unwrap_or_else(|_| panic!("{what} of {length} bytes does not fit the u32 fields of a checkpoint"))
}

fn zstd_message(code: usize) -> &'static str {
    zstd_safe::get_error_name(code)
}

/// Compresses `source` (with `reference` as prefix, if not empty) and appends one frame to `out`.
fn compress_into(out: &mut Vec<u8>, source: &[u8], reference: &[u8], level: i32) {
    let mut context = CCtx::try_create().expect("zstd could not allocate a compression context");
    let setup = (|| {
        context.set_parameter(CParameter::CompressionLevel(level))?;
        context.set_parameter(CParameter::ContentSizeFlag(true))?;
        if !reference.is_empty() {
            // The window must reach from the end of the middle back to the reference start.
            let span = (reference.len() + source.len()).max(1);
            let window_log = (usize::BITS - (span - 1).leading_zeros()).clamp(WINDOW_LOG_MIN, WINDOW_LOG_MAX);
            context.set_parameter(CParameter::WindowLog(window_log))?;
            context.ref_prefix(reference)?;
        }
        Ok::<_, usize>(())
    })();
    if let Err(code) = setup {
        panic!("zstd refused the compression parameters: {}", zstd_message(code));
    }
    let start = out.len();
    let mut frame = Vec::with_capacity(zstd_safe::compress_bound(source.len()));
    match context.compress2(&mut frame, source) {
        Ok(_) => out.extend_from_slice(&frame),
        // compress_bound is always enough: only an allocation failure gets here.
        Err(code) => panic!("zstd compression failed: {}", zstd_message(code)),
    }
    debug_assert!(out.len() > start);
}

/// One zstd frame of `raw` (content size recorded in the frame header).
pub fn encode_full(raw: &[u8], level: i32) -> Vec<u8> {
    length_u32(raw.len(), "a checkpoint state");
    let mut out = Vec::new();
    compress_into(&mut out, raw, &[], level);
    out
}

/// Lengths of the common prefix and suffix of `a` and `b`, not overlapping in either.
pub fn common_prefix_suffix(a: &[u8], b: &[u8]) -> (usize, usize) {
    let shorter = a.len().min(b.len());
    let prefix = common_prefix(a, b);
    let suffix = common_suffix(&a[prefix..], &b[prefix..]);
    debug_assert!(prefix + suffix <= shorter);
    (prefix, suffix)
}

// Both compare 8 bytes at a time: a 500 KB state is scanned in well under a millisecond in
// wasm, where a byte loop is not vectorised.

fn word(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let shorter = a.len().min(b.len());
    let mut at = 0;
    while at + 8 <= shorter {
        let difference = word(a, at) ^ word(b, at);
        if difference != 0 {
            // Little-endian: the first bytes are the low ones.
            return at + (difference.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + a[at..shorter].iter().zip(&b[at..shorter]).take_while(|(x, y)| x == y).count()
}

fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    let shorter = a.len().min(b.len());
    let mut matched = 0;
    while matched + 8 <= shorter {
        let difference = word(a, a.len() - matched - 8) ^ word(b, b.len() - matched - 8);
        if difference != 0 {
            // The last bytes of a little-endian word are its high ones.
            return matched + (difference.leading_zeros() / 8) as usize;
        }
        matched += 8;
    }
    let (a, b) = (&a[..a.len() - matched], &b[..b.len() - matched]);
    matched + a.iter().rev().zip(b.iter().rev()).take(shorter - matched).take_while(|(x, y)| x == y).count()
}

/// The delta taking `previous` to `next` (layout: `DeltaHeader`).
pub fn encode_delta(previous: &[u8], next: &[u8], level: i32) -> Vec<u8> {
    length_u32(previous.len(), "a previous checkpoint state");
    length_u32(next.len(), "a checkpoint state");
    let (prefix, suffix) = common_prefix_suffix(previous, next);
    let middle = &next[prefix..next.len() - suffix];
    let reference_end = previous.len() - suffix;
    // Nothing to compress (the same state, or bytes only removed): no reference to index.
    let reference_start = if middle.is_empty() {
        reference_end
    } else {
        prefix.saturating_sub(REFERENCE_BEFORE_CHANGE_BYTES_MAX).max(reference_end.saturating_sub(REFERENCE_BYTES_MAX))
    };
    let header = DeltaHeader { prefix: prefix as u32, suffix: suffix as u32, middle: middle.len() as u32, reference_start: reference_start as u32 };
    let mut out = Vec::with_capacity(DELTA_HEADER_BYTES + 64);
    header.write(&mut out);
    compress_into(&mut out, middle, &previous[reference_start..reference_end], level);
    out
}

/// The content size that `frame`, exactly one zstd frame, declares in its header.
fn frame_content_size(frame: &[u8], what: &str) -> Result<u64, CodecError> {
    // One frame, nothing after it (zstd would decode further frames into the same output).
    match zstd_safe::find_frame_compressed_size(frame) {
        Ok(length) if length == frame.len() => {}
        Ok(length) => return Err(CodecError::corrupt(format!("{what}: {} bytes follow the zstd frame", frame.len() - length))),
        Err(code) => return Err(CodecError::corrupt(format!("{what}: not a whole zstd frame ({})", zstd_message(code)))),
    }
    match zstd_safe::get_frame_content_size(frame) {
        Ok(Some(size)) => Ok(size),
        // The encoders here always record it.
        Ok(None) => Err(CodecError::corrupt(format!("{what}: the zstd frame does not declare its size"))),
        Err(_) => Err(CodecError::corrupt(format!("{what}: bad zstd frame header"))),
    }
}

/// Decompresses `frame` (checked by `frame_content_size` to hold `out.len()` bytes) into
/// exactly `out`, with `reference` as prefix when not empty.
fn decompress_exact(frame: &[u8], reference: &[u8], out: &mut [u8], what: &str) -> Result<(), CodecError> {
    let mut context = DCtx::try_create().ok_or_else(|| CodecError::corrupt(format!("{what}: zstd could not allocate a decompression context")))?;
    let setup = (|| {
        context.set_parameter(DParameter::WindowLogMax(WINDOW_LOG_MAX))?;
        if !reference.is_empty() {
            context.ref_prefix(reference)?;
        }
        Ok::<_, usize>(())
    })();
    if let Err(code) = setup {
        return Err(CodecError::corrupt(format!("{what}: zstd refused the decompression parameters ({})", zstd_message(code))));
    }
    // Into a slice of exactly the declared length: a frame that holds more fails with
    // "destination buffer is too small" instead of writing past it.
    match context.decompress(out, frame) {
        Ok(length) if length == out.len() => Ok(()),
        Ok(length) => Err(CodecError::corrupt(format!("{what}: the zstd frame decoded to {length} bytes, expected {}", out.len()))),
        Err(code) => Err(CodecError::corrupt(format!("{what}: zstd: {}", zstd_message(code)))),
    }
}

/// An empty buffer with room for `length` bytes; failing to get it is an error, not an abort
/// (a damaged length below a generous `raw_length_max` can still be more than memory holds).
fn allocate(length: u64, what: &str) -> Result<Vec<u8>, CodecError> {
    let mut buffer = Vec::new();
    match usize::try_from(length).ok().and_then(|length| buffer.try_reserve_exact(length).ok()) {
        Some(()) => Ok(buffer),
        None => Err(CodecError { code: error_code::TOO_LARGE, message: format!("{what}: no memory for a state of {length} bytes") }),
    }
}

/// The state stored by `encode_full`, at most `raw_length_max` bytes.
pub fn decode_full(stored: &[u8], raw_length_max: usize) -> Result<Vec<u8>, CodecError> {
    const WHAT: &str = "full checkpoint";
    let length = frame_content_size(stored, WHAT)?;
    if length > raw_length_max as u64 {
        return Err(CodecError { code: error_code::TOO_LARGE, message: format!("{WHAT}: the zstd frame holds {length} bytes, more than the {raw_length_max} allowed") });
    }
    let mut raw = allocate(length, WHAT)?;
    raw.resize(length as usize, 0);
    decompress_exact(stored, &[], &mut raw, WHAT)?;
    Ok(raw)
}

/// The state stored by `encode_delta(previous, ..)`, at most `raw_length_max` bytes.
pub fn decode_delta(previous: &[u8], stored: &[u8], raw_length_max: usize) -> Result<Vec<u8>, CodecError> {
    const WHAT: &str = "delta checkpoint";
    let (frame, [prefix, suffix, middle, reference_start]) = check_delta(previous.len(), stored, raw_length_max, WHAT)?;
    let mut raw = allocate((prefix + middle + suffix) as u64, WHAT)?;
    raw.extend_from_slice(&previous[..prefix]);
    raw.resize(prefix + middle, 0);
    decompress_exact(frame, &previous[reference_start..previous.len() - suffix], &mut raw[prefix..], WHAT)?;
    raw.extend_from_slice(&previous[previous.len() - suffix..]);
    Ok(raw)
}

/// Decodes a chain: `links[0]` is a full checkpoint's stored bytes, each later link a delta
/// against the state before it. The deltas are applied in place on one buffer (each costs
/// what changed, not the size of the state). On failure the
/// error comes with the index of the link that failed. Allocates at most the largest state
/// plus the largest middle (each at most `raw_length_max`) plus a constant.
pub fn decode_chain<'a>(links: impl IntoIterator<Item = &'a [u8]>, raw_length_max: usize) -> Result<Vec<u8>, (usize, CodecError)> {
    let mut links = links.into_iter();
    let Some(first) = links.next() else {
        return Err((0, CodecError { code: error_code::INVALID_ARGUMENT, message: "a checkpoint chain needs at least its full checkpoint".into() }));
    };
    let mut state = decode_full(first, raw_length_max).map_err(|error| (0, error))?;
    for (index, link) in links.enumerate() {
        apply_delta(&mut state, link, raw_length_max).map_err(|error| (index + 1, error))?;
    }
    Ok(state)
}

/// The fields of a delta checked against a previous state of `previous_length` bytes: the
/// zstd frame and (prefix, suffix, middle, reference start) as usize.
fn check_delta<'s>(previous_length: usize, stored: &'s [u8], raw_length_max: usize, what: &str) -> Result<(&'s [u8], [usize; 4]), CodecError> {
    let Some(header) = DeltaHeader::read(stored) else {
        return Err(CodecError::corrupt(format!("{what}: {} bytes, shorter than its {DELTA_HEADER_BYTES}-byte header", stored.len())));
    };
    let (prefix, suffix, middle, reference_start) = (header.prefix as u64, header.suffix as u64, header.middle as u64, header.reference_start as u64);
    // u64 sums: on wasm32 a usize sum of u32 fields could wrap.
    if prefix + suffix > previous_length as u64 {
        return Err(CodecError::corrupt(format!("{what}: shared prefix {prefix} + suffix {suffix} exceed the previous state's {previous_length} bytes")));
    }
    let reference_end = previous_length as u64 - suffix;
    if reference_start > reference_end {
        return Err(CodecError::corrupt(format!("{what}: reference start {reference_start} is past its end {reference_end}")));
    }
    let raw_length = prefix + middle + suffix;
    if raw_length > raw_length_max as u64 {
        return Err(CodecError { code: error_code::TOO_LARGE, message: format!("{what}: the state would be {raw_length} bytes, more than the {raw_length_max} allowed") });
    }
    let frame = &stored[DELTA_HEADER_BYTES..];
    let content = frame_content_size(frame, what)?;
    if content != middle {
        return Err(CodecError::corrupt(format!("{what}: the zstd frame holds {content} bytes, the header says {middle}")));
    }
    Ok((frame, [prefix as usize, suffix as usize, middle as usize, reference_start as usize]))
}

/// Applies the delta `stored` to `state` in place. The middle is decompressed into room
/// after the state (its reference, the previous state before the suffix, stays intact), then
/// rotated behind the suffix and moved to the change point: O(middle + suffix) work.
fn apply_delta(state: &mut Vec<u8>, stored: &[u8], raw_length_max: usize) -> Result<(), CodecError> {
    const WHAT: &str = "delta checkpoint";
    let (frame, [prefix, suffix, middle, reference_start]) = check_delta(state.len(), stored, raw_length_max, WHAT)?;
    let length = state.len();
    if state.try_reserve(middle).is_err() {
        return Err(CodecError { code: error_code::TOO_LARGE, message: format!("{WHAT}: no memory for a middle of {middle} bytes") });
    }
    state.resize(length + middle, 0);
    let (head, room) = state.split_at_mut(length);
    decompress_exact(frame, &head[reference_start..length - suffix], room, WHAT)?;
    // [0, p) kept · [p, len − s) replaced · [len − s, len) suffix · [len, len + m) middle
    state[length - suffix..].rotate_right(middle);
    state.copy_within(length - suffix..length + middle, prefix);
    state.truncate(prefix + middle + suffix);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random bytes (xorshift), no dependency.
    fn noise(seed: u64, length: usize) -> Vec<u8> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..length)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    /// A JSON agent state after `steps` messages of about 500 bytes each.
    fn agent_state(steps: usize, step_counter: bool) -> Vec<u8> {
        let words = ["search", "the", "weather", "tool", "result", "agent", "user", "paris", "berlin", "degrees", "answer", "call"];
        let mut text = String::from("{");
        if step_counter {
            text += &format!("\"step\":{steps},");
        }
        text += "\"messages\":[";
        for index in 0..steps {
            let noise = noise(index as u64 + 7, 64);
            let body: Vec<&str> = noise.iter().map(|byte| words[*byte as usize % words.len()]).collect();
            if index > 0 {
                text.push(',');
            }
            text += &format!(
                "{{\"role\":\"{}\",\"id\":\"msg-{index:06}\",\"content\":\"{}\",\"tokens\":{}}}",
                if index % 2 == 0 { "user" } else { "assistant" },
                body.join(" "),
                noise[0] as u32 * 3
            );
        }
        text += "],\"model\":\"gpt\"}";
        text.into_bytes()
    }

    fn round_trip_delta(previous: &[u8], next: &[u8]) -> Vec<u8> {
        let stored = encode_delta(previous, next, LEVEL_DEFAULT);
        assert_eq!(decode_delta(previous, &stored, next.len()).unwrap(), next);
        if !next.is_empty() {
            let error = decode_delta(previous, &stored, next.len() - 1).unwrap_err();
            assert_eq!(error.code, error_code::TOO_LARGE);
        }
        stored
    }

    #[test]
    fn full_round_trips() {
        for raw in [Vec::new(), b"x".to_vec(), agent_state(3, false), agent_state(200, true), noise(1, 100_000), vec![0u8; 1 << 20]] {
            for level in [-5, 1, LEVEL_DEFAULT, 9, 19, 100] {
                let stored = encode_full(&raw, level);
                assert_eq!(decode_full(&stored, raw.len()).unwrap(), raw, "level {level}, {} bytes", raw.len());
            }
            let stored = encode_full(&raw, LEVEL_DEFAULT);
            if !raw.is_empty() {
                assert_eq!(decode_full(&stored, raw.len() - 1).unwrap_err().code, error_code::TOO_LARGE);
            }
        }
        let json = agent_state(1000, false);
        assert!(encode_full(&json, LEVEL_DEFAULT).len() < json.len() / 3);
    }

    #[test]
    fn delta_of_an_appended_message_is_small() {
        let mut previous = agent_state(0, false);
        for steps in 1..=120 {
            let next = agent_state(steps, false);
            let stored = round_trip_delta(&previous, &next);
            let header = DeltaHeader::read(&stored).unwrap();
            assert_eq!(header.suffix, 16, "the shared suffix is ],\"model\":\"gpt\"}}");
            assert!(header.middle < 600);
            if steps > 20 {
                assert!(stored.len() < 400, "step {steps}: {} stored bytes", stored.len());
            }
            previous = next;
        }
    }

    #[test]
    fn delta_of_an_edit_near_the_start_and_an_append_matches_the_old_middle() {
        // The step counter changes at the start, so the middle is nearly the whole state.
        let previous = agent_state(400, true);
        let next = agent_state(401, true);
        let stored = round_trip_delta(&previous, &next);
        let header = DeltaHeader::read(&stored).unwrap();
        assert!(header.middle as usize > next.len() / 2, "{header:?}, {} bytes", next.len());
        let full = encode_full(&next, LEVEL_DEFAULT).len();
        assert!(stored.len() * 20 < full, "delta {} bytes, full {full}", stored.len());
    }

    #[test]
    fn delta_edge_cases_round_trip() {
        let json = agent_state(50, false);
        let random = noise(3, 50_000);
        let other = noise(4, 70_000);
        let cases: Vec<(Vec<u8>, Vec<u8>)> = vec![
            (Vec::new(), Vec::new()),
            (Vec::new(), json.clone()),
            (json.clone(), Vec::new()),
            (json.clone(), json.clone()),
            (random.clone(), random.clone()),
            (random.clone(), other.clone()),
            (json.clone(), random.clone()),
            (b"aaaa".to_vec(), b"aa".to_vec()),
            (b"aa".to_vec(), b"aaaa".to_vec()),
            (b"abcabc".to_vec(), b"abc".to_vec()),
            ([&random[..], &random[..1000]].concat(), random[1000..].to_vec()),
            ([&random[..20_000], b"XY", &random[20_000..]].concat(), random.clone()),
            (random.clone(), [&random[..20_000], b"XY", &random[22_000..]].concat()),
            (vec![0u8; 300_000], vec![0u8; 300_001]),
            // More than REFERENCE_BYTES_MAX changed: the reference is cut to its end.
            (noise(5, REFERENCE_BYTES_MAX + 4096), [&b"!"[..], &noise(5, REFERENCE_BYTES_MAX + 4096)[1..]].concat()),
        ];
        for (previous, next) in &cases {
            let stored = round_trip_delta(previous, next);
            if previous == next {
                let header = DeltaHeader::read(&stored).unwrap();
                assert_eq!((header.prefix as usize, header.middle), (next.len(), 0));
                assert!(stored.len() < 32);
            }
        }
        // A different previous state does not silently give the next one.
        let (previous, next) = (&cases[11].0, &cases[11].1);
        let stored = encode_delta(previous, next, LEVEL_DEFAULT);
        assert_ne!(decode_delta(&random, &stored, next.len() + 2).ok().as_deref(), Some(&next[..]));
    }

    #[test]
    fn common_prefix_suffix_never_overlap() {
        // Against the byte-by-byte definition, across word boundaries.
        let base = noise(11, 40);
        for length in 0..40 {
            for change in 0..length {
                let a = &base[..length];
                let mut b = a.to_vec();
                b[change] ^= 0x40;
                let suffix = length - change - 1;
                assert_eq!(common_prefix_suffix(a, &b), (change, suffix));
                let longer = [a, &base[..7]].concat();
                let (prefix, suffix) = common_prefix_suffix(a, &longer);
                let slow_prefix = a.iter().zip(&longer).take_while(|(x, y)| x == y).count();
                let slow_suffix = a[slow_prefix..].iter().rev().zip(longer[slow_prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
                assert_eq!((prefix, suffix), (slow_prefix, slow_suffix.min(length - slow_prefix)));
            }
        }
        assert_eq!(common_prefix_suffix(b"", b""), (0, 0));
        assert_eq!(common_prefix_suffix(b"abc", b"abc"), (3, 0));
        assert_eq!(common_prefix_suffix(b"aaaa", b"aa"), (2, 0));
        assert_eq!(common_prefix_suffix(b"abxcd", b"abcd"), (2, 2));
        assert_eq!(common_prefix_suffix(b"abcd", b"xbcd"), (0, 3));
    }

    #[test]
    fn damaged_bytes_are_errors_not_panics() {
        let previous = agent_state(60, false);
        let next = agent_state(61, false);
        let delta = encode_delta(&previous, &next, LEVEL_DEFAULT);
        let full = encode_full(&next, LEVEL_DEFAULT);
        let limit = next.len();
        for cut in 0..delta.len() {
            assert!(decode_delta(&previous, &delta[..cut], limit).is_err(), "delta cut at {cut}");
        }
        for cut in 0..full.len() {
            assert!(decode_full(&full[..cut], limit).is_err(), "full cut at {cut}");
        }
        // Every single bit flip: an error or (a flip zstd cannot see, e.g. in a literal) a
        // wrong state of the right length; the host's CRC32C catches those.
        for bit in 0..delta.len() * 8 {
            let mut damaged = delta.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            if let Ok(raw) = decode_delta(&previous, &damaged, limit) {
                assert!(raw.len() <= limit);
            }
        }
        for bit in 0..full.len().min(1024) * 8 {
            let mut damaged = full.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            if let Ok(raw) = decode_full(&damaged, limit) {
                assert!(raw.len() <= limit);
            }
        }
        // Trailing bytes, a second frame, the wrong kind, other garbage.
        assert!(decode_full(&[&full[..], &[0]].concat(), limit).is_err());
        assert!(decode_full(&[&full[..], &full[..]].concat(), limit * 2).is_err());
        assert!(decode_delta(&previous, &[&delta[..], &[1, 2, 3]].concat(), limit).is_err());
        assert!(decode_full(&delta, limit).is_err());
        assert!(decode_full(&noise(9, 1000), limit).is_err());
        assert!(decode_delta(&previous, &noise(9, 1000), limit).is_err());
        assert!(decode_delta(&previous, &[0u8; DELTA_HEADER_BYTES], limit).is_err(), "no frame after the header");
        // A delta decoded against a shorter previous state.
        let error = decode_delta(&previous[..100], &delta, limit).unwrap_err();
        assert_eq!(error.code, error_code::CORRUPT);
        assert!(error.message.contains("exceed the previous state"), "{}", error.message);
    }

    #[test]
    fn header_lies_are_caught_before_allocating() {
        let previous = agent_state(10, false);
        let next = agent_state(11, false);
        let delta = encode_delta(&previous, &next, LEVEL_DEFAULT);
        let header = DeltaHeader::read(&delta).unwrap();
        let with = |change: &dyn Fn(&mut DeltaHeader)| {
            let mut lie = header;
            change(&mut lie);
            let mut bytes = Vec::new();
            lie.write(&mut bytes);
            bytes.extend_from_slice(&delta[DELTA_HEADER_BYTES..]);
            bytes
        };
        let cases: [(&str, Vec<u8>, u32); 7] = [
            ("huge middle", with(&|h| h.middle = u32::MAX), error_code::TOO_LARGE),
            ("huge everything", with(&|h| { h.prefix = u32::MAX; h.suffix = u32::MAX; h.middle = u32::MAX }), error_code::CORRUPT),
            ("prefix past previous", with(&|h| h.prefix = previous.len() as u32 + 1), error_code::CORRUPT),
            ("suffix past previous", with(&|h| h.suffix = previous.len() as u32), error_code::CORRUPT),
            ("reference start past its end", with(&|h| h.reference_start = previous.len() as u32), error_code::CORRUPT),
            ("middle one short", with(&|h| h.middle -= 1), error_code::CORRUPT),
            ("middle one long", with(&|h| h.middle += 1), error_code::CORRUPT),
        ];
        for (name, bytes, code) in cases {
            let error = decode_delta(&previous, &bytes, 1 << 20).unwrap_err();
            assert_eq!(error.code, code, "{name}: {}", error.message);
        }
        // A whole frame claiming 2^60 bytes of content: magic, a descriptor byte for a single
        // segment with an 8-byte content size, the size, one empty last raw block.
        let huge = [0x28, 0xB5, 0x2F, 0xFD, 0xE0, 0, 0, 0, 0, 0, 0, 0, 0x10, 1, 0, 0];
        assert_eq!(decode_full(&huge, 1 << 20).unwrap_err().code, error_code::TOO_LARGE);
        // Allowed by the caller but more than memory holds: an error, not an abort.
        assert_eq!(decode_full(&huge, usize::MAX).unwrap_err().code, error_code::TOO_LARGE);
        // The same claiming 1,000 bytes: allowed, allocated, and found short by zstd.
        let short = [0x28, 0xB5, 0x2F, 0xFD, 0x60, 0xE8, 0x02, 1, 0, 0];
        assert_eq!(zstd_safe::get_frame_content_size(&short).unwrap(), Some(1000));
        assert_eq!(decode_full(&short, 1 << 20).unwrap_err().code, error_code::CORRUPT);
        // A delta whose header and frame agree on a middle longer than the frame holds.
        let mut lying = with(&|h| h.middle = 1000);
        lying.truncate(DELTA_HEADER_BYTES);
        lying.extend_from_slice(&short);
        assert_eq!(decode_delta(&previous, &lying, 1 << 20).unwrap_err().code, error_code::CORRUPT);
        let mut frame = encode_full(b"small", LEVEL_DEFAULT);
        frame.truncate(4);
        assert!(decode_full(&frame, 1 << 20).is_err());
    }

    #[test]
    fn a_chain_decodes_in_place_to_the_same_states_as_delta_by_delta() {
        // Appends, an edit near the start with an append, shrinking, no change, a rewrite.
        let mut states = vec![agent_state(5, true)];
        for steps in 6..40 {
            states.push(agent_state(steps, steps % 3 == 0));
        }
        states.push(agent_state(12, true));
        states.push(agent_state(12, true));
        states.push(noise(9, 3000));
        states.push(Vec::new());
        states.push(agent_state(3, false));
        let mut links = vec![encode_full(&states[0], LEVEL_DEFAULT)];
        for pair in states.windows(2) {
            links.push(encode_delta(&pair[0], &pair[1], LEVEL_DEFAULT));
        }
        let largest = states.iter().map(Vec::len).max().unwrap();
        for end in 1..=links.len() {
            let decoded = decode_chain(links[..end].iter().map(Vec::as_slice), largest).unwrap();
            assert_eq!(decoded, states[end - 1], "chain of {end} links");
        }
        // A limit below one of the states: that link fails with TOO_LARGE and names itself.
        let (index, error) = decode_chain(links.iter().map(Vec::as_slice), states[0].len()).unwrap_err();
        assert_eq!(error.code, error_code::TOO_LARGE);
        assert!(index >= 1 && states[index].len() > states[0].len(), "link {index}");
        // A damaged delta in the middle of the chain names its index, never a wrong state.
        for (target, at) in [(7usize, 0usize), (7, 3), (20, 18), (20, 30)] {
            let mut damaged = links.clone();
            let length = damaged[target].len();
            damaged[target][at.min(length - 1)] ^= 0x5a;
            match decode_chain(damaged[..=target].iter().map(Vec::as_slice), largest) {
                Err((index, error)) => {
                    assert_eq!(index, target);
                    assert!(matches!(error.code, error_code::CORRUPT | error_code::TOO_LARGE));
                }
                // A flipped byte the frame does not notice (zstd frames carry no checksum here)
                // gives different bytes; the host's CRC32C of the raw state catches that.
                Ok(decoded) => assert_ne!(decoded, states[target]),
            }
        }
        assert_eq!(decode_chain(std::iter::empty::<&[u8]>(), 10).unwrap_err().1.code, error_code::INVALID_ARGUMENT);
    }
}
