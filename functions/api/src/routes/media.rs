//! Media through the API (docs/console-api.md): an inbound message's media downloaded with the
//! tenant's token, and files uploaded to Graph for sending. The tenant's WhatsApp token never
//! leaves the function; the page gets bytes or a media id.
//!
//! Sizes: the Cloud API's limit per kind (image 5 MB, audio and video 16 MB, sticker 500 KB,
//! document 100 MB), and below them what one Lambda invocation carries: 6 MB of payload, in
//! which API Gateway base64-encodes binary bodies, so [`MAX_RELAY_BYTES`] either way.

use lambda_http::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use shared::app::secrets::open_tenant_secret;
use shared::domain::ports::{CloudApi as _, CloudApiError, ConnectionStore, MediaError, MediaFile, Purpose};
use shared::domain::tenant::WhatsAppConnection;
use shared::domain::{Secret, TenantId};
use shared::lambda::http::{json_response, Problem};

use crate::errors::ApiError;
use crate::{target, Adapters, Ctx, Deps};

pub use crate::operation::MAX_RELAY_BYTES;

const MB: usize = 1024 * 1024;

/// The MIME types the Cloud API takes, with their kind and size limit (Meta's media limits).
const TYPES: &[(&str, &str, usize)] = &[
    ("audio/aac", "audio", 16 * MB),
    ("audio/amr", "audio", 16 * MB),
    ("audio/mpeg", "audio", 16 * MB),
    ("audio/mp4", "audio", 16 * MB),
    ("audio/ogg", "audio", 16 * MB),
    ("text/plain", "document", 100 * MB),
    ("application/pdf", "document", 100 * MB),
    ("application/msword", "document", 100 * MB),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "document", 100 * MB),
    ("application/vnd.ms-excel", "document", 100 * MB),
    ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "document", 100 * MB),
    ("application/vnd.ms-powerpoint", "document", 100 * MB),
    ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "document", 100 * MB),
    ("image/jpeg", "image", 5 * MB),
    ("image/png", "image", 5 * MB),
    ("image/webp", "sticker", 500 * 1024),
    ("video/mp4", "video", 16 * MB),
    ("video/3gpp", "video", 16 * MB),
];

/// The answer of `POST /v1/media`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Uploaded {
    /// The media id to send with (`{"type": "image", "image": {"id": ...}}`), valid 30 days.
    pub id: String,
    /// The MIME type as uploaded.
    pub mime_type: String,
    /// The message type it can be sent as: `image`, `audio`, `video`, `document` or `sticker`.
    pub kind: &'static str,
    /// Bytes.
    pub size: usize,
}

/// The kind and limit of a MIME type (parameters such as `; codecs=opus` ignored).
fn kind_of(mime: &str) -> Option<(&'static str, &'static str, usize)> {
    let essence = mime.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    TYPES.iter().find(|(m, _, _)| *m == essence).copied()
}

/// The tenant's WhatsApp connection and its token.
async fn connection<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
) -> Result<(WhatsAppConnection, Secret), ApiError> {
    let connection = deps.connections.whatsapp_connection(tenant).await?.ok_or_else(|| {
        ApiError::from(Problem::conflict("connect a WhatsApp number first (PUT /v1/whatsapp)"))
    })?;
    let token =
        open_tenant_secret(&deps.vault, tenant, Purpose::WhatsAppAccessToken, &connection.access_token)
            .await?;
    Ok((connection, token))
}

/// The problem for a Graph failure of a media call.
fn graph_problem(error: MediaError) -> ApiError {
    match error {
        MediaError::NotFound => {
            Problem::not_found("no such media (media ids of webhooks expire after 7 days)").into()
        }
        MediaError::TooLarge(size) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "media-too-large",
            "Media too large",
            format!("the media is {size} bytes; the API relays at most {MAX_RELAY_BYTES}"),
        )
        .into(),
        MediaError::Cloud(CloudApiError::Meta { error, .. }) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "media-rejected",
            "Meta refused the media",
            format!(
                "Meta answered code {}: {}",
                error.code,
                error.message.or(error.title).unwrap_or_default()
            ),
        )
        .into(),
        other => {
            crate::errors::graph_unavailable("Media call", &other, "Meta could not be reached; try again")
        }
    }
}

