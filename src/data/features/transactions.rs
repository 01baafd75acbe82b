//! Transactions (customer, date, amount) summarised per customer for the lifetime-value
//! models, with the conventions of the Python `lifetimes` package's
//! `summary_data_from_transaction_data`: lines on one day are one purchase (amounts summed);
//! frequency = purchase days after the first; recency = first to last purchase; T = first
//! purchase to the calibration end; monetary = mean of the repeat purchase days' amounts (the
//! first excluded; 0 without repeats). Customers whose first purchase is after the
//! calibration end are left out and counted. Purchase days after the calibration end are the
//! holdout. Times are in days divided by the unit's days (weeks are fractional, where
//! `lifetimes` rounds to calendar weeks).

use std::path::Path;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::data::dates::{from_epoch_days, to_date_expr};
use crate::data::error::{DataError, Result};
use crate::data::sources::workspace::Workspace;

/// Where the amount of a line comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Amount {
    Column(String),
    /// quantity x unit price.
    Product(String, String),
}

impl Amount {
    fn columns(&self) -> Vec<&str> {
        match self {
            Amount::Column(c) => vec![c.as_str()],
            Amount::Product(q, p) => vec![q.as_str(), p.as_str()],
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Amount::Column(c) => c.clone(),
            Amount::Product(q, p) => format!("{q} x {p}"),
        }
    }
}

/// The columns of the transactions.
#[derive(Debug, Clone, PartialEq)]
pub struct TransactionColumns {
    pub customer: String,
    pub date: String,
    pub amount: Amount,
}

/// The transaction columns for `input` (a data file, or a workspace's orders): those
/// given, else by the columns' roles (see [`crate::data::sources::roles`]): the customer, the
/// date, and the amount (a line-total column, else quantity x unit price, else the price).
pub fn transaction_columns(
    input: &Path,
    customer: Option<&str>,
    date: Option<&str>,
    amount: Option<&str>,
    given: &[(crate::data::sources::roles::Role, Option<String>)],
) -> Result<TransactionColumns> {
    use crate::data::sources::roles::{self, Role};
    let roles = roles::of_input_given(input, given)?;
    let flags = "--customer-col, --date-col and --amount-col";
    let need = |given: Option<&str>, r: Role| -> Result<String> {
        given
            .map(str::to_string)
            .or_else(|| roles.get(r).map(str::to_string))
            .ok_or_else(|| roles::missing_error(input, "lifetime value", &roles, &[r], flags))
    };
    let customer = need(customer, Role::Customer)?;
    let date = need(date, Role::Date)?;
    let amount = match (
        amount,
        roles.get(Role::Amount),
        roles.get(Role::Quantity),
        roles.get(Role::UnitPrice),
    ) {
        (Some(a), ..) => Amount::Column(a.to_string()),
        (None, Some(a), ..) => Amount::Column(a.to_string()),
        (None, None, Some(q), Some(p)) => Amount::Product(q.to_string(), p.to_string()),
        (None, None, None, Some(p)) => Amount::Column(p.to_string()),
        _ => {
            return Err(roles::missing_error(
                input,
                "lifetime value",
                &roles,
                &[Role::Amount],
                flags,
            ));
        }
    };
    Ok(TransactionColumns {
        customer,
        date,
        amount,
    })
}

