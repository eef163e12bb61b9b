//! The conductor's panel: the room-wide knobs, the split, freezing a member, starting a rumor
//! at a member, the question, the reset, and the student link as a QR code to project.
//! Shown only in the tab the server vouched for; each button signs an order
//! ([`grapevine_core::lab::conduct`]) that the server gives the whole room.

use grapevine_core::lab::conduct::{Command, Settings, INTERVALS_MS, MAX_GROUPS};
use grapevine_core::lab::NodeId;
use grapevine_core::rules::StopRule;
use grapevine_core::signal::peer_hex as hex;
use yew::prelude::*;

/// The student link: this page's address without the conductor token.
pub fn student_link(room: &str) -> String {
    let location = web_sys::window().map(|w| w.location());
    let base = location
        .and_then(|l| Some(format!("{}{}", l.origin().ok()?, l.pathname().ok()?)))
        .unwrap_or_default();
    format!("{base}?live={room}")
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
    /// The histogram of guesses (or a hint).
    pub guesses: Html,
    /// A question is open.
    pub asked: bool,
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
                <legend>{ "Predict, then run" }</legend>
                <button data-testid="conductor-ask" onclick={on.ask.clone()}>{ if p.asked { "Ask again (new question)" } else { "Ask: how many seconds until everyone knows?" } }</button>
                { p.guesses.clone() }
            </fieldset>
            <button class="danger" data-testid="conductor-reset" onclick={on.reset.clone()}>{ "Reset the room's rumors and counters" }</button>
        </section>
    }
}
