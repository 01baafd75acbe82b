//! DBSCAN with scikit-learn's conventions: a point at distance <= `eps` is a neighbour, and
//! `min_points` counts the point itself (a core point has at least `min_points` points,
//! itself included, within `eps`). Clusters grow from core points in row order; a border
//! point joins the first cluster that reaches it; everything else is noise (label -1).
//!
//! Neighbourhoods come from a k-d tree (built here: a few dozen lines, no dependency, exact
//! for Euclidean radius queries) for up to 12 dimensions and from a scan above that. Nothing
//! is stored per pair, so memory is linear in the rows. Core points are found by counting
//! neighbours up to min_points and no further; a cluster grows by asking the tree only for
//! rows that are not labelled yet, with per-node counts of such rows so that fully labelled
//! subtrees are skipped (labels never change once set, so this gives the same result as
//! asking for every neighbour, at a fraction of the cost in dense data).

use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::Serialize;

use super::error::AnalyticsError;
use crate::progress::Progress;

/// Dimensions up to which the k-d tree is used.
const TREE_MAX_DIMS: usize = 12;
const LEAF: usize = 16;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DbscanResult {
    /// Cluster per row, -1 for noise.
    pub labels: Vec<i64>,
    pub clusters: usize,
    pub noise: usize,
    /// Rows per cluster, by label.
    pub sizes: Vec<usize>,
    pub core_points: usize,
    /// Whether each row is a core point (what a saved model keeps, with the labels).
    #[serde(skip)]
    pub core: Vec<bool>,
}

/// A k-d tree over the rows of a row-major matrix.
struct KdTree<'a> {
    x: &'a [f64],
    d: usize,
    idx: Vec<usize>,
    nodes: Vec<Node>,
    /// Each node's parent (the root's is usize::MAX).
    parent: Vec<usize>,
    /// The leaf each row sits in.
    leaf_of: Vec<usize>,
}

enum Node {
    Leaf {
        start: usize,
        end: usize,
    },
    Split {
        dim: usize,
        value: f64,
        left: usize,
        right: usize,
    },
}

impl<'a> KdTree<'a> {
    fn new(x: &'a [f64], d: usize) -> Self {
        let n = x.len() / d;
        let mut t = KdTree {
            x,
            d,
            idx: (0..n).collect(),
            nodes: Vec::new(),
            parent: Vec::new(),
            leaf_of: vec![0; n],
        };
        t.build(0, n, usize::MAX);
        for (node, kind) in t.nodes.iter().enumerate() {
            if let Node::Leaf { start, end } = *kind {
                for &i in &t.idx[start..end] {
                    t.leaf_of[i] = node;
                }
            }
        }
        t
    }

    /// Rows under each node: the starting "not yet labelled" counts for [`KdTree::within`].
    fn counts(&self) -> Vec<u32> {
        let mut alive = vec![0u32; self.nodes.len()];
        for &leaf in &self.leaf_of {
            let mut node = leaf;
            while node != usize::MAX {
                alive[node] += 1;
                node = self.parent[node];
            }
        }
        alive
    }

    /// Takes row `i` out of the `alive` counts (it has been labelled).
    fn take(&self, alive: &mut [u32], i: usize) {
        let mut node = self.leaf_of[i];
        while node != usize::MAX {
            alive[node] -= 1;
            node = self.parent[node];
        }
    }

    fn value(&self, row: usize, dim: usize) -> f64 {
        self.x[row * self.d + dim]
    }

    fn build(&mut self, start: usize, end: usize, parent: usize) -> usize {
        if end - start <= LEAF {
            self.nodes.push(Node::Leaf { start, end });
            self.parent.push(parent);
            return self.nodes.len() - 1;
        }
        // Split on the dimension with the widest spread, at the median.
        let dim = (0..self.d)
            .max_by(|&a, &b| {
                let spread = |k: usize| {
                    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
                    for &i in &self.idx[start..end] {
                        let v = self.value(i, k);
                        lo = lo.min(v);
                        hi = hi.max(v);
                    }
                    hi - lo
                };
                spread(a).total_cmp(&spread(b))
            })
            .unwrap_or(0);
        let mid = start + (end - start) / 2;
        let (x, d) = (self.x, self.d);
        self.idx[start..end].select_nth_unstable_by(mid - start, |&a, &b| {
            x[a * d + dim].total_cmp(&x[b * d + dim])
        });
        let value = self.value(self.idx[mid], dim);
        let me = self.nodes.len();
        self.nodes.push(Node::Leaf { start: 0, end: 0 });
        self.parent.push(parent);
        let left = self.build(start, mid, me);
        let right = self.build(mid, end, me);
        self.nodes[me] = Node::Split {
            dim,
            value,
            left,
            right,
        };
        me
    }

