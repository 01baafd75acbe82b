//! `crmlens report`: one document with what a workspace's analyses find — the data-quality
//! summary, the segments and their profiles, the top association rules, the prediction
//! model's metrics, customer lifetime value, and every parameter used — as a self-contained
//! HTML page ([`html`], charts as inline SVG from [`svg`]) or as Markdown ([`markdown`]).
//!
//! [`build`] runs exactly what the workbench runs when it opens the workspace: the
//! parameters come from [`crate::pipeline::settings::from_workspace`], and each analysis is the
//! same [`crate::pipeline`] call the screen's background job makes. Everything random is seeded, and the
//! report holds no timing, no absolute path and no per-customer value, so two runs of the
//! same workspace give the same bytes and the file can be shared: it carries aggregates only
//! (counts, means, metrics, item names), never a customer id, name or e-mail. Profiles of
//! clusters smaller than [`MIN_GROUP`] customers are left out for the same reason.
//!
//! A section that cannot be computed (no orders source, so no rules; no column of classes,
//! so no prediction) says why in one sentence; a mistake in the workspace file (a bad value,
//! a feature or target column the data does not have) is an error naming the file and key.

pub mod document;
pub mod html;
pub mod markdown;
pub mod svg;

use std::path::Path;

use anyhow::{Result, anyhow, bail};

use crate::analytics::clv::{BgNbd, GammaGamma};
use crate::analytics::predict::{MeanStd, Metrics};
use crate::data::integrate::integrate;
use crate::data::integrate::quality::QualityReport;
use crate::data::sources::workspace::Workspace;
use crate::pipeline;
use crate::pipeline::guard::{guarded, injected};
use crate::pipeline::settings::{Settings, from_workspace, to_workspace};
use crate::progress::Progress;

use crate::text::one_line;

/// Clusters with fewer customers than this get no profile (their means would describe a
/// handful of people).
pub const MIN_GROUP: usize = 5;
/// Rules listed.
pub const TOP_RULES: usize = 20;

/// The sections, in order: (id, heading). HTML and Markdown use the same headings.
pub const SECTIONS: [(&str, &str); 6] = [
    ("quality", "Data quality"),
    ("segments", "Segments"),
    ("rules", "Association rules"),
    ("prediction", "Prediction"),
    ("clv", "Customer lifetime value"),
    ("parameters", "Parameters"),
];

/// A section's content, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Part<T> {
    Done(T),
    /// One sentence saying why the section could not be computed.
    Skipped(String),
}

impl<T> Part<T> {
    pub fn done(&self) -> Option<&T> {
        match self {
            Part::Done(t) => Some(t),
            Part::Skipped(_) => None,
        }
    }
}

/// Everything the report shows.
#[derive(Debug, Clone)]
pub struct Report {
    /// The workspace's name, else its file name.
    pub title: String,
    /// The workspace file's name (no folder).
    pub workspace_file: String,
    pub version: &'static str,
    /// The integration's quality report: source paths relative to the workspace, missing
    /// values only for columns that had some, no timings, no fill value of a personal-data
    /// column.
    pub quality: QualityReport,
    pub segments: Part<Segments>,
    pub rules: Part<Rules>,
    pub prediction: Part<Prediction>,
    pub clv: Part<Clv>,
    /// (section, key, value): every parameter and seed, as the workspace file spells them.
    pub parameters: Vec<(String, String, String)>,
}

impl Report {
    /// The sections with a result, and those skipped with the reason.
    pub fn skipped(&self) -> Vec<(&'static str, &str)> {
        [
            ("segments", skipped(&self.segments)),
            ("rules", skipped(&self.rules)),
            ("prediction", skipped(&self.prediction)),
            ("clv", skipped(&self.clv)),
        ]
        .into_iter()
        .filter_map(|(id, why)| why.map(|w| (id, w.as_str())))
        .collect()
    }
}

fn skipped<T>(p: &Part<T>) -> Option<&String> {
    match p {
        Part::Skipped(w) => Some(w),
        Part::Done(_) => None,
    }
}

