//! The conductor's panel: the room-wide knobs, the split, freezing a member, starting a rumor
//! at a member, the question, the reset, the student link as a QR code to project, and the
//! class script that steps a teacher through them ([`SCRIPT`]).
//! Shown only in the tab the server vouched for; each button signs an order
//! ([`grapevine_core::lab::conduct`]) that the server gives the whole room.

use grapevine_core::lab::conduct::{Command, Settings, INTERVALS_MS, MAX_GROUPS};
use grapevine_core::lab::NodeId;
use grapevine_core::rules::StopRule;
use grapevine_core::signal::peer_hex as hex;
use yew::prelude::*;

/// The student link: this page's address without the conductor token, with the room's join
/// code if the server asks for one (a scan joins at once; the code is also shown to type).
pub fn student_link(room: &str, code: Option<&str>) -> String {
    let location = web_sys::window().map(|w| w.location());
    let base = location
        .and_then(|l| Some(format!("{}{}", l.origin().ok()?, l.pathname().ok()?)))
        .unwrap_or_default();
    match code {
        Some(code) => format!("{base}?live={room}&code={code}"),
        None => format!("{base}?live={room}"),
    }
}

/// `link` as an SVG QR code (the qrcode crate's renderer), large enough to project.
pub fn qr_svg(link: &str) -> Html {
    let Ok(code) = qrcode::QrCode::new(link.as_bytes()) else {
        return html! { <p class="error">{ "The link is too long for a QR code." }</p> };
    };
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(220, 220)
        .dark_color(qrcode::render::svg::Color("#0f172a"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build();
    // Our own renderer's output for a link we built: markup, not user text.
    Html::from_html_unchecked(AttrValue::from(svg))
}

/// Splits `members` (with their places in the picture) into `groups` contiguous slices of
/// the picture, by angle around its middle: the room view shows the groups as sectors.
pub fn split_by_angle(members: &[(NodeId, (f64, f64))], groups: u8) -> Command {
    let mut by_angle: Vec<(f64, NodeId)> = members
        .iter()
        .map(|&(id, (x, y))| (y.atan2(x), id))
        .collect();
    by_angle.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let groups = groups.clamp(1, MAX_GROUPS);
    let n = by_angle.len().max(1);
    let members = by_angle
        .iter()
        .enumerate()
        .map(|(i, &(_, id))| (id, (i * usize::from(groups) / n) as u8))
        .collect();
    Command::Split { groups, members }
}

/// What the panel needs.
pub struct PanelProps {
    /// Groups now (1: one room).
    pub groups: u8,
    /// The member picked in the picture, if any, and whether it is frozen.
    pub picked: Option<(NodeId, bool)>,
    /// The student link.
    pub link: String,
    /// The room's join code, if the server asks for one, and the ms until it changes
    /// (`None`: fixed).
    pub code: Option<(String, Option<u64>)>,
    /// The room is locked (no new members).
    pub locked: bool,
    /// Each address the room's members joined from and its members (this tab not counted),
    /// most first.
    pub addresses: Vec<(String, Vec<NodeId>)>,
    /// Newcomers wait at the door to be admitted.
    pub waiting_room: bool,
    /// Those waiting, by address, first come first.
    pub waiting: Vec<(String, Vec<NodeId>)>,
    /// The histogram of guesses (or a hint).
    pub guesses: Html,
    /// A question is open.
    pub asked: bool,
    /// The class script at its step (see [`script`]).
    pub script: Html,
}

/// The callbacks the panel's controls fire.
pub struct PanelActions {
    /// Apply the knobs in the fields.
    pub apply: Callback<MouseEvent>,
    /// The split select changed.
    pub split: Callback<Event>,
    /// Heal the room.
    pub heal: Callback<MouseEvent>,
    /// Reset rumors and counters.
    pub reset: Callback<MouseEvent>,
    /// Ask for guesses.
    pub ask: Callback<MouseEvent>,
    /// Start a rumor at the picked member.
    pub rumor_at: Callback<MouseEvent>,
    /// Freeze or thaw the picked member.
    pub freeze: Callback<MouseEvent>,
    /// Lock or unlock the room.
    pub lock: Callback<MouseEvent>,
    /// Remove the picked member.
    pub remove: Callback<MouseEvent>,
    /// Remove these members (an address's row, as drawn: a click removes what it showed).
    pub remove_members: Callback<Vec<NodeId>>,
    /// Open or close the waiting room.
    pub waiting_room: Callback<MouseEvent>,
    /// Admit these newcomers (one, or all those shown).
    pub admit: Callback<Vec<NodeId>>,
    /// Download the room's record.
    pub record: Callback<MouseEvent>,
}

/// The fields the panel reads when applying.
#[derive(Default, Clone)]
pub struct PanelFields {
    /// Fanout.
    pub fanout: NodeRef,
    /// Interval.
    pub interval: NodeRef,
    /// Loss, %.
    pub loss: NodeRef,
    /// Stop rule.
    pub stop: NodeRef,
    /// Stop rule's k.
    pub k: NodeRef,
    /// The split select.
    pub split: NodeRef,
}

impl PanelFields {
    /// Puts `s` in the knob fields, once they exist; true when done. The fields are not
    /// bound to the settings (a redraw would overwrite what the conductor is typing): they
    /// are filled when the panel appears, and read when the conductor applies them.
    pub fn fill(&self, s: &Settings) -> bool {
        let input = |r: &NodeRef, v: String| {
            r.cast::<web_sys::HtmlInputElement>()
                .map(|el| el.set_value(&v))
                .is_some()
        };
        let select = |r: &NodeRef, v: String| {
            r.cast::<web_sys::HtmlSelectElement>()
                .map(|el| el.set_value(&v))
                .is_some()
        };
        input(&self.fanout, s.fanout.to_string())
            && select(&self.interval, s.interval_ms.to_string())
            && input(&self.loss, s.loss_percent.to_string())
            && select(&self.stop, s.stop.to_string())
            && input(&self.k, s.k.to_string())
    }
}

/// The panel. Its knob fields are filled by [`PanelFields::fill`].
pub fn panel(p: &PanelProps, on: &PanelActions, fields: &PanelFields) -> Html {
    html! {
        <section class="panel controls conductor" data-testid="conductor-panel" aria-label="Conductor">
            <h2>{ "Conductor" }</h2>
            <p class="hint">{ "Students open " }<code class="link">{ &p.link }</code>{ " or scan:" }</p>
            <div class="qr" data-testid="conductor-qr" title={p.link.clone()}>{ qr_svg(&p.link) }</div>
            if let Some((code, left)) = &p.code {
                <p class="join-code-shown">{ "Join code " }<strong data-testid="conductor-code">{ code }</strong>
                    if let Some(ms) = left {
                        <span class="hint">{ format!(" · new code in {} min (this one works 5 more)", ms.div_ceil(60_000)) }</span>
                    }
                </p>
            }

            { p.script.clone() }
            <fieldset>
                <legend>{ "The room's knobs (every member, within a second)" }</legend>
                <label>{ "Fanout" }
                    <input ref={fields.fanout.clone()} type="number" min="1" max="16" data-testid="conductor-fanout" />
                </label>
                <label>{ "Rumor interval" }
                    <select ref={fields.interval.clone()} data-testid="conductor-interval">
                        { for INTERVALS_MS.iter().map(|&ms| html! {
                            <option value={ms.to_string()}>{ format!("{ms} ms") }</option>
                        }) }
                    </select>
                </label>
                <label>{ "Loss on send, %" }
                    <input ref={fields.loss.clone()} type="number" min="0" max="100" data-testid="conductor-loss" />
                </label>
                <label>{ "Stop rule" }
                    <select ref={fields.stop.clone()} data-testid="conductor-stop">
                        { for StopRule::ALL.iter().enumerate().map(|(i, r)| html! {
                            <option value={i.to_string()}>{ r.name() }</option>
                        }) }
                    </select>
                </label>
                <label>{ "k (counter limit, or 1/k coin)" }
                    <input ref={fields.k.clone()} type="number" min="1" max="255" data-testid="conductor-k" />
                </label>
                <button class="primary" data-testid="conductor-apply" onclick={on.apply.clone()}>{ "Apply to the room" }</button>
            </fieldset>
            <fieldset>
                <legend>{ "Faults" }</legend>
                <label>{ "Split the room (members drop messages from other groups)" }
                    <select ref={fields.split.clone()} data-testid="conductor-split" onchange={on.split.clone()}>
                        { for (1..=MAX_GROUPS).map(|g| html! {
                            <option value={g.to_string()} selected={p.groups == g}>{ if g == 1 { "one room".to_string() } else { format!("{g} groups") } }</option>
                        }) }
                    </select>
                </label>
                <button data-testid="conductor-heal" onclick={on.heal.clone()} disabled={p.groups <= 1}>{ "Heal the split" }</button>
                if let Some((id, frozen)) = p.picked {
                    <p class="hint">{ "Picked " }<code>{ hex(id) }</code></p>
                    <button data-testid="conductor-rumor-at" onclick={on.rumor_at.clone()}>{ "Start a rumor there" }</button>
                    <button data-testid="conductor-freeze" onclick={on.freeze.clone()}>{ if frozen { "Thaw it" } else { "Freeze it (as if crashed)" } }</button>
                } else {
                    <p class="hint">{ "Click a member in the room to start a rumor there or freeze it." }</p>
                }
            </fieldset>
            <fieldset>
                <legend>{ "Who is in the room" }</legend>
                <button data-testid="conductor-lock" aria-pressed={p.locked.to_string()} onclick={on.lock.clone()}>
                    { if p.locked { "Unlock the room (newcomers may join)" } else { "Lock the room (no new members)" } }
                </button>
                <p class="hint">{ if p.locked { "Locked: only members already admitted can come back." } else { "Open: anyone with the link (and the code, if any) joins." } }</p>
                <button data-testid="conductor-waiting-room" aria-pressed={p.waiting_room.to_string()} onclick={on.waiting_room.clone()}>
                    { if p.waiting_room { "Close the waiting room (newcomers join at once)" } else { "Open a waiting room (you admit each newcomer)" } }
                </button>
                { waiting(p.waiting_room, &p.waiting, &on.admit, &on.remove_members) }
                { addresses(&p.addresses, &on.remove_members) }
                if let Some((id, _)) = p.picked {
                    <button class="danger" data-testid="conductor-remove" onclick={on.remove.clone()}>{ format!("Remove {} from the room", hex(id)) }</button>
                } else {
                    <p class="hint">{ "Click a member in the room to remove it: its connection ends and its key is refused for the session." }</p>
                }
            </fieldset>
            <fieldset>
                <legend>{ "Predict, then run" }</legend>
                <button data-testid="conductor-ask" onclick={on.ask.clone()}>{ if p.asked { "Ask again (new question)" } else { "Ask: how many seconds until everyone knows?" } }</button>
                { p.guesses.clone() }
            </fieldset>
            <fieldset>
                <legend>{ "The room as data" }</legend>
                <button data-testid="conductor-record" onclick={on.record.clone()}>{ "Download the room's record (JSON lines)" }</button>
                <p class="hint">{ "Who heard each rumor, from whom and when, and every member's links: " }<code>{ "grapevine sweep --room FILE" }</code>{ " draws it beside the simulator." }</p>
            </fieldset>
            <button class="danger" data-testid="conductor-reset" onclick={on.reset.clone()}>{ "Reset the room's rumors and counters" }</button>
        </section>
    }
}

/// An address as the projected tab shows it: its end only, enough to tell rows apart.
fn address_end(address: &str) -> String {
    match address.rsplit_once('.') {
        Some((_, last)) => format!("…{last}"),
        None => format!("…{}", &address[address.len().saturating_sub(9)..]),
    }
}

/// Newcomers listed at most; "Admit all" admits those listed.
const WAITING_ROWS: usize = 12;

/// Who waits at the door, each with a button to let it in (`conductor-admit`) or turn it
/// away, and one to admit all those shown.
fn waiting(
    on: bool,
    rows: &[(String, Vec<NodeId>)],
    admit: &Callback<Vec<NodeId>>,
    remove: &Callback<Vec<NodeId>>,
) -> Html {
    let all: Vec<(String, NodeId)> = rows
        .iter()
        .flat_map(|(address, members)| members.iter().map(move |&m| (address.clone(), m)))
        .collect();
    if all.is_empty() {
        return if on {
            html! { <p class="hint" data-testid="conductor-waiting" data-count="0">{ "Nobody is waiting at the door." }</p> }
        } else {
            Html::default()
        };
    }
    let shown: Vec<NodeId> = all.iter().take(WAITING_ROWS).map(|&(_, m)| m).collect();
    let more = all.len().saturating_sub(WAITING_ROWS);
    let admit_all = {
        let (admit, shown) = (admit.clone(), shown.clone());
        Callback::from(move |_| admit.emit(shown.clone()))
    };
    html! {
        <div class="waiting-box" data-testid="conductor-waiting" data-count={all.len().to_string()}>
            <p><strong>{ format!("{} waiting at the door", all.len()) }</strong>
                <button class="primary" data-testid="conductor-admit-all" onclick={admit_all}>{ format!("Admit all {}", shown.len()) }</button>
            </p>
            <ul class="addresses">
                { for all.iter().take(WAITING_ROWS).map(|(address, member)| {
                    let (admit, remove, member) = (admit.clone(), remove.clone(), *member);
                    html! {
                        <li data-peer={hex(member)}>
                            <code>{ hex(member) }</code>{ " from " }<code title="the address's end">{ address_end(address) }</code>
                            <button class="primary" data-testid="conductor-admit" data-peer={hex(member)}
                                onclick={Callback::from(move |_| admit.emit(vec![member]))}>{ "Admit" }</button>
                            <button class="danger" data-testid="conductor-turn-away" data-peer={hex(member)}
                                onclick={Callback::from(move |_| remove.emit(vec![member]))}>{ "Turn away" }</button>
                        </li>
                    }
                }) }
            </ul>
            if more > 0 { <p class="hint">{ format!("and {more} more") }</p> }
        </div>
    }
}

/// Addresses shown at most (the most members first): a flood is at the top.
const ADDRESS_ROWS: usize = 6;

/// The room's members by address, each with a button that removes all of them at once: a
/// class behind one NAT shares one address, and a flood from one machine stands out.
fn addresses(rows: &[(String, Vec<NodeId>)], remove: &Callback<Vec<NodeId>>) -> Html {
    if rows.is_empty() {
        return Html::default();
    }
    let more = rows.len().saturating_sub(ADDRESS_ROWS);
    html! {
        <details class="addresses-box">
        <summary>{ format!("Members by address ({} address{})", rows.len(), if rows.len() == 1 { "" } else { "es" }) }</summary>
        <p class="hint">{ "Where members joined from: a class behind one router shares one address; a machine flooding the room stands out. Lock the room first, then remove a flood in one click." }</p>
        <ul class="addresses">
            { for rows.iter().take(ADDRESS_ROWS).map(|(address, members)| {
                let (remove, members) = (remove.clone(), members.clone());
                let n = members.len();
                html! {
                    <li data-testid="conductor-address" data-address={address.clone()} data-count={n.to_string()}>
                        <code title="the address's end">{ address_end(address) }</code>{ format!(" · {n} member{}", if n == 1 { "" } else { "s" }) }
                        if n > 0 {
                            <button class="danger" data-testid="conductor-remove-address"
                                onclick={Callback::from(move |_| remove.emit(members.clone()))}>{ format!("Remove all {n}") }</button>
                        }
                    </li>
                }
            }) }
        </ul>
        if more > 0 { <p class="hint">{ format!("and {more} more address(es)") }</p> }
        </details>
    }
}

/// What a step of the class script does when the conductor presses its button: the same
/// orders as the panel's own buttons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cue {
    /// Nothing to press: the teacher talks.
    Talk,
    /// Ask for guesses.
    Ask,
    /// Start a rumor at the picked member (or, with none picked, at another member).
    Rumor,
    /// Split the room in two.
    Split,
    /// Heal the split.
    Heal,
    /// Freeze or thaw the picked member.
    Freeze,
}

/// One step of the class script.
pub struct ScriptStep {
    /// Its name, in the list of steps.
    pub title: &'static str,
    /// What the teacher says or asks (projected with the room).
    pub say: &'static str,
    /// Its button.
    pub cue: Cue,
}

/// The class script lesson 14 promises: predict, run, break, heal, crash, discuss. A
/// teacher steps through it with Next / Back or a clicker (PageDown / PageUp); each step's
/// button gives the room the order it names.
pub const SCRIPT: &[ScriptStep] = &[
    ScriptStep {
        title: "Everyone joins",
        say: "Students scan the code or open the link: each tab becomes a real node of the room, \
              gossiping with the others over WebRTC. Wait until most of the class is in the picture.",
        cue: Cue::Talk,
    },
    ScriptStep {
        title: "Predict",
        say: "Ask the class: a rumor starts at one tab and each tab tells a few random others every \
              interval. How many seconds until every tab knows? Each student types a guess; the chart \
              below gathers them.",
        cue: Cue::Ask,
    },
    ScriptStep {
        title: "Run it",
        say: "Start a rumor at a student's tab (click a member in the picture to choose it) and watch \
              it cross the room. Compare the measured time with the guesses and with theory.",
        cue: Cue::Rumor,
    },
    ScriptStep {
        title: "Split the room",
        say: "Split the room in two: each half now drops every message from the other, as if the \
              network between them were cut. Ask: what happens to a rumor now?",
        cue: Cue::Split,
    },
    ScriptStep {
        title: "A rumor in one half",
        say: "Start a rumor in one half: it reaches its own half and stops at the border. Ask: what \
              will happen when the network heals?",
        cue: Cue::Rumor,
    },
    ScriptStep {
        title: "Heal",
        say: "Heal the split: the first exchanges across the old border carry the rumor over, and \
              the other half learns it within a few intervals, with nobody in charge.",
        cue: Cue::Heal,
    },
    ScriptStep {
        title: "A crash",
        say: "Click a member and freeze it: it neither sends nor answers, as if its laptop closed. \
              The others stop hearing from it, suspect it, then declare it dead. Thaw it and it \
              comes back.",
        cue: Cue::Freeze,
    },
    ScriptStep {
        title: "Discuss",
        say: "Was the room slower or faster than theory, and why (Wi-Fi latency, the relay, the \
              interval, loss)? What did the split cost? Reset the room's rumors to play again.",
        cue: Cue::Talk,
    },
];

/// The class script's panel at step `at`: what to say, the step's button, Back and Next.
/// `picked`: the member picked in the picture, and whether it is frozen.
pub fn script(
    at: usize,
    picked: Option<(NodeId, bool)>,
    on_go: &Callback<usize>,
    on_cue: &Callback<Cue>,
) -> Html {
    let at = at.min(SCRIPT.len() - 1);
    let step = &SCRIPT[at];
    let cue = step.cue;
    let (label, enabled) = match cue {
        Cue::Talk => ("", false),
        Cue::Ask => ("Ask for guesses", true),
        Cue::Rumor if picked.is_some() => ("Start a rumor at the picked member", true),
        Cue::Rumor => ("Start a rumor at a student's tab", true),
        Cue::Split => ("Split the room in two", true),
        Cue::Heal => ("Heal the split", true),
        Cue::Freeze => match picked {
            Some((_, true)) => ("Thaw the picked member", true),
            Some(_) => ("Freeze the picked member", true),
            None => ("Freeze: click a member first", false),
        },
    };
    let go = |to: usize| {
        let on_go = on_go.clone();
        Callback::from(move |_: MouseEvent| on_go.emit(to))
    };
    let on_cue = on_cue.clone();
    html! {
        <fieldset class="script" data-testid="conductor-script" data-step={(at + 1).to_string()}>
            <legend>{ format!("Class script · step {} of {}", at + 1, SCRIPT.len()) }</legend>
            <ol class="script-steps" aria-label="Steps">
                { for SCRIPT.iter().enumerate().map(|(i, s)| html! {
                    <li class={classes!((i == at).then_some("now"), (i < at).then_some("done"))}
                        title={s.title} aria-current={(i == at).then_some("step")}></li>
                }) }
            </ol>
            <h3 data-testid="script-title">{ step.title }</h3>
            <p class="say">{ step.say }</p>
            if cue != Cue::Talk {
                <button class="primary" data-testid="script-do" disabled={!enabled}
                    onclick={Callback::from(move |_| on_cue.emit(cue))}>{ label }</button>
            }
            <div class="script-nav">
                <button data-testid="script-prev" title="The previous step (PageUp)" disabled={at == 0} onclick={go(at.saturating_sub(1))}>{ "← Back" }</button>
                <button data-testid="script-next" title="The next step (PageDown, a clicker's next)" disabled={at + 1 == SCRIPT.len()} onclick={go(at + 1)}>{ "Next →" }</button>
            </div>
        </fieldset>
    }
}
