//! The route table and dispatch.

pub mod csv;
pub mod inbox;
pub mod leadads;
pub mod privacy;
pub mod settings;
pub mod tenants;
pub mod whatsapp;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Response};
use serde::de::DeserializeOwned;
use shared::domain::inbox::InboxStore;
use shared::domain::ports::{TenantStore, Vault};
use shared::domain::privacy::PrivacyStore;
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
    /// `GET /v1/leadads`
    GetLeadAds,
    /// `PUT /v1/leadads`
    ConnectLeadAds,
    /// `DELETE /v1/leadads`
    DisconnectLeadAds,
    /// `GET /v1/contacts`
    ListContacts,
    /// `GET /v1/conversations`
    ListConversations,
    /// `GET /v1/conversations/{id}/messages`
    ConversationMessages,
    /// `GET /v1/leads`
    ListLeads,
    /// `GET /v1/settings/retention`
    GetRetention,
    /// `PUT /v1/settings/retention`
    PutRetention,
    /// `GET /v1/privacy/export`
    Export,
    /// `GET /v1/privacy/export/tenant`
    TenantExport,
    /// `POST /v1/privacy/erasure`
    RequestErasure,
    /// `GET /v1/privacy/erasure/{id}`
    GetErasure,
    /// A route of the contract whose issue has not landed yet.
    NotBuilt(&'static str),
}

/// The routes of the contract that later issues build, by method and path pattern
/// (`*` matches one segment).
const NOT_BUILT: &[(&str, &[&str], &str)] = &[
    ("GET", &["v1", "openapi.json"], "GET /v1/openapi.json"),
    ("POST", &["v1", "messages"], "POST /v1/messages"),
    ("GET", &["v1", "messages", "*"], "GET /v1/messages/{id}"),
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
            ("GET", ["v1", "leadads"]) => Self::GetLeadAds,
            ("PUT", ["v1", "leadads"]) => Self::ConnectLeadAds,
            ("DELETE", ["v1", "leadads"]) => Self::DisconnectLeadAds,
            ("GET", ["v1", "contacts"]) => Self::ListContacts,
            ("GET", ["v1", "conversations"]) => Self::ListConversations,
            ("GET", ["v1", "conversations", _, "messages"]) => Self::ConversationMessages,
            ("GET", ["v1", "leads"]) => Self::ListLeads,
            ("GET", ["v1", "settings", "retention"]) => Self::GetRetention,
            ("PUT", ["v1", "settings", "retention"]) => Self::PutRetention,
            ("GET", ["v1", "privacy", "export"]) => Self::Export,
            ("GET", ["v1", "privacy", "export", "tenant"]) => Self::TenantExport,
            ("POST", ["v1", "privacy", "erasure"]) => Self::RequestErasure,
            ("GET", ["v1", "privacy", "erasure", _]) => Self::GetErasure,
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
            Self::GetLeadAds => "GET /v1/leadads",
            Self::ConnectLeadAds => "PUT /v1/leadads",
            Self::DisconnectLeadAds => "DELETE /v1/leadads",
            Self::ListContacts => "GET /v1/contacts",
            Self::ListConversations => "GET /v1/conversations",
            Self::ConversationMessages => "GET /v1/conversations/{id}/messages",
            Self::ListLeads => "GET /v1/leads",
            Self::GetRetention => "GET /v1/settings/retention",
            Self::PutRetention => "PUT /v1/settings/retention",
            Self::Export => "GET /v1/privacy/export",
            Self::TenantExport => "GET /v1/privacy/export/tenant",
            Self::RequestErasure => "POST /v1/privacy/erasure",
            Self::GetErasure => "GET /v1/privacy/erasure/{id}",
            Self::NotBuilt(name) => name,
        }
    }
}

