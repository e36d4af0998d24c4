//! The realtime function on in-memory adapters: `$connect` verifies the token as the API does,
//! notices reach only the connections that may see them, a gone connection is forgotten. The
//! same runs end to end against the local stack's WebSocket in `tests/it/live.rs`.

use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use shared::adapters::documents::{DocDirectory, DocLiveConnections};
use shared::domain::identity::{AccessClaims, Directory, Session, User, UserStatus};
use shared::domain::live::{LiveConnections, LiveKind, LiveNotice};
use shared::domain::ports::{EncryptionContext, Purpose, TenantStore, Vault};
use shared::domain::tenant::{ApiKey, Role, Tenant};
use shared::domain::{ConversationId, QueueId, SessionId, TenantId, Timestamp, UserId};
use shared::testing::{Fakes, LocalVault, ManualClock, MemoryDocs, MemoryPush, MemoryTenantStore};

use super::*;

const NOW_SECS: i64 = 1_800_000_000;
const SIGNING_KEY: &[u8] = b"a signing key of thirty-two bytes";

type TestDeps = Deps<Fakes, MemoryPush>;

fn deps() -> TestDeps {
    Deps {
        config: Config {
            table_name: "t".into(),
            kms_key_id: "k".into(),
            management_endpoint: "http://127.0.0.1:1".into(),
            concurrency: 2,
        },
        tenants: MemoryTenantStore::default(),
        vault: LocalVault,
        directory: DocDirectory::new(MemoryDocs::default()),
        connections: DocLiveConnections::new(MemoryDocs::default()),
        push: MemoryPush::default(),
        clock: ManualClock::at(Timestamp::from_secs(NOW_SECS)),
    }
}

fn now() -> Timestamp {
    Timestamp::from_secs(NOW_SECS)
}

/// A fresh tenant with its signing key.
async fn tenant(deps: &TestDeps) -> TenantId {
    let tenant = TenantId::generate(now()).unwrap();
    let context = EncryptionContext { tenant_id: tenant.clone(), purpose: Purpose::TokenSigningKey };
    let sealed = deps.vault.seal(&context, SIGNING_KEY).await.unwrap();
    let admin = ApiKey::generate(tenant.clone(), now()).unwrap().record("a", Role::Admin, now());
    deps.tenants
        .create_tenant(&Tenant::new(tenant.clone(), "T".into(), now(), sealed), &admin)
        .await
        .unwrap();
    tenant
}

/// A user of `tenant` in a live session, and their access token.
async fn user(deps: &TestDeps, tenant: &TenantId, role: Role, queues: &[&str]) -> (User, String) {
    let user = User {
        id: UserId::generate(now()).unwrap(),
        tenant_id: tenant.clone(),
        email: format!("{}@example.com", UserId::generate(now()).unwrap()),
        name: "Agent".into(),
        role,
        queues: queues.iter().map(|q| QueueId::parse(*q).unwrap()).collect(),
        status: UserStatus::Active,
        password_hash: None,
        invitation_sha256: None,
        invitation_expires_at: None,
        token_generation: 1,
        created_at: now(),
        updated_at: now(),
        deleted_at: None,
    };
    deps.directory.create_user(&user).await.unwrap();
    let session = Session {
        id: SessionId::generate(now()).unwrap(),
        user_id: user.id.clone(),
        current_sha256: "x".into(),
        previous_sha256: None,
        token_generation: 1,
        created_at: now(),
        expires_at: Timestamp::from_secs(NOW_SECS + 3600),
        revoked_at: None,
    };
    deps.directory.create_session(tenant, &session).await.unwrap();
    let token = AccessClaims::issue(&user, &session.id, now()).sign(SIGNING_KEY);
    (user, token.expose().to_owned())
}

fn socket(route: &str, connection: &str, token: Option<&str>) -> LambdaEvent<Value> {
    let mut event =
        json!({"requestContext": {"routeKey": route, "connectionId": connection, "eventType": "CONNECT"}});
    if let Some(token) = token {
        event["queryStringParameters"] = json!({ "token": token });
    }
    LambdaEvent::new(event, Context::default())
}

