//! The contact center's store contract on any store that keeps conversations and agents
//! together ([`ConversationStore`] + [`AgentStore`]): `update_conversation` moves agents' loads
//! and queues' waiting entries in the same atomic write as the conversation, refuses an agent at
//! capacity (or offline, when asked) writing nothing, and under concurrency never assigns a
//! conversation twice nor puts an agent over capacity; cycles and first replies; removal releases.

use std::sync::Arc;

use super::{inbound, person, phone, tenant, wamid};
use crate::domain::center::{AgentStore, Presence, DEFAULT_CAPACITY};
use crate::domain::inbox::{
    ContactStore, ConversationPatch, ConversationState, ConversationStore, ConversationView, Expiry,
    IngestStore, LifecycleStore, UpdateConversationError,
};
use crate::domain::{QueueId, TenantId, Timestamp, UserId};

/// What the suite needs of a store: conversations (opened by inbound messages, as in
/// production), agents, and removal.
pub trait CenterStore:
    ConversationStore + AgentStore + IngestStore + ContactStore + LifecycleStore + Clone + 'static
{
}

impl<S> CenterStore for S where
    S: ConversationStore + AgentStore + IngestStore + ContactStore + LifecycleStore + Clone + 'static
{
}

fn agent(name: &str) -> UserId {
    UserId::parse(format!("usr_{name}")).unwrap()
}

fn queue(name: &str) -> QueueId {
    QueueId::parse(name).unwrap()
}

/// A base time for a check's explicit instants (milliseconds apart), near the wall clock.
fn base() -> i64 {
    super::now().as_millis()
}

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

/// `count` new conversations of `tenant`, one per customer (numbers from `first`), as the store
/// shows them.
async fn conversations<S: CenterStore>(
    store: &S,
    tenant: &TenantId,
    first: u64,
    count: u64,
) -> Vec<ConversationView> {
    let mut all = Vec::new();
    for i in 0..count {
        let digits = format!("55119{:08}", first + i);
        let from = person(&digits, "Ana");
        let id = wamid(&format!("wamid.{}.{digits}", tenant.as_str()));
        store.store_inbound_message(tenant, &inbound(&id, &from, 1_700_000_000), super::now()).await.unwrap();
        let contact = store.contact_by_phone(tenant, &phone(&digits)).await.unwrap().expect("the sender");
        let conversation = contact.conversation_id.expect("their conversation");
        all.push(store.conversation(tenant, &conversation).await.unwrap().expect("stored"));
    }
    all
}

async fn one<S: CenterStore>(store: &S, tenant: &TenantId, first: u64) -> ConversationView {
    conversations(store, tenant, first, 1).await.remove(0)
}

async fn load<S: CenterStore>(store: &S, tenant: &TenantId, user: &UserId) -> u32 {
    store.agent(tenant, user).await.unwrap().load
}

fn assign(user: &UserId) -> ConversationPatch {
    ConversationPatch {
        state: Some(ConversationState::Open),
        assignee: Some(Some(user.clone())),
        ..ConversationPatch::default()
    }
}

fn to_state(state: ConversationState) -> ConversationPatch {
    ConversationPatch { state: Some(state), ..ConversationPatch::default() }
}

fn enqueue(queue: &QueueId) -> ConversationPatch {
    ConversationPatch {
        state: Some(ConversationState::Queued),
        queue: Some(Some(queue.clone())),
        ..ConversationPatch::default()
    }
}

/// Assigning raises the agent's load (and notes when); resolving lowers it; pending keeps it.
pub async fn assigning_raises_the_load_and_resolving_lowers_it<S: CenterStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let ana = agent("ana");
    let conversation = one(store, &tenant, 1).await;
    let t = base();

    // Act
    let assigned = store.update_conversation(&tenant, &conversation.id, &assign(&ana), at(t)).await.unwrap();
    let after_assign = store.agent(&tenant, &ana).await.unwrap();
    let pending =
        ConversationPatch { state: Some(ConversationState::Pending), ..ConversationPatch::default() };
    store.update_conversation(&tenant, &conversation.id, &pending, at(t + 1)).await.unwrap();
    let after_pending = load(store, &tenant, &ana).await;
    let resolved = store
        .update_conversation(&tenant, &conversation.id, &to_state(ConversationState::Resolved), at(t + 2))
        .await
        .unwrap();

    // Assert
    assert_eq!(assigned.assignee.as_ref(), Some(&ana));
    assert_eq!((after_assign.load, after_assign.last_assigned_at), (1, Some(t)));
    assert_eq!(after_assign.capacity, DEFAULT_CAPACITY, "an agent nobody configured has the default");
    assert_eq!(after_pending, 1, "a pending conversation still counts");
    assert_eq!(resolved.resolved_at, Some(t + 2));
    assert_eq!(load(store, &tenant, &ana).await, 0);
    let listed = store.agents(&tenant).await.unwrap();
    assert_eq!(listed.iter().map(|a| &a.user_id).collect::<Vec<_>>(), [&ana]);
}

