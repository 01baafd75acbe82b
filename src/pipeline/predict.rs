//! Prediction: a classifier for a target column on the feature selection (the target left
//! out of it), validated on a stratified test split and by cross-validation, or the grid
//! search around the parameters; the same for the Predict screen, `crmlens predict` and the
//! report.

use polars::prelude::DataFrame;

use super::input::model_matrix;
use crate::analytics::evaluation::ConfusionMatrix;
use crate::analytics::predict::{
    Comparison, Grid, GridResult, PredictParams, PredictRun, at_risk, run_prediction,
};
use crate::data::features::FeatureMatrix;
use crate::data::features::target::Target;
use crate::data::sources::workspace::FeatureConfig;
use crate::progress::Progress;

use super::error::Result;
use super::settings::{Section, check_real, check_whole};
use crate::analytics::gbdt::GbdtParams;
use crate::analytics::gbdt::RegressionLoss;
use crate::analytics::limits;
use crate::analytics::logistic::LogisticParams;
use crate::analytics::mlp::MlpParams;
use crate::analytics::predict::{ModelKind, Task};
use crate::analytics::regress::{RegressionRun, run_regression, top_predicted};
use crate::analytics::tree::{Criterion, TreeParams};
use crate::choice::whole;
use serde::{Deserialize, Serialize};

/// The Predict analysis's settings: the `[predict]` section of a workspace, the flags of
/// `crmlens predict` and what the Predict screen edits. [`PredictSettings::params`] is the
/// models' view of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct PredictSettings {
    /// The column to predict: classes (e.g. churned) or a number (e.g. spend). Default: a
    /// two-class column named like churn, churned, attrition, exited, target, label or y.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// classification or regression. Default: regression when the target is a number with
    /// more than 50 distinct values or with fractions (an amount), else classification.
    #[arg(long, value_enum, ignore_case = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
    /// Classes: tree, forest (default), logistic, gbdt (gradient-boosted trees), svm
    /// (linear) or mlp (a neural network). Values: linear (least squares or ridge), tree,
    /// forest (default) or gbdt.
    #[arg(long, value_enum, ignore_case = true, default_value_t = ModelKind::Forest)]
    pub model: ModelKind,
    /// Forest: number of trees (1 to 10000).
    #[arg(long = "n-trees", default_value_t = 100, value_parser = whole::<usize>)]
    pub trees: usize,
    /// Trees: the deepest split (1 to 64, default 8).
    #[arg(long = "max-depth", default_value_t = 8, value_parser = whole::<usize>)]
    pub max_depth: usize,
    /// Trees and boosting: fewest training rows in a leaf (1 or more; default 1 for trees
    /// and forests, 20 for gbdt).
    #[arg(long = "min-leaf", value_parser = whole::<usize>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_leaf: Option<usize>,
    /// Trees: split quality, gini or entropy.
    #[arg(long, value_enum, ignore_case = true, default_value_t = Criterion::Gini)]
    pub criterion: Criterion,
    /// Logistic, svm and linear: L2 regularisation strength (scikit-learn's 1/C for logistic
    /// and svm, which need it above 0; ridge's alpha for linear). Default 1; 0 (least
    /// squares) for linear.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// Gbdt: rounds at most (1 to 10000).
    #[arg(long, default_value_t = 100, value_parser = whole::<usize>)]
    pub rounds: usize,
    /// Gbdt: shrinkage of each tree (0.0001 to 1).
    #[arg(long = "learning-rate", default_value_t = 0.1)]
    pub learning_rate: f64,
    /// Gbdt: leaves per tree (2 to 4096).
    #[arg(long = "max-leaves", default_value_t = 31, value_parser = whole::<usize>)]
    pub max_leaves: usize,
    /// Gbdt: L2 penalty on leaf values.
    #[arg(long, default_value_t = 0.0)]
    pub l2: f64,
    /// Gbdt on values: the loss, squared (default), absolute or huber.
    #[arg(long, value_enum, ignore_case = true, default_value_t = RegressionLoss::Squared)]
    pub loss: RegressionLoss,
    /// Gbdt: share of the training rows each tree sees (0.01 to 1).
    #[arg(long, default_value_t = 1.0)]
    pub subsample: f64,
    /// Gbdt: share of the features each tree may split on (0.01 to 1).
    #[arg(long, default_value_t = 1.0)]
    pub colsample: f64,
    /// Gbdt and mlp: stop when the loss on a validation split of the training rows has not
    /// improved for --patience rounds or epochs, keeping the best (true or false).
    #[arg(long = "early-stopping", default_value_t = true, action = clap::ArgAction::Set)]
    pub early_stopping: bool,
    /// Gbdt and mlp: share of the training rows held out for early stopping (0.01 to 0.5).
    #[arg(long = "validation-fraction", default_value_t = 0.1)]
    pub validation_fraction: f64,
    /// Gbdt and mlp: rounds or epochs without improvement before stopping (1 to 1000).
    #[arg(long, default_value_t = 10, value_parser = whole::<usize>)]
    pub patience: usize,
    /// Mlp: units per hidden layer, 1 to 3 layers (default 64,32).
    #[arg(long, value_delimiter = ',', default_values_t = vec![64, 32], value_parser = whole::<usize>)]
    pub hidden: Vec<usize>,
    /// Mlp: passes over the training rows at most (1 to 10000).
    #[arg(long, default_value_t = 100, value_parser = whole::<usize>)]
    pub epochs: usize,
    /// Mlp: rows per mini-batch.
    #[arg(long = "batch-size", default_value_t = 256, value_parser = whole::<usize>)]
    pub batch_size: usize,
    /// Mlp: share of each hidden layer's units dropped while training (0 to 0.9).
    #[arg(long, default_value_t = 0.1)]
    pub dropout: f64,
    /// Mlp: L2 penalty on the weights.
    #[arg(long = "weight-decay", default_value_t = 1e-4)]
    pub weight_decay: f64,
    /// Mlp: Adam's step size (scikit-learn's learning_rate_init).
    #[arg(long = "learning-rate-init", default_value_t = 1e-3)]
    pub learning_rate_init: f64,
    /// Two classes: call a row positive when its probability is at least this.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// Cross-validation folds (stratified, 2 to 50).
    #[arg(long, default_value_t = 5, value_parser = whole::<usize>)]
    pub folds: usize,
    /// Share of rows held out for the test metrics (stratified, 0.05 to 0.9).
    #[arg(long = "test-size", default_value_t = 0.25)]
    pub test_size: f64,
    /// Seed of the split, the folds and the forest.
    #[arg(long, default_value_t = 42, value_parser = whole::<u64>)]
    pub seed: u64,
}

