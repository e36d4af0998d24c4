//! Message templates as synced from Meta, the pre-flight of a template message, and the [`TemplateStore`] port.

use super::*;

/// A template as synced from Meta.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Template {
    /// Name.
    pub name: String,
    /// Language code.
    pub language: String,
    /// `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, `DISABLED`…
    pub status: String,
    /// `MARKETING`, `UTILITY`, `AUTHENTICATION`.
    pub category: String,
    /// Parameters its body takes (`{{1}}`, `{{name}}` …).
    pub body_parameters: usize,
    /// Parameters its header takes.
    pub header_parameters: usize,
    /// The components as Meta returned them.
    pub components: Value,
}

impl Template {
    /// Reads one entry of `GET /<waba_id>/message_templates`; `None` when it lacks a name or
    /// language.
    #[must_use]
    pub fn from_graph(entry: &Value) -> Option<Self> {
        let components = entry.get("components").cloned().unwrap_or(Value::Array(Vec::new()));
        let count = |kind: &str| {
            components
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| {
                    c.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case(kind))
                })
                .map(|c| match c.get("format").and_then(Value::as_str) {
                    // A media or location header takes exactly one parameter: the media itself.
                    Some(format) if !format.eq_ignore_ascii_case("TEXT") => 1,
                    _ => c.get("text").and_then(Value::as_str).map_or(0, placeholders),
                })
                .sum()
        };
        Some(Self {
            name: entry.get("name")?.as_str()?.to_owned(),
            language: entry.get("language")?.as_str()?.to_owned(),
            status: entry.get("status").and_then(Value::as_str).unwrap_or("UNKNOWN").to_owned(),
            category: entry.get("category").and_then(Value::as_str).unwrap_or("UNKNOWN").to_owned(),
            body_parameters: count("BODY"),
            header_parameters: count("HEADER"),
            components,
        })
    }

    /// Checks a message's use of this template (P22's alternative must itself be valid).
    ///
    /// # Errors
    /// A reason for the client.
    pub fn accepts(&self, used: &TemplateUse) -> Result<(), String> {
        if self.status != "APPROVED" {
            return Err(format!(
                "template {} ({}) is {}, not APPROVED",
                self.name, self.language, self.status
            ));
        }
        if used.body_parameters != self.body_parameters || used.header_parameters != self.header_parameters {
            return Err(format!(
                "template {} takes {} body and {} header parameters; the message gives {} and {}",
                self.name,
                self.body_parameters,
                self.header_parameters,
                used.body_parameters,
                used.header_parameters
            ));
        }
        Ok(())
    }
}

/// The distinct `{{…}}` placeholders of a template text.
pub(super) fn placeholders(text: &str) -> usize {
    let mut seen = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        if !name.is_empty() && !seen.contains(&name) {
            seen.push(name);
        }
        rest = &after[end + 2..];
    }
    seen.len()
}

/// Errors of [`TemplateStore`].
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The store failed.
    #[error("template store failed")]
    Unknown(#[from] anyhow::Error),
}

/// The tenant's message templates as last synced from Meta.
pub trait TemplateStore: Send + Sync {
    /// Replaces the tenant's templates with `templates` (those Meta no longer lists go).
    ///
    /// # Errors
    /// [`TemplateError::Unknown`].
    fn replace_templates(
        &self,
        tenant: &crate::domain::TenantId,
        templates: &[Template],
    ) -> impl std::future::Future<Output = Result<(), TemplateError>> + Send;

    /// One template by name and language.
    ///
    /// # Errors
    /// [`TemplateError::Unknown`].
    fn template(
        &self,
        tenant: &crate::domain::TenantId,
        name: &str,
        language: &str,
    ) -> impl std::future::Future<Output = Result<Option<Template>, TemplateError>> + Send;

    /// Every template of the tenant, by name and language.
    ///
    /// # Errors
    /// [`TemplateError::Unknown`].
    fn templates(
        &self,
        tenant: &crate::domain::TenantId,
    ) -> impl std::future::Future<Output = Result<Vec<Template>, TemplateError>> + Send;
}
