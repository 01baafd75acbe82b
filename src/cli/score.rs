//! `crmlens score`: a saved model (`--save-model` of `segment` or `predict`) applied to new
//! rows, with how far each feature has drifted from the training data.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::pipeline::saved::{Model, SavedModel, Segmentation, score};
use crate::progress::Progress;

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// A model file written by `segment --save-model` or `predict --save-model`.
    #[arg(long)]
    pub model: PathBuf,
    /// The rows to score: a data file, or a workspace (.toml) whose customer-360 table is
    /// used.
    #[arg(long)]
    pub input: PathBuf,
    /// The id column (default: the workspace's key, else the first column).
    #[arg(long = "id-col")]
    pub id_col: Option<String>,
    /// Write every row's id and result: `label` for a segmentation, `p_<class>` per class
    /// and `predicted` for a classifier (the columns of the training command's --out, without
    /// `actual`) (.csv, .parquet or .json).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub export: super::ExportFlags,
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: ScoreArgs) -> Result<()> {
    let opts = a.export.options(a.out.as_deref(), Some(&a.input))?;
    let model = SavedModel::load(&a.model)?;
    let mut wanted = model.input_columns();
    if let Some(id) = &a.id_col {
        wanted.push(id.clone());
    }
    let progress = Progress::new();
    let (table, key) = {
        let _bar = super::bar::show(&progress);
        crate::pipeline::input::load_columns(&a.input, &wanted, a.id_col.is_none(), &progress)?
    };
    let id_col = super::id_column(&table, a.id_col.clone().or(key), &a.input)?;
    let n_input = table.height();
    // Whether the columns the model reads have the training types.
    let schema_matches = model.training.columns.iter().all(|c| {
        table
            .column(&c.name)
            .is_ok_and(|s| s.dtype().to_string() == c.dtype)
    });
    let scored =
        score(&model, table, &id_col).map_err(|e| anyhow::anyhow!("{}: {e}", a.input.display()))?;
    let keys = &scored.matrix.keys;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let (what, detail) = match &model.model {
        Model::Segment(s) => {
            let labels = scored.labels.clone().unwrap_or_default();
            for l in &labels {
                *counts.entry(l.to_string()).or_default() += 1;
            }
            if let Some(out) = &a.out {
                crate::export::write_labels(out, &id_col, keys, labels, &opts)?;
            }
            let algo = match s {
                Segmentation::Kmeans { .. } => "kmeans",
                Segmentation::Gmm { .. } => "gmm",
                Segmentation::Dbscan { .. } => "dbscan",
            };
            ("segment", algo.to_string())
        }
        Model::Predict(p) => {
            let proba = scored.probabilities.as_deref().unwrap_or_default();
            let predicted = scored.predicted.as_deref().unwrap_or_default();
            for &c in predicted {
                *counts.entry(p.classes[c].clone()).or_default() += 1;
            }
            if let Some(out) = &a.out {
                let s = crate::export::Scores {
                    classes: &p.classes,
                    actual: None,
                    probabilities: proba,
                    predicted,
                };
                crate::export::write_scores(out, &id_col, keys, &s, None, &opts)?;
            }
            let name = match p.fitted {
                crate::analytics::predict::Fitted::Tree(_) => "tree",
                crate::analytics::predict::Fitted::Forest(_) => "forest",
                crate::analytics::predict::Fitted::Logistic(_) => "logistic",
            };
            ("predict", format!("{name} for {}", p.target))
        }
    };
    let max_psi = scored.drift.iter().map(|d| d.psi).fold(0.0f64, f64::max);
    let shifted: Vec<&str> = scored
        .drift
        .iter()
        .filter(|d| d.status == "shifted")
        .map(|d| d.feature.as_str())
        .collect();
    let mut stdout = super::out::stdout();
    if a.json {
        let v = serde_json::json!({
            "model": a.model.display().to_string(),
            "kind": what,
            "model_detail": detail,
            "trained_at": model.trained_at,
            "trained_by": model.crmlens_version,
            "training_rows": model.training.rows,
            "schema_fingerprint": model.training.schema_fingerprint,
            "schema_matches": schema_matches,
            "input": a.input.display().to_string(),
            "n_rows": scored.matrix.values.nrows(),
            "n_input_rows": n_input,
            "n_dropped": scored.dropped,
            "counts": counts,
            "drift": scored.drift,
            "max_psi": super::round(max_psi, 6),
            "shifted": shifted,
            "retrain": !shifted.is_empty(),
        });
        stdout.json(&v)?;
    } else {
        writeln!(
            stdout,
            "{} rows scored with the {what} model ({detail}) trained on {} rows at {}",
            scored.matrix.values.nrows(),
            model.training.rows,
            model.trained_at
        )?;
        if scored.dropped > 0 {
            writeln!(
                stdout,
                "{} rows left out: a feature is missing (the model was trained with --fill drop)",
                scored.dropped
            )?;
        }
        for (k, n) in &counts {
            writeln!(stdout, "  {k:<16} {n:>10}")?;
        }
        writeln!(
            stdout,
            "drift (population stability index against the training rows):"
        )?;
        for d in &scored.drift {
            writeln!(stdout, "  {:<24} {:>8.4}  {}", d.feature, d.psi, d.status)?;
        }
        if !shifted.is_empty() {
            writeln!(
                stdout,
                "retrain: {} shifted (PSI >= 0.25)",
                shifted.join(", ")
            )?;
        }
    }
    Ok(())
}
