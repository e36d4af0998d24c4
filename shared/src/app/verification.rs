//! Verifying a Meta connection with Graph before it is stored, so that no tenant can connect a
//! number or a Page it does not hold (number and Page squatting).
//!
//! - A WhatsApp number: with the token given, `GET /<phone_number_id>` must answer (the token
//!   may read the number), the number must be among `GET /<waba_id>/phone_numbers` (it belongs
//!   to the WABA the tenant names, whose webhooks will carry that WABA's id), and the display
//!   number must be the one Meta shows.
//! - A Page: `GET /me` with the Page token must answer the Page itself (a Page token acts as its
//!   Page; a user's or another Page's token does not).
//!
//! Each refusal names the check that failed ([`VerifyError::check`]); Graph being unreachable or
//! overloaded is not a refusal but [`VerifyError::Unavailable`].

use crate::domain::ports::{CloudApi, CloudApiError, LeadSource};
use crate::domain::{PhoneNumber, Secret};

/// Errors of [`verify_number`] and [`verify_page`].
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Graph does not accept the token (code 190: invalid, expired or revoked).
    #[error("Graph does not accept this access token")]
    TokenRejected,
    /// The token cannot read this phone number id (it does not exist, or is not the token's).
    #[error("no phone number with this id is visible to this token")]
    NumberNotFound,
    /// The token cannot read this WhatsApp Business Account.
    #[error("no WhatsApp Business Account with this id is visible to this token")]
    WabaNotFound,
    /// The number exists but is not one of the WABA's numbers.
    #[error("the number is not one of this WhatsApp Business Account's numbers")]
    NumberNotInWaba,
    /// Meta displays the number differently from the `display_phone_number` given.
    #[error("Meta displays this number as {meta}, not as given")]
    DisplayNumberMismatch {
        /// What Meta shows.
        meta: String,
    },
    /// The token is not this Page's token (`GET /me` answers another object).
    #[error("this token is not a Page access token of this Page")]
    PageTokenMismatch,
    /// Graph answered with an error the checks do not explain.
    #[error("Meta answered code {code}: {message}")]
    Refused {
        /// Meta's error code.
        code: i64,
        /// Meta's message.
        message: String,
    },
    /// Graph could not be reached, throttled, or failed (5xx): nothing is known; retry later.
    #[error("Graph unavailable")]
    Unavailable(#[source] anyhow::Error),
}

impl VerifyError {
    /// The name of the failed check: the problem type of the API's 422.
    #[must_use]
    pub const fn check(&self) -> &'static str {
        match self {
            Self::TokenRejected => "token-rejected",
            Self::NumberNotFound => "number-not-found",
            Self::WabaNotFound => "waba-not-found",
            Self::NumberNotInWaba => "number-not-in-waba",
            Self::DisplayNumberMismatch { .. } => "display-number-mismatch",
            Self::PageTokenMismatch => "page-token-mismatch",
            Self::Refused { .. } => "meta-refused",
            Self::Unavailable(_) => "try-again",
        }
    }
}

/// Meta codes that say the token itself is not accepted (AuthException, session invalid,
/// invalid or expired token).
const TOKEN_CODES: [i64; 3] = [0, 102, 190];
/// Meta codes that say the object does not exist or the token may not see it (invalid
/// parameter / unknown object, missing permission).
const fn not_visible(code: i64) -> bool {
    matches!(code, 100 | 10 | 200..=299)
}
/// Meta codes of throttling and downtime: retry later.
const fn transient(code: i64) -> bool {
    matches!(code, 1 | 2 | 4 | 17 | 32 | 613 | 80007 | 131_000 | 131_016)
}

/// Maps a Graph failure: `missing` is the refusal for an object the token cannot see.
fn classify(error: CloudApiError, missing: VerifyError) -> VerifyError {
    match error {
        CloudApiError::Meta { error, .. } if TOKEN_CODES.contains(&error.code) => VerifyError::TokenRejected,
        CloudApiError::Meta { error, .. } if not_visible(error.code) => missing,
        CloudApiError::Meta { error, .. } if transient(error.code) => {
            VerifyError::Unavailable(anyhow::anyhow!("Graph answered code {}", error.code))
        }
        CloudApiError::Meta { error, .. } => VerifyError::Refused {
            code: error.code,
            message: error.message.or(error.title).unwrap_or_default(),
        },
        // A lookup changes nothing at Meta: an answer lost on the way is simply asked again.
        CloudApiError::Unavailable(e) | CloudApiError::OutcomeUnknown(e) | CloudApiError::Unknown(e) => {
            VerifyError::Unavailable(e)
        }
    }
}

