//! Live updates of the agent console (issue #18): small notices that something changed in a
//! conversation, pushed to the WebSocket connections of the people who may see it.
//!
//! The flow: where the contact center's events are recorded (`crate::app::center`), a
//! [`LiveNotice`] goes to the `live` queue ([`LiveFeed`], best effort); the `realtime` function
//! reads the tenant's connections ([`LiveConnections`]) and posts the notice to each whose
//! [`LiveAudience`] sees it. A notice carries ids only (never a name, a phone number or a text):
//! the page refetches what it shows.

use std::future::Future;

use serde::{Deserialize, Serialize};

use super::center::{CenterEvent, EventKind};
use super::inbox::AgentScope;
use super::tenant::Role;
use super::{ConversationId, ExpiresAt, QueueId, TenantId, UserId};

/// What changed, as the page needs to know it (which view to refresh).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveKind {
    /// A message arrived or was sent (a customer's, an agent's, the bot's).
    Message,
    /// An outbound message's status moved (sent, delivered, read, failed).
    Status,
    /// Routed, queued, assigned or transferred.
    Assignment,
    /// Resolved, reopened, woken.
    State,
}

impl LiveKind {
    /// The kind of notice an event of the contact center's log makes; `None` for events that
    /// change nothing the page shows, or that come with another one of the same change (a
    /// `first_reply` comes with its `agent_reply`, `opened` with `received`, `queued` with
    /// `routed`, `transferred` with `assigned`, `dequeued` with whatever took it out of the
    /// line).
    #[must_use]
    pub const fn of_event(kind: EventKind) -> Option<Self> {
        match kind {
            EventKind::Received | EventKind::AgentReply | EventKind::BotMessage => Some(Self::Message),
            EventKind::Routed | EventKind::Assigned => Some(Self::Assignment),
            EventKind::Resolved | EventKind::Reopened | EventKind::Woken => Some(Self::State),
            EventKind::Opened
            | EventKind::Queued
            | EventKind::FirstReply
            | EventKind::Transferred
            | EventKind::Dequeued
            | EventKind::BotDecision => None,
        }
    }
}

/// One notice on the `live` queue: which conversation of which tenant changed, how, and who
/// works it now (to pick the connections). Ids and times only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveNotice {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The conversation.
    pub conversation_id: ConversationId,
    /// What changed.
    pub kind: LiveKind,
    /// When, epoch ms.
    pub at: i64,
    /// The conversation's queue after the change, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueId>,
    /// The conversation's agent after the change, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<UserId>,
}

impl LiveNotice {
    /// The notice of an event of the contact center's log, if it makes one
    /// ([`LiveKind::of_event`]); events without a conversation make none.
    #[must_use]
    pub fn of_event(tenant: &TenantId, event: &CenterEvent) -> Option<Self> {
        let kind = LiveKind::of_event(event.kind)?;
        let conversation_id = event.conversation_id.clone()?;
        // A reply's `agent` is who wrote, which is the assignee or someone who may see it anyway.
        Some(Self {
            tenant_id: tenant.clone(),
            conversation_id,
            kind,
            at: event.at,
            queue: event.queue.clone(),
            assignee: event.agent.clone(),
        })
    }

    /// What the page receives: the notice without the tenant (the connection is the tenant's).
    #[must_use]
    pub fn message(&self) -> serde_json::Value {
        serde_json::json!({
            "type": "conversation",
            "kind": self.kind,
            "conversation_id": self.conversation_id,
            "queue": self.queue,
            "assignee": self.assignee,
            "at": self.at,
        })
    }
}

/// Who a connection belongs to, and so which notices it receives: managers and admins every
/// notice of their tenant; an agent those of conversations assigned to them or in one of their
/// queues (as the inbox's [`AgentScope`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveAudience {
    /// The user.
    pub user_id: UserId,
    /// Their role when they connected.
    pub role: Role,
    /// Their queues when they connected (agents).
    #[serde(default)]
    pub queues: Vec<QueueId>,
}

impl LiveAudience {
    /// True when this connection should receive `notice`.
    #[must_use]
    pub fn sees(&self, notice: &LiveNotice) -> bool {
        if self.role != Role::Agent {
            return true;
        }
        let scope = AgentScope { user: Some(self.user_id.clone()), queues: self.queues.clone() };
        notice.assignee.as_ref() == scope.user.as_ref()
            || notice.queue.as_ref().is_some_and(|q| scope.queues.contains(q))
    }
}

/// One open WebSocket connection of a tenant's user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveConnection {
    /// API Gateway's connection id.
    pub connection_id: String,
    /// The tenant.
    pub tenant_id: TenantId,
    /// Who, and what they may see.
    pub audience: LiveAudience,
    /// Connected, epoch ms.
    pub connected_at: i64,
    /// When the store may forget it (a little after API Gateway's own two-hour limit).
    pub expires_at: ExpiresAt,
}

/// How long a connection is kept at most: API Gateway closes every WebSocket connection after
/// two hours; ten minutes more covers clocks and a late `$disconnect`.
pub const CONNECTION_TTL_SECS: i64 = 2 * 60 * 60 + 10 * 60;

