//! Lowercase hex encoding and decoding of bytes in the shapes the code base uses (lowercase out;
//! exactly `N` bytes in). Decoding goes through the `hex` crate; encoding is written here, four
//! bytes at a time: the webhook hex-encodes two digests per event, and the crate's encoder, which
//! collects char by char, was a tenth of its split's time (`#[inline]`: compiled at the
//! webhook's `opt-level`, not this crate's size-first one).

/// `bytes` as lowercase hex, two digits a byte.
#[must_use]
#[inline]
pub fn encode(bytes: &[u8]) -> String {
    let mut digits = Vec::with_capacity(bytes.len() * 2);
    let (words, rest) = bytes.as_chunks::<4>();
    for word in words {
        digits.extend_from_slice(&eight_digits(u32::from_be_bytes(*word)));
    }
    for &byte in rest {
        let [.., high, low] = eight_digits(u32::from(byte));
        digits.extend_from_slice(&[high, low]);
    }
    // Hex digits are ASCII: never the empty default.
    String::from_utf8(digits).unwrap_or_default()
}

/// The eight lowercase hex digits of `word`, most significant first, without a branch or a table.
#[inline]
fn eight_digits(word: u32) -> [u8; 8] {
    // Spread the nibbles one to a byte, in order: 0x1234abcd -> 0x01020304_0a0b0c0d.
    let x = u64::from(word);
    let x = ((x & 0xffff_0000) << 16) | (x & 0xffff);
    let x = ((x & 0x0000_ff00_0000_ff00) << 8) | (x & 0x0000_00ff_0000_00ff);
    let x = ((x & 0x00f0_00f0_00f0_00f0) << 4) | (x & 0x000f_000f_000f_000f);
    // 1 in each byte whose nibble is 10 or more (adding 6 carries it into bit 4).
    let letters = ((x + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    // '0' + nibble, and for a letter the gap between '9' + 1 and 'a'.
    let ascii = x + 0x3030_3030_3030_3030 + letters * u64::from(b'a' - b'0' - 10);
    ascii.to_be_bytes()
}

/// Exactly `N` bytes from `2 * N` hex digits (either case); `None` for anything else.
#[must_use]
pub fn decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    ::hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_lowercase_two_digits_a_byte() {
        assert_eq!(encode(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(encode(&[0x12, 0x34, 0x5a, 0xbc, 0xde, 0xf9, 0x87]), "12345abcdef987");
        assert_eq!(encode(&[]), "");
    }

    #[test]
    fn encodes_every_byte_in_every_position_as_the_hex_crate_does() {
        // Arrange: every byte value at each of a word's four places and in the tail.
        for len in 0..=9 {
            for byte in 0..=u8::MAX {
                let bytes: Vec<u8> = (0..len).map(|i| byte.wrapping_add(i)).collect();

                // Act
                let encoded = encode(&bytes);

                // Assert
                assert_eq!(encoded, ::hex::encode(&bytes), "{bytes:?}");
            }
        }
    }

    #[test]
    fn decodes_what_it_encodes_and_refuses_the_rest() {
        let bytes = [0x12, 0xab, 0xcd, 0xef];
        assert_eq!(decode::<4>(&encode(&bytes)), Some(bytes));
        assert_eq!(decode::<4>("12ABCDEF"), Some(bytes));
        assert_eq!(decode::<4>("12abcde"), None);
        assert_eq!(decode::<4>("12abcdeg"), None);
        assert_eq!(decode::<4>("+2abcdef"), None);
        assert_eq!(decode::<2>("12abcdef"), None);
        assert_eq!(decode::<0>(""), Some([]));
    }
}
