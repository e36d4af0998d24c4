//! Problem types: every slug the code can produce is in the catalogue
//! (`shared::lambda::problems::CATALOGUE`), documented under its heading in `docs/problems.md`,
//! and listed in the committed OpenAPI document. Read from the sources; needs nothing running.
//!
//! Slugs reach `Problem::new` as literals or through a few functions that map an error to its
//! slug; the scan resolves those by name ([`RESOLVED`]) and fails on any other expression, so a
//! new way of producing a slug must be added here, and with it to the catalogue.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use shared::lambda::problems::{is_catalogued, CATALOGUE};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Non-literal slug expressions and the function whose `=> "slug"` arms they return.
const RESOLVED: &[(&str, &str, &str)] = &[
    ("error.check()", "shared/src/app/verification.rs", "pub const fn check"),
    ("refused.check()", "shared/src/app/verification.rs", "pub const fn check"),
    ("refusal.code()", "shared/src/domain/ai/mod.rs", "pub const fn code"),
    // `message_refused(slug, …)`: its callers' literals, and `refusal_slug`'s arms.
    ("slug", "functions/api/src/errors.rs", "const fn refusal_slug"),
    ("refusal_slug(refusal)", "functions/api/src/errors.rs", "const fn refusal_slug"),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source directory").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The string literals of `text` that are values, not compared against (`what == "tags"`).
fn literals(text: &str) -> Vec<String> {
    let parts: Vec<&str> = text.split('"').collect();
    (1..parts.len())
        .step_by(2)
        .filter(|&i| !parts[i - 1].trim_end().ends_with("=="))
        .map(|i| parts[i].to_owned())
        .collect()
}

/// The text of the argument number `n` (0-based) of the call starting right after `open`.
fn argument(after_open: &str, n: usize) -> String {
    let (mut depth, mut index, mut current) = (0_i32, 0, String::new());
    let mut in_string = false;
    for c in after_open.chars() {
        if c == '"' {
            in_string = !in_string;
        }
        if !in_string {
            match c {
                '(' | '{' | '[' => depth += 1,
                ')' | '}' | ']' if depth == 0 => break,
                ')' | '}' | ']' => depth -= 1,
                ',' if depth == 0 => {
                    if index == n {
                        return current.trim().to_owned();
                    }
                    index += 1;
                    current.clear();
                    continue;
                }
                _ => {}
            }
        }
        if index == n {
            current.push(c);
        }
    }
    current.trim().to_owned()
}

/// The `=> "slug"` arms of the function `signature` in `file`.
fn arms(file: &str, signature: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join(file)).expect(file);
    let start = text.find(signature).unwrap_or_else(|| panic!("{signature} not in {file}"));
    let body = &text[start..];
    let end = body.find("\n}").or_else(|| body.find("\n    }\n")).unwrap_or(body.len());
    body[..end].split("=> \"").skip(1).filter_map(|s| s.split('"').next()).map(str::to_owned).collect()
}

/// Every slug the code can produce.
fn produced() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&root().join("functions"), &mut files);
    rust_files(&root().join("shared/src"), &mut files);
    let mut slugs = BTreeSet::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("source");
        // `Problem`'s own constructors call `Self::new`.
        let own = path.ends_with("lambda/http.rs");
        let calls: &[(&str, usize)] = if own {
            &[("Problem::new(", 1), ("Self::new(", 1)]
        } else {
            &[("Problem::new(", 1), ("message_refused(", 0)]
        };
        for &(call, n) in calls {
            for (at, _) in text.match_indices(call) {
                // `FlowProblem::new(` and the like are other types.
                if text[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let expression = argument(&text[at + call.len()..], n);
                // The definitions themselves (`fn message_refused(slug: &str …`, `slug: &str`).
                if expression.contains(": &") || expression.is_empty() {
                    continue;
                }
                let found = literals(&expression);
                if found.is_empty() {
                    let resolved = RESOLVED.iter().find(|(e, _, _)| *e == expression).unwrap_or_else(|| {
                        panic!("{}: a slug from `{expression}`: add it to RESOLVED", path.display())
                    });
                    slugs.extend(arms(resolved.1, resolved.2));
                } else {
                    slugs.extend(found);
                }
            }
        }
    }
    slugs
}

#[test]
fn every_slug_the_code_can_produce_is_catalogued() {
    let produced = produced();
    assert!(produced.len() > 30, "the scan found too little: {produced:?}");
    let missing: Vec<&String> = produced.iter().filter(|s| !is_catalogued(s)).collect();
    assert!(missing.is_empty(), "slugs the code produces but CATALOGUE lacks: {missing:?}");
}

#[test]
fn every_catalogued_slug_has_its_heading_in_docs_problems_md_and_only_those() {
    let doc = std::fs::read_to_string(root().join("docs/problems.md")).expect("docs/problems.md");
    let headings: BTreeSet<&str> = doc.lines().filter_map(|l| l.strip_prefix("### ")).collect();
    let catalogued: BTreeSet<&str> = CATALOGUE.iter().map(|t| t.slug).collect();
    assert_eq!(headings, catalogued);
}

#[test]
fn the_committed_openapi_document_lists_every_slug_in_the_problem_type() {
    let text = std::fs::read_to_string(root().join("docs/openapi.json")).expect("docs/openapi.json");
    let document: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let description = document["components"]["schemas"]["Problem"]["properties"]["type"]["description"]
        .as_str()
        .expect("the Problem schema's type has a description");
    for t in CATALOGUE {
        assert!(description.contains(t.slug), "{} not listed in the OpenAPI document", t.slug);
    }
}
