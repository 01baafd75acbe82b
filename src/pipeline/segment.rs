//! Segmentation: the feature matrix of a loaded table -> k-means, DBSCAN or a Gaussian
//! mixture with the clusters' profiles and a 2-D projection; the k-distance curve for
//! DBSCAN's eps; the k sweep. The same for the Segments screen and the report.

use polars::prelude::DataFrame;

use crate::analytics::dbscan::k_distances;
use crate::analytics::kmeans::KMeansParams;
use crate::analytics::segment::{K_DISTANCE_SAMPLE, SegmentModel, SegmentParams, SegmentRun};
use crate::analytics::sweep::SweepResult;
use crate::data::features::FeatureMatrix;
use crate::data::sources::workspace::FeatureConfig;
use crate::progress::Progress;

use super::error::Result;
use super::input::model_matrix;
use super::settings::{Section, check_real, check_whole};
use crate::analytics::gmm::CovarianceType;
use crate::analytics::limits;
use crate::analytics::segment::Algorithm;
use serde::{Deserialize, Serialize};

/// The `[segment]` section of a workspace: the chosen algorithm's values (k and the seed
/// are shared by k-means and the mixture, as on the screen; restarts, iterations and
/// tolerance belong to the chosen algorithm, k-means's for DBSCAN). Every key optional: a
/// missing one keeps the screen's default. The Segments screen keeps every algorithm's
/// values in [`SegmentParams`]; [`SegmentSettings::apply`] and [`SegmentSettings::of`]
/// translate. (`crmlens segment` has its own flags: its k defaults to 8 and DBSCAN's eps
/// must be given.)
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SegmentSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<Algorithm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_init: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_iter: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tol: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_points: Option<usize>,
    /// The mixture's covariance: full, tied, diag or spherical.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub covariance: Option<CovarianceType>,
    /// The k sweep's largest k.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep_max_k: Option<usize>,
}

impl SegmentSettings {
    /// The k sweep's largest k when none is set.
    pub const SWEEP_MAX_K: usize = 10;

    /// Sets what this section sets in the screen's parameters.
    pub fn apply(&self, p: &mut SegmentParams, sweep_max_k: &mut usize) {
        if let Some(a) = self.algorithm {
            p.algorithm = a;
        }
        let gmm = p.algorithm == Algorithm::Gmm;
        if let Some(k) = self.k {
            p.gmm.k = k;
            p.kmeans.k = k;
        }
        if let Some(n) = self.n_init {
            if gmm {
                p.gmm.n_init = n
            } else {
                p.kmeans.n_init = n
            }
        }
        if let Some(n) = self.max_iter {
            if gmm {
                p.gmm.max_iter = n
            } else {
                p.kmeans.max_iter = n
            }
        }
        if let Some(t) = self.tol {
            if gmm { p.gmm.tol = t } else { p.kmeans.tol = t }
        }
        if let Some(seed) = self.seed {
            p.gmm.seed = seed;
            p.kmeans.seed = seed;
        }
        if let Some(e) = self.eps {
            p.eps = e;
        }
        if let Some(m) = self.min_points {
            p.min_points = m;
        }
        if let Some(c) = self.covariance {
            p.gmm.covariance = c;
        }
        if let Some(k) = self.sweep_max_k {
            *sweep_max_k = k;
        }
    }

    /// The section of the screen's parameters, every value spelled out.
    pub fn of(p: &SegmentParams, sweep_max_k: usize) -> SegmentSettings {
        let gmm = p.algorithm == Algorithm::Gmm;
        SegmentSettings {
            algorithm: Some(p.algorithm),
            k: Some(if gmm { p.gmm.k } else { p.kmeans.k }),
            n_init: Some(if gmm { p.gmm.n_init } else { p.kmeans.n_init }),
            max_iter: Some(if gmm {
                p.gmm.max_iter
            } else {
                p.kmeans.max_iter
            }),
            tol: Some(if gmm { p.gmm.tol } else { p.kmeans.tol }),
            seed: Some(if gmm { p.gmm.seed } else { p.kmeans.seed }),
            eps: Some(p.eps),
            min_points: Some(p.min_points),
            covariance: Some(p.gmm.covariance),
            sweep_max_k: Some(sweep_max_k),
        }
    }
}

impl Section for SegmentSettings {
    const NAME: &'static str = "segment";

    fn out_of_range(&self) -> Vec<(&'static str, String)> {
        let w = |key, v: Option<usize>, l| v.and_then(|v| check_whole(key, v, l));
        let r = |key, v: Option<f64>, l| v.and_then(|v| check_real(key, v, l));
        [
            w("k", self.k, limits::K),
            w("n_init", self.n_init, limits::N_INIT),
            w("max_iter", self.max_iter, limits::MAX_ITER),
            r("tol", self.tol, limits::TOL),
            r("eps", self.eps, limits::EPS),
            w("min_points", self.min_points, limits::MIN_POINTS),
            w("sweep_max_k", self.sweep_max_k, limits::SWEEP_MAX_K),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// The k-distance curve for choosing DBSCAN's eps.
#[derive(Debug, Clone, PartialEq)]
pub struct KDistance {
    pub min_points: usize,
    pub values: Vec<f64>,
}

/// Segments the rows of `table` (its first column the key) on the `features` selection. A
/// feature-matrix problem is a `PipelineError::Data`, the model's an `Analytics` one.
pub fn segment(
    table: &DataFrame,
    features: &FeatureConfig,
    params: &SegmentParams,
    progress: &Progress,
) -> Result<SegmentRun> {
    let m = model_matrix(table, features)?;
    Ok(crate::analytics::segment::segment(&m, params, progress)?)
}

/// The chosen algorithm alone on a built feature matrix (no profiles or projection): the
/// model and every row's label (-1 for noise), as `crmlens segment` reports them.
pub fn fit(
    m: &FeatureMatrix,
    params: &SegmentParams,
    progress: &Progress,
) -> Result<(SegmentModel, Vec<i64>)> {
    Ok(crate::analytics::segment::fit(
        m.values.view(),
        params,
        progress,
    )?)
}

/// K-means for k = `k_min`..=`k_max` on a built feature matrix, with the quality metrics.
pub fn sweep_matrix(
    m: &FeatureMatrix,
    k_min: usize,
    k_max: usize,
    params: &KMeansParams,
    progress: &Progress,
) -> Result<SweepResult> {
    Ok(crate::analytics::sweep::sweep(
        m.values.view(),
        k_min,
        k_max,
        params,
        progress,
    )?)
}

/// Every row's distance to its `min_points`-th neighbour (on a sample), sorted: the elbow
/// is a good eps.
pub fn k_distance(
    table: &DataFrame,
    features: &FeatureConfig,
    min_points: usize,
    progress: &Progress,
) -> Result<KDistance> {
    let m = model_matrix(table, features)?;
    progress.start("k-distance curve", 1);
    let values = k_distances(m.values.view(), min_points, K_DISTANCE_SAMPLE, progress)?;
    Ok(KDistance { min_points, values })
}

/// K-means for k = 2..=`k_max` with the quality metrics.
pub fn sweep(
    table: &DataFrame,
    features: &FeatureConfig,
    params: &KMeansParams,
    k_max: usize,
    progress: &Progress,
) -> Result<SweepResult> {
    sweep_matrix(&model_matrix(table, features)?, 2, k_max, params, progress)
}
