//! A scripted Cloud API.

use super::*;

/// A scripted Cloud API: records what was sent, answers wamids, and fails with the Meta errors
/// a test queues.
#[derive(Debug, Default, Clone)]
pub struct MemoryCloud {
    state: Arc<Mutex<CloudState>>,
}

#[derive(Debug, Default)]
struct CloudState {
    sent: Vec<(String, serde_json::Value)>,
    faults: std::collections::VecDeque<MetaError>,
    templates: Vec<serde_json::Value>,
}

impl MemoryCloud {
    /// The bodies sent, with the phone number id they went from.
    #[must_use]
    pub fn sent(&self) -> Vec<(String, serde_json::Value)> {
        self.state.lock().map(|s| s.sent.clone()).unwrap_or_default()
    }

    /// The next send fails with this Meta error code.
    pub fn fail_next(&self, code: i64) {
        if let Ok(mut state) = self.state.lock() {
            state.faults.push_back(MetaError {
                code,
                title: Some(format!("error {code}")),
                message: None,
                error_data: None,
                href: None,
            });
        }
    }

    /// What `message_templates` answers.
    pub fn set_templates(&self, templates: Vec<serde_json::Value>) {
        if let Ok(mut state) = self.state.lock() {
            state.templates = templates;
        }
    }
}

impl crate::domain::ports::CloudApi for MemoryCloud {
    async fn send_message(
        &self,
        phone_number_id: &str,
        _token: &crate::domain::Secret,
        body: &serde_json::Value,
    ) -> Result<Option<String>, crate::domain::ports::CloudApiError> {
        let mut state = self.state.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        if let Some(error) = state.faults.pop_front() {
            return Err(crate::domain::ports::CloudApiError::Meta { http_status: 400, error });
        }
        state.sent.push((phone_number_id.to_owned(), body.clone()));
        Ok((body.get("status").is_none()).then(|| format!("wamid.MEMORY{}", state.sent.len())))
    }

    async fn message_templates(
        &self,
        _waba_id: &str,
        _token: &crate::domain::Secret,
    ) -> Result<Vec<serde_json::Value>, crate::domain::ports::CloudApiError> {
        Ok(self.state.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.templates.clone())
    }
}
