//! The report's two charts as inline SVG: the window score histogram (real and decoy, as
//! fractions of their windows) and the estimated FDR against the threshold.

use plotters::prelude::*;

use super::Histogram;
use crate::candidates::fdr;
use crate::error::Result;
use crate::eval::plot::{plot_error, register_font, COLOURS, FAMILY};

const SIZE: (u32, u32) = (640, 360);

/// Score histogram: the fraction of windows per score bin, on a log scale (most windows score
/// near 0, the calls are in the far tail), real in blue and decoy in orange.
pub fn histogram(real: &Histogram, decoy: Option<&Histogram>) -> Result<String> {
    register_font()?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let bins = real.counts.len();
        let fractions = |h: &Histogram| -> Vec<f64> {
            let total = h.total().max(1) as f64;
            h.counts.iter().map(|&c| c as f64 / total).collect()
        };
        let series: Vec<(Vec<f64>, &str)> = std::iter::once((fractions(real), "real"))
            .chain(decoy.map(|d| (fractions(d), "decoy")))
            .collect();
        let floor = 1e-7;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..1f64, (floor..1f64).log_scale())
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("window score")
            .y_desc("fraction of windows")
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .label_style((FAMILY, 13))
            .draw()
            .map_err(plot_error)?;
        let width = 1.0 / bins as f64;
        for (k, (values, label)) in series.iter().enumerate() {
            let colour = COLOURS[k];
            let half = width / series.len() as f64;
            chart
                .draw_series(
                    values
                        .iter()
                        .enumerate()
                        .filter(|(_, &v)| v > 0.0)
                        .map(|(b, &v)| {
                            let x = b as f64 * width + k as f64 * half;
                            Rectangle::new([(x, floor), (x + half, v.max(floor))], colour.filled())
                        }),
                )
                .map_err(plot_error)?
                .label(*label)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled())
                });
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .label_font((FAMILY, 13))
            .draw()
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(text)
}

/// Estimated FDR (y) against the score threshold (x), one point per row of the FDR table.
pub fn fdr_curve(rows: &[fdr::Row]) -> Result<String> {
    register_font()?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let lo = rows
            .iter()
            .map(|r| f64::from(r.threshold))
            .fold(1.0, f64::min);
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(lo.min(0.99)..1f64, 0f64..1f64)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("score threshold")
            .y_desc("estimated FDR")
            .label_style((FAMILY, 13))
            .draw()
            .map_err(plot_error)?;
        // thresholds that call no real locus have no FDR
        let points: Vec<(f64, f64)> = rows
            .iter()
            .filter_map(|r| Some((f64::from(r.threshold), r.fdr?)))
            .collect();
        let colour = COLOURS[0];
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                colour.stroke_width(2),
            ))
            .map_err(plot_error)?;
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(text)
}
