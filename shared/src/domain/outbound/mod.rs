//! Outbound WhatsApp messages: the Cloud API body a tenant sends, checked against the Cloud
//! API's rules before it is queued; the policy every send passes (P20, P21, P22) at the API and
//! again at send time; templates as synced from Meta; and what Meta's error codes mean.
//!
//! The body keeps the Cloud API's own shape (`{"to", "type", "<type>": {...}}`) so that what
//! reaches Meta is exactly what the tenant sent, plus `messaging_product` and `recipient_type`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::inbox::{ConsentKind, ContactView};
use super::time::Timestamp;
use super::PhoneNumber;

mod body;
mod pacing;
mod templates;
pub use body::{InvalidMessage, OutboundBody, TemplateUse, MESSAGE_TYPES};
pub use pacing::{pair_wait, Pace, SendPacer, ThroughputShare, PAIR_INTERVAL_MS};
pub use templates::{Template, TemplateError, TemplateStore};

/// Why the policy refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The person is not a contact of the tenant: nobody has consented or written.
    UnknownRecipient,
    /// The person opted out (P21).
    OptedOut,
    /// Processing of the person's data is restricted (P63).
    Restricted,
    /// A business-initiated (template) message without the person's opt-in (P20).
    NoConsent,
    /// Free-form outside the 24 h customer-service window (P22): use a template.
    OutsideWindow,
}

impl Refusal {
    /// A human-readable reason.
    #[must_use]
    pub const fn reason(self) -> &'static str {
        match self {
            Self::UnknownRecipient => {
                "the recipient is not a contact of this tenant (no consent, no conversation)"
            }
            Self::OptedOut => "the recipient opted out of messages from this business",
            Self::Restricted => {
                "the recipient objected to processing: nothing is sent until the restriction is lifted"
            }
            Self::NoConsent => "business-initiated messages need the recipient's opt-in",
            Self::OutsideWindow => {
                "free-form messages need a customer message in the last 24 hours; send an approved template"
            }
        }
    }
}

/// The 24-hour customer-service window of a contact (P22) at an instant: free-form messages may
/// be sent while it is open. The one rule of the window: sending checks it, and the agents'
/// screens show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ServiceWindow {
    /// True while free-form messages may be sent.
    pub open: bool,
    /// When it closes, epoch ms (null when closed).
    pub closes_at: Option<i64>,
    /// Whole seconds until it closes, rounded up (null when closed).
    pub seconds_left: Option<i64>,
}

/// The contact's window at `now`: open until 24 hours after their latest inbound message
/// (`service_window_until`, kept by the store).
#[must_use]
pub fn service_window(contact: &ContactView, now: Timestamp) -> ServiceWindow {
    match contact.service_window_until.filter(|until| *until > now.as_millis()) {
        Some(until) => ServiceWindow {
            open: true,
            closes_at: Some(until),
            seconds_left: Some((until - now.as_millis() + 999) / 1000),
        },
        None => ServiceWindow { open: false, closes_at: None, seconds_left: None },
    }
}

/// The sending policy (P20, P21, P22, P63), the same at the API and at send time.
///
/// # Errors
/// The [`Refusal`].
pub fn check_policy(
    contact: Option<&ContactView>,
    body: &OutboundBody,
    now: Timestamp,
) -> Result<(), Refusal> {
    // A restricted person gets nothing, not even a read receipt (P63).
    if contact.is_some_and(|c| c.restricted_at.is_some()) {
        return Err(Refusal::Restricted);
    }
    if body.kind == "read" {
        return Ok(());
    }
    let contact = contact.ok_or(Refusal::UnknownRecipient)?;
    let consent = contact.consent.as_ref().map(|c| c.state);
    if consent == Some(ConsentKind::OptOut) {
        return Err(Refusal::OptedOut);
    }
    if service_window(contact, now).open {
        return Ok(());
    }
    if body.is_free_form() {
        return Err(Refusal::OutsideWindow);
    }
    if consent != Some(ConsentKind::OptIn) {
        return Err(Refusal::NoConsent);
    }
    Ok(())
}