    /// Calls `f` on every row within `eps` (squared: `eps2`) of `q`, until `f` returns false.
    /// With `alive` (rows not labelled yet, per node), subtrees with none are skipped.
    fn within(
        &self,
        q: &[f64],
        eps: f64,
        eps2: f64,
        alive: Option<&[u32]>,
        f: &mut impl FnMut(usize) -> bool,
    ) {
        let mut stack = vec![0usize];
        while let Some(n) = stack.pop() {
            if alive.is_some_and(|a| a[n] == 0) {
                continue;
            }
            match self.nodes[n] {
                Node::Leaf { start, end } => {
                    for &i in &self.idx[start..end] {
                        if sq_dist(&self.x[i * self.d..(i + 1) * self.d], q) <= eps2 && !f(i) {
                            return;
                        }
                    }
                }
                Node::Split {
                    dim,
                    value,
                    left,
                    right,
                } => {
                    let diff = q[dim] - value;
                    if diff <= eps {
                        stack.push(left);
                    }
                    if diff >= -eps {
                        stack.push(right);
                    }
                }
            }
        }
    }
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Neighbour queries: the tree, or a scan for many dimensions.
struct Neighbours<'a> {
    x: &'a [f64],
    d: usize,
    eps: f64,
    tree: Option<KdTree<'a>>,
}

impl<'a> Neighbours<'a> {
    fn new(x: &'a [f64], d: usize, eps: f64) -> Self {
        let tree = (d <= TREE_MAX_DIMS).then(|| KdTree::new(x, d));
        Neighbours { x, d, eps, tree }
    }

    /// Calls `f` on each neighbour of row `i` until it returns false.
    fn each(&self, i: usize, f: &mut impl FnMut(usize) -> bool) {
        self.near(&self.x[i * self.d..(i + 1) * self.d], f)
    }

    /// Calls `f` on each row within eps of `q` until it returns false.
    fn near(&self, q: &[f64], f: &mut impl FnMut(usize) -> bool) {
        let eps2 = self.eps * self.eps;
        match &self.tree {
            Some(t) => t.within(q, self.eps, eps2, None, f),
            None => {
                for (j, row) in self.x.chunks_exact(self.d).enumerate() {
                    if sq_dist(row, q) <= eps2 && !f(j) {
                        return;
                    }
                }
            }
        }
    }
}

