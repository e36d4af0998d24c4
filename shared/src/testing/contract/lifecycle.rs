//! [`LifecycleStore`]'s contract: erasure is budgeted and resumable until it deletes nothing,
//! children before the contact, and leaves nothing findable; conversations are deleted in
//! budgeted passes (whatever their expiry, or once expired); leads once; content older than its
//! age is sanitized in budgeted passes, metadata kept; a restamp recomputes expiry from settings
//! page by page.

use super::{inbound, person, phone, tenant, wamid};
use crate::domain::inbox::{
    ConsentChange, ConsentKind, ConsentSource, ContactKey, ContactProfile, ContactStore, ConversationStore,
    Expiry, IngestStore, LeadOrigin, LeadStage, LeadStore, LifecycleStore, NewManualLead,
};
use crate::domain::privacy::{ErasureCounts, Integration};
use crate::domain::tenant::RetentionSettings;
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

/// Every message moves its conversation's expiry to 90 days from when it was received; only a
/// message newer than the latest moves the conversation's latest message (one late or out of
/// order moves the expiry alone).
pub async fn each_message_moves_the_expiry_and_only_a_newer_one_the_latest<
    S: LifecycleStore + IngestStore + ContactStore + ConversationStore,
>(
    store: &S,
) {
    // Arrange: a first message (sent at 100 s), received now.
    let tenant = tenant();
    let who = person("5511950000009", "Ivo");
    let now = super::now();
    let day = |n: u64| now.plus(std::time::Duration::from_secs(n * 86_400));
    let conversation = messages_from(store, &tenant, &who, 1, now).await;

    // Act: a newer message received 30 days on, then one sent before it, received 35 days on.
    let newer = wamid("wamid.5511950000009.newer");
    store.store_inbound_message(&tenant, &inbound(&newer, &who, 200), day(30)).await.unwrap();
    let older = wamid("wamid.5511950000009.older");
    store.store_inbound_message(&tenant, &inbound(&older, &who, 150), day(35)).await.unwrap();

    // Assert
    let view = store.conversation(&tenant, &conversation).await.unwrap().expect("the conversation");
    assert_eq!(view.last_message_at, 200_000, "the newest message, not the last received");
    let early = store.expire_conversation(&tenant, &conversation, day(124), 100).await.unwrap();
    assert_eq!(early, Expiry::NotDue, "kept 90 days from the last receipt (day 35)");
    let mut due = store.expire_conversation(&tenant, &conversation, day(126), 100).await.unwrap();
    for _ in 0..5 {
        if !matches!(due, Expiry::Partial(_)) {
            break;
        }
        due = store.expire_conversation(&tenant, &conversation, day(126), 100).await.unwrap();
    }
    assert!(matches!(due, Expiry::Deleted(_)), "{due:?}");
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

/// A day, in milliseconds.
const DAY_MS: i64 = 86_400_000;

/// Content received more than `content_age` ago is removed in passes of at most `budget`
/// (`true` while more is left), its metadata kept; newer content stays; another tenant's call
/// removes nothing.
pub async fn old_content_is_sanitized_and_metadata_kept<
    S: LifecycleStore + IngestStore + ContactStore + ConversationStore,
>(
    store: &S,
) {
    // Arrange: two messages received 40 days ago, one received now.
    let tenant = tenant();
    let now = super::now();
    let who = person("5511950000007", "Joana");
    let long_ago = Timestamp::from_millis(now.as_millis() - 40 * DAY_MS);
    for (i, received) in [(1, long_ago), (2, long_ago), (3, now)] {
        let id = wamid(&format!("wamid.SAN.{i}"));
        store.store_inbound_message(&tenant, &inbound(&id, &who, 100 + i), received).await.unwrap();
    }
    let contact = store.contact_by_phone(&tenant, &phone("5511950000007")).await.unwrap().expect("contact");
    let conversation = contact.conversation_id.expect("an open conversation");
    let age = std::time::Duration::from_secs(30 * 86_400);

    // Act
    let elsewhere = store.sanitize_conversation(&super::tenant(), &conversation, age, now, 10).await.unwrap();
    let first = store.sanitize_conversation(&tenant, &conversation, age, now, 1).await.unwrap();
    let second = store.sanitize_conversation(&tenant, &conversation, age, now, 1).await.unwrap();
    let third = store.sanitize_conversation(&tenant, &conversation, age, now, 1).await.unwrap();

    // Assert
    assert_eq!(elsewhere, (0, false));
    assert_eq!((first, second, third), ((1, true), (1, false), (0, false)));
    let mut messages = store.messages(&tenant, &conversation, None, 10).await.unwrap().items;
    messages.sort_by_key(|m| m.timestamp);
    assert_eq!(messages.len(), 3, "metadata kept: {messages:?}");
    for old in &messages[..2] {
        assert_eq!(old.payload, None, "content removed: {old:?}");
        assert_eq!(old.content_sanitized_at, Some(now.as_millis()), "{old:?}");
        assert!(old.wamid.is_some() && old.kind == "text" && old.direction == "inbound", "{old:?}");
    }
    assert!(messages[2].payload.is_some(), "not yet old: {:?}", messages[2]);
    assert_eq!(messages[2].content_sanitized_at, None);
}

/// A restamp recomputes each conversation's expiry from the settings, `limit` at a time,
/// returning where to continue until it returns `None`.
pub async fn a_restamp_recomputes_expiry_page_by_page<
    S: LifecycleStore + IngestStore + ContactStore + ConversationStore,
>(
    store: &S,
) {
    // Arrange: two conversations received now, kept for the default 90 days.
    let tenant = tenant();
    let now = super::now();
    let a = messages_from(store, &tenant, &person("5511950000008", "Lia"), 1, now).await;
    let b = messages_from(store, &tenant, &person("5511950000009", "Malu"), 1, now).await;
    let in_three_days = now.plus(std::time::Duration::from_secs(3 * 86_400));
    let before = store.expire_conversation(&tenant, &a, in_three_days, 100).await.unwrap();
    let one_day = RetentionSettings::new(1, 1).unwrap();

    // Act: one conversation a call, as a run cut short would go.
    let first = store.restamp_conversations(&tenant, one_day, None, 1, 0).await.unwrap();
    let mut next = first.clone();
    let mut calls = 1;
    while let Some(after) = next {
        next = store.restamp_conversations(&tenant, one_day, Some(&after), 1, 0).await.unwrap();
        calls += 1;
        assert!(calls < 10, "restamping does not converge");
    }

    // Assert
    assert_eq!(before, Expiry::NotDue, "90 days at first");
    assert!(first.is_some(), "two conversations by one: somewhere to continue");
    for conversation in [&a, &b] {
        let expired = store.expire_conversation(&tenant, conversation, in_three_days, 100).await.unwrap();
        assert!(matches!(expired, Expiry::Deleted(_)), "kept one day now: {expired:?}");
    }
    let in_an_hour = now.plus(std::time::Duration::from_secs(3_600));
    let c = messages_from(store, &tenant, &person("5511950000010", "Nina"), 1, now).await;
    store.restamp_conversations(&tenant, one_day, None, 10, 0).await.unwrap();
    assert_eq!(store.expire_conversation(&tenant, &c, in_an_hour, 100).await.unwrap(), Expiry::NotDue);
}

/// A person erased while opted out comes back opted out (suppression: their opt-out outlives the
/// erasure), under a new id; one erased while opted in comes back with no consent at all.
pub async fn an_erased_opt_out_outlives_the_erasure_and_a_returning_person_is_new<
    S: LifecycleStore + IngestStore + ContactStore,
>(
    store: &S,
) {
    // Arrange: one person opted out, another opted in; both erased.
    let tenant = tenant();
    let stopped = person("5511950000021", "Gabi");
    let agreed = person("5511950000022", "Hugo");
    let change = |who, kind, cause| ConsentChange {
        contact: who,
        kind,
        source: ConsentSource::Keyword,
        at: Timestamp::from_secs(40),
        cause,
    };
    let now = Timestamp::from_secs(60);
    store.record_consent(&tenant, &change(&stopped, ConsentKind::OptOut, "w.1"), now).await.unwrap();
    store.record_consent(&tenant, &change(&agreed, ConsentKind::OptIn, "w.2"), now).await.unwrap();
    let mut erased = Vec::new();
    for digits in ["5511950000021", "5511950000022"] {
        let contact = store.contact_by_phone(&tenant, &phone(digits)).await.unwrap().expect("contact");
        while store.erase_contact(&tenant, &contact.id, 100).await.unwrap().total() > 0 {}
        erased.push(contact.id);
    }

    // Act: both come back (a business re-creates one, the other writes).
    let (back, _) = store.create_contact(&tenant, &stopped, Timestamp::from_secs(500)).await.unwrap();
    let id = wamid("wamid.back.1");
    store.store_inbound_message(&tenant, &inbound(&id, &agreed, 600), now).await.unwrap();
    let returned = store.contact_by_phone(&tenant, &phone("5511950000022")).await.unwrap().expect("contact");

    // Assert
    assert!(!erased.contains(&back.id) && !erased.contains(&returned.id), "new ids");
    let state = back.consent.expect("still opted out");
    assert_eq!((state.state, state.source, state.at), (ConsentKind::OptOut, ConsentSource::Keyword, 40_000));
    let ledger = store.consent_ledger(&tenant, &back.id).await.unwrap();
    assert_eq!(ledger.len(), 1, "the kept opt-out, in their new ledger: {ledger:?}");
    assert_eq!(returned.consent, None, "an opt-in is not kept beyond the erasure");
    assert_eq!(returned.name.as_deref(), Some("Hugo"));
}

/// After a WhatsApp disconnection (its conversations deleted first): a person who came only
/// through it is erased (an opt-out of theirs outliving them); one the business also brought
/// stays, with the business's name, without the opt-in given through WhatsApp.
pub async fn a_disconnection_forgets_what_only_it_brought<
    S: LifecycleStore + IngestStore + ContactStore + ConversationStore,
>(
    store: &S,
) {
    // Arrange
    let tenant = tenant();
    let only = person("5511950000031", "Ivo");
    let stopped = person("5511950000032", "Jade");
    let both = person("5511950000033", "Kim");
    store.create_contact(&tenant, &both, Timestamp::from_secs(10)).await.unwrap();
    for (who, digits) in [(&only, "31"), (&stopped, "32"), (&both, "33")] {
        let id = wamid(&format!("wamid.dis.{digits}"));
        store.store_inbound_message(&tenant, &inbound(&id, who, 20), super::now()).await.unwrap();
    }
    let keyword = |who, kind, cause| ConsentChange {
        contact: who,
        kind,
        source: ConsentSource::Keyword,
        at: Timestamp::from_secs(30),
        cause,
    };
    let now = Timestamp::from_secs(40);
    store.record_consent(&tenant, &keyword(&stopped, ConsentKind::OptOut, "w.stop"), now).await.unwrap();
    store.record_consent(&tenant, &keyword(&both, ConsentKind::OptIn, "w.start"), now).await.unwrap();
    for digits in ["5511950000031", "5511950000032", "5511950000033"] {
        let contact = store.contact_by_phone(&tenant, &phone(digits)).await.unwrap().expect("contact");
        let conversation = contact.conversation_id.expect("a conversation");
        while !matches!(
            store.delete_conversation(&tenant, &conversation, 100).await.unwrap(),
            Expiry::Deleted(_)
        ) {}
    }

    // Act
    let mut after: Option<String> = None;
    loop {
        let (_, next) = store
            .forget_integration_contacts(
                &tenant,
                Integration::WhatsApp,
                Timestamp::from_secs(1_000),
                after.as_deref(),
            )
            .await
            .unwrap();
        match next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let (back, _) = store.create_contact(&tenant, &stopped, Timestamp::from_secs(2_000)).await.unwrap();

    // Assert
    assert_eq!(
        store.contact_by_phone(&tenant, &phone("5511950000031")).await.unwrap(),
        None,
        "only WhatsApp's"
    );
    let kept =
        store.contact_by_phone(&tenant, &phone("5511950000033")).await.unwrap().expect("the business's too");
    assert_eq!(kept.name.as_deref(), Some("Kim"));
    assert_eq!(kept.consent, None, "the opt-in given through WhatsApp goes");
    assert!(store.consent_ledger(&tenant, &kept.id).await.unwrap().is_empty());
    assert_eq!(back.consent.map(|c| c.state), Some(ConsentKind::OptOut), "the opt-out outlives them");
}

/// Every check of the suite.
pub async fn all<S: LifecycleStore + IngestStore + ContactStore + ConversationStore + LeadStore>(store: &S) {
    an_erased_opt_out_outlives_the_erasure_and_a_returning_person_is_new(store).await;
    a_disconnection_forgets_what_only_it_brought(store).await;
    erasure_is_budgeted_and_resumable(store).await;
    a_conversation_is_deleted_in_passes(store).await;
    a_conversation_expires_only_when_due(store).await;
    each_message_moves_the_expiry_and_only_a_newer_one_the_latest(store).await;
    a_lead_is_deleted_once(store).await;
    another_tenants_erasure_deletes_nothing(store).await;
    old_content_is_sanitized_and_metadata_kept(store).await;
    a_restamp_recomputes_expiry_page_by_page(store).await;
}
