//! Tenants, keys and connections in memory.

use super::*;

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
    ai: HashMap<TenantId, AiConnection>,
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

    async fn update_tenant(
        &self,
        tenant_id: &TenantId,
        update: &TenantUpdate,
    ) -> Result<bool, TenantStoreError> {
        let mut state = self.state()?;
        let Some(tenant) = state.tenants.get_mut(tenant_id) else { return Ok(false) };
        match update {
            TenantUpdate::Profile { name, settings } => {
                tenant.name.clone_from(name);
                tenant.settings = settings.clone();
            }
            TenantUpdate::Closure(at) => {
                tenant.closed_at = *at;
                tenant.status = if at.is_some() { TenantStatus::Closed } else { TenantStatus::Active };
            }
            TenantUpdate::Plan(plan) => tenant.plan = *plan,
        }
        Ok(true)
    }

    async fn list_tenants(
        &self,
        after: Option<&TenantId>,
        limit: u16,
    ) -> Result<Page<Tenant>, TenantStoreError> {
        let state = self.state()?;
        let mut ids: Vec<&TenantId> = state
            .tenants
            .keys()
            .filter(|id| after.is_none_or(|after| id.as_str() > after.as_str()))
            .collect();
        ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        let limit = usize::from(limit.clamp(1, 100));
        let next = (ids.len() > limit).then(|| ids[limit - 1].to_string());
        let items = ids.into_iter().take(limit).filter_map(|id| state.tenants.get(id).cloned()).collect();
        Ok(Page { items, next })
    }
}

impl ApiKeyStore for MemoryTenantStore {
    async fn create_api_key(&self, record: &ApiKeyRecord) -> Result<(), TenantStoreError> {
        self.state()?.keys.insert((record.tenant_id.clone(), record.id.clone()), record.clone());
        Ok(())
    }

    async fn api_keys(&self, tenant_id: &TenantId) -> Result<Vec<ApiKeyRecord>, TenantStoreError> {
        let mut keys: Vec<ApiKeyRecord> =
            self.state()?.keys.values().filter(|k| &k.tenant_id == tenant_id).cloned().collect();
        keys.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(keys)
    }

    async fn revoke_api_key(
        &self,
        tenant_id: &TenantId,
        key_id: &ApiKeyId,
        at: Timestamp,
    ) -> Result<bool, TenantStoreError> {
        let mut state = self.state()?;
        match state.keys.get_mut(&(tenant_id.clone(), key_id.clone())) {
            Some(key) if key.revoked_at.is_none() => {
                key.revoked_at = Some(at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn api_key(
        &self,
        tenant_id: &TenantId,
        key_id: &ApiKeyId,
    ) -> Result<Option<ApiKeyRecord>, TenantStoreError> {
        Ok(self.state()?.keys.get(&(tenant_id.clone(), key_id.clone())).cloned())
    }
}

impl ConnectionStore for MemoryTenantStore {
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

    async fn connect_ai(&self, tenant_id: &TenantId, connection: &AiConnection) -> Result<(), ConnectError> {
        let mut state = self.state()?;
        if state.tenants.get(tenant_id).map(|t| t.status) != Some(TenantStatus::Active) {
            return Err(ConnectError::TenantNotFound);
        }
        state.ai.insert(tenant_id.clone(), connection.clone());
        Ok(())
    }

    async fn ai_connection(&self, tenant_id: &TenantId) -> Result<Option<AiConnection>, TenantStoreError> {
        Ok(self.state()?.ai.get(tenant_id).cloned())
    }

    async fn disconnect_ai(&self, tenant_id: &TenantId) -> Result<bool, TenantStoreError> {
        Ok(self.state()?.ai.remove(tenant_id).is_some())
    }
}

impl TenantRouting for MemoryTenantStore {
    async fn tenant_for_phone_number_id(
        &self,
        phone_number_id: &str,
    ) -> Result<Option<TenantId>, TenantStoreError> {
        Ok(self.state()?.routes.get(phone_number_id).cloned())
    }

    async fn number_route(
        &self,
        phone_number_id: &str,
    ) -> Result<Option<crate::domain::ports::NumberRoute>, TenantStoreError> {
        let state = self.state()?;
        let Some(tenant_id) = state.routes.get(phone_number_id) else { return Ok(None) };
        Ok(state.connections.get(tenant_id).map(|connection| crate::domain::ports::NumberRoute {
            tenant_id: tenant_id.clone(),
            waba_id: connection.waba_id.clone(),
        }))
    }

    async fn tenant_for_page_id(&self, page_id: &str) -> Result<Option<TenantId>, TenantStoreError> {
        Ok(self.state()?.page_routes.get(page_id).cloned())
    }
}
