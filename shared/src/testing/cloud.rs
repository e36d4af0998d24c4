//! A scripted Cloud API.

use super::*;
use crate::domain::ports::{CloudApiError, GraphPhoneNumber};

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
    /// Registered numbers: (phone number id, display number, WABA id, token).
    numbers: Vec<(String, String, String, String)>,
    /// How Graph answers lookups when a test makes it unreachable.
    unreachable: bool,
    /// Media by id: what inbound messages name and what was uploaded.
    media: HashMap<String, crate::domain::ports::MediaFile>,
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

    /// Registers a number as Graph knows it: `phone_number` and `waba_phone_numbers` confirm it
    /// for `token` only, as the sandbox Graph API does.
    pub fn register_number(&self, phone_number_id: &str, display: &str, waba_id: &str, token: &str) {
        if let Ok(mut state) = self.state.lock() {
            state.numbers.push((phone_number_id.into(), display.into(), waba_id.into(), token.into()));
        }
    }

    /// Number lookups fail as when Graph cannot be reached.
    pub fn set_unreachable(&self, unreachable: bool) {
        if let Ok(mut state) = self.state.lock() {
            state.unreachable = unreachable;
        }
    }

    /// What `message_templates` answers.
    pub fn set_templates(&self, templates: Vec<serde_json::Value>) {
        if let Ok(mut state) = self.state.lock() {
            state.templates = templates;
        }
    }
}

impl MemoryCloud {
    /// Graph holds this media (as for an inbound message's media id).
    pub fn add_media(&self, media_id: &str, file: crate::domain::ports::MediaFile) {
        if let Ok(mut state) = self.state.lock() {
            state.media.insert(media_id.to_owned(), file);
        }
    }

    /// The media Graph holds under `media_id` (uploads too).
    #[must_use]
    pub fn media(&self, media_id: &str) -> Option<crate::domain::ports::MediaFile> {
        self.state.lock().ok().and_then(|s| s.media.get(media_id).cloned())
    }
}

impl crate::domain::ports::CloudApi for MemoryCloud {
    async fn download_media(
        &self,
        media_id: &str,
        _phone_number_id: &str,
        token: &crate::domain::Secret,
        max_bytes: usize,
    ) -> Result<crate::domain::ports::MediaFile, crate::domain::ports::MediaError> {
        use crate::domain::ports::MediaError;
        let state = self.state.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        state.known_token(token)?;
        let file = state.media.get(media_id).ok_or(MediaError::NotFound)?;
        if file.bytes.len() > max_bytes {
            return Err(MediaError::TooLarge(u64::try_from(file.bytes.len()).unwrap_or(u64::MAX)));
        }
        Ok(file.clone())
    }

    async fn upload_media(
        &self,
        _phone_number_id: &str,
        token: &crate::domain::Secret,
        file: &crate::domain::ports::MediaFile,
        _filename: &str,
    ) -> Result<String, crate::domain::ports::MediaError> {
        let mut state = self.state.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        state.known_token(token)?;
        if let Some(CloudFault::Meta(error)) = state.faults.front().cloned() {
            state.faults.pop_front();
            return Err(CloudApiError::Meta { http_status: 400, error }.into());
        }
        let id = format!("{}", 900_000_000_000_u64 + u64::try_from(state.media.len()).unwrap_or(0));
        state.media.insert(id.clone(), file.clone());
        Ok(id)
    }

    async fn send_message(
        &self,
        phone_number_id: &str,
        _token: &crate::domain::Secret,
        body: &serde_json::Value,
    ) -> Result<Option<String>, CloudApiError> {
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
    ) -> Result<Vec<serde_json::Value>, CloudApiError> {
        Ok(self.state.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.templates.clone())
    }

    async fn phone_number(
        &self,
        phone_number_id: &str,
        token: &crate::domain::Secret,
    ) -> Result<GraphPhoneNumber, CloudApiError> {
        let state = self.state.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        state.known_token(token)?;
        state
            .numbers
            .iter()
            .find(|(id, _, _, t)| id == phone_number_id && t == token.expose())
            .map(number_view)
            .ok_or_else(|| graph_error(400, 100, "Unsupported get request"))
    }

    async fn waba_phone_numbers(
        &self,
        waba_id: &str,
        token: &crate::domain::Secret,
    ) -> Result<Vec<GraphPhoneNumber>, CloudApiError> {
        let state = self.state.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        state.known_token(token)?;
        let numbers: Vec<GraphPhoneNumber> = state
            .numbers
            .iter()
            .filter(|(_, _, waba, t)| waba == waba_id && t == token.expose())
            .map(number_view)
            .collect();
        if numbers.is_empty() {
            return Err(graph_error(400, 100, "Unsupported get request"));
        }
        Ok(numbers)
    }
}

impl CloudState {
    /// Graph's answer to a token it does not know (190), or to no answer at all.
    fn known_token(&self, token: &crate::domain::Secret) -> Result<(), CloudApiError> {
        if self.unreachable {
            return Err(CloudApiError::Unavailable(anyhow::anyhow!("Graph unreachable (scripted)")));
        }
        if self.numbers.iter().any(|(_, _, _, t)| t == token.expose()) {
            Ok(())
        } else {
            Err(graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token"))
        }
    }
}

fn number_view((id, display, _, _): &(String, String, String, String)) -> GraphPhoneNumber {
    GraphPhoneNumber {
        id: id.clone(),
        display_phone_number: Some(display.clone()),
        verified_name: Some("Memory Business".to_owned()),
    }
}

/// A Meta error answer as Graph gives it.
#[must_use]
pub fn graph_error(http_status: u16, code: i64, message: &str) -> CloudApiError {
    CloudApiError::Meta {
        http_status,
        error: MetaError {
            code,
            title: None,
            message: Some(message.to_owned()),
            error_data: None,
            href: None,
        },
    }
}
