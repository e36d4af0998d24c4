//! In-memory fakes of the ports, for unit tests of handlers (enabled by the `test-util`
//! feature). Integration tests use the real adapters against moto instead.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use crate::adapters::kms::{open_with, seal_with};
use crate::domain::inbox::{
    ConsentChange, ConsentEventView, ConsentState, ContactKey, ContactProfile, ContactView, ConversationView,
    Expiry, InboxError, InboxStore, LeadView, MessageStatus, MessageView, NewInboundMessage, NewLead, Page,
    StatusChange, StatusOutcome, Stored,
};
use crate::domain::ports::{
    ConnectError, CreateTenantError, EncryptionContext, EnqueueError, OpenError, Queue, QueueMessage,
    SealError, Sealed, TenantStore, TenantStoreError, Vault,
};
use crate::domain::privacy::{
    DayQueue, ErasureCounts, ErasureReceipt, ErasureRequest, ErasureStatus, PrivacyError, PrivacyStore,
};
use crate::domain::tenant::{
    ApiKeyRecord, PageConnection, RetentionSettings, Tenant, TenantStatus, WhatsAppConnection,
};
use crate::domain::{
    ApiKeyId, Clock, ContactId, ConversationId, ErasureId, MessageId, PhoneNumber, SecretBytes, TenantId,
    Timestamp,
};

/// A clock the test sets and moves.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock at `now`.
    #[must_use]
    pub fn at(now: Timestamp) -> Self {
        Self(Arc::new(AtomicI64::new(now.as_millis())))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: std::time::Duration) {
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}

/// A vault that wraps data keys with a key held in memory instead of KMS. Real AES-256-GCM, and
/// the context is bound exactly as with KMS, so "wrong tenant cannot open" holds here too.
#[derive(Debug, Default)]
pub struct LocalVault;

const LOCAL_MASTER_KEY: [u8; 32] = [42; 32];

impl Vault for LocalVault {
    async fn seal(&self, context: &EncryptionContext, plaintext: &[u8]) -> Result<Sealed, SealError> {
        let mut data_key = [0u8; 32];
        aws_lc_rs::rand::fill(&mut data_key).map_err(|_| anyhow::anyhow!("no randomness"))?;
        let wrapped = seal_with(&LOCAL_MASTER_KEY, vec![0], context, &data_key)?;
        let mut sealed = seal_with(&data_key, Vec::new(), context, plaintext)?;
        sealed.wrapped_key = wrapped.encode().into_bytes();
        Ok(sealed)
    }

    async fn open(&self, context: &EncryptionContext, sealed: &Sealed) -> Result<SecretBytes, OpenError> {
        let wrapped = std::str::from_utf8(&sealed.wrapped_key).map_err(|_| OpenError::Refused)?;
        let wrapped = Sealed::decode(wrapped).map_err(|_| OpenError::Refused)?;
        let data_key = open_with(&LOCAL_MASTER_KEY, context, &wrapped).ok_or(OpenError::Refused)?;
        open_with(data_key.expose(), context, sealed).ok_or(OpenError::Refused)
    }
}

/// A queue that keeps what was sent, and can be told to fail.
#[derive(Debug, Default, Clone)]
pub struct MemoryQueue {
    sent: Arc<Mutex<Vec<QueueMessage>>>,
    failing: Arc<Mutex<bool>>,
}

impl MemoryQueue {
    /// Everything sent so far.
    #[must_use]
    pub fn sent(&self) -> Vec<QueueMessage> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Makes every later send fail (or succeed again).
    pub fn set_failing(&self, failing: bool) {
        if let Ok(mut f) = self.failing.lock() {
            *f = failing;
        }
    }
}

impl Queue for MemoryQueue {
    async fn send_batch(&self, messages: &[QueueMessage]) -> Result<(), EnqueueError> {
        crate::adapters::sqs::chunk(messages)?;
        if self.failing.lock().map(|f| *f).unwrap_or(false) {
            return Err(anyhow::anyhow!("queue unavailable (test)").into());
        }
        self.sent.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.extend_from_slice(messages);
        Ok(())
    }
}

/// Tenants in memory.
#[derive(Debug, Default, Clone)]
pub struct MemoryTenantStore {
    state: Arc<Mutex<TenantState>>,
}

