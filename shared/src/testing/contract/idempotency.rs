//! [`IdempotencyStore`]'s contract: one holder of a key at a time until its deadline, a completed
//! key replays its result (for at least seven days), another payload is a mismatch, only the
//! holder of a claim in progress notes, completes or releases it, a takeover resumes from the
//! crashed holder's note, keys of tenants and scopes never collide.

use std::time::Duration;

use super::{now, tenant};
use crate::domain::ports::{Claim, IdempotencyError, IdempotencyRequest, IdempotencyStore};

/// A claimed key is `InProgress` to others; completed, it replays its result; with another
/// payload it is a `Mismatch`; the result is still there six days later.
pub async fn a_completed_key_replays_its_result<S: IdempotencyStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let request = IdempotencyRequest { tenant_id: &tenant, scope: "send", key: "key-1", payload_hash: "h1" };
    let now = now();
    let deadline = now.plus(Duration::from_secs(30));

    // Act
    let first = store.claim(&request, now, deadline).await.unwrap();
    let concurrent = store.claim(&request, now, deadline).await.unwrap();
    store.complete(&request, r#"{"id":"msg_1"}"#, now).await.unwrap();
    let replay = store.claim(&request, now, deadline).await.unwrap();
    let other_body = store
        .claim(&IdempotencyRequest { payload_hash: "h2", ..request.clone() }, now, deadline)
        .await
        .unwrap();
    let six_days = now.plus(Duration::from_secs(6 * 24 * 3600));
    let much_later = store.claim(&request, six_days, six_days.plus(Duration::from_secs(5))).await.unwrap();

    // Assert
    assert_eq!(first, Claim::Acquired);
    assert_eq!(concurrent, Claim::InProgress);
    assert_eq!(replay, Claim::Completed { response: r#"{"id":"msg_1"}"#.into() });
    assert_eq!(other_body, Claim::Mismatch);
    assert_eq!(much_later, replay, "kept at least seven days");
}

/// A claim past its deadline (its holder crashed) can be taken over by the same request.
pub async fn a_claim_past_its_deadline_can_be_taken_over<S: IdempotencyStore>(store: &S) {
    let tenant = tenant();
    let request = IdempotencyRequest { tenant_id: &tenant, scope: "send", key: "crashed", payload_hash: "h" };
    let now = now();
    let later = now.plus(Duration::from_secs(2));

    let first = store.claim(&request, now, now.plus(Duration::from_secs(1))).await.unwrap();
    let takeover = store.claim(&request, later, later.plus(Duration::from_secs(30))).await.unwrap();
    let again = store.claim(&request, later, later.plus(Duration::from_secs(30))).await.unwrap();

    assert_eq!((first, takeover, again), (Claim::Acquired, Claim::Acquired, Claim::InProgress));
}

/// A holder that crashed after noting its progress is resumed by the takeover (which keeps the
/// note for a crash of its own), one taker at a time; a released key forgets the note.
pub async fn a_takeover_resumes_from_the_crashed_holders_note<S: IdempotencyStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let request = IdempotencyRequest { tenant_id: &tenant, scope: "send", key: "noted", payload_hash: "h" };
    let now = now();
    let at = |secs| now.plus(Duration::from_secs(secs));
    store.claim(&request, now, at(1)).await.unwrap();
    store.note(&request, "msg_1").await.unwrap();

    // Act
    let takeover = store.claim(&request, at(2), at(3)).await.unwrap();
    let while_held = store.claim(&request, at(2), at(3)).await.unwrap();
    let second_takeover = store.claim(&request, at(4), at(5)).await.unwrap();
    store.release(&request).await.unwrap();
    let fresh = store.claim(&request, at(4), at(5)).await.unwrap();
    let unclaimed = IdempotencyRequest { key: "never-claimed", ..request.clone() };
    let lost = store.note(&unclaimed, "x").await;

    // Assert
    assert_eq!(takeover, Claim::Resumed { progress: "msg_1".into() });
    assert_eq!(while_held, Claim::InProgress);
    assert_eq!(second_takeover, Claim::Resumed { progress: "msg_1".into() }, "the note stays with the claim");
    assert_eq!(fresh, Claim::Acquired, "released: the note is forgotten");
    assert!(matches!(lost, Err(IdempotencyError::ClaimLost)), "{lost:?}");
}

/// A claim that notes its progress as it is acquired is resumed from that note by a takeover;
/// one that takes over a holder that noted nothing notes its own; a replay of a claim in
/// progress is `InProgress`, and notes nothing.
pub async fn a_claim_noting_its_progress_is_resumed_from_it<S: IdempotencyStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let request = IdempotencyRequest { tenant_id: &tenant, scope: "send", key: "noting", payload_hash: "h" };
    let silent = IdempotencyRequest { key: "silent-holder", ..request.clone() };
    let now = now();
    let at = |secs| now.plus(Duration::from_secs(secs));
    store.claim(&silent, now, at(1)).await.unwrap();

    // Act
    let first = store.claim_noting(&request, now, at(1), "msg_1").await.unwrap();
    let while_held = store.claim_noting(&request, now, at(1), "msg_2").await.unwrap();
    let takeover = store.claim(&request, at(2), at(3)).await.unwrap();
    let over_silent = store.claim_noting(&silent, at(2), at(3), "msg_3").await.unwrap();
    let after_silent = store.claim(&silent, at(4), at(5)).await.unwrap();

    // Assert
    assert_eq!(first, Claim::Acquired);
    assert_eq!(while_held, Claim::InProgress);
    assert_eq!(takeover, Claim::Resumed { progress: "msg_1".into() }, "noted with the claim");
    assert_eq!(over_silent, Claim::Acquired, "nothing to resume: the work starts over");
    assert_eq!(after_silent, Claim::Resumed { progress: "msg_3".into() }, "and is noted");
}