/// Checks with Graph, using `token`, that `phone_number_id` belongs to `waba_id` and is shown as
/// `display`. Two Graph reads; nothing is stored.
///
/// # Errors
/// [`VerifyError`] naming the failed check.
pub async fn verify_number<C: CloudApi>(
    cloud: &C,
    phone_number_id: &str,
    waba_id: &str,
    display: &PhoneNumber,
    token: &Secret,
) -> Result<(), VerifyError> {
    let number = cloud
        .phone_number(phone_number_id, token)
        .await
        .map_err(|e| classify(e, VerifyError::NumberNotFound))?;
    if number.id != phone_number_id {
        return Err(VerifyError::NumberNotFound);
    }
    let numbers =
        cloud.waba_phone_numbers(waba_id, token).await.map_err(|e| classify(e, VerifyError::WabaNotFound))?;
    if !numbers.iter().any(|n| n.id == phone_number_id) {
        return Err(VerifyError::NumberNotInWaba);
    }
    let shown = number.display_phone_number.unwrap_or_default();
    if PhoneNumber::parse(&shown).ok().as_ref() != Some(display) {
        return Err(VerifyError::DisplayNumberMismatch { meta: shown });
    }
    Ok(())
}

/// Checks with Graph that `token` is a token of Page `page_id` (`GET /me` answers the Page).
///
/// # Errors
/// [`VerifyError::TokenRejected`], [`VerifyError::PageTokenMismatch`], [`VerifyError::Refused`],
/// [`VerifyError::Unavailable`].
pub async fn verify_page<L: LeadSource>(
    source: &L,
    page_id: &str,
    token: &Secret,
) -> Result<(), VerifyError> {
    let owner = source.token_owner(token).await.map_err(|e| classify(e, VerifyError::PageTokenMismatch))?;
    if owner == page_id {
        Ok(())
    } else {
        Err(VerifyError::PageTokenMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{MemoryCloud, MemoryLeadAds};

    const NUMBER: &str = "106540352242922";
    const WABA: &str = "102290129340398";

    fn display() -> PhoneNumber {
        PhoneNumber::parse("15550100001").unwrap()
    }

    #[tokio::test]
    async fn a_registered_number_verifies_only_with_its_token_waba_and_display_number() {
        // Arrange
        let cloud = MemoryCloud::default();
        cloud.register_number(NUMBER, "+1 555-010-0001", WABA, "good-token");
        cloud.register_number("106540352242999", "+1 555-010-0009", "102290129340999", "other-token");
        let token = Secret::new("good-token");

        // Act
        let ok = verify_number(&cloud, NUMBER, WABA, &display(), &token).await;
        let made_up = verify_number(&cloud, NUMBER, WABA, &display(), &Secret::new("made-up")).await;
        let not_mine = verify_number(&cloud, "106540352242999", WABA, &display(), &token).await;
        let other_waba = verify_number(&cloud, NUMBER, "102290129340999", &display(), &token).await;
        let other_display =
            verify_number(&cloud, NUMBER, WABA, &PhoneNumber::parse("15550100002").unwrap(), &token).await;
        cloud.set_unreachable(true);
        let down = verify_number(&cloud, NUMBER, WABA, &display(), &token).await;

        // Assert
        assert!(ok.is_ok(), "{ok:?}");
        assert_eq!(made_up.unwrap_err().check(), "token-rejected");
        assert_eq!(not_mine.unwrap_err().check(), "number-not-found");
        assert_eq!(other_waba.unwrap_err().check(), "waba-not-found");
        assert_eq!(other_display.unwrap_err().check(), "display-number-mismatch");
        assert!(matches!(down, Err(VerifyError::Unavailable(_))));
    }

    #[tokio::test]
    async fn a_number_of_another_waba_of_the_same_token_is_not_in_the_waba() {
        let cloud = MemoryCloud::default();
        cloud.register_number(NUMBER, "+1 555-010-0001", WABA, "token");
        cloud.register_number("106540352242999", "+1 555-010-0009", "102290129340999", "token");
        let token = Secret::new("token");

        let result = verify_number(&cloud, NUMBER, "102290129340999", &display(), &token).await;

        assert_eq!(result.unwrap_err().check(), "number-not-in-waba");
    }

    #[tokio::test]
    async fn a_page_verifies_only_with_its_own_page_token() {
        let source = MemoryLeadAds::default();
        source.register_page("109876543210987", "page-token");
        source.register_page("109876543210988", "other-page-token");

        let ok = verify_page(&source, "109876543210987", &Secret::new("page-token")).await;
        let other = verify_page(&source, "109876543210987", &Secret::new("other-page-token")).await;
        let made_up = verify_page(&source, "109876543210987", &Secret::new("made-up")).await;

        assert!(ok.is_ok());
        assert_eq!(other.unwrap_err().check(), "page-token-mismatch");
        assert_eq!(made_up.unwrap_err().check(), "token-rejected");
    }
}
