//! The lab's canvas, for every protocol's view: a pixel buffer scaled up without smoothing
//! (one cell per node, or SWIM's matrix), with the inspected node outlined; no DOM element per
//! node. What each cell shows is the protocol view's business ([`super::views`]).

use crate::draw::{blank, Scratch};
use crate::palette;
use wasm_bindgen::JsValue;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

/// Reusable buffers.
#[derive(Default)]
pub struct LabPainter {
    /// RGBA, row-major, for the picture being drawn.
    pub pixels: Vec<u8>,
    scratch: Scratch,
}

/// Columns of the node grid: a square.
pub fn grid_side(n: u32) -> u32 {
    (f64::from(n).sqrt().ceil() as u32).max(1)
}

impl LabPainter {
    /// One cell per node, `n` of them in a square grid, coloured by `colour` (RGBA);
    /// `selected`: the inspected node, outlined.
    pub fn grid(
        &mut self,
        canvas: &HtmlCanvasElement,
        n: u32,
        colour: impl Fn(u32) -> [u8; 4],
        selected: Option<u32>,
    ) -> Result<(), JsValue> {
        let (ctx, size) = blank(canvas)?;
        let side = grid_side(n);
        let rows = n.div_ceil(side);
        self.pixels.clear();
        self.pixels.resize((side * rows * 4) as usize, 0);
        for (i, px) in self.pixels.chunks_exact_mut(4).take(n as usize).enumerate() {
            px.copy_from_slice(&colour(i as u32));
        }
        self.blit(&ctx, side, rows, 0.0, size)?;
        if let Some(i) = selected.filter(|&i| i < n) {
            let scale = size / f64::from(side);
            let (cx, cy) = (f64::from(i % side) * scale, f64::from(i / side) * scale);
            outline(&ctx);
            ctx.stroke_rect(cx - 1.0, cy - 1.0, scale + 2.0, scale + 2.0);
        }
        Ok(())
    }

    /// Draws the pixel buffer (`w` x `h`) scaled into the square at (`origin`, `origin`) of
    /// side `size`.
    pub fn blit(
        &mut self,
        ctx: &CanvasRenderingContext2d,
        w: u32,
        h: u32,
        origin: f64,
        size: f64,
    ) -> Result<(), JsValue> {
        let scale = size / f64::from(w.max(h));
        let (fw, fh) = (f64::from(w), f64::from(h));
        self.blit_parts(
            ctx,
            w,
            h,
            &[([0.0, 0.0, fw, fh], [origin, origin, fw * scale, fh * scale])],
        )
    }

    /// Draws parts of the pixel buffer (`w` x `h`): each `(source, destination)` is an
    /// `[x, y, width, height]` rectangle of the buffer, in pixels, and where it goes on the
    /// canvas, in CSS pixels. One upload for several pictures of different shapes.
    pub fn blit_parts(
        &mut self,
        ctx: &CanvasRenderingContext2d,
        w: u32,
        h: u32,
        parts: &[([f64; 4], [f64; 4])],
    ) -> Result<(), JsValue> {
        let scratch = self.scratch.load(&self.pixels, w, h)?;
        ctx.set_image_smoothing_enabled(false);
        for ([sx, sy, sw, sh], [dx, dy, dw, dh]) in parts {
            ctx.draw_image_with_html_canvas_element_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
                &scratch, *sx, *sy, *sw, *sh, *dx, *dy, *dw, *dh,
            )?;
        }
        Ok(())
    }
}

/// Sets the stroke that outlines the inspected node.
pub fn outline(ctx: &CanvasRenderingContext2d) {
    ctx.set_stroke_style_str(palette::MARK);
    ctx.set_line_width(1.5);
}

/// The grid cell under a point of the canvas (CSS pixels), for `n` nodes.
pub fn grid_node_at(canvas: &HtmlCanvasElement, n: u32, x: f64, y: f64) -> Option<u32> {
    let size = f64::from(canvas.client_width().max(1));
    let (fx, fy) = (x / size, y / size);
    if !(0.0..1.0).contains(&fx) || !(0.0..1.0).contains(&fy) {
        return None;
    }
    let side = grid_side(n);
    let (cx, cy) = ((fx * f64::from(side)) as u32, (fy * f64::from(side)) as u32);
    let i = cy * side + cx;
    (i < n).then_some(i)
}
