//! Screens whose engines have not landed yet say so, with the issue that brings them; no fake
//! content.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::theme::Theme;
use crate::app::screen::Screen;

pub fn message(screen: Screen) -> &'static str {
    match screen {
        Screen::Recommend => {
            "Recommend: not yet available. Recommendations arrive with their own issue."
        }
        Screen::Data
        | Screen::Quality
        | Screen::Features
        | Screen::Segments
        | Screen::Rules
        | Screen::Predict
        | Screen::Clv => "",
    }
}

pub fn draw(f: &mut Frame, area: Rect, screen: Screen, theme: Theme) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(screen.title())
        .border_style(theme.dim());
    f.render_widget(
        Paragraph::new(message(screen))
            .wrap(Wrap { trim: true })
            .block(block),
        area,
    );
}
