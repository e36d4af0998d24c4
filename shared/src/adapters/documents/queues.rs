//! [`QueueStore`] on the document table: contact-center queues and the claims on their names.
//!
//! A queue is one document (`QUEUE#<id>`); its name is claimed by a second one
//! (`QUEUENAME#<hash of the trimmed, lower-cased name>`, holding the queue id), written in the
//! same atomic group as the queue. Two queues therefore never share a name, even when created or
//! renamed at once; a rename moves the claim, a deletion releases it. The document's version is
//! the queue's: a read reports the stored version whatever the body says, so the two never drift.

use super::*;
use crate::domain::center::{CenterError, Queue, QueueStore};
use crate::domain::QueueId;

/// How often a deletion re-reads a queue that changed under it before giving up.
const DELETE_ATTEMPTS: usize = 5;

/// [`QueueStore`] on a [`DocTable`]. A created queue is stored at version 1.
#[derive(Debug, Clone)]
pub struct DocQueues<D> {
    table: D,
}

impl<D> DocQueues<D> {
    /// The store on `table`.
    #[must_use]
    pub fn new(table: D) -> Self {
        Self { table }
    }
}

/// The queue of a stored document, at the document's version.
fn queue_of(doc: &StoredDoc) -> anyhow::Result<Queue> {
    let Versioned { value, version } = from_json::<Queue>(doc)?;
    Ok(Queue { version, ..value })
}

fn name_claim(tenant: &TenantId, queue: &Queue) -> anyhow::Result<DocWrite> {
    Ok(DocWrite::Put {
        key: keys::queue_name(tenant, &queue.name),
        entity: "queue_name",
        body: to_json(&queue.id)?,
        expires_at: None,
        precondition: Precondition::Absent,
    })
}

impl<D: DocTable> DocQueues<D> {
    async fn stored(&self, tenant: &TenantId, id: &QueueId) -> anyhow::Result<Option<Queue>> {
        let doc = self.table.get_doc(&keys::queue(tenant, id), self.table.now()).await?;
        doc.as_ref().map(queue_of).transpose()
    }
}

impl<D: DocTable> QueueStore for DocQueues<D> {
    async fn create_queue(&self, tenant: &TenantId, queue: &Queue) -> Result<(), CenterError> {
        let stored = Queue { version: 1, ..queue.clone() };
        let writes = vec![
            name_claim(tenant, queue)?,
            DocWrite::Put {
                key: keys::queue(tenant, &queue.id),
                entity: "queue",
                body: to_json(&stored)?,
                expires_at: None,
                precondition: Precondition::Absent,
            },
        ];
        match self.table.write_docs(writes, self.table.now()).await {
            Ok(()) => Ok(()),
            Err(DocWriteError::Conflict { index: 0 }) => Err(CenterError::QueueNameTaken),
            Err(DocWriteError::Conflict { .. }) => Err(anyhow::anyhow!("queue id collision").into()),
            Err(DocWriteError::Unknown(e)) => Err(e.into()),
        }
    }

    async fn queue(&self, tenant: &TenantId, id: &QueueId) -> Result<Option<Queue>, CenterError> {
        Ok(self.stored(tenant, id).await?)
    }

    async fn queues(&self, tenant: &TenantId) -> Result<Vec<Queue>, CenterError> {
        let docs = all_docs(&self.table, &keys::tenant_partition(tenant), keys::QUEUE_PREFIX).await?;
        let mut queues = docs.iter().map(queue_of).collect::<Result<Vec<_>, _>>()?;
        queues.sort_by(|a, b| {
            (a.name.to_lowercase(), &a.name, &a.id).cmp(&(b.name.to_lowercase(), &b.name, &b.id))
        });
        Ok(queues)
    }

    async fn update_queue(&self, tenant: &TenantId, queue: &Queue) -> Result<Queue, CenterError> {
        let current = self.stored(tenant, &queue.id).await?.ok_or(CenterError::QueueNotFound)?;
        if current.version != queue.version {
            return Err(CenterError::Conflict);
        }
        let updated = Queue { version: queue.version + 1, created_at: current.created_at, ..queue.clone() };
        let mut writes = vec![DocWrite::Put {
            key: keys::queue(tenant, &queue.id),
            entity: "queue",
            body: to_json(&updated)?,
            expires_at: None,
            precondition: Precondition::Version(queue.version),
        }];
        let renamed = keys::queue_name(tenant, &current.name) != keys::queue_name(tenant, &queue.name);
        if renamed {
            writes.push(name_claim(tenant, queue)?);
            writes.push(DocWrite::Delete {
                key: keys::queue_name(tenant, &current.name),
                precondition: Precondition::None,
            });
        }
        match self.table.write_docs(writes, self.table.now()).await {
            Ok(()) => Ok(updated),
            Err(DocWriteError::Conflict { index: 0 }) => {
                // Changed or deleted since the read above.
                match self.stored(tenant, &queue.id).await? {
                    Some(_) => Err(CenterError::Conflict),
                    None => Err(CenterError::QueueNotFound),
                }
            }
            Err(DocWriteError::Conflict { .. }) => Err(CenterError::QueueNameTaken),
            Err(DocWriteError::Unknown(e)) => Err(e.into()),
        }
    }

    async fn delete_queue(&self, tenant: &TenantId, id: &QueueId) -> Result<(), CenterError> {
        // The claim to release is the stored name's: a rename racing the deletion moves it, so
        // the queue is deleted at the version whose name was read, or read again.
        for _ in 0..DELETE_ATTEMPTS {
            let Some(current) = self.stored(tenant, id).await? else { return Ok(()) };
            let writes = vec![
                DocWrite::Delete {
                    key: keys::queue(tenant, id),
                    precondition: Precondition::Version(current.version),
                },
                DocWrite::Delete {
                    key: keys::queue_name(tenant, &current.name),
                    precondition: Precondition::None,
                },
            ];
            match self.table.write_docs(writes, self.table.now()).await {
                Ok(()) => return Ok(()),
                Err(DocWriteError::Conflict { .. }) => {}
                Err(DocWriteError::Unknown(e)) => return Err(e.into()),
            }
        }
        Err(anyhow::anyhow!("the queue kept changing while being deleted").into())
    }
}
