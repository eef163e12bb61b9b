//! The control panel: every setting, and play / step / reset.

use crate::params::{PageSettings, PAGE_MAX_NODES, SPEEDS};
use grapevine_core::lab::push_sum::Aggregate;
use grapevine_core::lab::scenario::Op;
use grapevine_core::lab::{LabOption, ProtocolInfo};
use grapevine_core::{Protocol, StopRule, Topology};
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

/// A setting the user changed.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// Push, pull or push-pull (changes the run as it plays).
    Protocol(Protocol),
    /// Stop rule (changes the run as it plays).
    Stop(StopRule),
    /// The stop rule's k (changes the run as it plays).
    K(u8),
    /// Fanout (changes the run as it plays).
    Fanout(u8),
    /// Loss probability (changes the run as it plays).
    Loss(f64),
    /// Rounds per second (changes the run as it plays).
    Speed(u32),
    /// Number of nodes (new run).
    Nodes(u32),
    /// Topology (new run).
    Topology(Topology),
    /// Fraction crashed at the start (new run).
    Crashed(f64),
    /// Master seed (new run).
    Seed(u64),
    /// A fresh random seed (new run).
    RandomSeed,
    /// What the user typed into a field could not be read.
    Rejected(Draft),
    /// One of the lab's protocols (a new run).
    Lab(&'static ProtocolInfo),
    /// SWIM: Lifeguard on or off (the run is replayed to the same time).
    Lifeguard(bool),
    /// SWIM: memberlist's push-pull on or off (replayed likewise).
    PushPull(bool),
    /// Push-sum: what to compute (replayed).
    Aggregate(Aggregate),
    /// The lab's scenario: a preset's name or a text; `None`: the protocol's default
    /// (replayed).
    Scenario(Option<String>),
    /// A step added to the scenario at the run's current time.
    AddStep(Op),
    /// The scenario's `k`-th step removed (replayed).
    RemoveStep(usize),
    /// Replay the lab's run to this time, ms.
    Seek(u64),
    /// Show this round of the round view's run (rewind, or forward again).
    Round(u32),
    /// The node the lab's inspector shows.
    Inspect(Option<u32>),
    /// The lab's small-network picture: the messages (true) or the view's own.
    MessagePicture(bool),
    /// Live mode: this tab becomes a real node in the room "lobby".
    GoLive,
}

/// A text field whose content is kept as typed when it cannot be read, so nothing a user
/// entered is lost while the notice says what is expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The number of nodes.
    Nodes,
    /// The seed.
    Seed,
}

impl Field {
    /// What the field expects, in words.
    pub fn expects(self) -> &'static str {
        match self {
            Field::Nodes => "Nodes must be a whole number from 2 to 1000000.",
            Field::Seed => "The seed must be a whole number from 0 to 18446744073709551615.",
        }
    }
}

/// Text typed into a [`Field`] that could not be read.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    /// Which field.
    pub field: Field,
    /// What was typed.
    pub text: String,
}

/// A button.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Play or pause.
    TogglePlay,
    /// Play one round.
    Step,
    /// One round (or period) back.
    Back,
    /// Pause (a clicker's "blank screen" key).
    Pause,
    /// Back to round 0 with the same settings.
    Reset,
    /// Copy a link to these settings.
    CopyLink,
}

/// Properties of [`Controls`].
#[derive(Properties, PartialEq)]
pub struct ControlsProps {
    /// Current settings.
    pub settings: PageSettings,
    /// Whether the run is playing.
    pub playing: bool,
    /// Whether the run is over.
    pub finished: bool,
    /// Feedback after "copy link".
    pub copied: bool,
    /// Text typed into a field that could not be read, shown instead of the setting.
    pub draft: Option<Draft>,
    /// A setting changed.
    pub on_change: Callback<Change>,
    /// A button was pressed.
    pub on_action: Callback<Action>,
}

fn select_value(e: &Event) -> String {
    e.target_unchecked_into::<HtmlSelectElement>().value()
}

fn input_value(e: &Event) -> String {
    e.target_unchecked_into::<HtmlInputElement>().value()
}