/// What to do after a Graph error, by Meta's code (never by HTTP status: the same throttling
/// code comes as 400 and 403).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Throughput or pair limits, maintenance, downtime: back off and retry.
    Retry,
    /// Permanent for this message: record `failed` with the reason, never retry.
    Permanent,
}

/// Classifies a Meta error code (see the reference's table).
#[must_use]
pub fn classify(code: i64) -> ErrorClass {
    match code {
        // Throttling, maintenance, downtime and unknown service errors.
        4 | 80007 | 130429 | 131056 | 131057 | 131048 | 131016 | 1 | 2 | 131000 => ErrorClass::Retry,
        _ => ErrorClass::Permanent,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::inbox::{ConsentSource, ConsentState};
    use crate::domain::ContactId;

    #[test]
    fn the_instances_shares_add_up_to_at_most_the_limit() {
        for (per_second, instances) in [(80, 1), (80, 3), (80, 7), (1000, 10), (1, 2)] {
            let share = ThroughputShare { per_second, instances };
            let per_instance = share.sends_per_window() as f64 * 1_000_000.0 / share.window_micros() as f64;
            assert!(per_instance * instances as f64 <= per_second as f64 + 1e-9, "{share:?}");
            // The safety margin, whole shares per instance and the arrival spread (see `pacing`).
            assert!(per_instance * instances as f64 > per_second as f64 * 0.8, "{share:?} wastes little");
        }
    }

    #[test]
    fn the_pair_wait_counts_from_the_previous_send() {
        let now = Timestamp::from_millis(100_000);
        assert_eq!(pair_wait(None, 6000, now), 0);
        assert_eq!(pair_wait(Some(Timestamp::from_millis(97_000)), 6000, now), 3000);
        assert_eq!(pair_wait(Some(Timestamp::from_millis(90_000)), 6000, now), 0);
    }

    #[test]
    fn callback_data_names_only_leadline_messages() {
        let id = crate::domain::MessageId::generate(Timestamp::from_millis(1)).expect("random");
        assert_eq!(message_of_callback(&callback_data(&id)), Some(id));
        assert_eq!(message_of_callback("crm-42"), None);
        assert_eq!(message_of_callback("leadline:not an id"), None);
    }

    #[test]
    fn a_callers_callback_data_cannot_name_a_leadline_message() {
        // Arrange: another message's callback data, as a caller could copy it.
        let other = crate::domain::MessageId::generate(Timestamp::from_millis(1)).expect("random");
        let text = |callback: &str| json!({"to": "5511988887777", "type": "text", "text": {"body": "hi"}, "biz_opaque_callback_data": callback});

        // Act
        let forged = parse(text(&callback_data(&other)));
        let own = parse(text("crm-42"));

        // Assert
        assert_eq!(
            forged.map(|_| ()).map_err(|e| e.to_string().contains("biz_opaque_callback_data")),
            Err(true)
        );
        assert!(own.is_ok(), "a caller's own value is passed on");
    }

    fn parse(body: Value) -> Result<OutboundBody, InvalidMessage> {
        OutboundBody::parse(&body)
    }

    #[test]
    fn every_type_in_the_cloud_api_shape_is_accepted_and_passed_on_as_is() {
        let bodies = [
            json!({"to": "+55 11 98888-7777", "type": "text", "text": {"body": "Olá", "preview_url": true}}),
            json!({"to": "5511988887777", "type": "template", "template": {"name": "order_update", "language": {"code": "pt_BR"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}]}}),
            json!({"to": "5511988887777", "type": "interactive", "interactive": {"type": "button", "body": {"text": "Pick"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "Yes"}}, {"type": "reply", "reply": {"id": "b", "title": "No"}}]}}}),
            json!({"to": "5511988887777", "type": "interactive", "interactive": {"type": "list", "body": {"text": "Menu"},
                "action": {"button": "Options", "sections": [{"title": "S", "rows": [{"id": "1", "title": "One"}]}]}}}),
            json!({"to": "5511988887777", "type": "interactive", "interactive": {"type": "cta_url", "body": {"text": "See"},
                "action": {"name": "cta_url", "parameters": {"display_text": "Open", "url": "https://example.com"}}}}),
            json!({"to": "5511988887777", "type": "image", "image": {"link": "https://example.com/a.png", "caption": "c"}}),
            json!({"to": "5511988887777", "type": "document", "document": {"id": "1234", "filename": "a.pdf"}}),
            json!({"to": "5511988887777", "type": "audio", "audio": {"id": "1234"}}),
            json!({"to": "5511988887777", "type": "video", "video": {"link": "https://example.com/v.mp4"}}),
            json!({"to": "5511988887777", "type": "sticker", "sticker": {"id": "99"}}),
            json!({"to": "5511988887777", "type": "location", "location": {"latitude": -23.5, "longitude": -46.6, "name": "SP"}}),
            json!({"to": "5511988887777", "type": "contacts", "contacts": [{"name": {"formatted_name": "Ana"}}]}),
            json!({"to": "5511988887777", "type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "👍"}}),
            json!({"to": "5511988887777", "type": "text", "text": {"body": "re"}, "context": {"message_id": "wamid.Y"}}),
        ];
        for body in bodies {
            let parsed = parse(body.clone()).unwrap_or_else(|e| panic!("{body}: {e}"));
            let kind = body["type"].as_str().unwrap();
            assert_eq!(parsed.graph_body["messaging_product"], "whatsapp");
            assert_eq!(parsed.graph_body["to"], "5511988887777");
            assert_eq!(parsed.graph_body[kind], body[kind], "passed on as sent");
        }
        let read = parse(json!({"to": "5511988887777", "status": "read", "message_id": "wamid.Z"})).unwrap();
        assert_eq!(
            read.graph_body,
            json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.Z"})
        );
    }

    #[test]
    fn the_cloud_api_rules_are_checked_with_the_field_named() {
        let cases = [
            (json!({"to": "12", "type": "text", "text": {"body": "x"}}), "to"),
            (json!({"to": "5511988887777", "type": "fax"}), "type"),
            (json!({"to": "5511988887777", "type": "text", "text": {"body": "x".repeat(4097)}}), "text.body"),
            (json!({"to": "5511988887777", "type": "text", "text": {}}), "text.body"),
            (json!({"to": "5511988887777", "type": "text", "text": {"body": "x"}, "image": {}}), "image"),
            (
                json!({"to": "5511988887777", "type": "image", "image": {"id": "1", "link": "https://a.b/c"}}),
                "image",
            ),
            (
                json!({"to": "5511988887777", "type": "image", "image": {"link": "http://a.b/c"}}),
                "image.link",
            ),
            (
                json!({"to": "5511988887777", "type": "audio", "audio": {"id": "1", "caption": "no"}}),
                "audio.caption",
            ),
            (
                json!({"to": "5511988887777", "type": "interactive", "interactive": {"type": "button", "body": {"text": "b"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "Twenty one characters"}}]}}}),
                "interactive.action.buttons[0].reply.title",
            ),
            (
                json!({"to": "5511988887777", "type": "interactive", "interactive": {"type": "button", "body": {"text": "b"},
                "action": {"buttons": [1, 2, 3, 4]}}}),
                "interactive.action.buttons",
            ),
            (
                json!({"to": "5511988887777", "type": "template", "template": {"name": "Bad Name", "language": {"code": "en"}}}),
                "template.name",
            ),
            (
                json!({"to": "5511988887777", "type": "location", "location": {"latitude": 91, "longitude": 0}}),
                "location.latitude",
            ),
            (
                json!({"to": "5511988887777", "type": "reaction", "reaction": {"message_id": "nope", "emoji": "x"}}),
                "reaction.message_id",
            ),
            (json!({"to": "5511988887777", "type": "contacts", "contacts": []}), "contacts"),
        ];
        for (body, field) in cases {
            let error = parse(body.clone()).expect_err(&body.to_string());
            assert_eq!(error.field, field, "{body}: {error}");
        }
    }

    fn contact(consent: Option<ConsentKind>, window_until: Option<i64>) -> ContactView {
        ContactView {
            id: ContactId::parse("ct_1").unwrap(),
            phone: Some("5511988887777".into()),
            user_id: None,
            email: None,
            name: None,
            first_seen_at: 0,
            last_seen_at: 0,
            last_inbound_at: None,
            service_window_until: window_until,
            consent: consent.map(|state| ConsentState { state, source: ConsentSource::Api, at: 0 }),
            restricted_at: None,
            conversation_id: None,
            tags: vec![],
            attributes: Default::default(),
            updated_at: None,
        }
    }

    #[test]
    fn the_policy_needs_consent_for_templates_a_window_for_free_form_and_honours_opt_outs() {
        let now = Timestamp::from_millis(1_000_000);
        let text = parse(json!({"to": "5511988887777", "type": "text", "text": {"body": "hi"}})).unwrap();
        let template =
            parse(json!({"to": "5511988887777", "type": "template", "template": {"name": "t", "language": {"code": "en"}}})).unwrap();
        let open = Some(2_000_000);
        let closed = Some(500_000);

        assert_eq!(check_policy(None, &template, now), Err(Refusal::UnknownRecipient));
        assert_eq!(check_policy(Some(&contact(None, open)), &text, now), Ok(()));
        assert_eq!(check_policy(Some(&contact(None, closed)), &text, now), Err(Refusal::OutsideWindow));
        assert_eq!(
            check_policy(Some(&contact(Some(ConsentKind::OptIn), closed)), &text, now),
            Err(Refusal::OutsideWindow)
        );
        assert_eq!(check_policy(Some(&contact(None, closed)), &template, now), Err(Refusal::NoConsent));
        assert_eq!(check_policy(Some(&contact(Some(ConsentKind::OptIn), None)), &template, now), Ok(()));
        assert_eq!(
            check_policy(Some(&contact(Some(ConsentKind::OptOut), open)), &text, now),
            Err(Refusal::OptedOut)
        );
        assert_eq!(
            check_policy(Some(&contact(Some(ConsentKind::OptOut), open)), &template, now),
            Err(Refusal::OptedOut)
        );
    }

    #[test]
    fn a_restricted_person_gets_nothing_whatever_their_consent_and_window() {
        let now = Timestamp::from_millis(1_000_000);
        let read = parse(json!({"to": "5511988887777", "status": "read", "message_id": "wamid.X"})).unwrap();
        let text = parse(json!({"to": "5511988887777", "type": "text", "text": {"body": "hi"}})).unwrap();
        let mut restricted = contact(Some(ConsentKind::OptIn), Some(2_000_000));
        restricted.restricted_at = Some(900_000);

        assert_eq!(check_policy(Some(&restricted), &text, now), Err(Refusal::Restricted));
        assert_eq!(check_policy(Some(&restricted), &read, now), Err(Refusal::Restricted));
        restricted.restricted_at = None;
        assert_eq!(check_policy(Some(&restricted), &text, now), Ok(()), "lifted");
    }

    #[test]
    fn meta_codes_decide_retries_not_http_statuses() {
        for code in [130429, 131056, 80007, 4, 131057, 131000] {
            assert_eq!(classify(code), ErrorClass::Retry, "{code}");
        }
        for code in [131047, 131026, 131051, 132000, 132001, 132016, 190, 368, 131031, 100, 0] {
            assert_eq!(classify(code), ErrorClass::Permanent, "{code}");
        }
    }

    #[test]
    fn templates_are_read_from_graph_and_check_their_parameters() {
        let entry = json!({"name": "order_update", "language": "pt_BR", "status": "APPROVED", "category": "UTILITY",
            "components": [{"type": "HEADER", "format": "TEXT", "text": "Pedido {{1}}"},
                           {"type": "BODY", "text": "Olá {{1}}, seu pedido {{2}} saiu. {{1}}"}]});
        let template = Template::from_graph(&entry).unwrap();
        let ok = TemplateUse {
            name: "order_update".into(),
            language: "pt_BR".into(),
            body_parameters: 2,
            header_parameters: 1,
        };

        assert_eq!((template.body_parameters, template.header_parameters), (2, 1));
        assert_eq!(template.accepts(&ok), Ok(()));
        assert!(template.accepts(&TemplateUse { body_parameters: 1, ..ok.clone() }).is_err());
        let image = Template::from_graph(&json!({"name": "promo", "language": "en", "status": "APPROVED",
            "components": [{"type": "HEADER", "format": "IMAGE"}, {"type": "BODY", "text": "Hi"}]}))
        .unwrap();
        assert_eq!((image.header_parameters, image.body_parameters), (1, 0));
        let paused = Template { status: "PAUSED".into(), ..template };
        assert!(paused.accepts(&ok).unwrap_err().contains("PAUSED"));
    }
}

