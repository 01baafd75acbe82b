//! The demo banner (`crmlens demo`): a bordered box over the bottom of the body with the
//! step number, the caption and the demo keys. Drawn from the state only.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::theme::Theme;
use crate::app::State;

/// Lines the banner takes: two borders and two lines of caption.
pub const HEIGHT: u16 = 4;

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

pub fn draw(f: &mut Frame, body: Rect, state: &State, theme: Theme) {
    let (Some(demo), Some(title)) = (state.demo.as_ref(), title(state)) else {
        return;
    };
    let h = HEIGHT.min(body.height);
    let rect = Rect::new(body.x, body.bottom() - h, body.width, h);
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
    f.render_widget(Clear, rect);
    f.render_widget(
        Paragraph::new(demo.current().caption.as_str())
            .wrap(Wrap { trim: true })
            .block(block),
        rect,
    );
}
