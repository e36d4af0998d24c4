//! [`AuditLog`] on the document table, with the expiring person links of P52.

use super::*;

// ---------------------------------------------------------------------------------------------
// Audit log
// ---------------------------------------------------------------------------------------------

/// [`AuditLog`] on a [`DocTable`].
#[derive(Debug, Clone)]
pub struct DocAuditLog<D> {
    table: D,
}

/// Whom an audit entry about a person is about (see [`keys::audit_person`]).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct PersonLink {
    /// The entry's id.
    audit_id: AuditId,
    /// Its time, epoch ms.
    at: i64,
    /// The contact or lead id.
    target_id: String,
}

impl<D: DocTable> DocAuditLog<D> {
    /// Puts back whom the entries are about, where the link has not expired yet: one query over
    /// the page's time span.
    async fn with_people(
        &self,
        pk: &str,
        entries: &mut [AuditEntry],
        now: Timestamp,
    ) -> Result<(), AuditError> {
        let anonymous = || entries.iter().filter(|e| e.target.id == ANONYMIZED && names_a_person(&e.target));
        let (Some(newest), Some(oldest)) = (anonymous().map(|e| e.at).max(), anonymous().map(|e| e.at).min())
        else {
            return Ok(());
        };
        let mut links = std::collections::HashMap::new();
        let mut cursor = Some(keys::audit_person_until(newest));
        'pages: while let Some(after) = cursor.take() {
            let (docs, next) =
                self.table.query_docs(pk, keys::AUDIT_PERSON_PREFIX, Some(&after), (100, false), now).await?;
            for doc in &docs {
                let link: PersonLink = from_json(doc)?.value;
                if link.at < oldest {
                    break 'pages;
                }
                links.insert(link.audit_id, link.target_id);
            }
            cursor = next;
        }
        for entry in entries.iter_mut() {
            if let Some(id) = links.remove(&entry.id) {
                entry.target.id = id;
            }
        }
        Ok(())
    }
}

impl<D: DocTable> AuditLog for DocAuditLog<D> {
    async fn record(&self, tenant: &TenantId, entry: &AuditEntry) -> Result<(), AuditError> {
        let at = Timestamp::from_millis(entry.at);
        let days = |days: i64| {
            Some(ExpiresAt::after(at, std::time::Duration::from_secs(days.unsigned_abs() * 86_400)))
        };
        let mut stored = entry.clone();
        let mut writes = Vec::with_capacity(3);
        if let Some(subject) = entry.subject_contact() {
            // The entry as the person's export shows it (target included), filed under them and
            // gone when the person link goes.
            writes.push(DocWrite::Put {
                key: keys::audit_subject(tenant, &subject, entry.at, &entry.id),
                entity: "audit_subject",
                body: to_json(entry)?,
                expires_at: days(PERSON_TARGET_DAYS),
                precondition: Precondition::Absent,
            });
        }
        if names_a_person(&entry.target) {
            // The entry itself never names the person; the link that does expires first.
            stored.target.id = ANONYMIZED.to_owned();
            let link =
                PersonLink { audit_id: entry.id.clone(), at: entry.at, target_id: entry.target.id.clone() };
            writes.push(DocWrite::Put {
                key: keys::audit_person(tenant, entry.at, &entry.id),
                entity: "audit_person",
                body: to_json(&link)?,
                expires_at: days(PERSON_TARGET_DAYS),
                precondition: Precondition::Absent,
            });
        }
        writes.insert(
            0,
            DocWrite::Put {
                key: keys::audit(tenant, entry.at, &entry.id),
                entity: "audit",
                body: to_json(&stored)?,
                expires_at: days(AUDIT_RETENTION_DAYS),
                // Append-only: an entry is never overwritten.
                precondition: Precondition::Absent,
            },
        );
        self.table.write_docs(writes, at).await.map_err(|e| AuditError::Unknown(e.into()))
    }

    async fn entries(
        &self,
        tenant: &TenantId,
        filter: &AuditFilter,
        after: Option<&str>,
        limit: u16,
    ) -> Result<Page<AuditEntry>, AuditError> {
        let mut cursor = match cursor_within(after, keys::AUDIT_PREFIX) {
            Some(Err(())) => return Err(AuditError::InvalidCursor),
            Some(Ok(a)) => Some(a.to_owned()),
            None => filter.until.map(keys::audit_before),
        };
        let now = self.table.now();
        let pk = keys::tenant_partition(tenant);
        let mut items = Vec::new();
        let mut examined = 0;
        loop {
            let (docs, next) = self
                .table
                .query_docs(&pk, keys::AUDIT_PREFIX, cursor.as_deref(), (limit, false), now)
                .await?;
            let mut page = docs
                .iter()
                .map(|doc| Ok(from_json::<AuditEntry>(doc)?.value))
                .collect::<Result<Vec<_>, AuditError>>()?;
            self.with_people(&pk, &mut page, now).await?;
            for (doc, entry) in docs.iter().zip(page) {
                examined += 1;
                if filter.since.is_some_and(|since| entry.at < since) {
                    // Newest first: everything further is older still.
                    return Ok(Page { items, next: None });
                }
                if filter.accepts(&entry) {
                    items.push(entry);
                    if items.len() == usize::from(limit) {
                        return Ok(Page { items, next: Some(doc.sk.clone()) });
                    }
                }
                cursor = Some(doc.sk.clone());
            }
            if next.is_none() {
                return Ok(Page { items, next: None });
            }
            if examined >= AUDIT_SCAN_BUDGET {
                return Ok(Page { items, next: cursor });
            }
        }
    }

    async fn entries_about(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        after: Option<&str>,
        limit: u16,
    ) -> Result<Page<AuditEntry>, AuditError> {
        let prefix = keys::audit_subject_prefix(contact);
        let after = match cursor_within(after, &prefix) {
            Some(Err(())) => return Err(AuditError::InvalidCursor),
            Some(Ok(a)) => Some(a),
            None => None,
        };
        let pk = keys::tenant_partition(tenant);
        let (docs, next) =
            self.table.query_docs(&pk, &prefix, after, (limit.max(1), false), self.table.now()).await?;
        let items = docs
            .iter()
            .map(|doc| {
                let mut entry = from_json::<AuditEntry>(doc)?.value;
                entry.subject = Some(contact.clone());
                Ok(entry)
            })
            .collect::<Result<Vec<_>, AuditError>>()?;
        Ok(Page { items, next })
    }
}

impl<D> DocAuditLog<D> {
    /// The log on `table`.
    #[must_use]
    pub fn new(table: D) -> Self {
        Self { table }
    }
}

/// How many entries one listing examines at most before answering (with a cursor) when a
/// filter matches little: bounds the work of one request.
pub(super) const AUDIT_SCAN_BUDGET: usize = 1_000;

pub(super) fn names_a_person(target: &crate::domain::audit::Target) -> bool {
    PERSON_TARGET_KINDS.contains(&target.kind.as_str()) && target.id != "*"
}
