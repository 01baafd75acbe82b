//! The Segments screen: the algorithm and its parameters, and the last result: cluster sizes
//! as a bar chart and a pie chart, a profile table in original units, and a 2-D scatter of the
//! customers (principal components) coloured by cluster.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Bar, BarChart, BarGroup, Block, Borders, Cell, Chart, Dataset, GraphType, Paragraph, Row,
    Table,
};
use tui_piechart::{PieChart, PieSlice};

use crate::analytics::segment::{Algorithm, SegmentModel};
use crate::app::State;
use crate::pipeline::segment::KDistance;
use crate::screens::segments::{Field, SegmentsView};
use crate::ui::theme::Theme;

const PALETTE: [Color; 10] = [
    Color::Cyan,
    Color::Yellow,
    Color::Magenta,
    Color::Green,
    Color::Red,
    Color::Blue,
    Color::LightCyan,
    Color::LightYellow,
    Color::LightMagenta,
    Color::LightGreen,
];

fn colour(c: usize, theme: Theme) -> Color {
    if theme.no_color {
        Color::Reset
    } else {
        PALETTE[c % PALETTE.len()]
    }
}

/// The colour of a cluster, or of noise (`None`).
fn label_colour(l: Option<usize>, theme: Theme) -> Color {
    match l {
        Some(c) => colour(c, theme),
        None if theme.no_color => Color::Reset,
        None => Color::DarkGray,
    }
}

pub fn draw(f: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
    let [params, sizes, pie] = Layout::horizontal([
        Constraint::Length(32),
        Constraint::Percentage(40),
        Constraint::Min(20),
    ])
    .areas(top);
    draw_params(f, params, state, theme);
    let [profile, scatter] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(bottom);
    let seg = &state.segments;
    let guide_drawn = seg.show_sweep && draw_guide(f, scatter, state, theme);
    let Some(run) = &seg.run else {
        let msg = if state
            .jobs
            .iter()
            .any(|j| j.kind == crate::app::job::JobKind::Model)
        {
            "running...".to_string()
        } else {
            format!(
                "no result yet: press r to run {} on the Features selection ({})",
                seg.params.algorithm.title(),
                if seg.params.algorithm == Algorithm::Dbscan {
                    "w draws the k-distance curve for eps"
                } else {
                    "w sweeps k"
                }
            )
        };
        f.render_widget(
            Paragraph::new(msg)
                .style(theme.dim())
                .wrap(ratatui::widgets::Wrap { trim: true }),
            sizes,
        );
        return;
    };
    let k = run.clusters();
    // Clusters by label, then noise (DBSCAN) as its own grey bar and slice.
    let mut groups: Vec<(String, usize, Option<usize>)> = run
        .sizes
        .iter()
        .enumerate()
        .map(|(c, n)| (format!("c{c}"), *n, Some(c)))
        .collect();
    if run.noise > 0 {
        groups.push(("noise".into(), run.noise, None));
    }
    let bars: Vec<Bar> = groups
        .iter()
        .map(|(name, n, l)| {
            Bar::default()
                .value(*n as u64)
                .label(Line::from(name.clone()))
                .style(Style::default().fg(label_colour(*l, theme)))
        })
        .collect();
    let title = if run.noise > 0 {
        format!(" {k} clusters + noise: sizes ")
    } else {
        format!(" {k} clusters: sizes ")
    };
    let per_bar = (sizes.width.saturating_sub(2)) / groups.len().max(1) as u16;
    f.render_widget(
        BarChart::default()
            .block(Block::default().title(title).borders(Borders::LEFT))
            .data(BarGroup::default().bars(&bars))
            .bar_width(per_bar.clamp(2, 9) - 1)
            .bar_gap(1),
        sizes,
    );

    if theme.no_color {
        // One pie character for every slice: without colour the slices cannot be told apart,
        // so the shares are listed with each cluster's glyph (the scatter's).
        let total: usize = groups.iter().map(|g| g.1).sum::<usize>().max(1);
        let lines: Vec<Line> = groups
            .iter()
            .map(|(name, n, l)| {
                Line::from(format!(
                    "{} {name:<6} {:>5.1}%",
                    glyph(*l),
                    100.0 * *n as f64 / total as f64
                ))
            })
            .collect();
        f.render_widget(
            Paragraph::new(lines).block(Block::default().title(" share ").borders(Borders::LEFT)),
            pie,
        );
    } else {
        draw_pie(f, pie, &groups, theme);
    }

    draw_profiles(f, profile, state, theme);
    if guide_drawn {
        return;
    }
    if theme.no_color {
        draw_glyph_scatter(f, scatter, run);
        return;
    }
    draw_colour_scatter(f, scatter, run, k, theme);
}