impl Default for PredictSettings {
    fn default() -> Self {
        PredictSettings::of(&PredictParams::default(), None)
    }
}

impl PredictSettings {
    /// The fewest rows in a leaf: the setting, else the model's default (scikit-learn's and
    /// LightGBM's 20 for boosting, 1 for a tree or a forest).
    pub fn min_leaf(&self) -> usize {
        self.min_leaf
            .unwrap_or(if self.model == ModelKind::Gbdt { 20 } else { 1 })
    }

    /// The L2 strength: the setting, else the model's default (1; 0, least squares, for
    /// linear regression).
    pub fn alpha(&self) -> f64 {
        self.alpha.unwrap_or(default_alpha(self.model))
    }

    /// The models' parameters.
    pub fn params(&self) -> PredictParams {
        let d = PredictParams::default();
        PredictParams {
            model: self.model,
            tree: TreeParams {
                criterion: self.criterion,
                max_depth: self.max_depth,
                min_samples_leaf: self.min_leaf(),
                seed: self.seed,
                ..d.tree
            },
            n_trees: self.trees,
            logistic: LogisticParams {
                alpha: self.alpha(),
                ..d.logistic
            },
            gbdt: GbdtParams {
                learning_rate: self.learning_rate,
                rounds: self.rounds,
                max_leaves: self.max_leaves,
                l2: self.l2,
                subsample: self.subsample,
                colsample: self.colsample,
                early_stopping: self.early_stopping,
                validation_fraction: self.validation_fraction,
                patience: self.patience,
                loss: self.loss,
                ..d.gbdt
            },
            mlp: MlpParams {
                hidden: self.hidden.clone(),
                epochs: self.epochs,
                batch_size: self.batch_size,
                dropout: self.dropout,
                l2: self.weight_decay,
                learning_rate: self.learning_rate_init,
                ..d.mlp
            },
            folds: self.folds,
            test_size: self.test_size,
            seed: self.seed,
            threshold: self.threshold,
        }
    }

