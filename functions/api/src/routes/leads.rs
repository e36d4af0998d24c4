//! Leads (P02): from Lead Ads or entered by hand; pipeline stage, owner and origin; linked to the
//! contact their fields identify. Managers and admins.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Deserialize;
use shared::domain::crm::{Activity, RecordStore as _};
use shared::domain::inbox::{LeadFilter, LeadOrigin, LeadPatch, LeadStage, LeadStore, NewManualLead};
use shared::domain::{new_ulid, Clock, ContactId, UserId};
use shared::lambda::http::{json_response, Problem};

use super::contacts::person;
use super::inbox::{actor_of, paging, text, PageView};
use super::{json_body, nullable};
use crate::auth::TenantPrincipal;
use crate::errors::ApiError;
use crate::{target, Adapters, Ctx, Deps};

/// `POST /v1/leads`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLeadBody {
    /// The person's phone (E.164 digits).
    #[serde(default)]
    pub phone: Option<String>,
    /// The person's email.
    #[serde(default)]
    pub email: Option<String>,
    /// The person's name.
    #[serde(default)]
    #[schemars(length(max = 200))]
    pub name: Option<String>,
    /// Stage (default `new`).
    #[serde(default)]
    pub stage: Option<LeadStage>,
    /// Who works it (a user id).
    #[serde(default)]
    pub owner: Option<UserId>,
    /// Form, ad and campaign.
    #[serde(default)]
    pub origin: LeadOrigin,
}

/// `PATCH /v1/leads/{lead_id}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateLeadBody {
    /// New stage.
    #[serde(default)]
    pub stage: Option<LeadStage>,
    /// New owner, or null.
    #[serde(default, deserialize_with = "nullable")]
    pub owner: Option<Option<UserId>>,
    /// Corrected origin.
    #[serde(default)]
    pub origin: Option<LeadOrigin>,
}

fn bad(detail: impl Into<String>) -> ApiError {
    Problem::bad_request(detail).into()
}

fn origin(origin: LeadOrigin) -> Result<LeadOrigin, ApiError> {
    for value in [&origin.form, &origin.ad, &origin.campaign].into_iter().flatten() {
        if value.trim().is_empty() || value.chars().count() > 200 {
            return Err(bad("origin fields must be 1 to 200 characters"));
        }
    }
    Ok(origin)
}

async fn owner_ok<A: Adapters>(
    deps: &Deps<A>,
    principal: &TenantPrincipal,
    owner: Option<&UserId>,
) -> Result<(), ApiError> {
    match owner {
        Some(owner) if !deps.directory_user(&principal.tenant_id, owner).await? => {
            Err(bad("owner is not a user of this tenant"))
        }
        _ => Ok(()),
    }
}

/// `GET /v1/leads`.
///
/// # Errors
/// 400 for a bad filter, limit or cursor.
pub async fn list<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let paging = paging(ctx.query)?;
    let filter = LeadFilter {
        contact: text(ctx.query, "contact_id", 64)?
            .map(|c| ContactId::parse(c).map_err(|e| bad(e.to_string())))
            .transpose()?,
        stage: text(ctx.query, "stage", 16)?
            .map(|s| {
                LeadStage::parse(&s)
                    .ok_or_else(|| bad("stage must be new, contacted, qualified, won or lost"))
            })
            .transpose()?,
        owner: text(ctx.query, "owner", 64)?
            .map(|o| UserId::parse(o).map_err(|e| bad(e.to_string())))
            .transpose()?,
    };
    let page = deps.leads.leads(&principal.tenant_id, &filter, paging.after.as_deref(), paging.limit).await?;
    deps.audit(principal, "lead.list", target("lead", "*"), |e| e.with_count(page.items.len() as u64)).await;
    Ok(json_response(StatusCode::OK, &PageView::from(page)))
}

/// `POST /v1/leads`.
///
/// # Errors
/// 400 for a bad body or neither phone nor email.
pub async fn create<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let body: CreateLeadBody = json_body(ctx.body)?;
    let contact = person(body.phone.as_deref(), body.email.as_deref(), body.name.as_deref())?;
    owner_ok(deps, principal, body.owner.as_ref()).await?;
    let origin = origin(body.origin)?;
    let now = deps.clock.now();
    let id = format!("ld_{}", new_ulid(now)?);
    let lead = NewManualLead {
        id: &id,
        contact: &contact,
        stage: body.stage.unwrap_or(LeadStage::New),
        owner: body.owner.as_ref(),
        origin: &origin,
        at: now,
    };
    let view = deps.leads.create_lead(&principal.tenant_id, &lead).await?;
    deps.audit(principal, "lead.create", target("lead", view.id.as_str()), |e| {
        e.with_fields(["contact", "stage", "owner", "origin"]).about(&view.contact_id)
    })
    .await;
    Ok(json_response(StatusCode::CREATED, &view))
}

fn lead_id(raw: &str) -> Result<&str, ApiError> {
    if (1..=64).contains(&raw.len()) && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(raw)
    } else {
        Err(Problem::not_found("no such lead").into())
    }
}

/// `GET /v1/leads/{lead_id}`.
///
/// # Errors
/// 404 for an unknown or another tenant's lead.
pub async fn get<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let lead = deps
        .leads
        .lead(&principal.tenant_id, lead_id(ctx.param("lead_id"))?)
        .await?
        .ok_or_else(|| ApiError::from(Problem::not_found("no such lead")))?;
    Ok(json_response(StatusCode::OK, &lead))
}

/// `PATCH /v1/leads/{lead_id}` (audited; a stage change goes on the contact's timeline).
///
/// # Errors
/// 404 as for reads; 400 for a bad owner or origin.
pub async fn update<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let body: UpdateLeadBody = json_body(ctx.body)?;
    let id = lead_id(ctx.param("lead_id"))?;
    let current = deps
        .leads
        .lead(&principal.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::from(Problem::not_found("no such lead")))?;
    if let Some(owner) = &body.owner {
        owner_ok(deps, principal, owner.as_ref()).await?;
    }
    let patch =
        LeadPatch { stage: body.stage, owner: body.owner, origin: body.origin.map(origin).transpose()? };
    let fields: Vec<&str> = [
        ("stage", patch.stage.is_some()),
        ("owner", patch.owner.is_some()),
        ("origin", patch.origin.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    let now = deps.clock.now();
    let updated = deps
        .leads
        .update_lead(&principal.tenant_id, id, &patch, now)
        .await?
        .ok_or_else(|| ApiError::from(Problem::not_found("no such lead")))?;
    if updated.stage != current.stage {
        let activity = Activity {
            at: now.as_millis(),
            kind: "lead.stage_changed".to_owned(),
            ref_id: Some(updated.id.clone()),
            detail: Some(updated.stage.as_str().to_owned()),
            actor: actor_of(principal),
        };
        deps.records.add_activity(&principal.tenant_id, &updated.contact_id, &activity).await?;
    }
    deps.audit(principal, "lead.update", target("lead", updated.id.as_str()), |e| {
        e.with_fields(fields).about(&updated.contact_id)
    })
    .await;
    Ok(json_response(StatusCode::OK, &updated))
}