/// The `outbound.fifo` message: which message of which tenant to send. The body to send stays
/// in the table (it is personal content; the queue carries ids only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendJob {
    /// Contract version.
    pub v: u32,
    /// The tenant.
    pub tenant_id: super::TenantId,
    /// The message.
    pub message_id: super::MessageId,
}

impl SendJob {
    /// The queue message: grouped by tenant and recipient (one at a time per person, in order),
    /// deduplicated by message id.
    #[must_use]
    pub fn queue_message(&self, recipient: &PhoneNumber) -> super::ports::QueueMessage {
        let group =
            crate::kernel::digest::hex_sha256(&format!("{}|{}", self.tenant_id, recipient.as_digits()));
        super::ports::QueueMessage {
            body: serde_json::to_string(self).unwrap_or_default(),
            group_id: Some(group[..32].to_owned()),
            dedup_id: Some(self.message_id.to_string()),
        }
    }
}

/// The `biz_opaque_callback_data` the send sets: Meta echoes it in status webhooks, so that a
/// status finds its message without a lookup record written per send.
#[must_use]
pub fn callback_data(message: &super::MessageId) -> String {
    format!("{CALLBACK_PREFIX}{message}")
}

/// The message id in a callback data string [`callback_data`] made; `None` for anyone else's.
#[must_use]
pub fn message_of_callback(callback: &str) -> Option<super::MessageId> {
    callback.strip_prefix(CALLBACK_PREFIX).and_then(|id| super::MessageId::parse(id).ok())
}

