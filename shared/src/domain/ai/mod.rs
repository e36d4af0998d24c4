//! AI suggestions — replies, summaries, sentiment (P30) — under the rules of P31 and P63.
//!
//! - Nothing is sent to an AI provider unless the tenant turned AI on **and** connected a
//!   provider, and the contact is not restricted ([`ai_gate`], checked when a suggestion is
//!   requested and again right before the provider is called).
//! - What reaches a provider is [`RedactedText`], which only [`redact`] makes: phone numbers,
//!   emails, URLs, handles, long numbers, mixed letter-digit ids and the contact's own name are
//!   replaced by placeholders first. A provider adapter cannot be handed anything else.
//! - A suggestion is stored sealed under the contact's data key, expires with
//!   [`suggestion_expiry`], and goes with its conversation or an erasure.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;

use serde::{Deserialize, Serialize};

use super::ids::{ContactId, ConversationId, SuggestionId, TenantId};
use super::inbox::{InboxError, MessageView};
use super::secret::{Sealed, Secret};
use super::tenant::{RetentionSettings, TenantSettings};
use super::time::{ExpiresAt, Timestamp};
use crate::kernel::random::RandomUnavailable;

mod redaction;
mod suggestions;
pub use redaction::{redact, RedactedText};
pub use suggestions::{
    suggestion_expiry, SuggestionJob, SuggestionOutcome, SuggestionStatus, SuggestionStore, SuggestionView,
};

// ---------------------------------------------------------------------------------------------
// Providers and the gate
// ---------------------------------------------------------------------------------------------

/// The AI providers a deployment offers (`AI_PROVIDERS`): name → base URL of an
/// OpenAI-compatible API (`…/v1`). Tenants choose among these by name and bring their own key;
/// they never give a URL, so no tenant can make the functions call an address of its choosing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AiProviders(BTreeMap<String, String>);

impl AiProviders {
    /// Providers from `(name, base_url)` pairs (validated by the caller, see `config`).
    #[must_use]
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Self(pairs.into_iter().collect())
    }

    /// The base URL of the provider `name`.
    #[must_use]
    pub fn base_url(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The providers' names, sorted.
    #[must_use]
    pub fn names(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// A tenant's AI provider as connected through `PUT /v1/ai`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AiConnection {
    /// One of the deployment's [`AiProviders`].
    pub provider: String,
    /// The model to ask (`gpt-4o-mini`, …), as the provider names it.
    pub model: String,
    /// The tenant's provider API key, sealed under `{tenant_id, integration_secret}`.
    pub api_key: Sealed,
    /// When it was connected.
    pub connected_at: Timestamp,
}

/// Why no AI processing may happen for a conversation.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, thiserror::Error,
)]
#[serde(rename_all = "snake_case")]
pub enum AiRefusal {
    /// The tenant has not turned AI on (`settings.ai_enabled`, `PATCH /v1/tenant`).
    #[error("AI is off for this tenant: an admin turns it on with settings.ai_enabled in PATCH /v1/tenant")]
    Disabled,
    /// AI is on but no provider is connected.
    #[error("no AI provider is connected: an admin connects one with PUT /v1/ai")]
    NotConnected,
    /// The contact objected to processing (P63).
    #[error("the contact objected to processing: no AI runs on their conversations")]
    Restricted,
}

impl AiRefusal {
    /// A stable code (problem type suffix and stored reason).
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Disabled => "ai-disabled",
            Self::NotConnected => "ai-not-connected",
            Self::Restricted => "contact-restricted",
        }
    }
}

/// Whether AI may process a conversation with a contact (P31, P63): the provider to use when
/// it may.
///
/// # Errors
/// The first [`AiRefusal`] that applies.
pub fn ai_gate<'a>(
    settings: &TenantSettings,
    connection: Option<&'a AiConnection>,
    restricted_at: Option<i64>,
) -> Result<&'a AiConnection, AiRefusal> {
    if !settings.ai_enabled {
        return Err(AiRefusal::Disabled);
    }
    let connection = connection.ok_or(AiRefusal::NotConnected)?;
    if restricted_at.is_some() {
        return Err(AiRefusal::Restricted);
    }
    Ok(connection)
}

