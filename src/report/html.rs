//! The report as one self-contained HTML page: a small embedded style sheet, tables, and
//! inline SVG charts ([`super::svg`]). No script, no font, no image and no link to anything
//! outside the file (the only links are to its own sections), so it opens offline, in a
//! mail attachment or a locked-down browser alike.
//!
//! Hand-written markup rather than a template crate (none is in the stack): the page is a
//! few element kinds, and writing them here keeps the output stable byte for byte. It is
//! well-formed XML (every element closed, void elements written `<meta ... />`, all text
//! escaped), so a small parser can check it.

use std::fmt::Write as _;

use super::Report;
use super::document::{Block, Chart, Section, sections};
use super::svg::{self, escape};

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:60rem;padding:1rem 1.5rem;color:#1f2933;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}
h2{border-bottom:2px solid #d5dde5;padding-bottom:.2rem;margin-top:2.2rem}
nav ul{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.4rem 1.2rem}
nav a{color:#1c5d99}
table{border-collapse:collapse;margin:.6rem 0 1.2rem;font-size:.9rem;display:block;overflow-x:auto;max-width:100%}
td:first-child{white-space:nowrap}
caption{text-align:left;font-weight:600;padding:.2rem 0}
th,td{border:1px solid #d5dde5;padding:.25rem .5rem;vertical-align:top}
th{background:#eef2f6;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.skipped{background:#fff7e6;border-left:4px solid #e6a23c;padding:.5rem .8rem}
.note{color:#52606d;font-size:.9rem}
svg.chart{width:100%;height:auto;max-width:40rem;display:block;margin:.6rem 0 1.4rem}
svg .chart-title{font-size:14px;font-weight:600;fill:#1f2933}
svg text{font-size:11px;fill:#3e4c59}
svg .grid{stroke:#e4e7eb;stroke-width:1}
svg .axis{stroke:#7b8794;stroke-width:1}
svg .bar rect{fill:#3f88c5}
svg .curve{fill:none;stroke:#d64545;stroke-width:2}
svg .diagonal{stroke:#9aa5b1;stroke-width:1;stroke-dasharray:4 4}
";

/// The whole page.
pub fn render(r: &Report) -> String {
    let secs = sections(r);
    let mut out = String::new();
    let title = format!("crmlens report: {}", r.title);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <meta name=\"generator\" content=\"crmlens {}\"/>\n<title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        escape(r.version),
        escape(&title)
    );
    let _ = writeln!(
        out,
        "<header>\n<h1>{}</h1>\n<p class=\"note\">Workspace {}, crmlens {}. Aggregates only: no customer ids, names or e-mails.</p>",
        escape(&title),
        escape(&r.workspace_file),
        escape(r.version)
    );
    out.push_str("<nav><ul>");
    for s in &secs {
        let _ = write!(
            out,
            "<li><a href=\"#{}\">{}</a></li>",
            escape(s.id),
            escape(s.heading)
        );
    }
    out.push_str("</ul></nav>\n</header>\n");
    for s in &secs {
        section(&mut out, s);
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn section(out: &mut String, s: &Section) {
    let _ = writeln!(
        out,
        "<section id=\"{}\">\n<h2>{}</h2>",
        escape(s.id),
        escape(s.heading)
    );
    for b in &s.blocks {
        match b {
            Block::Para(t) => {
                let _ = writeln!(out, "<p>{}</p>", escape(t));
            }
            Block::Skipped(t) => {
                let _ = writeln!(out, "<p class=\"skipped\">{}</p>", escape(t));
            }
            Block::Table {
                id,
                caption,
                head,
                numeric,
                rows,
            } => {
                let _ = write!(
                    out,
                    "<table id=\"{}\"><caption>{}</caption><thead><tr>",
                    escape(id),
                    escape(caption)
                );
                for h in head {
                    let _ = write!(out, "<th scope=\"col\">{}</th>", escape(h));
                }
                out.push_str("</tr></thead><tbody>\n");
                for row in rows {
                    out.push_str("<tr>");
                    for (i, cell) in row.iter().enumerate() {
                        let class = if numeric.get(i).copied().unwrap_or(false) {
                            " class=\"n\""
                        } else {
                            ""
                        };
                        let _ = write!(out, "<td{class}>{}</td>", escape(cell));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</tbody></table>\n");
            }
            Block::Chart(c) => {
                let svg = match c {
                    Chart::Bars {
                        id,
                        title,
                        axis,
                        bars,
                        ..
                    } => svg::bar_chart(id, title, axis, bars),
                    Chart::HBars {
                        id,
                        title,
                        axis,
                        bars,
                        ..
                    } => svg::hbar_chart(id, title, axis, bars),
                    Chart::Curve {
                        id,
                        title,
                        x,
                        y,
                        points,
                    } => svg::unit_line_chart(id, title, x, y, points, true),
                };
                out.push_str(&svg);
                out.push('\n');
            }
        }
    }
    out.push_str("</section>\n");
}
