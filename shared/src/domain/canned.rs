//! Canned responses: texts an agent inserts by shortcut, tenant-wide (kept by managers) or
//! personal (kept by their owner), with placeholders filled from the conversation at hand
//! ([`render`]) — and the [`CannedStore`] port that keeps them.
//!
//! A shortcut is unique within its scope: the tenant's shortcuts form one scope, each user's
//! personal shortcuts another. The store enforces it atomically (the shortcut is the response's
//! key), so two agents saving the same shortcut at once cannot both win.

use std::future::Future;

use serde::{Deserialize, Serialize};

use super::ids::{CannedId, TenantId, UserId};

/// The longest shortcut.
pub const MAX_SHORTCUT_CHARS: usize = 32;
/// The longest text.
pub const MAX_TEXT_CHARS: usize = 4096;
/// The longest title.
pub const MAX_TITLE_CHARS: usize = 100;
/// The most responses a listing returns per scope (tenant-wide, and the caller's own): a
/// listing is one bounded read however many there are.
pub const MAX_LISTED_PER_SCOPE: u16 = 500;

/// The placeholders a text may hold, as written between `{{` and `}}`.
pub const PLACEHOLDERS: [&str; 4] = ["contact.name", "contact.first_name", "agent.name", "tenant.name"];

/// Whose a canned response is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CannedScope {
    /// Everyone of the tenant uses it; managers and admins keep it.
    Tenant,
    /// Its owner's own.
    Personal,
}

/// A canned response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CannedResponse {
    /// Its id (`cr_<ulid>`).
    pub id: CannedId,
    /// What an agent types to find it: `[a-z0-9_-]{1,32}`, unique within its scope.
    pub shortcut: String,
    /// A label for pickers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The text, 1 to 4096 characters, with placeholders such as `{{contact.first_name}}`.
    pub text: String,
    /// Tenant-wide or personal.
    pub scope: CannedScope,
    /// The user whose personal response it is (absent for tenant-wide ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<UserId>,
    /// Created, epoch ms.
    pub created_at: i64,
    /// Last changed, epoch ms.
    pub updated_at: i64,
    /// Bumped by every change (optimistic concurrency); 1 when created.
    pub version: u64,
}

/// Why a field of a canned response was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCanned {
    /// The shortcut is not `[a-z0-9_-]{1,32}`.
    #[error("shortcut must be 1 to 32 of a-z, 0-9, _ and -")]
    Shortcut,
    /// The text is empty or too long.
    #[error("text must be 1 to 4096 characters")]
    Text,
    /// The title is empty or too long.
    #[error("title must be 1 to 100 characters")]
    Title,
    /// A placeholder nobody fills.
    #[error(
        "unknown placeholder {{{{{0}}}}}; known: contact.name, contact.first_name, agent.name, tenant.name"
    )]
    UnknownPlaceholder(String),
}

/// Checks a shortcut (or a shortcut prefix, which may be empty).
///
/// # Errors
/// [`InvalidCanned::Shortcut`].
pub fn check_shortcut(shortcut: &str, allow_empty: bool) -> Result<(), InvalidCanned> {
    let ok = (allow_empty || !shortcut.is_empty())
        && shortcut.len() <= MAX_SHORTCUT_CHARS
        && shortcut.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(InvalidCanned::Shortcut)
    }
}

/// Checks a text: its length and that every placeholder is one of [`PLACEHOLDERS`].
///
/// # Errors
/// [`InvalidCanned::Text`]; [`InvalidCanned::UnknownPlaceholder`] naming the first unknown one.
pub fn check_text(text: &str) -> Result<(), InvalidCanned> {
    if text.trim().is_empty() || text.chars().count() > MAX_TEXT_CHARS {
        return Err(InvalidCanned::Text);
    }
    let mut unknown = None;
    substitute(text, |name| {
        if unknown.is_none() && !PLACEHOLDERS.contains(&name) {
            unknown = Some(name.to_owned());
        }
        String::new()
    });
    unknown.map_or(Ok(()), |name| Err(InvalidCanned::UnknownPlaceholder(name)))
}

/// Checks a title.
///
/// # Errors
/// [`InvalidCanned::Title`].
pub fn check_title(title: &str) -> Result<(), InvalidCanned> {
    if title.trim().is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        Err(InvalidCanned::Title)
    } else {
        Ok(())
    }
}

/// What the placeholders are filled with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderContext {
    /// The contact's name (empty when unknown).
    pub contact_name: String,
    /// The calling agent's name (empty for an API key).
    pub agent_name: String,
    /// The tenant's name.
    pub tenant_name: String,
}

/// `text` with its placeholders filled: `contact.first_name` is the first word of the contact's
/// name; an unknown placeholder (saved before it was refused) renders empty.
#[must_use]
pub fn render(text: &str, context: &RenderContext) -> String {
    substitute(text, |name| match name {
        "contact.name" => context.contact_name.trim().to_owned(),
        "contact.first_name" => context.contact_name.split_whitespace().next().unwrap_or_default().to_owned(),
        "agent.name" => context.agent_name.clone(),
        "tenant.name" => context.tenant_name.clone(),
        _ => String::new(),
    })
}

