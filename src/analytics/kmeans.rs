//! K-Means: greedy k-means++ seeding, Lloyd iterations, `n_init` restarts keeping the lowest
//! inertia; the conventions of scikit-learn's `KMeans` (inertia = sum of squared distances to
//! the nearest centroid; convergence when the squared centroid shift falls to
//! `tol * mean feature variance`; an empty cluster takes the point farthest from its centroid).
//!
//! Why not linfa-clustering's KMeans: it has no progress or cancel hook (a restart cannot be
//! stopped within 200 ms) and its reductions are not fixed-order, so results could change with
//! the thread count. Here rows are processed in fixed-size blocks on rayon and the block sums
//! are added in block order: the same seed gives the same result on any number of threads.

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use super::error::AnalyticsError;
use super::kernel::{BlockStats, Tiles, assign_block, capped_distances};
use crate::progress::Progress;

/// Rows per block: the unit of parallel work and of deterministic summation.
const BLOCK: usize = 4096;

#[derive(Debug, Clone, PartialEq)]
pub struct KMeansParams {
    pub k: usize,
    pub n_init: usize,
    pub max_iter: usize,
    pub tol: f64,
    pub seed: u64,
}

impl KMeansParams {
    pub fn new(k: usize) -> Self {
        KMeansParams {
            k,
            n_init: 10,
            max_iter: 300,
            tol: 1e-4,
            seed: 42,
        }
    }
}

/// The best of the restarts.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KMeansResult {
    pub k: usize,
    pub labels: Vec<usize>,
    /// Centroids in the (scaled) space the model ran in, one row per cluster.
    pub centroids: Vec<Vec<f64>>,
    /// Sum of squared distances of every row to its centroid (scaled space).
    pub inertia: f64,
    /// Lloyd iterations of the best restart.
    pub iterations: usize,
    pub sizes: Vec<usize>,
    pub converged: bool,
    /// Which restart won (0-based) and every restart's inertia.
    pub best_restart: usize,
    pub restart_inertias: Vec<f64>,
    /// The power of two the values were multiplied by inside k-means
    /// ([`internal_scale`]; None for ordinary values): what scoring new rows repeats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internal_scale: Option<i32>,
}

impl KMeansResult {
    /// The nearest centroid of each row of `x`, computed as the fit computes its final labels
    /// (the same kernel, after the same power-of-two scaling), so the fitted rows get their
    /// labels back.
    pub fn predict(&self, x: ArrayView2<f64>) -> Vec<usize> {
        let (k, d) = (self.centroids.len(), x.ncols());
        let e = self.internal_scale.unwrap_or(0);
        let up = |v: f64| if e == 0 { v } else { libm::scalbn(v, e) };
        let centroids = Array2::from_shape_fn((k, d), |(c, j)| up(self.centroids[c][j]));
        let mut labels = vec![0usize; x.nrows()];
        if x.nrows() == 0 {
            return labels;
        }
        let cols = if e == 0 {
            Tiles::from_view(x)
        } else {
            Tiles::from_view(x.mapv(up).view())
        };
        assign(&cols, &centroids, &mut labels);
        labels
    }
}

