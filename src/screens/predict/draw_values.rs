//! The Predict screen on a value target (regression): the test metrics beside
//! cross-validation and the mean / median baseline, predicted against actual on the test rows
//! (a scatter with the diagonal), the residuals' histogram, and the lower pane (importance,
//! the customers predicted highest, the grid, the comparison).

use polars::prelude::DataFrame;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Cell, Chart, Dataset, GraphType, Paragraph, Row, Table,
};

use super::draw::{bar, block, draw_importance, draw_pane as draw_lower};
use super::{Pane, PredictView};
use crate::analytics::predict::ModelKind;
use crate::app::State;
use crate::pipeline::predict::ValuePrediction;
use crate::ui::theme::Theme;

/// Test rows drawn in the scatter at most (every k-th beyond that).
const SCATTER_POINTS: usize = 4000;

/// Draws a regression run into the classification layout's areas: metrics, the scatter
/// (where the confusion matrix goes), the residuals (where the ROC curve goes), the pane.
pub fn draw(f: &mut Frame, areas: [Rect; 4], state: &State, v: &ValuePrediction, theme: Theme) {
    let [metrics, scatter, residuals, pane] = areas;
    draw_metrics(f, metrics, v, theme);
    draw_scatter(f, scatter, v, theme);
    draw_residuals(f, residuals, v, theme);
    draw_lower(f, pane, state, theme);
}

fn draw_metrics(f: &mut Frame, area: Rect, v: &ValuePrediction, theme: Theme) {
    let r = &v.run;
    let t = &r.test;
    let cv = |k: &str| {
        r.cv.get(k).map_or("-".to_string(), |m| {
            format!("{} ± {}", num(m.mean), num(m.std))
        })
    };
    let mut rows = vec![
        Row::new(vec![
            Cell::from("MAE"),
            Cell::from(num(t.mae)),
            Cell::from(cv("mae")),
        ]),
        Row::new(vec![
            Cell::from("RMSE"),
            Cell::from(num(t.rmse)),
            Cell::from(cv("rmse")),
        ]),
        Row::new(vec![
            Cell::from("R²"),
            Cell::from(format!("{:.3}", t.r2)),
            Cell::from(cv("r2")),
        ]),
        Row::new(vec![
            Cell::from("base MAE"),
            Cell::from(num(r.baseline.mae)),
            Cell::from(format!("median {}", num(r.baseline.median))),
        ])
        .style(theme.warn()),
        Row::new(vec![
            Cell::from("base RMSE"),
            Cell::from(num(r.baseline.rmse)),
            Cell::from(format!("mean {}", num(r.baseline.mean))),
        ])
        .style(theme.warn()),
    ];
    if let Some(n) = &v.next {
        let l = &n.lifetime_test;
        let name = if n.lifetime_model == "bgnbd" {
            "BG/NBD"
        } else {
            "BG/NBD·GG"
        };
        rows.push(
            Row::new(vec![
                Cell::from(name),
                Cell::from(num(l.rmse)),
                Cell::from(format!("R² {:.3}", l.r2)),
            ])
            .style(theme.accent()),
        );
    }
    if let Some(s) = t.top_decile_share {
        rows.push(Row::new(vec![
            Cell::from("top 10%"),
            Cell::from(format!("{:.1}%", 100.0 * s)),
            Cell::from("of the total value"),
        ]));
    }
    if let Some(b) = &r.boosting {
        rows.push(Row::new(vec![
            Cell::from("rounds"),
            Cell::from(b.rounds.to_string()),
            Cell::from(format!(
                "of {}{}",
                b.max_rounds,
                if b.early_stopping { ", early stop" } else { "" }
            )),
        ]));
    }
    if let Some((b, _)) = &r.coefficients {
        rows.push(Row::new(vec![
            Cell::from("intercept"),
            Cell::from(num(*b)),
            Cell::from(""),
        ]));
    }
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(10),
                Constraint::Length(8),
                Constraint::Min(13),
            ],
        )
        .header(Row::new(vec!["metric", "test", "cv mean ± std"]).style(theme.header()))
        .block(
            Block::default()
                .title(match &v.next {
                    Some(n) => format!(" {} after {} ", v.target, n.calibration_end),
                    None => format!(" {} (values) ", v.target),
                })
                .title_bottom(Line::from(Span::styled(
                    match &v.next {
                        Some(n) => format!(" to {} ({} days) ", n.observation_end, n.days),
                        None => format!(
                            " {} test rows, {}-fold cv ",
                            r.test_rows.len(),
                            v.params.folds
                        ),
                    },
                    theme.dim(),
                )))
                .borders(Borders::RIGHT),
        ),
        area,
    );
}

