//! Gradient-boosted trees on binned features (the histogram method of LightGBM and
//! scikit-learn's HistGradientBoosting): logistic loss for two classes, softmax (one tree per
//! class and round) for more, and squared, absolute or Huber loss for values.
//!
//! Each round computes every training row's gradient and hessian of the loss at the current
//! raw scores, then grows one tree leaf-wise (the leaf whose best split gains most is split
//! next) up to `max_leaves` leaves and `max_depth` levels. A node's best split comes from its
//! per-feature histograms of gradient and hessian sums over the features' bins (the forest's
//! [`Binned`], at most 256 bins); one child's histograms are built from its rows and the
//! other's are the parent's minus those (the smaller child is the one built). Split gain and
//! leaf values are the second-order ones with an L2 penalty `l2` on leaf values:
//! gain = G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ), value = −G/(H+λ), times the learning rate.
//! Absolute loss sets each leaf to the median of its rows' residuals and Huber loss to
//! Friedman's robust step (the median plus the mean clipped deviation from it), as
//! scikit-learn does.
//!
//! Early stopping (the default) holds out `validation_fraction` of the training rows
//! (stratified for classes), stops when the validation loss has not improved for `patience`
//! rounds and keeps the trees up to the best round, which is reported.
//!
//! Our own code rather than a crate: linfa has no gradient boosting; the `lightgbm` and
//! `xgboost` crates bind C++ libraries (a C++ toolchain and CMake in the CI build, and their
//! own thread pools outside rayon's determinism); `gbdt` (crates.io) grows exact-split trees
//! without histograms and is far too slow for 1M rows. Reusing the forest's binning also
//! keeps one set of bin edges for every tree model.
//!
//! Determinism: histograms are summed one feature per task in row order, gradients one row
//! at a time, sums over rows in a fixed order, and every random draw (validation rows, row
//! and column subsamples) comes from the seed and the round, so a seed gives the same model
//! on any number of threads.

use ndarray::ArrayView2;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::AnalyticsError;
use super::tree::Binned;
use crate::progress::Progress;

/// The loss a regression minimises (classes always use the logistic / softmax loss).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RegressionLoss {
    #[default]
    Squared,
    Absolute,
    Huber,
}

crate::choice!(RegressionLoss { Squared => "squared", Absolute => "absolute", Huber => "huber" });

/// Huber loss: the residuals beyond this quantile of |residual| (recomputed each round, as
/// Friedman's and scikit-learn's) are treated linearly.
pub const HUBER_QUANTILE: f64 = 0.9;
/// Smallest hessian sum a child may have (scikit-learn's and LightGBM's default).
const MIN_CHILD_HESSIAN: f64 = 1e-3;
/// An improvement of the validation loss smaller than this does not count.
const TOLERANCE: f64 = 1e-7;
/// Below this many (rows x features) a node's histograms are built on one thread.
const PARALLEL_WORK: usize = 32_768;

#[derive(Debug, Clone, PartialEq)]
pub struct GbdtParams {
    pub learning_rate: f64,
    /// Rounds at most (trees per output).
    pub rounds: usize,
    pub max_leaves: usize,
    pub max_depth: usize,
    /// Fewest training rows in a leaf.
    pub min_leaf: usize,
    /// L2 penalty on leaf values.
    pub l2: f64,
    /// Share of the training rows each tree is grown on (drawn without replacement).
    pub subsample: f64,
    /// Share of the features each tree may split on.
    pub colsample: f64,
    pub early_stopping: bool,
    pub validation_fraction: f64,
    /// Rounds without improvement before stopping.
    pub patience: usize,
    pub loss: RegressionLoss,
    pub seed: u64,
}

impl Default for GbdtParams {
    fn default() -> Self {
        GbdtParams {
            learning_rate: 0.1,
            rounds: 100,
            max_leaves: 31,
            max_depth: 8,
            min_leaf: 20,
            l2: 0.0,
            subsample: 1.0,
            colsample: 1.0,
            early_stopping: true,
            validation_fraction: 0.1,
            patience: 10,
            loss: RegressionLoss::Squared,
            seed: 42,
        }
    }
}

/// One boosted tree, as parallel arrays (node 0 is the root). A split node sends a row left
/// when its value of `feature` is at most `threshold` (its bin at most `bin`); a leaf
/// (`feature` = [`LEAF`]) holds its value in `value`, already times the learning rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoostTree {
    pub feature: Vec<u32>,
    pub threshold: Vec<f64>,
    pub bin: Vec<u8>,
    pub left: Vec<u32>,
    pub right: Vec<u32>,
    pub value: Vec<f64>,
}

/// A node for prediction: a split sends a row to `next[0]` when its value is at most
/// `threshold`, else to `next[1]`; a leaf sends every row to itself.
#[derive(Debug, Clone, Copy)]
struct Flat {
    threshold: f64,
    feature: u32,
    next: [u32; 2],
}

/// `BoostTree::feature` of a leaf.
pub const LEAF: u32 = u32::MAX;

impl BoostTree {
    fn leaf_of(&self, go_left: impl Fn(usize, usize) -> bool) -> usize {
        let mut n = 0;
        while self.feature[n] != LEAF {
            n = if go_left(n, self.feature[n] as usize) {
                self.left[n] as usize
            } else {
                self.right[n] as usize
            };
        }
        n
    }

    /// The value of a row of raw feature values.
    pub fn predict(&self, row: &[f64]) -> f64 {
        self.value[self.leaf_of(|n, f| row[f] <= self.threshold[n])]
    }

    pub fn leaves(&self) -> usize {
        self.feature.iter().filter(|&&f| f == LEAF).count()
    }

    pub fn depth(&self) -> usize {
        fn walk(t: &BoostTree, n: usize) -> usize {
            if t.feature[n] == LEAF {
                0
            } else {
                1 + walk(t, t.left[n] as usize).max(walk(t, t.right[n] as usize))
            }
        }
        walk(self, 0)
    }
}

/// What a booster predicts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// Classes 0..k: the logistic loss (k = 2, one raw score: the log-odds of class 1) or
    /// softmax (k raw scores).
    Classes(usize),
    Squared,
    Absolute,
    Huber,
}

/// A fitted booster: what a saved model keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gbdt {
    pub objective: Objective,
    /// The raw score before any tree, per output.
    pub base: Vec<f64>,
    /// Per round, one tree per output.
    pub trees: Vec<Vec<BoostTree>>,
    /// Split gain per feature, normalised to sum to 1 (all 0 without a split).
    pub importance: Vec<f64>,
    /// Validation loss after each round fitted (empty without early stopping): the mean
    /// log loss for classes, mean squared error, mean absolute error (absolute and Huber).
    pub validation_loss: Vec<f64>,
}

impl Gbdt {
    /// The raw scores of one row of raw feature values.
    pub fn raw(&self, row: &[f64]) -> Vec<f64> {
        let mut out = self.base.clone();
        for round in &self.trees {
            for (o, t) in out.iter_mut().zip(round) {
                *o += t.predict(row);
            }
        }
        out
    }

