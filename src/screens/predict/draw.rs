//! The Predict screen: target, model and parameters; the test metrics beside cross-validation
//! and the majority-class baseline; the confusion matrix at the current threshold; the ROC
//! curve; and a lower pane with feature importance (bar chart), the at-risk customers, the
//! decision tree, the grid search, or the customers of a confusion-matrix cell.

use polars::prelude::DataFrame;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Cell, Chart, Dataset, GraphType, Paragraph, Row, Table, Wrap,
};

use crate::analytics::predict::{ModelKind, Task};
use crate::app::State;
use crate::app::job::JobKind;
use crate::pipeline::predict::Prediction;
use crate::screens::predict::{Pane, PredictView};
use crate::ui::theme::Theme;

pub fn draw(f: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let [top, bottom] = Layout::vertical([Constraint::Length(12), Constraint::Min(4)]).areas(area);
    let [params, metrics, confusion] = Layout::horizontal([
        Constraint::Length(22),
        Constraint::Length(34),
        Constraint::Min(24),
    ])
    .areas(top);
    draw_params(f, params, &state.predict, theme);
    let [curve, pane] =
        Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(bottom);
    let view = &state.predict;
    if let Some(v) = &view.values {
        super::draw_values::draw(f, [metrics, confusion, curve, pane], state, v, theme);
        return;
    }
    let Some(p) = &view.result else {
        let msg = if state.job(JobKind::Predict).is_some() {
            "running...".to_string()
        } else {
            match &view.settings.target {
                Some(t) if view.task() == Task::Regression => format!(
                    "no model yet: press r to fit a {} for the value `{t}` on the Features \
                     selection (a 75/25 split stratified on its deciles for MAE, RMSE and R², \
                     {}-fold cross-validation, the training mean as the baseline), w to compare \
                     linear, tree, forest and gbdt, or W for a grid search",
                    crate::analytics::regress::describe(&view.settings.params()),
                    view.settings.folds
                ),
                Some(t) => format!(
                    "no model yet: press r to train a {} for `{t}` on the Features selection \
                     (a stratified 75/25 split for the test metrics, {}-fold cross-validation), \
                     w to compare every model, or W for a grid search",
                    view.settings.model.title(),
                    view.settings.folds
                ),
                None => view.no_target(),
            }
        };
        f.render_widget(
            Paragraph::new(msg)
                .style(theme.dim())
                .wrap(Wrap { trim: true }),
            Rect {
                width: metrics.width + confusion.width,
                ..metrics
            },
        );
        if view.grid.is_some() || view.comparison.is_some() {
            draw_pane(f, bottom, state, theme);
        }
        return;
    };
    draw_metrics(f, metrics, p, theme);
    draw_confusion(f, confusion, view, p, theme);
    if view.show_pr {
        draw_pr(f, curve, p, theme);
    } else {
        draw_curve(f, curve, p, theme);
    }
    draw_pane(f, pane, state, theme);
}

fn draw_params(f: &mut Frame, area: Rect, view: &PredictView, theme: Theme) {
    let mut lines = Vec::new();
    // Rows for fields (the title and the hint line take two): more fields than rows scroll
    // so the selected one stays in sight.
    let fields = view.fields();
    let rows = (area.height as usize).saturating_sub(2).max(1);
    let first = (view.field + 1).saturating_sub(rows);
    for (i, field) in fields.iter().enumerate().skip(first).take(rows) {
        let style = if i == view.field {
            theme.selected()
        } else if field.is_choice() {
            theme.accent()
        } else {
            Style::default()
        };
        let value = if field.is_choice() {
            format!("‹{}›", view.display(*field))
        } else {
            format!(" {} ", view.display(*field))
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{:<11}", field.name()), theme.dim()),
            Span::styled(value, style),
        ]));
    }
    lines.push(Line::from(Span::styled(
        "r run, w cmp, W grid",
        theme.dim(),
    )));
    f.render_widget(
        Paragraph::new(lines).block(Block::default().title(" model ").borders(Borders::RIGHT)),
        area,
    );
}

