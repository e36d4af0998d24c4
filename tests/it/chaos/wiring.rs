//! The production adapters with one change: the handlers tell time by a clock the driver moves
//! on (a retry that arrives days late is a redelivery after the clock moved). The stores keep
//! the system clock the production wiring gives them ([`Aws::table`]): only the handlers'
//! `Deps::clock` moves.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use shared::adapters::ai::OpenAiCompatible;
use shared::adapters::documents::{
    DocAuditLog, DocCanned, DocDirectory, DocEventLog, DocFlows, DocImports, DocLiveConnections, DocQuality,
    DocQueues, DocRateLimiter, DocReadMarks, DocRecords, DocTemplates,
};
use shared::adapters::dynamo::{DynamoIdempotency, DynamoInbox, DynamoPrivacy, DynamoTenantStore, Table};
use shared::adapters::graph::GraphClient;
use shared::adapters::kms::KmsVault;
use shared::adapters::sqs::SqsQueue;
use shared::domain::{Clock, SystemClock, Timestamp};
use shared::wiring::{Adapters, Aws};

/// The system clock moved on by what the driver adds: it runs as time does (the send pacer
/// waits for it to move), and jumps when a redelivery comes later.
#[derive(Debug, Clone, Default)]
pub struct ShiftedClock(Arc<AtomicI64>);

impl ShiftedClock {
    /// Moves the clock forward.
    pub fn advance(&self, by: std::time::Duration) {
        self.0.fetch_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX), Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(SystemClock.now().as_millis() + self.0.load(Ordering::SeqCst))
    }
}

/// [`Aws`]'s adapters, the clock a [`ShiftedClock`].
pub struct ChaosAws;

impl Adapters for ChaosAws {
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
    type Clock = ShiftedClock;
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
    type Flows = DocFlows<Table>;
    type Live = <Aws as Adapters>::Live;
    type LiveConnections = DocLiveConnections<Table>;
}

/// A fresh `inbound` process (cold caches), made by the function's own constructor, telling
/// time by `clock`.
pub fn inbound_deps(aws: &Aws, config: inbound::Config, clock: &ShiftedClock) -> inbound::Deps<ChaosAws> {
    let inbound::Deps {
        config,
        ingest,
        contacts,
        tenants,
        connections,
        routing,
        vault,
        graph,
        clock: _,
        conversations,
        outbox,
        outbound,
        templates,
        limiter,
        audit,
        agents,
        queues,
        directory,
        events,
        flows,
        live,
        timers,
        leads,
    } = inbound::Deps::on(aws, config).expect("inbound deps");
    inbound::Deps {
        config,
        ingest,
        contacts,
        tenants,
        connections,
        routing,
        vault,
        graph,
        clock: clock.clone(),
        conversations,
        outbox,
        outbound,
        templates,
        limiter,
        audit,
        agents,
        queues,
        directory,
        events,
        flows,
        live,
        timers,
        leads,
    }
}

/// A fresh `send` process (cold caches, its own pacer), telling time by `clock`.
pub fn send_deps(aws: &Aws, config: send::Config, clock: &ShiftedClock) -> send::Deps<ChaosAws> {
    let send::Deps { config, outbox, contacts, tenants, connections, vault, cloud, quality, pacer, clock: _ } =
        send::Deps::on(aws, config).expect("send deps");
    send::Deps {
        config,
        outbox,
        contacts,
        tenants,
        connections,
        vault,
        cloud,
        quality,
        pacer,
        clock: clock.clone(),
    }
}
