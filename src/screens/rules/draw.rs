//! The Rules screen: mining parameters and the most frequent items on top, the rule table
//! (sorted by the chosen metric, filtered by item text) in the middle, and the selected rule
//! in plain words below, with the baskets behind it after Enter.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Borders, Paragraph, Row, Table, Wrap};

use crate::analytics::itemsets::Algorithm;
use crate::analytics::rules::{SortBy, describe};
use crate::app::State;
use crate::screens::rules::RulesView;
use crate::ui::theme::Theme;

/// Items in the frequency chart.
const TOP_ITEMS: usize = 12;
/// Widths of the metric columns (support .. baskets); the rule column takes the rest.
const METRIC_WIDTHS: [u16; 7] = [9, 9, 8, 10, 10, 8, 9];
/// The metric each column after the first sorts by.
const COLUMN_SORT: [SortBy; 7] = [
    SortBy::Support,
    SortBy::Confidence,
    SortBy::Lift,
    SortBy::Leverage,
    SortBy::Conviction,
    SortBy::ZhangsMetric,
    SortBy::Count,
];

/// The screen's parts: parameters and items on top, the rule table, the detail panel.
fn regions(area: Rect) -> [Rect; 3] {
    Layout::vertical([
        Constraint::Length(10),
        Constraint::Min(5),
        Constraint::Length(5),
    ])
    .areas(area)
}

/// Column widths for a table `width` wide (one space between columns).
fn column_widths(width: u16) -> Vec<u16> {
    let fixed: u16 = METRIC_WIDTHS.iter().sum::<u16>() + METRIC_WIDTHS.len() as u16;
    let mut w = vec![width.saturating_sub(fixed).max(10)];
    w.extend(METRIC_WIDTHS);
    w
}

/// The metric whose column header is at (`x`, `y`) of a `screen`-sized terminal showing the
/// Rules screen, for sorting by a click.
pub fn header_at(screen: Rect, x: u16, y: u16) -> Option<SortBy> {
    let body = crate::ui::body_area(screen);
    let [_, table, _] = regions(body);
    // The table has a top border (its title), then the header row.
    if y != table.y + 1 {
        return None;
    }
    let mut left = table.x;
    for (i, w) in column_widths(table.width).into_iter().enumerate() {
        if x >= left && x < left + w {
            return i.checked_sub(1).map(|c| COLUMN_SORT[c]);
        }
        left += w + 1;
    }
    None
}

pub fn draw(f: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let [top, table, detail] = regions(area);
    let [params, items] =
        Layout::horizontal([Constraint::Length(40), Constraint::Min(20)]).areas(top);
    let view = &state.rules;
    draw_params(f, params, view, theme);
    draw_items(f, items, view, theme);
    draw_table(f, table, state, theme);
    draw_detail(f, detail, view, theme);
}

fn draw_params(f: &mut Frame, area: Rect, view: &RulesView, theme: Theme) {
    let p = &view.params;
    let line = |key: &str, name: &str, value: String| {
        Line::from(vec![
            Span::styled(format!("{key:<4}"), theme.accent()),
            Span::styled(format!("{name:<15}"), theme.dim()),
            Span::raw(value),
        ])
    };
    let lines = vec![
        line(
            "b",
            "baskets",
            if p.per_customer() {
                "per customer"
            } else {
                "per order"
            }
            .into(),
        ),
        line(
            "i",
            "items",
            if p.by_category() {
                "categories"
            } else {
                "products"
            }
            .into(),
        ),
        line("+/-", "min support", format!("{}", p.min_support)),
        line("[ ]", "min confidence", format!("{:.2}", p.min_confidence)),
        line("< >", "min lift", format!("{:.2}", p.min_lift)),
        line("m/M", "max items", p.max_len.to_string()),
        line(
            "a",
            "algorithm",
            match p.algorithm {
                Algorithm::FpGrowth => "FP-Growth",
                Algorithm::Apriori => "Apriori",
            }
            .into(),
        ),
        Line::from(Span::styled("r mines the order lines", theme.dim())),
    ];
    f.render_widget(
        Paragraph::new(lines).block(Block::default().title(" parameters ")),
        area,
    );
}

