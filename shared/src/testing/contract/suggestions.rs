//! [`SuggestionStore`]'s contract: a pending request reads back, ends once (a redelivered job
//! changes nothing), lists oldest first, and is gone once expired or deleted with its
//! conversation or contact; another tenant finds nothing.

use std::time::Duration;

use super::{inbound, now, person, phone, tenant, wamid};
use crate::domain::ai::{
    AiResult, SuggestionKind, SuggestionOutcome, SuggestionStatus, SuggestionStore, SuggestionView,
};
use crate::domain::inbox::{ContactStore, Expiry, IngestStore, LifecycleStore};
use crate::domain::{ContactId, ConversationId, ExpiresAt, TenantId, Timestamp};

/// A contact `digits` with one inbound message, and its conversation.
async fn conversation<S: IngestStore + ContactStore>(
    store: &S,
    tenant: &TenantId,
    digits: &str,
) -> (ContactId, ConversationId) {
    let from = person(digits, "Ana");
    let id = wamid(&format!("wamid.{digits}"));
    store.store_inbound_message(tenant, &inbound(&id, &from, 100), now()).await.unwrap();
    let contact = store.contact_by_phone(tenant, &phone(digits)).await.unwrap().expect("the sender");
    let conversation = contact.conversation_id.clone().expect("an open conversation");
    (contact.id, conversation)
}

/// A pending request on `conversation`, stored, kept for a day.
async fn pending<S: SuggestionStore>(
    store: &S,
    tenant: &TenantId,
    contact: &ContactId,
    conversation: &ConversationId,
    at: Timestamp,
) -> SuggestionView {
    let suggestion =
        SuggestionView::pending(conversation.clone(), contact.clone(), SuggestionKind::Replies, at).unwrap();
    store
        .create_suggestion(tenant, &suggestion, ExpiresAt::after(now(), Duration::from_secs(86_400)))
        .await
        .unwrap();
    suggestion
}

fn ready(replies: &[&str]) -> SuggestionOutcome {
    SuggestionOutcome::Ready(AiResult {
        replies: replies.iter().map(|r| (*r).to_owned()).collect(),
        ..AiResult::default()
    })
}

/// A pending request reads back as stored; it ends once: a second finish (a redelivery) answers
/// `false` and changes nothing.
pub async fn a_request_ends_once<S: SuggestionStore + IngestStore + ContactStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let (contact, conversation) = conversation(store, &tenant, "5511960000001").await;
    let suggestion = pending(store, &tenant, &contact, &conversation, now()).await;
    let at = Timestamp::from_millis(suggestion.requested_at + 1_000);

    // Act
    let stored = store.suggestion(&tenant, &conversation, &suggestion.id).await.unwrap();
    let first = store.finish_suggestion(&tenant, &suggestion, &ready(&["Hi!", "Hello"]), at).await.unwrap();
    let again = store
        .finish_suggestion(&tenant, &suggestion, &SuggestionOutcome::Failed("late".into()), at)
        .await
        .unwrap();

    // Assert
    assert_eq!(stored.as_ref(), Some(&suggestion));
    assert_eq!((first, again), (true, false));
    let finished = store.suggestion(&tenant, &conversation, &suggestion.id).await.unwrap().expect("kept");
    assert_eq!(finished.status, SuggestionStatus::Ready);
    assert_eq!(finished.result.replies, ["Hi!", "Hello"]);
    assert_eq!((finished.finished_at, finished.reason), (Some(at.as_millis()), None));
}

/// Finishing a request that was never stored answers `false` and stores nothing.
pub async fn an_unknown_request_is_not_finished<S: SuggestionStore + IngestStore + ContactStore>(store: &S) {
    let tenant = tenant();
    let (contact, conversation) = conversation(store, &tenant, "5511960000002").await;
    let never =
        SuggestionView::pending(conversation.clone(), contact, SuggestionKind::Summary, now()).unwrap();

    let finished = store.finish_suggestion(&tenant, &never, &ready(&["x"]), now()).await.unwrap();

    assert!(!finished);
    assert_eq!(store.suggestion(&tenant, &conversation, &never.id).await.unwrap(), None);
}

