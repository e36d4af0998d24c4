//! [`LifecycleStore`]'s contract: erasure is budgeted and resumable until it deletes nothing,
//! children before the contact, and leaves nothing findable; conversations are deleted in
//! budgeted passes (whatever their expiry, or once expired); leads once.

use super::{inbound, person, phone, tenant, wamid};
use crate::domain::inbox::{
    ConsentChange, ConsentKind, ConsentSource, ContactKey, ContactProfile, ContactStore, ConversationStore,
    Expiry, IngestStore, LeadOrigin, LeadStage, LeadStore, LifecycleStore, NewManualLead,
};
use crate::domain::privacy::ErasureCounts;
use crate::domain::{ConversationId, TenantId, Timestamp};

/// Stores `count` inbound messages from `from` and returns its conversation.
async fn messages_from<S: IngestStore + ContactStore>(
    store: &S,
    tenant: &TenantId,
    from: &ContactProfile,
    count: i64,
    now: Timestamp,
) -> ConversationId {
    let digits = from.phone.as_ref().map(|p| p.as_digits().to_owned()).unwrap_or_default();
    for i in 0..count {
        let id = wamid(&format!("wamid.{digits}.{i}"));
        store.store_inbound_message(tenant, &inbound(&id, from, 100 + i), now).await.unwrap();
    }
    let contact = store.contact_by_phone(tenant, &phone(&digits)).await.unwrap().expect("the sender");
    contact.conversation_id.expect("an open conversation")
}

/// Erasure deletes at most its budget of messages per call, children before the contact, and
/// resumes until a call deletes nothing; then nothing of the contact is found, and other
/// contacts are untouched.
pub async fn erasure_is_budgeted_and_resumable<
    S: LifecycleStore + IngestStore + ContactStore + ConversationStore + LeadStore,
>(
    store: &S,
) {
    // Arrange: a contact with seven messages, consent, a lead and an email; a bystander.
    let tenant = tenant();
    let who = ContactProfile { email: Some("dora@example.com".into()), ..person("5511950000001", "Dora") };
    let conversation = messages_from(store, &tenant, &who, 7, super::now()).await;
    let consent = ConsentChange {
        contact: &who,
        kind: ConsentKind::OptIn,
        source: ConsentSource::LeadForm,
        at: Timestamp::from_secs(50),
        cause: "lead.1",
    };
    store.record_consent(&tenant, &consent, Timestamp::from_secs(60)).await.unwrap();
    let lead = NewManualLead {
        id: "ld_erase",
        contact: &who,
        stage: LeadStage::New,
        owner: None,
        origin: &LeadOrigin::default(),
        at: Timestamp::from_secs(70),
    };
    store.create_lead(&tenant, &lead).await.unwrap();
    let bystander = person("5511950000002", "Eva");
    let theirs = messages_from(store, &tenant, &bystander, 2, super::now()).await;
    let contact = store.contact_by_phone(&tenant, &phone("5511950000001")).await.unwrap().expect("contact");
    let budget = 3;

    // Act: as a run cut short by its deadline would go.
    let mut passes: Vec<ErasureCounts> = Vec::new();
    loop {
        let pass = store.erase_contact(&tenant, &contact.id, budget).await.unwrap();
        if pass.total() == 0 {
            break;
        }
        passes.push(pass);
        assert!(passes.len() < 30, "erasure does not converge");
    }
    let after = store.erase_contact(&tenant, &contact.id, budget).await.unwrap();

    // Assert
    assert!(passes.iter().all(|p| p.messages <= u64::from(budget)), "within its budget: {passes:?}");
    assert_eq!(passes[0].contacts, 0, "children before the contact");
    let mut total = ErasureCounts::default();
    passes.iter().for_each(|p| total.add(p));
    assert_eq!((total.messages, total.conversations, total.leads), (7, 1, 1), "{total:?}");
    assert_eq!((total.consent_events, total.contacts), (1, 1), "{total:?}");
    assert_eq!(after.total(), 0, "idempotent once done");
    assert_eq!(store.contact(&tenant, &contact.id).await.unwrap(), None);
    assert_eq!(store.contact_by_phone(&tenant, &phone("5511950000001")).await.unwrap(), None);
    assert_eq!(store.contact_by_email(&tenant, "dora@example.com").await.unwrap(), None);
    assert!(store
        .find_contacts(&tenant, &ContactKey::Email("dora@example.com".into()))
        .await
        .unwrap()
        .is_empty());
    assert!(store.consent_ledger(&tenant, &contact.id).await.unwrap().is_empty());
    assert_eq!(store.conversation(&tenant, &conversation).await.unwrap(), None);
    assert!(store.messages(&tenant, &conversation, None, 10).await.unwrap().items.is_empty());
    assert_eq!(store.lead(&tenant, "ld_erase").await.unwrap(), None);
    assert_eq!(store.contact_count(&tenant).await.unwrap(), 1, "the bystander");
    assert_eq!(store.messages(&tenant, &theirs, None, 10).await.unwrap().items.len(), 2, "untouched");
}

/// Deleting a conversation goes in passes of at most `budget` messages (`Partial` until
/// `Deleted`), removes it and its messages, and unlinks it from its contact, who stays; the
/// contact's next message opens a new conversation.
pub async fn a_conversation_is_deleted_in_passes<
    S: LifecycleStore + IngestStore + ContactStore + ConversationStore,
