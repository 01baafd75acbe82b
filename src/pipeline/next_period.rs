//! The next-period value target: from transactions (a workspace's orders or a data file),
//! every customer's features as of a calibration end, from the purchases up to it only, and
//! the target from the purchases after it up to the observation end (spend, or purchase
//! days), the split the CLV screen's holdout uses. The regressors of [`super::predict`] then
//! predict it, beside BG/NBD (+ Gamma-Gamma for spend) fitted on the same calibration
//! summaries and asked for the same window, on the same test customers.
//!
//! Customers whose first purchase is after the calibration end are not in the table (they
//! have no history to predict from), as in the CLV fit.

use std::path::Path;

use chrono::NaiveDate;
use polars::prelude::{Column, DataFrame};

use super::clv::{ClvColumns, ClvSettings};
use super::error::Result;
use crate::analytics::clv::{ClvParams, Rfm, run_clv};
use crate::analytics::regress::{RegressionMetrics, regression_metrics};
use crate::data::error::DataError;
use crate::data::features::transactions::{
    date_span, read_transactions, summarise, transaction_columns,
};
use crate::data::sources::workspace::{FeatureConfig, Scaling};
use crate::progress::Progress;

/// What the next period's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NextTarget {
    /// The amount spent in the window.
    #[default]
    Spend,
    /// The days with a purchase in the window.
    Purchases,
}

crate::choice!(NextTarget { Spend => "spend" | "value" | "revenue", Purchases => "purchases" | "orders" });

impl NextTarget {
    /// The target column's name in the built table.
    pub fn column(self) -> &'static str {
        match self {
            NextTarget::Spend => "next_spend",
            NextTarget::Purchases => "next_purchases",
        }
    }
}

/// The features built from the calibration window, in table order.
pub const FEATURES: [&str; 8] = [
    "purchases",
    "repeat_purchases",
    "days_since_last",
    "tenure_days",
    "active_span_days",
    "total_spend",
    "mean_spend",
    "recent_spend_90d",
];

/// Features read through ln(1 + x) before scaling (counts and amounts with long tails).
const LOG1P: [&str; 5] = [
    "purchases",
    "repeat_purchases",
    "total_spend",
    "mean_spend",
    "recent_spend_90d",
];

/// A built next-period table and the lifetime model's expectation of its target.
#[derive(Debug, Clone)]
pub struct NextPeriod {
    pub target: NextTarget,
    pub calibration_end: NaiveDate,
    pub observation_end: NaiveDate,
    /// The window's length in days.
    pub days: i64,
    /// The customer id column's name in the transactions.
    pub customer: String,
    /// One row per customer: the id, [`FEATURES`], the target column.
    pub table: DataFrame,
    /// The features' configuration for the model matrix (log1p on counts and amounts).
    pub features: FeatureConfig,
    /// BG/NBD's expected purchase days in the window (times Gamma-Gamma's expected spend
    /// per purchase for spend), per customer.
    pub clv_expected: Vec<f64>,
    /// Customers left out: first purchase after the calibration end.
    pub excluded: usize,
}

impl NextTarget {
    /// The lifetime model that predicts it: BG/NBD, times Gamma-Gamma for spend.
    pub fn lifetime_model(self) -> &'static str {
        match self {
            NextTarget::Spend => "bgnbd+gamma_gamma",
            NextTarget::Purchases => "bgnbd",
        }
    }
}

impl NextPeriod {
    /// The target's values, per customer.
    pub fn y(&self) -> Vec<f64> {
        self.table
            .column(self.target.column())
            .ok()
            .and_then(|c| {
                c.f64()
                    .ok()
                    .map(|f| f.iter().map(|v| v.unwrap_or(0.0)).collect())
            })
            .unwrap_or_default()
    }

    /// The lifetime model's test metrics on `rows` of the target.
    pub fn clv_metrics(&self, rows: &[usize]) -> RegressionMetrics {
        let y = self.y();
        let actual: Vec<f64> = rows.iter().map(|&r| y[r]).collect();
        let predicted: Vec<f64> = rows.iter().map(|&r| self.clv_expected[r]).collect();
        regression_metrics(&actual, &predicted)
    }
}

