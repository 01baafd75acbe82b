//! Gaussian mixture models fitted by expectation-maximisation, with scikit-learn's
//! `GaussianMixture` conventions: full, tied, diagonal or spherical covariances;
//! `reg_covar` added to every variance; initial responsibilities from one K-Means run per
//! restart; convergence when the mean log-likelihood per row changes by less than `tol`;
//! the restart with the highest log-likelihood wins. BIC = -2 ln L + p ln n and
//! AIC = -2 ln L + 2p, with p counted as scikit-learn counts free parameters.
//!
//! Why not linfa-clustering's `GaussianMixtureModel` (0.8.1), the stack's first choice: it
//! fits full covariances only; it has no progress or cancel hook, so a long fit cannot be
//! stopped within 200 ms; its `n_runs` restarts continue from the previous run's parameters
//! instead of starting afresh; its E-step computes ln(sum(exp(.))) directly, so a row far
//! from every component underflows to ln(0) = -inf and the fit turns to NaN; and it copies
//! the whole matrix once per component per iteration. The tests check this implementation
//! against linfa on data where linfa is sound, and against scikit-learn's figures.
//!
//! Rows are processed in fixed-size blocks on rayon and block sums are added in block order,
//! so the same seed gives the same result on any number of threads.

use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::Serialize;

use super::error::AnalyticsError;
use super::kmeans::{KMeansParams, kmeans};
use crate::progress::Progress;

/// Rows per block: the unit of parallel work and of deterministic summation.
const BLOCK: usize = 4096;

/// How the components' covariance matrices are shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CovarianceType {
    /// Each component has its own general covariance matrix.
    #[default]
    Full,
    /// All components share one general covariance matrix.
    Tied,
    /// Each component has its own diagonal covariance matrix.
    Diag,
    /// Each component has its own single variance.
    Spherical,
}

crate::choice!(CovarianceType {
    Full => "full",
    Tied => "tied",
    Diag => "diag",
    Spherical => "spherical",
});