/// The glyph of a cluster in monochrome charts: its number (0-9, then a-z), `·` for noise.
pub fn glyph(l: Option<usize>) -> char {
    const GLYPHS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    match l {
        Some(c) => GLYPHS.get(c).map_or('#', |&b| b as char),
        None => '·',
    }
}

fn draw_pie(f: &mut Frame, pie: Rect, groups: &[(String, usize, Option<usize>)], theme: Theme) {
    let slices: Vec<PieSlice> = groups
        .iter()
        .map(|(name, n, l)| PieSlice::new(name.as_str(), *n as f64, label_colour(*l, theme)))
        .collect();
    f.render_widget(
        PieChart::new(slices)
            .show_legend(true)
            .show_percentages(true)
            .block(Block::default().title(" share ").borders(Borders::LEFT)),
        pie,
    );
}

/// The customers' scatter (first two principal components) with one character per cell:
/// the glyph of the cluster most of the cell's customers are in (NO_COLOR).
fn draw_glyph_scatter(f: &mut Frame, area: Rect, run: &crate::analytics::segment::SegmentRun) {
    let block = Block::default()
        .borders(Borders::LEFT)
        .title(" PC1 x PC2, glyph = cluster ");
    let inner = block.inner(area);
    f.render_widget(block, area);
    let (w, h) = (inner.width as usize, inner.height as usize);
    if w == 0 || h == 0 {
        return;
    }
    let pts = &run.projection.points;
    let bounds = |v: &mut dyn Iterator<Item = f64>| {
        v.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        })
    };
    let (xmin, xmax) = bounds(&mut pts.iter().map(|p| p.0));
    let (ymin, ymax) = bounds(&mut pts.iter().map(|p| p.1));
    let cell = |v: f64, lo: f64, hi: f64, n: usize| -> usize {
        if hi > lo {
            (((v - lo) / (hi - lo)) * (n - 1) as f64).round() as usize
        } else {
            n / 2
        }
    };
    // Per cell, how many customers of each label (noise last).
    let k = run.clusters();
    let mut counts = vec![vec![0u32; k + 1]; w * h];
    for (p, l) in pts.iter().zip(&run.projected_labels) {
        let x = cell(p.0, xmin, xmax, w);
        let y = h - 1 - cell(p.1, ymin, ymax, h);
        counts[y * w + x][l.unwrap_or(k)] += 1;
    }
    let lines: Vec<Line> = (0..h)
        .map(|y| {
            let row: String = (0..w)
                .map(|x| {
                    let c = &counts[y * w + x];
                    match c
                        .iter()
                        .enumerate()
                        .max_by_key(|(i, n)| (**n, usize::MAX - i))
                    {
                        Some((i, n)) if *n > 0 => glyph((i < k).then_some(i)),
                        _ => ' ',
                    }
                })
                .collect();
            Line::from(row)
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

fn draw_colour_scatter(
    f: &mut Frame,
    scatter: Rect,
    run: &crate::analytics::segment::SegmentRun,
    k: usize,
    theme: Theme,
) {
    // Noise first, so clusters are drawn over it.
    type Series = (Option<usize>, Vec<(f64, f64)>);
    let mut series: Vec<Series> = vec![(None, Vec::new())];
    series.extend((0..k).map(|c| (Some(c), Vec::new())));
    for (p, l) in run.projection.points.iter().zip(&run.projected_labels) {
        let slot = l.map_or(0, |c| c + 1);
        series[slot].1.push(*p);
    }
    let (mut xmin, mut xmax, mut ymin, mut ymax) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for (x, y) in &run.projection.points {
        xmin = xmin.min(*x);
        xmax = xmax.max(*x);
        ymin = ymin.min(*y);
        ymax = ymax.max(*y);
    }
    let datasets: Vec<Dataset> = series
        .iter()
        .map(|(l, pts)| {
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Scatter)
                .style(Style::default().fg(label_colour(*l, theme)))
                .data(pts)
        })
        .collect();
    let (e1, e2) = run.projection.explained;
    f.render_widget(
        Chart::new(datasets)
            .block(Block::default().borders(Borders::LEFT).title(format!(
                " PC1 {:.0}% x PC2 {:.0}% of variance ",
                e1 * 100.0,
                e2 * 100.0
            )))
            .x_axis(Axis::default().bounds([xmin, xmax]))
            .y_axis(Axis::default().bounds([ymin, ymax])),
        scatter,
    );
}

/// The chart that helps choose the parameter: the k-distance curve for DBSCAN, the k sweep
/// otherwise. Returns whether it drew anything.
fn draw_guide(f: &mut Frame, area: Rect, state: &State, theme: Theme) -> bool {
    let seg = &state.segments;
    if seg.params.algorithm == Algorithm::Dbscan {
        if let Some(kd) = &seg.k_distance {
            draw_k_distance(f, area, kd, seg.params.eps, theme);
            return true;
        }
        return false;
    }
    if let Some(sw) = &seg.sweep {
        draw_sweep(f, area, sw, theme);
        return true;
    }
    false
}

/// Sorted distance to the min_points-th neighbour, with the current eps as a level line:
/// rows above the line (to its left) are the ones DBSCAN will call noise or border.
fn draw_k_distance(f: &mut Frame, area: Rect, kd: &KDistance, eps: f64, theme: Theme) {
    let points: Vec<(f64, f64)> = kd
        .values
        .iter()
        .enumerate()
        .map(|(i, v)| (i as f64, *v))
        .collect();
    let n = points.len().max(2) as f64 - 1.0;
    let hi = kd.values.first().copied().unwrap_or(1.0).max(eps) * 1.05;
    let above = kd.values.iter().filter(|v| **v > eps).count();
    let eps_line = [(0.0, eps), (n, eps)];
    let curve = Dataset::default()
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(theme.accent())
        .data(&points);
    let level = Dataset::default()
        .name(format!("eps {eps:.3}"))
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(theme.warn())
        .data(&eps_line);
    f.render_widget(
        Chart::new(vec![curve, level])
            .block(Block::default().borders(Borders::LEFT).title(format!(
                " k-distance (min points {}): {:.0}% of rows above eps ",
                kd.min_points,
                100.0 * above as f64 / kd.values.len().max(1) as f64
            )))
            .x_axis(Axis::default().bounds([0.0, n]).labels([
                "0".to_string(),
                format!("{} rows (sorted)", kd.values.len()),
            ]))
            .y_axis(
                Axis::default()
                    .bounds([0.0, hi])
                    .labels(["0".to_string(), format!("{hi:.2}")]),
            ),
        area,
    );
}

/// The sweep as four small line charts (inertia, silhouette, Calinski-Harabasz,
/// Davies-Bouldin against k) and the suggested k with its reason.
fn draw_sweep(f: &mut Frame, area: Rect, sw: &crate::analytics::sweep::SweepResult, theme: Theme) {
    let block = Block::default().borders(Borders::LEFT).title(format!(
        " sweep: suggested k = {} ({}){} ",
        sw.suggested_k,
        sw.reason,
        if sw.silhouette_sampled {
            ", silhouette on a 10,000-row sample"
        } else {
            ""
        }
    ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(inner);
    let [a, b] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
    let [c, d] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(bottom);
    type Pick = dyn Fn(&crate::analytics::sweep::SweepEntry) -> Option<f64>;
    let series = |pick: &Pick| -> Vec<(f64, f64)> {
        sw.entries
            .iter()
            .filter_map(|e| pick(e).map(|v| (e.k as f64, v)))
            .collect()
    };
    let charts = [
        ("inertia (elbow)", series(&|e| Some(e.inertia)), a),
        ("silhouette (higher better)", series(&|e| e.silhouette), b),
        (
            "Calinski-Harabasz (higher)",
            series(&|e| e.calinski_harabasz),
            c,
        ),
        ("Davies-Bouldin (lower)", series(&|e| e.davies_bouldin), d),
    ];
    let (k0, k1) = (
        sw.entries.first().map_or(2.0, |e| e.k as f64),
        sw.entries.last().map_or(10.0, |e| e.k as f64),
    );
    for (title, data, rect) in charts.iter() {
        let (lo, hi) = data
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p.1), hi.max(p.1))
            });
        let (lo, hi) = if lo.is_finite() && hi > lo {
            (lo, hi)
        } else {
            (0.0, 1.0)
        };
        let ds = Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.accent())
            .data(data);
        f.render_widget(
            Chart::new(vec![ds])
                .block(Block::default().title(format!(" {title} ")))
                .x_axis(
                    Axis::default()
                        .bounds([k0, k1])
                        .labels([format!("{k0:.0}"), format!("{k1:.0}")]),
                )
                .y_axis(
                    Axis::default()
                        .bounds([lo, hi])
                        .labels([format!("{lo:.2}"), format!("{hi:.2}")]),
                ),
            *rect,
        );
    }
}

