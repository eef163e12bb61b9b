//! The lab's panels beside the picture: numbers, charts, the scenario timeline and editor,
//! the run's log, and the node inspector. Plain functions of the run: the run is too large
//! to be a component's property, and the page redraws them on every frame anyway.

use super::chart::{time_chart, Axis, Series};
use super::draw::{ALIVE, DEAD, DOWN, LEFT, OTHER_STATE, SELF, STATE_COLOURS, SUSPECT, UNKNOWN};
use super::{LabSim, View, PERIOD_MS};
use crate::controls::Change;
use grapevine_core::lab::kv::Entry;
use grapevine_core::lab::net::Fate;
use grapevine_core::lab::push_sum::PushSumObserver;
use grapevine_core::lab::rumor::{self, RumorObserver};
use grapevine_core::lab::scenario::{Op, PRESETS};
use grapevine_core::lab::swim::MemberState;
use grapevine_core::lab::{LabProtocol, Millis, Run};
use std::collections::BTreeMap;
use web_sys::{HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

/// Seconds, for people: `12.3 s`.
fn seconds(t: Millis) -> String {
    format!("{:.1} s", t.0 as f64 / 1000.0)
}

/// Periods between two times, for people.
fn periods(from: Millis, to: Millis) -> String {
    format!("{:.2}", to.since(from) as f64 / PERIOD_MS as f64)
}

/// What the picture shows and what to try, in a few plain words.
pub fn explain(p: LabProtocol, lifeguard: bool) -> Html {
    let view = View::of(p);
    let (what, picture) = match view {
        View::Swim => (
            "Every member pings one other member per protocol period (1 s). No answer in time: it asks k others to ping it for it, \
             then suspects it; a suspect that does not refute (by raising its incarnation) within the suspicion timeout is declared dead. \
             News of suspicions, deaths, joins and leaves rides on the pings and acks themselves.",
            "The matrix: row i is what member i believes of every member (column j). A crash shows as a column turning yellow, then red; \
             a partition as two blocks. Click a row to inspect that member.",
        ),
        View::PushSum => (
            "Every interval (1 s), each node keeps half of its pair (sum, weight) and sends the other half to a random node; \
             its estimate is sum / weight. No mass is created or destroyed, so every estimate converges to the true average, \
             exponentially fast (Kempe, Dobra, Gehrke 2003). A lost message loses mass: the estimates then drift.",
            "Each cell is a node, coloured by the error of its estimate (green: within 10⁻⁸; red: 100 %). Click a node to inspect it.",
        ),
        View::Kv => (
            "Every interval (1 s), each replica starts a three-way anti-entropy exchange (scuttlebutt) with a random replica: \
             digests of what each holds, then the entries the other lacks. Reads are resolved two ways on the same data: \
             last-writer-wins on (timestamp, node) keeps one value; vector clocks keep concurrent writes as siblings.",
            "Each cell is a replica, coloured by its state: replicas holding the same entries share a colour, so convergence is \
             the grid turning one colour. Click a replica to read it and write to it.",
        ),
        View::Rumor => (
            "Every interval (1 s), each node that is spreading a rumor pushes it to a random peer (or pulls from one, or both); \
             the receiver says whether it was news, and the stop rule decides when the sender loses interest. \
             A rumor starts at node 0 at time 0 (or where the scenario's rumor steps say). This is the very node live mode's tabs run, \
             in continuous time: each node on its own clock, messages with latency.",
            "Each dot is a node (one cell per node beyond 2,000): grey has not heard the first rumor, orange spreads it, \
             blue heard it and stopped; ringed: heard it this interval; white ring: where it started. \
             Arrows: who told whom during the last interval. Click a node to inspect it.",
        ),
    };
    html! {
        <section class="panel explain" aria-label="What you see">
            <h2>{ p.label() }{ if view == View::Swim && lifeguard { " · Lifeguard" } else { "" } }</h2>
            <p>{ what }</p>
            <p>{ picture }</p>
        </section>
    }
}

fn dot(colour: &str) -> Html {
    html! { <span class="dot square" style={format!("background:{colour}")}></span> }
}

/// The picture's legend.
pub fn legend(p: LabProtocol) -> Html {
    let view = View::of(p);
    let items: Vec<(&str, &str)> = match view {
        View::Swim => vec![
            (ALIVE, "alive"),
            (SUSPECT, "suspect"),
            (DEAD, "dead"),
            (LEFT, "left"),
            (UNKNOWN, "unknown"),
            (SELF, "itself"),
        ],
        View::PushSum => vec![
            ("#009e73", "error ≤ 10⁻⁸"),
            ("#f0e442", "10⁻⁴"),
            ("#d55e00", "≥ 100 %"),
            (OTHER_STATE, "no estimate yet"),
            (DOWN, "crashed"),
        ],
        View::Kv => vec![
            (STATE_COLOURS[0], "most common state"),
            (STATE_COLOURS[1], "second"),
            (STATE_COLOURS[2], "third (and so on)"),
            (DOWN, "crashed"),
        ],
        View::Rumor => vec![
            (crate::palette::SUSCEPTIBLE, "has not heard it"),
            (crate::palette::SPREADING, "spreading"),
            (crate::palette::STOPPED, "heard it, stopped"),
            (crate::palette::CRASHED, "crashed"),
        ],
    };
    html! {
        <ul class="legend">
            { for items.into_iter().map(|(c, label)| html! { <li>{ dot(c) }{ label }</li> }) }
            if view == View::Swim {
                <li class="muted">{ "top band: the worst any running member thinks of that member · left band: the member itself (pink: crashed) · dim rows: a crashed or departed member's last view" }</li>
            }
        </ul>
    }
}

/// The run's numbers.
pub fn stats(sim: &LabSim, seed: u64) -> Html {
    let s = sim.stats();
    let live = (0..sim.len()).filter(|&i| sim.is_up(i)).count();
    let state = if sim.is_finished() {
        "scenario over"
    } else {
        "running"
    };
    let specific = if let Some(run) = sim.swim() {
        let observer = run.observer();
        let detection = observer.detections.last().map(|(m, d)| {
            let first = d.first.map_or("not yet suspected".into(), |t| {
                format!("first suspected after {} periods", periods(d.crashed_at, t))
            });
            let all = d.all.map_or(String::new(), |t| {
                format!(" · all running members after {}", periods(d.crashed_at, t))
            });
            (format!("node {m}"), format!("{first}{all}"))
        });
        html! { <>
            <div class="stat"><span class="label">{ "Crash detection" }</span>
                <span class="value" data-testid="lab-detection">{ detection.as_ref().map_or("no crash yet".to_string(), |d| d.0.clone()) }</span>
                <span class="sub">{ detection.map_or("the scenario crashes nobody so far".into(), |d| d.1) }</span></div>
            <div class="stat"><span class="label">{ "False positives" }</span>
                <span class="value" data-testid="lab-false-positives">{ observer.false_positives.len() }</span>
                <span class="sub">{ format!("running members declared dead · {} suspected", observer.false_suspicions.len()) }</span></div>
        </> }
    } else if let Some(run) = sim.push_sum() {
        let (error, mass) = run
            .samples()
            .last()
            .map_or((f64::INFINITY, 1.0), |(_, s)| (s.error, s.mass));
        html! { <>
            <div class="stat"><span class="label">{ "True value" }</span>
                <span class="value">{ format!("{:.4}", PushSumObserver::truth(run.lab())) }</span>
                <span class="sub">{ "over the live nodes" }</span></div>
            <div class="stat"><span class="label">{ "Worst error" }</span>
                <span class="value" data-testid="lab-error">{ if error.is_finite() { format!("{error:.1e}") } else { "–".into() } }</span>
                <span class="sub">{ format!("relative · mass {:.6}", mass) }</span></div>
        </> }
    } else if let Some(run) = sim.kv() {
        let (agree, states) = run
            .samples()
            .last()
            .map_or((1.0, 1), |(_, s)| (s.agree, s.states));
        html! { <>
            <div class="stat"><span class="label">{ "Replicas agreeing" }</span>
                <span class="value" data-testid="lab-agree">{ format!("{:.0} %", agree * 100.0) }</span>
                <span class="sub">{ format!("{states} distinct states") }</span></div>
        </> }
    } else if let Some(run) = sim.rumor() {
        rumor_stats(run)
    } else {
        html! {}
    };
    html! {
        <section class="panel stats" aria-label="Statistics">
            <div class="stat"><span class="label">{ "Time" }</span>
                <span class="value" data-testid="lab-time">{ seconds(sim.now()) }</span>
                <span class="sub">{ format!("{state} · ends at {}", seconds(sim.end())) }</span></div>
            <div class="stat"><span class="label">{ "Nodes running" }</span>
                <span class="value">{ live }</span>
                <span class="sub">{ format!("of {}", sim.len()) }</span></div>
            { specific }
            <div class="stat"><span class="label">{ "Messages" }</span>
                <span class="value">{ s.sent }</span>
                <span class="sub">{ format!("{:.2} per node per period · {} KiB", s.sent as f64 / f64::from(sim.len().max(1)) / (sim.now().0 as f64 / PERIOD_MS as f64).max(1.0), s.bytes / 1024) }</span></div>
            <div class="stat"><span class="label">{ "Not delivered" }</span>
                <span class="value" data-testid="lab-lost">{ s.lost + s.partitioned + s.dead_letters }</span>
                <span class="sub">{ format!("{} lost · {} partitioned · {} to crashed", s.lost, s.partitioned, s.dead_letters) }</span></div>
            <div class="stat"><span class="label">{ "Seed" }</span>
                <span class="value" data-testid="seed-shown">{ seed }</span>
                <span class="sub">{ "same seed, same run" }</span></div>
        </section>
    }
}

/// One series of a protocol's samples over time (seconds).
fn line<S>(samples: &[(Millis, S)], colour: &'static str, pick: impl Fn(&S) -> f64) -> Series {
    Series {
        colour,
        dashed: false,
        points: samples
            .iter()
            .map(|(at, s)| (at.0 as f64 / 1000.0, pick(s)))
            .collect(),
    }
}

/// The protocol's chart over time.
pub fn charts(sim: &LabSim) -> Html {
    let t = |at: Millis| at.0 as f64 / 1000.0;
    let marks: Vec<f64> = sim
        .scenario
        .steps
        .iter()
        .map(|s| s.0 as f64 / 1000.0)
        .collect();
    let (end, now) = (t(sim.end()), t(sim.now()));
    let (title, chart, key) = if let Some(run) = sim.swim() {
        let samples = run.samples();
        (
            "Members each live member holds suspect, dead or left (average)",
            time_chart(
                "Members held suspect, dead or left per live member, over time",
                "lab-chart",
                Axis::Linear {
                    min_top: 2.0,
                    percent: false,
                },
                &[
                    line(samples, LEFT, |s| s.left),
                    line(samples, DEAD, |s| s.dead),
                    line(samples, SUSPECT, |s| s.suspect),
                ],
                &marks,
                end,
                now,
            ),
            vec![(SUSPECT, "suspect"), (DEAD, "dead"), (LEFT, "left")],
        )
    } else if let Some(run) = sim.push_sum() {
        let samples = run.samples();
        // Kempe et al.'s bound: the potential at least halves every round in expectation,
        // so the relative error shrinks by √2 at least; drawn from the first measured point
        // (docs/FIDELITY.md holds the measured decay against it).
        let first = samples
            .first()
            .filter(|(_, s)| s.error.is_finite())
            .map(|(at, s)| (t(*at), s.error));
        let mut lines = vec![
            line(samples, DEAD, |s| s.error),
            line(samples, "#0072b2", |s| (1.0 - s.mass).abs()),
        ];
        if let Some((t0, e0)) = first {
            let points = (0..=((end - t0) as i32).max(0))
                .map(|k| {
                    (
                        t0 + f64::from(k),
                        e0 * std::f64::consts::FRAC_1_SQRT_2.powi(k),
                    )
                })
                .take_while(|p| p.1 > 1e-13)
                .collect();
            lines.push(Series {
                colour: "#334155",
                dashed: true,
                points,
            });
        }
        (
            "Worst relative error of an estimate, per round (log scale)",
            time_chart(
                "Push-sum error per round, log scale",
                "lab-chart",
                Axis::Log { low: -12, high: 0 },
                &lines,
                &marks,
                end,
                now,
            ),
            vec![
                (DEAD, "worst error"),
                (
                    "#0072b2",
                    "weight off the nodes: in flight or lost (1 − Σw / N)",
                ),
                ("#334155", "Kempe's bound (÷√2 a round)"),
            ],
        )
    } else if let Some(run) = sim.kv() {
        (
            "Share of live replicas in the most common state",
            time_chart(
                "Replica agreement over time",
                "lab-chart",
                Axis::Linear {
                    min_top: 1.0,
                    percent: true,
                },
                &[line(run.samples(), STATE_COLOURS[0], |s| s.agree)],
                &marks,
                end,
                now,
            ),
            vec![(STATE_COLOURS[0], "agreeing replicas")],
        )
    } else if let Some(run) = sim.rumor() {
        rumor_chart(run, &marks, end, now)
    } else {
        return html! {};
    };
    html! {
        <section class="panel charts" aria-label="Charts">
            <h2>{ title }</h2>
            { chart }
            <p class="key">
                { for key.into_iter().map(|(c, label)| html! { <><span class="swatch" style={format!("background:{c}")}></span>{ format!("{label} ") }</> }) }
                <span class="swatch mark-swatch"></span>{ "scenario step" }
            </p>
        </section>
    }
}

/// The scenario: a timeline to seek in, its steps, buttons that add a step now, presets
/// and the text editor.
pub fn scenario(
    sim: &LabSim,
    text: &str,
    error: Option<&str>,
    on_change: &Callback<Change>,
) -> Html {
    let end = sim.end().0.max(1) as f64;
    let now = sim.now().0 as f64;
    // Yew delegates events to its root, so the event's current target is not the bar: the
    // bar is found by reference.
    let bar = NodeRef::default();
    let seek = {
        let cb = on_change.clone();
        let bar = bar.clone();
        Callback::from(move |e: MouseEvent| {
            let Some(target) = bar.cast::<web_sys::Element>() else {
                return;
            };
            let rect = target.get_bounding_client_rect();
            let f =
                ((f64::from(e.client_x()) - rect.left()) / rect.width().max(1.0)).clamp(0.0, 1.0);
            cb.emit(Change::Seek((f * end).round() as u64));
        })
    };
    let add = |op: Op| {
        let cb = on_change.clone();
        Callback::from(move |_: MouseEvent| cb.emit(Change::AddStep(op.clone())))
    };
    let preset_change = {
        let cb = on_change.clone();
        Callback::from(move |e: Event| {
            let v = e.target_unchecked_into::<HtmlSelectElement>().value();
            cb.emit(Change::Scenario(Some(v)))
        })
    };
    let editor = NodeRef::default();
    let apply = {
        let cb = on_change.clone();
        let editor = editor.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(area) = editor.cast::<HtmlTextAreaElement>() {
                cb.emit(Change::Scenario(Some(area.value())));
            }
        })
    };
    let current_preset = PRESETS.iter().find(|p| p.2 == text).map(|p| p.0);
    let pct = |t: f64| format!("{:.2}%", 100.0 * (t / end).clamp(0.0, 1.0));
    let done = sim.now();
    html! {
        <section class="panel scenario" aria-label="Scenario">
            <h2>{ "Scenario" }</h2>
            <div class="timeline" ref={bar} onclick={seek} data-testid="lab-timeline" title="Click to replay the run to that moment">
                <div class="played" style={format!("width:{}", pct(now))}></div>
                { for sim.scenario.steps.iter().map(|(at, op)| html! {
                    <span class={classes!("tick", (Millis(*at) <= done).then_some("done"))} style={format!("left:{}", pct(*at as f64))} title={format!("{}: {op}", seconds(Millis(*at)))}></span>
                }) }
                <span class="cursor" style={format!("left:{}", pct(now))}></span>
            </div>
            <div class="timeline-scale"><span>{ "0 s" }</span><span>{ seconds(sim.end()) }</span></div>
            <ol class="steps" data-testid="lab-steps">
                { for sim.scenario.steps.iter().enumerate().map(|(k, (at, op))| {
                    let cb = on_change.clone();
                    html! {
                        <li class={classes!((Millis(*at) <= done).then_some("done"))}>
                            <span class="at">{ seconds(Millis(*at)) }</span>
                            <span class="op">{ op.to_string() }</span>
                            <button class="remove" title="Remove this step and replay" aria-label="Remove step"
                                onclick={Callback::from(move |_: MouseEvent| cb.emit(Change::RemoveStep(k)))}>{ "✕" }</button>
                        </li>
                    }
                }) }
                if sim.scenario.steps.is_empty() { <li class="muted">{ "No steps: nothing happens but the protocol." }</li> }
            </ol>
            <div class="add-now">
                <span class="muted">{ format!("At {}:", seconds(sim.now())) }</span>
                <button onclick={add(Op::Split(2))} data-testid="lab-split">{ "Split in two" }</button>
                <button onclick={add(Op::Heal)} data-testid="lab-heal">{ "Heal" }</button>
                <button onclick={add(Op::Join)}>{ "A node joins" }</button>
                <button onclick={add(Op::Loss(if sim.loss() > 0.0 { 0.0 } else { 0.2 }))}>
                    { if sim.loss() > 0.0 { "Links lossless" } else { "Links lose 20 %" } }</button>
            </div>
            <label class="preset">{ "Preset" }
                <select onchange={preset_change} data-testid="lab-preset">
                    <option value="" selected={current_preset.is_none()} disabled=true>{ "(your own)" }</option>
                    { for PRESETS.iter().map(|p| html! {
                        <option value={p.0} selected={current_preset == Some(p.0)} title={p.1}>{ format!("{} — {}", p.0, p.1) }</option>
                    }) }
                </select>
            </label>
            <details class="editor" open={error.is_some()}>
                <summary>{ "Edit as text" }</summary>
                <textarea ref={editor} rows="6" spellcheck="false" data-testid="lab-scenario-text" value={text.to_string()} />
                if let Some(e) = error { <p class="error" role="alert">{ e }</p> }
                <p class="hint">{ "One step per line: at 10s crash 3 · at 5s split 2 · at 35s heal · at 0s loss 0.2 · at 5s slow 0 3000 · at 12s restart 3 · at 8s join · at 9s leave 2 · at 10s set 0 color red · at 3s value 4 100 · end 90s" }</p>
                <button onclick={apply} data-testid="lab-scenario-apply">{ "Apply and replay" }</button>
            </details>
        </section>
    }
}

