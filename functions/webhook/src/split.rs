//! Splitting a verified webhook body into one queue message per event, without building a JSON
//! tree: the envelope is parsed with borrowed slices, each event's part stays raw bytes
//! (`RawValue`) and is copied once, into its queue message.
//!
//! Ordering and deduplication on `inbound.fifo`:
//! - group = business number + person (hashed), so one person's messages, statuses and
//!   preference changes stay in order, and different people proceed in parallel;
//! - deduplication id = a hash of the event's own identity (wamid; wamid + status; …), so a
//!   webhook Meta delivers twice within SQS's five-minute window is enqueued once. Later
//!   redeliveries are caught by the inbound function's own deduplication.
//!
//! Two paths write the same queue messages. The fast path ([`scan`]) reads a body whose every
//! change is a messages value — what nearly every webhook is (messages, statuses, preferences) —
//! in one pass, each event's raw bytes and identifying fields together; it reads a strict subset
//! of JSON and gives up on anything else (another object or field, an escaped key or id, a
//! duplicate key, invalid UTF-8…). The general path then reads the body as before: each `value`
//! kept raw, parsed by its `field` (Meta sends `value` before `field`, so the field is not known
//! when the value is read). Whatever the fast path accepts, the general path reads to the same
//! events (`fixtures/split_golden.json` pins the output, and the fuzz smoke compares it with the
//! splitter before the fast path on every input it makes).

mod envelope;
mod scan;

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use shared::domain::ports::QueueMessage;
use shared::kernel::{digest, hex};

use self::envelope::Event;

/// Why a body could not be split.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    /// The body is not JSON at all.
    #[error("the body is not JSON: {0}")]
    NotJson(String),
}

/// What a body held.
#[derive(Debug, Default)]
pub struct Split {
    /// One queue message per event.
    pub messages: Vec<QueueMessage>,
    /// Objects, fields or parts this version does not handle (logged and acknowledged: Meta
    /// would otherwise retry them for 7 days).
    pub ignored: Vec<String>,
}

/// The body as the general path reads it: each change's value raw until its field is known.
#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    object: Cow<'a, str>,
    #[serde(default, borrow)]
    entry: Vec<Entry<'a>>,
}

/// A string or a non-negative integer (Meta writes some ids either way).
///
/// Deserialized by hand, not as an untagged enum: serde buffers an untagged enum's value
/// (`Content`) and tries each variant in turn. It accepts what that enum accepted, no more and no
/// less: a string (borrowed, or unescaped into an owned one) or an integer `>= 0` that fits a
/// `u64`; anything else is an error.
enum Id<'a> {
    Text(Cow<'a, str>),
    Number(u64),
}

impl<'de: 'a, 'a> Deserialize<'de> for Id<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;

        impl<'de> Visitor<'de> for IdVisitor {
            type Value = Id<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a non-negative integer")
            }

            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Id::Text(Cow::Borrowed(v)))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Id::Text(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Id::Text(Cow::Owned(v)))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Id::Number(v))
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u64::try_from(v)
                    .map(Id::Number)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
            }
        }

        deserializer.deserialize_any(IdVisitor)
    }
}

impl Id<'_> {
    fn text(&self) -> Cow<'_, str> {
        match self {
            Self::Text(text) => Cow::Borrowed(text),
            Self::Number(number) => Cow::Owned(number.to_string()),
        }
    }
}

/// [`Id`] as an untagged enum, for the general path's entry ids: it accepts the same values, but
/// it reads a value of another type to its end before refusing it (where a syntax error inside
/// it makes the body not JSON, and where the error's position is reported), so the general path
/// keeps exactly the behaviour it had on such bodies. Where only acceptance matters (a head that
/// fails is empty), [`Id`] is used.
#[derive(Deserialize)]
#[serde(untagged)]
enum UntaggedId<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Number(u64),
}

impl UntaggedId<'_> {
    fn text(&self) -> Cow<'_, str> {
        match self {
            Self::Text(text) => Cow::Borrowed(text),
            Self::Number(number) => Cow::Owned(number.to_string()),
        }
    }
}

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow)]
    id: UntaggedId<'a>,
    #[serde(default)]
    time: Option<i64>,
    #[serde(default, borrow)]
    changes: Vec<Change<'a>>,
}

