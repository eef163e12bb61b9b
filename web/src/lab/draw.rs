//! Drawing the lab's runs on a canvas: SWIM's membership matrix (who thinks whom is alive,
//! suspect, dead or gone), and a grid of nodes for push-sum (coloured by the error of each
//! node's estimate) and the key-value map (coloured by replica state: one colour when all
//! agree). One pixel buffer, scaled up without smoothing; no DOM element per node.

use super::{LabSim, View, PERIOD_MS};
use crate::draw::{
    blank, draw_layout, layout_node_at, node_colour, Scene, Scratch, LAYOUT_MAX_NODES,
};
use crate::palette;
use grapevine_core::lab::kv::KvObserver;
use grapevine_core::lab::push_sum::PushSumObserver;
use grapevine_core::lab::rumor::{self, Infection};
use grapevine_core::lab::swim::MemberState;
use grapevine_core::lab::{Millis, Run};
use grapevine_core::metrics::{Fate as TransmissionFate, MessageKind, Transmission};
use grapevine_core::{NodeView, Phase, Topology};
use wasm_bindgen::JsValue;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

/// The matrix shows at most this many rows and columns; larger groups are binned, each
/// cell showing the worst state in its bin (one suspicion stays visible among thousands).
const MATRIX_MAX_CELLS: u32 = 600;

/// Matrix colours.
pub const ALIVE: &str = "#1b6b58";
/// A suspected member.
pub const SUSPECT: &str = "#f0e442";
/// A member declared dead.
pub const DEAD: &str = "#d55e00";
/// A member that left.
pub const LEFT: &str = "#56b4e9";
/// A member the observer has never heard of.
pub const UNKNOWN: &str = "#1e293b";
/// The observer itself.
pub const SELF: &str = "#475569";

/// Replica-state colours by rank (0: the most common state).
pub const STATE_COLOURS: [&str; 6] = [
    "#009e73", "#e69f00", "#56b4e9", "#f0e442", "#0072b2", "#d55e00",
];
/// Replicas in a rarer state than the palette has colours for.
pub const OTHER_STATE: &str = "#94a3b8";
/// A crashed node in the grids.
pub const DOWN: &str = "#334155";

/// Reusable buffers.
#[derive(Default)]
pub struct LabPainter {
    pixels: Vec<u8>,
    scratch: Scratch,
    /// The matrix's margins: per column, the worst state a running member holds of it;
    /// per row, whether that member is running (see [`row_colour`]).
    columns: Vec<u8>,
    rows: Vec<&'static str>,
}

/// The matrix's margin bands (CSS pixels): a column that someone suspects stands out in
/// the top band even when it is one pixel wide in the matrix.
fn band(size: f64) -> f64 {
    (size * 0.035).max(8.0)
}

/// A matrix row's margin colour: running, crashed, or departed.
fn row_colour(up: bool, left: bool) -> &'static str {
    match (up, left) {
        (false, _) => palette::CRASHED,
        (true, true) => LEFT,
        (true, false) => "#334155",
    }
}

