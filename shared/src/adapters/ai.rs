//! [`AiProvider`] for any OpenAI-compatible chat-completions API (OpenAI, Azure OpenAI's v1
//! endpoint, Mistral, Groq, a self-hosted vLLM…): `POST <base>/chat/completions` with the
//! tenant's key as a bearer token. Redirects are not followed, so a provider cannot bounce the
//! request (and the key) elsewhere.

use std::time::Duration;

use anyhow::Context as _;
use serde_json::{json, Value};

use super::http::client_builder;
use crate::domain::ai::{AiProvider, AiProviderError, ProviderCall, Speaker, Turn};

/// An OpenAI-compatible provider client.
#[derive(Debug, Clone)]
pub struct OpenAiCompatible {
    http: reqwest::Client,
}

impl OpenAiCompatible {
    /// A client: 20 s per request (completions are slow), which leaves a batch room within the
    /// function's 60 s timeout.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new() -> anyhow::Result<Self> {
        let http = client_builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the AI provider HTTP client")?;
        Ok(Self { http })
    }
}

/// The chat-completions request: `instructions` as the system message, then the turns.
fn request_body(model: &str, instructions: &str, turns: &[Turn]) -> Value {
    let mut messages = vec![json!({"role": "system", "content": instructions})];
    messages.extend(turns.iter().map(|turn| {
        let role = match turn.speaker {
            Speaker::Customer => "user",
            Speaker::Business => "assistant",
        };
        json!({"role": role, "content": turn.text.as_str()})
    }));
    json!({"model": model, "messages": messages, "temperature": 0.4})
}

impl AiProvider for OpenAiCompatible {
    async fn complete(
        &self,
        call: &ProviderCall<'_>,
        instructions: &str,
        turns: &[Turn],
    ) -> Result<String, AiProviderError> {
        let response = self
            .http
            .post(format!("{}/chat/completions", call.base_url))
            .bearer_auth(call.api_key.expose())
            .json(&request_body(call.model, instructions, turns))
            .send()
            .await
            .map_err(|e| {
                AiProviderError::Unavailable(anyhow::Error::new(e).context("AI provider request failed"))
            })?;
        let status = response.status();
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(AiProviderError::Unavailable(anyhow::anyhow!(
                "the AI provider answered HTTP {status}"
            )));
        }
        if !status.is_success() {
            return Err(AiProviderError::Refused { status: status.as_u16() });
        }
        let answer: Value = response.json().await.context("reading the AI provider's answer")?;
        let content = answer
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .context("the answer has no choices[0].message.content")?;
        if content.trim().is_empty() {
            return Err(AiProviderError::Unknown(anyhow::anyhow!("the answer is empty")));
        }
        Ok(content.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ai::redact;

    #[test]
    fn the_request_carries_the_instructions_and_the_redacted_turns_in_order() {
        let turns = [
            Turn { speaker: Speaker::Customer, text: redact("Hi, I'm Ana, call 5511987654321", &["Ana"]) },
            Turn { speaker: Speaker::Business, text: redact("Hello!", &[]) },
        ];
        let body = request_body("small-model", "Be brief.", &turns);
        assert_eq!(body["model"], "small-model");
        assert_eq!(body["messages"][0], json!({"role": "system", "content": "Be brief."}));
        assert_eq!(body["messages"][1], json!({"role": "user", "content": "Hi, I'm [name], call [phone]"}));
        assert_eq!(body["messages"][2], json!({"role": "assistant", "content": "Hello!"}));
    }
}
