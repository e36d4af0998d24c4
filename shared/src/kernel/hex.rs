//! Lowercase hex encoding and decoding of bytes.

/// `bytes` as lowercase hex, two digits a byte.
#[must_use]
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// Exactly `N` bytes from `2 * N` hex digits (either case); `None` for anything else.
#[must_use]
pub fn decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let high = char::from(pair[0]).to_digit(16)?;
        let low = char::from(pair[1]).to_digit(16)?;
        *slot = u8::try_from(high * 16 + low).ok()?;
    }
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
    }
}