/// Columns of the node grid: a square.
fn grid_side(n: u32) -> u32 {
    (f64::from(n).sqrt().ceil() as u32).max(1)
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

/// Push-sum: a relative error as a colour, from bluish green (10^-8 or better) through
/// yellow to vermillion (100 % or worse).
fn error_colour(error: f64) -> [u8; 4] {
    let t = if error.is_finite() {
        ((error.max(1e-12).log10() + 8.0) / 8.0).clamp(0.0, 1.0)
    } else {
        1.0
    };
    let [a, b, c] = [
        palette::rgba("#009e73"),
        palette::rgba("#f0e442"),
        palette::rgba("#d55e00"),
    ];
    let (from, to, f) = if t < 0.5 {
        (a, b, t * 2.0)
    } else {
        (b, c, t * 2.0 - 1.0)
    };
    let mix = |k: usize| (f64::from(from[k]) + (f64::from(to[k]) - f64::from(from[k])) * f) as u8;
    [mix(0), mix(1), mix(2), 255]
}

impl LabPainter {
    /// Draws the run as it stands; `selected`: the inspected node, outlined.
    pub fn draw(
        &mut self,
        canvas: &HtmlCanvasElement,
        sim: &LabSim,
        selected: Option<u32>,
    ) -> Result<(), JsValue> {
        let (ctx, size) = blank(canvas)?;
        let n = sim.len();
        if let Some(scene) = RumorScene::of(sim).filter(|_| n <= LAYOUT_MAX_NODES) {
            draw_layout(&ctx, size, &scene, selected);
            return Ok(());
        }
        let (w, h, origin) = match sim.view {
            View::Swim => {
                let (cells, _) = matrix_cells(n);
                self.fill_matrix(sim);
                (cells, cells, band(size) + 2.0)
            }
            _ => {
                let side = grid_side(n);
                self.fill_grid(sim, side);
                (side, n.div_ceil(side), 0.0)
            }
        };
        let inner = size - origin;
        self.blit(&ctx, w, h, origin, inner)?;
        let scale = inner / f64::from(w.max(h));
        if sim.view == View::Swim {
            let b = band(size);
            let colours = [UNKNOWN, ALIVE, LEFT, SUSPECT, DEAD];
            for (k, &worst) in self.columns.iter().enumerate() {
                ctx.set_fill_style_str(colours[worst as usize]);
                ctx.fill_rect(origin + k as f64 * scale, 0.0, scale.max(1.0), b);
            }
            for (k, colour) in self.rows.iter().enumerate() {
                ctx.set_fill_style_str(colour);
                ctx.fill_rect(0.0, origin + k as f64 * scale, b, scale.max(1.0));
            }
        }
        let Some(i) = selected.filter(|&i| i < n) else {
            return Ok(());
        };
        ctx.set_stroke_style_str("#ffffff");
        ctx.set_line_width(1.5);
        match sim.view {
            View::Swim => {
                let (_, per) = matrix_cells(n);
                let row = origin + f64::from(i / per) * scale;
                ctx.stroke_rect(0.5, row - 1.0, size - 1.0, scale + 2.0);
            }
            _ => {
                let side = grid_side(n);
                let (cx, cy) = (f64::from(i % side) * scale, f64::from(i / side) * scale);
                ctx.stroke_rect(cx - 1.0, cy - 1.0, scale + 2.0, scale + 2.0);
            }
        }
        Ok(())
    }

    fn fill_matrix(&mut self, sim: &LabSim) {
        let Some(run) = sim.swim() else { return };
        let net = run.lab().network();
        let n = net.len() as u32;
        let (cells, per) = matrix_cells(n);
        let mut worst = vec![0u8; (cells * cells) as usize];
        let mut down_rows = vec![false; cells as usize];
        self.columns.clear();
        self.columns.resize(cells as usize, 0);
        self.rows.clear();
        self.rows.resize(cells as usize, row_colour(true, false));
        for i in 0..n {
            let row = (i / per) as usize;
            let node = net.node(i);
            let running = net.is_up(i) && !node.has_left();
            if !running {
                down_rows[row] = true;
                self.rows[row] = row_colour(net.is_up(i), node.has_left());
            }
            for (member, view) in node.iter_members() {
                let Ok(j) = u32::try_from(member.0) else {
                    continue;
                };
                if j >= n {
                    continue;
                }
                let col = (j / per) as usize;
                let severity = severity(Some(view.state));
                let cell = &mut worst[row * cells as usize + col];
                *cell = (*cell).max(severity);
                if running {
                    self.columns[col] = self.columns[col].max(severity);
                }
            }
        }
        let colours = [UNKNOWN, ALIVE, LEFT, SUSPECT, DEAD].map(palette::rgba);
        let own = palette::rgba(SELF);
        self.pixels.clear();
        self.pixels.resize((cells * cells * 4) as usize, 0);
        for (k, px) in self.pixels.chunks_exact_mut(4).enumerate() {
            let (row, col) = (k as u32 / cells, k as u32 % cells);
            let mut c = if row == col && worst[k] <= 1 {
                own
            } else {
                colours[worst[k] as usize]
            };
            if down_rows[row as usize] {
                // A crashed or departed member's row: its last view, dimmed.
                for ch in &mut c[..3] {
                    *ch /= 3;
                }
            }
            px.copy_from_slice(&c);
        }
    }

    fn fill_grid(&mut self, sim: &LabSim, side: u32) {
        let n = sim.len();
        let rows = n.div_ceil(side);
        self.pixels.clear();
        self.pixels.resize((side * rows * 4) as usize, 0);
        let down = palette::rgba(DOWN);
        if let Some(run) = sim.push_sum() {
            let net = run.lab().network();
            let truth = PushSumObserver::truth(run.lab());
            for (i, px) in self.pixels.chunks_exact_mut(4).take(n as usize).enumerate() {
                let i = i as u32;
                let c = if !net.is_up(i) {
                    down
                } else {
                    let node = net.node(i);
                    match node.estimate() {
                        Some(_) => error_colour(PushSumObserver::error(node, truth)),
                        None => palette::rgba(OTHER_STATE),
                    }
                };
                px.copy_from_slice(&c);
            }
        } else if let Some(run) = sim.kv() {
            let ranks = KvObserver::state_ranks(run.lab());
            for (px, rank) in self.pixels.chunks_exact_mut(4).zip(ranks) {
                let c = match rank {
                    None => down,
                    Some(r) => palette::rgba(
                        STATE_COLOURS
                            .get(r as usize)
                            .copied()
                            .unwrap_or(OTHER_STATE),
                    ),
                };
                px.copy_from_slice(&c);
            }
        } else if let Some(scene) = RumorScene::of(sim) {
            for (i, px) in self.pixels.chunks_exact_mut(4).take(n as usize).enumerate() {
                px.copy_from_slice(&palette::rgba(node_colour(scene.node(i as u32))));
            }
        }
    }

    /// Draws the pixel buffer (`w` x `h`) scaled into the square at (`origin`, `origin`) of
    /// side `size`.
    fn blit(
        &mut self,
        ctx: &CanvasRenderingContext2d,
        w: u32,
        h: u32,
        origin: f64,
        size: f64,
    ) -> Result<(), JsValue> {
        let scratch = self.scratch.load(&self.pixels, w, h)?;
        ctx.set_image_smoothing_enabled(false);
        let scale = size / f64::from(w.max(h));
        ctx.draw_image_with_html_canvas_element_and_dw_and_dh(
            &scratch,
            origin,
            origin,
            f64::from(w) * scale,
            f64::from(h) * scale,
        )
    }

    /// The node under a point of the canvas (CSS pixels): the matrix's row (an observer),
    /// or the grid's cell.
    pub fn node_at(canvas: &HtmlCanvasElement, sim: &LabSim, x: f64, y: f64) -> Option<u32> {
        let size = f64::from(canvas.client_width().max(1));
        let n = sim.len();
        if let Some(scene) = RumorScene::of(sim).filter(|_| n <= LAYOUT_MAX_NODES) {
            return layout_node_at(Topology::Complete, n, scene.source(), x / size, y / size);
        }
        let origin = match sim.view {
            View::Swim => band(size) + 2.0,
            _ => 0.0,
        };
        let inner = size - origin;
        let (fx, fy) = ((x - origin).max(0.0) / inner, (y - origin) / inner);
        if !(0.0..1.0).contains(&fx) || !(0.0..1.0).contains(&fy) {
            return None;
        }
        match sim.view {
            View::Swim => {
                let (cells, per) = matrix_cells(n);
                let i = (fy * f64::from(cells)) as u32 * per;
                (i < n).then_some(i)
            }
            _ => {
                let side = grid_side(n);
                let (cx, cy) = ((fx * f64::from(side)) as u32, (fy * f64::from(side)) as u32);
                let i = cy * side + cx;
                (i < n).then_some(i)
            }
        }
    }
}

/// Rumors up to [`LAYOUT_MAX_NODES`]: the round view's picture of the run's last interval,
/// nodes on a circle coloured by what they know of the first rumor, and who told whom
/// meanwhile as arrows.
struct RumorScene<'a> {
    run: &'a Run<rumor::Spec>,
    now: Millis,
}

