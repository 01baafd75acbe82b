//! The Fellegi-Sunter model: for each field and comparison level, `m` (the probability of
//! the level among pairs that are one person) and `u` (among pairs that are not), and the
//! prior `lambda` (the share of candidate pairs that are one person). A pair's match weight
//! is log2 of the prior odds plus, per field, log2(m / u) of its level (a null level adds
//! nothing); its probability follows from the weight. As in Splink, `u` comes from random
//! pairs (nearly all non-matches) and stays fixed, while `m` and `lambda` are fitted by EM
//! without labels (Winkler 1988; Fellegi and Sunter 1969).

use super::compare::Outcome;

/// A pair's comparison vector: one outcome per field.
pub type Vector = Vec<Outcome>;

/// The model's parameters.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Model {
    /// Prior probability that a candidate pair is one person.
    pub lambda: f64,
    /// Per field, per level: P(level | match).
    pub m: Vec<Vec<f64>>,
    /// Per field, per level: P(level | non-match).
    pub u: Vec<Vec<f64>>,
    /// A field whose values are made from another's (an e-mail from the name): its u when
    /// the other agrees, taken among random pairs that agree on it, so the agreement is not
    /// counted twice.
    pub dependent: Option<Dependent>,
}

/// See [`Model::dependent`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Dependent {
    pub field: usize,
    pub on: usize,
    /// The levels of `on` that count as agreeing.
    pub agree: Vec<bool>,
    /// `field`'s u per level among random pairs agreeing on `on`.
    pub u: Vec<f64>,
}

impl Model {
    /// The u of field `f`'s level `l` in vector `v` (conditional for a dependent field).
    pub fn u_of(&self, v: &[Outcome], f: usize, l: usize) -> f64 {
        if let Some(d) = &self.dependent
            && d.field == f
            && let Outcome::Level(o) = v[d.on]
            && d.agree.get(o as usize).copied().unwrap_or(false)
        {
            return d.u[l];
        }
        self.u[f][l]
    }
}

/// Smallest probability a level keeps (a level never seen would make a weight infinite).
const FLOOR: f64 = 1e-6;

impl Model {
    /// The match weight of `v`: log2 prior odds + sum over fields of log2(m / u).
    pub fn weight(&self, v: &[Outcome]) -> f64 {
        let mut w = (self.lambda / (1.0 - self.lambda)).log2();
        for (f, o) in v.iter().enumerate() {
            if let Outcome::Level(l) = o {
                let l = *l as usize;
                w += (self.m[f][l].max(FLOOR) / self.u_of(v, f, l).max(FLOOR)).log2();
            }
        }
        w
    }

    /// The probability that the pair is one person: 2^w / (1 + 2^w).
    pub fn probability(&self, v: &[Outcome]) -> f64 {
        let w = self.weight(v);
        1.0 / (1.0 + (-w).exp2())
    }

    /// One EM step over `pairs` with `u` fixed: the E-step's match probabilities, then
    /// `lambda` as their mean and each `m` as the probability-weighted share of the level
    /// among the pairs where the field is not null.
    pub fn em_step(&mut self, pairs: &[Vector]) {
        self.em_step_counted(pairs, &vec![1.0; pairs.len()]);
    }

    /// [`Model::em_step`] over distinct vectors, each standing for `counts[i]` pairs (the
    /// candidate pairs of a large file have a few hundred distinct vectors).
    pub fn em_step_counted(&mut self, pairs: &[Vector], counts: &[f64]) {
        let p: Vec<f64> = pairs
            .iter()
            .zip(counts)
            .map(|(v, c)| c * self.probability(v))
            .collect();
        let total: f64 = p.iter().sum();
        let n: f64 = counts.iter().sum();
        self.lambda = (total / n.max(1.0)).clamp(FLOOR, 1.0 - FLOOR);
        for f in 0..self.m.len() {
            let mut sums = vec![0.0; self.m[f].len()];
            for (v, pj) in pairs.iter().zip(&p) {
                if let Outcome::Level(l) = v[f] {
                    sums[l as usize] += pj;
                }
            }
            let all: f64 = sums.iter().sum();
            if all > 0.0 {
                self.m[f] = sums.iter().map(|s| (s / all).max(FLOOR)).collect();
            }
        }
    }

    /// EM until `lambda` and every `m` move less than `tol`, or `max_iter` steps; returns
    /// the steps taken.
    pub fn fit(&mut self, pairs: &[Vector], max_iter: usize, tol: f64) -> usize {
        self.fit_counted(pairs, &vec![1.0; pairs.len()], max_iter, tol)
    }