/// A transfer from one agent to another moves the load in the same write.
pub async fn a_transfer_moves_the_load<S: CenterStore>(store: &S) {
    let tenant = tenant();
    let (ana, bea) = (agent("ana"), agent("bea"));
    let conversation = one(store, &tenant, 2).await;
    let t = base();
    store.update_conversation(&tenant, &conversation.id, &assign(&ana), at(t)).await.unwrap();

    let transfer = ConversationPatch { assignee: Some(Some(bea.clone())), ..ConversationPatch::default() };
    let moved = store.update_conversation(&tenant, &conversation.id, &transfer, at(t + 5)).await.unwrap();

    assert_eq!(moved.assignee.as_ref(), Some(&bea));
    assert_eq!(load(store, &tenant, &ana).await, 0);
    let bea_status = store.agent(&tenant, &bea).await.unwrap();
    assert_eq!((bea_status.load, bea_status.last_assigned_at), (1, Some(t + 5)));
}

/// An agent at capacity is refused with `AgentUnavailable`, and nothing is written: not the
/// conversation, not the loads, not the waiting entry.
pub async fn an_agent_at_capacity_is_refused_and_nothing_is_written<S: CenterStore>(store: &S) {
    // Arrange: capacity 1, already holding one; another conversation waits in a queue.
    let tenant = tenant();
    let (ana, support) = (agent("ana"), queue("support"));
    let [held, waiting]: [ConversationView; 2] =
        conversations(store, &tenant, 3, 2).await.try_into().unwrap();
    let t = base();
    store.set_capacity(&tenant, &ana, 1).await.unwrap();
    store.update_conversation(&tenant, &held.id, &assign(&ana), at(t)).await.unwrap();
    let queued =
        store.update_conversation(&tenant, &waiting.id, &enqueue(&support), at(t + 1)).await.unwrap();

    // Act
    let refused = store.update_conversation(&tenant, &waiting.id, &assign(&ana), at(t + 2)).await;

    // Assert
    match refused {
        Err(UpdateConversationError::AgentUnavailable { agent }) => assert_eq!(agent, ana),
        other => panic!("an agent at capacity must be refused, got {other:?}"),
    }
    assert_eq!(store.conversation(&tenant, &waiting.id).await.unwrap(), Some(queued), "unchanged");
    let status = store.agent(&tenant, &ana).await.unwrap();
    assert_eq!((status.load, status.capacity, status.last_assigned_at), (1, 1, Some(t)));
    let entries = store.waiting(&tenant, &support, 10).await.unwrap();
    assert_eq!(entries.iter().map(|w| &w.conversation_id).collect::<Vec<_>>(), [&waiting.id], "still waits");
}

/// With `require_online`, an agent who is not online is refused (nothing written); once online
/// they are assigned. Without it, presence is not checked.
pub async fn require_online_refuses_an_agent_who_is_not_online<S: CenterStore>(store: &S) {
    let tenant = tenant();
    let (ana, bea) = (agent("ana"), agent("bea"));
    let [first, second]: [ConversationView; 2] =
        conversations(store, &tenant, 5, 2).await.try_into().unwrap();
    let t = base();
    let online_only = |user: &UserId| ConversationPatch { require_online: true, ..assign(user) };
    store.set_presence(&tenant, &ana, Presence::Away, at(t)).await.unwrap();

    let away = store.update_conversation(&tenant, &first.id, &online_only(&ana), at(t + 1)).await;
    let unseen = store.update_conversation(&tenant, &first.id, &online_only(&bea), at(t + 1)).await;

    for (who, refused) in [(&ana, away), (&bea, unseen)] {
        match refused {
            Err(UpdateConversationError::AgentUnavailable { agent }) => assert_eq!(&agent, who),
            other => panic!("{who} is not online and must be refused, got {other:?}"),
        }
    }
    assert_eq!(store.conversation(&tenant, &first.id).await.unwrap(), Some(first.clone()), "unchanged");
    assert_eq!(load(store, &tenant, &ana).await, 0);
    let status = store.set_presence(&tenant, &ana, Presence::Online, at(t + 2)).await.unwrap();
    assert_eq!((status.presence, status.presence_at), (Presence::Online, t + 2));
    store.update_conversation(&tenant, &first.id, &online_only(&ana), at(t + 3)).await.unwrap();
    store
        .update_conversation(&tenant, &second.id, &assign(&bea), at(t + 3))
        .await
        .expect("presence unchecked");
    assert_eq!(load(store, &tenant, &ana).await, 1);
    assert_eq!(load(store, &tenant, &bea).await, 1);
}

