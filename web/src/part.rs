//! The page in parts. The round view is the page's main wasm (what a student downloads before
//! the first network is drawn); the protocol lab, live mode and the lessons are parts, each a
//! wasm binary of its own (`src/bin/grapevine-lab.rs`, `grapevine-live.rs`,
//! `grapevine-learn.rs`), fetched and started the first time the user opens them. A part links the protocols, WebRTC, the signatures and the
//! QR encoder; the round view links none of them, because it routes by names only
//! ([`crate::params`]).
//!
//! The contract between the host (the round view's binary) and a part is names and strings:
//! - The host imports `./<part>.js` (wasm-bindgen's `web` output; Trunk builds a part as a
//!   `data-type="worker"` link, which it writes unhashed and does not inject) and awaits its
//!   initialisation, whose `main` calls [`register`]: that puts `{mount, unmount}` under
//!   `window.grapevineParts["<part>"]`.
//! - `mount(root, query, notices, navigate)`: the part renders, into `root`, the page that
//!   `query` chooses (a [`PageSettings::to_handoff`] string, so every setting survives the
//!   trip), showing `notices`; it moves between its own pages by itself and calls
//!   `navigate(query, notices)` to hand the page back to the host for any other.
//! - `unmount()`: the part destroys its page (which stops its play loop and closes live
//!   mode's connections).

use crate::pages::{PageProps, Route};
use crate::params::{PageSettings, View};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use yew::prelude::*;

thread_local! {
    /// Each part's loading, started once: `import()` of its JS, then its initialisation.
    static LOADING: RefCell<HashMap<&'static str, js_sys::Promise>> = RefCell::new(HashMap::new());
}

/// Fetches and starts part `name` once; resolves to its `{mount, unmount}`. The dynamic
/// `import()` is made through the Function constructor rather than a wasm-bindgen snippet,
/// which would be one more (revalidated) file before the round view's first draw.
fn load_part(name: &'static str) -> Result<js_sys::Promise, JsValue> {
    if let Some(loading) = LOADING.with(|l| l.borrow().get(name).cloned()) {
        return Ok(loading);
    }
    let url = web_sys::Url::new_with_base(&format!("./{name}.js"), &document_base()?)?.href();
    let start = js_sys::Function::new_with_args(
        "url, name",
        "return import(url).then((m) => m.default()).then(() => {
            const part = (globalThis.grapevineParts || {})[name];
            if (!part) throw new Error(`${name}.js registered no part`);
            return part;
        });",
    );
    let loading: js_sys::Promise = start
        .call2(&JsValue::NULL, &url.into(), &name.into())?
        .dyn_into()?;
    LOADING.with(|l| l.borrow_mut().insert(name, loading.clone()));
    Ok(loading)
}

/// The document's base URL, which parts' files are relative to.
fn document_base() -> Result<String, JsValue> {
    web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| JsValue::from_str("no document"))?
        .base_uri()?
        .ok_or_else(|| JsValue::from_str("no base URL"))
}

/// The file a part's JS is in, without `.js` (its binary's name).
pub fn file(view: View) -> Option<&'static str> {
    match view {
        View::Round => None,
        View::Lab => Some("grapevine-lab"),
        View::Live => Some("grapevine-live"),
        View::Learn => Some("grapevine-learn"),
        View::Compare => Some("grapevine-compare"),
    }
}

/// What people call a part, for the loading line and errors.
fn title(view: View) -> &'static str {
    match view {
        View::Round => "the simulator",
        View::Lab => "the protocol lab",
        View::Live => "live mode",
        View::Learn => "the lessons",
        View::Compare => "the compare panel",
    }
}

// ---------------------------------------------------------------------------------------------
// The host's side.

/// Properties of [`PartHost`].
#[derive(Properties, PartialEq)]
pub struct HostProps {
    /// Which part (not [`View::Round`]).
    pub view: View,
    /// Where it starts.
    pub route: Route,
    /// Takes the page back when the part leaves for a page not its own.
    pub navigate: Callback<Route>,
}

/// Where a part is.
enum State {
    Loading,
    Mounted(JsValue),
    Failed(String),
}

/// The host's placeholder for a part: fetches it, mounts it in its element, unmounts it when
/// the host moves on.
pub struct PartHost {
    root: NodeRef,
    state: State,
    /// False once destroyed: a part that arrives later is not mounted.
    alive: Rc<Cell<bool>>,
    /// The part's way back to the host (kept alive while the part may call it).
    back: Closure<dyn Fn(String, js_sys::Array)>,
}

