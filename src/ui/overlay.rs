//! Pop-ups over the screen: the help overlay (every binding of the current screen), the quit
//! prompt while a job runs, and the filter prompt.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Row, Table};

use super::theme::Theme;
use crate::app::State;
use crate::app::action::bindings;
use crate::app::state::Overlay;

pub(crate) fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

pub fn draw(f: &mut Frame, area: Rect, state: &State, theme: Theme) {
    match &state.overlay {
        None => {}
        Some(Overlay::Palette(p)) => super::palette::draw(f, area, state, p, theme),
        Some(Overlay::Help) => {
            // As wide as the terminal allows (up to 110 columns); descriptions wrap at words.
            let width = area.width.saturating_sub(4).clamp(30, 110);
            let what_width = width.saturating_sub(23).max(10) as usize;
            let row = |keys: &str, what: &str| -> (Row<'static>, u16) {
                let lines: Vec<Line> = super::wrap::wrap(what, what_width)
                    .into_iter()
                    .map(Line::raw)
                    .collect();
                let n = lines.len().max(1) as u16;
                (
                    Row::new(vec![
                        ratatui::widgets::Cell::from(keys.to_string()),
                        ratatui::widgets::Cell::from(ratatui::text::Text::from(lines)),
                    ])
                    .height(n),
                    n,
                )
            };
            let (mut rows, mut heights): (Vec<Row>, Vec<u16>) = bindings(state.screen)
                .iter()
                .map(|b| row(b.keys, b.what))
                .unzip();
            // Too tall for the terminal: the keys of every screen fold into one line (the
            // palette lists them all). The tab bar and the two status lines stay visible.
            if heights.iter().sum::<u16>() + 4 > area.height.saturating_sub(3) {
                let own = crate::app::action::own_bindings(state.screen);
                (rows, heights) = own.iter().map(|b| row(b.keys, b.what)).unzip();
                // A key's own spaces do not break ("u / Ctrl-r" stays on one line).
                let keys: Vec<String> = crate::app::action::GLOBAL
                    .iter()
                    .map(|b| b.keys.replace(' ', "\u{a0}"))
                    .collect();
                let lines: Vec<Line> = super::wrap::wrap(&keys.join(" · "), what_width)
                    .into_iter()
                    .map(Line::raw)
                    .collect();
                let n = lines.len() as u16;
                heights.push(n);
                rows.push(
                    Row::new(vec![
                        ratatui::widgets::Cell::from("every screen"),
                        ratatui::widgets::Cell::from(ratatui::text::Text::from(lines)),
                    ])
                    .height(n)
                    .style(theme.dim()),
                );
            }
            let height = heights.iter().sum::<u16>() + 4;
            let rect = centered(area, width, height);
            let table = Table::new(
                rows,
                [
                    ratatui::layout::Constraint::Length(20),
                    ratatui::layout::Constraint::Min(10),
                ],
            )
            .header(Row::new(vec!["keys", "action"]).style(theme.header()))
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(format!(" {} keys · any key closes ", state.screen.title()))
                    .border_style(theme.accent()),
            );
            f.render_widget(Clear, rect);
            f.render_widget(table, rect);
        }
        Some(Overlay::Messages(up)) => draw_messages(f, area, state, *up, theme),
        Some(Overlay::LoadFailed(message)) => {
            let width = area.width.saturating_sub(8).clamp(20, 100);
            let inner = width.saturating_sub(2).max(1) as usize;
            let lines = message.chars().count().div_ceil(inner) as u16 + 1;
            let rect = centered(area, width, lines + 3);
            let kept = if state.table.is_some() {
                "The data loaded before is still here. Any key closes this."
            } else {
                "Nothing is loaded. Fix it and open again; q quits."
            };
            f.render_widget(Clear, rect);
            f.render_widget(
                Paragraph::new(vec![
                    Line::from(message.clone()),
                    Line::from(Span::styled(kept, theme.dim())),
                ])
                .wrap(ratatui::widgets::Wrap { trim: false })
                .block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title(" could not load ")
                        .border_style(theme.error()),
                ),
                rect,
            );
        }
        Some(Overlay::Sources) => super::sources::draw(f, area, state, theme),
        Some(Overlay::Roles) => super::roles::draw(f, area, state, theme),
        Some(Overlay::OpenSource(text)) => super::sources::draw_prompt(f, area, text, theme),
        Some(Overlay::ColumnType(column)) => {
            let current = state
                .types
                .get(column)
                .map_or("as found".to_string(), |t| format!("{t} (set by you)"));
            let key = |k: &'static str, what: &'static str| {
                Line::from(vec![
                    Span::styled(format!(" {k:<6}"), theme.accent()),
                    Span::raw(what),
                ])
            };
            let text = vec![
                Line::from(format!(
                    " now: {current}; values that do not read become missing"
                )),
                key("i #", "int: whole numbers"),
                key("f %", "float: numbers (currency, separators, percent)"),
                key("t ~", "text"),
                key("b", "bool: yes/no, y/n, true/false flags"),
                key("a", "as found (the type crmlens read)"),
                Line::from(Span::styled(" any other key: keep", theme.dim())),
            ];
            let title = crate::ui::wrap::fit(
                &[
                    format!(" read `{}` as ", crate::text::escape(column)),
                    " read as ".to_string(),
                ],
                58,
            );
            let rect = centered(area, 62, text.len() as u16 + 2);
            f.render_widget(Clear, rect);
            f.render_widget(
                Paragraph::new(text).block(Block::default().borders(Borders::ALL).title(title)),
                rect,
            );
        }
        Some(Overlay::ConfirmQuit) => {
            let rect = centered(area, 52, 5);
            let label = state
                .jobs
                .first()
                .map(|j| j.label.clone())
                .unwrap_or_default();
            let text = vec![
                Line::from(format!("{label} is still running.")),
                Line::from(vec![
                    Span::styled("Quit anyway? ", theme.accent()),
                    Span::raw("y / Enter quits, any other key stays"),
                ]),
            ];
            f.render_widget(Clear, rect);
            f.render_widget(
                Paragraph::new(text).block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title(" quit ")
                        .border_style(theme.error()),
                ),
                rect,
            );
        }
        Some(Overlay::Edit(field, text)) => {
            let rect = Rect::new(area.x, area.bottom().saturating_sub(2), area.width, 1);
            let name = if state.screen == crate::screens::Screen::Clv {
                crate::screens::clv::CField::ALL
                    .get(*field)
                    .map_or("value", |f| f.name())
            } else if state.screen == crate::screens::Screen::Predict {
                let fields = state.predict.fields();
                fields.get(*field).map_or("value", |f| f.name())
            } else {
                let fields = state.segments.fields();
                fields
                    .get(*field)
                    .map_or("value", |f: &crate::screens::segments::Field| f.name())
            };
            f.render_widget(Clear, rect);
            f.render_widget(
                Paragraph::new(Line::from(vec![
                    Span::styled(format!(" {name} = "), theme.accent()),
                    Span::raw(text.clone()),
                    Span::styled("█", theme.accent()),
                    Span::styled("  (a number, Enter sets, Esc cancels)", theme.dim()),
                ])),
                rect,
            );
        }
        Some(Overlay::Export { target, name: text }) => {
            let rect = Rect::new(area.x, area.bottom().saturating_sub(2), area.width, 1);
            f.render_widget(Clear, rect);
            f.render_widget(
                Paragraph::new(Line::from(vec![
                    Span::styled(target.prompt(), theme.accent()),
                    Span::raw(text.clone()),
                    Span::styled("█", theme.accent()),
                    Span::styled(
                        if *target == crate::app::state::ExportTarget::Model {
                            "  (a .toml model file; Enter writes, Esc cancels)"
                        } else {
                            "  (.csv, .parquet or .json; Enter writes, Esc cancels)"
                        },
                        theme.dim(),
                    ),
                ])),
                rect,
            );
        }
        Some(Overlay::SaveAs(text)) => {
            let rect = Rect::new(area.x, area.bottom().saturating_sub(2), area.width, 1);
            f.render_widget(Clear, rect);
            f.render_widget(
                Paragraph::new(Line::from(vec![
                    Span::styled(" save workspace as: ", theme.accent()),
                    Span::raw(text.clone()),
                    Span::styled("█", theme.accent()),
                    Span::styled(
                        "  (.toml; an existing file is kept as .bak; Enter saves, Esc cancels)",
                        theme.dim(),
                    ),
                ])),
                rect,
            );
        }
        Some(Overlay::ConfirmOverwrite { path, .. }) => {
            let rect = centered(area, 60, 5);
            f.render_widget(Clear, rect);
            f.render_widget(
                Paragraph::new(vec![
                    Line::from(format!("{} exists.", path.display())),
                    Line::from(vec![
                        Span::styled("Replace it? ", theme.accent()),
                        Span::raw("y replaces, any other key keeps it"),
                    ]),
                ])
                .block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title(" overwrite ")
                        .border_style(theme.error()),
                ),
                rect,
            );
        }
        Some(Overlay::Filter(text)) => {
            let rect = Rect::new(area.x, area.bottom().saturating_sub(2), area.width, 1);
            f.render_widget(Clear, rect);
            f.render_widget(
                Paragraph::new(Line::from(vec![
                    Span::styled(
                        if state.screen == crate::screens::Screen::Recommend {
                            " find customer: "
                        } else {
                            " filter rows: /"
                        },
                        theme.accent(),
                    ),
                    Span::raw(text.clone()),
                    Span::styled("█", theme.accent()),
                    Span::styled("  (Enter applies, empty clears, Esc cancels)", theme.dim()),
                ])),
                rect,
            );
        }
    }
}