/// The newest notable events.
pub fn log(sim: &LabSim) -> Html {
    html! {
        <section class="panel log" aria-label="What happened">
            <h2>{ "What happened" }</h2>
            <ol data-testid="lab-log">
                { for sim.log().iter().rev().map(|l| html! {
                    <li class={classes!(l.alarm.then_some("alarm"))}><span class="at">{ seconds(l.at) }</span>{ &l.text }</li>
                }) }
                if sim.log().is_empty() { <li class="muted">{ "Nothing yet: press play." }</li> }
            </ol>
        </section>
    }
}

fn node_actions(sim: &LabSim, i: u32, on_change: &Callback<Change>) -> Html {
    let add = |op: Op| {
        let cb = on_change.clone();
        Callback::from(move |_: MouseEvent| cb.emit(Change::AddStep(op.clone())))
    };
    let up = sim.is_up(i);
    html! {
        <div class="add-now">
            if up {
                <button onclick={add(Op::Crash(i))} data-testid="inspect-crash">{ "Crash" }</button>
                <button onclick={add(Op::Leave(i))}>{ "Leave" }</button>
                <button onclick={add(Op::Slow(i, 3_000))} title="Its messages take 3 s longer each way">{ "Slow it" }</button>
                <button onclick={add(Op::Slow(i, 0))}>{ "Normal speed" }</button>
            } else {
                <button onclick={add(Op::Restart(i))} data-testid="inspect-restart">{ "Restart" }</button>
            }
        </div>
    }
}

