//! The built page: every path no other route takes is a file of the dist directory
//! (`trunk build --dist DIR`), a directory's `index.html` for a directory.
//!
//! Served as a classroom needs it: thirty phones on one school Wi-Fi fetch the same files.
//! - Compressed once, at build time: `scripts/post-build` writes `FILE.br` and `FILE.gz` beside
//!   each file; a browser gets the smallest variant its `Accept-Encoding` takes (brotli, then
//!   gzip, then the file itself), with `Vary: Accept-Encoding`. Nothing is compressed per
//!   request.
//! - Cached by what the name says: a content-hashed file (Trunk's `NAME-HASH.ext`) never
//!   changes, so browsers keep it a year without asking (`immutable`); everything else
//!   (`index.html`, the service worker, the parts of the page, which Trunk does not hash) is
//!   `no-cache`: kept, but revalidated with its ETag each time, so a second visit costs a few
//!   `304 Not Modified` and a new build is seen at once.
//!
//! Its own module because how the page is served changes on its own: [`router`] is the one
//! place that decides, and the app mounts whatever it returns as its fallback.

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use std::path::Path;
use tower_http::services::ServeDir;

/// `Cache-Control` of a content-hashed file: a year, never revalidated.
pub(super) const CACHE_HASHED: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of anything else: revalidate (ETag) before each use.
pub(super) const CACHE_REVALIDATE: &str = "no-cache";

/// The routes serving `dist`: its files (or their precompressed variants), `index.html` for a
/// directory, each with its `Cache-Control`.
pub(super) fn router(dist: &Path) -> Router {
    let files = ServeDir::new(dist)
        .append_index_html_on_directories(true)
        .precompressed_br()
        .precompressed_gzip();
    Router::new()
        .fallback_service(files)
        .layer(middleware::from_fn(cache_control))
}

/// Sets `Cache-Control` by the requested file's name.
async fn cache_control(request: Request, next: Next) -> Response {
    let hashed = content_hashed(request.uri().path());
    let mut response = next.run(request).await;
    let policy = if hashed && response.status().is_success() {
        CACHE_HASHED
    } else {
        CACHE_REVALIDATE
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    response
}

/// Whether the file `path` names carries a content hash: Trunk names what it builds
/// `NAME-HASH.ext` (wasm: `NAME-HASH_bg.wasm`), HASH 64 bits in lowercase hex (leading zeros
/// dropped, so at least 12 digits is asked: a shorter one, rare, is just revalidated). Only
/// the file's own name counts: wasm-bindgen's `snippets/CRATE-HASH/` folders are named by
/// crate, not by content.
pub(super) fn content_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let stem = name.split('.').next().unwrap_or_default();
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    let Some((_, hash)) = stem.rsplit_once('-') else {
        return false;
    };
    (12..=16).contains(&hash.len())
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::content_hashed;

    #[test]
    fn trunks_hashed_names_are_told_from_the_rest() {
        for hashed in [
            "/grapevine-web-24be41ed07dc66ba_bg.wasm",
            "/grapevine-web-24be41ed07dc66ba.js",
            "/style-862ed34609130ec7.css",
            "/favicon-73769a341be26d6f.svg",
        ] {
            assert!(content_hashed(hashed), "{hashed}");
        }
        for plain in [
            "/",
            "/index.html",
            "/sw.js",
            "/grapevine-lab.js",
            "/grapevine-lab_bg.wasm",
            "/grapevine-worker_loader.js",
            "/snippets/grapevine-web-1724df082d06fc2e/inline0.js",
            "/a-deadbeef.js",
            "/x-24BE41ED07DC66BA.js",
        ] {
            assert!(!content_hashed(plain), "{plain}");
        }
    }
}