/// The session's messages in full, wrapped to the box, newest at the bottom; `up` lines
/// scrolled back.
fn draw_messages(f: &mut Frame, area: Rect, state: &State, up: usize, theme: Theme) {
    let width = area.width.saturating_sub(4).clamp(20, 120);
    let height = area.height.saturating_sub(2).max(3);
    let rect = centered(area, width, height);
    let inner = width.saturating_sub(2).max(1) as usize;
    let mut lines: Vec<Line> = Vec::new();
    for m in &state.log {
        let style = if m.starts_with("error:") {
            theme.error()
        } else if m.starts_with("warning:") {
            theme.accent()
        } else {
            ratatui::style::Style::default()
        };
        // Wrapped here (at character width) so that the scroll counts screen lines.
        for part in crate::ui::wrap::wrap(&crate::text::escape(m), inner) {
            lines.push(Line::from(Span::styled(part, style)));
        }
    }
    if lines.is_empty() {
        lines.push(Line::from(Span::styled("no messages yet", theme.dim())));
    }
    let shown = height.saturating_sub(2) as usize;
    let last = lines
        .len()
        .saturating_sub(up.min(lines.len().saturating_sub(shown)));
    let first = last.saturating_sub(shown);
    let lines: Vec<Line> = lines[first..last].to_vec();
    f.render_widget(Clear, rect);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(
                    " messages ({}) · j/k scroll · any key closes ",
                    state.log.len()
                ))
                .border_style(theme.accent()),
        ),
        rect,
    );
}
