//! Drawing the network on a canvas: a readable layout with this round's messages as arrows
//! for small networks, one cell per node for large ones. No DOM element per node.

use crate::palette;
use gloo_events::EventListener;
use grapevine_core::metrics::{Fate, MessageKind, Transmission};
use grapevine_core::{NodeView, NodeWord, Phase, RoundEngine, Topology};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{Clamped, JsCast, JsValue};
use web_sys::{
    CanvasRenderingContext2d, HtmlCanvasElement, ImageData, ResizeObserver, ResizeObserverEntry,
};
use yew::Callback;

/// Up to this many nodes get the readable layout with arrows; beyond, the dense view.
pub const LAYOUT_MAX_NODES: u32 = 2_000;
/// Graph edges are drawn up to this many nodes (beyond, they are a grey fog).
const EDGES_MAX_NODES: u32 = 400;

/// Where each node sits, in a unit square, for the readable layout. The torus is shifted so
/// that `source` sits in the middle: the wave then grows from the centre instead of wrapping
/// around the corners.
fn position(topology: Topology, n: u32, source: u32, i: u32) -> (f64, f64) {
    if topology == Topology::Torus {
        let (w, h) = grid(topology, n);
        let (x, y) = (
            (i % w + w + w / 2 - source % w) % w,
            (i / w + h + h / 2 - source / w) % h,
        );
        (
            (f64::from(x) + 0.5) / f64::from(w),
            (f64::from(y) + 0.5) / f64::from(h.max(w)),
        )
    } else {
        // A circle: ring and lattice neighbours sit side by side; node 0 at the top.
        let a = std::f64::consts::TAU * f64::from(i) / f64::from(n) - std::f64::consts::FRAC_PI_2;
        (0.5 + 0.46 * a.cos(), 0.5 + 0.46 * a.sin())
    }
}

/// Columns and rows of the grid views: the torus's own width, else a square.
fn grid(topology: Topology, n: u32) -> (u32, u32) {
    let w = if topology == Topology::Torus {
        Topology::torus_width(n)
    } else {
        (f64::from(n).sqrt().ceil() as u32).max(1)
    };
    (w, n.div_ceil(w))
}

/// A node's colour, by what it knows of the rumor.
pub fn node_colour(view: NodeView) -> &'static str {
    match view {
        NodeView::Crashed => palette::CRASHED,
        NodeView::Live(Phase::Susceptible) => palette::SUSCEPTIBLE,
        NodeView::Live(Phase::Spreading) => palette::SPREADING,
        NodeView::Live(Phase::Stopped) => palette::STOPPED,
    }
}

/// The drawing surface and a reusable pixel buffer for the dense view.
#[derive(Default)]
pub struct Painter {
    pixels: Vec<u8>,
    scratch: Scratch,
}

/// An off-screen canvas that holds a pixel buffer at one pixel per cell, to be drawn scaled
/// up (without smoothing) onto the visible canvas: the dense views' one way to the screen.
#[derive(Default)]
pub struct Scratch(Option<HtmlCanvasElement>);

impl Scratch {
    /// Puts `pixels` (RGBA, `w` x `h`) on the off-screen canvas and returns it.
    pub fn load(&mut self, pixels: &[u8], w: u32, h: u32) -> Result<HtmlCanvasElement, JsValue> {
        let image = ImageData::new_with_u8_clamped_array_and_sh(Clamped(pixels), w, h)?;
        let scratch = match &self.0 {
            Some(c) => c.clone(),
            None => {
                let doc = web_sys::window()
                    .and_then(|w| w.document())
                    .ok_or("no document")?;
                let c: HtmlCanvasElement = doc.create_element("canvas")?.dyn_into()?;
                self.0 = Some(c.clone());
                c
            }
        };
        // Resizing a canvas reallocates it, even to the same size: only when it changes
        // (the image data below covers every pixel either way).
        if scratch.width() != w || scratch.height() != h {
            scratch.set_width(w);
            scratch.set_height(h);
        }
        context(&scratch)
            .ok_or("no 2d context")?
            .put_image_data(&image, 0.0, 0.0)?;
        Ok(scratch)
    }
}

