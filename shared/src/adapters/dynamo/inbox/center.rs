//! The contact center on the table: [`AgentStore`] (agents' `AGENT#<user>` items, the
//! `WAIT#<queue>#<since>#<conversation>` entries), and the one transaction that changes a
//! conversation together with the loads and waiting entries it moves (`update_conversation`,
//! and the removal of a conversation by expiry, deletion or erasure).

use aws_sdk_dynamodb::types::{Delete, Put};

use super::*;
use crate::domain::center::{
    AgentStatus, AgentStore, CenterError, Presence, Timer, TimerKind, Waiting, DEFAULT_CAPACITY,
};
use crate::domain::inbox::CenterMoves;

/// How many times a read-check-write is tried again when something other than the
/// conversation's own condition cancelled it (a concurrent transaction on an agent's item).
const ATTEMPTS: u32 = 10;

/// A short pause before trying a contended transaction again: growing with the attempt, spread
/// (by the clock's nanoseconds) so that writers who collided do not collide again in step.
async fn back_off(attempt: u32) {
    let spread = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos() % 20))
        .unwrap_or(0);
    tokio::time::sleep(std::time::Duration::from_millis(10 * u64::from(attempt + 1) + spread)).await;
}

/// Why a conversation's transaction was cancelled, from its cancellation reasons (by index).
#[derive(Debug)]
pub(super) enum Cancelled {
    /// The conversation's condition failed: changed, gone or expired since it was read.
    Conversation,
    /// A concurrent transaction held the conversation: someone else is changing it.
    ConversationBusy,
    /// The releasing agent has no load to release (a conversation assigned before loads were
    /// kept): try again without releasing.
    Release,
    /// The taking agent is at capacity (or not online, when asked).
    Take,
    /// A concurrent transaction held another of its items (an agent, an entry): try again.
    Busy,
}

/// What failed in committing a conversation's transaction.
#[derive(Debug)]
pub(super) enum CommitError {
    /// Cancelled, for this reason.
    Cancelled(Cancelled),
    /// Anything else.
    Failed(anyhow::Error),
}

/// One conversation's transaction: its own write first, then the center's.
pub(super) struct CenterWrite {
    items: Vec<TransactWriteItem>,
    release: Option<usize>,
    take: Option<usize>,
}

impl CenterWrite {
    /// A transaction starting with the conversation's own write.
    pub(super) fn new(conversation: TransactWriteItem) -> Self {
        Self { items: vec![conversation], release: None, take: None }
    }
}

