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

/// The message types a business sends, plus mark-as-read.
pub const MESSAGE_TYPES: &[&str] = &[
    "text",
    "template",
    "interactive",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "reaction",
];

/// A checked outbound message.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundBody {
    /// The recipient.
    pub to: PhoneNumber,
    /// `text`, `template`, …, or `read` for mark-as-read.
    pub kind: String,
    /// The Cloud API request body to post (with `messaging_product`, `recipient_type`, `to`).
    pub graph_body: Value,
    /// For templates: name and language, for the pre-flight check.
    pub template: Option<TemplateUse>,
}

/// Which template a message uses and how many body parameters it gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateUse {
    /// Name.
    pub name: String,
    /// Language code.
    pub language: String,
    /// Parameters given for the body component.
    pub body_parameters: usize,
    /// Parameters given for the header component.
    pub header_parameters: usize,
}

/// Why a body was refused: the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct InvalidMessage {
    /// The JSON path of the field (`text.body`).
    pub field: String,
    /// What the Cloud API requires.
    pub rule: String,
}

fn invalid(field: &str, rule: impl Into<String>) -> InvalidMessage {
    InvalidMessage { field: field.to_owned(), rule: rule.into() }
}

fn text_field<'a>(
    object: &'a Map<String, Value>,
    field: &str,
    path: &str,
    max: usize,
    required: bool,
) -> Result<Option<&'a str>, InvalidMessage> {
    match object.get(field) {
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) => Err(invalid(path, "is required")),
        Some(Value::String(text)) => {
            let length = text.chars().count();
            if length == 0 && required {
                return Err(invalid(path, "must not be empty"));
            }
            if length > max {
                return Err(invalid(path, format!("must be at most {max} characters")));
            }
            Ok(Some(text))
        }
        Some(_) => Err(invalid(path, "must be a string")),
    }
}

fn object_at<'a>(value: Option<&'a Value>, path: &str) -> Result<&'a Map<String, Value>, InvalidMessage> {
    value.and_then(Value::as_object).ok_or_else(|| invalid(path, "must be an object"))
}

fn array<'a>(
    value: Option<&'a Value>,
    path: &str,
    min: usize,
    max: usize,
) -> Result<&'a Vec<Value>, InvalidMessage> {
    let items = value.and_then(Value::as_array).ok_or_else(|| invalid(path, "must be an array"))?;
    if !(min..=max).contains(&items.len()) {
        return Err(invalid(path, format!("must hold {min} to {max} items")));
    }
    Ok(items)
}

fn https_url(object: &Map<String, Value>, field: &str, path: &str) -> Result<Option<String>, InvalidMessage> {
    match text_field(object, field, path, 2048, false)? {
        None => Ok(None),
        Some(url)
            if url.starts_with("https://")
                && url.len() > "https://".len()
                && !url.contains(char::is_whitespace) =>
        {
            Ok(Some(url.to_owned()))
        }
        Some(_) => Err(invalid(path, "must be an https:// URL")),
    }
}

fn wamid_field(object: &Map<String, Value>, path: &str) -> Result<(), InvalidMessage> {
    let id = text_field(object, "message_id", path, 256, true)?.unwrap_or_default();
    if !id.starts_with("wamid.") {
        return Err(invalid(path, "must be a WhatsApp message id (wamid.…)"));
    }
    Ok(())
}

fn media(object: &Map<String, Value>, kind: &str) -> Result<(), InvalidMessage> {
    let id = text_field(object, "id", &format!("{kind}.id"), 128, false)?;
    let link = https_url(object, "link", &format!("{kind}.link"))?;
    if id.is_some() == link.is_some() {
        return Err(invalid(kind, "give exactly one of id (an uploaded media id) or link (https)"));
    }
    match kind {
        "image" | "video" | "document" => {
            text_field(object, "caption", &format!("{kind}.caption"), 1024, false)?;
        }
        _ if object.contains_key("caption") => {
            return Err(invalid(&format!("{kind}.caption"), "is not allowed for this type"))
        }
        _ => {}
    }
    if kind == "document" {
        text_field(object, "filename", "document.filename", 240, false)?;
    }
    Ok(())
}

