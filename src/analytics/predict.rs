//! A prediction run: a stratified train/test split, the chosen model fitted on the training
//! rows and measured on the test rows, stratified k-fold cross-validation (mean and standard
//! deviation per metric), the majority-class baseline, feature importance (the model's own
//! and permutation importance on the test rows), ROC and precision-recall curves, and every
//! row's predicted probabilities. [`grid_search`] cross-validates a small grid of parameters.
//!
//! Trees and forests bin the features once over all rows (bin edges only; no labels), which
//! the folds share.

use std::collections::BTreeMap;

use ndarray::{Array2, ArrayView2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::AnalyticsError;
use super::evaluation::{
    ConfusionMatrix, PrPoint, RocPoint, average_precision, log_loss, pr_curve, roc_auc, roc_curve,
    stratified_kfold, stratified_split, thin,
};
use super::forest::{Forest, ForestParams, fit_forest};
use super::gbdt::{Gbdt, GbdtParams, fit_gbdt_classifier};
use super::logistic::{Logistic, LogisticParams, fit_logistic};
use super::mlp::{Mlp, MlpParams, fit_mlp};
use super::svm::{LinearSvm, SvmParams, fit_svm};
use super::tree::{Binned, Tree, TreeParams, fit_tree};
use crate::progress::Progress;

/// Test rows that permutation importance scores at most (a seeded sample beyond that).
pub const PERMUTATION_ROWS: usize = 10_000;
/// Shuffles per feature for permutation importance.
pub const PERMUTATION_REPEATS: usize = 5;
/// Points kept of the ROC and precision-recall curves.
pub const CURVE_POINTS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ModelKind {
    #[default]
    Forest,
    Tree,
    Logistic,
    Gbdt,
    Svm,
    Mlp,
    /// Values only: ordinary least squares, or ridge with alpha above 0.
    Linear,
}

crate::choice!(ModelKind { Forest => "forest", Tree => "tree", Logistic => "logistic", Gbdt => "gbdt", Svm => "svm", Mlp => "mlp", Linear => "linear" | "ols" | "ridge" });

impl ModelKind {
    pub fn title(self) -> &'static str {
        match self {
            ModelKind::Forest => "random forest",
            ModelKind::Tree => "decision tree",
            ModelKind::Logistic => "logistic regression",
            ModelKind::Gbdt => "gradient boosting",
            ModelKind::Svm => "linear SVM",
            ModelKind::Mlp => "neural network",
            ModelKind::Linear => "linear regression",
        }
    }

    /// The models that predict classes, in menu order.
    pub const CLASSIFIERS: [ModelKind; 6] = [
        ModelKind::Forest,
        ModelKind::Tree,
        ModelKind::Logistic,
        ModelKind::Gbdt,
        ModelKind::Svm,
        ModelKind::Mlp,
    ];

    /// The models that predict values, in menu order.
    pub const REGRESSORS: [ModelKind; 4] = [
        ModelKind::Linear,
        ModelKind::Tree,
        ModelKind::Forest,
        ModelKind::Gbdt,
    ];

    /// The models for `task`, in menu order.
    pub fn for_task(task: Task) -> &'static [ModelKind] {
        match task {
            Task::Classification => &Self::CLASSIFIERS,
            Task::Regression => &Self::REGRESSORS,
        }
    }

    /// Whether the model can do `task`.
    pub fn does(self, task: Task) -> bool {
        Self::for_task(task).contains(&self)
    }

    /// Whether the model is linear in the features, regularised by `alpha`.
    pub fn linear(self) -> bool {
        matches!(
            self,
            ModelKind::Logistic | ModelKind::Svm | ModelKind::Linear
        )
    }

    /// Whether the model splits binned features (trees, forests, boosting).
    pub fn binned(self) -> bool {
        matches!(self, ModelKind::Tree | ModelKind::Forest | ModelKind::Gbdt)
    }
}

/// What is predicted: a class (churned or not) or a value (next quarter's spend).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Task {
    #[default]
    Classification,
    Regression,
}

crate::choice!(Task { Classification => "classification" | "classify", Regression => "regression" | "regress" });

#[derive(Debug, Clone, PartialEq)]
pub struct PredictParams {
    pub model: ModelKind,
    pub tree: TreeParams,
    pub n_trees: usize,
    pub logistic: LogisticParams,
    /// Boosting; its depth, min leaf and seed are `tree`'s and `seed`.
    pub gbdt: GbdtParams,
    /// The neural network; its early stopping is `gbdt`'s and its seed `seed`.
    pub mlp: MlpParams,
    pub folds: usize,
    pub test_size: f64,
    pub seed: u64,
    /// Two classes: a row is called class 1 when its probability of class 1 is at least
    /// this. More classes: the most probable class (the threshold is not used).
    pub threshold: f64,
}

impl Default for PredictParams {
    fn default() -> Self {
        PredictParams {
            model: ModelKind::Forest,
            tree: TreeParams::default(),
            n_trees: 100,
            logistic: LogisticParams::default(),
            gbdt: GbdtParams::default(),
            mlp: MlpParams::default(),
            folds: 5,
            test_size: 0.25,
            seed: 42,
            threshold: 0.5,
        }
    }
}

