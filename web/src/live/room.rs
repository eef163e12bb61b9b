//! The room view: every member of the live room, its links, and the selected rumor's
//! infection tree (who told whom, when, at how many hops), replayable, with the measured
//! curve beside theory's. Drawn from the records members gossip ([`room`]), in the
//! simulator's palette. SVG: a room is at most a few hundred members, and each member is an
//! element automation can read (`room-node`, `room-edge`).

use crate::charts::{time_chart, Axis, Series};
use crate::draw::node_colour;
use crate::palette;
use grapevine_core::lab::conduct::Podium;
use grapevine_core::lab::room::{self, Carrier, Heard, Layout, RoomMember, Spread};
use grapevine_core::lab::rumor::RumorId;
use grapevine_core::lab::swim::MemberState;
use grapevine_core::lab::NodeId;
use grapevine_core::signal::peer_hex as hex;
use grapevine_core::{NodeView, Phase};
use std::collections::BTreeMap;
use yew::prelude::*;

/// The picture's size, SVG units.
const SIZE: f64 = 600.0;
/// Group outlines while the room is split, by group.
const GROUP_COLOURS: [&str; 3] = ["#0072b2", "#cc79a7", "#009e73"];

/// What the room view shows.
pub struct Scene<'a> {
    /// Every member, with its record.
    pub members: &'a [RoomMember],
    /// The selected rumor's spread, if any.
    pub spread: Option<&'a Spread>,
    /// The replay's time, ms after the rumor's birth (the slider; now when live).
    pub at_ms: i64,
    /// The conductor's split and freezes.
    pub podium: &'a Podium,
    /// The member the conductor picked, if any.
    pub picked: Option<NodeId>,
}

/// A member's state for the selected rumor at the replay's time.
fn state_of(m: &RoomMember, spread: Option<&Spread>, at_ms: i64) -> &'static str {
    let Some(s) = spread else {
        return "unaware";
    };
    let t = s.born_ms.saturating_add_signed(at_ms);
    Heard::state_at(m.heard(s.rumor), t)
}

fn colour(state: &str) -> &'static str {
    match state {
        "heard" => palette::NEW,
        "spreading" => node_colour(NodeView::Live(Phase::Spreading)),
        "stopped" => node_colour(NodeView::Live(Phase::Stopped)),
        _ => node_colour(NodeView::Live(Phase::Susceptible)),
    }
}

