//! In-memory fakes of the ports, for unit tests of handlers (enabled by the `test-util`
//! feature). Integration tests use the real adapters against moto instead.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use crate::adapters::kms::{open_with, seal_with};
use crate::domain::ports::{
    ConnectWhatsAppError, CreateTenantError, EncryptionContext, EnqueueError, OpenError, Queue, QueueMessage,
    SealError, Sealed, TenantStore, TenantStoreError, Vault,
};
use crate::domain::tenant::{ApiKeyRecord, Tenant, TenantStatus, WhatsAppConnection};
use crate::domain::{ApiKeyId, Clock, SecretBytes, TenantId, Timestamp};

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
    ) -> Result<(), ConnectWhatsAppError> {
        let mut state = self.state()?;
        if state.tenants.get(tenant_id).map(|t| t.status) != Some(TenantStatus::Active) {
            return Err(ConnectWhatsAppError::TenantNotFound);
        }
        if state.routes.get(&connection.phone_number_id).is_some_and(|owner| owner != tenant_id) {
            return Err(ConnectWhatsAppError::NumberTaken);
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
}
