//! The suggest path on in-memory adapters: the gate is checked again at run time, only redacted
//! text reaches the provider, outcomes are recorded once. The same runs end to end against the
//! local stack's sandbox provider in `tests/it/ai.rs`.

use shared::adapters::documents::DocDirectory;
use shared::domain::ai::{
    AiConnection, Sentiment, SuggestionJob, SuggestionKind, SuggestionStatus, SuggestionStore, SuggestionView,
};
use shared::domain::inbox::{
    ConsentChange, ConsentKind, ConsentSource, ContactProfile, ContactStore, ConversationFilter,
    ConversationStore, IngestStore, NewInboundMessage, OutboundStore,
};
use shared::domain::ports::{ConnectionStore, EncryptionContext, Purpose, TenantStore, TenantUpdate, Vault};
use shared::domain::tenant::{ApiKey, RetentionSettings, Role, Tenant, TenantSettings};
use shared::domain::{ExpiresAt, PhoneNumber, SuggestionId, TenantId, Timestamp, Wamid};
use shared::lambda::batch::RecordError;
use shared::testing::{
    Fakes, LocalVault, ManualClock, MemoryAi, MemoryDocs, MemoryInbox, MemoryTenantStore, MEMORY_AI_REPLIES,
};

use super::*;

/// The one in-memory inbox behind every inbox port of `deps` (to seed what arrived or was sent).
fn inbox(deps: &Deps<Fakes>) -> &MemoryInbox {
    &deps.contacts
}

const NOW: i64 = 1_800_000_000_000;
const PHONE: &str = "5511987654321";
const PROVIDER_KEY: &str = "sk-tenant-provider-key";

fn now() -> Timestamp {
    Timestamp::from_millis(NOW)
}

fn profile() -> ContactProfile {
    ContactProfile {
        phone: PhoneNumber::parse(PHONE).ok(),
        name: Some("Maria Souza".to_owned()),
        ..ContactProfile::default()
    }
}

/// A tenant with AI on and a provider connected, and a conversation in which the customer wrote
/// `body`; a pending request for it.
async fn arranged(body: &str) -> (Deps<Fakes>, SuggestionJob) {
    let tenant = TenantId::generate(now()).expect("random");
    let tenant_store = MemoryTenantStore::default();
    let inbox = MemoryInbox::default();
    let deps: Deps<Fakes> = Deps {
        config: Config {
            store: StoreConfig { table_name: "t".into(), key_table_name: "k".into(), kms_key_id: "k".into() },
            providers: AiProviders::new([("sandbox".to_owned(), "https://ai.example/v1".to_owned())]),
            concurrency: 1,
        },
        suggestions: inbox.clone(),
        conversations: inbox.clone(),
        contacts: inbox.clone(),
        tenants: tenant_store.clone(),
        connections: tenant_store.clone(),
        directory: DocDirectory::new(MemoryDocs::default()),
        vault: LocalVault,
        provider: MemoryAi::default(),
        clock: ManualClock::at(now()),
    };
    let seal = |purpose, value: &'static [u8]| {
        let context = EncryptionContext { tenant_id: tenant.clone(), purpose };
        async move { LocalVault.seal(&context, value).await.unwrap() }
    };
    let record = Tenant::new(tenant.clone(), "T".into(), now(), seal(Purpose::TokenSigningKey, b"k").await);
    let admin = ApiKey::generate(tenant.clone(), now()).expect("random").record("a", Role::Admin, now());
    deps.tenants.create_tenant(&record, &admin).await.unwrap();
    set_ai(&deps, &tenant, true).await;
    let connection = AiConnection {
        provider: "sandbox".into(),
        model: "small".into(),
        api_key: seal(Purpose::IntegrationSecret, PROVIDER_KEY.as_bytes()).await,
        connected_at: now(),
    };
    deps.connections.connect_ai(&tenant, &connection).await.unwrap();
    let raw = serde_json::json!({"from": PHONE, "id": "wamid.IN1", "type": "text", "text": {"body": body}});
    let wamid = Wamid::parse("wamid.IN1").unwrap();
    let inbound = NewInboundMessage {
        wamid: &wamid,
        from: &profile(),
        sent_at: now(),
        kind: "text",
        raw: &raw.to_string(),
        retention: RetentionSettings::default(),
    };
    inbox.store_inbound_message(&tenant, &inbound, now()).await.unwrap();
    let contact =
        deps.contacts.contact_by_phone(&tenant, &PhoneNumber::parse(PHONE).unwrap()).await.unwrap().unwrap();
    let conversations = deps
        .conversations
        .conversations(&tenant, Some(&contact.id), &ConversationFilter::default(), None, 1)
        .await
        .unwrap();
    let suggestion = SuggestionView::pending(
        conversations.items[0].id.clone(),
        contact.id.clone(),
        SuggestionKind::Replies,
        now(),
    )
    .expect("random");
    deps.suggestions
        .create_suggestion(&tenant, &suggestion, ExpiresAt::from_epoch_secs(i64::MAX))
        .await
        .unwrap();
    let job = SuggestionJob {
        tenant_id: tenant,
        conversation_id: suggestion.conversation_id.clone(),
        suggestion_id: suggestion.id.clone(),
    };
    (deps, job)
}