#[derive(Debug, Default)]
struct TenantState {
    tenants: HashMap<TenantId, Tenant>,
    keys: HashMap<(TenantId, ApiKeyId), ApiKeyRecord>,
    connections: HashMap<TenantId, WhatsAppConnection>,
    routes: HashMap<String, TenantId>,
    pages: HashMap<TenantId, PageConnection>,
    page_routes: HashMap<String, TenantId>,
}

impl MemoryTenantStore {
    fn state(&self) -> anyhow::Result<std::sync::MutexGuard<'_, TenantState>> {
        self.state.lock().map_err(|_| anyhow::anyhow!("poisoned"))
    }
}

impl TenantStore for MemoryTenantStore {
    async fn create_tenant(
        &self,
        tenant: &Tenant,
        admin_key: &ApiKeyRecord,
    ) -> Result<(), CreateTenantError> {
        let mut state = self.state()?;
        if state.tenants.contains_key(&tenant.id) {
            return Err(CreateTenantError::AlreadyExists);
        }
        state.tenants.insert(tenant.id.clone(), tenant.clone());
        state.keys.insert((tenant.id.clone(), admin_key.id.clone()), admin_key.clone());
        Ok(())
    }

    async fn tenant(&self, tenant_id: &TenantId) -> Result<Option<Tenant>, TenantStoreError> {
        Ok(self.state()?.tenants.get(tenant_id).cloned())
    }

    async fn set_retention(
        &self,
        tenant_id: &TenantId,
        settings: RetentionSettings,
    ) -> Result<(), TenantStoreError> {
        if let Some(tenant) = self.state()?.tenants.get_mut(tenant_id) {
            tenant.retention = settings;
        }
        Ok(())
    }

    async fn api_key(
        &self,
        tenant_id: &TenantId,
        key_id: &ApiKeyId,
    ) -> Result<Option<ApiKeyRecord>, TenantStoreError> {
        Ok(self.state()?.keys.get(&(tenant_id.clone(), key_id.clone())).cloned())
    }

    async fn connect_whatsapp(
        &self,
        tenant_id: &TenantId,
        connection: &WhatsAppConnection,
    ) -> Result<(), ConnectError> {
        let mut state = self.state()?;
        if state.tenants.get(tenant_id).map(|t| t.status) != Some(TenantStatus::Active) {
            return Err(ConnectError::TenantNotFound);
        }
        if state.routes.get(&connection.phone_number_id).is_some_and(|owner| owner != tenant_id) {
            return Err(ConnectError::TakenByAnotherTenant);
        }
        if let Some(old) = state.connections.insert(tenant_id.clone(), connection.clone()) {
            state.routes.remove(&old.phone_number_id);
        }
        state.routes.insert(connection.phone_number_id.clone(), tenant_id.clone());
        Ok(())
    }

    async fn whatsapp_connection(
        &self,
        tenant_id: &TenantId,
    ) -> Result<Option<WhatsAppConnection>, TenantStoreError> {
        Ok(self.state()?.connections.get(tenant_id).cloned())
    }

    async fn disconnect_whatsapp(&self, tenant_id: &TenantId) -> Result<bool, TenantStoreError> {
        let mut state = self.state()?;
        let Some(old) = state.connections.remove(tenant_id) else {
            return Ok(false);
        };
        state.routes.remove(&old.phone_number_id);
        Ok(true)
    }

    async fn tenant_for_phone_number_id(
        &self,
        phone_number_id: &str,
    ) -> Result<Option<TenantId>, TenantStoreError> {
        Ok(self.state()?.routes.get(phone_number_id).cloned())
    }

    async fn connect_page(
        &self,
        tenant_id: &TenantId,
        connection: &PageConnection,
    ) -> Result<(), ConnectError> {
        let mut state = self.state()?;
        if state.tenants.get(tenant_id).map(|t| t.status) != Some(TenantStatus::Active) {
            return Err(ConnectError::TenantNotFound);
        }
        if state.page_routes.get(&connection.page_id).is_some_and(|owner| owner != tenant_id) {
            return Err(ConnectError::TakenByAnotherTenant);
        }
        if let Some(old) = state.pages.insert(tenant_id.clone(), connection.clone()) {
            state.page_routes.remove(&old.page_id);
        }
        state.page_routes.insert(connection.page_id.clone(), tenant_id.clone());
        Ok(())
    }

