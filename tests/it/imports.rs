//! CSV imports as jobs: the job store on DynamoDB (each chunk counted once, however often and
//! however concurrently it is finished), and end to end against the local stack (a 10,001-row
//! file answers 202 at once, the API keeps answering while the `import` function writes it, the
//! job ends with the right counts; an invalid row anywhere writes nothing).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::adapters::documents::DocImports;
use shared::domain::import::{ChunkCounts, ChunkFinish, ImportJob, ImportStatus, ImportStore as _};
use shared::domain::{Clock as _, ImportId, SystemClock};

use crate::api::{call, operator, tenant};
use crate::e2e::base;

async fn post_csv(key: &str, body: String) -> (StatusCode, Value) {
    let response = crate::support::http()
        .post(format!("{}/v1/contacts/import?source=it", base()))
        .bearer_auth(key)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .expect("request");
    (response.status(), response.json::<Value>().await.expect("json"))
}

/// `count` valid rows, `;`-separated, one phone each (distinct per test through `prefix`).
fn file(prefix: u32, count: u32) -> String {
    let mut file = String::from("phone;name;tags;consent\n");
    for i in 0..count {
        file.push_str(&format!(
            "55{prefix:02}9{i:08};Person {i};fair,it;{}\n",
            if i % 2 == 0 { "opt_in" } else { "" }
        ));
    }
    file
}

#[tokio::test]
async fn a_chunk_is_counted_once_on_dynamodb() {
    // Arrange
    let store = DocImports::new(crate::support::table().await);
    let tenant = crate::support::tenant();
    let now = SystemClock.now();
    let job = ImportJob::queued(ImportId::generate(now).expect("random"), "it".into(), 30, 3, now);
    let staged: Vec<String> = (0..3).map(|i| format!("v1.sealed-chunk-{i}")).collect();
    store.stage(&tenant, &job, &staged, now).await.expect("stage");
    let counts = ChunkCounts { created: 10, ..ChunkCounts::default() };

    // Act
    let first = store.finish_chunk(&tenant, &job.id, 0, &counts, now).await.expect("count");
    let again = store.finish_chunk(&tenant, &job.id, 0, &counts, now).await.expect("redelivery");
    let (one, two) = tokio::join!(
        store.finish_chunk(&tenant, &job.id, 1, &counts, now),
        store.finish_chunk(&tenant, &job.id, 2, &counts, now),
    );
    let redelivered_last = store.finish_chunk(&tenant, &job.id, 2, &counts, now).await.expect("redelivery");

    // Assert
    assert!(matches!(first, ChunkFinish::Counted(_)), "{first:?}");
    assert_eq!(again, ChunkFinish::AlreadyCounted);
    assert!(matches!(one, Ok(ChunkFinish::Counted(_))) && matches!(two, Ok(ChunkFinish::Counted(_))));
    assert_eq!(redelivered_last, ChunkFinish::AlreadyCounted);
    let stored = store.job(&tenant, &job.id).await.expect("read").expect("job");
    assert_eq!(
        (stored.status, stored.chunks_done, stored.created, stored.processed),
        (ImportStatus::Done, 3, 30, 30)
    );
    assert_eq!(store.active(&tenant).await.expect("slot"), None, "the last chunk frees the slot");
    for chunk in 0..3 {
        assert_eq!(store.chunk(&tenant, &job.id, chunk).await.expect("read"), None, "staged rows deleted");
    }
}

#[tokio::test]
async fn an_invalid_row_anywhere_writes_no_contact() {
    // Arrange
    let (key, _) = tenant().await;
    let mut body = file(41, 500);
    body.push_str("5541900000999;Bad Consent;;maybe\n");

    // Act
    let (status, problem) = post_csv(&key, body).await;

    // Assert
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["error_count"], 1);
    assert_eq!(problem["errors"][0]["line"], 502);
    assert_eq!(problem["errors"][0]["column"], "consent");
    let (_, contacts) = call(Method::GET, "/v1/contacts?limit=5", Some(&key), None).await;
    assert_eq!(contacts["items"], json!([]), "no contact written");
    let (_, first) = call(Method::GET, "/v1/contacts?phone=5541900000000", Some(&key), None).await;
    assert_eq!(first["items"], json!([]), "not even the rows before the bad one");
}

/// Imports `rows` rows (of more than one chunk) and checks, while the job runs, that the API keeps
/// answering; then the job's counts and what it wrote.
async fn import_runs_as_a_job_while_the_api_keeps_answering(rows: u32) {
    // Arrange: a plan with room for every row.
    let (key, tenant_id) = tenant().await;
    let plan =
        json!({"requests_per_minute": 6000, "contacts": 20000, "users": 25, "messages_per_month": 10000});
    let (status, _) =
        call(Method::PUT, &format!("/v1/tenants/{tenant_id}/plan"), Some(&operator()), Some(plan)).await;
    assert_eq!(status, StatusCode::OK);

    // Act
    let (status, job) = post_csv(&key, file(42, rows)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let path = format!("/v1/imports/{}", job["id"].as_str().expect("id"));
    let (second, _) = post_csv(&key, file(43, 1)).await;
    let mut answered_while_running = 0;
    let mut last = Value::Null;
    for _ in 0..1800 {
        let (status, me) = call(Method::GET, "/v1/tenant", Some(&key), None).await;
        assert_eq!(status, StatusCode::OK, "the API answers while the import runs: {me}");
        let (status, progress) = call(Method::GET, &path, Some(&key), None).await;
        assert_eq!(status, StatusCode::OK, "{progress}");
        last = progress;
        if matches!(last["status"].as_str(), Some("done" | "failed")) {
            break;
        }
        answered_while_running += 1;
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }

    // Assert
    assert_eq!(job["status"], "queued");
    assert_eq!(job["rows"], rows);
    assert_eq!(second, StatusCode::CONFLICT, "one import per tenant at a time");
    assert!(answered_while_running > 0, "requests were answered while the job ran");
    assert_eq!(last["status"], "done", "{last}");
    assert_eq!(
        (last["processed"].as_u64(), last["created"].as_u64(), last["failed"].as_u64()),
        (Some(u64::from(rows)), Some(u64::from(rows)), Some(0)),
        "{last}"
    );
    let (_, usage) = call(Method::GET, "/v1/usage", Some(&key), None).await;
    assert_eq!(usage["contacts"]["used"], rows, "{usage}");
    let (_, ana) = call(Method::GET, "/v1/contacts?phone=5542900000000", Some(&key), None).await;
    assert_eq!(ana["items"][0]["tags"], json!(["fair", "it"]));
    assert_eq!(ana["items"][0]["consent"]["source"], "import");
    let (again, repeat) = post_csv(&key, file(42, 3)).await;
    assert_eq!(again, StatusCode::ACCEPTED, "the slot is free once the job is done: {repeat}");
}

#[tokio::test]
async fn an_import_of_several_chunks_runs_as_a_job_while_the_api_keeps_answering() {
    // Two chunks: the job and its progress, without loading the shared local stack for minutes.
    import_runs_as_a_job_while_the_api_keeps_answering(201).await;
}

/// The measurement: 10,001 rows. The local stack writes a few hundred rows a minute
/// (moto), so this runs for about half an hour: run it on its own, with `--ignored`.
#[tokio::test]
#[ignore = "about 30 minutes on the local stack: run on its own"]
async fn ten_thousand_and_one_rows_import_as_a_job_while_the_api_keeps_answering() {
    import_runs_as_a_job_while_the_api_keeps_answering(10_001).await;
}
