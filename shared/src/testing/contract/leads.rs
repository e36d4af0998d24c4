//! [`LeadStore`]'s contract: a lead entered by hand reads back as created, linked to the contact
//! its fields identify; patches change what they set; pages round-trip and filters narrow;
//! another tenant finds nothing.

use super::{person, phone, tenant};
use crate::domain::inbox::{
    ContactProfile, ContactStore, InboxError, LeadFilter, LeadOrigin, LeadPatch, LeadStage, LeadStore,
    NewManualLead,
};
use crate::domain::{Timestamp, UserId};

fn manual<'a>(
    id: &'a str,
    contact: &'a ContactProfile,
    origin: &'a LeadOrigin,
    owner: Option<&'a UserId>,
    secs: i64,
) -> NewManualLead<'a> {
    NewManualLead { id, contact, stage: LeadStage::New, owner, origin, at: Timestamp::from_secs(secs) }
}

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

/// A lead entered by hand reads back as it was returned, with the fields entered, linked to the
/// contact they identify.
pub async fn a_lead_reads_back_as_created<S: LeadStore + ContactStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let who = ContactProfile { email: Some("ana@example.com".into()), ..person("5511940000001", "Ana") };
    let origin = LeadOrigin { form: Some("site".into()), ad: None, campaign: Some("spring".into()) };
    let owner = user("usr_owner");

    // Act
    let created =
        store.create_lead(&tenant, &manual("ld_1", &who, &origin, Some(&owner), 100)).await.unwrap();

    // Assert
    let contact = store.contact_by_phone(&tenant, &phone("5511940000001")).await.unwrap().expect("contact");
    assert_eq!(created.contact_id, contact.id);
    assert_eq!(
        (created.id.as_str(), created.stage, created.owner.as_ref()),
        ("ld_1", LeadStage::New, Some(&owner))
    );
    assert_eq!((created.origin.clone(), created.received_at, created.updated_at), (origin, 100_000, 100_000));
    assert_eq!(created.page_id, None);
    let field = |name: &str| created.lead.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    assert_eq!(field("name").as_deref(), Some("Ana"));
    assert_eq!(field("email").as_deref(), Some("ana@example.com"));
    assert_eq!(field("phone").as_deref(), Some("5511940000001"), "every field entered");
    assert_eq!(store.lead(&tenant, "ld_1").await.unwrap(), Some(created));
}

/// A lead whose fields give only a known email links that contact.
pub async fn a_lead_finds_its_contact_by_email<S: LeadStore + ContactStore>(store: &S) {
    let tenant = tenant();
    let known = ContactProfile { email: Some("bia@example.com".into()), ..person("5511940000002", "Bia") };
    let (contact, _) = store.create_contact(&tenant, &known, Timestamp::from_secs(1)).await.unwrap();
    let by_email = ContactProfile { email: Some("bia@example.com".into()), ..ContactProfile::default() };

    let created = store
        .create_lead(&tenant, &manual("ld_2", &by_email, &LeadOrigin::default(), None, 100))
        .await
        .unwrap();

    assert_eq!(created.contact_id, contact.id);
    assert_eq!(store.contact_count(&tenant).await.unwrap(), 1);
}

/// A lead for nobody is refused with `NoContact`.
pub async fn a_lead_for_nobody_is_no_contact<S: LeadStore>(store: &S) {
    let tenant = tenant();
    let nobody = ContactProfile::default();

    let result = store.create_lead(&tenant, &manual("ld_3", &nobody, &LeadOrigin::default(), None, 1)).await;

    assert!(matches!(result, Err(InboxError::NoContact)), "{result:?}");
    assert_eq!(store.lead(&tenant, "ld_3").await.unwrap(), None);
}

/// A patch changes what it sets (stage, owner set or cleared, origin) and stamps `updated_at`;
/// a missing lead answers `None`.
pub async fn update_lead_applies_the_patch<S: LeadStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let who = person("5511940000004", "Caio");
    let owner = user("usr_a");
    store
        .create_lead(&tenant, &manual("ld_4", &who, &LeadOrigin::default(), Some(&owner), 100))
        .await
        .unwrap();
    let origin = LeadOrigin { form: None, ad: Some("ad-9".into()), campaign: None };

    // Act
    let staged = store
        .update_lead(
            &tenant,
            "ld_4",
            &LeadPatch { stage: Some(LeadStage::Qualified), ..LeadPatch::default() },
            Timestamp::from_secs(200),
        )
        .await
        .unwrap();
    let moved = store
        .update_lead(
            &tenant,
            "ld_4",
            &LeadPatch { owner: Some(None), origin: Some(origin.clone()), ..LeadPatch::default() },
            Timestamp::from_secs(300),
        )
        .await
        .unwrap();
    let missing = store
        .update_lead(&tenant, "ld_none", &LeadPatch::default(), Timestamp::from_secs(300))
        .await
        .unwrap();

    // Assert
    let staged = staged.expect("the lead");
    assert_eq!(
        (staged.stage, staged.owner.clone(), staged.updated_at),
        (LeadStage::Qualified, Some(owner), 200_000)
    );
    let moved = moved.expect("the lead");
    assert_eq!(
        (moved.stage, moved.owner.clone(), moved.origin.clone()),
        (LeadStage::Qualified, None, origin)
    );
    assert_eq!((moved.received_at, moved.updated_at), (100_000, 300_000));
    assert_eq!(store.lead(&tenant, "ld_4").await.unwrap(), Some(moved));
    assert_eq!(missing, None);
    assert_eq!(store.lead(&tenant, "ld_none").await.unwrap(), None, "not created by the update");
}