impl CovarianceType {
    /// Free parameters of a mixture of `k` components in `d` dimensions (scikit-learn's
    /// `_n_parameters`): covariances, means and the k - 1 free weights.
    pub fn n_parameters(self, k: usize, d: usize) -> usize {
        let cov = match self {
            CovarianceType::Full => k * d * (d + 1) / 2,
            CovarianceType::Tied => d * (d + 1) / 2,
            CovarianceType::Diag => k * d,
            CovarianceType::Spherical => k,
        };
        cov + k * d + k - 1
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GmmParams {
    pub k: usize,
    pub covariance: CovarianceType,
    /// Restarts, each from its own K-Means initialisation (scikit-learn's default is 1).
    pub n_init: usize,
    pub max_iter: usize,
    /// Convergence threshold on the change of the mean log-likelihood per row.
    pub tol: f64,
    /// Added to the diagonal of every covariance, keeping it positive definite.
    pub reg_covar: f64,
    pub seed: u64,
}

impl GmmParams {
    /// scikit-learn's defaults: full covariances, one restart, 100 iterations, tol 1e-3,
    /// reg_covar 1e-6.
    pub fn new(k: usize) -> GmmParams {
        GmmParams {
            k,
            covariance: CovarianceType::Full,
            n_init: 1,
            max_iter: 100,
            tol: 1e-3,
            reg_covar: 1e-6,
            seed: 42,
        }
    }
}

/// The best restart's mixture.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GmmResult {
    pub k: usize,
    pub covariance: CovarianceType,
    /// The most probable component of each row.
    pub labels: Vec<usize>,
    /// Rows per component (by the most probable component), by label.
    pub sizes: Vec<usize>,
    /// Mixing weights, summing to 1.
    pub weights: Vec<f64>,
    /// Component means in the (scaled) space the model ran in.
    pub means: Vec<Vec<f64>>,
    /// Each component's covariance as a d x d matrix (tied: the same matrix for all;
    /// diag and spherical: zero off the diagonal).
    pub covariances: Vec<Vec<Vec<f64>>>,
    /// Total log-likelihood of the rows under the fitted mixture.
    pub log_likelihood: f64,
    /// `log_likelihood / n` (scikit-learn's `score`).
    pub mean_log_likelihood: f64,
    pub bic: f64,
    pub aic: f64,
    pub n_parameters: usize,
    /// EM iterations of the best restart.
    pub iterations: usize,
    pub converged: bool,
    pub best_restart: usize,
    /// Every restart's final mean log-likelihood per row.
    pub restart_scores: Vec<f64>,
}

impl GmmResult {
    /// The most probable component of each row of `x` under this mixture, computed as the
    /// fit's final E-step computes its labels (so the fitted rows get their labels back).
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Vec<usize>, AnalyticsError> {
        let (k, d) = (self.k, self.means.first().map_or(0, Vec::len));
        if x.ncols() != d {
            return Err(AnalyticsError::Input(format!(
                "the mixture has {d} features, the rows {}",
                x.ncols()
            )));
        }
        let flat_matrix = |m: &Vec<Vec<f64>>| -> Vec<f64> { m.iter().flatten().copied().collect() };
        let covs: Vec<Vec<f64>> = if self.covariance == CovarianceType::Tied {
            self.covariances.iter().take(1).map(flat_matrix).collect()
        } else {
            self.covariances.iter().map(flat_matrix).collect()
        };
        let (prec_chol, log_det) = precisions(&covs, d)?;
        let mix = Mixture {
            k,
            d,
            weights: self.weights.clone(),
            means: self.means.iter().flatten().copied().collect(),
            covs,
            prec_chol,
            log_det,
            diagonal: matches!(
                self.covariance,
                CovarianceType::Diag | CovarianceType::Spherical
            ),
        };
        let flat: Vec<f64> = x.iter().copied().collect();
        let mut resp = vec![0.0; x.nrows() * k];
        e_step(&flat, &mix, &mut resp, &Progress::new())?;
        Ok(resp.chunks_exact(k).map(most_probable).collect())
    }
}

/// The component of the highest responsibility (the first of equals).
fn most_probable(r: &[f64]) -> usize {
    let mut best = 0;
    for c in 1..r.len() {
        if r[c] > r[best] {
            best = c;
        }
    }
    best
}

/// A mixture's parameters in the form the E-step uses.
#[derive(Debug, Clone)]
struct Mixture {
    k: usize,
    d: usize,
    weights: Vec<f64>,
    /// k x d, row-major.
    means: Vec<f64>,
    /// One d x d row-major matrix per component (one in all for tied).
    covs: Vec<Vec<f64>>,
    /// Upper-triangular P with P P^T = covariance^-1, per matrix in `covs`.
    prec_chol: Vec<Vec<f64>>,
    /// ln det P per matrix (half the log-determinant of the precision).
    log_det: Vec<f64>,
    diagonal: bool,
}

impl Mixture {
    fn matrix(&self, c: usize) -> usize {
        if self.covs.len() == 1 { 0 } else { c }
    }

    /// ln(w_c N(x | mu_c, Sigma_c)) for every component into `out`.
    fn weighted_log_prob(&self, x: &[f64], diff: &mut [f64], out: &mut [f64]) {
        let d = self.d;
        let ln2pi = d as f64 * (2.0 * std::f64::consts::PI).ln();
        for (c, slot) in out.iter_mut().enumerate().take(self.k) {
            let mu = &self.means[c * d..(c + 1) * d];
            for j in 0..d {
                diff[j] = x[j] - mu[j];
            }
            let m = self.matrix(c);
            let p = &self.prec_chol[m];
            let mut maha = 0.0;
            if self.diagonal {
                for j in 0..d {
                    let y = diff[j] * p[j * d + j];
                    maha += y * y;
                }
            } else {
                for j in 0..d {
                    let mut y = 0.0;
                    for i in 0..=j {
                        y += diff[i] * p[i * d + j];
                    }
                    maha += y * y;
                }
            }
            *slot = -0.5 * (ln2pi + maha) + self.log_det[m] + self.weights[c].ln();
        }
    }
}

/// ln(sum(exp(v))) without overflow or underflow.
fn log_sum_exp(v: &[f64]) -> f64 {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + v.iter().map(|x| (x - max).exp()).sum::<f64>().ln()
}

/// Lower Cholesky factor of a symmetric d x d matrix, or None if it is not positive definite.
fn cholesky(a: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = a[i * d + j];
            for t in 0..j {
                s -= l[i * d + t] * l[j * d + t];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * d + i] = s.sqrt();
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    }
    Some(l)
}

