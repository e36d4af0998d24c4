//! [`FlowStore`]'s contract: a flow is created with version 1; every save is a new version and
//! the older ones stay readable; publishing and rolling back move `live` among existing versions
//! only; writes are optimistic; a deletion takes the versions too; a conversation's session is
//! saved at the version read (a second "first" save conflicts), ends (kept ended) and expires
//! with the conversation; another tenant sees nothing.

use super::{now, tenant};
use crate::domain::flows::{FlowDefinition, FlowRef, FlowSession};
use crate::domain::flows_store::{FlowMeta, FlowStore, FlowStoreError, SessionRecord};
use crate::domain::{ConversationId, FlowId};

/// A definition named `name` (one step that ends).
#[must_use]
pub fn definition(name: &str) -> FlowDefinition {
    serde_json::from_value(serde_json::json!({
        "name": name,
        "triggers": [{"type": "new_conversation"}],
        "start": "bye",
        "steps": {"bye": {"type": "end"}}
    }))
    .unwrap()
}

fn meta(name: &str) -> FlowMeta {
    FlowMeta {
        id: FlowId::generate(now()).unwrap(),
        name: name.into(),
        latest: 1,
        live: None,
        created_at: now().as_millis(),
        updated_at: now().as_millis(),
        version: 0,
    }
}

/// A running session of `flow` at version `number`, at its start.
fn session(flow: &FlowId, number: u32) -> FlowSession {
    FlowSession {
        flow: FlowRef { id: flow.as_str().to_owned(), version: number },
        step: "bye".into(),
        tries: 0,
        waiting_since: now(),
        answers: std::collections::BTreeMap::new(),
    }
}

fn record(conversation: &ConversationId, flow: &FlowId, expires_in_secs: i64) -> SessionRecord {
    SessionRecord {
        conversation: conversation.clone(),
        session: Some(session(flow, 1)),
        last_message: Some("wamid.1".into()),
        timeout_at: None,
        group: Some("group-1".into()),
        expires_at: now().as_secs() + expires_in_secs,
        version: 0,
    }
}

/// Every case.
pub async fn all<S: FlowStore>(store: &S) {
    a_created_flow_reads_back(store).await;
    every_save_is_a_new_version(store).await;
    only_existing_versions_go_live(store).await;
    writes_are_optimistic(store).await;
    a_deleted_flow_takes_its_versions(store).await;
    sessions_are_saved_at_the_version_read(store).await;
    an_ended_session_is_kept_ended(store).await;
}

/// A created flow reads back at version 1 with its definition; another tenant sees nothing.
pub async fn a_created_flow_reads_back<S: FlowStore>(store: &S) {
    // Arrange
    let (tenant, other) = (tenant(), tenant());
    let welcome = meta("Welcome");

    // Act
    let created = store.create_flow(&tenant, &welcome, &definition("Welcome")).await.unwrap();

    // Assert
    assert_eq!((created.latest, created.live, created.version), (1, None, 1));
    assert_eq!(store.flow(&tenant, &welcome.id).await.unwrap(), Some(created.clone()));
    assert_eq!(store.flows(&tenant).await.unwrap(), vec![created]);
    let first = store.version(&tenant, &welcome.id, 1).await.unwrap().unwrap();
    assert_eq!((first.number, first.definition), (1, definition("Welcome")));
    assert_eq!(store.flow(&other, &welcome.id).await.unwrap(), None);
    assert!(store.flows(&other).await.unwrap().is_empty());
    assert!(store.version(&other, &welcome.id, 1).await.unwrap().is_none());
    let again = store.create_flow(&tenant, &welcome, &definition("Welcome")).await;
    assert!(matches!(again, Err(FlowStoreError::Conflict)), "{again:?}");
}

/// A save adds version `latest + 1` and renames; the earlier version is unchanged.
pub async fn every_save_is_a_new_version<S: FlowStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let flow = store.create_flow(&tenant, &meta("One"), &definition("One")).await.unwrap();

    // Act
    let saved = store.save_version(&tenant, &flow.id, 1, ("Two", &definition("Two")), now()).await.unwrap();

    // Assert
    assert_eq!((saved.latest, saved.name.as_str(), saved.version), (2, "Two", 2));
    assert_eq!(store.flow(&tenant, &flow.id).await.unwrap(), Some(saved));
    assert_eq!(store.version(&tenant, &flow.id, 1).await.unwrap().unwrap().definition, definition("One"));
    assert_eq!(store.version(&tenant, &flow.id, 2).await.unwrap().unwrap().definition, definition("Two"));
}

/// Publishing names an existing version; rolling back publishes an earlier one; unpublishing
/// clears it; a version that does not exist is refused and nothing changes.
pub async fn only_existing_versions_go_live<S: FlowStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let flow = store.create_flow(&tenant, &meta("F"), &definition("F")).await.unwrap();
    let flow =
        store.save_version(&tenant, &flow.id, flow.version, ("F", &definition("F2")), now()).await.unwrap();

    // Act
    let missing = store.set_live(&tenant, &flow.id, flow.version, Some(3), now()).await;
    let published = store.set_live(&tenant, &flow.id, flow.version, Some(2), now()).await.unwrap();
    let rolled_back = store.set_live(&tenant, &flow.id, published.version, Some(1), now()).await.unwrap();
    let unpublished = store.set_live(&tenant, &flow.id, rolled_back.version, None, now()).await.unwrap();

    // Assert
    assert!(matches!(missing, Err(FlowStoreError::NotFound)), "{missing:?}");
    assert_eq!(published.live, Some(2));
    assert_eq!(rolled_back.live, Some(1));
    assert_eq!(unpublished.live, None);
    assert_eq!(store.flow(&tenant, &flow.id).await.unwrap(), Some(unpublished));
}

