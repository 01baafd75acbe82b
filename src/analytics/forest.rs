//! Random forests: bagged [`super::tree`] trees, each on a bootstrap sample of the rows with
//! a random subset of the features at every split (sqrt(d) by default), fitted in parallel.
//! Tree i draws its sample and its feature subsets from seed + i, so the forest is the same
//! for a seed on any number of threads. Probabilities are the mean of the trees' leaf
//! shares; importance is the mean of the trees' impurity importances.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::AnalyticsError;
use super::tree::{Binned, Tree, TreeParams, fit_tree};
use crate::progress::Progress;

#[derive(Debug, Clone, PartialEq)]
pub struct ForestParams {
    pub n_trees: usize,
    /// Per tree; `max_features` None means sqrt(d) here.
    pub tree: TreeParams,
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams {
            n_trees: 100,
            tree: TreeParams {
                max_depth: 12,
                ..TreeParams::default()
            },
            seed: 42,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    pub classes: usize,
    pub trees: Vec<Tree>,
    pub importance: Vec<f64>,
}

impl Forest {
    pub fn predict_proba(&self, row: &[f64]) -> Vec<f64> {
        let mut p = vec![0.0; self.classes];
        for t in &self.trees {
            for (a, b) in p.iter_mut().zip(t.predict_proba(row)) {
                *a += b;
            }
        }
        let k = self.trees.len().max(1) as f64;
        p.iter_mut().for_each(|v| *v /= k);
        p
    }
}

/// Fits a forest on `rows` of `x` with classes `y`. `progress` advances one unit per tree
/// (the caller starts the step, so several forests can share one gauge) and cancels it.
pub fn fit_forest(
    x: &Binned,
    y: &[usize],
    classes: usize,
    rows: &[usize],
    p: &ForestParams,
    progress: &Progress,
) -> Result<Forest, AnalyticsError> {
    if p.n_trees == 0 {
        return Err(AnalyticsError::Input(
            "a forest needs at least one tree".into(),
        ));
    }
    if rows.is_empty() {
        return Err(AnalyticsError::Input("no rows to fit a forest on".into()));
    }
    let max_features = p
        .tree
        .max_features
        .unwrap_or_else(|| ((x.d as f64).sqrt().round() as usize).max(1));
    let trees: Vec<Result<Tree, AnalyticsError>> = (0..p.n_trees)
        .into_par_iter()
        .map(|i| {
            if progress.is_cancelled() {
                return Err(AnalyticsError::Cancelled);
            }
            let seed = p.seed.wrapping_add(i as u64);
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let sample: Vec<usize> = (0..rows.len())
                .map(|_| rows[rng.gen_range(0..rows.len())])
                .collect();
            let tp = TreeParams {
                max_features: Some(max_features),
                seed: seed ^ 0x9e37_79b9_7f4a_7c15,
                ..p.tree.clone()
            };
            let t = fit_tree(x, y, classes, &sample, &tp);
            progress.advance(1);
            t
        })
        .collect();
    let trees = trees.into_iter().collect::<Result<Vec<Tree>, _>>()?;
    let mut importance = vec![0.0; x.d];
    for t in &trees {
        for (a, b) in importance.iter_mut().zip(&t.importance) {
            *a += b;
        }
    }
    let k = trees.len() as f64;
    importance.iter_mut().for_each(|v| *v /= k);
    Ok(Forest {
        classes,
        trees,
        importance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::evaluation::roc_auc;
    use ndarray::Array2;

    fn data(n: usize, seed: u64) -> (Array2<f64>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = Array2::from_shape_fn((n, 5), |_| rng.r#gen::<f64>());
        // A noisy diagonal boundary on x0 and x1; the other features are noise.
        let y = (0..n)
            .map(|i| usize::from(x[[i, 0]] + x[[i, 1]] + 0.3 * (rng.r#gen::<f64>() - 0.5) > 1.0))
            .collect();
        (x, y)
    }

    #[test]
    fn a_forest_ranks_held_out_rows_well_and_finds_the_signal() {
        let (x, y) = data(2000, 1);
        let b = Binned::new(x.view(), 64);
        let train: Vec<usize> = (0..1500).collect();
        let p = ForestParams {
            n_trees: 30,
            ..ForestParams::default()
        };
        let f = fit_forest(&b, &y, 2, &train, &p, &Progress::new()).unwrap();
        let pos: Vec<bool> = (1500..2000).map(|i| y[i] == 1).collect();
        let score: Vec<f64> = (1500..2000)
            .map(|i| f.predict_proba(&x.row(i).to_vec())[1])
            .collect();
        let auc = roc_auc(&pos, &score).unwrap();
        assert!(auc > 0.95, "held-out AUC {auc}");
        assert!(
            f.importance[0] + f.importance[1] > 0.7,
            "{:?}",
            f.importance
        );
        assert!((f.importance.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        let pr = f.predict_proba(&x.row(0).to_vec());
        assert!((pr.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn same_seed_same_forest_on_any_thread_count() {
        let (x, y) = data(400, 2);
        let b = Binned::new(x.view(), 32);
        let rows: Vec<usize> = (0..400).collect();
        let p = ForestParams {
            n_trees: 8,
            ..ForestParams::default()
        };
        let run = |threads| {
            crate::analytics::on_threads(threads, || {
                fit_forest(&b, &y, 2, &rows, &p, &Progress::new()).unwrap()
            })
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
        let other = fit_forest(
            &b,
            &y,
            2,
            &rows,
            &ForestParams {
                seed: 7,
                ..p.clone()
            },
            &Progress::new(),
        )
        .unwrap();
        assert_ne!(one, other);
    }

    #[test]
    fn cancelling_stops_the_forest() {
        let (x, y) = data(200, 3);
        let b = Binned::new(x.view(), 16);
        let progress = Progress::new();
        progress.cancel();
        let e = fit_forest(
            &b,
            &y,
            2,
            &(0..200).collect::<Vec<_>>(),
            &ForestParams::default(),
            &progress,
        )
        .unwrap_err();
        assert_eq!(e, AnalyticsError::Cancelled);
    }
}

#[cfg(test)]
mod timing {
    use super::*;

    /// Not a test of behaviour: `cargo test --release --lib -- --ignored forest_speed
    /// --nocapture` times 100 trees (depth 12) on 1,000,000 x 10.
    #[test]
    #[ignore]
    fn forest_speed() {
        let (x, y) = crate::analytics::tree::speed_data();
        let n = y.len();
        let t0 = std::time::Instant::now();
        let b = Binned::new(x.view(), 256);
        let rows: Vec<usize> = (0..n).collect();
        let f = fit_forest(&b, &y, 2, &rows, &ForestParams::default(), &Progress::new()).unwrap();
        println!(
            "binning + 100 trees on 1M x 10: {:?} ({} nodes in all)",
            t0.elapsed(),
            f.trees.iter().map(|t| t.nodes.len()).sum::<usize>()
        );
    }
}
