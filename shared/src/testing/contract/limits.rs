//! [`RateLimiter`]'s contract: `per_minute` requests of a tenant are admitted in a minute and the
//! next is limited until the window ends; messages are counted per UTC month up to `per_month`,
//! a refused one not counted; tenants are counted apart.

use super::{now, tenant};
use crate::domain::ports::{Admission, RateLimiter};
use crate::domain::Timestamp;

/// The start of the minute `at` falls in, plus `secs` seconds.
fn in_minute(at: Timestamp, secs: i64) -> Timestamp {
    Timestamp::from_secs(at.as_secs().div_euclid(60) * 60 + secs)
}

/// `per_minute` requests are admitted, the next is limited until the minute ends; the next
/// minute admits again, and another tenant is counted apart.
pub async fn requests_are_admitted_per_minute<L: RateLimiter>(limiter: &L) {
    // Arrange: 15 s into the current minute.
    let (tenant, other) = (tenant(), tenant());
    let at = in_minute(now(), 15);

    // Act
    let mut admitted = Vec::new();
    for _ in 0..4 {
        admitted.push(limiter.admit(&tenant, 3, at).await.unwrap());
    }
    let others = limiter.admit(&other, 3, at).await.unwrap();
    let next_minute = limiter.admit(&tenant, 3, in_minute(at, 60)).await.unwrap();

    // Assert
    assert_eq!(&admitted[..3], &[Admission::Allowed, Admission::Allowed, Admission::Allowed]);
    assert_eq!(admitted[3], Admission::Limited { retry_after_secs: 45 }, "until the minute ends");
    assert_eq!(others, Admission::Allowed);
    assert_eq!(next_minute, Admission::Allowed);
}

/// Messages are admitted up to `per_month` in a UTC month; a refused one is not counted; the
/// next month starts from zero; another tenant is counted apart.
pub async fn messages_are_counted_per_month<L: RateLimiter>(limiter: &L) {
    // Arrange
    let (tenant, other) = (tenant(), tenant());
    let at = now();
    let next_month = at.plus(std::time::Duration::from_secs(32 * 86_400));

    // Act
    let mut admitted = Vec::new();
    for _ in 0..3 {
        admitted.push(limiter.admit_message(&tenant, 2, at).await.unwrap());
    }
    let counted = limiter.messages_this_month(&tenant, at).await.unwrap();
    let others = limiter.admit_message(&other, 2, at).await.unwrap();
    let later = limiter.messages_this_month(&tenant, next_month).await.unwrap();
    let next = limiter.admit_message(&tenant, 2, next_month).await.unwrap();

    // Assert
    assert_eq!(&admitted[..2], &[Admission::Allowed, Admission::Allowed]);
    assert!(matches!(admitted[2], Admission::Limited { .. }), "{:?}", admitted[2]);
    assert_eq!(counted, 2, "the refused message is not counted");
    assert_eq!(others, Admission::Allowed);
    assert_eq!((later, next), (0, Admission::Allowed));
    assert_eq!(limiter.messages_this_month(&other, at).await.unwrap(), 1);
}

/// Every check of the suite.
pub async fn all<L: RateLimiter>(limiter: &L) {
    requests_are_admitted_per_minute(limiter).await;
    messages_are_counted_per_month(limiter).await;
}
