//! Media on the sandbox Graph API, as the Cloud API behaves:
//!
//! - `POST /<version>/<phone_number_id>/media` (multipart: `messaging_product`, `type`, `file`)
//!   with the number's token stores the file and answers `{"id"}`;
//! - `GET /<version>/<media_id>[?phone_number_id=]` with the token of the number that holds it
//!   answers `{messaging_product, url, mime_type, sha256, file_size, id}` (another number, with
//!   `phone_number_id`, or an unknown id: code 100; an unknown token: 190);
//! - `GET <url>` (`/_sandbox/graph/_media/<id>`) answers the bytes with their `Content-Type`,
//!   only with the token (401 without, as Meta's CDN refuses a download without it).
//!
//! `POST /_sandbox/media` `{phone_number_id, mime_type, data_base64}` puts a file there as if a
//! customer had sent it (its id then goes into an inbound webhook) and answers `{"id"}`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{bad_request, graph_error, invalid_token, unknown_object, Sandbox, State_};

/// A file the sandbox holds.
#[derive(Debug, Clone)]
pub struct StoredMedia {
    /// The number it belongs to.
    pub phone_number_id: String,
    /// Its MIME type.
    pub mime_type: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// `POST /_sandbox/media`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddMedia {
    phone_number_id: String,
    mime_type: String,
    data_base64: String,
}

/// The path prefix of download URLs, below `/_sandbox/graph`.
pub const DOWNLOAD_PREFIX: &str = "_media";

/// A new media id: digits, as Meta's.
fn new_id(state: &State_) -> String {
    let random = crate::random_hex(4).ok().and_then(|h| u64::from_str_radix(&h, 16).ok()).unwrap_or(0);
    format!("{}{:010}", 7_000_000 + state.media.len(), random % 10_000_000_000)
}

impl State_ {
    /// The number whose token this is.
    fn number_of_token(&self, token: Option<&str>) -> Option<String> {
        let token = token?;
        self.numbers.iter().find(|n| n.access_token == token).map(|n| n.phone_number_id.clone())
    }

    /// `GET /<media_id>`: `None` when no media has this id (the caller answers as for any id).
    pub(super) fn media_info(
        &self,
        id: &str,
        query_phone: Option<&str>,
        token: Option<&str>,
        host: &str,
    ) -> Option<(StatusCode, Value)> {
        let media = self.media.get(id)?;
        if !self.knows_token(token) {
            return Some(invalid_token());
        }
        let owner = self.number_of_token(token);
        if owner.as_deref() != Some(media.phone_number_id.as_str())
            || query_phone.is_some_and(|phone| phone != media.phone_number_id)
        {
            return Some(unknown_object(id));
        }
        let sha256 = shared::kernel::digest::sha256(&media.bytes);
        Some((
            StatusCode::OK,
            json!({
                "messaging_product": "whatsapp",
                "url": format!("http://{host}/_sandbox/graph/{DOWNLOAD_PREFIX}/{id}"),
                "mime_type": media.mime_type,
                "sha256": STANDARD.encode(sha256),
                "file_size": media.bytes.len(),
                "id": id,
            }),
        ))
    }

    /// `POST /<phone_number_id>/media`.
    pub(super) fn upload(
        &mut self,
        phone_number_id: &str,
        token: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> (StatusCode, Value) {
        if !self.knows_token(token) {
            return invalid_token();
        }
        if self.number_of_token(token).as_deref() != Some(phone_number_id) {
            return unknown_object(phone_number_id);
        }
        let Some(parts) = multipart(content_type, body) else {
            return (StatusCode::BAD_REQUEST, graph_error(100, "(#100) The parameter file is required."));
        };
        let field = |name: &str| parts.iter().find(|p| p.name == name);
        if field("messaging_product").map(|p| p.data.as_slice()) != Some(b"whatsapp".as_slice()) {
            return (
                StatusCode::BAD_REQUEST,
                graph_error(100, "(#100) The parameter messaging_product is required."),
            );
        }
        // A file part without a filename is a plain field to Graph: no file at all.
        let Some(file) = field("file").filter(|f| f.filename.is_some()) else {
            return (StatusCode::BAD_REQUEST, graph_error(100, "(#100) The parameter file is required."));
        };
        let declared = field("type").map(|p| String::from_utf8_lossy(&p.data).into_owned());
        let mime_type = declared.or_else(|| file.content_type.clone()).unwrap_or_default();
        // Meta checks the content against the type: a PNG must start like one (131053).
        let looks_right = match mime_type.as_str() {
            "image/png" => file.data.starts_with(b"\x89PNG"),
            "image/jpeg" => file.data.starts_with(&[0xff, 0xd8]),
            _ => !file.data.is_empty(),
        };
        if !looks_right {
            return (
                StatusCode::BAD_REQUEST,
                graph_error(131_053, "Media upload error: the file does not match its type"),
            );
        }
        let id = new_id(self);
        self.media.insert(
            id.clone(),
            StoredMedia { phone_number_id: phone_number_id.to_owned(), mime_type, bytes: file.data.clone() },
        );
        (StatusCode::OK, json!({"id": id}))
    }
}

/// One part of a multipart body.
#[derive(Debug)]
struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

/// The parts of a `multipart/form-data` body, or `None` when it is not one.
fn multipart(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let boundary = content_type.split(';').find_map(|p| p.trim().strip_prefix("boundary="))?;
    let delimiter = format!("--{}", boundary.trim_matches('"'));
    let mut parts = Vec::new();
    for chunk in split(body, delimiter.as_bytes()).into_iter().skip(1) {
        if chunk.starts_with(b"--") {
            break;
        }
        let chunk = chunk.strip_prefix(b"\r\n").unwrap_or(chunk);
        let split_at = chunk.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&chunk[..split_at]).into_owned();
        let data = &chunk[split_at + 4..];
        let data = data.strip_suffix(b"\r\n").unwrap_or(data);
        // The attributes are on the Content-Disposition line only (the next line is the part's type).
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .unwrap_or_default();
        let attribute = |name: &str| {
            disposition.split(';').find_map(|p| {
                p.trim().strip_prefix(&format!("{name}=\"")).map(|v| v.trim_end_matches('"').to_owned())
            })
        };
        let content_type = head.lines().find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                .map(|(_, v)| v.trim().to_owned())
        });
        parts.push(Part {
            name: attribute("name")?,
            filename: attribute("filename"),
            content_type,
            data: data.to_vec(),
        });
    }
    Some(parts)
}

