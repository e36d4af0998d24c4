//! Canned responses: `GET`/`POST /v1/canned-responses`, `PATCH`/`DELETE
//! /v1/canned-responses/{canned_id}` and `POST /v1/canned-responses/{canned_id}/render`.
//!
//! Everyone of the tenant reads the tenant-wide responses and their own personal ones; API keys
//! (nobody's) read the tenant-wide ones. Agents keep their personal responses; managers and
//! admins also keep the tenant-wide ones. Someone else's personal response answers 404, as one
//! that does not exist.

use std::collections::HashMap;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use shared::domain::canned::{
    check_shortcut, check_text, check_title, render as fill, CannedResponse, CannedScope, CannedStore as _,
    InvalidCanned, RenderContext,
};
use shared::domain::identity::Directory as _;
use shared::domain::inbox::ContactStore as _;
use shared::domain::ports::TenantStore as _;
use shared::domain::tenant::Role;
use shared::domain::{CannedId, Clock};
use shared::lambda::http::{json_response, Problem};

use super::{json_body, no_content, nullable, path_id};
use crate::auth::TenantPrincipal;
use crate::errors::ApiError;
use crate::{target, Adapters, Ctx, Deps};

/// `POST /v1/canned-responses`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCannedBody {
    /// `[a-z0-9_-]{1,32}`, unique within its scope.
    pub shortcut: String,
    /// A label, 1 to 100 characters.
    #[serde(default)]
    pub title: Option<String>,
    /// 1 to 4096 characters; placeholders `{{contact.name}}`, `{{contact.first_name}}`,
    /// `{{agent.name}}`, `{{tenant.name}}`.
    pub text: String,
    /// `personal` (the default for a user: theirs) or `tenant` (managers and admins; the
    /// default for an API key).
    #[serde(default)]
    pub scope: Option<CannedScope>,
}

/// `PATCH /v1/canned-responses/{canned_id}`; absent fields stay as they are.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCannedBody {
    /// A new shortcut (unique within the scope).
    #[serde(default)]
    pub shortcut: Option<String>,
    /// A new title, or null to remove it.
    #[serde(default, deserialize_with = "nullable")]
    pub title: Option<Option<String>>,
    /// A new text.
    #[serde(default)]
    pub text: Option<String>,
    /// The version the caller saw: the change applies only if the response is still at it.
    #[serde(default)]
    pub version: Option<u64>,
}

/// `POST /v1/canned-responses/{canned_id}/render`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderBody {
    /// The conversation whose contact fills the placeholders.
    pub conversation_id: String,
}

/// A rendered text.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Rendered {
    /// The text with its placeholders filled.
    pub text: String,
}

/// The responses of a listing.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CannedList {
    /// By shortcut.
    pub items: Vec<CannedResponse>,
}

fn invalid(error: &InvalidCanned) -> ApiError {
    Problem::bad_request(error.to_string()).into()
}

/// `GET /v1/canned-responses[?shortcut=<prefix>]`.
///
/// # Errors
/// 400 for a prefix that no shortcut could start with.
pub async fn list<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let prefix = ctx.query.get("shortcut").map_or("", |p| p.trim());
    check_shortcut(prefix, true).map_err(|e| invalid(&e))?;
    let items = deps.canned.canned_list(&principal.tenant_id, principal.user_id.as_ref(), prefix).await?;
    Ok(json_response(StatusCode::OK, &CannedList { items }))
}

/// `POST /v1/canned-responses`.
///
/// # Errors
/// 400 for a bad field or an unknown placeholder (named); 403 when an agent creates a
/// tenant-wide response; 409 when the shortcut is taken in the scope.
pub async fn create<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let body: CreateCannedBody = json_body(ctx.body)?;
    let scope = body.scope.unwrap_or(if principal.user_id.is_some() {
        CannedScope::Personal
    } else {
        CannedScope::Tenant
    });
    let owner = match scope {
        CannedScope::Tenant if principal.role < Role::Manager => {
            return Err(Problem::forbidden("tenant-wide canned responses need the manager role").into())
        }
        CannedScope::Tenant => None,
        CannedScope::Personal => Some(principal.user_id.clone().ok_or_else(|| {
            ApiError::from(Problem::bad_request(
                "an API key has no personal canned responses; use scope tenant",
            ))
        })?),
    };
    let shortcut = body.shortcut.trim().to_owned();
    check_shortcut(&shortcut, false).map_err(|e| invalid(&e))?;
    check_text(&body.text).map_err(|e| invalid(&e))?;
    let title = body.title.map(|t| t.trim().to_owned());
    if let Some(title) = &title {
        check_title(title).map_err(|e| invalid(&e))?;
    }
    let now = deps.clock.now().as_millis();
    let response = CannedResponse {
        id: CannedId::generate(deps.clock.now())?,
        shortcut,
        title,
        text: body.text,
        scope,
        owner,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    deps.canned.create_canned(&principal.tenant_id, &response).await?;
    deps.audit(principal, "canned.create", target("canned", response.id.as_str()), |e| e).await;
    Ok(json_response(StatusCode::CREATED, &response))
}

