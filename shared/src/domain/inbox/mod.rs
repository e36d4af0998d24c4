//! The inbox: contacts, their conversations, messages in both directions with their delivery
//! status, the consent ledger, and leads. The ports that keep them are in [`ports`], one per
//! aggregate.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ids::{ContactId, ConversationId, MessageId, PhoneNumber, QueueId, UserId, Wamid};
use super::privacy::ErasureCounts;
use super::tenant::RetentionSettings;
use super::time::Timestamp;
use super::whatsapp::MetaError;
use crate::kernel::Page;

mod consent;
mod origin;
mod ports;
mod state;
pub use consent::{consent_change_refused, ConsentRefusal};
pub use origin::ContactOrigin;
pub use ports::{
    ContactStore, ConversationStore, InboxError, IngestStore, LeadStore, LifecycleStore, OutboundStore,
    UpdateConversationError,
};
pub use state::{
    counts_toward_load, idle_check_due, is_active, waits_in, wake_due, CenterMoves, ConversationState,
    IDLE_CHECK_AFTER_MS,
};

/// The WhatsApp customer-service window: free-form messages only within 24 h of the
/// customer's last inbound message (P22).
pub const SERVICE_WINDOW: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// How a person is identified, in order of preference: phone number (`wa_id`), business-scoped
/// user id (BSUID), email (leads only).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ContactKey {
    /// E.164 digits.
    Phone(PhoneNumber),
    /// A BSUID (`US.1349…`).
    UserId(String),
    /// A lowercased email address.
    Email(String),
}

impl ContactKey {
    /// The key's kind (`phone`, `bsuid`, `email`) and its value as stored and hashed.
    #[must_use]
    pub fn kind_and_value(&self) -> (&'static str, &str) {
        match self {
            Self::Phone(phone) => ("phone", phone.as_digits()),
            Self::UserId(id) => ("bsuid", id),
            Self::Email(email) => ("email", email),
        }
    }
}

/// What an event says about a person.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactProfile {
    /// Phone number (`wa_id`, or a form's phone answer).
    pub phone: Option<PhoneNumber>,
    /// BSUID.
    pub user_id: Option<String>,
    /// Email (lowercased).
    pub email: Option<String>,
    /// Display or full name.
    pub name: Option<String>,
}

impl ContactProfile {
    /// The keys that identify this person, best first. Empty when nothing identifies them.
    #[must_use]
    pub fn keys(&self) -> Vec<ContactKey> {
        let mut keys = Vec::new();
        if let Some(phone) = &self.phone {
            keys.push(ContactKey::Phone(phone.clone()));
        }
        if let Some(id) = self.user_id.as_ref().filter(|id| !id.is_empty()) {
            keys.push(ContactKey::UserId(id.clone()));
        }
        if let Some(email) = self.email.as_ref().filter(|e| !e.is_empty()) {
            keys.push(ContactKey::Email(email.clone()));
        }
        keys
    }
}

/// Outbound and inbound message states, ordered: a status never goes back to a lower rank
/// (`read` never returns to `delivered`), and `failed` is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Inbound: received from the customer.
    Received,
    /// Outbound: accepted by Leadline, not yet sent.
    Queued,
    /// Outbound: sent to Meta, but whether Meta took it is not known (the call timed out, the
    /// answer was lost or unreadable, or the sender died mid-call). Never sent again: a status
    /// webhook (found by the callback data) settles it, or reconciliation ends it `failed`
    /// with `outcome-unknown`.
    Unknown,
    /// Refused by policy before sending.
    Blocked,
    /// Accepted by WhatsApp.
    Sent,
    /// On the customer's phone.
    Delivered,
    /// Read (or a voice note played).
    Read,
    /// Could not be delivered.
    Failed,
}

impl MessageStatus {
    /// The order statuses move in.
    #[must_use]
    pub const fn rank(self) -> u8 {
        match self {
            // `unknown` moves only from `queued` (its own conditional write); every status Meta
            // reports moves it forward.
            Self::Received | Self::Queued | Self::Unknown => 0,
            Self::Sent => 1,
            Self::Delivered => 2,
            Self::Read => 3,
            Self::Blocked | Self::Failed => 4,
        }
    }

