//! The CLV screen: settings and the fitted BG/NBD and Gamma-Gamma parameters; the holdout
//! check (predicted vs actual purchases by calibration frequency); the distribution of CLV as
//! a histogram; the top customers by CLV; and mean CLV per segment when a segmentation ran.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Bar, BarChart, BarGroup, Block, Borders, Cell, Paragraph, Row, Table, Wrap,
};

use crate::app::State;
use crate::app::job::JobKind;
use crate::pipeline::clv::ClvOutcome;
use crate::screens::clv::CField;
use crate::ui::theme::Theme;

pub fn draw(f: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let [top, bottom] = Layout::vertical([Constraint::Length(12), Constraint::Min(4)]).areas(area);
    let [params, holdout] =
        Layout::horizontal([Constraint::Length(46), Constraint::Min(20)]).areas(top);
    draw_params(f, params, state, theme);
    let Some(r) = &state.clv.result else {
        let msg = if state.job(JobKind::Clv).is_some() {
            "fitting...".to_string()
        } else {
            "no model yet: press r to fit BG/NBD (purchases) and Gamma-Gamma (spend) on the orders \
             up to the calibration end, and score every customer's lifetime value. Purchases \
             after it are the holdout the fit is checked against."
                .to_string()
        };
        f.render_widget(
            Paragraph::new(msg)
                .style(theme.dim())
                .wrap(Wrap { trim: true }),
            holdout,
        );
        return;
    };
    draw_holdout(f, holdout, r, theme);
    let [hist, list] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(bottom);
    draw_histogram(f, hist, r, theme);
    match &state.clv.segments {
        Some(seg) if !seg.is_empty() => {
            let h = (seg.len() as u16 + 3).min(list.height / 2);
            let [top_list, seg_area] =
                Layout::vertical([Constraint::Min(4), Constraint::Length(h)]).areas(list);
            draw_top(f, top_list, state, r, theme);
            draw_segments(f, seg_area, seg, theme);
        }
        _ => draw_top(f, list, state, r, theme),
    }
}

fn draw_params(f: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let view = &state.clv;
    let mut lines: Vec<Line> = CField::ALL
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let style = if i == view.field {
                theme.selected()
            } else {
                Style::default()
            };
            Line::from(vec![
                Span::styled(format!("{:<17}", field.name()), theme.dim()),
                Span::styled(format!(" {} ", view.display(*field)), style),
            ])
        })
        .collect();
    if let Some(r) = &view.result {
        let (bg, gg) = (&r.run.bgnbd, &r.run.gamma_gamma);
        lines.push(Line::from(""));
        lines.push(Line::from(vec![
            Span::styled("BG/NBD ", theme.accent()),
            Span::raw(format!(
                "r {:.3} α {:.2} a {:.3} b {:.3}",
                bg.r, bg.alpha, bg.a, bg.b
            )),
        ]));
        lines.push(Line::from(vec![
            Span::styled("Gamma-Gamma ", theme.accent()),
            Span::raw(format!("p {:.3} q {:.3} v {:.2}", gg.p, gg.q, gg.v)),
        ]));
        let corr = r.run.frequency_monetary_correlation;
        let mut corr_line = vec![Span::raw(format!("frequency-spend corr. {corr:.2}"))];
        if corr.abs() > 0.3 {
            corr_line.push(Span::styled(" (model assumes 0)", theme.warn()));
        }
        lines.push(Line::from(corr_line));
        lines.push(Line::from(Span::styled(
            format!(
                "{} customers · {} later · {} dropped",
                r.ids.len(),
                r.excluded,
                r.dropped_lines
            ),
            theme.dim(),
        )));
    } else {
        lines.push(Line::from(Span::styled("r fit · e export", theme.dim())));
    }
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .title(" lifetime value ")
                .borders(Borders::RIGHT),
        ),
        area,
    );
}