#[derive(Deserialize)]
struct Change<'a> {
    #[serde(borrow)]
    field: Cow<'a, str>,
    #[serde(borrow)]
    value: &'a RawValue,
}

#[derive(Deserialize)]
struct MessagesValue<'a> {
    #[serde(default, borrow)]
    metadata: Option<Metadata<'a>>,
    #[serde(default, borrow)]
    contacts: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    messages: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    statuses: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    errors: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    user_preferences: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Metadata<'a> {
    #[serde(borrow)]
    phone_number_id: Cow<'a, str>,
}

/// The identifying fields of a message, status, contact or preference (whichever apply).
#[derive(Deserialize, Default)]
struct Head<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    from: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    from_user_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    recipient_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    recipient_user_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    wa_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    user_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    value: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    leadgen_id: Option<Id<'a>>,
    #[serde(default, borrow)]
    timestamp: Option<Id<'a>>,
}

fn head(raw: &RawValue) -> Head<'_> {
    serde_json::from_str(raw.get()).unwrap_or_default()
}

/// One event of a messages value: its raw JSON and its identifying fields.
struct Element<'a> {
    raw: &'a str,
    head: Head<'a>,
}

impl<'a> Element<'a> {
    fn of(raw: &'a RawValue) -> Self {
        Self { raw: raw.get(), head: head(raw) }
    }
}

/// A `messages` or `user_preferences` change's value, as either path reads it.
struct ValueParts<'a> {
    phone_number_id: Option<Cow<'a, str>>,
    contacts: Vec<Element<'a>>,
    messages: Vec<Element<'a>>,
    statuses: Vec<Element<'a>>,
    errors: Vec<Element<'a>>,
    user_preferences: Vec<Element<'a>>,
}

impl<'a> ValueParts<'a> {
    fn of(value: &'a MessagesValue<'a>) -> Self {
        let elements = |raws: &'a [&'a RawValue]| raws.iter().map(|raw| Element::of(raw)).collect();
        Self {
            phone_number_id: value.metadata.as_ref().map(|m| Cow::Borrowed(m.phone_number_id.as_ref())),
            contacts: elements(&value.contacts),
            messages: elements(&value.messages),
            statuses: elements(&value.statuses),
            errors: elements(&value.errors),
            user_preferences: elements(&value.user_preferences),
        }
    }
}

/// Lowercase hex SHA-256 of the concatenated `parts`.
fn hex_sha256_of(parts: &[&str]) -> String {
    hex::encode(&digest::sha256_of_parts(parts))
}

/// The queue message of one event.
fn message(event: &Event<'_>, group: &[&str], dedup: &[&str]) -> Result<QueueMessage, serde_json::Error> {
    let body = event.body()?;
    #[cfg(debug_assertions)]
    event.check(&body);
    Ok(QueueMessage { body, group_id: Some(hex_sha256_of(group)), dedup_id: Some(hex_sha256_of(dedup)) })
}

/// Splits a verified body.
///
/// # Errors
/// [`SplitError::NotJson`] when the body is not JSON. JSON of a shape this version does not
/// handle is not an error: it is reported in [`Split::ignored`].
pub fn split(body: &[u8]) -> Result<Split, SplitError> {
    match fast(body) {
        Some(split) => Ok(split),
        None => general(body),
    }
}

/// The fast path: a WhatsApp Business Account body whose every change is a messages value
/// (fields `messages` and `user_preferences`), read in one pass ([`scan`]); `None` for anything
/// else.
fn fast(body: &[u8]) -> Option<Split> {
    let mut out = Split::default();
    scan::messages_body(std::str::from_utf8(body).ok()?, &mut |waba_id, field, value| {
        messages_value(waba_id, field, value, &mut out);
    })?;
    Some(out)
}