/// P = (L^-1)^T for the covariance's Cholesky factor L, and ln det P.
fn precision_cholesky(cov: &[f64], d: usize) -> Option<(Vec<f64>, f64)> {
    let l = cholesky(cov, d)?;
    // Inverse of the lower-triangular L by forward substitution, column by column.
    let mut inv = vec![0.0; d * d];
    for col in 0..d {
        for i in col..d {
            let mut s = if i == col { 1.0 } else { 0.0 };
            for t in col..i {
                s -= l[i * d + t] * inv[t * d + col];
            }
            inv[i * d + col] = s / l[i * d + i];
        }
    }
    let mut p = vec![0.0; d * d];
    let mut log_det = 0.0;
    for i in 0..d {
        for j in 0..d {
            p[i * d + j] = inv[j * d + i];
        }
        log_det += p[i * d + i].ln();
    }
    Some((p, log_det))
}

/// Each covariance's precision Cholesky factor and its log-determinant.
#[allow(clippy::type_complexity)]
fn precisions(covs: &[Vec<f64>], d: usize) -> Result<(Vec<Vec<f64>>, Vec<f64>), AnalyticsError> {
    let mut prec_chol = Vec::with_capacity(covs.len());
    let mut log_det = Vec::with_capacity(covs.len());
    for (c, cov) in covs.iter().enumerate() {
        let (p, ld) = precision_cholesky(cov, d).ok_or_else(|| singular(c))?;
        prec_chol.push(p);
        log_det.push(ld);
    }
    Ok((prec_chol, log_det))
}

fn singular(c: usize) -> AnalyticsError {
    AnalyticsError::Input(format!(
        "Gaussian mixture: component {c} has a singular covariance (too few distinct rows in \
         it); lower k, or choose the diag or spherical covariance type"
    ))
}

