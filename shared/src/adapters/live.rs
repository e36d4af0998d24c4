//! [`LiveFeed`] on a queue: each notice is one message of the standard SQS queue `live`
//! (no group, no deduplication: a notice sent twice is refetched twice, nothing more), sent only
//! while the tenant has a live connection when the feed is given the connections to ask.

use anyhow::Context as _;

use crate::domain::live::{LiveConnections, LiveFeed, LiveFeedError, LiveNotice};
use crate::domain::ports::{Queue, QueueMessage};
use crate::domain::TenantId;

/// Who may take a notice, asked before one is looked up and sent: a [`LiveConnections`] store,
/// or `()`, which does not ask (every tenant is listening).
pub trait Listeners: Send + Sync {
    /// `false` only when `tenant` surely has no live connection; a failed read answers `true`
    /// (a notice sent for nothing costs less than one lost).
    fn any(&self, tenant: &TenantId) -> impl std::future::Future<Output = bool> + Send;
}

impl Listeners for () {
    async fn any(&self, _tenant: &TenantId) -> bool {
        true
    }
}

impl<C: LiveConnections> Listeners for C {
    async fn any(&self, tenant: &TenantId) -> bool {
        self.any_connection(tenant).await.unwrap_or_else(|error| {
            tracing::debug!(error = format!("{error:#}"), "Live connections unread: the notice is sent");
            true
        })
    }
}

/// Notices as messages of a [`Queue`]: [`crate::adapters::sqs::SqsQueue`] in production, the
/// in-memory queue in unit tests (whose `sent()` shows what went out); with the tenants'
/// connections in production ([`QueueLiveFeed::asking`]), none asked in unit tests.
#[derive(Debug, Clone)]
pub struct QueueLiveFeed<Q, L = ()> {
    queue: Q,
    listeners: L,
}

impl<Q> QueueLiveFeed<Q> {
    /// The feed into `queue`, every tenant taken as listening.
    #[must_use]
    pub fn new(queue: Q) -> Self {
        Self { queue, listeners: () }
    }
}

impl<Q, L> QueueLiveFeed<Q, L> {
    /// The same feed, sending a tenant's notices only while `listeners` says it has a connection.
    #[must_use]
    pub fn asking<A: Listeners>(self, listeners: A) -> QueueLiveFeed<Q, A> {
        QueueLiveFeed { queue: self.queue, listeners }
    }

    /// The queue underneath.
    #[must_use]
    pub fn queue(&self) -> &Q {
        &self.queue
    }
}

impl<Q: Queue, L: Listeners> LiveFeed for QueueLiveFeed<Q, L> {
    async fn listening(&self, tenant: &TenantId) -> bool {
        self.listeners.any(tenant).await
    }

    async fn notify(&self, notices: &[LiveNotice]) -> Result<(), LiveFeedError> {
        if notices.is_empty() {
            return Ok(());
        }
        let messages = notices
            .iter()
            .map(|notice| {
                let body = serde_json::to_string(notice).context("serializing a live notice")?;
                Ok(QueueMessage { body, group_id: None, dedup_id: None })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.queue.send_batch(&messages).await.map_err(|e| LiveFeedError::Unknown(e.into()))
    }
}
