//! The inbox's ports, one per aggregate: each function holds only the ones it uses (send:
//! outbound and contacts; suggest: conversations and contacts; retention: lifecycle,
//! conversations and leads; inbound: ingest and contacts, plus what submitting a reply needs).
//!
//! One style across the codebase: native `async` trait methods returning
//! `impl Future<Output = Result<_, InboxError>> + Send`. Every method documents its error contract.
//! `shared::testing::contract` holds one suite per port, run on the in-memory fake and on
//! DynamoDB, so the two cannot drift apart.

use std::future::Future;

use super::{
    ConsentChange, ConsentEventView, ContactFilter, ContactKey, ContactPatch, ContactProfile, ContactView,
    ConversationFilter, ConversationPatch, ConversationState, ConversationView, Expiry, LeadFilter,
    LeadPatch, LeadView, MessageView, NewInboundMessage, NewLead, NewManualLead, NewOutboundMessage,
    OutboundClaim, Page, StatusChange, StatusOutcome, Stored, Unsent,
};
use crate::domain::ids::{ContactId, ConversationId, MessageId, PhoneNumber, TenantId, UserId, Wamid};
use crate::domain::privacy::{ErasureCounts, Integration};
use crate::domain::tenant::RetentionSettings;
use crate::domain::time::Timestamp;
use crate::domain::whatsapp::MetaError;

/// Errors of the inbox ports' operations.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    /// The event names nobody: no phone number, BSUID or email.
    #[error("the event identifies no contact")]
    NoContact,
    /// A page cursor that this listing did not produce.
    #[error("the cursor does not belong to this listing")]
    InvalidCursor,
    /// Another contact of the tenant has this email.
    #[error("another contact has this email")]
    EmailTaken,
    /// The change would leave a contact with more tags or attributes than
    /// [`MAX_CONTACT_TAGS`](super::MAX_CONTACT_TAGS) / [`MAX_CONTACT_ATTRIBUTES`](super::MAX_CONTACT_ATTRIBUTES);
    /// nothing was written.
    #[error("a contact has at most {limit} {what}")]
    OverCap {
        /// `tags` or `attributes`.
        what: &'static str,
        /// The cap.
        limit: usize,
    },
    /// The person opted out and only they may lift it ([`super::consent_change_refused`]): the
    /// attempt is in the ledger, marked refused, and nothing else changed.
    #[error("the person opted out; only they can opt back in")]
    OptedOutByPerson,
    /// The store failed; a retry may succeed. Writes are idempotent, so retrying is safe.
    #[error("inbox store failed")]
    Unknown(#[from] anyhow::Error),
}

/// Errors of [`ConversationStore::update_conversation`].
#[derive(Debug, thiserror::Error)]
pub enum UpdateConversationError {
    /// No such conversation (never was, expired, or another tenant's).
    #[error("no such conversation")]
    NotFound,
    /// The state machine does not allow this move ([`ConversationState::can_become`]); nothing
    /// was written.
    #[error("a conversation cannot go from {from} to {to}")]
    IllegalTransition {
        /// The stored state.
        from: ConversationState,
        /// The state asked for.
        to: ConversationState,
    },
    /// The conversation is no longer at the version the caller saw: someone else changed it
    /// first (of concurrent writers exactly one wins). Nothing was written; read it again.
    #[error("the conversation changed meanwhile: expected version {expected}, it is at {actual:?}")]
    VersionConflict {
        /// The version the caller saw.
        expected: u64,
        /// The version it is at now, when known.
        actual: Option<u64>,
    },
    /// The change would make the conversation count toward `agent`'s load, and the agent is at
    /// capacity (or, with [`super::ConversationPatch::require_online`], not online); nothing was
    /// written.
    #[error("the agent is at capacity or not online; nothing was written")]
    AgentUnavailable {
        /// The agent who was to take it.
        agent: UserId,
    },
    /// The store failed; nothing or the whole change was written (re-read to know).
    #[error("updating a conversation failed")]
    Unknown(#[from] anyhow::Error),
}

impl From<InboxError> for UpdateConversationError {
    fn from(error: InboxError) -> Self {
        match error {
            InboxError::Unknown(e) => Self::Unknown(e),
            other => Self::Unknown(anyhow::Error::new(other)),
        }
    }
}

/// Contacts of each tenant: found by phone, email or blind-indexed key, created, corrected, counted and listed, with their consent ledger.
///
/// Used by every function that needs to know who a person is (api, inbound, send, suggest, retention).
pub trait ContactStore: Send + Sync {
    /// The contact with this phone number.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn contact_by_phone(
        &self,
        tenant: &TenantId,
        phone: &PhoneNumber,
    ) -> impl Future<Output = Result<Option<ContactView>, InboxError>> + Send;

