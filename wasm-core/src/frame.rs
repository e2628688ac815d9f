//! Commit frames: one frame per commit, all-or-nothing.
//!
//! begin (32) · entries (8-byte header + payload each) · zero padding to 8 · end (8).
use crate::format::*;

/// One entry handed to the encoder.
pub struct EntryInput<'a> {
    pub kind: u8,
    pub payload: &'a [u8],
}

/// What a valid frame says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    pub length: usize,
    pub entry_count: u32,
    pub first_position: u64,
    /// Entries before this frame that the writer did not yet know to be durable (synced)
    /// when it wrote the frame; saturates at u32::MAX.
    pub unsynced_before: u32,
    pub previous_checksum: u32,
    pub checksum: u32,
}

impl FrameInfo {
    /// Every position below this was durable when the frame was written.
    pub fn durable_position(&self) -> u64 {
        self.first_position.saturating_sub(self.unsynced_before as u64)
    }
}

/// Why bytes at an offset are not a valid frame. The numbers cross the wasm boundary and are
/// listed in docs/FORMAT.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The bytes end before the frame does; `needed` is the full frame length when the begin
    /// record is intact, otherwise the begin length.
    Incomplete { needed: usize },
    BadBeginMagic,
    BadBeginChecksum,
    BadLength,
    BadEndMagic,
    BadChecksum { stored: u32, computed: u32 },
    BadEntries,
    PositionMismatch { expected: u64, found: u64 },
    ChainMismatch { expected: u32, found: u32 },
}

impl FrameError {
    pub fn code(&self) -> u32 {
        match self {
            FrameError::Incomplete { .. } => 1,
            FrameError::BadBeginMagic => 2,
            FrameError::BadBeginChecksum => 3,
            FrameError::BadLength => 4,
            FrameError::BadEndMagic => 5,
            FrameError::BadChecksum { .. } => 6,
            FrameError::BadEntries => 7,
            FrameError::PositionMismatch { .. } => 8,
            FrameError::ChainMismatch { .. } => 9,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            FrameError::Incomplete { needed } => format!("incomplete frame: {needed} bytes needed"),
            FrameError::BadBeginMagic => "no frame begin marker".into(),
            FrameError::BadBeginChecksum => "frame begin checksum mismatch".into(),
            FrameError::BadLength => "frame length out of range".into(),
            FrameError::BadEndMagic => "frame end marker missing".into(),
            FrameError::BadChecksum { stored, computed } => format!(
                "frame checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
            FrameError::BadEntries => "entries do not fill the frame".into(),
            FrameError::PositionMismatch { expected, found } => {
                format!("frame starts at position {found}, expected {expected}")
            }
            FrameError::ChainMismatch { expected, found } => format!(
                "frame chain broken (previous checksum {found:#010x}, expected {expected:#010x})"
            ),
        }
    }
}

/// Bytes a frame with these entries occupies.
pub fn frame_length(entry_count: usize, payload_bytes: usize) -> usize {
    align_up(FRAME_BEGIN_BYTES + entry_count * ENTRY_HEADER_BYTES + payload_bytes) + FRAME_END_BYTES
}

fn begin_checksum(begin: &[u8], store_id: &[u8; STORE_ID_BYTES]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&begin[..28]), store_id)
}

pub(crate) fn body_checksum(frame_without_end_checksum: &[u8], store_id: &[u8; STORE_ID_BYTES]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(frame_without_end_checksum), store_id)
}

/// Encodes one frame into `out`; returns (length, checksum). `out` must hold `frame_length`.
pub fn encode_frame(
    out: &mut [u8],
    entries: &[EntryInput],
    first_position: u64,
    previous_checksum: u32,
    store_id: &[u8; STORE_ID_BYTES],
) -> (usize, u32) {
    encode_frame_marked(out, entries, first_position, 0, previous_checksum, store_id)
}

