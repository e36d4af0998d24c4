//! [`OutboundStore`]'s contract: a queued message is stored once; one holder claims it at a
//! time, only the holder releases it, a claim that ran out is lapsed and never retaken; sent,
//! failed and blocked end it; unknown holds it unsent until a status or reconciliation settles
//! it; the pair limit reads the previous send.

use super::{outbound, person, tenant, wamid};
use crate::domain::inbox::{
    ContactStore, ConversationStore, InboxError, MessageStatus, OutboundClaim, OutboundStore, Unsent,
};
use crate::domain::whatsapp::MetaError;
use crate::domain::{ContactId, MessageId, TenantId, Timestamp};

fn refusal() -> MetaError {
    MetaError {
        code: 131_047,
        title: Some("Re-engagement message".into()),
        message: None,
        error_data: None,
        href: None,
    }
}

async fn contact<S: ContactStore>(store: &S, tenant: &TenantId, digits: &str) -> ContactId {
    store.create_contact(tenant, &person(digits, "Ana"), Timestamp::from_secs(1)).await.unwrap().0.id
}

/// Queues a message to `contact` accepted at `at`.
async fn queued<S: OutboundStore>(
    store: &S,
    tenant: &TenantId,
    contact: &ContactId,
    at: Timestamp,
) -> MessageId {
    let id = MessageId::generate(at).unwrap();
    store.store_outbound(tenant, &outbound(&id, contact, at), super::now()).await.unwrap();
    id
}

/// A queued message is stored once (a second call answers the first's), queued, in the
/// contact's conversation; a message to no contact is refused with `NoContact`.
pub async fn an_outbound_message_is_stored_once<S: OutboundStore + ContactStore + ConversationStore>(
    store: &S,
) {
    // Arrange
    let tenant = tenant();
    let to = contact(store, &tenant, "5511930000001").await;
    let id = MessageId::generate(Timestamp::from_secs(100)).unwrap();
    let message = outbound(&id, &to, Timestamp::from_secs(100));

    // Act
    let first = store.store_outbound(&tenant, &message, super::now()).await.unwrap();
    let again = store.store_outbound(&tenant, &message, super::now()).await.unwrap();
    let nobody = ContactId::generate(super::now()).unwrap();
    let refused = store
        .store_outbound(
            &tenant,
            &outbound(&MessageId::generate(super::now()).unwrap(), &nobody, Timestamp::from_secs(100)),
            super::now(),
        )
        .await;

    // Assert
    assert_eq!(first, again);
    assert_eq!(
        (first.id.clone(), first.status, first.direction.as_str()),
        (id.clone(), MessageStatus::Queued, "outbound")
    );
    assert_eq!((first.kind.as_str(), first.timestamp, first.wamid.clone()), ("text", 100_000, None));
    assert_eq!(store.outbound(&tenant, &id).await.unwrap(), Some(first.clone()));
    let conversation =
        store.contact(&tenant, &to).await.unwrap().and_then(|c| c.conversation_id).expect("opened");
    assert_eq!(first.conversation_id, conversation);
    assert_eq!(store.messages(&tenant, &conversation, None, 10).await.unwrap().items, [first]);
    assert!(matches!(refused, Err(InboxError::NoContact)), "{refused:?}");
}

/// One holder at a time: a held claim answers `Held(until)`, releasing with another `until`
/// leaves the claim, the holder's release frees it, and a claim that ran out without an outcome
/// or a release is `Lapsed`: never taken again (its holder may have reached Meta).
pub async fn a_claim_has_one_holder<S: OutboundStore + ContactStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let to = contact(store, &tenant, "5511930000002").await;
    let now = super::now();
    let id = queued(store, &tenant, &to, now).await;
    let until = Timestamp::from_millis(now.as_millis() + 60_000);
    let other_until = Timestamp::from_millis(now.as_millis() + 30_000);
    let later = Timestamp::from_millis(until.as_millis() + 1);

    // Act
    let taken = store.claim_outbound(&tenant, &id, until, now).await.unwrap();
    let held = store.claim_outbound(&tenant, &id, other_until, now).await.unwrap();
    store.release_outbound(&tenant, &id, other_until).await.unwrap();
    let not_released = store.claim_outbound(&tenant, &id, other_until, now).await.unwrap();
    store.release_outbound(&tenant, &id, until).await.unwrap();
    let free = store.claim_outbound(&tenant, &id, until, now).await.unwrap();
    let lapsed = store
        .claim_outbound(&tenant, &id, Timestamp::from_millis(later.as_millis() + 60_000), later)
        .await
        .unwrap();
    let still_lapsed = store.claim_outbound(&tenant, &id, until, later).await.unwrap();

    // Assert
    assert_eq!(taken, OutboundClaim::Acquired);
    assert_eq!(held, OutboundClaim::Held(until));
    assert_eq!(not_released, OutboundClaim::Held(until), "another holder's release is ignored");
    assert_eq!(free, OutboundClaim::Acquired, "the holder's release frees it");
    assert_eq!(lapsed, OutboundClaim::Lapsed, "a claim that ran out is not taken again");
    assert_eq!(still_lapsed, OutboundClaim::Lapsed);
}

