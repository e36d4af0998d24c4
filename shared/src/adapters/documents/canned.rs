//! [`CannedStore`] and [`ReadMarkStore`] on the document table.
//!
//! A canned response lives at its shortcut's key within its scope ([`keys::canned`]), so the
//! put that creates it (precondition: absent) is also the atomic claim of the shortcut; a small
//! index document at [`keys::canned_id`] leads from the id to that key. Renaming the shortcut
//! deletes the old key and claims the new one in one transaction. The response's `version` is
//! kept in its body (it survives a rename), and every write names the item's stored version, so
//! concurrent changes have exactly one winner.

use super::*;
use crate::domain::canned::{CannedError, CannedResponse, CannedStore, MAX_LISTED_PER_SCOPE};
use crate::domain::reads::{ReadMarkError, ReadMarkStore, READ_MARK_DAYS};
use crate::domain::{CannedId, ConversationId};

/// [`CannedStore`] on a [`DocTable`].
#[derive(Debug, Clone)]
pub struct DocCanned<D> {
    table: D,
}

impl<D> DocCanned<D> {
    /// The store on `table`.
    #[must_use]
    pub fn new(table: D) -> Self {
        Self { table }
    }
}

/// The index document: where the response of an id is.
#[derive(Debug, Serialize, Deserialize)]
struct CannedIndex {
    owner: Option<UserId>,
    shortcut: String,
}

/// A stored response and the version of its item.
struct Current {
    response: CannedResponse,
    item_version: u64,
}

impl<D: DocTable> DocCanned<D> {
    async fn current(&self, tenant: &TenantId, id: &CannedId) -> anyhow::Result<Option<Current>> {
        let now = self.table.now();
        let Some(index) = self.table.get_doc(&keys::canned_id(tenant, id), now).await? else {
            return Ok(None);
        };
        let index: CannedIndex = from_json(&index)?.value;
        let key = keys::canned(tenant, index.owner.as_ref(), &index.shortcut);
        let Some(doc) = self.table.get_doc(&key, now).await? else { return Ok(None) };
        let response: CannedResponse = from_json(&doc)?.value;
        // A shortcut freed and claimed again by another response: the index is stale.
        Ok((response.id == *id).then_some(Current { response, item_version: doc.version }))
    }

    async fn scope(
        &self,
        tenant: &TenantId,
        owner: Option<&UserId>,
        prefix: &str,
    ) -> anyhow::Result<Vec<CannedResponse>> {
        let mut out: Vec<CannedResponse> = Vec::new();
        let mut after: Option<String> = None;
        let start = keys::canned_prefix(owner, prefix);
        loop {
            let room = MAX_LISTED_PER_SCOPE.saturating_sub(u16::try_from(out.len()).unwrap_or(u16::MAX));
            if room == 0 {
                return Ok(out);
            }
            let (docs, next) = self
                .table
                .query_docs(
                    &keys::tenant_partition(tenant),
                    &start,
                    after.as_deref(),
                    (room.min(100), true),
                    self.table.now(),
                )
                .await?;
            for doc in &docs {
                out.push(from_json(doc)?.value);
            }
            match next {
                Some(next) => after = Some(next),
                None => return Ok(out),
            }
        }
    }
}

fn index_write(
    tenant: &TenantId,
    response: &CannedResponse,
    precondition: Precondition,
) -> anyhow::Result<DocWrite> {
    let index = CannedIndex { owner: response.owner.clone(), shortcut: response.shortcut.clone() };
    Ok(DocWrite::Put {
        key: keys::canned_id(tenant, &response.id),
        entity: "canned_index",
        body: to_json(&index)?,
        expires_at: None,
        precondition,
    })
}

fn response_write(
    tenant: &TenantId,
    response: &CannedResponse,
    precondition: Precondition,
) -> anyhow::Result<DocWrite> {
    Ok(DocWrite::Put {
        key: keys::canned(tenant, response.owner.as_ref(), &response.shortcut),
        entity: "canned",
        body: to_json(response)?,
        expires_at: None,
        precondition,
    })
}

impl<D: DocTable> CannedStore for DocCanned<D> {
    async fn create_canned(&self, tenant: &TenantId, response: &CannedResponse) -> Result<(), CannedError> {
        let writes = vec![
            response_write(tenant, response, Precondition::Absent)?,
            index_write(tenant, response, Precondition::Absent)?,
        ];
        match self.table.write_docs(writes, Timestamp::from_millis(response.updated_at)).await {
            Ok(()) => Ok(()),
            Err(DocWriteError::Conflict { index: 0 }) => Err(CannedError::ShortcutTaken),
            Err(DocWriteError::Conflict { .. }) => {
                Err(anyhow::anyhow!("canned response id collision").into())
            }
            Err(DocWriteError::Unknown(e)) => Err(e.into()),
        }
    }

    async fn canned(&self, tenant: &TenantId, id: &CannedId) -> Result<Option<CannedResponse>, CannedError> {
        Ok(self.current(tenant, id).await?.map(|c| c.response))
    }

