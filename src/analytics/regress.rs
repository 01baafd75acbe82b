//! Regression: a value per customer (next quarter's spend, a lifetime value) from the
//! features. A run splits the rows at random into training and test rows (stratified on the
//! target's deciles, so a few big spenders cannot all land on one side), fits the model on
//! the training rows, measures it on the test rows (MAE, RMSE, R² and, for a value that is
//! never negative such as spend, the share of the test rows' total value held by the tenth
//! predicted highest), cross-validates it on k folds (stratified the same way), sets it
//! against the baseline (the training mean; the training median for MAE), and ranks the
//! features by the model's own importance and by permutation importance (the drop in R²).
//!
//! Models:
//! - `linear`: ordinary least squares, or ridge with `alpha` > 0 (the intercept not
//!   penalised), in closed form on centred data: w = (XcᵀXc + αI)⁺ Xcᵀyc and b = ȳ − x̄ᵀw. The
//!   d x d system is solved with the columns scaled to unit norm (the same solution, better
//!   conditioned) through a symmetric eigendecomposition ([`super::pca::symmetric_eigen`]),
//!   dropping directions the data do not determine (collinear one-hot levels) as a
//!   pseudo-inverse does, so least squares still gives lstsq's predictions. Our own code:
//!   linfa-linear has no ridge (linfa-elasticnet's ridge is an approximate coordinate
//!   descent), and the solve is a few lines over one pass of the data.
//! - `tree`: one regression tree (squared error, the mean of a leaf's rows), grown by the
//!   boosting engine ([`super::gbdt`]) as a single round at learning rate 1 from the mean, to
//!   the depth and min leaf given (at most 4,096 leaves); a leaf's value is its rows' mean.
//! - `forest`: bagged regression trees, each on a bootstrap sample of the training rows and
//!   all features (scikit-learn's RandomForestRegressor defaults), the mean of the trees. It
//!   is kept as one booster whose leaf values are divided by the number of trees, so it scores
//!   on the boosting engine's fast path and saves as one.
//! - `gbdt`: gradient boosting with squared, absolute or Huber loss (`super::gbdt`).
//!
//! Determinism: the split, folds, bootstrap samples and permutations come from the seed; every
//! sum runs in a fixed order, so a seed gives the same result on any number of threads.

use std::collections::BTreeMap;

use ndarray::{Array2, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::AnalyticsError;
use super::evaluation::{Split, stratified_kfold, stratified_split};
use super::gbdt::{Gbdt, GbdtParams, RegressionLoss, fit_gbdt_regressor};
use super::predict::{
    Boosting, CompareRow, Comparison, Grid, GridResult, GridRow, MeanStd, ModelKind, Permutation,
    PredictParams, mean_std, permutation_drops, permutation_rows,
};
use super::tree::Binned;
use crate::progress::Progress;

/// Leaves of a regression tree at most (the boosting engine's limit).
pub const MAX_TREE_LEAVES: usize = 4096;
/// Rows per block when summing the linear model's cross-products.
const BLOCK: usize = 4096;

/// A fitted linear model: `intercept + coef · x`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Linear {
    pub intercept: f64,
    pub coef: Vec<f64>,
    /// The ridge penalty it was fitted with (0: least squares).
    pub alpha: f64,
    /// |coefficient| x the feature's standard deviation on the training rows, normalised to
    /// sum to 1 (each feature's share of the spread of the predictions).
    pub importance: Vec<f64>,
}

impl Linear {
    fn value(&self, row: impl Iterator<Item = f64>) -> f64 {
        self.intercept + row.zip(&self.coef).map(|(v, c)| v * c).sum::<f64>()
    }
}

/// A fitted regressor: what a saved model keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum Regressor {
    Linear(Linear),
    Tree(Gbdt),
    Forest(Gbdt),
    Gbdt(Gbdt),
}

impl Regressor {
    /// The predicted value of every row of `x` (features in the fit's order and scaling).
    pub fn predict(&self, x: ArrayView2<f64>) -> Vec<f64> {
        let all: Vec<usize> = (0..x.nrows()).collect();
        self.values(x, &all)
    }

    /// The predicted values of `rows` of `x`.
    pub fn values(&self, x: ArrayView2<f64>, rows: &[usize]) -> Vec<f64> {
        match self {
            Regressor::Linear(l) => rows
                .par_iter()
                .map(|&r| l.value(x.row(r).iter().copied()))
                .collect(),
            Regressor::Tree(g) | Regressor::Forest(g) | Regressor::Gbdt(g) => g.raw_rows(x, rows),
        }
    }

    /// The model's own importance per feature, summing to 1 (all 0 without any).
    pub fn importance(&self) -> Vec<f64> {
        match self {
            Regressor::Linear(l) => l.importance.clone(),
            Regressor::Tree(g) | Regressor::Forest(g) | Regressor::Gbdt(g) => g.importance.clone(),
        }
    }

    pub fn kind(&self) -> ModelKind {
        match self {
            Regressor::Linear(_) => ModelKind::Linear,
            Regressor::Tree(_) => ModelKind::Tree,
            Regressor::Forest(_) => ModelKind::Forest,
            Regressor::Gbdt(_) => ModelKind::Gbdt,
        }
    }
}

/// Refuses a target that is not a finite number on `rows`.
fn check_values(y: &[f64], rows: &[usize]) -> Result<(), AnalyticsError> {
    if let Some(&r) = rows.iter().find(|&&r| !y[r].is_finite()) {
        return Err(AnalyticsError::Input(format!(
            "the target of row {} is {}; a value to predict must be a finite number",
            r + 1,
            y[r]
        )));
    }
    Ok(())
}

