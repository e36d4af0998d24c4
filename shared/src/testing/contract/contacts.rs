//! [`ContactStore`]'s contract: found by phone, email or id; the same person is always the same
//! contact; emails are one contact's; consent once per cause, the latest wins; pages round-trip.

use std::collections::BTreeMap;

use super::{person, phone, tenant};
use crate::domain::inbox::{
    ConsentChange, ConsentKind, ConsentSource, ContactFilter, ContactKey, ContactPatch, ContactProfile,
    ContactStore, InboxError, Stored, MAX_CONTACT_ATTRIBUTES, MAX_CONTACT_TAGS,
};
use crate::domain::{ContactId, Timestamp};

/// A person known by phone, email and name.
fn with_email(digits: &str, email: &str) -> ContactProfile {
    ContactProfile { email: Some(email.into()), ..person(digits, "Ana") }
}

/// A created contact is found by its phone, its email and its id, as it was created.
pub async fn found_by_phone_email_and_id<S: ContactStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let profile = with_email("5511900000001", "ana@example.com");

    // Act
    let (created, stored) = store.create_contact(&tenant, &profile, Timestamp::from_secs(100)).await.unwrap();

    // Assert
    assert_eq!(stored, Stored::Created);
    assert_eq!(created.phone.as_deref(), Some("5511900000001"));
    assert_eq!(created.email.as_deref(), Some("ana@example.com"));
    assert_eq!(created.name.as_deref(), Some("Ana"));
    assert_eq!((created.first_seen_at, created.last_seen_at), (100_000, 100_000));
    let by_phone = store.contact_by_phone(&tenant, &phone("5511900000001")).await.unwrap();
    let by_email = store.contact_by_email(&tenant, "ana@example.com").await.unwrap();
    let by_id = store.contact(&tenant, &created.id).await.unwrap();
    assert_eq!(by_phone.as_ref(), Some(&created));
    assert_eq!(by_email.as_ref(), Some(&created));
    assert_eq!(by_id.as_ref(), Some(&created));
    assert_eq!(store.contact_by_phone(&tenant, &phone("5511900000002")).await.unwrap(), None);
    assert_eq!(store.contact_by_email(&tenant, "nobody@example.com").await.unwrap(), None);
}

/// Creating the same person again finds the contact made first (`Duplicate`), by any of its keys.
pub async fn the_same_person_is_the_same_contact<S: ContactStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let (first, _) = store
        .create_contact(&tenant, &with_email("5511900000011", "bia@example.com"), Timestamp::from_secs(100))
        .await
        .unwrap();

    // Act
    let (again, by_phone) = store
        .create_contact(&tenant, &person("5511900000011", "Bia"), Timestamp::from_secs(200))
        .await
        .unwrap();
    let email_only = ContactProfile { email: Some("bia@example.com".into()), ..ContactProfile::default() };
    let (by_email, email_stored) =
        store.create_contact(&tenant, &email_only, Timestamp::from_secs(300)).await.unwrap();

    // Assert
    assert_eq!((again.id.clone(), by_phone), (first.id.clone(), Stored::Duplicate));
    assert_eq!(
        (by_email.id.clone(), email_stored),
        (first.id.clone(), Stored::Duplicate),
        "by its email alias"
    );
    assert_eq!(store.contact_count(&tenant).await.unwrap(), 1);
    let found = store.find_contacts(&tenant, &ContactKey::Email("bia@example.com".into())).await.unwrap();
    assert!(found.iter().any(|c| c.id == first.id), "the email leads to the contact: {found:?}");
}

/// A profile that names nobody is refused with `NoContact`.
pub async fn nobody_is_no_contact<S: ContactStore>(store: &S) {
    let tenant = tenant();

    let result = store.create_contact(&tenant, &ContactProfile::default(), Timestamp::from_secs(1)).await;

    assert!(matches!(result, Err(InboxError::NoContact)), "{result:?}");
    assert_eq!(store.contact_count(&tenant).await.unwrap(), 0);
}

