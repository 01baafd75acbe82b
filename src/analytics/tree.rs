//! Classification trees (CART) on binned features: Gini or entropy impurity, maximum depth,
//! minimum rows per split and per leaf, an optional random subset of features per split (for
//! forests), class counts in every leaf (so probabilities, not only labels), and impurity
//! importance.
//!
//! Why not linfa-trees 0.8: its leaves keep only the modal class (no probabilities for
//! ROC-AUC or for ranking customers at risk), and each node scans the whole training set for
//! every feature, which is far too slow for forests on a million customers. Here features
//! are binned once (at most 256 bins; exact when a feature has fewer distinct values), and
//! each node builds per-feature class histograms over its own rows only.

use ndarray::ArrayView2;
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::AnalyticsError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Criterion {
    #[default]
    Gini,
    Entropy,
}

crate::choice!(Criterion { Gini => "gini", Entropy => "entropy" });

impl Criterion {
    /// Impurity of class counts with `n` rows in all.
    fn impurity(self, counts: &[u64], n: u64) -> f64 {
        if n == 0 {
            return 0.0;
        }
        let n = n as f64;
        match self {
            Criterion::Gini => 1.0 - counts.iter().map(|&c| (c as f64 / n).powi(2)).sum::<f64>(),
            Criterion::Entropy => -counts
                .iter()
                .filter(|&&c| c > 0)
                .map(|&c| {
                    let p = c as f64 / n;
                    p * p.log2()
                })
                .sum::<f64>(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TreeParams {
    pub criterion: Criterion,
    pub max_depth: usize,
    pub min_samples_split: usize,
    pub min_samples_leaf: usize,
    /// Features tried at each split (None: all), drawn with `seed`.
    pub max_features: Option<usize>,
    pub seed: u64,
}

impl Default for TreeParams {
    fn default() -> Self {
        TreeParams {
            criterion: Criterion::Gini,
            max_depth: 8,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: None,
            seed: 42,
        }
    }
}

/// Features binned once for all the trees fitted on them.
#[derive(Debug, Clone)]
pub struct Binned {
    pub n: usize,
    pub d: usize,
    /// Bin of row i, feature t at `t * n + i`.
    bins: Vec<u8>,
    /// Per feature, the value separating bin b from bin b + 1 (midway between the largest
    /// value in b and the smallest in b + 1).
    edges: Vec<Vec<f64>>,
}

impl Binned {
    /// Bins every feature into at most `max_bins` (<= 256) bins of about equal row counts;
    /// a feature with no more distinct values than that gets one bin per value.
    pub fn new(x: ArrayView2<f64>, max_bins: usize) -> Binned {
        let (n, d) = x.dim();
        let max_bins = max_bins.clamp(2, 256);
        // One feature at a time on its own thread (each feature's bins are its own, so the
        // result does not depend on the number of threads).
        let per: Vec<(Vec<u8>, Vec<f64>)> = (0..d)
            .into_par_iter()
            .map(|t| {
                let col: Vec<f64> = x.column(t).to_vec();
                let mut all = col.clone();
                all.sort_unstable_by(f64::total_cmp);
                let mut sorted = all.clone();
                sorted.dedup();
                // Bin upper bounds: every distinct value, or quantiles of the values
                // weighted by rows.
                let uppers: Vec<f64> = if sorted.len() <= max_bins {
                    sorted.clone()
                } else {
                    let mut u: Vec<f64> = (1..=max_bins)
                        .map(|q| all[(q * n / max_bins).min(n) - 1])
                        .collect();
                    u.dedup();
                    u
                };
                // Edge between bin b and b + 1: midway between uppers[b] and the next
                // distinct value above it.
                let e: Vec<f64> = uppers
                    .iter()
                    .take(uppers.len().saturating_sub(1))
                    .map(|&u| {
                        let next = sorted[sorted.partition_point(|&v| v <= u)];
                        u + (next - u) / 2.0
                    })
                    .collect();
                let b: Vec<u8> = col
                    .iter()
                    .map(|&v| e.partition_point(|&edge| edge < v) as u8)
                    .collect();
                (b, e)
            })
            .collect();
        let mut bins = Vec::with_capacity(n * d);
        let mut edges = Vec::with_capacity(d);
        for (b, e) in per {
            bins.extend_from_slice(&b);
            edges.push(e);
        }
        Binned { n, d, bins, edges }
    }

    /// Every row's bin of feature `t`.
    pub fn column(&self, t: usize) -> &[u8] {
        &self.bins[t * self.n..(t + 1) * self.n]
    }

    /// Feature `t`'s bin edges: rows with a value <= `edges(t)[b]` are in bins 0..=b.
    pub fn edges(&self, t: usize) -> &[f64] {
        &self.edges[t]
    }

    fn bin(&self, row: usize, t: usize) -> usize {
        self.bins[t * self.n + row] as usize
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Node {
    Leaf {
        /// Training rows per class in this leaf.
        counts: Vec<u64>,
    },
    Split {
        feature: usize,
        /// Rows with value <= threshold go left.
        threshold: f64,
        left: usize,
        right: usize,
        /// Training rows per class reaching this node.
        counts: Vec<u64>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub classes: usize,
    /// Node 0 is the root.
    pub nodes: Vec<Node>,
    /// Impurity decrease per feature, weighted by rows, normalised to sum to 1 (all 0 for a
    /// single leaf).
    pub importance: Vec<f64>,
}

impl Tree {
    /// Class probabilities of one row (raw feature values): the class shares of its leaf.
    pub fn predict_proba(&self, row: &[f64]) -> Vec<f64> {
        let mut node = 0;
        loop {
            match &self.nodes[node] {
                Node::Leaf { counts } => {
                    let n: u64 = counts.iter().sum();
                    return counts.iter().map(|&c| c as f64 / n.max(1) as f64).collect();
                }
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                    ..
                } => {
                    node = if row[*feature] <= *threshold {
                        *left
                    } else {
                        *right
                    }
                }
            }
        }
    }

    /// The tree as indented text, one line a node:
    /// `recency_days <= 120.5  (n 800: 650 / 150)` and, for leaves, `-> 1  (0.81)`.
    /// `original(feature, threshold)` puts a threshold back in the feature's own units.
    pub fn to_text(
        &self,
        features: &[String],
        classes: &[String],
        original: &dyn Fn(usize, f64) -> f64,
    ) -> String {
        fn counts_text(c: &[u64]) -> String {
            let n: u64 = c.iter().sum();
            let parts: Vec<String> = c.iter().map(|v| v.to_string()).collect();
            format!("n {n}: {}", parts.join(" / "))
        }
        struct Names<'a> {
            f: &'a [String],
            k: &'a [String],
            original: &'a dyn Fn(usize, f64) -> f64,
        }
        fn walk(t: &Tree, n: usize, depth: usize, names: &Names, out: &mut String) {
            let (f, k) = (names.f, names.k);
            let pad = "  ".repeat(depth);
            match &t.nodes[n] {
                Node::Leaf { counts } => {
                    let total = counts.iter().sum::<u64>().max(1) as f64;
                    let best =
                        (0..counts.len()).fold(0, |b, c| if counts[c] > counts[b] { c } else { b });
                    out.push_str(&format!(
                        "{pad}-> {}  ({:.2}; {})\n",
                        k.get(best).map_or("?", |s| s.as_str()),
                        counts[best] as f64 / total,
                        counts_text(counts)
                    ));
                }
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                    counts,
                } => {
                    let name = f.get(*feature).map_or("?", |s| s.as_str());
                    let at = (names.original)(*feature, *threshold);
                    out.push_str(&format!(
                        "{pad}{name} <= {at:.4}  ({})\n",
                        counts_text(counts)
                    ));
                    walk(t, *left, depth + 1, names, out);
                    out.push_str(&format!("{pad}{name} > {at:.4}\n"));
                    walk(t, *right, depth + 1, names, out);
                }
            }
        }
        let mut out = String::new();
        let names = Names {
            f: features,
            k: classes,
            original,
        };
        walk(self, 0, 0, &names, &mut out);
        out
    }

    pub fn depth(&self) -> usize {
        fn walk(t: &Tree, n: usize) -> usize {
            match &t.nodes[n] {
                Node::Leaf { .. } => 0,
                Node::Split { left, right, .. } => 1 + walk(t, *left).max(walk(t, *right)),
            }
        }
        walk(self, 0)
    }
}

/// A node still to build: its rows `work[start..end]`, its depth, and the parent's child
/// slot to point at it (parent node, is the left child).
type Pending = (usize, usize, usize, Option<(usize, bool)>);

/// Fits a tree on `rows` of `x` (binned) with classes `y` (0..classes).
pub fn fit_tree(
    x: &Binned,
    y: &[usize],
    classes: usize,
    rows: &[usize],
    p: &TreeParams,
) -> Result<Tree, AnalyticsError> {
    if rows.is_empty() {
        return Err(AnalyticsError::Input("no rows to fit a tree on".into()));
    }
    if p.min_samples_leaf == 0 || p.max_features == Some(0) {
        return Err(AnalyticsError::Input(
            "min samples per leaf and features per split must be at least 1".into(),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let mut nodes: Vec<Node> = Vec::new();
    let mut importance = vec![0.0; x.d];
    let mut work = rows.to_vec();
    let mut stack: Vec<Pending> = vec![(0, work.len(), 0, None)];
    let mut hist = vec![0u64; 256 * classes];
    while let Some((start, end, depth, parent)) = stack.pop() {
        let here = nodes.len();
        if let Some((pi, is_left)) = parent
            && let Node::Split { left, right, .. } = &mut nodes[pi]
        {
            if is_left {
                *left = here;
            } else {
                *right = here;
            }
        }
        let part = &work[start..end];
        let mut counts = vec![0u64; classes];
        for &r in part {
            counts[y[r]] += 1;
        }
        let n = part.len() as u64;
        let impurity = p.criterion.impurity(&counts, n);
        let can_split = depth < p.max_depth
            && part.len() >= p.min_samples_split.max(2)
            && part.len() >= 2 * p.min_samples_leaf
            && impurity > 0.0;
        let mut best: Option<(f64, usize, usize)> = None; // (weighted child impurity, feature, bin)
        if can_split {
            let features: Vec<usize> = match p.max_features {
                Some(m) if m < x.d => {
                    let mut f = sample(&mut rng, x.d, m).into_vec();
                    f.sort_unstable();
                    f
                }
                _ => (0..x.d).collect(),
            };
            for &t in &features {
                let nb = x.edges[t].len() + 1;
                if nb < 2 {
                    continue;
                }
                hist[..nb * classes].iter_mut().for_each(|h| *h = 0);
                for &r in part {
                    hist[x.bin(r, t) * classes + y[r]] += 1;
                }
                let mut left = vec![0u64; classes];
                let mut n_left = 0u64;
                for b in 0..nb - 1 {
                    for c in 0..classes {
                        left[c] += hist[b * classes + c];
                    }
                    n_left += hist[b * classes..(b + 1) * classes].iter().sum::<u64>();
                    let n_right = n - n_left;
                    if n_left < p.min_samples_leaf as u64 || n_right < p.min_samples_leaf as u64 {
                        continue;
                    }
                    let right: Vec<u64> = counts.iter().zip(&left).map(|(a, l)| a - l).collect();
                    let score = (n_left as f64 * p.criterion.impurity(&left, n_left)
                        + n_right as f64 * p.criterion.impurity(&right, n_right))
                        / n as f64;
                    if best.is_none_or(|(s, _, _)| score < s) {
                        best = Some((score, t, b));
                    }
                }
            }
        }
        match best {
            Some((score, t, b)) if score < impurity => {
                importance[t] += n as f64 * (impurity - score);
                // Partition the rows in place: bin <= b first.
                let slice = &mut work[start..end];
                let mut i = 0;
                for j in 0..slice.len() {
                    if x.bin(slice[j], t) <= b {
                        slice.swap(i, j);
                        i += 1;
                    }
                }
                nodes.push(Node::Split {
                    feature: t,
                    threshold: x.edges[t][b],
                    left: usize::MAX,
                    right: usize::MAX,
                    counts,
                });
                // Right pushed first so the left subtree is numbered first.
                stack.push((start + i, end, depth + 1, Some((here, false))));
                stack.push((start, start + i, depth + 1, Some((here, true))));
            }
            _ => nodes.push(Node::Leaf { counts }),
        }
    }
    let total: f64 = importance.iter().sum();
    if total > 0.0 {
        importance.iter_mut().for_each(|v| *v /= total);
    }
    Ok(Tree {
        classes,
        nodes,
        importance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::Rng;

    fn leaves(t: &Tree) -> Vec<&Vec<u64>> {
        t.nodes
            .iter()
            .filter_map(|n| match n {
                Node::Leaf { counts } => Some(counts),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_threshold_is_found_and_probabilities_are_leaf_shares() {
        // y = 1 when x > 5, with one noisy row on the right.
        let xs = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        let y = [0, 0, 0, 0, 0, 1, 1, 0, 1, 1];
        let x = Array2::from_shape_vec((10, 1), xs.to_vec()).unwrap();
        let b = Binned::new(x.view(), 256);
        let p = TreeParams {
            max_depth: 1,
            ..TreeParams::default()
        };
        let t = fit_tree(&b, &y, 2, &(0..10).collect::<Vec<_>>(), &p).unwrap();
        let Node::Split { threshold, .. } = &t.nodes[0] else {
            panic!("no split");
        };
        assert_eq!(*threshold, 5.5);
        assert_eq!(t.predict_proba(&[2.0]), vec![1.0, 0.0]);
        assert_eq!(t.predict_proba(&[9.0]), vec![0.2, 0.8]);
        assert_eq!(t.importance, vec![1.0]);
        assert_eq!(t.depth(), 1);
        let text = t.to_text(
            &["x".to_string()],
            &["no".to_string(), "yes".to_string()],
            &|_, v| v,
        );
        assert_eq!(
            text,
            "x <= 5.5000  (n 10: 6 / 4)\n  -> no  (1.00; n 5: 5 / 0)\nx > 5.5000\n  -> yes  (0.80; n 5: 1 / 4)\n"
        );
    }

    /// The root split equals an exhaustive search over every feature and every threshold
    /// between consecutive distinct values (bins are exact with few distinct values).
    #[test]
    fn root_split_matches_exhaustive_search() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for criterion in [Criterion::Gini, Criterion::Entropy] {
            for _ in 0..30 {
                let (n, d, k) = (40, 3, 3);
                let x = Array2::from_shape_fn((n, d), |_| rng.gen_range(0..15) as f64);
                let y: Vec<usize> = (0..n).map(|_| rng.gen_range(0..k)).collect();
                let mut best = (f64::INFINITY, 0usize, 0.0f64);
                for t in 0..d {
                    let mut vals: Vec<f64> = x.column(t).to_vec();
                    vals.sort_by(f64::total_cmp);
                    vals.dedup();
                    for w in vals.windows(2) {
                        let thr = (w[0] + w[1]) / 2.0;
                        let mut l = vec![0u64; k];
                        let mut r = vec![0u64; k];
                        for i in 0..n {
                            if x[[i, t]] <= thr {
                                l[y[i]] += 1;
                            } else {
                                r[y[i]] += 1;
                            }
                        }
                        let (nl, nr) = (l.iter().sum::<u64>(), r.iter().sum::<u64>());
                        let s = (nl as f64 * criterion.impurity(&l, nl)
                            + nr as f64 * criterion.impurity(&r, nr))
                            / n as f64;
                        if s < best.0 {
                            best = (s, t, thr);
                        }
                    }
                }
                let b = Binned::new(x.view(), 256);
                let p = TreeParams {
                    criterion,
                    max_depth: 1,
                    ..TreeParams::default()
                };
                let tree = fit_tree(&b, &y, k, &(0..n).collect::<Vec<_>>(), &p).unwrap();
                match &tree.nodes[0] {
                    Node::Split {
                        feature, threshold, ..
                    } => assert_eq!((*feature, *threshold), (best.1, best.2)),
                    Node::Leaf { .. } => panic!("expected a split"),
                }
            }
        }
    }

    #[test]
    fn leaves_respect_min_samples_and_depth_and_fit_separable_data() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let n = 500;
        let x = Array2::from_shape_fn((n, 4), |_| rng.r#gen::<f64>());
        // Separable: class 1 when x0 + x1 > 1.
        let y: Vec<usize> = (0..n)
            .map(|i| usize::from(x[[i, 0]] + x[[i, 1]] > 1.0))
            .collect();
        let b = Binned::new(x.view(), 64);
        let rows: Vec<usize> = (0..n).collect();
        let p = TreeParams {
            max_depth: 4,
            min_samples_leaf: 7,
            ..TreeParams::default()
        };
        let t = fit_tree(&b, &y, 2, &rows, &p).unwrap();
        assert!(t.depth() <= 4);
        assert!(leaves(&t).iter().all(|c| c.iter().sum::<u64>() >= 7));
        assert_eq!(
            leaves(&t)
                .iter()
                .map(|c| c.iter().sum::<u64>())
                .sum::<u64>(),
            n as u64
        );
        // Deep enough, it fits the training data well; x2 and x3 matter little.
        let deep = fit_tree(
            &b,
            &y,
            2,
            &rows,
            &TreeParams {
                max_depth: 12,
                ..TreeParams::default()
            },
        )
        .unwrap();
        let right = (0..n)
            .filter(|&i| {
                let row: Vec<f64> = x.row(i).to_vec();
                let pr = deep.predict_proba(&row);
                usize::from(pr[1] > 0.5) == y[i]
            })
            .count();
        assert!(right as f64 / n as f64 > 0.97, "{right}");
        assert!(
            deep.importance[0] + deep.importance[1] > 0.8,
            "{:?}",
            deep.importance
        );
    }

    #[test]
    fn feature_subsets_are_seeded() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let x = Array2::from_shape_fn((200, 6), |_| rng.r#gen::<f64>());
        let y: Vec<usize> = (0..200).map(|i| usize::from(x[[i, 2]] > 0.5)).collect();
        let b = Binned::new(x.view(), 32);
        let rows: Vec<usize> = (0..200).collect();
        let p = |seed| TreeParams {
            max_features: Some(2),
            seed,
            ..TreeParams::default()
        };
        let a = fit_tree(&b, &y, 2, &rows, &p(1)).unwrap();
        assert_eq!(a, fit_tree(&b, &y, 2, &rows, &p(1)).unwrap());
        assert!(fit_tree(&b, &y, 2, &[], &p(1)).is_err());
    }
}

/// The timing tests' data: 1,000,000 x 10 uniform features, class 1 above a noisy plane.
#[cfg(test)]
pub(crate) fn speed_data() -> (ndarray::Array2<f64>, Vec<usize>) {
    use rand::Rng;
    let (n, d) = (1_000_000, 10);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let x = ndarray::Array2::from_shape_fn((n, d), |_| rng.r#gen::<f64>());
    let y = (0..n)
        .map(|i| usize::from(x[[i, 0]] + 0.5 * x[[i, 1]] + 0.2 * rng.r#gen::<f64>() > 0.9))
        .collect();
    (x, y)
}

#[cfg(test)]
mod timing {
    use super::*;

    /// Not a test of behaviour: `cargo test --release --lib -- --ignored tree_speed
    /// --nocapture` times binning and one depth-10 tree on 1,000,000 x 10.
    #[test]
    #[ignore]
    fn tree_speed() {
        let (x, y) = speed_data();
        let n = y.len();
        let t0 = std::time::Instant::now();
        let b = Binned::new(x.view(), 256);
        let binned = t0.elapsed();
        let rows: Vec<usize> = (0..n).collect();
        let t1 = std::time::Instant::now();
        let p = TreeParams {
            max_depth: 10,
            ..TreeParams::default()
        };
        let t = fit_tree(&b, &y, 2, &rows, &p).unwrap();
        println!(
            "binning {binned:?}, one depth-{} tree with {} nodes: {:?}",
            t.depth(),
            t.nodes.len(),
            t1.elapsed()
        );
    }
}
