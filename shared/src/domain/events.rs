//! The `inbound.fifo` message contract between the `webhook` function (which writes events,
//! borrowing from the webhook body: [`EventRef`]) and the `inbound` function (which reads them:
//! [`Event`]). One event per message, status, user preference, messaging error, account update or
//! lead. Each carries the raw JSON of its part of the payload, byte for byte, so fields this
//! version does not know are kept, not dropped.
//!
//! One kind is not Meta's: [`FlowTimeout`], written by the retention function's `timers` job
//! when a chatbot flow's `wait` step times out, in the customer's own message group so that it
//! is serialized with their messages. Adding it changed no other kind: older bodies parse as
//! before (the version stays 1).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The version of this contract, in every event (`v`).
pub const EVENT_VERSION: u32 = 1;

/// An event as the webhook writes it (borrowed from the request body).
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventRef<'a> {
    /// One inbound message (`messages[]`), with the `contacts[]` entry of its sender.
    Message {
        /// The WhatsApp Business Account (`entry.id`).
        waba_id: Cow<'a, str>,
        /// The business number's id (`metadata.phone_number_id`): routes to the tenant.
        phone_number_id: Cow<'a, str>,
        /// The sender's `contacts[]` entry, when the payload has one.
        contact: Option<&'a RawValue>,
        /// The message.
        message: &'a RawValue,
    },
    /// One status of an outbound message (`statuses[]`).
    Status {
        /// The WhatsApp Business Account.
        waba_id: Cow<'a, str>,
        /// The business number's id.
        phone_number_id: Cow<'a, str>,
        /// The status.
        status: &'a RawValue,
    },
    /// One marketing preference change (`user_preferences[]`).
    UserPreference {
        /// The WhatsApp Business Account.
        waba_id: Cow<'a, str>,
        /// The business number's id.
        phone_number_id: Cow<'a, str>,
        /// The preference.
        preference: &'a RawValue,
    },
    /// A system-, app- or account-level error (`value.errors[]`).
    MessagingError {
        /// The WhatsApp Business Account.
        waba_id: Cow<'a, str>,
        /// The business number's id, when the payload names one.
        phone_number_id: Option<Cow<'a, str>>,
        /// The error.
        error: &'a RawValue,
    },
    /// Any other field of the WhatsApp Business Account (templates, quality, account updates…).
    AccountUpdate {
        /// The WhatsApp Business Account.
        waba_id: Cow<'a, str>,
        /// The webhook field, e.g. `message_template_status_update`.
        field: Cow<'a, str>,
        /// `entry.time`, when present.
        time: Option<i64>,
        /// The field's value.
        value: &'a RawValue,
    },
    /// A Lead Ads `leadgen` change of a Page.
    Lead {
        /// The Page (`entry.id`).
        page_id: Cow<'a, str>,
        /// The change's value (`leadgen_id`, `form_id`, `ad_id`, …).
        leadgen: &'a RawValue,
    },
    /// A chatbot flow's wait timed out (written by the `timers` job, never by the webhook).
    FlowTimeout(&'a FlowTimeout),
}

/// A chatbot flow's `wait` step timed out: `inbound` advances the conversation's session with
/// the timeout, if the session is still the one that armed it (same store version, same
/// deadline); otherwise (a customer message came first, an agent took over) it does nothing.
/// Ids only: no customer data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowTimeout {
    /// The tenant (the timer's: this event comes from inside, not from Meta).
    pub tenant_id: String,
    /// The conversation whose session waits.
    pub conversation_id: String,
    /// The session's store version when the timer fired.
    pub session_version: u64,
    /// The deadline the session stored (`timeout_at`), epoch ms.
    pub due: i64,
}

