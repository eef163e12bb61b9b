//! SWIM's view: the membership matrix (row i: what member i believes of every member), crash
//! detection and false positives, suspect / dead / left over time, a member's list.

use super::super::draw::{outline, LabPainter};
use super::super::sim::{periods, LabSim};
use super::protocol_view::{Chart, ProtocolView};
use crate::charts::{Axis, Series};
use crate::controls::Change;
use crate::draw::blank;
use crate::palette::{self, ALIVE, DEAD, DOWN, LEFT, SELF, SUSPECT, UNKNOWN};
use crate::stats::stat;
use grapevine_core::lab::swim::{MemberState, Spec};
use grapevine_core::lab::Run;
use wasm_bindgen::JsValue;
use web_sys::HtmlCanvasElement;
use yew::prelude::*;

/// The matrix shows at most this many rows and columns; larger groups are binned, each
/// cell showing the worst state in its bin (one suspicion stays visible among thousands).
const MATRIX_MAX_CELLS: u32 = 600;

/// SWIM's view.
pub struct Swim;

fn run(sim: &LabSim) -> Option<&Run<Spec>> {
    sim.run::<Spec>()
}

/// The matrix's margin bands (CSS pixels): a column that someone suspects stands out in
/// the top band even when it is one pixel wide in the matrix.
fn band(size: f64) -> f64 {
    (size * 0.035).max(8.0)
}

/// Where the matrix starts (after the bands), CSS pixels.
fn origin(size: f64) -> f64 {
    band(size) + 2.0
}

/// A matrix row's margin colour: running, crashed, or departed.
fn row_colour(up: bool, left: bool) -> &'static str {
    match (up, left) {
        (false, _) => palette::CRASHED,
        (true, true) => LEFT,
        (true, false) => DOWN,
    }
}

/// Matrix cells per side and members per cell.
fn matrix_cells(n: u32) -> (u32, u32) {
    let per = n.div_ceil(MATRIX_MAX_CELLS).max(1);
    (n.div_ceil(per), per)
}

/// Worse states win a binned cell.
fn severity(state: Option<MemberState>) -> u8 {
    match state {
        None => 0,
        Some(MemberState::Alive) => 1,
        Some(MemberState::Left) => 2,
        Some(MemberState::Suspect) => 3,
        Some(MemberState::Dead) => 4,
    }
}

/// Colours by [`severity`].
const SEVERITY_COLOURS: [&str; 5] = [UNKNOWN, ALIVE, LEFT, SUSPECT, DEAD];