impl DynamoInbox {
    /// Adds to `write` what `moves` moves for `conversation`: the releasing agent's load down
    /// (unless `skip_release`), the taking agent's load up (conditional on capacity, and on
    /// presence when `require_online`), the old waiting entry deleted and the new one put.
    pub(super) fn add_moves(
        &self,
        write: &mut CenterWrite,
        tenant: &TenantId,
        conversation: &ConversationId,
        moves: &CenterMoves<'_>,
        (require_online, skip_release, at): (bool, bool, Timestamp),
    ) -> anyhow::Result<()> {
        let table = self.table.name();
        if let Some(agent) = moves.release.filter(|_| !skip_release) {
            let release = Update::builder()
                .table_name(table)
                .set_key(Some(key_attributes(&keys::agent(tenant, agent))))
                .update_expression("SET #load = #load - :one")
                .condition_expression("#load > :zero")
                .expression_attribute_names("#load", attr::LOAD)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":zero", n(0))
                .build()
                .context("building a load release")?;
            write.release = Some(write.items.len());
            write.items.push(TransactWriteItem::builder().update(release).build());
        }
        if let Some(agent) = moves.take {
            let mut sets = vec!["#load = if_not_exists(#load, :zero) + :one", "#ent = :agent"];
            // Under capacity: an item without a load holds none (capacities are at least 1), one
            // without a capacity has the default.
            let mut condition =
                "(attribute_not_exists(#load) OR (attribute_not_exists(#cap) AND #load < :defcap) \
                 OR #load < #cap)"
                    .to_owned();
            let mut take = Update::builder()
                .table_name(table)
                .set_key(Some(key_attributes(&keys::agent(tenant, agent))))
                .expression_attribute_names("#load", attr::LOAD)
                .expression_attribute_names("#cap", attr::CAPACITY)
                .expression_attribute_names("#ent", ENTITY)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":defcap", n(DEFAULT_CAPACITY))
                .expression_attribute_values(":agent", s("agent"));
            if moves.reassigned {
                sets.push("#last = :at");
                take = take
                    .expression_attribute_names("#last", attr::LAST_ASSIGNED_AT)
                    .expression_attribute_values(":at", n(at.as_millis()));
            }
            if require_online {
                condition.push_str(" AND #pres = :online");
                take = take
                    .expression_attribute_names("#pres", attr::PRESENCE)
                    .expression_attribute_values(":online", s(Presence::Online.as_str()));
            }
            let take = take
                .update_expression(format!("SET {}", sets.join(", ")))
                .condition_expression(condition)
                .build()
                .context("building a load take")?;
            write.take = Some(write.items.len());
            write.items.push(TransactWriteItem::builder().update(take).build());
        }
        if let Some((queue, since)) = moves.leave {
            let delete = Delete::builder()
                .table_name(table)
                .set_key(Some(key_attributes(&keys::waiting(tenant, queue, since, conversation))))
                .build()
                .context("building a waiting entry's deletion")?;
            write.items.push(TransactWriteItem::builder().delete(delete).build());
        }
        if let Some((queue, since)) = moves.enter {
            let mut entry = item_with_key(&keys::waiting(tenant, queue, since, conversation));
            entry.insert(ENTITY.to_owned(), s("waiting"));
            entry.insert(attr::CONVERSATION_ID.to_owned(), s(conversation.as_str()));
            entry.insert(attr::QUEUE.to_owned(), s(queue.as_str()));
            entry.insert(attr::SINCE.to_owned(), n(since));
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(entry))
                .build()
                .context("building a waiting entry")?;
            write.items.push(TransactWriteItem::builder().put(put).build());
        }
        // The timers the change calls for, armed with it or not at all.
        for (kind, due) in [(TimerKind::Wake, moves.wake), (TimerKind::Idle, moves.idle)] {
            if let Some(due) = due {
                let timer =
                    Timer { tenant: tenant.clone(), conversation_id: conversation.clone(), kind, due };
                write.items.push(self.timer_put(&timer)?);
            }
        }
        Ok(())
    }

    /// Commits `write` as one transaction, telling why it was cancelled.
    pub(super) async fn commit(&self, write: CenterWrite) -> Result<(), CommitError> {
        let CenterWrite { items, release, take } = write;
        let result = self.table.client().transact_write_items().set_transact_items(Some(items)).send().await;
        let error = match result {
            Ok(_) => return Ok(()),
            Err(e) => e.into_service_error(),
        };
        let TransactWriteItemsError::TransactionCanceledException(cancelled) = &error else {
            return Err(CommitError::Failed(
                anyhow::Error::new(error).context("a conversation's transaction"),
            ));
        };
        let codes: Vec<String> =
            cancelled.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_owned()).collect();
        let code = |index: Option<usize>| index.and_then(|i| codes.get(i).map(String::as_str));
        let reason = match code(Some(0)) {
            Some("ConditionalCheckFailed") => Cancelled::Conversation,
            Some("TransactionConflict") => Cancelled::ConversationBusy,
            _ if code(take) == Some("ConditionalCheckFailed") => Cancelled::Take,
            _ if code(release) == Some("ConditionalCheckFailed") => Cancelled::Release,
            _ if codes.iter().any(|c| c == "TransactionConflict") => Cancelled::Busy,
            _ => {
                return Err(CommitError::Failed(
                    anyhow::Error::new(error).context(format!("a conversation's transaction ({codes:?})")),
                ))
            }
        };
        Err(CommitError::Cancelled(reason))
    }

    /// The conversation's own write for a change from `current` to `next`: conditional on the
    /// version `seen` and the stored state, not expired; writes only the fields the change moves
    /// (a concurrent `note_agent_reply` keeps its `first_reply_at`).
    fn conversation_update(
        &self,
        tenant: &TenantId,
        (current, next): (&ConversationView, &ConversationView),
        seen: u64,
    ) -> anyhow::Result<TransactWriteItem> {
        let mut update = Update::builder()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&keys::conversation(tenant, &current.id))))
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#ver", VERSION)
            .expression_attribute_names("#st", attr::STATE)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":seen", n(seen))
            .expression_attribute_values(":from", s(current.state.as_str()))
            .expression_attribute_values(":now", n(self.now_filter().as_secs()));
        // An item without a version is at 0; an expired conversation is absent (P56).
        let version_matches =
            if seen == 0 { "(attribute_not_exists(#ver) OR #ver = :seen)" } else { "#ver = :seen" };
        update = update.condition_expression(format!(
            "attribute_exists(#pk) AND {version_matches} AND #st = :from \
             AND (attribute_not_exists(#exp) OR #exp > :now)"
        ));
        let mut fields: Vec<(&'static str, Option<AttributeValue>)> = vec![
            (VERSION, Some(n(next.version))),
            (attr::UPDATED_AT, Some(n(next.updated_at))),
            (attr::STATE, Some(s(next.state.as_str()))),
        ];
        let changed = |a: &Option<i64>, b: &Option<i64>| a != b;
        if current.assignee != next.assignee {
            fields.push((attr::ASSIGNEE, next.assignee.as_ref().map(|u| s(u.as_str()))));
        }
        if current.queue != next.queue {
            fields.push((attr::QUEUE, next.queue.as_ref().map(|q| s(q.as_str()))));
        }
        if changed(&current.queued_at, &next.queued_at) {
            fields.push((attr::QUEUED_AT, next.queued_at.map(n)));
        }
        if current.cycle_started_at != next.cycle_started_at {
            fields.push((attr::CYCLE_STARTED_AT, Some(n(next.cycle_started_at))));
        }
        if changed(&current.first_reply_at, &next.first_reply_at) {
            fields.push((attr::FIRST_REPLY_AT, next.first_reply_at.map(n)));
        }
        if changed(&current.resolved_at, &next.resolved_at) {
            fields.push((attr::RESOLVED_AT, next.resolved_at.map(n)));
        }
        if changed(&current.snoozed_until, &next.snoozed_until) {
            fields.push((attr::SNOOZED_UNTIL, next.snoozed_until.map(n)));
        }
        let (mut sets, mut removes) = (Vec::new(), Vec::new());
        for (i, (name, value)) in fields.into_iter().enumerate() {
            // `#st` and `#ver` are named by the condition already.
            let placeholder = match name {
                VERSION => "#ver".to_owned(),
                attr::STATE => "#st".to_owned(),
                _ => {
                    update = update.expression_attribute_names(format!("#f{i}"), name);
                    format!("#f{i}")
                }
            };
            match value {
                Some(value) => {
                    sets.push(format!("{placeholder} = :f{i}"));
                    update = update.expression_attribute_values(format!(":f{i}"), value);
                }
                None => removes.push(placeholder),
            }
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let update =
            update.update_expression(expression).build().context("building a conversation update")?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// `update_conversation`: read, check, then one transaction of the conversation, the loads
    /// and the waiting entries it moves; tried again (a bounded number of times) when only a
    /// concurrent transaction on another of its items cancelled it.
    pub(super) async fn update_atomically(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
        patch: &ConversationPatch,
        at: Timestamp,
    ) -> Result<ConversationView, UpdateConversationError> {
        let mut skip_release = false;
        for attempt in 0..ATTEMPTS {
            let current = self.conversation(tenant, id).await?.ok_or(UpdateConversationError::NotFound)?;
            let seen = patch.check(&current)?;
            let next = patch.apply(&current, at);
            let moves = CenterMoves::between(&current, &next);
            let mut write = CenterWrite::new(self.conversation_update(tenant, (&current, &next), seen)?);
            self.add_moves(&mut write, tenant, id, &moves, (patch.require_online, skip_release, at))?;
            match self.commit(write).await {
                Ok(()) => return Ok(next),
                Err(CommitError::Cancelled(Cancelled::Conversation | Cancelled::ConversationBusy)) => {
                    // Someone else wrote (or it expired) between the read and the write.
                    return match self.conversation(tenant, id).await? {
                        None => Err(UpdateConversationError::NotFound),
                        Some(now) => Err(UpdateConversationError::VersionConflict {
                            expected: seen,
                            actual: Some(now.version),
                        }),
                    };
                }
                Err(CommitError::Cancelled(Cancelled::Take)) => {
                    let agent =
                        moves.take.cloned().ok_or_else(|| anyhow::anyhow!("a take failed with no taker"))?;
                    return Err(UpdateConversationError::AgentUnavailable { agent });
                }
                Err(CommitError::Cancelled(Cancelled::Release)) => {
                    tracing::warn!("A conversation's agent had no load to release; released nothing");
                    skip_release = true;
                }
                Err(CommitError::Cancelled(Cancelled::Busy)) => {
                    back_off(attempt).await;
                }
                Err(CommitError::Failed(e)) => return Err(e.context("updating a conversation").into()),
            }
        }
        Err(anyhow::anyhow!("updating a conversation: still contended after {ATTEMPTS} attempts").into())
    }

    /// Deletes a conversation item (`item`, as read including expired) in one transaction with
    /// its agent's load release and its waiting entry; tried again when it changed meanwhile.
    pub(super) async fn delete_conversation_item(
        &self,
        tenant: &TenantId,
        key: &Key,
        item: &Item,
    ) -> Result<(), InboxError> {
        let mut item = Some(item.clone());
        let mut skip_release = false;
        for attempt in 0..ATTEMPTS {
            let Some(current) = item.take() else { return Ok(()) };
            let Ok(view) = conversation_view(&current) else {
                // Not a conversation this adapter can read: nothing of the center to move.
                return self.table.delete(key).await.map_err(|e| unknown(e, "deleting a conversation"));
            };
            let mut delete = Delete::builder()
                .table_name(self.table.name())
                .set_key(Some(key_attributes(key)))
                .expression_attribute_names("#ver", VERSION);
            // Deleted as read: a change meanwhile (a claim) moved loads this plan does not know.
            delete = if view.version == 0 {
                delete.condition_expression("attribute_not_exists(#ver) OR #ver = :ver")
            } else {
                delete.condition_expression("#ver = :ver")
            }
            .expression_attribute_values(":ver", n(view.version));
            let delete = delete.build().context("building a conversation's deletion")?;
            let mut write = CenterWrite::new(TransactWriteItem::builder().delete(delete).build());
            let moves = CenterMoves::removal(&view);
            self.add_moves(&mut write, tenant, &view.id, &moves, (false, skip_release, self.now_filter()))?;
            match self.commit(write).await {
                Ok(()) => return Ok(()),
                Err(CommitError::Cancelled(Cancelled::Release)) => skip_release = true,
                Err(CommitError::Cancelled(_)) => {
                    back_off(attempt).await;
                }
                Err(CommitError::Failed(e)) => return Err(unknown(e, "deleting a conversation")),
            }
            item = self
                .table
                .get_including_expired(key)
                .await
                .map_err(|e| unknown(e, "re-reading a conversation"))?;
        }
        Err(InboxError::Unknown(anyhow::anyhow!(
            "deleting a conversation: still contended after {ATTEMPTS} attempts"
        )))
    }
}

