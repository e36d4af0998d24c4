//! A scripted Cloud API.

use super::*;

/// A scripted Cloud API: records what Meta took, answers wamids, and fails with the faults a
/// test queues (Meta errors, an unreachable Graph, an answer lost after Meta took the message,
/// a call that never returns because the process died).
#[derive(Debug, Default, Clone)]
pub struct MemoryCloud {
    state: Arc<Mutex<CloudState>>,
}

/// One scripted fault of the next send.
#[derive(Debug, Clone)]
enum CloudFault {
    /// Meta answers this error; it did not take the message.
    Meta(MetaError),
    /// The connection fails: the request never left.
    Unreachable,
    /// Meta takes the message, but its answer is lost or unreadable (a timeout, a reset, a 2xx
    /// that does not parse).
    AnswerLost,
    /// The process dies in the call after Meta took the message: the call never returns.
    DieAfterSending,
    /// The process dies in the call before the request left: the call never returns.
    DieBeforeSending,
}

#[derive(Debug, Default)]
struct CloudState {
    sent: Vec<(String, serde_json::Value)>,
    faults: std::collections::VecDeque<CloudFault>,
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
        self.push(CloudFault::Meta(MetaError {
            code,
            title: Some(format!("error {code}")),
            message: None,
            error_data: None,
            href: None,
        }));
    }

    /// The next send cannot connect: Meta never sees it.
    pub fn unreachable_next(&self) {
        self.push(CloudFault::Unreachable);
    }

    /// Meta takes the next send but its answer is lost (timeout, reset, garbage 2xx).
    pub fn lose_next_answer(&self) {
        self.push(CloudFault::AnswerLost);
    }

    /// The next send never returns, after Meta took it (the process died in the call); drop
    /// the caller's future to finish the crash.
    pub fn die_after_next_send(&self) {
        self.push(CloudFault::DieAfterSending);
    }

    /// The next send never returns, and Meta never saw it (the process died before the
    /// request left).
    pub fn die_before_next_send(&self) {
        self.push(CloudFault::DieBeforeSending);
    }

    fn push(&self, fault: CloudFault) {
        if let Ok(mut state) = self.state.lock() {
            state.faults.push_back(fault);
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
        use crate::domain::ports::CloudApiError;
        let answer = {
            let mut state = self.state.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            let fault = state.faults.pop_front();
            match fault {
                Some(CloudFault::Meta(error)) => return Err(CloudApiError::Meta { http_status: 400, error }),
                Some(CloudFault::Unreachable) => {
                    return Err(CloudApiError::Unavailable(anyhow::anyhow!("connection refused")))
                }
                Some(CloudFault::DieBeforeSending) => None,
                Some(other) => {
                    state.sent.push((phone_number_id.to_owned(), body.clone()));
                    Some(other)
                }
                None => {
                    state.sent.push((phone_number_id.to_owned(), body.clone()));
                    let wamid = format!("wamid.MEMORY{}", state.sent.len());
                    return Ok(body.get("status").is_none().then_some(wamid));
                }
            }
        };
        match answer {
            Some(CloudFault::AnswerLost) => {
                Err(CloudApiError::OutcomeUnknown(anyhow::anyhow!("the answer was lost")))
            }
            _ => std::future::pending().await,
        }
    }

    async fn message_templates(
        &self,
        _waba_id: &str,
        _token: &crate::domain::Secret,
    ) -> Result<Vec<serde_json::Value>, crate::domain::ports::CloudApiError> {
        Ok(self.state.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.templates.clone())
    }
}