/// The control panel.
#[function_component(Controls)]
pub fn controls(p: &ControlsProps) -> Html {
    let s = &p.settings.run;
    let change = |f: fn(&Event) -> Option<Change>| {
        let cb = p.on_change.clone();
        Callback::from(move |e: Event| {
            if let Some(c) = f(&e) {
                cb.emit(c)
            }
        })
    };
    let live_input = |f: fn(&str) -> Option<Change>| {
        let cb = p.on_change.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(c) = f(&e.target_unchecked_into::<HtmlInputElement>().value()) {
                cb.emit(c)
            }
        })
    };
    let typed = |field: Field, read: fn(&str) -> Option<Change>| {
        let cb = p.on_change.clone();
        Callback::from(move |e: Event| {
            let text = input_value(&e);
            cb.emit(read(text.trim()).unwrap_or(Change::Rejected(Draft { field, text })))
        })
    };
    let shown = |field: Field, value: String| match &p.draft {
        Some(d) if d.field == field => d.text.clone(),
        _ => value,
    };
    let action = |a: Action| {
        let cb = p.on_action.clone();
        Callback::from(move |_: MouseEvent| cb.emit(a))
    };
    let uses_k = s.tunables.interest.rule.is_rumor_mongering();
    let lab = p.settings.lab.protocol;
    let play_label = if p.playing {
        html! { <>{ icon(Icon::Pause) }{ "Pause" }</> }
    } else if p.finished {
        html! { <>{ icon(Icon::Play) }{ "Replay" }</> }
    } else {
        html! { <>{ icon(Icon::Play) }{ "Play" }</> }
    };
    html! {
        <section class="panel controls" aria-label="Controls">
            <div class="buttons">
                <button class="primary" data-testid="play" onclick={action(Action::TogglePlay)}
                    title="Play / pause (space)">{ play_label }</button>
                <button data-testid="step-back" onclick={action(Action::Back)} title="One round back (←)" aria-label="Back">{ icon(Icon::Back) }{ "Back" }</button>
                <button data-testid="step" onclick={action(Action::Step)} title="One round (→)">{ "Step" }{ icon(Icon::Step) }</button>
                <button data-testid="reset" onclick={action(Action::Reset)} title="Back to round 0 (r)">{ "↺ Reset" }</button>
            </div>
            <label>{ "Protocol" }
                <select data-testid="protocol" onchange={change(|e| {
                    let v = select_value(e);
                    Protocol::from_name(&v).map(Change::Protocol).or_else(|| ProtocolInfo::named(&v).map(Change::Lab))
                })}>
                    <optgroup label="Spread a rumor, round by round">
                        { for Protocol::ALL.iter().map(|&x| html! {
                            <option value={x.name()} selected={lab.is_none() && x == s.protocol}>{ protocol_label(x) }</option>
                        }) }
                    </optgroup>
                    <optgroup label="Protocol lab, in real time">
                        { for ProtocolInfo::all().map(|x| html! {
                            <option value={x.name} selected={lab == Some(x)}>{ x.label }</option>
                        }) }
                    </optgroup>
                </select>
            </label>
            if let Some(lab) = lab { { lab_controls(p, lab) } } else {
            <label>{ "Stop rule" }
                <select data-testid="stop" onchange={change(|e| StopRule::from_name(&select_value(e)).map(Change::Stop))}>
                    { for StopRule::ALL.iter().map(|&x| html! {
                        <option value={x.name()} selected={x == s.tunables.interest.rule}>{ stop_label(x) }</option>
                    }) }
                </select>
            </label>
            if uses_k {
                <label>{ "k " }<output>{ s.tunables.interest.k }</output>
                    <input type="range" min="1" max={s.tunables.interest.k.max(10).to_string()} value={s.tunables.interest.k.to_string()} data-testid="k"
                        oninput={live_input(|v| v.parse().ok().map(Change::K))} />
                </label>
            }
            <label>{ "Fanout " }<output>{ s.tunables.fanout }</output>
                <input type="range" min="1" max="16" value={s.tunables.fanout.to_string()} data-testid="fanout"
                    oninput={live_input(|v| v.parse().ok().map(Change::Fanout))} />
            </label>
            <label>{ "Loss " }<output>{ format!("{:.0} %", s.tunables.loss * 100.0) }</output>
                <input type="range" min="0" max="100" step="1" value={format!("{}", (s.tunables.loss * 100.0).round())} data-testid="loss"
                    oninput={live_input(|v| v.parse::<f64>().ok().map(|x| Change::Loss((x / 100.0).clamp(0.0, 1.0))))} />
            </label>
            }
            <label>{ "Speed" }
                <select data-testid="speed" onchange={change(|e| select_value(e).parse().ok().map(Change::Speed))}>
                    { for SPEEDS.iter().map(|&x| html! {
                        <option value={x.to_string()} selected={x == p.settings.speed}>
                            { if x == 0 { "as fast as possible".to_string() } else { format!("{x} {}/s", if lab.is_some() { "periods" } else { "rounds" }) } }
                        </option>
                    }) }
                </select>
            </label>
            <fieldset>
                <legend>{ "New run" }</legend>
                <label>{ "Nodes" }
                    <input type="number" min="2" max={PAGE_MAX_NODES.to_string()} value={shown(Field::Nodes, s.nodes.to_string())} data-testid="nodes"
                        list="node-presets" onchange={typed(Field::Nodes, |v| v.parse().ok().map(Change::Nodes))} />
                    <datalist id="node-presets">
                        { for [20u32, 50, 100, 200, 500, 1_000, 2_000, 10_000, 100_000, 1_000_000].iter().map(|n| html! { <option value={n.to_string()} /> }) }
                    </datalist>
                </label>
                if lab.is_none() {
                <label>{ "Topology" }
                    <select data-testid="topology" onchange={change(|e| Topology::from_name(&select_value(e)).map(Change::Topology))}>
                        { for Topology::ALL.iter().map(|&x| html! {
                            <option value={x.name()} selected={x == s.topology}>{ topology_label(x) }</option>
                        }) }
                    </select>
                </label>
                <label>{ "Crashed at start " }<output>{ format!("{:.0} %", s.crashed * 100.0) }</output>
                    <input type="range" min="0" max="90" step="5" value={format!("{}", (s.crashed * 100.0).round())} data-testid="crashed"
                        onchange={change(|e| input_value(e).parse::<f64>().ok().map(|x| Change::Crashed((x / 100.0).clamp(0.0, 0.9))))} />
                </label>
                }
                <label>{ "Seed" }
                    <span class="seed-row">
                        <input type="text" inputmode="numeric" value={shown(Field::Seed, s.seed.to_string())} data-testid="seed"
                            onchange={typed(Field::Seed, |v| v.parse().ok().map(Change::Seed))} />
                        <button onclick={{ let cb = p.on_change.clone(); Callback::from(move |_: MouseEvent| cb.emit(Change::RandomSeed)) }}
                            title="A new random seed">{ "Random" }</button>
                    </span>
                </label>
            </fieldset>
            <button class="link" data-testid="go-live" title="This tab becomes a real node, gossiping with your other tabs (and other browsers through the server) over WebRTC"
                onclick={{ let cb = p.on_change.clone(); Callback::from(move |_: MouseEvent| cb.emit(Change::GoLive)) }}>
                { "Go live: gossip between real tabs" }</button>
            <button class="link" onclick={action(Action::CopyLink)} data-testid="copy-link">
                { if p.copied { "✓ Link copied" } else { "Copy link to these settings" } }
            </button>
            if lab.is_some() {
                <p class="hint">{ "Keys: space play/pause · → one period · r back to 0 s. Click the picture to inspect a node; click the timeline to replay to that moment." }</p>
            } else {
                <p class="hint">{ "Keys: space play/pause · → step · r reset. Click a node: before the first round it becomes the source; after, it crashes or revives (shift-click crashes at any time)." }</p>
            }
        </section>
    }
}

