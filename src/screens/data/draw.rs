//! The Data screen: the table, virtualised (only the visible rows are taken from the frame and
//! formatted, so a million rows draw as fast as a hundred), the key column frozen, the
//! selected column highlighted; and a side panel with the selected column's statistics and
//! histogram.

use crate::text::format_cell;
use polars::prelude::*;
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, Block, Borders, Cell, Paragraph, Row, Table};

use crate::app::State;
use crate::data::integrate::follow::Mark;
use crate::ui::theme::Theme;

const MAX_COL_WIDTH: usize = 24;

/// First visible row so that `row` is on screen.
pub fn first_visible(row: usize, viewport: usize) -> usize {
    if viewport == 0 || row < viewport {
        0
    } else {
        row + 1 - viewport
    }
}

/// The visible rows (in view order) as a small frame: only these are ever formatted.
///
/// Taken one column after the other on this (the UI) thread: `DataFrame::take` runs on
/// polars' thread pool, and while a job keeps that pool busy (a filter or sort of a million
/// rows, a load) the draw would wait for the whole job: the gauge stood still, keys waited.
pub fn window(state: &State, start: usize, n: usize) -> Option<DataFrame> {
    let table = state.table.as_ref()?;
    match &state.data.order {
        None => Some(table.slice(start as i64, n)),
        Some(order) => {
            let end = (start + n).min(order.len());
            let idx = order.get(start..end)?;
            let columns = table
                .columns()
                .iter()
                .map(|c| c.take_slice(idx))
                .collect::<PolarsResult<Vec<Column>>>()
                .ok()?;
            DataFrame::new(idx.len(), columns).ok()
        }
    }
}

/// The mark before a value [cleaning.missing] filled in.
pub const IMPUTED: &str = "≈";

/// The rows (sorted positions in the table) whose `column` value was filled in, if any.
fn filled_rows<'a>(state: &'a State, column: &str) -> Option<&'a [u32]> {
    let r = state.report.as_ref()?;
    r.missing
        .iter()
        .find(|m| m.column == column && !m.filled_rows.is_empty())
        .map(|m| m.filled_rows.as_slice())
}

/// Which columns fit: the key column, then a run of columns that includes `selected`.
fn visible_columns(widths: &[usize], selected: usize, room: usize) -> Vec<usize> {
    if widths.is_empty() {
        return Vec::new();
    }
    let key = widths[0] + 1;
    let mut start = selected.max(1);
    // Walk left from the selected column while the run still fits.
    let mut used = key + widths.get(start).map_or(0, |w| w + 1);
    while start > 1 && used + widths[start - 1] < room {
        start -= 1;
        used += widths[start] + 1;
    }
    let mut cols = vec![0];
    let mut used = key;
    for (i, w) in widths.iter().enumerate().skip(start) {
        if used + w + 1 > room && cols.len() > 1 {
            // Show a cut-off last column rather than blank space, when there is room.
            if room.saturating_sub(used) >= 6 {
                cols.push(i);
            }
            break;
        }
        cols.push(i);
        used += w + 1;
    }
    cols
}

pub fn draw(f: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let Some(table) = &state.table else {
        let msg = if state.jobs.is_empty() {
            "no data loaded"
        } else {
            "loading..."
        };
        f.render_widget(Paragraph::new(msg), area);
        return;
    };
    let panel_width = (area.width / 3).clamp(24, 34);
    let [left, right] =
        Layout::horizontal([Constraint::Min(20), Constraint::Length(panel_width)]).areas(area);
    draw_table(f, left, state, table, theme);
    draw_panel(f, right, state, theme);
}

