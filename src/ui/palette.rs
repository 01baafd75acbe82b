//! The command palette overlay: the query, the matching actions (name with the matched
//! characters highlighted, screen, key) with the selected one reversed, and what the selected
//! one does, as the help overlay says it.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table};

use super::theme::Theme;
use crate::app::State;
use crate::app::palette::{Match, Palette, entries, matches};

pub fn draw(f: &mut Frame, area: Rect, state: &State, p: &Palette, theme: Theme) {
    let w = area.width.saturating_sub(4).min(96);
    let h = area.height.saturating_sub(2).min(22);
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let found = matches(state.screen, &p.query);
    let total = entries(state.screen).len();
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(
            " command palette · {} of {total} · ↑/↓ choose · Enter runs · Esc closes ",
            found.len()
        ))
        .border_style(theme.accent());
    let inner = block.inner(rect);
    f.render_widget(Clear, rect);
    f.render_widget(block, rect);
    let [input, list, detail] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(": ", theme.accent()),
            Span::raw(p.query.clone()),
            Span::styled("█", theme.accent()),
        ])),
        input,
    );
    if found.is_empty() {
        f.render_widget(
            Paragraph::new(format!(
                "no action matches \"{}\" (Backspace edits)",
                p.query
            ))
            .style(theme.dim()),
            list,
        );
        return;
    }
    let selected = p.selected.min(found.len() - 1);
    let height = list.height as usize;
    let first = selected.saturating_sub(height.saturating_sub(1));
    let rows = found
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, m)| {
            let row = Row::new(vec![
                Cell::from(highlighted(m, theme)),
                Cell::from(m.entry.screen.map_or("any screen", |s| s.title())),
                Cell::from(m.entry.key()),
            ]);
            if i == selected {
                row.style(theme.selected())
            } else {
                row
            }
        });
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Min(20),
                Constraint::Length(10),
                Constraint::Length(7),
            ],
        )
        .column_spacing(1),
        list,
    );
    let chosen = &found[selected];
    f.render_widget(
        Paragraph::new(format!("{} · {}", chosen.entry.key(), chosen.entry.what))
            .style(theme.dim()),
        detail,
    );
}

/// The title with its matched characters in the accent style.
fn highlighted(m: &Match, theme: Theme) -> Line<'static> {
    let mut spans: Vec<Span> = Vec::new();
    let mut run = String::new();
    let mut run_hit = false;
    for (i, c) in m.title.chars().enumerate() {
        let hit = m.positions.binary_search(&i).is_ok();
        if hit != run_hit && !run.is_empty() {
            spans.push(span(std::mem::take(&mut run), run_hit, theme));
        }
        run_hit = hit;
        run.push(c);
    }
    if !run.is_empty() {
        spans.push(span(run, run_hit, theme));
    }
    Line::from(spans)
}

fn span(text: String, hit: bool, theme: Theme) -> Span<'static> {
    if hit {
        Span::styled(text, theme.accent())
    } else {
        Span::raw(text)
    }
}