/// A conversation's requests are listed oldest first.
pub async fn requests_are_listed_oldest_first<S: SuggestionStore + IngestStore + ContactStore>(store: &S) {
    let tenant = tenant();
    let (contact, conversation) = conversation(store, &tenant, "5511960000003").await;
    let start = now();
    let mut ids = Vec::new();
    for offset in [0, 1_000, 2_000] {
        let at = Timestamp::from_millis(start.as_millis() + offset);
        ids.push(pending(store, &tenant, &contact, &conversation, at).await.id);
    }

    let listed = store.suggestions(&tenant, &conversation).await.unwrap();

    assert_eq!(listed.into_iter().map(|s| s.id).collect::<Vec<_>>(), ids);
}

/// A request past its expiry is not found.
pub async fn an_expired_request_is_not_found<S: SuggestionStore + IngestStore + ContactStore>(store: &S) {
    let tenant = tenant();
    let (contact, conversation) = conversation(store, &tenant, "5511960000004").await;
    let suggestion =
        SuggestionView::pending(conversation.clone(), contact, SuggestionKind::Replies, now()).unwrap();
    let past = ExpiresAt::after(Timestamp::from_secs(now().as_secs() - 3_600), Duration::from_secs(60));

    store.create_suggestion(&tenant, &suggestion, past).await.unwrap();

    assert_eq!(store.suggestion(&tenant, &conversation, &suggestion.id).await.unwrap(), None);
    assert!(store.suggestions(&tenant, &conversation).await.unwrap().is_empty());
}

/// Requests go with their conversation, and with their contact.
pub async fn requests_go_with_their_conversation_and_contact<
    S: SuggestionStore + IngestStore + ContactStore + LifecycleStore,
>(
    store: &S,
) {
    // Arrange
    let tenant = tenant();
    let (contact, deleted) = conversation(store, &tenant, "5511960000005").await;
    let by_conversation = pending(store, &tenant, &contact, &deleted, now()).await;
    let (erased_contact, erased) = conversation(store, &tenant, "5511960000006").await;
    let by_contact = pending(store, &tenant, &erased_contact, &erased, now()).await;

    // Act
    while matches!(store.delete_conversation(&tenant, &deleted, 100).await.unwrap(), Expiry::Partial(_)) {}
    while store.erase_contact(&tenant, &erased_contact, 100).await.unwrap().total() > 0 {}

    // Assert
    assert_eq!(store.suggestion(&tenant, &deleted, &by_conversation.id).await.unwrap(), None);
    assert!(store.suggestions(&tenant, &deleted).await.unwrap().is_empty());
    assert_eq!(store.suggestion(&tenant, &erased, &by_contact.id).await.unwrap(), None);
    assert!(store.suggestions(&tenant, &erased).await.unwrap().is_empty());
}

/// Another tenant finds nothing and finishes nothing.
pub async fn another_tenants_request_is_not_found<S: SuggestionStore + IngestStore + ContactStore>(
    store: &S,
) {
    let owner = tenant();
    let other = tenant();
    let (contact, conversation) = conversation(store, &owner, "5511960000007").await;
    let suggestion = pending(store, &owner, &contact, &conversation, now()).await;

    assert_eq!(store.suggestion(&other, &conversation, &suggestion.id).await.unwrap(), None);
    assert!(store.suggestions(&other, &conversation).await.unwrap().is_empty());
    assert!(!store.finish_suggestion(&other, &suggestion, &ready(&["x"]), now()).await.unwrap());
    let still = store.suggestion(&owner, &conversation, &suggestion.id).await.unwrap().map(|s| s.status);
    assert_eq!(still, Some(SuggestionStatus::Pending));
}

/// Every check of the suite.
pub async fn all<S: SuggestionStore + IngestStore + ContactStore + LifecycleStore>(store: &S) {
    a_request_ends_once(store).await;
    an_unknown_request_is_not_finished(store).await;
    requests_are_listed_oldest_first(store).await;
    an_expired_request_is_not_found(store).await;
    requests_go_with_their_conversation_and_contact(store).await;
    another_tenants_request_is_not_found(store).await;
}
