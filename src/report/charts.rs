//! SVG charts drawn with plotters, inlined into the HTML report. Level boundaries are thin grey lines.
//!
//! Charts only ever draw text we generate (period labels, numbers, fixed captions), never text from
//! the data, so nothing untrusted reaches the SVG. Missing values break the line instead of being
//! drawn as zero; a chart with no values at all says so.

use plotters::coord::types::{RangedCoordf64, RangedCoordi32};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{Error, Result};

// Sized so that text stays legible on paper: a chart fills half the width of an A4 page (about
// 88 mm, 333 CSS px) in print. Plotters writes a font of size F as F / 1.24 SVG units, so F = 17
// prints at 17 / 1.24 × 333 / 440 × 0.75 ≈ 7.8 pt.
const WIDTH: u32 = 440;
const HEIGHT: u32 = 200;
/// Axis labels, boundary names and messages (plotters' font size).
pub const FONT: u32 = 17;
const Y_LABELS: u32 = 50;
const MARGIN: u32 = 10;
const GRID: RGBColor = RGBColor(232, 234, 237);
const INK: RGBColor = RGBColor(95, 99, 104);

/// A horizontal line marking a level boundary.
#[derive(Debug, Clone)]
pub struct Threshold {
    pub value: f64,
    pub label: String,
}

/// A metric over periods.
#[derive(Debug, Clone)]
pub struct Trend {
    pub unit: &'static str,
    pub labels: Vec<String>,
    pub values: Vec<Option<f64>>,
    pub thresholds: Vec<Threshold>,
}

fn chart_error(e: impl std::fmt::Display) -> Error {
    Error::Template { name: "chart".into(), message: e.to_string() }
}

/// Parses `#rrggbb` (already validated by the configuration).
pub fn colour(hex: &str) -> RGBColor {
    let h = hex.trim_start_matches('#');
    let part = |i: usize| u8::from_str_radix(h.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0);
    RGBColor(part(0), part(2), part(4))
}

fn number(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.round() { format!("{v:.0}") } else { format!("{v:.1}") }
}

/// The y-axis top: room above the data, and the next boundary above it if that is close. When
/// every value is zero, the lowest boundary (or 1) gives the axis its scale.
fn y_top(values: &[f64], thresholds: &[Threshold]) -> f64 {
    let max = values.iter().copied().fold(0.0, f64::max);
    let next = thresholds.iter().map(|t| t.value).filter(|t| *t >= max).fold(f64::INFINITY, f64::min);
    if max <= 0.0 {
        return if next.is_finite() && next > 0.0 { next * 1.15 } else { 1.0 };
    }
    let mut top = max * 1.2;
    if next.is_finite() && next <= max * 3.0 {
        top = top.max(next * 1.15);
    }
    top
}

/// Every how many periods a label is written so that labels never overlap: the widest label
/// (about 0.55 of the drawn font size per character, plus a gap) must fit in the space of that many
/// periods. `slots` is the number of positions on the axis.
pub fn label_step(labels: &[String], plot_width: f64, slots: usize) -> usize {
    let widest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as f64;
    // Plotters draws a font of size F at F / 1.24 units; a character is about 0.55 of that wide.
    let needed = widest * FONT as f64 / 1.24 * 0.55 + 6.0;
    let per_slot = plot_width / slots.max(1) as f64;
    ((needed / per_slot).ceil() as usize).max(1)
}