/// A key leads to its contact's id once the contact exists, and to nothing before or in another
/// tenant; ids are random, never the same for the same person in two tenants.
pub async fn contact_id_of_is_the_contacts_id<S: ContactStore>(store: &S) {
    let tenant = tenant();
    let other = super::tenant();
    let key = ContactKey::Phone(phone("5511900000021"));

    let before = store.contact_id_of(&tenant, &key).await.unwrap();
    let (created, _) = store
        .create_contact(&tenant, &person("5511900000021", "Caio"), Timestamp::from_secs(1))
        .await
        .unwrap();
    let elsewhere = store.contact_id_of(&other, &key).await.unwrap();
    let (theirs, _) = store
        .create_contact(&other, &person("5511900000021", "Caio"), Timestamp::from_secs(1))
        .await
        .unwrap();

    assert_eq!(before, None, "nobody yet");
    assert_eq!(store.contact_id_of(&tenant, &key).await.unwrap(), Some(created.id.clone()));
    assert_eq!(elsewhere, None, "another tenant's lookup is its own");
    assert_ne!(theirs.id, created.id, "ids are never derived from the identifier");
}

/// A patch changes what it sets and nothing else, stamps `updated_at`, and reads back as returned.
pub async fn update_contact_applies_the_patch<S: ContactStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let (created, _) = store
        .create_contact(&tenant, &with_email("5511900000031", "dora@example.com"), Timestamp::from_secs(1))
        .await
        .unwrap();
    let patch = ContactPatch {
        name: Some(Some("Dora Lima".into())),
        email: None,
        tags: Some(vec!["vip".into()]),
        attributes: Some(BTreeMap::from([("city".to_owned(), "Recife".to_owned())])),
    };

    // Act
    let updated = store.update_contact(&tenant, &created.id, &patch, Timestamp::from_secs(50)).await.unwrap();
    let removed = ContactPatch { name: Some(None), ..ContactPatch::default() };
    let cleared =
        store.update_contact(&tenant, &created.id, &removed, Timestamp::from_secs(60)).await.unwrap();

    // Assert
    let updated = updated.expect("the contact exists");
    assert_eq!(updated.name.as_deref(), Some("Dora Lima"));
    assert_eq!(updated.email.as_deref(), Some("dora@example.com"), "untouched");
    assert_eq!(updated.tags, ["vip"]);
    assert_eq!(updated.attributes.get("city").map(String::as_str), Some("Recife"));
    assert_eq!(updated.updated_at, Some(50_000));
    let cleared = cleared.expect("the contact exists");
    assert_eq!(cleared.name, None);
    assert_eq!(cleared.tags, ["vip"], "untouched");
    assert_eq!(store.contact(&tenant, &created.id).await.unwrap(), Some(cleared));
}

/// A patch over the tag or attribute cap is refused and writes nothing, whatever path builds it.
pub async fn a_patch_over_the_caps_is_refused<S: ContactStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let (created, _) = store
        .create_contact(&tenant, &with_email("5511900000032", "cap@example.com"), Timestamp::from_secs(1))
        .await
        .unwrap();
    let tags = |n: usize| (0..n).map(|i| format!("t{i:03}")).collect::<Vec<_>>();
    let attributes =
        |n: usize| (0..n).map(|i| (format!("a{i:03}"), "v".to_owned())).collect::<BTreeMap<_, _>>();
    let over_tags = ContactPatch { tags: Some(tags(MAX_CONTACT_TAGS + 1)), ..ContactPatch::default() };
    let over_attributes =
        ContactPatch { attributes: Some(attributes(MAX_CONTACT_ATTRIBUTES + 1)), ..ContactPatch::default() };
    let at_caps = ContactPatch {
        tags: Some(tags(MAX_CONTACT_TAGS)),
        attributes: Some(attributes(MAX_CONTACT_ATTRIBUTES)),
        ..ContactPatch::default()
    };

    // Act
    let tags_refused = store.update_contact(&tenant, &created.id, &over_tags, Timestamp::from_secs(2)).await;
    let attributes_refused =
        store.update_contact(&tenant, &created.id, &over_attributes, Timestamp::from_secs(3)).await;
    let at_caps =
        store.update_contact(&tenant, &created.id, &at_caps, Timestamp::from_secs(4)).await.unwrap();

    // Assert
    assert!(matches!(tags_refused, Err(InboxError::OverCap { what: "tags", .. })), "{tags_refused:?}");
    assert!(matches!(attributes_refused, Err(InboxError::OverCap { what: "attributes", .. })));
    let at_caps = at_caps.expect("the contact exists");
    assert_eq!((at_caps.tags.len(), at_caps.attributes.len()), (MAX_CONTACT_TAGS, MAX_CONTACT_ATTRIBUTES));
}