fn draw_table(f: &mut Frame, area: Rect, state: &State, table: &DataFrame, theme: Theme) {
    if state.rows() == 0 {
        let msg = match &state.data.filter {
            Some(flt) => {
                format!("no rows match \"{flt}\" (/ then Enter on an empty filter clears it)")
            }
            None => "the table is empty".into(),
        };
        f.render_widget(Paragraph::new(msg), area);
        return;
    }
    let visible = area.height.saturating_sub(1) as usize;
    let start = first_visible(state.data.row, visible);
    let Some(win) = window(state, start, visible) else {
        return;
    };
    let names: Vec<String> = table
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    // The table's row of each shown row, to find the cells filled in by [cleaning.missing].
    // (IdxSize is u32 unless polars is built with big indexes.)
    #[allow(clippy::unnecessary_cast)]
    let table_row = |i: usize| -> u32 {
        match &state.data.order {
            Some(order) => order.get(start + i).copied().unwrap_or(0) as u32,
            None => (start + i) as u32,
        }
    };
    let mut imputed: Vec<Vec<bool>> = Vec::new();
    // After a refresh (F5), the key cell says whether the row is new (+) or changed (*).
    let marked = state.follow.marks.is_some();
    let mark = |i: usize| match state.follow.mark(table_row(i) as usize) {
        Mark::New => "+ ",
        Mark::Changed => "* ",
        Mark::Same => "  ",
    };
    let cells: Vec<Vec<String>> = win
        .columns()
        .iter()
        .enumerate()
        .map(|(ci, c)| {
            let name = c.name().as_str();
            let filled = filled_rows(state, name);
            let marks: Vec<bool> = (0..win.height())
                .map(|i| filled.is_some_and(|f| f.binary_search(&table_row(i)).is_ok()))
                .collect();
            let texts = (0..win.height())
                .map(|i| {
                    let text = c.get(i).map(|v| format_cell(&v)).unwrap_or_default();
                    // Control characters shown as escapes (`\e`), not dropped unseen.
                    let text = crate::text::escape_owned(state.shown(name, text));
                    // A value filled in (mean, median, ...) is marked, not taken for data.
                    let text = if marks[i] {
                        format!("{IMPUTED}{text}")
                    } else {
                        text
                    };
                    if marked && ci == 0 {
                        format!("{}{text}", mark(i))
                    } else {
                        text
                    }
                })
                .collect();
            imputed.push(marks);
            texts
        })
        .collect();
    let labels: Vec<String> = names
        .iter()
        .map(|n| crate::text::escape_owned(n.clone()))
        .collect();
    let natural: Vec<usize> = cells
        .iter()
        .zip(&labels)
        .map(|(col, name)| {
            col.iter()
                .map(|s| s.chars().count())
                .chain([name.chars().count() + 2])
                .max()
                .unwrap_or(1)
        })
        .collect();
    let mut widths: Vec<usize> = natural.iter().map(|w| (*w).min(MAX_COL_WIDTH)).collect();
    let shown = visible_columns(&widths, state.data.col, area.width as usize);
    // Room left after the shown columns goes to the last one, when its text is longer than a
    // column's usual width (long product names, addresses).
    if let Some(&last) = shown.last() {
        let used: usize = shown.iter().map(|&i| widths[i] + 1).sum();
        let room = (area.width as usize).saturating_sub(used);
        if natural[last] > widths[last] {
            widths[last] += room.min(natural[last] - widths[last]);
        }
    }
    let arrow = |i: usize| match &state.data.sort {
        Some((c, desc)) if *c == names[i] => {
            if *desc {
                " ↓"
            } else {
                " ↑"
            }
        }
        _ => "",
    };
    // Each column at its width; a cut-off last column gets only what is left, so the solver
    // never squeezes the columns before it.
    let mut left = area.width as usize;
    let fitted: Vec<usize> = shown
        .iter()
        .map(|&i| {
            let w = widths[i].min(left);
            left = left.saturating_sub(w + 1);
            w
        })
        .collect();
    let constraints: Vec<Constraint> = fitted
        .iter()
        .map(|&w| Constraint::Length(w as u16))
        .collect();
    let header = Row::new(shown.iter().zip(&fitted).map(|(&i, &w)| {
        let style = if i == state.data.col {
            theme.header().patch(theme.selected())
        } else {
            theme.header()
        };
        Cell::from(crate::ui::wrap::cut(
            &format!("{}{}", labels[i], arrow(i)),
            w,
        ))
        .style(style)
    }));
    let rows = (0..win.height()).map(|r| {
        let style = if start + r == state.data.row {
            theme.selected()
        } else {
            ratatui::style::Style::default()
        };
        Row::new(shown.iter().zip(&fitted).map(|(&i, &w)| {
            let cell = Cell::from(crate::ui::wrap::cut(&cells[i][r], w));
            let cell = if imputed[i][r] {
                cell.style(theme.dim())
            } else {
                cell
            };
            if i == state.data.col && start + r != state.data.row {
                cell.style(theme.accent())
            } else {
                cell
            }
        }))
        .style(style)
    });
    f.render_widget(
        Table::new(rows, constraints)
            .header(header)
            .flex(ratatui::layout::Flex::Start),
        area,
    );
}

