//! Exports, erasure requests and retention settings through the API.

use super::*;

#[tokio::test]
async fn export_holds_the_persons_data_and_erasure_is_accepted_for_the_next_run() {
    // Arrange
    let deps = deps();
    let (tenant, key) = new_tenant(&deps).await;
    seed_message(&deps, &tenant, "5511988887777", "wamid.E1").await;
    let contact = note_and_tag(&deps, &tenant, &key, "5511988887777").await;

    // Act
    let export = handle(get("/v1/privacy/export", &[("phone", "+55 11 98888-7777")], &key), &deps).await;
    let accepted =
        handle(request("POST", "/v1/privacy/erasure", Some(&key), r#"{"phone":"5511988887777"}"#), &deps)
            .await;
    let id = json(&accepted)["id"].as_str().expect("id").to_owned();
    let status = handle(get(&format!("/v1/privacy/erasure/{id}"), &[], &key), &deps).await;

    // Assert
    assert_eq!(export.status(), StatusCode::OK);
    let export = json(&export);
    assert_eq!(export["subject"]["phone"], "5511988887777");
    assert_eq!(export["contacts"][0]["conversations"][0]["messages"][0]["wamid"], "wamid.E1");
    assert_eq!(export["contacts"][0]["records"][0]["text"], "asked for the blue model");
    assert!(!export["contacts"][0]["timeline"].as_array().expect("timeline").is_empty());
    assert!(
        export["audit"]
            .as_array()
            .expect("audit")
            .iter()
            .any(|e| e["action"] == "contact.update" && e["target"]["id"] == contact.as_str()),
        "the team's changes to the person are in their export: {}",
        export["audit"]
    );
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    assert_eq!(json(&accepted)["status"], "pending");
    assert_eq!(json(&status)["status"], "pending");
    let pending = deps.erasures.due_erasures(10).await.expect("queue");
    assert_eq!(pending.len(), 1);
    // Both are audited; the trail keeps the facts, never the identifier they were about.
    let audit = json(&handle(get("/v1/audit", &[], &key), &deps).await);
    let actions: Vec<&str> =
        audit["items"].as_array().expect("items").iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(
        actions.contains(&"privacy.export") && actions.contains(&"privacy.erasure_request"),
        "{actions:?}"
    );
    assert!(!audit.to_string().contains("98888"), "no phone number in the audit trail");
}

#[tokio::test]
async fn privacy_routes_refuse_bad_subjects_and_foreign_requests() {
    let deps = deps();
    let (_, key) = new_tenant(&deps).await;
    let (_, other) = new_tenant(&deps).await;
    for body in [
        "{}",
        r#"{"phone":"1","email":"a@b.c"}"#,
        r#"{"phone":"12"}"#,
        r#"{"email":"nope"}"#,
        r#"{"name":"x"}"#,
    ] {
        let response = handle(request("POST", "/v1/privacy/erasure", Some(&key), body), &deps).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    assert_eq!(handle(get("/v1/privacy/export", &[], &key), &deps).await.status(), StatusCode::BAD_REQUEST);
    let accepted =
        handle(request("POST", "/v1/privacy/erasure", Some(&key), r#"{"email":"A@B.com"}"#), &deps).await;
    let id = json(&accepted)["id"].as_str().expect("id").to_owned();
    let foreign = handle(get(&format!("/v1/privacy/erasure/{id}"), &[], &other), &deps).await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    let empty =
        json(&handle(get("/v1/privacy/export", &[("email", "nobody@example.com")], &key), &deps).await);
    assert_eq!(empty["contacts"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn person_export_as_csv_tables() {
    let deps = deps();
    let (tenant, key) = new_tenant(&deps).await;
    seed_message(&deps, &tenant, "5511988887777", "wamid.CSV1").await;
    note_and_tag(&deps, &tenant, &key, "5511988887777").await;

    let response =
        handle(get("/v1/privacy/export", &[("phone", "5511988887777"), ("format", "csv")], &key), &deps)
            .await;
    let bad_format =
        handle(get("/v1/privacy/export", &[("phone", "5511988887777"), ("format", "xml")], &key), &deps)
            .await;

    assert_eq!(response.status(), StatusCode::OK);
    let body = json(&response);
    let contacts = body["files"]["contacts.csv"].as_str().expect("contacts.csv");
    assert!(contacts.starts_with("id,phone,user_id,email,name,"));
    assert!(contacts.contains(",5511988887777,"));
    assert!(body["files"]["messages.csv"].as_str().expect("messages.csv").contains("wamid.CSV1"));
    assert!(body["files"]["records.csv"].as_str().expect("records.csv").contains("asked for the blue model"));
    assert!(body["files"]["audit.csv"].as_str().expect("audit.csv").contains("contact.update"));
    assert!(body["files"]["timeline.csv"].as_str().expect("timeline.csv").contains("note.created"));
    assert_eq!(bad_format.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn tenant_export_pages_through_every_contact() {
    // Arrange: 60 contacts, more than one page's reads.
    let deps = deps();
    let (tenant, key) = new_tenant(&deps).await;
    for i in 0..60 {
        seed_message(&deps, &tenant, &format!("55119000000{i:02}"), &format!("wamid.T{i}")).await;
    }

    // Act
    let first = json(&handle(get("/v1/privacy/export/tenant", &[], &key), &deps).await);
    let cursor = first["next"].as_str().expect("a second page").to_owned();
    let second = json(&handle(get("/v1/privacy/export/tenant", &[("cursor", &cursor)], &key), &deps).await);
    let bad = handle(get("/v1/privacy/export/tenant", &[("cursor", "bm90IG91cnM")], &key), &deps).await;

    // Assert
    assert_eq!(first["tenant"]["name"], "Acme");
    assert!(first["tenant"].get("whatsapp").is_none(), "nothing connected, and never a token");
    assert!(second.get("tenant").is_none() && second.get("next").is_none());
    let phones: std::collections::BTreeSet<&str> = [&first, &second]
        .iter()
        .flat_map(|page| page["contacts"].as_array().into_iter().flatten())
        .filter_map(|c| c["contact"]["phone"].as_str())
        .collect();
    assert_eq!(phones.len(), 60, "every contact, once");
    assert_eq!(second["contacts"][0]["conversations"][0]["messages"].as_array().map(Vec::len), Some(1));
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn retention_settings_default_to_the_promises_and_keep_their_bounds() {
    let deps = deps();
    let (_, key) = new_tenant(&deps).await;

    let defaults = json(&handle(request("GET", "/v1/settings/retention", Some(&key), ""), &deps).await);
    let changed = handle(
        request("PUT", "/v1/settings/retention", Some(&key), r#"{"conversation_days":60,"content_days":7}"#),
        &deps,
    )
    .await;
    let read_back = json(&handle(request("GET", "/v1/settings/retention", Some(&key), ""), &deps).await);

    assert_eq!(
        defaults,
        serde_json::json!({"conversation_days": 90, "content_days": 30, "legal_hold": false})
    );
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(
        read_back,
        serde_json::json!({"conversation_days": 60, "content_days": 7, "legal_hold": false})
    );
    for body in [
        r#"{"conversation_days":366,"content_days":30}"#,
        r#"{"conversation_days":10,"content_days":11}"#,
        r#"{"conversation_days":0,"content_days":0}"#,
        "{}",
    ] {
        let response = handle(request("PUT", "/v1/settings/retention", Some(&key), body), &deps).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
    }
}

// ---------------------------------------------------------------------------------------------
// The OpenAPI document
// ---------------------------------------------------------------------------------------------