/// The M-step: weights, means and covariances from responsibilities (n x k, row-major).
fn m_step(
    x: &[f64],
    d: usize,
    resp: &[f64],
    k: usize,
    cov_type: CovarianceType,
    reg: f64,
    progress: &Progress,
) -> Result<Mixture, AnalyticsError> {
    let n = x.len() / d;
    // Pass 1: nk and sum of resp * x, by block, added in block order.
    let partial: Vec<(Vec<f64>, Vec<f64>)> = x
        .par_chunks(BLOCK * d)
        .zip(resp.par_chunks(BLOCK * k))
        .map(|(xb, rb)| {
            let mut nk = vec![0.0; k];
            let mut sx = vec![0.0; k * d];
            if progress.is_cancelled() {
                return (nk, sx);
            }
            for (row, r) in xb.chunks_exact(d).zip(rb.chunks_exact(k)) {
                for c in 0..k {
                    let w = r[c];
                    nk[c] += w;
                    let s = &mut sx[c * d..(c + 1) * d];
                    for j in 0..d {
                        s[j] += w * row[j];
                    }
                }
            }
            (nk, sx)
        })
        .collect();
    progress.check().map_err(|_| AnalyticsError::Cancelled)?;
    let mut nk = vec![10.0 * f64::EPSILON; k];
    let mut means = vec![0.0; k * d];
    for (bn, bs) in &partial {
        for c in 0..k {
            nk[c] += bn[c];
        }
        for (m, s) in means.iter_mut().zip(bs) {
            *m += s;
        }
    }
    for c in 0..k {
        for j in 0..d {
            means[c * d + j] /= nk[c];
        }
    }
    // Pass 2: weighted scatter around each component's mean.
    let diagonal = matches!(cov_type, CovarianceType::Diag | CovarianceType::Spherical);
    let width = if diagonal { d } else { d * d };
    let means_ref = &means;
    let scatter: Vec<Vec<f64>> = x
        .par_chunks(BLOCK * d)
        .zip(resp.par_chunks(BLOCK * k))
        .map(|(xb, rb)| {
            let mut s = vec![0.0; k * width];
            if progress.is_cancelled() {
                return s;
            }
            let mut diff = vec![0.0; d];
            for (row, r) in xb.chunks_exact(d).zip(rb.chunks_exact(k)) {
                for c in 0..k {
                    let w = r[c];
                    if w == 0.0 {
                        continue;
                    }
                    let mu = &means_ref[c * d..(c + 1) * d];
                    for j in 0..d {
                        diff[j] = row[j] - mu[j];
                    }
                    let sc = &mut s[c * width..(c + 1) * width];
                    if diagonal {
                        for j in 0..d {
                            sc[j] += w * diff[j] * diff[j];
                        }
                    } else {
                        for i in 0..d {
                            let wi = w * diff[i];
                            for j in 0..=i {
                                sc[i * d + j] += wi * diff[j];
                            }
                        }
                    }
                }
            }
            s
        })
        .collect();
    progress.check().map_err(|_| AnalyticsError::Cancelled)?;
    let mut total = vec![0.0; k * width];
    for b in &scatter {
        for (t, v) in total.iter_mut().zip(b) {
            *t += v;
        }
    }
    let full_matrix = |s: &[f64], denom: f64| -> Vec<f64> {
        let mut m = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..=i {
                let v = s[i * d + j] / denom;
                m[i * d + j] = v;
                m[j * d + i] = v;
            }
            m[i * d + i] += reg;
        }
        m
    };
    let covs: Vec<Vec<f64>> = match cov_type {
        CovarianceType::Full => (0..k)
            .map(|c| full_matrix(&total[c * width..(c + 1) * width], nk[c]))
            .collect(),
        CovarianceType::Tied => {
            let mut sum = vec![0.0; d * d];
            for c in 0..k {
                for (s, v) in sum.iter_mut().zip(&total[c * width..(c + 1) * width]) {
                    *s += v;
                }
            }
            vec![full_matrix(&sum, nk.iter().sum())]
        }
        CovarianceType::Diag | CovarianceType::Spherical => (0..k)
            .map(|c| {
                let var: Vec<f64> = (0..d).map(|j| total[c * width + j] / nk[c] + reg).collect();
                let mut m = vec![0.0; d * d];
                if cov_type == CovarianceType::Spherical {
                    let mean = var.iter().sum::<f64>() / d as f64;
                    for j in 0..d {
                        m[j * d + j] = mean;
                    }
                } else {
                    for j in 0..d {
                        m[j * d + j] = var[j];
                    }
                }
                m
            })
            .collect(),
    };
    let (prec_chol, log_det) = precisions(&covs, d)?;
    let weights = nk.iter().map(|v| v / n as f64).collect();
    Ok(Mixture {
        k,
        d,
        weights,
        means,
        covs,
        prec_chol,
        log_det,
        diagonal,
    })
}

/// The E-step: responsibilities into `resp` (n x k) and the mean log-likelihood per row.
fn e_step(
    x: &[f64],
    mix: &Mixture,
    resp: &mut [f64],
    progress: &Progress,
) -> Result<f64, AnalyticsError> {
    let (d, k) = (mix.d, mix.k);
    let n = x.len() / d;
    let sums: Vec<f64> = x
        .par_chunks(BLOCK * d)
        .zip(resp.par_chunks_mut(BLOCK * k))
        .map(|(xb, rb)| {
            if progress.is_cancelled() {
                return 0.0;
            }
            let mut diff = vec![0.0; d];
            let mut total = 0.0;
            for (row, r) in xb.chunks_exact(d).zip(rb.chunks_exact_mut(k)) {
                mix.weighted_log_prob(row, &mut diff, r);
                let lse = log_sum_exp(r);
                total += lse;
                for v in r.iter_mut() {
                    *v = (*v - lse).exp();
                }
            }
            total
        })
        .collect();
    progress.check().map_err(|_| AnalyticsError::Cancelled)?;
    Ok(sums.iter().sum::<f64>() / n as f64)
}