/// `unknown` moves only a queued message (once), counts as a send for the pair limit, ends the
/// claim, and a later outcome settles it: sent, or failed by reconciliation (`fail_unknown`,
/// only for what has been unknown long enough).
pub async fn an_unknown_outcome_holds_the_message_until_settled<S: OutboundStore + ContactStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let to = contact(store, &tenant, "5511930000007").await;
    let now = super::now();
    let ms = |offset: i64| Timestamp::from_millis(now.as_millis() + offset);
    let settled_sent = queued(store, &tenant, &to, now).await;
    let settled_failed = queued(store, &tenant, &to, ms(1)).await;
    let after = queued(store, &tenant, &to, ms(2)).await;
    let already_sent = queued(store, &tenant, &to, ms(3)).await;
    let recent = queued(store, &tenant, &to, ms(4)).await;
    store.claim_outbound(&tenant, &settled_sent, ms(60_000), now).await.unwrap();
    store.mark_sent(&tenant, &already_sent, Some(&wamid("wamid.BEFORE")), ms(4)).await.unwrap();

    // Act
    let moved = store.mark_unknown(&tenant, &settled_sent, ms(10)).await.unwrap();
    let again = store.mark_unknown(&tenant, &settled_sent, ms(11)).await.unwrap();
    let not_queued = store.mark_unknown(&tenant, &already_sent, ms(12)).await.unwrap();
    store.mark_unknown(&tenant, &settled_failed, ms(13)).await.unwrap();
    let unknown = store.outbound(&tenant, &settled_sent).await.unwrap().expect("message");
    let claim = store.claim_outbound(&tenant, &settled_sent, ms(120_000), ms(100)).await.unwrap();
    let previous = store.previous_send(&tenant, &after).await.unwrap();
    store.mark_sent(&tenant, &settled_sent, Some(&wamid("wamid.SETTLED")), ms(20)).await.unwrap();
    store.mark_unknown(&tenant, &recent, ms(40)).await.unwrap();
    let mut outcome_unknown = refusal();
    outcome_unknown.title = Some(crate::domain::outbound::OUTCOME_UNKNOWN.into());
    let conversation = unknown.conversation_id.clone();
    let ended = store.fail_unknown(&tenant, &conversation, ms(13), &outcome_unknown, ms(50)).await.unwrap();

    // Assert
    assert!(moved);
    assert!(!again, "only a queued message becomes unknown");
    assert!(!not_queued, "a settled message stays settled");
    assert_eq!(unknown.status, MessageStatus::Unknown);
    assert_eq!(unknown.statuses.get("unknown"), Some(&ms(10).as_millis()), "in its history");
    assert_eq!(ended, 1, "only what was unknown by then, and not what a status settled");
    assert_eq!(claim, OutboundClaim::Handled, "an unknown message is never claimed again");
    assert_eq!(previous, Some(ms(13)), "the pair limit counts from when it may have gone");
    let sent = store.outbound(&tenant, &settled_sent).await.unwrap().expect("message");
    assert_eq!((sent.status, sent.wamid.as_deref()), (MessageStatus::Sent, Some("wamid.SETTLED")));
    let failed = store.outbound(&tenant, &settled_failed).await.unwrap().expect("message");
    assert_eq!(failed.status, MessageStatus::Failed);
    assert_eq!(failed.error.and_then(|e| e.title).as_deref(), Some("outcome-unknown"));
    let still_sent = store.outbound(&tenant, &already_sent).await.unwrap().expect("message");
    assert_eq!(still_sent.status, MessageStatus::Sent);
    let not_yet = store.outbound(&tenant, &recent).await.unwrap().expect("message");
    assert_eq!(not_yet.status, MessageStatus::Unknown, "unknown since after the deadline's start");
}

/// A message no longer queued is `Handled`, an unknown one `Missing`.
pub async fn a_handled_or_unknown_message_is_not_claimed<S: OutboundStore + ContactStore>(store: &S) {
    let tenant = tenant();
    let to = contact(store, &tenant, "5511930000003").await;
    let now = super::now();
    let until = Timestamp::from_millis(now.as_millis() + 60_000);
    let sent = queued(store, &tenant, &to, now).await;
    let failed = queued(store, &tenant, &to, Timestamp::from_millis(now.as_millis() + 1)).await;
    let blocked = queued(store, &tenant, &to, Timestamp::from_millis(now.as_millis() + 2)).await;

    store.mark_sent(&tenant, &sent, Some(&wamid("wamid.HANDLED")), now).await.unwrap();
    store.mark_unsent(&tenant, &failed, Unsent::Failed, &refusal(), now).await.unwrap();
    store.mark_unsent(&tenant, &blocked, Unsent::Blocked, &refusal(), now).await.unwrap();

    for id in [&sent, &failed, &blocked] {
        assert_eq!(store.claim_outbound(&tenant, id, until, now).await.unwrap(), OutboundClaim::Handled);
    }
    let unknown = MessageId::generate(now).unwrap();
    assert_eq!(store.claim_outbound(&tenant, &unknown, until, now).await.unwrap(), OutboundClaim::Missing);
}

