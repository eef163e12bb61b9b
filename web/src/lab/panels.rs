//! The lab's panels beside the picture, the same for every protocol: numbers, the chart, the
//! scenario timeline and editor, the run's log, and the node inspector. What is the
//! protocol's own comes from its view ([`super::views`]). Plain functions of the run: the run
//! is too large to be a component's property, and the page redraws them on every frame anyway.

use super::sim::{LabSim, PERIOD_MS};
use super::views::{self, dot, Picture};
use crate::charts::time_chart;
use crate::controls::Change;
use crate::palette;
use crate::params::LabPage as LabSettings;
use crate::stats::stat;
use grapevine_core::lab::net::Fate;
use grapevine_core::lab::protocol::per_node_interval;
use grapevine_core::lab::role::Role;
use grapevine_core::lab::scenario::{Op, PRESETS};
use grapevine_core::lab::{LabOption, Millis};
use web_sys::{HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

pub use super::sim::{periods, seconds};

/// What the protocol does and what the picture shows, in a few plain words.
pub fn explain(sim: &LabSim, lab: &LabSettings, picture: Picture) -> Html {
    let p = sim.protocol;
    let view = sim.view();
    let on = |option, set: bool, name: &'static str| {
        if p.takes(option) && set {
            name
        } else {
            ""
        }
    };
    html! {
        <section class="panel explain" aria-label="What you see">
            <h2>{ p.label() }{ on(LabOption::Lifeguard, lab.lifeguard, " · Lifeguard") }{ on(LabOption::PushPull, lab.push_pull, " · push-pull") }</h2>
            <p>{ view.what() }</p>
            if sim.draws_messages(picture) {
                <p>{ MESSAGES_TEXT }</p>
                <p>{ view.message_text() }</p>
            } else {
                <p>{ view.picture() }</p>
            }
        </section>
    }
}

/// What the messages picture shows, for every protocol.
const MESSAGES_TEXT: &str = "Each dot on the circle is a member (node 0 at the top); each line is a message sent during \
    the last period (1 s), in its kind's colour, with a filled dot when the sender sent it on its own and a hollow one \
    when it answers another. Dashed to a cross: lost; dashed to a bar: cut by a partition; dashed to a crossed member: \
    sent to a crashed one. Pause and step one period at a time to follow each exchange.";

/// The switch between the messages picture and the view's own, in a small network.
pub fn picture_switch(sim: &LabSim, picture: Picture, on_pick: &Callback<Picture>) -> Html {
    if !sim.can_draw_messages() {
        return html! {};
    }
    let button = |p: Picture, label: &'static str, testid: &'static str| {
        let on_pick = on_pick.clone();
        html! {
            <button data-testid={testid} aria-pressed={(picture == p).to_string()}
                class={classes!((picture == p).then_some("on"))}
                onclick={Callback::from(move |_| on_pick.emit(p))}>{ label }</button>
        }
    };
    html! {
        <div class="segmented picture-switch" role="group" aria-label="Picture">
            { button(Picture::Messages, "Messages", "lab-picture-messages") }
            { button(Picture::State, sim.view().state_picture(), "lab-picture-state") }
        </div>
    }
}

/// The picture's legend: the nodes' colours and, in the messages picture, each kind of
/// message the last period carried with its count, as drawn.
pub fn legend(sim: &LabSim, picture: Picture) -> Html {
    let view = sim.view();
    if !sim.draws_messages(picture) {
        let (items, note) = view.legend();
        return html! {
            <ul class="legend">
                { for items.into_iter().map(|(c, label)| html! { <li>{ dot(c) }{ label }</li> }) }
                if let Some(note) = note { <li class="muted">{ note }</li> }
            </ul>
        };
    }
    let (items, note) = view.member_legend();
    let flights = sim.last_period();
    let kinds = views::kinds(&flights);
    let name = sim.protocol.name();
    html! { <>
        <ul class="legend">
            { for items.into_iter().map(|(c, label)| html! { <li>{ round_dot(c) }{ label }</li> }) }
            if let Some(note) = note { <li class="muted">{ note }</li> }
        </ul>
        <ul class="legend messages" data-testid="lab-period-kinds" aria-label="Messages of the last period">
            if kinds.is_empty() {
                <li class="muted">{ "no message in the last period" }</li>
            }
            { for kinds.into_iter().map(|(kind, role, count)| {
                let filled = role == Role::Initiative;
                html! {
                    <li data-testid="lab-period-kind" data-kind={kind} data-count={count.to_string()}
                        title={ if filled { "sent on the sender's own initiative" } else { "an answer" } }>
                        <span class={classes!("glyph", if filled { "filled" } else { "hollow" })}
                            style={format!("color:{}", palette::message(name, kind))}></span>
                        { format!("{kind} × {count}") }
                    </li>
                }
            }) }
        </ul>
    </> }
}