    /// The contact whose (lowercased) email this is.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn contact_by_email(
        &self,
        tenant: &TenantId,
        email: &str,
    ) -> impl Future<Output = Result<Option<ContactView>, InboxError>> + Send;

    /// One contact.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn contact(
        &self,
        tenant: &TenantId,
        id: &ContactId,
    ) -> impl Future<Output = Result<Option<ContactView>, InboxError>> + Send;

    /// Finds the contact `profile` identifies, creating it when there is none (a contact created
    /// by hand or imported: the same person always maps to the same contact). A new contact is
    /// written whole, in one transaction with its identity fields and lookup entries: nothing
    /// finds it before its fields are there. A person erased while opted out comes back opted
    /// out (the erasure's keyed suppression entry), with that opt-out in their new ledger.
    ///
    /// # Errors
    /// [`InboxError::NoContact`]; [`InboxError::Unknown`].
    fn create_contact(
        &self,
        tenant: &TenantId,
        profile: &ContactProfile,
        at: Timestamp,
    ) -> impl Future<Output = Result<(ContactView, Stored), InboxError>> + Send;

    /// Corrects a contact (P61); `None` when there is no such contact. A patch over the caps
    /// ([`ContactPatch::within_caps`]) is refused whatever path it comes from (API, import).
    ///
    /// # Errors
    /// [`InboxError::EmailTaken`]; [`InboxError::OverCap`]; [`InboxError::Unknown`].
    fn update_contact(
        &self,
        tenant: &TenantId,
        id: &ContactId,
        patch: &ContactPatch,
        at: Timestamp,
    ) -> impl Future<Output = Result<Option<ContactView>, InboxError>> + Send;

    /// How many contacts the tenant has (the plan limit's count).
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn contact_count(&self, tenant: &TenantId) -> impl Future<Output = Result<u64, InboxError>> + Send;

    /// A page of contacts matching `filter`.
    ///
    /// # Errors
    /// [`InboxError::InvalidCursor`]; [`InboxError::Unknown`].
    fn contacts(
        &self,
        tenant: &TenantId,
        filter: &ContactFilter,
        after: Option<&str>,
        limit: u16,
    ) -> impl Future<Output = Result<Page<ContactView>, InboxError>> + Send;

    /// The contacts a phone number, BSUID or email leads to (through its lookup entry: at most
    /// one).
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn find_contacts(
        &self,
        tenant: &TenantId,
        key: &ContactKey,
    ) -> impl Future<Output = Result<Vec<ContactView>, InboxError>> + Send;

    /// The id of the contact this key leads to now, if any. Contact ids are random, found
    /// through a lookup entry under the tenant's blind index: never recomputable from the
    /// identifier, and a person who returns after an erasure gets a new one (so nothing that
    /// named the old id — audit links — ever attaches to them again).
    ///
    /// # Errors
    /// [`InboxError::Unknown`] (the tenant's index key could not be read).
    fn contact_id_of(
        &self,
        tenant: &TenantId,
        key: &ContactKey,
    ) -> impl Future<Output = Result<Option<ContactId>, InboxError>> + Send;

    /// Appends a consent event to the contact's ledger (once per cause) and updates the current
    /// state if the event is the latest. Only the person lifts their own opt-out: an opt-in from
    /// any other source while they are opted out ([`super::consent_change_refused`]) is kept in
    /// the ledger marked refused, changes nothing else, and answers
    /// [`InboxError::OptedOutByPerson`] (every writer — API, agents, import — goes through here).
    ///
    /// # Errors
    /// [`InboxError::OptedOutByPerson`]; [`InboxError::NoContact`]; [`InboxError::Unknown`].
    fn record_consent(
        &self,
        tenant: &TenantId,
        change: &ConsentChange<'_>,
        now: Timestamp,
    ) -> impl Future<Output = Result<Stored, InboxError>> + Send;

    /// The contact's consent ledger, oldest first.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn consent_ledger(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
    ) -> impl Future<Output = Result<Vec<ConsentEventView>, InboxError>> + Send;
}

