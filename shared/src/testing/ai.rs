//! An AI provider in memory.

use super::*;

/// One call the fake AI provider received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiCall {
    /// The provider's base URL.
    pub base_url: String,
    /// The model asked for.
    pub model: String,
    /// The key presented.
    pub api_key: String,
    /// The system instructions.
    pub instructions: String,
    /// The turns' text, in order.
    pub texts: Vec<String>,
}

/// An AI provider in memory: records every call, answers with set content or an error status.
#[derive(Debug, Clone, Default)]
pub struct MemoryAi {
    calls: Arc<Mutex<Vec<AiCall>>>,
    /// `Some(status)`: answer with that HTTP status (429 and 5xx: unavailable; others: refused).
    failing: Arc<Mutex<Option<u16>>>,
    /// The answer's content; two replies as JSON when unset.
    answer: Arc<Mutex<Option<String>>>,
}

/// What [`MemoryAi`] answers unless told otherwise.
pub const MEMORY_AI_REPLIES: [&str; 2] = ["Hello [name], how can I help?", "Thanks for writing!"];

impl MemoryAi {
    /// The calls so far.
    #[must_use]
    pub fn calls(&self) -> Vec<AiCall> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Answers the following calls with `status` (`None`: succeed again).
    pub fn fail_with(&self, status: Option<u16>) {
        if let Ok(mut failing) = self.failing.lock() {
            *failing = status;
        }
    }

    /// Answers the following calls with `content`.
    pub fn answer_with(&self, content: &str) {
        if let Ok(mut answer) = self.answer.lock() {
            *answer = Some(content.to_owned());
        }
    }
}

impl crate::domain::ai::AiProvider for MemoryAi {
    async fn complete(
        &self,
        call: &crate::domain::ai::ProviderCall<'_>,
        instructions: &str,
        turns: &[crate::domain::ai::Turn],
    ) -> Result<String, crate::domain::ai::AiProviderError> {
        use crate::domain::ai::AiProviderError;
        let failing = *self.failing.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        self.calls.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.push(AiCall {
            base_url: call.base_url.to_owned(),
            model: call.model.to_owned(),
            api_key: call.api_key.expose().to_owned(),
            instructions: instructions.to_owned(),
            texts: turns.iter().map(|t| t.text.as_str().to_owned()).collect(),
        });
        match failing {
            Some(status) if status == 429 || status >= 500 => {
                Err(AiProviderError::Unavailable(anyhow::anyhow!("HTTP {status}")))
            }
            Some(status) => Err(AiProviderError::Refused { status }),
            None => {
                let answer = self.answer.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
                Ok(answer.unwrap_or_else(|| serde_json::json!({"replies": MEMORY_AI_REPLIES}).to_string()))
            }
        }
    }
}
