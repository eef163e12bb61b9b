//! The protocol lab: one lab protocol's run over the simulated network in continuous time,
//! its scenario on a timeline, the protocol's view ([`crate::lab::views`]) and the panels
//! around it.
//!
//! A run is a function of its settings, its scenario and the time reached: seeking, and every
//! change of a lab setting or of the scenario, rebuilds the run and replays it to that time. A
//! scenario that cannot run keeps its text, with the reason beside the editor, and the
//! protocol's default scenario runs meanwhile.

use super::{check_nodes, update, Msg, PageProps, Shell, SimPage, Taken};
use crate::controls::Change;
use crate::draw::ResizeWatch;
use crate::lab::draw::LabPainter;
use crate::lab::panels;
use crate::lab::sim::{scenario_notice, LabSim, PERIOD_MS};
use crate::lab::views::Picture;
use crate::params::{LabPage as LabSettings, PageSettings};
use grapevine_core::lab::run::MAX_LAB_NODES;
use grapevine_core::lab::scenario::{Op, Scenario};
use grapevine_core::lab::{LabProtocol, Millis};
use web_sys::HtmlCanvasElement;
use yew::prelude::*;

/// The lab.
pub struct LabPage {
    shell: Shell,
    protocol: LabProtocol,
    lab: LabSim,
    canvas: NodeRef,
    painter: LabPainter,
    /// Draws again when the canvas is resized.
    resize: ResizeWatch,
    /// What the picture of a small network shows.
    picture: Picture,
    /// Why the scenario in the settings cannot run (its text stays in the editor).
    scenario_error: Option<String>,
}

/// The lab's run for `settings` at time 0, and why the settings' scenario could not run if it
/// could not (the protocol's default then runs); settings that cannot run at all fall back to
/// the protocol's defaults, with a notice.
fn build(
    settings: &mut PageSettings,
    protocol: LabProtocol,
    notices: &mut Vec<String>,
) -> (LabSim, Option<String>) {
    match LabSim::new(settings, protocol) {
        Ok(lab) => return (lab, None),
        Err(e) if settings.lab.scenario.is_some() => {
            let mut fallback = settings.clone();
            fallback.lab.scenario = None;
            if let Ok(lab) = LabSim::new(&fallback, protocol) {
                return (lab, Some(e));
            }
        }
        Err(e) => notices.push(format!("{e} Back to the defaults.")),
    }
    *settings = PageSettings {
        lab: LabSettings {
            protocol: Some(protocol.info),
            ..Default::default()
        },
        ..PageSettings::default()
    };
    let lab = LabSim::new(settings, protocol).expect("the default lab settings run");
    (lab, None)
}

impl LabPage {
    /// Rebuilds the run and plays it to `to`.
    fn replay(&mut self, to: Millis) {
        let (mut lab, error) = build(
            &mut self.shell.settings,
            self.protocol,
            &mut self.shell.notices,
        );
        self.scenario_error = error;
        lab.watch(self.shell.settings.lab.inspect);
        if let Err(e) = lab.advance_to(to.min(lab.end())) {
            self.shell.notice(e);
        }
        self.lab = lab;
    }

    /// Replays the run to where it is (after a change of its settings or scenario).
    fn replay_here(&mut self) {
        self.replay(self.lab.now());
        self.shell.write_url();
    }

    /// Advances by `ms` (`None`: to the next period), pausing at the end.
    fn advance(&mut self, ms: Option<u64>) {
        let done = match ms {
            Some(ms) => self.lab.advance_by(ms),
            None => self.lab.step(),
        };
        if let Err(e) = done {
            self.shell.notice(e);
            self.shell.pause();
        }
        if self.lab.is_finished() {
            self.shell.pause();
        }
    }

    /// Adds `op` to the scenario at the run's current time (after the steps already there at
    /// that time), then replays to now: the same as applying it now, and kept in the URL.
    fn add_step(&mut self, op: Op) {
        let now = self.lab.now().0;
        let mut scenario: Scenario = self.lab.scenario.clone();
        let at = scenario.steps.partition_point(|s| s.0 <= now);
        scenario.steps.insert(at, (now, op));
        // A step at the very end would have nothing left to show.
        scenario.end_ms = scenario.end_ms.max(now + 30 * PERIOD_MS);
        let text = scenario.to_text();
        let nodes = self.shell.settings.run.nodes;
        match Scenario::parse(&text).and_then(|s| self.protocol.check(&s, nodes)) {
            Ok(_) => {
                self.shell.settings.lab.scenario = Some(text);
                self.replay_here();
            }
            Err(e) => self.shell.notice(format!("Not added: {}.", e.message)),
        }
    }
}

