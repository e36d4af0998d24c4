//! `GET /v1/analytics/conversations`: the contact center's figures for managers (P42), read
//! from the event log's hourly aggregates: O(hours in the range), never O(events).
//!
//! Definitions (also in the operation's description, and in
//! [`shared::domain::center::analytics`]): a conversation cycle starts with `opened` or
//! `reopened`; `conversations` counts cycles started in the range (with `agent`: conversations
//! assigned to the agent; with only `queue`: conversations routed to the queue); `resolved`
//! counts resolutions, `resolution_seconds` their time since the cycle started,
//! `first_response_seconds` the time from cycle start to the first agent reply,
//! `waiting_seconds` the time waited in the queue before assignment; p50/p90 by nearest rank
//! over the exact samples, `null` without samples; `sla_breaches` counts first replies later
//! than the queue's target; `waiting_line` is queue depth (conversations waiting, of the queue
//! or of all queues) and waiting time over the range, hour by hour and day by day
//! ([`shared::domain::center::line`]). The range is widened to whole UTC hours (the answer's
//! `from`/`to`).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use shared::domain::center::analytics::{figures, Filter, Range};
use shared::domain::center::{CenterError, EventLog as _};
use shared::domain::{QueueId, UserId};
use shared::lambda::http::{json_response, Problem};

use super::inbox::{millis, text};
use crate::errors::ApiError;
use crate::{Adapters, Ctx, Deps};

/// The answer (see the module docs).
pub type AnalyticsView = shared::domain::center::analytics::Figures;

/// `GET /v1/analytics/conversations?from=<ms>&to=<ms>[&queue=<id>][&agent=<user_id>]`.
///
/// # Errors
/// 400 for a missing or invalid `from`/`to`, `from >= to`, a range over 92 days, or a
/// malformed `queue` or `agent`.
pub async fn conversations<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let bound = |name: &str| -> Result<i64, ApiError> {
        millis(ctx.query, name)?
            .ok_or_else(|| Problem::bad_request(format!("{name} is required (epoch milliseconds)")).into())
    };
    let (from, to) = (bound("from")?, bound("to")?);
    let range = Range::widened(from, to).map_err(|e| ApiError::from(Problem::bad_request(e.to_string())))?;
    let queue = text(ctx.query, "queue", QueueId::MAX_CHARS)?
        .map(QueueId::parse)
        .transpose()
        .map_err(|_| ApiError::from(Problem::bad_request("queue must be a queue id")))?;
    let agent = text(ctx.query, "agent", 64)?
        .map(UserId::parse)
        .transpose()
        .map_err(|_| ApiError::from(Problem::bad_request("agent must be a user id")))?;
    let filter = Filter { queue, agent };
    let failed = |e: CenterError| match e {
        CenterError::Unknown(e) => ApiError::from(e),
        other => ApiError::from(anyhow::Error::new(other)),
    };
    let scope = filter.scope();
    let hours =
        deps.events.hours(&principal.tenant_id, &scope, (range.from, range.to)).await.map_err(failed)?;
    // Queue depth over time starts from the depth at `from`: a bounded read, not the events.
    let depth_at_from =
        deps.events.depth_before(&principal.tenant_id, &scope, range.from).await.map_err(failed)?;
    Ok(json_response(StatusCode::OK, &figures(range, &filter, &hours, depth_at_from)))
}
