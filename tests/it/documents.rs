//! The document repositories (users, sessions, audit, records, rate counters, live connections)
//! on DynamoDB (moto): the same code the unit tests run on the in-memory table, here on the real
//! protocol.

use shared::adapters::documents::{
    DocAuditLog, DocDirectory, DocLiveConnections, DocRateLimiter, DocRecords,
};
use shared::domain::audit::{
    Actor, ActorKind, AuditEntry, AuditError, AuditFilter, AuditLog, Target, ANONYMIZED,
};
use shared::domain::crm::{Activity, ContactRecord, RecordKind, RecordStore};
use shared::domain::identity::{CreateUserError, Directory, Session, UpdateError, User, UserStatus};
use shared::domain::live::{LiveAudience, LiveConnection, LiveConnections, CONNECTION_TTL_SECS};
use shared::domain::ports::{Admission, RateLimiter};
use shared::domain::tenant::Role;
use shared::domain::{Clock, ContactId, ExpiresAt, RecordId, SessionId, SystemClock, Timestamp, UserId};

use crate::support::{table, tenant};

fn actor() -> Actor {
    Actor { kind: ActorKind::ApiKey, id: "key_1".into() }
}

fn user(tenant: &shared::domain::TenantId, email: &str) -> User {
    let now = Timestamp::from_secs(1_800_000_000);
    User {
        id: UserId::generate(now).expect("random"),
        tenant_id: tenant.clone(),
        email: email.into(),
        name: "U".into(),
        role: Role::Agent,
        queues: vec![],
        status: UserStatus::Active,
        password_hash: None,
        invitation_sha256: None,
        invitation_expires_at: None,
        token_generation: 0,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    }
}

#[tokio::test]
async fn an_email_is_one_users_until_that_user_is_deleted() {
    // Arrange
    let directory = DocDirectory::new(table().await);
    let tenant = tenant();
    let first = user(&tenant, "same@example.com");

    // Act
    directory.create_user(&first).await.expect("created");
    let taken = directory.create_user(&user(&tenant, "same@example.com")).await;
    let other_tenant = directory.create_user(&user(&crate::support::tenant(), "same@example.com")).await;
    let read = directory.user_by_email(&tenant, "same@example.com").await.expect("read").expect("found");
    let mut deleted = read.value.clone();
    deleted.status = UserStatus::Deleted;
    directory.update_user(&deleted, read.version).await.expect("deleted");
    let stale = directory.update_user(&deleted, read.version).await;
    let reused = directory.create_user(&user(&tenant, "same@example.com")).await;

    // Assert
    assert!(matches!(taken, Err(CreateUserError::EmailTaken)));
    assert!(other_tenant.is_ok(), "emails are unique per tenant only");
    assert_eq!(read.value.id, first.id);
    assert!(matches!(stale, Err(UpdateError::Conflict)));
    assert!(reused.is_ok(), "a deleted user's email is free again");
}

#[tokio::test]
async fn a_session_update_needs_the_version_it_read() {
    // Arrange
    let directory = DocDirectory::new(table().await);
    let tenant = tenant();
    let now = SystemClock.now();
    let session = Session {
        id: SessionId::generate(now).expect("random"),
        user_id: UserId::generate(now).expect("random"),
        current_sha256: "a".into(),
        previous_sha256: None,
        token_generation: 0,
        created_at: now,
        expires_at: Timestamp::from_secs(now.as_secs() + 3600),
        revoked_at: None,
    };
    directory.create_session(&tenant, &session).await.expect("stored");
    let read = directory.session(&tenant, &session.id).await.expect("read").expect("found");

    // Act: two refreshes race with the same read.
    let mut rotated = read.value.clone();
    rotated.current_sha256 = "b".into();
    let first = directory.update_session(&tenant, &rotated, read.version).await;
    rotated.current_sha256 = "c".into();
    let second = directory.update_session(&tenant, &rotated, read.version).await;

    // Assert
    assert!(first.is_ok());
    assert!(matches!(second, Err(UpdateError::Conflict)), "only one rotation wins");
    let now_stored = directory.session(&tenant, &session.id).await.expect("read").expect("found");
    assert_eq!(now_stored.value.current_sha256, "b");
}

