//! Faults injected into the AWS SDK clients of one simulated process: an interceptor that
//! fails or slows a request before it leaves, or lets it through to moto and then turns its
//! answer into an error (the write happened; the process "crashes" before it learns so).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_kms::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_kms::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_kms::error::BoxError;
use aws_smithy_types::config_bag::{Storable, StoreReplace};

/// Probabilities per AWS call (0 to 1), shared by every process of a round; all zero while
/// the driver sets up or counts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rates {
    /// Let the call through, then fail it (a crash after the side effect).
    pub crash: f64,
    /// Fail it before it leaves (DynamoDB or KMS unavailable).
    pub fail: f64,
    /// Hold it before it leaves for `slow_ms`.
    pub slow: f64,
    /// How long a slow call waits.
    pub slow_ms: u64,
}

/// What the faults did, by kind and operation (`crash:PutItem`), over every process.
#[derive(Debug, Clone, Default)]
pub struct Injected(Arc<Mutex<BTreeMap<String, usize>>>);

impl Injected {
    fn add(&self, what: &str, operation: &str) {
        if let Ok(mut counts) = self.0.lock() {
            *counts.entry(format!("{what}:{operation}")).or_default() += 1;
        }
    }

    /// The counts so far.
    pub fn snapshot(&self) -> BTreeMap<String, usize> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

/// The interceptor of one process's clients.
#[derive(Debug, Clone)]
pub struct Chaos {
    rates: Arc<Mutex<Rates>>,
    rng: Arc<Mutex<u64>>,
    crashes: Arc<AtomicUsize>,
    injected: Injected,
}

impl Chaos {
    /// A process's interceptor: the round's rates and tally, its own crash count.
    pub fn new(rates: Arc<Mutex<Rates>>, injected: Injected, seed: u64) -> Self {
        Self { rates, rng: Arc::new(Mutex::new(seed | 1)), crashes: Arc::default(), injected }
    }

    /// Crashes injected into this process so far.
    pub fn crashes(&self) -> usize {
        self.crashes.load(Ordering::SeqCst)
    }

    fn rates(&self) -> Rates {
        self.rates.lock().map(|r| *r).unwrap_or_default()
    }

    /// A uniform draw in [0, 1) (xorshift: reproducible per seed, no dependency).
    fn draw(&self) -> f64 {
        let Ok(mut state) = self.rng.lock() else { return 1.0 };
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        (*state >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The call's operation (`PutItem`, `Decrypt`), from its `X-Amz-Target` header.
fn operation(context: &BeforeTransmitInterceptorContextRef<'_>) -> String {
    context
        .request()
        .headers()
        .get("x-amz-target")
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or("?")
        .to_owned()
}

/// A call chosen to crash once its answer is in: decided before it leaves (only then is its
/// operation known), carried to the answer in the call's own config bag.
#[derive(Debug, Clone)]
struct CrashAfter(String);

impl Storable for CrashAfter {
    type Storer = StoreReplace<Self>;
}

impl Intercept for Chaos {
    fn name(&self) -> &'static str {
        "Chaos"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let rates = self.rates();
        let op = operation(context);
        if rates.crash > 0.0 && self.draw() < rates.crash {
            cfg.interceptor_state().store_put(CrashAfter(op.clone()));
        }
        if rates.fail > 0.0 && self.draw() < rates.fail {
            self.injected.add("fail", &op);
            return Err("chaos: the service is unavailable".into());
        }
        if rates.slow > 0.0 && self.draw() < rates.slow {
            self.injected.add("slow", &op);
            // Interceptors are synchronous: the call holds its worker thread, as a slow
            // connection holds the handler (the tests run on a multi-threaded runtime).
            std::thread::sleep(Duration::from_millis(rates.slow_ms));
        }
        Ok(())
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(CrashAfter(op)) = cfg.load::<CrashAfter>().cloned() else { return Ok(()) };
        cfg.interceptor_state().unset::<CrashAfter>();
        // Only a call that took effect: an error answer is no side effect.
        if context.response().status().is_success() {
            self.injected.add("crash", &op);
            self.crashes.fetch_add(1, Ordering::SeqCst);
            return Err("chaos: the process died after the call took effect".into());
        }
        Ok(())
    }
}
