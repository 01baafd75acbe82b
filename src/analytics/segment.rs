//! A segmentation run as the workbench and the CLI show it: K-Means on the feature matrix,
//! cluster profiles in original units, and a 2-D projection (sampled for plotting).

use serde::Serialize;

use super::error::AnalyticsError;
use super::kmeans::{KMeansParams, KMeansResult, kmeans};
use super::pca::{Projection, project_2d};
use super::profile::{ClusterProfile, cluster_profiles};
use crate::data::features::FeatureMatrix;
use crate::progress::Progress;

/// Points kept for the scatter plot.
pub const SCATTER_POINTS: usize = 4000;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SegmentRun {
    pub features: Vec<String>,
    pub n_rows: usize,
    pub kmeans: KMeansResult,
    pub profiles: Vec<ClusterProfile>,
    /// Every `stride`-th row's projection and label.
    pub projection: Projection,
    pub projected_labels: Vec<usize>,
}

/// K-Means on `m`, with profiles of its numeric features (original units) and a projection.
pub fn segment_kmeans(
    m: &FeatureMatrix,
    params: &KMeansParams,
    progress: &Progress,
) -> Result<SegmentRun, AnalyticsError> {
    let result = kmeans(m.values.view(), params, progress)?;
    progress.label("profiling clusters");
    let originals: Vec<(String, Vec<f64>)> = m
        .transforms
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.one_hot)
        .map(|(j, t)| {
            let col = m
                .values
                .column(j)
                .iter()
                .map(|v| t.to_original(*v))
                .collect();
            (t.name.clone(), col)
        })
        .collect();
    let profiles = cluster_profiles(&originals, &result.labels, params.k);
    let n = m.values.nrows();
    let stride = n.div_ceil(SCATTER_POINTS).max(1);
    let rows: Vec<usize> = (0..n).step_by(stride).collect();
    let sample = m.values.select(ndarray::Axis(0), &rows);
    let projection = project_2d(sample.view());
    let projected_labels = rows.iter().map(|&i| result.labels[i]).collect();
    Ok(SegmentRun {
        features: m.names.clone(),
        n_rows: n,
        kmeans: result,
        profiles,
        projection,
        projected_labels,
    })
}