/// Least squares (`alpha` 0) or ridge on `rows` of `x`, in closed form (see the module doc).
pub fn fit_linear(
    x: ArrayView2<f64>,
    y: &[f64],
    rows: &[usize],
    alpha: f64,
) -> Result<Linear, AnalyticsError> {
    check_values(y, rows)?;
    if rows.is_empty() {
        return Err(AnalyticsError::Input(
            "linear regression needs at least one training row".into(),
        ));
    }
    if !(alpha >= 0.0 && alpha.is_finite()) {
        return Err(AnalyticsError::Input(format!(
            "alpha {alpha}: ridge's penalty must be 0 or more"
        )));
    }
    let d = x.ncols();
    let n = rows.len() as f64;
    // Means, then centred cross-products, block by block in row order (blocks in parallel,
    // combined in block order).
    let sums = rows
        .par_chunks(BLOCK)
        .map(|c| {
            let mut s = vec![0.0; d + 1];
            for &r in c {
                for (a, v) in s.iter_mut().zip(x.row(r)) {
                    *a += v;
                }
                s[d] += y[r];
            }
            s
        })
        .collect::<Vec<_>>()
        .into_iter()
        .fold(vec![0.0; d + 1], |mut a, b| {
            a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
            a
        });
    let mean: Vec<f64> = sums.iter().map(|s| s / n).collect();
    let (xmean, ymean) = (&mean[..d], mean[d]);
    // [XcᵀXc | Xcᵀyc] as (d x (d + 1)), upper triangle of the first block.
    let cross = rows
        .par_chunks(BLOCK)
        .map(|c| {
            let mut a = vec![0.0; d * (d + 1)];
            let mut xc = vec![0.0; d];
            for &r in c {
                for (j, v) in x.row(r).iter().enumerate() {
                    xc[j] = v - xmean[j];
                }
                let yc = y[r] - ymean;
                for i in 0..d {
                    let xi = xc[i];
                    if xi == 0.0 {
                        continue;
                    }
                    let row = &mut a[i * (d + 1)..(i + 1) * (d + 1)];
                    for j in i..d {
                        row[j] += xi * xc[j];
                    }
                    row[d] += xi * yc;
                }
            }
            a
        })
        .collect::<Vec<_>>()
        .into_iter()
        .fold(vec![0.0; d * (d + 1)], |mut a, b| {
            a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
            a
        });
    let at = |i: usize, j: usize| cross[i.min(j) * (d + 1) + i.max(j)];
    // Columns scaled to unit norm: s_j = 1 / ||xc_j|| (1 for a constant column).
    let scale: Vec<f64> = (0..d)
        .map(|j| {
            let v = at(j, j);
            if v > 0.0 { 1.0 / v.sqrt() } else { 1.0 }
        })
        .collect();
    // (S XcᵀXc S + α S²) u = S Xcᵀyc, w = S u.
    let mut m = Array2::<f64>::zeros((d, d));
    for i in 0..d {
        for j in 0..d {
            m[[i, j]] = at(i, j) * scale[i] * scale[j];
        }
        m[[i, i]] += alpha * scale[i] * scale[i];
    }
    let b: Vec<f64> = (0..d).map(|i| cross[i * (d + 1) + d] * scale[i]).collect();
    let coef: Vec<f64> = if d == 0 {
        Vec::new()
    } else {
        let (values, vectors) = super::pca::symmetric_eigen(&m);
        let top = values.first().copied().unwrap_or(0.0).max(0.0);
        let cut = top * d as f64 * f64::EPSILON * 16.0;
        let mut u = vec![0.0; d];
        for (k, &lambda) in values.iter().enumerate() {
            if lambda <= cut {
                continue;
            }
            let v = vectors.column(k);
            let proj: f64 = v.iter().zip(&b).map(|(a, b)| a * b).sum::<f64>() / lambda;
            for (ui, vi) in u.iter_mut().zip(v) {
                *ui += proj * vi;
            }
        }
        u.iter().zip(&scale).map(|(u, s)| u * s).collect()
    };
    let intercept = ymean - coef.iter().zip(xmean).map(|(c, m)| c * m).sum::<f64>();
    let spread: Vec<f64> = (0..d)
        .map(|j| coef[j].abs() * (at(j, j) / n).sqrt())
        .collect();
    let total: f64 = spread.iter().sum();
    let importance = if total > 0.0 {
        spread.iter().map(|v| v / total).collect()
    } else {
        vec![0.0; d]
    };
    Ok(Linear {
        intercept,
        coef,
        alpha,
        importance,
    })
}

/// One regression tree's boosting parameters: one round at learning rate 1 from the mean.
fn tree_params(p: &PredictParams) -> GbdtParams {
    GbdtParams {
        learning_rate: 1.0,
        rounds: 1,
        max_leaves: 1usize
            .checked_shl(p.tree.max_depth.min(12) as u32)
            .unwrap_or(MAX_TREE_LEAVES)
            .clamp(2, MAX_TREE_LEAVES),
        max_depth: p.tree.max_depth,
        min_leaf: p.tree.min_samples_leaf,
        l2: 0.0,
        subsample: 1.0,
        colsample: 1.0,
        early_stopping: false,
        loss: RegressionLoss::Squared,
        seed: p.seed,
        ..GbdtParams::default()
    }
}