/// What happens to a [`PartHost`].
pub enum HostMsg {
    /// The part is loaded and mounted: its `unmount` handle.
    Mounted(JsValue),
    /// It could not be fetched or started.
    Failed(String),
}

impl Component for PartHost {
    type Message = HostMsg;
    type Properties = HostProps;

    fn create(ctx: &Context<Self>) -> Self {
        let navigate = ctx.props().navigate.clone();
        let back = Closure::new(move |query: String, notices: js_sys::Array| {
            navigate.emit(received(&query, &notices));
        });
        PartHost {
            root: NodeRef::default(),
            state: State::Loading,
            alive: Rc::new(Cell::new(true)),
            back,
        }
    }

    fn update(&mut self, _ctx: &Context<Self>, msg: HostMsg) -> bool {
        self.state = match msg {
            HostMsg::Mounted(part) => State::Mounted(part),
            HostMsg::Failed(e) => State::Failed(e),
        };
        true
    }

    fn rendered(&mut self, ctx: &Context<Self>, first: bool) {
        if !first {
            return;
        }
        let props = ctx.props();
        let Some(name) = file(props.view) else {
            return;
        };
        let Some(root) = self.root.cast::<web_sys::Element>() else {
            return;
        };
        let (query, notices) = handed(&props.route);
        let back: JsValue = self.back.as_ref().clone();
        let alive = self.alive.clone();
        let link = ctx.link().clone();
        wasm_bindgen_futures::spawn_local(async move {
            let mounted = async {
                let loaded = wasm_bindgen_futures::JsFuture::from(load_part(name)?).await;
                // A failed load (offline, say) is tried again next time.
                let part = loaded.inspect_err(|_| {
                    LOADING.with(|l| l.borrow_mut().remove(name));
                })?;
                if !alive.get() {
                    return Ok(JsValue::UNDEFINED);
                }
                let mount: js_sys::Function =
                    js_sys::Reflect::get(&part, &"mount".into())?.dyn_into()?;
                let args = js_sys::Array::of4(&root, &query.into(), &notices, &back);
                mount.apply(&JsValue::NULL, &args)?;
                Ok::<_, JsValue>(part)
            };
            match mounted.await {
                Ok(_) if !alive.get() => {}
                Ok(part) => link.send_message(HostMsg::Mounted(part)),
                Err(e) => link.send_message(HostMsg::Failed(describe(&e))),
            }
        });
    }

    fn destroy(&mut self, _ctx: &Context<Self>) {
        self.alive.set(false);
        if let State::Mounted(part) = &self.state {
            let unmount = js_sys::Reflect::get(part, &"unmount".into())
                .ok()
                .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
            if let Some(unmount) = unmount {
                if let Err(e) = unmount.call0(&JsValue::NULL) {
                    web_sys::console::error_2(&"unmounting a part failed:".into(), &e);
                }
            }
        }
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let what = title(ctx.props().view);
        let status = match &self.state {
            State::Loading => html! {
                <p class="loading" data-testid="part-loading">{ format!("Loading {what}…") }</p>
            },
            State::Mounted(_) => html! {},
            State::Failed(e) => {
                let why = if ctx.props().view == View::Live {
                    "Live mode needs its server (the one this page came from, grapevine serve): it is not kept for use offline. Reconnect to the network and reload."
                } else {
                    "It is fetched the first time it is opened, and kept for use offline after that: check the connection and reload."
                };
                let home = PageSettings {
                    live: None,
                    conductor: None,
                    lab: Default::default(),
                    compare: None,
                    ..ctx.props().route.settings.clone()
                };
                html! { <>
                    { crate::pages::header("A gossip-protocol playground.", String::new(), &[], Callback::noop()) }
                    <div class="part-failed" role="alert" data-testid="part-failed">
                        <p><strong>{ format!("Grapevine could not load {what}.") }</strong></p>
                        <p>{ why }</p>
                        <p class="detail">{ format!("The browser said: {e}") }</p>
                        <p><a class="button" href={home.to_query()}>{ "Back to the simulator" }</a></p>
                    </div>
                </> }
            }
        };
        html! {
            <>
                { status }
                // The part renders inside; the host never renders children here.
                <div class="part" ref={self.root.clone()}></div>
            </>
        }
    }
}

