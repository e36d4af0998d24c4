//! HTTP requests to API Gateway HTTP API (payload format 2.0) events, and the functions'
//! responses back to HTTP, as API Gateway does it.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, Uri};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Map, Value};

/// The v2 event for a request. Bodies that are valid UTF-8 travel as text (byte-exact, which
/// webhook signatures rely on); anything else as base64 with `isBase64Encoded`.
#[must_use]
pub fn to_event(method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Value {
    let mut joined: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == "cookie" {
            cookies.extend(value.split(';').map(|c| c.trim().to_owned()));
        } else {
            joined.entry(name.as_str().to_owned()).or_default().push(value);
        }
    }
    let headers: Map<String, Value> =
        joined.into_iter().map(|(k, v)| (k, Value::String(v.join(",")))).collect();
    let raw_query = uri.query().unwrap_or_default().to_owned();
    let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        query.entry(percent_decode(key)).or_default().push(percent_decode(value));
    }
    let query: Map<String, Value> = query.into_iter().map(|(k, v)| (k, Value::String(v.join(",")))).collect();
    let (body, is_base64) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (B64.encode(body), true),
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let user_agent = headers.get("user-agent").cloned().unwrap_or(Value::String(String::new()));
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": uri.path(),
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "http": {
                "method": method.as_str(),
                "path": uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": user_agent,
            },
            "requestId": crate::random_hex(8).unwrap_or_default(),
            "routeKey": "$default",
            "stage": "$default",
            "time": "",
            "timeEpoch": now,
        },
        "isBase64Encoded": is_base64,
    });
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !body.is_empty() {
        event["body"] = Value::String(body);
    }
    event
}

/// Decodes a query component (`%xx`, `+` as space), as API Gateway does.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The HTTP response for a function's v2 response JSON.
///
/// # Errors
/// When the function's answer is not a v2 response.
pub fn from_response(answer: &[u8]) -> anyhow::Result<Response<Body>> {
    let value: Value = serde_json::from_slice(answer)?;
    let status = value.get("statusCode").and_then(Value::as_u64).unwrap_or(200);
    let status = StatusCode::from_u16(u16::try_from(status)?)?;
    let body = value.get("body").and_then(Value::as_str).unwrap_or_default();
    let body = if value.get("isBase64Encoded").and_then(Value::as_bool).unwrap_or(false) {
        B64.decode(body)?
    } else {
        body.as_bytes().to_vec()
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    if let Some(headers) = value.get("headers").and_then(Value::as_object) {
        for (name, value) in headers {
            if let (Ok(name), Some(Ok(value))) =
                (HeaderName::try_from(name.as_str()), value.as_str().map(HeaderValue::from_str))
            {
                response.headers_mut().insert(name, value);
            }
        }
    }
    // Payload 2.0 answers cookies apart from the headers; API Gateway sends each as a Set-Cookie.
    for cookie in
        value.get("cookies").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
    {
        if let Ok(cookie) = HeaderValue::from_str(cookie) {
            response.headers_mut().append(axum::http::header::SET_COOKIE, cookie);
        }
    }
    if let Some(headers) = value.get("multiValueHeaders").and_then(Value::as_object) {
        for (name, values) in headers {
            for value in values.as_array().into_iter().flatten().filter_map(Value::as_str) {
                if let (Ok(name), Ok(value)) =
                    (HeaderName::try_from(name.as_str()), HeaderValue::from_str(value))
                {
                    response.headers_mut().append(name, value);
                }
            }
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keeps_body_bytes_and_decodes_query() {
        let uri: Uri = "/webhooks/meta?hub.mode=subscribe&hub.challenge=12%2034&x=a+b".parse().expect("uri");
        let mut headers = HeaderMap::new();
        headers.insert("x-hub-signature-256", HeaderValue::from_static("sha256=ab"));
        let body = Bytes::from_static("{\"t\":\"pâtes \\/ ok\"}".as_bytes());
        let event = to_event(&Method::POST, &uri, &headers, &body);
        assert_eq!(event["body"], "{\"t\":\"pâtes \\/ ok\"}");
        assert_eq!(event["isBase64Encoded"], false);
        assert_eq!(event["queryStringParameters"]["hub.challenge"], "12 34");
        assert_eq!(event["queryStringParameters"]["x"], "a b");
        assert_eq!(event["headers"]["x-hub-signature-256"], "sha256=ab");
        assert_eq!(event["requestContext"]["http"]["method"], "POST");
    }

    #[test]
    fn binary_bodies_travel_as_base64() {
        let event = to_event(
            &Method::POST,
            &"/x".parse().expect("uri"),
            &HeaderMap::new(),
            &Bytes::from_static(&[0xff, 0x00]),
        );
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["body"], "/wA=");
    }

    #[test]
    fn response_maps_status_headers_and_body() {
        let answer = br#"{"statusCode":201,"headers":{"content-type":"application/json"},"body":"{\"a\":1}","isBase64Encoded":false}"#;
        let response = from_response(answer).expect("valid");
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["content-type"], "application/json");
    }

    #[test]
    fn answered_cookies_become_set_cookie_headers() {
        let answer = br#"{"statusCode":200,"cookies":["a=1; HttpOnly","b=2"],"body":""}"#;
        let response = from_response(answer).expect("valid");
        let cookies: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1; HttpOnly", "b=2"]);
    }
}
