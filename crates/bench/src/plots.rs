//! The plots of one run, as SVG (plotters' SVG backend writes text as
//! `<text>`, so drawing needs no font): throughput and p99 against
//! concurrency, the latency distribution of creates at C=64, and the sync
//! lag over time, idle and under creates.

use std::ops::Range;
use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::results::{Results, thousands};

const WIDTH: u32 = 960;
const HEIGHT: u32 = 420;
const CREATES: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const PAGES: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const FONT: (&str, u32) = ("sans-serif", 15);

type Drawn = Result<(), String>;

/// A named, coloured line of (x, y) points.
type Series<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

/// Writes `concurrency.svg`, `create-latency.svg` and `sync-lag.svg` into `dir`.
pub(crate) fn draw(results: &Results, dir: &Path) -> Drawn {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    concurrency(results, &dir.join("concurrency.svg"))?;
    create_latency(results, &dir.join("create-latency.svg"))?;
    sync_lag(results, &dir.join("sync-lag.svg"))
}

fn failed(error: impl std::fmt::Display) -> String {
    format!("drawing: {error}")
}

/// `(concurrency, field)` of each run of `scenario`, by concurrency.
fn by_concurrency(results: &Results, scenario: &str, field: &str) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = [1, 8, 32, 64, 128]
        .iter()
        .filter_map(|c| results.at(scenario, *c))
        .filter_map(|row| Some((row["concurrency"].as_f64()?, row[field].as_f64()?)))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points
}

/// An axis label: whole numbers as such, small ones with a decimal.
fn plain(value: f64) -> String {
    if value >= 100.0 {
        thousands(value)
    } else if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// A chart's title, and each axis's description and range.
struct Axes<'a> {
    title: &'a str,
    x: (&'a str, Range<f64>),
    y: (&'a str, Range<f64>),
}

type Linear<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A chart with linear axes on `area`, its mesh drawn.
fn linear<'a, 'b: 'a>(
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    axes: Axes,
) -> Result<Linear<'a, 'b>, String> {
    let mut chart = ChartBuilder::on(area)
        .caption(axes.title, FONT)
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(70)
        .build_cartesian_2d(axes.x.1, axes.y.1)
        .map_err(failed)?;
    chart
        .configure_mesh()
        .x_desc(axes.x.0)
        .y_desc(axes.y.0)
        .x_label_formatter(&|x| plain(*x))
        .y_label_formatter(&|y| plain(*y))
        .label_style(FONT)
        .draw()
        .map_err(failed)?;
    Ok(chart)
}

/// The legend of the series drawn, at `position`.
fn legend<'a, 'b: 'a, Coords: CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, Coords>,
    position: SeriesLabelPosition,
) -> Drawn {
    chart
        .configure_series_labels()
        .position(position)
        .label_font(FONT)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(failed)
}

/// 0 to a little above the largest value.
fn room(values: impl Iterator<Item = f64>) -> Range<f64> {
    let top = values.fold(0.0, f64::max);
    0.0..(top * 1.1).max(1.0)
}

/// One panel: y against concurrent clients (log scale), creates and pages.
fn panel(
    area: &DrawingArea<SVGBackend, Shift>,
    title: &str,
    y_label: &str,
    series: [Series; 2],
) -> Drawn {
    let y_range = room(
        series
            .iter()
            .flat_map(|(_, _, p)| p.iter().map(|(_, y)| *y)),
    );
    let mut chart = ChartBuilder::on(area)
        .caption(title, FONT)
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(70)
        .build_cartesian_2d((1.0f64..160.0).log_scale(), y_range)
        .map_err(failed)?;
    chart
        .configure_mesh()
        .x_desc("concurrent clients")
        .y_desc(y_label)
        .x_labels(8)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| plain(*y))
        .label_style(FONT)
        .draw()
        .map_err(failed)?;
    for (name, color, points) in series {
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(failed)?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(points.iter().map(|p| Circle::new(*p, 4, color.filled())))
            .map_err(failed)?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

/// `field` of the create runs and of the first-page runs against
/// concurrency, named `names`.
fn creates_and_pages<'a>(results: &Results, field: &str, names: [&'a str; 2]) -> [Series<'a>; 2] {
    [
        (names[0], CREATES, by_concurrency(results, "create", field)),
        (names[1], PAGES, by_concurrency(results, "fetch", field)),
    ]
}