fn notice(tenant: &TenantId, queue: Option<&str>, assignee: Option<&UserId>) -> LiveNotice {
    LiveNotice {
        tenant_id: tenant.clone(),
        conversation_id: ConversationId::parse("cv_1").unwrap(),
        kind: LiveKind::Message,
        at: now().as_millis(),
        queue: queue.map(|q| QueueId::parse(q).unwrap()),
        assignee: assignee.cloned(),
    }
}

fn batch(notices: &[LiveNotice]) -> LambdaEvent<Value> {
    let records: Vec<Value> = notices
        .iter()
        .enumerate()
        .map(|(n, notice)| {
            json!({"messageId": format!("m{n}"), "body": serde_json::to_string(notice).unwrap(),
                "attributes": {"ApproximateReceiveCount": "1"}, "eventSource": "aws:sqs"})
        })
        .collect();
    LambdaEvent::new(json!({ "Records": records }), Context::default())
}

async fn connected(deps: &TestDeps, connection: &str, token: &str) {
    let answer = handle(socket("$connect", connection, Some(token)), deps).await.unwrap();
    assert_eq!(answer["statusCode"], 200, "{connection} connects");
}

#[tokio::test]
async fn connect_with_a_valid_token_keeps_the_connection_with_its_scope() {
    // Arrange
    let deps = deps();
    let tenant = tenant(&deps).await;
    let (agent, token) = user(&deps, &tenant, Role::Agent, &["q_sales"]).await;

    // Act
    connected(&deps, "c-agent", &token).await;

    // Assert
    let stored = deps.connections.connections(&tenant).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].connection_id, "c-agent");
    assert_eq!(stored[0].audience.user_id, agent.id);
    assert_eq!(stored[0].audience.role, Role::Agent);
    assert_eq!(stored[0].audience.queues, vec![QueueId::parse("q_sales").unwrap()]);
    assert!(stored[0].expires_at.epoch_secs() > NOW_SECS + 2 * 3600, "kept a few hours");
}