fn pct(v: f64) -> String {
    format!("{:.1}%", 100.0 * v)
}

fn draw_metrics(f: &mut Frame, area: Rect, p: &Prediction, theme: Theme) {
    let r = &p.run;
    let t = &r.test;
    let cv = |k: &str| {
        r.cv.get(k)
            .map_or("-".to_string(), |m| format!("{:.3} ± {:.3}", m.mean, m.std))
    };
    let f3 = |v: f64| format!("{v:.3}");
    let rows = vec![
        ("accuracy", f3(t.accuracy), cv("accuracy")),
        (
            "balanced acc",
            f3(t.balanced_accuracy),
            cv("balanced_accuracy"),
        ),
        ("precision", f3(t.precision), cv("precision")),
        ("recall", f3(t.recall), cv("recall")),
        ("F1", f3(t.f1), cv("f1")),
        ("ROC-AUC", t.roc_auc.map_or("-".into(), f3), cv("roc_auc")),
        ("log loss", f3(t.log_loss), cv("log_loss")),
        (
            "avg prec.",
            r.curves
                .as_ref()
                .map_or("-".into(), |c| f3(c.average_precision)),
            String::new(),
        ),
    ];
    let mut table_rows: Vec<Row> = rows
        .into_iter()
        .map(|(k, a, b)| Row::new(vec![Cell::from(k), Cell::from(a), Cell::from(b)]))
        .collect();
    let majority = p.classes[majority_class(r)].clone();
    table_rows.push(
        Row::new(vec![
            Cell::from("baseline"),
            Cell::from(f3(r.baseline_accuracy)),
            Cell::from(format!("always \"{majority}\"")),
        ])
        .style(theme.warn()),
    );
    let n: usize = r.class_counts.iter().sum();
    let balance: Vec<String> = p
        .classes
        .iter()
        .zip(&r.class_counts)
        .map(|(c, k)| format!("{c} {}", pct(*k as f64 / n.max(1) as f64)))
        .collect();
    let title = format!(" {} · {} ", p.target, balance.join(" / "));
    let note = if p.classes.len() == 2 && p.params.threshold != r.threshold {
        format!(
            " cv at {:.2}; r reruns at {:.2} ",
            p.params.threshold, r.threshold
        )
    } else {
        format!(
            " {} test rows, {}-fold cv ",
            r.test_rows.len(),
            p.params.folds
        )
    };
    f.render_widget(
        Table::new(
            table_rows,
            [
                Constraint::Length(12),
                Constraint::Length(5),
                Constraint::Min(13),
            ],
        )
        .header(Row::new(vec!["metric", "test", "cv mean ± std"]).style(theme.header()))
        .block(
            Block::default()
                .title(title)
                .title_bottom(Line::from(Span::styled(note, theme.dim())))
                .borders(Borders::RIGHT),
        ),
        area,
    );
}

/// The most frequent class among all rows (the baseline predicts the training majority, which
/// a stratified split keeps the same).
fn majority_class(r: &crate::analytics::predict::PredictRun) -> usize {
    let mut best = 0;
    for (c, n) in r.class_counts.iter().enumerate() {
        if *n > r.class_counts[best] {
            best = c;
        }
    }
    best
}

/// Names for the cells of a two-class confusion matrix.
fn cell_name(p: &Prediction, actual: usize, predicted: usize) -> String {
    if p.classes.len() != 2 {
        return String::new();
    }
    match (actual, predicted) {
        (1, 1) => "true positives".into(),
        (0, 0) => "true negatives".into(),
        (0, 1) => "false alarms".into(),
        _ => "missed".into(),
    }
}

