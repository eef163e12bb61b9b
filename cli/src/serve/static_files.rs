//! The built page: every path no other route takes is a file of the dist directory
//! (`trunk build --dist DIR`), a directory's `index.html` for a directory.
//!
//! Its own module because how the page is served changes on its own (precompressed files,
//! caching headers): [`router`] is the one place that decides, and the app mounts whatever
//! it returns as its fallback.

use axum::Router;
use std::path::Path;
use tower_http::services::ServeDir;

/// The routes serving `dist`: its files as they are, `index.html` for a directory.
pub(super) fn router(dist: &Path) -> Router {
    Router::new().fallback_service(ServeDir::new(dist).append_index_html_on_directories(true))
}
