//! A typed model of what the WhatsApp Cloud API and Lead Ads send: inbound messages of every
//! type, statuses, user preferences, errors, leadgen changes and retrieved leads.
//!
//! Lenient where Meta is: ids and timestamps arrive as strings or numbers; every part that a
//! message type may omit is optional. Fields not modelled here are not lost: the events keep the
//! raw JSON, which is stored as received.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// A string or an integer, as text (Meta's ids: never through a float).
fn lenient_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Text(String),
        Int(u64),
    }
    Ok(match Either::deserialize(deserializer)? {
        Either::Text(text) => text,
        Either::Int(int) => int.to_string(),
    })
}

fn lenient_opt_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Text(String),
        Int(u64),
    }
    Ok(Option::<Either>::deserialize(deserializer)?.map(|either| match either {
        Either::Text(text) => text,
        Either::Int(int) => int.to_string(),
    }))
}

/// Epoch seconds sent as `"1767225600"` or `1767225600`.
fn lenient_secs<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let text = lenient_string(deserializer)?;
    text.trim().parse().map_err(|_| serde::de::Error::custom("timestamp is not whole epoch seconds"))
}

/// `contacts[]` of a messages payload: who wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactEntry {
    /// The profile the user chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// The phone number (absent for username users since 2026).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    /// The business-scoped user id (BSUID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// A WhatsApp profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Username, when the user has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// An inbound message (`messages[]`), every documented type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundMessage {
    /// The wamid.
    pub id: String,
    /// The sender's phone number (may be absent since 2026).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The sender's BSUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_user_id: Option<String>,
    /// When it was sent, epoch seconds.
    #[serde(deserialize_with = "lenient_secs")]
    pub timestamp: i64,
    /// `text`, `image`, `interactive`, … (unknown types are kept as they are).
    #[serde(rename = "type")]
    pub kind: String,
    /// `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Text>,
    /// `image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Media>,
    /// `video`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<Media>,
    /// `audio` (voice notes have `voice: true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<Media>,
    /// `document`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Media>,
    /// `sticker`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticker: Option<Media>,
    /// `location`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// `contacts`: shared contact cards, vCard-like.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<Value>>,
    /// `interactive`: a reply to buttons, a list, or a Flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactive: Option<Interactive>,
    /// `button`: a template quick-reply tap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button: Option<Button>,
    /// `reaction`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaction: Option<Reaction>,
    /// `order`: a cart sent from a catalog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
    /// `system`: e.g. the user changed number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<System>,
    /// `unsupported`: what kind of message WhatsApp could not deliver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsupported: Option<Value>,
    /// Errors of an `unsupported` message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<MetaError>,
    /// Reply or forward context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
    /// Click-to-WhatsApp ad referral (first message from an ad only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<Referral>,
}

impl InboundMessage {
    /// The text a person would read first: body, caption, button or reply title.
    #[must_use]
    pub fn text_body(&self) -> Option<&str> {
        if let Some(text) = &self.text {
            return Some(&text.body);
        }
        if let Some(button) = &self.button {
            return button.text.as_deref();
        }
        if let Some(interactive) = &self.interactive {
            return interactive.reply_title();
        }
        self.media().and_then(|m| m.caption.as_deref())
    }

    /// The media part, for media types.
    #[must_use]
    pub fn media(&self) -> Option<&Media> {
        self.image
            .as_ref()
            .or(self.video.as_ref())
            .or(self.audio.as_ref())
            .or(self.document.as_ref())
            .or(self.sticker.as_ref())
    }
}

/// `text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    /// The body.
    pub body: String,
}

/// Media of an image, video, audio, document or sticker message. Downloading is a later step;
/// the id is valid for 7 days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    /// Media id for `GET /<MEDIA_ID>`.
    #[serde(deserialize_with = "lenient_string")]
    pub id: String,
    /// MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// SHA-256 of the file (base64 or hex, as Meta sends it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Caption (image, video, document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// File name (document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// True for voice notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<bool>,
    /// True for animated stickers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub animated: Option<bool>,
}