/// DBSCAN on the rows of `x`.
pub fn dbscan(
    x: ArrayView2<f64>,
    eps: f64,
    min_points: usize,
    progress: &Progress,
) -> Result<DbscanResult, AnalyticsError> {
    if !(eps > 0.0 && eps.is_finite()) {
        return Err(AnalyticsError::Input(format!(
            "eps = {eps}: it must be a positive number (a distance in the scaled feature space)"
        )));
    }
    if min_points == 0 {
        return Err(AnalyticsError::Input(
            "min_points must be at least 1 (it counts the point itself)".into(),
        ));
    }
    // Within these bounds eps squared is an ordinary number, so a squared distance that
    // overflows (values near 1e308) is rightly farther than eps and one that underflows
    // (denormal values) is rightly within it.
    super::limits::EPS.named("DBSCAN eps", eps)?;
    super::limits::MIN_POINTS.named("DBSCAN min_points", min_points)?;
    let (n, d) = x.dim();
    if n == 0 || d == 0 {
        return Err(AnalyticsError::Input(
            "no rows or no features to cluster".into(),
        ));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(AnalyticsError::Input(
            "the feature matrix has a missing or infinite value; fill or drop it first".into(),
        ));
    }
    let flat: Vec<f64> = x.iter().copied().collect();
    progress.start("dbscan", 2);
    progress.label("dbscan: indexing and counting neighbours");
    let nb = Neighbours::new(&flat, d, eps);
    let core: Vec<bool> = (0..n)
        .into_par_iter()
        .map(|i| {
            // Only "at least min_points" matters: stop counting there.
            let mut count = 0usize;
            nb.each(i, &mut |_| {
                count += 1;
                count < min_points
            });
            count >= min_points
        })
        .collect();
    progress.check().map_err(|_| AnalyticsError::Cancelled)?;
    progress.next("dbscan: growing clusters");
    let mut labels = vec![-1i64; n];
    let mut cluster = 0i64;
    let mut queue = Vec::new();
    // With the tree, growth asks only for neighbours not labelled yet, and subtrees whose
    // rows are all labelled are skipped: dense clusters no longer cost the sum of every core
    // point's neighbourhood. Labels never change once set, so the result is the same.
    let mut alive = nb.tree.as_ref().map(|t| t.counts());
    let mut found = Vec::new();
    let mut steps = 0usize;
    for start in 0..n {
        if !core[start] || labels[start] != -1 {
            continue;
        }
        labels[start] = cluster;
        if let (Some(t), Some(a)) = (&nb.tree, alive.as_mut()) {
            t.take(a, start);
        }
        queue.clear();
        queue.push(start);
        while let Some(p) = queue.pop() {
            steps += 1;
            if steps.is_multiple_of(4096) {
                progress.check().map_err(|_| AnalyticsError::Cancelled)?;
            }
            match (&nb.tree, alive.as_mut()) {
                (Some(t), Some(a)) => {
                    // Only the rows not labelled yet; labelled ones are done with.
                    found.clear();
                    let q = &flat[p * d..(p + 1) * d];
                    t.within(q, eps, eps * eps, Some(a), &mut |r| {
                        if labels[r] == -1 {
                            found.push(r);
                        }
                        true
                    });
                    for &r in &found {
                        labels[r] = cluster;
                        t.take(a, r);
                        if core[r] {
                            queue.push(r);
                        }
                    }
                }
                _ => nb.each(p, &mut |r| {
                    if labels[r] == -1 {
                        labels[r] = cluster;
                        if core[r] {
                            queue.push(r);
                        }
                    }
                    true
                }),
            }
        }
        cluster += 1;
    }
    let clusters = cluster as usize;
    let mut sizes = vec![0usize; clusters];
    let mut noise = 0;
    for &l in &labels {
        if l < 0 {
            noise += 1;
        } else {
            sizes[l as usize] += 1;
        }
    }
    Ok(DbscanResult {
        labels,
        clusters,
        noise,
        sizes,
        core_points: core.iter().filter(|c| **c).count(),
        core,
    })
}

/// The labels a fitted DBSCAN gives the rows of `x`: the smallest cluster label among the core
/// points (`cores`, labelled `core_labels`) within `eps`, else noise (-1). That is the label
/// the fit gives its own rows: a core point's neighbours among the cores are all of its
/// cluster, and clusters grow one after the other in label order, so a border point within
/// eps of cores of two clusters went to the first one. So scoring the fitted rows gives back
/// their labels, exactly; on a point with a single cluster in reach it is the cluster of its
/// nearest core point.
pub fn assign(
    cores: ArrayView2<f64>,
    core_labels: &[i64],
    eps: f64,
    x: ArrayView2<f64>,
) -> Vec<i64> {
    let d = cores.ncols();
    let flat: Vec<f64> = cores.iter().copied().collect();
    if flat.is_empty() || d == 0 {
        return vec![-1; x.nrows()];
    }
    let nb = Neighbours::new(&flat, d, eps);
    let rows: Vec<Vec<f64>> = x.outer_iter().map(|r| r.to_vec()).collect();
    rows.par_iter()
        .map(|q| {
            let mut best = -1i64;
            nb.near(q, &mut |c| {
                let l = core_labels[c];
                if best < 0 || l < best {
                    best = l;
                }
                true
            });
            best
        })
        .collect()
}

