//! Reading the inbox: contacts, conversations, a conversation's messages, leads. Every tenant
//! role may read (agents' queue restrictions come with routing); the tenant is the credential's.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;
use shared::domain::inbox::{ConsentEventView, ContactView, InboxStore, LeadView, Page};
use shared::domain::{ConversationId, PhoneNumber};
use shared::lambda::http::{json_response, Problem};

use crate::auth::Principal;
use crate::errors::ApiError;
use crate::{require_tenant, Deps};

/// Page size when the client sets none.
pub const DEFAULT_LIMIT: u16 = 50;
/// The largest page a client may ask for.
pub const MAX_LIMIT: u16 = 100;

/// Query parameters, first value of each.
pub type Query = HashMap<String, String>;

/// `limit` and `cursor` of a listing.
struct Paging {
    limit: u16,
    after: Option<String>,
}

/// The `cursor` parameter, decoded (cursors are base64url of what the store returned).
///
/// # Errors
/// 400 for a cursor this API did not return.
pub fn cursor(query: &Query) -> Result<Option<String>, ApiError> {
    query
        .get("cursor")
        .map(|cursor| {
            B64.decode(cursor)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| ApiError::from(Problem::bad_request("cursor is not one this API returned")))
        })
        .transpose()
}

/// A store cursor as the API hands it out.
#[must_use]
pub fn encode_cursor(cursor: &str) -> String {
    B64.encode(cursor)
}

fn paging(query: &Query) -> Result<Paging, ApiError> {
    let limit = match query.get("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<u16>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| Problem::bad_request(format!("limit must be 1 to {MAX_LIMIT}")))?,
    };
    let after = cursor(query)?;
    Ok(Paging { limit, after })
}

/// A page as the API returns it: `{items, next}`, `next` an opaque cursor.
#[derive(Debug, Serialize)]
pub struct PageView<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl<T> From<Page<T>> for PageView<T> {
    fn from(page: Page<T>) -> Self {
        Self { items: page.items, next: page.next.as_deref().map(encode_cursor) }
    }
}

fn phone_filter(query: &Query) -> Result<Option<PhoneNumber>, ApiError> {
    query
        .get("phone")
        .map(|raw| {
            PhoneNumber::parse(raw).map_err(|e| ApiError::from(Problem::bad_request(format!("phone: {e}"))))
        })
        .transpose()
}

/// A contact found by phone, with its consent ledger and leads.
#[derive(Debug, Serialize)]
pub struct ContactDetail {
    /// The contact.
    #[serde(flatten)]
    pub contact: ContactView,
    /// Every consent event, oldest first.
    pub consent_ledger: Vec<ConsentEventView>,
    /// Its leads (the first page).
    pub leads: Vec<LeadView>,
}

/// `GET /v1/contacts[?phone=…]`.
///
/// # Errors
/// 400 for a bad phone, limit or cursor; 403 for the operator.
pub async fn contacts<S, V, C, I: InboxStore, P>(
    principal: &Principal,
    query: &Query,
    deps: &Deps<S, V, C, I, P>,
) -> Result<Response<Body>, ApiError> {
    let tenant = &require_tenant(principal)?.tenant_id;
    let paging = paging(query)?;
    if let Some(phone) = phone_filter(query)? {
        let Some(contact) = deps.inbox.contact_by_phone(tenant, &phone).await? else {
            return Ok(json_response(
                StatusCode::OK,
                &PageView::<ContactDetail> { items: Vec::new(), next: None },
            ));
        };
        let consent_ledger = deps.inbox.consent_ledger(tenant, &contact.id).await?;
        let leads = deps.inbox.leads(tenant, Some(&contact.id), None, MAX_LIMIT).await?.items;
        let detail = ContactDetail { contact, consent_ledger, leads };
        return Ok(json_response(StatusCode::OK, &PageView { items: vec![detail], next: None }));
    }
    let page = deps.inbox.contacts(tenant, paging.after.as_deref(), paging.limit).await?;
    Ok(json_response(StatusCode::OK, &PageView::from(page)))
}

/// `GET /v1/conversations[?phone=…]`.
///
/// # Errors
/// 400 for a bad phone, limit or cursor; 403 for the operator.
pub async fn conversations<S, V, C, I: InboxStore, P>(
    principal: &Principal,
    query: &Query,
    deps: &Deps<S, V, C, I, P>,
) -> Result<Response<Body>, ApiError> {
    let tenant = &require_tenant(principal)?.tenant_id;
    let paging = paging(query)?;
    let page = match phone_filter(query)? {
        Some(phone) => match deps.inbox.contact_by_phone(tenant, &phone).await? {
            Some(contact) => {
                deps.inbox
                    .conversations(tenant, Some(&contact.id), paging.after.as_deref(), paging.limit)
                    .await?
            }
            None => Page { items: Vec::new(), next: None },
        },
        None => deps.inbox.conversations(tenant, None, paging.after.as_deref(), paging.limit).await?,
    };
    Ok(json_response(StatusCode::OK, &PageView::from(page)))
}

/// `GET /v1/conversations/{id}/messages`, oldest first.
///
/// # Errors
/// 404 for an unknown (or another tenant's) conversation; 400 for a bad limit or cursor.
pub async fn messages<S, V, C, I: InboxStore, P>(
    principal: &Principal,
    conversation: &str,
    query: &Query,
    deps: &Deps<S, V, C, I, P>,
) -> Result<Response<Body>, ApiError> {
    let tenant = &require_tenant(principal)?.tenant_id;
    let not_found = || ApiError::from(Problem::not_found("no such conversation"));
    let id = ConversationId::parse(conversation).map_err(|_| not_found())?;
    if deps.inbox.conversation(tenant, &id).await?.is_none() {
        return Err(not_found());
    }
    let paging = paging(query)?;
    let page = deps.inbox.messages(tenant, &id, paging.after.as_deref(), paging.limit).await?;
    Ok(json_response(StatusCode::OK, &PageView::from(page)))
}

/// `GET /v1/leads`.
///
/// # Errors
/// 400 for a bad limit or cursor; 403 for the operator.
pub async fn leads<S, V, C, I: InboxStore, P>(
    principal: &Principal,
    query: &Query,
    deps: &Deps<S, V, C, I, P>,
) -> Result<Response<Body>, ApiError> {
    let tenant = &require_tenant(principal)?.tenant_id;
    let paging = paging(query)?;
    let page = deps.inbox.leads(tenant, None, paging.after.as_deref(), paging.limit).await?;
    Ok(json_response(StatusCode::OK, &PageView::from(page)))
}