/// True when some method serves this path (for 405 rather than 404).
#[must_use]
pub fn known_path(segments: &[&str]) -> bool {
    matches!(
        segments,
        ["v1", "tenants" | "whatsapp" | "leadads" | "contacts" | "conversations" | "leads"]
            | ["v1", "conversations", _, "messages"]
            | ["v1", "privacy", "export" | "erasure"]
            | ["v1", "privacy", "erasure", _]
            | ["v1", "privacy", "export", "tenant"]
            | ["v1", "settings", "retention"]
    ) || NOT_BUILT.iter().any(|(_, pattern, _)| matches(pattern, segments))
}

/// Runs the route.
///
/// # Errors
/// The problem to answer.
pub async fn dispatch<S: TenantStore, V: Vault, C: Clock, I: InboxStore, P: PrivacyStore>(
    route: Route,
    request: &RouteRequest<'_>,
    deps: &Deps<S, V, C, I, P>,
) -> Result<Response<Body>, ApiError> {
    let RouteRequest { principal, segments, query, body } = *request;
    match route {
        Route::CreateTenant => tenants::create(principal, body, deps).await,
        Route::GetWhatsApp => whatsapp::get(principal, deps).await,
        Route::ConnectWhatsApp => whatsapp::connect(principal, body, deps).await,
        Route::DisconnectWhatsApp => whatsapp::disconnect(principal, deps).await,
        Route::GetLeadAds => leadads::get(principal, deps).await,
        Route::ConnectLeadAds => leadads::connect(principal, body, deps).await,
        Route::DisconnectLeadAds => leadads::disconnect(principal, deps).await,
        Route::ListContacts => inbox::contacts(principal, query, deps).await,
        Route::ListConversations => inbox::conversations(principal, query, deps).await,
        Route::ConversationMessages => {
            inbox::messages(principal, segments.get(2).copied().unwrap_or_default(), query, deps).await
        }
        Route::ListLeads => inbox::leads(principal, query, deps).await,
        Route::GetRetention => settings::get(principal, deps).await,
        Route::PutRetention => settings::put(principal, body, deps).await,
        Route::Export => privacy::export(principal, query, deps).await,
        Route::TenantExport => privacy::tenant_export(principal, query, deps).await,
        Route::RequestErasure => privacy::request_erasure(principal, body, deps).await,
        Route::GetErasure => {
            privacy::erasure(principal, segments.get(3).copied().unwrap_or_default(), deps).await
        }
        Route::NotBuilt(name) => Err(ApiError(Problem::new(
            StatusCode::NOT_IMPLEMENTED,
            "not-implemented",
            "Not implemented",
            format!("{name} is part of the API contract but not built in this version"),
        ))),
    }
}

/// What a route gets of its request.
#[derive(Debug, Clone, Copy)]
pub struct RouteRequest<'a> {
    /// The verified caller.
    pub principal: &'a Principal,
    /// The path, split on `/` (`["v1", "conversations", "<id>", "messages"]`).
    pub segments: &'a [&'a str],
    /// Query parameters (first value of each).
    pub query: &'a inbox::Query,
    /// The body.
    pub body: &'a [u8],
}

/// A Meta id (phone number id, WABA id, Page id): digits only.
///
/// # Errors
/// 400 naming the field.
pub fn meta_id(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    if (1..=32).contains(&value.len()) && value.chars().all(|c| c.is_ascii_digit()) {
        Ok(value.to_owned())
    } else {
        Err(Problem::bad_request(format!("{field} must be 1 to 32 digits (a Meta id)")).into())
    }
}

/// An access token as Meta issues them: 1 to 4096 characters without spaces.
///
/// # Errors
/// 400 naming the field.
pub fn validated_token<'a>(field: &str, token: &'a shared::domain::Secret) -> Result<&'a str, ApiError> {
    let token = token.expose().trim();
    if token.is_empty() || token.len() > 4096 || token.chars().any(char::is_whitespace) {
        return Err(
            Problem::bad_request(format!("{field} must be 1 to 4096 characters without spaces")).into()
        );
    }
    Ok(token)
}

/// 204.
#[must_use]
pub fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// Parses a JSON body; an empty body parses as `{}`.
///
/// # Errors
/// 400 naming what is wrong (serde's message: field and position).
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|e| Problem::bad_request(format!("invalid JSON body: {e}")).into())
}
