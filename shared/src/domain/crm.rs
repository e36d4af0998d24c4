//! What a tenant's team keeps about a contact beyond the conversation: notes, tasks and
//! appointments ([`ContactRecord`]), and the contact's activity timeline ([`Activity`]) — and the
//! [`RecordStore`] port that keeps them. All of it is the contact's personal data: erasure
//! removes it with the contact (P62).

use std::future::Future;

use serde::{Deserialize, Serialize};

use super::audit::Actor;
use super::identity::Versioned;
use super::ids::{ContactId, ConversationId, RecordId, TenantId, UserId};
use crate::kernel::Page;

/// The kinds of records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// Free text.
    Note,
    /// Something to do, with a due date, an assignee and a done flag.
    Task,
    /// A meeting with a start, an end and a place.
    Appointment,
}

impl RecordKind {
    /// Every kind.
    pub const ALL: [Self; 3] = [Self::Note, Self::Task, Self::Appointment];

    /// The stable name (`note`, `task`, `appointment`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Note => "note",
            Self::Task => "task",
            Self::Appointment => "appointment",
        }
    }

    /// The path segment of its collection (`notes`, `tasks`, `appointments`).
    #[must_use]
    pub const fn collection(self) -> &'static str {
        match self {
            Self::Note => "notes",
            Self::Task => "tasks",
            Self::Appointment => "appointments",
        }
    }
}

/// A note, task or appointment of a contact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContactRecord {
    /// Its id (time-ordered).
    pub id: RecordId,
    /// Whose.
    pub contact_id: ContactId,
    /// Which kind.
    pub kind: RecordKind,
    /// The note's text, the task's or the appointment's title.
    pub text: String,
    /// Task: due, epoch ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<i64>,
    /// Task: who should do it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<UserId>,
    /// Task: when it was done, epoch ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<i64>,
    /// Appointment: start, epoch ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<i64>,
    /// Appointment: end, epoch ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<i64>,
    /// Appointment: where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Note: the conversation it was written on (a private note, never sent to the customer).
    /// Absent on notes written on the contact, and on every record written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    /// Who wrote it.
    pub author: Actor,
    /// Created, epoch ms.
    pub created_at: i64,
    /// Last changed, epoch ms.
    pub updated_at: i64,
}

/// One entry of a contact's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Activity {
    /// When, epoch ms.
    pub at: i64,
    /// What happened: `message.inbound`, `message.outbound`, `note.created`, `task.created`,
    /// `task.completed`, `appointment.created`, `conversation.state_changed`,
    /// `lead.stage_changed`, `contact.updated`, …
    pub kind: String,
    /// The record, message, conversation or lead it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_id: Option<String>,
    /// A short, non-personal detail (the new state or stage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Who did it (absent for the contact's own messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
}

/// Errors of [`RecordStore`].
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The record changed since it was read.
    #[error("changed since read")]
    Conflict,
    /// A page cursor this listing did not produce.
    #[error("the cursor does not belong to this listing")]
    InvalidCursor,
    /// The store failed; nothing was written.
    #[error("record store failed")]
    Unknown(#[from] anyhow::Error),
}

/// Notes, tasks, appointments and activities of contacts.
pub trait RecordStore: Send + Sync {
    /// Stores a record: a new one when `version` is `None`, else replaces the one read at
    /// `version`.
    ///
    /// # Errors
    /// [`RecordError::Conflict`]; [`RecordError::Unknown`].
    fn put_record(
        &self,
        tenant: &TenantId,
        record: &ContactRecord,
        version: Option<u64>,
    ) -> impl Future<Output = Result<(), RecordError>> + Send;

    /// One record of a contact.
    ///
    /// # Errors
    /// [`RecordError::Unknown`].
    fn record(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        kind: RecordKind,
        id: &RecordId,
    ) -> impl Future<Output = Result<Option<Versioned<ContactRecord>>, RecordError>> + Send;

    /// A contact's records of one kind, oldest first.
    ///
    /// # Errors
    /// [`RecordError::InvalidCursor`]; [`RecordError::Unknown`].
    fn records(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        kind: RecordKind,
        after: Option<&str>,
        limit: u16,
    ) -> impl Future<Output = Result<Page<ContactRecord>, RecordError>> + Send;

    /// Deletes a record; `false` when there was none.
    ///
    /// # Errors
    /// [`RecordError::Unknown`].
    fn delete_record(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        kind: RecordKind,
        id: &RecordId,
    ) -> impl Future<Output = Result<bool, RecordError>> + Send;

    /// Appends to a contact's timeline.
    ///
    /// # Errors
    /// [`RecordError::Unknown`].
    fn add_activity(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        activity: &Activity,
    ) -> impl Future<Output = Result<(), RecordError>> + Send;

    /// A contact's activities before `before` (epoch ms; all when `None`), newest first.
    ///
    /// # Errors
    /// [`RecordError::Unknown`].
    fn activities(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        before: Option<i64>,
        limit: u16,
    ) -> impl Future<Output = Result<Vec<Activity>, RecordError>> + Send;
}