fn interactive(object: &Map<String, Value>) -> Result<(), InvalidMessage> {
    let kind = text_field(object, "type", "interactive.type", 32, true)?.unwrap_or_default();
    let action = object_at(object.get("action"), "interactive.action")?;
    if let Some(footer) = object.get("footer") {
        text_field(
            object_at(Some(footer), "interactive.footer")?,
            "text",
            "interactive.footer.text",
            60,
            true,
        )?;
    }
    let body_max = 1024;
    match kind {
        "button" => {
            text_field(
                object_at(object.get("body"), "interactive.body")?,
                "text",
                "interactive.body.text",
                body_max,
                true,
            )?;
            let buttons = array(action.get("buttons"), "interactive.action.buttons", 1, 3)?;
            let mut titles = Vec::new();
            for (i, button) in buttons.iter().enumerate() {
                let path = format!("interactive.action.buttons[{i}]");
                let button = object_at(Some(button), &path)?;
                if button.get("type").and_then(Value::as_str) != Some("reply") {
                    return Err(invalid(&format!("{path}.type"), "must be reply"));
                }
                let reply = object_at(button.get("reply"), &format!("{path}.reply"))?;
                text_field(reply, "id", &format!("{path}.reply.id"), 256, true)?;
                let title =
                    text_field(reply, "title", &format!("{path}.reply.title"), 20, true)?.unwrap_or_default();
                if titles.contains(&title) {
                    return Err(invalid(&format!("{path}.reply.title"), "button titles must be unique"));
                }
                titles.push(title);
            }
        }
        "list" => {
            text_field(
                object_at(object.get("body"), "interactive.body")?,
                "text",
                "interactive.body.text",
                4096,
                true,
            )?;
            text_field(action, "button", "interactive.action.button", 20, true)?;
            let sections = array(action.get("sections"), "interactive.action.sections", 1, 10)?;
            let mut rows_total = 0;
            for (i, section) in sections.iter().enumerate() {
                let path = format!("interactive.action.sections[{i}]");
                let section = object_at(Some(section), &path)?;
                text_field(section, "title", &format!("{path}.title"), 24, sections.len() > 1)?;
                let rows = array(section.get("rows"), &format!("{path}.rows"), 1, 10)?;
                rows_total += rows.len();
                for (j, row) in rows.iter().enumerate() {
                    let row_path = format!("{path}.rows[{j}]");
                    let row = object_at(Some(row), &row_path)?;
                    text_field(row, "id", &format!("{row_path}.id"), 200, true)?;
                    text_field(row, "title", &format!("{row_path}.title"), 24, true)?;
                    text_field(row, "description", &format!("{row_path}.description"), 72, false)?;
                }
            }
            if rows_total > 10 {
                return Err(invalid("interactive.action.sections", "at most 10 rows in all"));
            }
        }
        "cta_url" => {
            text_field(
                object_at(object.get("body"), "interactive.body")?,
                "text",
                "interactive.body.text",
                body_max,
                true,
            )?;
            if action.get("name").and_then(Value::as_str) != Some("cta_url") {
                return Err(invalid("interactive.action.name", "must be cta_url"));
            }
            let parameters = object_at(action.get("parameters"), "interactive.action.parameters")?;
            text_field(parameters, "display_text", "interactive.action.parameters.display_text", 20, true)?;
            if https_url(parameters, "url", "interactive.action.parameters.url")?.is_none() {
                return Err(invalid("interactive.action.parameters.url", "is required"));
            }
        }
        other => {
            return Err(invalid("interactive.type", format!("{other:?} is not one of button, list, cta_url")))
        }
    }
    Ok(())
}