fn draw_confusion(f: &mut Frame, area: Rect, view: &PredictView, p: &Prediction, theme: Theme) {
    let cm = &p.run.test.confusion_matrix;
    let k = p.classes.len();
    let shown = k.min(6);
    let mut header = vec![Cell::from("act\\pred")];
    header.extend(p.classes.iter().take(shown).map(|c| Cell::from(c.clone())));
    let label_w = p
        .classes
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(1)
        .clamp(8, 14) as u16;
    // Counts with the row share when there is room, counts alone otherwise; columns as wide
    // as the largest count needs.
    let digits = cm.iter().flatten().max().map_or(1, |m| m.to_string().len()) as u16;
    let class_w = p
        .classes
        .iter()
        .take(shown)
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(1) as u16;
    let roomy = area.width >= label_w + (digits + 8) * shown as u16;
    let cell_w = if roomy { digits + 7 } else { digits + 1 }.max(class_w + 1);
    let rows: Vec<Row> = (0..shown)
        .map(|a| {
            let total: u64 = cm[a].iter().sum();
            let mut cells = vec![Cell::from(p.classes[a].clone())];
            for (c, n) in cm[a].iter().enumerate().take(shown) {
                let share = *n as f64 / total.max(1) as f64;
                let style = if (a, c) == view.cell {
                    theme.selected()
                } else if a == c {
                    theme.accent()
                } else {
                    Style::default()
                };
                let text = if roomy {
                    format!("{n} ({:.0}%)", 100.0 * share)
                } else {
                    n.to_string()
                };
                cells.push(Cell::from(text).style(style));
            }
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![Constraint::Length(label_w)];
    widths.extend(std::iter::repeat_n(Constraint::Length(cell_w), shown));
    let (a, c) = view.cell;
    let n = cm.get(a).and_then(|r| r.get(c)).copied().unwrap_or(0);
    let selected = format!(
        " actual {} → predicted {}: {n} {} · d lists them ",
        p.classes.get(a).map_or("?", |s| s.as_str()),
        p.classes.get(c).map_or("?", |s| s.as_str()),
        cell_name(p, a, c)
    );
    let title = if k == 2 {
        format!(" confusion, test rows, threshold {:.2} ", p.run.threshold)
    } else {
        " confusion, test rows, most probable class ".to_string()
    };
    let block = Block::default()
        .title(title)
        .title_bottom(Line::from(Span::styled(selected, theme.dim())));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [matrix, words] =
        Layout::vertical([Constraint::Length(shown as u16 + 2), Constraint::Min(0)]).areas(inner);
    f.render_widget(
        Table::new(rows, widths).header(Row::new(header).style(theme.header())),
        matrix,
    );
    if k == 2 {
        let (tp, fn_, fp) = (cm[1][1], cm[1][0], cm[0][1]);
        let pos = &p.classes[1];
        let lines = vec![
            Line::from(format!(
                "recall {:.3}: of {} actual {pos}, {tp} caught",
                p.run.test.recall,
                tp + fn_
            )),
            Line::from(format!(
                "precision {:.3}: of {} called {pos}, {tp} right",
                p.run.test.precision,
                tp + fp
            )),
            Line::from(Span::styled(
                "threshold +/- moves these at once; h/l picks a cell",
                theme.dim(),
            )),
        ];
        f.render_widget(Paragraph::new(lines), words);
    }
}

fn draw_curve(f: &mut Frame, area: Rect, p: &Prediction, theme: Theme) {
    let Some(c) = &p.run.curves else {
        f.render_widget(
            Paragraph::new("ROC curve: for two-class targets")
                .style(theme.dim())
                .block(Block::default().borders(Borders::TOP)),
            area,
        );
        return;
    };
    let points: Vec<(f64, f64)> = c.roc.iter().map(|q| (q.fpr, q.tpr)).collect();
    let diagonal = [(0.0, 0.0), (1.0, 1.0)];
    // The operating point: the last curve point whose threshold is still >= the threshold.
    let here: Vec<(f64, f64)> = c
        .roc
        .iter()
        .rev()
        .find(|q| q.threshold >= p.run.threshold)
        .map(|q| vec![(q.fpr, q.tpr)])
        .unwrap_or_default();
    let chance = Dataset::default()
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(theme.dim())
        .data(&diagonal);
    let roc = Dataset::default()
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(theme.accent())
        .data(&points);
    let point = Dataset::default()
        .name(format!("threshold {:.2}", p.run.threshold))
        .marker(Marker::Block)
        .graph_type(GraphType::Scatter)
        .style(theme.warn())
        .data(&here);
    let auc = p
        .run
        .test
        .roc_auc
        .map_or("n/a".to_string(), |a| format!("{a:.3}"));
    f.render_widget(
        Chart::new(vec![chance, roc, point])
            .block(
                Block::default()
                    .borders(Borders::TOP)
                    .title(format!(" ROC · AUC {auc} (test rows) · c: PR ")),
            )
            .x_axis(Axis::default().bounds([0.0, 1.0]).labels(["0", "FPR", "1"]))
            .y_axis(Axis::default().bounds([0.0, 1.0]).labels(["0", "TPR", "1"])),
        area,
    );
}

/// The precision-recall curve with the positive share as the no-skill level and the
/// operating point at the threshold.
fn draw_pr(f: &mut Frame, area: Rect, p: &Prediction, theme: Theme) {
    let Some(c) = &p.run.curves else {
        f.render_widget(
            Paragraph::new("precision-recall curve: for two-class targets")
                .style(theme.dim())
                .block(Block::default().borders(Borders::TOP)),
            area,
        );
        return;
    };
    let points: Vec<(f64, f64)> = c.pr.iter().map(|q| (q.recall, q.precision)).collect();
    let n: usize = p.run.class_counts.iter().sum();
    let base = p.run.class_counts[1] as f64 / n.max(1) as f64;
    let level = [(0.0, base), (1.0, base)];
    let here: Vec<(f64, f64)> =
        c.pr.iter()
            .rev()
            .find(|q| q.threshold >= p.run.threshold)
            .map(|q| vec![(q.recall, q.precision)])
            .unwrap_or_default();
    let datasets = vec![
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.dim())
            .data(&level),
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.accent())
            .data(&points),
        Dataset::default()
            .marker(Marker::Block)
            .graph_type(GraphType::Scatter)
            .style(theme.warn())
            .data(&here),
    ];
    f.render_widget(
        Chart::new(datasets)
            .block(Block::default().borders(Borders::TOP).title(format!(
                " precision-recall · AP {:.3} · c: ROC ",
                c.average_precision
            )))
            .x_axis(
                Axis::default()
                    .bounds([0.0, 1.0])
                    .labels(["0", "recall", "1"]),
            )
            .y_axis(
                Axis::default()
                    .bounds([0.0, 1.0])
                    .labels(["0", "prec", "1"]),
            ),
        area,
    );
}

