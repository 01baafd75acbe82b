//! Customer lifetime value: the BG/NBD purchase model (Fader, Hardie and Lee 2005, "Counting
//! your customers the easy way") and the Gamma-Gamma spend model (Fader, Hardie and Lee 2005,
//! "RFM and CLV"), with the formulas and conventions of the Python `lifetimes` package, so the
//! numbers can be checked against it.
//!
//! Input is one row per customer: `x` repeat purchases (purchase days after the first), `t_x`
//! the time from the first to the last purchase, `T` the time from the first purchase to the
//! calibration end (all in the chosen time unit), and the mean repeat-purchase amount.
//!
//! Both models are fitted by maximum likelihood with argmin's Nelder-Mead on log-parameters
//! (as `lifetimes` does, times are rescaled so the longest T is 10 during the fit). The
//! likelihood is a sum over customers; the log-gamma terms depend on `x` alone, so they are
//! computed once per distinct `x` per evaluation, and the rest runs over the customers on all
//! cores. The Gauss hypergeometric function 2F1 (not in any maintained crate with the
//! stack's dependencies) is its power series, summed with rescaling so large counts do not
//! overflow; BG/NBD only calls it with 0 <= z < 1, where the series converges.

use std::collections::BTreeMap;

use argmin::core::{CostFunction, Error as ArgminError, Executor, State};
use argmin::solver::neldermead::NelderMead;
use libm::lgamma;
use ndarray::Array1;
use rayon::prelude::*;
use serde::Serialize;

use super::error::AnalyticsError;
use crate::progress::Progress;

/// One row per customer, in the model's time unit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rfm {
    /// Repeat purchases (purchase days after the first).
    pub x: Vec<f64>,
    /// Time from the first to the last purchase.
    pub t_x: Vec<f64>,
    /// Time from the first purchase to the calibration end.
    pub t: Vec<f64>,
    /// Mean amount of the repeat purchases (0 when x = 0).
    pub monetary: Vec<f64>,
}

impl Rfm {
    pub fn len(&self) -> usize {
        self.x.len()
    }

    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// (x, monetary) of the customers the spend model is fitted on: repeat purchases and a
    /// positive mean amount.
    pub fn repeat_customers(&self) -> (Vec<f64>, Vec<f64>) {
        self.x
            .iter()
            .zip(&self.monetary)
            .filter(|(x, m)| **x > 0.0 && **m > 0.0)
            .map(|(x, m)| (*x, *m))
            .unzip()
    }
}

/// Fitted BG/NBD parameters: purchase rates ~ Gamma(r, alpha), dropout ~ Beta(a, b).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
    /// Sum over customers at the fitted parameters.
    pub log_likelihood: f64,
}

/// Fitted Gamma-Gamma parameters: spend per purchase ~ Gamma(p, nu), nu ~ Gamma(q, v).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub v: f64,
    /// Customers it was fitted on (x > 0 and a positive mean amount).
    pub n_customers: usize,
    pub log_likelihood: f64,
}

/// ln 2F1(a, b; c; z) for 0 <= z < 1, by the power series (rescaled as it grows).
pub fn ln_hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    if z == 0.0 {
        return 0.0;
    }
    let mut ln_scale = 0.0;
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 0..2_000_000u32 {
        let n = n as f64;
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        sum += term;
        if sum > 1e250 {
            sum *= 1e-250;
            term *= 1e-250;
            ln_scale += 250.0 * std::f64::consts::LN_10;
        }
        if term.abs() <= 1e-16 * sum.abs() && n > 1.0 {
            break;
        }
    }
    sum.ln() + ln_scale
}

/// 2F1(a, b; c; z) for 0 <= z < 1.
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    ln_hyp2f1(a, b, c, z).exp()
}

/// ln(e^p + e^q) without overflow.
fn log_add_exp(p: f64, q: f64) -> f64 {
    let m = p.max(q);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + ((p - m).exp() + (q - m).exp()).ln()
}

/// The sum of `f(0..n)` on all cores, the same to the last bit on every run and any number
/// of threads: fixed chunks summed in order, then the chunk sums in order.
fn par_sum(n: usize, f: impl Fn(usize) -> f64 + Sync) -> f64 {
    const CHUNK: usize = 8192;
    let sums: Vec<f64> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| (c * CHUNK..((c + 1) * CHUNK).min(n)).map(&f).sum::<f64>())
        .collect();
    sums.iter().sum()
}