/// The response of the path if the caller may use it: tenant-wide, or their own.
async fn usable<A: Adapters>(ctx: &Ctx<'_>, deps: &Deps<A>) -> Result<CannedResponse, ApiError> {
    let principal = ctx.tenant()?;
    let not_found = || ApiError::from(Problem::not_found("no such canned response"));
    let id = path_id(ctx.param("canned_id"), CannedId::parse, "canned response")?;
    let response = deps.canned.canned(&principal.tenant_id, &id).await?.ok_or_else(not_found)?;
    match response.scope {
        CannedScope::Tenant => Ok(response),
        CannedScope::Personal if response.owner.is_some() && response.owner == principal.user_id => {
            Ok(response)
        }
        CannedScope::Personal => Err(not_found()),
    }
}

/// The response of the path if the caller may change it: their own, or (manager+) a tenant-wide one.
async fn changeable<A: Adapters>(ctx: &Ctx<'_>, deps: &Deps<A>) -> Result<CannedResponse, ApiError> {
    let principal: &TenantPrincipal = ctx.tenant()?;
    let response = usable(ctx, deps).await?;
    if response.scope == CannedScope::Tenant && principal.role < Role::Manager {
        return Err(Problem::forbidden("tenant-wide canned responses need the manager role").into());
    }
    Ok(response)
}

/// `PATCH /v1/canned-responses/{canned_id}`.
///
/// # Errors
/// 404 for someone else's personal response; 403 when an agent changes a tenant-wide one; 400
/// for a bad field; 409 for a taken shortcut or a version that is no longer current.
pub async fn update<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let current = changeable(&ctx, deps).await?;
    let body: UpdateCannedBody = json_body(ctx.body)?;
    let mut next = current.clone();
    if let Some(shortcut) = &body.shortcut {
        next.shortcut = shortcut.trim().to_owned();
        check_shortcut(&next.shortcut, false).map_err(|e| invalid(&e))?;
    }
    if let Some(title) = body.title {
        next.title = title.map(|t| t.trim().to_owned());
        if let Some(title) = &next.title {
            check_title(title).map_err(|e| invalid(&e))?;
        }
    }
    if let Some(text) = body.text {
        check_text(&text).map_err(|e| invalid(&e))?;
        next.text = text;
    }
    next.version = body.version.unwrap_or(current.version);
    next.updated_at = deps.clock.now().as_millis();
    let updated = deps.canned.update_canned(&principal.tenant_id, &next).await?;
    deps.audit(principal, "canned.update", target("canned", updated.id.as_str()), |e| e).await;
    Ok(json_response(StatusCode::OK, &updated))
}

/// `DELETE /v1/canned-responses/{canned_id}`.
///
/// # Errors
/// 404 and 403 as for changes.
pub async fn delete<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let current = changeable(&ctx, deps).await?;
    deps.canned.delete_canned(&principal.tenant_id, &current.id).await?;
    deps.audit(principal, "canned.delete", target("canned", current.id.as_str()), |e| e).await;
    Ok(no_content())
}

/// `POST /v1/canned-responses/{canned_id}/render`: the text with the conversation's contact's
/// name, the caller's name and the tenant's name filled in.
///
/// # Errors
/// 404 for a response the caller may not use or a conversation they may not see.
pub async fn render<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    // A foreign or unknown response answers 404 whatever the body.
    let response = usable(&ctx, deps).await?;
    let body: RenderBody = json_body(ctx.body)?;
    // The conversation is checked exactly as its own routes check it: by the same helper, with
    // the body's id in place of the path's.
    let params = HashMap::from([("conversation_id", body.conversation_id)]);
    let conversation = super::inbox::visible_conversation(&Ctx { params: &params, ..ctx }, deps).await?;
    let tenant = &principal.tenant_id;
    let contact_name = deps.contacts.contact(tenant, &conversation.contact_id).await?.and_then(|c| c.name);
    let agent_name = match &principal.user_id {
        Some(user) => deps.directory.user(tenant, user).await?.map(|u| u.value.name),
        None => None,
    };
    let tenant_name = deps.tenants.tenant(tenant).await?.map(|t| t.name);
    let context = RenderContext {
        contact_name: contact_name.unwrap_or_default(),
        agent_name: agent_name.unwrap_or_default(),
        tenant_name: tenant_name.unwrap_or_default(),
    };
    Ok(json_response(StatusCode::OK, &Rendered { text: fill(&response.text, &context) }))
}
