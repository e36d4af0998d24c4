//! A media file as the Cloud API's media calls carry it ([`super::ports::CloudApi`]).

/// A media file: its MIME type and bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct MediaFile {
    /// The MIME type (Graph's `mime_type` / `Content-Type`).
    pub mime_type: String,
    /// The content.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for MediaFile {
    // A customer's file is personal data: never in a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaFile")
            .field("mime_type", &self.mime_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}
