//! The exports of P60 in bounded pages: a long history stays below Lambda's response limit and
//! comes back whole by following `next`; the person's audit entries about their leads,
//! conversations and records; the CSV columns; the tenant's users, settings and audit trail.

use std::collections::BTreeSet;

use serde_json::Value;
use shared::domain::audit::AuditLog as _;
use shared::domain::crm::{Activity, RecordStore as _};
use shared::domain::inbox::{ContactProfile, ContactStore as _, IngestStore as _, NewInboundMessage};
use shared::domain::ContactId;

use super::*;

/// What one answer may weigh (the body), well under Lambda's 6 MB.
const BOUND: usize = 5_000_000;

/// Lambda's response limit, which the body counts against as an escaped JSON string.
const LAMBDA_RESPONSE_LIMIT: usize = 6 * 1024 * 1024;

fn assert_within_bound(response: &Response<Body>) {
    let body = response.body().as_ref();
    assert!(body.len() < BOUND, "an answer of {} bytes", body.len());
    let text = std::str::from_utf8(body).expect("UTF-8");
    let carried = serde_json::to_string(text).expect("JSON").len();
    assert!(carried < LAMBDA_RESPONSE_LIMIT, "an answer carried as {carried} bytes");
}

/// Every page of `path`, following `next` from the first, each checked against the bound.
async fn pages(deps: &TestDeps, path: &str, query: &[(&str, &str)], key: &str) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut asked: Vec<(&str, &str)> = query.to_vec();
        if let Some(cursor) = &cursor {
            asked.push(("cursor", cursor));
        }
        let response = handle(get(path, &asked, key), deps).await;
        assert_eq!(response.status(), StatusCode::OK, "{}", String::from_utf8_lossy(response.body()));
        assert_within_bound(&response);
        let page = json(&response);
        let next = page["next"].as_str().map(str::to_owned);
        pages.push(page);
        match next {
            Some(next) => cursor = Some(next),
            None => return pages,
        }
        assert!(pages.len() < 200, "the pages end");
    }
}

