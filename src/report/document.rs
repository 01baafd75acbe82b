//! The report's content as a list of sections made of plain blocks (paragraphs, tables,
//! charts), written once here and rendered by [`super::html`] and [`super::markdown`], so
//! both formats always carry the same sections, headings and numbers.

use super::svg::Bar;
use super::{Part, Report, SECTIONS};

/// A chart; the HTML draws it as SVG, the Markdown as a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Chart {
    /// Vertical bars (cluster sizes, a histogram). `label` names the bars' column.
    Bars {
        id: &'static str,
        title: String,
        label: String,
        axis: String,
        bars: Vec<Bar>,
    },
    /// Horizontal bars (feature importance).
    HBars {
        id: &'static str,
        title: String,
        label: String,
        axis: String,
        bars: Vec<Bar>,
    },
    /// A curve on the unit square (the ROC curve) with the diagonal.
    Curve {
        id: &'static str,
        title: String,
        x: String,
        y: String,
        points: Vec<(f64, f64)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Para(String),
    /// Why a section has no result.
    Skipped(String),
    Table {
        id: &'static str,
        caption: String,
        head: Vec<String>,
        /// Right-aligned columns.
        numeric: Vec<bool>,
        rows: Vec<Vec<String>>,
    },
    Chart(Chart),
}

pub struct Section {
    pub id: &'static str,
    pub heading: &'static str,
    pub blocks: Vec<Block>,
}