fn entry_text(e: &Entry) -> String {
    format!("{} (node {}, t={} ms)", e.value, e.origin.0, e.timestamp)
}

/// The inspected node's own state and its recent messages.
pub fn inspector(sim: &LabSim, i: u32, on_change: &Callback<Change>) -> Html {
    if i >= sim.len() {
        return html! {};
    }
    let close = {
        let cb = on_change.clone();
        Callback::from(move |_: MouseEvent| cb.emit(Change::Inspect(None)))
    };
    let status = if !sim.is_up(i) {
        "crashed"
    } else if sim
        .swim()
        .is_some_and(|r| r.lab().network().node(i).has_left())
    {
        "left"
    } else {
        "running"
    };
    let body = match sim.view {
        View::Swim => swim_state(sim, i),
        View::PushSum => push_sum_state(sim, i, on_change),
        View::Kv => kv_state(sim, i, on_change),
        View::Rumor => rumor_state(sim, i),
    };
    let notes = sim.notes();
    html! {
        <section class="panel inspector" aria-label="Node inspector" data-testid="inspector">
            <div class="inspector-head">
                <h2>{ format!("Node {i}") }<span class={classes!("status", status)}>{ status }</span></h2>
                <button class="close" onclick={close} aria-label="Close the inspector">{ "✕" }</button>
            </div>
            { node_actions(sim, i, on_change) }
            { body }
            <h3>{ "Recent messages" }</h3>
            if notes.is_empty() {
                <p class="muted">{ "None since you picked this node: press play or step." }</p>
            } else {
                <table class="messages" data-testid="inspect-messages">
                    <thead><tr><th>{ "time" }</th><th></th><th>{ "peer" }</th><th>{ "kind" }</th><th>{ "bytes" }</th><th></th></tr></thead>
                    <tbody>
                    { for notes.iter().rev().take(16).map(|n| {
                        let (arrow, peer) = if n.from == i { ("→", n.to) } else { ("←", n.from) };
                        let fate = match n.fate {
                            Fate::Sent => "", Fate::Received => "",
                            Fate::Lost => "lost", Fate::Partitioned => "partitioned",
                        };
                        html! { <tr class={classes!((!fate.is_empty()).then_some("dropped"))}>
                            <td>{ seconds(n.at) }</td><td>{ arrow }</td><td>{ peer }</td><td>{ n.kind }</td><td>{ n.bytes }</td><td>{ fate }</td>
                        </tr> }
                    }) }
                    </tbody>
                </table>
            }
        </section>
    }
}