/// Values a mixture can be fitted on: squares summed over the rows (the covariances) stay
/// finite, and (for more than one component) some feature varies by more than a millionth
/// of `reg_covar` (added to every variance: below that every component is the same blob and
/// every row lands in one cluster, as denormal inputs did).
fn check_spread(x: ArrayView2<f64>, reg_covar: f64, k: usize) -> Result<(), AnalyticsError> {
    const LARGEST: f64 = 1e150;
    let max = x.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    if max > LARGEST {
        return Err(AnalyticsError::Input(format!(
            "Gaussian mixture: the feature values reach {max:e}, so their covariances are \
             beyond the floating-point range; scale the features (e.g. standard scaling)"
        )));
    }
    // Variances of the values times a power of two near 1 (exact), scaled back.
    let e = super::kmeans::internal_scale(x).unwrap_or(0);
    let n = x.nrows() as f64;
    let largest_variance = x
        .columns()
        .into_iter()
        .map(|c| {
            let mean = c.iter().map(|v| libm::scalbn(*v, e)).sum::<f64>() / n;
            let var = c
                .iter()
                .map(|v| (libm::scalbn(*v, e) - mean).powi(2))
                .sum::<f64>()
                / n;
            libm::scalbn(var, -2 * e)
        })
        .fold(0.0f64, f64::max);
    if k > 1 && reg_covar > 0.0 && largest_variance < reg_covar * 1e-6 {
        return Err(AnalyticsError::Input(format!(
            "Gaussian mixture: the features vary too little (largest variance {largest_variance:e}) \
             next to the {reg_covar:e} added to every variance, so the components cannot be \
             told apart; scale the features (e.g. standard scaling)"
        )));
    }
    Ok(())
}

