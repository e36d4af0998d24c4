//! CSV imports as jobs (validated whole, all or nothing; staged in chunks; 202 with the job) and
//! the paged timeline, through `handle` on in-memory adapters. The worker's side is in
//! `functions/import`; the whole path against the local stack in `tests/it/imports.rs`.

use shared::app::import::open_rows;
use shared::domain::import::{ChunkCounts, ChunkMessage, ImportStore as _};
use shared::domain::inbox::ContactStore as _;
use shared::domain::ImportId;

use super::*;

fn csv(path: &str, key: &str, body: &str) -> Request {
    let mut request = request("POST", path, Some(key), body);
    request.headers_mut().insert("content-type", lambda_http::http::HeaderValue::from_static("text/csv"));
    request
}

fn rows(count: usize) -> String {
    let mut file = String::from("phone,name,tags\n");
    for i in 0..count {
        file.push_str(&format!("55119{i:08},Person {i},fair\n"));
    }
    file
}

#[tokio::test]
async fn an_invalid_row_anywhere_refuses_the_whole_file_and_writes_nothing() {
    // Arrange
    let deps = deps();
    let (tenant, key) = new_tenant(&deps).await;
    let tenant = TenantId::parse(tenant).expect("tenant");
    let mut file = rows(300);
    file.push_str("12,Too Short,\n");
    file.push_str(",Nobody,\n");

    // Act
    let response = handle(csv("/v1/contacts/import", &key, &file), &deps).await;

    // Assert
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body = json(&response);
    assert_eq!(body["error_count"], 2);
    let lines: Vec<u64> =
        body["errors"].as_array().expect("errors").iter().filter_map(|e| e["line"].as_u64()).collect();
    assert_eq!(lines, vec![302, 303], "{body}");
    assert_eq!(deps.contacts.contact_count(&tenant).await.expect("count"), 0, "nothing written");
    assert!(deps.import_queue.sent().is_empty(), "nothing queued");
    assert_eq!(deps.imports.active(&tenant).await.expect("slot"), None);
}

#[tokio::test]
async fn a_valid_file_answers_202_with_a_queued_job_and_one_message_per_chunk() {
    // Arrange
    let deps = deps();
    let (tenant, key) = new_tenant(&deps).await;
    let tenant = TenantId::parse(tenant).expect("tenant");

    // Act
    let response = handle(csv("/v1/contacts/import?source=fair", &key, &rows(450)), &deps).await;
    let second = handle(csv("/v1/contacts/import", &key, &rows(1)), &deps).await;

    // Assert
    assert_eq!(response.status(), StatusCode::ACCEPTED, "{}", json(&response));
    let job = json(&response);
    assert_eq!(
        (job["status"].as_str(), job["rows"].as_u64(), job["chunks"].as_u64()),
        (Some("queued"), Some(450), Some(3))
    );
    let id = job["id"].as_str().expect("id");
    assert_eq!(response.headers()["location"], format!("/v1/imports/{id}").as_str());
    let sent = deps.import_queue.sent();
    assert_eq!(sent.len(), 3);
    let first: ChunkMessage = serde_json::from_str(&sent[0].body).expect("message");
    assert_eq!((first.tenant_id.as_str(), first.import_id.as_str(), first.chunk), (tenant.as_str(), id, 0));
    assert_eq!(sent[0].group_id.as_deref(), Some(id), "one FIFO group per job");
    assert_eq!(
        deps.contacts.contact_count(&tenant).await.expect("count"),
        0,
        "written by the job, not the request"
    );
    assert_eq!(second.status(), StatusCode::CONFLICT, "one import at a time");
    let staged = deps.imports.chunk(&tenant, &first.import_id, 2).await.expect("read").expect("staged");
    assert!(!staged.contains("Person"), "staged rows are sealed");
    let opened = open_rows(&deps.vault, &tenant, &staged).await.expect("opens");
    assert_eq!(opened.len(), 50);
    assert_eq!(opened[0].line, 402);
}