/// An agent's item read back (the user from its sort key; absent fields at their defaults).
fn agent_view(item: &Item) -> anyhow::Result<AgentStatus> {
    let sk = item.string(SK)?;
    let user = sk.strip_prefix(keys::AGENT_PREFIX).context("not an agent item")?;
    Ok(AgentStatus {
        user_id: UserId::parse(user)?,
        presence: match item.opt_string(attr::PRESENCE) {
            Some(name) => Presence::parse(name).with_context(|| format!("unknown presence {name:?}"))?,
            None => Presence::Offline,
        },
        presence_at: item.opt_number(attr::PRESENCE_AT)?.unwrap_or(0),
        capacity: item.opt_number(attr::CAPACITY)?.unwrap_or(DEFAULT_CAPACITY),
        load: item.opt_number(attr::LOAD)?.unwrap_or(0),
        last_assigned_at: item.opt_number(attr::LAST_ASSIGNED_AT)?,
    })
}

fn waiting_view(item: &Item) -> anyhow::Result<Waiting> {
    Ok(Waiting {
        conversation_id: ConversationId::parse(item.string(attr::CONVERSATION_ID)?)?,
        queue: QueueId::parse(item.string(attr::QUEUE)?)?,
        since: item.number(attr::SINCE)?,
    })
}

