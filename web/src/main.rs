//! Entry point of the page's wasm binary.

fn main() {
    let root = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("app"))
        .expect("index.html has an element with id \"app\"");
    grapevine_web::start_on(root);
}
