//! The report as Markdown (`--format md`): the same sections, headings and tables as the
//! HTML page. Markdown has no pictures of its own, so each chart becomes a table of its
//! values with a text bar column (`█`, scaled to the largest value), and the ROC curve a
//! table of up to [`CURVE_ROWS`] of its points.

use std::fmt::Write as _;

use super::Report;
use super::document::{Block, Chart, fixed, sections};

/// Width of the longest text bar, in characters.
pub const BAR_WIDTH: usize = 30;
/// Points of a curve listed.
pub const CURVE_ROWS: usize = 11;

/// Escapes text so Markdown shows it as written (table cells included).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '|' | '<' | '>' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A text bar of `value` on a scale whose longest bar is `max`.
fn text_bar(value: f64, max: f64) -> String {
    let n = if max > 0.0 && value > 0.0 {
        ((value / max) * BAR_WIDTH as f64).round().max(1.0) as usize
    } else {
        0
    };
    "█".repeat(n)
}

fn row(out: &mut String, cells: &[String]) {
    out.push('|');
    for c in cells {
        let _ = write!(out, " {} |", escape(c));
    }
    out.push('\n');
}

fn table(out: &mut String, caption: &str, head: &[String], numeric: &[bool], rows: &[Vec<String>]) {
    let _ = writeln!(out, "**{}**\n", escape(caption));
    row(out, head);
    out.push('|');
    for i in 0..head.len() {
        out.push_str(if numeric.get(i).copied().unwrap_or(false) {
            " ---: |"
        } else {
            " --- |"
        });
    }
    out.push('\n');
    for r in rows {
        row(out, r);
    }
    out.push('\n');
}

fn bars(out: &mut String, title: &str, label: &str, axis: &str, bars: &[super::svg::Bar]) {
    let max = bars.iter().map(|b| b.value).fold(0.0, f64::max);
    let rows: Vec<Vec<String>> = bars
        .iter()
        .map(|b| vec![b.label.clone(), b.shown.clone(), text_bar(b.value, max)])
        .collect();
    table(
        out,
        &format!("{title} (chart)"),
        &[label.to_string(), axis.to_string(), String::new()],
        &[false, true, false],
        &rows,
    );
}

/// The whole document.
pub fn render(r: &Report) -> String {
    let secs = sections(r);
    let mut out = String::new();
    let _ = writeln!(out, "# crmlens report: {}\n", escape(&r.title));
    let _ = writeln!(
        out,
        "Workspace {}, crmlens {}. Aggregates only: no customer ids, names or e-mails.\n",
        escape(&r.workspace_file),
        escape(r.version)
    );
    for s in &secs {
        let _ = writeln!(out, "## {}\n", escape(s.heading));
        for b in &s.blocks {
            match b {
                Block::Para(t) => {
                    let _ = writeln!(out, "{}\n", escape(t));
                }
                Block::Skipped(t) => {
                    let _ = writeln!(out, "> {}\n", escape(t));
                }
                Block::Table {
                    caption,
                    head,
                    numeric,
                    rows,
                    ..
                } => table(&mut out, caption, head, numeric, rows),
                Block::Chart(Chart::Bars {
                    title,
                    label,
                    axis,
                    bars: b,
                    ..
                })
                | Block::Chart(Chart::HBars {
                    title,
                    label,
                    axis,
                    bars: b,
                    ..
                }) => bars(&mut out, title, label, axis, b),
                Block::Chart(Chart::Curve {
                    title,
                    x,
                    y,
                    points,
                    ..
                }) => {
                    let rows: Vec<Vec<String>> =
                        crate::analytics::evaluation::thin(points, CURVE_ROWS)
                            .iter()
                            .map(|(a, b)| vec![fixed(*a, 3), fixed(*b, 3)])
                            .collect();
                    table(
                        &mut out,
                        &format!("{title} ({} of its points)", rows.len()),
                        &[x.clone(), y.clone()],
                        &[true, true],
                        &rows,
                    );
                }
            }
        }
    }
    out
}