/// The label under tick `x`: every `every`-th period is named so long axes stay legible.
fn label_at(labels: &[String], every: usize, x: i32) -> String {
    match usize::try_from(x) {
        Ok(i) if i < labels.len() && i.is_multiple_of(every) => labels[i].clone(),
        _ => String::new(),
    }
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordi32, RangedCoordf64>>;

/// The shared axes: a period label under every few ticks (as many as fit without overlapping),
/// light grid lines; `whole` keeps only whole numbers on the y axis (counts).
fn draw_axes(chart: &mut Chart, labels: &[String], unit: &str, whole: bool) -> Result<()> {
    let n = labels.len() as i32;
    let plot_width = chart.plotting_area().dim_in_pixel().0 as f64;
    let every = label_step(labels, plot_width, labels.len() + 1);
    let y_label = |y: &f64| if whole && y.fract().abs() > 1e-9 { String::new() } else { number(*y) };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .bold_line_style(GRID)
        .max_light_lines(1)
        .light_line_style(TRANSPARENT)
        .axis_style(GRID)
        .x_labels((n + 2) as usize)
        .x_label_formatter(&|x| label_at(labels, every, *x))
        .y_labels(5)
        .y_label_formatter(&y_label)
        .y_desc(unit)
        .label_style(("sans-serif", FONT).into_font().color(&INK))
        .draw()
        .map_err(chart_error)
}

fn empty(message: &str) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let style = ("sans-serif", FONT + 2).into_font().color(&INK).pos(Pos::new(HPos::Center, VPos::Center));
        root.draw(&Text::new(message.to_string(), (WIDTH as i32 / 2, HEIGHT as i32 / 2), style))
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// A line chart of a metric over periods with its level boundaries.
pub fn trend(spec: &Trend, accent: RGBColor) -> Result<String> {
    let present: Vec<f64> = spec.values.iter().flatten().copied().collect();
    if present.is_empty() {
        return empty("No data in this window");
    }
    let n = spec.values.len() as i32;
    let top = y_top(&present, &spec.thresholds);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(MARGIN)
            .margin_right(62)
            .x_label_area_size(FONT + 14)
            .y_label_area_size(Y_LABELS)
            .build_cartesian_2d(-1i32..n, 0f64..top)
            .map_err(chart_error)?;
        draw_axes(&mut chart, &spec.labels, spec.unit, false)?;
        // Labels already written, by their height in pixels: a boundary too close to one of them
        // keeps its line but not its label, so names never print over each other.
        let mut written: Vec<i32> = Vec::new();
        for t in spec.thresholds.iter().filter(|t| t.value < top) {
            // One thin line per boundary: a dashed series would cost dozens of SVG elements each.
            let style = ShapeStyle { color: INK.mix(0.45), filled: false, stroke_width: 1 };
            chart.draw_series(LineSeries::new(vec![(-1, t.value), (n, t.value)], style)).map_err(chart_error)?;
            let y = chart.backend_coord(&(n, t.value)).1;
            if written.iter().any(|w| (w - y).abs() < (FONT as f64 / 1.24) as i32 + 1) {
                continue;
            }
            written.push(y);
            let font = ("sans-serif", FONT).into_font().color(&INK).pos(Pos::new(HPos::Left, VPos::Center));
            chart.plotting_area().draw(&Text::new(t.label.clone(), (n, t.value), font)).map_err(chart_error)?;
        }
        // Lines join consecutive periods that have a value; a gap stays a gap.
        let mut run: Vec<(i32, f64)> = Vec::new();
        let line = ShapeStyle { color: accent.to_rgba(), filled: false, stroke_width: 2 };
        for (i, v) in spec.values.iter().enumerate() {
            match v {
                Some(v) => run.push((i as i32, *v)),
                None => {
                    if run.len() > 1 {
                        chart.draw_series(LineSeries::new(run.clone(), line)).map_err(chart_error)?;
                    }
                    run.clear();
                }
            }
        }
        if run.len() > 1 {
            chart.draw_series(LineSeries::new(run, line)).map_err(chart_error)?;
        }
        let points = spec.values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i as i32, v)));
        chart.draw_series(points.map(|p| Circle::new(p, 3, accent.filled()))).map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// Bars of a count per period (deployments per week).
