//! Logistic regression through linfa-logistic (L-BFGS with an L2 penalty `alpha`): binomial
//! for two classes, multinomial for more (linfa's binomial model reports the probability of
//! the more frequent training class; it is mapped back to class order here). The fitted
//! coefficients are kept as plain numbers and the probabilities computed from them here
//! (the same arithmetic as linfa's, a row at a time), so a saved model scores exactly as the
//! fit did. Probabilities
//! for every class, and importance as
//! the absolute coefficients (the features are already scaled, so these are standardised
//! coefficients), normalised to sum to 1.

use linfa::DatasetBase;
use linfa::traits::Fit;
use linfa_logistic::{LogisticRegression, MultiLogisticRegression};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::error::AnalyticsError;

#[derive(Debug, Clone, PartialEq)]
pub struct LogisticParams {
    /// L2 regularisation strength (larger: smaller coefficients).
    pub alpha: f64,
    pub max_iter: u64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        LogisticParams {
            alpha: 1.0,
            max_iter: 200,
        }
    }
}

/// A fitted logistic regression, as plain coefficients (what a saved model keeps). The fit is
/// linfa's; the probabilities are computed here, one row at a time, so that a row's
/// probabilities do not depend on the rows scored with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logistic {
    pub classes: usize,
    /// Rows of coefficients, one coefficient per feature, with their intercepts. Two
    /// classes: one row, the log-odds of class `row_class[0]` (linfa's positive class, the
    /// more frequent one in the training rows). More: one row per class seen in training
    /// (softmax), of class `row_class[j]`; a class never seen has probability 0.
    pub coefficients: Vec<Vec<f64>>,
    pub intercepts: Vec<f64>,
    pub row_class: Vec<usize>,
    pub importance: Vec<f64>,
    /// The power of two the features were multiplied by for the fit (0: none); see
    /// [`LARGE`].
    pub input_scale: i32,
}

/// Features beyond this magnitude are fitted times a power of two that brings them near 1,
/// with `alpha` times its square (the same optimum: `w . x` is unchanged and the intercept
/// is not penalised). Unscaled, values from about 1e60 gave a constant model, and values
/// near 1e308 made the solver's line search loop forever on non-finite numbers.
const LARGE: f64 = 1e15;

impl Logistic {
    /// Class probabilities, one row per row of `x` and one column per class.
    pub fn predict_proba(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mut out = Array2::zeros((x.nrows(), self.classes));
        let e = self.input_scale;
        let mut row = vec![0.0; x.ncols()];
        let mut z = vec![0.0; self.coefficients.len()];
        for (i, r) in x.outer_iter().enumerate() {
            for (a, v) in row.iter_mut().zip(r) {
                *a = if e != 0 { libm::scalbn(*v, e) } else { *v };
            }
            for ((zc, w), b) in z.iter_mut().zip(&self.coefficients).zip(&self.intercepts) {
                *zc = row.iter().zip(w).map(|(a, c)| a * c).sum::<f64>() + b;
            }
            if self.classes == 2 {
                let pos = self.row_class[0];
                let p = 1.0 / (1.0 + (-z[0]).exp());
                out[[i, pos]] = p;
                out[[i, 1 - pos]] = 1.0 - p;
            } else {
                let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let ex: Vec<f64> = z.iter().map(|v| (v - max).exp()).collect();
                let sum: f64 = ex.iter().sum();
                for (&c, v) in self.row_class.iter().zip(&ex) {
                    out[[i, c]] = v / sum;
                }
            }
        }
        out
    }
}

fn normalised(v: Vec<f64>) -> Vec<f64> {
    let total: f64 = v.iter().sum();
    if total > 0.0 {
        v.into_iter().map(|x| x / total).collect()
    } else {
        v
    }
}

/// An error unless every fitted coefficient is a finite number.
fn finite<'a>(mut values: impl Iterator<Item = &'a f64>) -> Result<(), AnalyticsError> {
    if values.all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(AnalyticsError::Input(
            "logistic regression: the fit gave non-finite coefficients; scale the features (e.g. standard scaling)".into(),
        ))
    }
}