/// One cluster's row of the profile table.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub cluster: usize,
    pub size: usize,
    pub share: f64,
    /// Means of [`Segments::profile_features`] in original units; None for a cluster smaller
    /// than [`MIN_GROUP`].
    pub means: Option<Vec<f64>>,
    /// e.g. "high monetary, low recency_days"; None when the means are left out.
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Segments {
    /// "k-means", "DBSCAN", "Gaussian mixture".
    pub algorithm: String,
    /// The parameters in one phrase ("k-means with k = 4").
    pub describe: String,
    /// The fit in one line (inertia, log-likelihood...).
    pub summary: String,
    /// The model's input columns (one-hot columns as `column=value`).
    pub features: Vec<String>,
    pub n_rows: usize,
    /// Customers per cluster, by label.
    pub sizes: Vec<usize>,
    /// DBSCAN's noise rows (in no cluster).
    pub noise: usize,
    /// The numeric features profiled.
    pub profile_features: Vec<String>,
    pub profiles: Vec<Profile>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleRow {
    pub antecedents: String,
    pub consequents: String,
    pub support: f64,
    pub confidence: f64,
    pub lift: f64,
    pub leverage: f64,
    /// None: infinite (the consequent always follows).
    pub conviction: Option<f64>,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// "order" or "customer".
    pub baskets: &'static str,
    /// "product" or "category".
    pub items: &'static str,
    pub n_baskets: usize,
    pub n_items: usize,
    pub n_itemsets: usize,
    /// Rules passing the thresholds (and the filter, when there is one).
    pub n_rules: usize,
    pub sort: &'static str,
    pub filter: Option<String>,
    /// The top [`TOP_RULES`] by `sort`.
    pub top: Vec<RuleRow>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub target: String,
    pub classes: Vec<String>,
    pub class_counts: Vec<usize>,
    /// The model and its parameters in one phrase.
    pub model: String,
    pub n_rows: usize,
    pub n_test: usize,
    pub threshold: f64,
    pub test: Metrics,
    pub baseline_accuracy: f64,
    pub folds: usize,
    /// Cross-validated ROC-AUC (two classes) or accuracy.
    pub cv: Option<(String, MeanStd)>,
    /// (false positive rate, true positive rate) on the test rows; two classes only.
    pub roc: Option<Vec<(f64, f64)>>,
    /// The model's own importance per feature, highest first.
    pub importance: Vec<(String, f64)>,
    /// The target was among the features and was left out of them.
    pub dropped_target: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Clv {
    pub calibration_end: String,
    pub last_date: String,
    /// "days" or "weeks".
    pub unit: &'static str,
    pub horizon_months: usize,
    pub discount_rate: f64,
    pub customers: usize,
    /// Customers whose first purchase is after the calibration end.
    pub excluded: usize,
    pub bgnbd: BgNbd,
    pub gamma_gamma: GammaGamma,
    pub mean: f64,
    pub median: f64,
    pub total: f64,
    /// Histogram: (from, to, customers); the last bin also holds everything above it.
    pub bins: Vec<(f64, f64, u64)>,
    /// Holdout check: (predicted purchases, actual purchases), when there is a holdout.
    pub holdout: Option<(f64, f64)>,
}

/// Runs every analysis of `ws` and gathers the report.
pub fn build(ws: &Workspace, progress: &Progress) -> Result<Report> {
    let file = ws.file.clone();
    let text = std::fs::read_to_string(&file).ok();
    let (mut settings, problems) = from_workspace(ws);
    if let Some(p) = problems.first() {
        let line = p.describe(&file, text.as_deref());
        let line = line.strip_suffix("; the default is used").unwrap_or(&line);
        bail!("{line}; fix it, the report does not fall back to defaults");
    }
    let workspace_file = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "workspace".into());

    progress.start("integrating the workspace", 1);
    let c = integrate(ws, progress)?;
    let table = c.table;
    check_columns(
        ws,
        settings.predict.target.as_deref(),
        &table,
        &workspace_file,
    )?;
    let quality = quality(c.report, ws, &table);

    progress.label("segmenting");
    let segments = segments(ws, &table, &settings, &workspace_file, progress)?;
    progress.label("mining rules");
    let rules = rules(ws, &settings);
    progress.label("predicting");
    let (prediction, target) = prediction(ws, &table, &settings);
    settings.predict.target = target;
    progress.label("lifetime value");
    let clv = clv(ws, &settings);
    if let Part::Done(c) = &clv {
        settings.clv.calibration_end =
            chrono::NaiveDate::parse_from_str(&c.calibration_end, "%Y-%m-%d").ok();
    }
    let parameters = parameters(ws, &settings, &workspace_file, c.reference_date)?;
    Ok(Report {
        title: ws
            .workspace
            .name
            .clone()
            .unwrap_or_else(|| workspace_file.clone()),
        workspace_file,
        version: env!("CARGO_PKG_VERSION"),
        quality,
        segments,
        rules,
        prediction,
        clv,
        parameters,
    })
}

/// The feature and target columns the workspace names must be in the 360 table.
fn check_columns(
    ws: &Workspace,
    target: Option<&str>,
    table: &polars::prelude::DataFrame,
    file: &str,
) -> Result<()> {
    let have = |c: &str| table.column(c).is_ok();
    let columns = || {
        table
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let f = &ws.features;
    for (key, list) in [("numeric", &f.numeric), ("categorical", &f.categorical)] {
        if let Some(bad) = list.iter().find(|c| !have(c)) {
            bail!(
                "{file}: [features] {key} names `{bad}`, which the customer-360 table does not have; use one of: {}",
                columns()
            );
        }
    }
    if let Some(t) = target
        && !have(t)
    {
        bail!(
            "{file}: [predict] target `{t}` is not a column of the customer-360 table; use one of: {}",
            columns()
        );
    }
    Ok(())
}

/// The quality report as the document shows it: nothing machine- or run-specific.
fn quality(
    mut q: QualityReport,
    ws: &Workspace,
    table: &polars::prelude::DataFrame,
) -> QualityReport {
    for s in &mut q.sources {
        let p = Path::new(&s.path);
        // Relative to the workspace's folder when inside it, else the file name alone.
        let rel = p
            .strip_prefix(&ws.base_dir)
            .ok()
            .filter(|r| r.is_relative() && !r.as_os_str().is_empty())
            .or_else(|| p.file_name().map(Path::new))
            .unwrap_or(p);
        s.path = rel.display().to_string();
    }
    q.timings_ms.clear();
    let pii: Vec<String> = crate::data::privacy::detect(table, &ws.privacy)
        .into_iter()
        .map(|c| c.column)
        .collect();
    q.missing.retain(|m| m.before > 0 || m.after > 0);
    for m in &mut q.missing {
        if pii.contains(&m.column) {
            m.fill_value = None;
        }
    }
    q
}

fn segments(
    ws: &Workspace,
    table: &polars::prelude::DataFrame,
    settings: &Settings,
    file: &str,
    progress: &Progress,
) -> Result<Part<Segments>> {
    if ws.features.numeric.is_empty() && ws.features.categorical.is_empty() {
        return Ok(Part::Skipped(format!(
            "No segmentation: {file} selects no features (list columns under [features] numeric or categorical)."
        )));
    }
    let params = &settings.segment;
    let run = match pipeline::segment::segment(table, &ws.features, params, progress) {
        Ok(r) => r,
        // The feature matrix: a mistake in the workspace, not a section to skip.
        Err(pipeline::PipelineError::Data(e)) => return Err(anyhow!("{file}: {e}")),
        Err(e) => {
            return Ok(Part::Skipped(format!(
                "No segmentation: {} failed: {e}.",
                params.describe()
            )));
        }
    };
    let profile_features: Vec<String> = run
        .profiles
        .first()
        .map(|p| p.features.iter().map(|f| f.feature.clone()).collect())
        .unwrap_or_default();
    let profiles = run
        .profiles
        .iter()
        .map(|p| {
            let shown = p.size >= MIN_GROUP;
            Profile {
                cluster: p.cluster,
                size: p.size,
                share: p.share,
                means: shown.then(|| p.features.iter().map(|f| f.mean).collect()),
                description: shown.then(|| p.description.clone()),
            }
        })
        .collect();
    Ok(Part::Done(Segments {
        algorithm: run.algorithm().title().to_string(),
        describe: params.describe(),
        summary: run.summary(),
        features: run.features.clone(),
        n_rows: run.n_rows,
        sizes: run.sizes.clone(),
        noise: run.noise,
        profile_features,
        profiles,
    }))
}

fn rules(ws: &Workspace, settings: &Settings) -> Part<Rules> {
    if ws.sources.orders.is_none() {
        return Part::Skipped(
            "No rules: the workspace has no orders source to build baskets from.".into(),
        );
    }
    let params = settings.rules.clone();
    let mined = guarded(&params.describe(), injected("rules"), || {
        pipeline::rules::mine(
            &ws.file,
            &params.columns(&[]),
            &params.mining(),
            &Progress::new(),
        )
    });
    let run = match mined {
        Ok(Ok(m)) => m.run,
        Ok(Err(e)) => return Part::Skipped(format!("No rules: {}.", one_line(&e))),
        Err(panicked) => return Part::Skipped(format!("No rules: {panicked}.")),
    };
    // The Rules screen's table: its filter and sort.
    let visible =
        match pipeline::rules::arrange(&run, settings.rules.sort, settings.rules.filter.as_deref())
        {
            Ok(v) => v,
            Err(e) => return Part::Skipped(format!("No rules: the filter does not work: {e}.")),
        };
    let names = &run.baskets.items;
    let side = |ids: &[u32]| crate::analytics::rules::side_text(ids, names, ", ");
    let top = visible
        .iter()
        .take(TOP_RULES)
        .map(|&i| {
            let r = &run.rules[i];
            RuleRow {
                antecedents: side(&r.antecedents),
                consequents: side(&r.consequents),
                support: r.support,
                confidence: r.confidence,
                lift: r.lift,
                leverage: r.leverage,
                conviction: r.conviction,
                count: r.count,
            }
        })
        .collect();
    Part::Done(Rules {
        baskets: if params.per_customer() {
            "customer"
        } else {
            "order"
        },
        items: if params.by_category() {
            "category"
        } else {
            "product"
        },
        n_baskets: run.baskets.len(),
        n_items: names.len(),
        n_itemsets: run.itemsets.len(),
        n_rules: visible.len(),
        sort: settings.rules.sort.name(),
        filter: settings.rules.filter.clone(),
        top,
    })
}

/// The prediction, and the target it used (for the parameters).
fn prediction(
    ws: &Workspace,
    table: &polars::prelude::DataFrame,
    settings: &Settings,
) -> (Part<Prediction>, Option<String>) {
    // As the Predict screen picks it: the workspace's target, else the column of classes
    // named like a target (churned, churn, exited, target, label, ...).
    let target = settings.predict.target.clone().or_else(|| {
        pipeline::predict::default_target(&crate::data::features::target::candidates(table))
    });
    let Some(target) = target else {
        return (
            Part::Skipped(
                "No prediction: the workspace names no [predict] target and no column of classes of the customer-360 table is named like one (churned, churn, exited, target, label, ...); set [predict] target."
                    .into(),
            ),
            None,
        );
    };
    let params = settings.predict.params();
    let label = format!("predicting {target}: {}", params.describe());
    let outcome = guarded(&label, injected("predict"), || {
        pipeline::predict::predict(
            table,
            ws.features.clone(),
            &target,
            &settings.predict,
            pipeline::predict::Mode::Run,
            &Progress::new(),
        )
        .map_err(|e| one_line(&e))
    });
    let p = match outcome.and_then(|r| r) {
        Ok(pipeline::predict::Predicted::Run(p)) => p,
        Ok(pipeline::predict::Predicted::Values(_)) => {
            return (
                Part::Skipped(format!(
                    "No prediction section: `{target}` is a value (regression), which the report does not cover yet; run `crmlens predict --target {target}` for its metrics."
                )),
                Some(target),
            );
        }
        Ok(pipeline::predict::Predicted::Grid(_) | pipeline::predict::Predicted::Compared(_)) => {
            unreachable!("one run was asked")
        }
        Err(e) => {
            return (
                Part::Skipped(format!("No prediction of `{target}`: {e}.")),
                Some(target),
            );
        }
    };
    let run = &p.run;
    let cv = run
        .cv
        .get(run.permutation_metric)
        .map(|m| (run.permutation_metric.to_string(), m.clone()));
    let part = Part::Done(Prediction {
        target: target.clone(),
        classes: p.classes.clone(),
        class_counts: run.class_counts.clone(),
        model: params.describe(),
        n_rows: run.n_rows,
        n_test: run.test_rows.len(),
        threshold: run.threshold,
        test: run.test.clone(),
        baseline_accuracy: run.baseline_accuracy,
        folds: params.folds,
        cv,
        roc: run
            .curves
            .as_ref()
            .map(|c| c.roc.iter().map(|p| (p.fpr, p.tpr)).collect()),
        // A personal-data column used as a categorical feature: its levels masked (the
        // report holds no one's name).
        importance: {
            let pii = crate::data::privacy::detect(table, &ws.privacy);
            let names = crate::data::privacy::mask_feature_names(
                run.feature_importance.iter().map(|(f, _)| f.as_str()),
                &pii,
            );
            names
                .into_iter()
                .zip(run.feature_importance.iter().map(|(_, v)| *v))
                .collect()
        },
        dropped_target: p.dropped_target,
    });
    (part, Some(target))
}

fn clv(ws: &Workspace, settings: &Settings) -> Part<Clv> {
    if ws.sources.orders.is_none() {
        return Part::Skipped(
            "No lifetime value: the workspace has no orders source to read transactions from."
                .into(),
        );
    }
    let label = format!("lifetime value from {}", ws.file.display());
    let fitted = guarded(&label, injected("clv"), || {
        pipeline::clv::fit(
            &ws.file,
            &Default::default(),
            &settings.clv,
            &Progress::new(),
        )
        .map_err(|e| one_line(&e))
    });
    let o = match fitted.and_then(|r| r) {
        Ok(o) => o,
        Err(e) => return Part::Skipped(format!("No lifetime value: {e}.")),
    };
    let s = &o.stats;
    let bins = s
        .counts
        .iter()
        .enumerate()
        .map(|(i, &n)| (i as f64 * s.bin_width, (i + 1) as f64 * s.bin_width, n))
        .collect();
    Part::Done(Clv {
        calibration_end: o.calibration_end.to_string(),
        last_date: o.last_date.to_string(),
        unit: o.settings.unit.name(),
        horizon_months: o.settings.horizon_months,
        discount_rate: o.settings.discount_rate,
        customers: o.run.rows.len(),
        excluded: o.excluded,
        bgnbd: o.run.bgnbd,
        gamma_gamma: o.run.gamma_gamma,
        mean: s.mean,
        median: s.median,
        total: s.total,
        bins,
        holdout: o
            .run
            .holdout
            .as_ref()
            .map(|h| (h.predicted_total, h.actual_total)),
    })
}

/// Every parameter: the workspace's own settings, then the features and each analysis the
/// report runs as the workbench would save them (every value spelled out, defaults
/// included).
fn parameters(
    ws: &Workspace,
    settings: &Settings,
    file: &str,
    reference_date: chrono::NaiveDate,
) -> Result<Vec<(String, String, String)>> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    let mut add = |section: &str, key: &str, value: String| {
        out.push((section.to_string(), key.to_string(), value));
    };
    add(
        "report",
        "crmlens version",
        env!("CARGO_PKG_VERSION").into(),
    );
    add("report", "workspace file", file.into());
    if let Some(n) = &ws.workspace.name {
        add("workspace", "name", n.clone());
    }
    add(
        "workspace",
        "customer_key",
        ws.workspace.customer_key.clone(),
    );
    add("workspace", "reference_date", reference_date.to_string());
    let mut w = ws.clone();
    to_workspace(settings, &mut w);
    let sections: [(&str, toml::Value); 5] = [
        ("features", toml::Value::try_from(&w.features)?),
        ("segment", toml::Value::try_from(&w.segment)?),
        ("rules", toml::Value::try_from(&w.rules)?),
        ("predict", toml::Value::try_from(&w.predict)?),
        ("clv", toml::Value::try_from(&w.clv)?),
    ];
    for (name, v) in sections {
        if let toml::Value::Table(t) = v {
            for (k, v) in t {
                if used(settings, name, &k) {
                    add(name, &k, value_text(&v));
                }
            }
        }
    }
    Ok(out)
}

/// A TOML value as a reader wants it: text unquoted, lists comma-separated.
fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(a) => a.iter().map(value_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// Whether `section.key` is a parameter of what the report ran (the saved sections also
/// keep the other algorithms' values, and the k sweep's, which the report does not run).
fn used(s: &Settings, section: &str, key: &str) -> bool {
    use crate::analytics::predict::ModelKind;
    use crate::analytics::segment::Algorithm;
    match (section, key) {
        ("segment", "sweep_max_k") => false,
        ("segment", k) => match s.segment.algorithm {
            Algorithm::KMeans => !matches!(k, "covariance" | "eps" | "min_points"),
            Algorithm::Gmm => !matches!(k, "eps" | "min_points"),
            Algorithm::Dbscan => matches!(k, "algorithm" | "eps" | "min_points"),
        },
        ("predict", k) => {
            let boosting = matches!(
                k,
                "rounds" | "learning_rate" | "max_leaves" | "l2" | "subsample" | "colsample"
            );
            let stopping = matches!(k, "early_stopping" | "validation_fraction" | "patience");
            let network = matches!(
                k,
                "hidden"
                    | "epochs"
                    | "batch_size"
                    | "dropout"
                    | "weight_decay"
                    | "learning_rate_init"
            );
            let trees = matches!(k, "trees" | "max_depth" | "min_leaf" | "criterion");
            match s.predict.model {
                ModelKind::Forest => !matches!(k, "alpha") && !boosting && !stopping && !network,
                ModelKind::Tree => {
                    !matches!(k, "alpha" | "trees") && !boosting && !stopping && !network
                }
                ModelKind::Logistic | ModelKind::Svm | ModelKind::Linear => {
                    !trees && !boosting && !stopping && !network
                }
                ModelKind::Gbdt => !matches!(k, "alpha" | "trees" | "criterion") && !network,
                ModelKind::Mlp => !trees && k != "alpha" && !boosting,
            }
        }
        _ => true,
    }
}