    /// [`Model::fit`] over distinct vectors with their counts.
    pub fn fit_counted(
        &mut self,
        pairs: &[Vector],
        counts: &[f64],
        max_iter: usize,
        tol: f64,
    ) -> usize {
        for i in 1..=max_iter {
            let before = self.clone();
            self.em_step_counted(pairs, counts);
            let moved = (self.lambda - before.lambda).abs().max(
                self.m
                    .iter()
                    .flatten()
                    .zip(before.m.iter().flatten())
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max),
            );
            if moved < tol {
                return i;
            }
        }
        max_iter
    }
}

/// `u` per field and level from comparison vectors of random pairs (nearly all different
/// people): each level's share among the non-null outcomes.
pub fn u_from_random(random: &[Vector], levels: &[usize]) -> Vec<Vec<f64>> {
    levels
        .iter()
        .enumerate()
        .map(|(f, &n)| {
            let mut counts = vec![0.0; n];
            for v in random {
                if let Outcome::Level(l) = v[f] {
                    counts[l as usize] += 1.0;
                }
            }
            let all: f64 = counts.iter().sum();
            counts
                .iter()
                .map(|c| {
                    if all > 0.0 {
                        (c / all).max(FLOOR)
                    } else {
                        1.0 / n as f64
                    }
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    const A: Outcome = Outcome::Level(0);
    const D: Outcome = Outcome::Level(1);

    /// One EM step worked by hand: one field (agree / else), 3 agreeing pairs and 1 not,
    /// u = (0.1, 0.9), m = (0.9, 0.1), lambda = 0.5. E-step: an agreeing pair is a match with
    /// 0.45 / (0.45 + 0.05) = 0.9, the other 0.05 / (0.05 + 0.45) = 0.1. M-step: lambda =
    /// (3 x 0.9 + 0.1) / 4 = 0.7; m(agree) = 2.7 / 2.8, m(else) = 0.1 / 2.8.
    #[test]
    fn one_em_step_by_hand() {
        let mut model = Model {
            lambda: 0.5,
            m: vec![vec![0.9, 0.1]],
            u: vec![vec![0.1, 0.9]],
            dependent: None,
        };
        assert!((model.probability(&[A]) - 0.9).abs() < 1e-12);
        assert!((model.weight(&[A]) - 9f64.log2()).abs() < 1e-12);
        model.em_step(&[vec![A], vec![A], vec![A], vec![D]]);
        assert!((model.lambda - 0.7).abs() < 1e-12);
        assert!((model.m[0][0] - 2.7 / 2.8).abs() < 1e-12);
        assert!((model.m[0][1] - 0.1 / 2.8).abs() < 1e-12);
        assert_eq!(model.u, vec![vec![0.1, 0.9]], "u stays");
        // A null contributes nothing to the weight nor to m.
        assert!((model.weight(&[Outcome::Null]) - (0.7f64 / 0.3).log2()).abs() < 1e-12);
    }

    /// EM recovers the parameters pairs were drawn from: three fields, lambda 0.2, with u
    /// known (as from random pairs), from a start far from the truth; seeded.
    #[test]
    fn em_recovers_simulated_parameters() {
        let truth = Model {
            lambda: 0.2,
            m: vec![vec![0.85, 0.1, 0.05], vec![0.9, 0.1], vec![0.7, 0.2, 0.1]],
            u: vec![vec![0.02, 0.08, 0.9], vec![0.1, 0.9], vec![0.05, 0.15, 0.8]],
            dependent: None,
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let draw = |rng: &mut rand_chacha::ChaCha8Rng, p: &[f64]| {
            let x: f64 = rng.r#gen();
            let mut acc = 0.0;
            for (i, q) in p.iter().enumerate() {
                acc += q;
                if x < acc {
                    return Outcome::Level(i as u8);
                }
            }
            Outcome::Level((p.len() - 1) as u8)
        };
        let pairs: Vec<Vector> = (0..40_000)
            .map(|_| {
                let matched = rng.r#gen::<f64>() < truth.lambda;
                let probs = if matched { &truth.m } else { &truth.u };
                probs.iter().map(|p| draw(&mut rng, p)).collect()
            })
            .collect();
        let mut model = Model {
            lambda: 0.01,
            m: vec![vec![0.5, 0.3, 0.2], vec![0.6, 0.4], vec![0.4, 0.3, 0.3]],
            u: truth.u.clone(),
            dependent: None,
        };
        let steps = model.fit(&pairs, 500, 1e-9);
        assert!(steps < 500, "EM did not settle");
        assert!((model.lambda - 0.2).abs() < 0.01, "{}", model.lambda);
        for (f, m) in model.m.iter().enumerate() {
            for (l, x) in m.iter().enumerate() {
                assert!((x - truth.m[f][l]).abs() < 0.02, "m[{f}][{l}] = {x}");
            }
        }
    }

    #[test]
    fn u_is_each_level_share_among_random_pairs() {
        let random = vec![vec![A], vec![D], vec![D], vec![D], vec![Outcome::Null]];
        assert_eq!(u_from_random(&random, &[2]), vec![vec![0.25, 0.75]]);
    }
}
