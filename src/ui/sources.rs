//! The source picker (`o`): every source of the session, its format, status and where it is
//! read from, with the cursor on one; notes and the workspace's problems below their entry.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Row, Table};

use super::theme::Theme;
use crate::app::State;
use crate::app::sources::Status;

/// The picker, centred over `area`.
pub fn draw(f: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let view = &state.sources;
    // (row, is the cursor's entry)
    let mut rows: Vec<(Row, bool)> = Vec::new();
    for (i, e) in view.entries.iter().enumerate() {
        let marker = if Some(e.id) == view.shown {
            "▶ "
        } else {
            "  "
        };
        let indent = "  ".repeat(e.depth as usize);
        let style = match (&e.status, i == view.cursor) {
            (_, true) => theme.selected(),
            (Status::Failed(_), _) => theme.error(),
            (Status::NotRead | Status::Skipped(_), _) => theme.dim(),
            _ => ratatui::style::Style::default(),
        };
        rows.push((
            Row::new(vec![
                format!("{marker}{indent}{}", e.role),
                e.format.clone(),
                e.status_text(),
                e.location(),
            ])
            .style(style),
            i == view.cursor,
        ));
        for n in &e.notes {
            rows.push((
                Row::new(vec![
                    format!("  {indent}  note"),
                    String::new(),
                    String::new(),
                    n.clone(),
                ])
                .style(theme.dim()),
                false,
            ));
        }
    }
    if view.entries.is_empty() {
        rows.push((
            Row::new(vec!["(nothing opened yet)".to_string()]).style(theme.dim()),
            false,
        ));
    }
    for w in &state.warnings {
        rows.push((
            Row::new(vec![
                "problem".to_string(),
                String::new(),
                String::new(),
                w.clone(),
            ])
            .style(theme.warn()),
            false,
        ));
    }
    // Header, borders and the key line take 4 rows; scroll to keep the cursor in view.
    let max_rows = area.height.saturating_sub(6).max(1) as usize;
    let at = rows.iter().position(|(_, c)| *c).unwrap_or(0);
    let first = at.saturating_sub(max_rows.saturating_sub(1));
    let shown: Vec<Row> = rows
        .into_iter()
        .skip(first)
        .take(max_rows)
        .map(|(r, _)| r)
        .collect();
    let height = shown.len() as u16 + 3;
    let width = area.width.saturating_sub(4);
    let rect = super::overlay::centered(area, width, height);
    let table = Table::new(
        shown,
        [
            Constraint::Length(16),
            Constraint::Length(8),
            Constraint::Length(22),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(vec!["source", "format", "status", "from"]).style(theme.header()))
    .block(
        Block::default()
            .borders(Borders::ALL)
            .title(" sources ")
            .title_bottom(Line::from(Span::styled(
                " Enter opens · t tables · a open a file or URL · r column roles · Esc closes ",
                theme.dim(),
            )))
            .border_style(theme.accent()),
    );
    f.render_widget(Clear, rect);
    f.render_widget(table, rect);
}

/// The `a` prompt: a path or URL to open.
pub fn draw_prompt(f: &mut Frame, area: Rect, text: &str, theme: Theme) {
    let rect = Rect::new(area.x, area.bottom().saturating_sub(2), area.width, 1);
    f.render_widget(Clear, rect);
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(" open: ", theme.accent()),
            Span::raw(crate::data::sources::postgres::mask_url(text)),
            Span::styled("█", theme.accent()),
            Span::styled(
                "  (a data file, .sqlite or postgres://user@host/db; Enter opens, Esc cancels)",
                theme.dim(),
            ),
        ])),
        rect,
    );
}
