//! Posting to WebSocket connections, in memory.

use super::*;
use crate::domain::live::{LivePush, PushError};

/// Keeps what was posted to each connection; connections marked gone answer
/// [`PushError::Gone`], as API Gateway answers 410 for a closed connection.
#[derive(Debug, Default, Clone)]
pub struct MemoryPush {
    posted: Arc<Mutex<Vec<(String, String)>>>,
    gone: Arc<Mutex<Vec<String>>>,
}

impl MemoryPush {
    /// Every post so far: `(connection id, text)`, in order.
    #[must_use]
    pub fn posted(&self) -> Vec<(String, String)> {
        self.posted.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// The connection closed: posts to it answer Gone from now on.
    pub fn close(&self, connection_id: &str) {
        if let Ok(mut gone) = self.gone.lock() {
            gone.push(connection_id.to_owned());
        }
    }
}

impl LivePush for MemoryPush {
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), PushError> {
        if self.gone.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.iter().any(|g| g == connection_id) {
            return Err(PushError::Gone);
        }
        let text = String::from_utf8_lossy(data).into_owned();
        self.posted.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.push((connection_id.to_owned(), text));
        Ok(())
    }
}
