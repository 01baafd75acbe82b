//! Per-customer aggregation of the activity sources (order lines, tickets, web sessions): the
//! step that grows with the data. It sits behind [`CustomerAggregator`] so that another engine
//! (a cluster, see the Scale issue) can compute the same per-customer table; [`LocalAggregator`]
//! runs it as polars lazy plans on the streaming engine, so big files are never loaded whole.
//!
//! Every output frame has one row per customer key seen in the source (unknown keys included,
//! so the caller can count orphans), the key in column [`KEY`], the row counts of each cleaning
//! step (`__read`, `__distinct`, ...), and the role's features.

use std::collections::BTreeMap;
use std::path::PathBuf;

use polars::prelude::*;

use super::dates::to_date_expr;
use super::error::{DataError, Result};
use super::source::polars_message;
use super::workspace::InvalidPolicy;
use crate::progress::Progress;

/// The key column of every aggregate frame.
pub const KEY: &str = "__key";
/// Rows read from the source.
pub const READ: &str = "__read";
/// Rows left after removing exact duplicates.
pub const DISTINCT: &str = "__distinct";
/// Rows kept after the validity rules.
pub const KEPT: &str = "__kept";

/// The activity roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Orders,
    Tickets,
    Sessions,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Orders => "orders",
            Role::Tickets => "tickets",
            Role::Sessions => "sessions",
        }
    }
}

/// One activity source, ready to aggregate: its scan, key and role columns.
pub struct ActivityInput {
    pub role: Role,
    pub path: PathBuf,
    pub frame: LazyFrame,
    pub schema: SchemaRef,
    pub key: String,
    /// role -> column name in the file (only roles present in the file).
    pub columns: BTreeMap<String, String>,
    pub date_formats: Vec<String>,
}

/// What to aggregate and the cleaning policy that applies on the way.
pub struct AggregationPlan {
    pub inputs: Vec<ActivityInput>,
    /// Customer ids merged into another (columns `old`, `new`), from the fuzzy-key step.
    pub key_map: Option<DataFrame>,
    pub dedup: bool,
    pub invalid_lines: InvalidPolicy,
}

/// The per-customer table of one role, and the names of its count columns by rule.
pub struct RoleAggregate {
    pub role: Role,
    pub path: PathBuf,
    pub frame: DataFrame,
    /// (count column in `frame`, column, rule, action) for each validity rule.
    pub rules: Vec<(String, String, String, String)>,
    /// Feature columns this role adds to the 360 table, with how to fill a customer without
    /// activity: `true` = zero (counts and sums), `false` = stays null (means, dates).
    pub features: Vec<(String, bool)>,
}

/// Computes per-customer aggregates of the activity sources.
pub trait CustomerAggregator {
    fn aggregate(&self, plan: &AggregationPlan, progress: &Progress) -> Result<Vec<RoleAggregate>>;
}

/// Polars on this machine, streaming engine.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalAggregator;

fn role_col<'a>(input: &'a ActivityInput, role: &str) -> Option<&'a str> {
    input.columns.get(role).map(String::as_str)
}

fn num(c: &str) -> Expr {
    col(c).cast(DataType::Float64)
}

/// Rows before and after exact de-duplication: `__copies` holds how many times a row occurred.
fn deduplicated(lf: LazyFrame, used: &[String], dedup: bool) -> LazyFrame {
    let lf = lf.select(used.iter().map(|c| col(c.as_str())).collect::<Vec<_>>());
    if dedup {
        lf.group_by(used.iter().map(|c| col(c.as_str())).collect::<Vec<_>>())
            .agg([len().cast(DataType::UInt64).alias("__copies")])
    } else {
        lf.with_column(lit(1u64).alias("__copies"))
    }
}

fn with_key(lf: LazyFrame, key: &str, key_map: Option<&DataFrame>) -> LazyFrame {
    let lf = lf.with_column(
        col(key)
            .cast(DataType::String)
            .str()
            .strip_chars(lit(NULL))
            .alias(KEY),
    );
    match key_map {
        Some(map) if map.height() > 0 => lf
            .left_join(map.clone().lazy(), col(KEY), col("old"))
            .with_column(coalesce(&[col("new"), col(KEY)]).alias(KEY))
            .drop(cols(["new"])),
        _ => lf,
    }
}

fn used_columns(input: &ActivityInput) -> Vec<String> {
    let mut used = vec![input.key.clone()];
    for c in input.columns.values() {
        if !used.contains(c) {
            used.push(c.clone());
        }
    }
    used
}

fn date_expr(input: &ActivityInput, c: &str) -> Expr {
    let dtype = input.schema.get(c).cloned().unwrap_or(DataType::String);
    to_date_expr(c, &dtype, &input.date_formats)
}

fn sum_u64(e: Expr) -> Expr {
    e.cast(DataType::UInt64).sum()
}

