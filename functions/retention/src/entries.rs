//! The run's entries in the audit trail (P18), as [`shared::app::trail`] writes them.

use shared::app::trail::SystemAction;
use shared::domain::audit::Target;

/// What the run did to `target`: `count` items deleted or changed.
pub fn system(action: &str, target: Target, count: u64) -> SystemAction<'_> {
    SystemAction { action, target, count: (count > 0).then_some(count), fields: &[] }
}

/// A target of an entry.
pub fn target(kind: &str, id: &str) -> Target {
    Target { kind: kind.to_owned(), id: id.to_owned() }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use shared::domain::audit::{ActorKind, AuditFilter, AuditLog as _};
    use shared::domain::inbox::{ContactProfile, ContactStore as _, IngestStore as _, NewInboundMessage};
    use shared::domain::privacy::{ErasureCounts, ErasureRequest, ErasureStatus, ErasureStore as _};
    use shared::domain::tenant::RetentionSettings;
    use shared::domain::{ErasureId, PhoneNumber, TenantId, Timestamp, Wamid};

    #[tokio::test]
    async fn an_erasure_run_is_in_the_audit_trail_under_the_system_actor() {
        // Arrange: a person with a message, and a request to erase them.
        let deps = crate::tests::deps();
        let tenant = TenantId::parse("tn_a").expect("valid");
        let phone = PhoneNumber::parse("5511988887777").expect("valid");
        let profile = ContactProfile { phone: Some(phone.clone()), ..ContactProfile::default() };
        let wamid = Wamid::parse("wamid.1").expect("valid");
        let message = NewInboundMessage {
            wamid: &wamid,
            from: &profile,
            sent_at: Timestamp::from_secs(1),
            kind: "text",
            raw: "{}",
            retention: RetentionSettings::default(),
        };
        deps.lifecycle
            .store_inbound_message(&tenant, &message, Timestamp::from_secs(1))
            .await
            .expect("stored");
        let contact = deps.lifecycle.contact_by_phone(&tenant, &phone).await.expect("read").expect("exists");
        let id = ErasureId::generate(Timestamp::from_secs(5)).expect("random");
        let request = ErasureRequest {
            id: id.clone(),
            contacts: vec![contact.id],
            status: ErasureStatus::Pending,
            requested_at: Timestamp::from_secs(5),
            progress: ErasureCounts::default(),
            receipt: None,
        };
        deps.erasures.request_erasure(&tenant, &request).await.expect("requested");

        // Act
        crate::handle(crate::tests::event(Duration::from_secs(60)), &deps).await.expect("run");

        // Assert
        let entries =
            deps.audit.entries(&tenant, &AuditFilter::default(), None, 10).await.expect("read").items;
        let entry = entries.iter().find(|e| e.action == "privacy.erasure").expect("the erasure's entry");
        assert_eq!((entry.actor.kind, entry.actor.id.as_str()), (ActorKind::System, "retention"));
        assert_eq!((entry.target.kind.as_str(), entry.target.id.as_str()), ("erasure", id.as_str()));
        assert!(entry.count.is_some_and(|c| c >= 3), "contact, conversation, message…: {entry:?}");
    }
}
