//! A conversation's state machine: its five states and, in one table, which moves between them are allowed.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{ConversationPatch, ConversationView, UpdateConversationError};
use crate::domain::ids::{QueueId, UserId};
use crate::domain::time::Timestamp;

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

impl ConversationPatch {
    /// The conversation as this change leaves it at `at` (after [`Self::check`] passed): the
    /// one rule every store applies.
    /// - state, assignee and queue as the patch says; the version bumped; `updated_at` at `at`
    ///   (or the latest message, if later);
    /// - `queued_at`: `at` when it starts waiting in a queue (or in another one), kept while it
    ///   waits in the same one, cleared when it stops waiting ([`waits_in`]);
    /// - leaving `resolved` starts a new cycle: `cycle_started_at = at`, `first_reply_at` and
    ///   `resolved_at` cleared; entering `resolved` sets `resolved_at = at`;
    /// - `snoozed_until` as the patch says, and cleared whenever the result is not `pending`.
    #[must_use]
    pub fn apply(&self, current: &ConversationView, at: Timestamp) -> ConversationView {
        let at = at.as_millis();
        let mut next = current.clone();
        if let Some(state) = self.state {
            next.state = state;
        }
        if let Some(assignee) = &self.assignee {
            next.assignee.clone_from(assignee);
        }
        if let Some(queue) = &self.queue {
            next.queue.clone_from(queue);
        }
        next.version = current.version + 1;
        next.updated_at = at.max(current.last_message_at);
        let waited = waits_in(current.state, current.queue.as_ref());
        next.queued_at = match waits_in(next.state, next.queue.as_ref()) {
            None => None,
            Some(queue) if waited == Some(queue) => current.queued_at,
            Some(_) => Some(at),
        };
        if current.state == ConversationState::Resolved && next.state != ConversationState::Resolved {
            next.cycle_started_at = at;
            next.first_reply_at = None;
            next.resolved_at = None;
        }
        if next.state == ConversationState::Resolved && current.state != ConversationState::Resolved {
            next.resolved_at = Some(at);
        }
        if let Some(snoozed) = self.snoozed_until {
            next.snoozed_until = snoozed;
        }
        if next.state != ConversationState::Pending {
            next.snoozed_until = None;
        }
        next
    }
}

