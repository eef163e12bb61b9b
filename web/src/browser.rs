//! What the page asks of the browser beyond drawing, for every part alike: the error banner
//! a panic lands in, cryptographic randomness, and the page-wide keys. A leaf: it knows no other module of the
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

/// Listens for page-wide keys (the simulators' play / step, a presenter's clicker): `on_key`
/// gets each key's name (`KeyboardEvent.key`) and says whether it used it (then the browser's
/// own action, such as scrolling on PageDown, is prevented). Keys typed into a field, Space
/// and Enter on a focused button (which press it), and keys with Ctrl, Alt or Meta held are
/// not the page's. Dropping the listener stops it.
pub fn on_keys(on_key: impl Fn(&str) -> bool + 'static) -> Option<gloo_events::EventListener> {
    use wasm_bindgen::JsCast;
    let doc = web_sys::window()?.document()?;
    let options = gloo_events::EventListenerOptions::enable_prevent_default();
    Some(gloo_events::EventListener::new_with_options(
        &doc,
        "keydown",
        options,
        move |event| {
            let Some(e) = event.dyn_ref::<web_sys::KeyboardEvent>() else {
                return;
            };
            let key = e.key();
            let target = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .map(|el| el.tag_name());
            let typing = match target.as_deref() {
                Some("INPUT" | "SELECT" | "TEXTAREA") => true,
                Some("BUTTON") => matches!(key.as_str(), " " | "Enter"),
                _ => false,
            };
            if typing || e.ctrl_key() || e.meta_key() || e.alt_key() {
                return;
            }
            if on_key(&key) {
                e.prevent_default();
            }
        },
    ))
}