/// A bar of `v` out of `max` in `width` cells, with eighth blocks for the remainder.
pub fn bar(v: f64, max: f64, width: usize) -> String {
    if max.is_nan() || v.is_nan() || max <= 0.0 || v <= 0.0 {
        return String::new();
    }
    let eighths = ((v / max).min(1.0) * width as f64 * 8.0).round() as usize;
    let mut s = "█".repeat(eighths / 8);
    const PART: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    s.push_str(PART[eighths % 8]);
    s
}

pub(super) fn block(title: String) -> Block<'static> {
    Block::default()
        .borders(Borders::TOP | Borders::LEFT)
        .title(title)
}

pub(super) fn draw_pane(f: &mut Frame, area: Rect, state: &State, theme: Theme) {
    let view = &state.predict;
    let Some(table) = state.table.as_deref() else {
        return;
    };
    if let (Some(d), Some(p)) = (&view.drill, &view.result) {
        let title = format!(
            " actual {} → predicted {}: {} customers ({}), likeliest {} first · d/Esc closes ",
            p.classes[d.actual],
            p.classes[d.predicted],
            d.rows.len(),
            cell_name(p, d.actual, d.predicted),
            p.classes[p.positive()]
        );
        draw_customers(f, area, table, view, p, &d.rows, title, theme);
        return;
    }
    let task = view.task();
    let tabs: Vec<Span> = Pane::cycle(task)
        .iter()
        .map(|pane| {
            let style = if *pane == view.pane {
                theme.selected()
            } else {
                theme.dim()
            };
            Span::styled(format!(" {} ", pane.title(task)), style)
        })
        .collect();
    let [bar_area, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)])
        .areas(Rect { x: area.x, ..area });
    let mut tabs = tabs;
    tabs.insert(0, Span::styled(" v: ", theme.dim()));
    f.render_widget(Paragraph::new(Line::from(tabs)), bar_area);
    let result = view.result.as_deref();
    match (view.pane, result) {
        (Pane::Grid, _) => draw_grid(f, body, view, theme),
        (Pane::Compare, _) => draw_compare(f, body, view, theme),
        (_, None) => {
            if let Some(v) = &view.values {
                super::draw_values::draw_pane(f, body, table, view, v, theme);
            }
        }
        (Pane::Importance, Some(p)) => {
            let own = match p.params.model {
                ModelKind::Logistic | ModelKind::Svm => "|coefficient|",
                ModelKind::Gbdt => "split gain",
                ModelKind::Mlp => "mean |first-layer weight|",
                _ => "impurity decrease",
            };
            let metric = if p.run.permutation_metric == "roc_auc" {
                "ROC-AUC"
            } else {
                "accuracy"
            };
            draw_importance(
                f,
                body,
                &p.run.feature_importance,
                &p.run.permutation_importance,
                own,
                metric,
                theme,
            );
        }
        (Pane::AtRisk, Some(p)) => {
            let title = format!(
                " at risk: not (yet) {} = {}, likeliest first ({} listed) ",
                p.target,
                p.classes[p.positive()],
                p.at_risk.len()
            );
            draw_customers(f, body, table, view, p, &p.at_risk, title, theme);
        }
        (Pane::Tree, Some(p)) => {
            let text = match &p.tree_text {
                Some(t) => t.clone(),
                None => format!(
                    "the tree view is for a decision tree; this is a {} (choose model: decision tree, r)",
                    p.params.model.title()
                ),
            };
            let lines: Vec<Line> = text
                .lines()
                .skip(view.scroll)
                .map(|l| Line::from(l.to_string()))
                .collect();
            let title = match &p.run.tree {
                Some(t) => format!(
                    " decision tree, depth {}: split (n rows: per class) · PgDn/PgUp scroll ",
                    t.depth()
                ),
                None => " tree ".to_string(),
            };
            f.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: false })
                    .block(block(title)),
                body,
            );
        }
    }
}