#[tokio::test]
async fn audit_entries_are_append_only_and_filtered_newest_first() {
    // Arrange
    let audit = DocAuditLog::new(table().await);
    let tenant = tenant();
    let target = |id: &str| Target { kind: "contact".into(), id: id.into() };
    let entries: Vec<AuditEntry> = (0..5)
        .map(|i| {
            let action = if i % 2 == 0 { "contact.update" } else { "lead.update" };
            AuditEntry::new(
                actor(),
                action,
                target(&format!("ct_{i}")),
                Timestamp::from_millis(1_800_000_000_000 + i),
            )
            .expect("random")
        })
        .collect();
    for entry in &entries {
        audit.record(&tenant, entry).await.expect("recorded");
    }

    // Act
    let again = audit.record(&tenant, &entries[0]).await;
    let all = audit.entries(&tenant, &AuditFilter::default(), None, 10).await.expect("listed");
    let contacts = AuditFilter { action: Some("contact.".into()), ..AuditFilter::default() };
    let first_page = audit.entries(&tenant, &contacts, None, 2).await.expect("listed");
    let second_page = audit.entries(&tenant, &contacts, first_page.next.as_deref(), 2).await.expect("listed");
    let window = AuditFilter {
        since: Some(1_800_000_000_001),
        until: Some(1_800_000_000_003),
        ..AuditFilter::default()
    };
    let windowed = audit.entries(&tenant, &window, None, 10).await.expect("listed");

    // Assert
    assert!(again.is_err(), "an entry is never overwritten");
    let ats: Vec<i64> = all.items.iter().map(|e| e.at).collect();
    assert_eq!(ats, (0..5).rev().map(|i| 1_800_000_000_000 + i).collect::<Vec<_>>());
    let ids: Vec<String> =
        first_page.items.iter().chain(&second_page.items).map(|e| e.target.id.clone()).collect();
    assert_eq!(ids, vec!["ct_4", "ct_2", "ct_0"]);
    assert_eq!(
        windowed.items.iter().map(|e| e.at).collect::<Vec<_>>(),
        vec![1_800_000_000_002, 1_800_000_000_001]
    );
}

#[tokio::test]
async fn audit_entries_stop_naming_the_person_after_a_year() {
    // Arrange: entries about a contact and a lead, recent and 400 days old, and one about the tenant.
    let table = table().await;
    let audit = DocAuditLog::new(table.clone());
    let tenant = tenant();
    let now = SystemClock.now().as_millis();
    let days_ago = |days: i64| Timestamp::from_millis(now - days * 86_400_000);
    let about = |kind: &str, id: &str, at| {
        AuditEntry::new(actor(), "x.update", Target { kind: kind.into(), id: id.into() }, at).expect("random")
    };
    for entry in [
        about("contact", "ct_recent", days_ago(10)),
        about("lead", "1234567890", days_ago(400)),
        about("contact", "ct_old", days_ago(400)),
        about("tenant", tenant.as_str(), days_ago(400)),
    ] {
        audit.record(&tenant, &entry).await.expect("recorded");
    }

    // Act
    let all = audit.entries(&tenant, &AuditFilter::default(), None, 10).await.expect("listed");
    let about_recent = AuditFilter { target: Some("ct_recent".into()), ..AuditFilter::default() };
    let about_old = AuditFilter { target: Some("ct_old".into()), ..AuditFilter::default() };

    // Assert
    let targets: Vec<(String, String)> =
        all.items.iter().map(|e| (e.target.kind.clone(), e.target.id.clone())).collect();
    assert_eq!(targets[0], ("contact".to_owned(), "ct_recent".to_owned()), "within a year: named");
    assert!(targets[1..].contains(&("contact".to_owned(), ANONYMIZED.to_owned())), "{targets:?}");
    assert!(targets[1..].contains(&("lead".to_owned(), ANONYMIZED.to_owned())), "{targets:?}");
    assert!(targets[1..].contains(&("tenant".to_owned(), tenant.to_string())), "not a person: kept");
    assert_eq!(audit.entries(&tenant, &about_recent, None, 10).await.expect("listed").items.len(), 1);
    assert!(audit.entries(&tenant, &about_old, None, 10).await.expect("listed").items.is_empty());
    let stored = format!(
        "{:?}",
        table
            .query_prefix(
                &shared::adapters::dynamo::keys::tenant_partition(&tenant),
                "AUDIT#",
                Timestamp::from_millis(0),
                100,
                None
            )
            .await
            .expect("raw")
            .items
    );
    assert!(
        !stored.contains("ct_recent") && !stored.contains("ct_old"),
        "the entries themselves never name the person"
    );
}

