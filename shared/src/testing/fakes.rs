//! The in-memory set of [`Adapters`](crate::wiring::Adapters), for handler tests.

use std::marker::PhantomData;

use super::*;
use crate::adapters::documents::DocQueues;
use crate::adapters::documents::{
    DocAuditLog, DocDirectory, DocImports, DocQuality, DocRateLimiter, DocRecords, DocTemplates,
};
use crate::domain::ports::{FetchLeadError, FetchedLead, LeadSource};

/// The in-memory adapters: one [`MemoryInbox`] behind every inbox port (share one value between
/// the fields so that they see the same data), document repositories on [`MemoryDocs`], and the
/// clock `C` ([`ManualClock`] unless a test needs another).
#[derive(Debug)]
pub struct Fakes<C = ManualClock>(PhantomData<fn() -> C>);

impl<C: Clock + 'static> crate::wiring::Adapters for Fakes<C> {
    type Contacts = MemoryInbox;
    type Conversations = MemoryInbox;
    type Ingest = MemoryInbox;
    type Outbound = MemoryInbox;
    type Leads = MemoryInbox;
    type Lifecycle = MemoryInbox;
    type Suggestions = MemoryInbox;
    type Tenants = MemoryTenantStore;
    type ApiKeys = MemoryTenantStore;
    type Connections = MemoryTenantStore;
    type Routing = MemoryTenantStore;
    type Vault = LocalVault;
    type Clock = C;
    type Erasures = MemoryPrivacy;
    type Schedule = MemoryPrivacy;
    type Purges = MemoryPrivacy;
    type Directory = DocDirectory<MemoryDocs>;
    type Audit = DocAuditLog<MemoryDocs>;
    type Records = DocRecords<MemoryDocs>;
    type Imports = DocImports<MemoryDocs>;
    type Limiter = DocRateLimiter<MemoryDocs>;
    type Queue = MemoryQueue;
    type Idempotency = MemoryIdempotency;
    type Templates = DocTemplates<MemoryDocs>;
    type Cloud = MemoryCloud;
    type Quality = DocQuality<MemoryDocs>;
    type LeadAds = MemoryLeadAds;
    type Ai = MemoryAi;
    type Queues = DocQueues<MemoryDocs>;
    type Agents = MemoryInbox;
    type Events = crate::adapters::documents::DocEventLog<MemoryDocs>;
    type Canned = crate::adapters::documents::DocCanned<MemoryDocs>;
    type ReadMarks = crate::adapters::documents::DocReadMarks<MemoryDocs>;
    type Timers = MemoryInbox;
    type Flows = crate::adapters::documents::DocFlows<MemoryDocs>;
    type Live = crate::adapters::live::QueueLiveFeed<MemoryQueue>;
    type LiveConnections = crate::adapters::documents::DocLiveConnections<MemoryDocs>;
}

/// Lead Ads in memory: answers the leads a test put, and refuses any other id as Graph does.
#[derive(Debug, Default, Clone)]
pub struct MemoryLeadAds {
    leads: Arc<Mutex<HashMap<String, String>>>,
    /// Page access tokens Graph accepts, and the Page each acts as.
    pages: Arc<Mutex<HashMap<String, String>>>,
}

impl MemoryLeadAds {
    /// `GET /<leadgen_id>` answers `raw` (the Graph lead JSON).
    pub fn put(&self, leadgen_id: &str, raw: &str) {
        if let Ok(mut leads) = self.leads.lock() {
            leads.insert(leadgen_id.to_owned(), raw.to_owned());
        }
    }
}

impl MemoryLeadAds {
    /// Registers a Page access token: `GET /me` with it answers `page_id`, as Graph does.
    pub fn register_page(&self, page_id: &str, token: &str) {
        if let Ok(mut pages) = self.pages.lock() {
            pages.insert(token.to_owned(), page_id.to_owned());
        }
    }
}

impl LeadSource for MemoryLeadAds {
    async fn token_owner(
        &self,
        token: &crate::domain::Secret,
    ) -> Result<String, crate::domain::ports::CloudApiError> {
        let owner = self.pages.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.get(token.expose()).cloned();
        owner.ok_or_else(|| {
            cloud::graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        })
    }

    async fn fetch_lead(
        &self,
        leadgen_id: &str,
        _page_token: &crate::domain::Secret,
    ) -> Result<FetchedLead, FetchLeadError> {
        let raw = self.leads.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.get(leadgen_id).cloned();
        let Some(raw) = raw else { return Err(FetchLeadError::Refused { status: 400, code: 100 }) };
        let lead = serde_json::from_str(&raw).map_err(|e| anyhow::anyhow!("unreadable lead: {e}"))?;
        Ok(FetchedLead { lead, raw })
    }
}