fn swim_state(sim: &LabSim, i: u32) -> Html {
    let Some(run) = sim.swim() else {
        return html! {};
    };
    let net = run.lab().network();
    let node = net.node(i);
    let mut members: Vec<_> = node.iter_members().collect();
    let rank = |s: MemberState| match s {
        MemberState::Dead => 0,
        MemberState::Suspect => 1,
        MemberState::Left => 2,
        MemberState::Alive => 3,
    };
    members.sort_by_key(|(id, v)| (rank(v.state), *id));
    let shown = 40;
    let alive = members
        .iter()
        .filter(|m| m.1.state == MemberState::Alive)
        .count();
    html! { <>
        <p class="facts">{ format!("incarnation {} · local health {} · knows {} members ({} alive)", node.incarnation().0, node.health(), members.len(), alive) }</p>
        <table class="members">
            <thead><tr><th>{ "member" }</th><th>{ "state" }</th><th>{ "incarnation" }</th></tr></thead>
            <tbody>
            { for members.iter().take(shown).map(|(id, v)| html! {
                <tr data-testid="inspect-member" data-peer={id.0.to_string()} data-status={v.state.name()}>
                    <td>{ id.0 }</td><td><span class={classes!("state", v.state.name())}>{ v.state.name() }</span></td><td>{ v.incarnation.0 }</td>
                </tr>
            }) }
            </tbody>
        </table>
        if members.len() > shown { <p class="muted">{ format!("… and {} more (sorted: dead, suspect, left, then alive)", members.len() - shown) }</p> }
    </> }
}

