//! The audit trail (P18): who did what, when, to which record. Append-only: the port has no way
//! to change or delete an entry. Entries name records by id and list the *names* of changed
//! fields, never their values, so the trail itself holds no personal data to leak.

use std::future::Future;

use serde::{Deserialize, Serialize};

use super::ids::{AuditId, ContactId, TenantId};
use super::time::Timestamp;
use crate::kernel::random::RandomUnavailable;
use crate::kernel::Page;

/// How long audit entries are kept (two years: long enough for disputes and audits, bounded so
/// that the trail is not a second, permanent copy of activity).
pub const AUDIT_RETENTION_DAYS: i64 = 730;

/// How long an entry about a person (a contact or a lead) says whom it is about: after a year
/// the entry keeps the fact and its target reads [`ANONYMIZED`] (P52).
pub const PERSON_TARGET_DAYS: i64 = 365;

/// The kinds of target that name a person.
pub const PERSON_TARGET_KINDS: [&str; 2] = ["contact", "lead"];

/// The id an anonymized target reads as.
pub const ANONYMIZED: &str = "anonymized";

/// Who acted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Actor {
    /// `user`, `api_key`, `operator` or `system`.
    pub kind: ActorKind,
    /// The user id, key id or job name.
    pub id: String,
}

/// Kinds of actors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A person logged in with a password.
    User,
    /// An integration's API key.
    ApiKey,
    /// The platform operator.
    Operator,
    /// An automated job (retention run, import).
    System,
}

impl ActorKind {
    /// The stable name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::ApiKey => "api_key",
            Self::Operator => "operator",
            Self::System => "system",
        }
    }
}

/// What was acted on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Target {
    /// `contact`, `lead`, `user`, `api_key`, `tenant`, …
    pub kind: String,
    /// Its id (`*` for a bulk action over a collection).
    pub id: String,
}

/// One entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditEntry {
    /// Its id (time-ordered).
    pub id: AuditId,
    /// When, epoch ms.
    pub at: i64,
    /// Who.
    pub actor: Actor,
    /// What, as `<noun>.<verb>` (`contact.update`, `privacy.export`, `contact.list`).
    pub action: String,
    /// To what.
    pub target: Target,
    /// The names of the fields changed or the parameters of a bulk read (never values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// How many records a bulk action touched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The person (contact) whose data the action touched, when it touched one person's data:
    /// the contact itself, or one of its leads, conversations, messages or records. Never
    /// shown or stored in the entry (which would then name the person for as long as the
    /// entry lives): the log keeps it in a link that expires like a person target (P52), and
    /// uses it to find the entries about one person (P60, [`AuditLog::entries_about`]).
    #[serde(skip)]
    pub subject: Option<ContactId>,
}

impl AuditEntry {
    /// A new entry.
    ///
    /// # Errors
    /// [`RandomUnavailable`] when no id can be drawn.
    pub fn new(
        actor: Actor,
        action: &str,
        target: Target,
        now: Timestamp,
    ) -> Result<Self, RandomUnavailable> {
        Ok(Self {
            id: AuditId::generate(now)?,
            at: now.as_millis(),
            actor,
            action: action.to_owned(),
            target,
            fields: Vec::new(),
            count: None,
            subject: None,
        })
    }

    /// With the names of the fields changed.
    #[must_use]
    pub fn with_fields(mut self, fields: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.fields = fields.into_iter().map(Into::into).collect();
        self
    }

    /// With the number of records a bulk action touched.
    #[must_use]
    pub fn with_count(mut self, count: u64) -> Self {
        self.count = Some(count);
        self
    }

    /// About the data of this person (see [`AuditEntry::subject`]).
    #[must_use]
    pub fn about(mut self, contact: &ContactId) -> Self {
        self.subject = Some(contact.clone());
        self
    }

    /// Whose data the entry is about: the subject set, or else the contact it targets.
    #[must_use]
    pub fn subject_contact(&self) -> Option<ContactId> {
        match &self.subject {
            Some(contact) => Some(contact.clone()),
            None if self.target.kind == "contact" && self.target.id != ANONYMIZED => {
                // `*` (a bulk action) is no contact id and parses as none.
                ContactId::parse(self.target.id.as_str()).ok()
            }
            None => None,
        }
    }
}

/// Which entries to list; every field narrows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this actor id.
    pub actor: Option<String>,
    /// Only actions starting with this (`contact.` or `contact.update`).
    pub action: Option<String>,
    /// Only this target id.
    pub target: Option<String>,
    /// Only at or after, epoch ms.
    pub since: Option<i64>,
    /// Only before, epoch ms.
    pub until: Option<i64>,
}

impl AuditFilter {
    /// True when `entry` passes every set field.
    #[must_use]
    pub fn accepts(&self, entry: &AuditEntry) -> bool {
        self.actor.as_ref().is_none_or(|a| *a == entry.actor.id)
            && self.action.as_ref().is_none_or(|a| entry.action.starts_with(a.as_str()))
            && self.target.as_ref().is_none_or(|t| *t == entry.target.id)
            && self.since.is_none_or(|s| entry.at >= s)
            && self.until.is_none_or(|u| entry.at < u)
    }
}

/// Errors of [`AuditLog`].
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A page cursor this listing did not produce.
    #[error("the cursor does not belong to this listing")]
    InvalidCursor,
    /// The store failed.
    #[error("audit log failed")]
    Unknown(#[from] anyhow::Error),
}

/// The append-only audit log of each tenant.
pub trait AuditLog: Send + Sync {
    /// Appends an entry.
    ///
    /// # Errors
    /// [`AuditError::Unknown`].
    fn record(
        &self,
        tenant: &TenantId,
        entry: &AuditEntry,
    ) -> impl Future<Output = Result<(), AuditError>> + Send;

    /// Entries matching `filter`, newest first.
    ///
    /// # Errors
    /// [`AuditError::InvalidCursor`]; [`AuditError::Unknown`].
    fn entries(
        &self,
        tenant: &TenantId,
        filter: &AuditFilter,
        after: Option<&str>,
        limit: u16,
    ) -> impl Future<Output = Result<Page<AuditEntry>, AuditError>> + Send;

    /// The entries about one person's data ([`AuditEntry::subject_id`] is `contact`), newest
    /// first, with their targets: the person export's share of the trail (P60), read without
    /// going through the rest of the trail. Like a person target, the link from an entry to
    /// its person expires after [`PERSON_TARGET_DAYS`]: older entries are no longer found here.
    ///
    /// # Errors
    /// [`AuditError::InvalidCursor`]; [`AuditError::Unknown`].
    fn entries_about(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        after: Option<&str>,
        limit: u16,
    ) -> impl Future<Output = Result<Page<AuditEntry>, AuditError>> + Send;
}