fn draw_holdout(f: &mut Frame, area: Rect, r: &ClvOutcome, theme: Theme) {
    let Some(h) = &r.run.holdout else {
        f.render_widget(
            Paragraph::new(format!(
                "no holdout: the data ends at the calibration end ({}); move it earlier (-) to check the fit",
                r.calibration_end
            ))
            .style(theme.dim())
            .wrap(Wrap { trim: true }),
            area,
        );
        return;
    };
    let n = h.buckets.len().max(1) as u16;
    // Per group: two bars, a gap after each (none when narrow), one column between groups.
    let per = area.width.saturating_sub(1) / n;
    let gap = u16::from(per >= 9);
    let bar_w = (per.saturating_sub(1 + 2 * gap) / 2).clamp(1, 6);
    let group_w = 2 * bar_w + gap;
    let groups: Vec<BarGroup> = h
        .buckets
        .iter()
        .map(|b| {
            let label = if b.frequency == 7 {
                "7+".to_string()
            } else {
                b.frequency.to_string()
            };
            // With the customer count when it fits under the group (labels must not run
            // into each other).
            let full = format!("{label} ({})", b.customers);
            let label = if full.chars().count() as u16 <= group_w {
                full
            } else {
                label
            };
            BarGroup::default().label(Line::from(label)).bars(&[
                Bar::default()
                    .value((b.predicted_mean * 100.0).round() as u64)
                    .text_value(format!("{:.1}", b.predicted_mean))
                    .style(theme.bar()),
                Bar::default()
                    .value((b.actual_mean * 100.0).round() as u64)
                    .text_value(format!("{:.1}", b.actual_mean))
                    .style(theme.warn()),
            ])
        })
        .collect();
    let head = format!(
        " holdout {:.0} {}s: predicted {:.0}, actual {:.0} purchases",
        h.duration,
        r.settings.unit.singular(),
        h.predicted_total,
        h.actual_total
    );
    let title = crate::ui::wrap::fit(
        &[
            format!("{head}; per customer (predicted, actual) by purchases before "),
            format!("{head}; (predicted, actual) by purchases before "),
            format!("{head} "),
        ],
        area.width as usize,
    );
    let mut chart = BarChart::default()
        .block(Block::default().title(title))
        .bar_width(bar_w)
        .bar_gap(gap)
        .group_gap(1);
    for g in groups {
        chart = chart.data(g);
    }
    f.render_widget(chart, area);
}

/// A short money figure: 1234 -> "1.2k".
fn money(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn draw_histogram(f: &mut Frame, area: Rect, r: &ClvOutcome, theme: Theme) {
    let (width, counts) = (r.stats.bin_width, &r.stats.counts);
    let bins = counts.len();
    let bar_w = (area.width.saturating_sub(2) / bins.max(1) as u16)
        .saturating_sub(1)
        .clamp(1, 8);
    let bars: Vec<Bar> = counts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let label = if i + 1 == bins {
                format!("{}+", money(i as f64 * width))
            } else {
                money(i as f64 * width)
            };
            // Labels that would be cut are left out (the title gives the bin width).
            let label = if label.chars().count() as u16 <= bar_w {
                label
            } else {
                String::new()
            };
            Bar::default()
                .value(*c)
                .label(Line::from(label))
                .style(theme.bar())
        })
        .collect();
    f.render_widget(
        BarChart::default()
            .block(
                Block::default()
                    .borders(Borders::TOP)
                    .title(format!(
                        " CLV, {} months at {}/month, bins of {} ",
                        r.settings.horizon_months,
                        r.settings.discount_rate,
                        money(width)
                    ))
                    .title_bottom(format!(
                        " mean {} · median {} · total {} ",
                        money(r.stats.mean),
                        money(r.stats.median),
                        money(r.stats.total)
                    )),
            )
            .data(BarGroup::default().bars(&bars))
            .bar_width(bar_w)
            .bar_gap(1),
        area,
    );
}

fn draw_top(f: &mut Frame, area: Rect, state: &State, r: &ClvOutcome, theme: Theme) {
    let height = area.height.saturating_sub(2) as usize;
    let start = state.clv.scroll.min(r.order.len().saturating_sub(1));
    let rows: Vec<Row> = r
        .order
        .iter()
        .enumerate()
        .skip(start)
        .take(height)
        .map(|(rank, &i)| {
            let row = &r.run.rows[i];
            Row::new(vec![
                Cell::from(format!("{}", rank + 1)),
                Cell::from(r.ids[i].clone()),
                Cell::from(format!("{:.0}", row.clv)),
                Cell::from(format!("{:.2}", row.p_alive)),
                Cell::from(format!("{:.1}", row.expected_purchases)),
                Cell::from(format!("{:.0}", row.expected_spend)),
            ])
        })
        .collect();
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(3),
                Constraint::Length(10),
                Constraint::Length(6),
                Constraint::Length(7),
                Constraint::Length(6),
                Constraint::Length(6),
            ],
        )
        .header(
            Row::new(vec!["#", "customer", "CLV", "p alive", "buys", "spend"])
                .style(theme.header()),
        )
        .block(
            Block::default()
                .borders(Borders::TOP | Borders::LEFT)
                .title(" top customers by CLV · PgDn/PgUp "),
        ),
        area,
    );
}

fn draw_segments(f: &mut Frame, area: Rect, seg: &[(i64, usize, f64)], theme: Theme) {
    let rows: Vec<Row> = seg
        .iter()
        .map(|(l, n, m)| {
            Row::new(vec![
                Cell::from(if *l < 0 {
                    "noise".to_string()
                } else {
                    format!("c{l}")
                }),
                Cell::from(n.to_string()),
                Cell::from(format!("{m:.0}")),
            ])
        })
        .collect();
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(8),
                Constraint::Length(10),
                Constraint::Length(10),
            ],
        )
        .header(Row::new(vec!["segment", "customers", "mean CLV"]).style(theme.header()))
        .block(
            Block::default()
                .borders(Borders::TOP | Borders::LEFT)
                .title(" CLV by segment (Segments screen's last run) "),
        ),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_short() {
        assert_eq!(money(1234.0), "1.2k");
        assert_eq!(money(56789.0), "57k");
    }
}