fn push_sum_state(sim: &LabSim, i: u32, on_change: &Callback<Change>) -> Html {
    let Some(run) = sim.push_sum() else {
        return html! {};
    };
    let node = run.lab().network().node(i);
    let (sum, weight) = node.mass();
    let truth = PushSumObserver::truth(run.lab());
    let estimate = node.estimate();
    let value_input = NodeRef::default();
    let set = {
        let cb = on_change.clone();
        let input = value_input.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(x) = input
                .cast::<HtmlInputElement>()
                .and_then(|el| el.value().trim().parse::<f64>().ok())
                .filter(|x| x.is_finite())
            {
                cb.emit(Change::AddStep(Op::Value(i, x)));
            }
        })
    };
    html! { <>
        <dl class="facts-grid">
            <dt>{ "its value" }</dt><dd>{ format!("{:.4}", node.value()) }</dd>
            <dt>{ "its estimate" }</dt><dd data-testid="inspect-estimate">{ estimate.map_or("none yet (weight 0)".into(), |e| format!("{e:.6}")) }</dd>
            <dt>{ "true value" }</dt><dd>{ format!("{truth:.6}") }</dd>
            <dt>{ "error" }</dt><dd>{ estimate.map_or("–".into(), |_| format!("{:.1e}", PushSumObserver::error(node, truth))) }</dd>
            <dt>{ "sum, weight" }</dt><dd>{ format!("{sum:.4}, {weight:.6}") }</dd>
        </dl>
        <div class="add-now">
            <input ref={value_input} type="text" inputmode="decimal" placeholder="new value" aria-label="New value" />
            <button onclick={set}>{ "Set its value now" }</button>
        </div>
    </> }
}

