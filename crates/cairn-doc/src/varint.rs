//! LEB128 variable-length integers and zigzag signed mapping, as used by the document encoding.
//!
//! Most lengths, counts and integers in documents are small, and a varint stores values below 128
//! in one byte. Zigzag maps small negative numbers to small unsigned ones (0, -1, 1, -2 ... become
//! 0, 1, 2, 3 ...) so they stay short too. Decoding accepts only the shortest form of each number,
//! so every value has exactly one encoding and hostile inputs cannot smuggle in padding.

/// Longest LEB128 encoding of a `u64`: ceil(64 / 7) bytes.
pub(crate) const VARINT_MAX_BYTES: usize = 10;

/// Why a varint could not be read; the caller adds the offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarintError {
    /// The input ended inside the varint.
    Truncated,
    /// Longer than the shortest form, or more than 64 bits.
    Overlong,
}

impl VarintError {
    /// A short description for [`crate::DocError::Corrupt`].
    pub(crate) fn reason(self) -> &'static str {
        match self {
            VarintError::Truncated => "input ends inside a varint",
            VarintError::Overlong => "overlong or oversized varint",
        }
    }
}

/// Encodes `value` into `buf`, returning how many bytes of it are used.
pub(crate) fn encode_u64(mut value: u64, buf: &mut [u8; VARINT_MAX_BYTES]) -> usize {
    let mut used = 0;
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            buf[used] = low;
            return used + 1;
        }
        buf[used] = low | 0x80;
        used += 1;
    }
}

/// Decodes a varint starting at `*pos`, advancing `*pos` past it.
pub(crate) fn decode_u64(bytes: &[u8], pos: &mut usize) -> Result<u64, VarintError> {
    let mut value: u64 = 0;
    for index in 0..VARINT_MAX_BYTES {
        let byte = *bytes.get(*pos + index).ok_or(VarintError::Truncated)?;
        let payload = u64::from(byte & 0x7f);
        // The tenth byte may only carry the single remaining bit of a u64.
        if index == VARINT_MAX_BYTES - 1 && payload > 1 {
            return Err(VarintError::Overlong);
        }
        value |= payload << (7 * index);
        if byte & 0x80 == 0 {
            // A final zero byte after others adds nothing: a longer-than-needed form.
            if byte == 0 && index > 0 {
                return Err(VarintError::Overlong);
            }
            *pos += index + 1;
            return Ok(value);
        }
    }
    Err(VarintError::Overlong)
}

/// Maps a signed integer to an unsigned one with small magnitudes staying small.
pub(crate) fn zigzag_encode(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// Inverse of [`zigzag_encode`].
pub(crate) fn zigzag_decode(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(value: u64) -> Vec<u8> {
        let mut buf = [0; VARINT_MAX_BYTES];
        let used = encode_u64(value, &mut buf);
        buf[..used].to_vec()
    }

    #[test]
    fn boundaries_round_trip_at_expected_sizes() {
        for (value, size) in [(0, 1), (127, 1), (128, 2), (16_383, 2), (u64::MAX, 10)] {
            let bytes = encode(value);
            assert_eq!(bytes.len(), size, "{value}");
            let mut pos = 0;
            assert_eq!(decode_u64(&bytes, &mut pos), Ok(value));
            assert_eq!(pos, size);
        }
    }

    #[test]
    fn non_shortest_forms_are_rejected() {
        let mut pos = 0;
        assert_eq!(
            decode_u64(&[0x80, 0x00], &mut pos),
            Err(VarintError::Overlong)
        );
        let eleven = [0xff; 11];
        assert_eq!(decode_u64(&eleven, &mut pos), Err(VarintError::Overlong));
        let mut too_big = vec![0xff; 9];
        too_big.push(0x02);
        assert_eq!(decode_u64(&too_big, &mut pos), Err(VarintError::Overlong));
        assert_eq!(decode_u64(&[0x80], &mut pos), Err(VarintError::Truncated));
        assert_eq!(pos, 0);
    }

    #[test]
    fn zigzag_keeps_small_magnitudes_small() {
        assert_eq!(zigzag_encode(0), 0);
        assert_eq!(zigzag_encode(-1), 1);
        assert_eq!(zigzag_encode(1), 2);
        assert_eq!(zigzag_encode(i64::MIN), u64::MAX);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn any_u64_round_trips(value: u64) {
            let bytes = encode(value);
            let mut pos = 0;
            prop_assert_eq!(decode_u64(&bytes, &mut pos), Ok(value));
            prop_assert_eq!(pos, bytes.len());
        }

        #[test]
        fn any_i64_round_trips_through_zigzag(value: i64) {
            prop_assert_eq!(zigzag_decode(zigzag_encode(value)), value);
        }
    }
}