    async fn page_connection(
        &self,
        tenant_id: &TenantId,
    ) -> Result<Option<PageConnection>, TenantStoreError> {
        Ok(self.state()?.pages.get(tenant_id).cloned())
    }

    async fn disconnect_page(&self, tenant_id: &TenantId) -> Result<bool, TenantStoreError> {
        let mut state = self.state()?;
        let Some(old) = state.pages.remove(tenant_id) else {
            return Ok(false);
        };
        state.page_routes.remove(&old.page_id);
        Ok(true)
    }

    async fn tenant_for_page_id(&self, page_id: &str) -> Result<Option<TenantId>, TenantStoreError> {
        Ok(self.state()?.page_routes.get(page_id).cloned())
    }
}

/// The inbox in memory, with the port's contract: messages once per wamid, statuses forward
/// only, consent once per cause, leads once per leadgen id. Pages use the item's position as
/// the cursor.
#[derive(Debug, Default, Clone)]
pub struct MemoryInbox {
    state: Arc<Mutex<InboxState>>,
}

#[derive(Debug, Default)]
struct InboxState {
    contacts: Vec<(TenantId, ContactView)>,
    conversations: Vec<(TenantId, ConversationView)>,
    messages: Vec<(TenantId, MessageView)>,
    consent: Vec<(TenantId, ContactId, String, ConsentEventView)>,
    leads: Vec<(TenantId, LeadView)>,
}

fn paginate<T: Clone>(all: Vec<T>, after: Option<&str>, limit: u16) -> Result<Page<T>, InboxError> {
    let start = match after {
        None => 0,
        Some(cursor) => cursor.parse::<usize>().map_err(|_| InboxError::InvalidCursor)?,
    };
    let end = (start + usize::from(limit.max(1))).min(all.len());
    let items = all.get(start..end).map(<[T]>::to_vec).unwrap_or_default();
    Ok(Page { items, next: (end < all.len()).then(|| end.to_string()) })
}

impl MemoryInbox {
    fn state(&self) -> Result<std::sync::MutexGuard<'_, InboxState>, InboxError> {
        self.state.lock().map_err(|_| InboxError::Unknown(anyhow::anyhow!("poisoned")))
    }

    fn contact(
        state: &mut InboxState,
        tenant: &TenantId,
        profile: &ContactProfile,
        at: Timestamp,
    ) -> Result<ContactId, InboxError> {
        let id = profile.keys().first().ok_or(InboxError::NoContact)?.contact_id();
        if !state.contacts.iter().any(|(t, c)| t == tenant && c.id == id) {
            state.contacts.push((
                tenant.clone(),
                ContactView {
                    id: id.clone(),
                    phone: profile.phone.as_ref().map(|p| p.as_digits().to_owned()),
                    user_id: profile.user_id.clone(),
                    email: profile.email.clone(),
                    name: profile.name.clone(),
                    first_seen_at: at.as_millis(),
                    last_seen_at: at.as_millis(),
                    last_inbound_at: None,
                    service_window_until: None,
                    consent: None,
                    conversation_id: None,
                },
            ));
        }
        Ok(id)
    }

    fn conversation(
        state: &mut InboxState,
        tenant: &TenantId,
        contact: &ContactId,
        at: Timestamp,
    ) -> ConversationId {
        if let Some((_, c)) =
            state.conversations.iter().find(|(t, c)| t == tenant && &c.contact_id == contact)
        {
            return c.id.clone();
        }
        let id = ConversationId::generate(at);
        state.conversations.push((
            tenant.clone(),
            ConversationView {
                id: id.clone(),
                contact_id: contact.clone(),
                state: "open".into(),
                started_at: at.as_millis(),
                last_message_at: at.as_millis(),
            },
        ));
        id
    }
}

