//! The inbox's ports in memory: one [`MemoryInbox`] implements every inbox port, one file per
//! port. `contract` runs the same suites on it as on DynamoDB.

use super::*;
use crate::domain::inbox::ConversationState;
use crate::domain::inbox::{ContactOrigin, SERVICE_WINDOW};
use crate::domain::privacy::Integration;

mod center;
mod contacts;
mod conversations;
mod ingest;
mod leads;
mod lifecycle;
mod outbound;
mod suggestions;
mod timers;

/// The inbox in memory, with the port's contract: messages once per wamid, statuses forward
/// only, consent once per cause, leads once per leadgen id. Pages use the item's position as
/// the cursor.
#[derive(Debug, Default, Clone)]
pub struct MemoryInbox {
    pub(super) state: Arc<Mutex<InboxState>>,
}

#[derive(Debug, Default)]
pub(super) struct InboxState {
    pub(super) contacts: Vec<(TenantId, ContactView)>,
    pub(super) conversations: Vec<(TenantId, ConversationView)>,
    pub(super) messages: Vec<(TenantId, MessageView)>,
    pub(super) consent: Vec<(TenantId, ContactId, String, ConsentEventView)>,
    pub(super) leads: Vec<(TenantId, LeadView)>,
    /// Send claims (until, epoch ms) and send times, by message.
    pub(super) send_claims: HashMap<(TenantId, MessageId), i64>,
    pub(super) sent_at: HashMap<(TenantId, MessageId), i64>,
    pub(super) suggestions: Vec<(TenantId, SuggestionView)>,
    /// Lookup entries (phone, BSUID, email) and the contact that claimed each first, as the
    /// table's aliases: contact ids are random, found only through these.
    pub(super) aliases: Vec<(TenantId, ContactKey, ContactId)>,
    /// Erased people's opt-outs, by identifier (the table keeps them under keyed hashes).
    pub(super) suppressions: Vec<(TenantId, ContactKey, ConsentState)>,
    /// Through what each contact came, and its name (P54).
    pub(super) origins: HashMap<(TenantId, ContactId), std::collections::BTreeSet<ContactOrigin>>,
    pub(super) name_origins: HashMap<(TenantId, ContactId), ContactOrigin>,
    /// Statuses of wamids no message has yet, kept until `mark_sent` merges them.
    pub(super) early_statuses: Vec<(TenantId, MessageView)>,
    /// Each conversation's retention clock: when its latest data was received and when it
    /// expires (epoch ms).
    pub(super) expiry: HashMap<(TenantId, ConversationId), (i64, i64)>,
    /// When each stored message was received (epoch ms): what its content's age counts from.
    pub(super) received_at: HashMap<(TenantId, MessageId), i64>,
    /// When each suggestion request expires.
    pub(super) suggestion_expiry: HashMap<(TenantId, SuggestionId), ExpiresAt>,
    /// Agents' presence, capacity and load (the table's `AGENT#` items): loads move with the
    /// conversations, under the same lock.
    pub(super) agents: HashMap<(TenantId, crate::domain::UserId), crate::domain::center::AgentStatus>,
    /// The conversations waiting in each queue (the table's `WAIT#` entries).
    pub(super) waiting: Vec<(TenantId, crate::domain::center::Waiting)>,
    /// The contact center's timers (the table's `DUE#timer#` buckets) and the sweep's cursor.
    pub(super) timers: std::collections::BTreeSet<TimerEntry>,
    pub(super) timer_cursor: Option<i64>,
}

/// A timer as the memory store orders it: by due time, then tenant, conversation, kind (the
/// table's sort key within a bucket).
pub(super) type TimerEntry = (i64, TenantId, ConversationId, crate::domain::center::TimerKind);

pub(super) fn paginate<T: Clone>(
    all: Vec<T>,
    after: Option<&str>,
    limit: u16,
) -> Result<Page<T>, InboxError> {
    let start = match after {
        None => 0,
        Some(cursor) => cursor.parse::<usize>().map_err(|_| InboxError::InvalidCursor)?,
    };
    let end = (start + usize::from(limit.max(1))).min(all.len());
    let items = all.get(start..end).map(<[T]>::to_vec).unwrap_or_default();
    Ok(Page { items, next: (end < all.len()).then(|| end.to_string()) })
}

