//! The Quality screen: the data-quality report of the integration as a table of cleaning
//! steps and invalid values, and a bar chart of missing values per column (before the fill
//! policy).

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Borders, Paragraph, Row, Table, Wrap};

use crate::app::State;
use crate::ui::theme::Theme;

pub fn draw(f: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let Some(report) = &state.report else {
        let msg = if state.jobs.is_empty() {
            "No quality report: this table was opened from a file, not integrated from a workspace. Open a workspace (crmlens WORKSPACE.toml) to see the cleaning steps."
        } else {
            "loading..."
        };
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
        return;
    };
    // What the workspace set wrongly (left out when it opened), every line of it: the status
    // bar has room for the first only.
    let area = if state.warnings.is_empty() {
        area
    } else {
        let height = (state.warnings.len() as u16 + 2)
            .min(area.height / 3)
            .max(3);
        let [top, rest] =
            Layout::vertical([Constraint::Length(height), Constraint::Min(0)]).areas(area);
        let lines: Vec<Line> = state
            .warnings
            .iter()
            .map(|w| Line::raw(w.clone()))
            .collect();
        f.render_widget(
            Paragraph::new(lines).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(format!(
                        " workspace problems ({}): left out, defaults used ",
                        state.warnings.len()
                    ))
                    .border_style(theme.error()),
            ),
            top,
        );
        rest
    };
    let left_share = if area.width < 100 { 66 } else { 60 };
    let [left, right] = Layout::horizontal([
        Constraint::Percentage(left_share),
        Constraint::Percentage(100 - left_share),
    ])
    .areas(area);

    let mut rows: Vec<Row> = report
        .steps
        .iter()
        .map(|s| {
            Row::new(vec![
                s.source.clone(),
                s.step.clone(),
                format!("{} → {}", s.rows_in, s.rows_out),
                (s.rows_in - s.rows_out.min(s.rows_in)).to_string(),
            ])
        })
        .collect();
    // Identical order lines kept as purchases (no order or line id): counted, not removed.
    if report.duplicates.order_lines_kept && report.duplicates.order_lines > 0 {
        rows.push(
            Row::new(vec![
                "orders".to_string(),
                "possible duplicates".to_string(),
                "kept".to_string(),
                report.duplicates.order_lines.to_string(),
            ])
            .style(theme.accent()),
        );
    }
    rows.extend(report.invalid.iter().map(|i| {
        Row::new(vec![
            i.source.clone(),
            if i.rule.starts_with(&i.column) {
                i.rule.clone()
            } else {
                format!("{} {}", i.column, i.rule)
            },
            i.action.clone(),
            i.count.to_string(),
        ])
        .style(theme.accent())
    }));
    let skip = state.quality_row.min(rows.len().saturating_sub(1));
    let rows: Vec<Row> = rows.into_iter().skip(skip).collect();
    let title = format!(
        " {} customers out · reference date {} ",
        report.customers_out, report.reference_date
    );
    let table = Table::new(
        rows,
        [
            Constraint::Length(9),
            Constraint::Min(16),
            Constraint::Length(15),
            Constraint::Length(7),
        ],
    )
    .header(Row::new(vec!["source", "step / rule", "rows in → out", "count"]).style(theme.header()))
    .block(
        Block::default()
            .borders(Borders::RIGHT)
            .title(title)
            .border_style(theme.dim()),
    );
    f.render_widget(table, left);

    let right = match &report.identity {
        Some(id) => {
            let lines = identity_lines(id);
            // Lines wrap at the panel's width: each takes as many rows as it needs.
            let width = right.width.max(1) as usize;
            let rows: usize = lines.iter().map(|l| l.width().div_ceil(width).max(1)).sum();
            // It comes before the missing-values chart, which keeps three rows at least.
            let height = (rows as u16 + 1)
                .min(right.height.saturating_sub(3))
                .max(3.min(right.height));
            let [top, rest] =
                Layout::vertical([Constraint::Length(height), Constraint::Min(0)]).areas(right);
            f.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: false })
                    .block(Block::default().title(format!(
                        " identity resolution · threshold {} ",
                        id.threshold
                    ))),
                top,
            );
            rest
        }
        None => right,
    };
    let mut missing: Vec<(&str, u64)> = report
        .missing
        .iter()
        .filter(|m| m.before > 0)
        .map(|m| (m.column.as_str(), m.before))
        .collect();
    missing.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let block = Block::default().title(" missing values before fill ");
    let inner = block.inner(right);
    f.render_widget(block, right);
    if missing.is_empty() {
        f.render_widget(Paragraph::new("no missing values"), inner);
        return;
    }
    let label_width = (inner.width / 2).max(8) as usize;
    let bars: Vec<Bar> = missing
        .iter()
        .take(inner.height as usize)
        .map(|(c, n)| {
            let l: String = c.chars().take(label_width).collect();
            Bar::default().value(*n).label(Line::from(l))
        })
        .collect();
    f.render_widget(
        BarChart::default()
            .direction(Direction::Horizontal)
            .data(BarGroup::default().bars(&bars))
            .bar_width(1)
            .bar_gap(0)
            .bar_style(theme.bar())
            .value_style(theme.selected()),
        inner,
    );
}

/// The linkage section: pairs and how sure, people, and per list the records linked and
/// single.
fn identity_lines(id: &crate::data::integrate::quality::IdentityReport) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::raw(format!(
            "{} pairs of {} candidates · mean p {:.3}",
            id.accepted_pairs, id.candidate_pairs, id.mean_probability
        )),
        Line::raw(
            id.confidence
                .iter()
                .map(|(b, n)| format!("{b}: {n}"))
                .collect::<Vec<_>>()
                .join(" · "),
        ),
        Line::raw(format!(
            "{} people, {} of several records; {} attached to a customer, {} customer rows merged",
            id.people, id.linked_people, id.attached, id.customer_rows_merged
        )),
        Line::raw(format!(
            "{:<18} {:>7} {:>7} {:>7}",
            "list", "records", "linked", "single"
        )),
    ];
    for i in &id.inputs {
        let name: String = if i.name.chars().count() > 18 {
            i.name.chars().take(17).chain(['…']).collect()
        } else {
            i.name.clone()
        };
        lines.push(Line::raw(format!(
            "{:<18} {:>7} {:>7} {:>7}",
            name, i.records, i.linked, i.single
        )));
    }
    if id.large_clusters > 0 {
        lines.push(Line::raw(format!(
            "{} large cluster(s): check them with crmlens link --clusters-out",
            id.large_clusters
        )));
    }
    lines
}
