//! The workspace's analysis sections (`[segment]`, `[rules]`, `[predict]`, `[clv]`,
//! `[recommend]`): every key optional, names checked when they are applied.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// `[segment]`: every key optional (a missing one keeps the screen's default). Names are
/// checked when the workspace is applied (`app::settings`), so a wrong one is reported with
/// its line instead of failing the whole file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct SegmentSettings {
    /// kmeans, dbscan or gmm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_init: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iter: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tol: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_points: Option<usize>,
    /// GMM: full, tied, diag or spherical.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covariance: Option<String>,
    /// The k sweep's largest k.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep_max_k: Option<usize>,
}

/// `[rules]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct RulesSettings {
    /// order (one basket per order) or customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baskets: Option<String>,
    /// product or category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<String>,
    /// fpgrowth or apriori.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_support: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_confidence: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_lift: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_len: Option<usize>,
    /// The table's sort: lift, confidence, support, leverage, conviction, zhangs_metric, count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    /// The table's filter (item text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

/// `[predict]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct PredictSettings {
    /// The column to predict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// forest, tree or logistic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trees: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_leaf: Option<usize>,
    /// gini or entropy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criterion: Option<String>,
    /// Logistic regression's L2 strength.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folds: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_size: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// `[clv]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ClvSettings {
    /// End of the calibration period (default: six months before the last purchase).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration_end: Option<NaiveDate>,
    /// days or weeks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizon_months: Option<usize>,
    /// Monthly discount rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_rate: Option<f64>,
}

/// `[recommend]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct RecommendSettings {
    /// Recommendations per customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top: Option<usize>,
    /// Neighbours kept per item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbours: Option<usize>,
}
