//! An outbound message in the Cloud API's own shape, checked against the Cloud API's rules before it is queued ([`OutboundBody::parse`]).

use super::*;

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

pub(super) fn invalid(field: &str, rule: impl Into<String>) -> InvalidMessage {
    InvalidMessage { field: field.to_owned(), rule: rule.into() }
}

pub(super) fn text_field<'a>(
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

pub(super) fn object_at<'a>(
    value: Option<&'a Value>,
    path: &str,
) -> Result<&'a Map<String, Value>, InvalidMessage> {
    value.and_then(Value::as_object).ok_or_else(|| invalid(path, "must be an object"))
}

pub(super) fn array<'a>(
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

pub(super) fn https_url(
    object: &Map<String, Value>,
    field: &str,
    path: &str,
) -> Result<Option<String>, InvalidMessage> {
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

pub(super) fn wamid_field(object: &Map<String, Value>, path: &str) -> Result<(), InvalidMessage> {
    let id = text_field(object, "message_id", path, 256, true)?.unwrap_or_default();
    if !id.starts_with("wamid.") {
        return Err(invalid(path, "must be a WhatsApp message id (wamid.…)"));
    }
    Ok(())
}

pub(super) fn media(object: &Map<String, Value>, kind: &str) -> Result<(), InvalidMessage> {
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

pub(super) fn interactive(object: &Map<String, Value>) -> Result<(), InvalidMessage> {
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

pub(super) fn template(object: &Map<String, Value>) -> Result<TemplateUse, InvalidMessage> {
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
        let own_callback =
            text_field(top, "biz_opaque_callback_data", "biz_opaque_callback_data", 512, false)?;
        // Statuses find Leadline's messages by the callback data the send sets: a caller's own
        // value in that form would have another message's statuses attributed to this one.
        if own_callback.is_some_and(|own| own.starts_with(CALLBACK_PREFIX)) {
            return Err(invalid(
                "biz_opaque_callback_data",
                format!("must not start with \"{}\" (reserved for Leadline's own)", CALLBACK_PREFIX),
            ));
        }
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
