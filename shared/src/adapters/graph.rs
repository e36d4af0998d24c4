//! The Graph API over HTTPS: Lead Ads retrieval ([`LeadSource`]), sending and templates
//! ([`CloudApi`]).
//!
//! TLS is rustls on aws-lc-rs, the provider the AWS SDK already links, so the functions carry
//! one crypto library. The token travels in the `Authorization` header, never in a URL that a
//! proxy or log could keep.

use std::time::Duration;

use anyhow::Context as _;

use crate::domain::ports::{
    CloudApi, CloudApiError, FetchLeadError, FetchedLead, GraphPhoneNumber, LeadSource, MediaError, MediaFile,
};
use crate::domain::whatsapp::GraphLead;
use crate::domain::Secret;

/// The fields of a lead Leadline asks for (consent checkboxes are not in `field_data`).
const LEAD_FIELDS: &str = "id,created_time,ad_id,adgroup_id,form_id,field_data,custom_disclaimer_responses";

/// A Graph API client.
#[derive(Debug, Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    base_url: String,
    version: String,
}

impl GraphClient {
    /// A client for `base_url` (e.g. `https://graph.facebook.com`) and API `version` (`v23.0`).
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(base_url: &str, version: &str) -> anyhow::Result<Self> {
        let http = super::http::client_builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3))
            .build()
            .context("building the Graph HTTP client")?;
        Ok(Self { http, base_url: base_url.trim_end_matches('/').to_owned(), version: version.to_owned() })
    }

    /// `<base>/<version>/<path>`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}/{}", self.base_url, self.version, path.trim_start_matches('/'))
    }
}

impl LeadSource for GraphClient {
    async fn fetch_lead(&self, leadgen_id: &str, page_token: &Secret) -> Result<FetchedLead, FetchLeadError> {
        if leadgen_id.is_empty() || !leadgen_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(FetchLeadError::Refused { status: 400, code: 100 });
        }
        let response = self
            .http
            .get(self.url(leadgen_id))
            .query(&[("fields", LEAD_FIELDS)])
            .bearer_auth(page_token.expose())
            .send()
            .await
            .map_err(|e| {
                FetchLeadError::Unavailable(anyhow::Error::new(e).context("Graph request failed"))
            })?;
        let status = response.status();
        let body = response.text().await.map_err(|e| {
            FetchLeadError::Unavailable(anyhow::Error::new(e).context("reading the Graph response"))
        })?;
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(FetchLeadError::Unavailable(anyhow::anyhow!("Graph answered HTTP {status}")));
        }
        if !status.is_success() {
            let code = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"]["code"].as_i64())
                .unwrap_or_default();
            return Err(FetchLeadError::Refused { status: status.as_u16(), code });
        }
        let lead: GraphLead =
            serde_json::from_str(&body).context("Graph returned a lead that does not parse")?;
        Ok(FetchedLead { lead, raw: body })
    }

    async fn token_owner(&self, token: &Secret) -> Result<String, CloudApiError> {
        let response = self
            .http
            .get(self.url("me"))
            .query(&[("fields", "id")])
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(unreachable_graph)?;
        let answer = graph_answer(response).await?;
        answered_id(&answer, "/me").map_err(CloudApiError::Unknown)
    }
}

/// Reads a Graph answer: the JSON of a success, or the Meta error of a failure.
async fn graph_answer(response: reqwest::Response) -> Result<serde_json::Value, CloudApiError> {
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| CloudApiError::Unavailable(anyhow::Error::new(e).context("reading the Graph answer")))?;
    let body: Option<serde_json::Value> = serde_json::from_str(&text).ok();
    if status.is_success() {
        return body
            .ok_or_else(|| CloudApiError::Unknown(anyhow::anyhow!("Graph answered {status} without JSON")));
    }
    let error = body
        .as_ref()
        .and_then(|b| b.get("error"))
        .and_then(|e| serde_json::from_value::<crate::domain::whatsapp::MetaError>(e.clone()).ok());
    match error {
        Some(error) => Err(CloudApiError::Meta { http_status: status.as_u16(), error }),
        None => Err(CloudApiError::Unavailable(anyhow::anyhow!(
            "Graph answered HTTP {status} without an error body"
        ))),
    }
}