impl<'a> RumorScene<'a> {
    fn of(sim: &'a LabSim) -> Option<Self> {
        Some(RumorScene {
            run: sim.rumor()?,
            now: sim.now(),
        })
    }

    /// The first rumor's infections during the last interval (the one just played).
    fn recent(&self) -> impl Iterator<Item = (u32, Infection)> + '_ {
        let since = self.now.0.saturating_sub(PERIOD_MS);
        let now = self.now;
        self.run
            .observer()
            .infections
            .iter()
            .map(|(&i, &f)| (i, f))
            .filter(move |(i, f)| f.from != *i && f.at.0 > since && f.at <= now)
    }
}

impl Scene for RumorScene<'_> {
    fn topology(&self) -> Topology {
        Topology::Complete
    }
    fn nodes(&self) -> u32 {
        self.run.lab().network().len() as u32
    }
    fn source(&self) -> u32 {
        self.run
            .observer()
            .first
            .map_or(0, |(id, _)| id.origin.0 as u32)
    }
    fn node(&self, i: u32) -> NodeView {
        let net = self.run.lab().network();
        if !net.is_up(i) {
            return NodeView::Crashed;
        }
        let first = self.run.observer().first.map(|f| f.0);
        let spreading = first.and_then(|id| {
            net.node(i)
                .iter_rumors()
                .find(|(r, _)| r.id == id)
                .map(|(_, spreading)| spreading)
        });
        NodeView::Live(match spreading {
            None => Phase::Susceptible,
            Some(true) => Phase::Spreading,
            Some(false) => Phase::Stopped,
        })
    }
    fn neighbours(&self, _: u32) -> &[u32] {
        &[]
    }
    fn messages(&self) -> Vec<Transmission> {
        self.recent()
            .map(|(to, f)| Transmission {
                from: f.from,
                to,
                kind: MessageKind::Push,
                fate: TransmissionFate::Informed,
            })
            .collect()
    }
    fn newly_informed(&self) -> Vec<u32> {
        self.recent().map(|(i, _)| i).collect()
    }
}