/// Fits a Gaussian mixture to `x` (rows are customers, already scaled).
pub fn gmm(
    x: ArrayView2<f64>,
    p: &GmmParams,
    progress: &Progress,
) -> Result<GmmResult, AnalyticsError> {
    super::kmeans::check_input(x, p.k)?;
    let (n, d) = x.dim();
    if !(p.reg_covar >= 0.0 && p.reg_covar.is_finite() && p.tol > 0.0 && p.tol.is_finite()) {
        return Err(AnalyticsError::Input(
            "Gaussian mixture: reg_covar must be >= 0 and tol > 0".into(),
        ));
    }
    super::limits::N_INIT.named("Gaussian mixture n_init", p.n_init)?;
    super::limits::MAX_ITER.named("Gaussian mixture max_iter", p.max_iter)?;
    check_spread(x, p.reg_covar, p.k)?;
    let flat: Vec<f64> = x.iter().copied().collect();
    let (k, n_init, max_iter) = (p.k, p.n_init, p.max_iter);
    let mut resp = vec![0.0; n * k];
    let mut best: Option<(usize, Mixture, usize, bool, f64)> = None;
    let mut scores = Vec::with_capacity(n_init);
    for r in 0..n_init {
        progress.check().map_err(|_| AnalyticsError::Cancelled)?;
        // Initial responsibilities: one K-Means run (k-means++), as scikit-learn does.
        let km = kmeans(
            x,
            &KMeansParams {
                k,
                n_init: 1,
                max_iter: 300,
                tol: 1e-4,
                seed: p.seed.wrapping_add(r as u64),
            },
            progress,
        )?;
        progress.start(&format!("gmm restart {}/{n_init}", r + 1), max_iter as u64);
        resp.iter_mut().for_each(|v| *v = 0.0);
        for (i, &l) in km.labels.iter().enumerate() {
            resp[i * k + l] = 1.0;
        }
        let mut mix = m_step(&flat, d, &resp, k, p.covariance, p.reg_covar, progress)?;
        let mut lower = f64::NEG_INFINITY;
        let mut converged = false;
        let mut iterations = 0;
        for it in 1..=max_iter {
            progress.check().map_err(|_| AnalyticsError::Cancelled)?;
            progress.label(&format!("gmm restart {}/{n_init}, iteration {it}", r + 1));
            let prev = lower;
            lower = e_step(&flat, &mix, &mut resp, progress)?;
            if !lower.is_finite() {
                return Err(AnalyticsError::Input(format!(
                    "Gaussian mixture: the log-likelihood is not a finite number at iteration \
                     {it}; scale the features (e.g. standard scaling)"
                )));
            }
            mix = m_step(&flat, d, &resp, k, p.covariance, p.reg_covar, progress)?;
            iterations = it;
            progress.set(it as u64);
            if (lower - prev).abs() < p.tol {
                converged = true;
                break;
            }
        }
        scores.push(lower);
        if best.as_ref().is_none_or(|b| lower > b.4) {
            best = Some((r, mix, iterations, converged, lower));
        }
    }
    let (best_restart, mix, iterations, converged, _) = best.expect("n_init >= 1");
    // Final E-step with the chosen parameters: labels and the log-likelihood they give.
    let mean_ll = e_step(&flat, &mix, &mut resp, progress)?;
    let labels: Vec<usize> = resp.chunks_exact(k).map(most_probable).collect();
    let mut sizes = vec![0usize; k];
    for &l in &labels {
        sizes[l] += 1;
    }
    let log_likelihood = mean_ll * n as f64;
    let n_parameters = p.covariance.n_parameters(k, d);
    let covariances = (0..k)
        .map(|c| {
            mix.covs[mix.matrix(c)]
                .chunks_exact(d)
                .map(|r| r.to_vec())
                .collect()
        })
        .collect();
    Ok(GmmResult {
        k,
        covariance: p.covariance,
        labels,
        sizes,
        weights: mix.weights.clone(),
        means: mix.means.chunks_exact(d).map(|r| r.to_vec()).collect(),
        covariances,
        log_likelihood,
        mean_log_likelihood: mean_ll,
        bic: -2.0 * log_likelihood + n_parameters as f64 * (n as f64).ln(),
        aic: -2.0 * log_likelihood + 2.0 * n_parameters as f64,
        n_parameters,
        iterations,
        converged,
        best_restart,
        restart_scores: scores,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::metrics::adjusted_rand_index;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Three Gaussian blobs in 2-D with different shapes; returns data and true labels.
    fn blobs(n_per: usize, spread: f64, seed: u64) -> (Array2<f64>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let centres = [(0.0, 0.0), (12.0, 0.0), (0.0, 12.0)];
        let scales = [(1.0, 1.0), (2.0, 0.5), (0.7, 1.5)];
        let mut v = Vec::new();
        let mut truth = Vec::new();
        for (c, ((cx, cy), (sx, sy))) in centres.iter().zip(scales).enumerate() {
            for _ in 0..n_per {
                // Box-Muller from the seeded generator.
                let (u1, u2): (f64, f64) = (rng.r#gen::<f64>().max(1e-12), rng.r#gen());
                let r = (-2.0 * u1.ln()).sqrt();
                let (z1, z2) = (
                    r * (2.0 * std::f64::consts::PI * u2).cos(),
                    r * (2.0 * std::f64::consts::PI * u2).sin(),
                );
                v.push(cx + spread * sx * z1);
                v.push(cy + spread * sy * z2);
                truth.push(c);
            }
        }
        (Array2::from_shape_vec((truth.len(), 2), v).unwrap(), truth)
    }

    /// ln N(x | mu, Sigma) for 2-D, from the closed-form inverse and determinant.
    fn log_pdf_2d(x: [f64; 2], mu: [f64; 2], s: [[f64; 2]; 2]) -> f64 {
        let det = s[0][0] * s[1][1] - s[0][1] * s[1][0];
        let inv = [
            [s[1][1] / det, -s[0][1] / det],
            [-s[1][0] / det, s[0][0] / det],
        ];
        let dx = [x[0] - mu[0], x[1] - mu[1]];
        let q = dx[0] * (inv[0][0] * dx[0] + inv[0][1] * dx[1])
            + dx[1] * (inv[1][0] * dx[0] + inv[1][1] * dx[1]);
        -0.5 * (2.0 * (2.0 * std::f64::consts::PI).ln() + det.ln() + q)
    }

    #[test]
    fn one_component_is_the_sample_mean_and_covariance() {
        let x = ndarray::array![[1.0, 2.0], [3.0, 1.0], [0.0, 0.0], [4.0, 5.0], [2.0, 2.0]];
        let r = gmm(x.view(), &GmmParams::new(1), &Progress::new()).unwrap();
        // Mean (2, 2); biased covariance by hand: sxx = 10/5, syy = 14/5, sxy = 9/5.
        assert!((r.means[0][0] - 2.0).abs() < 1e-12 && (r.means[0][1] - 2.0).abs() < 1e-12);
        let c = &r.covariances[0];
        assert!((c[0][0] - (2.0 + 1e-6)).abs() < 1e-12);
        assert!((c[1][1] - (2.8 + 1e-6)).abs() < 1e-12);
        assert!((c[0][1] - 1.8).abs() < 1e-12 && (c[1][0] - 1.8).abs() < 1e-12);
        let s = [[c[0][0], c[0][1]], [c[1][0], c[1][1]]];
        let ll: f64 = x
            .outer_iter()
            .map(|row| log_pdf_2d([row[0], row[1]], [2.0, 2.0], s))
            .sum();
        assert!(
            (r.log_likelihood - ll).abs() < 1e-9,
            "{} vs {ll}",
            r.log_likelihood
        );
        // p = 3 covariance + 2 mean + 0 weights; BIC = -2 ln L + p ln n.
        assert_eq!(r.n_parameters, 5);
        assert!((r.bic - (-2.0 * ll + 5.0 * 5f64.ln())).abs() < 1e-9);
        assert!((r.aic - (-2.0 * ll + 10.0)).abs() < 1e-9);
        assert!((r.weights[0] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn parameter_counts_match_scikit_learn() {
        // d = 3, k = 4: full 4*6 + 12 + 3, tied 6 + 15, diag 12 + 15, spherical 4 + 15.
        assert_eq!(CovarianceType::Full.n_parameters(4, 3), 39);
        assert_eq!(CovarianceType::Tied.n_parameters(4, 3), 21);
        assert_eq!(CovarianceType::Diag.n_parameters(4, 3), 27);
        assert_eq!(CovarianceType::Spherical.n_parameters(4, 3), 19);
    }

    #[test]
    fn separated_blobs_are_recovered_by_every_covariance_type() {
        let (x, truth) = blobs(150, 1.0, 3);
        for cov in CovarianceType::ALL {
            let p = GmmParams {
                covariance: cov,
                ..GmmParams::new(3)
            };
            let r = gmm(x.view(), &p, &Progress::new()).unwrap();
            assert_eq!(adjusted_rand_index(&r.labels, &truth), 1.0, "{cov:?}");
            assert!(r.converged, "{cov:?}");
            assert!((r.weights.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            let mut sizes = r.sizes.clone();
            sizes.sort();
            assert_eq!(sizes, vec![150, 150, 150]);
        }
    }

    #[test]
    fn log_likelihood_is_the_sum_of_mixture_densities() {
        // Brute force: ln sum_c w_c N(x | mu_c, Sigma_c), with the fitted parameters.
        let (x, _) = blobs(60, 2.5, 9);
        let r = gmm(x.view(), &GmmParams::new(3), &Progress::new()).unwrap();
        let ll: f64 = x
            .outer_iter()
            .map(|row| {
                (0..3)
                    .map(|c| {
                        let cv = &r.covariances[c];
                        r.weights[c]
                            * log_pdf_2d(
                                [row[0], row[1]],
                                [r.means[c][0], r.means[c][1]],
                                [[cv[0][0], cv[0][1]], [cv[1][0], cv[1][1]]],
                            )
                            .exp()
                    })
                    .sum::<f64>()
                    .ln()
            })
            .sum();
        assert!(
            (r.log_likelihood - ll).abs() < 1e-8 * ll.abs(),
            "{} {ll}",
            r.log_likelihood
        );
    }

    #[test]
    fn restarts_never_lower_the_likelihood() {
        let (x, _) = blobs(80, 3.0, 5);
        let one = gmm(x.view(), &GmmParams::new(4), &Progress::new()).unwrap();
        let many = gmm(
            x.view(),
            &GmmParams {
                n_init: 5,
                ..GmmParams::new(4)
            },
            &Progress::new(),
        )
        .unwrap();
        assert_eq!(many.restart_scores[0], one.restart_scores[0]);
        assert!(
            many.restart_scores
                .iter()
                .all(|s| *s <= many.restart_scores[many.best_restart])
        );
    }

    #[test]
    fn a_far_outlier_does_not_turn_the_fit_to_nan() {
        let (mut x, _) = blobs(50, 0.3, 2);
        x[[0, 0]] = 1e4;
        x[[0, 1]] = -1e4;
        let r = gmm(x.view(), &GmmParams::new(3), &Progress::new()).unwrap();
        assert!(r.log_likelihood.is_finite() && r.bic.is_finite());
        assert!(r.weights.iter().all(|w| w.is_finite()));
    }

    #[test]
    fn same_seed_same_result_on_any_thread_count() {
        let (x, _) = blobs(3000, 4.0, 11);
        let p = GmmParams {
            n_init: 2,
            covariance: CovarianceType::Full,
            ..GmmParams::new(5)
        };
        let run = |threads| {
            crate::analytics::on_threads(threads, || gmm(x.view(), &p, &Progress::new()).unwrap())
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }

    #[test]
    fn singular_component_is_a_clear_error() {
        // Two identical rows per cluster and reg_covar 0: every covariance is singular.
        let x = ndarray::array![[0.0, 0.0], [0.0, 0.0], [5.0, 5.0], [5.0, 5.0]];
        let p = GmmParams {
            reg_covar: 0.0,
            ..GmmParams::new(2)
        };
        let e = gmm(x.view(), &p, &Progress::new()).unwrap_err();
        assert!(e.to_string().contains("singular covariance"), "{e}");
    }

    #[test]
    fn k_above_distinct_rows_is_refused() {
        let x = ndarray::array![[1.0], [1.0], [2.0]];
        let e = gmm(x.view(), &GmmParams::new(3), &Progress::new()).unwrap_err();
        assert!(e.to_string().contains("distinct rows"), "{e}");
    }

    #[test]
    fn cancelling_stops_the_fit() {
        let (x, _) = blobs(2000, 3.0, 1);
        let progress = Progress::new();
        progress.cancel();
        let e = gmm(x.view(), &GmmParams::new(3), &progress).unwrap_err();
        assert_eq!(e, AnalyticsError::Cancelled);
    }

    /// Agreement with linfa-clustering's GMM (full covariances) where linfa is sound: same
    /// fixed point on well-separated data, with a tight tolerance for both.
    #[test]
    fn agrees_with_linfa_on_separated_blobs() {
        use linfa::prelude::*;
        use linfa_clustering::GaussianMixtureModel;
        let (x, _) = blobs(100, 1.0, 4);
        let ours = gmm(
            x.view(),
            &GmmParams {
                tol: 1e-10,
                max_iter: 1000,
                ..GmmParams::new(3)
            },
            &Progress::new(),
        )
        .unwrap();
        let ds = linfa::DatasetBase::from(x.clone());
        let theirs = GaussianMixtureModel::params(3)
            .tolerance(1e-10)
            .max_n_iterations(1000)
            .fit(&ds)
            .unwrap();
        // Match components by nearest mean.
        for c in 0..3 {
            let m = &ours.means[c];
            let t = (0..3)
                .min_by(|&a, &b| {
                    let da = (theirs.means()[[a, 0]] - m[0]).powi(2)
                        + (theirs.means()[[a, 1]] - m[1]).powi(2);
                    let db = (theirs.means()[[b, 0]] - m[0]).powi(2)
                        + (theirs.means()[[b, 1]] - m[1]).powi(2);
                    da.total_cmp(&db)
                })
                .unwrap();
            assert!((theirs.weights()[t] - ours.weights[c]).abs() < 1e-8);
            for (j, mj) in m.iter().enumerate() {
                assert!((theirs.means()[[t, j]] - mj).abs() < 1e-8);
                for i in 0..2 {
                    assert!(
                        (theirs.covariances()[[t, i, j]] - ours.covariances[c][i][j]).abs() < 1e-8
                    );
                }
            }
        }
    }

    /// The inputs that broke k-means: near 1e308 the covariances overflow, denormal values
    /// vary by far less than reg_covar (every row in one blob). Both are a clear error.
    #[test]
    fn extreme_values_are_a_clear_error() {
        let (x, _) = blobs(30, 1.0, 4);
        let big = x.mapv(|v| (v + 20.0) * 1e306);
        let e = gmm(big.view(), &GmmParams::new(3), &Progress::new()).unwrap_err();
        assert!(e.to_string().contains("covariances are beyond"), "{e}");
        let tiny = x.mapv(|v| v * 1e-316);
        let e = gmm(tiny.view(), &GmmParams::new(3), &Progress::new()).unwrap_err();
        assert!(e.to_string().contains("vary too little"), "{e}");
        for (n_init, max_iter) in [(0, 100), (10_000, 100), (1, 0)] {
            let p = GmmParams {
                n_init,
                max_iter,
                ..GmmParams::new(3)
            };
            assert!(gmm(x.view(), &p, &Progress::new()).is_err());
        }
    }
}