/// Counts of each distinct `x` (x is a whole number of purchases).
fn distinct_x(x: &[f64]) -> BTreeMap<u64, usize> {
    let mut m = BTreeMap::new();
    for v in x {
        *m.entry(*v as u64).or_insert(0) += 1;
    }
    m
}

/// The BG/NBD log-likelihood of `d` (summed over customers) at (r, alpha, a, b).
pub fn bgnbd_log_likelihood(d: &Rfm, r: f64, alpha: f64, a: f64, b: f64) -> f64 {
    bgnbd_ll(d, &distinct_x(&d.x), r, alpha, a, b)
}

fn bgnbd_ll(d: &Rfm, xs: &BTreeMap<u64, usize>, r: f64, alpha: f64, a: f64, b: f64) -> f64 {
    // Terms in x alone: ln Γ(r+x) - ln Γ(r) + r ln α + ln Γ(a+b) + ln Γ(b+x) - ln Γ(b)
    // - ln Γ(a+b+x), once per distinct x.
    let per_x: f64 = xs
        .iter()
        .map(|(&x, &n)| {
            let x = x as f64;
            n as f64
                * (lgamma(r + x) - lgamma(r) + r * alpha.ln() + lgamma(a + b) + lgamma(b + x)
                    - lgamma(b)
                    - lgamma(a + b + x))
        })
        .sum();
    let ln_a = a.ln();
    let per_customer: f64 = par_sum(d.len(), |i| {
        let (x, tx, t) = (d.x[i], d.t_x[i], d.t[i]);
        let a3 = -(r + x) * (alpha + t).ln();
        if x > 0.0 {
            let a4 = ln_a - (b + x - 1.0).ln() - (r + x) * (alpha + tx).ln();
            log_add_exp(a3, a4)
        } else {
            a3
        }
    });
    per_x + per_customer
}

impl BgNbd {
    /// Probability that a customer with (x, t_x, T) is still alive at T.
    pub fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64 {
        if x == 0.0 {
            return 1.0;
        }
        let (r, alpha, a, b) = (self.r, self.alpha, self.a, self.b);
        let log_div = (r + x) * ((alpha + t) / (alpha + t_x)).ln() + (a / (b + x - 1.0)).ln();
        1.0 / (1.0 + log_div.exp())
    }

    /// Expected purchases in the next `horizon` time units for a customer with (x, t_x, T).
    pub fn expected_purchases(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> f64 {
        if horizon <= 0.0 {
            return 0.0;
        }
        let (r, alpha, a, b) = (self.r, self.alpha, self.a, self.b);
        let z = horizon / (alpha + t + horizon);
        let ln_hyp = ln_hyp2f1(r + x, b + x, a + b + x - 1.0, z);
        let first = (a + b + x - 1.0) / (a - 1.0);
        let second = 1.0 - (ln_hyp + (r + x) * ((alpha + t) / (alpha + t + horizon)).ln()).exp();
        let denominator = if x > 0.0 {
            1.0 + (a / (b + x - 1.0)) * ((alpha + t) / (alpha + t_x)).powf(r + x)
        } else {
            1.0
        };
        first * second / denominator
    }
}

/// The Gamma-Gamma log-likelihood of customers with repeat purchases `x` and mean amounts
/// `m` (summed), at (p, q, v).
pub fn gamma_gamma_log_likelihood(x: &[f64], m: &[f64], p: f64, q: f64, v: f64) -> f64 {
    SpendData::new(x, m).log_likelihood(p, q, v)
}

/// Repeat customers prepared for the Gamma-Gamma likelihood: the terms in x alone are taken
/// once per distinct x, and the sums of ln m and x ln m once for all evaluations.
struct SpendData<'a> {
    x: &'a [f64],
    m: &'a [f64],
    xs: BTreeMap<u64, usize>,
    sum_ln_m: f64,
    sum_x_ln_m: f64,
}

