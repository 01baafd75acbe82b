//! The Identity screen: the pairs to review (most uncertain first, with their labels), the
//! selected pair side by side (each field's values as compared, agreeing fields in the
//! accent colour, disagreeing ones marked, personal data masked unless --show-pii), the
//! weight waterfall (the prior, then what each field added), the histogram of match
//! weights with the threshold, and the cluster sizes.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, Wrap};

use crate::app::State;
use crate::app::job::JobKind;
use crate::data::identity::fields::Kind;
use crate::data::identity::link::{Linked, NULL, explain};
use crate::data::privacy::{PiiKind, mask};
use crate::ui::theme::Theme;
use crate::ui::wrap::cut;

pub fn draw(f: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let view = &state.identity;
    let Some(run) = &view.result else {
        let msg = if state.job(JobKind::Identity).is_some() {
            "linking...".to_string()
        } else {
            let what = if state.workspace.is_some() {
                "the workspace's customers with its [identity] sources (each other customer list \
                 with its own ids; without them, the customers are deduplicated)"
            } else {
                "the open file (deduplicated)"
            };
            format!(
                "no run yet: press r to link {what}. Names, e-mails, phones, birth dates and \
                 address fields are found by their column names; the model is trained without \
                 labels, then y / n label the pairs it is least sure of and it retrains."
            )
        };
        f.render_widget(
            Paragraph::new(msg)
                .style(theme.dim())
                .wrap(Wrap { trim: true }),
            area,
        );
        return;
    };
    let l = &run.linked;
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(8),
        Constraint::Length(9),
    ])
    .areas(area);
    let inputs: Vec<String> = run
        .inputs
        .iter()
        .map(|(p, id)| {
            format!(
                "{} ({id})",
                p.file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default()
            )
        })
        .collect();
    let linked = l.clusters.sizes.iter().filter(|&&s| s > 1).count();
    let text = vec![
        Line::from(vec![
            Span::styled("linking ", theme.dim()),
            Span::raw(cut(&inputs.join(" + "), area.width as usize)),
        ]),
        Line::from(vec![Span::raw(format!(
            "{} records · {} candidate pairs · {} at p >= {} · {} people ({} linked) · prior {:.2e} · {} labels",
            l.records().len(),
            l.candidates().pairs.len(),
            l.accepted.len(),
            l.threshold,
            l.clusters.sizes.len(),
            linked,
            l.prior,
            view.labels.len()
        ))]),
    ];
    f.render_widget(Paragraph::new(text), head);
    let [list, detail] =
        Layout::horizontal([Constraint::Length(44), Constraint::Min(30)]).areas(body);
    draw_list(f, list, state, l, theme);
    match view.current() {
        Some(p) => draw_pair(f, detail, state, l, p, theme),
        None => f.render_widget(
            Paragraph::new("no candidate pair").style(theme.dim()),
            detail,
        ),
    }
    let [hist, sizes] =
        Layout::horizontal([Constraint::Min(30), Constraint::Length(30)]).areas(foot);
    draw_histogram(f, hist, state, l, theme);
    draw_sizes(f, sizes, l, theme);
}

fn draw_list(f: &mut Frame, area: Rect, state: &State, l: &Linked, theme: Theme) {
    let view = &state.identity;
    let rows_shown = area.height.saturating_sub(3) as usize;
    let first = view.selected.saturating_sub(rows_shown.saturating_sub(1));
    let rows: Vec<Row> = view
        .review
        .iter()
        .enumerate()
        .skip(first)
        .take(rows_shown)
        .map(|(k, &p)| {
            let (i, j) = l.candidates().pairs[p];
            let mark = match view.label_of(p) {
                Some(true) => "same",
                Some(false) => "diff",
                None => "",
            };
            let style = if k == view.selected {
                theme.selected()
            } else if l.probabilities[p] >= l.threshold {
                theme.accent()
            } else {
                Style::default()
            };
            Row::new(vec![
                Cell::from(format!("{:.3}", l.probabilities[p])),
                Cell::from(cut(&l.records().ids[i as usize], 14)),
                Cell::from(cut(&l.records().ids[j as usize], 14)),
                Cell::from(mark),
            ])
            .style(style)
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(5),
            Constraint::Length(14),
            Constraint::Length(14),
            Constraint::Length(5),
        ],
    )
    .header(Row::new(vec!["p", "left", "right", "label"]).style(theme.header()))
    .block(
        Block::default()
            .borders(Borders::ALL)
            .title(format!(" least sure first ({}) ", view.review.len())),
    );
    f.render_widget(table, area);
}

