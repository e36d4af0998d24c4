//! [`ConversationStore`]'s reads: a contact's conversation, its messages oldest first in pages
//! whose cursors round-trip, the latest messages, tenant isolation. (How `update_conversation`
//! moves a conversation's state is `conversation_state`'s.)

use super::{inbound, person, phone, tenant, wamid};
use crate::domain::inbox::{ContactStore, ConversationFilter, ConversationStore, InboxError, IngestStore};
use crate::domain::{ConversationId, TenantId};

/// Stores inbound messages from one person, sent at `secs`, and returns their conversation.
async fn conversation_with<S: IngestStore + ContactStore>(
    store: &S,
    tenant: &TenantId,
    digits: &str,
    secs: &[i64],
) -> ConversationId {
    let from = person(digits, "Ana");
    for s in secs {
        let id = wamid(&format!("wamid.{digits}.{s}"));
        store.store_inbound_message(tenant, &inbound(&id, &from, *s), super::now()).await.unwrap();
    }
    let contact = store.contact_by_phone(tenant, &phone(digits)).await.unwrap().expect("the sender");
    contact.conversation_id.expect("the sender's open conversation")
}

/// Messages come oldest first (by when they were sent, whatever the arrival order), in pages of
/// at most `limit` whose cursors lead through every message once.
pub async fn messages_page_oldest_first<S: ConversationStore + IngestStore + ContactStore>(store: &S) {
    // Arrange: sent at 100..500, arriving out of order.
    let tenant = tenant();
    let conversation = conversation_with(store, &tenant, "5511910000001", &[500, 100, 300, 200, 400]).await;

    // Act
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store.messages(&tenant, &conversation, after.as_deref(), 2).await.unwrap();
        assert!(page.items.len() <= 2, "a page holds at most its limit");
        seen.extend(page.items.iter().map(|m| m.timestamp));
        pages += 1;
        assert!(pages <= 10, "the cursors do not end");
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }

    // Assert
    assert_eq!(seen, [100_000, 200_000, 300_000, 400_000, 500_000]);
    assert!(pages >= 3);
}

/// The latest messages are the newest `limit`, listed oldest first.
pub async fn latest_messages_are_the_newest_oldest_first<
    S: ConversationStore + IngestStore + ContactStore,
>(
    store: &S,
) {
    let tenant = tenant();
    let conversation = conversation_with(store, &tenant, "5511910000002", &[300, 100, 500, 200, 400]).await;

    let latest = store.latest_messages(&tenant, &conversation, 2).await.unwrap();
    let every = store.latest_messages(&tenant, &conversation, 10).await.unwrap();

    let times: Vec<_> = latest.iter().map(|m| m.timestamp).collect();
    assert_eq!(times, [400_000, 500_000]);
    assert_eq!(every.len(), 5);
    assert!(every.windows(2).all(|w| w[0].timestamp <= w[1].timestamp), "oldest first");
}

/// Messages before a time come newest first, at most `limit`, none at or after the time.
pub async fn messages_before_come_newest_first_and_stop_at_the_time<
    S: ConversationStore + IngestStore + ContactStore,
>(
    store: &S,
) {
    let tenant = tenant();
    let conversation = conversation_with(store, &tenant, "5511910000007", &[300, 100, 500, 200, 400]).await;

    let latest = store.messages_before(&tenant, &conversation, None, 2).await.unwrap();
    let before = store.messages_before(&tenant, &conversation, Some(400_000), 10).await.unwrap();

    let times = |messages: &[crate::domain::inbox::MessageView]| {
        messages.iter().map(|m| m.timestamp).collect::<Vec<_>>()
    };
    assert_eq!(times(&latest), [500_000, 400_000]);
    assert_eq!(times(&before), [300_000, 200_000, 100_000], "strictly before, newest first");
}