fn template(object: &Map<String, Value>) -> Result<TemplateUse, InvalidMessage> {
    let name = text_field(object, "name", "template.name", 512, true)?.unwrap_or_default();
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(invalid("template.name", "must be lowercase letters, digits and underscores"));
    }
    let language = object_at(object.get("language"), "template.language")?;
    let code = text_field(language, "code", "template.language.code", 15, true)?.unwrap_or_default();
    if !code.chars().all(|c| c.is_ascii_alphabetic() || c == '_') {
        return Err(invalid("template.language.code", "must be a language code such as en_US"));
    }
    let mut body_parameters = 0;
    let mut header_parameters = 0;
    if let Some(components) = object.get("components") {
        let components = array(Some(components), "template.components", 0, 10)?;
        for (i, component) in components.iter().enumerate() {
            let path = format!("template.components[{i}]");
            let component = object_at(Some(component), &path)?;
            let kind = text_field(component, "type", &format!("{path}.type"), 16, true)?.unwrap_or_default();
            let parameters = match component.get("parameters") {
                Some(p) => array(Some(p), &format!("{path}.parameters"), 0, 100)?.len(),
                None => 0,
            };
            match kind {
                "body" => body_parameters += parameters,
                "header" => header_parameters += parameters,
                "button" | "footer" => {}
                other => {
                    return Err(invalid(
                        &format!("{path}.type"),
                        format!("{other:?} is not header, body, footer or button"),
                    ))
                }
            }
        }
    }
    Ok(TemplateUse { name: name.to_owned(), language: code.to_owned(), body_parameters, header_parameters })
}

