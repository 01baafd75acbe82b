//! The Segments screen: the algorithm and its parameters, and the last result: cluster sizes
//! as a bar chart and a pie chart, a profile table in original units, and a 2-D scatter of the
//! customers (principal components) coloured by cluster.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Bar, BarChart, BarGroup, Block, Borders, Chart, Dataset, GraphType, Paragraph, Row, Table,
};
use tui_piechart::{PieChart, PieSlice};

use super::theme::Theme;
use crate::app::State;
use crate::app::state::SegmentsView;

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

pub fn draw(f: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
    let [params, sizes, pie] = Layout::horizontal([
        Constraint::Length(30),
        Constraint::Percentage(40),
        Constraint::Min(20),
    ])
    .areas(top);
    draw_params(f, params, state, theme);
    let [profile, scatter] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(bottom);
    if state.segments.show_sweep
        && let Some(sw) = &state.segments.sweep
    {
        draw_sweep(f, scatter, sw, theme);
    }
    let Some(run) = &state.segments.run else {
        let msg = if state
            .jobs
            .iter()
            .any(|j| j.kind == crate::app::job::JobKind::Model)
        {
            "running..."
        } else {
            "no result yet: press r to run k-means on the Features selection (w sweeps k)"
        };
        f.render_widget(Paragraph::new(msg).style(theme.dim()), sizes);
        return;
    };
    let k = run.kmeans.k;
    let labels: Vec<String> = (0..k).map(|c| format!("c{c}")).collect();

    let bars: Vec<Bar> = run
        .kmeans
        .sizes
        .iter()
        .enumerate()
        .map(|(c, n)| {
            Bar::default()
                .value(*n as u64)
                .label(Line::from(labels[c].clone()))
                .style(Style::default().fg(colour(c, theme)))
        })
        .collect();
    f.render_widget(
        BarChart::default()
            .block(
                Block::default()
                    .title(format!(" {k} clusters: sizes "))
                    .borders(Borders::LEFT),
            )
            .data(BarGroup::default().bars(&bars))
            .bar_width(((sizes.width.saturating_sub(2)) / k.max(1) as u16).clamp(3, 9) - 1)
            .bar_gap(1),
        sizes,
    );

    let slices: Vec<PieSlice> = run
        .kmeans
        .sizes
        .iter()
        .enumerate()
        .map(|(c, n)| PieSlice::new(labels[c].as_str(), *n as f64, colour(c, theme)))
        .collect();
    f.render_widget(
        PieChart::new(slices)
            .show_legend(true)
            .show_percentages(true)
            .block(Block::default().title(" share ").borders(Borders::LEFT)),
        pie,
    );

    draw_profiles(f, profile, state, theme);
    if state.segments.show_sweep && state.segments.sweep.is_some() {
        return;
    }

    let mut series: Vec<Vec<(f64, f64)>> = vec![Vec::new(); k];
    for (p, &l) in run.projection.points.iter().zip(&run.projected_labels) {
        series[l].push(*p);
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
        .enumerate()
        .map(|(c, pts)| {
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Scatter)
                .style(Style::default().fg(colour(c, theme)))
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
    let mut lines = vec![Line::from(vec![
        Span::styled("algorithm ", theme.dim()),
        Span::styled("k-means", theme.accent()),
    ])];
    for (i, name) in SegmentsView::FIELDS.iter().enumerate() {
        let style = if i == seg.field {
            theme.selected()
        } else {
            Style::default()
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{name:<9} "), theme.dim()),
            Span::styled(format!(" {} ", seg.value(i)), style),
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
        let r = &run.kmeans;
        lines.push(Line::from(""));
        lines.push(Line::from(format!("inertia   {:.1}", r.inertia)));
        lines.push(Line::from(format!(
            "iterations {}{}",
            r.iterations,
            if r.converged { "" } else { " (max)" }
        )));
        lines.push(Line::from(format!("rows      {}", run.n_rows)));
    }
    f.render_widget(Paragraph::new(lines), area);
}

fn draw_profiles(f: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let Some(run) = &state.segments.run else {
        return;
    };
    let rows = run.profiles.iter().map(|p| {
        Row::new(vec![
            format!("c{}", p.cluster),
            p.size.to_string(),
            format!("{:.0}%", p.share * 100.0),
            p.description.clone(),
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
        .header(Row::new(vec!["", "size", "share", "profile (vs. average)"]).style(theme.header()))
        .block(Block::default().title(" cluster profiles ")),
        area,
    );
}