/// The kind of personal data a field's values are (None: shown as they are).
fn pii(kind: Kind) -> Option<PiiKind> {
    match kind {
        Kind::Name => Some(PiiKind::Name),
        Kind::Email => Some(PiiKind::Email),
        Kind::Phone => Some(PiiKind::Phone),
        Kind::BirthDate => Some(PiiKind::BirthDate),
        Kind::Street | Kind::HouseNumber | Kind::Postcode => Some(PiiKind::Address),
        Kind::NationalId => Some(PiiKind::NationalId),
        _ => None,
    }
}

fn draw_pair(f: &mut Frame, area: Rect, state: &State, l: &Linked, p: usize, theme: Theme) {
    let (i, j) = l.candidates().pairs[p];
    let r = l.records();
    let contributions = explain(l, p);
    let shown = |f: usize, k: usize| -> String {
        let v = r.text(f, k);
        match pii(r.fields[f].kind) {
            Some(kind) if !state.show_pii => mask(kind, &v),
            _ => v,
        }
    };
    let w = ((area.width as usize).saturating_sub(34) / 2).max(6);
    let mut rows = vec![Row::new(vec![
        Cell::from("id"),
        Cell::from(cut(&r.ids[i as usize], w)),
        Cell::from(cut(&r.ids[j as usize], w)),
        Cell::from(""),
        Cell::from(""),
    ])];
    for (fi, field) in l.fields.iter().enumerate() {
        let lv = l.level(p, fi);
        let (level, style) = if lv == NULL {
            ("missing".to_string(), theme.dim())
        } else if lv == 0 {
            (field.levels[0].name.clone(), theme.accent())
        } else if lv as usize + 1 == field.levels.len() {
            (
                format!("✗ {}", field.levels[lv as usize].name),
                theme.warn(),
            )
        } else {
            (field.levels[lv as usize].name.clone(), Style::default())
        };
        let weight = contributions
            .iter()
            .find(|c| c.0 == field.field)
            .map_or(0.0, |c| c.2);
        rows.push(
            Row::new(vec![
                Cell::from(field.field.clone()),
                Cell::from(cut(&shown(fi, i as usize), w)),
                Cell::from(cut(&shown(fi, j as usize), w)),
                Cell::from(cut(&level, 18)),
                Cell::from(format!("{weight:+.1}")),
            ])
            .style(style),
        );
    }
    let n = rows.len() as u16 + 3;
    let [pair, fall] = Layout::vertical([Constraint::Length(n), Constraint::Min(3)]).areas(area);
    let title = format!(
        " p {:.4} · weight {:+.2}{} ",
        l.probabilities[p],
        l.weights[p],
        match state.identity.label_of(p) {
            Some(true) => " · labelled same",
            Some(false) => " · labelled different",
            None => "",
        }
    );
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(11),
                Constraint::Length(w as u16),
                Constraint::Length(w as u16),
                Constraint::Length(18),
                Constraint::Length(6),
            ],
        )
        .header(Row::new(vec!["field", "left", "right", "level", "weight"]).style(theme.header()))
        .block(Block::default().borders(Borders::ALL).title(title)),
        pair,
    );
    draw_waterfall(f, fall, &contributions, l.weights[p], theme);
}