/// `v` with `d` decimals.
pub fn fixed(v: f64, d: usize) -> String {
    if v.is_nan() {
        return "n/a".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    let s = format!("{v:.d$}");
    if s.starts_with('-') && s.trim_start_matches(['-', '0', '.']).is_empty() {
        s[1..].to_string()
    } else {
        s
    }
}

fn pct(v: f64) -> String {
    format!("{}%", fixed(v * 100.0, 1))
}

fn table(
    id: &'static str,
    caption: &str,
    head: &[&str],
    numeric: &[bool],
    rows: Vec<Vec<String>>,
) -> Block {
    Block::Table {
        id,
        caption: caption.to_string(),
        head: head.iter().map(|s| s.to_string()).collect(),
        numeric: numeric.to_vec(),
        rows,
    }
}

/// The report's sections, in [`SECTIONS`] order.
pub fn sections(r: &Report) -> Vec<Section> {
    SECTIONS
        .iter()
        .map(|&(id, heading)| Section {
            id,
            heading,
            blocks: match id {
                "quality" => quality(r),
                "segments" => part(&r.segments, segments),
                "rules" => part(&r.rules, rules),
                "prediction" => part(&r.prediction, prediction),
                "clv" => part(&r.clv, clv),
                _ => parameters(r),
            },
        })
        .collect()
}

fn part<T>(p: &Part<T>, f: fn(&T) -> Vec<Block>) -> Vec<Block> {
    match p {
        Part::Done(t) => f(t),
        Part::Skipped(why) => vec![Block::Skipped(why.clone())],
    }
}

fn quality(r: &Report) -> Vec<Block> {
    let q = &r.quality;
    let orders = if q.sources.iter().any(|s| s.role == "orders") {
        format!("; {} customers have no orders", q.customers_without_orders)
    } else {
        String::new()
    };
    let mut out = vec![Block::Para(format!(
        "The customer-360 table has {} customers and {} columns (reference date {}, {}){orders}.",
        q.customers_out, q.columns_out, q.reference_date, q.reference_date_source,
    ))];
    out.push(table(
        "quality-sources",
        "Sources as read",
        &["Role", "File", "Format", "Rows", "Columns"],
        &[false, false, false, true, true],
        q.sources
            .iter()
            .map(|s| {
                vec![
                    s.role.clone(),
                    s.path.clone(),
                    s.format.clone(),
                    s.rows.to_string(),
                    s.columns.to_string(),
                ]
            })
            .collect(),
    ));
    out.push(table(
        "quality-steps",
        "Rows in and out of each cleaning step",
        &["Source", "Step", "Rows in", "Rows out", "Removed", "Detail"],
        &[false, false, true, true, true, false],
        q.steps
            .iter()
            .map(|s| {
                vec![
                    s.source.clone(),
                    s.step.clone(),
                    s.rows_in.to_string(),
                    s.rows_out.to_string(),
                    s.rows_in.saturating_sub(s.rows_out).to_string(),
                    s.detail.clone(),
                ]
            })
            .collect(),
    ));
    let d = &q.duplicates;
    out.push(table(
        "quality-duplicates",
        "Duplicates removed",
        &["Kind", "Rows"],
        &[false, true],
        [
            ("customers, exact copies", d.customers_exact),
            ("customers, same key", d.customers_same_key),
            ("customers, merged by fuzzy key", d.customers_fuzzy_key),
            (
                if d.order_lines_kept {
                    "order lines (possible: identical lines kept as purchases, no order id)"
                } else {
                    "order lines"
                },
                d.order_lines,
            ),
            ("tickets", d.tickets),
            ("web sessions", d.sessions),
        ]
        .iter()
        .map(|(k, n)| vec![k.to_string(), n.to_string()])
        .collect(),
    ));
    if q.invalid.is_empty() {
        out.push(Block::Para("No invalid values were found.".into()));
    } else {
        out.push(table(
            "quality-invalid",
            "Invalid values",
            &["Source", "Column", "Rule", "Count", "Action"],
            &[false, false, false, true, false],
            q.invalid
                .iter()
                .map(|i| {
                    vec![
                        i.source.clone(),
                        i.column.clone(),
                        i.rule.clone(),
                        i.count.to_string(),
                        i.action.clone(),
                    ]
                })
                .collect(),
        ));
    }
    if q.missing.is_empty() {
        out.push(Block::Para(
            "No column of the customer-360 table has missing values.".into(),
        ));
    } else {
        out.push(table(
            "quality-missing",
            "Missing values before and after the fill policy",
            &["Column", "Before", "After", "Policy", "Filled with"],
            &[false, true, true, false, false],
            q.missing
                .iter()
                .map(|m| {
                    vec![
                        m.column.clone(),
                        m.before.to_string(),
                        m.after.to_string(),
                        m.policy.clone(),
                        m.fill_value.clone().unwrap_or_default(),
                    ]
                })
                .collect(),
        ));
    }
    out
}

fn segments(s: &super::Segments) -> Vec<Block> {
    let mut out = vec![Block::Para(format!(
        "{} on {} customers and {} features ({}). {}.",
        s.describe,
        s.n_rows,
        s.features.len(),
        s.features.join(", "),
        s.summary
    ))];
    if s.noise > 0 {
        out.push(Block::Para(format!(
            "{} customers are noise (in no cluster) and are not drawn.",
            s.noise
        )));
    }
    out.push(Block::Chart(Chart::Bars {
        id: "chart-sizes",
        title: "Customers per cluster".into(),
        label: "Cluster".into(),
        axis: "customers".into(),
        bars: s
            .sizes
            .iter()
            .enumerate()
            .map(|(c, &n)| Bar::new(format!("cluster {c}"), n as f64, n.to_string()))
            .collect(),
    }));
    out.push(table(
        "segment-sizes",
        "Cluster sizes",
        &["Cluster", "Customers", "Share", "Profile"],
        &[false, true, true, false],
        s.profiles
            .iter()
            .map(|p| {
                vec![
                    format!("cluster {}", p.cluster),
                    p.size.to_string(),
                    pct(p.share),
                    p.description.clone().unwrap_or_else(|| {
                        format!("fewer than {} customers: not profiled", super::MIN_GROUP)
                    }),
                ]
            })
            .collect(),
    ));
    if !s.profile_features.is_empty() {
        let mut head = vec!["Cluster".to_string()];
        head.extend(s.profile_features.iter().cloned());
        let mut numeric = vec![false];
        numeric.extend(s.profile_features.iter().map(|_| true));
        out.push(Block::Table {
            id: "segment-profiles",
            caption: "Mean of each numeric feature per cluster (original units)".into(),
            head,
            numeric,
            rows: s
                .profiles
                .iter()
                .map(|p| {
                    let mut row = vec![format!("cluster {}", p.cluster)];
                    match &p.means {
                        Some(m) => row.extend(m.iter().map(|v| fixed(*v, 2))),
                        None => row.extend(s.profile_features.iter().map(|_| "-".to_string())),
                    }
                    row
                })
                .collect(),
        });
    }
    out
}

fn rules(r: &super::Rules) -> Vec<Block> {
    let filter = r
        .filter
        .as_ref()
        .map(|f| format!(", filtered to items matching \"{f}\""))
        .unwrap_or_default();
    let mut out = vec![Block::Para(format!(
        "{} baskets (one per {}) of {} {}s; {} frequent itemsets and {} rules{filter}. The top {} by {}:",
        r.n_baskets,
        r.baskets,
        r.n_items,
        r.items,
        r.n_itemsets,
        r.n_rules,
        r.top.len(),
        r.sort
    ))];
    if r.top.is_empty() {
        out.push(Block::Para(
            "No rule passes the thresholds; lower the minimum support, confidence or lift under [rules]."
                .into(),
        ));
        return out;
    }
    out.push(table(
        "rules-top",
        &format!("Top rules by {}", r.sort),
        &[
            "#",
            "If",
            "Then",
            "Support",
            "Confidence",
            "Lift",
            "Leverage",
            "Conviction",
            "Baskets",
        ],
        &[true, false, false, true, true, true, true, true, true],
        r.top
            .iter()
            .enumerate()
            .map(|(i, x)| {
                vec![
                    (i + 1).to_string(),
                    x.antecedents.clone(),
                    x.consequents.clone(),
                    fixed(x.support, 4),
                    fixed(x.confidence, 3),
                    fixed(x.lift, 2),
                    fixed(x.leverage, 4),
                    x.conviction.map_or_else(|| "inf".into(), |c| fixed(c, 2)),
                    x.count.to_string(),
                ]
            })
            .collect(),
    ));
    out
}

fn prediction(p: &super::Prediction) -> Vec<Block> {
    let classes: Vec<String> = p
        .classes
        .iter()
        .zip(&p.class_counts)
        .map(|(c, n)| format!("{c}: {n}"))
        .collect();
    let mut out = vec![Block::Para(format!(
        "Target {} ({}) predicted by a {} on {} customers; metrics on {} held-out test customers, threshold {}.{}",
        p.target,
        classes.join(", "),
        p.model,
        p.n_rows,
        p.n_test,
        fixed(p.threshold, 2),
        if p.dropped_target {
            " The target was left out of the features."
        } else {
            ""
        }
    ))];
    let t = &p.test;
    let mut rows = vec![
        vec![
            "ROC-AUC".to_string(),
            t.roc_auc.map_or_else(|| "n/a".into(), |v| fixed(v, 3)),
        ],
        vec!["accuracy".into(), fixed(t.accuracy, 3)],
        vec![
            "baseline accuracy (majority class)".into(),
            fixed(p.baseline_accuracy, 3),
        ],
        vec!["balanced accuracy".into(), fixed(t.balanced_accuracy, 3)],
        vec!["precision".into(), fixed(t.precision, 3)],
        vec!["recall".into(), fixed(t.recall, 3)],
        vec!["F1".into(), fixed(t.f1, 3)],
        vec!["log loss".into(), fixed(t.log_loss, 3)],
    ];
    if let Some((name, m)) = &p.cv {
        rows.push(vec![
            format!("{}-fold cross-validated {name}", p.folds),
            format!("{} ± {}", fixed(m.mean, 3), fixed(m.std, 3)),
        ]);
    }
    out.push(table(
        "prediction-metrics",
        "Test metrics",
        &["Metric", "Value"],
        &[false, true],
        rows,
    ));
    let mut head = vec!["Actual \\ predicted".to_string()];
    head.extend(p.classes.iter().cloned());
    let mut numeric = vec![false];
    numeric.extend(p.classes.iter().map(|_| true));
    out.push(Block::Table {
        id: "prediction-confusion",
        caption: "Confusion matrix (test customers)".into(),
        head,
        numeric,
        rows: p
            .test
            .confusion_matrix
            .iter()
            .zip(&p.classes)
            .map(|(row, c)| {
                let mut r = vec![c.clone()];
                r.extend(row.iter().map(|n| n.to_string()));
                r
            })
            .collect(),
    });
    match &p.roc {
        Some(points) => out.push(Block::Chart(Chart::Curve {
            id: "chart-roc",
            title: format!(
                "ROC curve of {} = {} (AUC {})",
                p.target,
                p.classes.last().map_or("", |c| c.as_str()),
                t.roc_auc.map_or_else(|| "n/a".into(), |v| fixed(v, 3))
            ),
            x: "false positive rate".into(),
            y: "true positive rate".into(),
            points: points.clone(),
        })),
        None => out.push(Block::Para(
            "No ROC curve: the target has more than two classes.".into(),
        )),
    }
    out.push(Block::Chart(Chart::HBars {
        id: "chart-importance",
        title: "Feature importance (the model's own)".into(),
        label: "Feature".into(),
        axis: "importance".into(),
        bars: p
            .importance
            .iter()
            .map(|(f, v)| Bar::new(f.clone(), *v, fixed(*v, 3)))
            .collect(),
    }));
    out
}

fn clv(c: &super::Clv) -> Vec<Block> {
    let mut out = vec![Block::Para(format!(
        "BG/NBD purchases and Gamma-Gamma spend fitted on {} customers' transactions up to {} (calibration end; last purchase {}), {} excluded as first buying later. Lifetime value over {} months at a monthly discount of {}: mean {}, median {}, total {}.",
        c.customers,
        c.calibration_end,
        c.last_date,
        c.excluded,
        c.horizon_months,
        fixed(c.discount_rate, 3),
        fixed(c.mean, 2),
        fixed(c.median, 2),
        fixed(c.total, 2)
    ))];
    let b = &c.bgnbd;
    let g = &c.gamma_gamma;
    out.push(table(
        "clv-models",
        "Fitted models",
        &["Model", "Parameters", "Log-likelihood"],
        &[false, false, true],
        vec![
            vec![
                format!("BG/NBD (time unit: {})", c.unit),
                format!(
                    "r {}, alpha {}, a {}, b {}",
                    fixed(b.r, 4),
                    fixed(b.alpha, 4),
                    fixed(b.a, 4),
                    fixed(b.b, 4)
                ),
                fixed(b.log_likelihood, 2),
            ],
            vec![
                format!("Gamma-Gamma ({} repeat customers)", g.n_customers),
                format!(
                    "p {}, q {}, v {}",
                    fixed(g.p, 4),
                    fixed(g.q, 4),
                    fixed(g.v, 4)
                ),
                fixed(g.log_likelihood, 2),
            ],
        ],
    ));
    if let Some((predicted, actual)) = c.holdout {
        out.push(Block::Para(format!(
            "Holdout check after the calibration end: {} purchases expected, {} made.",
            fixed(predicted, 1),
            fixed(actual, 0)
        )));
    }
    let last = c.bins.len().saturating_sub(1);
    out.push(Block::Chart(Chart::Bars {
        id: "chart-clv",
        title: "Customers by lifetime value".into(),
        label: "Lifetime value".into(),
        axis: "customers".into(),
        bars: c
            .bins
            .iter()
            .enumerate()
            .map(|(i, (lo, hi, n))| {
                let label = if i == last {
                    format!("{}+", fixed(*lo, 0))
                } else {
                    format!("{}-{}", fixed(*lo, 0), fixed(*hi, 0))
                };
                Bar::new(label, *n as f64, n.to_string())
            })
            .collect(),
    }));
    out
}

fn parameters(r: &Report) -> Vec<Block> {
    vec![
        Block::Para(format!(
            "Everything above was computed by crmlens {} from {} with these parameters; random steps use the seeds listed, so the same workspace gives the same report.",
            r.version, r.workspace_file
        )),
        table(
            "parameters-table",
            "Parameters",
            &["Section", "Key", "Value"],
            &[false, false, false],
            r.parameters
                .iter()
                .map(|(s, k, v)| vec![s.clone(), k.clone(), v.clone()])
                .collect(),
        ),
    ]
}
