//! The page: owns the run, the play loop, the URL and the keyboard; children draw the parts.

use crate::charts::Charts;
use crate::controls::{Action, Change, Controls, Draft, Field};
use crate::draw::Painter;
use crate::explain::Explain;
use crate::lab::draw::LabPainter;
use crate::lab::{panels, LabSim, PERIOD_MS};
use crate::palette;
use crate::params::{PageSettings, PAGE_MAX_NODES};
use crate::sim::Sim;
use crate::stats::Stats;
use gloo_events::{EventListener, EventListenerOptions};
use gloo_render::{request_animation_frame, AnimationFrame};
use grapevine_core::lab::run::MAX_LAB_NODES;
use grapevine_core::lab::scenario::Scenario;
use grapevine_core::lab::{LabProtocol, Millis};
use grapevine_core::{NodeView, Settings, SettingsError};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{HtmlCanvasElement, KeyboardEvent};
use yew::prelude::*;

/// What happens to the page.
pub enum Msg {
    /// An animation frame, with its timestamp in ms.
    Frame(f64),
    /// A setting changed.
    Change(Change),
    /// A button (or its key) was pressed.
    Action(Action),
    /// A click on the network at CSS pixel (x, y); `shift` held.
    Click(f64, f64, bool),
    /// Hide the notices.
    DismissNotices,
}

/// The page.
pub struct App {
    settings: PageSettings,
    sim: Sim,
    playing: bool,
    notices: Vec<String>,
    canvas: NodeRef,
    painter: Painter,
    frame: Option<AnimationFrame>,
    last_step_ms: f64,
    copied: bool,
    /// Text typed into a field that could not be read (kept, with a notice).
    draft: Option<Draft>,
    /// The protocol lab's run, when the settings choose one of its protocols.
    lab: Option<LabSim>,
    lab_painter: LabPainter,
    /// Why the scenario in the settings cannot run (its text stays in the editor).
    scenario_error: Option<String>,
    _keys: Option<EventListener>,
}

fn window() -> Option<web_sys::Window> {
    web_sys::window()
}

/// Runs `start` on the settings, falling back to the first live node as source when the chosen
/// one is crashed, and to the defaults when the settings cannot run at all (with a notice).
fn resolve<T>(
    settings: &mut PageSettings,
    notices: &mut Vec<String>,
    mut start: impl FnMut(Settings) -> Result<T, SettingsError>,
) -> T {
    match start(settings.run) {
        Ok(started) => return started,
        Err(SettingsError::SourceCrashed(x)) => {
            notices.push(format!("Node {x} is crashed in this run, so it cannot be the source: the source is the first live node."));
            settings.run.source = None;
        }
        Err(e) => {
            notices.push(format!(
                "These settings cannot run ({e}): back to the defaults."
            ));
            *settings = PageSettings::default();
        }
    }
    start(settings.run).unwrap_or_else(|_| {
        *settings = PageSettings::default();
        start(settings.run).expect("the default settings are valid")
    })
}

impl App {
    fn write_url(&self) {
        if let Some(history) = window().and_then(|w| w.history().ok()) {
            let _ =
                history.replace_state_with_url(&JsValue::NULL, "", Some(&self.settings.to_query()));
        }
    }

    /// A new run with the current settings; the old one becomes the ghost.
    fn restart(&mut self) {
        if self.settings.lab.protocol.is_some() {
            self.replay(Millis(0));
            self.pause();
            self.write_url();
            return;
        }
        self.lab = None;
        let sim = &mut self.sim;
        resolve(&mut self.settings, &mut self.notices, |run| {
            sim.restart(run)
        });
        self.pause();
        self.write_url();
    }

