//! The checkpoint codec under an allocation meter: decoding any bytes, including stored bytes
//! that lie about their lengths, allocates at most the caller's limit plus
//! `DECODE_OVERHEAD_BYTES_MAX` (zstd's context memory is counted too: zstd-safe's
//! `with-rust-allocator`), and never panics. Seeds are real full frames and deltas, mutated by a
//! deterministic loop (`REELDB_CODEC_MUTATIONS=N`, default 20,000) through `fuzzing::codec`.
mod common;
use common::peak_allocation;
use reeldb_core::codec::{decode_delta, decode_full, encode_delta, encode_full, DeltaHeader, DECODE_OVERHEAD_BYTES_MAX, DELTA_HEADER_BYTES, LEVEL_DEFAULT};
use reeldb_core::fuzzing::{self, CODEC_LIMITS, CODEC_PREVIOUS};
use std::panic::{catch_unwind, AssertUnwindSafe};

const MUTATIONS_DEFAULT: usize = 20_000;


#[test]
fn the_meter_sees_zstd_contexts() {
    let stored = encode_full(&[7u8; 1000], LEVEL_DEFAULT);
    let peak = peak_allocation(|| drop(decode_full(&stored, 1000)));
    assert!(peak > 64 << 10, "a zstd decompression context is bigger than {peak} bytes: is with-rust-allocator on?");
    eprintln!("decoding 1000 bytes allocated {peak} bytes at peak");
}

fn next_state() -> Vec<u8> {
    let text = std::str::from_utf8(CODEC_PREVIOUS).unwrap();
    text.replace(r#"],"step":3}"#, r#",{"role":"assistant","content":"it is 18 degrees with light rain in paris"}],"step":4}"#).into_bytes()
}

/// Decodes `stored` as the `codec` target does, checking the allocation bound for its limit.
fn decode_within_bounds(input: &[u8]) {
    let limit = CODEC_LIMITS[(input[0] >> 1) as usize & 3];
    let mut outcome = Ok(());
    let peak = peak_allocation(|| outcome = catch_unwind(AssertUnwindSafe(|| fuzzing::codec(input))));
    if outcome.is_err() {
        panic!("the codec panicked on {input:02x?}");
    }
    assert!(peak <= limit + DECODE_OVERHEAD_BYTES_MAX, "decoding {} bytes under a limit of {limit} allocated {peak} bytes: {input:02x?}", input.len());
}

/// Deterministic xorshift.
struct Random(u64);
impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let next = next_state();
    let mut stored = vec![
        encode_delta(CODEC_PREVIOUS, &next, LEVEL_DEFAULT),
        encode_delta(CODEC_PREVIOUS, CODEC_PREVIOUS, LEVEL_DEFAULT),
        encode_delta(CODEC_PREVIOUS, b"", LEVEL_DEFAULT),
        encode_delta(CODEC_PREVIOUS, &[0xAB; 3000], 1),
        encode_full(&next, LEVEL_DEFAULT),
        encode_full(b"", LEVEL_DEFAULT),
        encode_full(&[0xAB; 3000], 19),
    ];
    stored.push(encode_delta(CODEC_PREVIOUS, &next, -3));
    stored
}

