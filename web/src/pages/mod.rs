//! The page's pages, each its own component with its own state: the round view
//! ([`round`]), the protocol lab ([`lab`]), live mode ([`live`]), the lessons ([`learn`]) and
//! the compare panel ([`compare`]). [`crate::app`] picks one
//! from the settings and replaces it when a page navigates (another protocol family, or
//! "go live"). What the two simulator pages share (settings and URL, notices, a field's unread
//! draft, the play loop's clock, the keyboard, the header and the controls) is [`Shell`].

pub mod compare;
pub mod lab;
pub mod learn;
pub mod live;
pub mod round;

use crate::controls::{Action, Change, Controls, Draft, Field};
use crate::params::PageSettings;
use gloo_events::EventListener;
use gloo_render::{request_animation_frame, AnimationFrame};
use wasm_bindgen::JsValue;
use yew::prelude::*;

/// Where the page is: its settings, and notices to show on arrival.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    /// Everything the URL holds.
    pub settings: PageSettings,
    /// What the user should know (a setting that was adjusted or ignored).
    pub notices: Vec<String>,
}

/// Every page's properties.
#[derive(Properties, PartialEq)]
pub struct PageProps {
    /// Where it starts.
    pub route: Route,
    /// Leaves it for another page.
    pub navigate: Callback<Route>,
}

/// What happens to a simulator page.
pub enum Msg {
    /// An animation frame, with its timestamp in ms.
    Frame(f64),
    /// A setting changed.
    Change(Change),
    /// A button (or its key) was pressed.
    Action(Action),
    /// A click on the picture at CSS pixel (x, y); `shift` held.
    Click(f64, f64, bool),
    /// Hide the notices.
    DismissNotices,
    /// The canvas changed size after it was drawn: draw it again.
    Resized,
}

/// What a simulator page does its own way; [`update`] does the rest alike.
pub trait SimPage: Component<Message = Msg> {
    /// Its shell.
    fn shell(&mut self) -> &mut Shell;
    /// Whether its run is over.
    fn finished(&self) -> bool;
    /// Back to the start of its run, paused.
    fn restart(&mut self);
    /// One round (or period).
    fn step(&mut self);
    /// One round (or period) back.
    fn back(&mut self);
    /// Moves the run for an animation frame at `now` ms; whether to redraw.
    fn frame(&mut self, now: f64) -> bool;
    /// Where the play clock starts (`NEG_INFINITY`: the first frame moves at once).
    fn clock_start(&self) -> f64;
    /// A setting changed.
    fn change(&mut self, change: Change);
    /// A click on the picture; whether to redraw.
    fn click(&mut self, x: f64, y: f64, shift: bool) -> bool;
}

/// A simulator page's messages: the play loop, the buttons and keys, the notices; the
/// page's own work through [`SimPage`].
pub fn update<P: SimPage>(page: &mut P, ctx: &Context<P>, msg: Msg) -> bool {
    let on_frame = ctx.link().callback(Msg::Frame);
    match msg {
        Msg::Frame(now) => {
            if !page.shell().playing {
                return false;
            }
            let redraw = page.frame(now);
            page.shell().schedule(on_frame);
            redraw
        }
        Msg::Change(change) => {
            page.change(change);
            true
        }
        Msg::Action(Action::TogglePlay) => {
            if page.shell().playing {
                page.shell().pause();
            } else {
                if page.finished() {
                    page.restart();
                }
                let start = page.clock_start();
                page.shell().play(start, on_frame);
            }
            true
        }
        Msg::Action(Action::Step) => {
            page.shell().pause();
            page.step();
            true
        }
        Msg::Action(Action::Pause) => {
            page.shell().pause();
            true
        }
        Msg::Action(Action::Back) => {
            page.shell().pause();
            page.back();
            true
        }
        Msg::Action(Action::Reset) => {
            page.restart();
            true
        }
        Msg::Action(Action::CopyLink) => {
            page.shell().copy_link();
            true
        }
        Msg::Click(x, y, shift) => page.click(x, y, shift),
        Msg::DismissNotices => {
            page.shell().notices.clear();
            true
        }
        Msg::Resized => true,
    }
}