/// A queued conversation has a waiting entry in its queue (since it was queued), listed oldest
/// first, in its queue only; the entry goes when it is assigned, and moves with a transfer to
/// another queue.
pub async fn queued_conversations_wait_oldest_first_until_taken<S: CenterStore>(store: &S) {
    // Arrange: three conversations queued in an order other than their creation's.
    let tenant = tenant();
    let (support, sales, ana) = (queue("support"), queue("sales"), agent("ana"));
    let [a, b, c]: [ConversationView; 3] = conversations(store, &tenant, 7, 3).await.try_into().unwrap();
    let t = base();
    let queued_b = store.update_conversation(&tenant, &b.id, &enqueue(&support), at(t + 1)).await.unwrap();
    store.update_conversation(&tenant, &c.id, &enqueue(&support), at(t + 2)).await.unwrap();
    store.update_conversation(&tenant, &a.id, &enqueue(&support), at(t + 3)).await.unwrap();

    // Act / Assert: oldest first, limited.
    let entries = store.waiting(&tenant, &support, 10).await.unwrap();
    let order: Vec<_> = entries.iter().map(|w| (w.conversation_id.clone(), w.since)).collect();
    assert_eq!(order, [(b.id.clone(), t + 1), (c.id.clone(), t + 2), (a.id.clone(), t + 3)]);
    assert!(entries.iter().all(|w| w.queue == support));
    assert_eq!(queued_b.queued_at, Some(t + 1));
    assert_eq!(store.waiting(&tenant, &support, 2).await.unwrap().len(), 2);
    assert!(store.waiting(&tenant, &sales, 10).await.unwrap().is_empty(), "another queue is empty");

    // Taken: its entry goes, and it waits no more.
    let taken = store.update_conversation(&tenant, &b.id, &assign(&ana), at(t + 4)).await.unwrap();
    assert_eq!(taken.queued_at, None);
    // Transferred to another queue: it waits there, since the transfer.
    store.update_conversation(&tenant, &c.id, &enqueue(&sales), at(t + 5)).await.unwrap();
    let left: Vec<_> =
        store.waiting(&tenant, &support, 10).await.unwrap().into_iter().map(|w| w.conversation_id).collect();
    assert_eq!(left, std::slice::from_ref(&a.id));
    let in_sales = store.waiting(&tenant, &sales, 10).await.unwrap();
    assert_eq!(in_sales.iter().map(|w| (&w.conversation_id, w.since)).collect::<Vec<_>>(), [(&c.id, t + 5)]);
    assert_eq!(store.conversation(&tenant, &c.id).await.unwrap().unwrap().queued_at, Some(t + 5));
}

/// Reopening a resolved conversation starts a new cycle (`cycle_started_at`, no first reply, no
/// resolution) and takes its agent's load again; a snooze holds only while pending.
pub async fn reopening_starts_a_new_cycle<S: CenterStore>(store: &S) {
    let tenant = tenant();
    let ana = agent("ana");
    let conversation = one(store, &tenant, 10).await;
    let t = base();
    assert_eq!(conversation.cycle_started_at, conversation.started_at, "a new conversation's first cycle");
    store.update_conversation(&tenant, &conversation.id, &assign(&ana), at(t)).await.unwrap();
    let snooze = ConversationPatch {
        state: Some(ConversationState::Pending),
        snoozed_until: Some(Some(t + 60_000)),
        ..ConversationPatch::default()
    };
    let snoozed = store.update_conversation(&tenant, &conversation.id, &snooze, at(t + 1)).await.unwrap();
    assert_eq!(snoozed.snoozed_until, Some(t + 60_000));
    assert!(store.note_agent_reply(&tenant, &conversation.id, at(t + 2)).await.unwrap().is_some());
    let resolved = store
        .update_conversation(&tenant, &conversation.id, &to_state(ConversationState::Resolved), at(t + 3))
        .await
        .unwrap();
    assert_eq!(resolved.snoozed_until, None, "a snooze ends when the conversation leaves pending");
    assert_eq!((resolved.first_reply_at, resolved.resolved_at), (Some(t + 2), Some(t + 3)));
    assert_eq!(load(store, &tenant, &ana).await, 0);

    let reopened = store
        .update_conversation(&tenant, &conversation.id, &to_state(ConversationState::Open), at(t + 10))
        .await
        .unwrap();

    assert_eq!(reopened.cycle_started_at, t + 10);
    assert_eq!((reopened.first_reply_at, reopened.resolved_at), (None, None));
    assert_eq!(reopened.started_at, conversation.started_at, "the conversation's start stays");
    assert_eq!(store.conversation(&tenant, &conversation.id).await.unwrap(), Some(reopened));
    let status = store.agent(&tenant, &ana).await.unwrap();
    assert_eq!((status.load, status.last_assigned_at), (1, Some(t)), "the same agent: no new assignment");
}