/// The most connections of one tenant a notice is posted to (a page of the store; more are left
/// out with a warning: the polling fallback covers them).
pub const MAX_CONNECTIONS_PER_TENANT: u16 = 500;

/// Errors of [`LiveConnections`].
#[derive(Debug, thiserror::Error)]
pub enum LiveStoreError {
    /// The store failed.
    #[error("the live connection store failed")]
    Unknown(#[from] anyhow::Error),
}

/// The tenants' open connections.
pub trait LiveConnections: Send + Sync {
    /// Keeps a connection (replacing one of the same id).
    ///
    /// # Errors
    /// [`LiveStoreError::Unknown`].
    fn put_connection(
        &self,
        connection: &LiveConnection,
    ) -> impl Future<Output = Result<(), LiveStoreError>> + Send;

    /// Forgets a connection by its id alone (`$disconnect` knows nothing else); nothing when
    /// unknown. Returns the tenant it belonged to.
    ///
    /// # Errors
    /// [`LiveStoreError::Unknown`].
    fn remove_connection(
        &self,
        connection_id: &str,
    ) -> impl Future<Output = Result<Option<TenantId>, LiveStoreError>> + Send;

    /// The tenant's live connections, at most [`MAX_CONNECTIONS_PER_TENANT`].
    ///
    /// # Errors
    /// [`LiveStoreError::Unknown`].
    fn connections(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<Vec<LiveConnection>, LiveStoreError>> + Send;

    /// Whether the tenant may have a live connection: `false` only when it surely has none. The
    /// provided method reads the connections; a store answers from one item.
    ///
    /// # Errors
    /// [`LiveStoreError::Unknown`].
    fn any_connection(&self, tenant: &TenantId) -> impl Future<Output = Result<bool, LiveStoreError>> + Send {
        async move { Ok(!self.connections(tenant).await?.is_empty()) }
    }
}

/// Errors of [`LiveFeed::notify`].
#[derive(Debug, thiserror::Error)]
pub enum LiveFeedError {
    /// The queue did not take the notice.
    #[error("the live notice was not sent")]
    Unknown(#[from] anyhow::Error),
}

/// Where notices go (the `live` queue).
pub trait LiveFeed: Send + Sync {
    /// Whether a notice for `tenant` may reach anyone now: `false` only when the tenant surely has
    /// no live connection, and then callers neither look up nor send it (a notice nobody takes
    /// still costs a queue message, a `realtime` invocation and its read). `true` when it cannot
    /// tell. A console that connects later loads its views when its socket opens.
    fn listening(&self, tenant: &TenantId) -> impl Future<Output = bool> + Send;

    /// Sends notices, in order.
    ///
    /// # Errors
    /// [`LiveFeedError::Unknown`]: callers log it and go on (a lost notice costs latency only).
    fn notify(&self, notices: &[LiveNotice]) -> impl Future<Output = Result<(), LiveFeedError>> + Send;
}

/// Errors of [`LivePush::post`].
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The connection is gone (API Gateway answered 410): forget it.
    #[error("the connection is gone")]
    Gone,
    /// Anything else (throttled, unavailable): this notice is lost for this connection.
    #[error("posting to the connection failed")]
    Unknown(#[from] anyhow::Error),
}

/// Posting to a WebSocket connection (API Gateway's Management API, `PostToConnection`).
pub trait LivePush: Send + Sync {
    /// Posts one text frame.
    ///
    /// # Errors
    /// [`PushError::Gone`] when the connection no longer exists; [`PushError::Unknown`].
    fn post(&self, connection_id: &str, data: &[u8]) -> impl Future<Output = Result<(), PushError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(queue: Option<&str>, assignee: Option<&str>) -> LiveNotice {
        LiveNotice {
            tenant_id: TenantId::parse("tn_1").unwrap(),
            conversation_id: ConversationId::parse("cv_1").unwrap(),
            kind: LiveKind::Message,
            at: 1,
            queue: queue.map(|q| QueueId::parse(q).unwrap()),
            assignee: assignee.map(|a| UserId::parse(a).unwrap()),
        }
    }

    fn audience(role: Role, queues: &[&str]) -> LiveAudience {
        LiveAudience {
            user_id: UserId::parse("usr_me").unwrap(),
            role,
            queues: queues.iter().map(|q| QueueId::parse(*q).unwrap()).collect(),
        }
    }

    #[test]
    fn an_agent_sees_what_is_assigned_to_them_or_in_their_queues() {
        let agent = audience(Role::Agent, &["q_a"]);
        assert!(agent.sees(&notice(None, Some("usr_me"))));
        assert!(agent.sees(&notice(Some("q_a"), Some("usr_other"))));
        assert!(!agent.sees(&notice(Some("q_b"), Some("usr_other"))));
        assert!(!agent.sees(&notice(None, None)));
    }

    #[test]
    fn managers_and_admins_see_every_notice_of_their_tenant() {
        for role in [Role::Manager, Role::Admin] {
            assert!(audience(role, &[]).sees(&notice(None, None)));
        }
    }

    #[test]
    fn the_page_gets_ids_and_the_kind_only() {
        let message = notice(Some("q_a"), None).message();
        let keys: Vec<&String> = message.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["assignee", "at", "conversation_id", "kind", "queue", "type"]);
        assert_eq!(message["kind"], "message");
    }
}
