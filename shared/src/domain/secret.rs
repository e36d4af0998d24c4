//! Secrets that cannot be printed: their `Debug` says `[redacted]`, they have no `Display` and
//! no `Serialize`, and their memory is wiped on drop; and [`Sealed`], the envelope a secret is
//! stored in.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret string (access token, app secret, API key, password).
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Call this only where the value must leave the process (an HTTP
    /// header to Meta, an HMAC key, a KMS envelope) — never for logging.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Secrets can be read from input (an API body) but never written out: no `Serialize`.
impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

/// In a request body a secret is a string the API never echoes back.
impl schemars::JsonSchema for Secret {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "writeOnly": true })
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

/// Secret bytes (a plaintext data key, a decrypted blob).
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Wraps secret bytes.
    #[must_use]
    pub fn new(value: Vec<u8>) -> Self {
        Self(value)
    }

    /// The bytes themselves; never for logging.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([redacted; {} bytes])", self.0.len())
    }
}

/// A sealed secret: the KMS-wrapped data key, the nonce and the AES-256-GCM ciphertext. Opaque
/// to the domain; stored as the compact string of [`Sealed::encode`].
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The data key as wrapped by KMS.
    pub wrapped_key: Vec<u8>,
    /// The 96-bit GCM nonce.
    pub nonce: [u8; 12],
    /// Ciphertext followed by the 16-byte tag.
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed({} bytes)", self.ciphertext.len())
    }
}

/// Why an encoded envelope could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Leadline envelope (expected v1.<key>.<nonce>.<ciphertext> in base64url)")]
pub struct MalformedEnvelope;

impl Sealed {
    const VERSION: &'static str = "v1";

    /// `v1.<wrapped key>.<nonce>.<ciphertext>`, each part base64url without padding.
    #[must_use]
    pub fn encode(&self) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
        use base64::Engine as _;
        format!(
            "{}.{}.{}.{}",
            Self::VERSION,
            B64.encode(&self.wrapped_key),
            B64.encode(self.nonce),
            B64.encode(&self.ciphertext)
        )
    }

    /// Reads the form written by [`Sealed::encode`].
    ///
    /// # Errors
    /// [`MalformedEnvelope`] for anything else.
    pub fn decode(text: &str) -> Result<Self, MalformedEnvelope> {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
        use base64::Engine as _;
        let mut parts = text.split('.');
        let (Some(version), Some(key), Some(nonce), Some(ct), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(MalformedEnvelope);
        };
        if version != Self::VERSION {
            return Err(MalformedEnvelope);
        }
        let wrapped_key = B64.decode(key).map_err(|_| MalformedEnvelope)?;
        let nonce: [u8; 12] =
            B64.decode(nonce).map_err(|_| MalformedEnvelope)?.try_into().map_err(|_| MalformedEnvelope)?;
        let ciphertext = B64.decode(ct).map_err(|_| MalformedEnvelope)?;
        if wrapped_key.is_empty() || ciphertext.len() < 16 {
            return Err(MalformedEnvelope);
        }
        Ok(Self { wrapped_key, nonce, ciphertext })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_their_value() {
        let token = Secret::new("EAAG-very-secret");
        let bytes = SecretBytes::new(vec![1, 2, 3]);
        assert_eq!(format!("{token:?}"), "Secret([redacted])");
        assert_eq!(format!("{bytes:?}"), "SecretBytes([redacted; 3 bytes])");
        assert_eq!(token.expose(), "EAAG-very-secret");
    }
}