/// The model's own importance as bars beside the permutation importance (`metric` its
/// drop).
pub(super) fn draw_importance(
    f: &mut Frame,
    area: Rect,
    importance: &[(String, f64)],
    permutation: &[crate::analytics::predict::Permutation],
    own: &str,
    metric: &str,
    theme: Theme,
) {
    let max = importance.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let name_w = importance
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(8)
        .clamp(8, 22);
    let bar_w = (area.width as usize)
        .saturating_sub(name_w + 6 + 16 + 5)
        .max(4);
    let rows: Vec<Row> = importance
        .iter()
        .map(|(name, v)| {
            let perm = permutation
                .iter()
                .find(|q| &q.feature == name)
                .map_or(String::new(), |q| format!("{:+.3} ± {:.3}", q.mean, q.std));
            Row::new(vec![
                Cell::from(name.clone()),
                Cell::from(bar(*v, max, bar_w)).style(theme.bar()),
                Cell::from(format!("{v:.3}")),
                Cell::from(perm),
            ])
        })
        .collect();
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(name_w as u16),
                Constraint::Length(bar_w as u16),
                Constraint::Length(6),
                Constraint::Length(16),
            ],
        )
        .header(
            Row::new(vec![
                "feature".to_string(),
                own.to_string(),
                String::new(),
                format!("perm. Δ{metric}"),
            ])
            .style(theme.header()),
        )
        .block(block(format!(
            " importance: model's {own} · permutation: Δ test {metric} "
        ))),
        area,
    );
}