/// Updating a contact that does not exist answers `None`.
pub async fn update_of_a_missing_contact_is_none<S: ContactStore>(store: &S) {
    let tenant = tenant();
    let missing = ContactId::generate(Timestamp::from_secs(1)).unwrap();

    let patch = ContactPatch { name: Some(Some("X".into())), ..ContactPatch::default() };
    let result = store.update_contact(&tenant, &missing, &patch, Timestamp::from_secs(1)).await.unwrap();

    assert_eq!(result, None);
    assert_eq!(store.contact(&tenant, &missing).await.unwrap(), None, "not created by the update");
}

/// An email another contact has is refused with `EmailTaken`; a free one moves, and the old one
/// no longer finds the contact.
pub async fn an_email_belongs_to_one_contact<S: ContactStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let at = Timestamp::from_secs(1);
    let (ana, _) =
        store.create_contact(&tenant, &with_email("5511900000051", "ana@example.com"), at).await.unwrap();
    let (bia, _) =
        store.create_contact(&tenant, &with_email("5511900000052", "bia@example.com"), at).await.unwrap();
    let to = |email: &str| ContactPatch { email: Some(Some(email.into())), ..ContactPatch::default() };

    // Act
    let taken = store.update_contact(&tenant, &bia.id, &to("ana@example.com"), at).await;
    let moved = store.update_contact(&tenant, &bia.id, &to("bia@work.example.com"), at).await.unwrap();

    // Assert
    assert!(matches!(taken, Err(InboxError::EmailTaken)), "{taken:?}");
    assert_eq!(moved.and_then(|c| c.email).as_deref(), Some("bia@work.example.com"));
    let by_old = store.contact_by_email(&tenant, "bia@example.com").await.unwrap();
    let by_new = store.contact_by_email(&tenant, "bia@work.example.com").await.unwrap();
    let ana_still = store.contact_by_email(&tenant, "ana@example.com").await.unwrap();
    assert_eq!(by_old, None);
    assert_eq!(by_new.map(|c| c.id), Some(bia.id));
    assert_eq!(ana_still.map(|c| c.id), Some(ana.id));
}

/// The count is the number of contacts created, once each.
pub async fn contact_count_counts_each_contact_once<S: ContactStore>(store: &S) {
    let tenant = tenant();
    let at = Timestamp::from_secs(1);

    for digits in ["5511900000061", "5511900000062", "5511900000063", "5511900000061"] {
        store.create_contact(&tenant, &person(digits, "P"), at).await.unwrap();
    }

    assert_eq!(store.contact_count(&tenant).await.unwrap(), 3);
}

/// Pages of contacts hold each contact exactly once, their cursors lead on to the end, and a
/// tag filter keeps only the tagged.
pub async fn contact_pages_round_trip<S: ContactStore>(store: &S) {
    // Arrange: five contacts, two of them tagged.
    let tenant = tenant();
    let mut ids = Vec::new();
    for i in 0..5 {
        let (contact, _) = store
            .create_contact(&tenant, &person(&format!("551190000007{i}"), "P"), Timestamp::from_secs(i))
            .await
            .unwrap();
        if i % 2 == 1 {
            let tag = ContactPatch { tags: Some(vec!["vip".into()]), ..ContactPatch::default() };
            store.update_contact(&tenant, &contact.id, &tag, Timestamp::from_secs(10)).await.unwrap();
        }
        ids.push(contact.id);
    }

    // Act
    let mut seen: Vec<ContactId> = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store.contacts(&tenant, &ContactFilter::default(), after.as_deref(), 2).await.unwrap();
        assert!(page.items.len() <= 2, "a page holds at most its limit");
        seen.extend(page.items.into_iter().map(|c| c.id));
        pages += 1;
        assert!(pages <= 10, "the cursors do not end");
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let tagged = store.contacts(&tenant, &ContactFilter { tag: Some("vip".into()) }, None, 10).await.unwrap();

    // Assert
    let ids_by_creation = ids.clone();
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids, "every contact once");
    assert!(pages >= 3, "limit 2 over five contacts takes three pages");
    let mut tagged: Vec<_> = tagged.items.into_iter().map(|c| c.id).collect();
    tagged.sort();
    let mut expected = vec![ids_by_creation[1].clone(), ids_by_creation[3].clone()];
    expected.sort();
    assert_eq!(tagged, expected, "only the tagged");
}

/// A cursor this listing did not produce is refused with `InvalidCursor`.
pub async fn an_invalid_cursor_is_refused<S: ContactStore>(store: &S) {
    let tenant = tenant();
    store.create_contact(&tenant, &person("5511900000081", "P"), Timestamp::from_secs(1)).await.unwrap();

    let result = store.contacts(&tenant, &ContactFilter::default(), Some("not a cursor"), 10).await;

    assert!(matches!(result, Err(InboxError::InvalidCursor)), "{result:?}");
}