impl PredictParams {
    /// Every parameter within its range (`super::limits`, the rules a workspace and the
    /// command line are held to), or an error naming the first that is not.
    pub fn check(&self) -> Result<(), AnalyticsError> {
        use super::limits;
        limits::MAX_DEPTH.named("max_depth", self.tree.max_depth)?;
        limits::MIN_LEAF.named("min_leaf", self.tree.min_samples_leaf)?;
        if self.model == ModelKind::Forest {
            limits::TREES.named("trees", self.n_trees)?;
        }
        limits::ALPHA.named("alpha", self.logistic.alpha)?;
        if self.model == ModelKind::Svm && self.logistic.alpha <= 0.0 {
            return Err(AnalyticsError::Input(
                "alpha 0: a linear SVM needs alpha above 0 (its C is 1 / alpha)".into(),
            ));
        }
        match self.model {
            ModelKind::Gbdt => super::gbdt::check(&self.boosting())?,
            ModelKind::Mlp => super::mlp::check(&self.network())?,
            _ => {}
        }
        limits::FOLDS.named("folds", self.folds)?;
        limits::TEST_SIZE.named("test_size", self.test_size)?;
        limits::THRESHOLD.named("threshold", self.threshold)?;
        Ok(())
    }

    /// One line naming the model and its parameters.
    pub fn describe(&self) -> String {
        match self.model {
            ModelKind::Tree => format!(
                "decision tree (depth {}, min leaf {}, {})",
                self.tree.max_depth,
                self.tree.min_samples_leaf,
                self.tree.criterion.name()
            ),
            ModelKind::Forest => format!(
                "random forest ({} trees, depth {}, min leaf {})",
                self.n_trees, self.tree.max_depth, self.tree.min_samples_leaf
            ),
            ModelKind::Logistic => {
                format!("logistic regression (alpha {})", self.logistic.alpha)
            }
            ModelKind::Mlp => format!(
                "neural network (hidden {:?}, {} epochs at most{}, dropout {}, weight decay {})",
                self.mlp.hidden,
                self.mlp.epochs,
                if self.gbdt.early_stopping {
                    ", early stopping"
                } else {
                    ""
                },
                self.mlp.dropout,
                self.mlp.l2
            ),
            ModelKind::Linear if self.logistic.alpha == 0.0 => "least squares".to_string(),
            ModelKind::Linear => format!("ridge regression (alpha {})", self.logistic.alpha),
            ModelKind::Svm => format!(
                "linear SVM (alpha {}, C {})",
                self.logistic.alpha,
                1.0 / self.logistic.alpha
            ),
            ModelKind::Gbdt => format!(
                "gradient boosting ({} rounds at most{}, learning rate {}, {} leaves, depth {}, min leaf {})",
                self.gbdt.rounds,
                if self.gbdt.early_stopping {
                    ", early stopping"
                } else {
                    ""
                },
                self.gbdt.learning_rate,
                self.gbdt.max_leaves,
                self.tree.max_depth,
                self.tree.min_samples_leaf
            ),
        }
    }

    /// The network's parameters with the shared early stopping and seed.
    pub fn network(&self) -> MlpParams {
        MlpParams {
            early_stopping: self.gbdt.early_stopping,
            validation_fraction: self.gbdt.validation_fraction,
            patience: self.gbdt.patience,
            seed: self.seed,
            ..self.mlp.clone()
        }
    }

    /// The boosting parameters with the shared depth, min leaf and seed.
    pub fn boosting(&self) -> GbdtParams {
        GbdtParams {
            max_depth: self.tree.max_depth,
            min_leaf: self.tree.min_samples_leaf,
            seed: self.seed,
            ..self.gbdt.clone()
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

/// The ROC and precision-recall curves of class 1 on the test rows (two classes only),
/// thinned to at most [`CURVE_POINTS`] points each.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curves {
    pub roc: Vec<RocPoint>,
    pub pr: Vec<PrPoint>,
    pub average_precision: f64,
}

/// How much the score drops when one feature's test values are shuffled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Permutation {
    pub feature: String,
    pub mean: f64,
    pub std: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictRun {
    pub model: ModelKind,
    pub n_rows: usize,
    /// Rows per class (all rows), to show the imbalance.
    pub class_counts: Vec<usize>,
    pub threshold: f64,
    pub test: Metrics,
    pub cv: BTreeMap<String, MeanStd>,
    /// Accuracy of always predicting the most frequent training class, on the test rows.
    pub baseline_accuracy: f64,
    /// The model's own importance, (feature, importance), highest first: impurity decrease
    /// for trees and forests, |coefficient| on the scaled features for logistic regression.
    pub feature_importance: Vec<(String, f64)>,
    /// Permutation importance on the test rows, highest first.
    pub permutation_importance: Vec<Permutation>,
    /// What permutation importance measures the drop of: "roc_auc" or "accuracy".
    pub permutation_metric: &'static str,
    pub curves: Option<Curves>,
    /// Every row's class probabilities from the model fitted on the training rows.
    pub probabilities: Vec<Vec<f64>>,
    /// The fitted decision tree (tree model only), for showing it as text.
    pub tree: Option<Tree>,
    /// Boosting: the rounds kept (early stopping's choice) of how many allowed.
    pub boosting: Option<Boosting>,
    /// The neural network: the epochs kept of how many allowed.
    pub network: Option<Network>,
    /// The model fitted on the training rows (what `probabilities` come from).
    #[serde(skip)]
    pub fitted: Option<Fitted>,
    pub test_rows: Vec<usize>,
}

impl PredictRun {
    /// The class each row is called, with the run's threshold.
    pub fn predicted(&self) -> Vec<usize> {
        self.probabilities
            .iter()
            .map(|p| decide(p, self.threshold))
            .collect()
    }
}

/// What boosting chose.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Boosting {
    /// Rounds kept: the best validation round with early stopping, else all.
    pub rounds: usize,
    pub max_rounds: usize,
    pub early_stopping: bool,
    /// The validation loss at the rounds kept (early stopping only).
    pub validation_loss: Option<f64>,
}

/// What the neural network's training chose.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Network {
    /// Epochs kept: the best validation epoch with early stopping, else all.
    pub epochs: usize,
    pub max_epochs: usize,
    pub early_stopping: bool,
    /// The validation log loss at the epoch kept (early stopping only).
    pub validation_loss: Option<f64>,
}