/// Replaces every `{{ name }}` of `text` with `fill(name)` (the name trimmed); a `{{` without a
/// closing `}}` stays as written.
fn substitute(text: &str, mut fill: impl FnMut(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(length) = rest[start + 2..].find("}}") else { break };
        out.push_str(&rest[..start]);
        out.push_str(&fill(rest[start + 2..start + 2 + length].trim()));
        rest = &rest[start + 2 + length + 2..];
    }
    out.push_str(rest);
    out
}

/// Errors of [`CannedStore`].
#[derive(Debug, thiserror::Error)]
pub enum CannedError {
    /// Another response of the same scope (and owner) has this shortcut; nothing was written.
    #[error("the shortcut is taken in this scope")]
    ShortcutTaken,
    /// No such canned response.
    #[error("no such canned response")]
    NotFound,
    /// It changed since the caller read it; nothing was written.
    #[error("changed meanwhile; read it again")]
    Conflict,
    /// The store failed; nothing was written.
    #[error("canned response store failed")]
    Unknown(#[from] anyhow::Error),
}

/// The tenant's canned responses.
pub trait CannedStore: Send + Sync {
    /// Stores a new response (at `response.version`, which should be 1).
    ///
    /// # Errors
    /// [`CannedError::ShortcutTaken`]; [`CannedError::Unknown`].
    fn create_canned(
        &self,
        tenant: &TenantId,
        response: &CannedResponse,
    ) -> impl Future<Output = Result<(), CannedError>> + Send;

    /// One response.
    ///
    /// # Errors
    /// [`CannedError::Unknown`].
    fn canned(
        &self,
        tenant: &TenantId,
        id: &CannedId,
    ) -> impl Future<Output = Result<Option<CannedResponse>, CannedError>> + Send;

    /// The tenant-wide responses and `owner`'s personal ones (none when `None`) whose shortcut
    /// starts with `prefix`, by shortcut (tenant-wide first on a tie), at most
    /// [`MAX_LISTED_PER_SCOPE`] of each scope.
    ///
    /// # Errors
    /// [`CannedError::Unknown`].
    fn canned_list(
        &self,
        tenant: &TenantId,
        owner: Option<&UserId>,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<CannedResponse>, CannedError>> + Send;

    /// Replaces the response with `response` (same id, scope and owner) if it is still at
    /// `response.version`; the stored version becomes `response.version + 1`, which the returned
    /// response carries. A changed shortcut is claimed in the same atomic write.
    ///
    /// # Errors
    /// [`CannedError::NotFound`]; [`CannedError::Conflict`]; [`CannedError::ShortcutTaken`];
    /// [`CannedError::Unknown`]. Nothing is written on an error.
    fn update_canned(
        &self,
        tenant: &TenantId,
        response: &CannedResponse,
    ) -> impl Future<Output = Result<CannedResponse, CannedError>> + Send;

    /// Deletes a response (and frees its shortcut); `false` when there was none.
    ///
    /// # Errors
    /// [`CannedError::Unknown`].
    fn delete_canned(
        &self,
        tenant: &TenantId,
        id: &CannedId,
    ) -> impl Future<Output = Result<bool, CannedError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcuts_are_lowercase_words_of_at_most_32() {
        for good in ["hi", "a", "thanks_2", "re-open", &"x".repeat(32)] {
            assert_eq!(check_shortcut(good, false), Ok(()), "{good}");
        }
        for bad in ["", "Hi", "with space", "a#b", "é", &"x".repeat(33)] {
            assert_eq!(check_shortcut(bad, false), Err(InvalidCanned::Shortcut), "{bad}");
        }
        assert_eq!(check_shortcut("", true), Ok(()), "an empty prefix lists everything");
    }

    #[test]
    fn texts_name_only_known_placeholders() {
        assert_eq!(check_text("Hi {{contact.first_name}}, {{ agent.name }} of {{tenant.name}}"), Ok(()));
        assert_eq!(
            check_text("Hi {{contact.phone}} and {{x}}"),
            Err(InvalidCanned::UnknownPlaceholder("contact.phone".to_owned()))
        );
        assert_eq!(check_text("   "), Err(InvalidCanned::Text));
        assert_eq!(check_text(&"é".repeat(4096)), Ok(()), "characters, not bytes");
        assert_eq!(check_text(&"a".repeat(4097)), Err(InvalidCanned::Text));
        assert!(InvalidCanned::UnknownPlaceholder("x.y".into()).to_string().contains("{{x.y}}"));
    }

    #[test]
    fn rendering_fills_every_placeholder() {
        let context = RenderContext {
            contact_name: "Ana Maria Souza".into(),
            agent_name: "Bea".into(),
            tenant_name: "Acme".into(),
        };
        let text =
            "Hi {{contact.first_name}} ({{ contact.name }}), {{agent.name}} of {{tenant.name}}. {{ unclosed";
        assert_eq!(render(text, &context), "Hi Ana (Ana Maria Souza), Bea of Acme. {{ unclosed");
        assert_eq!(render("Hi {{contact.first_name}}!", &RenderContext::default()), "Hi !");
    }
}