fn orders_plan(
    input: &ActivityInput,
    plan: &AggregationPlan,
) -> (LazyFrame, Vec<(String, String, String, String)>) {
    let used = used_columns(input);
    let base = deduplicated(input.frame.clone(), &used, plan.dedup);
    let base = with_key(base, &input.key, plan.key_map.as_ref());
    let date = role_col(input, "date").unwrap_or("order_date");
    let qty = role_col(input, "quantity");
    let price = role_col(input, "unit_price");
    let order = role_col(input, "order_id");
    let category = role_col(input, "category");

    let bad_date = date_expr(input, date).is_null();
    let bad_qty = match qty {
        Some(q) => num(q).is_null().or(num(q).lt_eq(lit(0.0))),
        None => lit(false),
    };
    let bad_price = match price {
        Some(p) => num(p).is_null().or(num(p).lt(lit(0.0))),
        None => lit(false),
    };
    let amount = match (qty, price) {
        (Some(q), Some(p)) => num(q) * num(p),
        (None, Some(p)) => num(p),
        _ => lit(NULL).cast(DataType::Float64),
    };
    let invalid = bad_qty.clone().or(bad_price.clone());
    let (kept, amount) = match plan.invalid_lines {
        InvalidPolicy::Drop => (bad_date.clone().not().and(invalid.clone().not()), amount),
        InvalidPolicy::Null => (
            bad_date.clone().not(),
            when(invalid.clone()).then(lit(NULL)).otherwise(amount),
        ),
    };
    let lf = base.with_columns([
        date_expr(input, date).alias("__date"),
        bad_date.alias("__bad_date"),
        bad_qty.clone().alias("__bad_qty"),
        // A line with a bad quantity is counted there only, so each line counts once.
        bad_price
            .clone()
            .and(bad_qty.clone().not())
            .alias("__bad_price"),
        kept.alias("__kept_flag"),
        amount.alias("__amount"),
    ]);
    let order_expr = match order {
        Some(o) => col(o).cast(DataType::String),
        // Without an order id, each distinct date is one order.
        None => col("__date").cast(DataType::String),
    };
    let kept_f = col("__kept_flag");
    let mut aggs = vec![
        col("__copies").sum().alias(READ),
        len().cast(DataType::UInt64).alias(DISTINCT),
        sum_u64(col("__bad_date")).alias("__n_bad_date"),
        sum_u64(col("__bad_qty").and(col("__bad_date").not())).alias("__n_bad_qty"),
        sum_u64(col("__bad_price").and(col("__bad_date").not())).alias("__n_bad_price"),
        sum_u64(kept_f.clone()).alias(KEPT),
        order_expr
            .filter(kept_f.clone())
            .drop_nulls()
            .n_unique()
            .cast(DataType::UInt64)
            .alias("frequency"),
        col("__amount")
            .filter(kept_f.clone())
            .sum()
            .alias("monetary"),
        col("__date")
            .filter(kept_f.clone())
            .min()
            .alias("first_order"),
        col("__date")
            .filter(kept_f.clone())
            .max()
            .alias("last_order"),
    ];
    if let Some(c) = category {
        aggs.push(
            col(c)
                .filter(kept_f)
                .drop_nulls()
                .n_unique()
                .cast(DataType::UInt64)
                .alias("distinct_categories"),
        );
    }
    let action = match plan.invalid_lines {
        InvalidPolicy::Drop => "row dropped",
        InvalidPolicy::Null => "amount set null",
    };
    let mut rules = vec![(
        "__n_bad_date".to_string(),
        date.to_string(),
        "unparseable date".to_string(),
        "row dropped".to_string(),
    )];
    if let Some(q) = qty {
        rules.push((
            "__n_bad_qty".into(),
            q.into(),
            "quantity <= 0 or missing".into(),
            action.into(),
        ));
    }
    if let Some(p) = price {
        rules.push((
            "__n_bad_price".into(),
            p.into(),
            "price < 0 or missing".into(),
            action.into(),
        ));
    }
    (lf.group_by([col(KEY)]).agg(aggs), rules)
}