/// `GET /v1/media/{media_id}`: the media's bytes with Graph's content type.
///
/// # Errors
/// 404 for an unknown, expired or foreign media id; 409 without a WhatsApp connection; 422 over
/// [`MAX_RELAY_BYTES`]; 503 when Graph is unavailable.
pub async fn download<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let tenant = &ctx.tenant()?.tenant_id;
    let media_id = ctx.param("media_id");
    if media_id.is_empty() || media_id.len() > 32 || !media_id.chars().all(|c| c.is_ascii_digit()) {
        return Err(Problem::not_found("no such media").into());
    }
    let (connection, token) = connection(deps, tenant).await?;
    let file = deps
        .cloud
        .download_media(media_id, &connection.phone_number_id, &token, MAX_RELAY_BYTES)
        .await
        .map_err(graph_problem)?;
    let mut response = Response::new(Body::Binary(file.bytes));
    let content_type = HeaderValue::from_str(&file.mime_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    // Graph's URL lives 5 minutes: the browser may keep the bytes as long, for this user only.
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("private, max-age=300"));
    Ok(response)
}

/// `POST /v1/media?filename=`: the raw file in the body, its MIME type in `Content-Type`.
///
/// # Errors
/// 400 for an empty body; 413 over the kind's limit or [`MAX_RELAY_BYTES`]; 415 for a type the
/// Cloud API does not take; 409 without a WhatsApp connection; 422 when Meta refuses the file.
pub async fn upload<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let mime = ctx.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Some((essence, kind, limit)) = kind_of(mime) else {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "Content-Type must be a type the Cloud API takes: audio/aac, audio/amr, audio/mpeg, audio/mp4, \
             audio/ogg, text/plain, application/pdf, Word, Excel or PowerPoint documents, image/jpeg, \
             image/png, image/webp (stickers), video/mp4 or video/3gpp",
        )
        .into());
    };
    if ctx.body.is_empty() {
        return Err(Problem::bad_request("the body must be the file").into());
    }
    let cap = limit.min(MAX_RELAY_BYTES);
    if ctx.body.len() > cap {
        let why = if cap == limit {
            format!("the Cloud API takes {kind} files up to {limit} bytes")
        } else {
            format!("the API relays files up to {MAX_RELAY_BYTES} bytes (send larger ones by link)")
        };
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            why,
        )
        .into());
    }
    let filename = crate::routes::inbox::text(ctx.query, "filename", 200)?.unwrap_or_else(|| kind.to_owned());
    let (connection, token) = connection(deps, &principal.tenant_id).await?;
    let file = MediaFile { mime_type: essence.to_owned(), bytes: ctx.body.to_vec() };
    let id = deps
        .cloud
        .upload_media(&connection.phone_number_id, &token, &file, &filename)
        .await
        .map_err(graph_problem)?;
    deps.audit(principal, "media.upload", target("media", id.as_str()), |e| {
        e.with_count(ctx.body.len() as u64)
    })
    .await;
    Ok(json_response(
        StatusCode::CREATED,
        &Uploaded { id, mime_type: essence.to_owned(), kind, size: ctx.body.len() },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_cloud_api_and_ignore_parameters() {
        assert_eq!(kind_of("audio/ogg; codecs=opus").map(|k| k.1), Some("audio"));
        assert_eq!(kind_of("IMAGE/JPEG").map(|k| (k.1, k.2)), Some(("image", 5 * MB)));
        assert_eq!(kind_of("image/webp").map(|k| k.2), Some(500 * 1024));
        assert_eq!(kind_of("image/gif"), None);
        assert_eq!(kind_of(""), None);
    }
}
