//! `crmlens predict`: a classifier for a target column, validated on a stratified test split
//! and by stratified k-fold cross-validation.

use std::io::Write as _;
use std::time::Instant;

use anyhow::{Result, bail};
use clap::Args;
use polars::prelude::{Column, DataFrame, DataType};

use super::MatrixArgs;
use crate::analytics::predict::{ModelKind, PredictParams, run_prediction};
use crate::analytics::tree::TreeParams;
use crate::progress::Progress;

#[derive(Debug, Args)]
pub struct PredictArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    /// The column to predict (two or more classes), e.g. churned.
    #[arg(long)]
    pub target: String,
    /// tree, forest (default) or logistic.
    #[arg(long, default_value = "forest")]
    pub model: String,
    /// Trees: the deepest split (default 8).
    #[arg(long = "max-depth", default_value_t = 8)]
    pub max_depth: usize,
    /// Trees: fewest training rows in a leaf.
    #[arg(long = "min-leaf", default_value_t = 1)]
    pub min_leaf: usize,
    /// Forest: number of trees.
    #[arg(long = "n-trees", default_value_t = 100)]
    pub n_trees: usize,
    /// Logistic: L2 regularisation strength.
    #[arg(long, default_value_t = 1.0)]
    pub alpha: f64,
    /// Cross-validation folds (stratified).
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Share of rows held out for the test metrics (stratified).
    #[arg(long = "test-size", default_value_t = 0.25)]
    pub test_size: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write every row's id, class probabilities and predicted class (.csv or .parquet).
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// The id column for --out (default: the workspace's key, else the first column).
    #[arg(long = "id-col")]
    pub id_col: Option<String>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: PredictArgs) -> Result<()> {
    let model = ModelKind::parse(&a.model)
        .ok_or_else(|| anyhow::anyhow!("--model {}: use tree, forest or logistic", a.model))?;
    if a.matrix.features.iter().any(|f| f.trim() == a.target) {
        bail!(
            "--target {} is also among --features; remove it from the features",
            a.target
        );
    }
    // The target's values, read from the same table the features come from.
    let (table, _) = crate::data::input::load_table(&a.matrix.input)?;
    let Ok(target) = table.column(&a.target) else {
        let have: Vec<String> = table
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        bail!(
            "{}: no target column `{}`; the table has: {}",
            a.matrix.input.display(),
            a.target,
            have.join(", ")
        );
    };
    let nulls = target.null_count();
    if nulls > 0 {
        bail!(
            "target `{}` has {nulls} missing values; drop those rows or fill them first",
            a.target
        );
    }
    let text = target.cast(&DataType::String)?;
    let values: Vec<String> = text
        .str()?
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect();
    let mut classes: Vec<String> = values.clone();
    classes.sort();
    classes.dedup();
    if classes.len() < 2 {
        bail!(
            "target `{}` has a single class ({}); a model needs two or more",
            a.target,
            classes.first().map_or("none", |s| s.as_str())
        );
    }
    let y_all: Vec<usize> = values
        .iter()
        .map(|v| classes.binary_search(v).expect("a class"))
        .collect();
    let (m, id_col, features) = super::feature_matrix(&a.matrix, a.id_col.clone(), true)?;
    if m.values.nrows() != y_all.len() {
        bail!("the feature rows and the target rows differ; use --fill instead of drop here");
    }
    let params = PredictParams {
        model,
        tree: TreeParams {
            max_depth: a.max_depth,
            min_samples_leaf: a.min_leaf.max(1),
            seed: a.seed,
            ..TreeParams::default()
        },
        n_trees: a.n_trees,
        logistic: crate::analytics::logistic::LogisticParams {
            alpha: a.alpha,
            ..Default::default()
        },
        folds: a.folds,
        test_size: a.test_size,
        seed: a.seed,
    };
    let started = Instant::now();
    let r = run_prediction(
        m.values.view(),
        &m.names,
        &y_all,
        classes.len(),
        &params,
        &Progress::new(),
    )?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(out) = &a.out {
        let mut cols = vec![m.keys.clone().with_name(id_col.as_str().into())];
        for (c, name) in classes.iter().enumerate() {
            let p: Vec<f64> = r.probabilities.iter().map(|row| row[c]).collect();
            cols.push(Column::new(format!("p_{name}").into(), p));
        }
        let predicted: Vec<String> = r
            .probabilities
            .iter()
            .map(|row| {
                let best = (0..row.len()).fold(0, |b, c| if row[c] > row[b] { c } else { b });
                classes[best].clone()
            })
            .collect();
        cols.push(Column::new("predicted".into(), predicted));
        let mut df = DataFrame::new_infer_height(cols)?;
        crate::data::export::write_table(&mut df, out)?;
    }
    let importance: Vec<serde_json::Value> = r
        .feature_importance
        .iter()
        .map(|(f, v)| serde_json::json!({"feature": f, "importance": v}))
        .collect();
    let tree_text = r
        .tree
        .as_ref()
        .map(|t| t.to_text(&m.names, &classes, &|f, v| m.transforms[f].to_original(v)));
    let mut stdout = std::io::stdout().lock();
    if a.json {
        let v = serde_json::json!({
            "model": r.model,
            "input": a.matrix.input.display().to_string(),
            "target": a.target,
            "features": features,
            "n_rows": r.n_rows,
            "classes": classes,
            "test": r.test,
            "test_rows": r.test_rows.len(),
            "cv": r.cv,
            "folds": a.folds,
            "baseline_accuracy": r.baseline_accuracy,
            "feature_importance": importance,
            // The decision tree as indented text, thresholds in the features' own units.
            "tree": tree_text,
            "seed": a.seed,
            "seconds": (seconds * 1000.0).round() / 1000.0,
        });
        writeln!(stdout, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        let t = &r.test;
        writeln!(
            stdout,
            "{} on {} rows ({} test): accuracy {:.3} (baseline {:.3}), balanced {:.3}, precision {:.3}, recall {:.3}, F1 {:.3}, ROC-AUC {}",
            a.model,
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
        for (k, v) in &r.cv {
            writeln!(stdout, "  cv {k}: {:.3} ± {:.3}", v.mean, v.std)?;
        }
        for (f, v) in r.feature_importance.iter().take(10) {
            writeln!(stdout, "  {f:<24} {v:.3}")?;
        }
        if let Some(t) = &tree_text {
            write!(stdout, "{t}")?;
        }
    }
    Ok(())
}
