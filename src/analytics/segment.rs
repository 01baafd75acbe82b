//! A segmentation run as the workbench shows it: K-Means, DBSCAN or a Gaussian mixture on
//! the feature matrix, cluster profiles in original units, and a 2-D projection (sampled
//! for plotting). For DBSCAN the run also carries the k-distance curve for its min_points.

use serde::Serialize;

use super::dbscan::{DbscanResult, dbscan, k_distances};
use super::error::AnalyticsError;
use super::gmm::{GmmParams, GmmResult, gmm};
use super::kmeans::{KMeansParams, KMeansResult, kmeans};
use super::pca::{Projection, project_2d};
use super::profile::{ClusterProfile, cluster_profiles};
use crate::data::features::FeatureMatrix;
use crate::progress::Progress;

/// Points kept for the scatter plot.
pub const SCATTER_POINTS: usize = 4000;
/// Rows sampled for the k-distance curve (each against every row).
pub const K_DISTANCE_SAMPLE: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    #[default]
    KMeans,
    Dbscan,
    Gmm,
}

crate::choice!(Algorithm { KMeans => "kmeans", Dbscan => "dbscan", Gmm => "gmm" });

impl Algorithm {
    /// The name people read.
    pub fn title(self) -> &'static str {
        match self {
            Algorithm::KMeans => "k-means",
            Algorithm::Dbscan => "DBSCAN",
            Algorithm::Gmm => "Gaussian mixture",
        }
    }
}

/// Every algorithm's parameters; `algorithm` says which one runs.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentParams {
    pub algorithm: Algorithm,
    pub kmeans: KMeansParams,
    /// DBSCAN: a point at distance <= eps (scaled space) is a neighbour.
    pub eps: f64,
    /// DBSCAN: neighbours within eps, the point itself included, that make a core point.
    pub min_points: usize,
    pub gmm: GmmParams,
}

impl Default for SegmentParams {
    fn default() -> Self {
        SegmentParams {
            algorithm: Algorithm::KMeans,
            kmeans: KMeansParams::new(4),
            eps: 0.5,
            min_points: 5,
            gmm: GmmParams::new(4),
        }
    }
}

impl SegmentParams {
    /// What the status line says while it runs.
    pub fn describe(&self) -> String {
        match self.algorithm {
            Algorithm::KMeans => format!("k-means with k = {}", self.kmeans.k),
            Algorithm::Dbscan => {
                format!(
                    "DBSCAN with eps = {}, min points = {}",
                    self.eps, self.min_points
                )
            }
            Algorithm::Gmm => format!(
                "Gaussian mixture with k = {} ({})",
                self.gmm.k,
                self.gmm.covariance.name()
            ),
        }
    }
}

/// The model behind a run.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "algorithm", rename_all = "lowercase")]
pub enum SegmentModel {
    KMeans(KMeansResult),
    Dbscan {
        eps: f64,
        min_points: usize,
        result: DbscanResult,
        /// Sorted distance to the min_points-th neighbour of sampled rows (descending).
        k_distance: Vec<f64>,
    },
    Gmm(GmmResult),
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SegmentRun {
    pub features: Vec<String>,
    pub n_rows: usize,
    pub model: SegmentModel,
    /// Cluster per row; -1 for noise (DBSCAN).
    pub labels: Vec<i64>,
    /// Rows per cluster, by label.
    pub sizes: Vec<usize>,
    pub noise: usize,
    /// Profiles of the clusters (noise rows left out).
    pub profiles: Vec<ClusterProfile>,
    /// Every `stride`-th row's projection and label (None for noise).
    pub projection: Projection,
    pub projected_labels: Vec<Option<usize>>,
}

impl SegmentRun {
    /// The labels of another set of rows (new customers assigned with this model): the
    /// sizes and noise count follow them; the profiles and the projection stay the fit's.
    pub fn relabel(&mut self, labels: Vec<i64>) {
        let mut sizes = vec![0; self.sizes.len()];
        let mut noise = 0;
        for &l in &labels {
            match usize::try_from(l) {
                Ok(l) if l < sizes.len() => sizes[l] += 1,
                _ => noise += 1,
            }
        }
        self.sizes = sizes;
        self.noise = noise;
        self.labels = labels;
    }

    pub fn algorithm(&self) -> Algorithm {
        match self.model {
            SegmentModel::KMeans(_) => Algorithm::KMeans,
            SegmentModel::Dbscan { .. } => Algorithm::Dbscan,
            SegmentModel::Gmm(_) => Algorithm::Gmm,
        }
    }

    pub fn clusters(&self) -> usize {
        self.sizes.len()
    }