/// Paints one RGBA pixel per node from the engine's node words: a word whose 64 nodes stand
/// alike (most words: nobody informed yet, or everyone spreading) is filled at once, the others
/// node by node. A node informed in the last round and still spreading is drawn as new.
/// `pixels` holds 4 bytes per node.
fn paint_words(pixels: &mut [u8], words: impl Iterator<Item = NodeWord>) {
    // By index: susceptible 0, spreading 1, stopped 2, crashed 3, new (and spreading) 4.
    let colours = [
        node_colour(NodeView::Live(Phase::Susceptible)),
        node_colour(NodeView::Live(Phase::Spreading)),
        node_colour(NodeView::Live(Phase::Stopped)),
        node_colour(NodeView::Crashed),
        palette::NEW,
    ]
    .map(palette::rgba);
    for (cells, word) in pixels.chunks_mut(64 * 4).zip(words) {
        let fresh = word.spreading & word.new;
        let alike = match (word.spreading, word.stopped, word.crashed, fresh) {
            (0, 0, 0, 0) => Some(0),
            (u64::MAX, 0, 0, 0) => Some(1),
            (0, u64::MAX, 0, 0) => Some(2),
            _ => None,
        };
        match alike {
            Some(c) => cells
                .chunks_exact_mut(4)
                .for_each(|px| px.copy_from_slice(&colours[c])),
            None => {
                for (b, px) in (0..).zip(cells.chunks_exact_mut(4)) {
                    // The sets are disjoint but for the new among the spreading.
                    let bit = |set: u64| (set >> b) as usize & 1;
                    let c = bit(word.spreading)
                        + 2 * bit(word.stopped)
                        + 3 * (bit(word.crashed) + bit(fresh));
                    px.copy_from_slice(&colours[c]);
                }
            }
        }
    }
}

/// A canvas's width in CSS pixels, read without making the browser lay the page out in the
/// middle of a frame. Reading `clientWidth` after the DOM changed (each frame of a run: the
/// charts' new points, the counters) forces a layout there and then, which cost the round view
/// at 10^6 nodes about 2 ms a frame. A resize observer instead records every drawn canvas's
/// width whenever its box changes (after the browser's own layout) and tells the canvas
/// ([`CANVAS_RESIZED`], for [`ResizeWatch`]): a draw in the frame that changed the layout
/// used the width before, and its page draws again. Only a canvas's first draw asks.
fn css_width(canvas: &HtmlCanvasElement) -> f64 {
    thread_local! {
        static WIDTHS: Option<(ResizeObserver, js_sys::WeakMap)> = watch_widths();
    }
    WIDTHS.with(|widths| {
        let Some((observer, known)) = widths else {
            return f64::from(canvas.client_width());
        };
        match known.get(canvas).as_f64() {
            Some(width) => width,
            None => {
                let width = f64::from(canvas.client_width());
                known.set(canvas, &width.into());
                observer.observe(canvas);
                width
            }
        }
    })
}

/// The resize observer behind [`css_width`] and the widths it keeps, by canvas (`None` in a
/// browser without `ResizeObserver`: every read then asks).
fn watch_widths() -> Option<(ResizeObserver, js_sys::WeakMap)> {
    let known = js_sys::WeakMap::new();
    let record = known.clone();
    let on_resize = move |entries: js_sys::Array, observer: ResizeObserver| {
        for entry in entries.iter() {
            let Ok(entry) = entry.dyn_into::<ResizeObserverEntry>() else {
                continue;
            };
            let canvas = entry.target();
            if !canvas.is_connected() {
                // Gone from the page (another view, another lesson step): forgotten, so that
                // neither it nor its pixels are kept alive, and no page redraws for it.
                observer.unobserve(&canvas);
                record.delete(&canvas);
                continue;
            }
            let width = f64::from(canvas.client_width());
            let before = record.get(&canvas).as_f64();
            record.set(&canvas, &width.into());
            if before.is_some_and(|b| b != width) {
                if let Ok(event) = web_sys::Event::new(CANVAS_RESIZED) {
                    let _ = canvas.dispatch_event(&event);
                }
            }
        }
    };
    let on_resize = Closure::<dyn FnMut(js_sys::Array, ResizeObserver)>::new(on_resize);
    let observer = ResizeObserver::new(on_resize.as_ref().unchecked_ref()).ok()?;
    // Observes for the page's lifetime.
    on_resize.forget();
    Some((observer, known))
}

