//! `crmlens score`: a saved model (`--save-model` of `segment`, `predict`, `clv` or `link`)
//! applied to new data, with how far each feature has drifted from the training data.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::pipeline::saved::{
    Drift, Joined, Lifetime, Linkage, Model, SavedModel, Segmentation, score, score_clv, score_link,
};
use crate::progress::Progress;

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// A model file written by --save-model of `segment`, `predict`, `clv` or `link`.
    #[arg(long)]
    pub model: PathBuf,
    /// What to score: for a segmentation or classifier, a data file or a workspace (.toml)
    /// whose customer-360 table is used; for a lifetime-value model, transactions (a file,
    /// or a workspace's orders); for a link model, the new records.
    #[arg(long)]
    pub input: PathBuf,
    /// The id column (default: the workspace's key, else the first column; for a link
    /// model, found as `crmlens link` finds it).
    #[arg(long = "id-col")]
    pub id_col: Option<String>,
    /// Lifetime-value model: value the customers as of this day (YYYY-MM-DD; default: the
    /// last purchase's day). The training run's calibration end gives its figures back.
    #[arg(long = "as-of", value_parser = crate::pipeline::clv::date)]
    pub as_of: Option<chrono::NaiveDate>,
    /// Link model: the person ids of the existing records (the link run's --clusters-out
    /// file: input, id, person_id).
    #[arg(long)]
    pub persons: Option<PathBuf>,
    /// Link model: the existing records, one file per flag (default: the files the model
    /// was linked on, as the model file names them). A file the model linked keeps its id
    /// column; another's is found as `crmlens link` finds it.
    #[arg(long)]
    pub against: Vec<PathBuf>,
    /// Write every row's id and result: `label` for a segmentation; `p_<class>` per class
    /// and `predicted` for a classifier (the columns of the training command's --out, without
    /// `actual`); the columns of `clv --out` for a lifetime-value model; for a link model the
    /// columns of `link --clusters-out` (input, id, person_id, cluster_size), then
    /// new_person, matched_id and probability (.csv, .parquet or .json).
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
    let fits = |flag: &str, given: bool, kind: &str| {
        if given && model.model.kind() != kind {
            anyhow::bail!(
                "{flag} is for a {kind} model; {} is a {} model",
                a.model.display(),
                model.model.kind()
            );
        }
        Ok(())
    };
    fits("--as-of", a.as_of.is_some(), "clv")?;
    fits("--persons", a.persons.is_some(), "link")?;
    fits("--against", !a.against.is_empty(), "link")?;
    match &model.model {
        Model::Clv(life) => return lifetime(&a, &model, life, &opts),
        Model::Link(link) => return join(&a, &model, link, &opts),
        Model::Segment(_) | Model::Predict(_) | Model::Regress(_) => {}
    }
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
    // A regressor's predicted values in brief.
    let mut summary: Option<BTreeMap<&str, f64>> = None;
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
                    test: None,
                };
                crate::export::write_scores(out, &id_col, keys, &s, None, &opts)?;
            }
            let name = match p.fitted {
                crate::analytics::predict::Fitted::Tree(_) => "tree",
                crate::analytics::predict::Fitted::Forest(_) => "forest",
                crate::analytics::predict::Fitted::Logistic(_) => "logistic",
                crate::analytics::predict::Fitted::Gbdt(_) => "gbdt",
                crate::analytics::predict::Fitted::Svm(_) => "svm",
                crate::analytics::predict::Fitted::Mlp(_) => "mlp",
            };
            ("predict", format!("{name} for {}", p.target))
        }
        Model::Regress(p) => {
            let values = scored.values.as_deref().unwrap_or_default();
            if let Some(out) = &a.out {
                crate::export::write_values(
                    out,
                    &id_col,
                    keys,
                    &crate::export::Values {
                        actual: None,
                        predicted: values,
                        test: None,
                    },
                    None,
                    &opts,
                )?;
            }
            summary = Some(value_summary(values));
            ("regress", format!("{} for {}", p.fitted.kind(), p.target))
        }
        Model::Clv(_) | Model::Link(_) => unreachable!("scored above"),
    };
    let mut stdout = super::out::stdout();
    if a.json {
        let v = merge(
            merge(
                common(&a, &model, &detail),
                serde_json::json!({
                    "schema_matches": schema_matches,
                    "n_rows": scored.matrix.values.nrows(),
                    "n_input_rows": n_input,
                    "n_dropped": scored.dropped,
                    "counts": counts,
                    "values": summary,
                }),
            ),
            drift_json(&scored.drift),
        );
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
        for (k, v) in summary.iter().flatten() {
            writeln!(stdout, "  predicted {k:<8} {v:>14.2}")?;
        }
        writeln!(
            stdout,
            "drift (population stability index against the training rows):"
        )?;
        print_drift(&mut stdout, &scored.drift)?;
    }
    Ok(())
}