fn draw_grid(f: &mut Frame, area: Rect, view: &PredictView, theme: Theme) {
    let Some(g) = &view.grid else {
        f.render_widget(
            Paragraph::new("no grid search yet: W cross-validates depth x min leaf (trees, forest, gbdt) or alpha (logistic, svm, linear)")
                .style(theme.dim())
                .wrap(Wrap { trim: true })
                .block(block(" grid search ".into())),
            area,
        );
        return;
    };
    let cv = |r: &crate::analytics::predict::GridRow, k: &str| r.cv.get(k).map_or("-".into(), pm);
    let (keys, heads) = metric_columns(g.metric);
    let rows: Vec<Row> = g
        .rows
        .iter()
        .enumerate()
        .skip(view.scroll.min(g.rows.len().saturating_sub(1)))
        .map(|(i, r)| {
            let setting = match r.alpha {
                Some(a) => format!("alpha {a}"),
                None => format!(
                    "depth {:>2} · min leaf {:>3}",
                    r.max_depth.unwrap_or(0),
                    r.min_leaf.unwrap_or(0)
                ),
            };
            let mut cells = vec![
                Cell::from(if i == g.best { "★" } else { " " }),
                Cell::from(setting),
            ];
            cells.extend(keys.iter().map(|k| Cell::from(cv(r, k))));
            let row = Row::new(cells);
            if i == g.best {
                row.style(theme.accent())
            } else {
                row
            }
        })
        .collect();
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(1),
                Constraint::Length(24),
                Constraint::Length(14),
                Constraint::Length(14),
                Constraint::Length(14),
            ],
        )
        .header(Row::new([&["", "setting"][..], &heads[..]].concat()).style(theme.header()))
        .block(block(format!(
            " grid search, {}: cv mean ± std, best by {} (★; a applies it) ",
            g.model.title(),
            g.metric
        ))),
        area,
    );
}

/// A mean ± std in at most 15 characters: 3 decimals below 100, 1 below 10,000, else none.
fn pm(m: &crate::analytics::predict::MeanStd) -> String {
    let a = m.mean.abs().max(m.std.abs());
    if a >= 10_000.0 {
        format!("{:.0} ± {:.0}", m.mean, m.std)
    } else if a >= 100.0 {
        format!("{:.1} ± {:.1}", m.mean, m.std)
    } else {
        format!("{:.3} ± {:.3}", m.mean, m.std)
    }
}

/// The cross-validated metrics a table shows for a best-by `metric` (the task's): their keys
/// and headings.
fn metric_columns(metric: &str) -> ([&'static str; 3], [&'static str; 3]) {
    if metric == "rmse" {
        (["rmse", "mae", "r2"], ["RMSE", "MAE", "R²"])
    } else {
        (["roc_auc", "accuracy", "f1"], ["ROC-AUC", "accuracy", "F1"])
    }
}