/// The `id` a Graph answer names (a created or looked-up object); `what` says which call, for the
/// error when Meta left it out.
fn answered_id(answer: &serde_json::Value, what: &str) -> Result<String, anyhow::Error> {
    answer["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("Graph answered {what} without an id"))
}

fn unreachable_graph(e: reqwest::Error) -> CloudApiError {
    CloudApiError::Unavailable(anyhow::Error::new(e).context("Graph request failed"))
}

fn path_id(id: &str) -> Result<&str, CloudApiError> {
    if !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()) {
        Ok(id)
    } else {
        Err(CloudApiError::Unknown(anyhow::anyhow!("a Meta id must be digits")))
    }
}

/// Meta's hosts a media download URL may point at (besides Graph's own base URL): the token
/// travels with the download, so it goes nowhere else.
const MEDIA_HOSTS: &[&str] = &["fbsbx.com", "fbcdn.net", "whatsapp.net", "facebook.com"];

impl GraphClient {
    /// True when a media URL Graph answered may receive the token: Graph's own base, or HTTPS
    /// on one of [`MEDIA_HOSTS`] (or a subdomain).
    fn trusted_media_url(&self, url: &str) -> bool {
        if url.starts_with(&format!("{}/", self.base_url)) {
            return true;
        }
        reqwest::Url::parse(url).is_ok_and(|u| {
            u.scheme() == "https"
                && u.host_str().is_some_and(|host| {
                    MEDIA_HOSTS.iter().any(|m| host == *m || host.ends_with(&format!(".{m}")))
                })
        })
    }
}

/// A Meta error meaning "no such object" (code 100 with 400/404, as Graph answers an unknown or
/// foreign id), as [`MediaError::NotFound`].
fn media_error(error: CloudApiError) -> MediaError {
    match error {
        CloudApiError::Meta { error, .. } if error.code == 100 => MediaError::NotFound,
        other => MediaError::Cloud(other),
    }
}

/// A filename safe inside a multipart header.
fn header_safe(filename: &str) -> String {
    let cleaned: String =
        filename.chars().filter(|c| !c.is_control() && !matches!(c, '"' | '\\')).take(200).collect();
    if cleaned.trim().is_empty() {
        "file".to_owned()
    } else {
        cleaned
    }
}

