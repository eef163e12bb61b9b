//! Browser unit tests (wasm-bindgen-test in headless Chromium): the core's determinism in wasm,
//! and the page mounted for real.
#![cfg(target_arch = "wasm32")]

#[path = "../../core/tests/common/golden.rs"]
mod golden;

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlCanvasElement, HtmlElement};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn wasm_trace_hashes_equal_the_native_ones() {
    assert_eq!(golden::computed(), golden::EXPECTED);
}

async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    JsFuture::from(promise).await.unwrap();
}

/// Mounts the page under a fresh element (appended: the runner's output lives in body) with
/// the given query string, and waits for it to render.
async fn mount(query: &str) -> Element {
    let window = web_sys::window().unwrap();
    let path = window.location().pathname().unwrap();
    window
        .history()
        .unwrap()
        .replace_state_with_url(
            &wasm_bindgen::JsValue::NULL,
            "",
            Some(&format!("{path}{query}")),
        )
        .unwrap();
    let doc = window.document().unwrap();
    let root = doc.create_element("div").unwrap();
    doc.body().unwrap().append_child(&root).unwrap();
    grapevine_web::start_on(root.clone());
    sleep(50).await;
    root
}

fn by_testid(root: &Element, id: &str) -> Element {
    root.query_selector(&format!("[data-testid={id}]"))
        .unwrap()
        .unwrap_or_else(|| panic!("no {id}"))
}

fn text(root: &Element, id: &str) -> String {
    by_testid(root, id).text_content().unwrap_or_default()
}

#[wasm_bindgen_test]
async fn the_page_steps_a_round_and_counts_it() {
    let root = mount("?nodes=300&fanout=2&seed=4").await;
    assert_eq!(text(&root, "round"), "0");
    assert_eq!(text(&root, "informed"), "1");
    by_testid(&root, "step")
        .unchecked_into::<HtmlElement>()
        .click();
    sleep(30).await;
    assert_eq!(text(&root, "round"), "1");
    assert_eq!(
        text(&root, "messages"),
        "2",
        "the source alone sends fanout messages in round 1"
    );
    // The same settings through the core directly give the same run.
    let mut engine = grapevine_core::RoundEngine::new(
        grapevine_web::params::PageSettings::from_query("?nodes=300&fanout=2&seed=4")
            .0
            .run,
    )
    .unwrap();
    engine.step();
    assert_eq!(
        text(&root, "informed"),
        engine.counts().informed().to_string()
    );
}

#[wasm_bindgen_test]
async fn bad_url_parameters_show_notices_and_the_page_still_works() {
    let root = mount("?nodes=zero&protocol=shout&loss=7").await;
    let notices = text(&root, "notices");
    assert!(
        notices.contains("nodes") && notices.contains("protocol") && notices.contains("loss"),
        "{notices}"
    );
    assert_eq!(text(&root, "round"), "0");
    let url = web_sys::window().unwrap().location().search().unwrap();
    assert!(
        url.contains("nodes=200") && url.contains("protocol=push"),
        "the URL shows what runs: {url}"
    );
}

#[wasm_bindgen_test]
async fn a_large_network_is_drawn_as_dense_cells() {
    let root = mount("?nodes=40000&fanout=3").await;
    for _ in 0..8 {
        by_testid(&root, "step")
            .unchecked_into::<HtmlElement>()
            .click();
        sleep(20).await;
    }
    let canvas: HtmlCanvasElement = by_testid(&root, "network").unchecked_into();
    let ctx: web_sys::CanvasRenderingContext2d =
        canvas.get_context("2d").unwrap().unwrap().unchecked_into();
    let (w, h) = (canvas.width() as f64, canvas.height() as f64);
    let pixels = ctx.get_image_data(0.0, 0.0, w, h).unwrap().data().0;
    let orange = pixels
        .chunks_exact(4)
        .filter(|p| p[0] == 0xe6 && p[1] == 0x9f && p[2] == 0x00)
        .count();
    let grey = pixels
        .chunks_exact(4)
        .filter(|p| p[0] == 0x64 && p[1] == 0x74 && p[2] == 0x8b)
        .count();
    assert!(
        orange > 100 && grey > 1_000,
        "spreading {orange} and unaware {grey} pixels"
    );
    assert_eq!(
        root.query_selector_all("circle").unwrap().length(),
        0,
        "no DOM element per node"
    );
}

#[wasm_bindgen_test]
fn a_panic_message_reaches_the_error_banner() {
    grapevine_web::show_error_banner("test: something broke");
    let banner = web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .get_element_by_id("panic-banner")
        .unwrap();
    assert_eq!(banner.text_content().unwrap(), "test: something broke");
    assert_eq!(banner.get_attribute("class").as_deref(), Some("shown"));
}