/// The general path: any body, each change's value raw until its field is known.
fn general(body: &[u8]) -> Result<Split, SplitError> {
    let parsed: Body<'_> = match serde_json::from_slice(body) {
        Ok(parsed) => parsed,
        Err(e) if e.is_data() => {
            return Ok(Split { messages: Vec::new(), ignored: vec![shared::telemetry::json_error(&e)] });
        }
        Err(e) => return Err(SplitError::NotJson(e.to_string())),
    };
    let mut out = Split::default();
    match parsed.object.as_ref() {
        "whatsapp_business_account" => {
            for entry in &parsed.entry {
                for change in &entry.changes {
                    whatsapp_change(entry, change, &mut out);
                }
            }
        }
        "page" => {
            for entry in &parsed.entry {
                for change in &entry.changes {
                    page_change(entry, change, &mut out);
                }
            }
        }
        other => out.ignored.push(format!("object {other}")),
    }
    Ok(out)
}

fn is_messages_field(field: &str) -> bool {
    matches!(field, "messages" | "user_preferences")
}

fn push(out: &mut Split, result: Result<QueueMessage, serde_json::Error>) {
    match result {
        Ok(message) => out.messages.push(message),
        Err(e) => out.ignored.push(format!("unserializable event: {}", shared::telemetry::json_error(&e))),
    }
}

fn whatsapp_change(entry: &Entry<'_>, change: &Change<'_>, out: &mut Split) {
    let waba_id = entry.id.text();
    let raw = change.value.get();
    if !is_messages_field(&change.field) {
        let event =
            Event::AccountUpdate { waba_id: &waba_id, field: &change.field, time: entry.time, value: raw };
        push(out, message(&event, &["waba:", &waba_id], &["account:", &change.field, ":", raw]));
        return;
    }
    match serde_json::from_str::<MessagesValue<'_>>(raw) {
        Ok(value) => messages_value(&waba_id, &change.field, &ValueParts::of(&value), out),
        Err(e) => out.ignored.push(format!("{} value: {}", change.field, shared::telemetry::json_error(&e))),
    }
}

/// The events of a `messages` or `user_preferences` change.
fn messages_value(waba_id: &str, field: &str, value: &ValueParts<'_>, out: &mut Split) {
    let Some(number) = value.phone_number_id.as_deref() else {
        out.ignored.push(format!("{field} value without metadata.phone_number_id"));
        return;
    };
    // A lone contact goes with every message whatever its ids; with several, each message gets
    // the first whose number or user id is its sender's.
    let lone_contact = match value.contacts.as_slice() {
        [only] => Some(only.raw),
        _ => None,
    };

    for Element { raw, head: h } in &value.messages {
        let person = h.from.as_deref().or(h.from_user_id.as_deref()).unwrap_or_default();
        let contact = lone_contact.or_else(|| {
            value
                .contacts
                .iter()
                .find(|c| {
                    (h.from.is_some() && c.head.wa_id == h.from)
                        || (h.from_user_id.is_some() && c.head.user_id == h.from_user_id)
                })
                .map(|c| c.raw)
        });
        let event = Event::Message { waba_id, phone_number_id: number, contact, message: raw };
        let id = h.id.as_deref().unwrap_or(raw);
        push(out, message(&event, &["wa:", number, ":", person], &["message:", id]));
    }
    for Element { raw, head: h } in &value.statuses {
        let person = h.recipient_id.as_deref().or(h.recipient_user_id.as_deref()).unwrap_or_default();
        let event = Event::Status { waba_id, phone_number_id: number, status: raw };
        let id = h.id.as_deref().unwrap_or(raw);
        let status = h.status.as_deref().unwrap_or_default();
        push(out, message(&event, &["wa:", number, ":", person], &["status:", id, ":", status]));
    }
    for Element { raw, head: h } in &value.user_preferences {
        let person = h.wa_id.as_deref().or(h.user_id.as_deref()).unwrap_or_default();
        let event = Event::UserPreference { waba_id, phone_number_id: number, preference: raw };
        let when = h.timestamp.as_ref().map(Id::text).unwrap_or_default();
        let value = h.value.as_deref().unwrap_or_default();
        let dedup = ["preference:", person, ":", value, ":", &when];
        push(out, message(&event, &["wa:", number, ":", person], &dedup));
    }
    for Element { raw, .. } in &value.errors {
        let event = Event::MessagingError { waba_id, phone_number_id: number, error: raw };
        push(out, message(&event, &["errors:", number], &["error:", number, ":", raw]));
    }
}

