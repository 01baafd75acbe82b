//! The Recommend screen: the evaluation of item-based CF against the popularity baseline on
//! top; below, the selected customer's purchase history beside their recommendations, each
//! with the bought items that contributed most ("because you bought ...").

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, Wrap};

use crate::app::State;
use crate::app::job::JobKind;
use crate::data::dates::from_epoch_days;
use crate::ui::theme::Theme;

pub fn draw(f: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let view = &state.recommend;
    let Some(m) = &view.result else {
        let msg = if state.job(JobKind::Recommend).is_some() {
            "building...".to_string()
        } else {
            "no model yet: press r to build item-item similarities from the order lines and \
             evaluate them against recommending the bestsellers (each customer's last order held \
             out). Then / finds a customer by id."
                .to_string()
        };
        f.render_widget(
            Paragraph::new(msg)
                .style(theme.dim())
                .wrap(Wrap { trim: true })
                .block(Block::default().borders(Borders::ALL).title(" recommend ")),
            area,
        );
        return;
    };
    let [top, bottom] = Layout::vertical([Constraint::Length(5), Constraint::Min(4)]).areas(area);
    let title = format!(
        " item CF ({} neighbours) vs popularity: {} customers, {} items ",
        m.neighbours,
        m.customers.len(),
        m.items.len()
    );
    match &m.evaluation {
        Some(e) => {
            let row = |label: &str, r: &crate::analytics::recommend::RankMetrics| {
                Row::new(vec![
                    Cell::from(label.to_string()),
                    Cell::from(format!("{:.3}", r.hit_rate)),
                    Cell::from(format!("{:.3}", r.precision)),
                    Cell::from(format!("{:.3}", r.recall)),
                    Cell::from(format!("{:.3}", r.ndcg)),
                    Cell::from(format!("{:.3}", r.coverage)),
                ])
            };
            f.render_widget(
                Table::new(
                    vec![row("item CF", &e.model), row("popular", &e.baseline)],
                    [
                        Constraint::Length(10),
                        Constraint::Length(10),
                        Constraint::Length(10),
                        Constraint::Length(10),
                        Constraint::Length(10),
                        Constraint::Length(10),
                    ],
                )
                .header(
                    Row::new(vec![
                        "",
                        "hit rate",
                        "precision",
                        "recall",
                        "NDCG",
                        "coverage",
                    ])
                    .style(theme.header()),
                )
                .block(
                    Block::default()
                        .borders(Borders::BOTTOM)
                        .title(title)
                        .title_bottom(format!(
                            " at {} on the last orders of {} customers (new items only) ",
                            e.n, e.customers
                        )),
                ),
                top,
            );
        }
        None => f.render_widget(
            Paragraph::new("no evaluation: the order lines have no order or date column")
                .style(theme.dim())
                .block(Block::default().borders(Borders::BOTTOM).title(title)),
            top,
        ),
    }
    let Some(u) = view.customer else {
        return;
    };
    let [hist, recs] =
        Layout::horizontal([Constraint::Percentage(36), Constraint::Percentage(64)]).areas(bottom);
    let name = |i: u32| m.items[i as usize].clone();
    let history = m.history(u);
    let rows: Vec<Row> = history
        .iter()
        .map(|&(i, times, day)| {
            Row::new(vec![
                Cell::from(name(i)),
                Cell::from(format!("{times}")),
                Cell::from(
                    day.filter(|d| *d != i32::MIN)
                        .map(|d| from_epoch_days(d).to_string())
                        .unwrap_or_default(),
                ),
            ])
        })
        .collect();
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Min(10),
                Constraint::Length(5),
                Constraint::Length(10),
            ],
        )
        .header(Row::new(vec!["item", "times", "last"]).style(theme.header()))
        .block(Block::default().borders(Borders::RIGHT).title(format!(
            " {} bought {} items ",
            m.customers[u],
            history.len()
        ))),
        hist,
    );
    let rows: Vec<Row> = view
        .recs
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let why = if r.popular {
                "(popular: nothing similar bought)".to_string()
            } else {
                let b: Vec<String> = r.because.iter().map(|(b, _)| name(*b)).collect();
                b.join(", ")
            };
            Row::new(vec![
                Cell::from(format!("{}", k + 1)),
                Cell::from(name(r.item)),
                Cell::from(format!("{:.3}", r.score)),
                Cell::from(why),
            ])
        })
        .collect();
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(3),
                Constraint::Length(24),
                Constraint::Length(7),
                Constraint::Min(10),
            ],
        )
        .header(Row::new(vec!["#", "item", "score", "because you bought"]).style(theme.header()))
        .block(Block::default().title(format!(
            " top {} for {} · / find · j/k next · +/- N ",
            view.settings.top, m.customers[u]
        ))),
        recs,
    );
}