/// What crosses between the host and a part for `route`: its handoff query and its notices.
fn handed(route: &Route) -> (String, js_sys::Array) {
    let notices = route.notices.iter().map(|n| JsValue::from_str(n)).collect();
    (route.settings.to_handoff(), notices)
}

/// The route a handoff `query` and its `notices` describe (the other side of [`handed`]).
fn received(query: &str, notices: &js_sys::Array) -> Route {
    let (settings, more) = PageSettings::from_query(query);
    let mut given: Vec<String> = notices.iter().filter_map(|n| n.as_string()).collect();
    given.extend(more);
    Route {
        settings,
        notices: given,
    }
}

/// A JavaScript error in words.
fn describe(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

// ---------------------------------------------------------------------------------------------
// A part's side.

thread_local! {
    /// Destroys the mounted page, if any.
    static MOUNTED: RefCell<Option<Box<dyn FnOnce()>>> = const { RefCell::new(None) };
}

/// Properties of [`PartApp`].
#[derive(Properties)]
pub struct PartProps {
    /// The part's own view.
    pub own: View,
    /// Where it starts.
    pub route: Route,
    /// The host's `navigate(query, notices)`.
    pub back: js_sys::Function,
}

impl PartialEq for PartProps {
    fn eq(&self, other: &Self) -> bool {
        self.own == other.own && self.route == other.route && self.back == other.back
    }
}

/// A part's app: its page, replaced when the page moves to another of the part's own (another
/// lab protocol), handed back to the host when it moves anywhere else.
pub struct PartApp<P: BaseComponent<Properties = PageProps>> {
    route: Route,
    visit: u32,
    _page: std::marker::PhantomData<P>,
}

impl<P: BaseComponent<Properties = PageProps>> Component for PartApp<P> {
    type Message = Route;
    type Properties = PartProps;

    fn create(ctx: &Context<Self>) -> Self {
        PartApp {
            route: ctx.props().route.clone(),
            visit: 0,
            _page: std::marker::PhantomData,
        }
    }

    fn update(&mut self, ctx: &Context<Self>, route: Route) -> bool {
        if route.settings.view() == ctx.props().own {
            self.route = route;
            self.visit += 1;
            return true;
        }
        // Out of this part's update: the host destroys this app as it takes the page.
        let back = ctx.props().back.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let (query, notices) = handed(&route);
            if let Err(e) = back.call2(&JsValue::NULL, &query.into(), &notices) {
                web_sys::console::error_2(&"handing the page back failed:".into(), &e);
            }
        });
        false
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let route = self.route.clone();
        let navigate = ctx.link().callback(|route: Route| route);
        html! { <P key={self.visit.to_string()} {route} {navigate} /> }
    }
}

/// A part's `main`: registers `{mount, unmount}` for page `P` (the part's `own` view) under
/// `window.grapevineParts`, for the host to call.
pub fn register<P: BaseComponent<Properties = PageProps>>(own: View) {
    crate::browser::install_panic_banner();
    let Some(name) = file(own) else {
        return;
    };
    let mount = Closure::<dyn Fn(web_sys::Element, String, js_sys::Array, js_sys::Function)>::new(
        move |root: web_sys::Element,
              query: String,
              notices: js_sys::Array,
              back: js_sys::Function| {
            unmount();
            let props = PartProps {
                own,
                route: received(&query, &notices),
                back,
            };
            let app = yew::Renderer::<PartApp<P>>::with_root_and_props(root, props).render();
            MOUNTED.with(|m| *m.borrow_mut() = Some(Box::new(move || app.destroy())));
        },
    );
    let unmount = Closure::<dyn Fn()>::new(unmount);
    let part = js_sys::Object::new();
    let global = js_sys::global();
    let parts = js_sys::Reflect::get(&global, &"grapevineParts".into())
        .ok()
        .filter(|p| p.is_object())
        .unwrap_or_else(|| js_sys::Object::new().into());
    let set = |target: &JsValue, key: &str, value: &JsValue| {
        let _ = js_sys::Reflect::set(target, &key.into(), value);
    };
    set(&part, "mount", mount.as_ref());
    set(&part, "unmount", unmount.as_ref());
    set(&parts, name, &part);
    set(&global, "grapevineParts", &parts);
    // They live as long as the page: the host may mount this part again.
    mount.forget();
    unmount.forget();
}

/// Destroys the part's page, if one is mounted.
fn unmount() {
    if let Some(destroy) = MOUNTED.with(|m| m.borrow_mut().take()) {
        destroy();
    }
}