/// The event a drawn canvas receives when its width changed (see [`css_width`]).
const CANVAS_RESIZED: &str = "grapevine-canvas-resized";

/// A page's watch on its canvas's size: calls back when the canvas was resized after it was
/// drawn (a window resized, a phone turned, a panel opened beside it), so that the page draws
/// it again at its new size rather than leave it stretched.
#[derive(Default)]
pub struct ResizeWatch(Option<(HtmlCanvasElement, EventListener)>);

impl ResizeWatch {
    /// Watches `canvas` (the page's canvas of the moment: a new one replaces the last) and
    /// calls the callback `resized` makes (made only when the canvas is new).
    pub fn watch(&mut self, canvas: &HtmlCanvasElement, resized: impl FnOnce() -> Callback<()>) {
        if self
            .0
            .as_ref()
            .is_some_and(|(watched, _)| watched == canvas)
        {
            return;
        }
        let resized = resized();
        let listener = EventListener::new(canvas, CANVAS_RESIZED, move |_| resized.emit(()));
        self.0 = Some((canvas.clone(), listener));
    }
}

/// Canvas side in CSS pixels: square, as wide as its box.
fn fit(canvas: &HtmlCanvasElement) -> (f64, f64) {
    let css = css_width(canvas).max(100.0);
    let ratio = web_sys::window()
        .map(|w| w.device_pixel_ratio())
        .unwrap_or(1.0)
        .clamp(1.0, 3.0);
    let px = (css * ratio).round() as u32;
    if canvas.width() != px || canvas.height() != px {
        canvas.set_width(px);
        canvas.set_height(px);
    }
    (css, ratio)
}

/// Fits the canvas to its box and paints it background; returns its context, scaled to CSS
/// pixels, and its side in CSS pixels.
pub fn blank(canvas: &HtmlCanvasElement) -> Result<(CanvasRenderingContext2d, f64), JsValue> {
    let (size, ratio) = fit(canvas);
    let ctx = context(canvas).ok_or("no 2d context")?;
    ctx.set_transform(ratio, 0.0, 0.0, ratio, 0.0, 0.0)?;
    ctx.set_fill_style_str(palette::BACKGROUND);
    ctx.fill_rect(0.0, 0.0, size, size);
    Ok((ctx, size))
}

/// The canvas's 2-D context.
fn context(canvas: &HtmlCanvasElement) -> Option<CanvasRenderingContext2d> {
    canvas.get_context("2d").ok()??.dyn_into().ok()
}

impl Painter {
    /// Draws the whole network as it stands.
    pub fn draw(
        &mut self,
        canvas: &HtmlCanvasElement,
        engine: &RoundEngine,
    ) -> Result<(), JsValue> {
        let (ctx, size) = blank(canvas)?;
        if engine.settings().nodes <= LAYOUT_MAX_NODES {
            draw_layout(&ctx, size, &EngineScene(engine), None);
            Ok(())
        } else {
            self.draw_dense(&ctx, size, engine)
        }
    }

    fn draw_dense(
        &mut self,
        ctx: &CanvasRenderingContext2d,
        size: f64,
        engine: &RoundEngine,
    ) -> Result<(), JsValue> {
        let s = engine.settings();
        let (w, h) = grid(s.topology, s.nodes);
        // Every node's pixel is painted each frame: the buffer is not cleared (4 MB at 10^6),
        // only the cells past the last node, which another run's nodes may have left.
        self.pixels.resize((w * h * 4) as usize, 0);
        let (nodes, rest) = self.pixels.split_at_mut(s.nodes as usize * 4);
        paint_words(nodes, engine.iter_node_words());
        rest.fill(0);
        let scratch = self.scratch.load(&self.pixels, w, h)?;
        ctx.set_image_smoothing_enabled(false);
        let scale = size / f64::from(w.max(h));
        let (dw, dh) = (f64::from(w) * scale, f64::from(h) * scale);
        if s.topology == Topology::Torus {
            // Tile four copies so that the source lands in the middle (see `position`).
            let source = engine.source();
            let dx = f64::from((w + w / 2 - source % w) % w) * scale;
            let dy = f64::from((h + h / 2 - source / w) % h) * scale;
            for (x, y) in [(dx, dy), (dx - dw, dy), (dx, dy - dh), (dx - dw, dy - dh)] {
                ctx.draw_image_with_html_canvas_element_and_dw_and_dh(&scratch, x, y, dw, dh)?;
            }
            Ok(())
        } else {
            ctx.draw_image_with_html_canvas_element_and_dw_and_dh(&scratch, 0.0, 0.0, dw, dh)
        }
    }

