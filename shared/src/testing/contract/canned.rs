//! [`CannedStore`]'s and [`ReadMarkStore`]'s contracts: a shortcut is claimed once per scope
//! (the tenant's, each user's), atomically; renaming claims the new one and frees the old;
//! changes name the version they saw; listings are by shortcut, the tenant's and one user's;
//! a read mark never moves back.

use super::{now, tenant};
use crate::domain::canned::{CannedError, CannedResponse, CannedScope, CannedStore};
use crate::domain::reads::ReadMarkStore;
use crate::domain::{CannedId, ConversationId, UserId};

fn response(shortcut: &str, owner: Option<&UserId>) -> CannedResponse {
    let at = now();
    CannedResponse {
        id: CannedId::generate(at).unwrap(),
        shortcut: shortcut.to_owned(),
        title: None,
        text: format!("text of {shortcut}"),
        scope: if owner.is_some() { CannedScope::Personal } else { CannedScope::Tenant },
        owner: owner.cloned(),
        created_at: at.as_millis(),
        updated_at: at.as_millis(),
        version: 1,
    }
}

fn shortcuts(list: &[CannedResponse]) -> Vec<(&str, bool)> {
    list.iter().map(|r| (r.shortcut.as_str(), r.owner.is_some())).collect()
}

/// A shortcut is taken once per scope, concurrently too; scopes are apart; a listing holds the
/// tenant's and the one user's, by shortcut, filtered by prefix.
pub async fn shortcuts_are_unique_within_their_scope<S: CannedStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let (ana, bea) = (UserId::parse("usr_ana").unwrap(), UserId::parse("usr_bea").unwrap());

    // Act
    let (one, two) = (response("hours", None), response("hours", None));
    let (first, second) =
        tokio::join!(store.create_canned(&tenant, &one), store.create_canned(&tenant, &two));
    store.create_canned(&tenant, &response("hours", Some(&ana))).await.unwrap();
    store.create_canned(&tenant, &response("thanks", Some(&ana))).await.unwrap();
    store.create_canned(&tenant, &response("thanks", Some(&bea))).await.unwrap();
    store.create_canned(&tenant, &response("address", None)).await.unwrap();
    let again = store.create_canned(&tenant, &response("thanks", Some(&ana))).await;
    let anas = store.canned_list(&tenant, Some(&ana), "").await.unwrap();
    let prefixed = store.canned_list(&tenant, Some(&bea), "th").await.unwrap();
    let nobodys = store.canned_list(&tenant, None, "").await.unwrap();
    let elsewhere = store.canned_list(&super::tenant(), Some(&ana), "").await.unwrap();

    // Assert
    assert!(first.is_ok() != second.is_ok(), "one claim wins: {first:?} {second:?}");
    assert!(matches!(first.err().or(second.err()), Some(CannedError::ShortcutTaken)));
    assert!(matches!(again, Err(CannedError::ShortcutTaken)));
    assert_eq!(shortcuts(&anas), [("address", false), ("hours", false), ("hours", true), ("thanks", true)]);
    assert_eq!(shortcuts(&prefixed), [("thanks", true)]);
    assert_eq!(prefixed[0].owner.as_ref(), Some(&bea));
    assert_eq!(shortcuts(&nobodys), [("address", false), ("hours", false)]);
    assert!(elsewhere.is_empty());
}

/// An update names the version it saw and bumps it; a rename claims the new shortcut (refused
/// when taken, changing nothing) and frees the old; a delete frees the shortcut.
pub async fn changes_are_versioned_and_renames_move_the_claim<S: CannedStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let original = response("hi", None);
    store.create_canned(&tenant, &original).await.unwrap();
    store.create_canned(&tenant, &response("bye", None)).await.unwrap();

    // Act
    let texted = store
        .update_canned(&tenant, &CannedResponse { text: "Hello".into(), ..original.clone() })
        .await
        .unwrap();
    let stale =
        store.update_canned(&tenant, &CannedResponse { text: "Old".into(), ..original.clone() }).await;
    let onto_taken =
        store.update_canned(&tenant, &CannedResponse { shortcut: "bye".into(), ..texted.clone() }).await;
    let renamed = store
        .update_canned(&tenant, &CannedResponse { shortcut: "hello".into(), ..texted.clone() })
        .await
        .unwrap();
    let reread = store.canned(&tenant, &original.id).await.unwrap();
    let old_free = store.create_canned(&tenant, &response("hi", None)).await;
    let deleted = store.delete_canned(&tenant, &original.id).await.unwrap();
    let deleted_again = store.delete_canned(&tenant, &original.id).await.unwrap();
    let new_free = store.create_canned(&tenant, &response("hello", None)).await;
    let gone = store.update_canned(&tenant, &renamed).await;

    // Assert
    assert_eq!((texted.version, texted.text.as_str()), (2, "Hello"));
    assert!(matches!(stale, Err(CannedError::Conflict)), "{stale:?}");
    assert!(matches!(onto_taken, Err(CannedError::ShortcutTaken)), "{onto_taken:?}");
    assert_eq!((renamed.version, renamed.shortcut.as_str()), (3, "hello"));
    assert_eq!(reread.as_ref(), Some(&renamed), "found by id after the rename");
    assert!(old_free.is_ok(), "the old shortcut is free: {old_free:?}");
    assert!(deleted && !deleted_again);
    assert!(new_free.is_ok(), "deleting frees the shortcut: {new_free:?}");
    assert!(matches!(gone, Err(CannedError::NotFound)), "{gone:?}");
    assert_eq!(store.canned(&tenant, &original.id).await.unwrap(), None);
}

/// A read mark is per user and conversation, and never moves back.
pub async fn read_marks_only_move_forward<R: ReadMarkStore>(marks: &R) {
    // Arrange
    let tenant = tenant();
    let (ana, bea) = (UserId::parse("usr_ana").unwrap(), UserId::parse("usr_bea").unwrap());
    let conversation = ConversationId::parse("cv_1").unwrap();

    // Act
    let never = marks.last_read(&tenant, &ana, &conversation).await.unwrap();
    marks.mark_read(&tenant, &ana, &conversation, 2_000).await.unwrap();
    marks.mark_read(&tenant, &ana, &conversation, 1_000).await.unwrap();
    let after_back = marks.last_read(&tenant, &ana, &conversation).await.unwrap();
    marks.mark_read(&tenant, &ana, &conversation, 3_000).await.unwrap();

    // Assert
    assert_eq!(never, None);
    assert_eq!(after_back, Some(2_000));
    assert_eq!(marks.last_read(&tenant, &ana, &conversation).await.unwrap(), Some(3_000));
    assert_eq!(marks.last_read(&tenant, &bea, &conversation).await.unwrap(), None, "per user");
}

/// Every check of the canned store.
pub async fn all<S: CannedStore>(store: &S) {
    shortcuts_are_unique_within_their_scope(store).await;
    changes_are_versioned_and_renames_move_the_claim(store).await;
}
