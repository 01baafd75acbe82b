//! `crmlens predict`: a classifier for a target column, validated on a stratified test split
//! and by stratified k-fold cross-validation.

use std::time::Instant;

use anyhow::{Result, bail};
use clap::Args;
use polars::prelude::DataType;

use super::MatrixArgs;
use crate::analytics::limits;
use crate::analytics::predict::{Grid, ModelKind, Task, at_risk};
use crate::pipeline;
use crate::pipeline::predict::PredictSettings;
use crate::progress::Progress;

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct PredictArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    /// The target, the model and its parameters.
    #[command(flatten)]
    pub settings: PredictSettings,
    /// The positive class's value (default: the last in sorted order, e.g. 1, true, yes).
    #[arg(long)]
    pub positive: Option<String>,
    /// How many customers to list as "at_risk": those not (yet) of the positive class that
    /// are most likely to be.
    #[arg(long, default_value_t = 10, value_parser = super::whole::<usize>)]
    pub top: usize,
    /// Also cross-validate a grid: depth x min leaf (trees, forests) or alpha (logistic).
    #[arg(long)]
    pub grid: bool,
    /// Grid depths (default 3,5,8,12).
    #[arg(long = "grid-depth", value_delimiter = ',', value_parser = super::whole::<usize>)]
    pub grid_depth: Vec<usize>,
    /// Grid minimum leaf sizes (default 1,10,50).
    #[arg(long = "grid-min-leaf", value_delimiter = ',', value_parser = super::whole::<usize>)]
    pub grid_min_leaf: Vec<usize>,
    /// Also cross-validate models side by side on the same folds, with the other settings
    /// as given: all six (`--compare`) or those named (`--compare gbdt,forest,logistic`).
    #[arg(long, value_delimiter = ',', num_args = 0.., value_enum, ignore_case = true)]
    pub compare: Option<Vec<crate::analytics::predict::ModelKind>>,
    /// Grid alphas (default 0.01,0.1,1,10,100).
    #[arg(long = "grid-alpha", value_delimiter = ',')]
    pub grid_alpha: Vec<f64>,
    /// Write every row's id, actual class, class probabilities and predicted class (.csv,
    /// .parquet or .json).
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub export: super::ExportFlags,
    /// The id column for --out (default: the workspace's key, else the first column).
    #[arg(long = "id-col")]
    pub id_col: Option<String>,
    /// Save the model fitted on the training rows here (TOML) for `crmlens score` (an
    /// existing file only with --force).
    #[arg(long = "save-model")]
    pub save_model: Option<std::path::PathBuf>,
    /// Predict each customer's next-period value from the input's transactions instead of a
    /// column: spend or purchases (purchase days) after the calibration end, from features of
    /// the purchases up to it; BG/NBD (+ Gamma-Gamma) is scored on the same customers.
    #[arg(long = "next-period", value_enum, ignore_case = true)]
    pub next_period: Option<crate::pipeline::next_period::NextTarget>,
    /// --next-period: the last day of the features' window (YYYY-MM-DD; default: six months
    /// before the last purchase).
    #[arg(long = "calibration-end", value_parser = crate::pipeline::clv::date)]
    pub calibration_end: Option<chrono::NaiveDate>,
    /// --next-period: the last day of the target's window (default: the last purchase's).
    #[arg(long = "observation-end", value_parser = crate::pipeline::clv::date)]
    pub observation_end: Option<chrono::NaiveDate>,
    #[command(flatten)]
    pub cols: super::CustomerDateCols,
    /// --next-period: the amount column (default: found by its role).
    #[arg(long = "amount-col")]
    pub amount_col: Option<String>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: PredictArgs) -> Result<()> {
    let opts = a.export.options(a.out.as_deref(), Some(&a.matrix.input))?;
    if let Some(p) = &a.save_model {
        crate::data::write::refuse_existing(p, a.export.force)?;
    }
    if !(a.settings.threshold > 0.0 && a.settings.threshold < 1.0) {
        bail!(
            "--threshold {}: use a probability between 0 and 1, e.g. 0.3",
            a.settings.threshold
        );
    }
    // The ranges a workspace's [predict] is held to (`analytics::limits`).
    limits::THRESHOLD.named("--threshold", a.settings.threshold)?;
    limits::MAX_DEPTH.named("--max-depth", a.settings.max_depth)?;
    limits::MIN_LEAF.named("--min-leaf", a.settings.min_leaf())?;
    limits::ROUNDS.named("--rounds", a.settings.rounds)?;
    limits::LEARNING_RATE.named("--learning-rate", a.settings.learning_rate)?;
    limits::MAX_LEAVES.named("--max-leaves", a.settings.max_leaves)?;
    limits::L2.named("--l2", a.settings.l2)?;
    limits::SAMPLE_SHARE.named("--subsample", a.settings.subsample)?;
    limits::SAMPLE_SHARE.named("--colsample", a.settings.colsample)?;
    limits::VALIDATION_FRACTION.named("--validation-fraction", a.settings.validation_fraction)?;
    limits::PATIENCE.named("--patience", a.settings.patience)?;
    if a.settings.hidden.is_empty() || a.settings.hidden.len() > 3 {
        bail!(
            "--hidden: {} layers given; use 1 to 3, e.g. --hidden 64,32",
            a.settings.hidden.len()
        );
    }
    for &h in &a.settings.hidden {
        limits::HIDDEN_UNITS.named("--hidden", h)?;
    }
    limits::EPOCHS.named("--epochs", a.settings.epochs)?;
    limits::BATCH_SIZE.named("--batch-size", a.settings.batch_size)?;
    limits::DROPOUT.named("--dropout", a.settings.dropout)?;
    limits::L2.named("--weight-decay", a.settings.weight_decay)?;
    limits::ADAM_LEARNING_RATE.named("--learning-rate-init", a.settings.learning_rate_init)?;
    limits::TREES.named("--n-trees", a.settings.trees)?;
    limits::ALPHA.named("--alpha", a.settings.alpha())?;
    limits::FOLDS.named("--folds", a.settings.folds)?;
    limits::TEST_SIZE.named("--test-size", a.settings.test_size)?;
    for &d in &a.grid_depth {
        limits::MAX_DEPTH.named("--grid-depth", d)?;
    }
    for &l in &a.grid_min_leaf {
        limits::MIN_LEAF.named("--grid-min-leaf", l)?;
    }
    let grid_spec = if a.grid {
        let d = Grid::default();
        let pick = |v: &Vec<usize>, dflt: Vec<usize>| if v.is_empty() { dflt } else { v.clone() };
        let g = Grid {
            max_depth: pick(&a.grid_depth, d.max_depth),
            min_leaf: pick(&a.grid_min_leaf, d.min_leaf),
            alpha: if a.grid_alpha.is_empty() {
                d.alpha
            } else {
                a.grid_alpha.clone()
            },
        };
        if let Some(bad) = g.alpha.iter().find(|v| !(**v > 0.0 && v.is_finite())) {
            bail!("--grid-alpha {bad}: alphas must be positive numbers");
        }
        if let Some(bad) = g.max_depth.iter().find(|v| **v == 0) {
            bail!("--grid-depth {bad}: depths must be 1 or more");
        }
        Some(g)
    } else {
        None
    };
    if let Some(t) = a.next_period {
        return next_period(&a, t, grid_spec.as_ref(), &opts);
    }
    let target_col = match a.settings.target.clone() {
        Some(t) => t,
        None if a.settings.task == Some(Task::Regression) => bail!(
            "--task regression needs --target: name the column of values to predict (e.g. --target spend)"
        ),
        // The column an analyst would pick: two classes, named like churn/target/label/y.
        None => {
            let (table, _) = crate::pipeline::input::load_table(&a.matrix.input, &Progress::new())?;
            let candidates = crate::data::features::target::candidates(&table);
            match pipeline::predict::default_target(&candidates) {
                Some(t) => t,
                None => bail!(
                    "{}: no target column named like churn, churned, attrition, exited, target, label or y; name the column to predict with --target (two-class columns here: {})",
                    a.matrix.input.display(),
                    if candidates.is_empty() {
                        "none".to_string()
                    } else {
                        candidates.join(", ")
                    }
                ),
            }
        }
    };
    if a.matrix
        .features
        .iter()
        .chain(&a.matrix.categorical)
        .any(|f| f.trim() == target_col)
    {
        bail!(
            "--target {} is also among --features; remove it from the features",
            target_col
        );
    }
    // The target is read with the features, from the same table, so rows line up.
    let mx = super::feature_matrix(
        &a.matrix,
        a.id_col.clone(),
        true,
        std::slice::from_ref(&target_col),
    )?;
    let (m, id_col, features, table) = (&mx.m, &mx.id_col, mx.features.clone(), &mx.table);
    let task = pipeline::predict::task(table, &target_col, a.settings.task);
    pipeline::predict::check_model(a.settings.model, task)?;
    for &m in a.compare.iter().flatten() {
        pipeline::predict::check_model(m, task).map_err(|_| {
            anyhow::anyhow!(
                "--compare {m}: it cannot do {task}; compare {}",
                ModelKind::for_task(task)
                    .iter()
                    .map(|m| m.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    }
    let params = a.settings.params();
    if task == Task::Regression {
        if a.positive.is_some() {
            bail!(
                "--positive is for classes; `{target_col}` is a value (regression), use --task classification to treat it as classes"
            );
        }
        return values(
            &a,
            ValueSource::Column(&mx),
            &target_col,
            grid_spec.as_ref(),
            &opts,
        );
    }
    let target = crate::data::features::target::target(table, &target_col, a.positive.as_deref())
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.matrix.input.display()))?;
    if m.values.nrows() != target.y.len() {
        bail!("the feature rows and the target rows differ; use --fill instead of drop here");
    }
    let grid = match &grid_spec {
        Some(g) => Some(pipeline::predict::grid_search(
            m,
            &target,
            &params,
            g,
            &Progress::new(),
        )?),
        None => None,
    };
    let comparison = match compared(&a, &ModelKind::CLASSIFIERS) {
        Some(models) => Some(pipeline::predict::compare(
            m,
            &target,
            &a.settings,
            &models,
            &Progress::new(),
        )?),
        None => None,
    };
    // The features as they may be printed: a personal-data column's one-hot levels masked.
    let names = super::printable_features(m, &super::pii_columns(&a.matrix.input, table));
    let started = Instant::now();
    let prediction =
        pipeline::predict::run(m, &names, &target_col, target, &params, &Progress::new())?;
    let (r, classes, y_all) = (&prediction.run, &prediction.classes, &prediction.y);
    let seconds = started.elapsed().as_secs_f64();
    if let (Some(path), Some(fitted)) = (&a.save_model, &r.fitted) {
        use crate::pipeline::saved::{Model, Prediction, SavedModel};
        let saved = SavedModel::new(
            &mx.trained_on(),
            Model::Predict(Prediction {
                target: target_col.clone(),
                classes: classes.clone(),
                threshold: r.threshold,
                fitted: fitted.clone(),
            }),
        )?;
        saved.save(path, a.export.force)?;
    }
    if let Some(out) = &a.out {
        let predicted = r.predicted();
        let mut test = vec![false; r.probabilities.len()];
        for &t in &r.test_rows {
            test[t] = true;
        }
        let scores = crate::export::Scores {
            classes,
            actual: Some(y_all),
            probabilities: &r.probabilities,
            predicted: &predicted,
            test: Some(&test),
        };
        crate::export::write_scores(out, id_col, &m.keys, &scores, None, &opts)?;
    }
    let importance: Vec<serde_json::Value> = r
        .feature_importance
        .iter()
        .map(|(f, v)| serde_json::json!({"feature": f, "importance": v}))
        .collect();
    let permutation: Vec<serde_json::Value> = r
        .permutation_importance
        .iter()
        .map(|p| serde_json::json!({"feature": p.feature, "mean": p.mean, "std": p.std}))
        .collect();
    // The customers most likely to be the positive class (two classes, or --positive).
    let positive = if classes.len() == 2 || a.positive.is_some() {
        Some(classes.len() - 1)
    } else {
        None
    };
    let ids = m.keys.cast(&DataType::String)?;
    let ids = ids.str()?;
    // With --pseudonymise the printed ids are the pseudonyms, as in --out.
    let shown_id = |i: usize| super::shown_id(ids.get(i).unwrap_or(""), &opts);
    let at_risk: Vec<serde_json::Value> = positive
        .map(|c| {
            at_risk(&r.probabilities, y_all, c, a.top)
                .into_iter()
                .map(|i| {
                    serde_json::json!({
                        "id": shown_id(i),
                        "probability": r.probabilities[i][c],
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let class_counts: serde_json::Map<String, serde_json::Value> = classes
        .iter()
        .zip(&r.class_counts)
        .map(|(c, n)| (c.clone(), serde_json::json!(n)))
        .collect();
    let tree_text = |names: &[String], classes: &[String]| {
        r.tree
            .as_ref()
            .map(|t| t.to_text(names, classes, &|f, v| m.transforms[f].to_original(v)))
    };
    let mut stdout = super::out::stdout();
    if a.json {
        let v = serde_json::json!({
            "task": "classification",
            "model": r.model,
            "input": a.matrix.input.display().to_string(),
            "target": target_col,
            "features": features,
            "n_rows": r.n_rows,
            "classes": classes,
            "test": r.test,
            "test_rows": r.test_rows.len(),
            "class_counts": class_counts,
            "positive": positive.map(|c| classes[c].clone()),
            "threshold": r.threshold,
            "cv": r.cv,
            "folds": a.settings.folds,
            "baseline_accuracy": r.baseline_accuracy,
            "feature_importance": importance,
            // Drop in `permutation_metric` when a feature's test values are shuffled.
            "permutation_importance": permutation,
            "permutation_metric": r.permutation_metric,
            "roc_curve": r.curves.as_ref().map(|c| &c.roc),
            "pr_curve": r.curves.as_ref().map(|c| &c.pr),
            "average_precision": r.curves.as_ref().map(|c| c.average_precision),
            "at_risk": at_risk,
            "grid": grid,
            // --compare: every model's cross-validation on the same folds, the best marked.
            "compare": comparison,
            // The decision tree as indented text, thresholds in the features' own units.
            "tree": tree_text(&names, classes),
            // Boosting: the rounds kept (early stopping's best) of the most allowed.
            "gbdt": r.boosting,
            // The neural network: the epochs kept (early stopping's best) of the most allowed.
            "mlp": r.network,
            "seed": a.settings.seed,
            "seconds": (seconds * 1000.0).round() / 1000.0,
        });
        stdout.json(&v)?;
    } else {
        // Names and values from the data, for a terminal.
        let esc_all = |v: &[String]| -> Vec<String> {
            v.iter()
                .map(|s| crate::text::escape(s).into_owned())
                .collect()
        };
        let shown_classes = esc_all(classes);
        let t = &r.test;
        writeln!(
            stdout,
            "{} on {} rows ({} test): accuracy {:.3} (baseline {:.3}), balanced {:.3}, precision {:.3}, recall {:.3}, F1 {:.3}, ROC-AUC {}",
            a.settings.model,
            r.n_rows,
            r.test_rows.len(),
            t.accuracy,
            r.baseline_accuracy,
            t.balanced_accuracy,
            t.precision,
            t.recall,
            t.f1,
            t.roc_auc.map_or("n/a".into(), |v| format!("{v:.3}"))
        )?;
        let balance: Vec<String> = shown_classes
            .iter()
            .zip(&r.class_counts)
            .map(|(c, n)| format!("{c}: {n} ({:.1}%)", 100.0 * *n as f64 / r.n_rows as f64))
            .collect();
        writeln!(
            stdout,
            "  classes {}; threshold {}",
            balance.join(", "),
            r.threshold
        )?;
        print_runs(
            &mut stdout,
            &r.cv,
            &r.feature_importance,
            &r.permutation_importance,
            r.permutation_metric,
            grid.as_ref(),
            comparison.as_ref(),
        )?;
        if !at_risk.is_empty() {
            let pos = &shown_classes[classes.len() - 1];
            writeln!(
                stdout,
                "  at risk (not {} = {pos} yet, likeliest to be):",
                crate::text::escape(&target_col)
            )?;
            for v in &at_risk {
                writeln!(
                    stdout,
                    "    {:<16} {:.3}",
                    crate::text::escape(v["id"].as_str().unwrap_or("")),
                    v["probability"].as_f64().unwrap_or(0.0)
                )?;
            }
        }
        if let Some(t) = tree_text(&esc_all(&names), &esc_all(classes)) {
            write!(stdout, "{t}")?;
        }
    }
    Ok(())
}

/// `crmlens predict` on a value target: a regressor, its test metrics beside the mean and
/// median baseline, cross-validation, importances, the customers predicted highest.
/// Where a regression's rows come from: a column of the input's table, or the next period
/// of its transactions.
enum ValueSource<'a> {
    Column(&'a super::matrix::Matrix),
    Next(
        &'a crate::pipeline::next_period::NextPeriod,
        &'a crate::data::features::FeatureMatrix,
    ),
}

fn values(
    a: &PredictArgs,
    source: ValueSource,
    target_col: &str,
    grid_spec: Option<&Grid>,
    opts: &crate::data::write::ExportOptions,
) -> Result<()> {
    let (m, id_col, table, features) = match &source {
        ValueSource::Column(mx) => (&mx.m, mx.id_col.as_str(), &mx.table, mx.features.clone()),
        ValueSource::Next(np, m) => (
            *m,
            np.customer.as_str(),
            &np.table,
            crate::pipeline::next_period::FEATURES
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ),
    };
    let y = crate::data::features::target::values(table, target_col)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.matrix.input.display()))?;
    if m.values.nrows() != y.len() {
        bail!("the feature rows and the target rows differ; use --fill instead of drop here");
    }
    let params = a.settings.params();
    let grid = match grid_spec {
        Some(g) => Some(crate::analytics::regress::grid_search_values(
            m.values.view(),
            &y,
            &params,
            g,
            &Progress::new(),
        )?),
        None => None,
    };
    let comparison = match compared(a, &ModelKind::REGRESSORS) {
        Some(models) => Some(pipeline::predict::compare_values(
            m,
            &y,
            &a.settings,
            &models,
            &Progress::new(),
        )?),
        None => None,
    };
    let names = super::printable_features(m, &super::pii_columns(&a.matrix.input, table));
    let started = Instant::now();
    let y_len = y.len();
    let p = pipeline::predict::run_values(m, &names, target_col, y, &params, &Progress::new())?;
    let seconds = started.elapsed().as_secs_f64();
    let r = &p.run;
    if let (Some(path), Some(fitted), ValueSource::Column(mx)) = (&a.save_model, &r.fitted, &source)
    {
        use crate::pipeline::saved::{Model, SavedModel, ValueModel};
        let saved = SavedModel::new(
            &mx.trained_on(),
            Model::Regress(ValueModel {
                target: target_col.to_string(),
                fitted: fitted.clone(),
            }),
        )?;
        saved.save(path, a.export.force)?;
    }
    if let Some(out) = &a.out {
        let mut test = vec![false; r.predictions.len()];
        for &t in &r.test_rows {
            test[t] = true;
        }
        crate::export::write_values(
            out,
            id_col,
            &m.keys,
            &crate::export::Values {
                actual: Some(&p.y),
                predicted: &r.predictions,
                test: Some(&test),
            },
            None,
            opts,
        )?;
    }
    let ids = m.keys.cast(&DataType::String)?;
    let ids = ids.str()?;
    let shown_id = |i: usize| super::shown_id(ids.get(i).unwrap_or(""), opts);
    let top: Vec<serde_json::Value> = p
        .top
        .iter()
        .take(a.top)
        .map(|&i| {
            serde_json::json!({
                "id": shown_id(i),
                "predicted": r.predictions[i],
                "actual": p.y[i],
            })
        })
        .collect();
    let importance: Vec<serde_json::Value> = r
        .feature_importance
        .iter()
        .map(|(f, v)| serde_json::json!({"feature": f, "importance": v}))
        .collect();
    let permutation: Vec<serde_json::Value> = r
        .permutation_importance
        .iter()
        .map(|p| serde_json::json!({"feature": p.feature, "mean": p.mean, "std": p.std}))
        .collect();
    let mut stdout = super::out::stdout();
    if a.json {
        let v = serde_json::json!({
            "task": "regression",
            "model": r.model,
            "input": a.matrix.input.display().to_string(),
            "target": target_col,
            "features": features,
            "n_rows": r.n_rows,
            "test_rows": r.test_rows.len(),
            "test": r.test,
            "cv": r.cv,
            "folds": a.settings.folds,
            // Always predicting the training mean (RMSE, R²) or median (MAE) on the test rows.
            "baseline": r.baseline,
            // The model's own: split gain (trees), |coefficient| x spread (linear).
            "importance": importance,
            // Drop in test R² when a feature's test values are shuffled.
            "permutation_importance": permutation,
            "permutation_metric": "r2",
            "coefficients": r.coefficients.as_ref().map(|(b, w)| serde_json::json!({
                "intercept": b,
                "features": w.iter().map(|(f, c)| serde_json::json!({"feature": f, "coefficient": c})).collect::<Vec<_>>(),
            })),
            "top_predicted": top,
            "grid": grid,
            "compare": comparison,
            "gbdt": r.boosting,
            "seed": a.settings.seed,
            "seconds": (seconds * 1000.0).round() / 1000.0,
        });
        let mut v = v;
        if let (ValueSource::Next(np, _), Some(o)) = (&source, v.as_object_mut()) {
            o.insert("next_period".into(), next_json(np, y_len));
            o.insert(
                "lifetime_model".into(),
                serde_json::json!({
                    "model": np.target.lifetime_model(),
                    "test": np.clv_metrics(&r.test_rows),
                }),
            );
        }
        stdout.json(&v)?;
        return Ok(());
    }
    let t = &r.test;
    let b = &r.baseline;
    writeln!(
        stdout,
        "{} for {} on {} rows ({} test): MAE {:.3} (median baseline {:.3}), RMSE {:.3} (mean baseline {:.3}), R² {:.3}",
        crate::analytics::regress::describe(&params),
        crate::text::escape(target_col),
        r.n_rows,
        r.test_rows.len(),
        t.mae,
        b.mae,
        t.rmse,
        b.rmse,
        t.r2
    )?;
    if let ValueSource::Next(np, _) = &source {
        let c = np.clv_metrics(&r.test_rows);
        writeln!(
            stdout,
            "  next period: {} from {} to {} ({} days) of {} customers; {} on the same test customers: MAE {:.3}, RMSE {:.3}, R² {:.3}",
            np.target,
            np.calibration_end,
            np.observation_end,
            np.days,
            y_len,
            np.target.lifetime_model(),
            c.mae,
            c.rmse,
            c.r2
        )?;
    }
    if let Some(s) = t.top_decile_share {
        writeln!(
            stdout,
            "  the tenth predicted highest hold {:.1}% of the test rows' total {}",
            100.0 * s,
            crate::text::escape(target_col)
        )?;
    }
    print_runs(
        &mut stdout,
        &r.cv,
        &r.feature_importance,
        &r.permutation_importance,
        "r2",
        grid.as_ref(),
        comparison.as_ref(),
    )?;
    if !top.is_empty() {
        writeln!(stdout, "  highest predicted (predicted, actual):")?;
        for v in &top {
            writeln!(
                stdout,
                "    {:<16} {:>12.2} {:>12.2}",
                crate::text::escape(v["id"].as_str().unwrap_or("")),
                v["predicted"].as_f64().unwrap_or(0.0),
                v["actual"].as_f64().unwrap_or(0.0)
            )?;
        }
    }
    Ok(())
}

fn next_json(np: &crate::pipeline::next_period::NextPeriod, customers: usize) -> serde_json::Value {
    serde_json::json!({
        "target": np.target,
        "column": np.target.column(),
        "calibration_end": np.calibration_end.to_string(),
        "observation_end": np.observation_end.to_string(),
        "days": np.days,
        "customers": customers,
        // First purchase after the calibration end: no history to predict from.
        "excluded": np.excluded,
        "features": crate::pipeline::next_period::FEATURES,
    })
}

/// `predict --next-period`: the features from the transactions up to the calibration end,
/// the target from those after it, a regressor, and BG/NBD on the same customers.
fn next_period(
    a: &PredictArgs,
    target: crate::pipeline::next_period::NextTarget,
    grid_spec: Option<&Grid>,
    opts: &crate::data::write::ExportOptions,
) -> Result<()> {
    if a.settings.target.is_some() {
        bail!(
            "--next-period builds its own target ({}); leave out --target",
            target.column()
        );
    }
    if !a.matrix.features.is_empty() || !a.matrix.categorical.is_empty() {
        bail!(
            "--next-period builds its features from the calibration window ({}); leave out --features and --categorical",
            crate::pipeline::next_period::FEATURES.join(", ")
        );
    }
    if a.settings.task == Some(Task::Classification) || a.positive.is_some() {
        bail!(
            "--next-period predicts a value (regression); leave out --task classification and --positive"
        );
    }
    if a.save_model.is_some() {
        bail!(
            "--save-model is not available with --next-period yet (its features come from transactions, which crmlens score does not build); save a model of a 360 column instead"
        );
    }
    pipeline::predict::check_model(a.settings.model, Task::Regression)?;
    for &m in a.compare.iter().flatten() {
        pipeline::predict::check_model(m, Task::Regression)?;
    }
    let columns = crate::pipeline::clv::ClvColumns {
        customer: a.cols.customer_col.clone(),
        date: a.cols.date_col.clone(),
        amount: a.amount_col.clone(),
        ..Default::default()
    };
    let window = crate::pipeline::clv::ClvSettings {
        calibration_end: a.calibration_end,
        observation_end: a.observation_end,
        ..Default::default()
    };
    let progress = Progress::new();
    let np = {
        let _bar = super::bar::show(&progress);
        crate::pipeline::next_period::build(&a.matrix.input, &columns, &window, target, &progress)?
    };
    let m = crate::pipeline::input::model_matrix(&np.table, &np.features)?;
    values(
        a,
        ValueSource::Next(&np, &m),
        target.column(),
        grid_spec,
        opts,
    )
}

/// The text lines every run prints after its test metrics: cross-validation, importance
/// (the model's own beside permutation, a drop in `drop_in`), the grid and the comparison (the
/// best lowest for RMSE, else highest).
fn print_runs(
    stdout: &mut super::out::Stdout,
    cv: &std::collections::BTreeMap<String, crate::analytics::predict::MeanStd>,
    importance: &[(String, f64)],
    permutation: &[crate::analytics::predict::Permutation],
    drop_in: &str,
    grid: Option<&crate::analytics::predict::GridResult>,
    comparison: Option<&crate::analytics::predict::Comparison>,
) -> Result<()> {
    for (k, v) in cv {
        writeln!(stdout, "  cv {k}: {:.3} ± {:.3}", v.mean, v.std)?;
    }
    writeln!(
        stdout,
        "  importance (model's own; permutation, drop in {drop_in}):"
    )?;
    for (f, v) in importance.iter().take(10) {
        let perm = permutation
            .iter()
            .find(|p| &p.feature == f)
            .map_or(String::new(), |p| format!("{:.3} ± {:.3}", p.mean, p.std));
        let f = crate::text::escape(f);
        writeln!(stdout, "  {f:<24} {v:.3}   {perm}")?;
    }
    let lower = |metric: &str| {
        if metric == "rmse" {
            ", lower is better"
        } else {
            ""
        }
    };
    if let Some(g) = grid {
        writeln!(
            stdout,
            "  grid search (cv {}{}):",
            g.metric,
            lower(g.metric)
        )?;
        for (i, row) in g.rows.iter().enumerate() {
            let setting = match row.alpha {
                Some(al) => format!("alpha {al}"),
                None => format!(
                    "depth {:>2}, min leaf {:>3}",
                    row.max_depth.unwrap_or(0),
                    row.min_leaf.unwrap_or(0)
                ),
            };
            let v = &row.cv[g.metric];
            let best = if i == g.best { "  best" } else { "" };
            writeln!(
                stdout,
                "    {setting:<24} {:.3} ± {:.3}{best}",
                v.mean, v.std
            )?;
        }
    }
    if let Some(c) = comparison {
        writeln!(
            stdout,
            "  models compared ({}-fold cv {}{}, same folds; seconds per fit):",
            c.folds,
            c.metric,
            lower(c.metric)
        )?;
        for (i, row) in c.rows.iter().enumerate() {
            let v = &row.cv[c.metric];
            let best = if i == c.best { "  best" } else { "" };
            writeln!(
                stdout,
                "    {:<10} {:.3} ± {:.3}  {:>7.2} s{best}",
                row.model.name(),
                v.mean,
                v.std,
                row.fit_seconds
            )?;
        }
    }
    Ok(())
}

/// The models `--compare` names (in order, each once), or every one of `all` when it names
/// none; None without `--compare`.
fn compared(a: &PredictArgs, all: &[ModelKind]) -> Option<Vec<ModelKind>> {
    a.compare.as_ref().map(|models| {
        let mut out: Vec<ModelKind> = Vec::new();
        for &m in if models.is_empty() { all } else { models } {
            if !out.contains(&m) {
                out.push(m);
            }
        }
        out
    })
}