/// The transactions of `input` (a file, or a workspace's orders source) with the customer as
/// text, the date as a `Date` and the amount as f64. Lines the integration drops are dropped
/// here too, and their count returned: exact duplicates where lines have an identity (an
/// order or line id; see the cleaning policy's `dedup_activity`), lines without a customer,
/// date or amount, negative amounts (returns) and quantities <= 0. A date column whose text
/// does not read as dates is refused with examples.
pub fn read_transactions(input: &Path, cols: &TransactionColumns) -> Result<(DataFrame, usize)> {
    use crate::data::sources::roles::{self, Role};
    let is_workspace = crate::data::sources::workspace::is_workspace(input);
    let mut wanted = vec![cols.customer.as_str(), cols.date.as_str()];
    wanted.extend(cols.amount.columns());
    let found = roles::of_input(input)?;
    let identity = found.get(Role::Order).is_some() || found.get(Role::Line).is_some();
    let dedup = if is_workspace {
        Workspace::load(input)?.cleaning.dedup_lines(identity)
    } else {
        identity
    };
    let name = input.display().to_string();
    // Exact duplicate lines are told apart on every column (the order, the product...), not
    // only on the ones read here: two lines of one order with the same quantity and price
    // are two purchases.
    if let Some(c) = wanted
        .iter()
        .enumerate()
        .find(|(i, c)| wanted[..*i].contains(c))
        .map(|(_, c)| *c)
    {
        return Err(DataError::Invalid(format!(
            "{name}: column `{c}` is given for two roles; each role (customer, date, amount) needs a column of its own"
        )));
    }
    let (raw, lines) = if dedup {
        let all = crate::data::features::baskets::all_order_lines(input)?;
        let lines = all.height();
        let unique = all
            .unique_stable(None, UniqueKeepStrategy::First, None)
            .map_err(|e| DataError::polars(&name, e))?;
        let names: Vec<String> = unique
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        if let Some(c) = wanted.iter().find(|c| !names.iter().any(|n| n == *c)) {
            return Err(DataError::Invalid(format!(
                "{name}: no column `{c}`; the order lines have: {}",
                names.join(", ")
            )));
        }
        let picked = unique
            .select(wanted.iter().copied())
            .map_err(|e| DataError::polars(&name, e))?;
        (picked, lines)
    } else {
        let raw = crate::data::features::baskets::order_lines(input, &wanted)?;
        let lines = raw.height();
        (raw, lines)
    };
    let mut raw = raw;
    let date_dtype = raw
        .column(&cols.date)
        .map_err(|e| DataError::polars(&name, e))?
        .dtype()
        .clone();
    let amount = match &cols.amount {
        Amount::Column(c) => col(c.as_str()).cast(DataType::Float64),
        Amount::Product(q, p) => {
            col(q.as_str()).cast(DataType::Float64) * col(p.as_str()).cast(DataType::Float64)
        }
    };
    if let Amount::Product(q, _) = &cols.amount {
        raw = raw
            .lazy()
            .filter(col(q.as_str()).cast(DataType::Float64).gt(lit(0.0)))
            .collect()
            .map_err(|e| DataError::polars(&name, e))?;
    }
    let df = raw
        .clone()
        .lazy()
        .select([
            col(cols.customer.as_str())
                .cast(DataType::String)
                .alias("customer"),
            to_date_expr(&cols.date, &date_dtype, &[]).alias("date"),
            amount.alias("amount"),
            col(cols.date.as_str())
                .cast(DataType::String)
                .alias("raw_date"),
        ])
        .collect()
        .map_err(|e| {
            DataError::Invalid(format!(
                "{name}: amount `{}` is not numeric ({e}); name a numeric column with --amount-col",
                cols.amount.describe()
            ))
        })?;
    // Dates that do not parse.
    let bad = df
        .clone()
        .lazy()
        .filter(col("date").is_null().and(col("raw_date").is_not_null()))
        .select([col("raw_date").first(), len()])
        .collect()
        .map_err(|e| DataError::polars(&name, e))?;
    let n_bad = bad
        .column("len")
        .ok()
        .and_then(|c| c.get(0).ok())
        .and_then(|v| v.extract::<u64>())
        .unwrap_or(0);
    // A workspace's lines with unparseable dates are dropped and counted, as its
    // integration drops them; a data file's are refused.
    if n_bad > 0 && !is_workspace {
        let example = bad
            .column("raw_date")
            .ok()
            .and_then(|c| c.str().ok().and_then(|s| s.get(0).map(str::to_string)))
            .unwrap_or_default();
        return Err(DataError::Invalid(format!(
            "{name}: date column `{}` has {n_bad} values that are not dates, e.g. {example:?}; use YYYY-MM-DD (or DD/MM/YYYY)",
            cols.date
        )));
    }
    let df = df
        .lazy()
        .filter(
            col("date")
                .is_not_null()
                .and(col("customer").is_not_null())
                .and(col("amount").is_not_null())
                .and(col("amount").gt_eq(lit(0.0))),
        )
        .collect()
        .map_err(|e| DataError::polars(&name, e))?;
    if df.height() == 0 {
        return Err(DataError::Invalid(format!(
            "{name}: no transactions left: every line lacks a customer (`{}`), a date (`{}`) or an amount of 0 or more ({})",
            cols.customer,
            cols.date,
            cols.amount.describe()
        )));
    }
    let dropped = lines - df.height();
    let df = df
        .drop("raw_date")
        .map_err(|e| DataError::polars(&name, e))?;
    Ok((df, dropped))
}

