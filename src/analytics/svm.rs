//! Linear support vector machines: hinge loss with an L2 penalty, solved in the dual by
//! coordinate descent with shrinking (Hsieh et al. 2008, liblinear's solver for
//! scikit-learn's `LinearSVC(loss="hinge")`, with the same regularised bias feature of value
//! 1), one-vs-rest for more than two classes, and probabilities by Platt scaling (Lin, Lin and
//! Weng's 2007 Newton method) fitted on cross-fitted decision values: each training row's
//! value comes from a model fitted on the other folds, as scikit-learn's
//! `CalibratedClassifierCV(method="sigmoid")` does.
//!
//! Why not linfa-svm 0.8: its solver is SMO over a kernel matrix (linear included), which
//! needs time and memory growing with the square of the rows: hours and tens of GB at a
//! million customers, where coordinate descent in the primal weights takes seconds. Its Platt
//! scaling is fitted on the training decision values.
//!
//! Determinism: each problem is solved on one thread, its coordinates visited in an order
//! drawn from the seed; the one-vs-rest problems run in parallel, each on its own.

use ndarray::ArrayView2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::AnalyticsError;
use crate::progress::Progress;

#[derive(Debug, Clone, PartialEq)]
pub struct SvmParams {
    /// The hinge loss's weight (larger: less regularisation); scikit-learn's C.
    pub c: f64,
    /// Passes over the rows at most, per problem.
    pub max_iter: usize,
    /// Stop when the projected gradients' spread is at most this (liblinear's eps).
    pub tol: f64,
    /// Folds of the cross-fitted decision values Platt scaling is fitted on.
    pub platt_folds: usize,
    pub seed: u64,
}

impl Default for SvmParams {
    fn default() -> Self {
        SvmParams {
            c: 1.0,
            max_iter: 1000,
            tol: 1e-4,
            platt_folds: 3,
            seed: 42,
        }
    }
}

/// A fitted linear SVM: what a saved model keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearSvm {
    pub classes: usize,
    /// Per problem (one for two classes: class 1 against 0; else one per class against the
    /// rest), a weight per feature.
    pub weights: Vec<Vec<f64>>,
    pub intercepts: Vec<f64>,
    /// Per problem, Platt's (A, B): P(class) = 1 / (1 + exp(A f + B)) of decision value f.
    pub platt: Vec<(f64, f64)>,
    /// |weight| per feature (summed over the problems), normalised to sum to 1.
    pub importance: Vec<f64>,
    /// Passes over the rows each problem's final fit took.
    pub iterations: Vec<usize>,
}

impl LinearSvm {
    /// Decision values of one row, one per problem.
    pub fn decision(&self, row: &[f64]) -> Vec<f64> {
        self.weights
            .iter()
            .zip(&self.intercepts)
            .map(|(w, b)| dot(w, row) + b)
            .collect()
    }

