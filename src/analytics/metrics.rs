//! Cluster quality metrics with scikit-learn's definitions: silhouette (mean over rows of
//! (b - a) / max(a, b), 0 for a row alone in its cluster), Calinski-Harabasz (between- over
//! within-cluster dispersion, scaled by (n - k) / (k - 1)) and Davies-Bouldin (mean over
//! clusters of the worst (s_i + s_j) / d(c_i, c_j)).

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Rows up to which the silhouette is exact; above, it is computed on a seeded sample.
pub const SILHOUETTE_EXACT_ROWS: usize = 10_000;

fn dist(a: ndarray::ArrayView1<f64>, b: ndarray::ArrayView1<f64>) -> f64 {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// One row's silhouette from its summed distances to each cluster: (b - a) / max(a, b), with
/// a the mean distance to its own cluster (itself excluded) and b the smallest mean distance
/// to another cluster; 0 for a row alone in its cluster.
fn row_score(sums: &[f64], counts: &[usize], own: usize) -> f64 {
    if counts[own] <= 1 {
        return 0.0;
    }
    let a = sums[own] / (counts[own] - 1) as f64;
    let b = (0..counts.len())
        .filter(|&c| c != own && counts[c] > 0)
        .map(|c| sums[c] / counts[c] as f64)
        .fold(f64::INFINITY, f64::min);
    if !b.is_finite() {
        return 0.0;
    }
    let m = a.max(b);
    if m > 0.0 { (b - a) / m } else { 0.0 }
}

/// Mean silhouette of `labels` (k clusters) on `x`; `None` when k < 2 or k >= rows (where it
/// is undefined). Above [`SILHOUETTE_EXACT_ROWS`] rows, a seeded sample of that many rows is
/// used (and `sampled` is true).
pub fn silhouette(
    x: ArrayView2<f64>,
    labels: &[usize],
    k: usize,
    seed: u64,
) -> Option<(f64, bool)> {
    let n = x.nrows();
    if k < 2 || k >= n {
        return None;
    }
    let (rows, sampled): (Vec<usize>, bool) = if n > SILHOUETTE_EXACT_ROWS {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut idx = sample(&mut rng, n, SILHOUETTE_EXACT_ROWS).into_vec();
        idx.sort_unstable();
        (idx, true)
    } else {
        ((0..n).collect(), false)
    };
    let sub = x.select(Axis(0), &rows);
    let lab: Vec<usize> = rows.iter().map(|&i| labels[i]).collect();
    let mut counts = vec![0usize; k];
    for &l in &lab {
        counts[l] += 1;
    }
    let scores: Vec<f64> = (0..rows.len())
        .into_par_iter()
        .map(|i| {
            let mut sums = vec![0.0; k];
            for j in 0..rows.len() {
                if i != j {
                    sums[lab[j]] += dist(sub.row(i), sub.row(j));
                }
            }
            row_score(&sums, &counts, lab[i])
        })
        .collect();
    Some((scores.iter().sum::<f64>() / scores.len() as f64, sampled))
}

/// Pairwise Euclidean distances of up to [`SILHOUETTE_EXACT_ROWS`] rows (a seeded sample of
/// them above that), computed once so the silhouettes of many labelings (a k sweep) cost
/// O(n^2) additions each instead of O(n^2 d). Stored as f32 (half the memory; the silhouette
/// is summed in f64 and agrees with the exact value to about 1e-6).
pub struct DistanceCache {
    rows: Vec<usize>,
    n: usize,
    d: Vec<f32>,
    pub sampled: bool,
}

impl DistanceCache {
    pub fn new(x: ArrayView2<f64>, seed: u64) -> DistanceCache {
        let n_all = x.nrows();
        let (rows, sampled): (Vec<usize>, bool) = if n_all > SILHOUETTE_EXACT_ROWS {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut idx = sample(&mut rng, n_all, SILHOUETTE_EXACT_ROWS).into_vec();
            idx.sort_unstable();
            (idx, true)
        } else {
            ((0..n_all).collect(), false)
        };
        let sub = x.select(Axis(0), &rows);
        let n = rows.len();
        let d: Vec<f32> = (0..n)
            .into_par_iter()
            .flat_map_iter(|i| {
                let sub = &sub;
                (0..n).map(move |j| dist(sub.row(i), sub.row(j)) as f32)
            })
            .collect();
        DistanceCache {
            rows,
            n,
            d,
            sampled,
        }
    }

    /// Mean silhouette of `labels` (over all rows of x; only the cached rows are used).
    pub fn silhouette(&self, labels: &[usize], k: usize) -> Option<f64> {
        if k < 2 || k >= self.n {
            return None;
        }
        let lab: Vec<usize> = self.rows.iter().map(|&i| labels[i]).collect();
        let mut counts = vec![0usize; k];
        for &l in &lab {
            counts[l] += 1;
        }
        let n = self.n;
        let scores: Vec<f64> = (0..n)
            .into_par_iter()
            .map(|i| {
                let mut sums = vec![0.0f64; k];
                let row = &self.d[i * n..(i + 1) * n];
                for (j, &dij) in row.iter().enumerate() {
                    sums[lab[j]] += dij as f64;
                }
                row_score(&sums, &counts, lab[i])
            })
            .collect();
        Some(scores.iter().sum::<f64>() / n as f64)
    }
}

fn centroids(x: ArrayView2<f64>, labels: &[usize], k: usize) -> (Array2<f64>, Vec<usize>) {
    let mut c = Array2::<f64>::zeros((k, x.ncols()));
    let mut counts = vec![0usize; k];
    for (row, &l) in x.outer_iter().zip(labels) {
        let mut r = c.row_mut(l);
        r += &row;
        counts[l] += 1;
    }
    for (j, &n) in counts.iter().enumerate() {
        if n > 0 {
            let mut r = c.row_mut(j);
            r /= n as f64;
        }
    }
    (c, counts)
}

/// Calinski-Harabasz index; `None` when k < 2 or k >= rows.
pub fn calinski_harabasz(x: ArrayView2<f64>, labels: &[usize], k: usize) -> Option<f64> {
    let n = x.nrows();
    if k < 2 || k >= n {
        return None;
    }
    let mean: Array1<f64> = x.mean_axis(Axis(0))?;
    let (c, counts) = centroids(x, labels, k);
    let between: f64 = c
        .outer_iter()
        .zip(&counts)
        .map(|(cj, &nj)| {
            nj as f64
                * cj.iter()
                    .zip(mean.iter())
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
        })
        .sum();
    let within: f64 = x
        .outer_iter()
        .zip(labels)
        .map(|(r, &l)| {
            r.iter()
                .zip(c.row(l).iter())
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
        })
        .sum();
    if within == 0.0 {
        return Some(1.0);
    }
    Some(between * (n - k) as f64 / (within * (k - 1) as f64))
}

/// Davies-Bouldin index; `None` when k < 2.
pub fn davies_bouldin(x: ArrayView2<f64>, labels: &[usize], k: usize) -> Option<f64> {
    if k < 2 {
        return None;
    }
    let (c, counts) = centroids(x, labels, k);
    let mut spread = vec![0.0; k];
    for (r, &l) in x.outer_iter().zip(labels) {
        spread[l] += dist(r, c.row(l));
    }
    for (s, &n) in spread.iter_mut().zip(&counts) {
        if n > 0 {
            *s /= n as f64;
        }
    }
    let mut total = 0.0;
    for i in 0..k {
        let worst = (0..k)
            .filter(|&j| j != i)
            .map(|j| {
                let d = dist(c.row(i), c.row(j));
                if d == 0.0 {
                    0.0
                } else {
                    (spread[i] + spread[j]) / d
                }
            })
            .fold(0.0f64, f64::max);
        total += worst;
    }
    Some(total / k as f64)
}

/// The adjusted Rand index of two labelings of the same rows (Hubert and Arabie): 1 for the
/// same partition up to renaming, about 0 for a random one. Noise labels (e.g. DBSCAN's -1)
/// count as one more group, as in scikit-learn. Two labelings that both put every row in
/// one group, or every row in its own, score 1 (scikit-learn's convention).
pub fn adjusted_rand_index<A, B>(a: &[A], b: &[B]) -> f64
where
    A: Copy + Eq + std::hash::Hash,
    B: Copy + Eq + std::hash::Hash,
{
    use std::collections::HashMap;
    assert_eq!(a.len(), b.len(), "labelings of different lengths");
    let n = a.len();
    let pairs = |m: usize| (m * m.saturating_sub(1) / 2) as f64;
    let mut joint: HashMap<(A, B), usize> = HashMap::new();
    let mut rows: HashMap<A, usize> = HashMap::new();
    let mut cols: HashMap<B, usize> = HashMap::new();
    for (&x, &y) in a.iter().zip(b) {
        *joint.entry((x, y)).or_default() += 1;
        *rows.entry(x).or_default() += 1;
        *cols.entry(y).or_default() += 1;
    }
    let same = |g: usize| g == 1 || g == n;
    if n < 2 || (rows.len() == cols.len() && same(rows.len()) && joint.len() == rows.len()) {
        return 1.0;
    }
    let index: f64 = joint.values().map(|&m| pairs(m)).sum();
    let sa: f64 = rows.values().map(|&m| pairs(m)).sum();
    let sb: f64 = cols.values().map(|&m| pairs(m)).sum();
    let expected = sa * sb / pairs(n);
    let max = 0.5 * (sa + sb);
    if max == expected {
        return 1.0;
    }
    (index - expected) / (max - expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    // Four points on a line: {0, 1} and {4, 6}.
    fn line() -> (Array2<f64>, Vec<usize>) {
        (array![[0.0], [1.0], [4.0], [6.0]], vec![0, 0, 1, 1])
    }

    #[test]
    fn silhouette_hand_computed() {
        let (x, l) = line();
        // p0: a = 1, b = (4 + 6) / 2 = 5 -> 0.8
        // p1: a = 1, b = (3 + 5) / 2 = 4 -> 0.75
        // p2: a = 2, b = (4 + 3) / 2 = 3.5 -> 1.5 / 3.5
        // p3: a = 2, b = (6 + 5) / 2 = 5.5 -> 3.5 / 5.5
        let want = (0.8 + 0.75 + 1.5 / 3.5 + 3.5 / 5.5) / 4.0;
        let (s, sampled) = silhouette(x.view(), &l, 2, 0).unwrap();
        assert!((s - want).abs() < 1e-12);
        assert!(!sampled);
        assert!(silhouette(x.view(), &[0, 0, 0, 0], 1, 0).is_none());
    }

    #[test]
    fn cached_silhouette_equals_the_direct_one() {
        let (x, l) = line();
        let c = DistanceCache::new(x.view(), 0);
        let direct = silhouette(x.view(), &l, 2, 0).unwrap().0;
        assert!((c.silhouette(&l, 2).unwrap() - direct).abs() < 1e-6);
        assert!(!c.sampled);
    }

    #[test]
    fn calinski_harabasz_hand_computed() {
        let (x, l) = line();
        // centroids 0.5 and 5, mean 2.75; between = 2 * 2.25^2 + 2 * 2.25^2 = 20.25;
        // within = 0.25 * 2 + 1 * 2 = 2.5; CH = 20.25 * (4 - 2) / (2.5 * 1) = 16.2
        assert!((calinski_harabasz(x.view(), &l, 2).unwrap() - 16.2).abs() < 1e-12);
    }

    #[test]
    fn davies_bouldin_hand_computed() {
        let (x, l) = line();
        // s0 = 0.5, s1 = 1, d = 4.5 -> (0.5 + 1) / 4.5 for both clusters
        assert!((davies_bouldin(x.view(), &l, 2).unwrap() - 1.5 / 4.5).abs() < 1e-12);
    }

    #[test]
    fn adjusted_rand_index_hand_computed() {
        // scikit-learn's doc examples.
        assert_eq!(adjusted_rand_index(&[0, 0, 1, 1], &[1, 1, 0, 0]), 1.0);
        // [0,0,1,2] vs [0,0,1,1]: index 1, sa = 1, sb = 2, expected 2/6, max 1.5
        // -> (1 - 1/3) / (1.5 - 1/3) = 4/7.
        let v = adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 1, 2]);
        assert!((v - 4.0 / 7.0).abs() < 1e-12, "{v}");
        // Every pair split apart where the truth keeps it together: -0.5.
        let v = adjusted_rand_index(&[0, 0, 1, 1], &[0, 1, 0, 1]);
        assert!((v + 0.5).abs() < 1e-12, "{v}");
        assert_eq!(adjusted_rand_index(&[3, 3, 3], &[-1i64, -1, -1]), 1.0);
    }
}