/// A save or publication at a version the flow is no longer at writes nothing; an unknown flow
/// is not found.
pub async fn writes_are_optimistic<S: FlowStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let flow = store.create_flow(&tenant, &meta("F"), &definition("F")).await.unwrap();
    store.save_version(&tenant, &flow.id, 1, ("F", &definition("F2")), now()).await.unwrap();

    // Act
    let stale_save = store.save_version(&tenant, &flow.id, 1, ("F", &definition("F3")), now()).await;
    let stale_publish = store.set_live(&tenant, &flow.id, 1, Some(1), now()).await;
    let unknown = FlowId::generate(now()).unwrap();
    let missing = store.save_version(&tenant, &unknown, 1, ("F", &definition("F")), now()).await;

    // Assert
    assert!(matches!(stale_save, Err(FlowStoreError::Conflict)), "{stale_save:?}");
    assert!(matches!(stale_publish, Err(FlowStoreError::Conflict)), "{stale_publish:?}");
    assert!(matches!(missing, Err(FlowStoreError::NotFound)), "{missing:?}");
    let stored = store.flow(&tenant, &flow.id).await.unwrap().unwrap();
    assert_eq!((stored.latest, stored.live), (2, None));
    assert!(store.version(&tenant, &flow.id, 3).await.unwrap().is_none());
}

/// A deleted flow and all its versions are gone; deleting again is fine.
pub async fn a_deleted_flow_takes_its_versions<S: FlowStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let flow = store.create_flow(&tenant, &meta("F"), &definition("F")).await.unwrap();
    let mut version = flow.version;
    for n in 0..30 {
        version = store
            .save_version(&tenant, &flow.id, version, ("F", &definition(&format!("F{n}"))), now())
            .await
            .unwrap()
            .version;
    }
    let kept = store.create_flow(&tenant, &meta("Kept"), &definition("Kept")).await.unwrap();

    // Act
    store.delete_flow(&tenant, &flow.id).await.unwrap();
    store.delete_flow(&tenant, &flow.id).await.unwrap();

    // Assert
    assert_eq!(store.flow(&tenant, &flow.id).await.unwrap(), None);
    assert!(store.version(&tenant, &flow.id, 1).await.unwrap().is_none());
    assert!(store.version(&tenant, &flow.id, 31).await.unwrap().is_none());
    assert_eq!(store.flows(&tenant).await.unwrap(), vec![kept]);
}

/// The first save of a session is conditional on there being none (two deliveries racing: one
/// wins); later saves on the version read; an expired session reads as none and may be replaced.
pub async fn sessions_are_saved_at_the_version_read<S: FlowStore>(store: &S) {
    // Arrange
    let (tenant, other) = (tenant(), tenant());
    let flow = FlowId::generate(now()).unwrap();
    let conversation = ConversationId::generate(now()).unwrap();
    let expired = ConversationId::generate(now()).unwrap();
    store.save_session(&tenant, &record(&expired, &flow, -10)).await.unwrap();

    // Act
    let first = store.save_session(&tenant, &record(&conversation, &flow, 3600)).await.unwrap();
    let racing = store.save_session(&tenant, &record(&conversation, &flow, 3600)).await;
    let next = SessionRecord { last_message: Some("wamid.2".into()), ..first.clone() };
    let second = store.save_session(&tenant, &next).await.unwrap();
    let stale = store.save_session(&tenant, &first).await;
    let replaced = store.save_session(&tenant, &record(&expired, &flow, 3600)).await;

    // Assert
    assert_eq!(first.version, 1);
    assert!(matches!(racing, Err(FlowStoreError::Conflict)), "{racing:?}");
    assert_eq!(second.version, 2);
    assert!(matches!(stale, Err(FlowStoreError::Conflict)), "{stale:?}");
    assert_eq!(store.session(&tenant, &conversation).await.unwrap(), Some(second));
    assert!(replaced.is_ok(), "{replaced:?}");
    assert!(store.session(&other, &conversation).await.unwrap().is_none());
}

/// Ending a running session keeps the record, ended, with its last message; ending again, or a
/// conversation without a session, changes nothing.
pub async fn an_ended_session_is_kept_ended<S: FlowStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let flow = FlowId::generate(now()).unwrap();
    let conversation = ConversationId::generate(now()).unwrap();
    store.save_session(&tenant, &record(&conversation, &flow, 3600)).await.unwrap();

    // Act
    let ended = store.end_session(&tenant, &conversation).await.unwrap();
    let again = store.end_session(&tenant, &conversation).await.unwrap();
    let none = store.end_session(&tenant, &ConversationId::generate(now()).unwrap()).await.unwrap();

    // Assert
    assert!(ended);
    assert!(!again && !none);
    let stored = store.session(&tenant, &conversation).await.unwrap().unwrap();
    assert_eq!((stored.session, stored.last_message.as_deref()), (None, Some("wamid.1")));
}