impl<'a> SpendData<'a> {
    fn new(x: &'a [f64], m: &'a [f64]) -> SpendData<'a> {
        let (sum_ln_m, sum_x_ln_m) = x
            .iter()
            .zip(m)
            .fold((0.0, 0.0), |(a, b), (x, m)| (a + m.ln(), b + x * m.ln()));
        SpendData {
            x,
            m,
            xs: distinct_x(x),
            sum_ln_m,
            sum_x_ln_m,
        }
    }

    /// Sum over customers of ln Γ(px+q) - ln Γ(px) - ln Γ(q) + q ln v + (px-1) ln m
    /// + px ln x - (px+q) ln(xm+v).
    fn log_likelihood(&self, p: f64, q: f64, v: f64) -> f64 {
        let per_x: f64 = self
            .xs
            .iter()
            .map(|(&x, &n)| {
                let x = x as f64;
                n as f64
                    * (lgamma(p * x + q) - lgamma(p * x) - lgamma(q) + q * v.ln() + p * x * x.ln())
            })
            .sum();
        let (x, m) = (self.x, self.m);
        let per_customer = par_sum(x.len(), |i| (p * x[i] + q) * (x[i] * m[i] + v).ln());
        per_x + p * self.sum_x_ln_m - self.sum_ln_m - per_customer
    }
}

impl GammaGamma {
    /// Expected mean spend per purchase of a customer with `x` repeat purchases of mean `m`
    /// (the population mean for x = 0).
    pub fn expected_spend(&self, x: f64, m: f64) -> f64 {
        let (p, q, v) = (self.p, self.q, self.v);
        let population = v * p / (q - 1.0);
        if x <= 0.0 {
            return population;
        }
        let w = p * x / (p * x + q - 1.0);
        (1.0 - w) * population + w * m
    }
}

/// Minimises `cost` over log-parameters from `start` with Nelder-Mead; returns the
/// parameters (exponentiated).
fn minimise(
    cost: impl Fn(&[f64]) -> f64 + Sync,
    start: &[f64],
    progress: &Progress,
) -> Result<Vec<f64>, AnalyticsError> {
    struct Problem<'a, C: Fn(&[f64]) -> f64> {
        cost: C,
        progress: &'a Progress,
    }
    impl<C: Fn(&[f64]) -> f64> CostFunction for Problem<'_, C> {
        type Param = Array1<f64>;
        type Output = f64;
        fn cost(&self, p: &Array1<f64>) -> Result<f64, ArgminError> {
            if self.progress.is_cancelled() {
                return Ok(f64::INFINITY);
            }
            let v = (self.cost)(p.as_slice().unwrap_or(&[]));
            Ok(if v.is_finite() { v } else { f64::INFINITY })
        }
    }
    let n = start.len();
    let mut simplex = vec![Array1::from(start.to_vec())];
    for i in 0..n {
        let mut p = Array1::from(start.to_vec());
        p[i] += 0.5;
        simplex.push(p);
    }
    let solver = NelderMead::new(simplex)
        .with_sd_tolerance(1e-10)
        .map_err(|e| AnalyticsError::Input(e.to_string()))?;
    let res = Executor::new(
        Problem {
            cost: &cost,
            progress,
        },
        solver,
    )
    .configure(|s| s.max_iters(3000))
    .run()
    .map_err(|e| AnalyticsError::Input(format!("the likelihood fit failed: {e}")))?;
    if progress.is_cancelled() {
        return Err(AnalyticsError::Cancelled);
    }
    let best = res
        .state()
        .get_best_param()
        .cloned()
        .ok_or_else(|| AnalyticsError::Input("the likelihood fit found no optimum".into()))?;
    Ok(best.iter().map(|v| v.exp()).collect())
}

/// Fits BG/NBD to `d` by maximum likelihood.
pub fn fit_bgnbd(d: &Rfm, progress: &Progress) -> Result<BgNbd, AnalyticsError> {
    if d.is_empty() {
        return Err(AnalyticsError::Input(
            "no customers to fit BG/NBD on".into(),
        ));
    }
    if d.x.iter().all(|&x| x == 0.0) {
        return Err(AnalyticsError::Input(
            "no customer bought twice before the calibration end; BG/NBD needs repeat purchases (move the calibration end later)".into(),
        ));
    }
    let max_t = d.t.iter().copied().fold(0.0, f64::max);
    let scale = if max_t > 0.0 { 10.0 / max_t } else { 1.0 };
    let scaled = Rfm {
        x: d.x.clone(),
        t_x: d.t_x.iter().map(|v| v * scale).collect(),
        t: d.t.iter().map(|v| v * scale).collect(),
        monetary: Vec::new(),
    };
    let xs = distinct_x(&scaled.x);
    let n = d.len() as f64;
    let p = minimise(
        |lp| {
            let (r, alpha, a, b) = (lp[0].exp(), lp[1].exp(), lp[2].exp(), lp[3].exp());
            -bgnbd_ll(&scaled, &xs, r, alpha, a, b) / n
        },
        &[0.0; 4],
        progress,
    )?;
    let (r, alpha, a, b) = (p[0], p[1] / scale, p[2], p[3]);
    Ok(BgNbd {
        r,
        alpha,
        a,
        b,
        log_likelihood: bgnbd_log_likelihood(d, r, alpha, a, b),
    })
}