/// The lab's own settings: loss at the start, Lifeguard, push-pull, the aggregate.
fn lab_controls(p: &ControlsProps, lab: &ProtocolInfo) -> Html {
    let s = &p.settings;
    let cb = p.on_change.clone();
    let loss = Callback::from(move |e: Event| {
        if let Ok(x) = input_value(&e).parse::<f64>() {
            cb.emit(Change::Loss((x / 100.0).clamp(0.0, 1.0)))
        }
    });
    let cb = p.on_change.clone();
    let lifeguard = Callback::from(move |e: Event| {
        cb.emit(Change::Lifeguard(
            e.target_unchecked_into::<HtmlInputElement>().checked(),
        ))
    });
    let cb = p.on_change.clone();
    let push_pull = Callback::from(move |e: Event| {
        cb.emit(Change::PushPull(
            e.target_unchecked_into::<HtmlInputElement>().checked(),
        ))
    });
    let cb = p.on_change.clone();
    let aggregate = Callback::from(move |e: Event| {
        if let Some(a) = Aggregate::from_name(&select_value(&e)) {
            cb.emit(Change::Aggregate(a))
        }
    });
    let cb = p.on_change.clone();
    let fanout = Callback::from(move |e: Event| {
        if let Ok(f) = input_value(&e).parse::<u8>() {
            cb.emit(Change::Fanout(f))
        }
    });
    let cb = p.on_change.clone();
    let stop = Callback::from(move |e: Event| {
        if let Some(r) = StopRule::from_name(&select_value(&e)) {
            cb.emit(Change::Stop(r))
        }
    });
    html! { <>
        <label>{ "Link loss from the start " }<output>{ format!("{:.0} %", s.run.tunables.loss * 100.0) }</output>
            <input type="range" min="0" max="100" step="1" value={format!("{}", (s.run.tunables.loss * 100.0).round())} data-testid="loss"
                onchange={loss} title="Replays the run to the current time with this loss" />
        </label>
        if lab.takes(LabOption::Lifeguard) {
            <label class="check">
                <input type="checkbox" checked={s.lab.lifeguard} onchange={lifeguard} data-testid="lab-lifeguard" />
                { "Lifeguard (local health, dynamic suspicion timeout)" }
            </label>
        }
        if lab.takes(LabOption::PushPull) {
            <label class="check" title="A full-state exchange with one member every 5 periods, as memberlist does (live mode: every 2): what rejoins the sides of a healed split">
                <input type="checkbox" checked={s.lab.push_pull} onchange={push_pull} data-testid="lab-pushpull" />
                { "Push-pull sync every 5 periods (memberlist)" }
            </label>
        }
        if lab.takes(LabOption::Fanout) {
            <label>{ "Fanout " }<output>{ s.run.tunables.fanout }</output>
                <input type="range" min="1" max="8" step="1" value={s.run.tunables.fanout.to_string()} data-testid="fanout"
                    onchange={fanout} title="Peers each node tells per interval (replays the run)" />
            </label>
        }
        if lab.takes(LabOption::Stop) {
            <label>{ "Stop rule" }
                <select data-testid="stop" onchange={stop}>
                    { for StopRule::ALL.iter().map(|&r| html! {
                        <option value={r.name()} selected={r == s.run.tunables.interest.rule}>{ stop_label(r) }</option>
                    }) }
                </select>
            </label>
        }
        if lab.takes(LabOption::Aggregate) {
            <label>{ "Compute" }
                <select onchange={aggregate} data-testid="lab-aggregate">
                    { for Aggregate::ALL.iter().map(|&a| html! {
                        <option value={a.name()} selected={a == s.lab.aggregate}>{ aggregate_label(a) }</option>
                    }) }
                </select>
            </label>
        }
    </> }
}