#[tokio::test]
async fn semicolon_files_with_a_bom_and_quoted_fields_are_read() {
    // Arrange
    let deps = deps();
    let (tenant, key) = new_tenant(&deps).await;
    let tenant = TenantId::parse(tenant).expect("tenant");
    let file = "\u{feff}Phone;Email;Name;Tags;attr.city\n\
                +55 11 98888-0001;ana@example.com;\"Lima; Ana\";vip,sp;São Paulo\n\
                ;bruno@example.com;Bruno;;\n";

    // Act
    let response = handle(csv("/v1/contacts/import", &key, file), &deps).await;

    // Assert
    assert_eq!(response.status(), StatusCode::ACCEPTED, "{}", json(&response));
    let id = ImportId::parse(json(&response)["id"].as_str().expect("id")).expect("id");
    let staged = deps.imports.chunk(&tenant, &id, 0).await.expect("read").expect("staged");
    let rows = open_rows(&deps.vault, &tenant, &staged).await.expect("opens");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].phone.as_ref().map(PhoneNumber::as_digits), Some("5511988880001"));
    assert_eq!(rows[0].name.as_deref(), Some("Lima; Ana"));
    assert_eq!(rows[0].tags, vec!["sp".to_owned(), "vip".to_owned()]);
    assert_eq!(rows[0].attributes.get("city").map(String::as_str), Some("São Paulo"));
    assert_eq!(rows[1].email.as_deref(), Some("bruno@example.com"));
}

#[tokio::test]
async fn a_job_shows_its_progress_counts_and_row_errors() {
    // Arrange
    let deps = deps();
    let (tenant, key) = new_tenant(&deps).await;
    let tenant = TenantId::parse(tenant).expect("tenant");
    let (_, other_key) = new_tenant(&deps).await;
    let accepted = json(&handle(csv("/v1/contacts/import", &key, &rows(250)), &deps).await);
    let id = ImportId::parse(accepted["id"].as_str().expect("id")).expect("id");
    let path = format!("/v1/imports/{id}");
    let error = shared::domain::import::RowError {
        line: 7,
        column: Some("consent".into()),
        reason: "opted out".into(),
    };
    let counts = ChunkCounts { created: 199, failed: 1, errors: vec![error], ..ChunkCounts::default() };

    // Act
    let queued = json(&handle(request("GET", &path, Some(&key), ""), &deps).await);
    deps.imports.finish_chunk(&tenant, &id, 0, &counts, deps.clock.now()).await.expect("count");
    let running = json(&handle(request("GET", &path, Some(&key), ""), &deps).await);
    let foreign = handle(request("GET", &path, Some(&other_key), ""), &deps).await;

    // Assert
    assert_eq!(queued["status"], "queued");
    assert_eq!(running["status"], "running");
    assert_eq!(
        (running["processed"].as_u64(), running["created"].as_u64(), running["failed"].as_u64()),
        (Some(200), Some(199), Some(1))
    );
    assert_eq!(running["errors"][0]["line"], 7);
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn files_beyond_the_row_limit_answer_413() {
    // Arrange
    let deps = deps();
    let (_, key) = new_tenant(&deps).await;
    let mut file = String::from("email\n");
    for i in 0..=routes::contacts::MAX_IMPORT_ROWS {
        file.push_str(&format!("p{i}@x.io\n"));
    }

    // Act
    let response = handle(csv("/v1/contacts/import", &key, &file), &deps).await;

    // Assert
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn the_timeline_pages_through_every_entry_once_even_within_one_millisecond() {
    // Arrange: the clock stands still, so every note is at the same instant.
    let deps = deps();
    let (_, key) = new_tenant(&deps).await;
    let contact = json(
        &handle(request("POST", "/v1/contacts", Some(&key), r#"{"phone":"5511988880001"}"#), &deps).await,
    );
    let base = format!("/v1/contacts/{}", contact["id"].as_str().expect("id"));
    for i in 0..7 {
        let body = format!(r#"{{"text":"note {i}"}}"#);
        let created = handle(request("POST", &format!("{base}/notes"), Some(&key), &body), &deps).await;
        assert_eq!(created.status(), StatusCode::CREATED);
    }

    // Act
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = format!("{base}/timeline");
        let query = match &cursor {
            Some(next) => vec![("limit", "3"), ("cursor", next.as_str())],
            None => vec![("limit", "3")],
        };
        let response = handle(get(&path, &query, &key), &deps).await;
        assert_eq!(response.status(), StatusCode::OK);
        let page = json(&response);
        let items = page["items"].as_array().expect("items").clone();
        assert!(items.len() <= 3);
        seen.extend(items.into_iter().map(|a| (a["kind"].clone(), a["ref_id"].clone())));
        cursor = page["next"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }

    // Assert
    let notes = seen.iter().filter(|(kind, _)| kind == "note.created").count();
    assert_eq!(notes, 7, "{seen:?}");
    let mut unique = seen.clone();
    unique.sort_by_key(|(k, r)| (k.to_string(), r.to_string()));
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no entry twice: {seen:?}");
    let bad = handle(get(&format!("{base}/timeline"), &[("cursor", "garbage")], &key), &deps).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}