    /// Builds the lab's run from the settings and plays it to `to`: seeking, and every
    /// change of a lab setting or of the scenario, replays (a run is a function of its
    /// settings, scenario and time). A scenario that cannot run keeps its text, with the
    /// reason beside the editor, and the protocol's default scenario runs meanwhile.
    fn replay(&mut self, to: Millis) {
        let Some(protocol) = self.settings.lab.protocol else {
            return;
        };
        self.scenario_error = None;
        let built = LabSim::new(&self.settings, protocol).or_else(|e| {
            if self.settings.lab.scenario.is_none() {
                return Err(e);
            }
            self.scenario_error = Some(e);
            let mut fallback = self.settings.clone();
            fallback.lab.scenario = None;
            LabSim::new(&fallback, protocol)
        });
        let mut lab = match built {
            Ok(lab) => lab,
            Err(e) => {
                self.notices.push(format!("{e} Back to the defaults."));
                self.settings = PageSettings {
                    lab: crate::params::LabPage {
                        protocol: Some(protocol),
                        ..Default::default()
                    },
                    ..PageSettings::default()
                };
                LabSim::new(&self.settings, protocol).expect("the default lab settings run")
            }
        };
        lab.watch(self.settings.lab.inspect);
        if let Err(e) = lab.advance_to(to.min(lab.end())) {
            self.notices.push(e);
        }
        self.lab = Some(lab);
    }

    /// Replays the lab's run to where it is (after a change of its settings or scenario).
    fn replay_here(&mut self) {
        let now = self.lab.as_ref().map_or(Millis(0), LabSim::now);
        self.replay(now);
        self.write_url();
    }

    fn is_finished(&self) -> bool {
        match &self.lab {
            Some(lab) => lab.is_finished(),
            None => self.sim.engine.is_finished(),
        }
    }

    /// Advances the lab's run by `ms` (`None`: to the next period), pausing at the end.
    fn advance_lab(&mut self, ms: Option<u64>) {
        let Some(lab) = &mut self.lab else { return };
        let done = match ms {
            Some(ms) => lab.advance_by(ms),
            None => lab.step(),
        };
        if let Err(e) = done {
            self.notices.push(e);
            self.pause();
        }
        if self.is_finished() {
            self.pause();
        }
    }

    fn step(&mut self) {
        if self.lab.is_some() {
            self.advance_lab(None);
            return;
        }
        if !self.sim.engine.is_finished() {
            self.sim.engine.step();
        }
        if self.sim.engine.is_finished() {
            self.pause();
        }
    }

    /// Stops playing; dropping the frame request cancels it.
    fn pause(&mut self) {
        self.playing = false;
        self.frame = None;
    }

    fn schedule(&mut self, ctx: &Context<Self>) {
        if self.playing {
            let link = ctx.link().clone();
            self.frame = Some(request_animation_frame(move |t| {
                link.send_message(Msg::Frame(t))
            }));
        }
    }

    fn apply_tunables(&mut self) {
        if self.lab.is_some() {
            // The lab's rumor protocol takes fanout and the stop rule: a new run, replayed
            // to the same time.
            self.replay_here();
            return;
        }
        let tunables = self.settings.run.tunables;
        if let Err(e) = self.sim.engine.set_tunables(tunables) {
            self.notices.push(format!("Not applied: {e}."));
            self.settings.run.tunables = self.sim.engine.settings().tunables;
        }
        self.sim.tunables_changed();
        self.write_url();
    }

