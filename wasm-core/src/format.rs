//! Format v1 constants and little-endian helpers. `docs/FORMAT.md` is the normative spec;
//! every number here is named there.

pub const FORMAT_VERSION: u32 = 1;
pub const STORE_ID_BYTES: usize = 16;

/// Segment header: magic · version · flags · store id · first position · reserved · checksum.
pub const SEGMENT_MAGIC: [u8; 8] = *b"REELSEG\0";
pub const SEGMENT_HEADER_BYTES: usize = 48;

/// Frame begin: magic · frame length · entry count · flags · first position · previous
/// checksum · begin checksum.
pub const FRAME_BEGIN_MAGIC: u32 = 0x4246_4C52; // "RLFB" little-endian
pub const FRAME_END_MAGIC: u32 = 0x4546_4C52; // "RLFE" little-endian
pub const FRAME_BEGIN_BYTES: usize = 32;
pub const FRAME_END_BYTES: usize = 8;
pub const FRAME_ALIGN_BYTES: usize = 8;
pub const ENTRY_HEADER_BYTES: usize = 8;
/// Largest frame the format allows (frame length is a u32; kept well below it).
pub const FRAME_BYTES_MAX: usize = 1 << 30;
pub const FRAME_ENTRIES_MAX: u32 = 1 << 24;

/// Entry kinds by allocated range (DESIGN.md). Kinds 0x00–0x0F are core, the rest belong to
/// primitives; the frame format never looks inside a payload.
pub const KIND_EVENT: u8 = 0x30;
/// A checkpoint (named-entry layout: thread as the name, seq as the version).
pub const KIND_CHECKPOINT: u8 = 0x80;
/// Every checkpoint of a thread deleted (same layout).
pub const KIND_CHECKPOINT_THREAD_DELETED: u8 = 0x81;
/// A prune removed a thread's checkpoints below a seq (same layout: the seq is the version).
pub const KIND_CHECKPOINT_THREAD_PRUNED: u8 = 0x82;
/// Every event of a stream deleted (same layout: the version is the count deleted).
pub const KIND_EVENT_STREAM_DELETED: u8 = 0x31;
/// A prune removed a stream's events below a version (same layout).
pub const KIND_EVENT_STREAM_PRUNED: u8 = 0x32;

/// Bytes of a `NamedKinds` bitmap: one bit for each of the 256 kinds.
pub const NAMED_KINDS_BYTES: usize = 32;

/// The set of entry kinds whose payload has the named-entry layout of events (a name the scan
/// interns and a version it reports), so the host rebuilds their index without reading them.
/// The primitives declare their named kinds and the host passes the set to the scan
/// (`reel_set_named_kinds`), so a new primitive needs no change here. Kind `k` is bit `k % 8`
/// (least significant first) of byte `k / 8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NamedKinds(pub [u8; NAMED_KINDS_BYTES]);

impl NamedKinds {
    pub const NONE: NamedKinds = NamedKinds([0; NAMED_KINDS_BYTES]);
    /// The built-in primitives' named kinds (events and checkpoints with their cut records):
    /// the set of a host that never passes one.
    pub const DEFAULT: NamedKinds = NamedKinds::NONE
        .with(KIND_EVENT)
        .with(KIND_EVENT_STREAM_DELETED)
        .with(KIND_EVENT_STREAM_PRUNED)
        .with(KIND_CHECKPOINT)
        .with(KIND_CHECKPOINT_THREAD_DELETED)
        .with(KIND_CHECKPOINT_THREAD_PRUNED);

    /// This set with `kind` added.
    pub const fn with(self, kind: u8) -> Self {
        let mut bits = self.0;
        bits[(kind >> 3) as usize] |= 1 << (kind & 7);
        NamedKinds(bits)
    }

    #[inline]
    pub const fn contains(&self, kind: u8) -> bool {
        self.0[(kind >> 3) as usize] & (1 << (kind & 7)) != 0
    }

    /// How many kinds the set holds.
    pub fn len(&self) -> u32 {
        self.0.iter().map(|byte| byte.count_ones()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0 == [0; NAMED_KINDS_BYTES]
    }
}

impl Default for NamedKinds {
    fn default() -> Self {
        NamedKinds::DEFAULT
    }
}

/// Event entry payload fixed header.
pub const EVENT_HEADER_BYTES: usize = 32;
pub const EVENT_FLAG_BINARY_DATA: u8 = 1;
pub const EVENT_FLAG_HAS_METADATA: u8 = 2;

#[inline]
pub fn read_u16(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}
#[inline]
pub fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}
#[inline]
pub fn read_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}
#[inline]
pub fn write_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}
#[inline]
pub fn write_u64(bytes: &mut [u8], at: usize, value: u64) {
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

/// Round up to the frame alignment.
#[inline]
pub fn align_up(length: usize) -> usize {
    (length + FRAME_ALIGN_BYTES - 1) & !(FRAME_ALIGN_BYTES - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_named_kinds_are_the_six_built_in_ones() {
        let named: Vec<u8> = (0..=255u8).filter(|&kind| NamedKinds::DEFAULT.contains(kind)).collect();
        assert_eq!(named, vec![0x30, 0x31, 0x32, 0x80, 0x81, 0x82]);
        assert_eq!(NamedKinds::DEFAULT.len(), 6);
        assert_eq!(NamedKinds::default(), NamedKinds::DEFAULT);
        assert!(NamedKinds::NONE.is_empty() && !NamedKinds::DEFAULT.is_empty());
    }

    #[test]
    fn kind_k_is_bit_k_mod_8_of_byte_k_div_8() {
        let mut bits = [0u8; NAMED_KINDS_BYTES];
        bits[0x30 / 8] = 0b0000_0111; // 0x30, 0x31, 0x32
        bits[0x80 / 8] = 0b0000_0111; // 0x80, 0x81, 0x82
        assert_eq!(NamedKinds(bits), NamedKinds::DEFAULT);
        let edges = NamedKinds::NONE.with(0).with(0xFF).with(0xC5);
        assert_eq!((edges.0[0], edges.0[31], edges.0[0xC5 / 8]), (1, 0x80, 1 << 5));
        assert!(edges.contains(0xC5) && !edges.contains(0xC4) && edges.len() == 3);
    }
}
