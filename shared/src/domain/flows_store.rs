//! Chatbot flows as stored (P40): every save is a new numbered version of the flow's definition;
//! publishing makes one version live and rolling back publishes an earlier one. A conversation's
//! flow session names the version it started on, so it finishes on it whatever is published
//! meanwhile. The definitions and the interpreter are [`super::flows`]'; this is only storage.
//!
//! Same style as every port: native `async` methods returning `impl Future + Send`, each
//! documenting its errors; the contract suite is `shared::testing::contract::flows`, run on the
//! fake and on DynamoDB.

use std::future::Future;

use serde::{Deserialize, Serialize};

use super::flows::{FlowDefinition, FlowSession};
use super::ids::{ConversationId, FlowId, TenantId};
use super::time::Timestamp;

/// A flow: its name and which of its versions is the newest and which is live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FlowMeta {
    /// Its id (`fl_<ulid>`).
    pub id: FlowId,
    /// Its name (the newest version's).
    pub name: String,
    /// The newest saved version (the draft an admin edits), 1 or more.
    pub latest: u32,
    /// The published version, if any: new conversations start on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<u32>,
    /// Created, epoch ms.
    pub created_at: i64,
    /// Last saved, published or rolled back, epoch ms.
    pub updated_at: i64,
    /// The store's version of this record (optimistic concurrency), bumped by every change.
    pub version: u64,
}

/// One saved version of a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowVersion {
    /// Its number (1, 2, ...).
    pub number: u32,
    /// The definition as saved.
    pub definition: FlowDefinition,
    /// Saved, epoch ms.
    pub saved_at: i64,
}

/// A conversation's running flow, as stored: the interpreter's [`FlowSession`] plus what makes
/// running it exactly once per message possible.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The conversation it runs in (one session per conversation).
    pub conversation: ConversationId,
    /// Where the flow stands (flow id, version, step, answers); `None` once it ended (handed
    /// over, routed, finished, or an agent took over): the record stays, with the last message
    /// it processed, so that a redelivery of that message starts nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<FlowSession>,
    /// The last customer message (its wamid) this session processed: a redelivered message
    /// with this id does not advance the flow again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<String>,
    /// When a `wait` step times out, epoch ms. A `flow_timeout` timer is armed for it
    /// ([`crate::domain::center::TimerKind::FlowTimeout`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_at: Option<i64>,
    /// The `inbound.fifo` message group of the customer's events (the webhook's opaque hash of
    /// business number and person), so that a timeout is queued in the same group and never
    /// runs at the same time as one of their messages. `None` for sessions stored before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// When the session expires with its conversation, epoch seconds.
    pub expires_at: i64,
    /// The store's version: 0 for a session not stored yet; a save names the version it read.
    #[serde(default)]
    pub version: u64,
}

/// Errors of the flow store.
#[derive(Debug, thiserror::Error)]
pub enum FlowStoreError {
    /// No such flow or version (never was, deleted, or another tenant's).
    #[error("no such flow")]
    NotFound,
    /// The record changed since the caller read it (or, for a new session, one exists); nothing
    /// was written.
    #[error("changed meanwhile; read it again")]
    Conflict,
    /// The store failed; a retry may succeed.
    #[error("flow store failed")]
    Unknown(#[from] anyhow::Error),
}

/// Flows, their versions and the conversations' sessions.
pub trait FlowStore: Send + Sync {
    /// Stores a new flow with `definition` as its version 1 (`meta.latest` must be 1; the
    /// stored record is at store version 1), both or neither.
    ///
    /// # Errors
    /// [`FlowStoreError::Conflict`] when the id exists; [`FlowStoreError::Unknown`].
    fn create_flow(
        &self,
        tenant: &TenantId,
        meta: &FlowMeta,
        definition: &FlowDefinition,
    ) -> impl Future<Output = Result<FlowMeta, FlowStoreError>> + Send;

    /// One flow.
    ///
    /// # Errors
    /// [`FlowStoreError::Unknown`].
    fn flow(
        &self,
        tenant: &TenantId,
        id: &FlowId,
    ) -> impl Future<Output = Result<Option<FlowMeta>, FlowStoreError>> + Send;

    /// Every flow of the tenant, oldest first.
    ///
    /// # Errors
    /// [`FlowStoreError::Unknown`].
    fn flows(&self, tenant: &TenantId) -> impl Future<Output = Result<Vec<FlowMeta>, FlowStoreError>> + Send;

    /// One version of a flow.
    ///
    /// # Errors
    /// [`FlowStoreError::Unknown`].
    fn version(
        &self,
        tenant: &TenantId,
        id: &FlowId,
        number: u32,
    ) -> impl Future<Output = Result<Option<FlowVersion>, FlowStoreError>> + Send;

    /// Saves `named` (name, definition) as the flow's next version (`latest + 1`), if the flow
    /// is still at store version `expected`; the flow's name becomes that name. Returns the flow as stored.
    ///
    /// # Errors
    /// [`FlowStoreError::NotFound`]; [`FlowStoreError::Conflict`]; [`FlowStoreError::Unknown`].
    /// Nothing is written on an error.
    fn save_version(
        &self,
        tenant: &TenantId,
        id: &FlowId,
        expected: u64,
        named: (&str, &FlowDefinition),
        at: Timestamp,
    ) -> impl Future<Output = Result<FlowMeta, FlowStoreError>> + Send;

    /// Makes version `live` the published one (`None`: unpublish), if the flow is still at store
    /// version `expected` and the version exists. Returns the flow as stored.
    ///
    /// # Errors
    /// [`FlowStoreError::NotFound`] (the flow or the version); [`FlowStoreError::Conflict`];
    /// [`FlowStoreError::Unknown`].
    fn set_live(
        &self,
        tenant: &TenantId,
        id: &FlowId,
        expected: u64,
        live: Option<u32>,
        at: Timestamp,
    ) -> impl Future<Output = Result<FlowMeta, FlowStoreError>> + Send;

    /// Deletes the flow and its versions (idempotent). Sessions running it end at their next
    /// message (their version is gone).
    ///
    /// # Errors
    /// [`FlowStoreError::Unknown`].
    fn delete_flow(
        &self,
        tenant: &TenantId,
        id: &FlowId,
    ) -> impl Future<Output = Result<(), FlowStoreError>> + Send;

    /// The conversation's session record, running or ended (an expired one reads as none).
    ///
    /// # Errors
    /// [`FlowStoreError::Unknown`].
    fn session(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> impl Future<Output = Result<Option<SessionRecord>, FlowStoreError>> + Send;

    /// Stores `record` if the stored session is still at `record.version` (0: there is none, or
    /// only an expired one). Returns it at its new version.
    ///
    /// # Errors
    /// [`FlowStoreError::Conflict`] (nothing written); [`FlowStoreError::Unknown`].
    fn save_session(
        &self,
        tenant: &TenantId,
        record: &SessionRecord,
    ) -> impl Future<Output = Result<SessionRecord, FlowStoreError>> + Send;

    /// Ends the conversation's running session whatever its version (an agent or a manager
    /// taking over): it is kept ended ([`SessionRecord::session`] `None`). Returns whether a
    /// running session was ended. Idempotent.
    ///
    /// # Errors
    /// [`FlowStoreError::Unknown`].
    fn end_session(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> impl Future<Output = Result<bool, FlowStoreError>> + Send;
}
