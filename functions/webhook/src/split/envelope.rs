//! The queue message body of an event, written directly: byte for byte what `serde_json` writes
//! for the contract's `EnvelopeRef` (checked against it on every event in debug builds).

use std::fmt::Write as _;

#[cfg(debug_assertions)]
use serde_json::value::RawValue;
use shared::domain::events::EVENT_VERSION;

/// A field of an event in its queue message.
#[derive(Clone, Copy)]
enum Part<'a> {
    /// A JSON string.
    Text(&'a str),
    /// Raw JSON, written as it came.
    Raw(&'a str),
    /// An integer.
    Integer(i64),
    /// `null`.
    Null,
}

/// Room for the envelope around an event's parts: version, tags, names.
const ENVELOPE_BYTES: usize = 96;

/// What every body starts with: the version and the event's tag.
const HEAD: &str = "{\"v\":1,\"event\":{";
// `HEAD` spells the version out (a constant, not formatted per event); it moves with it.
const _: () = assert!(EVENT_VERSION == 1, "update HEAD with EVENT_VERSION");

/// The queue message body of one event: `{"v":1,"event":{"<kind>":{"<name>":<part>,…}}}`,
/// byte for byte what `serde_json` writes for the contract's `EnvelopeRef` (the kinds and field
/// names of `EventRef`, in its order, strings escaped as `serde_json` escapes them); written here
/// into one allocation of the right size, without the serializer's machinery and the UTF-8 check
/// of its output. `kind` and the names are this module's own words, which need no escape, so
/// they are written as they are. Debug builds check it against `serde_json` on every event
/// (`message`).
fn envelope(kind: &'static str, fields: &[(&'static str, Part<'_>)]) -> Result<String, serde_json::Error> {
    let size: usize = fields
        .iter()
        .map(|(name, part)| {
            name.len()
                + match part {
                    Part::Text(text) | Part::Raw(text) => text.len(),
                    Part::Integer(_) | Part::Null => 20,
                }
        })
        .sum();
    let mut out = String::with_capacity(size + kind.len() + ENVELOPE_BYTES);
    out.push_str(HEAD);
    word(&mut out, kind);
    out.push_str(":{");
    for (i, (name, part)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        word(&mut out, name);
        out.push(':');
        match part {
            Part::Text(text) => string(&mut out, text)?,
            Part::Raw(raw) => out.push_str(raw),
            Part::Integer(number) => {
                write!(out, "{number}").map_err(<serde_json::Error as serde::ser::Error>::custom)?;
            }
            Part::Null => out.push_str("null"),
        }
    }
    out.push_str("}}}");
    Ok(out)
}

/// One of this module's own words (a kind or a field name) as a JSON string: quoted, no escape
/// needed.
fn word(out: &mut String, word: &'static str) {
    out.push('"');
    out.push_str(word);
    out.push('"');
}

/// `text` as a JSON string, escaped as `serde_json` escapes (only `"`, `\` and control
/// characters; nearly every id needs none, and those that do go through `serde_json` itself).
fn string(out: &mut String, text: &str) -> Result<(), serde_json::Error> {
    if text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(&serde_json::to_string(text)?);
    } else {
        out.push('"');
        out.push_str(text);
        out.push('"');
    }
    Ok(())
}