    /// The stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Queued => "queued",
            Self::Unknown => "unknown",
            Self::Blocked => "blocked",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
        }
    }

    /// From Meta's status name (`played` counts as `read`); `None` for names Meta may add later.
    #[must_use]
    pub fn from_meta(status: &str) -> Option<Self> {
        match status {
            "sent" => Some(Self::Sent),
            "delivered" => Some(Self::Delivered),
            "read" | "played" => Some(Self::Read),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }

    /// From the stored name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Received,
            Self::Queued,
            Self::Unknown,
            Self::Blocked,
            Self::Sent,
            Self::Delivered,
            Self::Read,
            Self::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// An inbound message to store.
#[derive(Debug, Clone)]
pub struct NewInboundMessage<'a> {
    /// Meta's id: the deduplication key.
    pub wamid: &'a Wamid,
    /// Who sent it.
    pub from: &'a ContactProfile,
    /// When the customer sent it.
    pub sent_at: Timestamp,
    /// The message type.
    pub kind: &'a str,
    /// The message JSON as received (every field, known or not).
    pub raw: &'a str,
    /// The tenant's retention settings (the conversation's expiry is stamped from them).
    pub retention: RetentionSettings,
}

/// An outbound message to store, queued, in the recipient's conversation.
#[derive(Debug, Clone)]
pub struct NewOutboundMessage<'a> {
    /// Leadline's id (the API's and the queue's).
    pub id: &'a MessageId,
    /// The recipient (an existing contact).
    pub contact: &'a ContactId,
    /// The message type (`text`, `template`, …).
    pub kind: &'a str,
    /// The Cloud API body, JSON.
    pub body: &'a str,
    /// When it was accepted.
    pub at: Timestamp,
    /// The tenant's retention settings.
    pub retention: RetentionSettings,
}

/// How an outbound message ended without being sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsent {
    /// Refused by policy at send time (an opt-out arrived since it was queued).
    Blocked,
    /// Meta refused it for good, or it could not be queued.
    Failed,
}

/// What [`OutboundStore::claim_outbound`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundClaim {
    /// The message is queued and now claimed by the caller until the time it gave.
    Acquired,
    /// The message is no longer queued: it was handled before (a redelivery).
    Handled,
    /// Another invocation holds the claim until this time.
    Held(Timestamp),
    /// A claim ran out without its holder recording an outcome or giving it back: the holder
    /// died, perhaps after Meta took the message. It is not claimed again (that could send it
    /// twice); the caller records the message `unknown`.
    Lapsed,
    /// No such message (erased, or never stored).
    Missing,
}

/// Whether a write created something or found it already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Written now.
    Created,
    /// Written before (a redelivery): nothing changed.
    Duplicate,
}

/// A status of an outbound message to apply.
#[derive(Debug, Clone)]
pub struct StatusChange<'a> {
    /// The outbound message.
    pub wamid: &'a Wamid,
    /// The status it reached.
    pub status: MessageStatus,
    /// Meta's own name for it (`played` is recorded as such in the history).
    pub meta_status: &'a str,
    /// When.
    pub at: Timestamp,
    /// Who it went to, when Meta says.
    pub recipient: &'a ContactProfile,
    /// Why it failed.
    pub error: Option<&'a MetaError>,
    /// The `biz_opaque_callback_data` Meta echoed: the send sets it to Leadline's message id
    /// (see [`crate::domain::outbound::callback_data`]) unless the caller set their own.
    pub callback: Option<&'a str>,
    /// The tenant's retention settings.
    pub retention: RetentionSettings,
}

/// What applying a status did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusOutcome {
    /// The message moved to this status.
    Applied,
    /// The message already had this or a later status; only the history was completed.
    Stale,
    /// The status names a message Leadline sent and no longer holds (erased, or past its
    /// retention): dropped, so that nothing about its recipient is recorded again.
    Gone,
}

/// Kinds of consent events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentKind {
    /// The person agreed to be contacted.
    OptIn,
    /// The person asked to get no more (marketing or automated) messages.
    OptOut,
    /// The person objected to processing (P63): stored, but no sends, automation or AI, until
    /// lifted. Independent of opt-in/opt-out.
    Restrict,
    /// The restriction was lifted.
    LiftRestriction,
}

impl ConsentKind {
    /// Its name in the ledger and the API (`opt_in`, `opt_out`, `restrict`, `lift_restriction`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OptIn => "opt_in",
            Self::OptOut => "opt_out",
            Self::Restrict => "restrict",
            Self::LiftRestriction => "lift_restriction",
        }
    }

    /// True for the restriction events (which do not change the opt-in/opt-out state).
    #[must_use]
    pub const fn is_restriction(self) -> bool {
        matches!(self, Self::Restrict | Self::LiftRestriction)
    }
}