impl InboxStore for MemoryInbox {
    async fn store_inbound_message(
        &self,
        tenant: &TenantId,
        message: &NewInboundMessage<'_>,
        _now: Timestamp,
    ) -> Result<Stored, InboxError> {
        let mut state = self.state()?;
        if state
            .messages
            .iter()
            .any(|(t, m)| t == tenant && m.wamid.as_deref() == Some(message.wamid.as_str()))
        {
            return Ok(Stored::Duplicate);
        }
        let contact = Self::contact(&mut state, tenant, message.from, message.sent_at)?;
        let conversation = Self::conversation(&mut state, tenant, &contact, message.sent_at);
        state.messages.push((
            tenant.clone(),
            MessageView {
                id: MessageId::generate(message.sent_at),
                conversation_id: conversation,
                wamid: Some(message.wamid.as_str().to_owned()),
                direction: "inbound".into(),
                kind: message.kind.to_owned(),
                timestamp: message.sent_at.as_millis(),
                status: MessageStatus::Received,
                statuses: std::collections::BTreeMap::new(),
                error: None,
                payload: serde_json::from_str(message.raw).ok(),
                content_sanitized_at: None,
            },
        ));
        Ok(Stored::Created)
    }

    async fn apply_status(
        &self,
        tenant: &TenantId,
        change: &StatusChange<'_>,
        _now: Timestamp,
    ) -> Result<StatusOutcome, InboxError> {
        let mut state = self.state()?;
        let Some((_, message)) = state
            .messages
            .iter_mut()
            .find(|(t, m)| t == tenant && m.wamid.as_deref() == Some(change.wamid.as_str()))
        else {
            return Ok(StatusOutcome::Stale);
        };
        message.statuses.entry(change.meta_status.to_owned()).or_insert(change.at.as_millis());
        if change.status.rank() <= message.status.rank() {
            return Ok(StatusOutcome::Stale);
        }
        message.status = change.status;
        message.error = change.error.cloned();
        Ok(StatusOutcome::Applied)
    }

    async fn record_consent(
        &self,
        tenant: &TenantId,
        change: &ConsentChange<'_>,
        _now: Timestamp,
    ) -> Result<Stored, InboxError> {
        let mut state = self.state()?;
        let contact = Self::contact(&mut state, tenant, change.contact, change.at)?;
        if state.consent.iter().any(|(t, c, cause, _)| t == tenant && *c == contact && cause == change.cause)
        {
            return Ok(Stored::Duplicate);
        }
        let event = ConsentEventView { kind: change.kind, source: change.source, at: change.at.as_millis() };
        state.consent.push((tenant.clone(), contact.clone(), change.cause.to_owned(), event));
        if let Some((_, view)) = state.contacts.iter_mut().find(|(t, c)| t == tenant && c.id == contact) {
            if view.consent.as_ref().is_none_or(|c| c.at <= change.at.as_millis()) {
                view.consent = Some(ConsentState {
                    state: change.kind,
                    source: change.source,
                    at: change.at.as_millis(),
                });
            }
        }
        Ok(Stored::Created)
    }

    async fn lead_exists(&self, tenant: &TenantId, leadgen_id: &str) -> Result<bool, InboxError> {
        Ok(self.state()?.leads.iter().any(|(t, l)| t == tenant && l.id == leadgen_id))
    }

    async fn store_lead(
        &self,
        tenant: &TenantId,
        lead: &NewLead<'_>,
        now: Timestamp,
    ) -> Result<Stored, InboxError> {
        let mut state = self.state()?;
        if state.leads.iter().any(|(t, l)| t == tenant && l.id == lead.leadgen_id) {
            return Ok(Stored::Duplicate);
        }
        let contact_id = Self::contact(&mut state, tenant, lead.contact, now)?;
        state.leads.push((
            tenant.clone(),
            LeadView {
                id: lead.leadgen_id.to_owned(),
                page_id: lead.page_id.to_owned(),
                contact_id,
                lead: serde_json::from_str(lead.lead_json).unwrap_or_default(),
                source: serde_json::from_str(lead.change_json).unwrap_or_default(),
                received_at: now.as_millis(),
            },
        ));
        Ok(Stored::Created)
    }

    async fn contact_by_phone(
        &self,
        tenant: &TenantId,
        phone: &PhoneNumber,
    ) -> Result<Option<ContactView>, InboxError> {
        let id = ContactKey::Phone(phone.clone()).contact_id();
        Ok(self.state()?.contacts.iter().find(|(t, c)| t == tenant && c.id == id).map(|(_, c)| c.clone()))
    }

