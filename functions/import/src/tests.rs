//! The import worker on in-memory adapters: each chunk written through the API's upsert path,
//! counted once however often it is delivered, rows refused at write time reported by line.
//! The same runs end to end against the local stack in `tests/it/imports.rs`.

use std::collections::BTreeMap;

use shared::app::import::seal_rows;
use shared::domain::import::{ImportJob, ImportRow, ImportStatus};
use shared::domain::inbox::{ConsentChange, ConsentKind, ConsentSource, ContactProfile, ContactStore};
use shared::domain::ports::{EncryptionContext, Purpose, TenantStore, Vault};
use shared::domain::tenant::{ApiKey, Role, Tenant};
use shared::domain::{ImportId, PhoneNumber, TenantId, Timestamp};
use shared::testing::{Fakes, LocalVault, ManualClock, MemoryDocs, MemoryInbox, MemoryTenantStore};

use super::*;

const NOW: i64 = 1_800_000_000_000;

fn now() -> Timestamp {
    Timestamp::from_millis(NOW)
}

fn row(line: u64, phone: &str, consent: Option<ConsentKind>) -> ImportRow {
    ImportRow {
        line,
        phone: PhoneNumber::parse(phone).ok(),
        email: None,
        name: Some(format!("Person {line}")),
        tags: vec!["fair".to_owned()],
        attributes: BTreeMap::new(),
        consent,
    }
}

async fn deps_with_tenant() -> (Deps<Fakes>, TenantId) {
    let tenant = TenantId::generate(now()).expect("random");
    let deps: Deps<Fakes> = Deps {
        config: Config {
            store: StoreConfig { table_name: "t".into(), key_table_name: "k".into(), kms_key_id: "k".into() },
        },
        imports: DocImports::new(MemoryDocs::default()),
        contacts: MemoryInbox::default(),
        tenants: MemoryTenantStore::default(),
        vault: LocalVault,
        clock: ManualClock::at(now()),
    };
    let context = EncryptionContext { tenant_id: tenant.clone(), purpose: Purpose::TokenSigningKey };
    let signing = LocalVault.seal(&context, b"k").await.expect("seal");
    let record = Tenant::new(tenant.clone(), "T".into(), now(), signing);
    let admin = ApiKey::generate(tenant.clone(), now()).expect("random").record("a", Role::Admin, now());
    deps.tenants.create_tenant(&record, &admin).await.expect("tenant");
    (deps, tenant)
}

/// Stages `chunks` as the API does; the messages of the job.
async fn staged(deps: &Deps<Fakes>, tenant: &TenantId, chunks: &[Vec<ImportRow>]) -> Vec<ChunkMessage> {
    let id = ImportId::generate(now()).expect("random");
    let rows = chunks.iter().map(Vec::len).sum::<usize>() as u64;
    let count = u32::try_from(chunks.len()).expect("few");
    let mut sealed = Vec::new();
    for chunk in chunks {
        sealed.push(seal_rows(&deps.vault, tenant, chunk).await.expect("seal"));
    }
    let job = ImportJob::queued(id.clone(), "fair".into(), rows, count, now());
    deps.imports.stage(tenant, &job, &sealed, now()).await.expect("stage");
    (0..count).map(|chunk| ChunkMessage { tenant_id: tenant.clone(), import_id: id.clone(), chunk }).collect()
}

#[tokio::test]
async fn each_chunk_is_written_and_counted_once_however_often_it_is_delivered() {
    // Arrange
    let (deps, tenant) = deps_with_tenant().await;
    let first = vec![row(2, "5511990000001", Some(ConsentKind::OptIn)), row(3, "5511990000002", None)];
    let second = vec![row(4, "5511990000003", None), row(5, "5511990000001", None)];
    let messages = staged(&deps, &tenant, &[first, second]).await;

    // Act
    write_chunk(&messages[0], &deps).await.expect("first chunk");
    write_chunk(&messages[0], &deps).await.expect("redelivered");
    let halfway = deps.imports.job(&tenant, &messages[0].import_id).await.expect("job").expect("exists");
    write_chunk(&messages[1], &deps).await.expect("second chunk");
    write_chunk(&messages[1], &deps).await.expect("redelivered");

    // Assert
    let job = deps.imports.job(&tenant, &messages[0].import_id).await.expect("job").expect("exists");
    assert_eq!((halfway.status, halfway.chunks_done, halfway.created), (ImportStatus::Running, 1, 2));
    assert_eq!(job.status, ImportStatus::Done);
    assert_eq!((job.rows, job.processed, job.created, job.unchanged), (4, 4, 3, 1), "{job:?}");
    assert_eq!(deps.contacts.contact_count(&tenant).await.expect("count"), 3);
    assert_eq!(deps.imports.active(&tenant).await.expect("slot"), None, "the slot is free again");
    assert_eq!(deps.imports.chunk(&tenant, &job.id, 0).await.expect("chunk"), None, "staged rows deleted");
    let ana = PhoneNumber::parse("5511990000001").expect("phone");
    let contact = deps.contacts.contact_by_phone(&tenant, &ana).await.expect("read").expect("contact");
    assert_eq!(contact.tags, vec!["fair".to_owned()]);
    assert_eq!(contact.consent.map(|c| c.source), Some(ConsentSource::Import));
}