/// `location`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// Latitude.
    pub latitude: f64,
    /// Longitude.
    pub longitude: f64,
    /// Place name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `interactive`: which reply the user chose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interactive {
    /// `button_reply`, `list_reply` or `nfm_reply`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A reply button.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button_reply: Option<Reply>,
    /// A list row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_reply: Option<Reply>,
    /// A Flow (or address message) response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nfm_reply: Option<FlowReply>,
}

impl Interactive {
    /// The chosen reply's title.
    #[must_use]
    pub fn reply_title(&self) -> Option<&str> {
        self.button_reply.as_ref().or(self.list_reply.as_ref()).map(|r| r.title.as_str())
    }
}

/// A chosen button or list row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The id the business gave it.
    pub id: String,
    /// Its title.
    pub title: String,
    /// List rows have a description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A WhatsApp Flow response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowReply {
    /// The Flow (or `address_message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A summary text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The answers, as a JSON string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_json: Option<String>,
}

/// `button`: a template quick-reply tap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    /// The payload the template defined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// The button text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// `reaction`: `emoji` is absent when the user removed the reaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// The wamid reacted to.
    pub message_id: String,
    /// The emoji.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
}

/// `order`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// Catalog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_id: Option<String>,
    /// The user's note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Items: product, quantity, price, currency.
    #[serde(default)]
    pub product_items: Vec<Value>,
}

/// `system`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct System {
    /// What happened, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// e.g. `user_changed_number`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The new wa_id (number change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
}

/// `context`: what the message replies to, or that it was forwarded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// The business number replied to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The wamid replied to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Forwarded (5 times or fewer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded: Option<bool>,
    /// Forwarded more than 5 times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequently_forwarded: Option<bool>,
    /// "Message business" on a product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referred_product: Option<Value>,
}

/// Click-to-WhatsApp ad referral.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Referral {
    /// Ad URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    /// Ad id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// `ad` or `post`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    /// Ad headline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<String>,
    /// Ad body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Click id for conversion reporting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctwa_clid: Option<String>,
}

/// An error as Meta reports it (statuses, unsupported messages, value-level errors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MetaError {
    /// The code (131047, 130429, …).
    pub code: i64,
    /// Short title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Message (usually the title).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_data: Option<ErrorData>,
    /// Documentation link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
}

/// `error_data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ErrorData {
    /// Human-readable details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// One status of an outbound message (`statuses[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusUpdate {
    /// The wamid of the outbound message.
    pub id: String,
    /// `sent`, `delivered`, `read`, `played` or `failed`.
    pub status: String,
    /// When, epoch seconds.
    #[serde(deserialize_with = "lenient_secs")]
    pub timestamp: i64,
    /// The recipient's phone number (or group id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_id: Option<String>,
    /// The recipient's BSUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_user_id: Option<String>,
    /// Echo of the send's correlation data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_opaque_callback_data: Option<String>,
    /// Conversation (older API versions and free entry points).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Value>,
    /// Pricing (`sent` and one of delivered/read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<Value>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<MetaError>,
}

/// One `user_preferences[]` entry: a user stopped or resumed marketing messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPreference {
    /// The user's phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    /// The user's BSUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// e.g. `marketing_messages`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// `stop` or `resume`.
    pub value: String,
    /// Meta's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// When, epoch seconds.
    #[serde(deserialize_with = "lenient_secs")]
    pub timestamp: i64,
}

/// The value of a `leadgen` change. Meta's sample sends ids as numbers; real traffic as strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadgenChange {
    /// The lead to fetch.
    #[serde(deserialize_with = "lenient_string")]
    pub leadgen_id: String,
    /// The Page.
    #[serde(default, deserialize_with = "lenient_opt_string", skip_serializing_if = "Option::is_none")]
    pub page_id: Option<String>,
    /// The form.
    #[serde(default, deserialize_with = "lenient_opt_string", skip_serializing_if = "Option::is_none")]
    pub form_id: Option<String>,
    /// The ad set.
    #[serde(default, deserialize_with = "lenient_opt_string", skip_serializing_if = "Option::is_none")]
    pub adgroup_id: Option<String>,
    /// The ad.
    #[serde(default, deserialize_with = "lenient_opt_string", skip_serializing_if = "Option::is_none")]
    pub ad_id: Option<String>,
    /// When, epoch seconds.
    #[serde(default, deserialize_with = "lenient_opt_string", skip_serializing_if = "Option::is_none")]
    pub created_time: Option<String>,
}