/// Mean, median, min, max and total of predicted values.
fn value_summary(v: &[f64]) -> BTreeMap<&'static str, f64> {
    let n = v.len().max(1) as f64;
    let total: f64 = v.iter().sum();
    BTreeMap::from([
        ("mean", total / n),
        ("median", crate::analytics::regress::median(v.to_vec())),
        ("min", v.iter().copied().fold(f64::INFINITY, f64::min)),
        ("max", v.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
        ("total", total),
    ])
}

/// The largest population stability index and the features that shifted.
fn drift_summary(drift: &[Drift]) -> (f64, Vec<&str>) {
    let max_psi = drift.iter().map(|d| d.psi).fold(0.0f64, f64::max);
    let shifted = drift
        .iter()
        .filter(|d| d.status == "shifted")
        .map(|d| d.feature.as_str())
        .collect();
    (max_psi, shifted)
}

/// The drift keys of the JSON: `drift`, `max_psi`, `shifted`, `retrain`.
fn drift_json(drift: &[Drift]) -> serde_json::Value {
    let (max_psi, shifted) = drift_summary(drift);
    serde_json::json!({
        "drift": drift,
        "max_psi": super::round(max_psi, 6),
        "shifted": shifted,
        "retrain": !shifted.is_empty(),
    })
}

fn print_drift(stdout: &mut super::out::Stdout, drift: &[Drift]) -> Result<()> {
    for d in drift {
        writeln!(stdout, "  {:<24} {:>8.4}  {}", d.feature, d.psi, d.status)?;
    }
    let (_, shifted) = drift_summary(drift);
    if !shifted.is_empty() {
        writeln!(
            stdout,
            "retrain: {} shifted (PSI >= 0.25)",
            shifted.join(", ")
        )?;
    }
    Ok(())
}

/// The JSON keys every model kind reports.
fn common(a: &ScoreArgs, model: &SavedModel, detail: &str) -> serde_json::Value {
    serde_json::json!({
        "model": a.model.display().to_string(),
        "kind": model.model.kind(),
        "model_detail": detail,
        "trained_at": model.trained_at,
        "trained_by": model.crmlens_version,
        "training_rows": model.training.rows,
        "schema_fingerprint": model.training.schema_fingerprint,
        "input": a.input.display().to_string(),
    })
}

fn merge(mut base: serde_json::Value, more: serde_json::Value) -> serde_json::Value {
    if let (Some(b), serde_json::Value::Object(m)) = (base.as_object_mut(), more) {
        b.extend(m);
    }
    base
}

/// A lifetime-value model: every customer's figures as of the day asked.
fn lifetime(
    a: &ScoreArgs,
    model: &SavedModel,
    life: &Lifetime,
    opts: &crate::data::write::ExportOptions,
) -> Result<()> {
    let progress = Progress::new();
    let scored = {
        let _bar = super::bar::show(&progress);
        score_clv(model, life, &a.input, a.as_of, &progress)
            .map_err(|e| anyhow::anyhow!("{}: {e}", a.input.display()))?
    };
    let o = &scored.outcome;
    if let Some(out) = &a.out {
        super::clv::write_figures(o, out, opts)?;
    }
    let n = o.ids.len();
    let detail = format!(
        "BG/NBD + Gamma-Gamma, {} months at {}/month",
        life.horizon_months, life.discount_rate
    );
    let mut stdout = super::out::stdout();
    if a.json {
        let v = merge(
            common(a, model, &detail),
            serde_json::json!({
                "schema_matches": true,
                "as_of": o.calibration_end.to_string(),
                "calibration_end": life.calibration_end.to_string(),
                "n_rows": n,
                "excluded_customers": o.excluded,
                "dropped_lines": o.dropped_lines,
                "clv": {"total": o.stats.total, "mean": o.stats.total / n.max(1) as f64, "median": o.stats.median},
                "holdout": o.run.holdout,
            }),
        );
        let v = merge(v, drift_json(&scored.drift));
        stdout.json(&v)?;
    } else {
        writeln!(
            stdout,
            "{n} customers valued as of {} with the lifetime-value model ({detail}) fitted to {} on {} customers at {}",
            o.calibration_end, life.calibration_end, model.training.rows, model.trained_at
        )?;
        writeln!(
            stdout,
            "CLV: total {:.0}, mean {:.2}, median {:.2}",
            o.stats.total,
            o.stats.total / n.max(1) as f64,
            o.stats.median
        )?;
        if let Some(h) = &o.run.holdout {
            writeln!(
                stdout,
                "after {}: predicted {:.1} purchases, actual {:.0}",
                o.calibration_end, h.predicted_total, h.actual_total
            )?;
        }
        writeln!(
            stdout,
            "drift of the customer summary (population stability index against the training customers):"
        )?;
        print_drift(&mut stdout, &scored.drift)?;
    }
    Ok(())
}

