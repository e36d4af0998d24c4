//! What every answer gets on its way out, and what the browser asks before it calls
//! (docs/console-api.md): CORS for the console's one origin, preflight `OPTIONS`,
//! `WWW-Authenticate` on every 401, `Allow` on every 405, and the refresh-token cookie.

use lambda_http::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ALLOW, COOKIE,
    SET_COOKIE, VARY, WWW_AUTHENTICATE,
};
use lambda_http::http::{HeaderMap, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use shared::domain::identity::SESSION_TTL_SECS;

/// The cookie that holds the refresh token.
pub const REFRESH_COOKIE: &str = "leadline_refresh";
/// The cookie's path: the narrowest one covering refresh and logout (a cookie has one path).
pub const REFRESH_COOKIE_PATH: &str = "/v1/auth";
/// The request headers the console sends.
const ALLOWED_HEADERS: &str = "authorization, content-type, idempotency-key, if-match";
/// The response headers the console's scripts may read.
const EXPOSED_HEADERS: &str = "Retry-After, WWW-Authenticate, Allow, Content-Disposition";
/// How long a browser may keep a preflight's answer, seconds.
const PREFLIGHT_MAX_AGE: &str = "600";

/// What [`finish`] needs of the request.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    /// The request's `Origin`, if any.
    pub origin: Option<&'a str>,
    /// True when the request carried an `Authorization` header.
    pub had_credential: bool,
    /// The methods the path serves (empty for an unknown path).
    pub methods: &'a [&'static str],
}

/// The `Origin` header of a request.
#[must_use]
pub fn origin(headers: &HeaderMap) -> Option<&str> {
    headers.get(lambda_http::http::header::ORIGIN).and_then(|v| v.to_str().ok())
}

/// True when `origin` is the configured console origin (exact match; none configured: never).
#[must_use]
pub fn allowed_origin<'a>(configured: Option<&str>, origin: Option<&'a str>) -> Option<&'a str> {
    match (configured, origin) {
        (Some(configured), Some(origin)) if configured == origin => Some(origin),
        _ => None,
    }
}

/// The answer to a preflight `OPTIONS` on a path the API serves: 204 with `Allow`, and the CORS
/// grant for the console's origin only.
#[must_use]
pub fn preflight(configured: Option<&str>, seen: Seen<'_>) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    if let Ok(allow) = HeaderValue::from_str(&seen.methods.join(", ")) {
        response.headers_mut().insert(ALLOW, allow);
    }
    if allowed_origin(configured, seen.origin).is_some() {
        let headers = response.headers_mut();
        if let Ok(methods) = HeaderValue::from_str(&seen.methods.join(", ")) {
            headers.insert(ACCESS_CONTROL_ALLOW_METHODS, methods);
        }
        headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOWED_HEADERS));
        headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(PREFLIGHT_MAX_AGE));
    }
    response
}

/// Adds what every answer carries: `WWW-Authenticate` on 401 (RFC 6750), `Allow` on 405, and the CORS headers when the request came from the console's origin.
pub fn finish(response: &mut Response<Body>, configured: Option<&str>, seen: Seen<'_>) {
    let status = response.status();
    let headers = response.headers_mut();
    if status == StatusCode::UNAUTHORIZED && !headers.contains_key(WWW_AUTHENTICATE) {
        let challenge = if seen.had_credential {
            r#"Bearer realm="leadline", error="invalid_token""#
        } else {
            r#"Bearer realm="leadline""#
        };
        headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    if status == StatusCode::METHOD_NOT_ALLOWED && !headers.contains_key(ALLOW) {
        if let Ok(allow) = HeaderValue::from_str(&seen.methods.join(", ")) {
            headers.insert(ALLOW, allow);
        }
    }
    // Caches must not hand one origin's answer to another.
    headers.append(VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed_origin(configured, seen.origin) {
        if let Ok(origin) = HeaderValue::from_str(origin) {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
            headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED_HEADERS));
        }
    }
}

/// The refresh token of the request's cookie, if any.
#[must_use]
pub fn refresh_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == REFRESH_COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// Sets the refresh cookie to `token` (kept as long as a session lives).
pub fn set_refresh_cookie(response: &mut Response<Body>, token: &str) {
    let cookie = format!(
        "{REFRESH_COOKIE}={token}; Path={REFRESH_COOKIE_PATH}; Max-Age={SESSION_TTL_SECS}; HttpOnly; Secure; SameSite=Strict"
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
}

/// Clears the refresh cookie.
pub fn clear_refresh_cookie(response: &mut Response<Body>) {
    let cookie = format!(
        "{REFRESH_COOKIE}=; Path={REFRESH_COOKIE_PATH}; Max-Age=0; HttpOnly; Secure; SameSite=Strict"
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONSOLE: &str = "https://console.example";

    fn seen<'a>(origin: Option<&'a str>, methods: &'a [&'static str]) -> Seen<'a> {
        Seen { origin, had_credential: false, methods }
    }

    #[test]
    fn only_the_configured_origin_is_granted() {
        let mut granted = Response::new(Body::Empty);
        finish(&mut granted, Some(CONSOLE), seen(Some(CONSOLE), &[]));
        let mut other = Response::new(Body::Empty);
        finish(&mut other, Some(CONSOLE), seen(Some("https://evil.example"), &[]));
        let mut unconfigured = Response::new(Body::Empty);
        finish(&mut unconfigured, None, seen(Some(CONSOLE), &[]));

        assert_eq!(granted.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], CONSOLE);
        assert_eq!(granted.headers()[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert!(other.headers().keys().all(|k| !k.as_str().starts_with("access-control-")));
        assert!(unconfigured.headers().keys().all(|k| !k.as_str().starts_with("access-control-")));
    }

    #[test]
    fn a_401_challenges_and_a_405_names_the_methods() {
        let mut unauthorized = Response::new(Body::Empty);
        *unauthorized.status_mut() = StatusCode::UNAUTHORIZED;
        finish(&mut unauthorized, None, Seen { origin: None, had_credential: true, methods: &[] });
        let mut not_allowed = Response::new(Body::Empty);
        *not_allowed.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        finish(&mut not_allowed, None, seen(None, &["GET", "PATCH"]));

        assert_eq!(
            unauthorized.headers()[WWW_AUTHENTICATE],
            r#"Bearer realm="leadline", error="invalid_token""#
        );
        assert_eq!(not_allowed.headers()[ALLOW], "GET, PATCH");
    }

    #[test]
    fn the_refresh_cookie_is_read_among_others_and_set_http_only() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("a=1; leadline_refresh=llr.x.y.z; b=2"));
        let mut response = Response::new(Body::Empty);
        set_refresh_cookie(&mut response, "llr.x.y.z");

        assert_eq!(refresh_cookie(&headers).as_deref(), Some("llr.x.y.z"));
        assert_eq!(refresh_cookie(&HeaderMap::new()), None);
        let cookie = response.headers()[SET_COOKIE].to_str().unwrap();
        for part in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/v1/auth"] {
            assert!(cookie.contains(part), "{cookie}");
        }
    }
}
