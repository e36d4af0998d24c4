//! What authentication costs per request and per login (release build):
//! `cargo bench -p api --bench auth`.

#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use shared::domain::identity::{AccessClaims, User, UserStatus};
use shared::domain::tenant::Role;
use shared::domain::{Secret, SessionId, TenantId, Timestamp, UserId};

fn user() -> User {
    let now = Timestamp::from_secs(1_800_000_000);
    User {
        id: UserId::parse("usr_bench").unwrap(),
        tenant_id: TenantId::parse("tn_bench").unwrap(),
        email: "bench@example.com".into(),
        name: "Bench".into(),
        role: Role::Agent,
        queues: vec![shared::domain::QueueId::parse("support").unwrap()],
        status: UserStatus::Active,
        password_hash: None,
        invitation_sha256: None,
        invitation_expires_at: None,
        token_generation: 0,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    }
}

fn bench(c: &mut Criterion) {
    let now = Timestamp::from_secs(1_800_000_000);
    let key = [7u8; 32];
    let token = AccessClaims::issue(&user(), &SessionId::parse("ses_bench").unwrap(), now).sign(&key);
    c.bench_function("access token verify (JWT HS256)", |b| {
        b.iter(|| AccessClaims::verify(token.expose(), &key, now).expect("valid"));
    });
    let password = Secret::new("correct horse battery staple");
    let hash = api::passwords::hash(&password).expect("hash");
    let mut slow = c.benchmark_group("password");
    slow.sample_size(10);
    slow.bench_function("argon2id verify (19 MiB, t=2, p=1)", |b| {
        b.iter(|| api::passwords::verify(&password, &hash))
    });
    slow.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
