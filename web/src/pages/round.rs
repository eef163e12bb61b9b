//! The round view: the round engine's run, round by round, with theory over the measured
//! curve, the previous run as a ghost, and batches in a worker.

use super::{check_nodes, update, Msg, PageProps, Shell, SimPage, Taken};
use crate::charts::Charts;
use crate::controls::{protocol_label, Change};
use crate::draw::{Painter, ResizeWatch};
use crate::explain::Explain;
use crate::palette;
use crate::params::{LabPage, PageSettings, PAGE_MAX_NODES};
use crate::sim::Sim;
use crate::stats::Stats;
use grapevine_core::lab::run::MAX_LAB_NODES;
use grapevine_core::{NodeView, Settings, SettingsError};
use web_sys::HtmlCanvasElement;
use yew::prelude::*;

/// The round view.
pub struct RoundPage {
    shell: Shell,
    sim: Sim,
    canvas: NodeRef,
    painter: Painter,
    /// Draws again when the canvas is resized.
    resize: ResizeWatch,
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

impl SimPage for RoundPage {
    fn shell(&mut self) -> &mut Shell {
        &mut self.shell
    }

    fn finished(&self) -> bool {
        self.sim.engine().is_finished()
    }

    /// A new run with the current settings; the old one becomes the ghost.
    fn restart(&mut self) {
        let shell = &mut self.shell;
        let sim = &mut self.sim;
        resolve(&mut shell.settings, &mut shell.notices, |run| {
            sim.restart(run)
        });
        shell.pause();
        shell.write_url();
    }

    /// The next round: played again if the view was rewound, else a new one.
    fn step(&mut self) {
        if !self.sim.engine().is_finished() {
            let replay = !self.sim.timeline.at_end();
            self.sim.timeline.step();
            if replay {
                // The theory curve continues from the round shown.
                self.sim.recompute_theory();
            }
        }
        if self.sim.engine().is_finished() {
            self.shell.pause();
        }
    }

    fn back(&mut self) {
        if let Some(r) = self.sim.engine().round().checked_sub(1) {
            self.sim.seek(r);
        }
    }

    /// A round every `1 / speed` s (every frame at full speed).
    fn frame(&mut self, now: f64) -> bool {
        let interval = match self.shell.settings.speed {
            0 => 0.0,
            s => 1_000.0 / f64::from(s),
        };
        let due = now - self.shell.last_ms >= interval - 1.0;
        if due {
            self.shell.last_ms = now;
            self.step();
        }
        due
    }

    fn clock_start(&self) -> f64 {
        f64::NEG_INFINITY
    }

    fn change(&mut self, change: Change) {
        let change = match self.shell.take(change) {
            Taken::Done => return,
            Taken::Restart => return self.restart(),
            Taken::Own(change) => change,
        };
        let run = &mut self.shell.settings.run;
        match change {
            Change::Protocol(p) => {
                run.protocol = p;
                self.sim.change(|e| e.set_protocol(p));
                self.sim.tunables_changed();
                self.shell.write_url();
            }
            Change::Lab(p) => {
                let mut settings = self.shell.settings.clone();
                if settings.run.nodes > MAX_LAB_NODES {
                    self.shell.notice(format!(
                        "The lab's protocols take at most {MAX_LAB_NODES} nodes (each node keeps a view of every other): using {MAX_LAB_NODES}."
                    ));
                    settings.run.nodes = MAX_LAB_NODES;
                }
                settings.lab = LabPage {
                    protocol: Some(p),
                    scenario: None,
                    inspect: None,
                    ..settings.lab
                };
                self.shell.go(settings);
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
                self.apply_tunables();
            }
            Change::Nodes(n) => match check_nodes(n, PAGE_MAX_NODES, run.topology, run.nodes) {
                Ok(n) => {
                    run.nodes = n;
                    run.source = run.source.filter(|&x| x < n);
                    self.restart();
                }
                Err(why) => self.shell.notice(why),
            },
            Change::Topology(t) => {
                if run.nodes < t.min_nodes() {
                    let why = format!(
                        "A {} topology needs at least {} nodes.",
                        t.name(),
                        t.min_nodes()
                    );
                    self.shell.notice(why);
                } else {
                    run.topology = t;
                    self.restart();
                }
            }
            Change::Crashed(c) => {
                run.crashed = c;
                self.restart();
            }
            Change::Round(r) => {
                self.shell.pause();
                self.sim.seek(r);
            }
            // The lab's own settings do not reach the round view.
            _ => {}
        }
    }