const CALLBACK_PREFIX: &str = "leadline:";

/// How long a message may stay `unknown` waiting for its status webhook (Meta sends `sent`
/// within seconds of taking a message): after that, reconciliation ends it `failed` with
/// [`OUTCOME_UNKNOWN`] rather than sending it again.
pub const UNKNOWN_SETTLE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The error title of a message ended by reconciliation: Meta may or may not have delivered it.
pub const OUTCOME_UNKNOWN: &str = "outcome-unknown";

/// Errors of [`QualityMeter`].
#[derive(Debug, thiserror::Error)]
pub enum QualityError {
    /// The counter store failed.
    #[error("quality counters failed")]
    Unknown(#[from] anyhow::Error),
}

/// Per-tenant sending quality by UTC month (P24): `accepted` and `refused.<reason>` (at the API),
/// `failed.<code>` and `blocked.<reason>` (at send time), `opt_out.<source>` (ingestion). A
/// message that goes out is counted once, when accepted; the send path writes a counter only for
/// what did not go out, so failure rates are `failed.*` over `accepted`.
pub trait QualityMeter: Send + Sync {
    /// Adds one to `metric` in the month of `now`.
    ///
    /// # Errors
    /// [`QualityError::Unknown`].
    fn count(
        &self,
        tenant: &super::TenantId,
        metric: &str,
        now: Timestamp,
    ) -> impl std::future::Future<Output = Result<(), QualityError>> + Send;

    /// Every counter of `month` (`yyyy-mm`).
    ///
    /// # Errors
    /// [`QualityError::Unknown`].
    fn month(
        &self,
        tenant: &super::TenantId,
        month: &str,
    ) -> impl std::future::Future<Output = Result<std::collections::BTreeMap<String, u64>, QualityError>> + Send;
}