/// A person with a long history: `messages` inbound messages of ~3 KB each (quote-heavy, the
/// worst case for escaping), 150 notes through the API (each audited and on the timeline), and
/// 300 more timeline entries, many sharing a millisecond. Returns the contact and the wamids.
async fn long_history(
    deps: &TestDeps,
    tenant: &str,
    key: &str,
    phone: &str,
    messages: usize,
) -> (ContactId, BTreeSet<String>) {
    let tenant_id = TenantId::parse(tenant).expect("valid");
    let profile = ContactProfile { phone: PhoneNumber::parse(phone).ok(), ..ContactProfile::default() };
    let text = "she said \\\"hi\\\" and \\\"bye\\\" ".repeat(100);
    let mut wamids = BTreeSet::new();
    for i in 0..messages {
        let wamid = shared::domain::Wamid::parse(format!("wamid.LONG{i:05}")).expect("valid");
        let raw = format!(r#"{{"text":{{"body":"{i} {text}"}}}}"#);
        let message = NewInboundMessage {
            wamid: &wamid,
            from: &profile,
            sent_at: Timestamp::from_secs(1_800_000_000 + i as i64),
            kind: "text",
            raw: &raw,
            retention: shared::domain::tenant::RetentionSettings::default(),
        };
        deps.contacts
            .store_inbound_message(&tenant_id, &message, Timestamp::from_secs(1))
            .await
            .expect("stored");
        wamids.insert(wamid.as_str().to_owned());
    }
    let phone = PhoneNumber::parse(phone).expect("valid");
    let contact =
        deps.contacts.contact_by_phone(&tenant_id, &phone).await.expect("read").expect("contact").id;
    for i in 0..150 {
        let note = request(
            "POST",
            &format!("/v1/contacts/{contact}/notes"),
            Some(key),
            &format!(r#"{{"text":"note {i}"}}"#),
        );
        assert_eq!(handle(note, deps).await.status(), StatusCode::CREATED);
    }
    for i in 0..300 {
        // Three to a millisecond: a page boundary inside one millisecond loses none.
        let activity = Activity {
            at: 1_700_000_000_000 + i / 3,
            kind: "call.logged".to_owned(),
            ref_id: Some(format!("call{i}")),
            detail: None,
            actor: None,
        };
        deps.records.add_activity(&tenant_id, &contact, &activity).await.expect("added");
    }
    (contact, wamids)
}

/// What the pages hold of one contact, lists joined across pages.
#[derive(Debug, Default)]
struct Joined {
    wamids: Vec<String>,
    notes: Vec<String>,
    timeline: Vec<String>,
    audit: Vec<String>,
}

fn join(pages: &[Value], contact: &ContactId) -> Joined {
    let mut joined = Joined::default();
    let strings = |value: &Value, pointer: &str| -> Vec<String> {
        value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.pointer(pointer)?.as_str().map(str::to_owned))
            .collect()
    };
    for page in pages {
        for share in page["contacts"].as_array().into_iter().flatten() {
            if share["contact"]["id"] != contact.as_str() {
                continue;
            }
            for conversation in share["conversations"].as_array().into_iter().flatten() {
                joined.wamids.extend(strings(&conversation["messages"], "/wamid"));
            }
            joined.notes.extend(strings(&share["records"], "/id"));
            joined.timeline.extend(
                share["timeline"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| format!("{}/{}/{}", a["at"], a["kind"], a["ref_id"])),
            );
        }
        // The export's own entries (one per page served) are about the person too: leave them.
        let entries = page["audit"].as_array().into_iter().flatten();
        joined.audit.extend(
            entries
                .filter(|e| e["action"] != "privacy.export")
                .filter_map(|e| e["id"].as_str().map(str::to_owned)),
        );
    }
    joined
}

fn distinct(items: &[String]) -> BTreeSet<String> {
    let set: BTreeSet<String> = items.iter().cloned().collect();
    assert_eq!(set.len(), items.len(), "nothing is given twice");
    set
}

#[tokio::test]
async fn a_long_history_is_exported_in_pages_below_the_response_limit_and_complete() {
    // Arrange: ~3.6 MB of messages alone.
    let deps = deps();
    let (tenant, key) = new_tenant(&deps).await;
    let (contact, wamids) = long_history(&deps, &tenant, &key, "5511988880001", 1_200).await;
    seed_message(&deps, &tenant, "5511988880002", "wamid.SOMEONEELSE").await;
    let tenant_id = TenantId::parse(&tenant).expect("valid");
    let timeline = deps.records.activities(&tenant_id, &contact, None, u16::MAX).await.expect("timeline");
    let audit = deps.audit.entries_about(&tenant_id, &contact, None, 1_000).await.expect("audit").items;

    // Act
    let json_pages = pages(&deps, "/v1/privacy/export", &[("phone", "5511988880001")], &key).await;
    let csv_pages =
        pages(&deps, "/v1/privacy/export", &[("phone", "5511988880001"), ("format", "csv")], &key).await;

    // Assert: more than one page, and together every datum, once.
    assert!(json_pages.len() > 1, "a long history takes more than one answer");
    let joined = join(&json_pages, &contact);
    assert_eq!(distinct(&joined.wamids), wamids, "every message");
    assert_eq!(distinct(&joined.notes).len(), 150, "every note");
    assert_eq!(distinct(&joined.timeline).len(), timeline.len(), "the whole timeline");
    assert!(timeline.len() >= 450);
    assert_eq!(
        distinct(&joined.audit),
        audit.iter().map(|e| e.id.to_string()).collect::<BTreeSet<_>>(),
        "every audit entry about the person"
    );
    assert!(!json_pages.iter().any(|p| p.to_string().contains("SOMEONEELSE")), "nobody else's data");
    assert!(json_pages.iter().all(|p| p["subject"]["phone"] == "5511988880001"));
    // The CSV pages too: the rows of each table across pages are every row once.
    assert!(csv_pages.len() > 1);
    let rows: Vec<String> = csv_pages
        .iter()
        .flat_map(|p| {
            let text = p["files"]["messages.csv"].as_str().expect("messages.csv").to_owned();
            let mut reader = csv::Reader::from_reader(std::io::Cursor::new(text));
            reader.records().map(|r| r.expect("row")[2].to_owned()).collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(distinct(&rows), wamids);
}

#[tokio::test]
async fn a_long_history_pages_the_tenant_export_too() {
    // Arrange
    let deps = deps();
    let (tenant, key) = new_tenant(&deps).await;
    let (contact, wamids) = long_history(&deps, &tenant, &key, "5511988880011", 1_800).await;
    for i in 0..30 {
        seed_message(&deps, &tenant, &format!("55119000000{i:02}"), &format!("wamid.T{i}")).await;
    }

    // Act
    let pages = pages(&deps, "/v1/privacy/export/tenant", &[], &key).await;

    // Assert
    assert!(pages.len() > 1);
    assert_eq!(distinct(&join(&pages, &contact).wamids), wamids);
    let others: BTreeSet<String> = pages
        .iter()
        .flat_map(|p| p["contacts"].as_array().cloned().unwrap_or_default())
        .filter(|share| share["contact"]["id"] != contact.as_str())
        .filter_map(|share| share["contact"]["phone"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(others.len(), 30, "every other contact");
    assert!(pages[0]["tenant"]["name"] == "Acme" && pages[1..].iter().all(|p| p.get("tenant").is_none()));
}

#[tokio::test]
async fn the_persons_export_holds_the_audit_entries_about_their_leads_conversations_and_records() {
    // Arrange: the team works the person's lead, conversation and notes, and another person's.
    let deps = deps();
    let (tenant, key) = new_tenant(&deps).await;
    seed_message(&deps, &tenant, "5511988887777", "wamid.A1").await;
    seed_message(&deps, &tenant, "5511988886666", "wamid.B1").await;
    let contact = note_and_tag(&deps, &tenant, &key, "5511988887777").await;
    let mut worked = Vec::new();
    for phone in ["5511988887777", "5511988886666"] {
        let lead =
            request("POST", "/v1/leads", Some(&key), &format!(r#"{{"phone":"{phone}","origin":{{}}}}"#));
        let lead = handle(lead, &deps).await;
        assert_eq!(lead.status(), StatusCode::CREATED, "{}", String::from_utf8_lossy(lead.body()));
        let lead = json(&lead)["id"].as_str().expect("id").to_owned();
        let stage = request("PATCH", &format!("/v1/leads/{lead}"), Some(&key), r#"{"stage":"qualified"}"#);
        assert_eq!(handle(stage, &deps).await.status(), StatusCode::OK);
        let tenant_id = TenantId::parse(&tenant).expect("valid");
        let owner = deps
            .contacts
            .contact_by_phone(&tenant_id, &PhoneNumber::parse(phone).expect("valid"))
            .await
            .expect("read")
            .expect("contact");
        let conversation = owner.conversation_id.expect("open conversation");
        let close = request(
            "PATCH",
            &format!("/v1/conversations/{conversation}"),
            Some(&key),
            r#"{"state":"resolved"}"#,
        );
        let closed = handle(close, &deps).await;
        assert_eq!(closed.status(), StatusCode::OK, "{}", String::from_utf8_lossy(closed.body()));
        worked.push((lead, conversation.to_string()));
    }

    // Act
    let export = json(&handle(get("/v1/privacy/export", &[("phone", "5511988887777")], &key), &deps).await);

    // Assert
    let about: Vec<(String, String)> = export["audit"]
        .as_array()
        .expect("audit")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("").to_owned(),
                e["target"]["id"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let (lead, conversation) = &worked[0];
    for (action, target) in [
        ("lead.create", lead.as_str()),
        ("lead.update", lead.as_str()),
        ("conversation.update", conversation.as_str()),
        ("contact.update", contact.as_str()),
    ] {
        assert!(about.contains(&(action.to_owned(), target.to_owned())), "{action} on {target} in {about:?}");
    }
    assert!(about.iter().any(|(action, _)| action == "note.create"), "{about:?}");
    let (other_lead, other_conversation) = &worked[1];
    assert!(
        !about.iter().any(|(_, target)| target == other_lead || target == other_conversation),
        "nothing about someone else: {about:?}"
    );
    assert!(export.get("next").is_none(), "a small export is one answer");
}

#[tokio::test]
async fn the_csv_export_has_tags_attributes_restriction_and_the_lead_stage_and_owner() {
    // Arrange
    let deps = deps();
    let (tenant, key) = new_tenant(&deps).await;
    seed_message(&deps, &tenant, "5511988887777", "wamid.CSV2").await;
    let contact = note_and_tag(&deps, &tenant, &key, "5511988887777").await;
    let owner = handle(
        request(
            "POST",
            "/v1/users",
            Some(&key),
            r#"{"email":"owner@example.com","name":"Olga","role":"agent"}"#,
        ),
        &deps,
    )
    .await;
    assert_eq!(owner.status(), StatusCode::CREATED, "{}", String::from_utf8_lossy(owner.body()));
    let owner = json(&owner)["user"]["id"].as_str().expect("id").to_owned();
    let patch = r#"{"name":"=HYPERLINK(\"http://evil\")","attributes":{"plan":"gold"},"restricted":true}"#;
    let patched =
        handle(request("PATCH", &format!("/v1/contacts/{contact}"), Some(&key), patch), &deps).await;
    assert_eq!(patched.status(), StatusCode::OK, "{}", String::from_utf8_lossy(patched.body()));
    let lead = format!(r#"{{"phone":"5511988887777","stage":"won","owner":"{owner}","origin":{{}}}}"#);
    assert_eq!(
        handle(request("POST", "/v1/leads", Some(&key), &lead), &deps).await.status(),
        StatusCode::CREATED
    );

    // Act
    let body = json(
        &handle(get("/v1/privacy/export", &[("phone", "5511988887777"), ("format", "csv")], &key), &deps)
            .await,
    );

    // Assert
    let table = |name: &str| -> Vec<std::collections::BTreeMap<String, String>> {
        let text = body["files"][name].as_str().expect("table").to_owned();
        let mut reader = csv::Reader::from_reader(std::io::Cursor::new(text));
        let header = reader.headers().expect("header").clone();
        reader
            .records()
            .map(|r| {
                header.iter().zip(r.expect("row").iter()).map(|(h, c)| (h.to_owned(), c.to_owned())).collect()
            })
            .collect()
    };
    let contacts = table("contacts.csv");
    assert_eq!(contacts[0]["tags_json"], r#"["vip"]"#);
    assert_eq!(contacts[0]["attributes_json"], r#"{"plan":"gold"}"#);
    assert!(!contacts[0]["restricted_at"].is_empty(), "{contacts:?}");
    assert_eq!(contacts[0]["name"], "'=HYPERLINK(\"http://evil\")", "a formula is defused");
    let leads = table("leads.csv");
    assert_eq!(leads[0]["stage"], "won");
    assert_eq!(leads[0]["owner"], owner);
    assert!(body.get("next").is_none());
}

#[tokio::test]
async fn the_tenant_export_holds_users_settings_and_the_audit_trail_and_no_secret() {
    // Arrange
    let deps = deps();
    let (tenant, key) = new_tenant(&deps).await;
    seed_message(&deps, &tenant, "5511988887777", "wamid.TEN1").await;
    let user =
        r#"{"email":"ana@example.com","name":"Ana","role":"manager","password":"correct horse battery 9"}"#;
    assert_eq!(
        handle(request("POST", "/v1/users", Some(&key), user), &deps).await.status(),
        StatusCode::CREATED
    );
    let ai = r#"{"provider":"sandbox","model":"small-1","api_key":"sk-secret-tenant-export"}"#;
    assert_eq!(handle(request("PUT", "/v1/ai", Some(&key), ai), &deps).await.status(), StatusCode::OK);
    let retention = r#"{"conversation_days":60,"content_days":7}"#;
    assert_eq!(
        handle(request("PUT", "/v1/settings/retention", Some(&key), retention), &deps).await.status(),
        StatusCode::OK
    );

    // Act
    let json_pages = pages(&deps, "/v1/privacy/export/tenant", &[], &key).await;
    let csv_pages = pages(&deps, "/v1/privacy/export/tenant", &[("format", "csv")], &key).await;

    // Assert
    let first = &json_pages[0];
    assert_eq!(first["tenant"]["settings"]["time_zone"], "UTC");
    assert_eq!(first["tenant"]["retention"]["conversation_days"], 60);
    assert_eq!(first["tenant"]["ai"]["model"], "small-1");
    let users: Vec<&Value> =
        json_pages.iter().flat_map(|p| p["users"].as_array().into_iter().flatten()).collect();
    assert!(users.iter().any(|u| u["email"] == "ana@example.com" && u["role"] == "manager"), "{users:?}");
    let actions: Vec<&str> = json_pages
        .iter()
        .flat_map(|p| p["audit"].as_array().into_iter().flatten())
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in ["user.create", "integration.ai_connect", "settings.retention_update"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    let everything = format!("{json_pages:?}{csv_pages:?}");
    for secret in ["sk-secret-tenant-export", "correct horse", "password_hash", "argon2", "token_key"] {
        assert!(!everything.contains(secret), "no {secret} in the export");
    }
    let users_csv: String = csv_pages.iter().filter_map(|p| p["files"]["users.csv"].as_str()).collect();
    assert!(users_csv.contains("ana@example.com"));
    let audit_csv: String = csv_pages.iter().filter_map(|p| p["files"]["audit.csv"].as_str()).collect();
    assert!(audit_csv.contains("user.create"));
}