fn kv_state(sim: &LabSim, i: u32, on_change: &Callback<Change>) -> Html {
    let Some(run) = sim.kv() else { return html! {} };
    let node = run.lab().network().node(i);
    let (key_input, value_input) = (NodeRef::default(), NodeRef::default());
    let set = {
        let cb = on_change.clone();
        let (k, v) = (key_input.clone(), value_input.clone());
        Callback::from(move |_: MouseEvent| {
            let read = |r: &NodeRef| {
                r.cast::<HtmlInputElement>()
                    .map(|el| el.value().trim().to_string())
                    .unwrap_or_default()
            };
            let (key, value) = (read(&k), read(&v));
            cb.emit(Change::AddStep(Op::Set(i, key, value)));
        })
    };
    let keys = node.keys();
    html! { <>
        <table class="kv">
            <thead><tr><th>{ "key" }</th><th>{ "last writer wins" }</th><th>{ "vector clocks" }</th></tr></thead>
            <tbody>
            { for keys.iter().map(|k| {
                let siblings = node.siblings(k);
                let conflict = siblings.len() > 1;
                html! { <tr class={classes!(conflict.then_some("conflict"))} data-testid="inspect-key" data-key={k.to_string()}>
                    <td>{ *k }</td>
                    <td>{ node.lww(k).map(entry_text).unwrap_or_default() }</td>
                    <td>{ if conflict {
                        format!("{} siblings: {}", siblings.len(), siblings.iter().map(|e| e.value.as_str()).collect::<Vec<_>>().join(" | "))
                    } else {
                        siblings.first().map(|e| e.value.clone()).unwrap_or_default()
                    } }</td>
                </tr> }
            }) }
            </tbody>
        </table>
        if keys.is_empty() { <p class="muted">{ "No entries yet." }</p> }
        <div class="add-now kv-write">
            <input ref={key_input} type="text" placeholder="key" aria-label="Key" data-testid="inspect-kv-key" />
            <input ref={value_input} type="text" placeholder="value" aria-label="Value" data-testid="inspect-kv-value" />
            <button onclick={set} data-testid="inspect-kv-set">{ "Write here now" }</button>
        </div>
    </> }
}

