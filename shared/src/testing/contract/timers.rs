//! The contact center's timers on a store that keeps them with the conversations
//! ([`TimerStore`] + the center's store): a snooze arms its wake-up and a conversation becoming
//! worked arms its silence check **in the same write** as the change; buckets by minute, in due
//! order; arming and dropping are idempotent; the sweep's cursor is kept.
//!
//! Buckets are shared by every tenant (the sweep reads across tenants): each check looks only
//! at its own tenant's timers.

use super::{inbound, person, phone, tenant, wamid};
use crate::domain::center::{epoch_minute, Timer, TimerKind, TimerStore, IDLE_CHECK_AFTER_MS};
use crate::domain::inbox::{ConversationPatch, ConversationState, ConversationView, UpdateConversationError};
use crate::domain::{TenantId, Timestamp, UserId};

use super::center::CenterStore;

/// What the suite needs of a store.
pub trait TimedStore: CenterStore + TimerStore {}

impl<S: CenterStore + TimerStore> TimedStore for S {}

async fn opened<S: TimedStore>(store: &S, tenant: &TenantId, digits: &str) -> ConversationView {
    let from = person(digits, "Ana");
    let id = wamid(&format!("wamid.t.{}.{digits}", tenant.as_str()));
    store.store_inbound_message(tenant, &inbound(&id, &from, 1_700_000_000), super::now()).await.unwrap();
    let contact = store.contact_by_phone(tenant, &phone(digits)).await.unwrap().expect("the sender");
    store.conversation(tenant, &contact.conversation_id.expect("linked")).await.unwrap().expect("stored")
}

/// The tenant's timers due in `minute`.
async fn timers_of<S: TimedStore>(store: &S, tenant: &TenantId, minute: i64) -> Vec<Timer> {
    let all = store.due_timers(minute, 1000).await.unwrap();
    all.into_iter().filter(|t| &t.tenant == tenant).collect()
}

/// A new conversation (worked: `open`) has its first silence check, due
/// [`IDLE_CHECK_AFTER_MS`] after it was opened.
pub async fn opening_a_conversation_arms_its_silence_check<S: TimedStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let before = super::now().as_millis();

    // Act
    let conversation = opened(store, &tenant, "5511700000001").await;

    // Assert
    let after = super::now().as_millis();
    let mut found = Vec::new();
    for minute in epoch_minute(before + IDLE_CHECK_AFTER_MS)..=epoch_minute(after + IDLE_CHECK_AFTER_MS) {
        found.extend(timers_of(store, &tenant, minute).await);
    }
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].kind, &found[0].conversation_id), (TimerKind::Idle, &conversation.id));
    assert!((before + IDLE_CHECK_AFTER_MS..=after + IDLE_CHECK_AFTER_MS).contains(&found[0].due));
}

/// A snooze arms a wake-up at its time, with the change; a change refused arms nothing.
pub async fn a_snooze_arms_its_wake_up_with_the_change<S: TimedStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let conversation = opened(store, &tenant, "5511700000002").await;
    let now = super::now().as_millis();
    let until = now + 3 * 3_600_000;
    let snooze = |version| ConversationPatch {
        state: Some(ConversationState::Pending),
        snoozed_until: Some(Some(until)),
        expected_version: Some(version),
        ..ConversationPatch::default()
    };

    // Act
    let refused =
        store.update_conversation(&tenant, &conversation.id, &snooze(99), Timestamp::from_millis(now)).await;
    let empty_after_refusal = timers_of(store, &tenant, epoch_minute(until)).await;
    let snoozed = store
        .update_conversation(
            &tenant,
            &conversation.id,
            &snooze(conversation.version),
            Timestamp::from_millis(now),
        )
        .await
        .unwrap();

    // Assert
    assert!(matches!(refused, Err(UpdateConversationError::VersionConflict { .. })));
    assert!(empty_after_refusal.is_empty(), "a refused change arms nothing");
    assert_eq!(snoozed.snoozed_until, Some(until));
    let armed = timers_of(store, &tenant, epoch_minute(until)).await;
    let expected = Timer {
        tenant: tenant.clone(),
        conversation_id: conversation.id.clone(),
        kind: TimerKind::Wake,
        due: until,
    };
    assert_eq!(armed, vec![expected]);
}