/// What a change of a conversation (from `current` to `next`) moves in the contact center, by
/// [`counts_toward_load`] and [`waits_in`]: whose load goes down, whose goes up, which waiting
/// entry goes and which comes. Every store derives its writes from this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CenterMoves<'a> {
    /// The agent whose load goes down by one.
    pub release: Option<&'a UserId>,
    /// The agent whose load goes up by one (conditional on their capacity, and presence when
    /// asked).
    pub take: Option<&'a UserId>,
    /// True when the assignee changed (the taking agent's `last_assigned_at` moves).
    pub reassigned: bool,
    /// The waiting entry that goes: its queue and since when it waited (unknown for a
    /// conversation queued before waiting entries existed: then there is none to delete).
    pub leave: Option<(&'a QueueId, i64)>,
    /// The queue it starts waiting in (since `next.queued_at`).
    pub enter: Option<(&'a QueueId, i64)>,
    /// A wake-up timer to arm, due at the new snooze time ([`wake_due`]).
    pub wake: Option<i64>,
    /// A silence check to arm (auto-resolve), due at this time ([`idle_check_due`]).
    pub idle: Option<i64>,
}

/// How long after a conversation becomes `open` or `pending` its first silence check (tenant
/// auto-resolve) is due, ms: the shortest silence a tenant may set, so the first check is never
/// late; it re-arms itself for the tenant's own setting.
pub const IDLE_CHECK_AFTER_MS: i64 = 5 * 60_000;

/// True for the states an agent works (`open`, `pending`): those auto-resolve applies to.
#[must_use]
pub const fn is_active(state: ConversationState) -> bool {
    matches!(state, ConversationState::Open | ConversationState::Pending)
}

/// The wake-up timer a change from `current` to `next` arms: the new snooze time, when the
/// change set one.
#[must_use]
pub fn wake_due(current: &ConversationView, next: &ConversationView) -> Option<i64> {
    next.snoozed_until.filter(|_| next.snoozed_until != current.snoozed_until)
}

/// The silence check a change from `current` to `next` arms: when the conversation becomes
/// worked (`open`/`pending` from any other state), [`IDLE_CHECK_AFTER_MS`] after the change.
#[must_use]
pub fn idle_check_due(current: Option<&ConversationView>, next: &ConversationView) -> Option<i64> {
    let was_active = current.is_some_and(|c| is_active(c.state));
    (is_active(next.state) && !was_active).then_some(next.updated_at + IDLE_CHECK_AFTER_MS)
}

impl<'a> CenterMoves<'a> {
    /// The moves of a change from `current` to `next` ([`ConversationPatch::apply`]).
    #[must_use]
    pub fn between(current: &'a ConversationView, next: &'a ConversationView) -> Self {
        let (was, will) = (
            counts_toward_load(current.state, current.assignee.as_ref()),
            counts_toward_load(next.state, next.assignee.as_ref()),
        );
        let (waited, waits) =
            (waits_in(current.state, current.queue.as_ref()), waits_in(next.state, next.queue.as_ref()));
        let (load_moves, wait_moves) = (was != will, waited != waits);
        Self {
            release: was.filter(|_| load_moves),
            take: will.filter(|_| load_moves),
            reassigned: current.assignee != next.assignee,
            leave: waited.filter(|_| wait_moves).and_then(|q| current.queued_at.map(|since| (q, since))),
            enter: waits.filter(|_| wait_moves).and_then(|q| next.queued_at.map(|since| (q, since))),
            wake: wake_due(current, next),
            idle: idle_check_due(Some(current), next),
        }
    }

    /// The moves of deleting the conversation (expiry, erasure): its agent's load goes down, its
    /// waiting entry goes.
    #[must_use]
    pub fn removal(current: &'a ConversationView) -> Self {
        Self {
            release: counts_toward_load(current.state, current.assignee.as_ref()),
            take: None,
            reassigned: false,
            leave: waits_in(current.state, current.queue.as_ref())
                .and_then(|q| current.queued_at.map(|since| (q, since))),
            enter: None,
            wake: None,
            idle: None,
        }
    }
}

impl fmt::Display for ConversationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The agent whose load a conversation in `state`, assigned to `assignee`, counts toward:
/// an assigned conversation that is `open` or `pending`. The one rule every store applies when
/// it moves loads.
#[must_use]
pub fn counts_toward_load(state: ConversationState, assignee: Option<&UserId>) -> Option<&UserId> {
    assignee.filter(|_| matches!(state, ConversationState::Open | ConversationState::Pending))
}

/// The queue a conversation in `state` with `queue` waits in: a `queued` conversation waits in
/// its queue. The one rule every store applies to the waiting entries.
#[must_use]
pub fn waits_in(state: ConversationState, queue: Option<&QueueId>) -> Option<&QueueId> {
    queue.filter(|_| state == ConversationState::Queued)
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

    fn view(
        state: ConversationState,
        assignee: Option<&str>,
        queue: Option<&str>,
    ) -> super::ConversationView {
        super::ConversationView {
            id: crate::domain::ConversationId::parse("cv_1").unwrap(),
            contact_id: crate::domain::ContactId::parse("ct_1").unwrap(),
            state,
            version: 3,
            started_at: 1,
            last_message_at: 1,
            assignee: assignee.map(|a| super::UserId::parse(a).unwrap()),
            queue: queue.map(|q| super::QueueId::parse(q).unwrap()),
            updated_at: 1,
            queued_at: (state == Queued && queue.is_some()).then_some(5),
            cycle_started_at: 1,
            first_reply_at: Some(7),
            resolved_at: (state == Resolved).then_some(8),
            snoozed_until: None,
        }
    }

    #[test]
    fn a_transfer_between_agents_releases_one_and_takes_the_other() {
        let current = view(Open, Some("usr_a"), None);
        let patch = super::ConversationPatch {
            assignee: Some(Some(super::UserId::parse("usr_b").unwrap())),
            ..Default::default()
        };
        let next = patch.apply(&current, super::Timestamp::from_millis(10));
        let moves = super::CenterMoves::between(&current, &next);
        assert_eq!(moves.release.map(super::UserId::as_str), Some("usr_a"));
        assert_eq!(moves.take.map(super::UserId::as_str), Some("usr_b"));
        assert!(moves.reassigned);
        assert_eq!((moves.leave, moves.enter), (None, None));
        assert_eq!((next.version, next.updated_at), (4, 10));
    }

    #[test]
    fn taking_a_queued_conversation_leaves_its_queue_and_staying_moves_nothing() {
        let queued = view(Queued, None, Some("support"));
        let take = super::ConversationPatch {
            state: Some(Open),
            assignee: Some(Some(super::UserId::parse("usr_a").unwrap())),
            ..Default::default()
        };
        let taken = take.apply(&queued, super::Timestamp::from_millis(10));
        let moves = super::CenterMoves::between(&queued, &taken);
        assert_eq!(taken.queued_at, None);
        assert_eq!(moves.leave.map(|(q, since)| (q.as_str(), since)), Some(("support", 5)));
        assert_eq!((moves.enter, moves.release), (None, None));
        let stay = super::ConversationPatch { state: Some(Queued), ..Default::default() };
        let stayed = stay.apply(&queued, super::Timestamp::from_millis(10));
        assert_eq!(stayed.queued_at, Some(5), "still waiting since it was queued");
        let none = super::CenterMoves::between(&queued, &stayed);
        assert_eq!((none.take, none.release, none.leave, none.enter), (None, None, None, None));
    }

    #[test]
    fn leaving_resolved_starts_a_cycle_and_a_snooze_holds_only_while_pending() {
        let resolved = view(Resolved, Some("usr_a"), None);
        let reopen = super::ConversationPatch {
            state: Some(Open),
            snoozed_until: Some(Some(99)),
            ..Default::default()
        };
        let reopened = reopen.apply(&resolved, super::Timestamp::from_millis(20));
        assert_eq!(reopened.cycle_started_at, 20);
        assert_eq!(
            (reopened.first_reply_at, reopened.resolved_at, reopened.snoozed_until),
            (None, None, None)
        );
        let moves = super::CenterMoves::between(&resolved, &reopened);
        assert_eq!(moves.take.map(super::UserId::as_str), Some("usr_a"));
        assert!(!moves.reassigned, "the same agent again");
        let snooze = super::ConversationPatch { state: Some(Pending), ..reopen };
        assert_eq!(snooze.apply(&reopened, super::Timestamp::from_millis(30)).snoozed_until, Some(99));
        let removal = super::CenterMoves::removal(&reopened);
        assert_eq!(removal.release.map(super::UserId::as_str), Some("usr_a"));
    }
}