/// `body` split at each `delimiter`.
fn split<'a>(body: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + delimiter.len() <= body.len() {
        if &body[i..i + delimiter.len()] == delimiter {
            pieces.push(&body[start..i]);
            i += delimiter.len();
            start = i;
        } else {
            i += 1;
        }
    }
    pieces.push(&body[start..]);
    pieces
}

/// The media requests among Graph calls: `Some((status, answer, body as recorded))` for an upload
/// or for `GET /<id>` of a media id the sandbox holds, `None` for anything else.
pub(super) fn answer(
    sandbox: &Sandbox,
    method: &axum::http::Method,
    path: &str,
    token: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<(StatusCode, Value, Value)> {
    let mut state = sandbox.state.lock().ok()?;
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    let segments: Vec<&str> = route.split('/').filter(|s| !s.is_empty()).collect();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    match (method, segments.as_slice()) {
        (&axum::http::Method::POST, [_version, phone_number_id, "media"]) => {
            let (status, answer) = state.upload(phone_number_id, token, &header("content-type"), body);
            // The outbox shows what was uploaded, not the bytes.
            let recorded = json!({"multipart": true, "bytes": body.len()});
            Some((status, answer, recorded))
        }
        (&axum::http::Method::GET, [_version, id]) => {
            let phone = query.split('&').find_map(|p| p.strip_prefix("phone_number_id="));
            let (status, answer) = state.media_info(id, phone, token, &header("host"))?;
            Some((status, answer, Value::Null))
        }
        _ => None,
    }
}

/// `GET /_sandbox/graph/_media/<id>`: the bytes, for the holder's token only.
pub(super) async fn download(
    State(sandbox): State<Sandbox>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let token =
        headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let Ok(state) = sandbox.state.lock() else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
    let Some(media) = state.media.get(&id) else { return StatusCode::NOT_FOUND.into_response() };
    if state.number_of_token(token).as_deref() != Some(media.phone_number_id.as_str()) {
        return (StatusCode::UNAUTHORIZED, Json(graph_error(190, "Invalid OAuth access token")))
            .into_response();
    }
    ([("content-type", media.mime_type.clone())], media.bytes.clone()).into_response()
}

/// `POST /_sandbox/media`.
pub(super) async fn add(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let add: AddMedia = match serde_json::from_slice(&body) {
        Ok(add) => add,
        Err(e) => return bad_request(format!("expected {{phone_number_id, mime_type, data_base64}}: {e}")),
    };
    let Ok(bytes) = STANDARD.decode(add.data_base64.as_bytes()) else {
        return bad_request("data_base64 must be base64".to_owned());
    };
    let Ok(mut state) = sandbox.state.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let id = new_id(&state);
    state.media.insert(
        id.clone(),
        StoredMedia { phone_number_id: add.phone_number_id, mime_type: add.mime_type, bytes },
    );
    (StatusCode::CREATED, Json(json!({"id": id}))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multipart_body_parses_into_its_fields_and_file() {
        let body = b"--b1\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n--b1\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x00\r\n--b1--\r\n";
        let parts = multipart("multipart/form-data; boundary=b1", body).expect("multipart");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].data, b"whatsapp");
        assert_eq!(parts[1].filename.as_deref(), Some("a.png"));
        assert_eq!(parts[1].content_type.as_deref(), Some("image/png"));
        assert_eq!(parts[1].data, b"\x89PNG\r\n\x00");
        assert!(multipart("application/json", body).is_none());
    }
}