/// The picture: links as thin lines (dashed: through the server's relay), told-whom arrows
/// up to the replay's time, one circle per member (you ringed in white; suspect ringed in
/// yellow, dead and left faded; frozen in ice blue; the split's groups as coloured rings).
pub fn picture(scene: &Scene<'_>, layout: &mut Layout, on_pick: Callback<NodeId>) -> Html {
    let ids: Vec<NodeId> = scene.members.iter().map(|m| m.id).collect();
    layout.keep_only(&ids);
    let n = scene.members.len().max(1) as f64;
    // Places are about 27 units apart: circles that never touch at 200 members, larger in a
    // small room; arrows thinner as they multiply.
    let r = (130.0 / n.sqrt()).clamp(7.0, 14.0);
    let arrow = (2.6 - n / 100.0).clamp(1.2, 2.2);
    // Links fade as they multiply (a big room's links would hide its arrows).
    let link_opacity = (50.0 / n).clamp(0.3, 1.0);
    let at = |id: NodeId, layout: &mut Layout| {
        let (x, y) = layout.place(id);
        (
            SIZE / 2.0 + x * (SIZE / 2.0 - 24.0),
            SIZE / 2.0 + y * (SIZE / 2.0 - 24.0),
        )
    };
    let places: BTreeMap<NodeId, (f64, f64)> = ids.iter().map(|&id| (id, at(id, layout))).collect();
    let split = scene.podium.group_count > 1;
    // Each link once (either end's record may name it), dashed when relayed.
    let mut links: BTreeMap<(NodeId, NodeId), Carrier> = BTreeMap::new();
    for m in scene.members {
        for &(peer, carrier) in &m.record.links {
            if places.contains_key(&peer) {
                links
                    .entry((m.id.min(peer), m.id.max(peer)))
                    .or_insert(carrier);
            }
        }
    }
    let edges: Vec<_> = scene
        .spread
        .map(|s| {
            s.edges
                .iter()
                .filter(|e| e.after_ms <= scene.at_ms)
                .collect()
        })
        .unwrap_or_default();
    html! {
        <svg class="room-picture" viewBox={format!("0 0 {SIZE} {SIZE}")} role="img" data-testid="room"
            aria-label="The room: every member, its links, and who told whom">
            <defs>
                <marker id="told" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="5" markerHeight="5" orient="auto-start-reverse">
                    <path d="M 0 0 L 10 5 L 0 10 z" fill={palette::INFORMED} />
                </marker>
            </defs>
            <rect width={SIZE.to_string()} height={SIZE.to_string()} rx="10" fill={palette::BACKGROUND} />
            { for links.iter().map(|(&(a, b), carrier)| {
                let ((x1, y1), (x2, y2)) = (places[&a], places[&b]);
                html! { <line class={classes!("room-link", carrier.name())} x1={f(x1)} y1={f(y1)} x2={f(x2)} y2={f(y2)} stroke-opacity={f(link_opacity)} /> }
            }) }
            { for edges.iter().filter(|e| places.contains_key(&e.from) && places.contains_key(&e.to)).map(|e| {
                let ((x1, y1), (x2, y2)) = (places[&e.from], places[&e.to]);
                // Stop short of the receiver's circle so the arrowhead shows.
                let (dx, dy) = (x2 - x1, y2 - y1);
                let len = (dx * dx + dy * dy).sqrt().max(1.0);
                let (x2, y2) = (x2 - dx / len * (r + 2.0), y2 - dy / len * (r + 2.0));
                html! {
                    <line class="room-edge" data-testid="room-edge" data-from={hex(e.from)} data-to={hex(e.to)} data-hops={e.hops.to_string()}
                        x1={f(x1)} y1={f(y1)} x2={f(x2)} y2={f(y2)} stroke={palette::INFORMED} stroke-width={f(arrow)} marker-end="url(#told)">
                        <title>{ format!("{} told {} after {:.1} s ({} hops)", hex(e.from), hex(e.to), e.after_ms as f64 / 1000.0, e.hops) }</title>
                    </line>
                }
            }) }
            { for scene.members.iter().map(|m| {
                let (x, y) = places[&m.id];
                let state = state_of(m, scene.spread, scene.at_ms);
                let status = m.status.name();
                let frozen = scene.podium.frozen.contains(&m.id);
                let group = scene.podium.group_of(m.id);
                let hops = scene.spread.and_then(|s| m.heard(s.rumor)).map(|h| h.hops);
                let faded = !m.status.is_member();
                let id = m.id;
                let pick = on_pick.reform(move |_| id);
                let title = format!(
                    "{}{} · {status} · {state}{}{}",
                    hex(m.id),
                    if m.me { " (you)" } else { "" },
                    hops.map_or(String::new(), |h| format!(" · {h} hops")),
                    if split { format!(" · group {}", group + 1) } else { String::new() },
                );
                html! {
                    <g class={classes!("room-node", faded.then_some("faded"), (scene.picked == Some(m.id)).then_some("picked"))}
                        data-testid="room-node" data-peer={hex(m.id)} data-state={state} data-status={status}
                        data-group={group.to_string()} data-frozen={frozen.to_string()} onclick={pick}>
                        <title>{ title }</title>
                        if split {
                            <circle cx={f(x)} cy={f(y)} r={f(r + 4.0)} fill="none" stroke={GROUP_COLOURS[usize::from(group) % 3]} stroke-width="3" />
                        }
                        <circle cx={f(x)} cy={f(y)} r={f(r)} fill={colour(state)}
                            stroke={ring(m, frozen)} stroke-width={if m.me || frozen || m.status == MemberState::Suspect { "3" } else { "1" }}
                            stroke-dasharray={if m.status == MemberState::Suspect { "3 2" } else { "none" }} />
                        if m.me {
                            <text x={f(x)} y={f(y - r - 6.0)} class="room-you" text-anchor="middle">{ "you" }</text>
                        }
                        if let (Some(h), true) = (hops, n <= 40.0) {
                            <text x={f(x)} y={f(y + 3.5)} class="room-hops" text-anchor="middle">{ h }</text>
                        }
                    </g>
                }
            }) }
        </svg>
    }
}

fn ring(m: &RoomMember, frozen: bool) -> &'static str {
    if frozen {
        "#a5f3fc"
    } else if m.me {
        palette::MARK
    } else if m.status == MemberState::Suspect {
        palette::SUSPECT
    } else if !m.status.is_member() {
        palette::DEAD
    } else {
        palette::BACKGROUND
    }
}

fn f(v: f64) -> String {
    format!("{v:.1}")
}