/// A forest of `n_trees` regression trees on bootstrap samples of `rows`, as one booster:
/// the trees' base and leaf values divided by their number, so its score is their mean.
fn fit_forest(
    x: &Binned,
    y: &[f64],
    rows: &[usize],
    p: &PredictParams,
    progress: &Progress,
) -> Result<Gbdt, AnalyticsError> {
    let tp = tree_params(p);
    let n = rows.len();
    let trees: Vec<Gbdt> = (0..p.n_trees)
        .into_par_iter()
        .map(|t| {
            let mut rng = ChaCha8Rng::seed_from_u64(
                p.seed ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            let mut sample: Vec<usize> = (0..n).map(|_| rows[rng.gen_range(0..n)]).collect();
            sample.sort_unstable();
            fit_gbdt_regressor(x, y, &sample, &tp, progress)
        })
        .collect::<Result<_, _>>()?;
    let k = trees.len().max(1) as f64;
    let base = trees.iter().map(|g| g.base[0]).sum::<f64>() / k;
    let d = x.d;
    let mut importance = vec![0.0; d];
    for g in &trees {
        for (a, b) in importance.iter_mut().zip(&g.importance) {
            *a += b / k;
        }
    }
    let trees: Vec<Vec<super::gbdt::BoostTree>> = trees
        .into_iter()
        .flat_map(|g| g.trees)
        .map(|mut round| {
            for t in &mut round {
                t.value.iter_mut().for_each(|v| *v /= k);
            }
            round
        })
        .collect();
    Ok(Gbdt {
        objective: super::gbdt::Objective::Squared,
        base: vec![base],
        trees,
        importance,
        validation_loss: Vec::new(),
    })
}

/// One line naming the regressor and its parameters.
pub fn describe(p: &PredictParams) -> String {
    match p.model {
        ModelKind::Tree => format!(
            "regression tree (depth {}, min leaf {})",
            p.tree.max_depth, p.tree.min_samples_leaf
        ),
        ModelKind::Forest => format!(
            "random forest of regression trees ({} trees, depth {}, min leaf {})",
            p.n_trees, p.tree.max_depth, p.tree.min_samples_leaf
        ),
        ModelKind::Gbdt => format!(
            "gradient boosting ({} loss, {} rounds at most{}, learning rate {}, {} leaves, depth {}, min leaf {})",
            p.gbdt.loss,
            p.gbdt.rounds,
            if p.gbdt.early_stopping {
                ", early stopping"
            } else {
                ""
            },
            p.gbdt.learning_rate,
            p.gbdt.max_leaves,
            p.tree.max_depth,
            p.tree.min_samples_leaf
        ),
        _ => p.describe(),
    }
}

/// Fits `p.model` on `rows` for values `y`; `binned` is needed by the tree models.
pub fn fit_regressor(
    x: ArrayView2<f64>,
    binned: Option<&Binned>,
    y: &[f64],
    rows: &[usize],
    p: &PredictParams,
    progress: &Progress,
) -> Result<Regressor, AnalyticsError> {
    progress.check().map_err(|_| AnalyticsError::Cancelled)?;
    let binned = || binned.ok_or_else(|| AnalyticsError::Input("no binned features".into()));
    let fitted = match p.model {
        ModelKind::Linear => Regressor::Linear(fit_linear(x, y, rows, p.logistic.alpha)?),
        ModelKind::Tree => Regressor::Tree(fit_gbdt_regressor(
            binned()?,
            y,
            rows,
            &tree_params(p),
            progress,
        )?),
        ModelKind::Forest => Regressor::Forest(fit_forest(binned()?, y, rows, p, progress)?),
        ModelKind::Gbdt => Regressor::Gbdt(fit_gbdt_regressor(
            binned()?,
            y,
            rows,
            &p.boosting(),
            progress,
        )?),
        other => {
            return Err(AnalyticsError::Input(format!(
                "{other} predicts classes, not values; for values use linear, tree, forest or gbdt"
            )));
        }
    };
    if p.model == ModelKind::Linear {
        progress.advance(1);
    }
    Ok(fitted)
}

/// Progress units of one regression fit: trees, rounds, or 1.
pub fn fit_units(p: &PredictParams) -> u64 {
    match p.model {
        ModelKind::Forest => p.n_trees.max(1) as u64,
        ModelKind::Gbdt => Gbdt::units(&p.gbdt),
        _ => 1,
    }
}

/// Test metrics of predicted values against actual ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegressionMetrics {
    pub mae: f64,
    pub rmse: f64,
    /// 1 − residual sum of squares / total sum of squares about the actual mean (1 for a
    /// perfect fit of a constant, 0 for an imperfect one, as scikit-learn's r2_score).
    pub r2: f64,
    /// A value never negative with a positive total (spend): the share of the total actual
    /// value held by the tenth of the rows predicted highest (ties: the earlier row first).
    pub top_decile_share: Option<f64>,
}

/// MAE, RMSE, R² and the top-decile share of `predicted` against `actual`.
pub fn regression_metrics(actual: &[f64], predicted: &[f64]) -> RegressionMetrics {
    let n = actual.len().max(1) as f64;
    let mae = actual
        .iter()
        .zip(predicted)
        .map(|(a, p)| (a - p).abs())
        .sum::<f64>()
        / n;
    let ss_res: f64 = actual
        .iter()
        .zip(predicted)
        .map(|(a, p)| (a - p).powi(2))
        .sum();
    let mean = actual.iter().sum::<f64>() / n;
    let ss_tot: f64 = actual.iter().map(|a| (a - mean).powi(2)).sum();
    let r2 = if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else if ss_res == 0.0 {
        1.0
    } else {
        0.0
    };
    RegressionMetrics {
        mae,
        rmse: (ss_res / n).sqrt(),
        r2,
        top_decile_share: top_decile_share(actual, predicted),
    }
}

