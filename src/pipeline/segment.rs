//! Segmentation: the feature matrix of a loaded table -> k-means, DBSCAN or a Gaussian
//! mixture with the clusters' profiles and a 2-D projection; the k-distance curve for
//! DBSCAN's eps; the k sweep. The same for the Segments screen and the report.

use polars::prelude::DataFrame;

use crate::analytics::dbscan::k_distances;
use crate::analytics::kmeans::KMeansParams;
use crate::analytics::segment::{K_DISTANCE_SAMPLE, SegmentParams, SegmentRun};
use crate::analytics::sweep::SweepResult;
use crate::data::sources::workspace::FeatureConfig;
use crate::progress::Progress;

use super::error::Result;
use super::input::model_matrix;

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
    let m = model_matrix(table, features)?;
    Ok(crate::analytics::sweep::sweep(
        m.values.view(),
        2,
        k_max,
        params,
        progress,
    )?)
}