// ---------------------------------------------------------------------------------------------
// The conversation as a provider sees it
// ---------------------------------------------------------------------------------------------

/// Who wrote a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    /// The tenant's customer (inbound).
    Customer,
    /// The business (outbound).
    Business,
}

/// One message of the conversation, redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// Who wrote it.
    pub speaker: Speaker,
    /// What it said, redacted.
    pub text: RedactedText,
}

/// How many of a conversation's latest messages a suggestion looks at.
pub const CONTEXT_MESSAGES: u16 = 20;

/// The text a message shows (body, caption, button or list title); `None` for what has no text
/// (media without caption, locations, reactions, sanitized content). Only these fields are
/// read: the rest of a payload (sender number, ids, coordinates) never leaves.
#[must_use]
pub fn message_text(message: &MessageView) -> Option<String> {
    let payload = message.payload.as_ref()?;
    let part = payload.get(message.kind.as_str())?;
    let text = match message.kind.as_str() {
        "text" => part.get("body"),
        "button" => part.get("text"),
        "image" | "video" | "document" => part.get("caption"),
        "interactive" => part
            .pointer("/button_reply/title")
            .or_else(|| part.pointer("/list_reply/title"))
            .or_else(|| part.pointer("/body/text")),
        "template" => return Some("[a template message]".to_owned()),
        _ => None,
    }?;
    text.as_str().map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned)
}

/// The conversation's messages as redacted turns, oldest first.
#[must_use]
pub fn turns(messages: &[MessageView], names: &[&str]) -> Vec<Turn> {
    messages
        .iter()
        .filter_map(|message| {
            let text = message_text(message)?;
            let speaker = if message.direction == "inbound" { Speaker::Customer } else { Speaker::Business };
            Some(Turn { speaker, text: redact(&text, names) })
        })
        .collect()
}

/// What an agent asks the AI for (P30).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SuggestionKind {
    /// Up to three replies the agent could send next.
    #[default]
    Replies,
    /// A few sentences on what the conversation is about and where it stands.
    Summary,
    /// The customer's mood.
    Sentiment,
}

/// How every request starts: the provider sees placeholders, not people.
const PREAMBLE: &str = "You help a customer-service agent of a business that talks to a customer \
on WhatsApp. The conversation follows; personal details were replaced by placeholders such as \
[name], [phone], [email], [url], [id] and [number] — keep any placeholder you need as it is. ";

impl SuggestionKind {
    /// Its stored and shown name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Replies => "replies",
            Self::Summary => "summary",
            Self::Sentiment => "sentiment",
        }
    }

    /// The kind named `name`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Replies, Self::Summary, Self::Sentiment].into_iter().find(|k| k.as_str() == name)
    }

    /// What the provider is asked to do.
    #[must_use]
    pub fn instructions(self) -> String {
        let task = match self {
            Self::Replies => {
                "Suggest up to three short, friendly replies the agent could send next, in the \
                 customer's language. Answer only with JSON: {\"replies\": [\"…\", \"…\"]}."
            }
            Self::Summary => {
                "Summarize the conversation for a colleague taking it over, in at most three \
                 sentences: what the customer wants and where it stands. Answer only with JSON: \
                 {\"summary\": \"…\"}."
            }
            Self::Sentiment => {
                "Classify the customer's sentiment in this conversation as positive, neutral, \
                 negative or mixed. Answer only with JSON: {\"sentiment\": \"…\"}."
            }
        };
        format!("{PREAMBLE}{task}")
    }
}

/// The customer's mood in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Sentiment {
    Positive,
    Neutral,
    Negative,
    Mixed,
}

/// What the AI produced for a request: one field, by its kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AiResult {
    /// Suggested replies (`replies`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replies: Vec<String>,
    /// The summary (`summary`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The sentiment (`sentiment`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<Sentiment>,
}