/// An assignment from the queue (queued → open) arms a silence check; staying worked
/// (open → pending without a snooze) arms none.
pub async fn becoming_worked_arms_a_silence_check_once<S: TimedStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let conversation = opened(store, &tenant, "5511700000003").await;
    let t = super::now().as_millis() + 7 * 3_600_000;
    let queue = crate::domain::QueueId::parse("support").unwrap();
    let enqueue = ConversationPatch {
        state: Some(ConversationState::Queued),
        queue: Some(Some(queue)),
        ..ConversationPatch::default()
    };
    let assign = ConversationPatch {
        state: Some(ConversationState::Open),
        assignee: Some(Some(UserId::parse("usr_ana").unwrap())),
        ..ConversationPatch::default()
    };
    let pending =
        ConversationPatch { state: Some(ConversationState::Pending), ..ConversationPatch::default() };

    // Act
    store.update_conversation(&tenant, &conversation.id, &enqueue, Timestamp::from_millis(t)).await.unwrap();
    store
        .update_conversation(&tenant, &conversation.id, &assign, Timestamp::from_millis(t + 1))
        .await
        .unwrap();
    store
        .update_conversation(&tenant, &conversation.id, &pending, Timestamp::from_millis(t + 2))
        .await
        .unwrap();

    // Assert
    let due = t + 1 + IDLE_CHECK_AFTER_MS;
    let armed = timers_of(store, &tenant, epoch_minute(due)).await;
    assert_eq!(armed.iter().map(|t| (t.kind, t.due)).collect::<Vec<_>>(), vec![(TimerKind::Idle, due)]);
}

/// Timers come by minute in due order; arming twice keeps one; dropping is idempotent.
pub async fn timers_come_by_minute_in_due_order_and_go_once<S: TimedStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let conversation = opened(store, &tenant, "5511700000004").await;
    let minute = epoch_minute(super::now().as_millis()) + 60 * 24 * 3;
    let timer = |kind, second: i64| Timer {
        tenant: tenant.clone(),
        conversation_id: conversation.id.clone(),
        kind,
        due: minute * 60_000 + second * 1000,
    };
    let (late, early, next_minute) =
        (timer(TimerKind::Idle, 50), timer(TimerKind::Wake, 10), timer(TimerKind::Wake, 70));

    // Act
    for t in [&late, &early, &next_minute, &late] {
        store.arm_timer(t).await.unwrap();
    }
    let listed = timers_of(store, &tenant, minute).await;
    store.drop_timer(&early).await.unwrap();
    store.drop_timer(&early).await.unwrap();
    let after_drop = timers_of(store, &tenant, minute).await;

    // Assert
    assert_eq!(listed, vec![early.clone(), late.clone()]);
    assert_eq!(after_drop, vec![late]);
    assert_eq!(timers_of(store, &tenant, minute + 1).await, vec![next_minute]);
}

/// The sweep's cursor reads back as set.
pub async fn the_cursor_is_kept<S: TimedStore>(store: &S) {
    // Act
    let minute = epoch_minute(super::now().as_millis());
    store.set_timer_cursor(minute).await.unwrap();

    // Assert
    assert_eq!(store.timer_cursor().await.unwrap(), Some(minute));
}

/// Every check of the suite.
pub async fn all<S: TimedStore>(store: &S) {
    opening_a_conversation_arms_its_silence_check(store).await;
    a_snooze_arms_its_wake_up_with_the_change(store).await;
    becoming_worked_arms_a_silence_check_once(store).await;
    timers_come_by_minute_in_due_order_and_go_once(store).await;
    the_cursor_is_kept(store).await;
}
