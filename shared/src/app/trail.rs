//! Automated actions in the audit trail (P18): retention deletions, erasure runs, purges of
//! disconnected integrations, consent changes from keywords and Meta's preferences. The actor
//! is [`ActorKind::System`] named after the job; the entry, like every other, names records by
//! id and counts, never values.

use crate::domain::audit::{Actor, ActorKind, AuditEntry, AuditLog, Target};
use crate::domain::{TenantId, Timestamp};

/// An automated job, as the audit trail names its actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// The hourly retention run (`retention`).
    Retention,
    /// Ingestion of Meta's webhooks (`inbound`).
    Inbound,
}

impl Job {
    /// Its actor id.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Retention => "retention",
            Self::Inbound => "inbound",
        }
    }

    /// The actor of its entries.
    #[must_use]
    pub fn actor(self) -> Actor {
        Actor { kind: ActorKind::System, id: self.as_str().to_owned() }
    }
}

/// What an automated action did, for its entry.
#[derive(Debug, Clone)]
pub struct SystemAction<'a> {
    /// `<noun>.<verb>`, as every entry (`privacy.erasure`, `conversation.expire`, …).
    pub action: &'a str,
    /// What it acted on.
    pub target: Target,
    /// How many records it touched, when it touched several.
    pub count: Option<u64>,
    /// Field or parameter names (never values).
    pub fields: &'a [&'a str],
}

/// Appends the entry of an automated action. A failed write is logged and does not fail the job:
/// the job's own work (a deletion, a consent change) is done and idempotent, and retrying it for
/// the sake of its entry would write the entry twice.
pub async fn record<L: AuditLog>(
    audit: &L,
    tenant: &TenantId,
    job: Job,
    what: SystemAction<'_>,
    now: Timestamp,
) {
    let entry = match AuditEntry::new(job.actor(), what.action, what.target, now) {
        Ok(entry) => entry.with_fields(what.fields.iter().copied()),
        Err(error) => {
            tracing::error!(action = what.action, error = format!("{error:#}"), "Audit entry not written");
            return;
        }
    };
    let entry = match what.count {
        Some(count) => entry.with_count(count),
        None => entry,
    };
    if let Err(error) = audit.record(tenant, &entry).await {
        tracing::error!(action = what.action, error = format!("{error:#}"), "Audit entry not written");
    }
}
