//! The route table and dispatch.

pub mod tenants;
pub mod whatsapp;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Response};
use serde::de::DeserializeOwned;
use shared::domain::ports::{TenantStore, Vault};
use shared::domain::Clock;
use shared::lambda::http::Problem;

use crate::auth::Principal;
use crate::errors::ApiError;
use crate::Deps;

/// Every route the API knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1/tenants`
    CreateTenant,
    /// `GET /v1/whatsapp`
    GetWhatsApp,
    /// `PUT /v1/whatsapp`
    ConnectWhatsApp,
    /// `DELETE /v1/whatsapp`
    DisconnectWhatsApp,
    /// A route of the contract whose issue has not landed yet.
    NotBuilt(&'static str),
}

/// The routes of the contract that later issues build, by method and path pattern
/// (`*` matches one segment).
const NOT_BUILT: &[(&str, &[&str], &str)] = &[
    ("GET", &["v1", "openapi.json"], "GET /v1/openapi.json"),
    ("POST", &["v1", "messages"], "POST /v1/messages"),
    ("GET", &["v1", "messages", "*"], "GET /v1/messages/{id}"),
    ("GET", &["v1", "contacts"], "GET /v1/contacts"),
    ("GET", &["v1", "conversations"], "GET /v1/conversations"),
    ("GET", &["v1", "conversations", "*", "messages"], "GET /v1/conversations/{id}/messages"),
    ("GET", &["v1", "privacy", "export"], "GET /v1/privacy/export"),
    ("POST", &["v1", "privacy", "erasure"], "POST /v1/privacy/erasure"),
    ("GET", &["v1", "privacy", "erasure", "*"], "GET /v1/privacy/erasure/{id}"),
];

fn matches(pattern: &[&str], segments: &[&str]) -> bool {
    pattern.len() == segments.len() && pattern.iter().zip(segments).all(|(p, s)| *p == "*" || p == s)
}

impl Route {
    /// The route for a method and path, if any.
    #[must_use]
    pub fn of(method: &Method, segments: &[&str]) -> Option<Self> {
        let route = match (method.as_str(), segments) {
            ("POST", ["v1", "tenants"]) => Self::CreateTenant,
            ("GET", ["v1", "whatsapp"]) => Self::GetWhatsApp,
            ("PUT", ["v1", "whatsapp"]) => Self::ConnectWhatsApp,
            ("DELETE", ["v1", "whatsapp"]) => Self::DisconnectWhatsApp,
            (method, segments) => {
                let (_, _, name) =
                    NOT_BUILT.iter().find(|(m, pattern, _)| *m == method && matches(pattern, segments))?;
                Self::NotBuilt(name)
            }
        };
        Some(route)
    }

    /// A stable name for logs.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::CreateTenant => "POST /v1/tenants",
            Self::GetWhatsApp => "GET /v1/whatsapp",
            Self::ConnectWhatsApp => "PUT /v1/whatsapp",
            Self::DisconnectWhatsApp => "DELETE /v1/whatsapp",
            Self::NotBuilt(name) => name,
        }
    }
}

/// True when some method serves this path (for 405 rather than 404).
#[must_use]
pub fn known_path(segments: &[&str]) -> bool {
    matches!(segments, ["v1", "tenants"] | ["v1", "whatsapp"])
        || NOT_BUILT.iter().any(|(_, pattern, _)| matches(pattern, segments))
}

/// Runs the route.
///
/// # Errors
/// The problem to answer.
pub async fn dispatch<S: TenantStore, V: Vault, C: Clock>(
    route: Route,
    principal: &Principal,
    body: &[u8],
    deps: &Deps<S, V, C>,
) -> Result<Response<Body>, ApiError> {
    match route {
        Route::CreateTenant => tenants::create(principal, body, deps).await,
        Route::GetWhatsApp => whatsapp::get(principal, deps).await,
        Route::ConnectWhatsApp => whatsapp::connect(principal, body, deps).await,
        Route::DisconnectWhatsApp => whatsapp::disconnect(principal, deps).await,
        Route::NotBuilt(name) => Err(ApiError(Problem::new(
            StatusCode::NOT_IMPLEMENTED,
            "not-implemented",
            "Not implemented",
            format!("{name} is part of the API contract but not built in this version"),
        ))),
    }
}

/// Parses a JSON body; an empty body parses as `{}`.
///
/// # Errors
/// 400 naming what is wrong (serde's message: field and position).
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|e| Problem::bad_request(format!("invalid JSON body: {e}")).into())
}