/// Each contribution as a bar from the running total: right for evidence for, left against.
fn draw_waterfall(
    f: &mut Frame,
    area: Rect,
    parts: &[(String, String, f64)],
    total: f64,
    theme: Theme,
) {
    let width = (area.width as usize).saturating_sub(22).max(10);
    let mut running = 0.0f64;
    let mut points = vec![0.0];
    for p in parts {
        running += p.2;
        points.push(running);
    }
    let lo = points.iter().copied().fold(0.0f64, f64::min);
    let hi = points.iter().copied().fold(0.0f64, f64::max);
    let span = (hi - lo).max(1e-9);
    let col = |x: f64| (((x - lo) / span) * (width - 1) as f64).round() as usize;
    let mut lines = Vec::new();
    let mut at = 0.0;
    for p in parts.iter().chain(std::iter::once(&(
        "= weight".to_string(),
        String::new(),
        total,
    ))) {
        let (from, to) = if p.0 == "= weight" {
            (0.0, total)
        } else {
            (at, at + p.2)
        };
        let (a, b) = (col(from.min(to)), col(from.max(to)));
        let mut bar = " ".repeat(a);
        bar.push_str(&"█".repeat((b - a).max(1)));
        let style = if p.2 >= 0.0 {
            theme.accent()
        } else {
            theme.warn()
        };
        lines.push(Line::from(vec![
            Span::raw(format!("{:<11}{:>+7.1} ", cut(&p.0, 11), p.2)),
            Span::styled(bar, style),
        ]));
        if p.0 != "= weight" {
            at += p.2;
        }
    }
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" waterfall: what each field added "),
        ),
        area,
    );
}

fn draw_histogram(f: &mut Frame, area: Rect, state: &State, l: &Linked, theme: Theme) {
    use crate::screens::identity::{HISTOGRAM_BINS, HISTOGRAM_RANGE};
    let (lo, hi) = HISTOGRAM_RANGE;
    let bins = (area.width as usize)
        .saturating_sub(2)
        .clamp(10, HISTOGRAM_BINS);
    // The run's bins (counted on the worker) merged into as many as the width holds.
    let source = &state.identity.histogram;
    let counts: Vec<u64> = (0..bins)
        .map(|b| {
            let (from, to) = (b * source.len() / bins, (b + 1) * source.len() / bins);
            source.get(from..to).map_or(0, |s| s.iter().sum())
        })
        .collect();
    let t = l.threshold.clamp(1e-9, 1.0 - 1e-9);
    let at = (t / (1.0 - t)).log2();
    let tb = (((at - lo) / (hi - lo)) * bins as f64) as usize;
    let height = area.height.saturating_sub(3).max(1) as usize;
    // Log scale: a few thousand matches beside millions of non-matches.
    let top = counts
        .iter()
        .map(|&c| ((c + 1) as f64).ln())
        .fold(0.0, f64::max);
    let mut lines = Vec::new();
    for row in (0..height).rev() {
        let spans: Vec<Span> = counts
            .iter()
            .enumerate()
            .map(|(b, &c)| {
                let h = ((c + 1) as f64).ln() / top.max(1e-9) * height as f64;
                let ch = if c > 0 && h > row as f64 { "█" } else { " " };
                let style = if b == tb {
                    theme.warn()
                } else if b > tb {
                    theme.accent()
                } else {
                    theme.dim()
                };
                Span::styled(if b == tb && ch == " " { "│" } else { ch }, style)
            })
            .collect();
        lines.push(Line::from(spans));
    }
    lines.push(Line::from(format!(
        "{:<w$}{:>8}",
        format!("{lo:+.0}"),
        format!("{hi:+.0}"),
        w = bins.saturating_sub(8)
    )));
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(format!(
            " match weights (log counts) · threshold │ at {at:+.1} "
        ))),
        area,
    );
}

fn draw_sizes(f: &mut Frame, area: Rect, l: &Linked, theme: Theme) {
    let mut by: std::collections::BTreeMap<u32, usize> = Default::default();
    for &s in &l.clusters.sizes {
        *by.entry(s).or_default() += 1;
    }
    let mut lines: Vec<Line> = by
        .iter()
        .take(area.height.saturating_sub(3) as usize)
        .map(|(s, n)| {
            let style = if *s > l.clusters.large_above {
                theme.warn()
            } else {
                Style::default()
            };
            Line::styled(format!("{s:>3} records {n:>7} people"), style)
        })
        .collect();
    if !l.clusters.large.is_empty() {
        lines.push(Line::styled(
            format!(
                "{} cluster(s) > {}: chains?",
                l.clusters.large.len(),
                l.clusters.large_above
            ),
            theme.warn(),
        ));
    }
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" people by size "),
        ),
        area,
    );
}