/// The most replies kept, and the longest reply or summary (characters).
pub const MAX_REPLIES: usize = 3;
const MAX_TEXT_CHARS: usize = 1_000;

/// The answer without a Markdown code fence, and its JSON when it is JSON.
fn unfenced(content: &str) -> (&str, Option<serde_json::Value>) {
    let trimmed =
        content.trim().trim_start_matches("```json").trim_start_matches("```").trim_end_matches("```").trim();
    (trimmed, serde_json::from_str(trimmed).ok())
}

fn bounded(text: &str) -> String {
    text.trim().chars().take(MAX_TEXT_CHARS).collect()
}

/// Reads a provider's answer to a request of `kind`: the JSON asked for, or else plain text
/// (replies: one per non-empty line, bullets and numbering removed; summary: the text;
/// sentiment: the first label named). `None` when it holds nothing usable.
#[must_use]
pub fn parse_answer(kind: SuggestionKind, content: &str) -> Option<AiResult> {
    let (text, json) = unfenced(content);
    let field = |name: &str| json.as_ref().and_then(|v| v.get(name)).cloned();
    let result = match kind {
        SuggestionKind::Replies => {
            let replies: Vec<String> = match field("replies").and_then(|v| v.as_array().cloned()) {
                Some(replies) => replies.iter().filter_map(|r| r.as_str().map(str::to_owned)).collect(),
                None => text
                    .lines()
                    .map(|line| {
                        line.trim().trim_start_matches(|c: char| {
                            c.is_ascii_digit() || matches!(c, '-' | '*' | '.' | ')' | ' ')
                        })
                    })
                    .map(str::to_owned)
                    .collect(),
            };
            let replies: Vec<String> =
                replies.iter().map(|r| bounded(r)).filter(|r| !r.is_empty()).take(MAX_REPLIES).collect();
            AiResult { replies, ..AiResult::default() }.filter_empty()?
        }
        SuggestionKind::Summary => {
            let summary = match field("summary") {
                Some(summary) => bounded(summary.as_str()?),
                None if json.is_none() => bounded(text),
                None => return None,
            };
            AiResult { summary: Some(summary).filter(|s| !s.is_empty()), ..AiResult::default() }
                .filter_empty()?
        }
        SuggestionKind::Sentiment => {
            let named = field("sentiment")
                .and_then(|v| v.as_str().map(str::to_lowercase))
                .unwrap_or_else(|| text.to_lowercase());
            let sentiment = [
                ("mixed", Sentiment::Mixed),
                ("negative", Sentiment::Negative),
                ("positive", Sentiment::Positive),
                ("neutral", Sentiment::Neutral),
            ]
            .into_iter()
            .filter_map(|(label, sentiment)| named.find(label).map(|at| (at, sentiment)))
            .min_by_key(|(at, _)| *at)
            .map(|(_, sentiment)| sentiment)?;
            AiResult { sentiment: Some(sentiment), ..AiResult::default() }
        }
    };
    Some(result)
}

impl AiResult {
    fn filter_empty(self) -> Option<Self> {
        (!self.replies.is_empty() || self.summary.is_some() || self.sentiment.is_some()).then_some(self)
    }
}

/// Errors of [`AiProvider::complete`].
#[derive(Debug, thiserror::Error)]
pub enum AiProviderError {
    /// The provider refused the request (bad key, unknown model, content refused): retrying the
    /// same request will not help.
    #[error("the AI provider refused the request (HTTP {status})")]
    Refused {
        /// The HTTP status it answered.
        status: u16,
    },
    /// Unreachable, rate limited or failing (network, 429, 5xx): retry later.
    #[error("the AI provider is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// It answered something that is not a chat completion.
    #[error("the AI provider's answer could not be read")]
    Unknown(#[from] anyhow::Error),
}

/// Where a provider is and how to call it.
#[derive(Debug, Clone)]
pub struct ProviderCall<'a> {
    /// The base URL of its OpenAI-compatible API (from the deployment's [`AiProviders`]).
    pub base_url: &'a str,
    /// The model.
    pub model: &'a str,
    /// The tenant's key, opened just for this call.
    pub api_key: &'a Secret,
}