/// One key across the live replicas.
#[derive(Default)]
struct KeyAcross {
    /// Value read by last-writer-wins -> replicas reading it.
    reads: BTreeMap<String, u32>,
    /// Replicas where vector clocks keep siblings.
    with_siblings: u32,
    /// The siblings' values at the first such replica.
    siblings: Vec<String>,
}

/// Key-value: every key across the live replicas, the values they read by last-writer-wins,
/// and where vector clocks keep concurrent writes.
pub fn kv_keys(sim: &LabSim) -> Html {
    let Some(run) = sim.kv() else { return html! {} };
    let net = run.lab().network();
    let mut keys: BTreeMap<String, KeyAcross> = BTreeMap::new();
    let live: Vec<u32> = (0..net.len() as u32).filter(|&i| net.is_up(i)).collect();
    for &i in &live {
        let node = net.node(i);
        for k in node.keys() {
            let entry = keys.entry(k.to_string()).or_default();
            if let Some(e) = node.lww(k) {
                *entry.reads.entry(e.value.clone()).or_default() += 1;
            }
            let siblings = node.siblings(k);
            if siblings.len() > 1 {
                entry.with_siblings += 1;
                if entry.siblings.is_empty() {
                    entry.siblings = siblings.iter().map(|e| e.value.clone()).collect();
                }
            }
        }
    }
    html! {
        <section class="panel kv-keys" aria-label="Keys across replicas">
            <h2>{ "Keys across the live replicas" }</h2>
            if keys.is_empty() {
                <p class="muted">{ "No key written yet: the scenario's set steps, or click a replica and write." }</p>
            } else {
                <table class="kv" data-testid="lab-keys">
                    <thead><tr><th>{ "key" }</th><th>{ "read by last writer wins" }</th><th>{ "concurrent writes (vector clocks)" }</th></tr></thead>
                    <tbody>
                    { for keys.iter().map(|(k, KeyAcross { reads: values, with_siblings, siblings })| html! {
                        <tr class={classes!((*with_siblings > 0).then_some("conflict"))} data-testid="lab-key" data-key={k.clone()}>
                            <td>{ k }</td>
                            <td>{ values.iter().map(|(v, n)| format!("{v} ×{n}")).collect::<Vec<_>>().join(", ") }
                                { format!(" of {}", live.len()) }</td>
                            <td>{ if *with_siblings > 0 {
                                format!("{} at {} replicas: LWW shows one, dropping the other{}", siblings.join(" | "), with_siblings, if siblings.len() > 2 { "s" } else { "" })
                            } else { "none".into() } }</td>
                        </tr>
                    }) }
                    </tbody>
                </table>
            }
        </section>
    }
}

