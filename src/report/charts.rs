//! SVG charts drawn with plotters, inlined into the HTML report. Level boundaries are thin grey lines.
//!
//! Charts only ever draw text we generate (period labels, numbers, fixed captions), never text from
//! the data, so nothing untrusted reaches the SVG. Missing values break the line instead of being
//! drawn as zero; a chart with no values at all says so.

use plotters::coord::types::{RangedCoordf64, RangedCoordi32};
use plotters::prelude::*;

use crate::error::{Error, Result};

const WIDTH: u32 = 520;
const HEIGHT: u32 = 210;
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

/// The y-axis top: room above the data, and the next boundary above it if that is close.
fn y_top(values: &[f64], thresholds: &[Threshold]) -> f64 {
    let max = values.iter().copied().fold(0.0, f64::max);
    let next = thresholds.iter().map(|t| t.value).filter(|t| *t >= max).fold(f64::INFINITY, f64::min);
    let mut top = (max * 1.2).max(1e-9);
    if next.is_finite() && next <= max.max(1e-9) * 3.0 + 1e-9 {
        top = top.max(next * 1.15);
    }
    if max == 0.0 && !next.is_finite() { 1.0 } else { top }
}

/// The label under tick `x`: every `every`-th period is named so long axes stay legible.
fn label_at(labels: &[String], every: usize, x: i32) -> String {
    match usize::try_from(x) {
        Ok(i) if i < labels.len() && i.is_multiple_of(every) => labels[i].clone(),
        _ => String::new(),
    }
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordi32, RangedCoordf64>>;

/// The shared axes: a period label under every few ticks (at most `max_labels`), light grid lines.
fn draw_axes(chart: &mut Chart, labels: &[String], max_labels: usize, unit: &str) -> Result<()> {
    let n = labels.len() as i32;
    let every = (labels.len() / max_labels).max(1);
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
        .y_label_formatter(&|y| number(*y))
        .y_desc(unit)
        .label_style(("sans-serif", 11).into_font().color(&INK))
        .draw()
        .map_err(chart_error)
}

fn empty(message: &str) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let style = ("sans-serif", 14).into_font().color(&INK);
        root.draw(&Text::new(message.to_string(), (WIDTH as i32 / 2 - 90, HEIGHT as i32 / 2), style))
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
            .margin(10)
            .margin_right(70)
            .x_label_area_size(26)
            .y_label_area_size(46)
            .build_cartesian_2d(-1i32..n, 0f64..top)
            .map_err(chart_error)?;
        draw_axes(&mut chart, &spec.labels, 8, spec.unit)?;
        for t in spec.thresholds.iter().filter(|t| t.value < top) {
            // One thin line per boundary: a dashed series would cost dozens of SVG elements each.
            let style = ShapeStyle { color: INK.mix(0.45), filled: false, stroke_width: 1 };
            chart.draw_series(LineSeries::new(vec![(-1, t.value), (n, t.value)], style)).map_err(chart_error)?;
            let font = ("sans-serif", 11).into_font().color(&INK);
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
    let n = values.len() as i32;
    let top = (values.iter().copied().max().unwrap_or(0) as f64 * 1.2).max(1.0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(26)
            .y_label_area_size(46)
            .build_cartesian_2d(-1i32..n, 0f64..top)
            .map_err(chart_error)?;
        draw_axes(&mut chart, labels, 7, unit)?;
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
    fn many_periods_render() {
        let labels: Vec<String> = (1..=53).map(|w| format!("2025-W{w:02}")).collect();
        let values: Vec<u64> = (0..53).map(|i| i % 7).collect();
        let svg = bars(&labels, &values, "deployments", colour("#1f6feb")).unwrap();
        assert!(svg.matches("<rect").count() >= 53);
    }
}
