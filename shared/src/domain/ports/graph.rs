//! The Graph API's ports: Lead Ads (fetching a lead) and the Cloud API (sending, media,
//! verification), re-exported by [`super`].

#[allow(clippy::wildcard_imports)]
use super::*;

// ---------------------------------------------------------------------------------------------
// Graph API: Lead Ads
// ---------------------------------------------------------------------------------------------

/// A lead as fetched: typed, and the JSON exactly as Graph returned it.
#[derive(Debug, Clone)]
pub struct FetchedLead {
    /// The typed lead.
    pub lead: crate::domain::whatsapp::GraphLead,
    /// The response body.
    pub raw: String,
}

/// Errors of [`LeadSource::fetch_lead`].
#[derive(Debug, thiserror::Error)]
pub enum FetchLeadError {
    /// Graph answered with an error (unknown lead, token without `leads_retrieval`, …).
    #[error("Graph refused: HTTP {status}, code {code}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Meta error code.
        code: i64,
    },
    /// Graph could not be reached or failed (5xx, timeout).
    #[error("Graph unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else (an unreadable response).
    #[error("Graph lead fetch failed")]
    Unknown(#[from] anyhow::Error),
}

/// Where leads are fetched from (the Graph API).
pub trait LeadSource: Send + Sync {
    /// `GET /<version>/<leadgen_id>` with the Page token.
    ///
    /// # Errors
    /// [`FetchLeadError`].
    fn fetch_lead(
        &self,
        leadgen_id: &str,
        page_token: &crate::domain::secret::Secret,
    ) -> impl Future<Output = Result<FetchedLead, FetchLeadError>> + Send;

    /// `GET /<version>/me?fields=id` with `token`: the id of the object the token acts as. For a
    /// Page access token that is the Page; for a user token, the user.
    ///
    /// # Errors
    /// [`CloudApiError`] (code 190 for a token Graph does not accept).
    fn token_owner(
        &self,
        token: &crate::domain::secret::Secret,
    ) -> impl Future<Output = Result<String, CloudApiError>> + Send;
}

// ---------------------------------------------------------------------------------------------
// Graph API: the Cloud API (sending, templates)
// ---------------------------------------------------------------------------------------------