/// The share of the total of `actual` held by the tenth (rounded up) of the rows with the
/// highest `predicted` (ties: the earlier row first); none unless every actual value is 0 or
/// more with a positive total.
pub fn top_decile_share(actual: &[f64], predicted: &[f64]) -> Option<f64> {
    let total: f64 = actual.iter().sum();
    if actual.is_empty() || actual.iter().any(|&a| a < 0.0) || total <= 0.0 {
        return None;
    }
    let mut order: Vec<usize> = (0..actual.len()).collect();
    order.sort_by(|&a, &b| predicted[b].total_cmp(&predicted[a]).then(a.cmp(&b)));
    let top = actual.len().div_ceil(10);
    Some(order[..top].iter().map(|&i| actual[i]).sum::<f64>() / total)
}

/// What always predicting the training mean (median for MAE) scores on the test rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    pub mean: f64,
    pub median: f64,
    /// MAE of the median.
    pub mae: f64,
    /// RMSE of the mean.
    pub rmse: f64,
    /// R² of the mean.
    pub r2: f64,
}

/// The median of `v` (the mean of the middle two for an even count; 0 when empty).
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn baseline(y: &[f64], train: &[usize], test: &[usize]) -> Baseline {
    let tr: Vec<f64> = train.iter().map(|&r| y[r]).collect();
    let mean = tr.iter().sum::<f64>() / tr.len().max(1) as f64;
    let median = median(tr);
    let actual: Vec<f64> = test.iter().map(|&r| y[r]).collect();
    let of_mean = regression_metrics(&actual, &vec![mean; actual.len()]);
    let of_median = regression_metrics(&actual, &vec![median; actual.len()]);
    Baseline {
        mean,
        median,
        mae: of_median.mae,
        rmse: of_mean.rmse,
        r2: of_mean.r2,
    }
}

/// Decile (0..10) of each value among `y`, by rank (ties broken by row), for stratifying
/// splits of a value; fewer strata when there are too few rows for `min_per` in each.
fn strata(y: &[f64], min_per: usize) -> Vec<usize> {
    let n = y.len();
    let bins = (n / min_per.max(1)).clamp(1, 10);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| y[a].total_cmp(&y[b]).then(a.cmp(&b)));
    let mut out = vec![0; n];
    for (rank, &i) in order.iter().enumerate() {
        out[i] = rank * bins / n.max(1);
    }
    out
}

/// The test split and the folds of a regression run with `p`'s seed, test size and folds:
/// both stratified on the target's deciles.
pub fn splits(y: &[f64], p: &PredictParams) -> Result<(Split, Vec<Split>), AnalyticsError> {
    if y.len() < p.folds.max(4) {
        return Err(AnalyticsError::Input(format!(
            "{} rows: a regression needs at least {} ({} folds and a test split)",
            y.len(),
            p.folds.max(4),
            p.folds
        )));
    }
    let split = stratified_split(&strata(y, 2), p.test_size, p.seed)?;
    let folds = stratified_kfold(&strata(y, p.folds), p.folds, p.seed)?;
    Ok((split, folds))
}

/// k-fold cross-validation: MAE, RMSE and R² mean and std over the folds.
fn cross_validate(
    x: ArrayView2<f64>,
    binned: Option<&Binned>,
    y: &[f64],
    folds: &[Split],
    p: &PredictParams,
    progress: &Progress,
) -> Result<BTreeMap<String, MeanStd>, AnalyticsError> {
    let mut per: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (tr, te) in folds {
        let m = fit_regressor(x, binned, y, tr, p, progress)?;
        let actual: Vec<f64> = te.iter().map(|&r| y[r]).collect();
        let got = regression_metrics(&actual, &m.values(x, te));
        for (k, v) in [("mae", got.mae), ("rmse", got.rmse), ("r2", got.r2)] {
            per.entry(k.to_string()).or_default().push(v);
        }
    }
    Ok(per.into_iter().map(|(k, v)| (k, mean_std(&v))).collect())
}

/// A finished regression run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegressionRun {
    pub model: ModelKind,
    pub n_rows: usize,
    pub test: RegressionMetrics,
    /// "mae", "rmse", "r2": mean and std over the folds.
    pub cv: BTreeMap<String, MeanStd>,
    pub baseline: Baseline,
    /// The model's own importance, (feature, importance), highest first: split gain for the
    /// tree models, |coefficient| x the feature's spread for linear.
    pub feature_importance: Vec<(String, f64)>,
    /// Drop in test R² when a feature's values are shuffled, highest first.
    pub permutation_importance: Vec<Permutation>,
    /// Every row's predicted value from the model fitted on the training rows.
    pub predictions: Vec<f64>,
    /// The linear model's intercept and (feature, coefficient) in the features' order.
    pub coefficients: Option<(f64, Vec<(String, f64)>)>,
    pub boosting: Option<Boosting>,
    #[serde(skip)]
    pub fitted: Option<Regressor>,
    pub test_rows: Vec<usize>,
}

fn binned_for(x: ArrayView2<f64>, model: ModelKind) -> Option<Binned> {
    model.binned().then(|| Binned::new(x, 256))
}

