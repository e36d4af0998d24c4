//! A conversation's state machine: its five states and, in one table, which moves between them are allowed.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{ConversationPatch, ConversationView, UpdateConversationError};

/// Where a conversation stands. Stored and shown as the lowercase name (`"open"`, …), so items
/// written before the machine existed (`open`, `pending`, `resolved`) read unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConversationState {
    /// A chatbot flow is talking to the customer; no person is involved yet.
    Bot,
    /// Waiting in a queue for an agent to take it.
    Queued,
    /// An agent works it.
    Open,
    /// An agent waits on the customer (or on someone else) before going on.
    Pending,
    /// Done; a new customer message reopens it.
    Resolved,
}

impl ConversationState {
    /// Every state, in the order of the lifecycle.
    pub const ALL: [Self; 5] = [Self::Bot, Self::Queued, Self::Open, Self::Pending, Self::Resolved];

    /// Every state's name, in the same order (the API's enum of states).
    pub const NAMES: [&'static str; 5] = [
        Self::Bot.as_str(),
        Self::Queued.as_str(),
        Self::Open.as_str(),
        Self::Pending.as_str(),
        Self::Resolved.as_str(),
    ];

    /// The stored (and API) name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Bot => "bot",
            Self::Queued => "queued",
            Self::Open => "open",
            Self::Pending => "pending",
            Self::Resolved => "resolved",
        }
    }

    /// From the stored (or API) name; `None` for any other text.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// True when a conversation in this state may move to `next`. The only place that decides it:
    ///
    /// | from \ to  | bot | queued | open | pending | resolved |
    /// |------------|-----|--------|------|---------|----------|
    /// | `bot`      | =   | yes    | yes  | no      | yes      |
    /// | `queued`   | no  | =      | yes  | no      | yes      |
    /// | `open`     | no  | yes    | =    | yes     | yes      |
    /// | `pending`  | no  | yes    | yes  | =       | yes      |
    /// | `resolved` | no  | yes    | yes  | no      | =        |
    ///
    /// Why:
    /// - Staying (`=`) is always allowed: a retried `{"state": "resolved"}` stays a success, and
    ///   a claim or a transfer changes the assignee or queue of an `open` conversation without
    ///   moving it.
    /// - Nothing goes (back) to `bot`: once a person is involved, or the conversation ended, a
    ///   flow never takes over again (a new flow run starts a new conversation).
    /// - `bot → queued` is the handover, `bot → open` a direct assignment, `queued → open` a claim
    ///   or assignment, `open ↔ pending` an agent waiting on the customer and going on,
    ///   `open/pending → queued` a transfer back to the queue.
    /// - `pending` needs an agent who works it: a conversation nobody took yet (`bot`, `queued`)
    ///   or one that ended (`resolved`) cannot wait on the customer; it is taken or reopened first.
    /// - Anything not yet resolved may be resolved (also a bot's or a queued one: spam, solved by
    ///   the flow); `resolved` reopens to `open` (a new customer message, or an agent) or to `queued`.
    #[must_use]
    pub const fn can_become(self, next: Self) -> bool {
        use ConversationState::{Bot, Open, Pending, Queued, Resolved};
        matches!(
            (self, next),
            (Bot, Bot | Queued | Open | Resolved)
                | (Queued, Queued | Open | Resolved)
                | (Open | Pending, Queued | Open | Pending | Resolved)
                | (Resolved, Resolved | Queued | Open)
        )
    }
}

impl ConversationPatch {
    /// Checks this change against the conversation as the store just read it, and returns the
    /// version the write must be conditional on (the caller's, else the one read). Every store
    /// checks with this, then writes only if the conversation is still at that version.
    ///
    /// # Errors
    /// [`UpdateConversationError::VersionConflict`] when the caller saw another version;
    /// [`UpdateConversationError::IllegalTransition`] when the state may not move so.
    pub fn check(&self, current: &ConversationView) -> Result<u64, UpdateConversationError> {
        let seen = self.expected_version.unwrap_or(current.version);
        if seen != current.version {
            return Err(UpdateConversationError::VersionConflict {
                expected: seen,
                actual: Some(current.version),
            });
        }
        match self.state {
            Some(next) if !current.state.can_become(next) => {
                Err(UpdateConversationError::IllegalTransition { from: current.state, to: next })
            }
            _ => Ok(seen),
        }
    }
}

impl fmt::Display for ConversationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ConversationState::{self, Bot, Open, Pending, Queued, Resolved};

    /// The table of [`ConversationState::can_become`], row by row (from), column by column (to:
    /// bot, queued, open, pending, resolved), written out again so that a change to one is a
    /// deliberate change to both.
    const EXPECTED: [(ConversationState, [bool; 5]); 5] = [
        (Bot, [true, true, true, false, true]),
        (Queued, [false, true, true, false, true]),
        (Open, [false, true, true, true, true]),
        (Pending, [false, true, true, true, true]),
        (Resolved, [false, true, true, false, true]),
    ];

    #[test]
    fn every_pair_of_states_is_allowed_or_refused_as_the_table_says() {
        for (from, row) in EXPECTED {
            for (to, allowed) in ConversationState::ALL.into_iter().zip(row) {
                assert_eq!(from.can_become(to), allowed, "{from} → {to}");
            }
        }
    }

    #[test]
    fn what_the_api_and_inbound_do_today_stays_allowed() {
        for (from, to) in [
            (Open, Pending),
            (Open, Resolved),
            (Pending, Open),
            (Pending, Resolved),
            (Resolved, Open),
            (Open, Open),
            (Resolved, Resolved),
            (Bot, Queued),
            (Queued, Open),
            (Open, Queued),
        ] {
            assert!(from.can_become(to), "{from} → {to}");
        }
        for (from, to) in [(Resolved, Pending), (Open, Bot), (Resolved, Bot), (Queued, Pending)] {
            assert!(!from.can_become(to), "{from} → {to}");
        }
    }

    #[test]
    fn names_are_the_stored_and_shown_lowercase_ones() {
        for state in ConversationState::ALL {
            assert_eq!(ConversationState::parse(state.as_str()), Some(state));
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
        assert_eq!(ConversationState::parse("Open"), None);
        assert_eq!(serde_json::to_value(Open).unwrap(), "open");
    }
}
