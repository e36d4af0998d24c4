//! Who may change a person's consent: only the person lifts their own opt-out.
//!
//! A business may record an opt-in it collected (a form, an import's consent column, an agent or
//! an integration through the API) only while the person has not opted out. Once they have, only
//! they can undo it: the opt-in keyword, or Meta's marketing `resume`. Every store applies
//! [`consent_change_refused`] on the one path every writer takes (`ContactStore::record_consent`),
//! so the API, agents, CSV import (synchronous or queued) and anything later all inherit it.

use serde::{Deserialize, Serialize};

use super::{ConsentKind, ConsentSource, ConsentState};

impl ConsentSource {
    /// True for the sources that are the person's own act on WhatsApp: a keyword they wrote,
    /// Meta's marketing stop/resume they chose. Only these may lift an opt-out.
    #[must_use]
    pub const fn is_the_persons_own(self) -> bool {
        matches!(self, Self::Keyword | Self::MetaUserPreferences)
    }
}

/// Why a consent change was refused (kept on the refused event in the ledger).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentRefusal {
    /// The person opted out; only they may lift it (opt-in keyword, Meta's `resume`).
    OptedOutByPerson,
}

impl ConsentRefusal {
    /// Its name in the ledger and in problem types.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OptedOutByPerson => "opted_out_by_person",
        }
    }
}

/// `Some(reason)` when a change of `kind` from `source` may not apply to a person whose current
/// state is `current`: an opt-in from anyone but the person while they are opted out (unless
/// that opt-out came from an import, the business's own list).
#[must_use]
pub fn consent_change_refused(
    current: Option<&ConsentState>,
    kind: ConsentKind,
    source: ConsentSource,
) -> Option<ConsentRefusal> {
    // An opt-out from the business's own imported list is the business's to correct; every
    // other one is the person's (written by them, or recorded for them by the team).
    let opted_out =
        current.is_some_and(|c| c.state == ConsentKind::OptOut && c.source != ConsentSource::Import);
    (kind == ConsentKind::OptIn && opted_out && !source.is_the_persons_own())
        .then_some(ConsentRefusal::OptedOutByPerson)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opted_out(source: ConsentSource) -> ConsentState {
        ConsentState { state: ConsentKind::OptOut, source, at: 1 }
    }

    #[test]
    fn only_the_person_lifts_an_opt_out() {
        // Arrange
        let stop = opted_out(ConsentSource::Keyword);
        let business =
            [ConsentSource::Api, ConsentSource::Agent, ConsentSource::Import, ConsentSource::LeadForm];

        // Act / Assert
        for source in business {
            assert_eq!(
                consent_change_refused(Some(&stop), ConsentKind::OptIn, source),
                Some(ConsentRefusal::OptedOutByPerson),
                "{source:?}"
            );
        }
        for source in [ConsentSource::Keyword, ConsentSource::MetaUserPreferences] {
            assert_eq!(consent_change_refused(Some(&stop), ConsentKind::OptIn, source), None);
        }
    }

    #[test]
    fn a_business_may_record_an_opt_in_before_any_opt_out_and_any_opt_out() {
        let opted_in = ConsentState { state: ConsentKind::OptIn, source: ConsentSource::Keyword, at: 1 };
        assert_eq!(consent_change_refused(None, ConsentKind::OptIn, ConsentSource::Api), None);
        assert_eq!(consent_change_refused(Some(&opted_in), ConsentKind::OptIn, ConsentSource::Import), None);
        let stop = opted_out(ConsentSource::MetaUserPreferences);
        assert_eq!(consent_change_refused(Some(&stop), ConsentKind::OptOut, ConsentSource::Agent), None);
        assert_eq!(consent_change_refused(Some(&stop), ConsentKind::Restrict, ConsentSource::Agent), None);
        let imported = opted_out(ConsentSource::Import);
        assert_eq!(consent_change_refused(Some(&imported), ConsentKind::OptIn, ConsentSource::Import), None);
        let recorded_by_agent = opted_out(ConsentSource::Agent);
        assert_eq!(
            consent_change_refused(Some(&recorded_by_agent), ConsentKind::OptIn, ConsentSource::Api),
            Some(ConsentRefusal::OptedOutByPerson)
        );
    }
}