/// A link model: the person each new record joins.
fn join(
    a: &ScoreArgs,
    model: &SavedModel,
    link: &Linkage,
    opts: &crate::data::write::ExportOptions,
) -> Result<()> {
    let Some(persons) = &a.persons else {
        anyhow::bail!(
            "a link model needs --persons FILE: the person ids of the records it joins new ones to (the link run's --clusters-out file)"
        );
    };
    let progress = Progress::new();
    let j = {
        let _bar = super::bar::show(&progress);
        score_link(
            link,
            &a.input,
            a.id_col.as_deref(),
            &a.against,
            persons,
            &progress,
        )?
    };
    let at = &j.attachment;
    let n = j.ids.len();
    let joined = at.matched.iter().filter(|m| m.is_some()).count();
    if let Some(out) = &a.out {
        let mut df = joined_frame(a, &j)?;
        crate::data::write::write_table(&mut df, out, None, opts)?;
    }
    let new_records = at.person.iter().filter(|p| **p > j.max_existing).count();
    let detail = format!(
        "{} fields, threshold {}",
        link.comparison.fields.join(", "),
        link.comparison.threshold
    );
    let mut stdout = super::out::stdout();
    if a.json {
        let v = merge(
            common(a, model, &detail),
            serde_json::json!({
                "schema_matches": true,
                "n_rows": n,
                "existing_records": j.existing_ids.len(),
                "existing_people": j.existing_people,
                "joined": n - new_records,
                "matched": joined,
                "new_records": new_records,
                "new_people": at.new_people,
                "conflicts": at.conflicts,
                "compared_pairs": at.compared,
                "counts": {"existing person": n - new_records, "new person": new_records},
            }),
        );
        stdout.json(&v)?;
    } else {
        writeln!(
            stdout,
            "{n} new records against {} existing records of {} people: {} join an existing person, {new_records} make {} new people ({} pairs compared)",
            j.existing_ids.len(),
            j.existing_people,
            n - new_records,
            at.new_people,
            at.compared
        )?;
        if at.conflicts > 0 {
            writeln!(
                stdout,
                "{} new records matched more than one existing person; each joined its most probable match",
                at.conflicts
            )?;
        }
    }
    Ok(())
}

/// The new records with their person: the columns of `link --clusters-out`, then whether
/// the person is new, the existing record matched and the match probability.
fn joined_frame(a: &ScoreArgs, j: &Joined) -> Result<polars::prelude::DataFrame> {
    use polars::prelude::{Column, DataFrame};
    let at = &j.attachment;
    let n = j.ids.len();
    let mut sizes: BTreeMap<u32, u32> = BTreeMap::new();
    for p in j.existing_persons.iter().chain(&at.person) {
        *sizes.entry(*p).or_default() += 1;
    }
    let input = a.input.display().to_string();
    Ok(DataFrame::new(
        n,
        vec![
            Column::new("input".into(), vec![input; n]),
            Column::new("id".into(), j.ids.clone()),
            Column::new("person_id".into(), at.person.clone()),
            Column::new(
                "cluster_size".into(),
                at.person.iter().map(|p| sizes[p]).collect::<Vec<u32>>(),
            ),
            Column::new(
                "new_person".into(),
                at.person
                    .iter()
                    .map(|p| *p > j.max_existing)
                    .collect::<Vec<bool>>(),
            ),
            Column::new(
                "matched_id".into(),
                at.matched
                    .iter()
                    .map(|m| m.map(|(e, _)| j.existing_ids[e].1.clone()))
                    .collect::<Vec<Option<String>>>(),
            ),
            Column::new(
                "probability".into(),
                at.matched
                    .iter()
                    .map(|m| m.map(|(_, q)| q))
                    .collect::<Vec<Option<f64>>>(),
            ),
        ],
    )?)
}
