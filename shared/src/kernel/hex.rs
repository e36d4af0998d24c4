//! Lowercase hex encoding and decoding of bytes, through the `hex` crate: this module only fixes
//! the shapes the code base uses (lowercase out; exactly `N` bytes in).

/// `bytes` as lowercase hex, two digits a byte.
#[must_use]
pub fn encode(bytes: &[u8]) -> String {
    ::hex::encode(bytes)
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
        assert_eq!(encode(&[]), "");
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