    /// The node under a point of the canvas (CSS pixels from its top-left corner).
    pub fn node_at(
        canvas: &HtmlCanvasElement,
        engine: &RoundEngine,
        x: f64,
        y: f64,
    ) -> Option<u32> {
        let size = f64::from(canvas.client_width().max(1));
        let (x, y) = (x / size, y / size);
        let s = engine.settings();
        if s.nodes <= LAYOUT_MAX_NODES {
            layout_node_at(s.topology, s.nodes, engine.source(), x, y)
        } else {
            let (w, h) = grid(s.topology, s.nodes);
            let side = f64::from(w.max(h));
            let (mut cx, mut cy) = ((x * side) as u32, (y * side) as u32);
            if s.topology == Topology::Torus {
                let source = engine.source();
                cx = (cx + w + source % w - w / 2) % w;
                cy = (cy + h + source / w - h / 2) % h;
            }
            let i = cy.checked_mul(w)?.checked_add(cx)?;
            (cx < w && i < s.nodes).then_some(i)
        }
    }
}

/// The node of the readable layout nearest a point (unit square), if one is close enough.
pub fn layout_node_at(topology: Topology, n: u32, source: u32, x: f64, y: f64) -> Option<u32> {
    let radius = node_radius(n, 1.0).max(0.012);
    (0..n)
        .map(|i| {
            let (px, py) = position(topology, n, source, i);
            (i, (px - x).powi(2) + (py - y).powi(2))
        })
        .filter(|&(_, d2)| d2 <= radius * radius * 4.0)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// What the readable layout draws: the round engine's round, or a lab run's last interval.
pub trait Scene {
    /// How nodes are placed (a circle, or the torus's grid).
    fn topology(&self) -> Topology;
    /// Nodes.
    fn nodes(&self) -> u32;
    /// The rumor's source, ringed in white (and, on a torus, put in the middle).
    fn source(&self) -> u32;
    /// What node `i` is.
    fn node(&self, i: u32) -> NodeView;
    /// Node `i`'s neighbours in a sparse graph (none on the complete graph).
    fn neighbours(&self, i: u32) -> &[u32];
    /// The messages to draw as arrows.
    fn messages(&self) -> Vec<Transmission>;
    /// Nodes that just heard the rumor (ringed).
    fn newly_informed(&self) -> Vec<u32>;
}

/// The round engine's current round.
struct EngineScene<'a>(&'a RoundEngine);

impl Scene for EngineScene<'_> {
    fn topology(&self) -> Topology {
        self.0.settings().topology
    }
    fn nodes(&self) -> u32 {
        self.0.settings().nodes
    }
    fn source(&self) -> u32 {
        self.0.source()
    }
    fn node(&self, i: u32) -> NodeView {
        self.0.node(i)
    }
    fn neighbours(&self, i: u32) -> &[u32] {
        self.0.graph().sparse_neighbors(i)
    }
    fn messages(&self) -> Vec<Transmission> {
        self.0.transmissions().to_vec()
    }
    fn newly_informed(&self) -> Vec<u32> {
        self.0.iter_newly_informed().collect()
    }
}

/// Node radius for `n` nodes on a canvas of side `size`.
fn node_radius(n: u32, size: f64) -> f64 {
    let spacing = (std::f64::consts::TAU * 0.46 * size) / f64::from(n);
    (spacing * 0.42).clamp(size * 0.0025, size * 0.022)
}