#[tokio::test]
async fn audit_entries_about_a_persons_data_are_found_under_them_and_only_for_a_year() {
    // Arrange: entries about a person's lead, conversation, contact and note, one about
    // another person, one 400 days old and a bulk read.
    let audit = DocAuditLog::new(table().await);
    let tenant = tenant();
    let (person, other) =
        (ContactId::parse("ct_person").expect("id"), ContactId::parse("ct_other").expect("id"));
    let now = SystemClock.now().as_millis();
    let days_ago = |days: i64| Timestamp::from_millis(now - days * 86_400_000);
    let entry = |action: &str, kind: &str, id: &str, at| {
        AuditEntry::new(actor(), action, Target { kind: kind.into(), id: id.into() }, at).expect("random")
    };
    for recorded in [
        entry("lead.update", "lead", "L1", days_ago(1)).about(&person),
        entry("conversation.update", "conversation", "cv_1", days_ago(2)).about(&person),
        entry("contact.update", "contact", "ct_person", days_ago(3)),
        entry("note.create", "note", "rec_1", days_ago(4)).about(&person),
        entry("lead.update", "lead", "L2", days_ago(1)).about(&other),
        entry("message.send", "message", "msg_1", days_ago(400)).about(&person),
        entry("contact.list", "contact", "*", days_ago(1)),
    ] {
        audit.record(&tenant, &recorded).await.expect("recorded");
    }

    // Act
    let first = audit.entries_about(&tenant, &person, None, 2).await.expect("listed");
    let second = audit.entries_about(&tenant, &person, first.next.as_deref(), 10).await.expect("listed");
    let others = audit.entries_about(&tenant, &other, None, 10).await.expect("listed");
    let foreign_cursor = audit.entries_about(&tenant, &person, Some("AUDITSUBJECT#ct_other#1"), 10).await;

    // Assert: newest first, with their targets, across pages; nobody else's; a year at most.
    let found: Vec<(String, String)> =
        first.items.iter().chain(&second.items).map(|e| (e.action.clone(), e.target.id.clone())).collect();
    assert_eq!(
        found,
        [
            ("lead.update", "L1"),
            ("conversation.update", "cv_1"),
            ("contact.update", "ct_person"),
            ("note.create", "rec_1")
        ]
        .map(|(a, t)| (a.to_owned(), t.to_owned()))
    );
    assert!(second.next.is_none());
    assert_eq!(others.items.len(), 1);
    assert_eq!(others.items[0].target.id, "L2");
    assert!(matches!(foreign_cursor, Err(AuditError::InvalidCursor)));
}

