//! Event entry payload (kind 0x30): fixed header, then stream · type · id · metadata · data.
use crate::format::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventLayout {
    pub timestamp_ms: u64,
    pub stream_version: u64,
    pub stream: (usize, usize),
    pub event_type: (usize, usize),
    pub id: (usize, usize),
    pub metadata: (usize, usize),
    pub data: (usize, usize),
    pub flags: u8,
}

/// Reads the layout of an event payload; None when the lengths do not add up.
pub fn parse_event(payload: &[u8]) -> Option<EventLayout> {
    if payload.len() < EVENT_HEADER_BYTES {
        return None;
    }
    let data_length = read_u32(payload, 16) as usize;
    let metadata_length = read_u32(payload, 20) as usize;
    let stream_length = read_u16(payload, 24) as usize;
    let type_length = read_u16(payload, 26) as usize;
    let id_length = payload[28] as usize;
    let flags = payload[29];
    // Summed in u64: in usize two u32 lengths can wrap on wasm32 and "add up" to the payload
    // length, and the stream range would then run past the payload (the scan trapped; found
    // by reasoning over the fuzz targets' u64 rule: fuzz_event_lengths_wrapping_u32).
    let total = [stream_length, type_length, id_length, metadata_length, data_length]
        .iter()
        .fold(EVENT_HEADER_BYTES as u64, |sum, &length| sum + length as u64);
    if total != payload.len() as u64 || stream_length == 0 || type_length == 0 {
        return None;
    }
    let mut at = EVENT_HEADER_BYTES;
    let mut take = |length: usize| {
        let range = (at, length);
        at += length;
        range
    };
    Some(EventLayout {
        timestamp_ms: read_u64(payload, 0),
        stream_version: read_u64(payload, 8),
        stream: take(stream_length),
        event_type: take(type_length),
        id: take(id_length),
        metadata: take(metadata_length),
        data: take(data_length),
        flags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn encode(stream: &[u8], kind: &[u8], id: &[u8], data: &[u8], version: u64) -> Vec<u8> {
        let mut out = vec![0u8; EVENT_HEADER_BYTES];
        write_u64(&mut out, 0, 1_700_000_000_000);
        write_u64(&mut out, 8, version);
        write_u32(&mut out, 16, data.len() as u32);
        out[24..26].copy_from_slice(&(stream.len() as u16).to_le_bytes());
        out[26..28].copy_from_slice(&(kind.len() as u16).to_le_bytes());
        out[28] = id.len() as u8;
        for part in [stream, kind, id, data] {
            out.extend_from_slice(part);
        }
        out
    }

    #[test]
    fn parses_and_rejects() {
        let payload = encode(b"run-1", b"tool_call", b"abc", b"{\"a\":1}", 3);
        let layout = parse_event(&payload).unwrap();
        assert_eq!(&payload[layout.stream.0..][..layout.stream.1], b"run-1");
        assert_eq!(layout.stream_version, 3);
        assert_eq!(&payload[layout.data.0..][..layout.data.1], b"{\"a\":1}");
        assert!(parse_event(&payload[..payload.len() - 1]).is_none());
        assert!(parse_event(&encode(b"", b"t", b"", b"", 0)).is_none());
    }
}