/// Draws `scene` as nodes in place with its messages as arrows; `selected`: a node to outline.
pub fn draw_layout(
    ctx: &CanvasRenderingContext2d,
    size: f64,
    scene: &dyn Scene,
    selected: Option<u32>,
) {
    let (topology, n, source) = (scene.topology(), scene.nodes(), scene.source());
    let at = |i: u32| {
        let (x, y) = position(topology, n, source, i);
        (x * size, y * size)
    };
    // The graph's edges, faintly.
    if n <= EDGES_MAX_NODES && topology != Topology::Complete {
        ctx.set_stroke_style_str(palette::EDGE);
        ctx.set_line_width(1.0);
        ctx.begin_path();
        for i in 0..n {
            let (x0, y0) = at(i);
            for &j in scene.neighbours(i) {
                let wraps = topology == Topology::Torus
                    && (at(j).0 - x0).abs() + (at(j).1 - y0).abs() > size * 0.5;
                if j > i && !wraps {
                    let (x1, y1) = at(j);
                    ctx.move_to(x0, y0);
                    ctx.line_to(x1, y1);
                }
            }
        }
        ctx.stroke();
    }
    let r = node_radius(n, size);
    // This round's messages: a push and a pull request are the sender's own (a filled dot),
    // a pull's reply an answer (a hollow one), as in the lab's pictures.
    for t in scene.messages() {
        let (colour, width) = match (t.kind, t.fate) {
            (_, Fate::Lost) => (palette::LOST, 1.5),
            (_, Fate::DeadLetter) => (palette::CRASHED, 1.2),
            (MessageKind::PullRequest, _) => (palette::REQUEST, 0.8),
            (_, Fate::Informed) => (palette::INFORMED, 1.8),
            _ => (palette::REDUNDANT, 0.8),
        };
        let end = match t.fate {
            Fate::Lost => End::Lost,
            Fate::DeadLetter => End::Crashed,
            _ => End::Arrived,
        };
        let filled = t.kind != MessageKind::PullReply;
        let stroke = Stroke {
            colour,
            width,
            end,
            dot: (n <= DOTS_MAX_NODES).then_some(Dot { filled, ring: None }),
        };
        stroke.draw(ctx, at(t.from), at(t.to), r);
    }
    // The nodes, with this round's newcomers ringed.
    let new = scene.newly_informed();
    for i in 0..n {
        let (x, y) = at(i);
        let view = scene.node(i);
        ctx.begin_path();
        let _ = ctx.arc(x, y, r, 0.0, std::f64::consts::TAU);
        ctx.set_fill_style_str(node_colour(view));
        ctx.fill();
        if view == NodeView::Crashed {
            cross(ctx, x, y, r * 0.7, palette::BACKGROUND);
        }
    }
    for &i in &new {
        let (x, y) = at(i);
        ctx.begin_path();
        let _ = ctx.arc(x, y, r + 2.0, 0.0, std::f64::consts::TAU);
        ctx.set_stroke_style_str(palette::NEW);
        ctx.set_line_width(2.0);
        ctx.stroke();
    }
    // The source, and the node selected.
    for (i, colour) in [(Some(source), palette::MARK), (selected, palette::NEW)] {
        let Some((x, y)) = i.filter(|&i| i < n).map(at) else {
            continue;
        };
        ctx.begin_path();
        let _ = ctx.arc(x, y, r + 5.0, 0.0, std::f64::consts::TAU);
        ctx.set_stroke_style_str(colour);
        ctx.set_line_width(1.5);
        ctx.stroke();
    }
}

fn cross(ctx: &CanvasRenderingContext2d, x: f64, y: f64, h: f64, colour: &str) {
    ctx.begin_path();
    ctx.move_to(x - h, y - h);
    ctx.line_to(x + h, y + h);
    ctx.move_to(x + h, y - h);
    ctx.line_to(x - h, y + h);
    ctx.set_stroke_style_str(colour);
    ctx.set_line_width(1.5);
    ctx.stroke();
}

/// Up to this many nodes each message also gets its glyph (a dot: filled, the sender's own;
/// hollow, an answer); beyond, the dots would hide the nodes.
pub const DOTS_MAX_NODES: u32 = 200;

/// How a message's line ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// At the receiver, with an arrowhead (also: still on its way).
    Arrived,
    /// Lost on the link: dashed, halfway, with a cross where it died.
    Lost,
    /// Dropped by a partition: dashed, halfway, against a wall.
    Partitioned,
    /// Reached a crashed node: dashed, to the node (which has its own cross).
    Crashed,
}