/// `encode_frame` with the count of entries before the frame not yet known durable
/// (recovery uses it to tell a crash's unsynced tail from damage to synced data).
pub fn encode_frame_marked(
    out: &mut [u8],
    entries: &[EntryInput],
    first_position: u64,
    unsynced_before: u32,
    previous_checksum: u32,
    store_id: &[u8; STORE_ID_BYTES],
) -> (usize, u32) {
    let payload_bytes: usize = entries.iter().map(|entry| entry.payload.len()).sum();
    let length = frame_length(entries.len(), payload_bytes);
    assert!(length <= FRAME_BYTES_MAX && entries.len() as u64 <= FRAME_ENTRIES_MAX as u64);
    assert!(first_position.checked_add(entries.len() as u64).is_some(), "entry positions past u64::MAX");
    assert!(out.len() >= length);
    let frame = &mut out[..length];
    write_u32(frame, 0, FRAME_BEGIN_MAGIC);
    write_u32(frame, 4, length as u32);
    write_u32(frame, 8, entries.len() as u32);
    write_u32(frame, 12, unsynced_before);
    write_u64(frame, 16, first_position);
    write_u32(frame, 24, previous_checksum);
    let begin = begin_checksum(frame, store_id);
    write_u32(frame, 28, begin);
    let mut at = FRAME_BEGIN_BYTES;
    for entry in entries {
        frame[at] = entry.kind;
        frame[at + 1] = 0;
        frame[at + 2] = 0;
        frame[at + 3] = 0;
        write_u32(frame, at + 4, entry.payload.len() as u32);
        at += ENTRY_HEADER_BYTES;
        frame[at..at + entry.payload.len()].copy_from_slice(entry.payload);
        at += entry.payload.len();
    }
    let end_at = length - FRAME_END_BYTES;
    frame[at..end_at].fill(0);
    let checksum = body_checksum(&frame[..end_at], store_id);
    write_u32(frame, end_at, checksum);
    write_u32(frame, end_at + 4, FRAME_END_MAGIC);
    (length, checksum)
}

/// Checks the frame that starts at `bytes[0]`: markers, lengths, checksums, entry layout.
/// Chain and position are the caller's business (see `scan`).
pub fn check_frame(bytes: &[u8], store_id: &[u8; STORE_ID_BYTES]) -> Result<FrameInfo, FrameError> {
    check_frame_with(bytes, store_id, |body| body_checksum(body, store_id))
}

/// `check_frame` with the frame checksum of `body` (frame bytes 0..L−8; the store id is the
/// callee's to append) computed by `frame_checksum`, so that `scan::probe_after`, which may
/// check many overlapping candidates, can derive it from prefix checksums.
pub(crate) fn check_frame_with(
    bytes: &[u8],
    store_id: &[u8; STORE_ID_BYTES],
    frame_checksum: impl FnOnce(&[u8]) -> u32,
) -> Result<FrameInfo, FrameError> {
    if bytes.len() < FRAME_BEGIN_BYTES {
        // Fewer bytes than a begin record: nothing can be checked, so it is incomplete (the
        // caller decides whether more bytes may come or this is a torn tail).
        return Err(FrameError::Incomplete { needed: FRAME_BEGIN_BYTES });
    }
    if read_u32(bytes, 0) != FRAME_BEGIN_MAGIC {
        return Err(FrameError::BadBeginMagic);
    }
    if begin_checksum(bytes, store_id) != read_u32(bytes, 28) {
        return Err(FrameError::BadBeginChecksum);
    }
    let length = read_u32(bytes, 4) as usize;
    let entry_count = read_u32(bytes, 8);
    if length < FRAME_BEGIN_BYTES + FRAME_END_BYTES
        || length % FRAME_ALIGN_BYTES != 0
        || length > FRAME_BYTES_MAX
        || entry_count > FRAME_ENTRIES_MAX
        || (entry_count as usize) * ENTRY_HEADER_BYTES > length
        // Positions of its entries past u64::MAX (found by fuzzing:
        // fuzz_positions_past_u64_max): the scan's next position would wrap.
        || read_u64(bytes, 16).checked_add(entry_count as u64).is_none()
    {
        return Err(FrameError::BadLength);
    }
    if bytes.len() < length {
        return Err(FrameError::Incomplete { needed: length });
    }
    let end_at = length - FRAME_END_BYTES;
    if read_u32(bytes, end_at + 4) != FRAME_END_MAGIC {
        return Err(FrameError::BadEndMagic);
    }
    let stored = read_u32(bytes, end_at);
    let computed = frame_checksum(&bytes[..end_at]);
    if stored != computed {
        return Err(FrameError::BadChecksum { stored, computed });
    }
    // Entries must tile the body exactly, leaving only zero padding below the alignment.
    let mut at = FRAME_BEGIN_BYTES;
    for _ in 0..entry_count {
        if at + ENTRY_HEADER_BYTES > end_at {
            return Err(FrameError::BadEntries);
        }
        let payload = read_u32(bytes, at + 4) as usize;
        at += ENTRY_HEADER_BYTES;
        if payload > end_at - at {
            return Err(FrameError::BadEntries);
        }
        at += payload;
    }
    if align_up(at) + FRAME_END_BYTES != length {
        return Err(FrameError::BadEntries);
    }
    Ok(FrameInfo {
        length,
        entry_count,
        unsynced_before: read_u32(bytes, 12),
        first_position: read_u64(bytes, 16),
        previous_checksum: read_u32(bytes, 24),
        checksum: stored,
    })
}