    /// Class probabilities of one row (a classifier), in class order.
    pub fn predict_proba(&self, row: &[f64]) -> Vec<f64> {
        let raw = self.raw(row);
        match self.objective {
            Objective::Classes(2) => {
                let p = sigmoid(raw[0]);
                vec![1.0 - p, p]
            }
            _ => softmax(&raw),
        }
    }

    /// The predicted value of one row (a regressor).
    pub fn predict_value(&self, row: &[f64]) -> f64 {
        self.raw(row)[0]
    }

    /// The raw scores of `rows` of `x` (raw feature values), row-major with one score per
    /// output: the same sums, in the same order, as [`Gbdt::raw`] row by row, computed a
    /// block of rows at a time per tree (the tree stays in cache) on all threads.
    pub fn raw_rows(&self, x: ArrayView2<f64>, rows: &[usize]) -> Vec<f64> {
        const BLOCK: usize = 256;
        const LANES: usize = 8;
        let k = self.base.len();
        let d = x.ncols();
        let x = x.as_standard_layout();
        let values = x.as_slice().expect("standard layout");
        // Every tree in one array of nodes; a leaf points to itself both ways, so each tree
        // is walked a fixed number of steps (its depth) without a branch to mispredict.
        let mut nodes: Vec<Flat> = Vec::new();
        let mut leaf_value: Vec<f64> = Vec::new();
        let mut trees: Vec<Vec<(usize, usize)>> = vec![Vec::new(); k];
        for round in &self.trees {
            for (o, t) in round.iter().enumerate() {
                let at = nodes.len();
                trees[o].push((at, t.depth()));
                for n in 0..t.feature.len() {
                    let me = (at + n) as u32;
                    nodes.push(if t.feature[n] == LEAF {
                        Flat {
                            threshold: 0.0,
                            feature: 0,
                            next: [me, me],
                        }
                    } else {
                        Flat {
                            threshold: t.threshold[n],
                            feature: t.feature[n],
                            next: [
                                (at + t.left[n] as usize) as u32,
                                (at + t.right[n] as usize) as u32,
                            ],
                        }
                    });
                    leaf_value.push(t.value[n]);
                }
            }
        }
        let mut out = vec![0.0; rows.len() * k];
        out.par_chunks_mut(BLOCK * k)
            .zip(rows.par_chunks(BLOCK))
            .for_each(|(o, block)| {
                for (c, trees) in trees.iter().enumerate() {
                    for j in 0..block.len() {
                        o[j * k + c] = self.base[c];
                    }
                    for &(root, depth) in trees {
                        // LANES rows walked in step: independent chains of loads the
                        // processor overlaps.
                        for (lane_rows, lane_out) in
                            block.chunks(LANES).zip(o.chunks_mut(LANES * k))
                        {
                            let mut at = [root; LANES];
                            let mut base = [0usize; LANES];
                            for (b, &r) in base.iter_mut().zip(lane_rows) {
                                *b = r * d;
                            }
                            let lanes = lane_rows.len();
                            for _ in 0..depth {
                                for l in 0..lanes {
                                    let f = &nodes[at[l]];
                                    // Right unless at most the threshold (NaN goes right, as
                                    // in `BoostTree::predict`).
                                    #[allow(clippy::neg_cmp_op_on_partial_ord)]
                                    let right =
                                        !(values[base[l] + f.feature as usize] <= f.threshold);
                                    at[l] = f.next[usize::from(right)] as usize;
                                }
                            }
                            for l in 0..lanes {
                                lane_out[l * k + c] += leaf_value[at[l]];
                            }
                        }
                    }
                }
            });
        out
    }

    /// Class probabilities of `rows` of `x` (a classifier), as [`Gbdt::predict_proba`].
    pub fn proba_rows(&self, x: ArrayView2<f64>, rows: &[usize]) -> Vec<Vec<f64>> {
        let k = self.base.len();
        let raw = self.raw_rows(x, rows);
        raw.chunks(k)
            .map(|z| match self.objective {
                Objective::Classes(2) => {
                    let p = sigmoid(z[0]);
                    vec![1.0 - p, p]
                }
                _ => softmax(z),
            })
            .collect()
    }

    /// Rounds kept.
    pub fn rounds(&self) -> usize {
        self.trees.len()
    }

    /// Progress units of a fit: one per round at most.
    pub fn units(p: &GbdtParams) -> u64 {
        p.rounds.max(1) as u64
    }
}

/// The logistic function, without overflow either way.
pub(crate) fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Probabilities of scores `z` (the maximum subtracted first).
pub(crate) fn softmax(z: &[f64]) -> Vec<f64> {
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - max).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

/// The training target.
#[derive(Clone, Copy)]
enum Target<'a> {
    Classes(&'a [usize], usize),
    Values(&'a [f64], RegressionLoss),
}

impl Target<'_> {
    fn outputs(&self) -> usize {
        match self {
            Target::Classes(_, k) if *k > 2 => *k,
            _ => 1,
        }
    }

    fn objective(&self) -> Objective {
        match self {
            Target::Classes(_, k) => Objective::Classes(*k),
            Target::Values(_, RegressionLoss::Squared) => Objective::Squared,
            Target::Values(_, RegressionLoss::Absolute) => Objective::Absolute,
            Target::Values(_, RegressionLoss::Huber) => Objective::Huber,
        }
    }
}

/// Fits a classifier on `rows` of `x` with classes `y` (0..classes). `progress` advances one
/// unit per round (the caller starts the step; see [`Gbdt::units`]) and cancels the fit.
pub fn fit_gbdt_classifier(
    x: &Binned,
    y: &[usize],
    classes: usize,
    rows: &[usize],
    p: &GbdtParams,
    progress: &Progress,
) -> Result<Gbdt, AnalyticsError> {
    if classes < 2 {
        return Err(AnalyticsError::Input(
            "gradient boosting needs two or more classes".into(),
        ));
    }
    boost(x, Target::Classes(y, classes), rows, p, progress)
}

/// Fits a regressor on `rows` of `x` with values `y` and `p.loss`.
pub fn fit_gbdt_regressor(
    x: &Binned,
    y: &[f64],
    rows: &[usize],
    p: &GbdtParams,
    progress: &Progress,
) -> Result<Gbdt, AnalyticsError> {
    if let Some(r) = rows.iter().find(|&&r| !y[r].is_finite()) {
        return Err(AnalyticsError::Input(format!(
            "the target of row {} is {}; a value to predict must be a finite number",
            r + 1,
            y[*r]
        )));
    }
    boost(x, Target::Values(y, p.loss), rows, p, progress)
}

