//! A prediction run: a stratified train/test split, the chosen model fitted on the training
//! rows and measured on the test rows, stratified k-fold cross-validation (mean and standard
//! deviation per metric), the majority-class baseline, feature importance, and every row's
//! predicted probabilities.
//!
//! Trees and forests bin the features once over all rows (bin edges only; no labels), which
//! the folds share.

use std::collections::BTreeMap;

use ndarray::{ArrayView2, Axis};
use serde::Serialize;

use super::error::AnalyticsError;
use super::evaluation::{ConfusionMatrix, log_loss, roc_auc, stratified_kfold, stratified_split};
use super::forest::{Forest, ForestParams, fit_forest};
use super::logistic::{Logistic, LogisticParams, fit_logistic};
use super::tree::{Binned, Tree, TreeParams, fit_tree};
use crate::progress::Progress;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    #[default]
    Forest,
    Tree,
    Logistic,
}

impl ModelKind {
    pub fn parse(s: &str) -> Option<ModelKind> {
        match s {
            "tree" => Some(ModelKind::Tree),
            "forest" => Some(ModelKind::Forest),
            "logistic" => Some(ModelKind::Logistic),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PredictParams {
    pub model: ModelKind,
    pub tree: TreeParams,
    pub n_trees: usize,
    pub logistic: LogisticParams,
    pub folds: usize,
    pub test_size: f64,
    pub seed: u64,
}

impl Default for PredictParams {
    fn default() -> Self {
        PredictParams {
            model: ModelKind::Forest,
            tree: TreeParams::default(),
            n_trees: 100,
            logistic: LogisticParams::default(),
            folds: 5,
            test_size: 0.25,
            seed: 42,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub accuracy: f64,
    pub balanced_accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Binary: of class 1's probability; more classes: the mean one-vs-rest AUC.
    pub roc_auc: Option<f64>,
    pub log_loss: f64,
    pub confusion_matrix: Vec<Vec<u64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeanStd {
    pub mean: f64,
    pub std: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictRun {
    pub model: ModelKind,
    pub n_rows: usize,
    pub test: Metrics,
    pub cv: BTreeMap<String, MeanStd>,
    /// Accuracy of always predicting the most frequent training class, on the test rows.
    pub baseline_accuracy: f64,
    /// (feature, importance), highest first.
    pub feature_importance: Vec<(String, f64)>,
    /// Every row's class probabilities from the model fitted on the training rows.
    pub probabilities: Vec<Vec<f64>>,
    /// The fitted decision tree (tree model only), for showing it as text.
    pub tree: Option<Tree>,
    pub test_rows: Vec<usize>,
}

enum Fitted {
    Tree(Tree),
    Forest(Forest),
    Logistic(Logistic),
}

impl Fitted {
    fn proba(&self, x: ArrayView2<f64>, rows: &[usize]) -> Vec<Vec<f64>> {
        match self {
            Fitted::Tree(t) => rows
                .iter()
                .map(|&r| t.predict_proba(&x.row(r).to_vec()))
                .collect(),
            Fitted::Forest(f) => rows
                .iter()
                .map(|&r| f.predict_proba(&x.row(r).to_vec()))
                .collect(),
            Fitted::Logistic(m) => m
                .predict_proba(x.select(Axis(0), rows).view())
                .outer_iter()
                .map(|r| r.to_vec())
                .collect(),
        }
    }

    fn importance(&self) -> Vec<f64> {
        match self {
            Fitted::Tree(t) => t.importance.clone(),
            Fitted::Forest(f) => f.importance.clone(),
            Fitted::Logistic(m) => m.importance.clone(),
        }
    }
}

fn fit(
    x: ArrayView2<f64>,
    binned: Option<&Binned>,
    y: &[usize],
    classes: usize,
    rows: &[usize],
    p: &PredictParams,
    progress: &Progress,
) -> Result<Fitted, AnalyticsError> {
    Ok(match p.model {
        ModelKind::Tree => Fitted::Tree(fit_tree(
            binned.expect("binned"),
            y,
            classes,
            rows,
            &p.tree,
        )?),
        ModelKind::Forest => Fitted::Forest(fit_forest(
            binned.expect("binned"),
            y,
            classes,
            rows,
            &ForestParams {
                n_trees: p.n_trees,
                tree: p.tree.clone(),
                seed: p.seed,
            },
            progress,
        )?),
        ModelKind::Logistic => Fitted::Logistic(fit_logistic(x, y, classes, rows, &p.logistic)?),
    })
}

fn argmax(p: &[f64]) -> usize {
    let mut best = 0;
    for (c, v) in p.iter().enumerate() {
        if *v > p[best] {
            best = c;
        }
    }
    best
}

/// The metrics of probabilities `proba` for the true classes `actual`.
pub fn metrics(actual: &[usize], proba: &[Vec<f64>], classes: usize) -> Metrics {
    let predicted: Vec<usize> = proba.iter().map(|p| argmax(p)).collect();
    let cm = ConfusionMatrix::new(actual, &predicted, classes);
    let (precision, recall, f1) = cm.precision_recall_f1();
    let roc_auc = if classes == 2 {
        let pos: Vec<bool> = actual.iter().map(|&a| a == 1).collect();
        let score: Vec<f64> = proba.iter().map(|p| p[1]).collect();
        roc_auc(&pos, &score)
    } else {
        let aucs: Vec<f64> = (0..classes)
            .filter_map(|c| {
                let pos: Vec<bool> = actual.iter().map(|&a| a == c).collect();
                let score: Vec<f64> = proba.iter().map(|p| p[c]).collect();
                roc_auc(&pos, &score)
            })
            .collect();
        (!aucs.is_empty()).then(|| aucs.iter().sum::<f64>() / aucs.len() as f64)
    };
    Metrics {
        accuracy: cm.accuracy(),
        balanced_accuracy: cm.balanced_accuracy(),
        precision,
        recall,
        f1,
        roc_auc,
        log_loss: log_loss(actual, proba),
        confusion_matrix: cm.counts,
    }
}

/// Runs the split, the model, cross-validation and the baseline on `x` (scaled features
/// named `names`) with classes `y` (0..classes).
pub fn run_prediction(
    x: ArrayView2<f64>,
    names: &[String],
    y: &[usize],
    classes: usize,
    p: &PredictParams,
    progress: &Progress,
) -> Result<PredictRun, AnalyticsError> {
    let n = x.nrows();
    if classes < 2 || y.iter().collect::<std::collections::HashSet<_>>().len() < 2 {
        return Err(AnalyticsError::Input(
            "the target has a single class; a model needs two or more".into(),
        ));
    }
    let binned =
        matches!(p.model, ModelKind::Tree | ModelKind::Forest).then(|| Binned::new(x, 256));
    let (train, test) = stratified_split(y, p.test_size, p.seed)?;
    let folds = stratified_kfold(y, p.folds, p.seed)?;
    progress.start("prediction: cross-validation", p.folds as u64 + 1);
    let mut per_metric: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (tr, te) in &folds {
        progress.check().map_err(|_| AnalyticsError::Cancelled)?;
        let m = fit(x, binned.as_ref(), y, classes, tr, p, &Progress::new())?;
        let actual: Vec<usize> = te.iter().map(|&r| y[r]).collect();
        let got = metrics(&actual, &m.proba(x, te), classes);
        let mut put = |k: &str, v: f64| per_metric.entry(k.to_string()).or_default().push(v);
        put("accuracy", got.accuracy);
        put("balanced_accuracy", got.balanced_accuracy);
        put("precision", got.precision);
        put("recall", got.recall);
        put("f1", got.f1);
        if let Some(a) = got.roc_auc {
            put("roc_auc", a);
        }
        put("log_loss", got.log_loss);
        progress.advance(1);
    }
    let cv = per_metric
        .into_iter()
        .map(|(k, v)| {
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
            (
                k,
                MeanStd {
                    mean,
                    std: var.sqrt(),
                },
            )
        })
        .collect();
    progress.label("prediction: the model on the training rows");
    let model = fit(x, binned.as_ref(), y, classes, &train, p, progress)?;
    let all: Vec<usize> = (0..n).collect();
    let probabilities = model.proba(x, &all);
    let actual: Vec<usize> = test.iter().map(|&r| y[r]).collect();
    let test_proba: Vec<Vec<f64>> = test.iter().map(|&r| probabilities[r].clone()).collect();
    let test_metrics = metrics(&actual, &test_proba, classes);
    let mut train_counts = vec![0usize; classes];
    for &r in &train {
        train_counts[y[r]] += 1;
    }
    let majority = argmax(&train_counts.iter().map(|&c| c as f64).collect::<Vec<_>>());
    let baseline_accuracy =
        actual.iter().filter(|&&a| a == majority).count() as f64 / actual.len() as f64;
    let mut feature_importance: Vec<(String, f64)> =
        names.iter().cloned().zip(model.importance()).collect();
    feature_importance.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let tree = match &model {
        Fitted::Tree(t) => Some(t.clone()),
        _ => None,
    };
    progress.advance(1);
    Ok(PredictRun {
        model: p.model,
        n_rows: n,
        test: test_metrics,
        cv,
        baseline_accuracy,
        feature_importance,
        probabilities,
        tree,
        test_rows: test,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn data(n: usize) -> (Array2<f64>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let x = Array2::from_shape_fn((n, 3), |_| rng.gen_range(-2.0..2.0));
        let y = (0..n)
            .map(|i| {
                usize::from(x[[i, 0]] - 0.5 * x[[i, 1]] + 0.4 * rng.gen_range(-1.0..1.0) > 0.8)
            })
            .collect();
        (x, y)
    }

    #[test]
    fn every_model_beats_the_baseline_and_reports_cv() {
        let (x, y) = data(1200);
        let names: Vec<String> = ["a", "b", "noise"].iter().map(|s| s.to_string()).collect();
        for model in [ModelKind::Tree, ModelKind::Forest, ModelKind::Logistic] {
            let p = PredictParams {
                model,
                n_trees: 20,
                tree: TreeParams {
                    max_depth: 5,
                    ..TreeParams::default()
                },
                ..PredictParams::default()
            };
            let r = run_prediction(x.view(), &names, &y, 2, &p, &Progress::new()).unwrap();
            assert!(
                r.test.roc_auc.unwrap() > 0.9,
                "{model:?}: {:?}",
                r.test.roc_auc
            );
            assert!(r.test.accuracy > r.baseline_accuracy, "{model:?}");
            let acc = &r.cv["accuracy"];
            assert!(
                acc.mean > r.baseline_accuracy && acc.std < 0.1,
                "{model:?}: {acc:?}"
            );
            assert!(r.cv["roc_auc"].mean > 0.85);
            assert_eq!(r.feature_importance.last().unwrap().0, "noise", "{model:?}");
            let cm_total: u64 = r.test.confusion_matrix.iter().flatten().sum();
            assert_eq!(cm_total as usize, r.test_rows.len());
            assert_eq!(r.probabilities.len(), 1200);
            // Deterministic per seed.
            let again = run_prediction(x.view(), &names, &y, 2, &p, &Progress::new()).unwrap();
            assert_eq!(r, again);
        }
    }

    #[test]
    fn one_class_is_refused() {
        let (x, _) = data(50);
        let y = vec![0usize; 50];
        let e = run_prediction(
            x.view(),
            &[],
            &y,
            2,
            &PredictParams::default(),
            &Progress::new(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("single class"), "{e}");
    }
}