    async fn contacts(
        &self,
        tenant: &TenantId,
        after: Option<&str>,
        limit: u16,
    ) -> Result<Page<ContactView>, InboxError> {
        let all =
            self.state()?.contacts.iter().filter(|(t, _)| t == tenant).map(|(_, c)| c.clone()).collect();
        paginate(all, after, limit)
    }

    async fn conversations(
        &self,
        tenant: &TenantId,
        contact: Option<&ContactId>,
        after: Option<&str>,
        limit: u16,
    ) -> Result<Page<ConversationView>, InboxError> {
        let all = self
            .state()?
            .conversations
            .iter()
            .filter(|(t, c)| t == tenant && contact.is_none_or(|id| &c.contact_id == id))
            .map(|(_, c)| c.clone())
            .collect();
        paginate(all, after, limit)
    }

    async fn conversation(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
    ) -> Result<Option<ConversationView>, InboxError> {
        Ok(self
            .state()?
            .conversations
            .iter()
            .find(|(t, c)| t == tenant && &c.id == id)
            .map(|(_, c)| c.clone()))
    }

    async fn messages(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        after: Option<&str>,
        limit: u16,
    ) -> Result<Page<MessageView>, InboxError> {
        let mut all: Vec<MessageView> = self
            .state()?
            .messages
            .iter()
            .filter(|(t, m)| t == tenant && &m.conversation_id == conversation)
            .map(|(_, m)| m.clone())
            .collect();
        all.sort_by_key(|m| m.timestamp);
        paginate(all, after, limit)
    }

    async fn consent_ledger(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
    ) -> Result<Vec<ConsentEventView>, InboxError> {
        let mut events: Vec<ConsentEventView> = self
            .state()?
            .consent
            .iter()
            .filter(|(t, c, _, _)| t == tenant && c == contact)
            .map(|(_, _, _, e)| e.clone())
            .collect();
        events.sort_by_key(|e| e.at);
        Ok(events)
    }

    async fn find_contacts(
        &self,
        tenant: &TenantId,
        key: &ContactKey,
    ) -> Result<Vec<ContactView>, InboxError> {
        let id = key.contact_id();
        Ok(self
            .state()?
            .contacts
            .iter()
            .filter(|(t, c)| t == tenant && c.id == id)
            .map(|(_, c)| c.clone())
            .collect())
    }

    /// Conversations in memory do not expire: the fake keeps no retention clock.
    async fn expire_conversation(
        &self,
        _tenant: &TenantId,
        _conversation: &ConversationId,
        _now: Timestamp,
        _budget: u32,
    ) -> Result<Expiry, InboxError> {
        Ok(Expiry::NotDue)
    }

    async fn sanitize_conversation(
        &self,
        _tenant: &TenantId,
        _conversation: &ConversationId,
        _content_age: std::time::Duration,
        _now: Timestamp,
        _budget: u32,
    ) -> Result<(u64, bool), InboxError> {
        Ok((0, false))
    }

    async fn restamp_conversations(
        &self,
        _tenant: &TenantId,
        _settings: RetentionSettings,
        _after: Option<&str>,
        _limit: u16,
        _earliest_day: i64,
    ) -> Result<Option<String>, InboxError> {
        Ok(None)
    }

    async fn erase_contact(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        _budget: u32,
    ) -> Result<ErasureCounts, InboxError> {
        let mut state = self.state()?;
        let mut counts = ErasureCounts::default();
        let conversations: Vec<ConversationId> = state
            .conversations
            .iter()
            .filter(|(t, c)| t == tenant && &c.contact_id == contact)
            .map(|(_, c)| c.id.clone())
            .collect();
        let before = state.messages.len();
        state.messages.retain(|(t, m)| !(t == tenant && conversations.contains(&m.conversation_id)));
        counts.messages = (before - state.messages.len()) as u64;
        counts.message_id_records = counts.messages;
        let before = state.conversations.len();
        state.conversations.retain(|(t, c)| !(t == tenant && &c.contact_id == contact));
        counts.conversations = (before - state.conversations.len()) as u64;
        let before = state.leads.len();
        state.leads.retain(|(t, l)| !(t == tenant && &l.contact_id == contact));
        counts.leads = (before - state.leads.len()) as u64;
        let before = state.consent.len();
        state.consent.retain(|(t, c, _, _)| !(t == tenant && c == contact));
        counts.consent_events = (before - state.consent.len()) as u64;
        let before = state.contacts.len();
        state.contacts.retain(|(t, c)| !(t == tenant && &c.id == contact));
        counts.contacts = (before - state.contacts.len()) as u64;
        Ok(counts)
    }