/// Every boosting parameter within its range (`super::limits`), or an error naming it.
pub(crate) fn check(p: &GbdtParams) -> Result<(), AnalyticsError> {
    use super::limits;
    limits::LEARNING_RATE.named("learning_rate", p.learning_rate)?;
    limits::ROUNDS.named("rounds", p.rounds)?;
    limits::MAX_LEAVES.named("max_leaves", p.max_leaves)?;
    limits::MAX_DEPTH.named("max_depth", p.max_depth)?;
    limits::MIN_LEAF.named("min_leaf", p.min_leaf)?;
    limits::L2.named("l2", p.l2)?;
    limits::SAMPLE_SHARE.named("subsample", p.subsample)?;
    limits::SAMPLE_SHARE.named("colsample", p.colsample)?;
    limits::VALIDATION_FRACTION.named("validation_fraction", p.validation_fraction)?;
    limits::PATIENCE.named("patience", p.patience)?;
    Ok(())
}

/// The rows trained on and the rows validated on: a seeded (stratified for classes) split of
/// `rows`, or all of them and none.
fn validation_split(
    target: Target,
    rows: &[usize],
    p: &GbdtParams,
) -> Result<(Vec<usize>, Vec<usize>), AnalyticsError> {
    let n_valid = (p.validation_fraction * rows.len() as f64).round() as usize;
    if !p.early_stopping || n_valid < 1 || rows.len() - n_valid < 2 {
        return Ok((rows.to_vec(), Vec::new()));
    }
    let seed = p.seed ^ 0x005e_ed0f_ea51;
    match target {
        Target::Classes(y, _) => {
            let labels: Vec<usize> = rows.iter().map(|&r| y[r]).collect();
            let (tr, va) =
                super::evaluation::stratified_split(&labels, p.validation_fraction, seed)?;
            Ok((
                tr.into_iter().map(|i| rows[i]).collect(),
                va.into_iter().map(|i| rows[i]).collect(),
            ))
        }
        Target::Values(..) => {
            let mut order = rows.to_vec();
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
            let (va, tr) = order.split_at(n_valid);
            let (mut tr, mut va) = (tr.to_vec(), va.to_vec());
            tr.sort_unstable();
            va.sort_unstable();
            Ok((tr, va))
        }
    }
}

/// The bins of `rows`, column-major (feature t of the i-th row at `t * rows.len() + i`).
fn take(x: &Binned, rows: &[usize]) -> Vec<u8> {
    let m = rows.len();
    let mut out = vec![0u8; m * x.d];
    out.par_chunks_mut(m.max(1)).enumerate().for_each(|(t, o)| {
        let col = x.column(t);
        for (v, &r) in o.iter_mut().zip(rows) {
            *v = col[r];
        }
    });
    out
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    let (_, &mut hi, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    if v.len() % 2 == 1 {
        hi
    } else {
        let lo = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo + hi) / 2.0
    }
}

/// The `q` quantile of `v` (the value at rank ceil(q n) - 1).
fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let k = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    *v.select_nth_unstable_by(k, f64::total_cmp).1
}

/// The raw scores before any tree.
fn base_scores(target: Target, rows: &[usize]) -> Vec<f64> {
    match target {
        Target::Classes(y, k) => {
            let mut counts = vec![0f64; k];
            for &r in rows {
                counts[y[r]] += 1.0;
            }
            let n = rows.len() as f64;
            // Priors kept away from 0 and 1 so the logs stay finite.
            let prior = |c: f64| (c / n).clamp(1e-15, 1.0 - 1e-15);
            if k == 2 {
                let p = prior(counts[1]);
                vec![(p / (1.0 - p)).ln()]
            } else {
                counts.iter().map(|&c| prior(c).ln()).collect()
            }
        }
        Target::Values(y, loss) => {
            let mut v: Vec<f64> = rows.iter().map(|&r| y[r]).collect();
            match loss {
                RegressionLoss::Squared => vec![v.iter().sum::<f64>() / v.len().max(1) as f64],
                RegressionLoss::Absolute | RegressionLoss::Huber => vec![median(&mut v)],
            }
        }
    }
}

/// The mean validation loss of raw scores `raw` (row-major, `outputs` per row) of `rows`.
fn loss(target: Target, rows: &[usize], raw: &[f64], outputs: usize) -> f64 {
    let n = rows.len().max(1) as f64;
    let per: f64 = match target {
        Target::Classes(y, k) => rows
            .iter()
            .enumerate()
            .map(|(i, &r)| {
                let p = if k == 2 {
                    let p1 = sigmoid(raw[i]);
                    if y[r] == 1 { p1 } else { 1.0 - p1 }
                } else {
                    softmax(&raw[i * outputs..(i + 1) * outputs])[y[r]]
                };
                -p.max(1e-15).ln()
            })
            .sum(),
        Target::Values(y, RegressionLoss::Squared) => {
            rows.iter().zip(raw).map(|(&r, f)| (y[r] - f).powi(2)).sum()
        }
        Target::Values(y, _) => rows.iter().zip(raw).map(|(&r, f)| (y[r] - f).abs()).sum(),
    };
    per / n
}

#[derive(Debug, Clone, Copy, Default)]
struct HBin {
    g: f64,
    h: f64,
    n: u32,
}

/// A node's best split: gain, feature, bin (rows with bin <= it go left), and the left
/// child's sums.
#[derive(Debug, Clone, Copy)]
struct Best {
    gain: f64,
    feature: usize,
    bin: usize,
    n_left: usize,
}

/// A leaf still growing: its rows `idx[start..end]`, depth, sums and histograms.
struct Open {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
    g: f64,
    h: f64,
    hist: Vec<HBin>,
    best: Option<Best>,
}

/// What one tree is grown with.
struct Grow<'a> {
    /// Training bins, column-major over the training rows.
    bins: &'a [u8],
    m: usize,
    d: usize,
    /// Bins per feature.
    nbins: &'a [usize],
    grad: &'a [f32],
    hess: &'a [f32],
    features: &'a [usize],
    p: &'a GbdtParams,
}