fn concurrency(results: &Results, path: &Path) -> Drawn {
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(failed)?;
    let (left, right) = root.split_horizontally(WIDTH / 2);
    panel(
        &left,
        "Throughput",
        "requests per second",
        creates_and_pages(
            results,
            "throughput_per_s",
            ["creates (PUT /buy_order)", "first pages (GET /buy_orders)"],
        ),
    )?;
    panel(
        &right,
        "p99 latency",
        "p99 latency (ms)",
        creates_and_pages(results, "p99_ms", ["creates", "first pages"]),
    )?;
    root.present().map_err(failed)
}

/// A line of `[x, y]` pairs from a JSON array, with x and y scaled.
fn pairs(value: &serde_json::Value, x_scale: f64, y_scale: f64) -> Vec<(f64, f64)> {
    let points = value.as_array().cloned().unwrap_or_default();
    points
        .iter()
        .filter_map(|p| Some((p[0].as_f64()? * x_scale, p[1].as_f64()? * y_scale)))
        .collect()
}

fn create_latency(results: &Results, path: &Path) -> Drawn {
    let Some(row) = results.at("create", 64) else {
        return Err("no create run at C=64 to draw".into());
    };
    // [quantile, ms] as (ms, percent).
    let points: Vec<(f64, f64)> = pairs(&row["cdf_ms"], 100.0, 1.0)
        .into_iter()
        .map(|(percent, ms)| (ms, percent))
        .collect();
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(failed)?;
    let axes = Axes {
        title: "Creates at C=64: share answered within a latency",
        x: ("latency (ms)", room(points.iter().map(|(ms, _)| *ms))),
        y: ("requests answered (%)", 0.0..100.0),
    };
    let mut chart = linear(&root, axes)?;
    chart
        .draw_series(LineSeries::new(points, CREATES.stroke_width(2)))
        .map_err(failed)?
        .label(format!(
            "{} creates",
            thousands(row["requests"].as_f64().unwrap_or(0.0))
        ))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], CREATES.stroke_width(2)));
    legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    root.present().map_err(failed)
}

fn sync_lag(results: &Results, path: &Path) -> Drawn {
    // The same runs the table reports (`Results::starting`).
    let idle = results
        .starting("lag idle")
        .map(|row| pairs(&row["series"], 1.0, 1.0));
    let loaded = results.starting("lag under create");
    let (Some(idle), Some(loaded_row)) = (idle, loaded) else {
        return Err("no lag run to draw".into());
    };
    let loaded = pairs(&loaded_row["series"], 1.0, 1.0);
    let label = loaded_row["scenario"]
        .as_str()
        .unwrap_or("under load")
        .replace("lag under create c=", "under creates at C=");
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(failed)?;
    let axes = Axes {
        title: "Sync lag: from a create's 200 to the order in GET /buy_orders",
        x: (
            "time since the first sample (s)",
            room(idle.iter().chain(&loaded).map(|(s, _)| *s)),
        ),
        y: (
            "lag (ms)",
            room(idle.iter().chain(&loaded).map(|(_, ms)| *ms)),
        ),
    };
    let mut chart = linear(&root, axes)?;
    for (name, color, points) in [("idle", CREATES, idle), (label.as_str(), PAGES, loaded)] {
        chart
            .draw_series(points.iter().map(|p| Circle::new(*p, 2, color.filled())))
            .map_err(failed)?
            .label(name)
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    root.present().map_err(failed)
}
