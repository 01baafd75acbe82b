//! Prediction: a classifier for a target column on the feature selection (the target left
//! out of it), validated on a stratified test split and by cross-validation, or the grid
//! search around the parameters; the same for the Predict screen, `crmlens predict` and the
//! report.

use polars::prelude::DataFrame;

use super::input::model_matrix;
use crate::analytics::evaluation::ConfusionMatrix;
use crate::analytics::predict::{
    Grid, GridResult, PredictParams, PredictRun, at_risk, run_prediction,
};
use crate::data::features::FeatureMatrix;
use crate::data::features::target::Target;
use crate::data::sources::workspace::FeatureConfig;
use crate::progress::Progress;

use super::error::Result;

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

/// The target to predict when none is named: `churned` when it is a candidate, else the
/// first column of classes.
pub fn default_target(candidates: &[String]) -> Option<String> {
    candidates
        .iter()
        .find(|t| t.as_str() == "churned")
        .or_else(|| candidates.first())
        .cloned()
}

/// What a prediction job gives: a run, or a grid search.
#[derive(Debug)]
pub enum Predicted {
    Run(Box<Prediction>),
    Grid(Box<GridResult>),
}

/// The prediction of `target` from a loaded table (its first column the key) on the
/// `features` selection, the target left out of it (and `dropped_target` says so); with
/// `grid`, the grid search around `params` instead.
pub fn predict(
    table: &DataFrame,
    features: FeatureConfig,
    target: &str,
    params: &PredictParams,
    grid: bool,
    progress: &Progress,
) -> Result<Predicted> {
    let mut features = features;
    let before = features.numeric.len() + features.categorical.len();
    features.numeric.retain(|f| f != target);
    features.categorical.retain(|f| f != target);
    let dropped_target = features.numeric.len() + features.categorical.len() < before;
    progress.start("preparing features", 1);
    let t = crate::data::features::target::target(table, target, None)?;
    let m = model_matrix(table, &features)?;
    if grid {
        return Ok(Predicted::Grid(Box::new(grid_search(
            &m,
            &t,
            params,
            &Grid::default(),
            progress,
        )?)));
    }
    let names = m.names.clone();
    let mut p = run(&m, &names, target, t, params, progress)?;
    p.dropped_target = dropped_target;
    Ok(Predicted::Run(Box::new(p)))
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