#[tokio::test]
async fn rows_refused_at_write_time_are_reported_by_line_and_the_rest_written() {
    // Arrange
    let (deps, tenant) = deps_with_tenant().await;
    let opted_out =
        ContactProfile { phone: PhoneNumber::parse("5511990000009").ok(), ..ContactProfile::default() };
    deps.contacts.create_contact(&tenant, &opted_out, now()).await.expect("contact");
    let change = ConsentChange {
        contact: &opted_out,
        kind: ConsentKind::OptOut,
        source: ConsentSource::Keyword,
        at: now(),
        cause: "wamid.STOP",
    };
    deps.contacts.record_consent(&tenant, &change, now()).await.expect("opt-out");
    let rows = vec![row(2, "5511990000009", Some(ConsentKind::OptIn)), row(3, "5511990000010", None)];
    let messages = staged(&deps, &tenant, &[rows]).await;

    // Act
    write_chunk(&messages[0], &deps).await.expect("chunk");

    // Assert
    let job = deps.imports.job(&tenant, &messages[0].import_id).await.expect("job").expect("exists");
    assert_eq!((job.status, job.created, job.failed), (ImportStatus::Done, 1, 1), "{job:?}");
    assert_eq!(job.errors.len(), 1);
    assert_eq!((job.errors[0].line, job.errors[0].column.as_deref()), (2, Some("consent")));
}

#[tokio::test]
async fn a_second_import_waits_for_the_first() {
    // Arrange
    let (deps, tenant) = deps_with_tenant().await;
    let first = staged(&deps, &tenant, &[vec![row(2, "5511990000001", None)]]).await;
    let second = ImportJob::queued(ImportId::generate(now()).expect("random"), "x".into(), 1, 1, now());

    // Act
    let refused = deps.imports.stage(&tenant, &second, &["sealed".to_owned()], now()).await;
    write_chunk(&first[0], &deps).await.expect("chunk");
    let accepted = deps.imports.stage(&tenant, &second, &["sealed".to_owned()], now()).await;

    // Assert
    assert!(matches!(refused, Err(shared::domain::import::ImportError::Busy { .. })), "{refused:?}");
    assert!(accepted.is_ok(), "{accepted:?}");
    assert_eq!(
        deps.imports.job(&tenant, &second.id).await.expect("job").map(|j| j.status),
        Some(ImportStatus::Queued)
    );
}

#[tokio::test]
async fn an_import_row_that_would_pass_the_tag_cap_is_refused_and_the_others_kept() {
    // Arrange: a contact with 30 tags; an import adds 30 more to it, and imports another person.
    let (deps, tenant) = deps_with_tenant().await;
    let tagged =
        ContactProfile { phone: PhoneNumber::parse("5511988887777").ok(), ..ContactProfile::default() };
    let (contact, _) = deps.contacts.create_contact(&tenant, &tagged, now()).await.expect("contact");
    let old = shared::domain::inbox::ContactPatch {
        tags: Some((0..30).map(|i| format!("old{i}")).collect()),
        ..shared::domain::inbox::ContactPatch::default()
    };
    deps.contacts.update_contact(&tenant, &contact.id, &old, now()).await.expect("tags");
    let over =
        ImportRow { tags: (0..30).map(|i| format!("new{i}")).collect(), ..row(2, "5511988887777", None) };
    let messages = staged(&deps, &tenant, &[vec![over, row(3, "5511977776666", None)]]).await;

    // Act
    write_chunk(&messages[0], &deps).await.expect("chunk");

    // Assert
    let job = deps.imports.job(&tenant, &messages[0].import_id).await.expect("job").expect("exists");
    assert_eq!((job.status, job.created, job.failed), (ImportStatus::Done, 1, 1), "{job:?}");
    assert_eq!((job.errors[0].line, job.errors[0].column.as_deref()), (2, Some("tags")));
    let kept = deps.contacts.contact(&tenant, &contact.id).await.expect("read").expect("contact");
    assert_eq!(kept.tags.len(), 30, "the contact keeps its tags");
}
