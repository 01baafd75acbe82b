//! The workspace's cleaning policy (invalid values, duplicates, missing values) and its
//! feature selection.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What to do with a value that breaks a validity rule.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum InvalidPolicy {
    /// Replace the value by null (the row stays).
    #[default]
    Null,
    /// Drop the whole row.
    Drop,
}

/// Which of several rows with the same customer key survives.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum DedupPolicy {
    /// The most recent by the customers' `updated_at` column, then the most complete.
    #[default]
    Latest,
    /// The one with the fewest missing values, then the most recent.
    MostComplete,
    /// The first in file order.
    First,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CleaningPolicy {
    /// Trim text and collapse runs of white space in every text column.
    #[serde(default = "yes")]
    pub trim_text: bool,
    /// Text columns to lower-case (emails).
    #[serde(default)]
    pub lowercase: Vec<String>,
    /// Customer columns that must not be negative (money, counts).
    #[serde(default)]
    pub non_negative: Vec<String>,
    /// Customer date columns that must not be after the reference date.
    #[serde(default)]
    pub not_future: Vec<String>,
    /// What to do with an invalid customer value.
    #[serde(default)]
    pub invalid: InvalidPolicy,
    /// What to do with an activity line with a non-positive quantity or negative price.
    #[serde(default = "drop_policy")]
    pub invalid_lines: InvalidPolicy,
    /// What to do with activity rows whose customer is not in the customers source
    /// (`null` keeps them out of every customer's figures but counts them, same as drop).
    #[serde(default = "drop_policy")]
    pub orphans: InvalidPolicy,
    /// Remove exact duplicate rows from the activity sources (order lines, tickets, sessions).
    /// Unset: order lines only when they have an identity (an order or line id column; a
    /// log without one cannot tell an exported line twice from two equal purchases, so its
    /// identical lines are kept and counted as possible duplicates); tickets and sessions
    /// always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_activity: Option<bool>,
    /// Which customer row survives among rows with the same key.
    #[serde(default)]
    pub dedup: DedupPolicy,
    /// Optional second key for duplicates under different ids (e.g. `email`, compared
    /// trimmed and lower-cased). Merged customers' activity is moved to the surviving id.
    #[serde(default)]
    pub fuzzy_key: Option<String>,
    /// Missing values per column of the 360 table: keep, drop, mean, median, mode, zero, min,
    /// max, or `constant:VALUE`.
    #[serde(default)]
    pub missing: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

impl CleaningPolicy {
    /// Whether to remove a source's exact duplicate rows, given whether its rows have an
    /// identity (see `dedup_activity`).
    pub fn dedup_lines(&self, identity: bool) -> bool {
        self.dedup_activity.unwrap_or(identity)
    }
}

fn drop_policy() -> InvalidPolicy {
    InvalidPolicy::Drop
}

impl Default for CleaningPolicy {
    fn default() -> Self {
        CleaningPolicy {
            trim_text: true,
            lowercase: Vec::new(),
            non_negative: Vec::new(),
            not_future: Vec::new(),
            invalid: InvalidPolicy::Null,
            invalid_lines: InvalidPolicy::Drop,
            orphans: InvalidPolicy::Drop,
            dedup_activity: None,
            dedup: DedupPolicy::Latest,
            fuzzy_key: None,
            missing: BTreeMap::new(),
        }
    }
}

/// How numeric features are scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scaling {
    /// z-score with the population standard deviation (as scikit-learn's StandardScaler).
    #[default]
    Standard,
    /// (x - min) / (max - min).
    Minmax,
    /// (x - median) / IQR (as scikit-learn's RobustScaler).
    Robust,
    None,
}

crate::choice!(Scaling {
    Standard => "standard",
    Minmax => "minmax",
    Robust => "robust",
    None => "none",
});

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FeatureConfig {
    #[serde(default)]
    pub numeric: Vec<String>,
    #[serde(default)]
    pub categorical: Vec<String>,
    #[serde(default)]
    pub scaling: Scaling,
    /// Columns transformed with ln(1 + x) before scaling (skewed money columns).
    #[serde(default)]
    pub log1p: Vec<String>,
    /// Categories kept per categorical column; rarer ones are pooled into `other`.
    #[serde(default = "default_max_categories")]
    pub max_categories: usize,
}

fn default_max_categories() -> usize {
    20
}

impl FeatureConfig {
    /// Leaves `column` out of the features (numeric, categorical and log1p: a target is not
    /// a feature); whether it was among them.
    pub fn without(&mut self, column: &str) -> bool {
        let before = self.numeric.len() + self.categorical.len();
        self.numeric.retain(|f| f != column);
        self.categorical.retain(|f| f != column);
        self.log1p.retain(|f| f != column);
        self.numeric.len() + self.categorical.len() < before
    }
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            numeric: Vec::new(),
            categorical: Vec::new(),
            scaling: Scaling::Standard,
            log1p: Vec::new(),
            max_categories: default_max_categories(),
        }
    }
}

/// A missing-value policy for one column.
#[derive(Debug, Clone, PartialEq)]
pub enum MissingPolicy {
    Keep,
    Drop,
    Mean,
    Median,
    Mode,
    Zero,
    Min,
    Max,
    Constant(String),
}

impl MissingPolicy {
    pub fn parse(s: &str) -> std::result::Result<MissingPolicy, String> {
        Ok(match s {
            "keep" => MissingPolicy::Keep,
            "drop" => MissingPolicy::Drop,
            "mean" => MissingPolicy::Mean,
            "median" => MissingPolicy::Median,
            "mode" => MissingPolicy::Mode,
            "zero" => MissingPolicy::Zero,
            "min" => MissingPolicy::Min,
            "max" => MissingPolicy::Max,
            _ => match s.strip_prefix("constant:") {
                Some(v) => MissingPolicy::Constant(v.to_string()),
                None => {
                    return Err(format!(
                        "unknown policy `{s}` (use keep, drop, mean, median, mode, zero, min, max or constant:VALUE)"
                    ));
                }
            },
        })
    }
}