/// Iterates (kind, payload offset, payload length) of a frame already checked.
pub fn entries(frame: &[u8], entry_count: u32) -> impl Iterator<Item = (u8, usize, usize)> + '_ {
    let mut at = FRAME_BEGIN_BYTES;
    (0..entry_count).map(move |_| {
        let kind = frame[at];
        let payload = read_u32(frame, at + 4) as usize;
        let start = at + ENTRY_HEADER_BYTES;
        at = start + payload;
        (kind, start, payload)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    const STORE: [u8; 16] = [1; 16];

    fn sample(first_position: u64, previous: u32) -> (Vec<u8>, u32) {
        let entries = [
            EntryInput { kind: 0x30, payload: b"hello" },
            EntryInput { kind: 0xC0, payload: b"" },
        ];
        let mut out = vec![0u8; frame_length(2, 5)];
        let (length, checksum) = encode_frame(&mut out, &entries, first_position, previous, &STORE);
        assert_eq!(length, out.len());
        (out, checksum)
    }

    #[test]
    fn round_trip() {
        let (bytes, checksum) = sample(5, 9);
        let info = check_frame(&bytes, &STORE).unwrap();
        assert_eq!(info.first_position, 5);
        assert_eq!(info.previous_checksum, 9);
        assert_eq!(info.checksum, checksum);
        let listed: Vec<_> = entries(&bytes, info.entry_count).collect();
        assert_eq!(listed, vec![(0x30, 40, 5), (0xC0, 53, 0)]);
        assert_eq!(bytes.len() % 8, 0);
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let (bytes, _) = sample(0, 0);
        for bit in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(check_frame(&damaged, &STORE).is_err(), "bit {bit} flip undetected");
        }
    }

    #[test]
    fn unsynced_mark_round_trips() {
        let entries = [EntryInput { kind: 0x30, payload: b"x" }];
        let mut out = vec![0u8; frame_length(1, 1)];
        encode_frame_marked(&mut out, &entries, 10, 3, 0, &STORE);
        let info = check_frame(&out, &STORE).unwrap();
        assert_eq!((info.unsynced_before, info.durable_position()), (3, 7));
    }

    #[test]
    fn every_truncation_is_incomplete() {
        let (bytes, _) = sample(0, 0);
        for cut in 0..bytes.len() {
            assert!(matches!(
                check_frame(&bytes[..cut], &STORE),
                Err(FrameError::Incomplete { .. })
            ));
        }
    }

    #[test]
    fn other_store_is_rejected() {
        let (bytes, _) = sample(0, 0);
        assert_eq!(check_frame(&bytes, &[2; 16]), Err(FrameError::BadBeginChecksum));
    }
}