/// Where a consent event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentSource {
    /// The person wrote an opt-out or opt-in keyword.
    Keyword,
    /// Meta's `user_preferences` webhook (marketing stop / resume).
    MetaUserPreferences,
    /// A Lead Ads form carried consent.
    LeadForm,
    /// A contact list imported by the tenant (its consent column).
    Import,
    /// Recorded by an agent through the API.
    Agent,
    /// Recorded by an integration through the API.
    Api,
}

/// A consent event to record.
#[derive(Debug, Clone)]
pub struct ConsentChange<'a> {
    /// Who.
    pub contact: &'a ContactProfile,
    /// Opt-in or opt-out.
    pub kind: ConsentKind,
    /// From where.
    pub source: ConsentSource,
    /// When.
    pub at: Timestamp,
    /// What caused it (wamid, leadgen id, preference) — recording the same cause twice is a no-op.
    pub cause: &'a str,
}

/// A lead to store.
#[derive(Debug, Clone)]
pub struct NewLead<'a> {
    /// The leadgen id: the deduplication key.
    pub leadgen_id: &'a str,
    /// The Page it came through.
    pub page_id: &'a str,
    /// The person, from the form's answers.
    pub contact: &'a ContactProfile,
    /// The lead as Graph returned it (every answer), JSON.
    pub lead_json: &'a str,
    /// The webhook's change (form, ad, ad set ids), JSON.
    pub change_json: &'a str,
}

/// What [`LifecycleStore::expire_conversation`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expiry {
    /// Not expired (yet): a later message moved its expiry.
    NotDue,
    /// Deleted (or already gone), with what was deleted by this call.
    Deleted(ErasureCounts),
    /// Partly deleted: call again.
    Partial(ErasureCounts),
}

/// The epoch day (days since 1970-01-01) of an instant.
#[must_use]
pub fn epoch_day(at: Timestamp) -> i64 {
    at.as_secs().div_euclid(86_400)
}

/// A contact as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContactView {
    /// Its id.
    pub id: ContactId,
    /// Phone number (E.164 digits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// BSUID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Name (WhatsApp profile or form).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// First contact, epoch ms.
    pub first_seen_at: i64,
    /// Latest contact, epoch ms.
    pub last_seen_at: i64,
    /// The customer's latest inbound message, epoch ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_inbound_at: Option<i64>,
    /// Until when free-form messages may be sent (P22), epoch ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_window_until: Option<i64>,
    /// The current consent state, from the ledger's latest opt-in or opt-out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentState>,
    /// Since when processing is restricted (P63), epoch ms; absent when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restricted_at: Option<i64>,
    /// The open conversation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    /// Tags set by the tenant's team.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Custom attributes set by the tenant's team.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// When the team last changed it, epoch ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
}

/// The current consent state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConsentState {
    /// The latest kind.
    pub state: ConsentKind,
    /// Its source.
    pub source: ConsentSource,
    /// When, epoch ms.
    pub at: i64,
}

/// One entry of the consent ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConsentEventView {
    /// Opt-in or opt-out.
    pub kind: ConsentKind,
    /// Source.
    pub source: ConsentSource,
    /// When, epoch ms.
    pub at: i64,
    /// Set when the change was asked for and refused (it changed nothing): the ledger keeps
    /// the attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<ConsentRefusal>,
}

/// A conversation as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConversationView {
    /// Its id.
    pub id: ConversationId,
    /// With whom.
    pub contact_id: ContactId,
    /// Where it stands (see [`ConversationState::can_become`] for how it moves).
    pub state: ConversationState,
    /// Bumped by every change of state, assignee or queue; a change names the version it saw
    /// (optimistic concurrency). Items written before versions existed read as 0.
    #[serde(default)]
    pub version: u64,
    /// Started, epoch ms.
    pub started_at: i64,
    /// Latest message, epoch ms.
    pub last_message_at: i64,
    /// The agent it is assigned to.
    #[serde(default)]
    pub assignee: Option<UserId>,
    /// The routing queue it waits in.
    #[serde(default)]
    pub queue: Option<QueueId>,
    /// Latest change (message, state, assignment), epoch ms.
    pub updated_at: i64,
    /// Since when it waits in its queue, epoch ms: set when it becomes `queued` with a queue,
    /// cleared when it leaves ([`waits_in`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_at: Option<i64>,
    /// When its current cycle began, epoch ms: its creation, or its latest reopening (a move out
    /// of `resolved`). Items written before cycles existed read as `started_at`.
    #[serde(default)]
    pub cycle_started_at: i64,
    /// The first agent reply of the current cycle, epoch ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_reply_at: Option<i64>,
    /// When it was resolved, epoch ms (while it is `resolved`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<i64>,
    /// Snoozed until, epoch ms (only while it is `pending`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snoozed_until: Option<i64>,
}

