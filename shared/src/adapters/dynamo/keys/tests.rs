//! Unit tests of the parent module.

use super::*;
use crate::domain::QueueId;

#[test]
fn one_queues_waiting_prefix_never_covers_anothers_entries() {
    let t = TenantId::parse("tn_1").expect("valid");
    let c = ConversationId::parse("cv_1").expect("valid");
    let plain = QueueId::parse("a").expect("valid");
    let hashed = QueueId::parse("a#b").expect("valid");
    assert_eq!(waiting(&t, &plain, 5, &c).sk, "WAIT#a#0000000000005#cv_1");
    assert!(!waiting(&t, &hashed, 5, &c).sk.starts_with(&waiting_prefix(&plain)));
    assert!(waiting(&t, &hashed, 5, &c).sk.starts_with(&waiting_prefix(&hashed)));
}

#[test]
fn tenant_keys_lead_with_the_tenant() {
    let t = TenantId::parse("tn_1").expect("valid");
    let k = ApiKeyId::parse("key_1").expect("valid");
    for key in [tenant(&t), api_key(&t, &k), whatsapp_connection(&t), idempotency(&t, "send", "a#b")] {
        assert!(key.pk.starts_with("T#tn_1"), "{key:?}");
    }
    assert_eq!(idempotency(&t, "send", "a#b").sk.matches('#').count(), 2);
}
