//! `grapevine sweep --plot FILE.svg` (and `grapevine merge --plot`): the figure a paper would
//! show of a sweep. The first varied setting on the x-axis, the second (if any) as series; for
//! each series the mean of the chosen figure over the runs at each point, with its 95 %
//! interval as a band, and theory dashed where the core has it (the mean-field rounds until
//! all are informed on the complete graph without a stop rule, Demers' residue of the feedback
//! coin, SWIM's first detection after one crash). Drawn with plotters' SVG backend.

use grapevine_core::experiment::Summary;
use grapevine_core::sweep::{short_number, ENGINE_FIGURES};
use plotters::prelude::*;
use std::path::Path;

/// One point of the plot: its x, its series' name, what theory expects there (where the core
/// has a model), and the figure's distribution over the runs that reached it, with their
/// number.
pub struct Mark<'a> {
    pub x: f64,
    pub series: &'a str,
    pub theory: Option<f64>,
    pub summary: Option<(Summary, u32)>,
}

/// A recorded room beside the simulated points (`grapevine sweep --room`): its x, its name
/// for the legend, and the figure's distribution over its rumors.
pub struct RoomMark<'a> {
    pub x: f64,
    pub label: &'a str,
    pub summary: Option<(Summary, u32)>,
}

/// Draws `figure` of `marks` into `path`; `x_name` labels the x-axis (a setting's name,
/// with `categories` when its values are not numbers: then x is their index). `rooms` are
/// drawn over them in black, each its mean and 95 % interval over its rumors.
pub fn draw(
    path: &Path,
    figure: &str,
    x_name: &str,
    categories: Option<&[String]>,
    series_name: Option<&str>,
    marks: &[Mark],
    rooms: &[RoomMark],
) -> Result<(), String> {
    // The round engine's figures in words; a lab protocol's by their names.
    let label = ENGINE_FIGURES
        .iter()
        .find(|f| f.name == figure)
        .map_or(figure, |f| f.label);
    let value = |m: &Mark| m.summary;
    let mut series: Vec<&str> = Vec::new();
    for m in marks {
        if !series.contains(&m.series) {
            series.push(m.series);
        }
    }
    // Each series' points: x, mean, interval; and theory where the core has it.
    let mut lines = Vec::new();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &name in &series {
        let mut measured = Vec::new();
        let mut expected = Vec::new();
        for m in marks.iter().filter(|m| m.series == name) {
            if let Some((f, n)) = value(m) {
                let [a, b] = f.ci95(n);
                measured.push((m.x, f.mean, a, b));
                (lo, hi) = (lo.min(a), hi.max(b));
            }
            if let Some(t) = m.theory {
                expected.push((m.x, t));
                (lo, hi) = (lo.min(t), hi.max(t));
            }
        }
        lines.push((name, measured, expected));
    }
    // Each room's mean and interval (a point, without an interval, from one rumor).
    let rooms: Vec<(f64, f64, f64, f64, &str)> = rooms
        .iter()
        .filter_map(|r| {
            let (f, n) = r.summary?;
            let [a, b] = if n > 1 { f.ci95(n) } else { [f.mean; 2] };
            (lo, hi) = (lo.min(a), hi.max(b));
            Some((r.x, f.mean, a, b, r.label))
        })
        .collect();
    if !lo.is_finite() {
        return Err(format!("no run reached a value of {figure} to plot"));
    }
    let pad = ((hi - lo) * 0.08).max(hi.abs() * 0.02).max(1e-9);
    // Room above the highest point for the legend in a top corner, a line per entry: what is
    // drawn is not hidden under it.
    let entries = lines
        .iter()
        .map(|(_, _, expected)| if expected.is_empty() { 1 } else { 2 })
        .sum::<usize>()
        + rooms.len();
    let legend = (hi - lo).max(pad) * 0.05 * entries as f64;
    let (y0, y1) = (
        (lo - pad).max(if lo >= 0.0 { 0.0 } else { lo - pad }),
        hi + pad + legend,
    );
    let xs: Vec<f64> = marks
        .iter()
        .map(|m| m.x)
        .chain(rooms.iter().map(|r| r.0))
        .collect();
    let (x0, x1) = xs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let xpad = if categories.is_some() {
        0.5
    } else if x1 > x0 {
        (x1 - x0) * 0.03
    } else {
        0.5
    };
    // Log-spaced numbers (a range with *F) read better on a log axis.
    let log_x = categories.is_none() && x0 > 0.0 && x1 / x0 >= 100.0;
    // Whole-numbered settings (fanout, k, nodes) get ticks at whole numbers only.
    let whole_x = categories.is_some() || xs.iter().all(|x| x.fract() == 0.0);
    // The legend in the top corner whose third of the x-axis holds lower values.
    let highest = |from: f64, to: f64| {
        lines
            .iter()
            .flat_map(|(_, m, _)| m.iter().map(|&(x, _, _, b)| (x, b)))
            .chain(rooms.iter().map(|&(x, _, _, b, _)| (x, b)))
            .filter(|&(x, _)| from <= x && x <= to)
            .fold(f64::NEG_INFINITY, |h, (_, b)| h.max(b))
    };
    let third = (x1 - x0) / 3.0;
    let legend_at = if highest(x0, x0 + third) < highest(x1 - third, x1) {
        SeriesLabelPosition::UpperLeft
    } else {
        SeriesLabelPosition::UpperRight
    };
    // Categories' series side by side, so their intervals do not hide each other.
    if categories.is_some() && lines.len() > 1 {
        let k = lines.len() as f64;
        for (i, (_, measured, _)) in lines.iter_mut().enumerate() {
            let shift = (i as f64 - (k - 1.0) / 2.0) * 0.3 / k;
            for m in measured.iter_mut() {
                m.0 += shift;
            }
        }
    }

    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    let fail = |e: &dyn std::fmt::Display| format!("drawing {}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(
            match series_name {
                Some(s) => format!("{label} against {x_name}, by {s}"),
                None => format!("{label} against {x_name}"),
            },
            ("sans-serif", 18),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64);
    let x_desc = match categories {
        Some(_) => x_name.to_string(),
        None => format!("{x_name}{}", if log_x { " (log scale)" } else { "" }),
    };
    let colors = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(255, 127, 14),
        RGBColor(23, 190, 207),
    ];
    macro_rules! plot {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .light_line_style(WHITE)
                .x_desc(x_desc.as_str())
                .y_desc(label)
                .x_label_formatter(&|x: &f64| {
                    if whole_x && (x - x.round()).abs() > 1e-9 {
                        return String::new();
                    }
                    match categories {
                        Some(c) => c.get(x.round() as usize).cloned().unwrap_or_default(),
                        None => short_number(*x),
                    }
                })
                .y_label_formatter(&|y: &f64| short_number(*y))
                .draw()
                .map_err(|e| fail(&e))?;
            for (i, (name, measured, expected)) in lines.iter().enumerate() {
                let color = colors[i % colors.len()];
                let legend = match series_name {
                    Some(s) => format!("{s} {name}: "),
                    None => String::new(),
                };
                if categories.is_some() {
                    // Categories have no order between them: intervals, no band or line.
                    chart
                        .draw_series(measured.iter().map(|&(x, m, a, b)| {
                            ErrorBar::new_vertical(x, a, m, b, color.stroke_width(2), 10)
                        }))
                        .map_err(|e| fail(&e))?
                        .label(format!("{legend}mean and its 95 % interval"))
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                        });
                } else {
                    let band: Vec<(f64, f64)> = measured
                        .iter()
                        .map(|&(x, _, a, _)| (x, a))
                        .chain(measured.iter().rev().map(|&(x, _, _, b)| (x, b)))
                        .collect();
                    chart
                        .draw_series(std::iter::once(Polygon::new(
                            band,
                            color.mix(0.18).filled(),
                        )))
                        .map_err(|e| fail(&e))?;
                    chart
                        .draw_series(LineSeries::new(
                            measured.iter().map(|&(x, m, _, _)| (x, m)),
                            color.stroke_width(2),
                        ))
                        .map_err(|e| fail(&e))?
                        .label(format!("{legend}mean, 95 % band"))
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                        });
                }
                chart
                    .draw_series(
                        measured
                            .iter()
                            .map(|&(x, m, _, _)| Circle::new((x, m), 3, color.filled())),
                    )
                    .map_err(|e| fail(&e))?;
                if !expected.is_empty() {
                    chart
                        .draw_series(DashedLineSeries::new(
                            expected.iter().copied(),
                            6,
                            4,
                            color.stroke_width(1),
                        ))
                        .map_err(|e| fail(&e))?
                        .label(format!("{legend}theory"))
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 8, y)], color.stroke_width(1))
                        });
                }
            }
            for &(x, m, a, b, name) in &rooms {
                if b > a {
                    chart
                        .draw_series([ErrorBar::new_vertical(
                            x,
                            a,
                            m,
                            b,
                            BLACK.stroke_width(2),
                            12,
                        )])
                        .map_err(|e| fail(&e))?;
                }
                chart
                    .draw_series([Cross::new((x, m), 6, BLACK.stroke_width(3))])
                    .map_err(|e| fail(&e))?
                    .label(format!("{name}: a recorded room, mean over its rumors"))
                    .legend(|(x, y)| Cross::new((x + 10, y), 5, BLACK.stroke_width(3)));
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .position(legend_at)
                .draw()
                .map_err(|e| fail(&e))?;
        }};
    }
    if log_x {
        plot!(builder
            .build_cartesian_2d((x0 / 1.2..x1 * 1.2).log_scale(), y0..y1)
            .map_err(|e| fail(&e))?);
    } else {
        plot!(builder
            .build_cartesian_2d(x0 - xpad..x1 + xpad, y0..y1)
            .map_err(|e| fail(&e))?);
    }
    root.present().map_err(|e| fail(&e))
}