fn sq_dist(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Greedy k-means++ (as scikit-learn): each new centre is the best of `2 + ln k` candidates
/// drawn with probability proportional to the squared distance to the nearest chosen centre.
/// All candidates of a step are scored in one pass over the data (each block of rows is
/// read once and stays in cache for every candidate); the winner's capped distances become
/// the next step's, so nothing is computed twice.
fn kmeans_plus_plus(cols: &Tiles, k: usize, rng: &mut ChaCha8Rng) -> Array2<f64> {
    let (n, d) = (cols.n, cols.d);
    let trials = 2 + (k as f64).ln().floor() as usize;
    let mut centres = Array2::<f64>::zeros((k, d));
    // Each candidate's squared distances capped by `closest` (into `outs`, one buffer per
    // candidate), and their sums per block of rows: blocks[b][t] for candidate t.
    let score = |closest: &[f64], cands: &[Vec<f64>], outs: &mut [Vec<f64>]| -> Vec<Vec<f64>> {
        let mut per_block: Vec<Vec<(usize, &mut [f64])>> = Vec::new();
        for (t, out) in outs.iter_mut().enumerate().take(cands.len()) {
            for (b, chunk) in out.chunks_mut(BLOCK).enumerate() {
                if per_block.len() <= b {
                    per_block.push(Vec::new());
                }
                per_block[b].push((t, chunk));
            }
        }
        per_block
            .into_par_iter()
            .enumerate()
            .map(|(b, chunks)| {
                let start = b * BLOCK;
                chunks
                    .into_iter()
                    .map(|(t, chunk)| {
                        let near = &closest[start..start + chunk.len()];
                        capped_distances(cols, start, &cands[t], near, chunk)
                    })
                    .collect()
            })
            .collect()
    };
    // A row drawn with probability proportional to `closest`, from the block sums: the first
    // row at which the running sum passes `target`.
    let draw = |closest: &[f64], block_sums: &[f64], target: f64| -> usize {
        let mut acc = 0.0;
        for (b, s) in block_sums.iter().enumerate() {
            let end = ((b + 1) * BLOCK).min(n);
            if acc + s > target {
                let mut run = acc;
                for (i, v) in closest.iter().enumerate().take(end).skip(b * BLOCK) {
                    run += v;
                    if run > target {
                        return i;
                    }
                }
                return end - 1;
            }
            acc += s;
        }
        n - 1
    };
    let mut outs: Vec<Vec<f64>> = vec![vec![0.0; n]; trials.max(1)];
    let first = rng.gen_range(0..n);
    let first_row = cols.row(first);
    centres
        .row_mut(0)
        .assign(&ndarray::Array1::from(first_row.clone()));
    let blocks = score(&vec![f64::INFINITY; n], &[first_row], &mut outs[..1]);
    let mut block_sums: Vec<f64> = blocks.iter().map(|b| b[0]).collect();
    let mut closest = std::mem::take(&mut outs[0]);
    outs[0] = vec![0.0; n];
    for c in 1..k {
        let total: f64 = block_sums.iter().sum();
        let picks: Vec<usize> = (0..trials)
            .map(|_| {
                if total > 0.0 {
                    let target = rng.r#gen::<f64>() * total;
                    draw(&closest, &block_sums, target)
                } else {
                    rng.gen_range(0..n)
                }
            })
            .collect();
        let cands: Vec<Vec<f64>> = picks.iter().map(|&i| cols.row(i)).collect();
        let blocks = score(&closest, &cands, &mut outs);
        let pots: Vec<f64> = (0..cands.len())
            .map(|t| blocks.iter().map(|b| b[t]).sum())
            .collect();
        let mut best = 0;
        for (t, pot) in pots.iter().enumerate() {
            if *pot < pots[best] {
                best = t;
            }
        }
        centres
            .row_mut(c)
            .assign(&ndarray::Array1::from(cands[best].clone()));
        std::mem::swap(&mut closest, &mut outs[best]);
        block_sums = blocks.iter().map(|b| b[best]).collect();
    }
    centres
}

/// One assignment pass: labels, per-cluster sums and counts, inertia, in block order
/// (the vectorised kernel in [`super::kernel`]).
fn assign(
    cols: &Tiles,
    centroids: &Array2<f64>,
    labels: &mut [usize],
) -> (Array2<f64>, Vec<usize>, f64) {
    let (k, d) = centroids.dim();
    let cs: Vec<f64> = centroids.iter().copied().collect();
    let partials: Vec<BlockStats> = labels
        .par_chunks_mut(BLOCK)
        .enumerate()
        .map(|(b, lab)| assign_block(cols, b * BLOCK, lab, &cs))
        .collect();
    let mut sums = Array2::<f64>::zeros((k, d));
    let mut counts = vec![0usize; k];
    let mut inertia = 0.0;
    for p in partials {
        for (a, b) in sums.iter_mut().zip(&p.sums) {
            *a += b;
        }
        for (a, b) in counts.iter_mut().zip(p.counts) {
            *a += b;
        }
        inertia += p.inertia;
    }
    (sums, counts, inertia)
}

fn mean_variance(x: ArrayView2<f64>) -> f64 {
    let n = x.nrows() as f64;
    let mut total = 0.0;
    for col in x.axis_iter(Axis(1)) {
        let m = col.sum() / n;
        total += col.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n;
    }
    total / x.ncols() as f64
}

struct Run {
    labels: Vec<usize>,
    centroids: Array2<f64>,
    inertia: f64,
    iterations: usize,
    converged: bool,
}

fn lloyd(
    x: ArrayView2<f64>,
    cols: &Tiles,
    mut centroids: Array2<f64>,
    p: &KMeansParams,
    tol: f64,
    progress: &Progress,
    restart: usize,
) -> Result<Run, AnalyticsError> {
    let n = x.nrows();
    let mut labels = vec![0usize; n];
    let mut converged = false;
    let mut iterations = 0;
    for it in 0..p.max_iter {
        progress.check().map_err(|_| AnalyticsError::Cancelled)?;
        progress.label(&format!(
            "k-means restart {} of {}, iteration {}",
            restart + 1,
            p.n_init,
            it + 1
        ));
        let (sums, counts, _) = assign(cols, &centroids, &mut labels);
        let mut next = centroids.clone();
        for (j, &count) in counts.iter().enumerate() {
            if count > 0 {
                next.row_mut(j).assign(&(&sums.row(j) / count as f64));
            }
        }
        // Empty clusters take the points farthest from their current centroid.
        let empty: Vec<usize> = (0..p.k).filter(|&j| counts[j] == 0).collect();
        if !empty.is_empty() {
            let mut far: Vec<(f64, usize)> = x
                .outer_iter()
                .zip(&labels)
                .enumerate()
                .map(|(i, (r, &l))| (sq_dist(r, centroids.row(l)), i))
                .collect();
            far.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            for (slot, j) in empty.into_iter().enumerate() {
                next.row_mut(j).assign(&x.row(far[slot].1));
            }
        }
        let shift: f64 = (&next - &centroids).iter().map(|v| v * v).sum();
        centroids = next;
        iterations = it + 1;
        if shift <= tol {
            converged = true;
            break;
        }
    }
    // Final labels and inertia against the final centroids (as scikit-learn reports them).
    let (_, _, inertia) = assign(cols, &centroids, &mut labels);
    Ok(Run {
        labels,
        centroids,
        inertia,
        iterations,
        converged,
    })
}

/// Number of distinct rows, up to `limit` (enough to check k against it).
fn distinct_rows(x: ArrayView2<f64>, limit: usize) -> usize {
    let mut seen = std::collections::HashSet::new();
    for r in x.outer_iter() {
        seen.insert(r.iter().map(|v| v.to_bits()).collect::<Vec<u64>>());
        if seen.len() >= limit {
            break;
        }
    }
    seen.len()
}

/// What every k-cluster model needs of its input: rows and features, k >= 1, finite values,
/// and at least k distinct rows.
pub(crate) fn check_input(x: ArrayView2<f64>, k: usize) -> Result<(), AnalyticsError> {
    let (n, d) = x.dim();
    if n == 0 || d == 0 {
        return Err(AnalyticsError::Input(
            "no rows or no features to cluster; select features and check the data".into(),
        ));
    }
    if k == 0 {
        return Err(AnalyticsError::Input("k must be at least 1".into()));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(AnalyticsError::Input(
            "the feature matrix has a missing or infinite value; fill or drop it first".into(),
        ));
    }
    let distinct = distinct_rows(x, k);
    if distinct < k {
        return Err(AnalyticsError::Input(format!(
            "k = {k} is more than the {distinct} distinct rows; choose k <= {distinct}"
        )));
    }
    Ok(())
}

/// The power of two (as its exponent) `x` is multiplied by inside k-means, when its values
/// are so large that squared distances overflow (about 1e308 / 1e30 and up: every distance
/// was infinite, so every row went to one cluster and the inertia was NaN) or so small that
/// they underflow to zero (denormals: every row was at distance 0 of every centroid). None
/// for ordinary values. Scaling by a power of two changes no digit, and k-means is
/// equivariant under a common scale: the labels are those of the exact computation, and the
/// centroids and inertia are scaled back.
pub(crate) fn internal_scale(x: ArrayView2<f64>) -> Option<i32> {
    let max = x.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    if max == 0.0 || !max.is_finite() || (1e-30..=1e30).contains(&max) {
        return None;
    }
    // ilogb: the binary exponent, exact for subnormals too.
    Some(-libm::ilogb(max))
}

/// Runs K-Means on `x` (rows are customers, already scaled).
pub fn kmeans(
    x: ArrayView2<f64>,
    p: &KMeansParams,
    progress: &Progress,
) -> Result<KMeansResult, AnalyticsError> {
    check_input(x, p.k)?;
    super::limits::N_INIT.named("k-means n_init", p.n_init)?;
    super::limits::MAX_ITER.named("k-means max_iter", p.max_iter)?;
    if !(p.tol >= 0.0 && p.tol.is_finite()) {
        return Err(AnalyticsError::Input(format!(
            "k-means tol {}: it must be a number >= 0",
            p.tol
        )));
    }
    let Some(e) = internal_scale(x) else {
        return kmeans_unscaled(x, p, progress);
    };
    let scaled = x.mapv(|v| libm::scalbn(v, e));
    let mut r = kmeans_unscaled(scaled.view(), p, progress)?;
    r.internal_scale = Some(e);
    let back = |v: f64| libm::scalbn(v, -e);
    for c in &mut r.centroids {
        c.iter_mut().for_each(|v| *v = back(*v));
    }
    let back2 = |v: f64| libm::scalbn(v, -2 * e);
    r.inertia = back2(r.inertia);
    r.restart_inertias.iter_mut().for_each(|v| *v = back2(*v));
    if !r.inertia.is_finite() {
        let max = x.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        return Err(AnalyticsError::Input(format!(
            "k-means: the feature values reach {max:e}, so the inertia (a sum of squared \
             distances) is beyond the largest floating-point number; scale the features (e.g. \
             standard scaling) or divide the column before clustering"
        )));
    }
    Ok(r)
}

fn kmeans_unscaled(
    x: ArrayView2<f64>,
    p: &KMeansParams,
    progress: &Progress,
) -> Result<KMeansResult, AnalyticsError> {
    let n_init = p.n_init;
    let tol = p.tol * mean_variance(x);
    progress.start("k-means", n_init as u64);
    // One tiled copy for the hot loop (see `super::kernel`).
    let cols = Tiles::from_view(x);
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let mut best: Option<(usize, Run)> = None;
    let mut inertias = Vec::with_capacity(n_init);
    for r in 0..n_init {
        progress.check().map_err(|_| AnalyticsError::Cancelled)?;
        let init = kmeans_plus_plus(&cols, p.k, &mut rng);
        let run = lloyd(x, &cols, init, p, tol, progress, r)?;
        inertias.push(run.inertia);
        if best.as_ref().is_none_or(|(_, b)| run.inertia < b.inertia) {
            best = Some((r, run));
        }
        progress.set(r as u64 + 1);
    }
    let (best_restart, run) = best.expect("n_init >= 1");
    let mut sizes = vec![0usize; p.k];
    for &l in &run.labels {
        sizes[l] += 1;
    }
    Ok(KMeansResult {
        k: p.k,
        centroids: run.centroids.outer_iter().map(|r| r.to_vec()).collect(),
        labels: run.labels,
        inertia: run.inertia,
        iterations: run.iterations,
        sizes,
        converged: run.converged,
        best_restart,
        restart_inertias: inertias,
        internal_scale: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// Three tight blobs around (0,0), (10,0), (0,10), 30 points each.
    fn blobs() -> (Array2<f64>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let centres = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)];
        let mut rows = Vec::new();
        let mut truth = Vec::new();
        for (c, (cx, cy)) in centres.iter().enumerate() {
            for _ in 0..30 {
                rows.push(cx + rng.gen_range(-0.5..0.5));
                rows.push(cy + rng.gen_range(-0.5..0.5));
                truth.push(c);
            }
        }
        (Array2::from_shape_vec((90, 2), rows).unwrap(), truth)
    }

    #[test]
    fn separated_blobs_are_recovered() {
        let (x, truth) = blobs();
        let r = kmeans(x.view(), &KMeansParams::new(3), &Progress::new()).unwrap();
        assert_eq!(
            crate::analytics::metrics::adjusted_rand_index(&r.labels, &truth),
            1.0
        );
        assert_eq!(r.sizes, vec![30, 30, 30]);
        assert!(r.converged);
    }

    #[test]
    fn inertia_is_the_hand_computed_sum_of_squares() {
        // Two pairs: {0, 2} around 1 and {10, 12} around 11: each point is 1 away, inertia 4.
        let x = array![[0.0], [2.0], [10.0], [12.0]];
        let r = kmeans(x.view(), &KMeansParams::new(2), &Progress::new()).unwrap();
        assert!((r.inertia - 4.0).abs() < 1e-12);
        let mut c: Vec<f64> = r.centroids.iter().map(|c| c[0]).collect();
        c.sort_by(f64::total_cmp);
        assert_eq!(c, vec![1.0, 11.0]);
        // The reported inertia is what the labels and centroids give.
        let (x, _) = blobs();
        let r = kmeans(x.view(), &KMeansParams::new(4), &Progress::new()).unwrap();
        let brute: f64 = x
            .outer_iter()
            .zip(&r.labels)
            .map(|(row, &l)| {
                row.iter()
                    .zip(&r.centroids[l])
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
            })
            .sum();
        assert!((r.inertia - brute).abs() < 1e-9);
    }

    #[test]
    fn best_of_n_init_is_never_worse_than_one_run() {
        let (x, _) = blobs();
        for seed in 0..5 {
            let one = KMeansParams {
                n_init: 1,
                seed,
                ..KMeansParams::new(5)
            };
            let ten = KMeansParams {
                n_init: 10,
                ..one.clone()
            };
            let a = kmeans(x.view(), &one, &Progress::new()).unwrap();
            let b = kmeans(x.view(), &ten, &Progress::new()).unwrap();
            // The first restart of `ten` is `one`'s only run.
            assert_eq!(b.restart_inertias[0], a.inertia);
            assert!(b.inertia <= a.inertia);
            assert_eq!(
                b.inertia,
                b.restart_inertias
                    .iter()
                    .cloned()
                    .fold(f64::INFINITY, f64::min)
            );
        }
    }

    #[test]
    fn same_seed_same_result_on_any_thread_count() {
        // More rows than one block, so several blocks are summed.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let data: Vec<f64> = (0..10_000 * 3).map(|_| rng.r#gen::<f64>()).collect();
        let x = Array2::from_shape_vec((10_000, 3), data).unwrap();
        let p = KMeansParams {
            n_init: 2,
            ..KMeansParams::new(6)
        };
        let run = |threads| {
            crate::analytics::on_threads(threads, || {
                kmeans(x.view(), &p, &Progress::new()).unwrap()
            })
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }

    #[test]
    fn bad_inputs_are_refused() {
        let x = array![[1.0, 1.0], [1.0, 1.0], [2.0, 2.0]];
        let err = kmeans(x.view(), &KMeansParams::new(3), &Progress::new()).unwrap_err();
        assert!(err.to_string().contains("2 distinct rows"), "{err}");
        assert!(kmeans(x.view(), &KMeansParams::new(0), &Progress::new()).is_err());
        let x = array![[1.0, f64::NAN], [2.0, 2.0]];
        assert!(kmeans(x.view(), &KMeansParams::new(1), &Progress::new()).is_err());
    }

    /// Four groups of denormal values (about 1e-315): squared distances underflowed to 0, so
    /// every row went to one cluster. Computed times a power of two, the groups are found.
    #[test]
    fn denormal_values_are_clustered_as_their_scaled_copies() {
        let (x, truth) = blobs();
        let tiny = x.mapv(|v| v * 1e-316);
        assert!(tiny.iter().any(|v| v.is_subnormal()));
        let r = kmeans(tiny.view(), &KMeansParams::new(3), &Progress::new()).unwrap();
        assert_eq!(
            crate::analytics::metrics::adjusted_rand_index(&r.labels, &truth),
            1.0
        );
        assert_eq!(r.sizes, vec![30, 30, 30]);
        assert!(r.inertia.is_finite() && r.inertia >= 0.0);
        for c in &r.centroids {
            assert!(c.iter().all(|v| v.is_finite() && v.abs() < 1e-314), "{c:?}");
        }
    }

    /// Values near 1e308: every distance overflowed, the labels were all one cluster, two
    /// clusters came back empty and the inertia was NaN (JSON null). Now the labels are the
    /// groups' and the unrepresentable inertia is a clear error; at 1e100 everything is
    /// finite and the same as at scale 1.
    #[test]
    fn huge_values_give_the_true_clusters_or_a_clear_error() {
        let (x, truth) = blobs();
        let big = x.mapv(|v| (v + 1.0) * 1e306);
        let e = kmeans(big.view(), &KMeansParams::new(3), &Progress::new()).unwrap_err();
        assert!(
            e.to_string()
                .contains("beyond the largest floating-point number"),
            "{e}"
        );
        let one = kmeans(x.view(), &KMeansParams::new(3), &Progress::new()).unwrap();
        let big = x.mapv(|v| v * 1e100);
        let r = kmeans(big.view(), &KMeansParams::new(3), &Progress::new()).unwrap();
        assert_eq!(
            crate::analytics::metrics::adjusted_rand_index(&r.labels, &truth),
            1.0
        );
        assert_eq!(r.sizes, vec![30, 30, 30]);
        assert!(r.inertia.is_finite());
        assert!((r.inertia / 1e200 - one.inertia).abs() < 1e-9 * one.inertia);
    }

    #[test]
    fn restarts_and_iterations_are_bounded() {
        let (x, _) = blobs();
        for (n_init, max_iter, needle) in [
            (0, 300, "n_init 0 is out of range"),
            (100_000, 300, "n_init 100000 is out of range"),
            (10, 0, "max_iter 0 is out of range"),
        ] {
            let p = KMeansParams {
                n_init,
                max_iter,
                ..KMeansParams::new(3)
            };
            let e = kmeans(x.view(), &p, &Progress::new()).unwrap_err();
            assert!(e.to_string().contains(needle), "{e}");
        }
    }

    #[test]
    fn cancel_stops_the_run() {
        let (x, _) = blobs();
        let p = Progress::new();
        p.cancel();
        let err = kmeans(x.view(), &KMeansParams::new(3), &p).unwrap_err();
        assert!(matches!(err, AnalyticsError::Cancelled));
    }
}
