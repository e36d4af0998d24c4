//! Holds on sandbox Graph requests: `POST /_sandbox/holds` makes the Graph requests whose path
//! contains a text wait until `DELETE /_sandbox/holds/{id}` releases them (a Graph call that
//! takes as long as a test needs, to show that one slow invocation blocks no other).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{bad_request, Sandbox};

/// A hold as `POST /_sandbox/holds` takes it: Graph requests whose path (with its query)
/// contains `path_contains` wait until `DELETE /_sandbox/holds/{id}` releases them, or at most
/// `millis` (then they are answered as usual).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    /// What the path must contain (not empty).
    pub path_contains: String,
    /// The longest a request is held (at most 60 s).
    pub millis: u64,
}

/// A hold as the sandbox shows it.
#[derive(Debug, Clone, Serialize)]
pub struct HoldView {
    /// Its id.
    pub id: String,
    /// Requests waiting on it now.
    pub waiting: usize,
    /// Requests it has held so far.
    pub held: usize,
    /// Whether it was released (it holds nothing more).
    pub released: bool,
}

#[derive(Debug)]
pub(super) struct Hold {
    request: HoldRequest,
    view: HoldView,
    release: tokio::sync::watch::Sender<bool>,
}

impl Sandbox {
    /// Waits while an unreleased hold matches `path` (at most its `millis`).
    pub(super) async fn wait_for_holds(&self, path: &str) {
        let matching = self.state.lock().ok().and_then(|mut state| {
            let hold = state
                .holds
                .values_mut()
                .find(|h| !h.view.released && path.contains(&h.request.path_contains))?;
            hold.view.waiting += 1;
            hold.view.held += 1;
            Some((hold.view.id.clone(), hold.release.subscribe(), hold.request.millis))
        });
        let Some((id, mut released, millis)) = matching else { return };
        let _ = tokio::time::timeout(Duration::from_millis(millis), released.wait_for(|r| *r)).await;
        if let Ok(mut state) = self.state.lock() {
            if let Some(hold) = state.holds.get_mut(&id) {
                hold.view.waiting = hold.view.waiting.saturating_sub(1);
            }
        }
    }
}

pub(super) async fn add_hold(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let request: HoldRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return bad_request(format!("expected {{path_contains, millis}}: {e}")),
    };
    if request.path_contains.is_empty() || request.millis > 60_000 {
        return bad_request("path_contains must not be empty and millis at most 60000".to_owned());
    }
    let id = format!("hold-{}", crate::random_hex(8).unwrap_or_default());
    let view = HoldView { id: id.clone(), waiting: 0, held: 0, released: false };
    let (release, _) = tokio::sync::watch::channel(false);
    if let Ok(mut state) = sandbox.state.lock() {
        state.holds.insert(id, Hold { request, view: view.clone(), release });
    }
    (StatusCode::CREATED, Json(view)).into_response()
}

pub(super) async fn hold(State(sandbox): State<Sandbox>, Path(id): Path<String>) -> Response {
    let view = sandbox.state.lock().ok().and_then(|state| state.holds.get(&id).map(|h| h.view.clone()));
    match view {
        Some(view) => Json(view).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"detail": "no such hold"}))).into_response(),
    }
}

pub(super) async fn release_hold(State(sandbox): State<Sandbox>, Path(id): Path<String>) -> Response {
    let view = sandbox.state.lock().ok().and_then(|mut state| {
        let hold = state.holds.get_mut(&id)?;
        hold.view.released = true;
        hold.release.send_replace(true);
        Some(hold.view.clone())
    });
    match view {
        Some(view) => Json(view).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"detail": "no such hold"}))).into_response(),
    }
}