/// Each cluster's mean row (noise, label -1, left out), by label.
pub fn cluster_means(x: ArrayView2<f64>, labels: &[i64], clusters: usize) -> Vec<Vec<f64>> {
    let d = x.ncols();
    // Extreme values are summed times a power of two (exact) that brings them near 1:
    // values near 1e308 summed directly overflowed to an infinite (JSON null) centroid.
    let e = super::kmeans::internal_scale(x).unwrap_or(0);
    let mut sums = vec![vec![0.0; d]; clusters];
    let mut counts = vec![0usize; clusters];
    for (row, &l) in x.outer_iter().zip(labels) {
        if l >= 0 && (l as usize) < clusters {
            counts[l as usize] += 1;
            for (s, v) in sums[l as usize].iter_mut().zip(row) {
                *s += libm::scalbn(*v, e);
            }
        }
    }
    for (s, &c) in sums.iter_mut().zip(&counts) {
        s.iter_mut()
            .for_each(|v| *v = libm::scalbn(*v / c.max(1) as f64, -e));
    }
    sums
}

/// The knee of a k-distance curve (sorted descending): the point farthest below the chord
/// from its first to its last point, both axes scaled to 0..1 (Kneedle's difference curve).
/// There the distances stop falling steeply: rows farther than it from their neighbours are
/// noise, the rest dense enough to cluster. None for fewer than three points or a flat curve.
pub fn knee(curve: &[f64]) -> Option<f64> {
    let n = curve.len();
    if n < 3 {
        return None;
    }
    let (hi, lo) = (curve[0], curve[n - 1]);
    if !hi.is_finite() || !lo.is_finite() || hi <= lo {
        return None;
    }
    let last = (n - 1) as f64;
    let (best, _) = curve
        .iter()
        .enumerate()
        .map(|(i, &v)| (i, (1.0 - i as f64 / last) - (v - lo) / (hi - lo)))
        .fold((0, f64::NEG_INFINITY), |a, b| if b.1 > a.1 { b } else { a });
    Some(curve[best])
}

/// The k-distance curve for choosing eps: each sampled row's distance to its
/// `min_points`-th nearest row (itself counted first, at distance 0), sorted descending.
/// At most `sample` rows are used (evenly spaced), each against every row.
pub fn k_distances(
    x: ArrayView2<f64>,
    min_points: usize,
    sample: usize,
    progress: &Progress,
) -> Result<Vec<f64>, AnalyticsError> {
    let (n, d) = x.dim();
    if n == 0 || min_points == 0 {
        return Ok(Vec::new());
    }
    let flat: Vec<f64> = x.iter().copied().collect();
    let k = min_points.min(n);
    let stride = n.div_ceil(sample.max(1)).max(1);
    let rows: Vec<usize> = (0..n).step_by(stride).collect();
    let mut out: Vec<f64> = rows
        .par_iter()
        .map(|&i| {
            if progress.is_cancelled() {
                return 0.0;
            }
            let q = &flat[i * d..(i + 1) * d];
            // The k smallest squared distances, kept sorted (k is small).
            let mut best: Vec<f64> = Vec::with_capacity(k + 1);
            for row in flat.chunks_exact(d) {
                let dist = sq_dist(row, q);
                if best.len() < k || dist < best[k - 1] {
                    let pos = best.partition_point(|b| *b <= dist);
                    best.insert(pos, dist);
                    best.truncate(k);
                }
            }
            best[k - 1].sqrt()
        })
        .collect();
    progress.check().map_err(|_| AnalyticsError::Cancelled)?;
    out.sort_by(|a, b| b.total_cmp(a));
    Ok(out)
}

#[cfg(test)]
mod tests {