    /// The settings of `p` for `target`; the min leaf is left to the model's default.
    pub fn of(p: &PredictParams, target: Option<String>) -> PredictSettings {
        PredictSettings {
            target,
            task: None,
            model: p.model,
            trees: p.n_trees,
            max_depth: p.tree.max_depth,
            min_leaf: None,
            criterion: p.tree.criterion,
            alpha: (p.logistic.alpha != default_alpha(p.model)).then_some(p.logistic.alpha),
            loss: p.gbdt.loss,
            rounds: p.gbdt.rounds,
            learning_rate: p.gbdt.learning_rate,
            max_leaves: p.gbdt.max_leaves,
            l2: p.gbdt.l2,
            subsample: p.gbdt.subsample,
            colsample: p.gbdt.colsample,
            early_stopping: p.gbdt.early_stopping,
            validation_fraction: p.gbdt.validation_fraction,
            patience: p.gbdt.patience,
            hidden: p.mlp.hidden.clone(),
            epochs: p.mlp.epochs,
            batch_size: p.mlp.batch_size,
            dropout: p.mlp.dropout,
            weight_decay: p.mlp.l2,
            learning_rate_init: p.mlp.learning_rate,
            threshold: p.threshold,
            folds: p.folds,
            test_size: p.test_size,
            seed: p.seed,
        }
    }
}

/// The L2 strength a model gets when none is set: 0 (least squares) for linear regression,
/// else 1 (scikit-learn's C = 1).
pub fn default_alpha(model: ModelKind) -> f64 {
    if model == ModelKind::Linear { 0.0 } else { 1.0 }
}

impl Section for PredictSettings {
    const NAME: &'static str = "predict";

