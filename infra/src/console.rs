//! The agent console's static files (`console/dist`, built by `npm run build` in `console/`)
//! under `/console/`, as CloudFront serves them in production: the files with their content
//! types, content-hashed assets cached for a year, `index.html` revalidated on every load, and
//! every other path below `/console/` answered with `index.html` (the page routes itself).

use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, Response, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::any;
use axum::Router;

/// Where the console is served.
pub const PREFIX: &str = "/console";

/// The page's security policy: scripts, styles and calls only from this origin (the WebSocket
/// too), media of messages as blob URLs, never framed.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
     media-src 'self' blob:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'";

/// How a served file may be cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caching {
    /// Content-hashed (`assets/…`): a year, immutable.
    Immutable,
    /// `index.html` and other unhashed files: revalidate on every load.
    Revalidate,
}

impl Caching {
    const fn header(self) -> &'static str {
        match self {
            Self::Immutable => "public, max-age=31536000, immutable",
            Self::Revalidate => "no-cache",
        }
    }
}

/// What a path below `/console/` is answered with.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// This file.
    File(PathBuf, Caching),
    /// The page (`index.html`): the path is one of the page's own routes.
    Page,
    /// 404: a missing file (a name with an extension) or a path that leaves the directory.
    NotFound,
}

/// Resolves `rest` (the request path after `/console/`, percent-decoded) within `root`.
#[must_use]
pub fn resolve(root: &Path, rest: &str) -> Target {
    if rest.is_empty() || rest == "index.html" {
        return Target::Page;
    }
    let relative = Path::new(rest);
    // Only plain names: no `..`, no root, no backslash or NUL tricks.
    if rest.contains(['\\', '\0']) || !relative.components().all(|c| matches!(c, Component::Normal(_))) {
        return Target::NotFound;
    }
    let file = root.join(relative);
    if file.is_file() {
        let caching = if rest.starts_with("assets/") { Caching::Immutable } else { Caching::Revalidate };
        return Target::File(file, caching);
    }
    let last = rest.rsplit('/').next().unwrap_or_default();
    if last.contains('.') {
        Target::NotFound
    } else {
        Target::Page
    }
}

/// The content type of a file by its extension.
#[must_use]
pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "webp" => "image/webp",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The routes of `/console` and below, serving files from `root`.
pub fn router(root: PathBuf) -> Router {
    Router::new()
        .route(PREFIX, any(redirect))
        .route(&format!("{PREFIX}/"), any(serve))
        .route(&format!("{PREFIX}/{{*rest}}"), any(serve))
        .with_state(root)
}

async fn redirect() -> Response<Body> {
    (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, "/console/")]).into_response()
}

async fn serve(State(root): State<PathBuf>, method: Method, uri: Uri) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET, HEAD")]).into_response();
    }
    let raw = uri.path().strip_prefix(PREFIX).unwrap_or_default().trim_start_matches('/');
    let Some(rest) = percent_decode(raw) else { return not_found() };
    let (file, caching) = match resolve(&root, &rest) {
        Target::File(file, caching) => (file, caching),
        Target::Page => (root.join("index.html"), Caching::Revalidate),
        Target::NotFound => return not_found(),
    };
    let Ok(bytes) = tokio::fs::read(&file).await else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "The console is not built: run `npm ci && npm run build` in console/ (infra/local-stack.sh does).\n",
        )
            .into_response();
    };
    let mut response = if method == Method::HEAD {
        let mut head = Response::new(Body::empty());
        if let Ok(length) = HeaderValue::from_str(&bytes.len().to_string()) {
            head.headers_mut().insert(header::CONTENT_LENGTH, length);
        }
        head
    } else {
        Response::new(Body::from(bytes))
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&file)));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(caching.header()));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if file.extension().is_some_and(|e| e == "html") {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    response
}

fn not_found() -> Response<Body> {
    (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "Not found\n")
        .into_response()
}

/// `%XX` decoding of a path (None for a malformed escape or bytes that are not UTF-8).
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist() -> PathBuf {
        let root = std::env::temp_dir().join(format!("console-dist-{}", crate::random_hex(8).unwrap()));
        std::fs::create_dir_all(root.join("assets")).unwrap();
        std::fs::write(root.join("index.html"), "<!doctype html>").unwrap();
        std::fs::write(root.join("assets/main-ABC.js"), "export{}").unwrap();
        std::fs::write(root.join("robots.txt"), "").unwrap();
        root
    }

    #[test]
    fn hashed_assets_are_immutable_and_other_files_revalidate() {
        // Arrange
        let root = dist();
        // Act / Assert
        assert_eq!(
            resolve(&root, "assets/main-ABC.js"),
            Target::File(root.join("assets/main-ABC.js"), Caching::Immutable)
        );
        assert_eq!(resolve(&root, "robots.txt"), Target::File(root.join("robots.txt"), Caching::Revalidate));
        assert_eq!(resolve(&root, ""), Target::Page);
    }

    #[test]
    fn the_pages_own_routes_get_the_page_and_missing_files_404() {
        // Arrange
        let root = dist();
        // Act / Assert
        assert_eq!(resolve(&root, "c/cv_01abc"), Target::Page);
        assert_eq!(resolve(&root, "dashboard"), Target::Page);
        assert_eq!(resolve(&root, "assets/gone-XYZ.js"), Target::NotFound);
    }

    #[test]
    fn paths_that_leave_the_directory_are_not_found() {
        // Arrange
        let root = dist();
        // Act / Assert
        for path in ["../Cargo.toml", "assets/../../x", "/etc/passwd", "a\\..\\b", "./index.html"] {
            assert_eq!(resolve(&root, path), Target::NotFound, "{path}");
        }
    }

    #[test]
    fn content_types_and_percent_decoding() {
        assert_eq!(content_type(Path::new("a/index.html")), "text/html; charset=utf-8");
        assert_eq!(content_type(Path::new("main-X.js")), "text/javascript; charset=utf-8");
        assert_eq!(content_type(Path::new("main-X.css")), "text/css; charset=utf-8");
        assert_eq!(content_type(Path::new("blob")), "application/octet-stream");
        assert_eq!(percent_decode("c/cv%5F1").as_deref(), Some("c/cv_1"));
        assert_eq!(percent_decode("%2e%2e/x").as_deref(), Some("../x"));
        assert_eq!(percent_decode("%zz"), None);
    }
}
