//! One wiring for every function: the [`Adapters`] trait names one type per port, [`Aws`] is
//! the production set (built once per process from one SDK configuration), and the in-memory set
//! is `testing::Fakes`. Each function's `Deps<A: Adapters>` holds only the ports it uses.

use std::sync::Arc;

use crate::adapters::ai::OpenAiCompatible;
use crate::adapters::documents::DocEventLog;
use crate::adapters::documents::DocQueues;
use crate::adapters::documents::{
    DocAuditLog, DocDirectory, DocImports, DocQuality, DocRateLimiter, DocRecords, DocTemplates,
};
use crate::adapters::documents::{DocCanned, DocReadMarks};
use crate::adapters::dynamo::idempotency::MIN_RETENTION;
use crate::adapters::dynamo::{DynamoIdempotency, DynamoInbox, DynamoPrivacy, DynamoTenantStore, Table};
use crate::adapters::graph::GraphClient;
use crate::adapters::kms::{CachePolicy, Keyring, KmsVault};
use crate::adapters::sqs::SqsQueue;
use crate::config::{aws_sdk_config, ConfigError, Env};
use crate::domain::ai::{AiProvider, SuggestionStore};
use crate::domain::audit::AuditLog;
use crate::domain::canned::CannedStore;
use crate::domain::center::{AgentStore, EventLog, QueueStore, TimerStore};
use crate::domain::crm::RecordStore;
use crate::domain::identity::Directory;
use crate::domain::import::ImportStore;
use crate::domain::inbox::{
    ContactStore, ConversationStore, IngestStore, LeadStore, LifecycleStore, OutboundStore,
};
use crate::domain::outbound::{QualityMeter, TemplateStore};
use crate::domain::ports::{
    ApiKeyStore, CloudApi, ConnectionStore, IdempotencyStore, LeadSource, Queue, RateLimiter, TenantRouting,
    TenantStore, Vault,
};
use crate::domain::privacy::{ErasureStore, PurgeStore, RetentionQueue};
use crate::domain::reads::ReadMarkStore;
use crate::domain::{Clock, SystemClock};

/// The adapters one deployment runs on: one associated type per port, each bounded by exactly
/// that port. Production is [`Aws`]; unit tests use `testing::Fakes`. The trait only names
/// types: building them is the implementation's business (see [`Aws::from_env`]).
pub trait Adapters: Send + Sync + 'static {
    /// Contacts, their aliases and consent ledger.
    type Contacts: ContactStore;
    /// Conversations and their messages, as read by agents.
    type Conversations: ConversationStore;
    /// What arrives from Meta: messages, statuses, leads.
    type Ingest: IngestStore;
    /// Outbound messages: queued, claimed, sent.
    type Outbound: OutboundStore;
    /// Leads kept by the CRM.
    type Leads: LeadStore;
    /// Erasure, expiry and sanitizing of what is stored about people.
    type Lifecycle: LifecycleStore;
    /// AI suggestion requests and their results.
    type Suggestions: SuggestionStore;
    /// Tenants themselves: created, read, changed, closed; their retention settings.
    type Tenants: TenantStore;
    /// Tenants' API keys.
    type ApiKeys: ApiKeyStore;
    /// Tenants' integrations: WhatsApp number, Lead Ads Page, AI provider.
    type Connections: ConnectionStore;
    /// Which tenant an event from Meta belongs to.
    type Routing: TenantRouting;
    /// Envelope encryption of secrets.
    type Vault: Vault;
    /// The time source.
    type Clock: Clock;
    /// Erasure requests and their receipts.
    type Erasures: ErasureStore;
    /// The retention run's day queues, cursors and re-stamping.
    type Schedule: RetentionQueue;
    /// Purges of closed tenants and of what a disconnected integration brought in.
    type Purges: PurgeStore;
    /// Users and sessions.
    type Directory: Directory;
    /// The audit trail.
    type Audit: AuditLog;
    /// Notes, tasks, appointments, activities.
    type Records: RecordStore;
    /// CSV import jobs and their staged rows.
    type Imports: ImportStore;
    /// Request rate limiting and monthly message counts.
    type Limiter: RateLimiter;
    /// An SQS queue (`inbound.fifo`, `outbound.fifo`, `suggest`, `import.fifo`).
    type Queue: Queue;
    /// Idempotency keys of `POST /v1/messages`.
    type Idempotency: IdempotencyStore;
    /// Message templates as synced.
    type Templates: TemplateStore;
    /// The Cloud API (sending, template sync).
    type Cloud: CloudApi;
    /// Sending quality counters.
    type Quality: QualityMeter;
    /// Lead Ads on the Graph API (fetching a lead).
    type LeadAds: LeadSource;
    /// An AI provider.
    type Ai: AiProvider;
    /// Contact-center queues (departments).
    type Queues: QueueStore;
    /// Agents' presence, capacity and load; the conversations waiting in each queue.
    type Agents: AgentStore;
    /// The contact center's event log and its hourly aggregates (P42, P52).
    type Events: EventLog;
    /// Canned responses, tenant-wide and personal.
    type Canned: CannedStore;
    /// Users' read marks on conversations.
    type ReadMarks: ReadMarkStore;
    /// The contact center's timers (snooze ends, silence checks) and the sweep's cursor.
    type Timers: TimerStore;
    /// Chatbot flows, their versions and conversations' flow sessions (P40).
    type Flows: crate::domain::flows_store::FlowStore;
    /// Live notices to the console's WebSocket connections (the `live` queue, issue #18).
    type Live: crate::domain::live::LiveFeed;
    /// The console's open WebSocket connections.
    type LiveConnections: crate::domain::live::LiveConnections;
}

