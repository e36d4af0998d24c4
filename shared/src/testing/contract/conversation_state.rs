//! The conversation state machine's contract on any [`ConversationStore`]: versioned, conditional
//! updates (exactly one of concurrent claims wins) and refused transitions that change nothing.
//! Run on the in-memory fake (`cargo test -p shared --features test-util`) and on DynamoDB
//! against moto (`tests/it/conversation_state.rs`).

// Contract suites are test code run by tests: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use crate::domain::inbox::{
    ContactProfile, ConversationPatch, ConversationState, ConversationStore, ConversationView, IngestStore,
    NewInboundMessage, UpdateConversationError,
};
use crate::domain::tenant::RetentionSettings;
use crate::domain::{Clock as _, PhoneNumber, SystemClock, TenantId, UserId, Wamid};

/// How many agents claim at once.
const CLAIMANTS: usize = 8;

/// A fresh tenant with one conversation (opened by a customer's message, as inbound does), and
/// that conversation as the store shows it.
///
/// # Panics
/// When the store fails.
pub async fn a_conversation<S: ConversationStore + IngestStore>(store: &S) -> (TenantId, ConversationView) {
    let now = SystemClock.now();
    let tenant = TenantId::generate(now).unwrap();
    let from = ContactProfile {
        phone: PhoneNumber::parse("5511988887777").ok(),
        name: Some("Ana".into()),
        ..ContactProfile::default()
    };
    let wamid = Wamid::parse(format!("wamid.{}", tenant.as_str())).expect("a valid wamid");
    let message = NewInboundMessage {
        wamid: &wamid,
        from: &from,
        sent_at: now,
        kind: "text",
        raw: "{}",
        retention: RetentionSettings::default(),
    };
    store.store_inbound_message(&tenant, &message, now).await.expect("stored");
    let page = store.conversations(&tenant, None, &Default::default(), None, 10).await.expect("listed");
    let [conversation] = <[ConversationView; 1]>::try_from(page.items).expect("one conversation");
    (tenant, conversation)
}

/// Several agents claim one conversation at once, each with the version they all saw: exactly
/// one claim succeeds, every other one is a version conflict, the stored assignee is the
/// winner's and the version moved once.
///
/// The claims start together (a barrier releases them at once, each in its own task), so that
/// their reads and conditional writes overlap at the store.
///
/// # Panics
/// When the contract does not hold.
pub async fn several_claims_of_one_conversation_have_one_winner<S>(store: S)
where
    S: ConversationStore + IngestStore + Clone + 'static,
{
    let (tenant, seen) = a_conversation(&store).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(CLAIMANTS));
    let claims: Vec<_> = (0..CLAIMANTS)
        .map(|i| {
            let (store, tenant, id, barrier) =
                (store.clone(), tenant.clone(), seen.id.clone(), barrier.clone());
            let agent = UserId::parse(format!("usr_agent{i}")).expect("a valid user id");
            tokio::spawn(async move {
                let patch = ConversationPatch {
                    state: Some(ConversationState::Open),
                    assignee: Some(Some(agent.clone())),
                    expected_version: Some(seen.version),
                    ..ConversationPatch::default()
                };
                barrier.wait().await;
                (agent, store.update_conversation(&tenant, &id, &patch, SystemClock.now()).await)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut conflicts = 0;
    for claim in futures::future::join_all(claims).await {
        match claim.expect("the claim ran") {
            (agent, Ok(updated)) => winners.push((agent, updated)),
            (_, Err(UpdateConversationError::VersionConflict { expected, .. })) => {
                assert_eq!(expected, seen.version, "a conflict names the version its caller saw");
                conflicts += 1;
            }
            (agent, Err(other)) => panic!("{agent}'s claim failed otherwise: {other:?}"),
        }
    }
    let [(winner, updated)] = <[_; 1]>::try_from(winners)
        .unwrap_or_else(|w: Vec<_>| panic!("exactly one claim wins, got {}", w.len()));
    assert_eq!(conflicts, CLAIMANTS - 1, "every other claim is a version conflict");
    assert_eq!(updated.assignee.as_ref(), Some(&winner));
    assert_eq!(updated.version, seen.version + 1);
    let stored = store.conversation(&tenant, &seen.id).await.expect("read").expect("exists");
    assert_eq!(stored.assignee, Some(winner), "the stored assignee is the winner's");
    assert_eq!(stored.version, seen.version + 1, "the version moved once");
    assert_eq!(stored.state, ConversationState::Open);
}

/// A move the state machine refuses (`resolved → pending`) answers `IllegalTransition` naming
/// both states and changes nothing: not the state, not the assignee in the same patch, not the
/// version. A stale version is refused the same way, as a conflict.
///
/// # Panics
/// When the contract does not hold.
pub async fn an_illegal_transition_is_refused_and_changes_nothing<S>(store: S)
where
    S: ConversationStore + IngestStore,
{
    let (tenant, opened) = a_conversation(&store).await;
    let resolve =
        ConversationPatch { state: Some(ConversationState::Resolved), ..ConversationPatch::default() };
    let resolved =
        store.update_conversation(&tenant, &opened.id, &resolve, SystemClock.now()).await.expect("resolved");
    assert_eq!((resolved.state, resolved.version), (ConversationState::Resolved, opened.version + 1));

    let agent = UserId::parse("usr_late").expect("a valid user id");
    let pending = ConversationPatch {
        state: Some(ConversationState::Pending),
        assignee: Some(Some(agent.clone())),
        expected_version: Some(resolved.version),
        ..ConversationPatch::default()
    };
    match store.update_conversation(&tenant, &opened.id, &pending, SystemClock.now()).await {
        Err(UpdateConversationError::IllegalTransition { from, to }) => {
            assert_eq!((from, to), (ConversationState::Resolved, ConversationState::Pending));
        }
        other => panic!("resolved → pending must be refused, got {other:?}"),
    }
    let stale = ConversationPatch {
        state: Some(ConversationState::Open),
        assignee: Some(Some(agent)),
        expected_version: Some(opened.version),
        ..ConversationPatch::default()
    };
    match store.update_conversation(&tenant, &opened.id, &stale, SystemClock.now()).await {
        Err(UpdateConversationError::VersionConflict { expected, actual }) => {
            assert_eq!((expected, actual), (opened.version, Some(resolved.version)));
        }
        other => panic!("a stale version must be refused, got {other:?}"),
    }
    let stored = store.conversation(&tenant, &opened.id).await.expect("read").expect("exists");
    assert_eq!(stored, resolved, "nothing changed");

    let reopen = ConversationPatch { state: Some(ConversationState::Open), ..ConversationPatch::default() };
    let reopened =
        store.update_conversation(&tenant, &opened.id, &reopen, SystemClock.now()).await.expect("reopened");
    assert_eq!((reopened.state, reopened.version), (ConversationState::Open, resolved.version + 1));
}