async fn set_ai(deps: &Deps<Fakes>, tenant: &TenantId, enabled: bool) {
    let settings = TenantSettings { ai_enabled: enabled, ..TenantSettings::default() };
    let update = TenantUpdate::Profile { name: "T".into(), settings };
    assert!(deps.tenants.update_tenant(tenant, &update).await.unwrap());
}

async fn stored(deps: &Deps<Fakes>, job: &SuggestionJob) -> SuggestionView {
    deps.suggestions
        .suggestion(&job.tenant_id, &job.conversation_id, &job.suggestion_id)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn only_redacted_text_reaches_the_provider_and_the_replies_are_kept() {
    // Arrange
    let body = "Hi, I'm Maria Souza. Call +55 11 98765-4321 or maria@example.com about order AB12345, \
                see https://shop.example/o/1 - I want 3 blue chairs";
    let (deps, job) = arranged(body).await;

    // Act
    suggest_one(&job, 1, &deps).await.unwrap();

    // Assert
    let calls = deps.provider.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!((calls[0].base_url.as_str(), calls[0].model.as_str()), ("https://ai.example/v1", "small"));
    assert_eq!(calls[0].api_key, PROVIDER_KEY, "the tenant's own key, opened for the call");
    assert_eq!(
        calls[0].texts,
        ["Hi, I'm [name] [name]. Call [phone] or [email] about order [id], see [url] - I want 3 blue chairs"]
    );
    let suggestion = stored(&deps, &job).await;
    assert_eq!(suggestion.status, SuggestionStatus::Ready);
    assert_eq!(suggestion.result.replies, MEMORY_AI_REPLIES);
    assert!(calls[0].instructions.contains("replies"), "asked for replies");
    assert_eq!(suggestion.finished_at, Some(NOW));
}

#[tokio::test]
async fn turning_ai_off_after_the_request_stops_it_before_the_provider() {
    // Arrange
    let (deps, job) = arranged("Hello").await;
    set_ai(&deps, &job.tenant_id, false).await;

    // Act
    suggest_one(&job, 1, &deps).await.unwrap();

    // Assert
    assert!(deps.provider.calls().is_empty());
    let suggestion = stored(&deps, &job).await;
    assert_eq!(
        (suggestion.status, suggestion.reason.as_deref()),
        (SuggestionStatus::Refused, Some("ai-disabled"))
    );
}

#[tokio::test]
async fn a_disconnected_provider_or_a_restricted_contact_gets_nothing_sent() {
    // Arrange
    let (disconnected, disconnected_job) = arranged("Hello").await;
    disconnected.tenants.disconnect_ai(&disconnected_job.tenant_id).await.unwrap();
    let (restricted, restricted_job) = arranged("Hello").await;
    let change = ConsentChange {
        contact: &profile(),
        kind: ConsentKind::Restrict,
        source: ConsentSource::Agent,
        at: now(),
        cause: "objection",
    };
    restricted.contacts.record_consent(&restricted_job.tenant_id, &change, now()).await.unwrap();

    // Act
    suggest_one(&disconnected_job, 1, &disconnected).await.unwrap();
    suggest_one(&restricted_job, 1, &restricted).await.unwrap();

    // Assert
    assert!(disconnected.provider.calls().is_empty() && restricted.provider.calls().is_empty());
    assert_eq!(stored(&disconnected, &disconnected_job).await.reason.as_deref(), Some("ai-not-connected"));
    assert_eq!(stored(&restricted, &restricted_job).await.reason.as_deref(), Some("contact-restricted"));
}

#[tokio::test]
async fn an_unavailable_provider_is_retried_and_a_refusing_one_fails_the_request() {
    // Arrange
    let (deps, job) = arranged("Hello").await;
    deps.provider.fail_with(Some(503));

    // Act
    let unavailable = suggest_one(&job, 1, &deps).await;
    let still = stored(&deps, &job).await.status;
    deps.provider.fail_with(Some(401));
    suggest_one(&job, 1, &deps).await.unwrap();

    // Assert
    assert!(matches!(unavailable, Err(RecordError::Retryable(_))), "{unavailable:?}");
    assert_eq!(still, SuggestionStatus::Pending);
    let failed = stored(&deps, &job).await;
    assert_eq!(failed.status, SuggestionStatus::Failed);
    assert_eq!(failed.reason.as_deref(), Some("the AI provider refused the request (HTTP 401)"));
}

#[tokio::test]
async fn a_redelivered_job_changes_nothing_once_the_request_ended() {
    // Arrange
    let (deps, job) = arranged("Hello").await;
    suggest_one(&job, 1, &deps).await.unwrap();

    // Act
    suggest_one(&job, 1, &deps).await.unwrap();

    // Assert
    assert_eq!(deps.provider.calls().len(), 1);
    assert_eq!(stored(&deps, &job).await.status, SuggestionStatus::Ready);
}

#[tokio::test]
async fn a_provider_unavailable_through_the_last_attempt_ends_the_request_failed() {
    // Arrange
    let (deps, job) = arranged("Hello").await;
    deps.provider.fail_with(Some(429));

    // Act
    suggest_one(&job, PROVIDER_ATTEMPTS, &deps).await.unwrap();

    // Assert
    let failed = stored(&deps, &job).await;
    assert_eq!(failed.status, SuggestionStatus::Failed);
    assert!(failed.reason.is_some_and(|r| r.contains("stayed unavailable")));
}

#[tokio::test]
async fn a_summary_and_a_sentiment_are_asked_for_and_kept_and_an_empty_answer_fails() {
    // Arrange: the same conversation, three requests of other kinds.
    let (deps, replies_job) = arranged("The chairs arrived broken, I am very upset").await;
    let kinds = [SuggestionKind::Summary, SuggestionKind::Sentiment, SuggestionKind::Summary];
    let mut jobs = Vec::new();
    for kind in kinds {
        let base = stored(&deps, &replies_job).await;
        let suggestion = SuggestionView { id: SuggestionId::generate(now()).expect("random"), kind, ..base };
        deps.suggestions
            .create_suggestion(&replies_job.tenant_id, &suggestion, ExpiresAt::from_epoch_secs(i64::MAX))
            .await
            .unwrap();
        jobs.push(SuggestionJob { suggestion_id: suggestion.id.clone(), ..replies_job.clone() });
    }

    // Act
    deps.provider.answer_with(r#"{"summary": "Chairs arrived broken; the customer wants a fix."}"#);
    suggest_one(&jobs[0], 1, &deps).await.unwrap();
    deps.provider.answer_with(r#"{"sentiment": "negative"}"#);
    suggest_one(&jobs[1], 1, &deps).await.unwrap();
    deps.provider.answer_with(r#"{"nothing": true}"#);
    suggest_one(&jobs[2], 1, &deps).await.unwrap();

    // Assert
    let calls = deps.provider.calls();
    assert!(calls[0].instructions.contains("Summarize") && calls[1].instructions.contains("sentiment"));
    let summary = stored(&deps, &jobs[0]).await;
    assert_eq!(summary.result.summary.as_deref(), Some("Chairs arrived broken; the customer wants a fix."));
    assert!(summary.result.replies.is_empty());
    assert_eq!(stored(&deps, &jobs[1]).await.result.sentiment, Some(Sentiment::Negative));
    let empty = stored(&deps, &jobs[2]).await;
    assert_eq!(
        (empty.status, empty.reason.as_deref()),
        (SuggestionStatus::Failed, Some("the AI provider's answer held no summary"))
    );
}

#[tokio::test]
async fn the_teams_names_are_redacted_too_but_not_a_deleted_users() {
    use shared::domain::identity::{Directory, User, UserStatus};
    use shared::domain::inbox::NewOutboundMessage;
    use shared::domain::{MessageId, UserId};
    // Arrange: an agent who signs her message, and a deleted user whose name is an everyday word.
    let (deps, job) = arranged("Hello").await;
    let user = |name: &str, status| User {
        id: UserId::generate(now()).expect("random"),
        tenant_id: job.tenant_id.clone(),
        email: format!("{}@team.example", name.to_lowercase().replace(' ', ".")),
        name: name.to_owned(),
        role: Role::Agent,
        queues: Vec::new(),
        status,
        password_hash: None,
        invitation_sha256: None,
        invitation_expires_at: None,
        token_generation: 0,
        created_at: now(),
        updated_at: now(),
        deleted_at: None,
    };
    deps.directory.create_user(&user("Carla Mendes", UserStatus::Active)).await.unwrap();
    deps.directory.create_user(&user("Hope", UserStatus::Deleted)).await.unwrap();
    let contact = stored(&deps, &job).await.contact_id;
    let body =
        serde_json::json!({"type": "text", "text": {"body": "Hi, Carla Mendes here, I hope it helps"}});
    let outbound = NewOutboundMessage {
        id: &MessageId::generate(now()).expect("random"),
        contact: &contact,
        kind: "text",
        body: &body.to_string(),
        at: Timestamp::from_millis(NOW + 1),
        retention: RetentionSettings::default(),
    };
    inbox(&deps).store_outbound(&job.tenant_id, &outbound, now()).await.unwrap();

    // Act
    suggest_one(&job, 1, &deps).await.unwrap();

    // Assert
    assert_eq!(deps.provider.calls()[0].texts, ["Hello", "Hi, [name] [name] here, I hope it helps"]);
}