impl ProtocolView for Swim {
    fn name(&self) -> &'static str {
        "swim"
    }

    fn what(&self) -> &'static str {
        "Every member pings one other member per protocol period (1 s). No answer in time: it asks k others to ping it for it, \
         then suspects it; a suspect that does not refute (by raising its incarnation) within the suspicion timeout is declared dead. \
         News of suspicions, deaths, joins and leaves rides on the pings and acks themselves."
    }

    fn picture(&self) -> &'static str {
        "The matrix: row i is what member i believes of every member (column j). A crash shows as a column turning yellow, then red; \
         a partition as two blocks. Click a row to inspect that member."
    }

    fn canvas_title(&self) -> &'static str {
        "Row i: what member i believes of every member. Click a row to inspect it."
    }

    fn message_text(&self) -> &'static str {
        "Every period each member pings one other (blue) and the other acks (violet). When no ack comes in time, \
         the prober asks a few members to ping it in its place (ping-req, orange), and, with Lifeguard, they nack (red) \
         if they hear nothing either. News of members rides on these messages: a ring round a dot says the message \
         spreads a suspicion (yellow) or a death (red). Crash a member and watch its pings go unanswered."
    }

    fn state_picture(&self) -> &'static str {
        "Matrix"
    }

    fn member_legend(&self) -> (Vec<(&'static str, &'static str)>, Option<&'static str>) {
        (
            vec![
                (ALIVE, "alive"),
                (SUSPECT, "suspected"),
                (DEAD, "declared dead"),
                (LEFT, "left"),
            ],
            Some("a member's colour: the worst any running member thinks of it"),
        )
    }

    fn legend(&self) -> (Vec<(&'static str, &'static str)>, Option<&'static str>) {
        (
            vec![
                (ALIVE, "alive"),
                (SUSPECT, "suspect"),
                (DEAD, "dead"),
                (LEFT, "left"),
                (UNKNOWN, "unknown"),
                (SELF, "itself"),
            ],
            Some("top band: the worst any running member thinks of that member · left band: the member itself (pink: crashed) · dim rows: a crashed or departed member's last view"),
        )
    }

    fn stats(&self, sim: &LabSim) -> Html {
        let Some(run) = run(sim) else { return html! {} };
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
            { stat("Crash detection", detection.as_ref().map_or("no crash yet".to_string(), |d| d.0.clone()), Some("lab-detection"),
                Some(detection.map_or("the scenario crashes nobody so far".to_string(), |d| d.1).into())) }
            { stat("False positives", observer.false_positives.len(), Some("lab-false-positives"),
                Some(format!("running members declared dead · {} suspected", observer.false_suspicions.len()).into())) }
        </> }
    }

    fn chart(&self, sim: &LabSim) -> Option<Chart> {
        let samples = run(sim)?.samples();
        Some(Chart {
            title: "Members each live member holds suspect, dead or left (average)",
            label: "Members held suspect, dead or left per live member, over time",
            axis: Axis::Linear {
                min_top: 2.0,
                percent: false,
            },
            series: vec![
                Series::of(samples, LEFT, |s| s.left),
                Series::of(samples, DEAD, |s| s.dead),
                Series::of(samples, SUSPECT, |s| s.suspect),
            ],
            key: vec![(SUSPECT, "suspect"), (DEAD, "dead"), (LEFT, "left")],
        })
    }

    fn status(&self, sim: &LabSim, i: u32) -> Option<&'static str> {
        run(sim)?
            .lab()
            .network()
            .node(i)
            .has_left()
            .then_some("left")
    }

    fn inspector(&self, sim: &LabSim, i: u32, _: &Callback<Change>) -> Html {
        let Some(run) = run(sim) else { return html! {} };
        let node = run.lab().network().node(i);
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

    /// A member's colour on the circle: the worst any running member holds of it, as the
    /// matrix's top band shows (so a crashed member turns yellow, then red, as it is found).
    fn colours(&self, sim: &LabSim) -> Vec<[u8; 4]> {
        let n = sim.len();
        let mut worst = vec![0u8; n as usize];
        if let Some(run) = run(sim) {
            let net = run.lab().network();
            for i in (0..n).filter(|&i| net.is_up(i) && !net.node(i).has_left()) {
                for (member, view) in net.node(i).iter_members() {
                    if let Some(w) = usize::try_from(member.0)
                        .ok()
                        .and_then(|j| worst.get_mut(j))
                    {
                        *w = (*w).max(severity(Some(view.state)));
                    }
                }
            }
        }
        worst
            .into_iter()
            .map(|w| palette::rgba(SEVERITY_COLOURS[w as usize]))
            .collect()
    }

    fn draw(
        &self,
        painter: &mut LabPainter,
        canvas: &HtmlCanvasElement,
        sim: &LabSim,
        selected: Option<u32>,
    ) -> Result<(), JsValue> {
        let Some(run) = run(sim) else { return Ok(()) };
        let net = run.lab().network();
        let (ctx, size) = blank(canvas)?;
        let n = net.len() as u32;
        let (cells, per) = matrix_cells(n);
        let w = cells as usize;
        // Per cell, the worst state its observers hold of its members; per column, the worst
        // any running member holds; per row, whether that member runs.
        let mut worst = vec![0u8; w * w];
        let mut columns = vec![0u8; w];
        let mut rows = vec![row_colour(true, false); w];
        let mut down_rows = vec![false; w];
        for i in 0..n {
            let row = (i / per) as usize;
            let node = net.node(i);
            let running = net.is_up(i) && !node.has_left();
            if !running {
                down_rows[row] = true;
                rows[row] = row_colour(net.is_up(i), node.has_left());
            }
            let cells_of_row = &mut worst[row * w..(row + 1) * w];
            let mut mark = |col: usize, severity: u8| {
                cells_of_row[col] = cells_of_row[col].max(severity);
                if running {
                    columns[col] = columns[col].max(severity);
                }
            };
            if node.lists_all_below(n) {
                // The usual case: it lists everyone, and most as alive. Every bin holds an
                // alive member but its own bin when that bin is itself alone; then only the
                // few it holds suspect, dead or left are walked (not n per row: n² per frame
                // is what kept a 1,000-member group under 30 periods per second).
                let own = row;
                let own_alone = per.min(n - row as u32 * per) == 1;
                for col in (0..w).filter(|&c| c != own || !own_alone) {
                    mark(col, 1);
                }
                for (member, view) in node.iter_unwell() {
                    mark(
                        (member.0 / u64::from(per)) as usize,
                        severity(Some(view.state)),
                    );
                }
            } else {
                for (member, view) in node.iter_members() {
                    if let Some(j) = u32::try_from(member.0).ok().filter(|&j| j < n) {
                        mark((j / per) as usize, severity(Some(view.state)));
                    }
                }
            }
        }
        // One picture of (cells + 1)²: the matrix, with the top band above it (row 0) and the
        // left band beside it (column 0); drawn in three parts, so one upload per frame.
        // A crashed or departed member's row is its last view, dimmed.
        let dim = |mut c: [u8; 4]| {
            for ch in &mut c[..3] {
                *ch /= 3;
            }
            c
        };
        let bright = SEVERITY_COLOURS.map(palette::rgba);
        let dimmed = bright.map(dim);
        let (own, own_dimmed) = (palette::rgba(SELF), dim(palette::rgba(SELF)));
        let side = w + 1;
        painter.pixels.clear();
        painter.pixels.resize(side * side * 4, 0);
        let mut lines = painter.pixels.chunks_exact_mut(side * 4);
        if let Some(top) = lines.next() {
            top[..4].copy_from_slice(&palette::rgba(palette::BACKGROUND));
            for (px, &c) in top[4..].chunks_exact_mut(4).zip(&columns) {
                px.copy_from_slice(&bright[c as usize]);
            }
        }
        for (row, line) in lines.enumerate() {
            line[..4].copy_from_slice(&palette::rgba(rows[row]));
            let (colours, own) = if down_rows[row] {
                (&dimmed, own_dimmed)
            } else {
                (&bright, own)
            };
            let cells_of_row = &worst[row * w..(row + 1) * w];
            for (col, (px, &cell)) in line[4..].chunks_exact_mut(4).zip(cells_of_row).enumerate() {
                px.copy_from_slice(if col == row && cell <= 1 {
                    &own
                } else {
                    &colours[cell as usize]
                });
            }
        }
        let origin = origin(size);
        let inner = size - origin;
        let b = band(size);
        let m = f64::from(cells);
        painter.blit_parts(
            &ctx,
            cells + 1,
            cells + 1,
            &[
                ([1.0, 1.0, m, m], [origin, origin, inner, inner]),
                ([1.0, 0.0, m, 1.0], [origin, 0.0, inner, b]),
                ([0.0, 1.0, 1.0, m], [0.0, origin, b, inner]),
            ],
        )?;
        let scale = inner / m;
        if let Some(i) = selected.filter(|&i| i < n) {
            outline(&ctx);
            let row = origin + f64::from(i / per) * scale;
            ctx.stroke_rect(0.5, row - 1.0, size - 1.0, scale + 2.0);
        }
        Ok(())
    }

    /// The matrix's row under the point: an observer.
    fn node_at(&self, canvas: &HtmlCanvasElement, sim: &LabSim, x: f64, y: f64) -> Option<u32> {
        let size = f64::from(canvas.client_width().max(1));
        let origin = origin(size);
        let inner = size - origin;
        let (fx, fy) = ((x - origin).max(0.0) / inner, (y - origin) / inner);
        if !(0.0..1.0).contains(&fx) || !(0.0..1.0).contains(&fy) {
            return None;
        }
        let n = sim.len();
        let (cells, per) = matrix_cells(n);
        let i = (fy * f64::from(cells)) as u32 * per;
        (i < n).then_some(i)
    }
}