fn draw_params(f: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let seg: &SegmentsView = &state.segments;
    let mut lines = Vec::new();
    for (i, field) in seg.fields().iter().enumerate() {
        let style = if i == seg.field {
            theme.selected()
        } else if *field == Field::Algorithm {
            theme.accent()
        } else {
            Style::default()
        };
        let value = if field.is_choice() {
            format!("‹{}›", seg.display(*field))
        } else {
            format!(" {} ", seg.display(*field))
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{:<10} ", field.name()), theme.dim()),
            Span::styled(value, style),
        ]));
    }
    let cfg = state.features.config();
    lines.push(Line::from(Span::styled(
        format!(
            "{} columns from Features (3)",
            cfg.numeric.len() + cfg.categorical.len()
        ),
        theme.dim(),
    )));
    if let Some(run) = &seg.run {
        lines.push(Line::from(Span::styled(
            format!("last run: {}", run.algorithm().title()),
            theme.dim(),
        )));
        match &run.model {
            SegmentModel::KMeans(r) => {
                lines.push(Line::from(format!("inertia    {:.1}", r.inertia)));
                lines.push(Line::from(format!(
                    "iterations {}{}",
                    r.iterations,
                    if r.converged { "" } else { " (max)" }
                )));
            }
            SegmentModel::Dbscan {
                eps,
                min_points,
                result,
                ..
            } => {
                lines.push(Line::from(format!("eps {eps:.3}, min points {min_points}")));
                lines.push(Line::from(format!(
                    "noise {} ({:.1}%)",
                    result.noise,
                    100.0 * result.noise as f64 / run.n_rows.max(1) as f64
                )));
                lines.push(Line::from(format!("core points {}", result.core_points)));
            }
            SegmentModel::Gmm(r) => {
                lines.push(Line::from(format!("log-lik {:.1}", r.log_likelihood)));
                lines.push(Line::from(format!("BIC {:.1}", r.bic)));
                lines.push(Line::from(format!(
                    "iterations {}{}",
                    r.iterations,
                    if r.converged { "" } else { " (max)" }
                )));
            }
        }
        lines.push(Line::from(format!("rows       {}", run.n_rows)));
        // After a refresh (F5) the model assigned the refreshed table's customers; the
        // profiles below are still the fit's.
        if run.labels.len() != run.n_rows {
            lines.push(Line::from(Span::styled(
                format!("assigned   {} (F5; r refits)", run.labels.len()),
                theme.accent(),
            )));
        }
    }
    f.render_widget(Paragraph::new(lines), area);
}

