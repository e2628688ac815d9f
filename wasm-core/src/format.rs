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

/// Entry kinds whose payload has the named-entry layout of events (a name the scan interns
/// and a version it reports), so the host rebuilds their index without reading them.
pub fn is_named_entry(kind: u8) -> bool {
    matches!(
        kind,
        KIND_EVENT | KIND_EVENT_STREAM_DELETED | KIND_EVENT_STREAM_PRUNED | KIND_CHECKPOINT | KIND_CHECKPOINT_THREAD_DELETED | KIND_CHECKPOINT_THREAD_PRUNED
    )
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
