//! The data table: the visible window of rows and columns of the loaded frame, with the
//! selected row highlighted and the first (key) column frozen. Only the visible cells are
//! formatted.

use polars::prelude::*;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use crate::app::State;

const MAX_COL_WIDTH: usize = 24;

/// A cell as text: floats with 2 decimals, missing values as an empty cell.
pub fn format_cell(v: &AnyValue) -> String {
    match v {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Float64(x) => format!("{x:.2}"),
        AnyValue::Float32(x) => format!("{x:.2}"),
        other => other.to_string(),
    }
}

/// First visible row so that `row` is on screen.
pub fn first_visible(row: usize, viewport: usize) -> usize {
    if viewport == 0 || row < viewport {
        0
    } else {
        row + 1 - viewport
    }
}

pub fn draw(f: &mut Frame, area: Rect, state: &State) {
    let Some(df) = &state.table else {
        let msg = if state.job.is_some() {
            "loading..."
        } else {
            "no data loaded"
        };
        f.render_widget(Paragraph::new(msg), area);
        return;
    };
    let visible = area.height.saturating_sub(1) as usize;
    let start = first_visible(state.row, visible);
    let window = df.slice(start as i64, visible);
    let columns = window.columns();
    let mut widths = Vec::new();
    let mut used = 0usize;
    let mut picked = Vec::new();
    // The first column (the customer key) stays while the others scroll.
    let shown = std::iter::once(0).chain(1 + state.col..columns.len());
    for c in shown.filter_map(|i| columns.get(i)) {
        let cells: Vec<String> = (0..window.height())
            .map(|i| c.get(i).map(|v| format_cell(&v)).unwrap_or_default())
            .collect();
        let w = cells
            .iter()
            .map(|s| s.chars().count())
            .chain([c.name().chars().count()])
            .max()
            .unwrap_or(1)
            .min(MAX_COL_WIDTH);
        if used + w + 1 > area.width as usize && !picked.is_empty() {
            break;
        }
        used += w + 1;
        widths.push(Constraint::Length(w as u16));
        picked.push((c.name().to_string(), cells));
    }
    let header = Row::new(picked.iter().map(|(n, _)| Cell::from(n.clone())))
        .style(Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let rows = (0..window.height()).map(|i| {
        let style = if start + i == state.row {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default()
        };
        Row::new(picked.iter().map(|(_, cells)| Cell::from(cells[i].clone()))).style(style)
    });
    f.render_widget(Table::new(rows, widths).header(header), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selected_row_stays_visible() {
        assert_eq!(first_visible(0, 10), 0);
        assert_eq!(first_visible(9, 10), 0);
        assert_eq!(first_visible(10, 10), 1);
        assert_eq!(first_visible(25, 10), 16);
    }
}
