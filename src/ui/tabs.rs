//! The tab bar, always visible on the first line, and its hit test for mouse clicks.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use crate::screens::Screen;

const GAP: u16 = 2;

/// (screen, first column, width) of every tab label, for a bar `width` columns wide.
pub fn layout(width: u16) -> Vec<(Screen, u16, u16)> {
    let short = short_labels(width);
    // Two spaces between tabs when they all fit so, else one.
    let total: u16 = Screen::ALL
        .iter()
        .enumerate()
        .map(|(i, s)| label_as(i, *s, short).chars().count() as u16 + GAP)
        .sum();
    let gap = if total < width { GAP } else { 1 };
    let mut x = 1u16;
    let mut out = Vec::new();
    for (i, s) in Screen::ALL.iter().enumerate() {
        let w = label_as(i, *s, short).chars().count() as u16;
        if x + w > width {
            break;
        }
        out.push((*s, x, w));
        x += w + gap;
    }
    out
}

/// Whether the bar uses the screens' short titles: when the full ones do not fit with one
/// space between them (below about 90 columns).
fn short_labels(width: u16) -> bool {
    let full: u16 = Screen::ALL
        .iter()
        .enumerate()
        .map(|(i, s)| label_as(i, *s, false).chars().count() as u16 + 1)
        .sum();
    full >= width
}

fn label_as(i: usize, s: Screen, short: bool) -> String {
    let title = if short { s.short_title() } else { s.title() };
    format!("{}:{}", i + 1, title)
}

/// The tab under a click at (`x`, `y`), if any.
pub fn tab_at(width: u16, x: u16, y: u16) -> Option<Screen> {
    if y != 0 {
        return None;
    }
    layout(width)
        .into_iter()
        .find(|(_, x0, w)| x >= *x0 && x < x0 + w)
        .map(|(s, _, _)| s)
}

pub fn draw(f: &mut Frame, area: Rect, active: Screen, theme: Theme) {
    let short = short_labels(area.width);
    let mut spans = vec![Span::raw(" ")];
    let mut end = 1;
    for (i, (s, x, w)) in layout(area.width).iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(" ".repeat((x - end) as usize)));
        }
        end = x + w;
        let style = if *s == active {
            theme
                .selected()
                .add_modifier(ratatui::style::Modifier::BOLD)
        } else {
            theme.dim()
        };
        spans.push(Span::styled(label_as(i, *s, short), style));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tab_fits_in_80_columns_and_clicks_hit_them() {
        let l = layout(80);
        assert_eq!(l.len(), Screen::ALL.len());
        // Tabs never overlap and end inside the bar.
        assert!(l.windows(2).all(|w| w[0].1 + w[0].2 < w[1].1));
        let (_, x, w) = l[l.len() - 1];
        assert!(x + w <= 80);
        for (s, x0, w) in &l {
            assert_eq!(tab_at(80, *x0, 0), Some(*s));
            assert_eq!(tab_at(80, x0 + w - 1, 0), Some(*s));
        }
        // Between tabs, below the bar: nothing.
        assert_eq!(tab_at(80, 0, 0), None);
        assert_eq!(tab_at(80, l[0].1, 1), None);
    }
}