impl SimPage for LabPage {
    fn shell(&mut self) -> &mut Shell {
        &mut self.shell
    }

    fn finished(&self) -> bool {
        self.lab.is_finished()
    }

    /// Back to time 0, paused.
    fn restart(&mut self) {
        self.replay(Millis(0));
        self.shell.pause();
        self.shell.write_url();
    }

    fn step(&mut self) {
        self.advance(None);
    }

    /// Back to the start of the period before (the run replays to there).
    fn back(&mut self) {
        if let Some(to) = self.lab.back_target() {
            self.replay(to);
        }
    }

    /// Continuous time: `speed` periods per second of wall time, at most a tenth of a
    /// second's worth per frame (a background tab does not leap).
    fn frame(&mut self, now: f64) -> bool {
        let elapsed = (now - self.shell.last_ms).clamp(0.0, 100.0);
        self.shell.last_ms = now;
        match self.shell.settings.speed {
            0 => self.advance(None),
            s => self.advance(Some(
                (elapsed * f64::from(s) * PERIOD_MS as f64 / 1000.0) as u64,
            )),
        }
        true
    }

    fn clock_start(&self) -> f64 {
        web_sys::window()
            .and_then(|w| w.performance())
            .map_or(0.0, |p| p.now())
    }

    fn change(&mut self, change: Change) {
        let change = match self.shell.take(change) {
            Taken::Done => return,
            Taken::Restart => return self.restart(),
            Taken::Own(change) => change,
        };
        let settings = &mut self.shell.settings;
        match change {
            Change::Protocol(p) => {
                // Back to the round view, with this protocol.
                let mut round = settings.clone();
                round.run.protocol = p;
                round.lab.protocol = None;
                self.shell.go(round);
            }
            Change::Lab(p) if p != self.protocol.info => {
                let mut other = settings.clone();
                other.lab = LabSettings {
                    protocol: Some(p),
                    scenario: None,
                    inspect: None,
                    ..other.lab
                };
                self.shell.go(other);
            }
            Change::Lab(_) => {}
            Change::Lifeguard(on) => {
                settings.lab.lifeguard = on;
                self.replay_here();
            }
            Change::PushPull(on) => {
                settings.lab.push_pull = on;
                self.replay_here();
            }
            Change::Aggregate(a) => {
                settings.lab.aggregate = a;
                self.replay_here();
            }
            Change::Scenario(text) => {
                settings.lab.scenario = text.filter(|t| !t.trim().is_empty());
                self.replay_here();
            }
            Change::AddStep(op) => self.add_step(op),
            Change::RemoveStep(k) => {
                let mut scenario = self.lab.scenario.clone();
                if k < scenario.steps.len() {
                    scenario.steps.remove(k);
                    settings.lab.scenario = Some(scenario.to_text());
                    self.replay_here();
                }
            }
            Change::Seek(ms) => {
                self.shell.pause();
                self.replay(Millis(ms));
            }
            Change::Inspect(i) => {
                settings.lab.inspect = i;
                self.lab.watch(i);
                self.shell.write_url();
            }
            Change::MessagePicture(on) => {
                self.picture = if on {
                    Picture::Messages
                } else {
                    Picture::State
                };
            }
            // The rumor protocol takes fanout and the stop rule; loss is every protocol's
            // link loss from the start: each is a new run, replayed to the same time.
            Change::Stop(r) => {
                settings.run.tunables.interest.rule = r;
                self.replay_here();
            }
            Change::K(k) => {
                settings.run.tunables.interest.k = k.max(1);
                self.replay_here();
            }
            Change::Fanout(f) => {
                settings.run.tunables.fanout = f;
                self.replay_here();
            }
            Change::Loss(l) => {
                settings.run.tunables.loss = l;
                self.replay_here();
            }
            Change::Nodes(n) => {
                let run = &settings.run;
                let checked = if n > MAX_LAB_NODES {
                    Err(format!(
                        "The lab's protocols take at most {MAX_LAB_NODES} nodes (each node keeps a view of every other); kept {}.",
                        run.nodes
                    ))
                } else {
                    check_nodes(n, MAX_LAB_NODES, run.topology, run.nodes)
                };
                match checked {
                    Ok(n) => {
                        settings.run.nodes = n;
                        settings.run.source = settings.run.source.filter(|&x| x < n);
                        self.restart();
                    }
                    Err(why) => self.shell.notice(why),
                }
            }
            // The round engine's own settings do not reach the lab.
            _ => {}
        }
    }