#[tokio::test]
async fn connect_without_or_with_a_bad_token_is_refused_and_keeps_nothing() {
    // Arrange
    let deps = deps();
    let tenant = tenant(&deps).await;
    let (_, token) = user(&deps, &tenant, Role::Agent, &[]).await;
    let tampered = format!("{}x", token);
    let api_key = ApiKey::generate(tenant.clone(), now()).unwrap().reveal().expose().to_owned();

    for (case, token) in [
        ("none", None),
        ("empty", Some("")),
        ("tampered", Some(tampered.as_str())),
        ("api key", Some(api_key.as_str())),
        ("garbage", Some("not-a-token")),
    ] {
        // Act
        let answer = handle(socket("$connect", "c-bad", token), &deps).await.unwrap();

        // Assert
        assert_eq!(answer["statusCode"], 401, "{case}");
    }
    assert!(deps.connections.connections(&tenant).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_disabled_user_or_a_revoked_session_cannot_connect() {
    // Arrange
    let deps = deps();
    let tenant = tenant(&deps).await;
    let (agent, token) = user(&deps, &tenant, Role::Agent, &[]).await;
    let stored = deps.directory.user(&tenant, &agent.id).await.unwrap().unwrap();
    let disabled = User { status: UserStatus::Disabled, ..stored.value };
    deps.directory.update_user(&disabled, stored.version).await.unwrap();

    // Act
    let answer = handle(socket("$connect", "c-1", Some(&token)), &deps).await.unwrap();

    // Assert
    assert_eq!(answer["statusCode"], 401);
}

#[tokio::test]
async fn disconnect_forgets_the_connection() {
    // Arrange
    let deps = deps();
    let tenant = tenant(&deps).await;
    let (_, token) = user(&deps, &tenant, Role::Manager, &[]).await;
    connected(&deps, "c-1", &token).await;

    // Act
    let answer = handle(socket("$disconnect", "c-1", None), &deps).await.unwrap();

    // Assert
    assert_eq!(answer["statusCode"], 200);
    assert!(deps.connections.connections(&tenant).await.unwrap().is_empty());
    let again = handle(socket("$disconnect", "c-1", None), &deps).await.unwrap();
    assert_eq!(again["statusCode"], 200, "an unknown connection is no error");
}

#[tokio::test]
async fn a_notice_reaches_managers_and_the_agents_in_scope_only() {
    // Arrange
    let deps = deps();
    let tenant = tenant(&deps).await;
    let other_tenant = self::tenant(&deps).await;
    let (assigned, assigned_token) = user(&deps, &tenant, Role::Agent, &[]).await;
    let (_, queue_token) = user(&deps, &tenant, Role::Agent, &["q_sales"]).await;
    let (_, outsider_token) = user(&deps, &tenant, Role::Agent, &["q_support"]).await;
    let (_, manager_token) = user(&deps, &tenant, Role::Manager, &[]).await;
    let (_, foreign_token) = user(&deps, &other_tenant, Role::Admin, &[]).await;
    for (id, token) in [
        ("c-assigned", &assigned_token),
        ("c-queue", &queue_token),
        ("c-outsider", &outsider_token),
        ("c-manager", &manager_token),
        ("c-foreign", &foreign_token),
    ] {
        connected(&deps, id, token).await;
    }

    // Act
    let answer = handle(batch(&[notice(&tenant, Some("q_sales"), Some(&assigned.id))]), &deps).await.unwrap();

    // Assert
    assert_eq!(answer["batchItemFailures"], json!([]));
    let mut reached: Vec<String> = deps.push.posted().into_iter().map(|(id, _)| id).collect();
    reached.sort();
    assert_eq!(reached, ["c-assigned", "c-manager", "c-queue"]);
    let (_, text) = &deps.push.posted()[0];
    let message: Value = serde_json::from_str(text).unwrap();
    assert_eq!(message["type"], "conversation");
    assert_eq!(message["kind"], "message");
    assert_eq!(message["conversation_id"], "cv_1");
    assert!(message.get("tenant_id").is_none(), "the page gets ids of its own tenant only");
}

#[tokio::test]
async fn a_gone_connection_is_forgotten_and_the_others_still_get_the_notice() {
    // Arrange
    let deps = deps();
    let tenant = tenant(&deps).await;
    let (_, first) = user(&deps, &tenant, Role::Manager, &[]).await;
    let (_, second) = user(&deps, &tenant, Role::Manager, &[]).await;
    connected(&deps, "c-gone", &first).await;
    connected(&deps, "c-open", &second).await;
    deps.push.close("c-gone");

    // Act
    let answer = handle(batch(&[notice(&tenant, None, None)]), &deps).await.unwrap();

    // Assert
    assert_eq!(answer["batchItemFailures"], json!([]));
    let reached: Vec<String> = deps.push.posted().into_iter().map(|(id, _)| id).collect();
    assert_eq!(reached, ["c-open"]);
    let left: Vec<String> =
        deps.connections.connections(&tenant).await.unwrap().into_iter().map(|c| c.connection_id).collect();
    assert_eq!(left, ["c-open"]);
}

#[tokio::test]
async fn an_unreadable_notice_fails_alone_and_other_routes_are_ignored() {
    // Arrange
    let deps = deps();
    let tenant = tenant(&deps).await;
    let mut event = batch(&[notice(&tenant, None, None)]);
    event.payload["Records"]
        .as_array_mut()
        .unwrap()
        .push(json!({"messageId": "bad", "body": "{\"nope\":1}"}));

    // Act
    let answer = handle(event, &deps).await.unwrap();
    let ping = handle(socket("$default", "c-1", None), &deps).await.unwrap();

    // Assert
    assert_eq!(answer["batchItemFailures"], json!([{"itemIdentifier": "bad"}]));
    assert_eq!(ping["statusCode"], 200);
}