/// Fits Gamma-Gamma on the customers with x > 0 and a positive mean amount.
pub fn fit_gamma_gamma(d: &Rfm, progress: &Progress) -> Result<GammaGamma, AnalyticsError> {
    let (x, m) = d.repeat_customers();
    if x.len() < 3 {
        return Err(AnalyticsError::Input(format!(
            "{} customers with repeat purchases and a positive amount; Gamma-Gamma needs at least 3",
            x.len()
        )));
    }
    let n = x.len() as f64;
    let data = SpendData::new(&x, &m);
    let p = minimise(
        |lp| -data.log_likelihood(lp[0].exp(), lp[1].exp(), lp[2].exp()) / n,
        &[0.0; 3],
        progress,
    )?;
    Ok(GammaGamma {
        p: p[0],
        q: p[1],
        v: p[2],
        n_customers: x.len(),
        log_likelihood: gamma_gamma_log_likelihood(&x, &m, p[0], p[1], p[2]),
    })
}

/// Time units per month for the CLV horizon (`lifetimes`' factors: 30 days, 4.345 weeks).
pub fn units_per_month(unit_days: f64) -> f64 {
    if unit_days == 7.0 {
        4.345
    } else {
        30.0 / unit_days
    }
}

/// CLV of one customer over `months`, discounted monthly at `rate`: the sum over months i of
/// the expected purchases in month i times the expected spend, divided by (1 + rate)^i.
pub fn clv(
    bg: &BgNbd,
    spend: f64,
    (x, t_x, t): (f64, f64, f64),
    months: usize,
    rate: f64,
    per_month: f64,
) -> f64 {
    let mut total = 0.0;
    let mut before = 0.0;
    for i in 1..=months {
        let now = bg.expected_purchases(i as f64 * per_month, x, t_x, t);
        total += spend * (now - before) / (1.0 + rate).powi(i as i32);
        before = now;
    }
    total
}

/// Predicted vs actual holdout purchases of customers with x calibration purchases (the last
/// bucket holds x >= its value).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HoldoutBucket {
    pub frequency: u64,
    pub customers: usize,
    pub predicted_mean: f64,
    pub actual_mean: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Holdout {
    /// Length of the holdout period in time units.
    pub duration: f64,
    pub predicted_total: f64,
    pub actual_total: f64,
    pub buckets: Vec<HoldoutBucket>,
}

/// Compares the expected purchases over `duration` with `actual` holdout purchases, in total
/// and by calibration frequency 0..=`last` (the last bucket: `last` or more).
pub fn holdout(bg: &BgNbd, d: &Rfm, actual: &[f64], duration: f64, last: u64) -> Holdout {
    let predicted: Vec<f64> = (0..d.len())
        .into_par_iter()
        .map(|i| bg.expected_purchases(duration, d.x[i], d.t_x[i], d.t[i]))
        .collect();
    let mut sums = vec![(0usize, 0.0, 0.0); last as usize + 1];
    for i in 0..d.len() {
        let k = (d.x[i] as u64).min(last) as usize;
        sums[k].0 += 1;
        sums[k].1 += predicted[i];
        sums[k].2 += actual[i];
    }
    Holdout {
        duration,
        predicted_total: predicted.iter().sum(),
        actual_total: actual.iter().sum(),
        buckets: sums
            .into_iter()
            .enumerate()
            .filter(|(_, s)| s.0 > 0)
            .map(|(k, (n, p, a))| HoldoutBucket {
                frequency: k as u64,
                customers: n,
                predicted_mean: p / n as f64,
                actual_mean: a / n as f64,
            })
            .collect(),
    }
}

/// What to compute, besides the fits.
#[derive(Debug, Clone, PartialEq)]
pub struct ClvParams {
    /// Days per time unit (1 or 7).
    pub unit_days: f64,
    /// CLV horizon in months.
    pub horizon_months: usize,
    /// Monthly discount rate.
    pub discount_rate: f64,
}

impl Default for ClvParams {
    fn default() -> Self {
        ClvParams {
            unit_days: 1.0,
            horizon_months: 12,
            discount_rate: 0.01,
        }
    }
}