/// Conversations and their messages as the team reads and works them.
pub trait ConversationStore: Send + Sync {
    /// A page of conversations matching `filter`: all of the tenant's, or one contact's.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn conversations(
        &self,
        tenant: &TenantId,
        contact: Option<&ContactId>,
        filter: &ConversationFilter,
        after: Option<&str>,
        limit: u16,
    ) -> impl Future<Output = Result<Page<ConversationView>, InboxError>> + Send;

    /// One conversation.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn conversation(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
    ) -> impl Future<Output = Result<Option<ConversationView>, InboxError>> + Send;

    /// A page of a conversation's messages, oldest first.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn messages(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        after: Option<&str>,
        limit: u16,
    ) -> impl Future<Output = Result<Page<MessageView>, InboxError>> + Send;

    /// Up to `limit` of the conversation's messages sent before `before` (epoch ms; the latest
    /// when `None`), newest first: one bounded read, whatever the conversation's length.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn messages_before(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        before: Option<i64>,
        limit: u16,
    ) -> impl Future<Output = Result<Vec<MessageView>, InboxError>> + Send;

    /// The conversation's latest `limit` messages, oldest first (what an AI suggestion reads).
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn latest_messages(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        limit: u16,
    ) -> impl Future<Output = Result<Vec<MessageView>, InboxError>> + Send;

    /// Changes a conversation's state, assignee or queue, and bumps its version, only if it is
    /// still at the version the caller saw (`patch.expected_version`, or else the one read
    /// first) and the state machine allows the move from its stored state: of concurrent
    /// writers that saw one version, exactly one wins. Returns the conversation as it is now
    /// ([`ConversationPatch::apply`] says how every field moves).
    ///
    /// In the same atomic write it moves the agents' loads
    /// ([`counts_toward_load`](super::counts_toward_load): the agent it stops counting toward loses
    /// one, the agent it starts counting toward gains one, only while under capacity and, with
    /// `require_online`, online) and the queue's waiting entries
    /// ([`waits_in`](super::waits_in)): no conversation is assigned twice, no agent goes
    /// over capacity.
    ///
    /// # Errors
    /// [`UpdateConversationError::NotFound`]; [`UpdateConversationError::IllegalTransition`]
    /// (nothing written); [`UpdateConversationError::VersionConflict`] (nothing written);
    /// [`UpdateConversationError::AgentUnavailable`] (nothing written);
    /// [`UpdateConversationError::Unknown`].
    fn update_conversation(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
        patch: &ConversationPatch,
        at: Timestamp,
    ) -> impl Future<Output = Result<ConversationView, UpdateConversationError>> + Send;

    /// Notes an agent's reply at `at`: the first of the conversation's current cycle sets
    /// `first_reply_at` (conditionally, so of concurrent replies exactly one is first).
    /// Returns the conversation as it was when this reply was the first of its cycle (with
    /// `first_reply_at` set to `at`), else `None` (not the first, or no such conversation).
    /// Does not bump the version: a reply changes no state, assignee or queue.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn note_agent_reply(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
        at: Timestamp,
    ) -> impl Future<Output = Result<Option<ConversationView>, InboxError>> + Send;
}

/// What Meta sends, stored exactly once: inbound messages, delivery statuses, leads.
///
/// Every write is idempotent: the same event applied twice changes nothing the second time.
pub trait IngestStore: Send + Sync {
    /// Stores an inbound message once (keyed by wamid), upserting its contact (names, first and
    /// last seen, the 24 h window) and opening or continuing the contact's conversation.
    ///
    /// # Errors
    /// [`InboxError::NoContact`]; [`InboxError::Unknown`].
    fn store_inbound_message(
        &self,
        tenant: &TenantId,
        message: &NewInboundMessage<'_>,
        now: Timestamp,
    ) -> impl Future<Output = Result<Stored, InboxError>> + Send;

    /// Applies a status to an outbound message: the status only moves forward, each status is
    /// recorded once in its history with its time, and a failure keeps its error. An unknown
    /// wamid gets a record of its own, so statuses that arrive first are not lost.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn apply_status(
        &self,
        tenant: &TenantId,
        change: &StatusChange<'_>,
        now: Timestamp,
    ) -> impl Future<Output = Result<StatusOutcome, InboxError>> + Send;

    /// True when the lead was stored before.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn lead_exists(
        &self,
        tenant: &TenantId,
        leadgen_id: &str,
    ) -> impl Future<Output = Result<bool, InboxError>> + Send;

    /// Stores a lead once (keyed by leadgen id), linked to the contact its answers identify
    /// (an existing one by phone or email, or a new one).
    ///
    /// # Errors
    /// [`InboxError::NoContact`]; [`InboxError::Unknown`].
    fn store_lead(
        &self,
        tenant: &TenantId,
        lead: &NewLead<'_>,
        now: Timestamp,
    ) -> impl Future<Output = Result<Stored, InboxError>> + Send;
}