/// Rumors: how far the first rumor got, in the figures `grapevine sim --protocol rumor`
/// prints.
fn rumor_stats(run: &Run<rumor::Spec>) -> Html {
    let observer = run.observer();
    let (informed, live) = observer.informed(run.lab());
    let full = observer.intervals_to_full(run.lab());
    let messages = RumorObserver::messages_per_node(run.lab());
    html! { <>
        <div class="stat"><span class="label">{ "Informed" }</span>
            <span class="value" data-testid="lab-informed">{ format!("{informed} of {live}") }</span>
            <span class="sub">{ observer.first.map_or("no rumor yet".to_string(), |(id, born)| format!("rumor {}:{} from {}", id.origin, id.seq, seconds(born))) }</span></div>
        <div class="stat"><span class="label">{ "Everyone knows after" }</span>
            <span class="value" data-testid="lab-rumor-full">{ full.map_or("not yet".into(), |x| format!("{x:.2}")) }</span>
            <span class="sub">{ format!("intervals · {} hops at most", observer.max_hops()) }</span></div>
        <div class="stat"><span class="label">{ "Messages per node" }</span>
            <span class="value">{ format!("{messages:.1}") }</span>
            <span class="sub">{ "so far, feedback included" }</span></div>
    </> }
}

/// Rumors: the share of live nodes informed and spreading over time.
fn rumor_chart(
    run: &Run<rumor::Spec>,
    marks: &[f64],
    end: f64,
    now: f64,
) -> (&'static str, Html, Vec<(&'static str, &'static str)>) {
    let samples = run.samples();
    (
        "Share of live nodes that know the first rumor, and still spread it",
        time_chart(
            "Rumor spread over time",
            "lab-chart",
            Axis::Linear {
                min_top: 1.0,
                percent: true,
            },
            &[
                line(samples, crate::palette::STOPPED, |s| s.informed),
                line(samples, crate::palette::SPREADING, |s| s.spreading),
            ],
            marks,
            end,
            now,
        ),
        vec![
            (crate::palette::STOPPED, "informed"),
            (crate::palette::SPREADING, "spreading"),
        ],
    )
}

/// Rumors: what one node knows.
fn rumor_state(sim: &LabSim, i: u32) -> Html {
    let Some(run) = sim.rumor() else {
        return html! {};
    };
    let node = run.lab().network().node(i);
    let infection = run.observer().infections.get(&i).copied();
    let rumors: Vec<_> = node.iter_rumors().collect();
    html! { <>
        <p class="facts" data-testid="inspect-rumor">{ match infection {
            Some(f) if f.from == i => format!("started the rumor at {}", seconds(f.at)),
            Some(f) => format!("heard the rumor from node {} at {}, {} hops from its origin", f.from, seconds(f.at), f.hops),
            None => "has not heard the first rumor".into(),
        } }</p>
        <table class="members">
            <thead><tr><th>{ "rumor" }</th><th>{ "hops" }</th><th>{ "state" }</th><th>{ "text" }</th></tr></thead>
            <tbody>
            { for rumors.iter().take(20).map(|(r, spreading)| html! {
                <tr><td>{ format!("{}:{}", r.id.origin, r.id.seq) }</td><td>{ r.hops }</td>
                    <td>{ if *spreading { "spreading" } else { "stopped" } }</td><td>{ r.text.clone() }</td></tr>
            }) }
            </tbody>
        </table>
    </> }
}