    async fn leads(
        &self,
        tenant: &TenantId,
        contact: Option<&ContactId>,
        after: Option<&str>,
        limit: u16,
    ) -> Result<Page<LeadView>, InboxError> {
        let all = self
            .state()?
            .leads
            .iter()
            .filter(|(t, l)| t == tenant && contact.is_none_or(|id| &l.contact_id == id))
            .map(|(_, l)| l.clone())
            .collect();
        paginate(all, after, limit)
    }
}

/// Erasure requests in memory.
#[derive(Debug, Default, Clone)]
pub struct MemoryPrivacy {
    requests: Arc<Mutex<Vec<(TenantId, ErasureRequest)>>>,
}

impl MemoryPrivacy {
    fn requests(&self) -> Result<std::sync::MutexGuard<'_, Vec<(TenantId, ErasureRequest)>>, PrivacyError> {
        self.requests.lock().map_err(|_| PrivacyError::Unknown(anyhow::anyhow!("poisoned")))
    }
}

impl PrivacyStore for MemoryPrivacy {
    async fn request_erasure(&self, tenant: &TenantId, request: &ErasureRequest) -> Result<(), PrivacyError> {
        self.requests()?.push((tenant.clone(), request.clone()));
        Ok(())
    }

    async fn erasure(
        &self,
        tenant: &TenantId,
        id: &ErasureId,
    ) -> Result<Option<ErasureRequest>, PrivacyError> {
        Ok(self.requests()?.iter().find(|(t, r)| t == tenant && &r.id == id).map(|(_, r)| r.clone()))
    }

    async fn due_erasures(&self, limit: u16) -> Result<Vec<(TenantId, ErasureId)>, PrivacyError> {
        Ok(self
            .requests()?
            .iter()
            .filter(|(_, r)| r.status == ErasureStatus::Pending)
            .take(usize::from(limit))
            .map(|(t, r)| (t.clone(), r.id.clone()))
            .collect())
    }

    async fn record_progress(
        &self,
        tenant: &TenantId,
        id: &ErasureId,
        progress: &ErasureCounts,
    ) -> Result<(), PrivacyError> {
        if let Some((_, request)) = self.requests()?.iter_mut().find(|(t, r)| t == tenant && &r.id == id) {
            request.progress = progress.clone();
        }
        Ok(())
    }

    async fn day_cursor(&self, _queue: DayQueue) -> Result<Option<i64>, PrivacyError> {
        Ok(None)
    }

    async fn set_day_cursor(&self, _queue: DayQueue, _day: i64) -> Result<(), PrivacyError> {
        Ok(())
    }

    /// The in-memory inbox keeps no retention clock, so nothing is ever queued.
    async fn due_on(
        &self,
        _queue: DayQueue,
        _day: i64,
        _limit: u16,
    ) -> Result<Vec<(TenantId, ConversationId)>, PrivacyError> {
        Ok(Vec::new())
    }

    async fn drop_due(
        &self,
        _queue: DayQueue,
        _day: i64,
        _tenant: &TenantId,
        _conversation: &ConversationId,
    ) -> Result<(), PrivacyError> {
        Ok(())
    }

    async fn due_restamps(&self, _limit: u16) -> Result<Vec<(TenantId, Option<String>)>, PrivacyError> {
        Ok(Vec::new())
    }

    async fn restamp_progress(&self, _tenant: &TenantId, _next: Option<&str>) -> Result<(), PrivacyError> {
        Ok(())
    }

    async fn complete_erasure(
        &self,
        tenant: &TenantId,
        receipt: &ErasureReceipt,
    ) -> Result<(), PrivacyError> {
        if let Some((_, request)) =
            self.requests()?.iter_mut().find(|(t, r)| t == tenant && r.id == receipt.request_id)
        {
            request.status = ErasureStatus::Done;
            request.contacts.clear();
            request.receipt = Some(receipt.clone());
        }
        Ok(())
    }
}