#[test]
fn decoding_mutated_stored_bytes_stays_within_bounds() {
    let mutations = std::env::var("REELDB_CODEC_MUTATIONS").ok().and_then(|text| text.parse().ok()).unwrap_or(MUTATIONS_DEFAULT);
    let seeds = seeds();
    let mut random = Random(0x5EED_C0DE_C0DE_C);
    for seed in &seeds {
        for control in [0u8, 2, 4, 6] {
            decode_within_bounds(&[&[control][..], seed].concat());
        }
    }
    let mut decoded = 0;
    for _ in 0..mutations {
        let mut bytes = seeds[random.below(seeds.len())].clone();
        for _ in 0..1 + random.below(4) {
            match random.below(6) {
                0 if !bytes.is_empty() => {
                    let bit = random.below(bytes.len() * 8);
                    bytes[bit / 8] ^= 1 << (bit % 8);
                }
                1 if !bytes.is_empty() => {
                    let at = random.below(bytes.len());
                    bytes[at] = random.next() as u8;
                }
                2 => bytes.truncate(random.below(bytes.len() + 1)),
                3 => bytes.extend((0..random.below(8)).map(|_| random.next() as u8)),
                // A header word set to an edge value.
                4 if bytes.len() >= DELTA_HEADER_BYTES => {
                    let word = random.below(4) * 4;
                    let values = [0, 1, u32::MAX, u32::MAX - 1, CODEC_PREVIOUS.len() as u32, 1 << 20, 1 << 31, random.next() as u32];
                    bytes[word..word + 4].copy_from_slice(&values[random.below(values.len())].to_le_bytes());
                }
                _ => {
                    // The zstd frame header's content size byte(s), after a delta header or not.
                    let at = [5, 6, DELTA_HEADER_BYTES + 5, DELTA_HEADER_BYTES + 6][random.below(4)];
                    if at < bytes.len() {
                        bytes[at] = random.next() as u8;
                    }
                }
            }
        }
        let control = (random.below(4) as u8) << 1;
        decode_within_bounds(&[&[control][..], &bytes].concat());
        decoded += 1;
    }
    eprintln!("codec bounds: {decoded} mutated inputs decoded within their limits");
}

#[test]
fn lying_lengths_allocate_nothing_near_what_they_claim() {
    // A large previous state, and a caller that allows 4 GiB: the header's claims must be
    // checked against the previous state and the frame before the state is allocated.
    let previous: Vec<u8> = (0..(1 << 20)).map(|index: u32| (index % 251) as u8).collect();
    let mut next = previous.clone();
    next.extend_from_slice(b"one more message");
    let delta = encode_delta(&previous, &next, LEVEL_DEFAULT);
    let header = DeltaHeader::read(&delta).unwrap();
    let limit = u32::MAX as usize;
    for lie in [
        DeltaHeader { middle: u32::MAX - header.prefix - header.suffix, ..header },
        DeltaHeader { middle: 1 << 30, ..header },
        DeltaHeader { prefix: u32::MAX, ..header },
        DeltaHeader { suffix: u32::MAX, ..header },
        DeltaHeader { reference_start: u32::MAX, ..header },
    ] {
        let mut bytes = Vec::new();
        lie.write(&mut bytes);
        bytes.extend_from_slice(&delta[DELTA_HEADER_BYTES..]);
        let mut result = None;
        let peak = peak_allocation(|| result = Some(decode_delta(&previous, &bytes, limit)));
        assert!(result.unwrap().is_err(), "{lie:?}");
        assert!(peak <= 4096, "{lie:?} allocated {peak} bytes");
    }
    // The honest delta: the state plus zstd's context.
    let peak = peak_allocation(|| assert_eq!(decode_delta(&previous, &delta, limit).unwrap(), next));
    assert!(peak <= next.len() + DECODE_OVERHEAD_BYTES_MAX, "{peak}");
    // A full frame claiming 2^60 bytes.
    let huge = [0x28, 0xB5, 0x2F, 0xFD, 0xE0, 0, 0, 0, 0, 0, 0, 0, 0x10, 1, 0, 0];
    let peak = peak_allocation(|| assert!(decode_full(&huge, limit).is_err()));
    assert!(peak <= 4096, "{peak}");
}

#[test]
fn round_trips_through_the_fuzz_body() {
    let mut random = Random(77);
    for length in [0usize, 1, 2, 17, 300, 5000] {
        for control in [1u8, 3, 7, 15] {
            let body: Vec<u8> = (0..length).map(|_| b"{}[]\",:abc "[random.below(11)]).collect();
            fuzzing::codec(&[&[control][..], &body].concat());
        }
    }
}