/// A number in at most 8 characters: 3 decimals below 1000, fewer above, then k and M.
fn num(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        "-".into()
    } else if a >= 1e7 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e5 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// The value at quantile `q` of `v` (sorted copy; nearest rank).
fn quantile(v: &[f64], q: f64) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return 0.0;
    }
    s.sort_by(f64::total_cmp);
    let i = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1;
    s[i]
}

/// Predicted against actual on the test rows, with the diagonal (a perfect model); both axes
/// from the 1st to the 99th percentile of the two, points beyond drawn on the edge.
fn draw_scatter(f: &mut Frame, area: Rect, v: &ValuePrediction, theme: Theme) {
    let r = &v.run;
    let test = &r.test_rows;
    let both: Vec<f64> = test
        .iter()
        .flat_map(|&i| [v.y[i], r.predictions[i]])
        .collect();
    let (lo, mut hi) = (quantile(&both, 0.01), quantile(&both, 0.99));
    if hi <= lo {
        hi = lo + 1.0;
    }
    let step = test.len().div_ceil(SCATTER_POINTS).max(1);
    let points: Vec<(f64, f64)> = test
        .iter()
        .step_by(step)
        .map(|&i| (v.y[i].clamp(lo, hi), r.predictions[i].clamp(lo, hi)))
        .collect();
    let diagonal = [(lo, lo), (hi, hi)];
    let line = Dataset::default()
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(theme.dim())
        .data(&diagonal);
    let dots = Dataset::default()
        .marker(Marker::Braille)
        .graph_type(GraphType::Scatter)
        .style(theme.accent())
        .data(&points);
    let label = |x: f64| num(x);
    f.render_widget(
        Chart::new(vec![line, dots])
            .block(Block::default().title(format!(
                " predicted ↑ vs actual → · {} test rows{} · R² {:.3} ",
                test.len(),
                if step > 1 {
                    format!(" (every {step}th)")
                } else {
                    String::new()
                },
                r.test.r2
            )))
            .x_axis(Axis::default().bounds([lo, hi]).labels([
                label(lo),
                "actual".into(),
                label(hi),
            ]))
            .y_axis(Axis::default().bounds([lo, hi]).labels([
                label(lo),
                label((lo + hi) / 2.0),
                label(hi),
            ])),
        area,
    );
}

/// The bins of a histogram of `v` between its 1st and 99th percentiles: (lower edge, upper
/// edge, count), values beyond counted in the end bins.
pub fn histogram(v: &[f64], bins: usize) -> Vec<(f64, f64, usize)> {
    let bins = bins.max(1);
    let (lo, mut hi) = (quantile(v, 0.01), quantile(v, 0.99));
    if hi <= lo {
        hi = lo + 1.0;
    }
    let w = (hi - lo) / bins as f64;
    let mut counts = vec![0usize; bins];
    for &x in v.iter().filter(|x| x.is_finite()) {
        let b = (((x - lo) / w).floor().max(0.0) as usize).min(bins - 1);
        counts[b] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(b, n)| (lo + b as f64 * w, lo + (b + 1) as f64 * w, n))
        .collect()
}

/// The residuals (actual − predicted) of the test rows as a histogram.
fn draw_residuals(f: &mut Frame, area: Rect, v: &ValuePrediction, theme: Theme) {
    let r = &v.run;
    let res: Vec<f64> = r
        .test_rows
        .iter()
        .map(|&i| v.y[i] - r.predictions[i])
        .collect();
    let n_bins = (area.height as usize).saturating_sub(2).clamp(3, 15);
    let h = histogram(&res, n_bins);
    let max = h.iter().map(|b| b.2).max().unwrap_or(0) as f64;
    let bar_w = (area.width as usize).saturating_sub(26).max(4);
    let lines: Vec<Line> = h
        .iter()
        .map(|&(a, b, n)| {
            let zero = a <= 0.0 && 0.0 < b;
            Line::from(vec![
                Span::styled(
                    format!("{:>8} {:>8} ", num(a), num(b)),
                    if zero { theme.accent() } else { theme.dim() },
                ),
                Span::styled(bar(n as f64, max, bar_w), theme.bar()),
                Span::raw(format!(" {n}")),
            ])
        })
        .collect();
    let median = crate::analytics::regress::median(res.clone());
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::TOP).title(format!(
            " residuals (actual − predicted) · median {} ",
            num(median)
        ))),
        area,
    );
}