/// Where the stores are: the settings every function with a table reads the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The single table (`TABLE_NAME`).
    pub table_name: String,
    /// The key table of contacts' data keys (`KEY_TABLE_NAME`; no backups, P64).
    pub key_table_name: String,
    /// The KMS key of envelopes and data keys (`KMS_KEY_ID`: id, ARN or alias).
    pub kms_key_id: String,
}

impl StoreConfig {
    /// Reads `TABLE_NAME`, `KEY_TABLE_NAME` and `KMS_KEY_ID`, in that order.
    ///
    /// # Errors
    /// [`ConfigError::Missing`] naming the first one unset.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: env.required("TABLE_NAME")?,
            key_table_name: env.required("KEY_TABLE_NAME")?,
            kms_key_id: env.required("KMS_KEY_ID")?,
        })
    }
}

/// The production adapters, and the SDK clients they are made from: built once per process
/// from one [`aws_config::SdkConfig`], then asked for what a function uses. A function that
/// uses no queue names no queue URL; one that uses no table names no table.
#[derive(Debug, Clone)]
pub struct Aws {
    dynamo: aws_sdk_dynamodb::Client,
    kms: aws_sdk_kms::Client,
    sqs: aws_sdk_sqs::Client,
    clock: SystemClock,
}

impl Adapters for Aws {
    type Contacts = DynamoInbox;
    type Conversations = DynamoInbox;
    type Ingest = DynamoInbox;
    type Outbound = DynamoInbox;
    type Leads = DynamoInbox;
    type Lifecycle = DynamoInbox;
    type Suggestions = DynamoInbox;
    type Tenants = DynamoTenantStore;
    type ApiKeys = DynamoTenantStore;
    type Connections = DynamoTenantStore;
    type Routing = DynamoTenantStore;
    type Vault = KmsVault;
    type Clock = SystemClock;
    type Erasures = DynamoPrivacy;
    type Schedule = DynamoPrivacy;
    type Purges = DynamoPrivacy;
    type Directory = DocDirectory<Table>;
    type Audit = DocAuditLog<Table>;
    type Records = DocRecords<Table>;
    type Imports = DocImports<Table>;
    type Limiter = DocRateLimiter<Table>;
    type Queue = SqsQueue;
    type Idempotency = DynamoIdempotency;
    type Templates = DocTemplates<Table>;
    type Cloud = GraphClient;
    type Quality = DocQuality<Table>;
    type LeadAds = GraphClient;
    type Ai = OpenAiCompatible;
    type Queues = DocQueues<Table>;
    type Agents = DynamoInbox;
    type Timers = DynamoInbox;
    type Events = DocEventLog<Table>;
    type Canned = DocCanned<Table>;
    type ReadMarks = DocReadMarks<Table>;
    type Flows = crate::adapters::documents::DocFlows<Table>;
    type Live =
        crate::adapters::live::QueueLiveFeed<SqsQueue, crate::adapters::documents::DocLiveConnections<Table>>;
    type LiveConnections = crate::adapters::documents::DocLiveConnections<Table>;
}