    /// A click on the picture inspects the node there.
    fn click(&mut self, x: f64, y: f64, _: bool) -> bool {
        let Some(canvas) = self.canvas.cast::<HtmlCanvasElement>() else {
            return false;
        };
        let Some(i) = self.lab.node_at(&canvas, x, y, self.picture) else {
            return false;
        };
        self.change(Change::Inspect(Some(i)));
        true
    }
}

impl Component for LabPage {
    type Message = Msg;
    type Properties = PageProps;

    fn create(ctx: &Context<Self>) -> Self {
        let mut shell = Shell::new(ctx.props(), ctx.link().callback(Msg::Action));
        let protocol = shell
            .settings
            .lab
            .protocol
            .map(LabProtocol::of_info)
            .unwrap_or_else(|| LabProtocol::all().next().expect("a lab protocol"));
        if let Some(notice) = scenario_notice(&shell.settings) {
            shell.notice(notice);
        }
        let (lab, scenario_error) = build(&mut shell.settings, protocol, &mut shell.notices);
        let mut page = LabPage {
            shell,
            protocol,
            lab,
            canvas: NodeRef::default(),
            painter: LabPainter::default(),
            resize: ResizeWatch::default(),
            picture: Picture::default(),
            scenario_error,
        };
        let inspect = page.shell.settings.lab.inspect;
        page.lab.watch(inspect);
        page.shell.write_url();
        page
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        update(self, ctx, msg)
    }

    fn rendered(&mut self, ctx: &Context<Self>, _first: bool) {
        if let Some(canvas) = self.canvas.cast::<HtmlCanvasElement>() {
            let selected = self.shell.settings.lab.inspect;
            let lab = &self.lab;
            if let Err(e) = lab.draw(&mut self.painter, &canvas, selected, self.picture) {
                web_sys::console::error_2(&"drawing the lab failed:".into(), &e);
            }
            self.resize
                .watch(&canvas, || ctx.link().callback(|()| Msg::Resized));
        }
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let lab = &self.lab;
        let settings = &self.shell.settings;
        let run = settings.run;
        let on_change = link.callback(Msg::Change);
        let onclick = link.callback(|ev: MouseEvent| {
            Msg::Click(
                f64::from(ev.offset_x()),
                f64::from(ev.offset_y()),
                ev.shift_key(),
            )
        });
        let text = LabSim::scenario_text(settings, lab.protocol);
        let run_id = format!(
            "{} · {} nodes · seed {}",
            lab.protocol.label(),
            run.nodes,
            run.seed
        );
        html! {
            <>
            { self.shell.header("Membership, aggregation and replication by gossip: watch them, break them.", run_id, link.callback(|_| Msg::DismissNotices)) }
            <main class="layout lab">
                <div class="column left">
                    { self.shell.controls(lab.is_finished(), on_change.clone(), link.callback(Msg::Action)) }
                    { panels::scenario(lab, &text, self.scenario_error.as_deref(), &on_change) }
                </div>
                <div class="column center">
                    <section class="panel network-panel" aria-label="The network">
                        { panels::picture_switch(lab, self.picture,
                            &on_change.reform(|p| Change::MessagePicture(p == Picture::Messages))) }
                        <canvas ref={self.canvas.clone()} data-testid="network" {onclick} class="network"
                            title={ lab.canvas_title(self.picture) }></canvas>
                        { panels::legend(lab, self.picture) }
                    </section>
                    { panels::explain(lab, &settings.lab, self.picture) }
                    { panels::log(lab) }
                </div>
                <div class="column right">
                    { panels::stats(lab, run.seed) }
                    if let Some(i) = settings.lab.inspect {
                        { panels::inspector(lab, i, &on_change) }
                    }
                    { panels::charts(lab) }
                    { lab.view().panel(lab) }
                </div>
            </main>
            <footer class="foot">
                { "Continuous time on a simulated network (latency 10 ms + up to 5 ms jitter, seeded): the same protocol code as " }
                <code>{ format!("grapevine sim --protocol {}", lab.protocol.name()) }</code>{ " and, in live mode, real browser tabs." }
            </footer>
            </>
        }
    }
}