/// Releasing a claim lets the work be retried; once completed, neither `release` nor a second
/// `complete` succeeds (`ClaimLost`), nor does either without a claim or with another payload.
pub async fn only_a_claim_in_progress_completes_or_releases<S: IdempotencyStore>(store: &S) {
    // Arrange
    let tenant = tenant();
    let request = IdempotencyRequest { tenant_id: &tenant, scope: "send", key: "k", payload_hash: "h" };
    let other = IdempotencyRequest { payload_hash: "other", ..request.clone() };
    let unclaimed = IdempotencyRequest { key: "never-claimed", ..request.clone() };
    let now = now();
    let deadline = now.plus(Duration::from_secs(30));

    // Act / Assert
    assert_eq!(store.claim(&request, now, deadline).await.unwrap(), Claim::Acquired);
    store.release(&request).await.unwrap();
    assert_eq!(store.claim(&request, now, deadline).await.unwrap(), Claim::Acquired, "released: retried");
    assert!(
        matches!(store.complete(&other, "x", now).await, Err(IdempotencyError::ClaimLost)),
        "another payload"
    );
    assert!(matches!(store.release(&other).await, Err(IdempotencyError::ClaimLost)), "another payload");
    store.complete(&request, "done", now).await.unwrap();
    assert!(matches!(store.release(&request).await, Err(IdempotencyError::ClaimLost)));
    assert!(matches!(store.complete(&request, "again", now).await, Err(IdempotencyError::ClaimLost)));
    assert_eq!(
        store.claim(&request, now, deadline).await.unwrap(),
        Claim::Completed { response: "done".into() }
    );
    assert!(matches!(store.complete(&unclaimed, "x", now).await, Err(IdempotencyError::ClaimLost)));
    assert!(matches!(store.release(&unclaimed).await, Err(IdempotencyError::ClaimLost)));
}

/// The same key in another tenant or another scope is another key.
pub async fn keys_of_other_tenants_and_scopes_never_collide<S: IdempotencyStore>(store: &S) {
    let (a, b) = (tenant(), tenant());
    let now = now();
    let deadline = now.plus(Duration::from_secs(30));
    let for_a = IdempotencyRequest { tenant_id: &a, scope: "send", key: "same", payload_hash: "h" };
    let for_b = IdempotencyRequest { tenant_id: &b, ..for_a.clone() };
    let other_scope = IdempotencyRequest { scope: "webhook", ..for_a.clone() };

    let claims = [
        store.claim(&for_a, now, deadline).await.unwrap(),
        store.claim(&for_b, now, deadline).await.unwrap(),
        store.claim(&other_scope, now, deadline).await.unwrap(),
    ];

    assert_eq!(claims, [Claim::Acquired, Claim::Acquired, Claim::Acquired]);
}

/// Every check of the suite.
pub async fn all<S: IdempotencyStore>(store: &S) {
    a_completed_key_replays_its_result(store).await;
    a_claim_past_its_deadline_can_be_taken_over(store).await;
    a_takeover_resumes_from_the_crashed_holders_note(store).await;
    a_claim_noting_its_progress_is_resumed_from_it(store).await;
    only_a_claim_in_progress_completes_or_releases(store).await;
    keys_of_other_tenants_and_scopes_never_collide(store).await;
}