/// An event as the inbound function reads it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// See [`EventRef::Message`].
    Message {
        /// The WhatsApp Business Account.
        waba_id: String,
        /// The business number's id.
        phone_number_id: String,
        /// The sender's `contacts[]` entry.
        contact: Option<Box<RawValue>>,
        /// The message.
        message: Box<RawValue>,
    },
    /// See [`EventRef::Status`].
    Status {
        /// The WhatsApp Business Account.
        waba_id: String,
        /// The business number's id.
        phone_number_id: String,
        /// The status.
        status: Box<RawValue>,
    },
    /// See [`EventRef::UserPreference`].
    UserPreference {
        /// The WhatsApp Business Account.
        waba_id: String,
        /// The business number's id.
        phone_number_id: String,
        /// The preference.
        preference: Box<RawValue>,
    },
    /// See [`EventRef::MessagingError`].
    MessagingError {
        /// The WhatsApp Business Account.
        waba_id: String,
        /// The business number's id.
        phone_number_id: Option<String>,
        /// The error.
        error: Box<RawValue>,
    },
    /// See [`EventRef::AccountUpdate`].
    AccountUpdate {
        /// The WhatsApp Business Account.
        waba_id: String,
        /// The webhook field.
        field: String,
        /// `entry.time`.
        time: Option<i64>,
        /// The field's value.
        value: Box<RawValue>,
    },
    /// See [`EventRef::Lead`].
    Lead {
        /// The Page.
        page_id: String,
        /// The change's value.
        leadgen: Box<RawValue>,
    },
    /// See [`FlowTimeout`].
    FlowTimeout(FlowTimeout),
}

/// The queue message: the contract version and the event, externally tagged
/// (`{"v":1,"event":{"message":{…}}}`). Not internally tagged or flattened: serde buffers those,
/// and raw JSON cannot pass through a buffer.
#[derive(Debug, Serialize)]
pub struct EnvelopeRef<'a> {
    /// [`EVENT_VERSION`].
    pub v: u32,
    /// The event.
    pub event: EventRef<'a>,
}

/// The queue message as read.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    /// The contract version it was written with.
    pub v: u32,
    /// The event.
    pub event: Event,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_webhook_writes_the_inbound_function_reads() {
        let message = RawValue::from_string(
            r#"{"id":"wamid.X","type":"text","text":{"body":"pâtes \/ ok"},"new_field":1}"#.into(),
        )
        .expect("raw");
        let written = serde_json::to_string(&EnvelopeRef {
            v: EVENT_VERSION,
            event: EventRef::Message {
                waba_id: "1".into(),
                phone_number_id: "2".into(),
                contact: None,
                message: &message,
            },
        })
        .expect("serializes");

        let read: Envelope = serde_json::from_str(&written).expect("parses");

        assert_eq!(read.v, EVENT_VERSION);
        let Event::Message { phone_number_id, message: read_message, .. } = read.event else {
            panic!("a message")
        };
        assert_eq!(phone_number_id, "2");
        assert_eq!(
            read_message.get(),
            message.get(),
            "the raw bytes travel unchanged, unknown fields included"
        );
    }

    #[test]
    fn a_flow_timeout_round_trips_and_the_older_kinds_still_parse() {
        // Arrange
        let timeout = FlowTimeout {
            tenant_id: "tn_1".into(),
            conversation_id: "cv_1".into(),
            session_version: 3,
            due: 1_800_000_060_000,
        };
        let lead = r#"{"v":1,"event":{"lead":{"page_id":"1","leadgen":{"leadgen_id":"9"}}}}"#;

        // Act
        let written =
            serde_json::to_string(&EnvelopeRef { v: EVENT_VERSION, event: EventRef::FlowTimeout(&timeout) })
                .expect("serializes");
        let read: Envelope = serde_json::from_str(&written).expect("parses");
        let old: Envelope = serde_json::from_str(lead).expect("an older kind parses");

        // Assert
        assert!(written.starts_with(r#"{"v":1,"event":{"flow_timeout":{"#), "{written}");
        assert!(matches!(read.event, Event::FlowTimeout(ref t) if *t == timeout));
        assert!(matches!(old.event, Event::Lead { ref page_id, .. } if page_id == "1"));
    }
}
