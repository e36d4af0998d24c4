//! Identifiers as newtypes: each one validates on construction, so that a value of the type is
//! always safe to put into a table key (no `#` separator, bounded length) and cannot be mixed up
//! with another kind of id.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::time::Timestamp;
use crate::kernel::random::{self, RandomUnavailable};

/// Why a string was refused as an identifier or value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidId {
    /// Empty, too long, or holding a character outside the allowed set.
    #[error("{kind} must be 1 to {max} characters of letters, digits, '_', '-', '.' or ':'")]
    Malformed {
        /// Which kind of identifier was being parsed.
        kind: &'static str,
        /// Its maximum length.
        max: usize,
    },
    /// A queue id that is empty, over 64 characters or holds a control character.
    #[error("a queue must be 1 to 64 characters, without control characters")]
    Queue,
    /// A phone number that is not 8 to 15 digits once `+`, spaces, dashes and brackets are removed.
    #[error("phone number must be E.164: 8 to 15 digits, optionally with a leading '+'")]
    Phone,
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')
}

fn check_id(kind: &'static str, value: &str, max: usize) -> Result<(), InvalidId> {
    if value.is_empty() || value.len() > max || !value.chars().all(is_id_char) {
        return Err(InvalidId::Malformed { kind, max });
    }
    Ok(())
}

/// Crockford base32: sortable, case-insensitive, no ambiguous letters.
const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A new time-ordered identifier (the ULID layout): 48 bits of milliseconds since the epoch then
/// 80 random bits, 26 base32 characters. Ids made later sort after ids made earlier, which keeps
/// sort keys in creation order.
///
/// # Errors
/// [`RandomUnavailable`] when the system has no randomness: an all-zero random part would make
/// every id of the same millisecond collide.
pub fn new_ulid(now: Timestamp) -> Result<String, RandomUnavailable> {
    let entropy = random::bytes::<10>()?;
    let millis = u128::try_from(now.as_millis()).unwrap_or(0) & ((1u128 << 48) - 1);
    let mut value = millis << 80;
    for (i, byte) in entropy.iter().enumerate() {
        value |= u128::from(*byte) << (72 - 8 * i);
    }
    let mut out = String::with_capacity(26);
    for i in (0..26).rev() {
        let index = ((value >> (5 * i)) & 0x1f) as usize;
        out.push(char::from(CROCKFORD[index]));
    }
    Ok(out)
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $max:literal, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses and validates an identifier received from outside.
            ///
            /// # Errors
            /// [`InvalidId::Malformed`] when the value is empty, too long or has a character
            /// outside letters, digits, `_`, `-`, `.` and `:`.
            pub fn parse(value: impl Into<String>) -> Result<Self, InvalidId> {
                let value = value.into();
                check_id($kind, &value, $max)?;
                Ok(Self(value))
            }

            /// A new, unique, time-ordered identifier.
            ///
            /// # Errors
            /// [`RandomUnavailable`] when the system has no randomness.
            pub fn generate(now: Timestamp) -> Result<Self, RandomUnavailable> {
                Ok(Self(format!(concat!($prefix, "{}"), new_ulid(now)?)))
            }

            /// The identifier as text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "minLength": 1,
                    "maxLength": $max,
                    "pattern": "^[A-Za-z0-9_.:-]+$",
                    "description": concat!("A ", $kind, " (new ones start with `", $prefix, "`).")
                })
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }
    };
}

id_type!(
    /// A tenant (a business using Leadline). Every table key starts with it.
    TenantId, "tenant id", 64, "tn_"
);
id_type!(
    /// A message as Leadline knows it (inbound or outbound), independent of Meta's wamid.
    MessageId, "message id", 64, "msg_"
);
id_type!(
    /// The id of one API key of a tenant (the part of the key that may be shown and logged).
    ApiKeyId, "api key id", 64, "key_"
);
id_type!(
    /// The id of one request, carried in logs and spans.
    RequestId, "request id", 128, "req_"
);
id_type!(
    /// A person a tenant talks to. Random (time-ordered), never derived from an identifier: the
    /// contact is found by phone, BSUID or email through lookup entries under the tenant's blind
    /// index, and a person who returns after an erasure gets a new id.
    ContactId, "contact id", 64, "ct_"
);
id_type!(
    /// A conversation with one contact.
    ConversationId, "conversation id", 64, "cv_"
);
id_type!(
    /// An erasure request (right to erasure, P62).
    ErasureId, "erasure id", 64, "er_"
);
id_type!(
    /// A user (person who logs in) of a tenant.
    UserId, "user id", 64, "usr_"
);
/// A routing queue of a tenant (`support`, `sales`, `Customer Success`, …): where conversations
/// wait for the agents who work it. Today's queues are names chosen by the tenant, so the rule is
/// the one those names always had (1 to 64 characters once trimmed, no control characters); new
/// queues made by Leadline get `q_<ulid>`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct QueueId(String);

impl QueueId {
    /// The longest queue id, in characters.
    pub const MAX_CHARS: usize = 64;

    /// Parses a queue id received from outside, trimmed.
    ///
    /// # Errors
    /// [`InvalidId::Queue`] when it is empty, longer than [`Self::MAX_CHARS`] or holds a control
    /// character.
    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidId> {
        let value = value.into();
        let trimmed = value.trim();
        let count = trimmed.chars().count();
        if count == 0 || count > Self::MAX_CHARS || trimmed.chars().any(char::is_control) {
            return Err(InvalidId::Queue);
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// A new, unique, time-ordered queue id.
    ///
    /// # Errors
    /// [`RandomUnavailable`] when the system has no randomness.
    pub fn generate(now: Timestamp) -> Result<Self, RandomUnavailable> {
        Ok(Self(format!("q_{}", new_ulid(now)?)))
    }

    /// The queue id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for an id [`QueueId::generate`] made (`q_<ulid>`), false for an older, freely
    /// chosen queue name.
    #[must_use]
    pub fn is_generated(&self) -> bool {
        self.0
            .strip_prefix("q_")
            .is_some_and(|ulid| ulid.len() == 26 && ulid.chars().all(|c| c.is_ascii_alphanumeric()))
    }
}

impl schemars::JsonSchema for QueueId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "QueueId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "description": "A queue: the name the tenant chose (1 to 64 characters), or `q_…`."
        })
    }
}