/// The protocol's name for people.
pub fn protocol_label(p: Protocol) -> &'static str {
    match p {
        Protocol::Push => "Push",
        Protocol::Pull => "Pull",
        Protocol::PushPull => "Push-pull",
    }
}

/// The stop rule's name for people.
pub fn stop_label(r: StopRule) -> &'static str {
    match r {
        StopRule::Never => "Never (anti-entropy)",
        StopRule::FeedbackCounter => "Feedback + counter",
        StopRule::FeedbackCoin => "Feedback + coin",
        StopRule::BlindCounter => "Blind + counter",
        StopRule::BlindCoin => "Blind + coin",
    }
}

/// The topology's name for people.
pub fn topology_label(t: Topology) -> &'static str {
    match t {
        Topology::Complete => "Complete graph",
        Topology::Ring => "Ring",
        Topology::Torus => "2-D torus",
        Topology::Regular => "Random 4-regular",
        Topology::SmallWorld => "Small world",
        Topology::ScaleFree => "Scale-free",
    }
}

/// The aggregate's name for people.
pub fn aggregate_label(a: Aggregate) -> &'static str {
    match a {
        Aggregate::Average => "Average of the values",
        Aggregate::Sum => "Sum of the values",
        Aggregate::Count => "Count of the nodes",
    }
}

/// A button's glyph.
#[derive(Clone, Copy)]
pub enum Icon {
    /// A triangle.
    Play,
    /// Two bars.
    Pause,
    /// A bar and a triangle pointing left.
    Back,
    /// A triangle pointing right and a bar.
    Step,
}

/// `icon` as inline SVG in the text's colour: a glyph such as U+23F8 (pause) is an empty box
/// on a system without an emoji font.
pub fn icon(icon: Icon) -> Html {
    let path = match icon {
        Icon::Play => "M3 2 L13 8 L3 14 Z",
        Icon::Pause => "M3 2 H6.5 V14 H3 Z M9.5 2 H13 V14 H9.5 Z",
        Icon::Back => "M2 2 H4.5 V14 H2 Z M14 2 V14 L5.5 8 Z",
        Icon::Step => "M2 2 L10.5 8 L2 14 Z M11.5 2 H14 V14 H11.5 Z",
    };
    html! {
        <svg class="icon" viewBox="0 0 16 16" width="12" height="12" aria-hidden="true">
            <path d={path} fill="currentColor" />
        </svg>
    }
}
