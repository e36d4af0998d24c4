//! Abuse resistance on the real protocols: login attempts claimed with one conditional write on
//! DynamoDB (moto), and, through the running local stack, number and Page squatting refused with
//! the sandbox Graph API and webhooks of another WABA dropped.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use shared::adapters::documents::DocDirectory;
use shared::domain::identity::{Directory, LoginClaim, LOGIN_ATTEMPTS_ALLOWED};
use shared::domain::Timestamp;

use crate::e2e::{base, new_tenant, register_number, register_page};
use crate::ingest::{digits, eventually, post, TestTenant, WABA_ID};
use crate::support::{table, tenant};

#[tokio::test]
async fn parallel_login_claims_pass_the_limit_at_most_five_times_and_the_window_ends() {
    // Arrange: twenty attempts for one email at once, each through its own directory.
    let table = table().await;
    let tenant = tenant();
    let now = Timestamp::from_secs(1_800_000_100);

    // Act
    let claims = futures::future::join_all((0..20).map(|_| {
        let directory = DocDirectory::new(table.clone());
        let tenant = tenant.clone();
        async move { directory.claim_login_attempt(&tenant, "ana@example.com", now).await.expect("claim") }
    }))
    .await;
    let directory = DocDirectory::new(table.clone());
    let other_email = directory.claim_login_attempt(&tenant, "bia@example.com", now).await.expect("claim");
    let next_window = Timestamp::from_secs(now.as_secs() + 15 * 60);
    let later = directory.claim_login_attempt(&tenant, "ana@example.com", next_window).await.expect("claim");
    directory.reset_login_attempts(&tenant, "bia@example.com", now).await.expect("reset");
    let after_reset = futures::future::join_all(
        (0..5).map(|_| directory.claim_login_attempt(&tenant, "bia@example.com", now)),
    )
    .await;

    // Assert
    let claimed = claims.iter().filter(|c| **c == LoginClaim::Claimed).count();
    assert_eq!(claimed as u64, LOGIN_ATTEMPTS_ALLOWED, "{claims:?}");
    assert!(claims.iter().all(|c| match c {
        LoginClaim::Claimed => true,
        LoginClaim::Throttled { retry_after_secs } => (1..=900).contains(retry_after_secs),
    }));
    assert_eq!(other_email, LoginClaim::Claimed, "each email has its own count");
    assert_eq!(later, LoginClaim::Claimed, "the wait ends with the window: never a lockout");
    assert!(after_reset.into_iter().all(|c| c.expect("claim") == LoginClaim::Claimed), "a success resets");
}

async fn connect(client: &reqwest::Client, key: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let response =
        client.put(format!("{}{path}", base())).bearer_auth(key).json(&body).send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn check_of(problem: &Value) -> &str {
    problem["type"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default()
}

#[tokio::test]
async fn a_number_or_page_graph_does_not_confirm_for_the_token_is_not_connected() {
    // Arrange: Graph (the sandbox) holds a number in one WABA and a Page, each for its token.
    let client = crate::support::http();
    let key = new_tenant(&client).await;
    let (number, waba, page) =
        (format!("3{}", digits(14)), format!("4{}", digits(14)), format!("5{}", digits(14)));
    let (token, page_token) = (format!("EAASQUAT{}", digits(12)), format!("EAAPAGESQUAT{}", digits(12)));
    register_number(&client, &number, "+1 555 010 0077", &waba, &token).await;
    register_page(&client, &page, &page_token).await;
    let whatsapp = |number: &str, waba: &str, token: &str| json!({"phone_number_id": number, "display_phone_number": "15550100077", "waba_id": waba, "access_token": token});

    // Act
    let made_up = connect(&client, &key, "/v1/whatsapp", whatsapp(&number, &waba, "EAAMADEUP")).await;
    let nobodys =
        connect(&client, &key, "/v1/whatsapp", whatsapp(&format!("6{}", digits(14)), &waba, &token)).await;
    let other_waba = connect(&client, &key, "/v1/whatsapp", whatsapp(&number, WABA_ID, &token)).await;
    let not_the_pages = connect(
        &client,
        &key,
        "/v1/leadads",
        json!({"page_id": format!("7{}", digits(14)), "page_access_token": page_token}),
    )
    .await;
    let fake_page_token =
        connect(&client, &key, "/v1/leadads", json!({"page_id": page, "page_access_token": "EAAMADEUP"}))
            .await;
    let held = connect(&client, &key, "/v1/whatsapp", whatsapp(&number, &waba, &token)).await;
    let held_page =
        connect(&client, &key, "/v1/leadads", json!({"page_id": page, "page_access_token": page_token}))
            .await;

    // Assert
    for ((status, problem), check) in [
        (&made_up, "token-rejected"),
        (&nobodys, "number-not-found"),
        (&other_waba, "waba-not-found"),
        (&not_the_pages, "page-token-mismatch"),
        (&fake_page_token, "token-rejected"),
    ] {
        assert_eq!(*status, StatusCode::UNPROCESSABLE_ENTITY, "{check}: {problem}");
        assert_eq!(check_of(problem), check, "{problem}");
    }
    assert_eq!(held.0, StatusCode::OK, "{}", held.1);
    assert_eq!(held_page.0, StatusCode::OK, "{}", held_page.1);
}

#[tokio::test]
async fn a_webhook_from_another_waba_than_the_numbers_is_dropped() {
    // Arrange: the same message shape, first under a WABA that is not the number's.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let foreign = tenant.fixture("text").replace(WABA_ID, "999999999999999");
    let foreign: Value = serde_json::from_str(&foreign).expect("fixture");
    assert_eq!(foreign["entry"][0]["id"], "999999999999999");
    let mut own: Value = serde_json::from_str(&tenant.fixture("text")).expect("fixture");
    own["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = json!(format!("wamid.OWN{}", digits(12)));

    // Act
    assert_eq!(post(&client, &foreign.to_string()).await, StatusCode::OK, "Meta still gets 200");
    assert_eq!(post(&client, &own.to_string()).await, StatusCode::OK);

    // Assert: the number's own WABA's message arrives; the other one never does.
    eventually("the own WABA's message", || async {
        (!tenant.messages(&client, &tenant.wa_id).await.is_empty()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let messages = tenant.messages(&client, &tenant.wa_id).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["wamid"], own["entry"][0]["changes"][0]["value"]["messages"][0]["id"]);
}