impl Grow<'_> {
    /// Histograms of the rows `idx` (positions among the training rows, ascending).
    fn histograms(&self, idx: &[u32]) -> Vec<HBin> {
        let mut hist = vec![HBin::default(); self.d * 256];
        let parallel = idx.len() * self.features.len() >= PARALLEL_WORK;
        // All the rows in order (a root without row subsampling): read in place. Else the
        // gradients in the node's row order, gathered once for every feature.
        let whole = idx.len() == self.m;
        let gh: Vec<(f32, f32)> = if whole {
            Vec::new()
        } else if parallel {
            idx.par_iter()
                .map(|&i| (self.grad[i as usize], self.hess[i as usize]))
                .collect()
        } else {
            idx.iter()
                .map(|&i| (self.grad[i as usize], self.hess[i as usize]))
                .collect()
        };
        let one = |t: usize, out: &mut [HBin]| {
            if !self.features.contains(&t) {
                return;
            }
            let out: &mut [HBin; 256] = out.try_into().expect("256 bins a feature");
            let col = &self.bins[t * self.m..(t + 1) * self.m];
            if whole {
                for ((&b, &g), &h) in col.iter().zip(self.grad).zip(self.hess) {
                    let b = &mut out[b as usize];
                    b.g += g as f64;
                    b.h += h as f64;
                    b.n += 1;
                }
            } else {
                for (&i, &(g, h)) in idx.iter().zip(&gh) {
                    let b = &mut out[col[i as usize] as usize];
                    b.g += g as f64;
                    b.h += h as f64;
                    b.n += 1;
                }
            }
        };
        if parallel {
            hist.par_chunks_mut(256)
                .enumerate()
                .for_each(|(t, o)| one(t, o));
        } else {
            hist.chunks_mut(256)
                .enumerate()
                .for_each(|(t, o)| one(t, o));
        }
        hist
    }

    fn score(&self, g: f64, h: f64) -> f64 {
        g * g / (h + self.p.l2)
    }

    /// The best split of a node with sums `g`, `h`, `n` rows and histograms `hist`.
    fn best(&self, hist: &[HBin], g: f64, h: f64, n: usize, depth: usize) -> Option<Best> {
        let min_leaf = self.p.min_leaf.max(1);
        if depth >= self.p.max_depth || n < 2 * min_leaf {
            return None;
        }
        let parent = self.score(g, h);
        let mut best: Option<Best> = None;
        for &t in self.features {
            let hs = &hist[t * 256..t * 256 + self.nbins[t]];
            let (mut gl, mut hl, mut nl) = (0.0, 0.0, 0usize);
            for (b, bin) in hs.iter().enumerate().take(hs.len().saturating_sub(1)) {
                gl += bin.g;
                hl += bin.h;
                nl += bin.n as usize;
                if nl < min_leaf {
                    continue;
                }
                if n - nl < min_leaf {
                    break;
                }
                let (gr, hr) = (g - gl, h - hl);
                if hl < MIN_CHILD_HESSIAN || hr < MIN_CHILD_HESSIAN {
                    continue;
                }
                let gain = self.score(gl, hl) + self.score(gr, hr) - parent;
                if gain > 1e-12 && best.is_none_or(|b| gain > b.gain) {
                    best = Some(Best {
                        gain,
                        feature: t,
                        bin: b,
                        n_left: nl,
                    });
                }
            }
        }
        best
    }

    /// Grows a tree on the training positions `idx` (ascending; reordered so each leaf's
    /// rows are contiguous). Returns the tree with leaf values not yet set (Newton steps in
    /// `value`, unscaled), each leaf's row range in `idx`, and the gain per feature.
    fn grow(
        &self,
        idx: &mut [u32],
        edges: &dyn Fn(usize, usize) -> f64,
    ) -> (BoostTree, Vec<(usize, usize, usize)>, Vec<f64>) {
        let mut tree = BoostTree {
            feature: vec![LEAF],
            threshold: vec![0.0],
            bin: vec![0],
            left: vec![0],
            right: vec![0],
            value: vec![0.0],
        };
        let mut gains = vec![0.0; self.d];
        let hist = self.histograms(idx);
        let (mut g, mut h) = (0.0, 0.0);
        // Sums from one feature's histogram (every row is in exactly one of its bins).
        if let Some(&t) = self.features.first() {
            for b in &hist[t * 256..t * 256 + 256] {
                g += b.g;
                h += b.h;
            }
        }
        let best = self.best(&hist, g, h, idx.len(), 0);
        let mut open = vec![Open {
            node: 0,
            start: 0,
            end: idx.len(),
            depth: 0,
            g,
            h,
            hist,
            best,
        }];
        let mut scratch: Vec<u32> = Vec::new();
        let mut leaves = 1;
        while leaves < self.p.max_leaves.max(1) {
            // The open leaf whose split gains most (the first of equals).
            let Some(pick) = open
                .iter()
                .enumerate()
                .filter_map(|(i, o)| o.best.map(|b| (i, b.gain)))
                .fold(None, |acc: Option<(usize, f64)>, (i, gain)| match acc {
                    Some((_, bg)) if bg >= gain => acc,
                    _ => Some((i, gain)),
                })
                .map(|(i, _)| i)
            else {
                break;
            };
            let mut leaf = open.swap_remove(pick);
            let b = leaf.best.expect("picked a leaf with a split");
            let col = &self.bins[b.feature * self.m..(b.feature + 1) * self.m];
            let w = partition(&mut idx[leaf.start..leaf.end], &mut scratch, |r| {
                col[r as usize] as usize <= b.bin
            });
            debug_assert_eq!(w, b.n_left);
            let mid = leaf.start + w;
            // Left child's sums from the histogram of the split feature.
            let (mut gl, mut hl) = (0.0, 0.0);
            for bin in &leaf.hist[b.feature * 256..b.feature * 256 + b.bin + 1] {
                gl += bin.g;
                hl += bin.h;
            }
            let (gr, hr) = (leaf.g - gl, leaf.h - hl);
            gains[b.feature] += b.gain;
            // The smaller child's histograms from its rows, the larger's by subtraction.
            let left_small = w <= leaf.end - mid;
            let small = if left_small {
                self.histograms(&idx[leaf.start..mid])
            } else {
                self.histograms(&idx[mid..leaf.end])
            };
            let mut large = std::mem::take(&mut leaf.hist);
            for (l, s) in large.iter_mut().zip(&small) {
                l.g -= s.g;
                l.h -= s.h;
                l.n -= s.n;
            }
            let (lh, rh) = if left_small {
                (small, large)
            } else {
                (large, small)
            };
            let depth = leaf.depth + 1;
            let (ln, rn) = (tree.feature.len(), tree.feature.len() + 1);
            for _ in 0..2 {
                tree.feature.push(LEAF);
                tree.threshold.push(0.0);
                tree.bin.push(0);
                tree.left.push(0);
                tree.right.push(0);
                tree.value.push(0.0);
            }
            let at = leaf.node;
            tree.feature[at] = b.feature as u32;
            tree.bin[at] = b.bin as u8;
            tree.threshold[at] = edges(b.feature, b.bin);
            tree.left[at] = ln as u32;
            tree.right[at] = rn as u32;
            let lbest = self.best(&lh, gl, hl, w, depth);
            let rbest = self.best(&rh, gr, hr, leaf.end - mid, depth);
            open.push(Open {
                node: ln,
                start: leaf.start,
                end: mid,
                depth,
                g: gl,
                h: hl,
                hist: lh,
                best: lbest,
            });
            open.push(Open {
                node: rn,
                start: mid,
                end: leaf.end,
                depth,
                g: gr,
                h: hr,
                hist: rh,
                best: rbest,
            });
            leaves += 1;
            // Keep the open list in node order so "first of equals" is the lowest node.
            open.sort_by_key(|o| o.node);
        }
        let mut ranges = Vec::with_capacity(open.len());
        for o in open {
            tree.value[o.node] = -o.g / (o.h + self.p.l2);
            ranges.push((o.node, o.start, o.end));
        }
        ranges.sort_unstable();
        (tree, ranges, gains)
    }
}

/// Rows per task of a parallel partition (fixed, so the result does not depend on the
/// number of threads; it does not anyway: each side keeps the rows' order).
const PARTITION_CHUNK: usize = 65_536;