/// The lower pane's regression views: importance and the customers predicted highest (the
/// grid and the comparison are drawn by the common pane).
pub fn draw_pane(
    f: &mut Frame,
    area: Rect,
    table: &DataFrame,
    view: &PredictView,
    v: &ValuePrediction,
    theme: Theme,
) {
    match view.pane {
        Pane::AtRisk => draw_top(f, area, table, view, v, theme),
        _ => {
            let own = match v.params.model {
                ModelKind::Linear => "|coef| x spread",
                _ => "split gain",
            };
            draw_importance(
                f,
                area,
                &v.run.feature_importance,
                &v.run.permutation_importance,
                own,
                "R²",
                theme,
            );
        }
    }
}

/// The customers with the highest predicted value: predicted, actual, train or test, and
/// their most important features.
fn draw_top(
    f: &mut Frame,
    area: Rect,
    table: &DataFrame,
    view: &PredictView,
    v: &ValuePrediction,
    theme: Theme,
) {
    // A next-period run's rows are its own customers (ids kept with it), not the table's.
    let key = match &v.next {
        Some(n) => n.customer.clone(),
        None => table
            .get_column_names()
            .first()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    };
    let feats: Vec<&str> = if v.ids.is_some() {
        Vec::new()
    } else {
        v.run
            .feature_importance
            .iter()
            .map(|(f, _)| f.as_str())
            .filter(|f| table.column(f).is_ok())
            .take(((area.width as usize).saturating_sub(48) / 13).min(4))
            .collect()
    };
    let id = |r: usize| match &v.ids {
        Some(ids) => ids.get(r).cloned().unwrap_or_default(),
        None => text_of(table, &key, r),
    };
    let mut test = vec![false; v.y.len()];
    for &t in &v.run.test_rows {
        test[t] = true;
    }
    let text = |col: &str, r: usize| text_of(table, col, r);
    let height = area.height.saturating_sub(2) as usize;
    let start = view.scroll.min(v.top.len().saturating_sub(1));
    let body: Vec<Row> = v
        .top
        .iter()
        .enumerate()
        .skip(start)
        .take(height)
        .map(|(i, &r)| {
            let mut cells = vec![
                Cell::from(format!("{}", i + 1)),
                Cell::from(id(r)),
                Cell::from(num(v.run.predictions[r])),
                Cell::from(num(v.y[r])),
                Cell::from(if test[r] { "test" } else { "train" }),
            ];
            cells.extend(feats.iter().map(|c| Cell::from(text(c, r))));
            Row::new(cells)
        })
        .collect();
    let mut header = vec![
        "#".to_string(),
        key,
        "predicted".into(),
        "actual".into(),
        "set".into(),
    ];
    header.extend(feats.iter().map(|s| s.to_string()));
    let mut widths = vec![
        Constraint::Length(4),
        Constraint::Length(12),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(5),
    ];
    widths.extend(std::iter::repeat_n(Constraint::Length(12), feats.len()));
    f.render_widget(
        Table::new(body, widths)
            .header(Row::new(header).style(theme.header()))
            .block(block(format!(
                " highest predicted {}: {} listed · e exports them · PgDn/PgUp ",
                v.target,
                v.top.len()
            )))
            .style(Style::default()),
        area,
    );
}

/// Row `r` of column `col` of `table` as text (empty when there is none).
fn text_of(table: &DataFrame, col: &str, r: usize) -> String {
    table
        .column(col)
        .ok()
        .and_then(|c| c.get(r).ok())
        .map(|v| crate::text::format_cell(&v))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_bins_count_every_value_by_hand() {
        let v: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let h = histogram(&v, 4);
        // 1st percentile 0, 99th 98: width 24.5; 99 lands in the last bin.
        assert_eq!(h.len(), 4);
        assert_eq!(h.iter().map(|b| b.2).sum::<usize>(), 100);
        assert_eq!(h[0], (0.0, 24.5, 25));
        assert_eq!(h[3].2, 26);
        assert_eq!(num(1234.5), "1234");
        assert_eq!(num(0.12345), "0.123");
        assert_eq!(num(250_000.0), "250k");
    }
}