fn draw_profiles(f: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let Some(run) = &state.segments.run else {
        return;
    };
    let view = state.segments.profile_view;
    // From the cluster `[`/`]` scrolled to (every cluster can be reached).
    let first = state
        .segments
        .profile_first
        .min(run.profiles.len().saturating_sub(1));
    let profiles = &run.profiles[first.min(run.profiles.len())..];
    if view == 0 {
        // The description takes what the three short columns and their gaps leave.
        let room = (area.width as usize).saturating_sub(4 + 7 + 5 + 3).max(10);
        let rows = profiles.iter().map(move |p| {
            Row::new(vec![
                format!("c{}", p.cluster),
                p.size.to_string(),
                format!("{:.0}%", p.share * 100.0),
                crate::ui::wrap::cut(&p.description, room),
            ])
            .style(Style::default().fg(colour(p.cluster, theme)))
        });
        f.render_widget(
            Table::new(
                rows,
                [
                    Constraint::Length(4),
                    Constraint::Length(7),
                    Constraint::Length(5),
                    Constraint::Min(10),
                ],
            )
            .header(
                Row::new(vec!["", "size", "share", "profile (vs. average)"]).style(theme.header()),
            )
            .block(Block::default().title(crate::ui::wrap::fit(
                &[
                    format!(
                        " cluster profiles from c{first} of {} ([ ] scroll; p: means, medians) ",
                        run.profiles.len()
                    ),
                    format!(
                        " cluster profiles from c{first} of {} ([ ] scroll) ",
                        run.profiles.len()
                    ),
                    format!(" profiles c{first}.. of {} ", run.profiles.len()),
                ],
                area.width as usize,
            ))),
            area,
        );
        return;
    }
    // One row per feature, one column per cluster (as many as fit).
    const NAME: u16 = 15;
    const CELL: u16 = 11;
    let fit = (area.width.saturating_sub(NAME) / (CELL + 1)).max(1) as usize;
    let shown = profiles.len().min(fit);
    let names: Vec<&str> = run
        .profiles
        .first()
        .map(|p| p.features.iter().map(|s| s.feature.as_str()).collect())
        .unwrap_or_default();
    let rows = names.iter().enumerate().map(|(j, name)| {
        let mut cells = vec![Cell::from(name.to_string())];
        cells.extend(profiles.iter().take(shown).map(|p| {
            let s = &p.features[j];
            let text = if view == 1 {
                format!("{} ({:+.1})", compact(s.mean), s.z)
            } else {
                compact(s.median)
            };
            Cell::from(text).style(Style::default().fg(colour(p.cluster, theme)))
        }));
        Row::new(cells)
    });
    let mut header = vec![Cell::from("feature")];
    header.extend(profiles.iter().take(shown).map(|p| {
        Cell::from(format!("c{} ({})", p.cluster, p.size))
            .style(Style::default().fg(colour(p.cluster, theme)))
    }));
    let mut widths = vec![Constraint::Length(NAME)];
    widths.extend((0..shown).map(|_| Constraint::Length(CELL)));
    let more = if shown < run.profiles.len() {
        format!(
            ", c{first}-c{} of {} ([ ] scroll)",
            first + shown - 1,
            run.profiles.len()
        )
    } else {
        String::new()
    };
    let title = if view == 1 {
        format!(" feature means, original units (z vs. all rows){more}; p: next ")
    } else {
        format!(" feature medians, original units{more}; p: next ")
    };
    f.render_widget(
        Table::new(rows, widths)
            .header(Row::new(header).style(theme.header()))
            .block(Block::default().title(title)),
        area,
    );
}

/// A number in at most five characters (six when negative): 0.25, 12.3, 4521, 40k, 1.2M.
fn compact(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        "-".into()
    } else if a >= 9.95e5 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::compact;

    #[test]
    fn compact_numbers_fit_five_characters() {
        assert_eq!(compact(0.254), "0.25");
        assert_eq!(compact(12.34), "12.3");
        assert_eq!(compact(4521.4), "4521");
        assert_eq!(compact(40494.0), "40k");
        assert_eq!(compact(1_234_567.0), "1.2M");
        assert_eq!(compact(-8942.0), "-8942");
        assert_eq!(compact(f64::NAN), "-");
    }
}