/// The measured curve (members informed, a step per arrival) over theory's for the room's
/// size and knobs; the replay's time as the chart's "now".
pub fn curve(spread: &Spread, theory: &[(f64, f64)], at_ms: i64) -> Html {
    let mut measured = Vec::with_capacity(spread.curve.len() * 2);
    let mut count = 0.0;
    for &(t, k) in &spread.curve {
        let t = t as f64 / 1000.0;
        measured.push((t, count));
        count = k as f64;
        measured.push((t, count));
    }
    let end_s = spread
        .curve
        .last()
        .map_or(1.0, |&(t, _)| t as f64 / 1000.0)
        .max(theory.last().map_or(1.0, |p| p.0 / 1000.0))
        .max(at_ms as f64 / 1000.0)
        * 1.05;
    // The count holds until now (the replay's time), not beyond.
    let now_s = at_ms as f64 / 1000.0;
    measured.retain(|&(t, _)| t <= now_s);
    if let Some(&(_, k)) = measured.last() {
        measured.push((now_s, k));
    }
    let series = [
        Series {
            colour: palette::SPREADING,
            dashed: false,
            points: measured,
        },
        Series {
            colour: "#334155",
            dashed: true,
            points: theory.iter().map(|&(t, v)| (t / 1000.0, v)).collect(),
        },
    ];
    time_chart(
        "Members informed over time: measured, and theory for this room",
        "room-curve",
        Axis::Linear {
            min_top: spread.members.max(1) as f64,
            percent: false,
        },
        &series,
        &[],
        end_s,
        at_ms as f64 / 1000.0,
    )
}

/// The guesses as a histogram in whole seconds, with the measured time (solid) and theory's
/// (dashed) marked once known.
pub fn guesses_chart(guesses: &[f64], measured_s: Option<f64>, theory_s: Option<f64>) -> Html {
    let top_s = guesses
        .iter()
        .copied()
        .chain(measured_s)
        .chain(theory_s)
        .fold(5.0_f64, f64::max)
        .ceil()
        .min(120.0);
    let bins = top_s as usize + 1;
    let mut counts = vec![0u32; bins];
    for &g in guesses {
        counts[(g.round().max(0.0) as usize).min(bins - 1)] += 1;
    }
    let most = counts.iter().copied().max().unwrap_or(0).max(1);
    let (w, h, left, bottom) = (320.0, 120.0, 8.0, 18.0);
    let bar = (w - 2.0 * left) / bins as f64;
    let x = |s: f64| left + (s + 0.5) * bar;
    html! {
        <svg class="guesses" viewBox={format!("0 0 {w} {h}")} data-testid="guesses" role="img"
            aria-label="The class's guesses: seconds until everyone knows">
            { for counts.iter().enumerate().filter(|(_, &c)| c > 0).map(|(s, &c)| {
                let bh = (h - bottom - 8.0) * f64::from(c) / f64::from(most);
                html! { <rect class="bar" x={f(left + s as f64 * bar + 1.0)} y={f(h - bottom - bh)} width={f(bar - 2.0)} height={f(bh)}>
                    <title>{ format!("{c} guessed {s} s") }</title></rect> }
            }) }
            { for (0..bins).step_by((bins / 8).max(1)).map(|s| html! {
                <text class="tick" x={f(x(s as f64))} y={f(h - 4.0)} text-anchor="middle">{ format!("{s}s") }</text>
            }) }
            if let Some(m) = measured_s {
                <line class="measured-mark" x1={f(x(m))} x2={f(x(m))} y1="4" y2={f(h - bottom)} />
            }
            if let Some(t) = theory_s {
                <line class="theory-mark" x1={f(x(t))} x2={f(x(t))} y1="4" y2={f(h - bottom)} />
            }
        </svg>
    }
}

/// The rumors this member knows, newest first (by birth), for the picker.
pub fn rumor_choices(known: &[(RumorId, u64, String)]) -> Vec<(RumorId, String)> {
    let mut sorted: Vec<&(RumorId, u64, String)> = known.iter().collect();
    sorted.sort_by_key(|(id, born, _)| (std::cmp::Reverse(*born), *id));
    sorted
        .into_iter()
        .map(|(id, _, text)| (*id, format!("“{}” from {}", short(text), hex(id.origin))))
        .collect()
}

fn short(text: &str) -> String {
    let mut s: String = text.chars().take(32).collect();
    if text.chars().count() > 32 {
        s.push('…');
    }
    s
}

/// The room's records as the page says it knows them.
pub const HOW_IT_KNOWS: &str = "How this tab knows: every member gossips a small signed record of its links and of when and from whom it heard each rumor (key-value entries room.…, the last 8 rumors). The picture is eventually consistent: a member's record arrives a few gossip rounds after it changed.";

/// Theory's curve and time for the room (computed in the core), for the view.
pub use room::theory;