>(
    store: &S,
) {
    // Arrange
    let tenant = tenant();
    let who = person("5511950000003", "Fabi");
    let conversation = messages_from(store, &tenant, &who, 5, super::now()).await;

    // Act
    let mut total = ErasureCounts::default();
    let mut partials = 0;
    loop {
        match store.delete_conversation(&tenant, &conversation, 2).await.unwrap() {
            Expiry::Partial(counts) => {
                assert!(counts.messages <= 2, "within its budget: {counts:?}");
                total.add(&counts);
                partials += 1;
                assert!(partials < 20, "deletion does not converge");
            }
            Expiry::Deleted(counts) => {
                assert!(counts.messages <= 2, "within its budget: {counts:?}");
                total.add(&counts);
                break;
            }
            Expiry::NotDue => panic!("delete_conversation is never NotDue"),
        }
    }
    let again = store.delete_conversation(&tenant, &conversation, 2).await.unwrap();
    let next = wamid("wamid.AFTER");
    store.store_inbound_message(&tenant, &inbound(&next, &who, 900), super::now()).await.unwrap();

    // Assert
    assert!(partials >= 2, "five messages by two take passes");
    assert_eq!((total.messages, total.conversations), (5, 1));
    assert!(matches!(again, Expiry::Deleted(ref c) if c.total() == 0), "{again:?}");
    assert_eq!(store.conversation(&tenant, &conversation).await.unwrap(), None);
    assert!(store.messages(&tenant, &conversation, None, 10).await.unwrap().items.is_empty());
    let contact =
        store.contact_by_phone(&tenant, &phone("5511950000003")).await.unwrap().expect("the contact stays");
    let reopened = contact.conversation_id.expect("a new conversation");
    assert_ne!(reopened, conversation);
    assert_eq!(store.messages(&tenant, &reopened, None, 10).await.unwrap().items.len(), 1);
}

/// A conversation whose expiry has not come is `NotDue` and stays; once past its expiry it is
/// deleted with its messages.
pub async fn a_conversation_expires_only_when_due<
    S: LifecycleStore + IngestStore + ContactStore + ConversationStore,
>(
    store: &S,
) {
    // Arrange: received now, kept for the default 90 days.
    let tenant = tenant();
    let now = super::now();
    let conversation = messages_from(store, &tenant, &person("5511950000004", "Gil"), 3, now).await;
    let tomorrow = now.plus(std::time::Duration::from_secs(86_400));
    let past_expiry = now.plus(std::time::Duration::from_secs(91 * 86_400));

    // Act
    let early = store.expire_conversation(&tenant, &conversation, tomorrow, 100).await.unwrap();
    let still_there = store.conversation(&tenant, &conversation).await.unwrap();
    let mut due = store.expire_conversation(&tenant, &conversation, past_expiry, 100).await.unwrap();
    for _ in 0..5 {
        if !matches!(due, Expiry::Partial(_)) {
            break;
        }
        due = store.expire_conversation(&tenant, &conversation, past_expiry, 100).await.unwrap();
    }

    // Assert
    assert_eq!(early, Expiry::NotDue);
    assert!(still_there.is_some());
    assert!(matches!(due, Expiry::Deleted(_)), "{due:?}");
    assert_eq!(store.conversation(&tenant, &conversation).await.unwrap(), None);
    assert!(store.messages(&tenant, &conversation, None, 10).await.unwrap().items.is_empty());
}

/// A lead is deleted once: `true`, then `false`; another tenant's delete finds nothing.
pub async fn a_lead_is_deleted_once<S: LifecycleStore + LeadStore>(store: &S) {
    let tenant = tenant();
    let who = person("5511950000005", "Hana");
    let lead = NewManualLead {
        id: "ld_del",
        contact: &who,
        stage: LeadStage::New,
        owner: None,
        origin: &LeadOrigin::default(),
        at: Timestamp::from_secs(1),
    };
    store.create_lead(&tenant, &lead).await.unwrap();

    let elsewhere = store.delete_lead(&super::tenant(), "ld_del").await.unwrap();
    let first = store.delete_lead(&tenant, "ld_del").await.unwrap();
    let again = store.delete_lead(&tenant, "ld_del").await.unwrap();

    assert_eq!((elsewhere, first, again), (false, true, false));
    assert_eq!(store.lead(&tenant, "ld_del").await.unwrap(), None);
}

/// Erasing in another tenant with this contact's id deletes nothing.
pub async fn another_tenants_erasure_deletes_nothing<
    S: LifecycleStore + IngestStore + ContactStore + ConversationStore,
>(
    store: &S,
) {
    let owner = tenant();
    let who = person("5511950000006", "Ivo");
    let conversation = messages_from(store, &owner, &who, 2, super::now()).await;
    let contact = store.contact_by_phone(&owner, &phone("5511950000006")).await.unwrap().expect("contact");

    let erased = store.erase_contact(&tenant(), &contact.id, 100).await.unwrap();
    let deleted = store.delete_conversation(&tenant(), &conversation, 100).await.unwrap();

    assert_eq!(erased.total(), 0);
    assert!(matches!(deleted, Expiry::Deleted(ref c) if c.total() == 0), "{deleted:?}");
    assert!(store.contact(&owner, &contact.id).await.unwrap().is_some());
    assert_eq!(store.messages(&owner, &conversation, None, 10).await.unwrap().items.len(), 2);
}

/// Every check of the suite.
pub async fn all<S: LifecycleStore + IngestStore + ContactStore + ConversationStore + LeadStore>(store: &S) {
    erasure_is_budgeted_and_resumable(store).await;
    a_conversation_is_deleted_in_passes(store).await;
    a_conversation_expires_only_when_due(store).await;
    a_lead_is_deleted_once(store).await;
    another_tenants_erasure_deletes_nothing(store).await;
}