/// Consent is recorded once per cause; the latest opt-in/opt-out decides the state whatever
/// the arrival order; the ledger lists every event oldest first.
pub async fn consent_once_per_cause_and_the_latest_wins<S: ContactStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let who = person("5511900000091", "Eva");
    let change = |kind, secs, cause| ConsentChange {
        contact: &who,
        kind,
        source: ConsentSource::Keyword,
        at: Timestamp::from_secs(secs),
        cause,
    };
    let now = Timestamp::from_secs(1_000);

    // Act: the later event arrives first.
    let later =
        store.record_consent(&tenant, &change(ConsentKind::OptIn, 200, "wamid.2"), now).await.unwrap();
    let earlier =
        store.record_consent(&tenant, &change(ConsentKind::OptOut, 100, "wamid.1"), now).await.unwrap();
    let again =
        store.record_consent(&tenant, &change(ConsentKind::OptOut, 100, "wamid.1"), now).await.unwrap();

    // Assert
    assert_eq!((later, earlier, again), (Stored::Created, Stored::Created, Stored::Duplicate));
    let contact = store.contact_by_phone(&tenant, &phone("5511900000091")).await.unwrap().expect("created");
    let state = contact.consent.expect("a consent state");
    assert_eq!((state.state, state.source, state.at), (ConsentKind::OptIn, ConsentSource::Keyword, 200_000));
    let ledger = store.consent_ledger(&tenant, &contact.id).await.unwrap();
    let kinds: Vec<_> = ledger.iter().map(|e| (e.kind, e.at)).collect();
    assert_eq!(
        kinds,
        [(ConsentKind::OptOut, 100_000), (ConsentKind::OptIn, 200_000)],
        "oldest first, once each"
    );
}

/// The latest restriction event decides whether processing is restricted, whatever the arrival
/// order, and leaves the opt-in/opt-out state alone.
pub async fn the_latest_restriction_event_decides<S: ContactStore>(store: &S) {
    let tenant = tenant();
    let who = person("5511900000092", "Fabi");
    let change = |kind, secs, cause| ConsentChange {
        contact: &who,
        kind,
        source: ConsentSource::Agent,
        at: Timestamp::from_secs(secs),
        cause,
    };
    let now = Timestamp::from_secs(1_000);

    store.record_consent(&tenant, &change(ConsentKind::Restrict, 200, "r.2"), now).await.unwrap();
    store.record_consent(&tenant, &change(ConsentKind::LiftRestriction, 100, "r.1"), now).await.unwrap();
    let restricted =
        store.contact_by_phone(&tenant, &phone("5511900000092")).await.unwrap().expect("created");
    store.record_consent(&tenant, &change(ConsentKind::LiftRestriction, 300, "r.3"), now).await.unwrap();
    let lifted = store.contact_by_phone(&tenant, &phone("5511900000092")).await.unwrap().expect("created");

    assert_eq!(restricted.restricted_at, Some(200_000), "the late lift is older than the restriction");
    assert_eq!(restricted.consent, None, "restriction is not opt-in/opt-out");
    assert_eq!(lifted.restricted_at, None);
    assert_eq!(store.consent_ledger(&tenant, &lifted.id).await.unwrap().len(), 3);
}

/// Consent for nobody is refused with `NoContact`.
pub async fn consent_for_nobody_is_no_contact<S: ContactStore>(store: &S) {
    let tenant = tenant();
    let nobody = ContactProfile::default();
    let change = ConsentChange {
        contact: &nobody,
        kind: ConsentKind::OptOut,
        source: ConsentSource::Api,
        at: Timestamp::from_secs(1),
        cause: "x",
    };

    let result = store.record_consent(&tenant, &change, Timestamp::from_secs(1)).await;

    assert!(matches!(result, Err(InboxError::NoContact)), "{result:?}");
}