/// A fitted model: what a saved model keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum Fitted {
    Tree(Tree),
    Forest(Forest),
    Logistic(Logistic),
    Gbdt(Gbdt),
    Svm(LinearSvm),
    Mlp(Mlp),
}

impl Fitted {
    /// Class probabilities of every row of `x` (scaled features in the fit's order).
    pub fn predict_proba(&self, x: ArrayView2<f64>) -> Vec<Vec<f64>> {
        let all: Vec<usize> = (0..x.nrows()).collect();
        self.proba(x, &all)
    }

    fn proba(&self, x: ArrayView2<f64>, rows: &[usize]) -> Vec<Vec<f64>> {
        match self {
            // A row at a time, in parallel (each row's probabilities are its own).
            Fitted::Tree(t) => rows
                .par_iter()
                .map(|&r| t.predict_proba(&x.row(r).to_vec()))
                .collect(),
            Fitted::Forest(f) => rows
                .par_iter()
                .map(|&r| f.predict_proba(&x.row(r).to_vec()))
                .collect(),
            Fitted::Logistic(m) => m
                .predict_proba(x.select(Axis(0), rows).view())
                .outer_iter()
                .map(|r| r.to_vec())
                .collect(),
            Fitted::Gbdt(g) => g.proba_rows(x, rows),
            Fitted::Mlp(m) => m.predict_proba(x.select(Axis(0), rows).view()),
            Fitted::Svm(m) => rows
                .par_iter()
                .map(|&r| m.predict_proba(x.row(r).as_slice().unwrap_or(&x.row(r).to_vec())))
                .collect(),
        }
    }