pub fn bars(labels: &[String], values: &[u64], unit: &'static str, accent: RGBColor) -> Result<String> {
    if values.is_empty() {
        return empty("No periods in this window");
    }
    if values.iter().all(|v| *v == 0) {
        return empty("None in these weeks");
    }
    let n = values.len() as i32;
    let top = (values.iter().copied().max().unwrap_or(0) as f64 * 1.2).max(1.0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(MARGIN)
            .x_label_area_size(FONT + 14)
            .y_label_area_size(Y_LABELS)
            .build_cartesian_2d(-1i32..n, 0f64..top)
            .map_err(chart_error)?;
        draw_axes(&mut chart, labels, unit, true)?;
        chart
            .draw_series(values.iter().enumerate().map(|(i, v)| {
                let x = i as i32;
                let mut bar = Rectangle::new([(x, 0.0), (x + 1, *v as f64)], accent.mix(0.85).filled());
                bar.set_margin(0, 0, 3, 3);
                bar
            }))
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(values: Vec<Option<f64>>) -> Trend {
        Trend {
            unit: "hours",
            labels: (0..values.len()).map(|i| format!("2025-Q{}", i + 1)).collect(),
            values,
            thresholds: vec![Threshold { value: 24.0, label: "elite".into() }],
        }
    }

    #[test]
    fn no_data_says_so() {
        let svg = trend(&spec(vec![None, None]), colour("#1f6feb")).unwrap();
        assert!(svg.contains("No data in this window"));
    }

    #[test]
    fn one_point_and_gaps_draw() {
        let one = trend(&spec(vec![Some(3.0)]), colour("#1f6feb")).unwrap();
        assert!(one.starts_with("<svg") && one.contains("<circle"));
        let gap = trend(&spec(vec![Some(3.0), None, Some(5.0), Some(6.0)]), colour("#1f6feb")).unwrap();
        assert_eq!(gap.matches("<circle").count(), 3);
        // One line joins the last two values; the gap after the first leaves it a lone point.
        assert_eq!(gap.matches("<polyline fill=\"none\" opacity=\"1\" stroke=\"#1F6FEB\"").count(), 1);
    }

    #[test]
    fn all_zero_values_get_a_real_axis_and_empty_bars_say_so() {
        let svg = trend(&spec(vec![Some(0.0), Some(0.0)]), colour("#1f6feb")).unwrap();
        // The axis runs up to the lowest boundary, not to a billionth: no "0.0" tick labels.
        assert!(!svg.contains("\n0.0\n"), "{svg}");
        assert!(svg.contains("\n20\n") || svg.contains("\n25\n"), "axis scaled to the boundary: {svg}");
        let bars = bars(&["W01".into(), "W02".into()], &[0, 0], "deployments", colour("#1f6feb")).unwrap();
        assert!(bars.contains("None in these weeks") && !bars.contains("\n0.0\n"), "{bars}");
        // Counts have whole-number ticks only.
        let one = super::bars(&["W01".into()], &[1], "deployments", colour("#1f6feb")).unwrap();
        assert!(!one.contains("\n0.2\n") && !one.contains("\n0.5\n") && one.contains("\n1\n"), "{one}");
    }

    #[test]
    fn week_labels_never_overlap_and_print_at_seven_points_or_more() {
        let labels: Vec<String> = (1..=14).map(|w| format!("W{w:02}")).collect();
        let plot = 360.0;
        let every = label_step(&labels, plot, labels.len() + 1);
        let label_width = 3.0 * FONT as f64 / 1.24 * 0.55;
        assert!(plot / 15.0 * every as f64 >= label_width + 8.0, "every {every}");
        let long: Vec<String> = (1..=14).map(|w| format!("2025-W{w:02}")).collect();
        assert!(label_step(&long, plot, 15) > every);
        // Every text drawn, at half an A4 page's width (333 CSS px) in print, 0.75 pt per CSS px.
        let values: Vec<Option<f64>> = (0..8).map(|i| Some(i as f64 * 10.0)).collect();
        let svgs = [
            trend(&spec(values), colour("#1f6feb")).unwrap(),
            bars(&labels, &[1; 14], "deployments", colour("#1f6feb")).unwrap(),
            trend(&spec(vec![None]), colour("#1f6feb")).unwrap(),
        ];
        for svg in svgs {
            for size in svg.split("font-size=\"").skip(1).map(|s| s.split('"').next().unwrap().parse::<f64>().unwrap())
            {
                let printed_pt = size * 333.0 / WIDTH as f64 * 0.75;
                assert!(printed_pt >= 7.0, "{size} units print at {printed_pt:.1} pt");
            }
        }
    }

    #[test]
    fn boundary_names_close_together_are_not_written_over_each_other() {
        let mut close = spec(vec![Some(80.0), Some(70.0)]);
        close.thresholds = ["elite", "high", "medium"]
            .iter()
            .zip([5.0, 10.0, 15.0])
            .map(|(label, value)| Threshold { value, label: label.to_string() })
            .collect();
        let svg = trend(&close, colour("#1f6feb")).unwrap();
        let names = ["elite", "high", "medium"].iter().filter(|n| svg.contains(&format!("\n{n}\n"))).count();
        assert!((1..3).contains(&names), "{names} names for three lines 5 units apart");
        // Four quarters are all named.
        let four = trend(&spec(vec![Some(1.0); 4]), colour("#1f6feb")).unwrap();
        assert!((1..=4).all(|q| four.contains(&format!("2025-Q{q}"))), "{four}");
    }

    #[test]
    fn many_periods_render() {
        let labels: Vec<String> = (1..=53).map(|w| format!("2025-W{w:02}")).collect();
        let values: Vec<u64> = (0..53).map(|i| i % 7).collect();
        let svg = bars(&labels, &values, "deployments", colour("#1f6feb")).unwrap();
        assert!(svg.matches("<rect").count() >= 53);
    }
}