    /// One line for the status bar.
    pub fn summary(&self) -> String {
        match &self.model {
            SegmentModel::KMeans(r) => format!(
                "k-means: {} clusters, inertia {:.1}, {} iterations",
                r.k, r.inertia, r.iterations
            ),
            SegmentModel::Dbscan { result, .. } => format!(
                "DBSCAN: {} clusters, {} noise rows, {} core points",
                result.clusters, result.noise, result.core_points
            ),
            SegmentModel::Gmm(r) => format!(
                "Gaussian mixture: {} components, log-likelihood {:.1}, BIC {:.1}, {} iterations",
                r.k, r.log_likelihood, r.bic, r.iterations
            ),
        }
    }
}

/// The chosen algorithm alone on `x` (DBSCAN without its k-distance curve): the model and
/// every row's label (-1 for noise).
pub fn fit(
    x: ndarray::ArrayView2<f64>,
    params: &SegmentParams,
    progress: &Progress,
) -> Result<(SegmentModel, Vec<i64>), AnalyticsError> {
    Ok(match params.algorithm {
        Algorithm::KMeans => {
            let r = kmeans(x, &params.kmeans, progress)?;
            let labels = r.labels.iter().map(|&l| l as i64).collect();
            (SegmentModel::KMeans(r), labels)
        }
        Algorithm::Gmm => {
            let r = gmm(x, &params.gmm, progress)?;
            let labels = r.labels.iter().map(|&l| l as i64).collect();
            (SegmentModel::Gmm(r), labels)
        }
        Algorithm::Dbscan => {
            let r = dbscan(x, params.eps, params.min_points, progress)?;
            let labels = r.labels.clone();
            (
                SegmentModel::Dbscan {
                    eps: params.eps,
                    min_points: params.min_points,
                    result: r,
                    k_distance: Vec::new(),
                },
                labels,
            )
        }
    })
}

/// Runs the chosen algorithm on `m`, with profiles of its numeric features (original units)
/// and a projection.
pub fn segment(
    m: &FeatureMatrix,
    params: &SegmentParams,
    progress: &Progress,
) -> Result<SegmentRun, AnalyticsError> {
    let x = m.values.view();
    let (mut model, labels) = fit(x, params, progress)?;
    if let SegmentModel::Dbscan { k_distance, .. } = &mut model {
        progress.label("k-distance curve");
        *k_distance = k_distances(x, params.min_points, K_DISTANCE_SAMPLE, progress)?;
    }
    let (sizes, noise) = match &model {
        SegmentModel::KMeans(r) => (r.sizes.clone(), 0),
        SegmentModel::Gmm(r) => (r.sizes.clone(), 0),
        SegmentModel::Dbscan { result, .. } => (result.sizes.clone(), result.noise),
    };
    let clusters = sizes.len();
    progress.label("profiling clusters");
    progress.check().map_err(|_| AnalyticsError::Cancelled)?;
    // Noise rows go into an extra group whose profile is dropped: they count in the overall
    // mean and standard deviation and in the shares, but in no cluster's statistics.
    let originals: Vec<(String, Vec<f64>)> = m
        .transforms
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.one_hot)
        .map(|(j, t)| {
            let values = m
                .values
                .column(j)
                .iter()
                .map(|v| t.to_original(*v))
                .collect();
            (t.name.clone(), values)
        })
        .collect();
    let grouped: Vec<usize> = labels
        .iter()
        .map(|&l| if l < 0 { clusters } else { l as usize })
        .collect();
    let mut profiles = cluster_profiles(&originals, &grouped, clusters + 1);
    profiles.truncate(clusters);
    let n = m.values.nrows();
    let stride = n.div_ceil(SCATTER_POINTS).max(1);
    let rows: Vec<usize> = (0..n).step_by(stride).collect();
    let sample = m.values.select(ndarray::Axis(0), &rows);
    let projection = project_2d(sample.view());
    let projected_labels = rows
        .iter()
        .map(|&i| (labels[i] >= 0).then_some(labels[i] as usize))
        .collect();
    Ok(SegmentRun {
        features: m.names.clone(),
        n_rows: n,
        model,
        labels,
        sizes,
        noise,
        profiles,
        projection,
        projected_labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::features::build_features;
    use crate::data::sources::workspace::{FeatureConfig, Scaling};
    use polars::prelude::*;

    /// Unscaled values near 1e308 on the Segments screen (three groups of equal rows, at
    /// distance 0 within and beyond 1e307 between): DBSCAN finds the groups, and the
    /// profiles (in original units) and the scatter's projection are finite numbers (sums
    /// overflowed: inf means, NaN z-scores and points).
    #[test]
    fn values_near_the_float_limit_give_finite_profiles_and_projection() {
        let ids: Vec<String> = (0..60).map(|i| format!("c{i}")).collect();
        let a: Vec<f64> = (0..60).map(|i| [1.0, 4.0, 8.0][i % 3] * 1e307).collect();
        let b: Vec<f64> = (0..60).map(|i| [8.0, 1.0, 4.0][i % 3] * 1e307).collect();
        let df = df!("id" => ids, "a" => a, "b" => b).unwrap();
        let cfg = FeatureConfig {
            numeric: vec!["a".into(), "b".into()],
            categorical: Vec::new(),
            scaling: Scaling::None,
            log1p: Vec::new(),
            max_categories: 20,
        };
        let m = build_features(&df, "id", &cfg).unwrap();
        let params = SegmentParams {
            algorithm: Algorithm::Dbscan,
            eps: 1.0,
            min_points: 3,
            ..SegmentParams::default()
        };
        let run = segment(&m, &params, &Progress::new()).unwrap();
        assert_eq!(run.sizes, vec![20, 20, 20]);
        for p in &run.profiles {
            for f in &p.features {
                assert!(
                    f.mean.is_finite() && f.median.is_finite() && f.z.is_finite(),
                    "{f:?}"
                );
            }
        }
        let first = &run.profiles[0].features[0];
        assert!((first.mean / 1e307 - 1.0).abs() < 1e-3, "{first:?}");
        assert!(run.profiles[0].features[1].z > 1.0);
        assert!(
            run.projection
                .points
                .iter()
                .all(|(x, y)| x.is_finite() && y.is_finite())
        );
        let (e1, e2) = run.projection.explained;
        assert!(e1 > 0.5 && (e1 + e2 - 1.0).abs() < 1e-9, "{e1} {e2}");
    }
}