/// Marking a message sent records its wamid and `sent`; failed and blocked are final and keep
/// their error: a later `mark_sent` does not move them back.
pub async fn sent_failed_and_blocked_end_a_message<S: OutboundStore + ContactStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let to = contact(store, &tenant, "5511930000004").await;
    let now = super::now();
    let sent = queued(store, &tenant, &to, now).await;
    let failed = queued(store, &tenant, &to, Timestamp::from_millis(now.as_millis() + 1)).await;
    let blocked = queued(store, &tenant, &to, Timestamp::from_millis(now.as_millis() + 2)).await;
    let at = Timestamp::from_millis(now.as_millis() + 10);

    // Act
    store.mark_sent(&tenant, &sent, Some(&wamid("wamid.SENT")), at).await.unwrap();
    store.mark_unsent(&tenant, &failed, Unsent::Failed, &refusal(), at).await.unwrap();
    store.mark_unsent(&tenant, &blocked, Unsent::Blocked, &refusal(), at).await.unwrap();
    store.mark_sent(&tenant, &failed, Some(&wamid("wamid.LATE")), at).await.unwrap();

    // Assert
    let sent = store.outbound(&tenant, &sent).await.unwrap().expect("message");
    assert_eq!((sent.status, sent.wamid.as_deref()), (MessageStatus::Sent, Some("wamid.SENT")));
    let failed = store.outbound(&tenant, &failed).await.unwrap().expect("message");
    assert_eq!(failed.status, MessageStatus::Failed, "failed is final");
    assert_eq!(failed.error.map(|e| e.code), Some(131_047));
    let blocked = store.outbound(&tenant, &blocked).await.unwrap().expect("message");
    assert_eq!((blocked.status, blocked.error.map(|e| e.code)), (MessageStatus::Blocked, Some(131_047)));
}

/// The previous send is when Meta accepted the latest earlier message of the conversation;
/// `None` before any.
pub async fn previous_send_is_the_latest_earlier_send<S: OutboundStore + ContactStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let to = contact(store, &tenant, "5511930000005").await;
    let now = super::now();
    let first = queued(store, &tenant, &to, now).await;
    let second = queued(store, &tenant, &to, Timestamp::from_millis(now.as_millis() + 1)).await;
    let sent_at = Timestamp::from_millis(now.as_millis() + 5);

    // Act
    let nothing_yet = store.previous_send(&tenant, &second).await.unwrap();
    store.mark_sent(&tenant, &first, Some(&wamid("wamid.PREV")), sent_at).await.unwrap();
    let previous = store.previous_send(&tenant, &second).await.unwrap();
    let before_any = store.previous_send(&tenant, &first).await.unwrap();

    // Assert
    assert_eq!(nothing_yet, None);
    assert_eq!(previous, Some(sent_at));
    assert_eq!(before_any, None, "its own send does not count");
}

/// Another tenant's message id finds nothing, claims nothing and releases nothing.
pub async fn another_tenants_message_is_not_found<S: OutboundStore + ContactStore>(store: &S) {
    // Arrange
    let owner = tenant();
    let other = tenant();
    let to = contact(store, &owner, "5511930000006").await;
    let now = super::now();
    let id = queued(store, &owner, &to, now).await;
    let until = Timestamp::from_millis(now.as_millis() + 60_000);
    store.claim_outbound(&owner, &id, until, now).await.unwrap();

    // Act
    let found = store.outbound(&other, &id).await.unwrap();
    let claimed = store.claim_outbound(&other, &id, until, now).await.unwrap();
    store.release_outbound(&other, &id, until).await.unwrap();
    let still_held = store.claim_outbound(&owner, &id, until, now).await.unwrap();
    let previous = store.previous_send(&other, &id).await.unwrap();

    // Assert
    assert_eq!(found, None);
    assert_eq!(claimed, OutboundClaim::Missing);
    assert_eq!(still_held, OutboundClaim::Held(until), "another tenant cannot release the claim");
    assert_eq!(previous, None);
}

/// Every check of the suite.
pub async fn all<S: OutboundStore + ContactStore + ConversationStore>(store: &S) {
    an_outbound_message_is_stored_once(store).await;
    a_claim_has_one_holder(store).await;
    an_unknown_outcome_holds_the_message_until_settled(store).await;
    a_handled_or_unknown_message_is_not_claimed(store).await;
    sent_failed_and_blocked_end_a_message(store).await;
    previous_send_is_the_latest_earlier_send(store).await;
    another_tenants_message_is_not_found(store).await;
}
