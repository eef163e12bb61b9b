//! What the page asks of the browser beyond drawing, for every part alike: the error banner
//! a panic lands in, and cryptographic randomness. A leaf: it knows no other module of the
//! page.

/// Shows a Rust panic in the page's error banner (and the console), so a failure is never a
/// silent, frozen page.
pub fn install_panic_banner() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        show_error_banner(&format!(
            "Something broke inside Grapevine and the page stopped: {info}. Reload to start again; please report this with the page's link."
        ));
    }));
}

/// Puts `text` in the error banner at the top of the page (made if the page has none).
pub fn show_error_banner(text: &str) {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let banner = doc.get_element_by_id("panic-banner").or_else(|| {
        let banner = doc.create_element("div").ok()?;
        banner.set_id("panic-banner");
        let _ = banner.set_attribute("role", "alert");
        let _ = doc.body()?.prepend_with_node_1(&banner);
        Some(banner)
    });
    if let Some(banner) = banner {
        banner.set_text_content(Some(text));
        let _ = banner.set_attribute("class", "shown");
    }
}

/// 64 random bits from the browser's cryptographic generator (`crypto.getRandomValues`,
/// through getrandom): tab ids must be unguessable. `None` only if the browser has none.
pub fn random_u64() -> Option<u64> {
    getrandom::u64().ok()
}