/// Runs the split, the model, cross-validation, the baseline and the importances on `x`
/// (features named `names`) for values `y`.
pub fn run_regression(
    x: ArrayView2<f64>,
    names: &[String],
    y: &[f64],
    p: &PredictParams,
    progress: &Progress,
) -> Result<RegressionRun, AnalyticsError> {
    let n = x.nrows();
    let all: Vec<usize> = (0..n).collect();
    check_values(y, &all)?;
    p.check()?;
    if !p.model.does(super::predict::Task::Regression) {
        return Err(AnalyticsError::Input(format!(
            "{} predicts classes, not values; for values use linear, tree, forest or gbdt",
            p.model
        )));
    }
    let ((train, test), folds) = splits(y, p)?;
    let binned = binned_for(x, p.model);
    let units = fit_units(p);
    progress.start(
        &format!("{}-fold cross-validation", p.folds),
        (p.folds as u64 + 1) * units + 1,
    );
    let cv = cross_validate(x, binned.as_ref(), y, &folds, p, progress)?;
    progress.label("the model on the training rows");
    let model = fit_regressor(x, binned.as_ref(), y, &train, p, progress)?;
    progress.check().map_err(|_| AnalyticsError::Cancelled)?;
    progress.label("permutation importance on the test rows");
    let predictions = model.values(x, &all);
    let actual: Vec<f64> = test.iter().map(|&r| y[r]).collect();
    let predicted: Vec<f64> = test.iter().map(|&r| predictions[r]).collect();
    let test_metrics = regression_metrics(&actual, &predicted);
    let mut feature_importance: Vec<(String, f64)> =
        names.iter().cloned().zip(model.importance()).collect();
    feature_importance.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let rows = permutation_rows(&test, p.seed);
    let sub: Array2<f64> = x.select(Axis(0), &rows);
    let sub_actual: Vec<f64> = rows.iter().map(|&r| y[r]).collect();
    let sub_all: Vec<usize> = (0..rows.len()).collect();
    let permutation = permutation_drops(&sub, names, p.seed, |m| {
        regression_metrics(&sub_actual, &model.values(m.view(), &sub_all)).r2
    });
    let coefficients = match &model {
        Regressor::Linear(l) => Some((
            l.intercept,
            names.iter().cloned().zip(l.coef.iter().copied()).collect(),
        )),
        _ => None,
    };
    let boosting = match &model {
        Regressor::Gbdt(g) => Some(Boosting {
            rounds: g.rounds(),
            max_rounds: p.gbdt.rounds,
            early_stopping: !g.validation_loss.is_empty(),
            validation_loss: g.validation_loss.get(g.rounds().saturating_sub(1)).copied(),
        }),
        _ => None,
    };
    progress.advance(1);
    Ok(RegressionRun {
        model: p.model,
        n_rows: n,
        test: test_metrics,
        cv,
        baseline: baseline(y, &train, &test),
        feature_importance,
        permutation_importance: permutation,
        predictions,
        coefficients,
        boosting,
        fitted: Some(model),
        test_rows: test,
    })
}

/// The `n` rows with the highest predicted value, highest first (ties: the earlier row).
pub fn top_predicted(predictions: &[f64], n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..predictions.len()).collect();
    order.sort_by(|&a, &b| predictions[b].total_cmp(&predictions[a]).then(a.cmp(&b)));
    order.truncate(n);
    order
}

/// The index of the lowest mean `metric` among `cvs` (the first of equals).
fn lowest<'a>(cvs: impl Iterator<Item = &'a BTreeMap<String, MeanStd>>, metric: &str) -> usize {
    let mut best = (0, f64::INFINITY);
    for (i, cv) in cvs.enumerate() {
        let v = cv.get(metric).map_or(f64::INFINITY, |m| m.mean);
        if v < best.1 {
            best = (i, v);
        }
    }
    best.0
}

/// Cross-validates every parameter set of `grid` for `base`'s model on the same folds (those
/// of a run); the best has the lowest mean RMSE.
pub fn grid_search_values(
    x: ArrayView2<f64>,
    y: &[f64],
    base: &PredictParams,
    grid: &Grid,
    progress: &Progress,
) -> Result<GridResult, AnalyticsError> {
    check_values(y, &(0..y.len()).collect::<Vec<_>>())?;
    if !base.model.does(super::predict::Task::Regression) {
        return Err(AnalyticsError::Input(format!(
            "{} predicts classes, not values; for values use linear, tree, forest or gbdt",
            base.model
        )));
    }
    let cells = grid.cells(base);
    if cells.is_empty() {
        return Err(AnalyticsError::Input("the grid is empty".into()));
    }
    for p in &cells {
        p.check()?;
    }
    let (_, folds) = splits(y, base)?;
    let binned = binned_for(x, base.model);
    progress.start(
        &format!(
            "grid search: {} settings x {} folds",
            cells.len(),
            base.folds
        ),
        (cells.len() * base.folds) as u64 * fit_units(base),
    );
    let mut rows = Vec::with_capacity(cells.len());
    for p in &cells {
        let cv = cross_validate(x, binned.as_ref(), y, &folds, p, progress)?;
        let linear = p.model.linear();
        rows.push(GridRow {
            max_depth: (!linear).then_some(p.tree.max_depth),
            min_leaf: (!linear).then_some(p.tree.min_samples_leaf),
            alpha: linear.then_some(p.logistic.alpha),
            cv,
        });
    }
    let best = lowest(rows.iter().map(|r| &r.cv), "rmse");
    Ok(GridResult {
        model: base.model,
        rows,
        metric: "rmse",
        best,
    })
}