impl InboxState {
    /// True when the suggestion request has expired by the wall clock (what the table's reads
    /// filter by).
    pub(super) fn expired(&self, tenant: &TenantId, id: &SuggestionId) -> bool {
        self.suggestion_expiry
            .get(&(tenant.clone(), id.clone()))
            .is_some_and(|expires| expires.is_expired(crate::domain::SystemClock.now()))
    }
}

impl MemoryInbox {
    pub(super) fn state(&self) -> Result<std::sync::MutexGuard<'_, InboxState>, InboxError> {
        self.state.lock().map_err(|_| InboxError::Unknown(anyhow::anyhow!("poisoned")))
    }

    /// The contact a key's lookup entry (alias) leads to.
    pub(super) fn alias(state: &InboxState, tenant: &TenantId, key: &ContactKey) -> Option<ContactId> {
        state.aliases.iter().find(|(t, k, _)| t == tenant && k == key).map(|(_, _, id)| id.clone())
    }

    /// The contact `profile` leads to, without creating one: by phone when it has one, else by
    /// its first BSUID or email with a lookup entry — as the table does.
    pub(super) fn existing(
        state: &InboxState,
        tenant: &TenantId,
        profile: &ContactProfile,
    ) -> Option<ContactId> {
        let keys = profile.keys();
        let candidates = match keys.first() {
            Some(ContactKey::Phone(_)) => &keys[..1],
            _ => &keys[..],
        };
        candidates
            .iter()
            .filter_map(|key| Self::alias(state, tenant, key))
            .find(|id| state.contacts.iter().any(|(t, c)| t == tenant && &c.id == id))
    }

    /// Finds (or creates, whole, with a new random id) the contact `profile` identifies and
    /// completes its identity fields and aliases, as the table does. A person erased while opted
    /// out comes back opted out.
    pub(super) fn contact(
        state: &mut InboxState,
        tenant: &TenantId,
        (profile, origin): (&ContactProfile, ContactOrigin),
        at: Timestamp,
    ) -> Result<ContactId, InboxError> {
        let keys = profile.keys();
        if keys.is_empty() {
            return Err(InboxError::NoContact);
        }
        let id = match Self::existing(state, tenant, profile) {
            Some(id) => id,
            None => {
                let id = ContactId::generate(at).map_err(anyhow::Error::from)?;
                let suppressed = keys.iter().find_map(|key| {
                    state
                        .suppressions
                        .iter()
                        .find(|(t, k, _)| t == tenant && k == key)
                        .map(|(_, _, c)| c.clone())
                });
                if let Some(opt_out) = &suppressed {
                    let event = ConsentEventView {
                        kind: opt_out.state,
                        source: opt_out.source,
                        at: opt_out.at,
                        refused: None,
                    };
                    state.consent.push((tenant.clone(), id.clone(), "suppression".to_owned(), event));
                }
                state.contacts.push((
                    tenant.clone(),
                    ContactView {
                        id: id.clone(),
                        phone: None,
                        user_id: None,
                        email: None,
                        name: None,
                        first_seen_at: at.as_millis(),
                        last_seen_at: at.as_millis(),
                        last_inbound_at: None,
                        service_window_until: None,
                        consent: suppressed,
                        restricted_at: None,
                        conversation_id: None,
                        tags: Vec::new(),
                        attributes: std::collections::BTreeMap::new(),
                        updated_at: None,
                    },
                ));
                id
            }
        };
        for key in &keys {
            // The first contact keeps an alias.
            if Self::alias(state, tenant, key).is_none() {
                state.aliases.push((tenant.clone(), key.clone(), id.clone()));
            }
        }
        state.origins.entry((tenant.clone(), id.clone())).or_default().insert(origin);
        if let Some((_, view)) = state.contacts.iter_mut().find(|(t, c)| t == tenant && c.id == id) {
            if view.name.is_none() && profile.name.as_ref().is_some_and(|n| !n.is_empty()) {
                state.name_origins.insert((tenant.clone(), id.clone()), origin);
            }
            let non_empty = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
            view.phone =
                view.phone.take().or_else(|| profile.phone.as_ref().map(|p| p.as_digits().to_owned()));
            view.user_id = view.user_id.take().or_else(|| non_empty(&profile.user_id));
            view.email = view.email.take().or_else(|| non_empty(&profile.email));
            view.name = view.name.take().or_else(|| non_empty(&profile.name));
        }
        Ok(id)
    }

    /// The contact's open conversation (the one it links), opened on first need.
    pub(super) fn conversation(
        state: &mut InboxState,
        tenant: &TenantId,
        contact: &ContactId,
        (at, now): (Timestamp, Timestamp),
    ) -> Result<ConversationId, InboxError> {
        let linked = state
            .contacts
            .iter()
            .find(|(t, c)| t == tenant && &c.id == contact)
            .and_then(|(_, c)| c.conversation_id.clone());
        if let Some(id) = linked {
            if state.conversations.iter().any(|(t, c)| t == tenant && c.id == id) {
                return Ok(id);
            }
        }
        let id = ConversationId::generate(at).map_err(anyhow::Error::from)?;
        state.conversations.push((
            tenant.clone(),
            ConversationView {
                id: id.clone(),
                contact_id: contact.clone(),
                state: ConversationState::Open,
                version: 0,
                started_at: at.as_millis(),
                last_message_at: at.as_millis(),
                assignee: None,
                queue: None,
                updated_at: at.as_millis(),
                queued_at: None,
                cycle_started_at: at.as_millis(),
                first_reply_at: None,
                resolved_at: None,
                snoozed_until: None,
            },
        ));
        if let Some((_, view)) = state.contacts.iter_mut().find(|(t, c)| t == tenant && &c.id == contact) {
            view.conversation_id = Some(id.clone());
        }
        // A new conversation is worked (`open`): its first silence check is armed with it.
        let due = now.as_millis().max(at.as_millis()) + crate::domain::inbox::IDLE_CHECK_AFTER_MS;
        state.timers.insert((due, tenant.clone(), id.clone(), crate::domain::center::TimerKind::Idle));
        Ok(id)
    }

    /// Moves the contact's and the conversation's "latest" fields forward to `at` (first seen
    /// backward); an inbound message also moves the 24 h window, and its name wins if it is the
    /// latest.
    pub(super) fn touch(
        state: &mut InboxState,
        tenant: &TenantId,
        contact: &ContactId,
        conversation: &ConversationId,
        at: Timestamp,
        inbound: Option<&ContactProfile>,
    ) {
        let at = at.as_millis();
        if let Some((_, view)) = state.contacts.iter_mut().find(|(t, c)| t == tenant && &c.id == contact) {
            view.first_seen_at = view.first_seen_at.min(at);
            match inbound {
                Some(profile) => {
                    if view.last_inbound_at.is_none_or(|last| last < at) {
                        view.last_seen_at = at;
                        view.last_inbound_at = Some(at);
                        let window = i64::try_from(SERVICE_WINDOW.as_millis()).unwrap_or(i64::MAX);
                        view.service_window_until = Some(at.saturating_add(window));
                        if let Some(name) = profile.name.as_ref().filter(|n| !n.is_empty()) {
                            view.name = Some(name.clone());
                        }
                    }
                }
                None => view.last_seen_at = view.last_seen_at.max(at),
            }
        }
        if let Some((_, view)) =
            state.conversations.iter_mut().find(|(t, c)| t == tenant && &c.id == conversation)
        {
            view.last_message_at = view.last_message_at.max(at);
            view.updated_at = view.updated_at.max(view.last_message_at);
        }
    }

    /// Moves a conversation's retention clock to `received` (forward only) and its expiry to
    /// `received` plus the retention period.
    pub(super) fn stamp_expiry(
        state: &mut InboxState,
        tenant: &TenantId,
        conversation: &ConversationId,
        received: Timestamp,
        settings: RetentionSettings,
    ) {
        let ttl = i64::try_from(settings.conversation_ttl().as_millis()).unwrap_or(i64::MAX);
        let received = received.as_millis();
        let entry = state.expiry.entry((tenant.clone(), conversation.clone())).or_insert((i64::MIN, 0));
        if entry.0 < received {
            *entry = (received, received.saturating_add(ttl));
        }
    }
}