fn draw_items(f: &mut Frame, area: Rect, view: &RulesView, theme: Theme) {
    let Some(run) = &view.run else {
        f.render_widget(
            Paragraph::new(
                "no rules yet: press r to mine the order lines of this workspace or file",
            )
            .style(theme.dim())
            .wrap(Wrap { trim: true })
            .block(Block::default().borders(Borders::LEFT)),
            area,
        );
        return;
    };
    let mut top: Vec<(usize, u64)> = run.item_counts.iter().copied().enumerate().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(TOP_ITEMS);
    let n = run.baskets.len().max(1) as f64;
    let bars: Vec<Bar> = top
        .iter()
        .map(|&(i, c)| {
            let name = &run.baskets.items[i];
            Bar::default()
                .value(c)
                .text_value(format!("{:.0}%", 100.0 * c as f64 / n))
                .label(Line::from(crate::ui::wrap::cut(name, 18)))
                .style(theme.bar())
        })
        .collect();
    f.render_widget(
        BarChart::default()
            .direction(ratatui::layout::Direction::Horizontal)
            .block(Block::default().borders(Borders::LEFT).title(format!(
                " most frequent items (share of {} baskets) ",
                run.baskets.len()
            )))
            .data(BarGroup::default().bars(&bars))
            .bar_width(1)
            .bar_gap(0),
        area,
    );
}

fn draw_table(f: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let view = &state.rules;
    let Some(run) = &view.run else {
        return;
    };
    let names = &run.baskets.items;
    let side = |ids: &[u32]| crate::analytics::rules::side_text(ids, names, ", ");
    let height = area.height.saturating_sub(3) as usize;
    let first = view.row.saturating_sub(height.saturating_sub(1));
    let rule_width = column_widths(area.width).first().copied().unwrap_or(20) as usize;
    let rows = view
        .visible
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(at, &i)| {
            let r = &run.rules[i];
            let row = Row::new(
                vec![crate::ui::wrap::cut(
                    &format!("{} → {}", side(&r.antecedents), side(&r.consequents)),
                    rule_width,
                )]
                .into_iter()
                .chain(crate::screens::rules::metric_cells(r))
                .chain([r.count.to_string()])
                .collect::<Vec<_>>(),
            );
            if at == view.row {
                row.style(theme.selected())
            } else {
                row
            }
        });
    let labels = [
        "support", "confid.", "lift", "leverage", "convict.", "zhang", "baskets",
    ];
    let heads: Vec<(&str, Option<SortBy>)> = std::iter::once(("rule", None))
        .chain(labels.iter().zip(COLUMN_SORT).map(|(l, s)| (*l, Some(s))))
        .collect();
    let header = Row::new(heads.iter().map(|(h, by)| {
        if *by == Some(view.params.sort) {
            format!("{h} ▼")
        } else {
            h.to_string()
        }
    }))
    .style(theme.header());
    let title = match &view.params.filter {
        Some(flt) => format!(
            " {} of {} rules match \"{flt}\" · sorted by {} ",
            view.visible.len(),
            run.rules.len(),
            view.params.sort.name()
        ),
        None => format!(
            " {} rules from {} frequent itemsets · sorted by {} ",
            run.rules.len(),
            run.itemsets.len(),
            view.params.sort.name()
        ),
    };
    f.render_widget(
        Table::new(
            rows,
            column_widths(area.width)
                .into_iter()
                .map(Constraint::Length)
                .collect::<Vec<_>>(),
        )
        .column_spacing(1)
        .header(header)
        .block(Block::default().borders(Borders::TOP).title(title)),
        area,
    );
}

fn draw_detail(f: &mut Frame, area: Rect, view: &RulesView, theme: Theme) {
    let Some(run) = &view.run else {
        return;
    };
    let Some(r) = view.selected() else {
        f.render_widget(
            Paragraph::new("no rule matches; / changes the filter, r mines again")
                .style(theme.dim())
                .block(Block::default().borders(Borders::TOP)),
            area,
        );
        return;
    };
    let mut lines = vec![Line::from(describe(r, &run.baskets.items))];
    match &view.drill {
        Some(d) => {
            let keys: Vec<&str> = d
                .baskets
                .iter()
                .take(12)
                .map(|&t| run.baskets.keys.get(t).map_or("?", |k| k.as_str()))
                .collect();
            lines.push(Line::from(Span::styled(
                format!(
                    "{} baskets have both sides, of {} with the antecedent: {}{}",
                    d.baskets.len(),
                    d.with_antecedent,
                    keys.join(", "),
                    if d.baskets.len() > keys.len() {
                        ", ..."
                    } else {
                        ""
                    }
                ),
                theme.accent(),
            )));
        }
        None => lines.push(Line::from(Span::styled(
            "Enter lists the baskets behind this rule",
            theme.dim(),
        ))),
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .style(Style::default())
            .block(
                Block::default()
                    .borders(Borders::TOP)
                    .title(" selected rule "),
            ),
        area,
    );
}
