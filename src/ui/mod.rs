//! Drawing: one function per screen or widget, from `&State` only. Nothing here changes state
//! or does I/O.

pub mod status;
pub mod table;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use crate::app::State;

/// Smallest terminal the workbench draws into.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 12;

/// Rows of data the table shows in a terminal `height` lines high.
pub fn table_rows(height: u16) -> usize {
    // title, table header, status line, key line
    height.saturating_sub(4) as usize
}

/// Draws the whole screen.
pub fn draw(f: &mut Frame, state: &State) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "terminal too small ({}x{}); need {MIN_WIDTH}x{MIN_HEIGHT}: enlarge the window (q quits)",
            area.width, area.height
        );
        f.render_widget(
            Paragraph::new(msg).wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    let [title, body, status, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let head = format!(
        " crmlens · {} · {} rows x {} columns",
        state.title,
        state.rows(),
        state.columns()
    );
    f.render_widget(
        Paragraph::new(Line::from(head)).style(Style::default().add_modifier(Modifier::REVERSED)),
        title,
    );
    table::draw(f, body, state);
    status::draw(f, status, keys, state);
}