fn page_change(entry: &Entry<'_>, change: &Change<'_>, out: &mut Split) {
    if change.field != "leadgen" {
        out.ignored.push(format!("page field {}", change.field));
        return;
    }
    let page_id = entry.id.text();
    let h = head(change.value);
    let Some(leadgen_id) = h.leadgen_id.as_ref().map(Id::text) else {
        out.ignored.push("leadgen change without leadgen_id".to_owned());
        return;
    };
    let event = Event::Lead { page_id: &page_id, leadgen: change.value.get() };
    push(out, message(&event, &["lead:", &page_id, ":", &leadgen_id], &["lead:", &leadgen_id]));
}

#[cfg(test)]
mod tests {
    use shared::domain::events::{Envelope, Event};

    use super::*;

    fn events(body: &str) -> Vec<Event> {
        split(body.as_bytes())
            .expect("JSON")
            .messages
            .iter()
            .map(|m| serde_json::from_str::<Envelope>(&m.body).expect("contract").event)
            .collect()
    }

    #[test]
    fn one_event_per_message_status_and_preference() {
        let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"310","changes":[
          {"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":"420"},
            "contacts":[{"profile":{"name":"A"},"wa_id":"5511"},{"profile":{"name":"B"},"wa_id":"5522"}],
            "messages":[{"from":"5522","id":"wamid.B","timestamp":"1","type":"text","text":{"body":"b"}},
                        {"from":"5511","id":"wamid.A","timestamp":"2","type":"text","text":{"body":"a"}}],
            "statuses":[{"id":"wamid.X","status":"sent","timestamp":"3","recipient_id":"5511"}]}},
          {"field":"user_preferences","value":{"metadata":{"phone_number_id":"420"},
            "user_preferences":[{"wa_id":"5511","category":"marketing_messages","value":"stop","timestamp":4}]}}]}]}"#;

        let events = events(body);

        assert_eq!(events.len(), 4);
        let Event::Message { contact: Some(contact), phone_number_id, .. } = &events[0] else {
            panic!("message with contact")
        };
        assert_eq!(phone_number_id, "420");
        assert!(contact.get().contains("\"B\""), "each message gets its own sender's contact entry");
        assert!(matches!(events[2], Event::Status { .. }));
        assert!(matches!(events[3], Event::UserPreference { .. }));
    }

    #[test]
    fn a_person_keeps_one_group_and_each_event_its_own_dedup_id() {
        let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"310","changes":[{"field":"messages","value":{
            "metadata":{"phone_number_id":"420"},
            "messages":[{"from":"5511","id":"wamid.1","timestamp":"1","type":"text","text":{"body":"x"}}],
            "statuses":[{"id":"wamid.9","status":"sent","timestamp":"3","recipient_id":"5511"},
                        {"id":"wamid.9","status":"read","timestamp":"4","recipient_id":"5511"}]}}]}]}"#;

        let split = split(body.as_bytes()).expect("JSON");

        let groups: Vec<_> = split.messages.iter().map(|m| m.group_id.clone()).collect();
        assert!(groups.windows(2).all(|w| w[0] == w[1]));
        let dedups: std::collections::HashSet<_> =
            split.messages.iter().map(|m| m.dedup_id.clone()).collect();
        assert_eq!(dedups.len(), 3);
        let again = super::split(body.as_bytes()).expect("JSON");
        assert_eq!(again.messages, split.messages, "a redelivery produces the same ids");
        assert!(
            split.messages.iter().all(|m| m.group_id.as_ref().is_some_and(|g| !g.contains("5511"))),
            "no phone number in SQS metadata"
        );
    }

    #[test]
    fn ids_are_the_hex_sha256_of_their_parts_short_or_long() {
        // Arrange
        let long = "x".repeat(300);
        let cases: [&[&str]; 4] = [&[], &["wa:", "420", ":", "5511"], &["error:", &long], &["a"; 257]];

        for parts in cases {
            // Act
            let id = hex_sha256_of(parts);

            // Assert
            let expected = hex::encode(
                aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, parts.concat().as_bytes()).as_ref(),
            );
            assert_eq!(id, expected, "{} parts", parts.len());
        }
    }

    #[test]
    fn the_fast_path_takes_every_messages_body_and_leaves_the_rest() {
        // Arrange
        let bench = include_bytes!("../benches/one_text_bsuid.json");
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/webhooks");
        let general_only = ["leadgen.json", "template_status_update.json"];

        // Act
        let mut taken = Vec::new();
        for entry in std::fs::read_dir(dir).expect("fixtures") {
            let path = entry.expect("entry").path();
            let name = path.file_name().expect("a name").to_string_lossy().into_owned();
            taken.push((fast(&std::fs::read(&path).expect("readable")).is_some(), name));
        }

        // Assert
        assert!(fast(bench).is_some(), "the bench body goes the fast way");
        for (fast, name) in taken {
            assert_eq!(fast, !general_only.contains(&name.as_str()), "{name}");
        }
    }

    #[test]
    fn leads_template_updates_and_unknown_objects() {
        let lead = r#"{"object":"page","entry":[{"id":"153125381133","time":1438292065,"changes":[{"field":"leadgen",
            "value":{"leadgen_id":123123123123,"page_id":123123123,"form_id":12312312312,"created_time":1440120384}}]}]}"#;
        let template = r#"{"object":"whatsapp_business_account","entry":[{"id":"310","time":1,"changes":[{"field":"message_template_status_update",
            "value":{"event":"APPROVED","message_template_id":1,"message_template_name":"hello","message_template_language":"en_US"}}]}]}"#;

        assert!(matches!(&events(lead)[..], [Event::Lead { page_id, .. }] if page_id == "153125381133"));
        assert!(
            matches!(&events(template)[..], [Event::AccountUpdate { field, time: Some(1), .. }] if field == "message_template_status_update")
        );
        let other = split(br#"{"object":"instagram","entry":[]}"#).expect("JSON");
        assert!(other.messages.is_empty() && other.ignored.len() == 1);
        let odd = split(br#"{"object":"whatsapp_business_account","entry":"nope"}"#).expect("JSON");
        assert!(odd.messages.is_empty() && odd.ignored.len() == 1);
        assert!(matches!(split(b"{not json"), Err(SplitError::NotJson(_))));
    }
}

