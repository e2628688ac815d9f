//! Segment header encode/decode.
use crate::format::*;

#[derive(Debug, PartialEq, Eq)]
pub enum HeaderError {
    TooShort,
    BadMagic,
    BadChecksum,
    UnsupportedVersion(u32),
    WrongStore,
}

pub fn encode_header(out: &mut [u8], store_id: &[u8; STORE_ID_BYTES], first_position: u64) {
    assert!(out.len() >= SEGMENT_HEADER_BYTES);
    let header = &mut out[..SEGMENT_HEADER_BYTES];
    header.fill(0);
    header[0..8].copy_from_slice(&SEGMENT_MAGIC);
    write_u32(header, 8, FORMAT_VERSION);
    write_u32(header, 12, 0); // flags
    header[16..32].copy_from_slice(store_id);
    write_u64(header, 32, first_position);
    write_u32(header, 40, 0); // reserved
    let checksum = crc32c::crc32c(&header[..44]);
    write_u32(header, 44, checksum);
}

/// Decodes a header; returns its first position. `store_id` is filled from the header when
/// `expected_store` is None, and checked against it otherwise.
pub fn decode_header(
    bytes: &[u8],
    expected_store: Option<&[u8; STORE_ID_BYTES]>,
) -> Result<(u64, [u8; STORE_ID_BYTES]), HeaderError> {
    if bytes.len() < SEGMENT_HEADER_BYTES {
        return Err(HeaderError::TooShort);
    }
    if bytes[0..8] != SEGMENT_MAGIC {
        return Err(HeaderError::BadMagic);
    }
    // Checksum before version: a damaged version field is damage, not a newer format (the
    // MANIFEST, checked first on open, is where a newer format announces itself).
    if crc32c::crc32c(&bytes[..44]) != read_u32(bytes, 44) {
        return Err(HeaderError::BadChecksum);
    }
    let version = read_u32(bytes, 8);
    if version != FORMAT_VERSION {
        return Err(HeaderError::UnsupportedVersion(version));
    }
    let mut store_id = [0u8; STORE_ID_BYTES];
    store_id.copy_from_slice(&bytes[16..32]);
    if let Some(expected) = expected_store {
        if expected != &store_id {
            return Err(HeaderError::WrongStore);
        }
    }
    Ok((read_u64(bytes, 32), store_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_damage() {
        let store = [7u8; 16];
        let mut buffer = [0u8; SEGMENT_HEADER_BYTES];
        encode_header(&mut buffer, &store, 1234);
        assert_eq!(decode_header(&buffer, Some(&store)).unwrap().0, 1234);
        assert_eq!(decode_header(&buffer, Some(&[8u8; 16])), Err(HeaderError::WrongStore));
        assert_eq!(decode_header(&buffer[..40], None), Err(HeaderError::TooShort));
        let mut damaged = buffer;
        damaged[33] ^= 1;
        assert_eq!(decode_header(&damaged, None), Err(HeaderError::BadChecksum));
        damaged = buffer;
        damaged[10] ^= 8; // the version field: damage, not a newer format
        assert_eq!(decode_header(&damaged, None), Err(HeaderError::BadChecksum));
        damaged = buffer;
        damaged[0] = b'X';
        assert_eq!(decode_header(&damaged, None), Err(HeaderError::BadMagic));
    }
}