    /// Before the first round a click moves the source; later (or with shift) it crashes a
    /// node, or revives a crashed one.
    fn click(&mut self, x: f64, y: f64, shift: bool) -> bool {
        let Some(canvas) = self.canvas.cast::<HtmlCanvasElement>() else {
            return false;
        };
        let Some(node) = Painter::node_at(&canvas, self.sim.engine(), x, y) else {
            return false;
        };
        let e = self.sim.engine();
        if e.round() == 0 && !shift && e.node(node) != NodeView::Crashed {
            if self.sim.change(|e| e.set_source(node)).is_ok() {
                self.shell.settings.run.source = Some(node);
                self.shell.write_url();
            }
        } else if node != e.source() || e.round() > 0 {
            self.sim.change(|e| {
                if !e.kill(node) {
                    e.revive(node);
                }
            });
        }
        true
    }
}

impl RoundPage {
    /// Fanout, loss and the stop rule change the run as it plays.
    fn apply_tunables(&mut self) {
        let tunables = self.shell.settings.run.tunables;
        if let Err(e) = self.sim.change(|e| e.set_tunables(tunables)) {
            self.shell.notice(format!("Not applied: {e}."));
            self.shell.settings.run.tunables = self.sim.engine().settings().tunables;
        }
        self.sim.tunables_changed();
        self.shell.write_url();
    }
}

impl Component for RoundPage {
    type Message = Msg;
    type Properties = PageProps;

    fn create(ctx: &Context<Self>) -> Self {
        let mut shell = Shell::new(ctx.props(), ctx.link().callback(Msg::Action));
        let mut sim = resolve(&mut shell.settings, &mut shell.notices, Sim::new);
        if shell.settings.embed {
            // An embedded picture opens on its most telling frame: the rumor halfway.
            while sim.engine().counts().informed() * 2 < sim.engine().counts().live()
                && !sim.engine().is_finished()
            {
                sim.timeline.step();
            }
            sim.recompute_theory();
        }
        shell.write_url();
        RoundPage {
            shell,
            sim,
            canvas: NodeRef::default(),
            painter: Painter::default(),
            resize: ResizeWatch::default(),
        }
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        update(self, ctx, msg)
    }

    fn rendered(&mut self, ctx: &Context<Self>, _first: bool) {
        if let Some(canvas) = self.canvas.cast::<HtmlCanvasElement>() {
            if let Err(e) = self.painter.draw(&canvas, self.sim.engine()) {
                web_sys::console::error_2(&"drawing the network failed:".into(), &e);
            }
            self.resize
                .watch(&canvas, || ctx.link().callback(|()| Msg::Resized));
        }
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let e = self.sim.engine();
        let (shown, end) = (e.round(), self.sim.timeline.end());
        let run: Settings = self.shell.settings.run;
        let history = e.history();
        let onclick = link.callback(|ev: MouseEvent| {
            Msg::Click(
                f64::from(ev.offset_x()),
                f64::from(ev.offset_y()),
                ev.shift_key(),
            )
        });
        let expected = Sim::expected_rounds(&self.shell.settings, e.counts().live());
        let dense = run.nodes > crate::draw::LAYOUT_MAX_NODES;
        let run_id = format!(
            "{} · {} nodes · seed {}",
            protocol_label(run.protocol),
            run.nodes,
            run.seed
        );
        html! {
            <>
            { self.shell.header("How a rumor spreads when everyone tells a few random friends.", run_id, link.callback(|_| Msg::DismissNotices)) }
            <main class="layout">
                <div class="column left">
                    { self.shell.controls(e.is_finished(), link.callback(Msg::Change), link.callback(Msg::Action)) }
                </div>
                <div class="column center">
                    <section class="panel network-panel" aria-label="The network">
                        <canvas ref={self.canvas.clone()} data-testid="network" {onclick} class="network"
                            title={ if dense { "One cell per node, in node order" } else { "Click a node" } }></canvas>
                        <div class="scrub">
                            <input type="range" data-testid="round-slider" aria-label="Round shown"
                                min="0" max={end.to_string()} value={shown.to_string()} disabled={end == 0}
                                oninput={link.callback(|ev: InputEvent| {
                                    let r = ev.target_unchecked_into::<web_sys::HtmlInputElement>().value_as_number();
                                    Msg::Change(Change::Round(if r.is_finite() { r as u32 } else { 0 }))
                                })} />
                            <span class="scrub-label" data-testid="round-shown">
                                { if shown == end { format!("round {shown}") } else { format!("round {shown} of {end} (rewound: a change here starts a new branch)") } }
                            </span>
                        </div>
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
                    <crate::batch_panel::BatchPanel settings={self.shell.settings.clone()} />
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
