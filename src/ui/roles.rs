//! The role editor pop-up: each role of the order lines, the column playing it and why
//! (found by name, type or values, or the analyst's choice).

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table};

use super::overlay::centered;
use super::theme::Theme;
use crate::app::State;
use crate::data::sources::roles::Role;

pub fn draw(f: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let Some(edit) = &state.roles.editing else {
        return;
    };
    let width = area.width.saturating_sub(4).clamp(20, 110);
    let height = (Role::ALL.len() as u16 + 6).min(area.height);
    let rect = centered(area, width, height);
    let rows: Vec<Row> = Role::ALL
        .iter()
        .enumerate()
        .map(|(i, role)| {
            let column = edit.column(i).unwrap_or("(none)");
            let style = if i == edit.cursor {
                theme.selected()
            } else {
                ratatui::style::Style::default()
            };
            Row::new(vec![
                Cell::from(role.describe()),
                Cell::from(crate::text::escape(column).to_string()),
                Cell::from(crate::text::escape(&edit.why(i)).to_string()),
            ])
            .style(style)
        })
        .collect();
    let inner = Rect::new(rect.x, rect.y, rect.width, rect.height.saturating_sub(1));
    let table = Table::new(
        rows,
        [
            Constraint::Length(20),
            Constraint::Length(22),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(vec!["role", "column", "why"]).style(theme.header()))
    .block(
        Block::default()
            .borders(Borders::ALL)
            .title(format!(
                " column roles of {} ",
                crate::text::escape(&edit.input.display().to_string())
            ))
            .border_style(theme.accent()),
    );
    f.render_widget(Clear, rect);
    f.render_widget(table, inner);
    let hint = Rect::new(
        rect.x,
        rect.y + rect.height.saturating_sub(1),
        rect.width,
        1,
    );
    f.render_widget(Clear, hint);
    f.render_widget(
        Paragraph::new(Line::raw(
            " j/k role · h/l column · Enter keeps (Rules, CLV, Recommend) · Esc leaves",
        ))
        .style(theme.dim()),
        hint,
    );
}