/// Errors of [`CloudApi`].
#[derive(Debug, thiserror::Error)]
pub enum CloudApiError {
    /// Meta answered with an error body: decide by its code (see `outbound::classify`).
    #[error("Meta refused: code {}", .error.code)]
    Meta {
        /// The HTTP status (not to branch on).
        http_status: u16,
        /// The error as Meta gave it.
        error: crate::domain::whatsapp::MetaError,
    },
    /// Graph could not be reached (the request never left), or failed without an error body
    /// where that cannot mean it acted: retry.
    #[error("Graph unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// The request was sent, but no answer says what Meta did with it (a timeout or a reset
    /// after the request was written, a 2xx that does not parse or names no message, a gateway
    /// error without Meta's body): Meta may have taken it. A send must not be repeated.
    #[error("Graph's answer was lost or unreadable: the outcome is unknown")]
    OutcomeUnknown(#[source] anyhow::Error),
    /// Anything else (a request that could not be made).
    #[error("Graph call failed")]
    Unknown(#[from] anyhow::Error),
}

pub use crate::domain::media::MediaFile;

/// Errors of [`CloudApi::download_media`] and [`CloudApi::upload_media`].
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Graph knows no such media for this number and token.
    #[error("no such media")]
    NotFound,
    /// Larger than the caller's limit (bytes, as Graph reports or as received).
    #[error("the media is {0} bytes, over the limit")]
    TooLarge(u64),
    /// Graph answered a download URL outside Meta's hosts: the token is not sent there.
    #[error("Graph answered a download URL outside Meta's hosts")]
    UntrustedUrl,
    /// Any other Graph answer or failure (Meta's refusal of an upload, unavailability).
    #[error(transparent)]
    Cloud(#[from] CloudApiError),
}

impl From<anyhow::Error> for MediaError {
    fn from(error: anyhow::Error) -> Self {
        Self::Cloud(CloudApiError::Unknown(error))
    }
}

/// The Cloud API, as the send path and the template sync use it.
pub trait CloudApi: Send + Sync {
    /// An inbound message's media: `GET /<media_id>?phone_number_id=<id>` for its `url`, then
    /// that URL with the token (Graph's or Meta's CDN hosts only), at most `max_bytes` read.
    ///
    /// # Errors
    /// [`MediaError::NotFound`], [`MediaError::TooLarge`], [`MediaError::UntrustedUrl`],
    /// [`MediaError::Cloud`].
    fn download_media(
        &self,
        media_id: &str,
        phone_number_id: &str,
        token: &crate::domain::secret::Secret,
        max_bytes: usize,
    ) -> impl Future<Output = Result<MediaFile, MediaError>> + Send;

    /// `POST /<phone_number_id>/media` (multipart): the media id to send the file with.
    ///
    /// # Errors
    /// [`MediaError::Cloud`] (Meta's refusal, e.g. 131053, is [`CloudApiError::Meta`]).
    fn upload_media(
        &self,
        phone_number_id: &str,
        token: &crate::domain::secret::Secret,
        file: &MediaFile,
        filename: &str,
    ) -> impl Future<Output = Result<String, MediaError>> + Send;

    /// `POST /<version>/<phone_number_id>/messages`; the wamid Meta assigned (none for
    /// mark-as-read).
    ///
    /// # Errors
    /// [`CloudApiError::Meta`] when Meta answered with an error; [`CloudApiError::Unavailable`]
    /// only when Meta cannot have received the request; [`CloudApiError::OutcomeUnknown`] when
    /// it may have (never resend those); [`CloudApiError::Unknown`].
    fn send_message(
        &self,
        phone_number_id: &str,
        token: &crate::domain::secret::Secret,
        body: &serde_json::Value,
    ) -> impl Future<Output = Result<Option<String>, CloudApiError>> + Send;

    /// Every template of a WhatsApp Business Account (`GET /<waba_id>/message_templates`, all
    /// pages), as Meta returns them.
    ///
    /// # Errors
    /// [`CloudApiError`].
    fn message_templates(
        &self,
        waba_id: &str,
        token: &crate::domain::secret::Secret,
    ) -> impl Future<Output = Result<Vec<serde_json::Value>, CloudApiError>> + Send;

    /// `GET /<version>/<phone_number_id>?fields=id,display_phone_number,verified_name` with
    /// `token`: the number as that token sees it. Graph answers code 190 for a token it does not
    /// accept and code 100 for a number that does not exist or the token may not read.
    ///
    /// # Errors
    /// [`CloudApiError`].
    fn phone_number(
        &self,
        phone_number_id: &str,
        token: &crate::domain::secret::Secret,
    ) -> impl Future<Output = Result<GraphPhoneNumber, CloudApiError>> + Send;

    /// Every number of a WhatsApp Business Account (`GET /<waba_id>/phone_numbers`, all pages)
    /// as `token` sees them.
    ///
    /// # Errors
    /// [`CloudApiError`].
    fn waba_phone_numbers(
        &self,
        waba_id: &str,
        token: &crate::domain::secret::Secret,
    ) -> impl Future<Output = Result<Vec<GraphPhoneNumber>, CloudApiError>> + Send;
}

/// A business phone number as Graph describes it (`GET /<phone_number_id>`, or one entry of
/// `GET /<waba_id>/phone_numbers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphPhoneNumber {
    /// The phone number id.
    pub id: String,
    /// The number as Meta displays it (e.g. `+1 555-010-0000`).
    #[serde(default)]
    pub display_phone_number: Option<String>,
    /// The business name Meta verified for it.
    #[serde(default)]
    pub verified_name: Option<String>,
}