fn failed(error: impl Into<anyhow::Error>, what: &'static str) -> CenterError {
    CenterError::Unknown(error.into().context(what))
}

impl DynamoInbox {
    /// Sets one attribute of the agent's item (creating it) and returns their status.
    async fn set_agent(
        &self,
        tenant: &TenantId,
        user: &UserId,
        sets: &[(&'static str, AttributeValue)],
    ) -> Result<AgentStatus, CenterError> {
        let mut request = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&keys::agent(tenant, user))))
            .expression_attribute_names("#ent", ENTITY)
            .expression_attribute_values(":ent", s("agent"))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew);
        let mut expression = vec!["#ent = :ent".to_owned()];
        for (i, (name, value)) in sets.iter().enumerate() {
            request = request
                .expression_attribute_names(format!("#a{i}"), *name)
                .expression_attribute_values(format!(":a{i}"), value.clone());
            expression.push(format!("#a{i} = :a{i}"));
        }
        let output = request
            .update_expression(format!("SET {}", expression.join(", ")))
            .send()
            .await
            .map_err(|e| failed(e.into_service_error(), "writing an agent's status"))?;
        agent_view(&output.attributes.unwrap_or_default()).map_err(|e| failed(e, "mapping an agent"))
    }
}

impl AgentStore for DynamoInbox {
    async fn set_presence(
        &self,
        tenant: &TenantId,
        user: &UserId,
        presence: Presence,
        at: Timestamp,
    ) -> Result<AgentStatus, CenterError> {
        let sets = [(attr::PRESENCE, s(presence.as_str())), (attr::PRESENCE_AT, n(at.as_millis()))];
        self.set_agent(tenant, user, &sets).await
    }