impl Aws {
    /// The clients of the process: region, credentials and `AWS_ENDPOINT_URL` from the
    /// environment ([`aws_sdk_config`]), the system clock.
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable that is missing.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self::new(&aws_sdk_config(env)?))
    }

    /// The clients made from `sdk`, each once.
    #[must_use]
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self::from_clients(
            aws_sdk_dynamodb::Client::new(sdk),
            aws_sdk_kms::Client::new(sdk),
            aws_sdk_sqs::Client::new(sdk),
        )
    }

    /// Around clients built elsewhere (tests that count or redirect requests).
    #[must_use]
    pub fn from_clients(
        dynamo: aws_sdk_dynamodb::Client,
        kms: aws_sdk_kms::Client,
        sqs: aws_sdk_sqs::Client,
    ) -> Self {
        Self { dynamo, kms, sqs, clock: SystemClock }
    }

    /// The time source every adapter made here tells time by.
    #[must_use]
    pub fn clock(&self) -> SystemClock {
        self.clock
    }

    /// The table `name`, telling time by [`Aws::clock`].
    #[must_use]
    pub fn table(&self, name: &str) -> Table {
        Table::new(self.dynamo.clone(), name.to_owned(), Arc::new(self.clock))
    }

    /// The stores of `config`: the single table and one keyring over it, shared by every
    /// repository of the process (one cache of data keys).
    #[must_use]
    pub fn stores(&self, config: &StoreConfig) -> Stores {
        let table = self.table(&config.table_name);
        let keyring = Keyring::on(&table, &config.key_table_name, self.kms.clone(), &config.kms_key_id);
        Stores { table, keyring }
    }

    /// The vault of tenants' secrets, sealing under `config`'s KMS key (its own data-key cache).
    #[must_use]
    pub fn vault(&self, config: &StoreConfig) -> KmsVault {
        KmsVault::new(self.kms.clone(), config.kms_key_id.clone(), CachePolicy::default())
    }

    /// The vault of tenants' secrets under the KMS key `kms_key_id`, for a function with no
    /// key table (the `realtime` function opens signing keys only).
    #[must_use]
    pub fn vault_of(&self, kms_key_id: &str) -> KmsVault {
        KmsVault::new(self.kms.clone(), kms_key_id.to_owned(), CachePolicy::default())
    }

    /// The SQS queue at `url`.
    #[must_use]
    pub fn queue(&self, url: &str) -> SqsQueue {
        SqsQueue::new(self.sqs.clone(), url.to_owned())
    }

    /// The live feed into the `live` queue at `url` (issue #18), sending a tenant's notices only
    /// while it has a connection in `table` (a notice nobody takes costs three queue requests
    /// and a `realtime` invocation; the check is one item's read).
    #[must_use]
    pub fn live(&self, url: &str, table: Table) -> <Self as Adapters>::Live {
        crate::adapters::live::QueueLiveFeed::new(self.queue(url))
            .asking(crate::adapters::documents::DocLiveConnections::new(table))
    }
}

/// The single table and the keyring over it; every DynamoDB repository of a process is made
/// from these, so they share the table's clock and one cache of contacts' data keys.
#[derive(Debug, Clone)]
pub struct Stores {
    table: Table,
    keyring: Arc<Keyring>,
}

impl Stores {
    /// The single table (the document repositories run on it).
    #[must_use]
    pub fn table(&self) -> Table {
        self.table.clone()
    }

    /// The keyring of contacts' data keys.
    #[must_use]
    pub fn keyring(&self) -> Arc<Keyring> {
        Arc::clone(&self.keyring)
    }

    /// The inbox: every inbox port (contacts, conversations, ingest, outbound, leads,
    /// lifecycle, suggestions) on the table, sealing with the keyring.
    #[must_use]
    pub fn inbox(&self) -> DynamoInbox {
        DynamoInbox::new(self.table(), self.keyring())
    }

    /// Tenants.
    #[must_use]
    pub fn tenants(&self) -> DynamoTenantStore {
        DynamoTenantStore::new(self.table())
    }

    /// Erasure requests and the retention queues (erasing destroys keys in the key table).
    #[must_use]
    pub fn privacy(&self) -> DynamoPrivacy {
        DynamoPrivacy::new(self.table(), self.keyring.key_table().clone())
    }

    /// Idempotency keys, kept at least as long as Meta and SQS may redeliver.
    #[must_use]
    pub fn idempotency(&self) -> DynamoIdempotency {
        DynamoIdempotency::new(self.table(), MIN_RETENTION)
    }
}