/// Reads the transactions of `input`, summarises every customer at the calibration end (by
/// default six months before the last purchase, as the CLV fit), builds the table and fits
/// BG/NBD and Gamma-Gamma on the same summaries.
pub fn build(
    input: &Path,
    columns: &ClvColumns,
    settings: &ClvSettings,
    target: NextTarget,
    progress: &Progress,
) -> Result<NextPeriod> {
    progress.start("reading transactions", 1);
    let cols = transaction_columns(
        input,
        columns.customer.as_deref(),
        columns.date.as_deref(),
        columns.amount.as_deref(),
        &columns.given,
    )?;
    let (tx, _) = read_transactions(input, &cols)?;
    progress.check()?;
    let (_, last) = date_span(&tx)?;
    let calibration_end = settings.calibration_end.unwrap_or_else(|| {
        last.checked_sub_months(chrono::Months::new(6))
            .unwrap_or(last)
    });
    let observation_end = settings.observation_end.unwrap_or(last);
    if observation_end <= calibration_end {
        return Err(DataError::Invalid(format!(
            "{}: no next period: the observation end {observation_end} is not after the calibration end {calibration_end}; pick an earlier --calibration-end",
            input.display()
        ))
        .into());
    }
    progress.label("summarising customers");
    let s = summarise(&tx, calibration_end, Some(observation_end), 1.0)?;
    drop(tx);
    progress.check()?;
    let n = s.ids.len();
    if n < 10 {
        return Err(DataError::Invalid(format!(
            "{}: {n} customers bought by the calibration end {calibration_end}; a next-period model needs at least 10",
            input.display()
        ))
        .into());
    }
    let mean_spend: Vec<f64> = s
        .total_spend
        .iter()
        .zip(&s.purchases)
        .map(|(t, k)| t / k)
        .collect();
    let y = match target {
        NextTarget::Spend => s.holdout_spend.clone(),
        NextTarget::Purchases => s.holdout_purchases.clone(),
    };
    let table = DataFrame::new_infer_height(vec![
        Column::new(cols.customer.as_str().into(), s.ids.clone()),
        Column::new("purchases".into(), s.purchases.clone()),
        Column::new("repeat_purchases".into(), s.frequency.clone()),
        Column::new("days_since_last".into(), s.days_since_last.clone()),
        Column::new("tenure_days".into(), s.t.clone()),
        Column::new("active_span_days".into(), s.recency.clone()),
        Column::new("total_spend".into(), s.total_spend.clone()),
        Column::new("mean_spend".into(), mean_spend),
        Column::new("recent_spend_90d".into(), s.recent_spend.clone()),
        Column::new(target.column().into(), y),
    ])
    .map_err(|e| DataError::polars("the next-period table", e))?;
    // The lifetime models on the same calibration summaries, asked for the same window.
    progress.label("fitting BG/NBD and Gamma-Gamma on the calibration window");
    let rfm = Rfm {
        x: s.frequency.clone(),
        t_x: s.recency.clone(),
        t: s.t.clone(),
        monetary: s.monetary.clone(),
    };
    let clv = run_clv(&rfm, &ClvParams::default(), None, progress)?;
    let window = s.holdout_duration;
    let clv_expected: Vec<f64> = (0..n)
        .map(|i| {
            let purchases = clv
                .bgnbd
                .expected_purchases(window, rfm.x[i], rfm.t_x[i], rfm.t[i]);
            match target {
                NextTarget::Purchases => purchases,
                NextTarget::Spend => {
                    purchases * clv.gamma_gamma.expected_spend(rfm.x[i], rfm.monetary[i])
                }
            }
        })
        .collect();
    Ok(NextPeriod {
        target,
        calibration_end,
        observation_end,
        days: (observation_end - calibration_end).num_days(),
        customer: cols.customer.clone(),
        table,
        features: FeatureConfig {
            numeric: FEATURES.iter().map(|s| s.to_string()).collect(),
            categorical: Vec::new(),
            scaling: Scaling::Standard,
            log1p: LOG1P.iter().map(|s| s.to_string()).collect(),
            ..FeatureConfig::default()
        },
        clv_expected,
        excluded: s.excluded,
    })
}

/// A next-period job on `input`'s transactions with the Predict settings' regressor: one run
/// (its rows keyed by the built table's customer ids, with the lifetime model beside it), the
/// grid search, or the comparison of every regressor.
pub fn predict(
    input: &Path,
    columns: &ClvColumns,
    window: &ClvSettings,
    target: NextTarget,
    settings: &super::predict::PredictSettings,
    mode: super::predict::Mode,
    progress: &Progress,
) -> Result<super::predict::Predicted> {
    use super::predict::{Mode, Predicted};
    use crate::analytics::predict::{ModelKind, Task};
    let np = build(input, columns, window, target, progress)?;
    let m = super::input::model_matrix(&np.table, &np.features)?;
    let y = np.y();
    let params = settings.params();
    Ok(match mode {
        Mode::Grid => {
            super::predict::check_model(params.model, Task::Regression)?;
            Predicted::Grid(Box::new(crate::analytics::regress::grid_search_values(
                m.values.view(),
                &y,
                &params,
                &crate::analytics::predict::Grid::default(),
                progress,
            )?))
        }
        Mode::Compare => Predicted::Compared(Box::new(super::predict::compare_values(
            &m,
            &y,
            settings,
            &ModelKind::REGRESSORS,
            progress,
        )?)),
        Mode::Run => {
            super::predict::check_model(params.model, Task::Regression)?;
            let names = m.names.clone();
            let mut p =
                super::predict::run_values(&m, &names, target.column(), y, &params, progress)?;
            p.next = Some(super::predict::NextSummary {
                target,
                calibration_end: np.calibration_end,
                observation_end: np.observation_end,
                days: np.days,
                customer: np.customer.clone(),
                lifetime_model: target.lifetime_model(),
                lifetime_test: np.clv_metrics(&p.run.test_rows),
            });
            p.ids = np.table.column(&np.customer).ok().and_then(|c| {
                c.str()
                    .ok()
                    .map(|s| s.iter().map(|v| v.unwrap_or("").to_string()).collect())
            });
            Predicted::Values(Box::new(p))
        }
    })
}