/// What became of a change the shell saw first.
pub enum Taken {
    /// Done (the page only redraws).
    Done,
    /// The run's settings changed: the page starts a new run.
    Restart,
    /// The page's own.
    Own(Change),
}

/// What the simulator pages share.
pub struct Shell {
    /// Everything the URL holds.
    pub settings: PageSettings,
    /// Notices shown at the top.
    pub notices: Vec<String>,
    /// "Copy link" was just pressed.
    pub copied: bool,
    /// Text typed into a field that could not be read (kept, with a notice).
    pub draft: Option<Draft>,
    /// Whether the run plays.
    pub playing: bool,
    /// When the play loop last moved the run, ms (animation-frame time).
    pub last_ms: f64,
    navigate: Callback<Route>,
    frame: Option<AnimationFrame>,
    _keys: Option<EventListener>,
}

impl Shell {
    /// The shell of a page starting at `props.route`; its keys go to `on_action`.
    pub fn new(props: &PageProps, on_action: Callback<Action>) -> Shell {
        Shell {
            settings: props.route.settings.clone(),
            notices: props.route.notices.clone(),
            copied: false,
            draft: None,
            playing: false,
            last_ms: f64::NEG_INFINITY,
            navigate: props.navigate.clone(),
            frame: None,
            _keys: key_listener(on_action),
        }
    }

    /// Puts the settings in the address bar.
    pub fn write_url(&self) {
        write_url(&self.settings);
    }

    /// Leaves for the page `settings` choose, with the shell's notices.
    pub fn go(&mut self, settings: PageSettings) {
        self.pause();
        self.navigate.emit(Route {
            settings,
            notices: std::mem::take(&mut self.notices),
        });
    }

    /// Stops playing; dropping the frame request cancels it.
    pub fn pause(&mut self) {
        self.playing = false;
        self.frame = None;
    }

    /// Starts playing from `now_ms` (`NEG_INFINITY`: the first frame moves at once).
    pub fn play(&mut self, now_ms: f64, on_frame: Callback<f64>) {
        self.playing = true;
        self.last_ms = now_ms;
        self.schedule(on_frame);
    }

    /// Asks for the next animation frame while playing.
    pub fn schedule(&mut self, on_frame: Callback<f64>) {
        if self.playing {
            self.frame = Some(request_animation_frame(move |t| on_frame.emit(t)));
        }
    }

    /// Adds a notice once.
    pub fn notice(&mut self, text: String) {
        if !self.notices.contains(&text) {
            self.notices.push(text);
        }
    }

    /// Copies the page's link.
    pub fn copy_link(&mut self) {
        if let Some(w) = web_sys::window() {
            let url = w.location().href().unwrap_or_default();
            let _ = w.navigator().clipboard().write_text(&url);
            self.copied = true;
        }
    }

    /// Takes the changes every simulator page handles alike: speed, seed, a draft that could
    /// not be read, going live. The rest is the page's own.
    pub fn take(&mut self, change: Change) -> Taken {
        self.copied = false;
        // A value the field could read replaces what was typed there before.
        let replaced = match &change {
            Change::Nodes(_) => Some(Field::Nodes),
            Change::Seed(_) | Change::RandomSeed => Some(Field::Seed),
            _ => None,
        };
        if replaced.is_some() && self.draft.as_ref().map(|d| d.field) == replaced {
            self.draft = None;
        }
        match change {
            Change::Speed(s) => {
                self.settings.speed = s;
                self.write_url();
                Taken::Done
            }
            Change::Seed(s) => {
                self.settings.run.seed = s;
                Taken::Restart
            }
            Change::RandomSeed => {
                self.settings.run.seed = crate::browser::random_u64().map_or_else(
                    || (js_sys::Math::random() * 1e9) as u64,
                    |r| r % 1_000_000_000,
                );
                Taken::Restart
            }
            Change::Rejected(draft) => {
                self.notice(draft.field.expects().to_string());
                self.draft = Some(draft);
                Taken::Done
            }
            Change::GoLive => {
                let settings = PageSettings {
                    live: Some("lobby".into()),
                    ..self.settings.clone()
                };
                self.go(settings);
                Taken::Done
            }
            own => Taken::Own(own),
        }
    }