/// What an agent may see: conversations assigned to them or waiting in their queues (P14).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentScope {
    /// The agent (API keys have none).
    pub user: Option<UserId>,
    /// Their queues.
    pub queues: Vec<QueueId>,
}

impl AgentScope {
    /// True when the agent may see `conversation`.
    #[must_use]
    pub fn sees(&self, conversation: &ConversationView) -> bool {
        (self.user.is_some() && conversation.assignee == self.user)
            || conversation.queue.as_ref().is_some_and(|q| self.queues.contains(q))
    }
}

/// Which conversations to list; every set field narrows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConversationFilter {
    /// Only this state.
    pub state: Option<ConversationState>,
    /// Only assigned to this user.
    pub assignee: Option<UserId>,
    /// Only in this queue.
    pub queue: Option<QueueId>,
    /// Only changed at or after, epoch ms.
    pub updated_since: Option<i64>,
    /// Only what this agent may see.
    pub visible_to: Option<AgentScope>,
}

impl ConversationFilter {
    /// True when `conversation` passes.
    #[must_use]
    pub fn accepts(&self, conversation: &ConversationView) -> bool {
        self.state.is_none_or(|s| s == conversation.state)
            && self.assignee.as_ref().is_none_or(|a| conversation.assignee.as_ref() == Some(a))
            && self.queue.as_ref().is_none_or(|q| conversation.queue.as_ref() == Some(q))
            && self.updated_since.is_none_or(|t| conversation.updated_at >= t)
            && self.visible_to.as_ref().is_none_or(|scope| scope.sees(conversation))
    }
}

/// A change to a conversation; `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConversationPatch {
    /// New state; the move from the stored state must be allowed
    /// ([`ConversationState::can_become`]).
    pub state: Option<ConversationState>,
    /// New assignee.
    pub assignee: Option<Option<UserId>>,
    /// New queue.
    pub queue: Option<Option<QueueId>>,
    /// The version the caller saw: the change applies only if the conversation is still at it.
    /// `None` applies it to the version the store reads first (still exactly one winner among
    /// concurrent writers, but without the caller's own view).
    pub expected_version: Option<u64>,
    /// When the change makes the conversation count toward the load of an agent it did not
    /// count toward before ([`counts_toward_load`]), that agent must be
    /// online (else [`UpdateConversationError::AgentUnavailable`], nothing written). Capacity is
    /// checked whatever this says.
    pub require_online: bool,
    /// Sets (`Some(Some(ms))`) or clears (`Some(None)`) the snooze time, epoch ms. The store
    /// removes it whenever the resulting state is not `pending`.
    pub snoozed_until: Option<Option<i64>>,
}

/// A change to a contact by the tenant's team (rectification, P61); `None` leaves a field alone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactPatch {
    /// Corrected name (`Some(None)` removes it).
    pub name: Option<Option<String>>,
    /// Corrected email, lowercased (`Some(None)` removes it).
    pub email: Option<Option<String>>,
    /// Replaces the tags.
    pub tags: Option<Vec<String>>,
    /// Replaces the custom attributes.
    pub attributes: Option<BTreeMap<String, String>>,
}

/// The most tags a contact has.
pub const MAX_CONTACT_TAGS: usize = 50;
/// The most custom attributes a contact has.
pub const MAX_CONTACT_ATTRIBUTES: usize = 50;

