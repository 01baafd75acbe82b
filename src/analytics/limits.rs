//! The allowed range of every analysis parameter, one rule each. The workspace reader
//! (`app::settings`), the command line (`cli`) and the algorithms themselves check against
//! these, so a value is refused the same way, with the same words, wherever it comes from:
//! `"{value} is out of range (use {lo} to {hi})"`, prefixed by the workspace key or the flag.
//!
//! The upper bounds keep every run finite: restarts, iterations and horizons are loops, and
//! a value far past any useful setting (`--n-init 100000`, `--horizon 1000000000`) is a
//! typo, not a request to run for days.

use super::error::AnalyticsError;

/// A whole-number parameter's inclusive range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Whole {
    pub lo: usize,
    pub hi: usize,
}

/// A real parameter's inclusive range (NaN and infinities are always out of range).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Real {
    pub lo: f64,
    pub hi: f64,
}

impl Whole {
    /// `v`, or what is wrong with it.
    pub fn check(self, v: usize) -> Result<usize, String> {
        if (self.lo..=self.hi).contains(&v) {
            Ok(v)
        } else {
            Err(format!(
                "{v} is out of range (use {} to {})",
                self.lo, self.hi
            ))
        }
    }

    /// `v` given as `name` (a flag such as `--n-init`, or a parameter's name), or a one-line
    /// error naming it.
    pub fn named(self, name: &str, v: usize) -> Result<usize, AnalyticsError> {
        self.check(v)
            .map_err(|m| AnalyticsError::Input(format!("{name} {m}")))
    }
}

impl Real {
    pub fn check(self, v: f64) -> Result<f64, String> {
        if v.is_finite() && v >= self.lo && v <= self.hi {
            Ok(v)
        } else {
            Err(format!(
                "{v} is out of range (use {} to {})",
                self.lo, self.hi
            ))
        }
    }

    pub fn named(self, name: &str, v: f64) -> Result<f64, AnalyticsError> {
        self.check(v)
            .map_err(|m| AnalyticsError::Input(format!("{name} {m}")))
    }
}

/// Clusters (k-means, Gaussian mixture).
pub const K: Whole = Whole { lo: 1, hi: 1000 };
/// Restarts of k-means or the mixture.
pub const N_INIT: Whole = Whole { lo: 1, hi: 1000 };
/// Iterations per restart.
pub const MAX_ITER: Whole = Whole { lo: 1, hi: 100_000 };
/// Convergence tolerance (k-means: of the mean variance; mixture: of the mean
/// log-likelihood per row).
pub const TOL: Real = Real { lo: 0.0, hi: 1.0 };
/// DBSCAN's radius in the scaled space.
pub const EPS: Real = Real { lo: 1e-9, hi: 1e9 };
/// DBSCAN's points that make a core point.
pub const MIN_POINTS: Whole = Whole {
    lo: 1,
    hi: 1_000_000,
};
/// The k sweep's largest k on the Segments screen.
pub const SWEEP_MAX_K: Whole = Whole { lo: 3, hi: 50 };
/// The k sweep's k range on the command line.
pub const SWEEP_K: Whole = Whole { lo: 2, hi: 1000 };

/// Association rules: support as a fraction of baskets.
pub const MIN_SUPPORT: Real = Real { lo: 1e-9, hi: 1.0 };
pub const MIN_CONFIDENCE: Real = Real { lo: 0.0, hi: 1.0 };
pub const MIN_LIFT: Real = Real { lo: 0.0, hi: 1e9 };
/// Longest itemset on the Rules screen (rules need two items).
pub const MAX_LEN: Whole = Whole { lo: 2, hi: 10 };

/// Trees in a forest.
pub const TREES: Whole = Whole { lo: 1, hi: 10_000 };
pub const MAX_DEPTH: Whole = Whole { lo: 1, hi: 64 };
pub const MIN_LEAF: Whole = Whole {
    lo: 1,
    hi: 1_000_000,
};
/// Logistic regression's L2 strength.
pub const ALPHA: Real = Real { lo: 0.0, hi: 1e9 };
/// Two classes: the probability from which a row is called positive (0 and 1 would call
/// every row the same).
pub const THRESHOLD: Real = Real {
    lo: 0.001,
    hi: 0.999,
};
/// Cross-validation folds.
pub const FOLDS: Whole = Whole { lo: 2, hi: 50 };
/// Share of rows held out for testing.
pub const TEST_SIZE: Real = Real { lo: 0.05, hi: 0.9 };

/// Gradient boosting: the learning rate (shrinkage of each tree).
pub const LEARNING_RATE: Real = Real { lo: 1e-4, hi: 1.0 };
/// Gradient boosting: rounds at most.
pub const ROUNDS: Whole = Whole { lo: 1, hi: 10_000 };
/// Gradient boosting: leaves per tree.
pub const MAX_LEAVES: Whole = Whole { lo: 2, hi: 4096 };
/// Gradient boosting: L2 penalty on leaf values.
pub const L2: Real = Real { lo: 0.0, hi: 1e6 };
/// Gradient boosting: share of the rows or features each tree sees.
pub const SAMPLE_SHARE: Real = Real { lo: 0.01, hi: 1.0 };
/// Share of the training rows held out for early stopping.
pub const VALIDATION_FRACTION: Real = Real { lo: 0.01, hi: 0.5 };
/// Rounds (or epochs) without improvement before early stopping.
pub const PATIENCE: Whole = Whole { lo: 1, hi: 1000 };

/// Neural network: units of a hidden layer.
pub const HIDDEN_UNITS: Whole = Whole { lo: 1, hi: 4096 };
/// Neural network: Adam's step size.
pub const ADAM_LEARNING_RATE: Real = Real { lo: 1e-6, hi: 1.0 };
/// Neural network: share of a hidden layer's units dropped while training.
pub const DROPOUT: Real = Real { lo: 0.0, hi: 0.9 };
/// Neural network: passes over the training rows at most.
pub const EPOCHS: Whole = Whole { lo: 1, hi: 10_000 };
/// Neural network: rows per mini-batch.
pub const BATCH_SIZE: Whole = Whole {
    lo: 1,
    hi: 1_000_000,
};

/// CLV horizon in months (ten years; each month is a sum over every customer).
pub const HORIZON_MONTHS: Whole = Whole { lo: 1, hi: 120 };
/// Monthly discount rate.
pub const DISCOUNT_RATE: Real = Real { lo: 0.0, hi: 1.0 };

/// Recommendations per customer.
pub const TOP: Whole = Whole { lo: 1, hi: 100 };
/// Neighbours kept per item.
pub const NEIGHBOURS: Whole = Whole { lo: 1, hi: 10_000 };

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_outside_the_range_are_refused_with_the_range() {
        assert_eq!(N_INIT.check(10), Ok(10));
        assert_eq!(
            N_INIT.check(0).unwrap_err(),
            "0 is out of range (use 1 to 1000)"
        );
        let e = N_INIT.named("--n-init", 100_000).unwrap_err().to_string();
        assert_eq!(e, "--n-init 100000 is out of range (use 1 to 1000)");
        assert_eq!(MIN_CONFIDENCE.check(0.5), Ok(0.5));
        for bad in [2.0, -0.1, f64::NAN, f64::INFINITY] {
            assert!(MIN_CONFIDENCE.check(bad).is_err(), "{bad}");
        }
        assert!(
            MIN_LIFT
                .named("--min-lift", f64::NAN)
                .unwrap_err()
                .to_string()
                .starts_with("--min-lift NaN is out of range")
        );
    }
}