/// A member's colour in the messages picture's legend: a round dot, as drawn.
fn round_dot(colour: &str) -> Html {
    html! { <span class="dot" style={format!("background:{colour}")}></span> }
}

/// The run's numbers: time, nodes, the protocol's own, messages, losses, the seed.
pub fn stats(sim: &LabSim, seed: u64) -> Html {
    let s = sim.stats();
    let live = (0..sim.len()).filter(|&i| sim.is_up(i)).count();
    let state = if sim.is_finished() {
        "scenario over"
    } else {
        "running"
    };
    // Per period so far (at least one, so the first moments do not read as a burst).
    let per_period = per_node_interval(
        s.sent,
        sim.len(),
        sim.now().max(Millis(PERIOD_MS)),
        PERIOD_MS as u32,
    );
    html! {
        <section class="panel stats" aria-label="Statistics">
            { stat("Time", seconds(sim.now()), Some("lab-time"),
                Some(format!("{state} · ends at {}", seconds(sim.end())).into())) }
            { stat("Nodes running", live, None, Some(format!("of {}", sim.len()).into())) }
            { sim.view().stats(sim) }
            { stat("Messages", s.sent, None,
                Some(format!("{per_period:.2} per node per period · {} KiB", s.bytes / 1024).into())) }
            { stat("Not delivered", s.lost + s.partitioned + s.dead_letters, Some("lab-lost"),
                Some(format!("{} lost · {} partitioned · {} to crashed", s.lost, s.partitioned, s.dead_letters).into())) }
            { stat("Seed", seed, Some("seed-shown"), Some("same seed, same run".into())) }
        </section>
    }
}

/// The protocol's chart over time, with the scenario's steps marked.
pub fn charts(sim: &LabSim) -> Html {
    let Some(chart) = sim.view().chart(sim) else {
        return html! {};
    };
    let t = |at: Millis| at.0 as f64 / 1000.0;
    let marks: Vec<f64> = sim
        .scenario
        .steps
        .iter()
        .map(|s| s.0 as f64 / 1000.0)
        .collect();
    html! {
        <section class="panel charts" aria-label="Charts">
            <h2>{ chart.title }</h2>
            { time_chart(chart.label, "lab-chart", chart.axis, &chart.series, &marks, t(sim.end()), t(sim.now())) }
            <p class="key">
                { for chart.key.into_iter().map(|(c, label)| html! { <><span class="swatch" style={format!("background:{c}")}></span>{ format!("{label} ") }</> }) }
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
                <p class="hint">{ "One step per line: at 10s crash 3 · at 5s split 2 · at 35s heal · at 0s loss 0.2 · at 5s slow 0 3000 · at 12s restart 3 · at 8s join · at 9s leave 2 · at 10s set 0 color red · at 0s skew 3 -15000 · at 3s value 4 100 · end 90s" }</p>
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

/// The inspected node's own state and its recent messages.
pub fn inspector(sim: &LabSim, i: u32, on_change: &Callback<Change>) -> Html {
    if i >= sim.len() {
        return html! {};
    }
    let close = {
        let cb = on_change.clone();
        Callback::from(move |_: MouseEvent| cb.emit(Change::Inspect(None)))
    };
    let status = if sim.is_up(i) {
        sim.view().status(sim, i).unwrap_or("running")
    } else {
        "crashed"
    };
    let body = sim.view().inspector(sim, i, on_change);
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
                            Fate::DeadLetter => "to crashed",
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