    async fn set_capacity(
        &self,
        tenant: &TenantId,
        user: &UserId,
        capacity: u32,
    ) -> Result<AgentStatus, CenterError> {
        self.set_agent(tenant, user, &[(attr::CAPACITY, n(capacity))]).await
    }

    async fn agent(&self, tenant: &TenantId, user: &UserId) -> Result<AgentStatus, CenterError> {
        // `Table::get` reads strongly consistent: the engine decides on it.
        match self.table.get(&keys::agent(tenant, user), self.now_filter()).await {
            Ok(Some(item)) => agent_view(&item).map_err(|e| failed(e, "mapping an agent")),
            Ok(None) => Ok(AgentStatus::unseen(user.clone())),
            Err(e) => Err(failed(e, "reading an agent")),
        }
    }

    async fn agents(&self, tenant: &TenantId) -> Result<Vec<AgentStatus>, CenterError> {
        let partition = keys::tenant_partition(tenant);
        let mut agents = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .table
                .query_prefix(&partition, keys::AGENT_PREFIX, self.now_filter(), 100, after.as_deref())
                .await
                .map_err(|e| failed(e, "listing agents"))?;
            for item in &page.items {
                agents.push(agent_view(item).map_err(|e| failed(e, "mapping an agent"))?);
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(agents),
            }
        }
    }

    async fn waiting(
        &self,
        tenant: &TenantId,
        queue: &QueueId,
        limit: u16,
    ) -> Result<Vec<Waiting>, CenterError> {
        let page = self
            .table
            .query_prefix(
                &keys::tenant_partition(tenant),
                &keys::waiting_prefix(queue),
                self.now_filter(),
                i32::from(limit.max(1)),
                None,
            )
            .await
            .map_err(|e| failed(e, "listing a queue's waiting conversations"))?;
        let mut waiting: Vec<Waiting> = page
            .items
            .iter()
            .map(waiting_view)
            .collect::<anyhow::Result<_>>()
            .map_err(|e| failed(e, "mapping"))?;
        waiting.truncate(usize::from(limit));
        Ok(waiting)
    }
}
