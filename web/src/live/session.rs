//! What this tab keeps across a reload (sessionStorage, per room): its secret key, so a
//! reload or a reconnection is the same member with the same id (the id is the key's digest;
//! the server lets the key's holder take the id back, and nobody else), and the conductor
//! token it was opened with. sessionStorage is the tab's own: another tab, even of the same
//! site, has another key.

use grapevine_core::auth::Identity;
use grapevine_core::signal::{hex, unhex};

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

fn key(room: &str) -> String {
    format!("grapevine.live.{room}.key")
}

/// The key this tab had in `room`, if any.
pub fn identity(room: &str) -> Option<Identity> {
    let text = storage()?.get_item(&key(room)).ok()??;
    unhex::<32>(&text).map(Identity::from_secret)
}

/// Forgets this tab's key for `room` (a duplicated tab copied it): a reload draws anew.
pub fn forget(room: &str) {
    if let Some(s) = storage() {
        let _ = s.remove_item(&key(room));
    }
}

/// Keeps `identity` for `room`.
pub fn keep(room: &str, identity: &Identity) {
    if let Some(s) = storage() {
        let _ = s.set_item(&key(room), &hex(&identity.secret()));
    }
}

/// The conductor token this tab was opened with in `room`, kept from the URL (which
/// then drops it: the conductor's tab is projected), or the one given now.
pub fn conductor(room: &str, given: Option<String>) -> Option<String> {
    kept(
        room,
        "conductor",
        given,
        grapevine_core::signal::valid_token,
    )
}

/// The join code this tab was given in `room` (by the student link, or typed), or the one
/// given now.
pub fn code(room: &str, given: Option<String>) -> Option<String> {
    kept(room, "code", given, grapevine_core::signal::valid_join_code)
}

/// `given`, kept under `name` for `room`; or, without one, what was kept (if `valid`).
fn kept(room: &str, name: &str, given: Option<String>, valid: fn(&str) -> bool) -> Option<String> {
    let key = format!("grapevine.live.{room}.{name}");
    let s = storage();
    match given {
        Some(value) => {
            if let Some(s) = &s {
                let _ = s.set_item(&key, &value);
            }
            Some(value)
        }
        None => s?.get_item(&key).ok()?.filter(|v| valid(v)),
    }
}