/// Every customer's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClvRow {
    pub p_alive: f64,
    /// Expected purchases over the horizon.
    pub expected_purchases: f64,
    /// Expected mean spend per purchase (Gamma-Gamma).
    pub expected_spend: f64,
    pub clv: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClvRun {
    pub bgnbd: BgNbd,
    pub gamma_gamma: GammaGamma,
    /// Pearson correlation of frequency and mean amount among repeat customers (the
    /// Gamma-Gamma model assumes they are independent).
    pub frequency_monetary_correlation: f64,
    pub rows: Vec<ClvRow>,
    pub holdout: Option<Holdout>,
}

/// Pearson correlation of `a` and `b` (0 when either is constant).
fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    if saa == 0.0 || sbb == 0.0 {
        0.0
    } else {
        sab / (saa * sbb).sqrt()
    }
}

/// Every customer's figures under fitted models: P(alive), expected purchases over the
/// horizon, expected spend per purchase and the discounted CLV (what a fit and a saved
/// model's scoring both compute, so they agree to the bit).
pub fn score_rows(bg: &BgNbd, gg: &GammaGamma, d: &Rfm, p: &ClvParams) -> Vec<ClvRow> {
    let per_month = units_per_month(p.unit_days);
    let horizon = p.horizon_months as f64 * per_month;
    (0..d.len())
        .into_par_iter()
        .map(|i| {
            let (x, tx, t) = (d.x[i], d.t_x[i], d.t[i]);
            let spend = gg.expected_spend(x, d.monetary[i]);
            ClvRow {
                p_alive: bg.p_alive(x, tx, t),
                expected_purchases: bg.expected_purchases(horizon, x, tx, t),
                expected_spend: spend,
                clv: clv(
                    bg,
                    spend,
                    (x, tx, t),
                    p.horizon_months,
                    p.discount_rate,
                    per_month,
                ),
            }
        })
        .collect()
}

/// Pearson correlation of frequency and mean amount among the repeat customers of `d`.
pub fn frequency_monetary_correlation(d: &Rfm) -> f64 {
    let (fx, fm) = d.repeat_customers();
    correlation(&fx, &fm)
}

/// Fits both models and scores every customer; with `holdout` (actual purchases per customer
/// after the calibration end, and the period's length in time units) also validates.
pub fn run_clv(
    d: &Rfm,
    p: &ClvParams,
    holdout_data: Option<(&[f64], f64)>,
    progress: &Progress,
) -> Result<ClvRun, AnalyticsError> {
    run(d, p, holdout_data, None, progress)
}

/// Scores every customer with models fitted before (a saved model): no fit, the same
/// figures [`run_clv`] gives under those parameters; with `holdout` also validates.
pub fn run_fixed(
    d: &Rfm,
    p: &ClvParams,
    holdout_data: Option<(&[f64], f64)>,
    models: (BgNbd, GammaGamma),
    progress: &Progress,
) -> Result<ClvRun, AnalyticsError> {
    run(d, p, holdout_data, Some(models), progress)
}