impl TryFrom<String> for QueueId {
    type Error = InvalidId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<QueueId> for String {
    fn from(id: QueueId) -> Self {
        id.0
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "QueueId({})", self.0)
    }
}
id_type!(
    /// A login session: the family of rotating refresh tokens one login started.
    SessionId, "session id", 64, "ses_"
);
id_type!(
    /// An entry of a tenant's audit log.
    AuditId, "audit id", 64, "au_"
);
id_type!(
    /// A note, task or appointment of a contact.
    RecordId, "record id", 64, "rec_"
);
id_type!(
    /// A CSV import of contacts, run as a job (P02).
    ImportId, "import id", 64, "imp_"
);
id_type!(
    /// A request for AI reply suggestions on a conversation (P30, P31).
    SuggestionId, "suggestion id", 64, "sg_"
);
id_type!(
    /// A canned response (tenant-wide or personal).
    CannedId, "canned response id", 64, "cr_"
);
id_type!(
    /// A chatbot flow (its versions are numbered 1, 2, ...).
    FlowId, "flow id", 64, "fl_"
);

/// A WhatsApp message id as Meta assigns it (`wamid.…`). Opaque; only length and character set
/// are checked, because Meta documents no format.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Wamid(String);

impl Wamid {
    /// Validates a wamid received from Meta.
    ///
    /// # Errors
    /// [`InvalidId::Malformed`] when empty, longer than 256 characters, or holding whitespace,
    /// control characters or `#`.
    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidId> {
        let value = value.into();
        let ok = !value.is_empty()
            && value.len() <= 256
            && value.chars().all(|c| c.is_ascii_graphic() && c != '#');
        if ok {
            Ok(Self(value))
        } else {
            Err(InvalidId::Malformed { kind: "wamid", max: 256 })
        }
    }

    /// The wamid as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Wamid {
    type Error = InvalidId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<Wamid> for String {
    fn from(value: Wamid) -> Self {
        value.0
    }
}

impl fmt::Debug for Wamid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Wamid({})", self.0)
    }
}

/// A phone number in E.164 digits (no `+`), as WhatsApp's `wa_id` carries it.
///
/// Personal data: it has no `Display`, and its `Debug` shows only the last two digits, so that a
/// stray `{:?}` in a log line leaks nothing (P17). Use [`PhoneNumber::as_digits`] where the number
/// itself is needed (a Graph API call, a keyed hash).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Normalises and validates a phone number: `+`, spaces, dashes, dots and brackets are
    /// removed; what remains must be 8 to 15 digits not starting with 0.
    ///
    /// # Errors
    /// [`InvalidId::Phone`] otherwise.
    pub fn parse(value: &str) -> Result<Self, InvalidId> {
        let digits: String =
            value.chars().filter(|c| !matches!(c, '+' | ' ' | '-' | '.' | '(' | ')')).collect();
        let ok = (8..=15).contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_digit())
            && !digits.starts_with('0');
        if ok {
            Ok(Self(digits))
        } else {
            Err(InvalidId::Phone)
        }
    }

    /// The E.164 digits, without `+`.
    #[must_use]
    pub fn as_digits(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = InvalidId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PhoneNumber> for String {
    fn from(value: PhoneNumber) -> Self {
        value.0
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tail = &self.0[self.0.len().saturating_sub(2)..];
        write!(f, "PhoneNumber(…{tail})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_id_refuses_key_separator_and_empty() {
        assert!(TenantId::parse("tn_abc").is_ok());
        assert!(TenantId::parse("tn#abc").is_err());
        assert!(TenantId::parse("").is_err());
        assert!(TenantId::parse("x".repeat(65)).is_err());
    }

    #[test]
    fn generated_ids_sort_by_creation_time() {
        let earlier = MessageId::generate(Timestamp::from_millis(1_700_000_000_000)).expect("random");
        let later = MessageId::generate(Timestamp::from_millis(1_700_000_000_001)).expect("random");
        assert!(earlier < later);
        assert_eq!(earlier.as_str().len(), "msg_".len() + 26);
    }

    #[test]
    fn ids_of_the_same_millisecond_differ() {
        let now = Timestamp::from_millis(1_700_000_000_000);
        let (first, second) = (MessageId::generate(now), MessageId::generate(now));
        assert!(matches!((first, second), (Ok(a), Ok(b)) if a != b));
    }

    #[test]
    fn phone_number_normalises_and_hides_itself_in_debug() {
        let phone = PhoneNumber::parse("+49 (151) 234-5678").expect("valid number");
        assert_eq!(phone.as_digits(), "491512345678");
        assert_eq!(format!("{phone:?}"), "PhoneNumber(…78)");
        assert!(PhoneNumber::parse("12345").is_err());
        assert!(PhoneNumber::parse("0151234567").is_err());
        assert!(PhoneNumber::parse("49151abc5678").is_err());
    }

    #[test]
    fn wamid_accepts_meta_shape_and_refuses_separator() {
        assert!(Wamid::parse("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA").is_ok());
        assert!(Wamid::parse("wamid.a#b").is_err());
        assert!(Wamid::parse("").is_err());
    }
}