impl OutboundBody {
    /// Checks a request body against the Cloud API's rules.
    ///
    /// # Errors
    /// [`InvalidMessage`] naming the first field at fault.
    pub fn parse(body: &Value) -> Result<Self, InvalidMessage> {
        let top = body.as_object().ok_or_else(|| invalid("body", "must be a JSON object"))?;
        let raw_to = text_field(top, "to", "to", 32, true)?.unwrap_or_default();
        let to = PhoneNumber::parse(raw_to).map_err(|e| invalid("to", e.to_string()))?;
        // Mark-as-read keeps Meta's own shape: {"status": "read", "message_id": "wamid…"}.
        if top.get("status").and_then(Value::as_str) == Some("read") {
            for key in top.keys() {
                if !matches!(key.as_str(), "to" | "status" | "message_id" | "messaging_product") {
                    return Err(invalid(key, "is not a field of a mark-as-read request"));
                }
            }
            wamid_field(top, "message_id")?;
            let graph_body = serde_json::json!({
                "messaging_product": "whatsapp", "status": "read", "message_id": top.get("message_id"),
            });
            return Ok(Self { to, kind: "read".to_owned(), graph_body, template: None });
        }
        let kind = text_field(top, "type", "type", 32, true)?.unwrap_or_default().to_owned();
        if !MESSAGE_TYPES.contains(&kind.as_str()) {
            return Err(invalid("type", format!("must be one of {}", MESSAGE_TYPES.join(", "))));
        }
        for key in top.keys() {
            let allowed = matches!(
                key.as_str(),
                "to" | "type"
                    | "context"
                    | "messaging_product"
                    | "recipient_type"
                    | "biz_opaque_callback_data"
            ) || *key == kind;
            if !allowed {
                return Err(invalid(key, format!("is not a field of a {kind} message")));
            }
        }
        if let Some(context) = top.get("context") {
            wamid_field(object_at(Some(context), "context")?, "context.message_id")?;
        }
        if let Some(recipient_type) = top.get("recipient_type") {
            if recipient_type.as_str() != Some("individual") {
                return Err(invalid("recipient_type", "must be individual"));
            }
        }
        text_field(top, "biz_opaque_callback_data", "biz_opaque_callback_data", 512, false)?;
        let payload = top.get(&kind);
        let mut template_use = None;
        match kind.as_str() {
            "text" => {
                let text = object_at(payload, "text")?;
                text_field(text, "body", "text.body", 4096, true)?;
                if text.get("preview_url").is_some_and(|v| !v.is_boolean()) {
                    return Err(invalid("text.preview_url", "must be true or false"));
                }
            }
            "template" => template_use = Some(template(object_at(payload, "template")?)?),
            "interactive" => interactive(object_at(payload, "interactive")?)?,
            "image" | "video" | "audio" | "document" | "sticker" => media(object_at(payload, &kind)?, &kind)?,
            "location" => {
                let location = object_at(payload, "location")?;
                let coordinate = |field: &str, bound: f64| {
                    location.get(field).and_then(Value::as_f64).filter(|v| v.abs() <= bound).ok_or_else(
                        || invalid(&format!("location.{field}"), format!("must be a number within ±{bound}")),
                    )
                };
                coordinate("latitude", 90.0)?;
                coordinate("longitude", 180.0)?;
                text_field(location, "name", "location.name", 1000, false)?;
                text_field(location, "address", "location.address", 1000, false)?;
            }
            "contacts" => {
                let cards = array(payload, "contacts", 1, 257)?;
                for (i, card) in cards.iter().enumerate() {
                    let card = object_at(Some(card), &format!("contacts[{i}]"))?;
                    let name = object_at(card.get("name"), &format!("contacts[{i}].name"))?;
                    text_field(
                        name,
                        "formatted_name",
                        &format!("contacts[{i}].name.formatted_name"),
                        256,
                        true,
                    )?;
                }
            }
            "reaction" => {
                let reaction = object_at(payload, "reaction")?;
                wamid_field(reaction, "reaction.message_id")?;
                let emoji = text_field(reaction, "emoji", "reaction.emoji", 16, false)?;
                if reaction.get("emoji").is_none() || emoji.is_some_and(|e| e.chars().count() > 4) {
                    return Err(invalid(
                        "reaction.emoji",
                        "must be one emoji, or empty to remove the reaction",
                    ));
                }
            }
            _ => return Err(invalid("type", "unsupported")),
        }
        let mut graph_body = Map::new();
        graph_body.insert("messaging_product".to_owned(), Value::from("whatsapp"));
        graph_body.insert("recipient_type".to_owned(), Value::from("individual"));
        graph_body.insert("to".to_owned(), Value::from(to.as_digits()));
        for (key, value) in top {
            if !matches!(key.as_str(), "to" | "messaging_product" | "recipient_type") {
                graph_body.insert(key.clone(), value.clone());
            }
        }
        Ok(Self { to, kind, graph_body: Value::Object(graph_body), template: template_use })
    }

    /// True for messages only a template may start (everything but templates and mark-as-read
    /// needs an open customer-service window).
    #[must_use]
    pub fn is_free_form(&self) -> bool {
        !matches!(self.kind.as_str(), "template" | "read")
    }
}

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
    let window_open = contact.service_window_until.is_some_and(|until| until > now.as_millis());
    if window_open {
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

/// A template as synced from Meta.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Template {
    /// Name.
    pub name: String,
    /// Language code.
    pub language: String,
    /// `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, `DISABLED`…
    pub status: String,
    /// `MARKETING`, `UTILITY`, `AUTHENTICATION`.
    pub category: String,
    /// Parameters its body takes (`{{1}}`, `{{name}}` …).
    pub body_parameters: usize,
    /// Parameters its header takes.
    pub header_parameters: usize,
    /// The components as Meta returned them.
    pub components: Value,
}

