//! Entry checks: a 32-bit check value of every entry's payload, kept by the host in its
//! in-memory index beside the entry's offset and length, so that every later read of the
//! payload can be verified without reading its frame (docs/FORMAT.md §10.1).
//!
//! The frame checksum (CRC32C) proves a frame was written whole; it is checked when recovery
//! scans the frame. A read of one entry does not read its frame, and a snapshot lets open skip
//! scanning frames at all, so reads check against the entry check instead. The check is
//! computed where the bytes are known good: by the encoder (commit, compaction) and by the
//! scan right after the frame checksum matched; snapshots carry it.
//!
//! Why XXH64 and not CRC32C: in wasm32 there is no CRC instruction and the table-driven
//! CRC32C runs at ~2 GB/s, which would cost replay more than its decoding; XXH64 uses native
//! 64-bit multiplies and runs ~4–5× faster on entry-sized inputs (bench/RESULTS.md
//! "read checksums"). The seed is the entry's position, so bytes of another entry (a
//! misdirected read, an index that points at the wrong place, a stale file) do not verify.
use xxhash_rust::xxh64::xxh64;

/// The check of an entry: the low 32 bits of XXH64(payload, seed = position).
#[inline]
pub fn entry_check(payload: &[u8], position: u64) -> u32 {
    xxh64(payload, position) as u32
}

/// Why an entry did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    /// The bytes are there but their check differs from the index.
    Mismatch { computed: u32 },
    /// The entry's offset and length run past the bytes given.
    OutOfRange,
}

impl VerifyError {
    pub fn code(&self) -> u32 {
        match self {
            VerifyError::Mismatch { .. } => 1,
            VerifyError::OutOfRange => 2,
        }
    }
}

/// One batch of entries to verify, as the host lays it out: parallel arrays of payload offsets
/// (in the file), lengths and expected checks; positions are `first_position + local[i]`, or
/// `first_position + i` when `locals` is None (a contiguous run).
pub struct VerifyBatch<'a> {
    pub bytes: &'a [u8],
    /// File offset of `bytes[0]`.
    pub base: u64,
    pub offsets: &'a [u32],
    pub lengths: &'a [u32],
    pub checks: &'a [u32],
    pub locals: Option<&'a [u32]>,
    pub first_position: u64,
}

/// Verifies every entry of the batch; Err((index, why)) for the first that fails.
pub fn verify_batch(batch: &VerifyBatch) -> Result<(), (usize, VerifyError)> {
    let count = batch.offsets.len().min(batch.lengths.len()).min(batch.checks.len());
    for index in 0..count {
        let local = match batch.locals {
            Some(locals) => match locals.get(index) {
                Some(local) => *local as u64,
                None => return Err((index, VerifyError::OutOfRange)),
            },
            None => index as u64,
        };
        // In u64: an offset below the base or a length past the bytes is out of range, never a wrap.
        let start = (batch.offsets[index] as u64).checked_sub(batch.base);
        let end = start.map(|start| start + batch.lengths[index] as u64);
        let payload = match (start, end) {
            (Some(start), Some(end)) if end <= batch.bytes.len() as u64 => &batch.bytes[start as usize..end as usize],
            _ => return Err((index, VerifyError::OutOfRange)),
        };
        let computed = entry_check(payload, batch.first_position.wrapping_add(local));
        if computed != batch.checks[index] {
            return Err((index, VerifyError::Mismatch { computed }));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden values (also in docs/FORMAT.md §10.1): XXH64 of "" with seed 0 is
    /// 0xEF46DB3751D8E999 (the reference implementation's value).
    #[test]
    fn check_values() {
        assert_eq!(xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
        assert_eq!(entry_check(b"", 0), 0x51D8_E999);
        assert_ne!(entry_check(b"event", 1), entry_check(b"event", 2), "the position is part of the check");
    }

    fn batch<'a>(bytes: &'a [u8], offsets: &'a [u32], lengths: &'a [u32], checks: &'a [u32], locals: Option<&'a [u32]>) -> VerifyBatch<'a> {
        VerifyBatch { bytes, base: 100, offsets, lengths, checks, locals, first_position: 7 }
    }

    #[test]
    fn verifies_runs_and_sparse_entries() {
        let bytes: Vec<u8> = (0..64u8).collect();
        let offsets = [100, 110, 140];
        let lengths = [10, 0, 24];
        let checks = [entry_check(&bytes[0..10], 7), entry_check(&[], 8), entry_check(&bytes[40..64], 9)];
        assert_eq!(verify_batch(&batch(&bytes, &offsets, &lengths, &checks, None)), Ok(()));
        let sparse = [entry_check(&bytes[0..10], 7), entry_check(&[], 12), entry_check(&bytes[40..64], 20)];
        assert_eq!(verify_batch(&batch(&bytes, &offsets, &lengths, &sparse, Some(&[0, 5, 13]))), Ok(()));
        // The same bytes read as another position do not verify.
        assert!(matches!(verify_batch(&batch(&bytes, &offsets, &lengths, &sparse, None)), Err((1, VerifyError::Mismatch { .. }))));
    }

    #[test]
    fn every_flipped_bit_and_every_bad_bound_is_found() {
        let bytes: Vec<u8> = (0..64u8).map(|b| b.wrapping_mul(37)).collect();
        let checks = [entry_check(&bytes[0..64], 7)];
        for bit in 0..64 * 8 {
            let mut damaged = bytes.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(matches!(verify_batch(&batch(&damaged, &[100], &[64], &checks, None)), Err((0, VerifyError::Mismatch { .. }))), "bit {bit}");
        }
        for (offset, length) in [(99, 1), (100, 65), (164, 1), (u32::MAX, u32::MAX), (101, u32::MAX)] {
            assert_eq!(verify_batch(&batch(&bytes, &[offset], &[length], &checks, None)), Err((0, VerifyError::OutOfRange)), "{offset}+{length}");
        }
        assert_eq!(verify_batch(&batch(&bytes, &[100], &[64], &checks, Some(&[]))), Err((0, VerifyError::OutOfRange)));
    }
}