/// Per-customer figures for the lifetime-value models, sorted by customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub ids: Vec<String>,
    pub frequency: Vec<f64>,
    pub recency: Vec<f64>,
    /// Age: first purchase to the calibration end.
    pub t: Vec<f64>,
    pub monetary: Vec<f64>,
    /// Purchase days after the calibration end (the holdout), per customer.
    pub holdout_purchases: Vec<f64>,
    /// Spend after the calibration end (the holdout), per customer.
    pub holdout_spend: Vec<f64>,
    /// Purchase days up to the calibration end (frequency + 1), per customer.
    pub purchases: Vec<f64>,
    /// Spend up to the calibration end, per customer.
    pub total_spend: Vec<f64>,
    /// Spend in the [`RECENT_DAYS`] days up to the calibration end, per customer.
    pub recent_spend: Vec<f64>,
    /// Days from the last purchase to the calibration end, per customer.
    pub days_since_last: Vec<f64>,
    /// Length of the holdout period (calibration end to observation end) in time units; 0
    /// when the data ends at the calibration end.
    pub holdout_duration: f64,
    /// Customers left out: their first purchase is after the calibration end.
    pub excluded: usize,
    pub first_date: NaiveDate,
    pub last_date: NaiveDate,
}

/// The window of [`Summary::recent_spend`], in days.
pub const RECENT_DAYS: i32 = 90;

/// The first and last day of `tx` (from [`read_transactions`]).
pub fn date_span(tx: &DataFrame) -> Result<(NaiveDate, NaiveDate)> {
    let fail = |e: PolarsError| DataError::polars("transaction dates", e);
    let span = tx
        .clone()
        .lazy()
        .select([
            col("date").min().alias("first"),
            col("date").max().alias("last"),
        ])
        .collect()
        .map_err(fail)?;
    let date_at = |c: &str| -> Option<NaiveDate> {
        let v = span.column(c).ok()?.cast(&DataType::Int32).ok()?;
        let d = v.i32().ok()?.get(0)?;
        Some(from_epoch_days(d))
    };
    match (date_at("first"), date_at("last")) {
        (Some(f), Some(l)) => Ok((f, l)),
        _ => Err(DataError::Invalid("no transactions".into())),
    }
}