#[tokio::test]
async fn records_page_by_kind_and_activities_come_newest_first() {
    // Arrange
    let records = DocRecords::new(table().await);
    let tenant = tenant();
    let contact = ContactId::parse("ct_documents").expect("valid");
    for (i, kind) in [RecordKind::Note, RecordKind::Task, RecordKind::Note].into_iter().enumerate() {
        let at = 1_800_000_000_000 + i as i64;
        let record = ContactRecord {
            id: RecordId::generate(Timestamp::from_millis(at)).expect("random"),
            contact_id: contact.clone(),
            kind,
            text: format!("r{i}"),
            due_at: None,
            assignee: None,
            done_at: None,
            starts_at: None,
            ends_at: None,
            location: None,
            conversation_id: None,
            author: actor(),
            created_at: at,
            updated_at: at,
        };
        records.put_record(&tenant, &record, None).await.expect("stored");
        let activity = Activity {
            at,
            kind: format!("{}.created", kind.as_str()),
            ref_id: None,
            detail: None,
            actor: None,
        };
        records.add_activity(&tenant, &contact, &activity).await.expect("stored");
    }

    // Act
    let notes = records.records(&tenant, &contact, RecordKind::Note, None, 1).await.expect("listed");
    let more =
        records.records(&tenant, &contact, RecordKind::Note, notes.next.as_deref(), 1).await.expect("listed");
    let tasks = records.records(&tenant, &contact, RecordKind::Task, None, 10).await.expect("listed");
    let activities = records.activities(&tenant, &contact, None, 10).await.expect("listed");
    let older = records.activities(&tenant, &contact, Some(1_800_000_000_002), 10).await.expect("listed");
    let foreign = records.records(&tenant, &contact, RecordKind::Task, Some("USER#x"), 10).await;

    // Assert
    assert_eq!(notes.items[0].text, "r0");
    assert_eq!(more.items[0].text, "r2");
    assert_eq!(tasks.items.len(), 1);
    assert_eq!(
        activities.iter().map(|a| a.at).collect::<Vec<_>>(),
        vec![1_800_000_000_002, 1_800_000_000_001, 1_800_000_000_000]
    );
    assert_eq!(older.len(), 2);
    assert!(foreign.is_err(), "a cursor of another listing is refused");
}

#[tokio::test]
async fn the_rate_limiter_counts_one_window_for_every_caller() {
    // Arrange: two limiters (two Lambda instances) on one table.
    let table = table().await;
    let (first, second) = (DocRateLimiter::new(table.clone()), DocRateLimiter::new(table));
    let tenant = tenant();
    let now = Timestamp::from_secs(1_800_000_010);

    // Act
    let mut answers = Vec::new();
    for i in 0..5 {
        let limiter = if i % 2 == 0 { &first } else { &second };
        answers.push(limiter.admit(&tenant, 4, now).await.expect("counted"));
    }
    let next_minute = first.admit(&tenant, 4, Timestamp::from_secs(1_800_000_060)).await.expect("counted");

    // Assert
    assert!(answers[..4].iter().all(|a| *a == Admission::Allowed));
    assert_eq!(answers[4], Admission::Limited { retry_after_secs: 50 });
    assert_eq!(next_minute, Admission::Allowed);
}

#[tokio::test]
async fn a_tenant_has_a_live_connection_from_its_connect_to_its_disconnect_and_no_other_tenant_does() {
    // Arrange
    let connections = DocLiveConnections::new(table().await);
    let (watched, other) = (tenant(), tenant());
    let now = SystemClock.now();
    let console = LiveConnection {
        connection_id: "conn-a1".into(),
        tenant_id: watched.clone(),
        audience: LiveAudience {
            user_id: UserId::generate(now).expect("random"),
            role: Role::Agent,
            queues: vec![],
        },
        connected_at: now.as_millis(),
        expires_at: ExpiresAt::from_epoch_secs(now.as_secs() + CONNECTION_TTL_SECS),
    };
    let before = connections.any_connection(&watched).await.expect("read");

    // Act
    connections.put_connection(&console).await.expect("connect");
    let open = (
        connections.any_connection(&watched).await.expect("read"),
        connections.any_connection(&other).await.expect("read"),
    );
    connections.remove_connection("conn-a1").await.expect("disconnect");
    let after = connections.any_connection(&watched).await.expect("read");

    // Assert
    assert!(!before, "no connection yet");
    assert_eq!(open, (true, false), "the tenant's own connection only");
    assert!(!after, "disconnected");
}