    async fn canned_list(
        &self,
        tenant: &TenantId,
        owner: Option<&UserId>,
        prefix: &str,
    ) -> Result<Vec<CannedResponse>, CannedError> {
        let mut all = self.scope(tenant, None, prefix).await?;
        if let Some(owner) = owner {
            all.extend(self.scope(tenant, Some(owner), prefix).await?);
        }
        // Stable: on a tie the tenant-wide one (listed first) stays first.
        all.sort_by(|a, b| a.shortcut.cmp(&b.shortcut));
        Ok(all)
    }

    async fn update_canned(
        &self,
        tenant: &TenantId,
        response: &CannedResponse,
    ) -> Result<CannedResponse, CannedError> {
        let current = self.current(tenant, &response.id).await?.ok_or(CannedError::NotFound)?;
        if current.response.version != response.version
            || current.response.scope != response.scope
            || current.response.owner != response.owner
        {
            return Err(CannedError::Conflict);
        }
        let updated = CannedResponse { version: response.version + 1, ..response.clone() };
        let at = Timestamp::from_millis(updated.updated_at);
        if updated.shortcut == current.response.shortcut {
            let write = response_write(tenant, &updated, Precondition::Version(current.item_version))?;
            return match self.table.write_docs(vec![write], at).await {
                Ok(()) => Ok(updated),
                Err(DocWriteError::Conflict { .. }) => Err(CannedError::Conflict),
                Err(DocWriteError::Unknown(e)) => Err(e.into()),
            };
        }
        let writes = vec![
            DocWrite::Delete {
                key: keys::canned(tenant, current.response.owner.as_ref(), &current.response.shortcut),
                precondition: Precondition::Version(current.item_version),
            },
            response_write(tenant, &updated, Precondition::Absent)?,
            index_write(tenant, &updated, Precondition::None)?,
        ];
        match self.table.write_docs(writes, at).await {
            Ok(()) => Ok(updated),
            Err(DocWriteError::Conflict { index: 1 }) => Err(CannedError::ShortcutTaken),
            Err(DocWriteError::Conflict { .. }) => Err(CannedError::Conflict),
            Err(DocWriteError::Unknown(e)) => Err(e.into()),
        }
    }

    async fn delete_canned(&self, tenant: &TenantId, id: &CannedId) -> Result<bool, CannedError> {
        let Some(current) = self.current(tenant, id).await? else { return Ok(false) };
        let writes = vec![
            DocWrite::Delete {
                key: keys::canned(tenant, current.response.owner.as_ref(), &current.response.shortcut),
                precondition: Precondition::Version(current.item_version),
            },
            DocWrite::Delete { key: keys::canned_id(tenant, id), precondition: Precondition::None },
        ];
        match self.table.write_docs(writes, self.table.now()).await {
            Ok(()) => Ok(true),
            Err(DocWriteError::Conflict { .. }) => Err(CannedError::Conflict),
            Err(DocWriteError::Unknown(e)) => Err(e.into()),
        }
    }
}

/// [`ReadMarkStore`] on a [`DocTable`]: one small document per user and conversation.
#[derive(Debug, Clone)]
pub struct DocReadMarks<D> {
    table: D,
}

impl<D> DocReadMarks<D> {
    /// The marks on `table`.
    #[must_use]
    pub fn new(table: D) -> Self {
        Self { table }
    }
}

/// A read mark's body.
#[derive(Debug, Serialize, Deserialize)]
struct ReadMark {
    read_at: i64,
}

impl<D: DocTable> ReadMarkStore for DocReadMarks<D> {
    async fn mark_read(
        &self,
        tenant: &TenantId,
        user: &UserId,
        conversation: &ConversationId,
        at: i64,
    ) -> Result<(), ReadMarkError> {
        let key = keys::read_mark(tenant, user, conversation);
        let now = self.table.now();
        let expires_at = ExpiresAt::after(now, std::time::Duration::from_secs(READ_MARK_DAYS * 86_400));
        // Two tries: a concurrent mark of the same user (another tab) makes the first lose.
        for _ in 0..2 {
            let current = self.table.get_doc(&key, now).await?;
            let precondition = match &current {
                Some(doc) => {
                    let mark: ReadMark = from_json(doc)?.value;
                    if mark.read_at >= at {
                        return Ok(());
                    }
                    Precondition::Version(doc.version)
                }
                None => Precondition::AbsentOrExpired,
            };
            let write = DocWrite::Put {
                key: key.clone(),
                entity: "read_mark",
                body: to_json(&ReadMark { read_at: at })?,
                expires_at: Some(expires_at),
                precondition,
            };
            if write_one(&self.table, write, now).await? {
                return Ok(());
            }
        }
        Err(anyhow::anyhow!("read mark kept changing").into())
    }

    async fn last_read(
        &self,
        tenant: &TenantId,
        user: &UserId,
        conversation: &ConversationId,
    ) -> Result<Option<i64>, ReadMarkError> {
        let doc = self.table.get_doc(&keys::read_mark(tenant, user, conversation), self.table.now()).await?;
        Ok(doc.as_ref().map(from_json::<ReadMark>).transpose()?.map(|m| m.value.read_at))
    }
}