#[cfg(test)]
mod fixture_tests {
    use shared::domain::events::{Envelope, Event};
    use shared::domain::whatsapp::{InboundMessage, LeadgenChange, StatusUpdate, UserPreference};

    use super::split;

    /// Every fixture splits into events that the inbound function's typed model reads.
    #[test]
    fn every_fixture_splits_into_events_the_typed_model_reads() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/webhooks");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).expect("fixtures") {
            let path = entry.expect("entry").path();
            let body = std::fs::read(&path).expect("readable");
            let split = split(&body).expect("JSON");
            assert!(!split.messages.is_empty(), "{} produced no event", path.display());
            for message in &split.messages {
                let envelope: Envelope = serde_json::from_str(&message.body).expect("contract");
                let parsed = match &envelope.event {
                    Event::Message { message, .. } => {
                        serde_json::from_str::<InboundMessage>(message.get()).map(drop)
                    }
                    Event::Status { status, .. } => {
                        serde_json::from_str::<StatusUpdate>(status.get()).map(drop)
                    }
                    Event::UserPreference { preference, .. } => {
                        serde_json::from_str::<UserPreference>(preference.get()).map(drop)
                    }
                    Event::Lead { leadgen, .. } => {
                        serde_json::from_str::<LeadgenChange>(leadgen.get()).map(drop)
                    }
                    Event::MessagingError { .. } | Event::AccountUpdate { .. } => Ok(()),
                    Event::FlowTimeout(_) => panic!("the webhook wrote a flow timeout: {}", path.display()),
                };
                assert!(parsed.is_ok(), "{}: {parsed:?}", path.display());
            }
            seen += 1;
        }
        assert!(seen >= 29, "only {seen} fixtures");
    }
}