impl ContactPatch {
    /// Refuses a patch that would leave the contact over a cap. The stores check it on every
    /// update, so the caps hold however many creates, merges or imports add to a contact.
    ///
    /// # Errors
    /// [`InboxError::OverCap`].
    pub fn within_caps(&self) -> Result<(), InboxError> {
        if self.tags.as_ref().is_some_and(|tags| tags.len() > MAX_CONTACT_TAGS) {
            return Err(InboxError::OverCap { what: "tags", limit: MAX_CONTACT_TAGS });
        }
        if self.attributes.as_ref().is_some_and(|attributes| attributes.len() > MAX_CONTACT_ATTRIBUTES) {
            return Err(InboxError::OverCap { what: "attributes", limit: MAX_CONTACT_ATTRIBUTES });
        }
        Ok(())
    }
}

/// Which contacts to list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactFilter {
    /// Only contacts with this tag.
    pub tag: Option<String>,
}

/// The pipeline stages of a lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeadStage {
    /// Not worked yet.
    New,
    /// Reached out.
    Contacted,
    /// Fits.
    Qualified,
    /// Became a customer.
    Won,
    /// Will not.
    Lost,
}

impl LeadStage {
    /// The stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Contacted => "contacted",
            Self::Qualified => "qualified",
            Self::Won => "won",
            Self::Lost => "lost",
        }
    }

    /// From the stored name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        [Self::New, Self::Contacted, Self::Qualified, Self::Won, Self::Lost]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// Where a lead came from, as the tenant's marketing names it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadOrigin {
    /// The form (Lead Ads form id, or any label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<String>,
    /// The ad.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad: Option<String>,
    /// The campaign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
}

/// A lead entered by hand (or by an integration).
#[derive(Debug, Clone)]
pub struct NewManualLead<'a> {
    /// Its id (`ld_…`).
    pub id: &'a str,
    /// The person.
    pub contact: &'a ContactProfile,
    /// The stage.
    pub stage: LeadStage,
    /// Who works it.
    pub owner: Option<&'a UserId>,
    /// Where it came from.
    pub origin: &'a LeadOrigin,
    /// When.
    pub at: Timestamp,
}

/// A change to a lead; `None` leaves a field alone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeadPatch {
    /// New stage.
    pub stage: Option<LeadStage>,
    /// New owner (`Some(None)` clears it).
    pub owner: Option<Option<UserId>>,
    /// Corrected origin.
    pub origin: Option<LeadOrigin>,
}

/// Which leads to list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeadFilter {
    /// Only this contact's.
    pub contact: Option<ContactId>,
    /// Only in this stage.
    pub stage: Option<LeadStage>,
    /// Only owned by this user.
    pub owner: Option<UserId>,
}

impl LeadFilter {
    /// True when `lead` passes.
    #[must_use]
    pub fn accepts(&self, lead: &LeadView) -> bool {
        self.contact.as_ref().is_none_or(|c| *c == lead.contact_id)
            && self.stage.is_none_or(|s| s == lead.stage)
            && self.owner.as_ref().is_none_or(|o| lead.owner.as_ref() == Some(o))
    }
}

/// A message as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MessageView {
    /// Leadline's id.
    pub id: MessageId,
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Meta's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wamid: Option<String>,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// The message type (`text`, `image`, …; `unknown` for an outbound message seen only by its statuses).
    #[serde(rename = "type")]
    pub kind: String,
    /// When it was sent, epoch ms.
    pub timestamp: i64,
    /// Its current status.
    pub status: MessageStatus,
    /// Every status reached, with when (epoch ms).
    pub statuses: BTreeMap<String, i64>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<MetaError>,
    /// The message as received (inbound), every field; gone once sanitized.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    /// When the content was removed for age (P51), epoch ms; the metadata stays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_sanitized_at: Option<i64>,
}

/// A lead as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LeadView {
    /// The leadgen id (Lead Ads) or `ld_…` (entered by hand).
    pub id: String,
    /// The Page (Lead Ads only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_id: Option<String>,
    /// The person.
    pub contact_id: ContactId,
    /// The lead as Graph returned it (Lead Ads), or the fields entered (by hand).
    pub lead: Value,
    /// Form, ad and ad set ids from the webhook (Lead Ads).
    pub source: Value,
    /// Form, ad and campaign as the team names them.
    pub origin: LeadOrigin,
    /// Pipeline stage.
    pub stage: LeadStage,
    /// Who works it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<UserId>,
    /// When Leadline stored it, epoch ms.
    pub received_at: i64,
    /// Latest change, epoch ms.
    pub updated_at: i64,
}

#[cfg(test)]
mod tests;