/// Cross-validates every regressor of `cells` (each with its own parameters; folds and seed
/// the first's) on the same folds; one table, the best the lowest mean RMSE.
pub fn compare_regressors(
    x: ArrayView2<f64>,
    y: &[f64],
    cells: &[PredictParams],
    progress: &Progress,
) -> Result<Comparison, AnalyticsError> {
    check_values(y, &(0..y.len()).collect::<Vec<_>>())?;
    let cells = super::predict::same_folds(cells)?;
    let base = &cells[0];
    for p in &cells {
        if !p.model.does(super::predict::Task::Regression) {
            return Err(AnalyticsError::Input(format!(
                "{} predicts classes, not values; compare linear, tree, forest and gbdt",
                p.model
            )));
        }
        p.check()?;
    }
    let (_, folds) = splits(y, base)?;
    let total: u64 = cells.iter().map(fit_units).sum::<u64>() * base.folds as u64;
    progress.start(
        &format!("comparing {} models on {} folds", cells.len(), base.folds),
        total,
    );
    let binned = cells
        .iter()
        .any(|p| p.model.binned())
        .then(|| Binned::new(x, 256));
    let mut rows = Vec::with_capacity(cells.len());
    for p in &cells {
        progress.label(&format!("cross-validating the {}", p.model.title()));
        let started = std::time::Instant::now();
        let cv = cross_validate(x, binned.as_ref(), y, &folds, p, progress)?;
        rows.push(CompareRow {
            model: p.model,
            setting: describe(p),
            cv,
            fit_seconds: started.elapsed().as_secs_f64() / folds.len() as f64,
        });
    }
    let best = lowest(rows.iter().map(|r| &r.cv), "rmse");
    Ok(Comparison {
        rows,
        metric: "rmse",
        best,
        folds: base.folds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn noisy(n: usize, seed: u64) -> (Array2<f64>, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = Array2::from_shape_fn((n, 3), |_| rng.gen_range(-1.0..1.0));
        let y = (0..n)
            .map(|i| {
                let (a, b) = (x[[i, 0]], x[[i, 1]]);
                // A step, a curve and noise; the third feature is noise only.
                10.0 + 4.0 * (a > 0.2) as u8 as f64 + 3.0 * b * b + rng.gen_range(-0.5..0.5)
            })
            .collect();
        (x, y)
    }

    /// Solves a x = b (square, non-singular) by Gaussian elimination with partial pivoting.
    fn gauss(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
        let n = b.len();
        for c in 0..n {
            let p = (c..n)
                .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
                .unwrap();
            a.swap(c, p);
            b.swap(c, p);
            for r in c + 1..n {
                let f = a[r][c] / a[c][c];
                let pivot = a[c].clone();
                for (v, p) in a[r].iter_mut().zip(&pivot).skip(c) {
                    *v -= f * p;
                }
                b[r] -= f * b[c];
            }
        }
        let mut x = vec![0.0; n];
        for r in (0..n).rev() {
            let s: f64 = (r + 1..n).map(|k| a[r][k] * x[k]).sum();
            x[r] = (b[r] - s) / a[r][r];
        }
        x
    }

    /// Least squares equals the normal equations [1 X]ᵀ[1 X] β = [1 X]ᵀy solved directly.
    #[test]
    fn least_squares_equals_the_closed_form() {
        let (x, y) = noisy(60, 3);
        let rows: Vec<usize> = (0..60).collect();
        let l = fit_linear(x.view(), &y, &rows, 0.0).unwrap();
        let d = 4;
        let design = |i: usize, j: usize| if j == 0 { 1.0 } else { x[[i, j - 1]] };
        let a: Vec<Vec<f64>> = (0..d)
            .map(|j| {
                (0..d)
                    .map(|k| rows.iter().map(|&i| design(i, j) * design(i, k)).sum())
                    .collect()
            })
            .collect();
        let b: Vec<f64> = (0..d)
            .map(|j| rows.iter().map(|&i| design(i, j) * y[i]).sum())
            .collect();
        let beta = gauss(a, b);
        assert!(
            (l.intercept - beta[0]).abs() < 1e-9,
            "{} {}",
            l.intercept,
            beta[0]
        );
        for j in 0..3 {
            assert!((l.coef[j] - beta[j + 1]).abs() < 1e-9, "{j}");
        }
        // Residuals are orthogonal to every feature and sum to zero.
        let pred = Regressor::Linear(l).predict(x.view());
        let res: Vec<f64> = y.iter().zip(&pred).map(|(a, p)| a - p).collect();
        assert!(res.iter().sum::<f64>().abs() < 1e-8);
        for j in 0..3 {
            let dot: f64 = (0..60).map(|i| res[i] * x[[i, j]]).sum();
            assert!(dot.abs() < 1e-8, "{j}: {dot}");
        }
    }

    fn fixture() -> (Array2<f64>, Vec<f64>, serde_json::Value) {
        let text = include_str!("../../tests/fixtures/ridge_points.csv");
        let rows: Vec<Vec<f64>> = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
            .collect();
        let x = Array2::from_shape_fn((rows.len(), 7), |(i, j)| rows[i][j]);
        let y = rows.iter().map(|r| r[7]).collect();
        let want =
            serde_json::from_str(include_str!("../../tests/fixtures/ridge_sklearn.json")).unwrap();
        (x, y, want)
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    /// Ridge's and least squares' solutions equal scikit-learn 1.9.1's `Ridge` and
    /// `LinearRegression` on the fixture (tests/fixtures/ridge_reference.py), features of
    /// very different scales; with collinear one-hot levels, least squares' predictions.
    #[test]
    fn ridge_and_least_squares_equal_scikit_learn() {
        let (x, y, want) = fixture();
        let rows: Vec<usize> = (0..y.len()).collect();
        let x4 = x.slice(ndarray::s![.., 0..4]).to_owned();
        let num = |v: &serde_json::Value| v.as_f64().unwrap();
        let fits = want["ridge"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (num(&f["alpha"]), f))
            .chain([(0.0, &want["ols"])]);
        for (alpha, f) in fits {
            let l = fit_linear(x4.view(), &y, &rows, alpha).unwrap();
            assert!(
                close(l.intercept, num(&f["intercept"]), 1e-9),
                "alpha {alpha}"
            );
            for (j, c) in f["coef"].as_array().unwrap().iter().enumerate() {
                assert!(
                    close(l.coef[j], num(c), 1e-9),
                    "alpha {alpha} coef {j}: {} vs {c}",
                    l.coef[j]
                );
            }
        }
        let r7 = fit_linear(x.view(), &y, &rows, 1.0).unwrap();
        for (j, c) in want["ridge_onehot"]["coef"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            assert!(close(r7.coef[j], num(c), 1e-9), "one-hot ridge coef {j}");
        }
        let ols = Regressor::Linear(fit_linear(x.view(), &y, &rows, 0.0).unwrap());
        let got = ols.predict(x.view());
        for (g, w) in got
            .iter()
            .zip(want["ols_onehot_predictions"].as_array().unwrap())
        {
            assert!(close(*g, num(w), 1e-9), "{g} vs {w}");
        }
    }

    /// A regression tree's leaves hold their rows' means, and a one-split tree splits where
    /// an exhaustive search over every threshold finds the least squared error.
    #[test]
    fn a_tree_predicts_leaf_means_and_splits_where_brute_force_does() {
        let (x, y) = noisy(300, 5);
        let rows: Vec<usize> = (0..300).collect();
        let binned = Binned::new(x.view(), 256);
        let p = PredictParams {
            model: ModelKind::Tree,
            tree: super::super::tree::TreeParams {
                max_depth: 3,
                min_samples_leaf: 5,
                ..Default::default()
            },
            ..Default::default()
        };
        let t = fit_regressor(x.view(), Some(&binned), &y, &rows, &p, &Progress::new()).unwrap();
        let pred = t.predict(x.view());
        let mut groups: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
        for (i, v) in pred.iter().enumerate() {
            groups.entry(v.to_bits()).or_default().push(y[i]);
        }
        assert!(groups.len() > 2 && groups.len() <= 8);
        for (bits, ys) in &groups {
            assert!(ys.len() >= 5);
            let mean = ys.iter().sum::<f64>() / ys.len() as f64;
            assert!((f64::from_bits(*bits) - mean).abs() < 1e-9);
        }
        // Depth 1 against brute force.
        let stump = PredictParams {
            tree: super::super::tree::TreeParams {
                max_depth: 1,
                min_samples_leaf: 1,
                ..Default::default()
            },
            ..p
        };
        let s = fit_regressor(x.view(), Some(&binned), &y, &rows, &stump, &Progress::new())
            .unwrap()
            .predict(x.view());
        let sse = |pred: &[f64]| {
            y.iter()
                .zip(pred)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
        };
        let mut best = f64::INFINITY;
        for j in 0..3 {
            for &t in x.column(j).iter() {
                let (l, r): (Vec<usize>, Vec<usize>) = rows.iter().partition(|&&i| x[[i, j]] <= t);
                if l.is_empty() || r.is_empty() {
                    continue;
                }
                let m = |g: &[usize]| g.iter().map(|&i| y[i]).sum::<f64>() / g.len() as f64;
                let (ml, mr) = (m(&l), m(&r));
                let pred: Vec<f64> = (0..300)
                    .map(|i| if x[[i, j]] <= t { ml } else { mr })
                    .collect();
                best = best.min(sse(&pred));
            }
        }
        assert!(
            (sse(&s) - best).abs() < 1e-6 * best,
            "{} vs {best}",
            sse(&s)
        );
    }

    #[test]
    fn metrics_by_hand() {
        let actual = [3.0, 0.0, 10.0, 1.0, 6.0, 0.0, 2.0, 4.0, 0.0, 4.0, 5.0, 5.0];
        let predicted = [2.0, 1.0, 9.0, 1.0, 7.0, 0.0, 2.0, 5.0, 0.0, 3.0, 8.0, 5.0];
        let m = regression_metrics(&actual, &predicted);
        // |errors| 1,1,1,0,1,0,0,1,0,1,3,0 = 9; squares 1,1,1,0,1,0,0,1,0,1,9,0 = 15.
        assert!((m.mae - 9.0 / 12.0).abs() < 1e-12);
        assert!((m.rmse - (15.0f64 / 12.0).sqrt()).abs() < 1e-12);
        // Mean 40/12; total sum of squares 232 - 40²/12.
        let ss_tot = 232.0 - 1600.0 / 12.0;
        assert!((m.r2 - (1.0 - 15.0 / ss_tot)).abs() < 1e-12);
        // Top decile: ceil(12/10) = 2 rows predicted highest (9 and 8): actual 10 + 5 of 40.
        assert_eq!(m.top_decile_share, Some(15.0 / 40.0));
        assert_eq!(top_decile_share(&[1.0, -1.0], &[0.0, 1.0]), None);
        assert_eq!(regression_metrics(&[2.0, 2.0], &[2.0, 2.0]).r2, 1.0);
        assert_eq!(regression_metrics(&[2.0, 2.0], &[1.0, 2.0]).r2, 0.0);
        assert_eq!(median(vec![3.0, 1.0, 2.0, 10.0]), 2.5);
    }

    fn params(model: ModelKind) -> PredictParams {
        PredictParams {
            model,
            n_trees: 30,
            logistic: super::super::logistic::LogisticParams {
                alpha: 0.0,
                ..Default::default()
            },
            tree: super::super::tree::TreeParams {
                max_depth: 6,
                min_samples_leaf: if model == ModelKind::Gbdt { 20 } else { 1 },
                ..Default::default()
            },
            folds: 3,
            ..Default::default()
        }
    }

    /// Every regressor beats the training mean on held-out rows of a nonlinear target, the
    /// informative features rank first, and the cross-validation reports all three metrics.
    #[test]
    fn every_regressor_beats_the_mean() {
        let (x, y) = noisy(1500, 9);
        let names: Vec<String> = ["step", "curve", "noise"].map(String::from).to_vec();
        for model in ModelKind::REGRESSORS {
            let r = run_regression(x.view(), &names, &y, &params(model), &Progress::new()).unwrap();
            assert!(
                r.test.rmse < r.baseline.rmse,
                "{model}: {} vs {}",
                r.test.rmse,
                r.baseline.rmse
            );
            assert!(r.test.mae < r.baseline.mae, "{model}");
            assert!(r.test.r2 > 0.3, "{model}: r2 {}", r.test.r2);
            assert!(r.baseline.r2 <= 0.0 + 1e-3);
            assert_eq!(r.cv.keys().collect::<Vec<_>>(), ["mae", "r2", "rmse"]);
            assert_eq!(r.permutation_importance[0].feature, "step", "{model}");
            assert_ne!(r.feature_importance[2].0, "step");
            assert_eq!(r.predictions.len(), 1500);
            if model != ModelKind::Linear {
                // The trees see the curve too; a line cannot.
                assert!(r.test.r2 > 0.8, "{model}: r2 {}", r.test.r2);
                assert_eq!(r.feature_importance[2].0, "noise", "{model}");
            }
        }
    }

    /// A seed gives the same forest and boosting on 1 and 2 threads.
    #[test]
    fn a_seed_gives_the_same_regressors_on_any_number_of_threads() {
        let (x, y) = noisy(800, 11);
        let rows: Vec<usize> = (0..800).collect();
        let binned = Binned::new(x.view(), 256);
        for model in [ModelKind::Forest, ModelKind::Gbdt, ModelKind::Linear] {
            let p = params(model);
            let fit = |threads: usize| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| {
                        fit_regressor(x.view(), Some(&binned), &y, &rows, &p, &Progress::new())
                            .unwrap()
                    })
            };
            assert_eq!(fit(1), fit(2), "{model}");
        }
    }

    /// The forest is the mean of its trees: bagging lowers the variance of one deep tree.
    #[test]
    fn a_forest_beats_one_deep_tree() {
        let (x, y) = noisy(1200, 13);
        let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let mut deep = params(ModelKind::Tree);
        deep.tree.max_depth = 12;
        let mut forest = params(ModelKind::Forest);
        forest.tree.max_depth = 12;
        let t = run_regression(x.view(), &names, &y, &deep, &Progress::new()).unwrap();
        let f = run_regression(x.view(), &names, &y, &forest, &Progress::new()).unwrap();
        assert!(
            f.test.rmse < t.test.rmse,
            "{} vs {}",
            f.test.rmse,
            t.test.rmse
        );
    }

    /// A comparison's rows equal a run of each model alone on the same folds; the best is
    /// the lowest RMSE.
    #[test]
    fn comparison_rows_equal_runs() {
        let (x, y) = noisy(600, 17);
        let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let cells: Vec<PredictParams> = ModelKind::REGRESSORS.iter().map(|&m| params(m)).collect();
        let c = compare_regressors(x.view(), &y, &cells, &Progress::new()).unwrap();
        assert_eq!(c.metric, "rmse");
        for (row, p) in c.rows.iter().zip(&cells) {
            let r = run_regression(x.view(), &names, &y, p, &Progress::new()).unwrap();
            assert_eq!(row.cv, r.cv, "{}", p.model);
        }
        let best = c.rows[c.best].cv["rmse"].mean;
        assert!(c.rows.iter().all(|r| r.cv["rmse"].mean >= best));
        let e = compare_regressors(x.view(), &y, &[params(ModelKind::Svm)], &Progress::new());
        assert!(e.unwrap_err().to_string().contains("predicts classes"));
    }

    #[test]
    fn bad_targets_are_refused() {
        let (x, mut y) = noisy(50, 1);
        y[7] = f64::NAN;
        let e = run_regression(
            x.view(),
            &[],
            &y,
            &params(ModelKind::Linear),
            &Progress::new(),
        );
        assert!(e.unwrap_err().to_string().contains("row 8"));
        let (x, y) = noisy(3, 1);
        let e = run_regression(
            x.view(),
            &[],
            &y,
            &params(ModelKind::Linear),
            &Progress::new(),
        );
        assert!(e.unwrap_err().to_string().contains("3 rows"));
    }
}