/// A message's glyph on its line: filled if the sender sent it on its own initiative,
/// hollow if it answers another; ringed in the colour of the alarm it carries (a SWIM
/// suspicion or death).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dot {
    /// The sender's own (filled) or an answer (hollow).
    pub filled: bool,
    /// The alarm's colour.
    pub ring: Option<&'static str>,
}

/// One message drawn as a line from sender to receiver: the one glyph language of every
/// picture (the round view's rounds, the lab's periods).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stroke {
    /// The message kind's colour (the round view: its fate's).
    pub colour: &'static str,
    /// Line width, CSS pixels.
    pub width: f64,
    /// How it ends.
    pub end: End,
    /// Its glyph, if drawn.
    pub dot: Option<Dot>,
}

impl Stroke {
    /// Draws the message from `(x0, y0)` to `(x1, y1)`, nodes of radius `r`.
    pub fn draw(
        &self,
        ctx: &CanvasRenderingContext2d,
        (x0, y0): (f64, f64),
        (x1, y1): (f64, f64),
        r: f64,
    ) {
        let (dx, dy) = (x1 - x0, y1 - y0);
        let len = (dx * dx + dy * dy).sqrt().max(1e-9);
        let (ux, uy) = (dx / len, dy / len);
        let halfway = matches!(self.end, End::Lost | End::Partitioned);
        let end = if halfway { len * 0.55 } else { len - r - 1.5 };
        let (sx, sy) = (x0 + ux * r, y0 + uy * r);
        let (ex, ey) = (x0 + ux * end, y0 + uy * end);
        let dash = js_sys::Array::new();
        if self.end != End::Arrived {
            dash.push(&JsValue::from_f64(4.0));
            dash.push(&JsValue::from_f64(3.0));
        }
        let _ = ctx.set_line_dash(&dash);
        ctx.set_stroke_style_str(self.colour);
        ctx.set_line_width(self.width);
        ctx.begin_path();
        ctx.move_to(sx, sy);
        ctx.line_to(ex, ey);
        ctx.stroke();
        let _ = ctx.set_line_dash(&js_sys::Array::new());
        if let Some(dot) = self.dot {
            // Nearer the receiver than the sender, so the dot also says which way it went;
            // before the cross or the wall when it did not get there.
            let along = if halfway { 0.3 } else { 0.62 };
            let (gx, gy) = (x0 + ux * len * along, y0 + uy * len * along);
            let g = (r * 0.45).clamp(2.2, 4.5);
            if let Some(ring) = dot.ring {
                ctx.begin_path();
                let _ = ctx.arc(gx, gy, g + 2.2, 0.0, std::f64::consts::TAU);
                ctx.set_stroke_style_str(ring);
                ctx.set_line_width(1.6);
                ctx.stroke();
            }
            ctx.begin_path();
            let _ = ctx.arc(gx, gy, g, 0.0, std::f64::consts::TAU);
            if dot.filled {
                ctx.set_fill_style_str(self.colour);
                ctx.fill();
            } else {
                ctx.set_fill_style_str(palette::BACKGROUND);
                ctx.fill();
                ctx.set_stroke_style_str(self.colour);
                ctx.set_line_width(1.4);
                ctx.stroke();
            }
        }
        match self.end {
            End::Lost => cross(ctx, ex, ey, 3.5, palette::LOST),
            End::Partitioned => {
                ctx.begin_path();
                ctx.move_to(ex - uy * 5.0, ey + ux * 5.0);
                ctx.line_to(ex + uy * 5.0, ey - ux * 5.0);
                ctx.set_stroke_style_str(palette::MARK);
                ctx.set_line_width(2.0);
                ctx.stroke();
            }
            End::Arrived | End::Crashed => {
                let head = (4.0 + self.width * 1.5).min(len * 0.3);
                ctx.begin_path();
                ctx.move_to(ex, ey);
                ctx.line_to(
                    ex - ux * head - uy * head * 0.5,
                    ey - uy * head + ux * head * 0.5,
                );
                ctx.line_to(
                    ex - ux * head + uy * head * 0.5,
                    ey - uy * head - ux * head * 0.5,
                );
                ctx.close_path();
                ctx.set_fill_style_str(self.colour);
                ctx.fill();
            }
        }
    }
}