/// Fits on `rows` of `x` with classes `y` (0..classes; every class must occur).
pub fn fit_logistic(
    x: ArrayView2<f64>,
    y: &[usize],
    classes: usize,
    rows: &[usize],
    p: &LogisticParams,
) -> Result<Logistic, AnalyticsError> {
    if !(p.alpha >= 0.0 && p.alpha.is_finite()) {
        return Err(AnalyticsError::Input(format!(
            "regularisation {}: it must be a number >= 0",
            p.alpha
        )));
    }
    if p.max_iter == 0 || p.max_iter > 100_000 {
        return Err(AnalyticsError::Input(format!(
            "logistic regression max_iter {}: use 1 to 100000",
            p.max_iter
        )));
    }
    let mut records = x.select(Axis(0), rows);
    if let Some(bad) = records.iter().find(|v| !v.is_finite()) {
        return Err(AnalyticsError::Input(format!(
            "logistic regression: the features hold a non-finite value ({bad}); fill or drop it first"
        )));
    }
    let max = records.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let (input_scale, alpha) = if max > LARGE {
        let e = -libm::ilogb(max);
        records.mapv_inplace(|v| libm::scalbn(v, e));
        (e, libm::scalbn(p.alpha, 2 * e))
    } else {
        (0, p.alpha)
    };
    let targets: Array1<usize> = rows.iter().map(|&r| y[r]).collect();
    let present = {
        let mut seen = vec![false; classes];
        targets.iter().for_each(|&c| seen[c] = true);
        seen.iter().filter(|s| **s).count()
    };
    if present < 2 {
        return Err(AnalyticsError::Input(
            "the training rows hold a single class; nothing to learn".into(),
        ));
    }
    let failed = |e: linfa_logistic::error::Error| {
        AnalyticsError::Input(format!("logistic regression did not fit: {e}"))
    };
    let d = records.ncols();
    let data = DatasetBase::new(records, targets);
    if classes == 2 {
        let m = LogisticRegression::default()
            .alpha(alpha)
            .max_iterations(p.max_iter)
            .fit(&data)
            .map_err(failed)?;
        finite(m.params().iter().chain([&m.intercept()]))?;
        let importance = normalised(m.params().iter().map(|c| c.abs()).collect());
        Ok(Logistic {
            classes,
            coefficients: vec![m.params().to_vec()],
            intercepts: vec![m.intercept()],
            row_class: vec![m.labels().pos.class],
            importance,
            input_scale,
        })
    } else {
        let m = MultiLogisticRegression::default()
            .alpha(alpha)
            .max_iterations(p.max_iter)
            .fit(&data)
            .map_err(failed)?;
        finite(m.params().iter().chain(m.intercept().iter()))?;
        // Per feature: the largest absolute coefficient over the classes.
        let params = m.params();
        let importance = normalised(
            (0..d)
                .map(|f| params.row(f).iter().fold(0.0f64, |a, c| a.max(c.abs())))
                .collect(),
        );
        Ok(Logistic {
            classes,
            coefficients: params.columns().into_iter().map(|c| c.to_vec()).collect(),
            intercepts: m.intercept().to_vec(),
            row_class: m.classes().to_vec(),
            importance,
            input_scale,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::evaluation::roc_auc;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn a_linear_boundary_gives_near_perfect_auc() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let n = 1000;
        let x = Array2::from_shape_fn((n, 3), |_| rng.gen_range(-2.0..2.0));
        // Class 1 above the plane 2 x0 - x1 = 0.3; x2 is noise.
        let y: Vec<usize> = (0..n)
            .map(|i| usize::from(2.0 * x[[i, 0]] - x[[i, 1]] > 0.3))
            .collect();
        let train: Vec<usize> = (0..700).collect();
        let m = fit_logistic(
            x.view(),
            &y,
            2,
            &train,
            &LogisticParams {
                alpha: 0.01,
                max_iter: 300,
            },
        )
        .unwrap();
        let test: Vec<usize> = (700..n).collect();
        let proba = m.predict_proba(x.select(Axis(0), &test).view());
        let pos: Vec<bool> = test.iter().map(|&i| y[i] == 1).collect();
        let score: Vec<f64> = proba.column(1).to_vec();
        let auc = roc_auc(&pos, &score).unwrap();
        assert!(auc > 0.99, "AUC {auc}");
        for row in proba.rows() {
            assert!((row.sum() - 1.0).abs() < 1e-12);
        }
        // x0 and x1 carry the signal, x2 none.
        assert!(m.importance[2] < 0.1, "{:?}", m.importance);
        assert!(m.importance[0] > m.importance[1]);
    }

    #[test]
    fn three_classes_and_bad_inputs() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 600;
        let x = Array2::from_shape_fn((n, 2), |_| rng.gen_range(-3.0..3.0));
        let y: Vec<usize> = (0..n)
            .map(|i| {
                if x[[i, 0]] < -1.0 {
                    0
                } else if x[[i, 0]] < 1.0 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let rows: Vec<usize> = (0..n).collect();
        let m = fit_logistic(
            x.view(),
            &y,
            3,
            &rows,
            &LogisticParams {
                alpha: 0.01,
                max_iter: 300,
            },
        )
        .unwrap();
        let proba = m.predict_proba(x.view());
        let right = (0..n)
            .filter(|&i| {
                let r = proba.row(i);
                let best = (0..3).max_by(|&a, &b| r[a].total_cmp(&r[b])).unwrap();
                best == y[i]
            })
            .count();
        assert!(right as f64 / n as f64 > 0.9, "{right}");
        let one_class = vec![1usize; n];
        assert!(fit_logistic(x.view(), &one_class, 2, &rows, &LogisticParams::default()).is_err());
        let bad = LogisticParams {
            alpha: -1.0,
            ..LogisticParams::default()
        };
        assert!(fit_logistic(x.view(), &y, 3, &rows, &bad).is_err());
    }

    /// Unscaled values near 1e308 made linfa's line search loop forever (values from about
    /// 1e60 gave a constant model). Fitted times a power of two with alpha times its square,
    /// they give the model of the same data at scale 1 with alpha 0 (the penalty on
    /// coefficients near 1e-300 is nil), and the fit returns.
    #[test]
    fn huge_values_fit_as_their_scaled_copies_and_return() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let n = 400;
        let x = Array2::from_shape_fn((n, 2), |_| rng.gen_range(-2.0..2.0));
        let y: Vec<usize> = (0..n)
            .map(|i| usize::from(x[[i, 0]] + 0.5 * x[[i, 1]] + rng.gen_range(-1.0..1.0) > 0.0))
            .collect();
        let rows: Vec<usize> = (0..n).collect();
        let plain = LogisticParams {
            alpha: 0.0,
            max_iter: 200,
        };
        let one = fit_logistic(x.view(), &y, 2, &rows, &plain).unwrap();
        let want = one.predict_proba(x.view());
        let (tx, rx) = std::sync::mpsc::channel();
        let (x2, y2) = (x.clone(), y.clone());
        std::thread::spawn(move || {
            let out: Vec<Result<Array2<f64>, String>> = [1e300, 4e307]
                .into_iter()
                .map(|scale| {
                    let big = x2.mapv(|v| v * scale);
                    fit_logistic(big.view(), &y2, 2, &rows, &LogisticParams::default())
                        .map(|m| m.predict_proba(big.view()))
                        .map_err(|e| e.to_string())
                })
                .collect();
            let _ = tx.send(out);
        });
        // A guard against the old endless loop, not a timing test.
        let got = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("the fit returns");
        for p in got {
            let p = p.unwrap();
            let worst = p
                .iter()
                .zip(want.iter())
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f64, f64::max);
            assert!(worst < 1e-3, "probabilities differ by {worst}");
        }
    }

    #[test]
    fn non_finite_values_and_unbounded_iterations_are_refused() {
        let x = ndarray::array![[1.0], [f64::INFINITY], [2.0], [0.0]];
        let y = vec![0, 1, 1, 0];
        let rows: Vec<usize> = (0..4).collect();
        let e = fit_logistic(x.view(), &y, 2, &rows, &LogisticParams::default()).unwrap_err();
        assert!(e.to_string().contains("non-finite"), "{e}");
        let x = ndarray::array![[1.0], [3.0], [2.0], [0.0]];
        let p = LogisticParams {
            max_iter: 0,
            ..LogisticParams::default()
        };
        assert!(fit_logistic(x.view(), &y, 2, &rows, &p).is_err());
    }
}