fn draw_panel(f: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let name = state.column_name(state.data.col).unwrap_or_default();
    let block = Block::default()
        .borders(Borders::LEFT)
        .title(format!(" {name} "))
        .border_style(theme.dim());
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(s) = state
        .data
        .summary
        .as_ref()
        .filter(|s| s.profile.name == name)
    else {
        f.render_widget(Paragraph::new("summarising..."), inner);
        return;
    };
    let p = &s.profile;
    let mut lines = vec![
        Line::from(vec![
            Span::styled("type     ", theme.dim()),
            Span::raw(p.dtype.clone()),
        ]),
        Line::from(vec![
            Span::styled("nulls    ", theme.dim()),
            Span::raw(p.nulls.to_string()),
        ]),
        Line::from(vec![
            Span::styled("distinct ", theme.dim()),
            Span::raw(p.distinct.to_string()),
        ]),
    ];
    if let (Some(min), Some(max)) = (&p.min, &p.max) {
        lines.push(Line::from(vec![
            Span::styled("min      ", theme.dim()),
            Span::raw(state.shown(&name, min.clone())),
        ]));
        lines.push(Line::from(vec![
            Span::styled("max      ", theme.dim()),
            Span::raw(state.shown(&name, max.clone())),
        ]));
    }
    if let Some(m) = p.mean {
        lines.push(Line::from(vec![
            Span::styled("mean     ", theme.dim()),
            Span::raw(format!("{m:.2}")),
        ]));
    }
    // How the reader read this column (numbers with currency, flags, dates...), with the
    // values that did not read: the note the load made, wrapped to the panel.
    let prefix = format!("column `{name}` read as ");
    if let Some(note) = state
        .sources
        .shown_entry()
        .and_then(|e| e.notes.iter().find(|n| n.starts_with(&prefix)))
    {
        let text = format!("read as {}", &note[prefix.len()..]);
        for part in crate::ui::wrap::wrap(&crate::text::escape(&text), inner.width.max(10) as usize)
        {
            lines.push(Line::styled(part, theme.dim()));
        }
    }
    // The values [cleaning.missing] filled in, and their mark in the table.
    if let Some(m) = state.report.as_ref().and_then(|r| {
        r.missing
            .iter()
            .find(|m| m.column == name && !m.filled_rows.is_empty())
    }) {
        let text = format!(
            "{IMPUTED} {} values filled in ({}{})",
            m.filled_rows.len(),
            m.policy,
            m.fill_value
                .as_deref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default()
        );
        for part in crate::ui::wrap::wrap(&crate::text::escape(&text), inner.width.max(10) as usize)
        {
            lines.push(Line::styled(part, theme.dim()));
        }
    }
    let text_height = lines.len() as u16 + 1;
    let [top, bottom] =
        Layout::vertical([Constraint::Length(text_height), Constraint::Min(0)]).areas(inner);
    f.render_widget(Paragraph::new(lines), top);
    if s.histogram.is_empty() || bottom.height < 2 {
        return;
    }
    if p.top.len() == s.histogram.len() && p.distinct as usize == state.rows() && p.nulls == 0 {
        f.render_widget(
            Paragraph::new("all values distinct").style(theme.dim()),
            bottom,
        );
        return;
    }
    let label_width = (bottom.width / 2).max(6) as usize;
    let bars: Vec<Bar> = s
        .histogram
        .iter()
        .take(bottom.height as usize)
        .map(|(label, count)| {
            let l: String = state
                .shown(&name, label.clone())
                .chars()
                .take(label_width)
                .collect();
            Bar::default().value(*count).label(Line::from(l))
        })
        .collect();
    let chart = BarChart::default()
        .direction(Direction::Horizontal)
        .data(ratatui::widgets::BarGroup::default().bars(&bars))
        .bar_width(1)
        .bar_gap(0)
        .bar_style(theme.bar())
        .value_style(theme.selected());
    f.render_widget(chart, bottom);
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

    #[test]
    fn selected_column_is_always_shown_beside_the_key() {
        let widths = [8, 10, 10, 10, 10, 10];
        // 40 columns of room: key (9) + two of 11, and 9 left for a cut-off third.
        assert_eq!(visible_columns(&widths, 0, 40), vec![0, 1, 2, 3]);
        assert_eq!(visible_columns(&widths, 0, 35), vec![0, 1, 2]);
        let shown = visible_columns(&widths, 5, 40);
        assert_eq!(shown[0], 0);
        assert!(shown.contains(&5));
        // Too narrow for anything but the key and the selection: still both.
        assert_eq!(visible_columns(&widths, 3, 5), vec![0, 3]);
    }
}