/// Stable partition of `rows`: those where `left` holds first, in their order, then the
/// others in theirs. Returns how many went left.
fn partition(rows: &mut [u32], scratch: &mut Vec<u32>, left: impl Fn(u32) -> bool + Sync) -> usize {
    if rows.len() < 2 * PARTITION_CHUNK {
        scratch.clear();
        let mut w = 0;
        for i in 0..rows.len() {
            let r = rows[i];
            if left(r) {
                rows[w] = r;
                w += 1;
            } else {
                scratch.push(r);
            }
        }
        rows[w..].copy_from_slice(scratch);
        return w;
    }
    // Each chunk split on its own thread, then the lefts and the rights laid out in chunk
    // order.
    let parts: Vec<(Vec<u32>, Vec<u32>)> = rows
        .par_chunks(PARTITION_CHUNK)
        .map(|c| {
            // Without branches: each row written to both sides, kept on one.
            let (mut l, mut r) = (vec![0u32; c.len()], vec![0u32; c.len()]);
            let (mut nl, mut nr) = (0, 0);
            for &x in c {
                let go = left(x);
                l[nl] = x;
                r[nr] = x;
                nl += go as usize;
                nr += !go as usize;
            }
            l.truncate(nl);
            r.truncate(nr);
            (l, r)
        })
        .collect();
    let mut w = 0;
    for (l, _) in &parts {
        rows[w..w + l.len()].copy_from_slice(l);
        w += l.len();
    }
    let lefts = w;
    for (_, r) in &parts {
        rows[w..w + r.len()].copy_from_slice(r);
        w += r.len();
    }
    lefts
}

/// The leaf a row of training bins (position `i`, column-major `bins` of `m` rows) reaches.
fn leaf_binned(t: &BoostTree, bins: &[u8], m: usize, i: usize) -> usize {
    t.leaf_of(|n, f| bins[f * m + i] <= t.bin[n])
}