/// Outbound messages from acceptance to Meta's answer: stored when queued, claimed by one sender, marked sent, failed or blocked.
pub trait OutboundStore: Send + Sync {
    /// Stores a queued outbound message (and the lookup by its id) in the contact's conversation,
    /// opening one if needed; a second call with the same id changes nothing.
    ///
    /// # Errors
    /// [`InboxError::NoContact`] when the contact does not exist; [`InboxError::Unknown`].
    fn store_outbound(
        &self,
        tenant: &TenantId,
        message: &NewOutboundMessage<'_>,
        now: Timestamp,
    ) -> impl Future<Output = Result<MessageView, InboxError>> + Send;

    /// An outbound message by Leadline's id.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn outbound(
        &self,
        tenant: &TenantId,
        id: &MessageId,
    ) -> impl Future<Output = Result<Option<MessageView>, InboxError>> + Send;

    /// Claims a queued outbound message for sending until `until`, on the message itself (one
    /// conditional write): two deliveries of one message never both reach the Graph call. A
    /// claim is ended only by an outcome (sent, failed, blocked, unknown) or by its holder's
    /// release; one that ran out otherwise is [`OutboundClaim::Lapsed`] and never taken again,
    /// because its holder may have reached Meta before it died.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn claim_outbound(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        until: Timestamp,
        now: Timestamp,
    ) -> impl Future<Output = Result<OutboundClaim, InboxError>> + Send;

    /// Gives back the caller's claim (taken with `until`) on a message that was not sent, so that
    /// the redelivery need not wait for it to expire. Someone else's claim is left alone.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn release_outbound(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        until: Timestamp,
    ) -> impl Future<Output = Result<(), InboxError>> + Send;

    /// When Meta accepted the latest outbound message sent before `id` in its conversation (the
    /// pair limit counts from it); `None` when there is none. Reads only.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn previous_send(
        &self,
        tenant: &TenantId,
        id: &MessageId,
    ) -> impl Future<Output = Result<Option<Timestamp>, InboxError>> + Send;

    /// Records that Meta accepted the message (status `sent` unless a later status is already
    /// known), as `wamid` when Meta gave one (mark-as-read has none), with the time of sending —
    /// one write on the message. Status webhooks find it by the callback data the send set, or
    /// by the wamid in the recipient's conversation. A status that arrived before this call
    /// (kept on a placeholder record of its own) is merged into the message.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn mark_sent(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        wamid: Option<&Wamid>,
        at: Timestamp,
    ) -> impl Future<Output = Result<(), InboxError>> + Send;

    /// Records that a queued message's fate is unknown (`unknown`): it was handed to Meta (or
    /// may have been) and no answer says whether Meta took it. Moves only a `queued` message
    /// (a status that settled it first wins), keeps `at` as the time it may have been sent (the
    /// pair limit counts from it) and in its history (`statuses.unknown`), and queues its
    /// conversation for reconciliation ([`crate::domain::privacy::DayQueue::Settle`]) once
    /// [`crate::domain::outbound::UNKNOWN_SETTLE_DEADLINE`] has passed. Returns whether it moved it.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn mark_unknown(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        at: Timestamp,
    ) -> impl Future<Output = Result<bool, InboxError>> + Send;

    /// Reconciliation: ends `failed` with `error` every outbound message of `conversation`
    /// still `unknown` since `unknown_before` or earlier (no status settled it; it is never sent
    /// again). Reads no message content. Returns how many it ended.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn fail_unknown(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        unknown_before: Timestamp,
        error: &MetaError,
        at: Timestamp,
    ) -> impl Future<Output = Result<u64, InboxError>> + Send;

    /// Ends an outbound message as blocked or failed, with why (`error`).
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn mark_unsent(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        how: Unsent,
        error: &MetaError,
        at: Timestamp,
    ) -> impl Future<Output = Result<(), InboxError>> + Send;
}