/// Tickets and sessions: counts, means of numeric columns that must lie in a range, last date.
fn simple_plan(
    input: &ActivityInput,
    plan: &AggregationPlan,
    count_name: &str,
    last_name: &str,
    means: &[(&str, &str, f64, f64)],
) -> (LazyFrame, Vec<(String, String, String, String)>) {
    let used = used_columns(input);
    let base = deduplicated(input.frame.clone(), &used, plan.dedup);
    let base = with_key(base, &input.key, plan.key_map.as_ref());
    let mut cols_out = Vec::new();
    let mut rules = Vec::new();
    let mut aggs = vec![
        col("__copies").sum().alias(READ),
        len().cast(DataType::UInt64).alias(DISTINCT),
        len().cast(DataType::UInt64).alias(KEPT),
        len().cast(DataType::UInt64).alias(count_name),
    ];
    if let Some(d) = role_col(input, "date") {
        cols_out.push(date_expr(input, d).alias("__date"));
        cols_out.push(
            col(d)
                .is_not_null()
                .and(date_expr(input, d).is_null())
                .alias("__bad_date"),
        );
        aggs.push(col("__date").max().alias(last_name));
        aggs.push(sum_u64(col("__bad_date")).alias("__n_bad_date"));
        rules.push((
            "__n_bad_date".into(),
            d.into(),
            "unparseable date".into(),
            "set null".into(),
        ));
    }
    for (i, (role, out, lo, hi)) in means.iter().enumerate() {
        let Some(c) = role_col(input, role) else {
            continue;
        };
        let v = num(c);
        let bad = v.clone().lt(lit(*lo)).or(v.clone().gt(lit(*hi)));
        let flag = format!("__bad_{i}");
        cols_out.push(bad.clone().alias(flag.as_str()));
        cols_out.push(
            when(bad)
                .then(lit(NULL))
                .otherwise(v)
                .alias(format!("__v_{i}")),
        );
        aggs.push(col(format!("__v_{i}")).mean().alias(*out));
        aggs.push(sum_u64(col(flag.as_str()).fill_null(lit(false))).alias(format!("__n{flag}")));
        let rule = if hi.is_infinite() {
            format!("{c} < {lo}")
        } else {
            format!("{c} outside {lo}-{hi}")
        };
        rules.push((format!("__n{flag}"), c.into(), rule, "set null".into()));
    }
    let lf = base.with_columns(cols_out);
    (lf.group_by([col(KEY)]).agg(aggs), rules)
}

impl CustomerAggregator for LocalAggregator {
    fn aggregate(&self, plan: &AggregationPlan, progress: &Progress) -> Result<Vec<RoleAggregate>> {
        let mut out = Vec::new();
        for (i, input) in plan.inputs.iter().enumerate() {
            progress
                .check()
                .map_err(|_| DataError::Invalid("cancelled".into()))?;
            progress.label(&format!(
                "aggregating {} ({} of {})",
                input.role.name(),
                i + 1,
                plan.inputs.len()
            ));
            let (lf, rules, features) = match input.role {
                Role::Orders => {
                    let (lf, rules) = orders_plan(input, plan);
                    let mut f = vec![
                        ("frequency".to_string(), true),
                        ("monetary".to_string(), true),
                        ("first_order".to_string(), false),
                        ("last_order".to_string(), false),
                    ];
                    if role_col(input, "category").is_some() {
                        f.push(("distinct_categories".to_string(), true));
                    }
                    (lf, rules, f)
                }
                Role::Tickets => {
                    let (lf, rules) = simple_plan(
                        input,
                        plan,
                        "tickets",
                        "last_ticket",
                        &[
                            ("satisfaction", "satisfaction_mean", 1.0, 5.0),
                            (
                                "resolution_hours",
                                "resolution_hours_mean",
                                0.0,
                                f64::INFINITY,
                            ),
                        ],
                    );
                    let f = vec![
                        ("tickets".to_string(), true),
                        ("satisfaction_mean".to_string(), false),
                        ("resolution_hours_mean".to_string(), false),
                        ("last_ticket".to_string(), false),
                    ];
                    (lf, rules, f)
                }
                Role::Sessions => {
                    let (lf, rules) = simple_plan(
                        input,
                        plan,
                        "sessions",
                        "last_session",
                        &[
                            ("pages", "pages_mean", 0.0, f64::INFINITY),
                            ("duration", "duration_mean_s", 0.0, f64::INFINITY),
                        ],
                    );
                    let f = vec![
                        ("sessions".to_string(), true),
                        ("pages_mean".to_string(), false),
                        ("duration_mean_s".to_string(), false),
                        ("last_session".to_string(), false),
                    ];
                    (lf, rules, f)
                }
            };
            let features: Vec<(String, bool)> = features
                .into_iter()
                .filter(|(c, _)| {
                    // Means whose source column is absent are not produced.
                    !matches!(c.as_str(), "satisfaction_mean" if role_col(input, "satisfaction").is_none())
                        && !matches!(c.as_str(), "resolution_hours_mean" if role_col(input, "resolution_hours").is_none())
                        && !matches!(c.as_str(), "pages_mean" if role_col(input, "pages").is_none())
                        && !matches!(c.as_str(), "duration_mean_s" if role_col(input, "duration").is_none())
                        && !matches!(c.as_str(), "last_ticket" | "last_session" if role_col(input, "date").is_none())
                })
                .collect();
            let frame = lf
                .collect_with_engine(Engine::Streaming)
                .map(|r| r.unwrap_single())
                .map_err(|e| DataError::Malformed {
                    path: input.path.clone(),
                    message: polars_message(&e),
                })?;
            out.push(RoleAggregate {
                role: input.role,
                path: input.path.clone(),
                frame,
                rules,
                features,
            });
        }
        Ok(out)
    }
}