/// Of concurrent agent replies, exactly one is the first of the cycle; after a reopen, the next
/// reply is first again; an unknown conversation has no first reply.
pub async fn the_first_reply_is_first_once_per_cycle<S: CenterStore>(store: &S) {
    const REPLIES: usize = 8;
    let tenant = tenant();
    let conversation = one(store, &tenant, 11).await;
    let t = base();
    let barrier = Arc::new(tokio::sync::Barrier::new(REPLIES));
    let replies: Vec<_> = (0..REPLIES)
        .map(|i| {
            let (store, tenant, id, barrier) =
                (store.clone(), tenant.clone(), conversation.id.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.note_agent_reply(&tenant, &id, at(t + i as i64)).await.unwrap()
            })
        })
        .collect();
    let firsts: Vec<ConversationView> =
        futures::future::join_all(replies).await.into_iter().filter_map(|r| r.unwrap()).collect();

    let [first] = <[ConversationView; 1]>::try_from(firsts).expect("exactly one first reply");
    let stored = store.conversation(&tenant, &conversation.id).await.unwrap().unwrap();
    assert_eq!(stored.first_reply_at, first.first_reply_at);
    assert_eq!(stored.version, conversation.version, "a reply changes no version");
    assert!(store.note_agent_reply(&tenant, &conversation.id, at(t + 100)).await.unwrap().is_none());
    let resolve = to_state(ConversationState::Resolved);
    store.update_conversation(&tenant, &conversation.id, &resolve, at(t + 200)).await.unwrap();
    store
        .update_conversation(&tenant, &conversation.id, &to_state(ConversationState::Open), at(t + 300))
        .await
        .unwrap();
    let again = store.note_agent_reply(&tenant, &conversation.id, at(t + 400)).await.unwrap();
    assert_eq!(again.and_then(|c| c.first_reply_at), Some(t + 400), "the new cycle's first reply");
    assert!(store.note_agent_reply(&tenant, &conversation.id, at(t + 500)).await.unwrap().is_none());
    let missing = crate::domain::ConversationId::parse("cv_missing").unwrap();
    assert!(store.note_agent_reply(&tenant, &missing, at(t)).await.unwrap().is_none());
}

/// Deleting a conversation releases its agent's load; deleting a queued one removes its waiting
/// entry.
pub async fn removing_a_conversation_releases_its_load_and_entry<S: CenterStore>(store: &S) {
    let tenant = tenant();
    let (ana, support) = (agent("ana"), queue("support"));
    let [open, queued]: [ConversationView; 2] =
        conversations(store, &tenant, 12, 2).await.try_into().unwrap();
    let t = base();
    store.update_conversation(&tenant, &open.id, &assign(&ana), at(t)).await.unwrap();
    store.update_conversation(&tenant, &queued.id, &enqueue(&support), at(t)).await.unwrap();

    for id in [&open.id, &queued.id] {
        while let Expiry::Partial(_) = store.delete_conversation(&tenant, id, 100).await.unwrap() {}
    }

    assert_eq!(load(store, &tenant, &ana).await, 0);
    assert!(store.waiting(&tenant, &support, 10).await.unwrap().is_empty());
    assert!(store.conversation(&tenant, &open.id).await.unwrap().is_none());
}

/// How many conversations and agents the concurrency check uses.
const CONCURRENT_CONVERSATIONS: usize = 50;
const CONCURRENT_AGENTS: usize = 5;