    fn importance(&self) -> Vec<f64> {
        match self {
            Fitted::Tree(t) => t.importance.clone(),
            Fitted::Forest(f) => f.importance.clone(),
            Fitted::Logistic(m) => m.importance.clone(),
            Fitted::Gbdt(g) => g.importance.clone(),
            Fitted::Svm(m) => m.importance.clone(),
            Fitted::Mlp(m) => m.importance.clone(),
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
    progress.check().map_err(|_| AnalyticsError::Cancelled)?;
    let fitted = match p.model {
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
        ModelKind::Mlp => Fitted::Mlp(fit_mlp(x, y, classes, rows, &p.network(), progress)?),
        ModelKind::Svm => Fitted::Svm(fit_svm(
            x,
            y,
            classes,
            rows,
            &SvmParams {
                c: 1.0 / p.logistic.alpha,
                seed: p.seed,
                ..SvmParams::default()
            },
            progress,
        )?),
        ModelKind::Gbdt => Fitted::Gbdt(fit_gbdt_classifier(
            binned.expect("binned"),
            y,
            classes,
            rows,
            &p.boosting(),
            progress,
        )?),
        ModelKind::Linear => {
            return Err(AnalyticsError::Input(
                "linear regression predicts values, not classes; for classes use logistic".into(),
            ));
        }
    };
    // A forest advanced once per tree, boosting once per round, a network once per epoch.
    if !matches!(
        p.model,
        ModelKind::Forest | ModelKind::Gbdt | ModelKind::Mlp
    ) {
        progress.advance(1);
    }
    Ok(fitted)
}

/// Progress units of one fit: a forest's trees, boosting's rounds, else 1.
fn fit_units(p: &PredictParams) -> u64 {
    match p.model {
        ModelKind::Forest => p.n_trees.max(1) as u64,
        ModelKind::Gbdt => Gbdt::units(&p.gbdt),
        ModelKind::Mlp => p.mlp.epochs.max(1) as u64,
        _ => 1,
    }
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

/// The class of probabilities `p`: with two classes, 1 when p[1] >= `threshold`.
pub fn decide(p: &[f64], threshold: f64) -> usize {
    if p.len() == 2 {
        usize::from(p[1] >= threshold)
    } else {
        argmax(p)
    }
}

/// The metrics of probabilities `proba` for the true classes `actual`, two classes cut at
/// `threshold`.
pub fn metrics(actual: &[usize], proba: &[Vec<f64>], classes: usize, threshold: f64) -> Metrics {
    let predicted: Vec<usize> = proba.iter().map(|p| decide(p, threshold)).collect();
    let cm = ConfusionMatrix::new(actual, &predicted, classes);
    let (precision, recall, f1) = cm.precision_recall_f1();
    Metrics {
        accuracy: cm.accuracy(),
        balanced_accuracy: cm.balanced_accuracy(),
        precision,
        recall,
        f1,
        roc_auc: auc(actual, proba, classes),
        log_loss: log_loss(actual, proba),
        confusion_matrix: cm.counts,
    }
}

/// ROC-AUC of class 1 (two classes) or the mean one-vs-rest AUC.
fn auc(actual: &[usize], proba: &[Vec<f64>], classes: usize) -> Option<f64> {
    let one = |c: usize| {
        let pos: Vec<bool> = actual.iter().map(|&a| a == c).collect();
        let score: Vec<f64> = proba.iter().map(|p| p[c]).collect();
        roc_auc(&pos, &score)
    };
    if classes == 2 {
        return one(1);
    }
    let aucs: Vec<f64> = (0..classes).filter_map(one).collect();
    (!aucs.is_empty()).then(|| aucs.iter().sum::<f64>() / aucs.len() as f64)
}

fn check_target(y: &[usize], classes: usize) -> Result<(), AnalyticsError> {
    if classes < 2 || y.iter().collect::<std::collections::HashSet<_>>().len() < 2 {
        return Err(AnalyticsError::Input(
            "the target has a single class; a model needs two or more".into(),
        ));
    }
    Ok(())
}

fn binned_for(x: ArrayView2<f64>, model: ModelKind) -> Option<Binned> {
    model.binned().then(|| Binned::new(x, 256))
}

pub(crate) fn mean_std(v: &[f64]) -> MeanStd {
    let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len().max(1) as f64;
    MeanStd {
        mean,
        std: var.sqrt(),
    }
}

/// Stratified k-fold cross-validation of `p` on `folds`: each metric's mean and std.
/// `progress` advances [`fit_units`] per fold.
#[allow(clippy::too_many_arguments)]
fn cross_validate(
    x: ArrayView2<f64>,
    binned: Option<&Binned>,
    y: &[usize],
    classes: usize,
    folds: &[super::evaluation::Split],
    p: &PredictParams,
    progress: &Progress,
) -> Result<BTreeMap<String, MeanStd>, AnalyticsError> {
    let mut per_metric: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (tr, te) in folds {
        let m = fit(x, binned, y, classes, tr, p, progress)?;
        let actual: Vec<usize> = te.iter().map(|&r| y[r]).collect();
        let got = metrics(&actual, &m.proba(x, te), classes, p.threshold);
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
    }
    Ok(per_metric
        .into_iter()
        .map(|(k, v)| (k, mean_std(&v)))
        .collect())
}

/// Permutation importance of `model` on (a seeded sample of at most [`PERMUTATION_ROWS`] of)
/// the test rows: per feature, the mean and std over [`PERMUTATION_REPEATS`] shuffles of the
/// drop in ROC-AUC (two classes) or accuracy (more).
#[allow(clippy::too_many_arguments)]
fn permutation_importance(
    model: &Fitted,
    x: ArrayView2<f64>,
    y: &[usize],
    classes: usize,
    test: &[usize],
    names: &[String],
    seed: u64,
    threshold: f64,
) -> Vec<Permutation> {
    let rows = permutation_rows(test, seed);
    let sub: Array2<f64> = x.select(Axis(0), &rows);
    let actual: Vec<usize> = rows.iter().map(|&r| y[r]).collect();
    let all: Vec<usize> = (0..rows.len()).collect();
    let score = |m: &Array2<f64>| {
        let proba = model.proba(m.view(), &all);
        if classes == 2
            && let Some(a) = auc(&actual, &proba, 2)
        {
            return a;
        }
        metrics(&actual, &proba, classes, threshold).accuracy
    };
    permutation_drops(&sub, names, seed, score)
}

/// The test rows permutation importance scores: all, or a seeded sample of
/// [`PERMUTATION_ROWS`] of them, ascending.
pub(crate) fn permutation_rows(test: &[usize], seed: u64) -> Vec<usize> {
    let mut rows = test.to_vec();
    if rows.len() > PERMUTATION_ROWS {
        rows.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        rows.truncate(PERMUTATION_ROWS);
        rows.sort_unstable();
    }
    rows
}

/// Per feature of `sub` (named `names`), the mean and std over [`PERMUTATION_REPEATS`]
/// seeded shuffles of that column of how much `score` drops; highest first.
pub(crate) fn permutation_drops(
    sub: &Array2<f64>,
    names: &[String],
    seed: u64,
    score: impl Fn(&Array2<f64>) -> f64 + Sync,
) -> Vec<Permutation> {
    let base = score(sub);
    let mut out: Vec<Permutation> = (0..sub.ncols())
        .into_par_iter()
        .map(|j| {
            let drops: Vec<f64> = (0..PERMUTATION_REPEATS)
                .map(|r| {
                    let mut rng = ChaCha8Rng::seed_from_u64(
                        seed ^ ((j as u64) << 20) ^ (r as u64 + 1).wrapping_mul(0x9E37_79B9),
                    );
                    let mut col: Vec<f64> = sub.column(j).to_vec();
                    col.shuffle(&mut rng);
                    let mut m = sub.clone();
                    for (i, v) in col.into_iter().enumerate() {
                        m[[i, j]] = v;
                    }
                    base - score(&m)
                })
                .collect();
            let ms = mean_std(&drops);
            Permutation {
                feature: names.get(j).cloned().unwrap_or_else(|| format!("x{j}")),
                mean: ms.mean,
                std: ms.std,
            }
        })
        .collect();
    out.sort_by(|a, b| b.mean.total_cmp(&a.mean).then(a.feature.cmp(&b.feature)));
    out
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
    check_target(y, classes)?;
    p.check()?;
    if !(p.threshold > 0.0 && p.threshold < 1.0) {
        return Err(AnalyticsError::Input(format!(
            "threshold {} must be between 0 and 1 (exclusive)",
            p.threshold
        )));
    }
    let binned = binned_for(x, p.model);
    let (train, test) = stratified_split(y, p.test_size, p.seed)?;
    let folds = stratified_kfold(y, p.folds, p.seed)?;
    let units = fit_units(p);
    progress.start(
        &format!("{}-fold cross-validation", p.folds),
        (p.folds as u64 + 1) * units + 1,
    );
    let cv = cross_validate(x, binned.as_ref(), y, classes, &folds, p, progress)?;
    progress.label("the model on the training rows");
    let model = fit(x, binned.as_ref(), y, classes, &train, p, progress)?;
    progress.check().map_err(|_| AnalyticsError::Cancelled)?;
    progress.label("permutation importance on the test rows");
    let all: Vec<usize> = (0..n).collect();
    let probabilities = model.proba(x, &all);
    let actual: Vec<usize> = test.iter().map(|&r| y[r]).collect();
    let test_proba: Vec<Vec<f64>> = test.iter().map(|&r| probabilities[r].clone()).collect();
    let test_metrics = metrics(&actual, &test_proba, classes, p.threshold);
    let mut class_counts = vec![0usize; classes];
    for &c in y {
        class_counts[c] += 1;
    }
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
    let permutation =
        permutation_importance(&model, x, y, classes, &test, names, p.seed, p.threshold);
    let curves = (classes == 2).then(|| {
        let pos: Vec<bool> = actual.iter().map(|&a| a == 1).collect();
        let score: Vec<f64> = test_proba.iter().map(|q| q[1]).collect();
        Curves {
            roc: thin(&roc_curve(&pos, &score), CURVE_POINTS),
            pr: thin(&pr_curve(&pos, &score), CURVE_POINTS),
            average_precision: average_precision(&pos, &score),
        }
    });
    let tree = match &model {
        Fitted::Tree(t) => Some(t.clone()),
        _ => None,
    };
    let boosting = match &model {
        Fitted::Gbdt(g) => Some(Boosting {
            rounds: g.rounds(),
            max_rounds: p.gbdt.rounds,
            early_stopping: !g.validation_loss.is_empty(),
            validation_loss: g.validation_loss.get(g.rounds().saturating_sub(1)).copied(),
        }),
        _ => None,
    };
    let network = match &model {
        Fitted::Mlp(m) => Some(Network {
            epochs: m.epochs,
            max_epochs: p.mlp.epochs,
            early_stopping: !m.validation_loss.is_empty(),
            validation_loss: m.validation_loss.get(m.epochs.saturating_sub(1)).copied(),
        }),
        _ => None,
    };
    progress.advance(1);
    Ok(PredictRun {
        model: p.model,
        n_rows: n,
        class_counts,
        threshold: p.threshold,
        test: test_metrics,
        cv,
        baseline_accuracy,
        feature_importance,
        permutation_importance: permutation,
        permutation_metric: if classes == 2 { "roc_auc" } else { "accuracy" },
        curves,
        probabilities,
        tree,
        boosting,
        network,
        fitted: Some(model),
        test_rows: test,
    })
}

/// The `n` rows most likely to be `class`, most likely first (ties: lower row first).
pub fn top_rows(probabilities: &[Vec<f64>], class: usize, n: usize) -> Vec<usize> {
    top_of((0..probabilities.len()).collect(), probabilities, class, n)
}

/// The at-risk list: the `n` rows not (yet) of `class` that the model finds most likely to
/// be, most likely first. For churn these are the customers still active who look most like
/// those who left.
pub fn at_risk(probabilities: &[Vec<f64>], y: &[usize], class: usize, n: usize) -> Vec<usize> {
    let idx = (0..probabilities.len())
        .filter(|&i| y[i] != class)
        .collect();
    top_of(idx, probabilities, class, n)
}

fn top_of(mut idx: Vec<usize>, probabilities: &[Vec<f64>], class: usize, n: usize) -> Vec<usize> {
    let p = |i: usize| probabilities[i].get(class).copied().unwrap_or(0.0);
    if n < idx.len() {
        idx.select_nth_unstable_by(n, |&a, &b| p(b).total_cmp(&p(a)).then(a.cmp(&b)));
        idx.truncate(n);
    }
    idx.sort_by(|&a, &b| p(b).total_cmp(&p(a)).then(a.cmp(&b)));
    idx
}

/// The parameter values a grid search tries: depth x min leaf for trees, forests and
/// boosting, alpha
/// for logistic regression.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub max_depth: Vec<usize>,
    pub min_leaf: Vec<usize>,
    pub alpha: Vec<f64>,
}

impl Default for Grid {
    fn default() -> Self {
        Grid {
            max_depth: vec![3, 5, 8, 12],
            min_leaf: vec![1, 10, 50],
            alpha: vec![0.01, 0.1, 1.0, 10.0, 100.0],
        }
    }
}

impl Grid {
    /// The parameter sets for `base`'s model, in table order.
    pub fn cells(&self, base: &PredictParams) -> Vec<PredictParams> {
        match base.model {
            ModelKind::Logistic | ModelKind::Svm | ModelKind::Linear => self
                .alpha
                .iter()
                .map(|&alpha| {
                    let mut p = base.clone();
                    p.logistic.alpha = alpha;
                    p
                })
                .collect(),
            ModelKind::Mlp => Vec::new(),
            ModelKind::Tree | ModelKind::Forest | ModelKind::Gbdt => self
                .max_depth
                .iter()
                .flat_map(|&d| self.min_leaf.iter().map(move |&l| (d, l)))
                .map(|(d, l)| {
                    let mut p = base.clone();
                    p.tree.max_depth = d;
                    p.tree.min_samples_leaf = l.max(1);
                    p
                })
                .collect(),
        }
    }
}

/// One parameter set of a grid search and its cross-validated metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GridRow {
    pub max_depth: Option<usize>,
    pub min_leaf: Option<usize>,
    pub alpha: Option<f64>,
    pub cv: BTreeMap<String, MeanStd>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GridResult {
    pub model: ModelKind,
    pub rows: Vec<GridRow>,
    /// The metric `best` is chosen by: "roc_auc" (two classes) or "accuracy".
    pub metric: &'static str,
    /// Index into `rows` of the highest mean `metric` (the first of equals).
    pub best: usize,
}

/// Cross-validates every parameter set of `grid` for `base`'s model on the same stratified
/// folds; progress advances one fit's units per fold of each set.
pub fn grid_search(
    x: ArrayView2<f64>,
    y: &[usize],
    classes: usize,
    base: &PredictParams,
    grid: &Grid,
    progress: &Progress,
) -> Result<GridResult, AnalyticsError> {
    check_target(y, classes)?;
    if base.model == ModelKind::Mlp {
        return Err(AnalyticsError::Input(
            "no grid search for the neural network yet (grids cover tree, forest, gbdt, logistic and svm); try its hidden layers, dropout and weight decay by hand".into(),
        ));
    }
    let cells = grid.cells(base);
    if cells.is_empty() {
        return Err(AnalyticsError::Input("the grid is empty".into()));
    }
    for p in &cells {
        p.check()?;
    }
    let binned = binned_for(x, base.model);
    let folds = stratified_kfold(y, base.folds, base.seed)?;
    progress.start(
        &format!(
            "grid search: {} settings x {} folds",
            cells.len(),
            base.folds
        ),
        (cells.len() * base.folds) as u64 * fit_units(base),
    );
    let metric = if classes == 2 { "roc_auc" } else { "accuracy" };
    let mut rows = Vec::with_capacity(cells.len());
    for p in &cells {
        let cv = cross_validate(x, binned.as_ref(), y, classes, &folds, p, progress)?;
        let logistic = p.model.linear();
        rows.push(GridRow {
            max_depth: (!logistic).then_some(p.tree.max_depth),
            min_leaf: (!logistic).then_some(p.tree.min_samples_leaf),
            alpha: logistic.then_some(p.logistic.alpha),
            cv,
        });
    }
    let value = |r: &GridRow| r.cv.get(metric).map_or(f64::NEG_INFINITY, |m| m.mean);
    let mut best = 0;
    for (i, r) in rows.iter().enumerate() {
        if value(r) > value(&rows[best]) {
            best = i;
        }
    }
    Ok(GridResult {
        model: base.model,
        rows,
        metric,
        best,
    })
}

/// One model of a comparison: its cross-validated metrics and the mean seconds of one fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareRow {
    pub model: ModelKind,
    /// The model and its parameters in words.
    pub setting: String,
    pub cv: BTreeMap<String, MeanStd>,
    /// Mean wall seconds to fit one fold's model (not part of the result's equality in
    /// tests: it is a measurement).
    pub fit_seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub rows: Vec<CompareRow>,
    /// The metric `best` is chosen by: "roc_auc" (two classes) or "accuracy".
    pub metric: &'static str,
    /// Index into `rows` of the highest mean `metric` (the first of equals).
    pub best: usize,
    pub folds: usize,
}

/// `cells` with the first one's folds and seed, so every model is cross-validated on the
/// same folds; an error when there is none.
pub(crate) fn same_folds(cells: &[PredictParams]) -> Result<Vec<PredictParams>, AnalyticsError> {
    let Some(base) = cells.first() else {
        return Err(AnalyticsError::Input("no model to compare".into()));
    };
    Ok(cells
        .iter()
        .map(|p| PredictParams {
            folds: base.folds,
            seed: base.seed,
            ..p.clone()
        })
        .collect())
}

/// Cross-validates every model of `cells` (each with its own parameters; the folds and seed
/// are the first's) on the same stratified folds, the folds a run of each uses; one table.
/// Progress advances one fit's units per fold of each model.
pub fn compare_models(
    x: ArrayView2<f64>,
    y: &[usize],
    classes: usize,
    cells: &[PredictParams],
    progress: &Progress,
) -> Result<Comparison, AnalyticsError> {
    check_target(y, classes)?;
    let cells = same_folds(cells)?;
    let base = &cells[0];
    let models: Vec<ModelKind> = cells.iter().map(|p| p.model).collect();
    for p in &cells {
        p.check()?;
    }
    let folds = stratified_kfold(y, base.folds, base.seed)?;
    let total: u64 = cells.iter().map(fit_units).sum::<u64>() * base.folds as u64;
    progress.start(
        &format!("comparing {} models on {} folds", cells.len(), base.folds),
        total,
    );
    let binned = models
        .iter()
        .any(|m| m.binned())
        .then(|| Binned::new(x, 256));
    let metric = if classes == 2 { "roc_auc" } else { "accuracy" };
    let mut rows = Vec::with_capacity(cells.len());
    for p in &cells {
        progress.label(&format!("cross-validating the {}", p.model.title()));
        let started = std::time::Instant::now();
        let cv = cross_validate(x, binned.as_ref(), y, classes, &folds, p, progress)?;
        rows.push(CompareRow {
            model: p.model,
            setting: p.describe(),
            cv,
            fit_seconds: started.elapsed().as_secs_f64() / folds.len() as f64,
        });
    }
    let value = |r: &CompareRow| r.cv.get(metric).map_or(f64::NEG_INFINITY, |m| m.mean);
    let mut best = 0;
    for (i, r) in rows.iter().enumerate() {
        if value(r) > value(&rows[best]) {
            best = i;
        }
    }
    Ok(Comparison {
        rows,
        metric,
        best,
        folds: base.folds,
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
        for model in ModelKind::CLASSIFIERS {
            let p = PredictParams {
                model,
                n_trees: 20,
                gbdt: GbdtParams {
                    rounds: 40,
                    ..GbdtParams::default()
                },
                mlp: MlpParams {
                    epochs: 30,
                    ..MlpParams::default()
                },
                tree: TreeParams {
                    max_depth: 5,
                    ..TreeParams::default()
                },
                ..PredictParams::default()
            };
            let progress = Progress::new();
            let r = run_prediction(x.view(), &names, &y, 2, &p, &progress).unwrap();
            // The gauge ends full: every fit's units were counted.
            let (done, total, _) = progress.snapshot();
            assert_eq!(done, total, "{model:?}");
            let cancelled = Progress::new();
            cancelled.cancel();
            assert_eq!(
                run_prediction(x.view(), &names, &y, 2, &p, &cancelled).unwrap_err(),
                AnalyticsError::Cancelled
            );
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
    fn permutation_importance_ranks_the_signal_and_curves_end_at_one() {
        let (x, y) = data(1500);
        let names: Vec<String> = ["a", "b", "noise"].iter().map(|s| s.to_string()).collect();
        let p = PredictParams {
            model: ModelKind::Logistic,
            ..PredictParams::default()
        };
        let r = run_prediction(x.view(), &names, &y, 2, &p, &Progress::new()).unwrap();
        assert_eq!(r.permutation_metric, "roc_auc");
        let perm: Vec<&str> = r
            .permutation_importance
            .iter()
            .map(|p| p.feature.as_str())
            .collect();
        assert_eq!(perm, vec!["a", "b", "noise"]);
        // y depends on a twice as strongly as on b; shuffling noise changes nothing much.
        let imp = |f: &str| {
            r.permutation_importance
                .iter()
                .find(|p| p.feature == f)
                .unwrap()
                .mean
        };
        assert!(
            imp("a") > 0.2 && imp("a") > imp("b"),
            "{:?}",
            r.permutation_importance
        );
        assert!(imp("noise").abs() < 0.01, "{:?}", r.permutation_importance);
        let c = r.curves.as_ref().unwrap();
        let last = c.roc.last().unwrap();
        assert_eq!((c.roc[0].fpr, c.roc[0].tpr), (0.0, 0.0));
        assert_eq!((last.fpr, last.tpr), (1.0, 1.0));
        assert!(c.roc.len() <= CURVE_POINTS && c.pr.len() <= CURVE_POINTS);
        assert_eq!(c.pr.last().unwrap().recall, 1.0);
        assert!(c.average_precision > 0.7 && c.average_precision <= 1.0);
        assert_eq!(r.class_counts.iter().sum::<usize>(), 1500);
        assert_eq!(r.class_counts[1], y.iter().filter(|&&c| c == 1).count());
    }

    #[test]
    fn the_threshold_trades_precision_for_recall() {
        let (x, y) = data(1500);
        let names: Vec<String> = ["a", "b", "noise"].iter().map(|s| s.to_string()).collect();
        let at = |threshold: f64| {
            let p = PredictParams {
                model: ModelKind::Logistic,
                threshold,
                ..PredictParams::default()
            };
            run_prediction(x.view(), &names, &y, 2, &p, &Progress::new()).unwrap()
        };
        let (low, mid, high) = (at(0.2), at(0.5), at(0.8));
        assert!(low.test.recall > mid.test.recall && mid.test.recall > high.test.recall);
        assert!(low.test.precision < high.test.precision);
        // The threshold moves the calls, not the probabilities or the AUC.
        assert_eq!(low.probabilities, high.probabilities);
        assert_eq!(low.test.roc_auc, high.test.roc_auc);
        // The confusion matrix counts the test rows the threshold calls positive.
        let called = |r: &PredictRun| {
            r.test_rows
                .iter()
                .filter(|&&i| r.probabilities[i][1] >= r.threshold)
                .count() as u64
        };
        assert_eq!(
            low.test.confusion_matrix[0][1] + low.test.confusion_matrix[1][1],
            called(&low)
        );
        assert_eq!(
            high.test.confusion_matrix[0][1] + high.test.confusion_matrix[1][1],
            called(&high)
        );
        let bad = PredictParams {
            threshold: 1.0,
            ..PredictParams::default()
        };
        assert!(run_prediction(x.view(), &names, &y, 2, &bad, &Progress::new()).is_err());
    }

    #[test]
    fn top_rows_match_a_full_sort() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let probs: Vec<Vec<f64>> = (0..500)
            .map(|_| {
                // Coarse values so ties happen.
                let p = (rng.gen_range(0.0..1.0f64) * 20.0).round() / 20.0;
                vec![1.0 - p, p]
            })
            .collect();
        let mut all: Vec<usize> = (0..500).collect();
        all.sort_by(|&a, &b| probs[b][1].total_cmp(&probs[a][1]).then(a.cmp(&b)));
        for n in [0, 1, 7, 100, 500, 900] {
            assert_eq!(
                top_rows(&probs, 1, n),
                all[..n.min(500)].to_vec(),
                "n = {n}"
            );
        }
    }

    #[test]
    fn grid_search_scores_every_setting_on_the_same_folds() {
        let (x, y) = data(900);
        let base = PredictParams {
            model: ModelKind::Tree,
            folds: 3,
            ..PredictParams::default()
        };
        let grid = Grid {
            max_depth: vec![1, 4],
            min_leaf: vec![1, 30],
            alpha: vec![],
        };
        let g = grid_search(x.view(), &y, 2, &base, &grid, &Progress::new()).unwrap();
        assert_eq!(g.rows.len(), 4);
        assert_eq!(
            g.rows
                .iter()
                .map(|r| (r.max_depth.unwrap(), r.min_leaf.unwrap()))
                .collect::<Vec<_>>(),
            vec![(1, 1), (1, 30), (4, 1), (4, 30)]
        );
        // Each row is exactly the cross-validation a run with those parameters reports.
        for (cell, row) in grid.cells(&base).iter().zip(&g.rows) {
            let run = run_prediction(x.view(), &[], &y, 2, cell, &Progress::new()).unwrap();
            assert_eq!(run.cv, row.cv);
        }
        let best = g.rows[g.best].cv["roc_auc"].mean;
        assert!(g.rows.iter().all(|r| r.cv["roc_auc"].mean <= best));
        // A depth-1 stump sees one feature and cannot rank as well as depth 4.
        assert!(g.rows[0].cv["roc_auc"].mean < g.rows[2].cv["roc_auc"].mean);
        let lg = grid_search(
            x.view(),
            &y,
            2,
            &PredictParams {
                model: ModelKind::Logistic,
                folds: 3,
                ..PredictParams::default()
            },
            &Grid::default(),
            &Progress::new(),
        )
        .unwrap();
        assert_eq!(lg.rows.len(), 5);
        assert!(
            lg.rows
                .iter()
                .all(|r| r.alpha.is_some() && r.max_depth.is_none())
        );
    }

    /// Each row of a comparison is exactly the cross-validation a run of that model reports
    /// (same folds), the best is the highest mean ROC-AUC, and the gauge ends full.
    #[test]
    fn a_comparison_cross_validates_every_model_on_the_same_folds() {
        let (x, y) = data(600);
        let base = PredictParams {
            folds: 3,
            n_trees: 10,
            gbdt: GbdtParams {
                rounds: 20,
                ..GbdtParams::default()
            },
            mlp: MlpParams {
                epochs: 10,
                ..MlpParams::default()
            },
            ..PredictParams::default()
        };
        let progress = Progress::new();
        let cells: Vec<PredictParams> = ModelKind::CLASSIFIERS
            .iter()
            .map(|&model| PredictParams {
                model,
                ..base.clone()
            })
            .collect();
        let c = compare_models(x.view(), &y, 2, &cells, &progress).unwrap();
        let (done, total, _) = progress.snapshot();
        assert_eq!(done, total);
        assert_eq!(c.rows.len(), ModelKind::CLASSIFIERS.len());
        for row in &c.rows {
            let p = PredictParams {
                model: row.model,
                ..base.clone()
            };
            let run = run_prediction(x.view(), &[], &y, 2, &p, &Progress::new()).unwrap();
            assert_eq!(run.cv, row.cv, "{:?}", row.model);
            assert!(row.fit_seconds >= 0.0);
        }
        let best = c.rows[c.best].cv["roc_auc"].mean;
        assert!(c.rows.iter().all(|r| r.cv["roc_auc"].mean <= best));
        assert_eq!(c.metric, "roc_auc");
        assert!(compare_models(x.view(), &y, 2, &[], &Progress::new()).is_err());
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