/// A lead as `GET /<LEADGEN_ID>` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphLead {
    /// The leadgen id.
    #[serde(deserialize_with = "lenient_string")]
    pub id: String,
    /// ISO 8601.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<String>,
    /// The ad.
    #[serde(default, deserialize_with = "lenient_opt_string", skip_serializing_if = "Option::is_none")]
    pub ad_id: Option<String>,
    /// The form.
    #[serde(default, deserialize_with = "lenient_opt_string", skip_serializing_if = "Option::is_none")]
    pub form_id: Option<String>,
    /// The answers.
    #[serde(default)]
    pub field_data: Vec<LeadField>,
    /// Custom disclaimer checkboxes (consent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_disclaimer_responses: Vec<DisclaimerResponse>,
}

/// One form answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadField {
    /// The question (`full_name`, `email`, `phone_number`, or a custom id).
    pub name: String,
    /// The answers.
    #[serde(default)]
    pub values: Vec<String>,
}

/// One custom disclaimer checkbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisclaimerResponse {
    /// The checkbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkbox_key: Option<String>,
    /// `"1"`/`true` when checked.
    #[serde(default)]
    pub is_checked: Value,
}

impl GraphLead {
    /// The first answer to the question named `name`.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&str> {
        self.field_data.iter().find(|f| f.name == name).and_then(|f| f.values.first()).map(String::as_str)
    }

    /// True when the form carried consent: a checked disclaimer checkbox, or an answer to a
    /// question named like a consent or opt-in with a yes-like value.
    #[must_use]
    pub fn carries_consent(&self) -> bool {
        let yes = |v: &str| {
            matches!(
                v.trim().to_lowercase().as_str(),
                "1" | "true" | "yes" | "sim" | "si" | "sí" | "oui" | "ja"
            )
        };
        let checked = self.custom_disclaimer_responses.iter().any(|r| match &r.is_checked {
            Value::Bool(b) => *b,
            Value::String(s) => yes(s),
            Value::Number(n) => n.as_i64() == Some(1),
            _ => false,
        });
        let answered = self.field_data.iter().any(|f| {
            let name = f.name.to_lowercase();
            (name.contains("consent")
                || name.contains("opt_in")
                || name.contains("optin")
                || name.contains("whatsapp_opt"))
                && f.values.iter().any(|v| yes(v))
        });
        checked || answered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_timestamps_parse_as_strings_or_numbers() {
        let change: LeadgenChange = serde_json::from_str(
            r#"{"leadgen_id":123123123123456789,"page_id":"123","form_id":12,"created_time":1440120384}"#,
        )
        .expect("parses");
        assert_eq!(change.leadgen_id, "123123123123456789", "no float rounding");
        let status: StatusUpdate =
            serde_json::from_str(r#"{"id":"wamid.A","status":"sent","timestamp":"1767225780"}"#)
                .expect("parses");
        assert_eq!(status.timestamp, 1_767_225_780);
    }

    #[test]
    fn text_body_prefers_the_visible_text() {
        let image: InboundMessage = serde_json::from_str(
            r#"{"id":"w","timestamp":"1","type":"image","image":{"id":"9","mime_type":"image/jpeg","caption":"hi"}}"#,
        )
        .expect("parses");
        assert_eq!(image.text_body(), Some("hi"));
        assert_eq!(image.media().map(|m| m.id.as_str()), Some("9"));
    }

    #[test]
    fn consent_is_read_from_checkboxes_or_consent_questions() {
        let lead = |extra: &str| -> GraphLead {
            serde_json::from_str(&format!(
                r#"{{"id":"1","field_data":[{{"name":"email","values":["a@b.c"]}}]{extra}}}"#
            ))
            .expect("parses")
        };
        assert!(!lead("").carries_consent());
        assert!(lead(r#","custom_disclaimer_responses":[{"checkbox_key":"wa","is_checked":"1"}]"#)
            .carries_consent());
        assert!(!lead(r#","custom_disclaimer_responses":[{"checkbox_key":"wa","is_checked":""}]"#)
            .carries_consent());
    }
}
