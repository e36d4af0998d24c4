//! The splitter as it was before its fast path (commit 16b79ed, `split.rs` without its tests),
//! kept verbatim for tests only: the fuzz smoke checks that the splitter writes exactly what this
//! one writes, on every input it generates.
//!
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

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use shared::domain::events::{EnvelopeRef, EventRef, EVENT_VERSION};
use shared::domain::ports::QueueMessage;
use shared::kernel::hex;

use crate::split::{Split, SplitError};

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    object: Cow<'a, str>,
    #[serde(default, borrow)]
    entry: Vec<Entry<'a>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Id<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Number(u64),
}

impl Id<'_> {
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
    id: Id<'a>,
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

/// Lowercase hex SHA-256 of the concatenated `parts`: `hex_sha256(&parts.concat())` without
/// building the string (two allocations per event saved on the webhook's hot path).
fn hex_sha256_of(parts: &[&str]) -> String {
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in parts {
        context.update(part.as_bytes());
    }
    hex::encode(context.finish().as_ref())
}

/// Room for the envelope around an event's raw parts: version, tags, ids.
const ENVELOPE_BYTES: usize = 160;

/// The queue message of `event`; `raw_bytes` is the length of the raw JSON it carries, so that
/// the body is written into one allocation of the right size.
fn message(
    event: EventRef<'_>,
    raw_bytes: usize,
    group: &[&str],
    dedup: &[&str],
) -> Result<QueueMessage, serde_json::Error> {
    let mut body = Vec::with_capacity(raw_bytes + ENVELOPE_BYTES);
    serde_json::to_writer(&mut body, &EnvelopeRef { v: EVENT_VERSION, event })?;
    let body = String::from_utf8(body).map_err(<serde_json::Error as serde::ser::Error>::custom)?;
    Ok(QueueMessage { body, group_id: Some(hex_sha256_of(group)), dedup_id: Some(hex_sha256_of(dedup)) })
}

/// Splits a verified body.
///
/// # Errors
/// [`SplitError::NotJson`] when the body is not JSON. JSON of a shape this version does not
/// handle is not an error: it is reported in [`Split::ignored`].
pub fn split(body: &[u8]) -> Result<Split, SplitError> {
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

fn push(out: &mut Split, result: Result<QueueMessage, serde_json::Error>) {
    match result {
        Ok(message) => out.messages.push(message),
        Err(e) => out.ignored.push(format!("unserializable event: {}", shared::telemetry::json_error(&e))),
    }
}

fn whatsapp_change(entry: &Entry<'_>, change: &Change<'_>, out: &mut Split) {
    let waba_id = entry.id.text();
    if !matches!(change.field.as_ref(), "messages" | "user_preferences") {
        let event = EventRef::AccountUpdate {
            waba_id: waba_id.clone(),
            field: change.field.clone(),
            time: entry.time,
            value: change.value,
        };
        let raw = change.value.get();
        push(out, message(event, raw.len(), &["waba:", &waba_id], &["account:", &change.field, ":", raw]));
        return;
    }
    let value: MessagesValue<'_> = match serde_json::from_str(change.value.get()) {
        Ok(value) => value,
        Err(e) => {
            out.ignored.push(format!("{} value: {}", change.field, shared::telemetry::json_error(&e)));
            return;
        }
    };
    let Some(metadata) = &value.metadata else {
        out.ignored.push(format!("{} value without metadata.phone_number_id", change.field));
        return;
    };
    let number = &metadata.phone_number_id;
    // A lone contact goes with every message whatever its ids (the rule below), so its ids are
    // only read when there are several: one JSON pass saved on the common one-message webhook.
    let contacts: Vec<(Head<'_>, &RawValue)> = if value.contacts.len() > 1 {
        value.contacts.iter().map(|raw| (head(raw), *raw)).collect()
    } else {
        Vec::new()
    };
    let lone_contact = match value.contacts.as_slice() {
        [only] => Some(*only),
        _ => None,
    };

    for raw in &value.messages {
        let h = head(raw);
        let person = h.from.as_deref().or(h.from_user_id.as_deref()).unwrap_or_default();
        let contact = lone_contact.or_else(|| {
            contacts
                .iter()
                .find(|(c, _)| {
                    (h.from.is_some() && c.wa_id == h.from)
                        || (h.from_user_id.is_some() && c.user_id == h.from_user_id)
                })
                .map(|(_, raw)| *raw)
        });
        let event = EventRef::Message {
            waba_id: waba_id.clone(),
            phone_number_id: number.clone(),
            contact,
            message: raw,
        };
        let raw_bytes = raw.get().len() + contact.map_or(0, |c| c.get().len());
        let id = h.id.as_deref().unwrap_or(raw.get());
        push(out, message(event, raw_bytes, &["wa:", number, ":", person], &["message:", id]));
    }
    for raw in &value.statuses {
        let h = head(raw);
        let person = h.recipient_id.as_deref().or(h.recipient_user_id.as_deref()).unwrap_or_default();
        let event =
            EventRef::Status { waba_id: waba_id.clone(), phone_number_id: number.clone(), status: raw };
        let id = h.id.as_deref().unwrap_or(raw.get());
        let status = h.status.as_deref().unwrap_or_default();
        push(
            out,
            message(event, raw.get().len(), &["wa:", number, ":", person], &["status:", id, ":", status]),
        );
    }
    for raw in &value.user_preferences {
        let h = head(raw);
        let person = h.wa_id.as_deref().or(h.user_id.as_deref()).unwrap_or_default();
        let event = EventRef::UserPreference {
            waba_id: waba_id.clone(),
            phone_number_id: number.clone(),
            preference: raw,
        };
        let when = h.timestamp.as_ref().map(Id::text).unwrap_or_default();
        let value = h.value.as_deref().unwrap_or_default();
        let dedup = ["preference:", person, ":", value, ":", &when];
        push(out, message(event, raw.get().len(), &["wa:", number, ":", person], &dedup));
    }
    for raw in &value.errors {
        let event = EventRef::MessagingError {
            waba_id: waba_id.clone(),
            phone_number_id: Some(number.clone()),
            error: raw,
        };
        push(out, message(event, raw.get().len(), &["errors:", number], &["error:", number, ":", raw.get()]));
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
    let event = EventRef::Lead { page_id: page_id.clone(), leadgen: change.value };
    let raw_bytes = change.value.get().len();
    push(out, message(event, raw_bytes, &["lead:", &page_id, ":", &leadgen_id], &["lead:", &leadgen_id]));
}
