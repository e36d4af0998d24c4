//! The API contract as real tooling uses it: the document the stack serves is the committed
//! `docs/openapi.json` (the drift check of the test command), and a client generated from it by
//! openapi-python-client (installed into `.venv` by `infra/setup-venv.sh`) creates, lists and
//! reads contacts (`tests/clients/generated_client.py`).

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::StatusCode;
use serde_json::Value;

use crate::e2e::base;
use crate::ingest::{digits, TestTenant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace holds tests/").to_path_buf()
}

async fn served_document(client: &reqwest::Client) -> Value {
    let response = client.get(format!("{}/v1/openapi.json", base())).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("the document is JSON")
}

#[tokio::test]
async fn the_served_document_is_the_committed_contract() {
    // Arrange
    let client = crate::support::http();
    let committed = std::fs::read_to_string(root().join("docs/openapi.json")).expect("docs/openapi.json");
    let committed: Value = serde_json::from_str(&committed).expect("docs/openapi.json is JSON");

    // Act
    let served = served_document(&client).await;

    // Assert
    assert!(
        served == committed,
        "the stack serves another document than docs/openapi.json: \
         LEADLINE_WRITE_OPENAPI=1 cargo test -p api --lib the_committed_document, then review and commit"
    );
}

#[tokio::test]
async fn a_client_generated_from_the_served_document_works() {
    // Arrange: the generator's own run on what the stack serves.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let document = served_document(&client).await;
    let work = std::env::temp_dir().join(format!("leadline-client-{}", digits(12)));
    std::fs::create_dir_all(&work).expect("a temporary directory");
    let document_path = work.join("openapi.json");
    std::fs::write(&document_path, document.to_string()).expect("the document written");
    let bin = root().join(".venv/bin");
    let generated = Command::new(bin.join("openapi-python-client"))
        .args(["generate", "--meta", "none", "--output-path"])
        .arg(work.join("leadline_client"))
        .arg("--path")
        .arg(&document_path)
        .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()))
        .output()
        .expect("openapi-python-client runs (infra/setup-venv.sh installs it into .venv)");
    assert!(generated.status.success(), "generation failed: {}", String::from_utf8_lossy(&generated.stderr));

    // Act
    let used = Command::new(bin.join("python3"))
        .arg(root().join("tests/clients/generated_client.py"))
        .arg(base())
        .arg(&tenant.api_key)
        .arg(format!("+{}", tenant.wa_id))
        .env("PYTHONPATH", &work)
        .output()
        .expect("python3 runs the client script");
    let _ = std::fs::remove_dir_all(&work);

    // Assert
    assert!(
        used.status.success(),
        "the generated client failed:\n{}\n{}",
        String::from_utf8_lossy(&used.stdout),
        String::from_utf8_lossy(&used.stderr)
    );
}