fn run(
    d: &Rfm,
    p: &ClvParams,
    holdout_data: Option<(&[f64], f64)>,
    fixed: Option<(BgNbd, GammaGamma)>,
    progress: &Progress,
) -> Result<ClvRun, AnalyticsError> {
    if p.discount_rate < 0.0 || !p.discount_rate.is_finite() {
        return Err(AnalyticsError::Input(format!(
            "discount rate {} must be 0 or more (monthly, e.g. 0.01)",
            p.discount_rate
        )));
    }
    // Each month of the horizon is a sum over every customer: bounded as the workspace's
    // and the command line's horizon are.
    super::limits::HORIZON_MONTHS.named("CLV horizon_months", p.horizon_months)?;
    if !(p.unit_days > 0.0 && p.unit_days.is_finite()) {
        return Err(AnalyticsError::Input(format!(
            "CLV time unit of {} days: use 1 (days) or 7 (weeks)",
            p.unit_days
        )));
    }
    if [d.t_x.len(), d.t.len(), d.monetary.len()] != [d.len(); 3] {
        return Err(AnalyticsError::Input(
            "CLV: the frequency, recency, age and amount columns differ in length".into(),
        ));
    }
    if let Some(i) = (0..d.len()).find(|&i| {
        ![d.x[i], d.t_x[i], d.t[i], d.monetary[i]]
            .iter()
            .all(|v| v.is_finite())
    }) {
        return Err(AnalyticsError::Input(format!(
            "CLV: customer row {} has a non-finite frequency, recency, age or amount",
            i + 1
        )));
    }
    progress.start("fitting BG/NBD", 3);
    let (bg, gg) = match fixed {
        Some(models) => models,
        None => {
            let bg = fit_bgnbd(d, progress)?;
            progress.next("fitting Gamma-Gamma");
            (bg, fit_gamma_gamma(d, progress)?)
        }
    };
    let fitted = [bg.r, bg.alpha, bg.a, bg.b, gg.p, gg.q, gg.v];
    if !fitted.iter().all(|v| v.is_finite() && *v > 0.0) {
        return Err(AnalyticsError::Input(format!(
            "CLV: the likelihood fits gave parameters that are not positive finite numbers \
             (BG/NBD r, alpha, a, b = {}, {}, {}, {}; Gamma-Gamma p, q, v = {}, {}, {}); check \
             the amounts and dates",
            bg.r, bg.alpha, bg.a, bg.b, gg.p, gg.q, gg.v
        )));
    }
    if gg.q <= 1.0 {
        return Err(AnalyticsError::Input(format!(
            "the fitted Gamma-Gamma has q = {:.3} <= 1, so the mean spend is unbounded",
            gg.q
        )));
    }
    progress.next("scoring customers");
    let rows = score_rows(&bg, &gg, d, p);
    let holdout = holdout_data.map(|(actual, duration)| holdout(&bg, d, actual, duration, 7));
    progress.advance(1);
    Ok(ClvRun {
        bgnbd: bg,
        gamma_gamma: gg,
        frequency_monetary_correlation: frequency_monetary_correlation(d),
        rows,
        holdout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BG/NBD population: purchase rate ~ Gamma(r, alpha), dropout probability after each
    /// repeat purchase ~ Beta(a, b), first purchases spread over the first 300 of 600 days.
    fn simulate(n: usize, (r, alpha, a, b): (f64, f64, f64, f64), seed: u64) -> Rfm {
        use rand::{Rng, SeedableRng};
        use rand_distr::{Beta, Distribution, Exp, Gamma};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let rate = Gamma::new(r, 1.0 / alpha).unwrap();
        let drop = Beta::new(a, b).unwrap();
        let mut d = Rfm::default();
        for _ in 0..n {
            let lambda: f64 = rate.sample(&mut rng);
            let p: f64 = drop.sample(&mut rng);
            let t = 600.0 - rng.gen_range(0.0..300.0f64);
            let (mut now, mut last, mut x) = (0.0, 0.0, 0.0);
            let gap = Exp::new(lambda.max(1e-12)).unwrap();
            loop {
                now += gap.sample(&mut rng);
                if now > t {
                    break;
                }
                x += 1.0;
                last = now;
                if rng.gen_bool(p) {
                    break;
                }
            }
            // Spend: nu ~ Gamma(q = 3, rate v = 60); the mean of x amounts ~ Gamma(6x, rate nu x).
            let nu: f64 = Gamma::new(3.0, 1.0 / 60.0).unwrap().sample(&mut rng);
            let m = if x > 0.0 {
                Gamma::new(6.0 * x, 1.0 / (nu * x))
                    .unwrap()
                    .sample(&mut rng)
            } else {
                0.0
            };
            d.x.push(x);
            d.t_x.push(last);
            d.t.push(t);
            d.monetary.push(m);
        }
        d
    }

    #[test]
    fn bgnbd_recovers_simulated_parameters() {
        let truth = (0.7, 12.0, 0.9, 3.0);
        let d = simulate(20_000, truth, 21);
        let bg = fit_bgnbd(&d, &Progress::new()).unwrap();
        let got = [bg.r, bg.alpha, bg.a, bg.b];
        let want = [truth.0, truth.1, truth.2, truth.3];
        for (k, (g, w)) in ["r", "alpha", "a", "b"].iter().zip(got.iter().zip(want)) {
            assert!((g - w).abs() < 0.2 * w, "{k}: {g} vs {w} ({bg:?})");
        }
        // The optimum is at least as likely as the truth.
        let at_truth = bgnbd_log_likelihood(&d, truth.0, truth.1, truth.2, truth.3);
        assert!(bg.log_likelihood >= at_truth - 1e-6);
        // Same data, same fit.
        assert_eq!(fit_bgnbd(&d, &Progress::new()).unwrap(), bg);
        // Cancelling stops it.
        let p = Progress::new();
        p.cancel();
        assert_eq!(fit_bgnbd(&d, &p).unwrap_err(), AnalyticsError::Cancelled);
        // The spend model recovers (p, q, v) = (6, 3, 60) from the same customers.
        let gg = fit_gamma_gamma(&d, &Progress::new()).unwrap();
        for (k, g, w) in [("p", gg.p, 6.0), ("q", gg.q, 3.0), ("v", gg.v, 60.0)] {
            assert!((g - w).abs() < 0.25 * w, "{k}: {g} vs {w} ({gg:?})");
        }
    }

    /// The timing target: a fit on 1,000,000 customers.
    /// `cargo test --release --lib -- --ignored clv_fit_speed --nocapture`
    #[test]
    #[ignore]
    fn clv_fit_speed() {
        let d = simulate(1_000_000, (0.7, 12.0, 0.9, 3.0), 3);
        let t0 = std::time::Instant::now();
        let bg = fit_bgnbd(&d, &Progress::new()).unwrap();
        let fit = t0.elapsed();
        let t1 = std::time::Instant::now();
        let gg = fit_gamma_gamma(&d, &Progress::new());
        println!(
            "Gamma-Gamma fit: {:?} ({:?})",
            t1.elapsed(),
            gg.map(|g| g.n_customers)
        );
        let t2 = std::time::Instant::now();
        let total: f64 = (0..d.len())
            .into_par_iter()
            .map(|i| clv(&bg, 25.0, (d.x[i], d.t_x[i], d.t[i]), 12, 0.01, 30.0))
            .sum();
        println!(
            "CLV of every customer: {:?} (total {total:.0})",
            t2.elapsed()
        );
        let t3 = std::time::Instant::now();
        let run = run_clv(&d, &ClvParams::default(), None, &Progress::new());
        println!(
            "BG/NBD fit on 1M customers: {fit:?} ({bg:?}); run_clv (both fits + scoring): {:?} ({})",
            t3.elapsed(),
            run.is_ok()
        );
    }

    #[test]
    fn hyp2f1_matches_closed_forms() {
        // 2F1(1, 1; 2; z) = -ln(1 - z) / z.
        for z in [0.1, 0.5, 0.9, 0.99] {
            let want = -(1.0f64 - z).ln() / z;
            assert!(
                (hyp2f1(1.0, 1.0, 2.0, z) - want).abs() < 1e-10 * want,
                "z {z}"
            );
        }
        // 2F1(a, b; b; z) = (1 - z)^-a.
        let want = (1.0f64 - 0.7).powf(-2.5);
        assert!((hyp2f1(2.5, 3.0, 3.0, 0.7) - want).abs() < 1e-10 * want);
        // Large parameters stay finite in log form: 2F1(a, b; b; z) again.
        let ln = ln_hyp2f1(800.0, 900.0, 900.0, 0.9);
        assert!((ln - (-800.0 * (0.1f64).ln())).abs() < 1e-8 * ln);
    }

    #[test]
    fn bgnbd_by_hand_for_one_customer() {
        // x = 0: L = Γ(r+0) α^r / (Γ(r) (α+T)^r) = (α / (α + T))^r.
        let d = Rfm {
            x: vec![0.0],
            t_x: vec![0.0],
            t: vec![10.0],
            monetary: vec![0.0],
        };
        let (r, alpha) = (0.5, 4.0);
        let want = r * (alpha / (alpha + 10.0f64)).ln();
        assert!((bgnbd_log_likelihood(&d, r, alpha, 0.8, 2.5) - want).abs() < 1e-12);
        // x = 1, t_x = 3, T = 10 (FHL 2005 eq. 6):
        // L = B(a, b+1)/B(a, b) Γ(r+1) α^r / (Γ(r) (α+T)^(r+1))
        //   + B(a+1, b)/B(a, b) Γ(r+1) α^r / (Γ(r) (α+t_x)^(r+1)).
        let (a, b) = (0.8, 2.5);
        let beta = |p: f64, q: f64| (lgamma(p) + lgamma(q) - lgamma(p + q)).exp();
        let g = (lgamma(r + 1.0) - lgamma(r)).exp() * alpha.powf(r);
        let want = (beta(a, b + 1.0) / beta(a, b) * g / (alpha + 10.0).powf(r + 1.0)
            + beta(a + 1.0, b) / beta(a, b) * g / (alpha + 3.0).powf(r + 1.0))
        .ln();
        let d = Rfm {
            x: vec![1.0],
            t_x: vec![3.0],
            t: vec![10.0],
            monetary: vec![5.0],
        };
        assert!((bgnbd_log_likelihood(&d, r, alpha, a, b) - want).abs() < 1e-12);
    }

    #[test]
    fn p_alive_and_expectations_by_hand() {
        let bg = BgNbd {
            r: 0.5,
            alpha: 4.0,
            a: 0.8,
            b: 2.5,
            log_likelihood: 0.0,
        };
        // x = 0: alive for sure (no repeat purchase, so no chance yet to drop out).
        assert_eq!(bg.p_alive(0.0, 0.0, 10.0), 1.0);
        // FHL eq. 11: P(alive) = 1 / (1 + a/(b+x-1) ((α+T)/(α+t_x))^(r+x)).
        let want = 1.0 / (1.0 + 0.8 / (2.5 + 2.0 - 1.0) * (14.0f64 / 9.0).powf(2.5));
        assert!((bg.p_alive(2.0, 5.0, 10.0) - want).abs() < 1e-12);
        // A customer whose last purchase was long ago is less likely alive.
        assert!(bg.p_alive(2.0, 1.0, 10.0) < bg.p_alive(2.0, 9.0, 10.0));
        // Expected purchases grow with the horizon and start at 0.
        assert_eq!(bg.expected_purchases(0.0, 2.0, 5.0, 10.0), 0.0);
        let e: Vec<f64> = [1.0, 10.0, 100.0]
            .iter()
            .map(|&t| bg.expected_purchases(t, 2.0, 5.0, 10.0))
            .collect();
        assert!(e[0] < e[1] && e[1] < e[2], "{e:?}");
        // FHL eq. 10 by hand for x = 0 (denominator 1):
        // (a+b-1)/(a-1) [1 - ((α+T)/(α+T+t))^r 2F1(r, b; a+b-1; t/(α+T+t))].
        let (t, big_t) = (6.0, 10.0);
        let z = t / (4.0 + big_t + t);
        let want = (0.8 + 2.5 - 1.0) / (0.8 - 1.0)
            * (1.0 - (14.0f64 / 20.0).powf(0.5) * hyp2f1(0.5, 2.5, 2.3, z));
        assert!((bg.expected_purchases(t, 0.0, 0.0, big_t) - want).abs() < 1e-12);
    }

    #[test]
    fn gamma_gamma_by_hand() {
        let gg = GammaGamma {
            p: 6.0,
            q: 3.0,
            v: 60.0,
            n_customers: 1,
            log_likelihood: 0.0,
        };
        // Population mean v p / (q - 1) = 180; a customer's estimate shrinks towards it.
        assert_eq!(gg.expected_spend(0.0, 0.0), 180.0);
        let w = 6.0 * 4.0 / (6.0 * 4.0 + 2.0);
        assert!((gg.expected_spend(4.0, 100.0) - ((1.0 - w) * 180.0 + w * 100.0)).abs() < 1e-12);
        // Likelihood of one customer (x = 2, m = 50), FHL's RFM-CLV note eq. 1:
        // Γ(px+q)/(Γ(px)Γ(q)) v^q m^(px-1) x^(px) / (v + m x)^(px+q).
        let (p, q, v, x, m) = (6.0f64, 3.0f64, 60.0f64, 2.0f64, 50.0f64);
        let want = lgamma(p * x + q) - lgamma(p * x) - lgamma(q)
            + q * v.ln()
            + (p * x - 1.0) * m.ln()
            + p * x * x.ln()
            - (p * x + q) * (v + m * x).ln();
        assert!((gamma_gamma_log_likelihood(&[x], &[m], p, q, v) - want).abs() < 1e-12);
    }

    /// Each month of the horizon is a sum over every customer: a horizon of a billion months
    /// ran without end. It is refused before any fitting, as the command line refuses it.
    #[test]
    fn the_horizon_is_bounded() {
        let d = simulate(200, (0.25, 4.0, 0.8, 2.5), 1);
        let p = ClvParams {
            horizon_months: 1_000_000_000,
            ..ClvParams::default()
        };
        let e = run_clv(&d, &p, None, &Progress::new()).unwrap_err();
        assert!(
            e.to_string()
                .contains("horizon_months 1000000000 is out of range (use 1 to 120)"),
            "{e}"
        );
    }
}
