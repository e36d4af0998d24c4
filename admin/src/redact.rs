//! Redaction of queue messages for `dlq peek`: the operator sees the shape of a message and the
//! ids that locate it (tenant routing ids, message and lead ids, types, times), never a phone
//! number, a name, an email or a message text (P17: personal data stays out of operator tools
//! as it stays out of logs).
//!
//! An allowlist, not a blocklist: a string is shown only under a key known to hold an id or a
//! kind, and even then not when it looks like a phone number or an email. Every other string
//! becomes `«redacted: N chars»`; numbers of 7 digits or more are redacted too.

use serde_json::{Map, Value};

/// Keys whose string values are ids, kinds or times, never personal data.
const SHOWN_KEYS: &[&str] = &[
    "v",
    "type",
    "kind",
    "field",
    "object",
    "status",
    "timestamp",
    "time",
    "created_time",
    "phone_number_id",
    "waba_id",
    "page_id",
    "form_id",
    "ad_id",
    "adgroup_id",
    "leadgen_id",
    "tenant_id",
    "message_id",
    "conversation_id",
    "job_id",
    "import_id",
    "messaging_product",
    "code",
    "error_code",
    "id",
];

/// What replaces a redacted string.
fn redacted(text: &str) -> Value {
    Value::String(format!("«redacted: {} chars»", text.chars().count()))
}

/// A phone number (7+ digits once separators are gone) or an email.
fn looks_personal(text: &str) -> bool {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let only_phone_chars = text.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
    text.contains('@') || (only_phone_chars && digits >= 7 && !text.contains('.')) || contains_phone(text)
}

/// A run of 10+ digits inside a longer string (a wamid embeds the sender's number).
fn contains_phone(text: &str) -> bool {
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run >= 10 {
            return true;
        }
    }
    false
}

fn redact_value(key: Option<&str>, value: &Value) -> Value {
    match value {
        Value::String(text) => {
            let shown = key.is_some_and(|k| SHOWN_KEYS.contains(&k)) && !looks_personal(text);
            // Ids Meta assigns to Pages, forms and numbers are long digit runs, and not personal.
            let routing_id = key.is_some_and(|k| {
                ["phone_number_id", "waba_id", "page_id", "form_id", "ad_id", "adgroup_id", "leadgen_id"]
                    .contains(&k)
            });
            if shown || routing_id || (key == Some("timestamp") && text.chars().all(|c| c.is_ascii_digit())) {
                value.clone()
            } else {
                redacted(text)
            }
        }
        Value::Number(number) => {
            if number.to_string().chars().filter(char::is_ascii_digit).count() >= 7
                && !key.is_some_and(|k| ["timestamp", "time", "code", "error_code"].contains(&k))
            {
                redacted(&number.to_string())
            } else {
                value.clone()
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(|item| redact_value(key, item)).collect()),
        Value::Object(map) => {
            let redacted_map: Map<String, Value> =
                map.iter().map(|(k, v)| (k.clone(), redact_value(Some(k), v))).collect();
            Value::Object(redacted_map)
        }
        Value::Null | Value::Bool(_) => value.clone(),
    }
}

/// The body, redacted: JSON keeps its shape; anything else is shown by its length only.
#[must_use]
pub fn body(raw: &str) -> Value {
    match serde_json::from_str::<Value>(raw) {
        Ok(value) => redact_value(None, &value),
        Err(_) => redacted(raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_inbound_message_keeps_its_ids_and_loses_its_person() {
        // Arrange: an inbound event as the webhook enqueues it.
        let raw = json!({"v": 1, "event": {"message": {
            "waba_id": "102290129340398", "phone_number_id": "123456789012345",
            "contact": {"profile": {"name": "Ana Souza"}, "wa_id": "5511988887777"},
            "message": {"from": "5511988887777", "id": "wamid.HBgN5511988887777AA==", "timestamp": "1767225601",
                "type": "text", "text": {"body": "Olá, quero saber o preço"}},
            "lead": {"field_data": [{"name": "email", "values": ["ana@example.com", "+55 11 98888-7777"]}]}
        }}})
        .to_string();

        // Act
        let shown = body(&raw).to_string();

        // Assert
        for secret in ["Ana Souza", "5511988887777", "quero saber", "ana@example.com", "98888"] {
            assert!(!shown.contains(secret), "{secret} shown in {shown}");
        }
        for kept in ["123456789012345", "102290129340398", "\"text\"", "1767225601", "«redacted"] {
            assert!(shown.contains(kept), "{kept} missing from {shown}");
        }
    }

    #[test]
    fn a_body_that_is_not_json_is_shown_by_its_length_only() {
        assert_eq!(body("call me at 5511988887777"), json!("«redacted: 24 chars»"));
    }
}
