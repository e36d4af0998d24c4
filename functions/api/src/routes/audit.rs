//! `GET /v1/audit`: the tenant's audit trail for its admins (P18), newest first, filterable.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use shared::domain::audit::{AuditFilter, AuditLog as _};
use shared::lambda::http::json_response;

use super::inbox::{millis, paging, text, PageView};
use crate::errors::ApiError;
use crate::{Adapters, Ctx, Deps};

/// `GET /v1/audit`.
///
/// # Errors
/// 400 for a bad filter, limit or cursor.
pub async fn list<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let paging = paging(ctx.query)?;
    let filter = AuditFilter {
        actor: text(ctx.query, "actor", 64)?,
        action: text(ctx.query, "action", 64)?,
        target: text(ctx.query, "target", 128)?,
        since: millis(ctx.query, "since")?,
        until: millis(ctx.query, "until")?,
    };
    let page =
        deps.audit.entries(&principal.tenant_id, &filter, paging.after.as_deref(), paging.limit).await?;
    Ok(json_response(StatusCode::OK, &PageView::from(page)))
}