    fn out_of_range(&self) -> Vec<(&'static str, String)> {
        [
            check_whole("trees", self.trees, limits::TREES),
            check_whole("max_depth", self.max_depth, limits::MAX_DEPTH),
            check_whole("min_leaf", self.min_leaf(), limits::MIN_LEAF),
            check_real("alpha", self.alpha(), limits::ALPHA),
            check_whole("rounds", self.rounds, limits::ROUNDS),
            check_real("learning_rate", self.learning_rate, limits::LEARNING_RATE),
            check_whole("max_leaves", self.max_leaves, limits::MAX_LEAVES),
            check_real("l2", self.l2, limits::L2),
            check_real("subsample", self.subsample, limits::SAMPLE_SHARE),
            check_real("colsample", self.colsample, limits::SAMPLE_SHARE),
            check_real(
                "validation_fraction",
                self.validation_fraction,
                limits::VALIDATION_FRACTION,
            ),
            check_whole("patience", self.patience, limits::PATIENCE),
            check_whole("epochs", self.epochs, limits::EPOCHS),
            check_whole("batch_size", self.batch_size, limits::BATCH_SIZE),
            check_real("dropout", self.dropout, limits::DROPOUT),
            check_real("weight_decay", self.weight_decay, limits::L2),
            check_real(
                "learning_rate_init",
                self.learning_rate_init,
                limits::ADAM_LEARNING_RATE,
            ),
            check_real("threshold", self.threshold, limits::THRESHOLD),
            check_whole("folds", self.folds, limits::FOLDS),
            check_real("test_size", self.test_size, limits::TEST_SIZE),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// Customers kept in the at-risk list.
pub const AT_RISK: usize = 200;

/// A finished prediction run with what its users need to explain it.
#[derive(Debug, Clone)]
pub struct Prediction {
    pub target: String,
    pub classes: Vec<String>,
    /// Feature names (one-hot columns as `column=value`).
    pub names: Vec<String>,
    pub params: PredictParams,
    /// The run; `run.test` and `run.threshold` follow the threshold key.
    pub run: PredictRun,
    pub tree_text: Option<String>,
    /// Every row's actual class.
    pub y: Vec<usize>,
    /// The likeliest rows not already of the last class, most likely first.
    pub at_risk: Vec<usize>,
    /// The target was among the Features selection and was left out of the features.
    pub dropped_target: bool,
}

impl Prediction {
    /// Every row's probabilities and actual class for another set of rows (the model's
    /// scores of a refreshed table): the at-risk list and the class counts follow them;
    /// the test metrics and cross-validation stay the fit's.
    pub fn rescore(&mut self, probabilities: Vec<Vec<f64>>, y: Vec<usize>) {
        let mut counts = vec![0; self.classes.len()];
        for &c in &y {
            if let Some(n) = counts.get_mut(c) {
                *n += 1;
            }
        }
        self.run.class_counts = counts;
        self.at_risk = at_risk(&probabilities, &y, self.positive(), AT_RISK);
        self.run.probabilities = probabilities;
        self.y = y;
    }

    /// The class the probabilities, threshold and at-risk list are about.
    pub fn positive(&self) -> usize {
        self.classes.len() - 1
    }

    /// Re-scores the test rows at `threshold` (cross-validation stays as it was run). Only
    /// the calls change: ROC-AUC and log loss do not depend on the threshold.
    pub fn rethreshold(&mut self, threshold: f64) {
        let actual: Vec<usize> = self.run.test_rows.iter().map(|&r| self.y[r]).collect();
        let predicted: Vec<usize> = self
            .run
            .test_rows
            .iter()
            .map(|&r| crate::analytics::predict::decide(&self.run.probabilities[r], threshold))
            .collect();
        let cm = ConfusionMatrix::new(&actual, &predicted, self.classes.len());
        let (precision, recall, f1) = cm.precision_recall_f1();
        let t = &mut self.run.test;
        t.accuracy = cm.accuracy();
        t.balanced_accuracy = cm.balanced_accuracy();
        t.precision = precision;
        t.recall = recall;
        t.f1 = f1;
        t.confusion_matrix = cm.counts;
        self.run.threshold = threshold;
    }

    /// The test rows actually of class `actual` that the model calls `predicted`, the
    /// likeliest to be the positive class first.
    pub fn cell_rows(&self, actual: usize, predicted: usize) -> Vec<usize> {
        let t = self.run.threshold;
        let p = &self.run.probabilities;
        let pos = self.positive();
        let mut rows: Vec<usize> = self
            .run
            .test_rows
            .iter()
            .copied()
            .filter(|&r| {
                self.y[r] == actual && crate::analytics::predict::decide(&p[r], t) == predicted
            })
            .collect();
        rows.sort_by(|&a, &b| p[b][pos].total_cmp(&p[a][pos]).then(a.cmp(&b)));
        rows
    }
}

/// What a column to predict is called, in order of preference: compared with a column's
/// name in lower case without `_`, `-` and spaces; the first three also as a part of it
/// (`Attrition_Flag`, `is_churned`).
pub const TARGET_NAMES: [&str; 12] = [
    "churned",
    "churn",
    "attrition",
    "exited",
    "attrited",
    "cancelled",
    "target",
    "label",
    "class",
    "outcome",
    "response",
    "y",
];

/// The target to predict when none is named: the column of classes named like a target
/// (see [`TARGET_NAMES`]), else none: a column of classes that is not named so is more often
/// a gender or a region than what the analyst wants to predict.
pub fn default_target(candidates: &[String]) -> Option<String> {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| !matches!(c, '_' | '-' | ' ' | '.'))
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    let named: Vec<(String, &String)> = candidates.iter().map(|c| (norm(c), c)).collect();
    for (i, want) in TARGET_NAMES.iter().enumerate() {
        if let Some((_, c)) = named.iter().find(|(n, _)| n == want) {
            return Some((*c).clone());
        }
        if i < 3
            && let Some((_, c)) = named.iter().find(|(n, _)| n.contains(want))
        {
            return Some((*c).clone());
        }
    }
    None
}

/// Customers kept in the list of the highest predicted values.
pub const TOP_VALUES: usize = 200;

/// A finished regression run with what its users need to explain it.
#[derive(Debug, Clone)]
pub struct ValuePrediction {
    pub target: String,
    /// Feature names (one-hot columns as `column=value`).
    pub names: Vec<String>,
    pub params: PredictParams,
    pub run: RegressionRun,
    /// Every row's actual value.
    pub y: Vec<f64>,
    /// The rows with the highest predicted values, highest first.
    pub top: Vec<usize>,
    /// The target was among the Features selection and was left out of the features.
    pub dropped_target: bool,
    /// The rows' customer ids when they are not the shown table's rows (a next-period run
    /// builds its own table from the transactions).
    pub ids: Option<Vec<String>>,
    /// A next-period run: its window and the lifetime model on the same test customers.
    pub next: Option<NextSummary>,
}

/// A next-period run's window and the lifetime model (BG/NBD, + Gamma-Gamma for spend)
/// scored on the same test customers.
#[derive(Debug, Clone, PartialEq)]
pub struct NextSummary {
    pub target: crate::pipeline::next_period::NextTarget,
    pub calibration_end: chrono::NaiveDate,
    pub observation_end: chrono::NaiveDate,
    pub days: i64,
    /// The customer id column's name in the transactions.
    pub customer: String,
    pub lifetime_model: &'static str,
    pub lifetime_test: crate::analytics::regress::RegressionMetrics,
}

/// What a prediction job gives: a run (classes or values), a grid search or a comparison.
#[derive(Debug)]
pub enum Predicted {
    Run(Box<Prediction>),
    Values(Box<ValuePrediction>),
    Grid(Box<GridResult>),
    /// Every model of the task cross-validated on the same folds.
    Compared(Box<Comparison>),
}

/// The task for column `target` of `table`: the one asked, else regression for a number
/// with many values or with fractions ([`crate::data::features::target::is_value`]).
pub fn task(table: &DataFrame, target: &str, asked: Option<Task>) -> Task {
    asked.unwrap_or(if crate::data::features::target::is_value(table, target) {
        Task::Regression
    } else {
        Task::Classification
    })
}

/// Refuses a model that cannot do `task`, naming those that can.
pub fn check_model(model: ModelKind, task: Task) -> Result<()> {
    if model.does(task) {
        return Ok(());
    }
    let can: Vec<&str> = ModelKind::for_task(task).iter().map(|m| m.name()).collect();
    Err(crate::analytics::error::AnalyticsError::Input(format!(
        "--model {model} cannot do {task}; use one of {}",
        can.join(", ")
    ))
    .into())
}

/// What a prediction job does: one run, the grid search around the settings, or every model
/// of the task side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Run,
    Grid,
    Compare,
}

/// The prediction of `target` from a loaded table (its first column the key) on the
/// `features` selection, the target left out of it (and `dropped_target` says so), as
/// `settings.task` (None: see [`task`]) with `settings`' model: one run, the grid search
/// around it, or every model of the task compared on the same folds (`mode`).
pub fn predict(
    table: &DataFrame,
    features: FeatureConfig,
    target: &str,
    settings: &PredictSettings,
    mode: Mode,
    progress: &Progress,
) -> Result<Predicted> {
    let mut features = features;
    let dropped_target = features.without(target);
    progress.start("preparing features", 1);
    let task = self::task(table, target, settings.task);
    let params = settings.params();
    if mode != Mode::Compare {
        check_model(params.model, task)?;
    }
    let models = ModelKind::for_task(task);
    if task == Task::Regression {
        let y = crate::data::features::target::values(table, target)?;
        let m = model_matrix(table, &features)?;
        return Ok(match mode {
            Mode::Grid => Predicted::Grid(Box::new(crate::analytics::regress::grid_search_values(
                m.values.view(),
                &y,
                &params,
                &Grid::default(),
                progress,
            )?)),
            Mode::Compare => Predicted::Compared(Box::new(compare_values(
                &m, &y, settings, models, progress,
            )?)),
            Mode::Run => {
                let names = m.names.clone();
                let mut p = run_values(&m, &names, target, y, &params, progress)?;
                p.dropped_target = dropped_target;
                Predicted::Values(Box::new(p))
            }
        });
    }
    let t = crate::data::features::target::target(table, target, None)?;
    let m = model_matrix(table, &features)?;
    Ok(match mode {
        Mode::Grid => Predicted::Grid(Box::new(grid_search(
            &m,
            &t,
            &params,
            &Grid::default(),
            progress,
        )?)),
        Mode::Compare => {
            Predicted::Compared(Box::new(compare(&m, &t, settings, models, progress)?))
        }
        Mode::Run => {
            let names = m.names.clone();
            let mut p = run(&m, &names, target, t, &params, progress)?;
            p.dropped_target = dropped_target;
            Predicted::Run(Box::new(p))
        }
    })
}

/// Fits and validates a classifier for `t` on `m`, the features called `names` (the caller
/// may mask personal data in them).
pub fn run(
    m: &FeatureMatrix,
    names: &[String],
    target: &str,
    t: Target,
    params: &PredictParams,
    progress: &Progress,
) -> Result<Prediction> {
    let run = run_prediction(
        m.values.view(),
        names,
        &t.y,
        t.classes.len(),
        params,
        progress,
    )?;
    let tree_text = run
        .tree
        .as_ref()
        .map(|tr| tr.to_text(names, &t.classes, &|f, v| m.transforms[f].to_original(v)));
    let at_risk = at_risk(&run.probabilities, &t.y, t.positive(), AT_RISK);
    Ok(Prediction {
        target: target.to_string(),
        classes: t.classes,
        names: names.to_vec(),
        params: params.clone(),
        run,
        tree_text,
        y: t.y,
        at_risk,
        dropped_target: false,
    })
}

/// Fits and validates a regressor for values `y` on `m`, the features called `names`.
pub fn run_values(
    m: &FeatureMatrix,
    names: &[String],
    target: &str,
    y: Vec<f64>,
    params: &PredictParams,
    progress: &Progress,
) -> Result<ValuePrediction> {
    if m.values.nrows() != y.len() {
        return Err(crate::analytics::error::AnalyticsError::Input(
            "the feature rows and the target rows differ; use --fill instead of drop here".into(),
        )
        .into());
    }
    let run = run_regression(m.values.view(), names, &y, params, progress)?;
    let top = top_predicted(&run.predictions, TOP_VALUES);
    Ok(ValuePrediction {
        target: target.to_string(),
        names: names.to_vec(),
        params: params.clone(),
        run,
        y,
        top,
        dropped_target: false,
        ids: None,
        next: None,
    })
}

/// The parameters of each of `models` with `settings` as a run of it would have them (its
/// own defaults where the settings leave them, e.g. the min leaf and alpha).
fn cells(settings: &PredictSettings, models: &[ModelKind]) -> Vec<PredictParams> {
    models
        .iter()
        .map(|&model| {
            PredictSettings {
                model,
                ..settings.clone()
            }
            .params()
        })
        .collect()
}

/// Every regressor of `models` cross-validated on the same folds, as [`compare`] does for
/// classifiers.
pub fn compare_values(
    m: &FeatureMatrix,
    y: &[f64],
    settings: &PredictSettings,
    models: &[ModelKind],
    progress: &Progress,
) -> Result<Comparison> {
    let cells = cells(settings, models);
    Ok(crate::analytics::regress::compare_regressors(
        m.values.view(),
        y,
        &cells,
        progress,
    )?)
}

/// Every model of `models` cross-validated on the same folds, each with `settings` as a run
/// of it would have them (its own defaults where the settings leave them, e.g. the min leaf).
pub fn compare(
    m: &FeatureMatrix,
    t: &Target,
    settings: &PredictSettings,
    models: &[ModelKind],
    progress: &Progress,
) -> Result<Comparison> {
    let cells = cells(settings, models);
    Ok(crate::analytics::predict::compare_models(
        m.values.view(),
        &t.y,
        t.classes.len(),
        &cells,
        progress,
    )?)
}

/// The grid search (cross-validated) over `grid` around `params`.
pub fn grid_search(
    m: &FeatureMatrix,
    t: &Target,
    params: &PredictParams,
    grid: &Grid,
    progress: &Progress,
) -> Result<GridResult> {
    Ok(crate::analytics::predict::grid_search(
        m.values.view(),
        &t.y,
        t.classes.len(),
        params,
        grid,
        progress,
    )?)
}

#[cfg(test)]
mod tests {
    use super::default_target;

    fn pick(names: &[&str]) -> Option<String> {
        default_target(&names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn the_target_is_the_column_named_like_one_or_none() {
        assert_eq!(pick(&["gender", "churned"]).as_deref(), Some("churned"));
        assert_eq!(
            pick(&["gender", "Partner", "Churn"]).as_deref(),
            Some("Churn")
        );
        assert_eq!(
            pick(&["Gender", "Attrition_Flag", "Card_Category"]).as_deref(),
            Some("Attrition_Flag")
        );
        assert_eq!(pick(&["Geography", "Exited"]).as_deref(), Some("Exited"));
        assert_eq!(pick(&["region", "y"]).as_deref(), Some("y"));
        // "churn" is preferred to a generic "label".
        assert_eq!(
            pick(&["label", "is_churned"]).as_deref(),
            Some("is_churned")
        );
        // Nothing named like a target: no guess (not the first column of classes).
        assert_eq!(pick(&["gender", "PhoneService"]), None);
        assert_eq!(pick(&[]), None);
    }
}