    /// The page's header: brand, `tagline`, the run's identity, and the notices.
    pub fn header(&self, tagline: &str, run_id: String, on_dismiss: Callback<MouseEvent>) -> Html {
        header_from(
            tagline,
            run_id,
            &self.notices,
            on_dismiss,
            Some(&self.settings),
        )
    }

    /// The controls column's controls.
    pub fn controls(
        &self,
        finished: bool,
        on_change: Callback<Change>,
        on_action: Callback<Action>,
    ) -> Html {
        html! {
            <Controls settings={self.settings.clone()} playing={self.playing} {finished} copied={self.copied} draft={self.draft.clone()}
                {on_change} {on_action} />
        }
    }
}

/// Puts `settings` in the address bar (no new history entry).
pub fn write_url(settings: &PageSettings) {
    if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&settings.to_query()));
    }
}

/// The header every page shows: brand, `tagline`, the run's identity, and the notices.
pub fn header(
    tagline: &str,
    run_id: String,
    notices: &[String],
    on_dismiss: Callback<MouseEvent>,
) -> Html {
    header_from(tagline, run_id, notices, on_dismiss, None)
}

/// [`header`], its Compare link carrying `from`'s settings (the round engine's), so that the
/// comparison opens around the run on screen.
pub fn header_from(
    tagline: &str,
    run_id: String,
    notices: &[String],
    on_dismiss: Callback<MouseEvent>,
    from: Option<&PageSettings>,
) -> Html {
    // Around the round view's settings; the panel fills in the usual values (`Compare::first`),
    // so that the round view links none of its reading.
    let compare_href = match from {
        Some(s) if s.view() == crate::params::View::Round => {
            format!("{}&compare=fanout&series=protocol", s.to_query())
        }
        _ => "?compare=fanout&series=protocol".to_string(),
    };
    html! {
        <>
        <header class="top">
            <div class="brand">
                <span class="logo" aria-hidden="true">{ "◉" }</span>
                <div>
                    <h1>{ "Grapevine" }</h1>
                    <p class="tagline">{ tagline.to_string() }</p>
                </div>
            </div>
            <nav class="top-nav">
                <a class="compare-link" href={compare_href} data-testid="compare-link" title="A setting on the x-axis, protocols as series, many runs a point">{ "Compare" }</a>
                <a class="learn-link" href="?lesson=0" data-testid="learn" title="Guided lessons: predict, run, compare">{ "Learn" }</a>
                <div class="run-id" data-testid="run-id">{ run_id }</div>
            </nav>
        </header>
        if !notices.is_empty() {
            <div class="notices" role="status" data-testid="notices">
                <ul>{ for notices.iter().map(|n| html! { <li>{ n }</li> }) }</ul>
                <button onclick={on_dismiss} aria-label="Dismiss">{ "✕" }</button>
            </div>
        }
        </>
    }
}

/// Space plays or pauses, → (or a clicker's PageDown) steps, ← (PageUp) steps back, `.`
/// pauses, r resets (see [`crate::browser::on_keys`] for the keys that are not the page's).
fn key_listener(on_action: Callback<Action>) -> Option<EventListener> {
    crate::browser::on_keys(move |key| {
        let action = match key {
            " " => Action::TogglePlay,
            "ArrowRight" => Action::Step,
            "ArrowLeft" => Action::Back,
            // What a presenter's clicker sends: next, previous, blank screen.
            "PageDown" => Action::Step,
            "PageUp" => Action::Back,
            "." | "b" | "B" => Action::Pause,
            "r" | "R" => Action::Reset,
            _ => return false,
        };
        on_action.emit(action);
        true
    })
}

/// Checks a node count against the page's range, `max` and the topology's minimum; the
/// sentence says why not.
pub fn check_nodes(
    n: u32,
    max: u32,
    topology: grapevine_core::Topology,
    kept: u32,
) -> Result<u32, String> {
    if !(2..=max).contains(&n) {
        Err(format!("Nodes must be from 2 to {max}; kept {kept}."))
    } else if n < topology.min_nodes() {
        Err(format!(
            "A {} topology needs at least {} nodes; kept {kept}.",
            topology.name(),
            topology.min_nodes()
        ))
    } else {
        Ok(n)
    }
}
