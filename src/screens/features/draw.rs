//! The Features screen: a checklist of the columns the models use (numeric ones scaled,
//! text ones one-hot encoded), the scaling, and a correlation heat-map of the selected
//! numeric features.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};

use crate::app::State;
use crate::data::sources::workspace::Scaling;
use crate::ui::theme::Theme;

fn scaling_name(s: Scaling) -> &'static str {
    match s {
        Scaling::Standard => "z-score",
        Scaling::Minmax => "min-max",
        Scaling::Robust => "robust",
        Scaling::None => "none",
    }
}

/// The style of a correlation: stronger is louder; negative and positive differ in colour.
fn heat(r: f64, theme: Theme) -> Style {
    let a = r.abs();
    let base = Style::default();
    if theme.no_color {
        return if a >= 0.7 {
            base.add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else if a >= 0.4 {
            base.add_modifier(Modifier::BOLD)
        } else {
            base
        };
    }
    let colour = match (a >= 0.7, a >= 0.4, r >= 0.0) {
        (true, _, true) => Color::Red,
        (true, _, false) => Color::Blue,
        (false, true, true) => Color::Yellow,
        (false, true, false) => Color::Cyan,
        _ => return theme.dim(),
    };
    base.fg(colour).add_modifier(Modifier::BOLD)
}

pub fn draw(f: &mut Frame, area: Rect, state: &State, theme: Theme) {
    if state.table.is_none() {
        f.render_widget(Paragraph::new("no data loaded"), area);
        return;
    }
    let fv = &state.features;
    let left_width = (area.width / 2).clamp(30, 44);
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_width), Constraint::Min(10)]).areas(area);

    let cfg = fv.config();
    let header = Line::from(vec![
        Span::styled(scaling_name(fv.scaling), theme.accent()),
        Span::styled(
            format!(
                " · {} numeric · {} one-hot",
                cfg.numeric.len(),
                cfg.categorical.len()
            ),
            theme.dim(),
        ),
    ]);
    let list_height = left.height.saturating_sub(2) as usize;
    let first = fv.cursor.saturating_sub(list_height.saturating_sub(1));
    let rows = fv
        .items
        .iter()
        .enumerate()
        .skip(first)
        .take(list_height)
        .map(|(i, it)| {
            let mark = if it.selected { "[x]" } else { "[ ]" };
            let kind = if !state.show_pii && state.pii.iter().any(|p| p.column == it.name) {
                "pii"
            } else if it.numeric {
                "num"
            } else {
                "one-hot"
            };
            let log = if it.numeric && it.log1p { "log1p" } else { "" };
            let row = Row::new(vec![
                Cell::from(mark),
                Cell::from(it.name.clone()),
                Cell::from(kind),
                Cell::from(log),
            ]);
            if i == fv.cursor {
                row.style(theme.selected())
            } else if it.selected {
                row.style(theme.accent())
            } else {
                row
            }
        });
    let list = Table::new(
        rows,
        [
            Constraint::Length(3),
            Constraint::Min(12),
            Constraint::Length(7),
            Constraint::Length(5),
        ],
    )
    .block(
        Block::default()
            .borders(Borders::RIGHT)
            .border_style(theme.dim())
            .title(header),
    );
    f.render_widget(list, left);

    let block = Block::default().title(" correlation of the selected numeric features ");
    let inner = block.inner(right);
    f.render_widget(block, right);
    let Some(c) = &fv.correlation else {
        let msg = if cfg.numeric.len() < 2 {
            "select two or more numeric features to see their correlations"
        } else {
            "correlating..."
        };
        f.render_widget(Paragraph::new(msg).style(theme.dim()), inner);
        return;
    };
    let label_w = 14usize;
    let cell_w = 6u16;
    let fit = ((inner.width as usize).saturating_sub(label_w + 1) / (cell_w as usize + 1)).max(1);
    let shown = c.names.len().min(fit);
    let mut widths = vec![Constraint::Length(label_w as u16)];
    widths.extend(std::iter::repeat_n(Constraint::Length(cell_w), shown));
    let head = Row::new(
        std::iter::once(Cell::from(format!("{} rows", c.rows_used)))
            .chain((1..=shown).map(|j| Cell::from(format!("{j:>5}")))),
    )
    .style(theme.header());
    let body = c.names.iter().enumerate().map(|(i, name)| {
        let label: String = format!("{} {}", i + 1, name)
            .chars()
            .take(label_w)
            .collect();
        let cells = (0..shown).map(|j| {
            let r = c.values[i][j];
            if r.is_nan() {
                Cell::from("    -")
            } else {
                Cell::from(format!("{r:+.2}")).style(heat(r, theme))
            }
        });
        Row::new(std::iter::once(Cell::from(label)).chain(cells))
    });
    let table = Table::new(body, widths).header(head);
    let [grid, note] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    f.render_widget(table, grid);
    if shown < c.names.len() {
        f.render_widget(
            Paragraph::new(format!(
                "columns 1-{shown} of {} shown; widen the terminal for all",
                c.names.len()
            ))
            .style(theme.dim()),
            note,
        );
    }
}