/// Another tenant's contact is found by nothing: not its phone, email or id, nor listed or counted.
pub async fn another_tenants_contact_is_not_found<S: ContactStore>(store: &S) {
    // Arrange
    let owner = tenant();
    let other = tenant();
    let (contact, _) = store
        .create_contact(&owner, &with_email("5511900000101", "gil@example.com"), Timestamp::from_secs(1))
        .await
        .unwrap();

    // Act / Assert
    assert_eq!(store.contact_by_phone(&other, &phone("5511900000101")).await.unwrap(), None);
    assert_eq!(store.contact_by_email(&other, "gil@example.com").await.unwrap(), None);
    assert_eq!(store.contact(&other, &contact.id).await.unwrap(), None);
    assert!(store
        .find_contacts(&other, &ContactKey::Email("gil@example.com".into()))
        .await
        .unwrap()
        .is_empty());
    assert!(store.contacts(&other, &ContactFilter::default(), None, 10).await.unwrap().items.is_empty());
    assert_eq!(store.contact_count(&other).await.unwrap(), 0);
    assert!(store.consent_ledger(&other, &contact.id).await.unwrap().is_empty());
    let patch = ContactPatch { name: Some(Some("Mallory".into())), ..ContactPatch::default() };
    assert_eq!(
        store.update_contact(&other, &contact.id, &patch, Timestamp::from_secs(2)).await.unwrap(),
        None
    );
    let untouched = store.contact(&owner, &contact.id).await.unwrap().expect("still there");
    assert_eq!(untouched.name.as_deref(), Some("Ana"));
}

/// Only the person lifts their own opt-out: a business's opt-in (API, agent, import, form) is
/// refused with `OptedOutByPerson`, kept in the ledger marked refused, and changes nothing; the
/// person's own opt-in keyword lifts it.
pub async fn only_the_person_lifts_their_opt_out<S: ContactStore>(store: &S) {
    // Arrange: the person wrote STOP.
    let tenant = tenant();
    let who = person("5511900000111", "Iara");
    let change = |kind, source, secs, cause| ConsentChange {
        contact: &who,
        kind,
        source,
        at: Timestamp::from_secs(secs),
        cause,
    };
    let now = Timestamp::from_secs(1_000);
    store
        .record_consent(&tenant, &change(ConsentKind::OptOut, ConsentSource::Keyword, 100, "w.1"), now)
        .await
        .unwrap();

    // Act
    let mut refusals = Vec::new();
    let business = [ConsentSource::Api, ConsentSource::Agent, ConsentSource::Import, ConsentSource::LeadForm];
    for ((source, cause), secs) in business.into_iter().zip(["b.1", "b.2", "b.3", "b.4"]).zip(200..) {
        refusals
            .push(store.record_consent(&tenant, &change(ConsentKind::OptIn, source, secs, cause), now).await);
    }
    let contact = store.contact_by_phone(&tenant, &phone("5511900000111")).await.unwrap().expect("created");
    let still = contact.consent.clone().expect("a state");
    let lifted = store
        .record_consent(&tenant, &change(ConsentKind::OptIn, ConsentSource::Keyword, 300, "w.2"), now)
        .await;

    // Assert
    assert!(refusals.iter().all(|r| matches!(r, Err(InboxError::OptedOutByPerson))), "{refusals:?}");
    assert_eq!((still.state, still.source), (ConsentKind::OptOut, ConsentSource::Keyword));
    assert_eq!(lifted.unwrap(), Stored::Created);
    let now_state =
        store.contact(&tenant, &contact.id).await.unwrap().and_then(|c| c.consent).expect("a state");
    assert_eq!((now_state.state, now_state.source), (ConsentKind::OptIn, ConsentSource::Keyword));
    let ledger = store.consent_ledger(&tenant, &contact.id).await.unwrap();
    let refused: Vec<_> = ledger.iter().filter(|e| e.refused.is_some()).map(|e| e.source).collect();
    assert_eq!(
        refused,
        [ConsentSource::Api, ConsentSource::Agent, ConsentSource::Import, ConsentSource::LeadForm],
        "each attempt is in the ledger, marked: {ledger:?}"
    );
    assert_eq!(ledger.len(), 6);
}

/// Every check of the suite.
pub async fn all<S: ContactStore>(store: &S) {
    found_by_phone_email_and_id(store).await;
    the_same_person_is_the_same_contact(store).await;
    nobody_is_no_contact(store).await;
    contact_id_of_is_the_contacts_id(store).await;
    update_contact_applies_the_patch(store).await;
    update_of_a_missing_contact_is_none(store).await;
    a_patch_over_the_caps_is_refused(store).await;
    an_email_belongs_to_one_contact(store).await;
    contact_count_counts_each_contact_once(store).await;
    contact_pages_round_trip(store).await;
    an_invalid_cursor_is_refused(store).await;
    consent_once_per_cause_and_the_latest_wins(store).await;
    the_latest_restriction_event_decides(store).await;
    consent_for_nobody_is_no_contact(store).await;
    only_the_person_lifts_their_opt_out(store).await;
    another_tenants_contact_is_not_found(store).await;
}