    /// Class probabilities of one row.
    pub fn predict_proba(&self, row: &[f64]) -> Vec<f64> {
        let f = self.decision(row);
        let p: Vec<f64> = f
            .iter()
            .zip(&self.platt)
            .map(|(&f, &(a, b))| platt_probability(f, a, b))
            .collect();
        if self.classes == 2 {
            return vec![1.0 - p[0], p[0]];
        }
        // One-vs-rest probabilities normalised to sum to 1 (uniform when all are 0).
        let s: f64 = p.iter().sum();
        if s > 0.0 {
            p.iter().map(|v| v / s).collect()
        } else {
            vec![1.0 / self.classes as f64; self.classes]
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn platt_probability(f: f64, a: f64, b: f64) -> f64 {
    let z = a * f + b;
    // 1 / (1 + e^z), without overflow either way.
    if z >= 0.0 {
        let e = (-z).exp();
        e / (1.0 + e)
    } else {
        1.0 / (1.0 + z.exp())
    }
}

/// Platt's sigmoid parameters (A, B).
type Platt = (f64, f64);

/// One binary problem's solution: weights, bias and passes taken.
struct Solved {
    w: Vec<f64>,
    b: f64,
    iterations: usize,
}

/// Dual coordinate descent for the L2-regularised hinge loss (liblinear's
/// `solve_l2r_l1l2_svc` with L1 loss), the bias a feature of value 1. `x` holds the rows
/// (row-major, `d` values each), `y` is +1 or -1 per row.
fn solve(x: &[f64], d: usize, y: &[f64], p: &SvmParams, seed: u64) -> Solved {
    let l = y.len();
    let c = p.c;
    let mut w = vec![0.0; d];
    let mut b = 0.0;
    let mut alpha = vec![0.0; l];
    let qd: Vec<f64> = (0..l)
        .map(|i| {
            let r = &x[i * d..(i + 1) * d];
            dot(r, r) + 1.0
        })
        .collect();
    let mut index: Vec<usize> = (0..l).collect();
    let mut active = l;
    let (mut pg_max_old, mut pg_min_old) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut iter = 0;
    while iter < p.max_iter {
        let (mut pg_max, mut pg_min) = (f64::NEG_INFINITY, f64::INFINITY);
        for i in 0..active {
            let j = i + rng.gen_range(0..active - i);
            index.swap(i, j);
        }
        let mut s = 0;
        while s < active {
            let i = index[s];
            let r = &x[i * d..(i + 1) * d];
            let yi = y[i];
            let g = yi * (dot(&w, r) + b) - 1.0;
            let mut pg = 0.0;
            if alpha[i] == 0.0 {
                if g > pg_max_old {
                    active -= 1;
                    index.swap(s, active);
                    continue;
                } else if g < 0.0 {
                    pg = g;
                }
            } else if alpha[i] == c {
                if g < pg_min_old {
                    active -= 1;
                    index.swap(s, active);
                    continue;
                } else if g > 0.0 {
                    pg = g;
                }
            } else {
                pg = g;
            }
            pg_max = pg_max.max(pg);
            pg_min = pg_min.min(pg);
            if pg.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (old - g / qd[i]).clamp(0.0, c);
                let step = (alpha[i] - old) * yi;
                for (wk, xk) in w.iter_mut().zip(r) {
                    *wk += step * xk;
                }
                b += step;
            }
            s += 1;
        }
        iter += 1;
        if pg_max - pg_min <= p.tol {
            if active == l {
                break;
            }
            // Converged on the active rows: check all of them once more.
            active = l;
            pg_max_old = f64::INFINITY;
            pg_min_old = f64::NEG_INFINITY;
            continue;
        }
        pg_max_old = if pg_max <= 0.0 { f64::INFINITY } else { pg_max };
        pg_min_old = if pg_min >= 0.0 {
            f64::NEG_INFINITY
        } else {
            pg_min
        };
    }
    Solved {
        w,
        b,
        iterations: iter,
    }
}

/// Platt's sigmoid (A, B) for decision values `f` of rows labelled `positive`, by Lin, Lin
/// and Weng's Newton method with backtracking (targets smoothed by the class counts).
pub fn fit_platt(f: &[f64], positive: &[bool]) -> (f64, f64) {
    let prior1 = positive.iter().filter(|&&p| p).count() as f64;
    let prior0 = positive.len() as f64 - prior1;
    let hi = (prior1 + 1.0) / (prior1 + 2.0);
    let lo = 1.0 / (prior0 + 2.0);
    let t: Vec<f64> = positive.iter().map(|&p| if p { hi } else { lo }).collect();
    let objective = |a: f64, b: f64| -> f64 {
        f.iter()
            .zip(&t)
            .map(|(&fi, &ti)| {
                let z = fi * a + b;
                if z >= 0.0 {
                    ti * z + (-z).exp().ln_1p()
                } else {
                    (ti - 1.0) * z + z.exp().ln_1p()
                }
            })
            .sum()
    };
    let (mut a, mut b) = (0.0, ((prior0 + 1.0) / (prior1 + 1.0)).ln());
    let mut fval = objective(a, b);
    for _ in 0..100 {
        let (mut h11, mut h22, mut h21, mut g1, mut g2) = (1e-12, 1e-12, 0.0, 0.0, 0.0);
        for (&fi, &ti) in f.iter().zip(&t) {
            let z = fi * a + b;
            let (p, q) = if z >= 0.0 {
                let e = (-z).exp();
                (e / (1.0 + e), 1.0 / (1.0 + e))
            } else {
                let e = z.exp();
                (1.0 / (1.0 + e), e / (1.0 + e))
            };
            let d2 = p * q;
            h11 += fi * fi * d2;
            h22 += d2;
            h21 += fi * d2;
            let d1 = ti - p;
            g1 += fi * d1;
            g2 += d1;
        }
        if g1.abs() < 1e-5 && g2.abs() < 1e-5 {
            break;
        }
        let det = h11 * h22 - h21 * h21;
        let da = -(h22 * g1 - h21 * g2) / det;
        let db = -(-h21 * g1 + h11 * g2) / det;
        let gd = g1 * da + g2 * db;
        let mut step = 1.0;
        while step >= 1e-10 {
            let (na, nb) = (a + step * da, b + step * db);
            let nf = objective(na, nb);
            if nf < fval + 1e-4 * step * gd {
                (a, b, fval) = (na, nb, nf);
                break;
            }
            step /= 2.0;
        }
        if step < 1e-10 {
            break;
        }
    }
    (a, b)
}

/// Fits a linear SVM on `rows` of `x` (scaled features) with classes `y` (0..classes).
/// `progress` cancels it between problems and folds (the caller counts the fit).
pub fn fit_svm(
    x: ArrayView2<f64>,
    y: &[usize],
    classes: usize,
    rows: &[usize],
    p: &SvmParams,
    progress: &Progress,
) -> Result<LinearSvm, AnalyticsError> {
    if !(p.c > 0.0 && p.c.is_finite()) {
        return Err(AnalyticsError::Input(format!(
            "C {} must be a positive number (C = 1 / alpha)",
            p.c
        )));
    }
    if classes < 2 || rows.len() < 2 {
        return Err(AnalyticsError::Input(
            "a support vector machine needs two or more classes and rows".into(),
        ));
    }
    let d = x.ncols();
    let mut data = Vec::with_capacity(rows.len() * d);
    for &r in rows {
        data.extend(x.row(r).iter());
    }
    let labels: Vec<usize> = rows.iter().map(|&r| y[r]).collect();
    let problems: Vec<usize> = if classes == 2 {
        vec![1]
    } else {
        (0..classes).collect()
    };
    // Cross-fitted decision values for Platt: each fold's rows scored by a model fitted on
    // the other folds (stratified folds; fewer when a class is small).
    let smallest = (0..classes)
        .map(|c| labels.iter().filter(|&&l| l == c).count())
        .filter(|&n| n > 0)
        .min()
        .unwrap_or(0);
    let folds = p.platt_folds.min(smallest);
    let splits = if folds >= 2 {
        super::evaluation::stratified_kfold(&labels, folds, p.seed ^ 0x91a7)?
    } else {
        Vec::new()
    };
    let solved: Vec<Result<(Solved, Platt), AnalyticsError>> = problems
        .par_iter()
        .map(|&class| {
            if progress.is_cancelled() {
                return Err(AnalyticsError::Cancelled);
            }
            let sign: Vec<f64> = labels
                .iter()
                .map(|&l| if l == class { 1.0 } else { -1.0 })
                .collect();
            let seed = p.seed.wrapping_add(class as u64);
            let mut f = vec![0.0; labels.len()];
            if splits.is_empty() {
                // Too few rows of a class to cross-fit: the training values.
                let s = solve(&data, d, &sign, p, seed);
                for (i, v) in f.iter_mut().enumerate() {
                    *v = dot(&s.w, &data[i * d..(i + 1) * d]) + s.b;
                }
            } else {
                for (k, (train, test)) in splits.iter().enumerate() {
                    if progress.is_cancelled() {
                        return Err(AnalyticsError::Cancelled);
                    }
                    let mut xt = Vec::with_capacity(train.len() * d);
                    for &i in train {
                        xt.extend_from_slice(&data[i * d..(i + 1) * d]);
                    }
                    let yt: Vec<f64> = train.iter().map(|&i| sign[i]).collect();
                    let s = solve(&xt, d, &yt, p, seed.wrapping_add(1 + k as u64));
                    for &i in test {
                        f[i] = dot(&s.w, &data[i * d..(i + 1) * d]) + s.b;
                    }
                }
            }
            let positive: Vec<bool> = sign.iter().map(|&s| s > 0.0).collect();
            let platt = fit_platt(&f, &positive);
            Ok((solve(&data, d, &sign, p, seed), platt))
        })
        .collect();
    let solved = solved.into_iter().collect::<Result<Vec<_>, _>>()?;
    let mut importance = vec![0.0; d];
    for (s, _) in &solved {
        for (a, w) in importance.iter_mut().zip(&s.w) {
            *a += w.abs();
        }
    }
    let total: f64 = importance.iter().sum();
    if total > 0.0 {
        importance.iter_mut().for_each(|v| *v /= total);
    }
    Ok(LinearSvm {
        classes,
        weights: solved.iter().map(|(s, _)| s.w.clone()).collect(),
        intercepts: solved.iter().map(|(s, _)| s.b).collect(),
        platt: solved.iter().map(|(_, p)| *p).collect(),
        importance,
        iterations: solved.iter().map(|(s, _)| s.iterations).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn tight(c: f64) -> SvmParams {
        SvmParams {
            c,
            tol: 1e-10,
            max_iter: 1_000_000,
            ..SvmParams::default()
        }
    }

    /// Hard-margin solutions by hand (with the bias regularised, as liblinear): in 1-D,
    /// +1 at x = 1 and -1 at x = -1 give w = 1, b = 0; in 2-D, +1 at (1, 0) and -1 at (0, 1)
    /// give w = (1, -1), b = 0 (both points on the margin, alphas 1).
    #[test]
    fn separable_examples_by_hand() {
        let s = solve(&[1.0, -1.0], 1, &[1.0, -1.0], &tight(1000.0), 1);
        assert!(
            (s.w[0] - 1.0).abs() < 1e-9 && s.b.abs() < 1e-9,
            "{:?} {}",
            s.w,
            s.b
        );
        let s = solve(&[1.0, 0.0, 0.0, 1.0], 2, &[1.0, -1.0], &tight(1000.0), 1);
        assert!((s.w[0] - 1.0).abs() < 1e-9 && (s.w[1] + 1.0).abs() < 1e-9);
        assert!(s.b.abs() < 1e-9);
        // A C below the alphas the margin needs caps them: w = C (x1 - x2) direction.
        let s = solve(&[1.0, 0.0, 0.0, 1.0], 2, &[1.0, -1.0], &tight(0.25), 1);
        assert!((s.w[0] - 0.25).abs() < 1e-9 && (s.w[1] + 0.25).abs() < 1e-9);
    }

    fn points() -> (Array2<f64>, Vec<usize>, Vec<usize>) {
        let text = include_str!("../../tests/fixtures/svm_points.csv");
        let rows: Vec<Vec<f64>> = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
            .collect();
        let x = Array2::from_shape_fn((rows.len(), 3), |(i, j)| rows[i][j]);
        let y2 = rows.iter().map(|r| r[3] as usize).collect();
        let y3 = rows.iter().map(|r| r[4] as usize).collect();
        (x, y2, y3)
    }

    /// The optimum is unique in w: liblinear's (scikit-learn's LinearSVC, loss="hinge") and
    /// ours agree to 1e-6 at three C's, for two classes and one-vs-rest for three
    /// (tests/fixtures/svm_reference.py made the file and the figures).
    #[test]
    fn coefficients_equal_scikit_learn_linear_svc() {
        let (x, y2, y3) = points();
        let reference: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/svm_sklearn.json")).unwrap();
        let rows: Vec<usize> = (0..x.nrows()).collect();
        let mut data = Vec::new();
        for r in x.outer_iter() {
            data.extend(r.iter());
        }
        for fit in reference["fits"].as_array().unwrap() {
            let c = fit["c"].as_f64().unwrap();
            let classes = fit["classes"].as_u64().unwrap() as usize;
            let y = if classes == 2 { &y2 } else { &y3 };
            let problems: Vec<usize> = if classes == 2 {
                vec![1]
            } else {
                (0..3).collect()
            };
            for (k, &class) in problems.iter().enumerate() {
                let sign: Vec<f64> = rows
                    .iter()
                    .map(|&i| if y[i] == class { 1.0 } else { -1.0 })
                    .collect();
                let s = solve(&data, 3, &sign, &tight(c), 7);
                let coef: Vec<f64> = fit["coef"][k]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect();
                let b = fit["intercept"][k].as_f64().unwrap();
                for (a, e) in s.w.iter().zip(&coef) {
                    assert!(
                        (a - e).abs() < 1e-6,
                        "C {c}, class {class}: {:?} vs {coef:?}",
                        s.w
                    );
                }
                assert!(
                    (s.b - b).abs() < 1e-6,
                    "C {c}, class {class}: b {} vs {b}",
                    s.b
                );
            }
        }
    }

    /// At the solution the optimality conditions hold for every row: alpha 0 outside the
    /// margin, between 0 and C on it, C inside or beyond it (checked through the primal:
    /// y f >= 1 for rows that do not count, and the primal objective is no higher than at
    /// nearby points).
    #[test]
    fn the_solution_is_a_minimum_of_the_primal() {
        let (x, y2, _) = points();
        let mut data = Vec::new();
        for r in x.outer_iter() {
            data.extend(r.iter());
        }
        let sign: Vec<f64> = y2
            .iter()
            .map(|&c| if c == 1 { 1.0 } else { -1.0 })
            .collect();
        let c = 0.5;
        let s = solve(&data, 3, &sign, &tight(c), 3);
        let primal = |w: &[f64], b: f64| {
            0.5 * (dot(w, w) + b * b)
                + c * (0..sign.len())
                    .map(|i| (1.0 - sign[i] * (dot(w, &data[i * 3..i * 3 + 3]) + b)).max(0.0))
                    .sum::<f64>()
        };
        let best = primal(&s.w, s.b);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..200 {
            let h = 1e-3;
            let w: Vec<f64> = s.w.iter().map(|v| v + rng.gen_range(-h..h)).collect();
            let b = s.b + rng.gen_range(-h..h);
            assert!(primal(&w, b) >= best - 1e-9);
        }
    }

    /// Platt's fit is a stationary point of its smoothed log loss (both partial derivatives
    /// near 0), and ranks like the decision values when A < 0.
    #[test]
    fn platt_fit_has_zero_gradient() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let f: Vec<f64> = (0..500).map(|_| rng.gen_range(-3.0..3.0)).collect();
        let positive: Vec<bool> = f
            .iter()
            .map(|&v| rng.r#gen::<f64>() < 1.0 / (1.0 + (-2.0 * v).exp()))
            .collect();
        let (a, b) = fit_platt(&f, &positive);
        let n1 = positive.iter().filter(|&&p| p).count() as f64;
        let n0 = 500.0 - n1;
        let (hi, lo) = ((n1 + 1.0) / (n1 + 2.0), 1.0 / (n0 + 2.0));
        let (mut ga, mut gb) = (0.0, 0.0);
        for (&fi, &p) in f.iter().zip(&positive) {
            let t = if p { hi } else { lo };
            let q = platt_probability(fi, a, b);
            ga += fi * (t - q);
            gb += t - q;
        }
        assert!(ga.abs() < 1e-4 && gb.abs() < 1e-4, "{ga} {gb}");
        assert!(a < -1.5 && a > -2.5, "A {a}");
    }

    /// Probabilities sum to 1 and follow the decision values; one-vs-rest for three classes;
    /// a seed gives the same model on 1 and 2 threads.
    #[test]
    fn fits_are_deterministic_and_probabilities_consistent() {
        let (x, y2, y3) = points();
        let rows: Vec<usize> = (0..x.nrows()).collect();
        for (classes, y) in [(2, &y2), (3, &y3)] {
            let fit = |threads| {
                crate::analytics::on_threads(threads, || {
                    fit_svm(
                        x.view(),
                        y,
                        classes,
                        &rows,
                        &SvmParams::default(),
                        &Progress::new(),
                    )
                    .unwrap()
                })
            };
            let m = fit(1);
            assert_eq!(m, fit(2));
            assert_eq!(m.weights.len(), if classes == 2 { 1 } else { 3 });
            let mut right = 0;
            for (i, r) in x.outer_iter().enumerate() {
                let p = m.predict_proba(r.as_slice().unwrap());
                assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
                let call = (0..classes).fold(0, |b, c| if p[c] > p[b] { c } else { b });
                right += usize::from(call == y[i]);
            }
            assert!(right as f64 / x.nrows() as f64 > 0.7, "{classes}: {right}");
        }
        let bad = SvmParams {
            c: 0.0,
            ..SvmParams::default()
        };
        assert!(fit_svm(x.view(), &y2, 2, &rows, &bad, &Progress::new()).is_err());
    }
}

#[cfg(test)]
mod timing {
    use super::*;

    /// Not a test of behaviour: `cargo test --release --lib -- --ignored svm_speed
    /// --nocapture` times a linear SVM (with its Platt folds) on 1,000,000 x 10.
    #[test]
    #[ignore]
    fn svm_speed() {
        let (x, y) = crate::analytics::tree::speed_data();
        let rows: Vec<usize> = (0..y.len()).collect();
        let t0 = std::time::Instant::now();
        let m = fit_svm(
            x.view(),
            &y,
            2,
            &rows,
            &SvmParams::default(),
            &Progress::new(),
        )
        .unwrap();
        println!(
            "linear SVM on {} rows: {:?} ({} passes)",
            rows.len(),
            t0.elapsed(),
            m.iterations[0]
        );
    }
}
