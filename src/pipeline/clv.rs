//! Customer lifetime value: transactions -> the per-customer summary at the calibration end
//! -> BG/NBD and Gamma-Gamma, the same for `crmlens clv`, the CLV screen and the report.

use std::path::Path;
use std::time::Instant;

use chrono::NaiveDate;

use crate::analytics::clv::{BgNbd, ClvParams, ClvRun, GammaGamma, Rfm, run_clv, run_fixed};
use crate::data::features::transactions::{
    TransactionColumns, date_span, read_transactions, summarise, transaction_columns,
};
use crate::progress::Progress;

use super::error::Result;
use super::settings::{Section, check_real, check_whole};
use crate::analytics::limits;
use serde::{Deserialize, Serialize};

/// The unit recency, T and the models' rates are counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeUnit {
    #[default]
    Days,
    Weeks,
}

crate::choice!(TimeUnit { Days => "days" | "day", Weeks => "weeks" | "week" });

impl TimeUnit {
    /// Days in one unit.
    pub fn days(self) -> f64 {
        match self {
            TimeUnit::Days => 1.0,
            TimeUnit::Weeks => 7.0,
        }
    }

    /// One unit, as in "per day".
    pub fn singular(self) -> &'static str {
        match self {
            TimeUnit::Days => "day",
            TimeUnit::Weeks => "week",
        }
    }
}

/// A date typed as YYYY-MM-DD.
pub fn date(s: &str) -> std::result::Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| "not a date; use YYYY-MM-DD, e.g. 2024-06-30".to_string())
}

/// The CLV analysis's settings: the `[clv]` section of a workspace, the flags of
/// `crmlens clv` and what the CLV screen edits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct ClvSettings {
    /// Fit on purchases up to this day (YYYY-MM-DD); later ones are the holdout. The
    /// workbench's default: six months before the last purchase.
    #[arg(long = "calibration-end", required = true, value_parser = date)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration_end: Option<NaiveDate>,
    /// The holdout's last day (YYYY-MM-DD; default: the last transaction's day).
    #[arg(long = "observation-end", value_parser = date)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observation_end: Option<NaiveDate>,
    /// The time unit: day or week.
    #[arg(long = "time-unit", value_enum, ignore_case = true, default_value_t = TimeUnit::Days)]
    pub unit: TimeUnit,
    /// CLV horizon in months (1 to 120).
    #[arg(long = "horizon", default_value_t = 12, value_parser = crate::choice::whole::<usize>)]
    pub horizon_months: usize,
    /// Monthly discount rate (0 to 1).
    #[arg(long = "discount-rate", default_value_t = 0.01)]
    pub discount_rate: f64,
}

impl Default for ClvSettings {
    fn default() -> Self {
        ClvSettings {
            calibration_end: None,
            observation_end: None,
            unit: TimeUnit::Days,
            horizon_months: 12,
            discount_rate: 0.01,
        }
    }
}

impl Section for ClvSettings {
    const NAME: &'static str = "clv";

