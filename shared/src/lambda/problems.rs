//! The catalogue of problem types: every slug a [`super::http::Problem`] of the API or the
//! webhook may carry (`type` = [`super::http::PROBLEM_BASE`] + slug), with its status and title.
//! The OpenAPI document lists it (the `Problem` schema's `type`), `docs/problems.md` documents
//! each slug under its own heading, and `it::problems` checks that every slug the code can
//! produce is here and documented there.

/// One problem type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemType {
    /// The slug (the `type` URI's last segment, and the heading in `docs/problems.md`).
    pub slug: &'static str,
    /// The HTTP status it comes with.
    pub status: u16,
}

const fn p(slug: &'static str, status: u16) -> ProblemType {
    ProblemType { slug, status }
}

/// Every problem type, in the order of `docs/problems.md`.
pub const CATALOGUE: &[ProblemType] = &[
    // Requests
    p("bad-request", 400),
    p("unauthorized", 401),
    p("forbidden", 403),
    p("not-found", 404),
    p("method-not-allowed", 405),
    p("conflict", 409),
    p("payload-too-large", 413),
    p("rate-limited", 429),
    p("login-throttled", 429),
    p("internal", 500),
    p("try-again", 503),
    p("unavailable", 503),
    p("enqueue-failed", 503),
    // State and concurrency
    p("version-conflict", 409),
    p("illegal-transition", 409),
    p("idempotency-key-in-progress", 409),
    p("idempotency-key-reused", 422),
    p("agent-unavailable", 409),
    p("queue-name-taken", 409),
    p("queue-not-empty", 409),
    p("import-running", 409),
    p("grace-period-over", 410),
    // Plans and limits
    p("plan-limit", 403),
    p("too-many-tags", 422),
    p("too-many-attributes", 422),
    p("invalid-rows", 422),
    p("invalid-setting", 422),
    p("invalid-flow", 422),
    // Sending messages
    p("unknown-recipient", 422),
    p("opted-out", 422),
    p("opted-out-by-person", 409),
    p("restricted", 422),
    p("no-consent", 422),
    p("outside-window", 422),
    p("unknown-template", 422),
    p("template-mismatch", 422),
    p("not-connected", 422),
    // Connecting a number or a Page
    p("token-rejected", 422),
    p("number-not-found", 422),
    p("waba-not-found", 422),
    p("number-not-in-waba", 422),
    p("display-number-mismatch", 422),
    p("page-token-mismatch", 422),
    p("meta-refused", 502),
    // Media
    p("unsupported-media-type", 415),
    p("media-too-large", 422),
    p("media-rejected", 422),
    // AI
    p("ai-disabled", 409),
    p("ai-not-connected", 409),
    p("contact-restricted", 409),
];

/// Whether `slug` is catalogued.
#[must_use]
pub fn is_catalogued(slug: &str) -> bool {
    CATALOGUE.iter().any(|t| t.slug == slug)
}

/// The `Problem` schema's description of `type`: the base and every slug, with where they are
/// documented.
#[must_use]
pub fn type_description() -> String {
    let slugs: Vec<&str> = CATALOGUE.iter().map(|t| t.slug).collect();
    format!(
        "A URI naming the problem kind: {}<slug>, documented under the slug's heading in docs/problems.md. \
         Clients may switch on it. The slugs: {}.",
        super::http::PROBLEM_BASE,
        slugs.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for t in CATALOGUE {
            assert!(seen.insert(t.slug), "{} twice", t.slug);
            assert!(t.slug.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{}", t.slug);
            assert!((400..600).contains(&t.status), "{}", t.slug);
        }
        assert!(is_catalogued("not-found") && !is_catalogued("nope"));
        assert!(type_description().contains("grace-period-over"));
    }
}