/// A member of a small network's picture: its colour, whether it runs, whether it is ringed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Member {
    /// Its fill (the protocol view's colour for it).
    pub colour: [u8; 4],
    /// Running (else a cross).
    pub up: bool,
}

/// Draws a small network: members on the round view's circle (node 0 at the top), each
/// message as a [`Stroke`] from its sender to its receiver; `selected` ringed.
pub fn draw_members(
    ctx: &CanvasRenderingContext2d,
    size: f64,
    members: &[Member],
    messages: &[(u32, u32, Stroke)],
    selected: Option<u32>,
) {
    let n = members.len() as u32;
    let at = |i: u32| {
        let (x, y) = position(Topology::Complete, n, 0, i);
        (x * size, y * size)
    };
    let r = node_radius(n, size);
    for (from, to, stroke) in messages.iter().filter(|m| m.0 < n && m.1 < n) {
        stroke.draw(ctx, at(*from), at(*to), r);
    }
    for (i, m) in (0..n).zip(members) {
        let (x, y) = at(i);
        ctx.begin_path();
        let _ = ctx.arc(x, y, r, 0.0, std::f64::consts::TAU);
        let [red, green, blue, _] = m.colour;
        ctx.set_fill_style_str(&format!("rgb({red}, {green}, {blue})"));
        ctx.fill();
        if !m.up {
            cross(ctx, x, y, r * 0.7, palette::BACKGROUND);
        }
    }
    if let Some((x, y)) = selected.filter(|&i| i < n).map(at) {
        ctx.begin_path();
        let _ = ctx.arc(x, y, r + 5.0, 0.0, std::f64::consts::TAU);
        ctx.set_stroke_style_str(palette::NEW);
        ctx.set_line_width(1.5);
        ctx.stroke();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grapevine_core::{Interest, Settings, StopRule, Tunables};
    use std::collections::BTreeSet;

    #[test]
    fn the_dense_view_paints_each_node_as_the_engine_has_it() {
        // With crashed nodes: every colour, node by node (a partial last word too). Without:
        // words whose 64 nodes stand alike (none informed, all spreading under anti-entropy,
        // all stopped under a stop rule), filled at once.
        let (mut seen, mut alike) = (BTreeSet::new(), BTreeSet::new());
        for (crashed, rule) in [
            (0.1, StopRule::FeedbackCoin),
            (0.0, StopRule::Never),
            (0.0, StopRule::FeedbackCoin),
        ] {
            let mut engine = RoundEngine::new(Settings {
                nodes: 10_007,
                tunables: Tunables {
                    fanout: 1,
                    loss: 0.3,
                    interest: Interest::new(rule, 2),
                },
                crashed,
                seed: 4,
                ..Settings::default()
            })
            .unwrap();
            let mut pixels = vec![0; 10_007 * 4];
            while !engine.is_finished() {
                engine.step();
                paint_words(&mut pixels, engine.iter_node_words());
                for w in engine.iter_node_words().take(10_007 / 64) {
                    match (w.spreading, w.stopped, w.crashed, w.new) {
                        (0, 0, 0, 0) | (u64::MAX, 0, 0, 0) | (0, u64::MAX, 0, _) => {
                            alike.insert((w.spreading, w.stopped));
                        }
                        _ => {}
                    }
                }
                let new: BTreeSet<u32> = engine.iter_newly_informed().collect();
                for (i, view) in (0..).zip(engine.iter_nodes()) {
                    let colour = match view {
                        NodeView::Live(Phase::Spreading) if new.contains(&i) => palette::NEW,
                        view => node_colour(view),
                    };
                    let at = i as usize * 4;
                    assert_eq!(
                        pixels[at..at + 4],
                        palette::rgba(colour),
                        "crashed {crashed}, {rule:?}, round {}, node {i} ({view:?})",
                        engine.round()
                    );
                    seen.insert(colour);
                }
            }
        }
        assert_eq!(seen.len(), 5, "every colour drawn: {seen:?}");
        assert_eq!(
            alike.len(),
            3,
            "every kind of alike word painted: {alike:?}"
        );
    }
}
