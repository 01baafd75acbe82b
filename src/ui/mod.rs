//! Drawing: one file per screen or widget, from `&State` only. Nothing here changes state or
//! does I/O.

pub mod demo;
pub mod overlay;
pub mod palette;
pub mod roles;
pub mod sources;
pub mod status;
pub mod tabs;
pub mod theme;
pub mod wrap;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Paragraph, Wrap};

use crate::app::State;
use theme::Theme;

/// Smallest terminal the workbench draws into.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 12;

/// Rows of data a table shows in a terminal `height` lines high (tab bar, table header,
/// status and key lines excluded).
pub fn table_rows(height: u16) -> usize {
    height.saturating_sub(4) as usize
}

/// Draws the whole screen.
/// Tab bar, body, status line and key hints.
fn screen_areas(area: Rect) -> [Rect; 4] {
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// Where a screen's body is drawn in a terminal of `area`.
pub fn body_area(area: Rect) -> Rect {
    screen_areas(area)[1]
}

pub fn draw(f: &mut Frame, state: &State) {
    let area = f.area();
    let theme = Theme {
        no_color: state.no_color,
    };
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "terminal too small ({}x{}); need {MIN_WIDTH}x{MIN_HEIGHT}: enlarge the window (q quits)",
            area.width, area.height
        );
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
        return;
    }
    let [tab_bar, body, status_line, keys] = screen_areas(area);
    // In demo mode the banner takes the bottom of the body, so it hides nothing.
    let (body, banner) = demo::split(body, state);
    tabs::draw(f, tab_bar, state.screen, theme);
    (state.screen.spec().draw)(f, body, state, theme);
    status::draw(f, status_line, keys, state, theme);
    if let Some(banner) = banner {
        demo::draw(f, banner, state, theme);
    }
    overlay::draw(f, area, state, theme);
}