impl Template {
    /// Reads one entry of `GET /<waba_id>/message_templates`; `None` when it lacks a name or
    /// language.
    #[must_use]
    pub fn from_graph(entry: &Value) -> Option<Self> {
        let components = entry.get("components").cloned().unwrap_or(Value::Array(Vec::new()));
        let count = |kind: &str| {
            components
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| {
                    c.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case(kind))
                })
                .map(|c| match c.get("format").and_then(Value::as_str) {
                    // A media or location header takes exactly one parameter: the media itself.
                    Some(format) if !format.eq_ignore_ascii_case("TEXT") => 1,
                    _ => c.get("text").and_then(Value::as_str).map_or(0, placeholders),
                })
                .sum()
        };
        Some(Self {
            name: entry.get("name")?.as_str()?.to_owned(),
            language: entry.get("language")?.as_str()?.to_owned(),
            status: entry.get("status").and_then(Value::as_str).unwrap_or("UNKNOWN").to_owned(),
            category: entry.get("category").and_then(Value::as_str).unwrap_or("UNKNOWN").to_owned(),
            body_parameters: count("BODY"),
            header_parameters: count("HEADER"),
            components,
        })
    }

    /// Checks a message's use of this template (P22's alternative must itself be valid).
    ///
    /// # Errors
    /// A reason for the client.
    pub fn accepts(&self, used: &TemplateUse) -> Result<(), String> {
        if self.status != "APPROVED" {
            return Err(format!(
                "template {} ({}) is {}, not APPROVED",
                self.name, self.language, self.status
            ));
        }
        if used.body_parameters != self.body_parameters || used.header_parameters != self.header_parameters {
            return Err(format!(
                "template {} takes {} body and {} header parameters; the message gives {} and {}",
                self.name,
                self.body_parameters,
                self.header_parameters,
                used.body_parameters,
                used.header_parameters
            ));
        }
        Ok(())
    }
}

/// The distinct `{{…}}` placeholders of a template text.
fn placeholders(text: &str) -> usize {
    let mut seen = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        if !name.is_empty() && !seen.contains(&name) {
            seen.push(name);
        }
        rest = &after[end + 2..];
    }
    seen.len()
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
            let per_instance = 1_000_000.0 / share.spacing_micros() as f64;
            assert!(per_instance * instances as f64 <= per_second as f64 + 1e-9, "{share:?}");
            assert!(per_instance * instances as f64 > per_second as f64 * 0.99, "{share:?} wastes little");
        }
    }

    #[test]
    fn the_pacer_spaces_sends_per_number_and_takes_nothing_while_waiting() {
        // Arrange: 80/s over 2 instances: one send every 25 ms here.
        let pacer = SendPacer::new(ThroughputShare { per_second: 80, instances: 2 });
        let at = |ms: i64| Timestamp::from_millis(1_000_000 + ms);

        // Act
        let first = pacer.acquire("n1", at(0));
        let too_soon = pacer.acquire("n1", at(10));
        let other_number = pacer.acquire("n2", at(10));
        let again_too_soon = pacer.acquire("n1", at(20));
        let on_time = pacer.acquire("n1", at(25));

        // Assert
        assert_eq!(first, Pace::Go);
        assert_eq!(too_soon, Pace::Wait(15));
        assert_eq!(other_number, Pace::Go);
        assert_eq!(again_too_soon, Pace::Wait(5), "a wait takes no slot");
        assert_eq!(on_time, Pace::Go);
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

/// Errors of [`TemplateStore`].
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The store failed.
    #[error("template store failed")]
    Unknown(#[from] anyhow::Error),
}

/// The tenant's message templates as last synced from Meta.
pub trait TemplateStore: Send + Sync {
    /// Replaces the tenant's templates with `templates` (those Meta no longer lists go).
    ///
    /// # Errors
    /// [`TemplateError::Unknown`].
    fn replace_templates(
        &self,
        tenant: &super::TenantId,
        templates: &[Template],
    ) -> impl std::future::Future<Output = Result<(), TemplateError>> + Send;

    /// One template by name and language.
    ///
    /// # Errors
    /// [`TemplateError::Unknown`].
    fn template(
        &self,
        tenant: &super::TenantId,
        name: &str,
        language: &str,
    ) -> impl std::future::Future<Output = Result<Option<Template>, TemplateError>> + Send;

    /// Every template of the tenant, by name and language.
    ///
    /// # Errors
    /// [`TemplateError::Unknown`].
    fn templates(
        &self,
        tenant: &super::TenantId,
    ) -> impl std::future::Future<Output = Result<Vec<Template>, TemplateError>> + Send;
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

/// Meta's pair limit: one message every 6 seconds to the same WhatsApp user.
pub const PAIR_INTERVAL_MS: i64 = 6_000;

/// The throughput limit as one send instance keeps it.
///
/// Meta limits messages per second per business number. Every concurrent invocation of the
/// `send` function sends for every number, and the event source mapping caps how many run at
/// once (`MaximumConcurrency`, the template's `SendConcurrency`): each instance keeps
/// `per_second / instances` for itself, so that together they never exceed the limit, and no
/// shared counter is written per message (DynamoDB writes per send stay at two: claim and
/// record). The price: one number reaches its full rate only when its messages are spread over
/// all instances — which is how SQS FIFO spreads a burst to many recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThroughputShare {
    /// Messages per second from one business number (Meta's limit: 80 by default).
    pub per_second: u64,
    /// How many send instances share it (at least 1).
    pub instances: u64,
}

impl ThroughputShare {
    /// Microseconds between two sends of one number from this instance (rounded up: the
    /// instances together stay at or under the limit).
    #[must_use]
    pub fn spacing_micros(self) -> i64 {
        let per_second = self.per_second.max(1);
        let micros = (1_000_000 * self.instances.max(1)).div_ceil(per_second);
        i64::try_from(micros).unwrap_or(i64::MAX)
    }
}

/// What [`SendPacer::acquire`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Send now (the slot is taken).
    Go,
    /// Not before this many milliseconds from now (nothing taken).
    Wait(u64),
}