/// 50 queued conversations assigned at once to 5 online agents of capacity 10, by two
/// competing assigners per conversation (as two engine runs would), each trying the agents in
/// turn until one accepts and re-reading the conversation on a version conflict: every
/// conversation is assigned exactly once, every agent's load is exactly 10 and equals the
/// conversations assigned to them, no waiting entry is left.
pub async fn concurrent_assignment_never_assigns_twice_nor_over_capacity<S: CenterStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let support = queue("support");
    let agents: Vec<UserId> = (0..CONCURRENT_AGENTS).map(|i| agent(&format!("agent{i}"))).collect();
    let t = base();
    for user in &agents {
        store.set_presence(&tenant, user, Presence::Online, at(t)).await.unwrap();
        store.set_capacity(&tenant, user, 10).await.unwrap();
    }
    let all = conversations(store, &tenant, 100, CONCURRENT_CONVERSATIONS as u64).await;
    for (i, conversation) in all.iter().enumerate() {
        store
            .update_conversation(&tenant, &conversation.id, &enqueue(&support), at(t + i as i64))
            .await
            .unwrap();
    }
    assert_eq!(store.waiting(&tenant, &support, 100).await.unwrap().len(), CONCURRENT_CONVERSATIONS);

    // Act
    let assigners = 2 * CONCURRENT_CONVERSATIONS;
    let barrier = Arc::new(tokio::sync::Barrier::new(assigners));
    let tasks: Vec<_> = (0..assigners)
        .map(|i| {
            let (store, tenant, agents, barrier) =
                (store.clone(), tenant.clone(), agents.clone(), barrier.clone());
            let id = all[i % CONCURRENT_CONVERSATIONS].id.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let mut turn = i;
                for _ in 0..100 {
                    let seen = store.conversation(&tenant, &id).await.unwrap().unwrap();
                    if seen.state != ConversationState::Queued {
                        return None; // The other assigner took it.
                    }
                    let user = &agents[turn % agents.len()];
                    let patch = ConversationPatch {
                        expected_version: Some(seen.version),
                        require_online: true,
                        ..assign(user)
                    };
                    match store.update_conversation(&tenant, &id, &patch, at(t + 1_000)).await {
                        Ok(done) => return Some((id, done.assignee.unwrap())),
                        Err(UpdateConversationError::AgentUnavailable { .. }) => turn += 1,
                        Err(UpdateConversationError::VersionConflict { .. }) => {}
                        Err(other) => panic!("an assignment failed otherwise: {other:?}"),
                    }
                }
                panic!("an assigner found no agent in 100 tries")
            })
        })
        .collect();
    let won: Vec<_> = futures::future::join_all(tasks).await.into_iter().filter_map(|r| r.unwrap()).collect();

    // Assert
    assert_eq!(won.len(), CONCURRENT_CONVERSATIONS, "exactly one assignment per conversation");
    let mut ids: Vec<_> = won.iter().map(|(id, _)| id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), CONCURRENT_CONVERSATIONS, "no conversation assigned twice");
    for user in &agents {
        let status = store.agent(&tenant, user).await.unwrap();
        let winners = won.iter().filter(|(_, a)| a == user).count();
        let mut stored = 0;
        for conversation in &all {
            let now = store.conversation(&tenant, &conversation.id).await.unwrap().unwrap();
            assert_eq!(now.state, ConversationState::Open);
            stored += usize::from(now.assignee.as_ref() == Some(user));
        }
        assert_eq!(status.load, 10, "{user} is exactly at capacity");
        assert_eq!(usize::try_from(status.load).unwrap(), stored, "{user}'s load is what they hold");
        assert_eq!(winners, stored, "{user} holds what they won");
    }
    assert!(store.waiting(&tenant, &support, 100).await.unwrap().is_empty(), "nothing waits any more");
}

/// Every check of the suite.
pub async fn all<S: CenterStore>(store: &S) {
    assigning_raises_the_load_and_resolving_lowers_it(store).await;
    a_transfer_moves_the_load(store).await;
    an_agent_at_capacity_is_refused_and_nothing_is_written(store).await;
    require_online_refuses_an_agent_who_is_not_online(store).await;
    queued_conversations_wait_oldest_first_until_taken(store).await;
    reopening_starts_a_new_cycle(store).await;
    the_first_reply_is_first_once_per_cycle(store).await;
    removing_a_conversation_releases_its_load_and_entry(store).await;
    concurrent_assignment_never_assigns_twice_nor_over_capacity(store).await;
}