impl CloudApi for GraphClient {
    async fn download_media(
        &self,
        media_id: &str,
        phone_number_id: &str,
        token: &Secret,
        max_bytes: usize,
    ) -> Result<MediaFile, MediaError> {
        let response = self
            .http
            .get(self.url(path_id(media_id).map_err(|_| MediaError::NotFound)?))
            .query(&[("phone_number_id", path_id(phone_number_id)?)])
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(unreachable_graph)?;
        let info = graph_answer(response).await.map_err(media_error)?;
        let limit = u64::try_from(max_bytes).unwrap_or(u64::MAX);
        if let Some(size) = info["file_size"].as_u64().filter(|size| *size > limit) {
            return Err(MediaError::TooLarge(size));
        }
        let url =
            info["url"].as_str().ok_or_else(|| anyhow::anyhow!("Graph answered a media id without url"))?;
        if !self.trusted_media_url(url) {
            return Err(MediaError::UntrustedUrl);
        }
        let mut response =
            self.http.get(url).bearer_auth(token.expose()).send().await.map_err(unreachable_graph)?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(MediaError::NotFound);
        }
        if !status.is_success() {
            return Err(MediaError::Cloud(CloudApiError::Unavailable(anyhow::anyhow!(
                "the media download answered HTTP {status}"
            ))));
        }
        if let Some(length) = response.content_length().filter(|length| *length > limit) {
            return Err(MediaError::TooLarge(length));
        }
        let mime_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .or_else(|| info["mime_type"].as_str())
            .unwrap_or("application/octet-stream")
            .to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable_graph)? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > max_bytes {
                return Err(MediaError::TooLarge(u64::try_from(bytes.len()).unwrap_or(u64::MAX)));
            }
        }
        Ok(MediaFile { mime_type, bytes })
    }

    async fn upload_media(
        &self,
        phone_number_id: &str,
        token: &Secret,
        file: &MediaFile,
        filename: &str,
    ) -> Result<String, MediaError> {
        let url = self.url(&format!("{}/media", path_id(phone_number_id)?));
        let boundary = format!(
            "leadline-{}",
            crate::kernel::hex::encode(&crate::kernel::random::bytes::<12>().map_err(anyhow::Error::new)?)
        );
        let mime = header_safe(&file.mime_type);
        let mut body = Vec::with_capacity(file.bytes.len() + 512);
        for (name, value) in [("messaging_product", "whatsapp"), ("type", mime.as_str())] {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: {mime}\r\n\r\n",
                header_safe(filename)
            )
            .as_bytes(),
        );
        body.extend_from_slice(&file.bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let response = self
            .http
            .post(url)
            .bearer_auth(token.expose())
            .header(reqwest::header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .map_err(unreachable_graph)?;
        let answer = graph_answer(response).await?;
        Ok(answered_id(&answer, "an upload")?)
    }

    async fn send_message(
        &self,
        phone_number_id: &str,
        token: &Secret,
        body: &serde_json::Value,
    ) -> Result<Option<String>, CloudApiError> {
        let url = self.url(&format!("{}/messages", path_id(phone_number_id)?));
        let response =
            self.http.post(url).bearer_auth(token.expose()).json(body).send().await.map_err(|e| {
                // Only a failed connection proves the request never left; a timeout or a reset
                // after it was written may follow Meta taking the message.
                if e.is_connect() {
                    unreachable_graph(e)
                } else {
                    CloudApiError::OutcomeUnknown(anyhow::Error::new(e).context("Graph's answer was lost"))
                }
            })?;
        let status = response.status();
        let answer = graph_answer(response).await.map_err(|error| match error {
            CloudApiError::Meta { .. } => error,
            // A 2xx without JSON, an answer cut off, a proxy's error page: Meta may have acted.
            CloudApiError::Unavailable(e) | CloudApiError::Unknown(e) | CloudApiError::OutcomeUnknown(e) => {
                CloudApiError::OutcomeUnknown(e.context(format!("Graph answered HTTP {status} unreadably")))
            }
        })?;
        let wamid = answer["messages"][0]["id"].as_str().map(str::to_owned);
        if wamid.is_none() && body.get("status").is_none() {
            // A message to someone always gets an id: an answer without one says nothing.
            return Err(CloudApiError::OutcomeUnknown(anyhow::anyhow!(
                "Graph answered HTTP {status} without a message id"
            )));
        }
        Ok(wamid)
    }

    async fn message_templates(
        &self,
        waba_id: &str,
        token: &Secret,
    ) -> Result<Vec<serde_json::Value>, CloudApiError> {
        let mut url = self.url(&format!("{}/message_templates", path_id(waba_id)?));
        let mut templates = Vec::new();
        // Meta pages with `paging.next` (a full URL); a bound keeps a broken cursor from looping.
        for _ in 0..100 {
            let response = self
                .http
                .get(&url)
                .query(&[("limit", "100")])
                .bearer_auth(token.expose())
                .send()
                .await
                .map_err(unreachable_graph)?;
            let page = graph_answer(response).await?;
            templates.extend(page["data"].as_array().cloned().unwrap_or_default());
            match page["paging"]["next"].as_str() {
                Some(next) if next.starts_with(&self.base_url) => url = next.to_owned(),
                _ => return Ok(templates),
            }
        }
        Ok(templates)
    }

    async fn phone_number(
        &self,
        phone_number_id: &str,
        token: &Secret,
    ) -> Result<GraphPhoneNumber, CloudApiError> {
        let response = self
            .http
            .get(self.url(path_id(phone_number_id)?))
            .query(&[("fields", NUMBER_FIELDS)])
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(unreachable_graph)?;
        let answer = graph_answer(response).await?;
        serde_json::from_value(answer)
            .map_err(|e| CloudApiError::Unknown(anyhow::Error::new(e).context("Graph phone number")))
    }

    async fn waba_phone_numbers(
        &self,
        waba_id: &str,
        token: &Secret,
    ) -> Result<Vec<GraphPhoneNumber>, CloudApiError> {
        let mut url = self.url(&format!("{}/phone_numbers", path_id(waba_id)?));
        let mut numbers = Vec::new();
        // A WABA has a handful of numbers; the bound keeps a broken cursor from looping.
        for _ in 0..20 {
            let response = self
                .http
                .get(&url)
                .query(&[("fields", NUMBER_FIELDS), ("limit", "100")])
                .bearer_auth(token.expose())
                .send()
                .await
                .map_err(unreachable_graph)?;
            let page = graph_answer(response).await?;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            numbers.extend(data.into_iter().filter_map(|n| serde_json::from_value(n).ok()));
            match page["paging"]["next"].as_str() {
                Some(next) if next.starts_with(&self.base_url) => url = next.to_owned(),
                _ => return Ok(numbers),
            }
        }
        Ok(numbers)
    }
}

/// The fields of a phone number Leadline asks for when verifying a connection.
const NUMBER_FIELDS: &str = "id,display_phone_number,verified_name";