/// Every model of the task cross-validated on the same folds (`w`), the best starred.
fn draw_compare(f: &mut Frame, area: Rect, view: &PredictView, theme: Theme) {
    let Some(c) = &view.comparison else {
        f.render_widget(
            Paragraph::new(
                "no comparison yet: w cross-validates every model of the task on the same folds, each with the parameters it has here",
            )
            .style(theme.dim())
            .wrap(Wrap { trim: true })
            .block(block(" models compared ".into())),
            area,
        );
        return;
    };
    let (keys, heads) = metric_columns(c.metric);
    let cv =
        |r: &crate::analytics::predict::CompareRow, k: &str| r.cv.get(k).map_or("-".into(), pm);
    let rows: Vec<Row> = c
        .rows
        .iter()
        .enumerate()
        .skip(view.scroll.min(c.rows.len().saturating_sub(1)))
        .map(|(i, r)| {
            let mut cells = vec![
                Cell::from(if i == c.best { "★" } else { " " }),
                Cell::from(r.model.name()),
            ];
            cells.extend(keys.iter().map(|k| Cell::from(cv(r, k))));
            cells.push(Cell::from(format!("{:.2}s", r.fit_seconds)));
            cells.push(Cell::from(r.setting.clone()));
            let row = Row::new(cells);
            if i == c.best {
                row.style(theme.accent())
            } else {
                row
            }
        })
        .collect();
    let lower = if c.metric == "rmse" { ", lowest" } else { "" };
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(1),
                Constraint::Length(9),
                Constraint::Length(15),
                Constraint::Length(15),
                Constraint::Length(15),
                Constraint::Length(8),
                Constraint::Min(10),
            ],
        )
        .header(
            Row::new([&["", "model"][..], &heads[..], &["fit", "setting"][..]].concat())
                .style(theme.header()),
        )
        .block(block(format!(
            " models compared: {}-fold cv mean ± std on the same folds, best by {}{lower} (★) · fit: seconds per fold ",
            c.folds, c.metric
        ))),
        area,
    );
}

/// The features worth showing beside a customer: the most important that are columns of
/// the table (not one-hot parts).
fn shown_features<'a>(p: &'a Prediction, table: &DataFrame, n: usize) -> Vec<&'a str> {
    p.run
        .feature_importance
        .iter()
        .map(|(f, _)| f.as_str())
        .filter(|f| table.column(f).is_ok())
        .take(n)
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn draw_customers(
    f: &mut Frame,
    area: Rect,
    table: &DataFrame,
    view: &PredictView,
    p: &Prediction,
    rows: &[usize],
    title: String,
    theme: Theme,
) {
    let key = table
        .get_column_names()
        .first()
        .map(|s| s.to_string())
        .unwrap_or_default();
    let feats = shown_features(
        p,
        table,
        ((area.width as usize).saturating_sub(40) / 13).min(5),
    );
    let pos = p.positive();
    let height = area.height.saturating_sub(2) as usize;
    let start = view.scroll.min(rows.len().saturating_sub(1));
    let text = |col: &str, r: usize| {
        table
            .column(col)
            .ok()
            .and_then(|c| c.get(r).ok())
            .map(|v| crate::text::format_cell(&v))
            .unwrap_or_default()
    };
    let body: Vec<Row> = rows
        .iter()
        .enumerate()
        .skip(start)
        .take(height)
        .map(|(i, &r)| {
            let mut cells = vec![
                Cell::from(format!("{}", i + 1)),
                Cell::from(text(&key, r)),
                Cell::from(format!("{:.3}", p.run.probabilities[r][pos])),
                Cell::from(p.classes[p.y[r]].clone()),
            ];
            cells.extend(feats.iter().map(|c| Cell::from(text(c, r))));
            Row::new(cells)
        })
        .collect();
    let mut header = vec![
        "#".to_string(),
        key.clone(),
        format!("p({})", p.classes[pos]),
        "actual".to_string(),
    ];
    header.extend(feats.iter().map(|s| s.to_string()));
    let mut widths = vec![
        Constraint::Length(4),
        Constraint::Length(12),
        Constraint::Length(7),
        Constraint::Length(7),
    ];
    widths.extend(std::iter::repeat_n(Constraint::Length(12), feats.len()));
    f.render_widget(
        Table::new(body, widths)
            .header(Row::new(header).style(theme.header()))
            .block(block(title)),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_width() {
        assert_eq!(bar(1.0, 1.0, 4), "████");
        assert_eq!(bar(0.5, 1.0, 4), "██");
        assert_eq!(bar(0.0, 1.0, 4), "");
        assert_eq!(bar(1.0 / 16.0, 1.0, 2), "▏");
        assert_eq!(bar(f64::NAN, 1.0, 4), "");
    }
}
