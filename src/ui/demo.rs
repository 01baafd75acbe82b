//! The demo banner (`crmlens demo`): a bordered box at the bottom of the body, above the
//! status line, with the step number, the caption and the demo keys. The screen is drawn
//! in the rest of the body, so the banner hides nothing. Drawn from the state only.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::theme::Theme;
use crate::app::State;

/// Lines the banner takes: two borders and two lines of caption.
pub const HEIGHT: u16 = 4;

/// The screen's part of `body` and the banner's, in demo mode; else all of `body`.
pub fn split(body: Rect, state: &State) -> (Rect, Option<Rect>) {
    if state.demo.is_none() || body.height <= HEIGHT {
        return (body, None);
    }
    let [screen, banner] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(HEIGHT)]).areas(body);
    (screen, Some(banner))
}

/// The title: "Demo step 3/14", then what the step is doing.
fn title(state: &State) -> Option<String> {
    let demo = state.demo.as_ref()?;
    let mut t = format!(" Demo step {}/{} ", demo.step + 1, demo.len());
    if demo.is_running(state) {
        t.push_str(if demo.is_queued() {
            "· running… next step when it is done "
        } else {
            "· running… "
        });
    } else if demo.is_last() {
        t.push_str("· the end ");
    }
    let keys = &demo.current().keys_text;
    if !keys.is_empty() {
        t.push_str(&format!("· keys: {keys} "));
    }
    Some(t)
}

/// Draws the banner into `rect` (from [`split`]).
pub fn draw(f: &mut Frame, rect: Rect, state: &State, theme: Theme) {
    let (Some(demo), Some(title)) = (state.demo.as_ref(), title(state)) else {
        return;
    };
    let auto = if demo.auto { "on" } else { "off" };
    let hint = Line::from(vec![
        Span::raw(" Space/→ next · ← back · a auto-play "),
        Span::styled(format!("({auto})"), theme.accent()),
        Span::raw(" · Esc explore "),
    ]);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.accent())
        .title(Span::styled(title, theme.accent()))
        .title_bottom(hint);
    f.render_widget(
        Paragraph::new(demo.current().caption.as_str())
            .wrap(Wrap { trim: true })
            .block(block),
        rect,
    );
}
