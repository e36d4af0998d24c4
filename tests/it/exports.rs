//! The exports of P60 end to end on the local stack: a person with a long history is exported in
//! pages, each far below Lambda's 6 MB response limit, that together hold every datum once (the
//! audit entries about their notes and leads too); the tenant export pages the same way and holds
//! its users, settings and audit trail, never a secret.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::api::{call, tenant};
use crate::e2e::base;

/// What one answer may weigh.
const BOUND: usize = 5_000_000;

/// Notes of 10,000 characters, nearly all quotes (each doubles when escaped): ~6 MB of JSON.
const NOTES: usize = 300;

/// Every page of `path_and_query`, following `next`; each answer's size checked.
async fn pages(admin: &str, path_and_query: &str) -> Vec<Value> {
    let client = crate::support::http();
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{}{path_and_query}", base());
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let response = client.get(url).bearer_auth(admin).send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        assert_eq!(status, StatusCode::OK, "{}", &text[..text.len().min(500)]);
        assert!(text.len() < BOUND, "an answer of {} bytes", text.len());
        let page: Value = serde_json::from_str(&text).expect("JSON");
        cursor = page["next"].as_str().map(str::to_owned);
        pages.push(page);
        if cursor.is_none() {
            return pages;
        }
        assert!(pages.len() < 100, "the pages end");
    }
}

fn note_numbers(pages: &[Value]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|p| p["contacts"].as_array().cloned().unwrap_or_default())
        .flat_map(|share| share["records"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r["text"].as_str().map(|t| t.chars().take(4).collect()))
        .collect()
}

fn distinct(items: &[String]) -> BTreeSet<String> {
    let set: BTreeSet<String> = items.iter().cloned().collect();
    assert_eq!(set.len(), items.len(), "nothing is given twice");
    set
}

#[tokio::test]
async fn a_long_history_is_exported_in_bounded_pages_that_hold_every_datum() {
    // Arrange: a person with ~6 MB of notes and a lead.
    let (admin, _) = tenant().await;
    let phone = "5511966660001";
    let (status, created) =
        call(Method::POST, "/v1/contacts", Some(&admin), Some(json!({"phone": phone, "name": "Long"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let contact = created["id"].as_str().expect("id").to_owned();
    let quotes = "\"".repeat(9_990);
    for i in 0..NOTES {
        let (status, note) = call(
            Method::POST,
            &format!("/v1/contacts/{contact}/notes"),
            Some(&admin),
            Some(json!({"text": format!("{i:04} {quotes}")})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{note}");
    }
    let (status, lead) = call(
        Method::POST,
        "/v1/leads",
        Some(&admin),
        Some(json!({"phone": phone, "origin": {"campaign": "long"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{lead}");
    let lead = lead["id"].as_str().expect("id").to_owned();

    // Act
    let person = pages(&admin, &format!("/v1/privacy/export?phone={phone}")).await;
    let tenant = pages(&admin, "/v1/privacy/export/tenant?format=json").await;

    // Assert: several answers, together every note once, and the audit entries about them.
    assert!(person.len() > 1, "a long history takes more than one answer");
    let expected: BTreeSet<String> = (0..NOTES).map(|i| format!("{i:04}")).collect();
    assert_eq!(distinct(&note_numbers(&person)), expected);
    let audit: Vec<(String, String)> = person
        .iter()
        .flat_map(|p| p["audit"].as_array().cloned().unwrap_or_default())
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("").to_owned(),
                e["target"]["id"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        audit.iter().filter(|(action, _)| action == "note.create").count(),
        NOTES,
        "every note's entry"
    );
    assert!(audit.contains(&("lead.create".to_owned(), lead.clone())), "the lead's entry");
    assert!(audit.contains(&("contact.create".to_owned(), contact.clone())), "the contact's entry");
    let leads: Vec<Value> = person
        .iter()
        .flat_map(|p| p["contacts"].as_array().cloned().unwrap_or_default())
        .flat_map(|share| share["leads"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(leads.len(), 1);
    // The tenant export: bounded pages too, every note once, and its trail.
    assert!(tenant.len() > 1);
    assert_eq!(distinct(&note_numbers(&tenant)), expected);
    assert_eq!(tenant[0]["tenant"]["settings"]["time_zone"], "UTC");
    let actions: BTreeSet<String> = tenant
        .iter()
        .flat_map(|p| p["audit"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["action"].as_str().map(str::to_owned))
        .collect();
    assert!(actions.contains("note.create") && actions.contains("privacy.export"), "{actions:?}");
}
