//! A k sweep: k-means for every k in a range with the elbow (inertia), silhouette,
//! Calinski-Harabasz and Davies-Bouldin, and a suggested k with its reason.

use ndarray::ArrayView2;
use serde::Serialize;

use super::error::AnalyticsError;
use super::kmeans::{KMeansParams, kmeans};
use super::metrics::{DistanceCache, calinski_harabasz, davies_bouldin};
use crate::progress::Progress;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SweepEntry {
    pub k: usize,
    pub inertia: f64,
    pub silhouette: Option<f64>,
    pub calinski_harabasz: Option<f64>,
    pub davies_bouldin: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SweepResult {
    pub entries: Vec<SweepEntry>,
    pub suggested_k: usize,
    pub reason: String,
    /// The silhouettes were computed on a seeded sample of rows.
    pub silhouette_sampled: bool,
}

/// K-Means for k = `k_min..=k_max` with `base`'s restarts and seed.
pub fn sweep(
    x: ArrayView2<f64>,
    k_min: usize,
    k_max: usize,
    base: &KMeansParams,
    progress: &Progress,
) -> Result<SweepResult, AnalyticsError> {
    if k_min < 2 || k_max < k_min {
        return Err(AnalyticsError::Input(format!(
            "the k range {k_min}..{k_max} is empty or starts below 2; use e.g. --k-min 2 --k-max 10"
        )));
    }
    let cache = DistanceCache::new(x, base.seed);
    let mut entries = Vec::new();
    for k in k_min..=k_max {
        progress.check().map_err(|_| AnalyticsError::Cancelled)?;
        progress.label(&format!("sweep: k = {k} of {k_min}..{k_max}"));
        let r = kmeans(x, &KMeansParams { k, ..base.clone() }, &Progress::new())?;
        entries.push(SweepEntry {
            k,
            inertia: r.inertia,
            silhouette: cache.silhouette(&r.labels, k),
            calinski_harabasz: calinski_harabasz(x, &r.labels, k),
            davies_bouldin: davies_bouldin(x, &r.labels, k),
        });
    }
    // The highest silhouette; ties go to the smaller k.
    let best = entries
        .iter()
        .filter_map(|e| e.silhouette.map(|s| (e.k, s)))
        .fold(None::<(usize, f64)>, |acc, (k, s)| match acc {
            Some((_, bs)) if bs >= s => acc,
            _ => Some((k, s)),
        });
    let (suggested_k, reason) = match best {
        Some((k, s)) => (
            k,
            format!("highest silhouette ({s:.3}) of k = {k_min}..{k_max}"),
        ),
        None => (
            k_min,
            "no silhouette could be computed; the smallest k".to_string(),
        ),
    };
    Ok(SweepResult {
        entries,
        suggested_k,
        reason,
        silhouette_sampled: cache.sampled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn three_blobs_suggest_three() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut v = Vec::new();
        for (cx, cy) in [(0.0, 0.0), (8.0, 0.0), (0.0, 8.0)] {
            for _ in 0..40 {
                v.push(cx + rng.gen_range(-1.0..1.0));
                v.push(cy + rng.gen_range(-1.0..1.0));
            }
        }
        let x = Array2::from_shape_vec((120, 2), v).unwrap();
        let r = sweep(x.view(), 2, 6, &KMeansParams::new(2), &Progress::new()).unwrap();
        assert_eq!(r.entries.len(), 5);
        assert_eq!(r.suggested_k, 3);
        // The elbow: inertia never rises with k.
        assert!(
            r.entries
                .windows(2)
                .all(|w| w[1].inertia <= w[0].inertia + 1e-9)
        );
        assert!(sweep(x.view(), 1, 3, &KMeansParams::new(2), &Progress::new()).is_err());
    }
}