    /// Scoring the fitted rows with their core points gives back every label (clusters and
    /// noise), in 2 and 14 dimensions (the tree and the scan), whole or a subset in another
    /// order; a point far from every core is noise.
    #[test]
    fn assigning_the_fitted_rows_gives_back_their_labels() {
        use super::*;
        use rand::{Rng, SeedableRng};
        for (d, n) in [(2usize, 3000usize), (14, 1500)] {
            // Five blobs along the diagonal, 2.1 apart on every axis, and 5% of the rows
            // spread over the whole range (noise, and bridges between blobs).
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(d as u64);
            let x = ndarray::Array2::from_shape_fn((n, d), |(i, _)| {
                if i % 20 == 19 {
                    rng.gen_range(-1.0..9.4)
                } else {
                    (i % 5) as f64 * 2.1 + rng.gen_range(-1.0..1.0)
                }
            });
            let tries: &[f64] = if d == 2 {
                &[0.1, 0.15, 0.2, 0.3]
            } else {
                &[1.5, 2.0, 2.5, 3.0, 3.5]
            };
            let (eps, r) = tries
                .iter()
                .map(|&e| (e, dbscan(x.view(), e, 6, &Progress::new()).unwrap()))
                .find(|(_, r)| r.clusters >= 2 && r.noise > 0)
                .expect("an eps giving clusters and noise");
            let cores: Vec<usize> = (0..n).filter(|&i| r.core[i]).collect();
            assert!(cores.len() < n);
            let core_x = x.select(ndarray::Axis(0), &cores);
            let core_labels: Vec<i64> = cores.iter().map(|&i| r.labels[i]).collect();
            let got = assign(core_x.view(), &core_labels, eps, x.view());
            assert_eq!(got, r.labels, "d = {d}");
            // A row shuffled order or alone: the same label.
            let some: Vec<usize> = (0..n).rev().step_by(7).collect();
            let sub = x.select(ndarray::Axis(0), &some);
            let got = assign(core_x.view(), &core_labels, eps, sub.view());
            let want: Vec<i64> = some.iter().map(|&i| r.labels[i]).collect();
            assert_eq!(got, want);
        }
        // Far from every core: noise.
        let cores = ndarray::array![[0.0, 0.0], [10.0, 10.0]];
        let far = ndarray::array![[5.0, 5.0], [0.1, 0.0], [9.95, 10.0]];
        assert_eq!(assign(cores.view(), &[0, 1], 0.5, far.view()), [-1, 0, 1]);
    }

    #[test]
    fn the_knee_is_where_the_distances_stop_falling_steeply() {
        // A few far rows (noise), then a long flat run of dense rows.
        let mut curve = vec![10.0, 8.0, 6.0, 4.0, 2.0];
        curve.extend(
            std::iter::repeat_n(1.0, 5)
                .enumerate()
                .map(|(i, v)| v - 0.01 * i as f64),
        );
        curve.extend(std::iter::repeat_n(0.9, 90));
        let k = knee(&curve).unwrap();
        assert!((0.9..=2.0).contains(&k), "{k}");
        // Brute force over the definition.
        let (hi, lo, last) = (10.0, 0.9, (curve.len() - 1) as f64);
        let best = (0..curve.len())
            .max_by(|&a, &b| {
                let d = |i: usize| (1.0 - i as f64 / last) - (curve[i] - lo) / (hi - lo);
                d(a).total_cmp(&d(b)).then(b.cmp(&a))
            })
            .unwrap();
        assert_eq!(k, curve[best]);
        assert_eq!(knee(&[1.0, 1.0, 1.0]), None);
        assert_eq!(knee(&[2.0, 1.0]), None);
    }

    use super::*;
    use ndarray::{Array2, array};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The textbook algorithm with an O(n^2) neighbour scan, in the same row order.
    fn brute(x: &Array2<f64>, eps: f64, min_points: usize) -> Vec<i64> {
        let n = x.nrows();
        let near = |i: usize| -> Vec<usize> {
            (0..n)
                .filter(|&j| {
                    let d: f64 = x
                        .row(i)
                        .iter()
                        .zip(x.row(j).iter())
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum();
                    d <= eps * eps
                })
                .collect()
        };
        let core: Vec<bool> = (0..n).map(|i| near(i).len() >= min_points).collect();
        let mut labels = vec![-1i64; n];
        let mut c = 0;
        for s in 0..n {
            if !core[s] || labels[s] != -1 {
                continue;
            }
            labels[s] = c;
            let mut stack = vec![s];
            while let Some(p) = stack.pop() {
                for r in near(p) {
                    if labels[r] == -1 {
                        labels[r] = c;
                        if core[r] {
                            stack.push(r);
                        }
                    }
                }
            }
            c += 1;
        }
        labels
    }

    #[test]
    fn hand_worked_border_and_noise() {
        // On a line, eps = 1, min_points = 3 (itself included):
        // 1 ({0, 1, 2}) and 2 ({1, 2, 3}) are core; 0 ({0, 1}) and 3 ({2, 3}) are border points
        // reached from them; 4.5 has only itself; 10 and 10.5 have two each: noise.
        let x = array![[0.0], [1.0], [2.0], [3.0], [4.5], [10.0], [10.5]];
        let r = dbscan(x.view(), 1.0, 3, &Progress::new()).unwrap();
        assert_eq!(r.labels, vec![0, 0, 0, 0, -1, -1, -1]);
        assert_eq!((r.clusters, r.noise, r.core_points), (1, 3, 2));
        assert_eq!(r.sizes, vec![4]);
        // min_points = 2: 10 and 10.5 become a second cluster; 4.5 is still alone.
        let r = dbscan(x.view(), 1.0, 2, &Progress::new()).unwrap();
        assert_eq!(r.labels, vec![0, 0, 0, 0, -1, 1, 1]);
        // A point at exactly eps is a neighbour.
        let r = dbscan(array![[0.0], [1.0]].view(), 1.0, 2, &Progress::new()).unwrap();
        assert_eq!(r.labels, vec![0, 0]);
    }