/// An external AI provider (a chat-completions API). Takes only redacted turns.
pub trait AiProvider: Send + Sync {
    /// The provider's answer to `instructions` (from [`SuggestionKind::instructions`]) about the
    /// conversation `turns`, as text; [`parse_answer`] reads it.
    ///
    /// # Errors
    /// [`AiProviderError`] as documented on each case.
    fn complete(
        &self,
        call: &ProviderCall<'_>,
        instructions: &str,
        turns: &[Turn],
    ) -> impl Future<Output = Result<String, AiProviderError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(text: &str) -> String {
        redact(text, &["Maria Souza"]).as_str().to_owned()
    }

    #[test]
    fn identifiers_are_replaced_and_the_meaning_stays() {
        let cases = [
            ("Call me on +55 11 98765-4321 tomorrow", "Call me on [phone] tomorrow"),
            ("my number is (11) 98765 4321.", "my number is [phone]."),
            ("Write to maria.souza@example.com, thanks", "Write to [email], thanks"),
            ("See https://shop.example.com/o?id=9 now", "See [url] now"),
            ("or www.example.org", "or [url]"),
            ("bit.ly/abc is the link", "[url] is the link"),
            ("Order AB123456 arrived", "Order [id] arrived"),
            ("CPF 123.456.789-09 ok", "CPF [phone] ok"),
            ("postcode 01310100", "postcode [phone]"),
            ("ticket 48213", "ticket [number]"),
            ("follow @maria_store", "follow [handle]"),
            ("Hi, I am Maria SOUZA, maria's sister", "Hi, I am [name] [name], [name]'s sister"),
            ("I want 3 tables at 10:30 for 250 reais", "I want 3 tables at 10:30 for 250 reais"),
        ];
        for (text, expected) in cases {
            assert_eq!(redacted(text), expected, "{text}");
        }
    }

    #[test]
    fn no_digit_of_a_phone_number_survives_in_any_common_spelling() {
        for phone in
            ["5511987654321", "+5511987654321", "+55 (11) 98765-4321", "11.98765.4321", "987 654 321"]
        {
            let out = redacted(&format!("number: {phone}!"));
            assert_eq!(out, "number: [phone]!", "{phone}");
        }
    }

    #[test]
    fn generated_phone_numbers_in_every_grouping_leave_no_digit_behind() {
        // A small deterministic generator: 200 numbers of 10 to 13 digits, in five spellings.
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        for _ in 0..200 {
            let length = 10 + usize::try_from(next(4)).unwrap_or(0);
            let digits: String =
                (0..length).map(|_| char::from(b'0' + u8::try_from(next(10)).unwrap_or(0))).collect();
            let (country, rest) = digits.split_at(2);
            let (area, local) = rest.split_at(2);
            let (head, tail) = local.split_at(local.len() / 2);
            for spelling in [
                digits.clone(),
                format!("+{digits}"),
                format!("+{country} {area} {head}-{tail}"),
                format!("+{country} ({area}) {head} {tail}"),
                format!("{country}.{area}.{head}.{tail}"),
            ] {
                let out = redacted(&format!("ligue {spelling}, obrigado"));
                assert_eq!(out, "ligue [phone], obrigado", "{spelling}");
            }
        }
    }

    #[test]
    fn emails_and_names_in_any_case_or_script_are_replaced() {
        let out = redact("JOSÉ here: Jose.Silva+promo@Example.COM.BR; josé said hi", &["José Silva"]);
        assert_eq!(out.as_str(), "[name] here: [email]; [name] said hi");
    }

    #[test]
    fn name_particles_stay_everyday_words() {
        let out = redact("Ana da Silva quer a mesa da sala", &["Ana da Silva"]);
        assert_eq!(out.as_str(), "[name] da [name] quer a mesa da sala");
    }

    #[test]
    fn a_placeholder_is_never_mistaken_for_a_name() {
        let out = redact("call [name] at 5511987654321", &["Name"]);
        assert_eq!(out.as_str(), "call [name] at [phone]");
    }