/// Paces one instance's sends so that a burst queues instead of drawing 130429: evenly spaced
/// slots per business number at this instance's [`ThroughputShare`]. In memory, no I/O.
#[derive(Debug)]
pub struct SendPacer {
    share: ThroughputShare,
    /// Next free slot per phone number id, in microseconds since the epoch.
    next_slot: std::sync::Mutex<std::collections::HashMap<String, i64>>,
}

impl SendPacer {
    /// A pacer keeping `share`.
    #[must_use]
    pub fn new(share: ThroughputShare) -> Self {
        Self { share, next_slot: std::sync::Mutex::new(std::collections::HashMap::new()) }
    }

    /// The share it keeps.
    #[must_use]
    pub fn share(&self) -> ThroughputShare {
        self.share
    }

    /// Takes the next slot of `phone_number_id` if it has come at `now`, or says how long to wait.
    pub fn acquire(&self, phone_number_id: &str, now: Timestamp) -> Pace {
        let now_micros = now.as_millis().saturating_mul(1000);
        let spacing = self.share.spacing_micros();
        // A poisoned lock only means another task panicked mid-update of plain integers.
        let mut slots = self.next_slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let next = slots.get(phone_number_id).copied().unwrap_or(i64::MIN);
        if next > now_micros {
            let wait_ms = (next - now_micros + 999) / 1000;
            return Pace::Wait(u64::try_from(wait_ms).unwrap_or(u64::MAX));
        }
        slots.insert(phone_number_id.to_owned(), now_micros.saturating_add(spacing));
        Pace::Go
    }
}

/// How long to wait before the next message to one person: Meta's pair limit counted from
/// `previous_send` (when Meta accepted the last message to them). Zero when it has passed.
#[must_use]
pub fn pair_wait(previous_send: Option<Timestamp>, interval_ms: i64, now: Timestamp) -> u64 {
    previous_send
        .map(|at| at.as_millis().saturating_add(interval_ms) - now.as_millis())
        .and_then(|ms| u64::try_from(ms).ok())
        .unwrap_or(0)
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
