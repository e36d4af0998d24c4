//! Contract tests: one suite per port, generic over the implementation, run on the in-memory fake (here) and on DynamoDB against moto (`tests/it/contract.rs`), so a fake that drifts from the real adapter fails a test.
//!
//! Each check is a `pub async fn name<S: Port>(store: &S)` of one promise of the port's doc
//! comments, with a fresh tenant of its own (independent of every other check, on a shared
//! store too); each suite's `all` runs every check of it.

// Suites are test code: a failed expectation is the check failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod canned;
pub mod center;
pub mod contacts;
pub mod conversation_state;
pub mod conversations;
pub mod events;
pub mod flows;
pub mod idempotency;
pub mod ingest;
pub mod leads;
pub mod lifecycle;
pub mod limits;
pub mod outbound;
pub mod privacy;
pub mod purges;
pub mod queue;
pub mod queues;
pub mod suggestions;
pub mod tenants;
pub mod timers;
pub mod vault;

use crate::domain::inbox::{ContactProfile, NewInboundMessage, NewOutboundMessage};
use crate::domain::tenant::RetentionSettings;
use crate::domain::{Clock as _, ContactId, MessageId, PhoneNumber, SystemClock, TenantId, Timestamp, Wamid};

/// A tenant no other check uses.
#[must_use]
pub fn tenant() -> TenantId {
    TenantId::generate(SystemClock.now()).unwrap()
}

/// The wall clock (stores filter what expired against it).
#[must_use]
pub fn now() -> Timestamp {
    SystemClock.now()
}

/// A phone number from its digits.
#[must_use]
pub fn phone(digits: &str) -> PhoneNumber {
    PhoneNumber::parse(digits).expect("a valid phone number")
}

/// A person known by phone and name.
#[must_use]
pub fn person(digits: &str, name: &str) -> ContactProfile {
    ContactProfile { phone: Some(phone(digits)), name: Some(name.into()), ..ContactProfile::default() }
}

/// A wamid.
#[must_use]
pub fn wamid(value: &str) -> Wamid {
    Wamid::parse(value).expect("a valid wamid")
}

/// An inbound text message from `from`, sent at `secs` (epoch seconds).
#[must_use]
pub fn inbound<'a>(wamid: &'a Wamid, from: &'a ContactProfile, secs: i64) -> NewInboundMessage<'a> {
    NewInboundMessage {
        wamid,
        from,
        sent_at: Timestamp::from_secs(secs),
        kind: "text",
        raw: r#"{"type":"text","text":{"body":"hello"}}"#,
        retention: RetentionSettings::default(),
    }
}

/// An outbound text message to `contact`, accepted at `at`.
#[must_use]
pub fn outbound<'a>(id: &'a MessageId, contact: &'a ContactId, at: Timestamp) -> NewOutboundMessage<'a> {
    NewOutboundMessage {
        id,
        contact,
        kind: "text",
        body: r#"{"type":"text","text":{"body":"hi"}}"#,
        at,
        retention: RetentionSettings::default(),
    }
}

#[cfg(test)]
mod tests {
    //! Every suite on the in-memory fakes.

    use crate::testing::MemoryInbox;

    #[tokio::test]
    async fn contacts_on_the_fake() {
        super::contacts::all(&MemoryInbox::default()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn center_on_the_fake() {
        super::center::all(&MemoryInbox::default()).await;
    }

    #[tokio::test]
    async fn timers_on_the_fake() {
        super::timers::all(&MemoryInbox::default()).await;
    }

    #[tokio::test]
    async fn conversations_on_the_fake() {
        super::conversations::all(&MemoryInbox::default()).await;
    }

    #[tokio::test]
    async fn ingest_on_the_fake() {
        super::ingest::all(&MemoryInbox::default()).await;
    }

    #[tokio::test]
    async fn outbound_on_the_fake() {
        super::outbound::all(&MemoryInbox::default()).await;
    }

    #[tokio::test]
    async fn leads_on_the_fake() {
        super::leads::all(&MemoryInbox::default()).await;
    }

    #[tokio::test]
    async fn lifecycle_on_the_fake() {
        super::lifecycle::all(&MemoryInbox::default()).await;
    }

    #[tokio::test]
    async fn suggestions_on_the_fake() {
        super::suggestions::all(&MemoryInbox::default()).await;
    }

    #[tokio::test]
    async fn tenants_on_the_fake() {
        super::tenants::all(&crate::testing::MemoryTenantStore::default()).await;
    }

    #[tokio::test]
    async fn privacy_on_the_fake() {
        super::privacy::all(&crate::testing::MemoryPrivacy::default()).await;
    }

    #[tokio::test]
    async fn purges_on_the_fake() {
        super::purges::all(&crate::testing::MemoryPrivacy::default()).await;
    }

    #[tokio::test]
    async fn vault_on_the_fake() {
        super::vault::all(&crate::testing::LocalVault).await;
    }

    #[tokio::test]
    async fn queue_on_the_fake() {
        let queue = crate::testing::MemoryQueue::default();
        let seen = std::sync::Mutex::new(0);
        let received = || {
            let sent = queue.sent();
            let mut seen = seen.lock().unwrap();
            let new = sent[*seen..].iter().map(|m| m.body.clone()).collect::<Vec<_>>();
            *seen = sent.len();
            async move { new }
        };
        super::queue::all(&queue, received).await;
    }

    #[tokio::test]
    async fn limits_on_the_fake() {
        let limiter = crate::adapters::documents::DocRateLimiter::new(crate::testing::MemoryDocs::default());
        super::limits::all(&limiter).await;
    }

    #[tokio::test]
    async fn queues_on_the_fake() {
        let queues = crate::adapters::documents::DocQueues::new(crate::testing::MemoryDocs::default());
        super::queues::all(&queues).await;
    }

    #[tokio::test]
    async fn events_on_the_fake() {
        let log = crate::adapters::documents::DocEventLog::new(crate::testing::MemoryDocs::default());
        super::events::all(&log).await;
    }

    #[tokio::test]
    async fn events_of_several_writers_on_the_fake() {
        let docs = crate::testing::MemoryDocs::default();
        let logs =
            [1, 2, 2].map(|shard| crate::adapters::documents::DocEventLog::with_shard(docs.clone(), shard));
        super::events::writers_in_several_processes_are_all_counted(&logs).await;
    }

    #[tokio::test]
    async fn flows_on_the_fake() {
        super::flows::all(&crate::adapters::documents::DocFlows::new(crate::testing::MemoryDocs::default()))
            .await;
    }

    #[tokio::test]
    async fn canned_on_the_fake() {
        let docs = crate::testing::MemoryDocs::default();
        super::canned::all(&crate::adapters::documents::DocCanned::new(docs.clone())).await;
        super::canned::read_marks_only_move_forward(&crate::adapters::documents::DocReadMarks::new(docs))
            .await;
    }

    #[tokio::test]
    async fn idempotency_on_the_fake() {
        super::idempotency::all(&crate::testing::MemoryIdempotency::default()).await;
    }
}