    fn change(&mut self, change: Change) {
        let run = &mut self.settings.run;
        match change {
            Change::Protocol(p) => {
                run.protocol = p;
                if self.settings.lab.protocol.take().is_some() {
                    self.lab = None;
                    self.restart();
                    return;
                }
                self.sim.engine.set_protocol(p);
                self.sim.tunables_changed();
                self.write_url();
            }
            Change::Lab(p) => {
                if run.nodes > MAX_LAB_NODES {
                    self.notices.push(format!(
                        "The lab's protocols take at most {MAX_LAB_NODES} nodes (each node keeps a view of every other): using {MAX_LAB_NODES}."
                    ));
                    run.nodes = MAX_LAB_NODES;
                }
                let lab = &mut self.settings.lab;
                if lab.protocol != Some(p) {
                    lab.scenario = None;
                    lab.inspect = None;
                }
                lab.protocol = Some(p);
                self.restart();
            }
            Change::Lifeguard(on) => {
                self.settings.lab.lifeguard = on;
                self.replay_here();
            }
            Change::Aggregate(a) => {
                self.settings.lab.aggregate = a;
                self.replay_here();
            }
            Change::Scenario(text) => {
                self.settings.lab.scenario = text.filter(|t| !t.trim().is_empty());
                self.replay_here();
            }
            Change::AddStep(op) => self.add_step(op),
            Change::RemoveStep(k) => {
                if let Some(lab) = &self.lab {
                    let mut scenario = lab.scenario.clone();
                    if k < scenario.steps.len() {
                        scenario.steps.remove(k);
                        self.settings.lab.scenario = Some(scenario.to_text());
                        self.replay_here();
                    }
                }
            }
            Change::Seek(ms) => {
                self.pause();
                self.replay(Millis(ms));
            }
            Change::GoLive => {
                self.pause();
                self.settings.live = Some("lobby".into());
                self.write_url();
            }
            Change::Inspect(i) => {
                self.settings.lab.inspect = i;
                if let Some(lab) = &mut self.lab {
                    lab.watch(i);
                }
                self.write_url();
            }
            Change::Stop(r) => {
                run.tunables.interest.rule = r;
                self.apply_tunables();
            }
            Change::K(k) => {
                run.tunables.interest.k = k.max(1);
                self.apply_tunables();
            }
            Change::Fanout(f) => {
                run.tunables.fanout = f;
                self.apply_tunables();
            }
            Change::Loss(l) => {
                run.tunables.loss = l;
                if self.lab.is_some() {
                    self.replay_here();
                } else {
                    self.apply_tunables();
                }
            }
            Change::Speed(s) => {
                self.settings.speed = s;
                self.write_url();
            }
            Change::Nodes(n) => {
                if self.lab.is_some() && n > MAX_LAB_NODES {
                    self.notices.push(format!(
                        "The lab's protocols take at most {MAX_LAB_NODES} nodes (each node keeps a view of every other); kept {}.",
                        run.nodes
                    ));
                } else if !(2..=PAGE_MAX_NODES).contains(&n) {
                    self.notices.push(format!(
                        "Nodes must be from 2 to {PAGE_MAX_NODES}; kept {}.",
                        run.nodes
                    ));
                } else if n < run.topology.min_nodes() {
                    self.notices.push(format!(
                        "A {} topology needs at least {} nodes; kept {}.",
                        run.topology.name(),
                        run.topology.min_nodes(),
                        run.nodes
                    ));
                } else {
                    run.nodes = n;
                    run.source = run.source.filter(|&x| x < n);
                    self.restart();
                }
            }
            Change::Topology(t) => {
                if run.nodes < t.min_nodes() {
                    self.notices.push(format!(
                        "A {} topology needs at least {} nodes.",
                        t.name(),
                        t.min_nodes()
                    ));
                } else {
                    run.topology = t;
                    self.restart();
                }
            }
            Change::Crashed(c) => {
                run.crashed = c;
                self.restart();
            }
            Change::Seed(s) => {
                run.seed = s;
                self.restart();
            }
            Change::Rejected(draft) => {
                let why = draft.field.expects();
                if !self.notices.iter().any(|n| n == why) {
                    self.notices.push(why.to_string());
                }
                self.draft = Some(draft);
            }
            Change::RandomSeed => {
                run.seed = crate::live::random_u64().map_or_else(
                    || (js_sys::Math::random() * 1e9) as u64,
                    |r| r % 1_000_000_000,
                );
                self.restart();
            }
        }
    }

    /// Adds `op` to the scenario at the run's current time (after the steps already there at
    /// that time), then replays to now: the same as applying it now, and kept in the URL.
    fn add_step(&mut self, op: grapevine_core::lab::scenario::Op) {
        let Some(lab) = &self.lab else { return };
        let now = lab.now().0;
        let mut scenario: Scenario = lab.scenario.clone();
        let at = scenario.steps.partition_point(|s| s.0 <= now);
        scenario.steps.insert(at, (now, op));
        // A step at the very end would have nothing left to show.
        scenario.end_ms = scenario.end_ms.max(now + 30 * PERIOD_MS);
        let text = scenario.to_text();
        match Scenario::parse(&text).and_then(|s| {
            s.check_nodes(self.settings.run.nodes)?;
            Ok(s)
        }) {
            Ok(_) => {
                self.settings.lab.scenario = Some(text);
                self.replay_here();
            }
            Err(e) => self.notices.push(format!("Not added: {}.", e.message)),
        }
    }

