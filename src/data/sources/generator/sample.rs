//! Portable randomness: samplers and the few transcendental functions they need, written
//! with IEEE-exact arithmetic only (+, -, *, /, sqrt, round) so that the generated files are
//! byte-identical on every platform and libm (the system `exp`/`ln` may differ in the last
//! bit between implementations, and a single flipped comparison would change the data).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub(super) type Rand = ChaCha8Rng;

const LN2: f64 = std::f64::consts::LN_2;
/// ln 2 split into a high part with trailing zero bits (exact k * LN2_HI) and the rest.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);

/// e^x, to about 1e-15 relative error; 0 below -700, infinity above 709.
pub(super) fn exp(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x > 709.0 {
        return f64::INFINITY;
    }
    if x < -700.0 {
        return 0.0;
    }
    let k = (x / LN2).round();
    let r = (x - k * LN2_HI) - k * LN2_LO; // |r| <= 0.35
    let mut term = 1.0;
    let mut sum = 1.0;
    for i in 1..=15 {
        term *= r / i as f64;
        sum += term;
    }
    // 2^k is exact for k in [-1010, 1023].
    sum * f64::from_bits(((k as i64 + 1023) as u64) << 52)
}

/// Natural logarithm of a positive, normal number (negative infinity for x <= 0).
pub(super) fn ln(x: f64) -> f64 {
    if x <= 0.0 || x.is_nan() {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return x;
    }
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    // ln(m) = 2 atanh(s) with |s| <= 0.172.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut term = s;
    let mut sum = s;
    for k in 1..=13 {
        term *= s2;
        sum += term / (2 * k + 1) as f64;
    }
    2.0 * sum + e as f64 * LN2
}

pub(super) fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + exp(-x))
}

/// x^a for x > 0.
pub(super) fn powf(x: f64, a: f64) -> f64 {
    exp(a * ln(x))
}

/// Uniform in [0, 1).
pub(super) fn unit(r: &mut Rand) -> f64 {
    r.r#gen::<f64>()
}

/// Uniform in (0, 1], safe for `ln`.
pub(super) fn unit_open(r: &mut Rand) -> f64 {
    1.0 - r.r#gen::<f64>()
}

pub(super) fn chance(r: &mut Rand, p: f64) -> bool {
    unit(r) < p
}

/// Uniform integer in the inclusive range [lo, hi] (lo when hi < lo).
pub(super) fn int(r: &mut Rand, lo: i64, hi: i64) -> i64 {
    if hi <= lo {
        return lo;
    }
    lo + r.gen_range(0..(hi - lo + 1) as u64) as i64
}

/// Uniform index below `n` (n >= 1).
pub(super) fn index(r: &mut Rand, n: usize) -> usize {
    r.gen_range(0..n as u64) as usize
}

/// Standard normal (Marsaglia's polar method: needs only ln and sqrt).
pub(super) fn normal(r: &mut Rand) -> f64 {
    loop {
        let u = 2.0 * unit(r) - 1.0;
        let v = 2.0 * unit(r) - 1.0;
        let s = u * u + v * v;
        if s > 0.0 && s < 1.0 {
            return u * (-2.0 * ln(s) / s).sqrt();
        }
    }
}

/// Exponential with the given mean.
pub(super) fn exponential(r: &mut Rand, mean: f64) -> f64 {
    -mean * ln(unit_open(r))
}

/// Gamma with integer shape `k` and mean 1 (sum of k unit exponentials, divided by k).
pub(super) fn gamma_mean1(r: &mut Rand, k: u32) -> f64 {
    let mut p = 1.0;
    for _ in 0..k {
        p *= unit_open(r);
    }
    -ln(p) / k as f64
}

/// Poisson with mean `lambda` (Knuth's method; a rounded normal above 30).
pub(super) fn poisson(r: &mut Rand, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda > 30.0 {
        let x = lambda + lambda.sqrt() * normal(r);
        return x.round().max(0.0) as u32;
    }
    let limit = exp(-lambda);
    let mut k = 0;
    let mut p = unit_open(r);
    while p > limit {
        k += 1;
        p *= unit_open(r);
    }
    k
}

/// An index drawn with probability proportional to `weights`.
pub(super) fn pick(r: &mut Rand, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = unit(r) * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

/// A cumulative distribution for fast repeated draws.
pub(super) struct Cdf {
    cum: Vec<f64>,
}

impl Cdf {
    pub(super) fn new(weights: &[f64]) -> Self {
        let mut acc = 0.0;
        let cum = weights
            .iter()
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        Cdf { cum }
    }

    pub(super) fn draw(&self, r: &mut Rand) -> usize {
        let x = unit(r) * self.cum[self.cum.len() - 1];
        self.cum
            .partition_point(|c| *c <= x)
            .min(self.cum.len() - 1)
    }
}

/// Area under the ROC curve of `score` against `label` (Mann-Whitney, ties averaged).
pub(super) fn auc(score: &[f64], label: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|a, b| score[*a].total_cmp(&score[*b]).then(a.cmp(b)));
    let (mut pos, mut rank_sum) = (0u64, 0.0f64);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && score[idx[j + 1]] == score[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for k in &idx[i..=j] {
            if label[*k] {
                pos += 1;
                rank_sum += avg_rank;
            }
        }
        i = j + 1;
    }
    let neg = score.len() as u64 - pos;
    if pos == 0 || neg == 0 {
        return 0.5;
    }
    let p = pos as f64;
    (rank_sum - p * (p + 1.0) / 2.0) / (p * neg as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn exp_and_ln_match_the_system_functions_closely() {
        for i in -400..=400 {
            let x = i as f64 * 0.137;
            let (a, b) = (exp(x), x.exp());
            assert!(((a - b) / b).abs() < 1e-14, "exp({x}) = {a}, std {b}");
        }
        for i in 1..2000 {
            let x = i as f64 * 0.0731 + 1e-6 * i as f64;
            let (a, b) = (ln(x), x.ln());
            assert!(
                (a - b).abs() < 1e-14 * b.abs().max(1.0),
                "ln({x}) = {a}, std {b}"
            );
        }
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(exp(0.0), 1.0);
    }

    #[test]
    fn samplers_have_the_intended_means() {
        let mut r = Rand::seed_from_u64(7);
        let n = 20_000;
        let m: f64 = (0..n).map(|_| poisson(&mut r, 3.5) as f64).sum::<f64>() / n as f64;
        assert!((m - 3.5).abs() < 0.08, "{m}");
        let m: f64 = (0..n).map(|_| normal(&mut r)).sum::<f64>() / n as f64;
        assert!(m.abs() < 0.03, "{m}");
        let m: f64 = (0..n).map(|_| gamma_mean1(&mut r, 4)).sum::<f64>() / n as f64;
        assert!((m - 1.0).abs() < 0.03, "{m}");
    }

    #[test]
    fn auc_of_perfect_random_and_tied_scores() {
        assert_eq!(auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]), 1.0);
        assert_eq!(auc(&[0.5, 0.5, 0.5, 0.5], &[false, true, false, true]), 0.5);
        assert_eq!(auc(&[0.9, 0.1], &[false, true]), 0.0);
    }
}
