//! The web console at `/console`: a one-page app of plain JavaScript modules whose files are
//! compiled into the binary (no Node.js to build or run Cairn, nothing to install beside it).
//!
//! The console is only a client of the public JSON API: it logs in with `POST /v1/auth/tokens`
//! like any other client and keeps the token in page memory. Serving its files needs no
//! credentials (they hold no data); every answer carries a Content-Security-Policy that keeps
//! the page from loading or sending anything outside this server, so a document that smuggles
//! markup into a view cannot run a script or exfiltrate what the page shows.
//!
//! Third-party libraries (three.js, cytoscape, uPlot) are vendored, minified, under `console/vendor/`
//! at the versions `THIRD_PARTY.md` names, with their licences.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::api_error::ApiError;

/// What the page may load and contact: only this server. `script-src 'self'` also forbids
/// inline scripts and `eval`; `style-src 'self'` forbids inline `<style>` and `style`
/// attributes in markup (the scripts set styles through the DOM, which CSP allows);
/// `img-src` adds `data:`/`blob:` for canvas snapshots; nothing may frame the console.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One embedded file: its path under `/console/`, its media type and its bytes.
struct Asset {
    path: &'static str,
    media_type: &'static str,
    bytes: &'static [u8],
}

/// Declares the embedded files: each is read from `console/` at compile time.
macro_rules! assets {
    ($($path:literal => $media:expr),* $(,)?) => {
        &[$(Asset {
            path: $path,
            media_type: $media,
            bytes: include_bytes!(concat!("../console/", $path)),
        }),*]
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the console. A new module must be listed here (the test
/// `every_module_the_page_imports_is_embedded` fails otherwise).
static ASSETS: &[Asset] = assets![
    "index.html" => "text/html; charset=utf-8",
    "style.css" => "text/css; charset=utf-8",
    "favicon.svg" => "image/svg+xml",
    "js/app.js" => JS,
    "js/api.js" => JS,
    "js/dom.js" => JS,
    "js/json.js" => JS,
    "js/session.js" => JS,
    "js/views/collections.js" => JS,
    "js/views/documents.js" => JS,
    "js/views/query.js" => JS,
    "js/views/explain.js" => JS,
    "js/views/indexes.js" => JS,
    "js/views/schema.js" => JS,
    "js/views/geometry.js" => JS,
    "js/views/graph.js" => JS,
    "js/views/changes.js" => JS,
    "js/views/metrics.js" => JS,
    "js/views/stats.js" => JS,
    "js/views/series.js" => JS,
    "js/views/nearest.js" => JS,
    "vendor/three.min.js" => JS,
    "vendor/cytoscape.min.js" => JS,
    "vendor/uplot.min.js" => JS,
    "vendor/uplot.min.css" => "text/css; charset=utf-8",
];

/// The console's routes: `/` redirects to `/console`, which serves the page; its files live
/// under `/console/`. Unknown files answer the common JSON 404.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        .route("/console", get(|| async { serve("index.html") }))
        .route("/console/", get(|| async { serve("index.html") }))
        .route(
            "/console/{*path}",
            get(|Path(path): Path<String>| async move { serve(&path) }),
        )
}

/// Answers one embedded file with the console's security headers.
fn serve(path: &str) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.path == path) else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("the console has no file {path:?}"),
        )
        .into_response();
    };
    let mut response = (StatusCode::OK, asset.bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.media_type),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // The files change only with the binary; revalidating each load keeps an upgraded server
    // from running a page older than its API.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(path: &str) -> Response {
        let request = Request::get(path).body(Body::empty()).unwrap();
        router::<()>().oneshot(request).await.unwrap()
    }

    #[tokio::test]
    async fn root_redirects_and_the_page_carries_the_policy() {
        let root = get("/").await;
        assert!(root.status().is_redirection());
        assert_eq!(root.headers()[header::LOCATION], "/console");
        for path in ["/console", "/console/", "/console/js/app.js"] {
            let page = get(path).await;
            assert_eq!(page.status(), StatusCode::OK, "{path}");
            let policy = page.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap();
            assert!(policy.contains("connect-src 'self'"), "{policy}");
            assert!(policy.contains("default-src 'none'"), "{policy}");
        }
        let missing = get("/console/js/nope.js").await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let escape = get("/console/../Cargo.toml").await;
        assert_eq!(escape.status(), StatusCode::NOT_FOUND);
    }

    /// Every `import ... from "./x.js"` and `src="/console/..."` of the embedded files names
    /// an embedded file, and none of our files names a URL outside the server.
    #[test]
    fn every_module_the_page_imports_is_embedded() {
        let own = |a: &&Asset| !a.path.starts_with("vendor/") && !a.path.ends_with(".svg");
        for asset in ASSETS.iter().filter(own) {
            let text = std::str::from_utf8(asset.bytes).unwrap();
            assert!(
                !text.contains("http://") && !text.contains("https://"),
                "{} names an outside URL",
                asset.path
            );
            let base = asset.path.rsplit_once('/').map_or("", |(dir, _)| dir);
            for quote in ['"', '\''] {
                for piece in text.split(quote).skip(1).step_by(2) {
                    let absolute = piece.strip_prefix("/console/");
                    let relative = piece.starts_with("./") || piece.starts_with("../");
                    let file = [".js", ".css", ".svg"].iter().any(|e| piece.ends_with(e));
                    if !(relative || absolute.is_some()) || !file {
                        continue;
                    }
                    let resolved = absolute.map_or_else(|| resolve(base, piece), str::to_string);
                    assert!(
                        ASSETS.iter().any(|a| a.path == resolved),
                        "{} imports {piece} ({resolved}), which is not embedded",
                        asset.path
                    );
                }
            }
        }
    }

    fn resolve(base: &str, relative: &str) -> String {
        let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
        for piece in relative.split('/') {
            match piece {
                "." => {}
                ".." => {
                    parts.pop();
                }
                other => parts.push(other),
            }
        }
        parts.join("/")
    }
}