    #[test]
    fn redacted_text_does_not_print_itself() {
        assert_eq!(format!("{:?}", redact("hello Maria", &[])), "RedactedText(11 chars)");
    }

    #[test]
    fn the_gate_needs_ai_on_a_provider_and_an_unrestricted_contact() {
        let sealed = Sealed { wrapped_key: vec![1], nonce: [0; 12], ciphertext: vec![0; 16] };
        let connection = AiConnection {
            provider: "openai".into(),
            model: "m".into(),
            api_key: sealed,
            connected_at: Timestamp::from_millis(0),
        };
        let mut settings = TenantSettings::default();
        assert_eq!(ai_gate(&settings, Some(&connection), None), Err(AiRefusal::Disabled), "off by default");
        settings.ai_enabled = true;
        assert_eq!(ai_gate(&settings, None, None), Err(AiRefusal::NotConnected));
        assert_eq!(ai_gate(&settings, Some(&connection), Some(1)), Err(AiRefusal::Restricted));
        assert_eq!(ai_gate(&settings, Some(&connection), None), Ok(&connection));
    }

    #[test]
    fn replies_are_read_from_json_or_lines_and_bounded() {
        let replies = |content| parse_answer(SuggestionKind::Replies, content).map(|r| r.replies);
        assert_eq!(
            replies(r#"{"replies": ["Sure!", " ", "Yes, [name]."]}"#),
            Some(vec!["Sure!".into(), "Yes, [name].".into()])
        );
        assert_eq!(replies("```json\n{\"replies\": [\"a\"]}\n```"), Some(vec!["a".into()]));
        assert_eq!(
            replies("1. One\n- Two\n\n* Three\n4) Four"),
            Some(vec!["One".into(), "Two".into(), "Three".into()])
        );
        assert_eq!(replies(""), None);
    }

    #[test]
    fn a_summary_and_a_sentiment_are_read_from_json_or_text() {
        let summary = |content| parse_answer(SuggestionKind::Summary, content).and_then(|r| r.summary);
        let sentiment = |content| parse_answer(SuggestionKind::Sentiment, content).and_then(|r| r.sentiment);
        assert_eq!(summary(r#"{"summary": "Wants 3 chairs."}"#).as_deref(), Some("Wants 3 chairs."));
        assert_eq!(summary("Wants 3 chairs.").as_deref(), Some("Wants 3 chairs."));
        assert_eq!(summary(r#"{"other": 1}"#), None);
        assert_eq!(sentiment(r#"{"sentiment": "Negative"}"#), Some(Sentiment::Negative));
        assert_eq!(sentiment("Mostly positive, a little impatient"), Some(Sentiment::Positive));
        assert_eq!(sentiment("no idea"), None);
        assert!(SuggestionKind::Sentiment.instructions().contains("placeholders"));
    }

    #[test]
    fn only_the_text_of_a_message_is_taken_never_the_sender() {
        let message = |kind: &str, payload: serde_json::Value| MessageView {
            id: crate::domain::MessageId::generate(Timestamp::from_millis(1)).expect("random"),
            conversation_id: ConversationId::generate(Timestamp::from_millis(1)).expect("random"),
            wamid: None,
            direction: "inbound".into(),
            kind: kind.into(),
            timestamp: 1,
            status: crate::domain::inbox::MessageStatus::Received,
            statuses: BTreeMap::new(),
            error: None,
            payload: Some(payload),
            content_sanitized_at: None,
        };
        let text = message("text", serde_json::json!({"from": "5511987654321", "text": {"body": "Hello"}}));
        let button =
            message("interactive", serde_json::json!({"interactive": {"button_reply": {"title": "Yes"}}}));
        let location =
            message("location", serde_json::json!({"location": {"latitude": 1.0, "longitude": 2.0}}));
        let turns = turns(&[text, button, location], &[]);
        let said: Vec<&str> = turns.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(said, ["Hello", "Yes"]);
        assert!(turns.iter().all(|t| t.speaker == Speaker::Customer));
    }
}