    fn click(&mut self, x: f64, y: f64, shift: bool) {
        let Some(canvas) = self.canvas.cast::<HtmlCanvasElement>() else {
            return;
        };
        if let Some(lab) = &self.lab {
            let i = lab.view.node_at(&canvas, lab, x, y);
            if i.is_some() {
                self.change(Change::Inspect(i));
            }
            return;
        }
        let Some(node) = Painter::node_at(&canvas, &self.sim.engine, x, y) else {
            return;
        };
        let e = &mut self.sim.engine;
        if e.round() == 0 && !shift && e.node(node) != NodeView::Crashed {
            if e.set_source(node).is_ok() {
                self.settings.run.source = Some(node);
                self.write_url();
            }
        } else if node != e.source() || e.round() > 0 {
            if !e.kill(node) {
                e.revive(node);
            }
            self.sim.recompute_theory();
        }
    }
}

impl Component for App {
    type Message = Msg;
    type Properties = ();

    fn create(ctx: &Context<Self>) -> Self {
        let query = window()
            .and_then(|w| w.location().search().ok())
            .unwrap_or_default();
        let (mut settings, mut notices) = PageSettings::from_query(&query);
        let sim = resolve(&mut settings, &mut notices, Sim::new);
        let lab_chosen = settings.lab.protocol.is_some();
        let link = ctx.link().clone();
        let keys = window().and_then(|w| w.document()).map(|doc| {
            let options = EventListenerOptions::enable_prevent_default();
            EventListener::new_with_options(&doc, "keydown", options, move |event| {
                let Some(e) = event.dyn_ref::<KeyboardEvent>() else {
                    return;
                };
                let typing = e
                    .target()
                    .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                    .map(|el| {
                        matches!(
                            el.tag_name().as_str(),
                            "INPUT" | "SELECT" | "TEXTAREA" | "BUTTON"
                        )
                    })
                    .unwrap_or(false);
                if typing || e.ctrl_key() || e.meta_key() || e.alt_key() {
                    return;
                }
                let action = match e.key().as_str() {
                    " " => Action::TogglePlay,
                    "ArrowRight" => Action::Step,
                    "r" | "R" => Action::Reset,
                    _ => return,
                };
                e.prevent_default();
                link.send_message(Msg::Action(action));
            })
        });
        let app = App {
            settings,
            sim,
            playing: false,
            notices,
            canvas: NodeRef::default(),
            painter: Painter::default(),
            frame: None,
            last_step_ms: f64::NEG_INFINITY,
            copied: false,
            draft: None,
            lab: None,
            lab_painter: LabPainter::default(),
            scenario_error: None,
            _keys: keys,
        };
        let mut app = app;
        if lab_chosen {
            app.replay(Millis(0));
        }
        app.write_url();
        app
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Frame(now) => {
                if !self.playing {
                    return false;
                }
                if self.lab.is_some() {
                    // Continuous time: `speed` periods per second of wall time, at most a
                    // tenth of a second's worth per frame (a background tab does not leap).
                    let elapsed = (now - self.last_step_ms).clamp(0.0, 100.0);
                    self.last_step_ms = now;
                    match self.settings.speed {
                        0 => self.advance_lab(None),
                        s => self.advance_lab(Some(
                            (elapsed * f64::from(s) * PERIOD_MS as f64 / 1000.0) as u64,
                        )),
                    }
                    self.schedule(ctx);
                    return true;
                }
                let interval = match self.settings.speed {
                    0 => 0.0,
                    s => 1_000.0 / f64::from(s),
                };
                let due = now - self.last_step_ms >= interval - 1.0;
                if due {
                    self.last_step_ms = now;
                    self.step();
                }
                self.schedule(ctx);
                due
            }
            Msg::Change(change) => {
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
                self.change(change);
                true
            }
            Msg::Action(_) if self.settings.live.is_some() => false,
            Msg::Action(action) => {
                match action {
                    Action::TogglePlay => {
                        if self.playing {
                            self.pause();
                        } else {
                            if self.is_finished() {
                                self.restart();
                            }
                            self.playing = true;
                            self.last_step_ms = if self.lab.is_some() {
                                window()
                                    .and_then(|w| w.performance())
                                    .map_or(0.0, |p| p.now())
                            } else {
                                f64::NEG_INFINITY
                            };
                            self.schedule(ctx);
                        }
                    }
                    Action::Step => {
                        self.pause();
                        self.step();
                    }
                    Action::Reset => self.restart(),
                    Action::CopyLink => {
                        if let Some(w) = window() {
                            let url = w.location().href().unwrap_or_default();
                            let _ = w.navigator().clipboard().write_text(&url);
                            self.copied = true;
                        }
                    }
                }
                true
            }
            Msg::Click(x, y, shift) => {
                self.click(x, y, shift);
                true
            }
            Msg::DismissNotices => {
                self.notices.clear();
                true
            }
        }
    }

    fn rendered(&mut self, _ctx: &Context<Self>, _first: bool) {
        if let (Some(canvas), Some(lab)) = (self.canvas.cast::<HtmlCanvasElement>(), &self.lab) {
            let selected = self.settings.lab.inspect;
            if let Err(e) = lab.view.draw(&mut self.lab_painter, &canvas, lab, selected) {
                web_sys::console::error_2(&"drawing the lab failed:".into(), &e);
            }
            return;
        }
        if let Some(canvas) = self.canvas.cast::<HtmlCanvasElement>() {
            if let Err(e) = self.painter.draw(&canvas, &self.sim.engine) {
                web_sys::console::error_2(&"drawing the network failed:".into(), &e);
            }
        }
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let e = &self.sim.engine;
        let run: Settings = self.settings.run;
        let history = e.history();
        let onclick = link.callback(|ev: MouseEvent| {
            Msg::Click(
                f64::from(ev.offset_x()),
                f64::from(ev.offset_y()),
                ev.shift_key(),
            )
        });
        let expected = Sim::expected_rounds(&self.settings, e.counts().live());
        let dense = run.nodes > crate::draw::LAYOUT_MAX_NODES;
        let top = html! {
            <>
            <header class="top">
                <div class="brand">
                    <span class="logo" aria-hidden="true">{ "◉" }</span>
                    <div>
                        <h1>{ "Grapevine" }</h1>
                        <p class="tagline">{ if self.settings.live.is_some() {
                            "Live: this tab is a node; your other tabs are its peers."
                        } else if self.lab.is_some() {
                            "Membership, aggregation and replication by gossip: watch them, break them."
                        } else {
                            "How a rumor spreads when everyone tells a few random friends."
                        } }</p>
                    </div>
                </div>
                <div class="run-id" data-testid="run-id">{ match &self.settings.live {
                    Some(room) => format!("live · room {room}"),
                    None => format!("{} · {} nodes · seed {}",
                        self.settings.lab.protocol.map_or(crate::controls::protocol_label(run.protocol), LabProtocol::label), run.nodes, run.seed),
                } }</div>
            </header>
            if !self.notices.is_empty() {
                <div class="notices" role="status" data-testid="notices">
                    <ul>{ for self.notices.iter().map(|n| html! { <li>{ n }</li> }) }</ul>
                    <button onclick={link.callback(|_| Msg::DismissNotices)} aria-label="Dismiss">{ "✕" }</button>
                </div>
            }
            </>
        };
        if let Some(room) = &self.settings.live {
            return html! {
                <>
                { top }
                <crate::live::view::LiveView room={room.clone()} ice={self.settings.ice.clone()} />
                <footer class="foot">
                    { "Live mode: this tab runs the same protocol code as the simulator, over WebRTC data channels. " }
                    <a href="?">{ "Back to the simulator" }</a>
                </footer>
                </>
            };
        }
        if let Some(lab) = &self.lab {
            let on_change = link.callback(Msg::Change);
            let text = LabSim::scenario_text(&self.settings, lab.protocol);
            return html! {
                <>
                { top }
                <main class="layout lab">
                    <div class="column left">
                        <Controls settings={self.settings.clone()} playing={self.playing} finished={self.is_finished()} copied={self.copied} draft={self.draft.clone()}
                            on_change={on_change.clone()} on_action={link.callback(Msg::Action)} />
                        { panels::scenario(lab, &text, self.scenario_error.as_deref(), &on_change) }
                    </div>
                    <div class="column center">
                        <section class="panel network-panel" aria-label="The network">
                            <canvas ref={self.canvas.clone()} data-testid="network" {onclick} class="network"
                                title={ lab.view.canvas_title() }></canvas>
                            { panels::legend(lab.protocol) }
                        </section>
                        { panels::explain(lab.protocol, self.settings.lab.lifeguard) }
                        { panels::log(lab) }
                    </div>
                    <div class="column right">
                        { panels::stats(lab, run.seed) }
                        if let Some(i) = self.settings.lab.inspect {
                            { panels::inspector(lab, i, &on_change) }
                        }
                        { panels::charts(lab) }
                        { lab.view.panel(lab) }
                    </div>
                </main>
                <footer class="foot">
                    { "Continuous time on a simulated network (latency 10 ms + up to 5 ms jitter, seeded): the same protocol code as " }
                    <code>{ format!("grapevine sim --protocol {}", lab.protocol.name()) }</code>{ " and, in live mode, real browser tabs." }
                </footer>
                </>
            };
        }
        html! {
            <>
            { top }
            <main class="layout">
                <div class="column left">
                    <Controls settings={self.settings.clone()} playing={self.playing} finished={self.is_finished()} copied={self.copied} draft={self.draft.clone()}
                        on_change={link.callback(Msg::Change)} on_action={link.callback(Msg::Action)} />
                </div>
                <div class="column center">
                    <section class="panel network-panel" aria-label="The network">
                        <canvas ref={self.canvas.clone()} data-testid="network" {onclick} class="network"
                            title={ if dense { "One cell per node, in node order" } else { "Click a node" } }></canvas>
                        <ul class="legend">
                            <li><span class="dot" style={format!("background:{}", palette::SUSCEPTIBLE)}></span>{ "unaware" }</li>
                            <li><span class="dot" style={format!("background:{}", palette::NEW)}></span>{ "just heard" }</li>
                            <li><span class="dot" style={format!("background:{}", palette::SPREADING)}></span>{ "spreading" }</li>
                            <li><span class="dot" style={format!("background:{}", palette::STOPPED)}></span>{ "stopped spreading" }</li>
                            <li><span class="dot" style={format!("background:{}", palette::CRASHED)}></span>{ "crashed" }</li>
                            if !dense {
                                <li><span class="line" style={format!("background:{}", palette::INFORMED)}></span>{ "told news" }</li>
                                <li><span class="line" style={format!("background:{}", palette::REDUNDANT)}></span>{ "told old news" }</li>
                                <li><span class="line dashed" style={format!("border-color:{}", palette::LOST)}></span>{ "lost ✕" }</li>
                                if run.protocol.pulls() {
                                    <li><span class="line" style={format!("background:{}", palette::REQUEST)}></span>{ "pull request" }</li>
                                }
                                <li><span class="ring"></span>{ "source" }</li>
                            }
                        </ul>
                    </section>
                    <Explain settings={run} expected_rounds={expected} />
                </div>
                <div class="column right">
                    <Stats last={*e.last()} counts={e.counts()} nodes={run.nodes} seed={run.seed} finished={e.is_finished()} />
                    <Charts
                        informed={self.sim.informed_curve()}
                        theory={self.sim.theory.clone()}
                        messages={history.iter().skip(1).map(|h| (h.traffic.sent, h.traffic.lost)).collect::<Vec<_>>()}
                        ghost={self.sim.ghost.clone()}
                        mongering={run.tunables.interest.rule.is_rumor_mongering()} />
                    <crate::batch_panel::BatchPanel settings={self.settings.clone()} />
                </div>
            </main>
            <footer class="foot">
                { "Synchronous rounds; every number is computed by grapevine-core, the same code as the command line. " }
                <a href="https://en.wikipedia.org/wiki/Gossip_protocol">{ "What is gossip?" }</a>
            </footer>
            </>
        }
    }
}