    fn out_of_range(&self) -> Vec<(&'static str, String)> {
        [
            check_whole(
                "horizon_months",
                self.horizon_months,
                limits::HORIZON_MONTHS,
            ),
            check_real("discount_rate", self.discount_rate, limits::DISCOUNT_RATE),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// Bins of the CLV histogram (the last also holds everything above the 99th percentile).
pub const BINS: usize = 10;

/// What the screen shows of the CLV distribution, computed once per run (not per frame).
#[derive(Debug, Clone, PartialEq)]
pub struct ClvStats {
    /// Histogram: `counts` in equal bins of `bin_width` over [0, p99]; the last bin also
    /// holds the rest.
    pub bin_width: f64,
    pub counts: Vec<u64>,
    pub mean: f64,
    pub median: f64,
    pub total: f64,
}

impl ClvStats {
    pub fn of(values: &[f64]) -> ClvStats {
        let mut sorted: Vec<f64> = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| {
            sorted
                .get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0.0)
        };
        let bin_width = at(0.99).max(1e-9) / BINS as f64;
        let mut counts = vec![0u64; BINS];
        for v in values {
            counts[((v.max(0.0) / bin_width) as usize).min(BINS - 1)] += 1;
        }
        let total: f64 = values.iter().sum();
        ClvStats {
            bin_width,
            counts,
            mean: total / values.len().max(1) as f64,
            median: sorted.get(sorted.len() / 2).copied().unwrap_or(0.0),
            total,
        }
    }
}

/// A finished CLV run with the per-customer summary it was computed from.
#[derive(Debug, Clone)]
pub struct ClvOutcome {
    pub calibration_end: NaiveDate,
    pub settings: ClvSettings,
    pub ids: Vec<String>,
    pub frequency: Vec<f64>,
    pub run: ClvRun,
    /// Customers whose first purchase is after the calibration end.
    pub excluded: usize,
    pub dropped_lines: usize,
    pub last_date: NaiveDate,
    /// Customers by CLV, highest first.
    pub order: Vec<usize>,
    pub stats: ClvStats,
    /// The columns read.
    pub columns: TransactionColumns,
    /// The rest of the per-customer summary (time units), for the per-customer export.
    pub recency: Vec<f64>,
    pub t: Vec<f64>,
    pub monetary: Vec<f64>,
    pub first_date: NaiveDate,
    /// Seconds: reading and checking the lines; the per-customer summary; both fits and scoring.
    pub seconds: [f64; 3],
}

/// Column names for the transactions; None: the workspace's roles or the usual names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClvColumns {
    pub customer: Option<String>,
    pub date: Option<String>,
    pub amount: Option<String>,
    /// The analyst's role choices (the role editor), under the named columns.
    pub given: crate::data::sources::roles::Given,
}

/// Reads the transactions of `input` (a data file, or a workspace's orders source), summarises
/// every customer at the calibration end (by default six months before the last purchase, so
/// there is a holdout to check against) and fits the models.
pub fn fit(
    input: &Path,
    columns: &ClvColumns,
    settings: &ClvSettings,
    progress: &Progress,
) -> Result<ClvOutcome> {
    progress.start("reading transactions", 1);
    let cols = transaction_columns(
        input,
        columns.customer.as_deref(),
        columns.date.as_deref(),
        columns.amount.as_deref(),
        &columns.given,
    )?;
    run(input, cols, settings, None, progress)
}

/// Scores the customers of `input` with models fitted before (a saved model's), reading the
/// columns it was trained on: every customer's figures at `settings.calibration_end` (by
/// default the last purchase's day), with the holdout check when later purchases exist. At
/// the training run's calibration end on its data, the figures are the training run's.
pub fn score(
    input: &Path,
    cols: TransactionColumns,
    settings: &ClvSettings,
    models: (BgNbd, GammaGamma),
    progress: &Progress,
) -> Result<ClvOutcome> {
    progress.start("reading transactions", 1);
    run(input, cols, settings, Some(models), progress)
}

fn run(
    input: &Path,
    cols: TransactionColumns,
    settings: &ClvSettings,
    fixed: Option<(BgNbd, GammaGamma)>,
    progress: &Progress,
) -> Result<ClvOutcome> {
    let started = Instant::now();
    let (tx, dropped_lines) = read_transactions(input, &cols)?;
    progress.check()?;
    let (calibration_end, span_last) = match settings.calibration_end {
        Some(end) => (end, None),
        None => {
            let (_, last) = date_span(&tx)?;
            // A fit keeps six months to check against; scoring is as of the last day.
            let end = if fixed.is_some() {
                last
            } else {
                last.checked_sub_months(chrono::Months::new(6))
                    .unwrap_or(last)
            };
            (end, Some(last))
        }
    };
    let unit_days = settings.unit.days();
    let read_s = started.elapsed().as_secs_f64();
    progress.label("summarising customers");
    let s = summarise(&tx, calibration_end, settings.observation_end, unit_days)?;
    let summary_s = started.elapsed().as_secs_f64() - read_s;
    drop(tx);
    progress.check()?;
    let rfm = Rfm {
        x: s.frequency.clone(),
        t_x: s.recency.clone(),
        t: s.t.clone(),
        monetary: s.monetary.clone(),
    };
    let params = ClvParams {
        unit_days,
        horizon_months: settings.horizon_months,
        discount_rate: settings.discount_rate,
    };
    let holdout =
        (s.holdout_duration > 0.0).then(|| (&s.holdout_purchases[..], s.holdout_duration));
    let models_started = Instant::now();
    let run = match fixed {
        Some(models) => run_fixed(&rfm, &params, holdout, models, progress)?,
        None => run_clv(&rfm, &params, holdout, progress)?,
    };
    let models_s = models_started.elapsed().as_secs_f64();
    let mut order: Vec<usize> = (0..s.ids.len()).collect();
    order.sort_by(|&i, &j| run.rows[j].clv.total_cmp(&run.rows[i].clv).then(i.cmp(&j)));
    let clv: Vec<f64> = run.rows.iter().map(|r| r.clv).collect();
    let stats = ClvStats::of(&clv);
    let mut settings = settings.clone();
    settings.calibration_end = Some(calibration_end);
    Ok(ClvOutcome {
        calibration_end,
        settings,
        ids: s.ids,
        frequency: s.frequency,
        run,
        excluded: s.excluded,
        dropped_lines,
        last_date: span_last.unwrap_or(s.last_date),
        order,
        stats,
        columns: cols,
        recency: s.recency,
        t: s.t,
        monetary: s.monetary,
        first_date: s.first_date,
        seconds: [read_s, summary_s, models_s],
    })
}

impl ClvOutcome {
    /// Every customer's summary and figures, the table `crmlens clv --out` writes (the
    /// customer column first, as in the transactions).
    pub fn table(&self) -> Result<polars::prelude::DataFrame> {
        use polars::prelude::{Column, DataFrame};
        let col = |name: &str, v: Vec<f64>| Column::new(name.into(), v);
        let r = &self.run.rows;
        DataFrame::new_infer_height(vec![
            Column::new(self.columns.customer.as_str().into(), self.ids.clone()),
            col("frequency", self.frequency.clone()),
            col("recency", self.recency.clone()),
            col("T", self.t.clone()),
            col("monetary", self.monetary.clone()),
            col("p_alive", r.iter().map(|x| x.p_alive).collect()),
            col(
                "expected_purchases",
                r.iter().map(|x| x.expected_purchases).collect(),
            ),
            col(
                "expected_spend",
                r.iter().map(|x| x.expected_spend).collect(),
            ),
            col("clv", r.iter().map(|x| x.clv).collect()),
        ])
        .map_err(|e| crate::data::DataError::polars("the CLV table", e).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_count_everything_and_cap_the_bins_at_p99() {
        let mut v: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        v.push(1e9);
        let s = ClvStats::of(&v);
        assert_eq!(s.counts.iter().sum::<u64>(), 1001);
        // p99 of 1001 values is 990; 10 bins of 99.
        assert!((s.bin_width - 99.0).abs() < 1e-9, "{}", s.bin_width);
        assert_eq!(s.counts[0], 99);
        assert!(s.counts[BINS - 1] >= 1);
        assert_eq!(s.median, 500.0);
        assert_eq!(s.total, 499_500.0 + 1e9);
    }
}