/// A contact's messages continue one conversation: the contact links it, it is the contact's,
/// and its last message time is the latest message's.
pub async fn a_contacts_messages_share_one_conversation<S: ConversationStore + IngestStore + ContactStore>(
    store: &S,
) {
    // Arrange / Act
    let tenant = tenant();
    let conversation = conversation_with(store, &tenant, "5511910000003", &[100, 300, 200]).await;

    // Assert
    let contact = store.contact_by_phone(&tenant, &phone("5511910000003")).await.unwrap().expect("contact");
    let view = store.conversation(&tenant, &conversation).await.unwrap().expect("the conversation");
    assert_eq!(view.id, conversation);
    assert_eq!(view.contact_id, contact.id);
    assert_eq!(view.state, crate::domain::inbox::ConversationState::Open);
    assert_eq!(view.started_at, 100_000);
    assert_eq!(view.last_message_at, 300_000, "the latest message, not the last to arrive");
    assert!(view.updated_at >= view.last_message_at, "a message is a change");
    let messages = store.messages(&tenant, &conversation, None, 10).await.unwrap();
    assert_eq!(messages.items.len(), 3);
    assert!(messages.items.iter().all(|m| m.conversation_id == conversation && m.direction == "inbound"));
    let theirs = store
        .conversations(&tenant, Some(&contact.id), &ConversationFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(theirs.items, [view]);
}

/// The tenant's conversations come in pages whose cursors lead through each once; one
/// contact's listing holds only theirs.
pub async fn conversation_pages_round_trip<S: ConversationStore + IngestStore + ContactStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(conversation_with(store, &tenant, &format!("551191000002{i}"), &[100 + i]).await);
    }

    // Act
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let page = store
            .conversations(&tenant, None, &ConversationFilter::default(), after.as_deref(), 2)
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|c| c.id));
        after = page.next;
        if after.is_none() {
            break;
        }
    }

    // Assert
    assert_eq!(after, None, "the cursors end");
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids, "each conversation once");
    let contact = store.contact_by_phone(&tenant, &phone("5511910000021")).await.unwrap().expect("contact");
    let theirs = store
        .conversations(&tenant, Some(&contact.id), &ConversationFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(theirs.items.len(), 1);
    assert_eq!(Some(&theirs.items[0].id), contact.conversation_id.as_ref());
}

/// A cursor these listings did not produce is refused with `InvalidCursor`.
pub async fn an_invalid_cursor_is_refused<S: ConversationStore + IngestStore + ContactStore>(store: &S) {
    let tenant = tenant();
    let conversation = conversation_with(store, &tenant, "5511910000031", &[100]).await;

    let messages = store.messages(&tenant, &conversation, Some("not a cursor"), 10).await;
    let conversations =
        store.conversations(&tenant, None, &ConversationFilter::default(), Some("not a cursor"), 10).await;

    assert!(matches!(messages, Err(InboxError::InvalidCursor)), "{messages:?}");
    assert!(matches!(conversations, Err(InboxError::InvalidCursor)), "{conversations:?}");
}

/// Another tenant's conversation id finds nothing: no conversation, no messages, no listing.
pub async fn another_tenants_conversation_is_not_found<S: ConversationStore + IngestStore + ContactStore>(
    store: &S,
) {
    let owner = tenant();
    let other = tenant();
    let conversation = conversation_with(store, &owner, "5511910000041", &[100, 200]).await;

    assert_eq!(store.conversation(&other, &conversation).await.unwrap(), None);
    assert!(store.messages(&other, &conversation, None, 10).await.unwrap().items.is_empty());
    assert!(store.latest_messages(&other, &conversation, 10).await.unwrap().is_empty());
    let listed = store.conversations(&other, None, &ConversationFilter::default(), None, 10).await.unwrap();
    assert!(listed.items.is_empty());
}

/// Every check of the suite.
pub async fn all<S: ConversationStore + IngestStore + ContactStore>(store: &S) {
    messages_page_oldest_first(store).await;
    latest_messages_are_the_newest_oldest_first(store).await;
    messages_before_come_newest_first_and_stop_at_the_time(store).await;
    a_contacts_messages_share_one_conversation(store).await;
    conversation_pages_round_trip(store).await;
    an_invalid_cursor_is_refused(store).await;
    another_tenants_conversation_is_not_found(store).await;
}