/// Leads as the team works them: entered by hand, read, moved through the pipeline, listed.
pub trait LeadStore: Send + Sync {
    /// Stores a lead entered by hand, linked to the contact its fields identify.
    ///
    /// # Errors
    /// [`InboxError::NoContact`]; [`InboxError::Unknown`].
    fn create_lead(
        &self,
        tenant: &TenantId,
        lead: &NewManualLead<'_>,
    ) -> impl Future<Output = Result<LeadView, InboxError>> + Send;

    /// One lead.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn lead(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> impl Future<Output = Result<Option<LeadView>, InboxError>> + Send;

    /// Changes a lead's stage, owner or origin; `None` when there is no such lead.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn update_lead(
        &self,
        tenant: &TenantId,
        id: &str,
        patch: &LeadPatch,
        at: Timestamp,
    ) -> impl Future<Output = Result<Option<LeadView>, InboxError>> + Send;

    /// A page of leads matching `filter`.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn leads(
        &self,
        tenant: &TenantId,
        filter: &LeadFilter,
        after: Option<&str>,
        limit: u16,
    ) -> impl Future<Output = Result<Page<LeadView>, InboxError>> + Send;
}

/// The end of personal data: erasure, expiry, content sanitizing, re-stamping after a retention change, deletion after a disconnect (the retention function's port).
///
/// Every call is budgeted and idempotent, so a run cut short by its deadline resumes where it stopped.
pub trait LifecycleStore: Send + Sync {
    /// Deletes up to `budget` items of everything stored about a contact (contact, aliases,
    /// consent ledger, conversations, messages and their records, leads), children before the
    /// contact itself, and returns what it deleted. Call again until it deletes nothing: each
    /// call is idempotent, so a run cut short by its deadline resumes where it stopped.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn erase_contact(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        budget: u32,
    ) -> impl Future<Output = Result<ErasureCounts, InboxError>> + Send;

    /// Deletes a conversation with its messages whatever its expiry (up to `budget` items per
    /// call): what was received through a disconnected integration (P54). Never `NotDue`.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn delete_conversation(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        budget: u32,
    ) -> impl Future<Output = Result<Expiry, InboxError>> + Send;

    /// After a disconnection (P54), one page (from `after`) of the tenant's contacts: each that
    /// came only through `integration`, first seen before `before`, is erased as P62 erases (an
    /// opt-out outliving it as a suppression entry); each that came through it and another way
    /// loses what only the integration brought — the name it gave, and the opt-ins recorded
    /// through it (an opt-out stays: an objection is honoured whatever it came through). Contacts
    /// stored before origins were recorded are left alone. What was deleted, and the next page.
    ///
    /// # Errors
    /// [`InboxError::InvalidCursor`]; [`InboxError::Unknown`].
    fn forget_integration_contacts(
        &self,
        tenant: &TenantId,
        integration: Integration,
        before: Timestamp,
        after: Option<&str>,
    ) -> impl Future<Output = Result<(ErasureCounts, Option<String>), InboxError>> + Send;

    /// Deletes a lead; `false` when there was none.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn delete_lead(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> impl Future<Output = Result<bool, InboxError>> + Send;

    /// Deletes an expired conversation with its messages (up to `budget` items per call).
    /// `NotDue` when its expiry moved past `now` since it was queued.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn expire_conversation(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        now: Timestamp,
        budget: u32,
    ) -> impl Future<Output = Result<Expiry, InboxError>> + Send;

    /// Removes the content of a conversation's messages received more than `content_age` before
    /// `now` (the body and every other field of the payload), keeping their metadata; up to
    /// `budget` messages per call. Content not yet that old is queued again for the day it will
    /// be. Returns how many it sanitized and whether to call again.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn sanitize_conversation(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        content_age: std::time::Duration,
        now: Timestamp,
        budget: u32,
    ) -> impl Future<Output = Result<(u64, bool), InboxError>> + Send;

    /// Re-computes the expiry of up to `limit` conversations from `settings`, after the
    /// conversation `after`; returns where to continue (`None`: done). An expiry already past is
    /// queued for `earliest_day` (epoch days), so the next run deletes it.
    ///
    /// # Errors
    /// [`InboxError::Unknown`].
    fn restamp_conversations(
        &self,
        tenant: &TenantId,
        settings: RetentionSettings,
        after: Option<&str>,
        limit: u16,
        earliest_day: i64,
    ) -> impl Future<Output = Result<Option<String>, InboxError>> + Send;
}
