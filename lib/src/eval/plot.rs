//! PR and ROC plots with several runs overlaid (as the paper's Figure 3), as SVG text or PNG bytes.
//!
//! Text is drawn with an embedded subset of DejaVu Sans (`FONT-LICENSE` beside this file), so plots
//! look the same on every machine and need no system fonts.

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::curve::{Confusion, Curve};
use crate::error::{Error, Result};

const FONT: &[u8] = include_bytes!("DejaVuSans-ASCII.ttf");
pub(crate) const FAMILY: &str = "sans-serif";

/// Okabe–Ito colours (readable for colour-blind readers), then black.
pub(crate) const COLOURS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

/// Which plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotKind {
    /// Precision (y) against recall (x).
    PrecisionRecall,
    /// True positive rate (y) against false positive rate (x).
    Roc,
}

/// One run on a plot.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// The run's name in the legend.
    pub label: &'a str,
    /// Its curve (with points).
    pub curve: &'a Curve,
    /// The counts at the chosen threshold, drawn as a cross.
    pub at_threshold: Option<Confusion>,
}

/// Width and height of the PNG, in pixels (the SVG has the same size in user units).
pub const SIZE: (u32, u32) = (900, 700);

pub(crate) fn register_font() -> Result<()> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(
            "plot: the embedded font does not load".into(),
        ))
    }
}

pub(crate) fn plot_error<E: std::fmt::Display>(e: E) -> Error {
    Error::Invalid(format!("plot: {e}"))
}

/// The plot as SVG text.
pub fn svg(kind: PlotKind, series: &[Series<'_>], title: &str) -> Result<String> {
    register_font()?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
        draw(&root, kind, series, title)?;
        root.present().map_err(plot_error)?;
    }
    Ok(text)
}

/// The plot as PNG bytes (8-bit RGB).
pub fn png(kind: PlotKind, series: &[Series<'_>], title: &str) -> Result<Vec<u8>> {
    register_font()?;
    let (w, h) = SIZE;
    let mut pixels = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, SIZE).into_drawing_area();
        draw(&root, kind, series, title)?;
        root.present().map_err(plot_error)?;
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(plot_error)?;
    writer.write_image_data(&pixels).map_err(plot_error)?;
    writer.finish().map_err(plot_error)?;
    Ok(out)
}

fn xy(kind: PlotKind, c: &Confusion) -> Option<(f64, f64)> {
    match kind {
        PlotKind::PrecisionRecall => Some((c.recall()?, c.precision()?)),
        PlotKind::Roc => Some((c.fpr()?, c.recall()?)),
    }
}

/// Three decimals, or three significant digits below 0.001 (AP under extreme imbalance).
fn fmt(v: Option<f64>) -> String {
    match v {
        None => "NA".into(),
        Some(v) if v != 0.0 && v.abs() < 1e-3 => format!("{v:.2e}"),
        Some(v) => format!("{v:.3}"),
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    kind: PlotKind,
    series: &[Series<'_>],
    title: &str,
) -> Result<()> {
    root.fill(&WHITE).map_err(plot_error)?;
    let (x_desc, y_desc) = match kind {
        PlotKind::PrecisionRecall => ("Recall (sensitivity, s+)", "Precision (p)"),
        PlotKind::Roc => ("False positive rate", "True positive rate (s+)"),
    };
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FAMILY, 26))
        .margin(18)
        .x_label_area_size(55)
        .y_label_area_size(65)
        .build_cartesian_2d(0f64..1f64, 0f64..1.0001f64)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_labels(11)
        .y_labels(11)
        .x_label_formatter(&|v| format!("{v:.1}"))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .label_style((FAMILY, 15))
        .axis_desc_style((FAMILY, 18))
        .light_line_style(RGBColor(244, 244, 244))
        .bold_line_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(plot_error)?;
    if kind == PlotKind::Roc {
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                6,
                4,
                RGBColor(150, 150, 150).stroke_width(1),
            ))
            .map_err(plot_error)?;
    }
    for (i, s) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let style = colour.stroke_width(2);
        let mut points: Vec<(f64, f64)> = Vec::with_capacity(s.curve.points.len() + 1);
        match kind {
            PlotKind::PrecisionRecall => {
                // as scikit-learn's curve: from (recall 0, precision 1)
                if s.curve.positives > 0 {
                    points.push((0.0, 1.0));
                }
            }
            PlotKind::Roc => points.push((0.0, 0.0)),
        }
        points.extend(s.curve.points.iter().filter_map(|p| xy(kind, &p.confusion)));
        let legend = match kind {
            PlotKind::PrecisionRecall => format!(
                "{}: AP {}, max F1 {}",
                s.label,
                fmt(s.curve.average_precision),
                fmt(s.curve.max_f1.and_then(|p| p.confusion.f1()))
            ),
            PlotKind::Roc => format!("{}: AUROC {}", s.label, fmt(s.curve.auroc)),
        };
        chart
            .draw_series(LineSeries::new(points, style))
            .map_err(plot_error)?
            .label(legend)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        if let Some(best) = s.curve.max_f1.and_then(|p| xy(kind, &p.confusion)) {
            chart
                .draw_series([Circle::new(best, 5, colour.filled())])
                .map_err(plot_error)?;
        }
        if let Some(at) = s.at_threshold.as_ref().and_then(|c| xy(kind, c)) {
            chart
                .draw_series([Cross::new(at, 6, colour.stroke_width(2))])
                .map_err(plot_error)?;
        }
    }
    chart
        .configure_series_labels()
        .position(match kind {
            PlotKind::PrecisionRecall => SeriesLabelPosition::UpperRight,
            PlotKind::Roc => SeriesLabelPosition::LowerRight,
        })
        .label_font((FAMILY, 15))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(120, 120, 120))
        .margin(10)
        .draw()
        .map_err(plot_error)?;
    // what the markers mean
    let note = "dot: max-F1 threshold   cross: chosen threshold";
    root.draw(&Text::new(
        note,
        (18, SIZE.1 as i32 - 22),
        (FAMILY, 13).into_font().color(&RGBColor(90, 90, 90)),
    ))
    .map_err(plot_error)?;
    Ok(())
}
