//! `GET /v1/openapi.json`: the OpenAPI 3.1 document, generated from the operation table and
//! the JSON Schemas (2020-12, OpenAPI 3.1's dialect) of the very types the handlers read and
//! write. Generated into `docs/openapi.json` (the committed contract, kept equal by a unit test)
//! and served from there.

use std::sync::OnceLock;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

#[cfg(test)]
mod document;
#[cfg(test)]
pub use document::{document, operation_id};

/// The committed document, pretty-printed for review: `docs/openapi.json`, which a unit test
/// (`the_committed_document_is_the_one_the_api_serves`) keeps equal to [`document`] of the route
/// table. Served from here rather than generated at run time: building it took ~11 MB of the
/// process's memory for good (docs/performance.md, "Init time and idle memory").
const COMMITTED: &str = include_str!("../../../docs/openapi.json");

/// The document as a response: the committed one without its indentation (made once).
#[must_use]
pub fn response() -> Response<Body> {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let text = DOCUMENT.get_or_init(|| minified(COMMITTED));
    let mut response = Response::new(Body::Text(text.clone()));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        lambda_http::http::header::CONTENT_TYPE,
        lambda_http::http::HeaderValue::from_static("application/json"),
    );
    response
}

/// `json` without the whitespace between its tokens; strings are kept byte for byte.
fn minified(json: &str) -> String {
    let mut out = String::with_capacity(json.len() / 2);
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::document::{generator, operation};
    use super::*;

    #[test]
    fn request_and_answer_schemas_never_disagree_under_one_name() {
        let mut requests = generator(true);
        let mut answers = generator(false);
        let document_paths: Vec<Value> =
            crate::routes::OPERATIONS.iter().map(|op| operation(op, &mut requests, &mut answers)).collect();
        assert!(!document_paths.is_empty());
        let answers = answers.take_definitions(true);
        let conflicts: Vec<String> = requests
            .take_definitions(true)
            .into_iter()
            .filter(|(name, schema)| answers.get(name).is_some_and(|other| other != schema))
            .map(|(name, _)| name)
            .collect();
        assert!(conflicts.is_empty(), "{conflicts:?}");
    }

    #[test]
    fn the_served_document_is_the_generated_one_without_indentation() {
        // Arrange
        let generated = document(crate::routes::OPERATIONS).to_string();

        // Act
        let served = minified(COMMITTED);

        // Assert (docs/openapi.json out of date: see `the_committed_document_is_the_one_the_api_serves`)
        assert!(served == generated, "the served document differs from the generated one");
    }

    #[test]
    fn minifying_keeps_strings_and_drops_only_whitespace_between_tokens() {
        let pretty = "{\n  \"a b\": [1, \"x\\\" \\\\ y\"],\r\n\t\"c\": {}\n}";
        assert_eq!(minified(pretty), "{\"a b\":[1,\"x\\\" \\\\ y\"],\"c\":{}}");
    }
}