/// The events the webhook writes (`shared::domain::events::EventRef` without the flow timeout,
/// which only the timers job writes), each part of the payload as its raw JSON text.
pub(super) enum Event<'a> {
    Message { waba_id: &'a str, phone_number_id: &'a str, contact: Option<&'a str>, message: &'a str },
    Status { waba_id: &'a str, phone_number_id: &'a str, status: &'a str },
    UserPreference { waba_id: &'a str, phone_number_id: &'a str, preference: &'a str },
    MessagingError { waba_id: &'a str, phone_number_id: &'a str, error: &'a str },
    AccountUpdate { waba_id: &'a str, field: &'a str, time: Option<i64>, value: &'a str },
    Lead { page_id: &'a str, leadgen: &'a str },
}

impl Event<'_> {
    /// The queue message body.
    pub(super) fn body(&self) -> Result<String, serde_json::Error> {
        use Part::{Integer, Null, Raw, Text};
        match *self {
            Self::Message { waba_id, phone_number_id, contact, message } => envelope(
                "message",
                &[
                    ("waba_id", Text(waba_id)),
                    ("phone_number_id", Text(phone_number_id)),
                    ("contact", contact.map_or(Null, Raw)),
                    ("message", Raw(message)),
                ],
            ),
            Self::Status { waba_id, phone_number_id, status } => envelope(
                "status",
                &[
                    ("waba_id", Text(waba_id)),
                    ("phone_number_id", Text(phone_number_id)),
                    ("status", Raw(status)),
                ],
            ),
            Self::UserPreference { waba_id, phone_number_id, preference } => envelope(
                "user_preference",
                &[
                    ("waba_id", Text(waba_id)),
                    ("phone_number_id", Text(phone_number_id)),
                    ("preference", Raw(preference)),
                ],
            ),
            Self::MessagingError { waba_id, phone_number_id, error } => envelope(
                "messaging_error",
                &[
                    ("waba_id", Text(waba_id)),
                    ("phone_number_id", Text(phone_number_id)),
                    ("error", Raw(error)),
                ],
            ),
            Self::AccountUpdate { waba_id, field, time, value } => envelope(
                "account_update",
                &[
                    ("waba_id", Text(waba_id)),
                    ("field", Text(field)),
                    ("time", time.map_or(Null, Integer)),
                    ("value", Raw(value)),
                ],
            ),
            Self::Lead { page_id, leadgen } => {
                envelope("lead", &[("page_id", Text(page_id)), ("leadgen", Raw(leadgen))])
            }
        }
    }

    /// Debug builds (every test): `body` is what `serde_json` writes for the contract's type.
    #[cfg(debug_assertions)]
    pub(super) fn check(&self, body: &str) {
        use shared::domain::events::{EnvelopeRef, EventRef};
        let raw = |text: &str| RawValue::from_string(text.to_owned()).ok();
        let serde =
            |event: EventRef<'_>| serde_json::to_string(&EnvelopeRef { v: EVENT_VERSION, event }).ok();
        let written = match *self {
            Self::Message { waba_id, phone_number_id, contact, message } => {
                // `None` inside: a contact that is not JSON (the check fails).
                let contact: Option<Option<Box<RawValue>>> = contact.map(raw);
                raw(message).and_then(|message| {
                    let contact = match &contact {
                        Some(parsed) => Some(parsed.as_deref()?),
                        None => None,
                    };
                    serde(EventRef::Message {
                        waba_id: waba_id.into(),
                        phone_number_id: phone_number_id.into(),
                        contact,
                        message: &message,
                    })
                })
            }
            Self::Status { waba_id, phone_number_id, status } => raw(status).and_then(|status| {
                serde(EventRef::Status {
                    waba_id: waba_id.into(),
                    phone_number_id: phone_number_id.into(),
                    status: &status,
                })
            }),
            Self::UserPreference { waba_id, phone_number_id, preference } => {
                raw(preference).and_then(|preference| {
                    serde(EventRef::UserPreference {
                        waba_id: waba_id.into(),
                        phone_number_id: phone_number_id.into(),
                        preference: &preference,
                    })
                })
            }
            Self::MessagingError { waba_id, phone_number_id, error } => raw(error).and_then(|error| {
                serde(EventRef::MessagingError {
                    waba_id: waba_id.into(),
                    phone_number_id: Some(phone_number_id.into()),
                    error: &error,
                })
            }),
            Self::AccountUpdate { waba_id, field, time, value } => raw(value).and_then(|value| {
                serde(EventRef::AccountUpdate {
                    waba_id: waba_id.into(),
                    field: field.into(),
                    time,
                    value: &value,
                })
            }),
            Self::Lead { page_id, leadgen } => raw(leadgen)
                .and_then(|leadgen| serde(EventRef::Lead { page_id: page_id.into(), leadgen: &leadgen })),
        };
        debug_assert_eq!(written.as_deref(), Some(body), "the envelope differs from serde_json's");
    }
}