fn boost(
    x: &Binned,
    target: Target,
    rows: &[usize],
    p: &GbdtParams,
    progress: &Progress,
) -> Result<Gbdt, AnalyticsError> {
    check(p)?;
    if rows.len() < 2 {
        return Err(AnalyticsError::Input(
            "gradient boosting needs at least two training rows".into(),
        ));
    }
    let (train, valid) = validation_split(target, rows, p)?;
    let (m, mv, d, k) = (train.len(), valid.len(), x.d, target.outputs());
    let bins = take(x, &train);
    let vbins = take(x, &valid);
    let nbins: Vec<usize> = (0..d).map(|t| x.edges(t).len() + 1).collect();
    let base = base_scores(target, &train);
    let mut raw: Vec<f64> = (0..m).flat_map(|_| base.iter().copied()).collect();
    let mut vraw: Vec<f64> = (0..mv).flat_map(|_| base.iter().copied()).collect();
    let mut grad = vec![vec![0f32; m]; k];
    let mut hess = vec![vec![0f32; m]; k];
    let mut trees: Vec<Vec<BoostTree>> = Vec::new();
    let mut gains = vec![0.0; d];
    let mut gains_at: Vec<Vec<f64>> = Vec::new();
    let mut validation_loss = Vec::new();
    let mut best_round = 0usize;
    let mut best_loss = f64::INFINITY;
    let edges = |t: usize, b: usize| x.edges(t)[b];
    let n_cols = ((p.colsample * d as f64).round() as usize).clamp(1, d.max(1));
    let n_rows = ((p.subsample * m as f64).round() as usize).clamp(1, m);
    for round in 0..p.rounds {
        if progress.is_cancelled() {
            return Err(AnalyticsError::Cancelled);
        }
        // Gradients and hessians at the current scores.
        let mut delta = 0.0;
        match target {
            Target::Classes(y, 2) => {
                let (g, h) = (&mut grad[0], &mut hess[0]);
                g.par_iter_mut()
                    .zip(h.par_iter_mut())
                    .enumerate()
                    .for_each(|(i, (g, h))| {
                        let pr = sigmoid(raw[i]);
                        *g = (pr - (y[train[i]] == 1) as u8 as f64) as f32;
                        *h = (pr * (1.0 - pr)).max(1e-16) as f32;
                    });
            }
            Target::Classes(y, _) => {
                let probs: Vec<f64> = raw
                    .par_chunks(k)
                    .flat_map_iter(softmax)
                    .collect::<Vec<f64>>();
                for c in 0..k {
                    let (g, h) = (&mut grad[c], &mut hess[c]);
                    g.par_iter_mut()
                        .zip(h.par_iter_mut())
                        .enumerate()
                        .for_each(|(i, (g, h))| {
                            let pr = probs[i * k + c];
                            *g = (pr - (y[train[i]] == c) as u8 as f64) as f32;
                            *h = (pr * (1.0 - pr)).max(1e-16) as f32;
                        });
                }
            }
            Target::Values(y, loss) => {
                if loss == RegressionLoss::Huber {
                    let mut abs: Vec<f64> = (0..m).map(|i| (y[train[i]] - raw[i]).abs()).collect();
                    delta = quantile(&mut abs, HUBER_QUANTILE);
                }
                let (g, h) = (&mut grad[0], &mut hess[0]);
                g.par_iter_mut()
                    .zip(h.par_iter_mut())
                    .enumerate()
                    .for_each(|(i, (g, h))| {
                        let r = raw[i] - y[train[i]];
                        *g = match loss {
                            RegressionLoss::Squared => r,
                            RegressionLoss::Absolute => r.signum() * (r != 0.0) as u8 as f64,
                            RegressionLoss::Huber => r.clamp(-delta, delta),
                        } as f32;
                        *h = 1.0;
                    });
            }
        }
        // The rows and features of this round's trees.
        let mut rng = ChaCha8Rng::seed_from_u64(p.seed.wrapping_add(round as u64 + 1));
        let mut idx: Vec<u32> = if n_rows < m {
            let mut s: Vec<u32> = sample(&mut rng, m, n_rows)
                .into_iter()
                .map(|i| i as u32)
                .collect();
            s.sort_unstable();
            s
        } else {
            (0..m as u32).collect()
        };
        let features: Vec<usize> = if n_cols < d {
            let mut f = sample(&mut rng, d, n_cols).into_vec();
            f.sort_unstable();
            f
        } else {
            (0..d).collect()
        };
        let sorted = idx.clone();
        let mut round_trees = Vec::with_capacity(k);
        for c in 0..k {
            let grow = Grow {
                bins: &bins,
                m,
                d,
                nbins: &nbins,
                grad: &grad[c],
                hess: &hess[c],
                features: &features,
                p,
            };
            idx.copy_from_slice(&sorted);
            let (mut tree, ranges, g) = grow.grow(&mut idx, &edges);
            for (a, b) in gains.iter_mut().zip(g) {
                *a += b;
            }
            // Leaf values: Newton steps, or the robust steps of absolute and Huber loss.
            for &(node, s, e) in &ranges {
                let v = match target {
                    Target::Values(y, RegressionLoss::Absolute) => {
                        let mut r: Vec<f64> = idx[s..e]
                            .iter()
                            .map(|&i| y[train[i as usize]] - raw[i as usize])
                            .collect();
                        median(&mut r)
                    }
                    Target::Values(y, RegressionLoss::Huber) => {
                        let r: Vec<f64> = idx[s..e]
                            .iter()
                            .map(|&i| y[train[i as usize]] - raw[i as usize])
                            .collect();
                        let med = median(&mut r.clone());
                        let clipped: f64 = r
                            .iter()
                            .map(|v| (v - med).clamp(-delta, delta))
                            .sum::<f64>();
                        med + clipped / r.len().max(1) as f64
                    }
                    // The Newton step sum(y - raw) / (n + l2) in f64 (the histograms sum
                    // the gradients as f32).
                    Target::Values(y, RegressionLoss::Squared) => {
                        let r: f64 = idx[s..e]
                            .iter()
                            .map(|&i| y[train[i as usize]] - raw[i as usize])
                            .sum();
                        r / ((e - s) as f64 + p.l2)
                    }
                    _ => tree.value[node],
                };
                tree.value[node] = v * p.learning_rate;
            }
            // Scores: the grown rows through their leaves, the others (row subsample) and
            // the validation rows through the tree.
            if n_rows < m {
                raw.par_chunks_mut(k).enumerate().for_each(|(i, r)| {
                    r[c] += tree.value[leaf_binned(&tree, &bins, m, i)];
                });
            } else {
                // Every row is in one leaf's range of `idx` (each range ascending).
                for &(node, s, e) in &ranges {
                    let v = tree.value[node];
                    for &i in &idx[s..e] {
                        raw[i as usize * k + c] += v;
                    }
                }
            }
            if mv > 0 {
                vraw.par_chunks_mut(k).enumerate().for_each(|(i, r)| {
                    r[c] += tree.value[leaf_binned(&tree, &vbins, mv, i)];
                });
            }
            round_trees.push(tree);
        }
        trees.push(round_trees);
        gains_at.push(gains.clone());
        progress.advance(1);
        if mv > 0 {
            let l = loss(target, &valid, &vraw, k);
            validation_loss.push(l);
            if l < best_loss - TOLERANCE {
                best_loss = l;
                best_round = round + 1;
            } else if round + 1 - best_round >= p.patience {
                break;
            }
        }
    }
    let fitted = trees.len();
    if mv > 0 && best_round > 0 {
        trees.truncate(best_round);
        gains = gains_at[best_round - 1].clone();
    }
    // The gauge ends full when the fit stopped early.
    progress.advance((p.rounds - fitted) as u64);
    let total: f64 = gains.iter().sum();
    if total > 0.0 {
        gains.iter_mut().for_each(|v| *v /= total);
    }
    Ok(Gbdt {
        objective: target.objective(),
        base,
        trees,
        importance: gains,
        validation_loss,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::evaluation::roc_auc;
    use ndarray::Array2;
    use rand::Rng;

    fn one_round(lr: f64, leaves: usize, min_leaf: usize) -> GbdtParams {
        GbdtParams {
            learning_rate: lr,
            rounds: 1,
            max_leaves: leaves,
            max_depth: 64,
            min_leaf,
            early_stopping: false,
            ..GbdtParams::default()
        }
    }

    /// The reference: a leaf-wise tree grown by exhaustive search over raw values (every
    /// threshold midway between consecutive distinct values of every feature), with the
    /// same gain and leaf values, written without histograms. Returns each row's leaf value
    /// (unscaled Newton step) and the splits in the order they were made.
    fn brute_tree(
        x: &Array2<f64>,
        g: &[f64],
        h: &[f64],
        leaves: usize,
        min_leaf: usize,
    ) -> (Vec<f64>, Vec<(usize, f64)>) {
        let n = x.nrows();
        let score = |rows: &[usize]| {
            let gs: f64 = rows.iter().map(|&r| g[r]).sum();
            let hs: f64 = rows.iter().map(|&r| h[r]).sum();
            gs * gs / hs
        };
        let best = |rows: &[usize]| -> Option<(f64, usize, f64)> {
            let mut best: Option<(f64, usize, f64)> = None;
            for t in 0..x.ncols() {
                // Thresholds between consecutive distinct values of all rows (where the
                // bins' edges are), tried from the lowest.
                let mut vals: Vec<f64> = x.column(t).to_vec();
                vals.sort_by(f64::total_cmp);
                vals.dedup();
                for w in vals.windows(2) {
                    let thr = w[0] + (w[1] - w[0]) / 2.0;
                    let (l, r): (Vec<usize>, Vec<usize>) =
                        rows.iter().partition(|&&i| x[[i, t]] <= thr);
                    if l.len() < min_leaf || r.len() < min_leaf {
                        continue;
                    }
                    let gain = score(&l) + score(&r) - score(rows);
                    if gain > 1e-12 && best.is_none_or(|b| gain > b.0 + 1e-12) {
                        best = Some((gain, t, thr));
                    }
                }
            }
            best
        };
        let mut open: Vec<Vec<usize>> = vec![(0..n).collect()];
        let mut splits = Vec::new();
        while open.len() < leaves {
            let cands: Vec<(usize, (f64, usize, f64))> = open
                .iter()
                .enumerate()
                .filter_map(|(i, rows)| best(rows).map(|b| (i, b)))
                .collect();
            let Some(&(i, (_, t, thr))) = cands.iter().max_by(|a, b| a.1.0.total_cmp(&b.1.0))
            else {
                break;
            };
            let rows = open.remove(i);
            let (l, r): (Vec<usize>, Vec<usize>) = rows.iter().partition(|&&i| x[[i, t]] <= thr);
            splits.push((t, thr));
            open.push(l);
            open.push(r);
        }
        let mut value = vec![0.0; n];
        for rows in &open {
            let gs: f64 = rows.iter().map(|&r| g[r]).sum();
            let hs: f64 = rows.iter().map(|&r| h[r]).sum();
            for &r in rows {
                value[r] = -gs / hs;
            }
        }
        (value, splits)
    }

    /// The splits of a tree, sorted.
    fn splits_of(t: &BoostTree) -> Vec<(usize, f64)> {
        let mut s: Vec<(usize, f64)> = (0..t.feature.len())
            .filter(|&n| t.feature[n] != LEAF)
            .map(|n| (t.feature[n] as usize, t.threshold[n]))
            .collect();
        s.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        s
    }

    fn sorted(mut s: Vec<(usize, f64)>) -> Vec<(usize, f64)> {
        s.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        s
    }

    /// Data whose gains have no ties: few distinct values (bins exact) and irregular
    /// targets.
    fn tiny(seed: u64, n: usize) -> (Array2<f64>, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = Array2::from_shape_fn((n, 3), |_| rng.gen_range(0..12) as f64);
        let y = (0..n)
            .map(|i| x[[i, 0]] * 1.7 - (x[[i, 1]] - 5.0).abs() + rng.gen_range(-3.0..3.0))
            .collect();
        (x, y)
    }

    /// Squared loss: the first tree's splits (in order) and every row's leaf value equal an
    /// exhaustive leaf-wise search from the mean: the leaf values are the leaves' mean
    /// residuals.
    #[test]
    #[allow(clippy::needless_range_loop)]
    fn first_tree_squared_loss_matches_exhaustive_search() {
        for seed in 0..20 {
            let (x, y) = tiny(seed, 60);
            let rows: Vec<usize> = (0..60).collect();
            let b = Binned::new(x.view(), 256);
            for leaves in [2, 3, 5] {
                let p = one_round(1.0, leaves, 3);
                let m = fit_gbdt_regressor(&b, &y, &rows, &p, &Progress::new()).unwrap();
                let mean = y.iter().sum::<f64>() / 60.0;
                assert!((m.base[0] - mean).abs() < 1e-12);
                let g: Vec<f64> = y.iter().map(|v| mean - v).collect();
                let (value, splits) = brute_tree(&x, &g, &[1.0; 60], leaves, 3);
                assert_eq!(
                    splits_of(&m.trees[0][0]),
                    sorted(splits),
                    "seed {seed}, {leaves} leaves"
                );
                for i in 0..60 {
                    let row = x.row(i).to_vec();
                    let got = m.trees[0][0].predict(&row);
                    // The tree was grown from f32 gradients.
                    assert!((got - value[i]).abs() < 1e-5, "seed {seed} row {i}");
                    // Squared loss: a leaf's value is its rows' mean residual.
                    assert!((m.predict_value(&row) - (mean + value[i])).abs() < 1e-5);
                }
            }
        }
    }

    /// Logistic loss: from the log-odds of the class share, gradients p - y and hessians
    /// p(1 - p); the first tree equals the exhaustive search and its leaves are Newton steps
    /// -G/H, times the learning rate.
    #[test]
    #[allow(clippy::needless_range_loop)]
    fn first_tree_logistic_loss_matches_exhaustive_search() {
        for seed in 0..20 {
            let (x, v) = tiny(seed + 100, 80);
            let y: Vec<usize> = v.iter().map(|&v| usize::from(v > 4.0)).collect();
            let pos = y.iter().filter(|&&c| c == 1).count() as f64;
            if !(5.0..=75.0).contains(&pos) {
                continue;
            }
            let rows: Vec<usize> = (0..80).collect();
            let b = Binned::new(x.view(), 256);
            let p = one_round(0.3, 4, 2);
            let m = fit_gbdt_classifier(&b, &y, 2, &rows, &p, &Progress::new()).unwrap();
            let p0 = pos / 80.0;
            assert!((m.base[0] - (p0 / (1.0 - p0)).ln()).abs() < 1e-12);
            let g: Vec<f64> = y.iter().map(|&c| p0 - c as f64).collect();
            let h = vec![p0 * (1.0 - p0); 80];
            let (value, splits) = brute_tree(&x, &g, &h, 4, 2);
            assert_eq!(splits_of(&m.trees[0][0]), sorted(splits), "seed {seed}");
            for i in 0..80 {
                let row = x.row(i).to_vec();
                let raw = m.base[0] + 0.3 * value[i];
                // The tree's values were grown from f32 gradients.
                assert!((m.raw(&row)[0] - raw).abs() < 1e-6, "seed {seed} row {i}");
                let pr = m.predict_proba(&row);
                assert!((pr[1] - 1.0 / (1.0 + (-raw).exp())).abs() < 1e-6);
                assert!((pr[0] + pr[1] - 1.0).abs() < 1e-12);
            }
        }
    }

    /// Absolute loss: the base is the median and each leaf the median residual of its rows
    /// (computed here by sorting).
    #[test]
    #[allow(clippy::needless_range_loop)]
    fn absolute_loss_leaves_are_median_residuals() {
        let (x, y) = tiny(7, 51);
        let rows: Vec<usize> = (0..51).collect();
        let b = Binned::new(x.view(), 256);
        let p = GbdtParams {
            loss: RegressionLoss::Absolute,
            ..one_round(1.0, 4, 5)
        };
        let m = fit_gbdt_regressor(&b, &y, &rows, &p, &Progress::new()).unwrap();
        let med = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            let k = v.len();
            if k % 2 == 1 {
                v[k / 2]
            } else {
                (v[k / 2 - 1] + v[k / 2]) / 2.0
            }
        };
        assert_eq!(m.base[0], med(y.clone()));
        let t = &m.trees[0][0];
        assert_eq!(t.leaves(), 4);
        // Rows grouped by leaf (by their value, which is what prediction sees).
        let mut by_leaf: std::collections::BTreeMap<usize, Vec<f64>> = Default::default();
        for i in 0..51 {
            let row = x.row(i).to_vec();
            let leaf = t.leaf_of(|n, f| row[f] <= t.threshold[n]);
            by_leaf.entry(leaf).or_default().push(y[i] - m.base[0]);
        }
        for (leaf, r) in by_leaf {
            assert!(r.len() >= 5);
            assert!((t.value[leaf] - med(r)).abs() < 1e-12);
        }
    }

    fn plane(n: usize, seed: u64) -> (Array2<f64>, Vec<usize>, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = Array2::from_shape_fn((n, 5), |_| rng.gen_range(-2.0..2.0));
        let v: Vec<f64> = (0..n)
            .map(|i| {
                x[[i, 0]] - 0.5 * x[[i, 1]] + x[[i, 2]] * x[[i, 3]] + 0.3 * rng.gen_range(-1.0..1.0)
            })
            .collect();
        let y = v.iter().map(|&s| usize::from(s > 0.3)).collect();
        (x, y, v)
    }

    /// Boosting learns a non-linear boundary (an interaction a linear model misses) and
    /// every regression loss beats the mean on held-out rows.
    #[test]
    fn boosting_learns_and_regressors_beat_the_mean() {
        let (x, y, v) = plane(4000, 1);
        let b = Binned::new(x.view(), 64);
        let train: Vec<usize> = (0..3000).collect();
        let p = GbdtParams::default();
        let m = fit_gbdt_classifier(&b, &y, 2, &train, &p, &Progress::new()).unwrap();
        let pos: Vec<bool> = (3000..4000).map(|i| y[i] == 1).collect();
        let score: Vec<f64> = (3000..4000)
            .map(|i| m.predict_proba(&x.row(i).to_vec())[1])
            .collect();
        let auc = roc_auc(&pos, &score).unwrap();
        assert!(auc > 0.95, "{auc}");
        assert!(m.importance[4] < 0.05, "{:?}", m.importance);
        for loss in [
            RegressionLoss::Squared,
            RegressionLoss::Absolute,
            RegressionLoss::Huber,
        ] {
            let p = GbdtParams {
                loss,
                ..GbdtParams::default()
            };
            let r = fit_gbdt_regressor(&b, &v, &train, &p, &Progress::new()).unwrap();
            let mean = train.iter().map(|&i| v[i]).sum::<f64>() / 3000.0;
            let mse = |f: &dyn Fn(usize) -> f64| {
                (3000..4000).map(|i| (v[i] - f(i)).powi(2)).sum::<f64>() / 1000.0
            };
            let model = mse(&|i| r.predict_value(&x.row(i).to_vec()));
            let base = mse(&|_| mean);
            assert!(model < 0.3 * base, "{loss:?}: {model} vs {base}");
        }
    }

    /// Early stopping keeps the rounds up to the best validation loss; a cancelled fit
    /// stops; the gauge ends full either way it finishes.
    #[test]
    fn early_stopping_keeps_the_best_round() {
        // Pure noise: the validation loss stops improving quickly.
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let x = Array2::from_shape_fn((2000, 4), |_| rng.r#gen::<f64>());
        let y: Vec<usize> = (0..2000)
            .map(|_| usize::from(rng.r#gen::<f64>() < 0.3))
            .collect();
        let b = Binned::new(x.view(), 64);
        let rows: Vec<usize> = (0..2000).collect();
        let p = GbdtParams {
            rounds: 300,
            learning_rate: 0.3,
            ..GbdtParams::default()
        };
        let progress = Progress::new();
        progress.start("fit", Gbdt::units(&p));
        let m = fit_gbdt_classifier(&b, &y, 2, &rows, &p, &progress).unwrap();
        let (done, total, _) = progress.snapshot();
        assert_eq!((done, total), (300, 300));
        let l = &m.validation_loss;
        assert!(l.len() < 300, "ran {} rounds", l.len());
        let best = (0..l.len()).fold(0, |b, i| if l[i] < l[b] - TOLERANCE { i } else { b });
        assert_eq!(m.rounds(), best + 1);
        assert_eq!(l.len(), best + 1 + p.patience);
        let cancelled = Progress::new();
        cancelled.cancel();
        assert_eq!(
            fit_gbdt_classifier(&b, &y, 2, &rows, &p, &cancelled).unwrap_err(),
            AnalyticsError::Cancelled
        );
    }

    /// More classes: one tree per class and round, probabilities summing to 1, and a good
    /// fit of three bands.
    #[test]
    fn softmax_fits_three_classes() {
        let (x, _, v) = plane(3000, 2);
        let y: Vec<usize> = v
            .iter()
            .map(|&s| usize::from(s > -0.5) + usize::from(s > 0.8))
            .collect();
        let b = Binned::new(x.view(), 64);
        let train: Vec<usize> = (0..2400).collect();
        let m = fit_gbdt_classifier(&b, &y, 3, &train, &GbdtParams::default(), &Progress::new())
            .unwrap();
        assert!(m.trees.iter().all(|r| r.len() == 3));
        let right = (2400..3000)
            .filter(|&i| {
                let pr = m.predict_proba(&x.row(i).to_vec());
                assert!((pr.iter().sum::<f64>() - 1.0).abs() < 1e-9);
                (0..3).fold(0, |b, c| if pr[c] > pr[b] { c } else { b }) == y[i]
            })
            .count();
        assert!(right > 480, "{right} of 600");
    }

    /// A seed gives the same model on 1 and 2 threads, with row and column subsampling;
    /// another seed another model.
    #[test]
    fn a_seed_gives_the_same_model_on_any_number_of_threads() {
        let (x, y, v) = plane(20_000, 3);
        let b = Binned::new(x.view(), 256);
        let rows: Vec<usize> = (0..20_000).collect();
        let p = GbdtParams {
            rounds: 15,
            subsample: 0.7,
            colsample: 0.6,
            ..GbdtParams::default()
        };
        let fit = |threads: usize, p: &GbdtParams| {
            crate::analytics::on_threads(threads, || {
                (
                    fit_gbdt_classifier(&b, &y, 2, &rows, p, &Progress::new()).unwrap(),
                    fit_gbdt_regressor(&b, &v, &rows, p, &Progress::new()).unwrap(),
                )
            })
        };
        let one = fit(1, &p);
        assert_eq!(one, fit(2, &p));
        let other = fit(
            2,
            &GbdtParams {
                seed: 7,
                ..p.clone()
            },
        );
        assert_ne!(one.0, other.0);
    }

    /// Scoring a block of rows gives every row exactly what scoring it alone gives.
    #[test]
    fn batch_scores_equal_row_scores() {
        let (x, y, _) = plane(1500, 6);
        let b = Binned::new(x.view(), 64);
        let rows: Vec<usize> = (0..1000).collect();
        let y3: Vec<usize> = y
            .iter()
            .enumerate()
            .map(|(i, &c)| c + (i % 3 == 0) as usize)
            .collect();
        for (classes, y) in [(2, &y), (3, &y3)] {
            let p = GbdtParams {
                rounds: 20,
                ..GbdtParams::default()
            };
            let m = fit_gbdt_classifier(&b, y, classes, &rows, &p, &Progress::new()).unwrap();
            let some: Vec<usize> = (0..1500).rev().step_by(3).collect();
            let batch = m.proba_rows(x.view(), &some);
            for (got, &r) in batch.iter().zip(&some) {
                assert_eq!(got, &m.predict_proba(&x.row(r).to_vec()));
            }
        }
    }

    #[test]
    fn bad_parameters_and_targets_are_refused() {
        let (x, y, mut v) = plane(100, 5);
        let b = Binned::new(x.view(), 64);
        let rows: Vec<usize> = (0..100).collect();
        let bad = GbdtParams {
            learning_rate: 0.0,
            ..GbdtParams::default()
        };
        let e = fit_gbdt_classifier(&b, &y, 2, &rows, &bad, &Progress::new()).unwrap_err();
        assert!(
            e.to_string().contains("learning_rate 0 is out of range"),
            "{e}"
        );
        v[17] = f64::NAN;
        let e = fit_gbdt_regressor(&b, &v, &rows, &GbdtParams::default(), &Progress::new())
            .unwrap_err();
        assert!(e.to_string().contains("row 18"), "{e}");
        assert!(
            fit_gbdt_classifier(&b, &y, 2, &[3], &GbdtParams::default(), &Progress::new()).is_err()
        );
    }
}

#[cfg(test)]
mod timing {
    use super::*;

    /// Not a test of behaviour: `cargo test --release --lib -- --ignored gbdt_speed
    /// --nocapture` times binning and 100 rounds (31 leaves) on 1,000,000 x 10.
    #[test]
    #[ignore]
    fn gbdt_speed() {
        let (x, y) = crate::analytics::tree::speed_data();
        let t0 = std::time::Instant::now();
        let b = Binned::new(x.view(), 256);
        let binned = t0.elapsed();
        let rows: Vec<usize> = (0..y.len()).collect();
        let t1 = std::time::Instant::now();
        let p = GbdtParams {
            early_stopping: false,
            ..GbdtParams::default()
        };
        let m = fit_gbdt_classifier(&b, &y, 2, &rows, &p, &Progress::new()).unwrap();
        let fit = t1.elapsed();
        let t2 = std::time::Instant::now();
        let p = m.proba_rows(x.view(), &rows);
        println!(
            "binning {binned:?}, {} rounds: {fit:?}, scoring {} rows: {:?}",
            m.rounds(),
            p.len(),
            t2.elapsed()
        );
    }
}
