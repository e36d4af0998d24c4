//! Through what a contact came (P54): a Meta integration (WhatsApp, Lead Ads) or the business
//! itself (API, agents, imports). A disconnection removes the contacts that came only through
//! that integration, and from the others what only it brought.

use super::ConsentSource;
use crate::domain::privacy::Integration;

/// Through what a contact, or one of its fields, came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContactOrigin {
    /// A Meta integration the tenant connected.
    Meta(Integration),
    /// The business: created or changed through the API, by an agent, or imported.
    Business,
}

impl ContactOrigin {
    /// The stable name (`whatsapp`, `leadads`, `business`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Meta(integration) => integration.as_str(),
            Self::Business => "business",
        }
    }

    /// The origin named `name`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "business" => Some(Self::Business),
            other => Integration::parse(other).map(Self::Meta),
        }
    }

    /// Where a consent event from `source` came from.
    #[must_use]
    pub const fn of_consent(source: ConsentSource) -> Self {
        match source {
            ConsentSource::Keyword | ConsentSource::MetaUserPreferences => Self::Meta(Integration::WhatsApp),
            ConsentSource::LeadForm => Self::Meta(Integration::LeadAds),
            ConsentSource::Import | ConsentSource::Agent | ConsentSource::Api => Self::Business,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_round_trip_and_consent_sources_map_to_their_integration() {
        for origin in [
            ContactOrigin::Meta(Integration::WhatsApp),
            ContactOrigin::Meta(Integration::LeadAds),
            ContactOrigin::Business,
        ] {
            assert_eq!(ContactOrigin::parse(origin.as_str()), Some(origin));
        }
        assert_eq!(
            ContactOrigin::of_consent(ConsentSource::Keyword),
            ContactOrigin::Meta(Integration::WhatsApp)
        );
        assert_eq!(
            ContactOrigin::of_consent(ConsentSource::LeadForm),
            ContactOrigin::Meta(Integration::LeadAds)
        );
        assert_eq!(ContactOrigin::of_consent(ConsentSource::Agent), ContactOrigin::Business);
    }
}