/// Pages of leads hold each lead once and their cursors lead to the end; filters by stage,
/// owner and contact narrow.
pub async fn lead_pages_round_trip_and_filters_narrow<S: LeadStore + ContactStore>(store: &S) {
    // Arrange: five leads of two people, two of them won, one owned.
    let tenant = tenant();
    let (ana, bia) = (person("5511940000051", "Ana"), person("5511940000052", "Bia"));
    let owner = user("usr_o");
    let mut ids = Vec::new();
    for i in 0..5_i64 {
        let id = format!("ld_5{i}");
        let who = if i < 3 { &ana } else { &bia };
        let owned = (i == 4).then_some(&owner);
        store.create_lead(&tenant, &manual(&id, who, &LeadOrigin::default(), owned, 100 + i)).await.unwrap();
        if i % 2 == 1 {
            let won = LeadPatch { stage: Some(LeadStage::Won), ..LeadPatch::default() };
            store.update_lead(&tenant, &id, &won, Timestamp::from_secs(200)).await.unwrap();
        }
        ids.push(id);
    }

    // Act
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let page = store.leads(&tenant, &LeadFilter::default(), after.as_deref(), 2).await.unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|l| l.id));
        after = page.next;
        if after.is_none() {
            break;
        }
    }
    let bia_id = store.contact_by_phone(&tenant, &phone("5511940000052")).await.unwrap().expect("contact").id;
    let won =
        ids_of(store, &tenant, LeadFilter { stage: Some(LeadStage::Won), ..LeadFilter::default() }).await;
    let owned =
        ids_of(store, &tenant, LeadFilter { owner: Some(owner.clone()), ..LeadFilter::default() }).await;
    let bias = ids_of(store, &tenant, LeadFilter { contact: Some(bia_id), ..LeadFilter::default() }).await;

    // Assert
    assert_eq!(after, None, "the cursors end");
    seen.sort();
    assert_eq!(seen, ids, "each lead once");
    assert_eq!(won, ["ld_51", "ld_53"]);
    assert_eq!(owned, ["ld_54"]);
    assert_eq!(bias, ["ld_53", "ld_54"]);
}

/// The ids of the leads `filter` keeps, sorted.
async fn ids_of<S: LeadStore>(
    store: &S,
    tenant: &crate::domain::TenantId,
    filter: LeadFilter,
) -> Vec<String> {
    let page = store.leads(tenant, &filter, None, 10).await.unwrap();
    let mut ids: Vec<String> = page.items.into_iter().map(|l| l.id).collect();
    ids.sort();
    ids
}

/// A cursor this listing did not produce is refused with `InvalidCursor`.
pub async fn an_invalid_cursor_is_refused<S: LeadStore>(store: &S) {
    let tenant = tenant();
    let who = person("5511940000006", "Dora");
    store.create_lead(&tenant, &manual("ld_6", &who, &LeadOrigin::default(), None, 1)).await.unwrap();

    let result = store.leads(&tenant, &LeadFilter::default(), Some("not a cursor"), 10).await;

    assert!(matches!(result, Err(InboxError::InvalidCursor)), "{result:?}");
}

/// Another tenant's lead id finds nothing, lists nothing and updates nothing.
pub async fn another_tenants_lead_is_not_found<S: LeadStore>(store: &S) {
    let owner = tenant();
    let other = tenant();
    let who = person("5511940000007", "Eva");
    store.create_lead(&owner, &manual("ld_7", &who, &LeadOrigin::default(), None, 1)).await.unwrap();

    let won = LeadPatch { stage: Some(LeadStage::Won), ..LeadPatch::default() };
    assert_eq!(store.lead(&other, "ld_7").await.unwrap(), None);
    assert_eq!(store.update_lead(&other, "ld_7", &won, Timestamp::from_secs(2)).await.unwrap(), None);
    assert!(store.leads(&other, &LeadFilter::default(), None, 10).await.unwrap().items.is_empty());
    assert_eq!(store.lead(&owner, "ld_7").await.unwrap().map(|l| l.stage), Some(LeadStage::New));
}

/// Every check of the suite.
pub async fn all<S: LeadStore + ContactStore>(store: &S) {
    a_lead_reads_back_as_created(store).await;
    a_lead_finds_its_contact_by_email(store).await;
    a_lead_for_nobody_is_no_contact(store).await;
    update_lead_applies_the_patch(store).await;
    lead_pages_round_trip_and_filters_narrow(store).await;
    an_invalid_cursor_is_refused(store).await;
    another_tenants_lead_is_not_found(store).await;
}