    #[test]
    fn matches_brute_force_on_random_data() {
        for (seed, d) in [(1u64, 2usize), (2, 3), (3, 14)] {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let n = 600;
            let v: Vec<f64> = (0..n * d).map(|_| rng.r#gen::<f64>() * 10.0).collect();
            let x = Array2::from_shape_vec((n, d), v).unwrap();
            let eps = if d > 3 { 9.0 } else { 0.8 };
            let got = dbscan(x.view(), eps, 4, &Progress::new()).unwrap();
            assert_eq!(got.labels, brute(&x, eps, 4), "seed {seed}, {d} dims");
        }
    }

    #[test]
    fn separated_blobs_and_outliers_are_recovered() {
        // Three square blobs of 100 points and four far outliers: ARI 1 against the truth
        // with the outliers as noise.
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let mut v = Vec::new();
        let mut truth = Vec::new();
        for (c, (cx, cy)) in [(0.0, 0.0), (10.0, 0.0), (5.0, 9.0)].iter().enumerate() {
            for _ in 0..100 {
                v.push(cx + rng.gen_range(-1.0..1.0));
                v.push(cy + rng.gen_range(-1.0..1.0));
                truth.push(c as i64);
            }
        }
        for (x, y) in [(30.0, 30.0), (-30.0, 5.0), (5.0, -40.0), (50.0, -50.0)] {
            v.push(x);
            v.push(y);
            truth.push(-1);
        }
        let x = Array2::from_shape_vec((truth.len(), 2), v).unwrap();
        let r = dbscan(x.view(), 0.6, 4, &Progress::new()).unwrap();
        assert_eq!(
            crate::analytics::metrics::adjusted_rand_index(&r.labels, &truth),
            1.0
        );
        assert_eq!((r.clusters, r.noise), (3, 4));
    }

    #[test]
    fn k_distance_hand_computed() {
        // min_points = 2: the nearest other point. 0->1 (1), 1->0 (1), 3->1 (2): sorted desc.
        let x = array![[0.0], [1.0], [3.0]];
        assert_eq!(
            k_distances(x.view(), 2, 10, &Progress::new()).unwrap(),
            vec![2.0, 1.0, 1.0]
        );
    }

    #[test]
    fn bad_parameters() {
        let x = array![[0.0], [1.0]];
        assert!(dbscan(x.view(), 0.0, 2, &Progress::new()).is_err());
        assert!(dbscan(x.view(), -1.0, 2, &Progress::new()).is_err());
        assert!(dbscan(x.view(), 1.0, 0, &Progress::new()).is_err());
    }

    /// Near 1e308 each cluster is found (squared distances overflow to infinity, rightly
    /// farther than eps) and its mean row is finite (the sums overflowed to a JSON null).
    #[test]
    fn huge_values_give_finite_cluster_means() {
        let mut rows = Vec::new();
        for g in [1.0, 4.0, 8.0] {
            for _ in 0..10 {
                rows.extend([g * 1e307, (9.0 - g) * 1e307]);
            }
        }
        let x = ndarray::Array2::from_shape_vec((30, 2), rows).unwrap();
        let r = dbscan(x.view(), 1.0, 3, &Progress::new()).unwrap();
        assert_eq!((r.clusters, r.noise), (3, 0));
        let means = cluster_means(x.view(), &r.labels, r.clusters);
        for (m, g) in means.iter().zip([1.0, 4.0, 8.0]) {
            assert!((m[0] / (g * 1e307) - 1.0).abs() < 1e-12, "{m:?}");
            assert!((m[1] / ((9.0 - g) * 1e307) - 1.0).abs() < 1e-12, "{m:?}");
        }
    }
}
