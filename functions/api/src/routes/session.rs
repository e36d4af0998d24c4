//! The refresh token's cookie (docs/console-api.md): refresh and logout take the token from the
//! body, else from the `leadline_refresh` cookie; a refused refresh and every logout clear it.
//! The session rules themselves are [`super::identity`]'s.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Deserialize;
use shared::domain::Secret;

use super::identity::{end_session, rotate};
use super::json_body;
use crate::edge::{clear_refresh_cookie, refresh_cookie};
use crate::errors::ApiError;
use crate::{Adapters, Ctx, Deps};

/// `POST /v1/auth/refresh` and `/v1/auth/logout`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    /// The refresh token; when absent, the `leadline_refresh` cookie's.
    #[serde(default)]
    pub refresh_token: Option<Secret>,
}

/// The refresh token presented: the body's, else the cookie's; true when from the cookie.
fn presented(ctx: &Ctx<'_>) -> Result<Option<(Secret, bool)>, ApiError> {
    let body: RefreshBody = json_body(ctx.body)?;
    Ok(match body.refresh_token {
        Some(token) => Some((token, false)),
        None => refresh_cookie(ctx.headers).map(|cookie| (Secret::new(cookie), true)),
    })
}

/// `POST /v1/auth/refresh`: new tokens, the refresh token rotated (in the cookie too).
///
/// # Errors
/// 400 for a bad body; 401 (the cookie cleared) for an invalid, expired, revoked or reused
/// refresh token (reuse revokes the session).
pub async fn refresh<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    match rotate(presented(&ctx)?, deps).await {
        Err(error) if error.0.status == StatusCode::UNAUTHORIZED.as_u16() => {
            let mut response = error.into_response();
            clear_refresh_cookie(&mut response);
            Ok(response)
        }
        other => other,
    }
}

/// `POST /v1/auth/logout`: 204, the session revoked and the cookie cleared.
///
/// # Errors
/// 400 for a bad body; 500 when the store fails.
pub async fn logout<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let mut response = end_session(presented(&ctx)?, deps).await?;
    clear_refresh_cookie(&mut response);
    Ok(response)
}