/// Summarises `tx` (from [`read_transactions`]) at `calibration_end` in units of `unit_days`;
/// the holdout runs to `observation_end` (default: the last transaction's day).
pub fn summarise(
    tx: &DataFrame,
    calibration_end: NaiveDate,
    observation_end: Option<NaiveDate>,
    unit_days: f64,
) -> Result<Summary> {
    let fail = |e: PolarsError| DataError::polars("summarising transactions", e);
    let (first_date, last_date) = date_span(tx)?;
    let observation_end = observation_end.unwrap_or(last_date);
    if observation_end < calibration_end {
        return Err(DataError::Invalid(format!(
            "observation end {observation_end} is before the calibration end {calibration_end}"
        )));
    }
    if first_date > calibration_end {
        return Err(DataError::Invalid(format!(
            "calibration end {calibration_end} is before all data (the first purchase is on {first_date}); pick a date between {first_date} and {last_date}"
        )));
    }
    // Sorted by customer, day and amount, then one pass: the sums are taken in the same order
    // on every run (a parallel group-by would round differently from run to run).
    let sorted = tx
        .sort(
            ["customer", "date", "amount"],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .map_err(fail)?;
    let customers = sorted
        .column("customer")
        .map_err(fail)?
        .str()
        .map_err(fail)?
        .clone();
    let days = sorted
        .column("date")
        .map_err(fail)?
        .cast(&DataType::Int32)
        .map_err(fail)?;
    let days = days.i32().map_err(fail)?.clone();
    let amounts = sorted
        .column("amount")
        .map_err(fail)?
        .f64()
        .map_err(fail)?
        .clone();
    let cal = crate::data::dates::epoch_days(calibration_end);
    let obs = crate::data::dates::epoch_days(observation_end);

    /// One customer's running figures.
    #[derive(Default)]
    struct Acc {
        first: i32,
        last: i32,
        n: f64,
        total: f64,
        first_amount: f64,
        holdout: f64,
        holdout_spend: f64,
        recent: f64,
    }
    let mut out = Summary {
        ids: Vec::new(),
        frequency: Vec::new(),
        recency: Vec::new(),
        t: Vec::new(),
        monetary: Vec::new(),
        holdout_purchases: Vec::new(),
        holdout_spend: Vec::new(),
        purchases: Vec::new(),
        total_spend: Vec::new(),
        recent_spend: Vec::new(),
        days_since_last: Vec::new(),
        holdout_duration: if observation_end > calibration_end {
            (observation_end - calibration_end).num_days() as f64 / unit_days
        } else {
            0.0
        },
        excluded: 0,
        first_date,
        last_date,
    };
    let finish = |id: &str, a: &Acc, out: &mut Summary| {
        if a.n == 0.0 {
            out.excluded += 1;
            return;
        }
        let x = a.n - 1.0;
        out.ids.push(id.to_string());
        out.frequency.push(x);
        out.recency.push((a.last - a.first) as f64 / unit_days);
        out.t.push((cal - a.first) as f64 / unit_days);
        out.monetary.push(if x > 0.0 {
            (a.total - a.first_amount) / x
        } else {
            0.0
        });
        out.holdout_purchases.push(a.holdout);
        out.holdout_spend.push(a.holdout_spend);
        out.purchases.push(a.n);
        out.total_spend.push(a.total);
        out.recent_spend.push(a.recent);
        out.days_since_last.push((cal - a.last) as f64);
    };
    let mut acc = Acc::default();
    let mut current: Option<&str> = None;
    // The day being summed: (day, amount).
    let mut day: Option<(i32, f64)> = None;
    let close_day = |acc: &mut Acc, day: (i32, f64)| {
        let (d, amount) = day;
        if d <= cal {
            if acc.n == 0.0 {
                acc.first = d;
                acc.first_amount = amount;
            }
            acc.n += 1.0;
            acc.total += amount;
            acc.last = d;
            if cal - d < RECENT_DAYS {
                acc.recent += amount;
            }
        } else if d <= obs {
            acc.holdout += 1.0;
            acc.holdout_spend += amount;
        }
    };
    for i in 0..sorted.height() {
        let (Some(c), Some(d), Some(m)) = (customers.get(i), days.get(i), amounts.get(i)) else {
            continue;
        };
        if current != Some(c) {
            if let Some(dd) = day.take() {
                close_day(&mut acc, dd);
            }
            if let Some(prev) = current {
                finish(prev, &acc, &mut out);
            }
            acc = Acc::default();
            current = Some(c);
        }
        day = match day {
            Some((dd, sum)) if dd == d => Some((dd, sum + m)),
            Some(prev) => {
                close_day(&mut acc, prev);
                Some((d, m))
            }
            None => Some((d, m)),
        };
    }
    if let Some(dd) = day.take() {
        close_day(&mut acc, dd);
    }
    if let Some(prev) = current {
        finish(prev, &acc, &mut out);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(lines: &[(&str, &str, f64)]) -> DataFrame {
        let df = DataFrame::new_infer_height(vec![
            Column::new("c".into(), lines.iter().map(|l| l.0).collect::<Vec<_>>()),
            Column::new("d".into(), lines.iter().map(|l| l.1).collect::<Vec<_>>()),
            Column::new("a".into(), lines.iter().map(|l| l.2).collect::<Vec<_>>()),
        ])
        .unwrap();
        df.lazy()
            .select([
                col("c").alias("customer"),
                col("d")
                    .str()
                    .to_date(StrptimeOptions::default())
                    .alias("date"),
                col("a").alias("amount"),
            ])
            .collect()
            .unwrap()
    }

    #[test]
    fn summary_by_hand() {
        let t = tx(&[
            // A: first on Jan 1 (10), two lines on Jan 5 (20 + 5 = one purchase of 25), Jan 11
            // (30); after the calibration end on Feb 1 (holdout).
            ("A", "2024-01-01", 10.0),
            ("A", "2024-01-05", 20.0),
            ("A", "2024-01-05", 5.0),
            ("A", "2024-01-11", 30.0),
            ("A", "2024-02-01", 7.0),
            // B: one purchase only.
            ("B", "2024-01-15", 40.0),
            // C: starts after the calibration end: left out.
            ("C", "2024-02-10", 9.0),
        ]);
        let end = NaiveDate::from_ymd_opt(2024, 1, 21).unwrap();
        let s = summarise(&t, end, None, 1.0).unwrap();
        assert_eq!(s.ids, vec!["A", "B"]);
        assert_eq!(s.frequency, vec![2.0, 0.0]);
        assert_eq!(s.recency, vec![10.0, 0.0]);
        assert_eq!(s.t, vec![20.0, 6.0]);
        assert_eq!(s.monetary, vec![(25.0 + 30.0) / 2.0, 0.0]);
        assert_eq!(s.holdout_purchases, vec![1.0, 0.0]);
        assert_eq!(s.holdout_duration, 20.0);
        assert_eq!(s.excluded, 1);
        // Weeks: times divided by 7.
        let w = summarise(&t, end, None, 7.0).unwrap();
        // An observation end before Feb 1 leaves A's holdout purchase out.
        let feb = NaiveDate::from_ymd_opt(2024, 1, 31).unwrap();
        let o = summarise(&t, end, Some(feb), 1.0).unwrap();
        assert_eq!((o.holdout_purchases[0], o.holdout_duration), (0.0, 10.0));
        assert_eq!(w.t, vec![20.0 / 7.0, 6.0 / 7.0]);
        // A calibration end before every purchase is refused.
        let e =
            summarise(&t, NaiveDate::from_ymd_opt(2023, 12, 1).unwrap(), None, 1.0).unwrap_err();
        assert!(e.to_string().contains("before all data"), "{e}");
    }
}
