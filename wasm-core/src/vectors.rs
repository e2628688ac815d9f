//! Golden byte vectors in `test/vectors/format-v1.json`, also read by the TypeScript tests.
//! `REELDB_WRITE_VECTORS=1 cargo test` rewrites the file (only when the format changes on
//! purpose, with a version-changes entry in docs/FORMAT.md).
use crate::format::*;
use crate::frame::{check_frame, encode_frame_marked, frame_length, EntryInput};
use crate::segment::encode_header;
use serde_json::{json, Value};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../test/vectors/format-v1.json");

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn event_payload(stream: &str, event_type: &str, id: &str, metadata: &str, data: &[u8], flags: u8, version: u64, timestamp: u64) -> Vec<u8> {
    let mut out = vec![0u8; EVENT_HEADER_BYTES];
    write_u64(&mut out, 0, timestamp);
    write_u64(&mut out, 8, version);
    write_u32(&mut out, 16, data.len() as u32);
    write_u32(&mut out, 20, metadata.len() as u32);
    out[24..26].copy_from_slice(&(stream.len() as u16).to_le_bytes());
    out[26..28].copy_from_slice(&(event_type.len() as u16).to_le_bytes());
    out[28] = id.len() as u8;
    out[29] = flags;
    for part in [stream.as_bytes(), event_type.as_bytes(), id.as_bytes(), metadata.as_bytes(), data] {
        out.extend_from_slice(part);
    }
    out
}

fn build() -> Value {
    let store: [u8; 16] = core::array::from_fn(|i| i as u8 * 17);
    let mut header = [0u8; SEGMENT_HEADER_BYTES];
    encode_header(&mut header, &store, 0);
    let events = [
        ("run-42", "tool_call", "00000000-0000-4000-8000-000000000001", "", br#"{"tool":"search"}"#.to_vec(), 0u8, 0u64),
        ("run-42", "decision", "00000000-0000-4000-8000-000000000002", r#"{"by":"planner"}"#, br#"{"pick":2}"#.to_vec(), EVENT_FLAG_HAS_METADATA, 1),
        ("run-43", "blob", "00000000-0000-4000-8000-000000000003", "", vec![0, 1, 2, 255], EVENT_FLAG_BINARY_DATA, 0),
    ];
    let payloads: Vec<Vec<u8>> = events
        .iter()
        .map(|(stream, kind, id, metadata, data, flags, version)| event_payload(stream, kind, id, metadata, data, *flags, *version, 1_767_225_600_000))
        .collect();
    let mut frames = Vec::new();
    let mut previous = 0;
    let mut position = 0u64;
    // The second frame says its writer did not yet know the first frame's 2 entries durable.
    for (batch, unsynced_before) in [(&payloads[0..2], 0u32), (&payloads[2..3], 2u32)] {
        let inputs: Vec<_> = batch.iter().map(|payload| EntryInput { kind: KIND_EVENT, payload }).collect();
        let mut out = vec![0u8; frame_length(inputs.len(), batch.iter().map(Vec::len).sum())];
        let (_, checksum) = encode_frame_marked(&mut out, &inputs, position, unsynced_before, previous, &store);
        frames.push(json!({
            "firstPosition": position,
            "unsyncedBefore": unsynced_before,
            "previousChecksum": previous,
            "checksum": checksum,
            "entries": batch.iter().map(|payload| json!({"kind": KIND_EVENT, "payload": hex(payload)})).collect::<Vec<_>>(),
            "bytes": hex(&out),
        }));
        previous = checksum;
        position += inputs.len() as u64;
    }
    json!({
        "comment": "Golden vectors for format v1; see docs/FORMAT.md. Written by wasm-core/src/vectors.rs.",
        "crc32c": [
            {"input": hex(b""), "crc": crc32c::crc32c(b"")},
            {"input": hex(b"123456789"), "crc": crc32c::crc32c(b"123456789")},
            {"input": hex(&[0u8; 32]), "crc": crc32c::crc32c(&[0u8; 32])}
        ],
        "storeId": hex(&store),
        "segmentHeader": {"firstPosition": 0, "bytes": hex(&header)},
        "events": events.iter().zip(&payloads).map(|((stream, kind, id, metadata, data, flags, version), payload)| json!({
            "stream": stream, "type": kind, "id": id, "metadata": metadata, "data": hex(data),
            "flags": flags, "streamVersion": version, "timestamp": 1_767_225_600_000u64, "payload": hex(payload)
        })).collect::<Vec<_>>(),
        "frames": frames,
    })
}

#[test]
fn golden_vectors_match() {
    let built = build();
    if std::env::var_os("REELDB_WRITE_VECTORS").is_some() {
        std::fs::write(PATH, serde_json::to_string_pretty(&built).unwrap() + "\n").unwrap();
    }
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(PATH).expect("test/vectors/format-v1.json")).unwrap();
    assert_eq!(stored, built, "format bytes changed: if on purpose, bump the format version");
    // Known CRC32C check value (RFC 3720 / iSCSI).
    assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
    let store: [u8; 16] = core::array::from_fn(|i| i as u8 * 17);
    for frame in stored["frames"].as_array().unwrap() {
        let text = frame["bytes"].as_str().unwrap();
        let bytes: Vec<u8> = (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect();
        let info = check_frame(&bytes, &store).unwrap();
        assert_eq!(info.checksum as u64, frame["checksum"].as_u64().unwrap());
    }
}
