//! Cleaning steps on an in-memory frame (the customers table, which is small next to the
//! activity sources): text normalisation, date parsing, validity rules, de-duplication and
//! missing-value fills. Each step returns the frame and the counts that go in the quality report.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;

use crate::data::dates::{epoch_days, to_date_expr};
use crate::data::error::{DataError, Result};
use crate::data::integrate::quality::{InvalidCount, MissingReport};
use crate::data::sources::workspace::{DedupPolicy, InvalidPolicy, MissingPolicy};

const ROW: &str = "__crmlens_row";
const FILLED: &str = "__crmlens_nonnull";
const FIRST: &str = "__crmlens_first";

fn pl(context: &str) -> impl Fn(PolarsError) -> DataError + '_ {
    move |e| DataError::polars(context, e)
}

fn count_true(df: &DataFrame, expr: Expr) -> Result<u64> {
    let out = df
        .clone()
        .lazy()
        .select([expr.cast(DataType::UInt64).sum().alias("n")])
        .collect()
        .map_err(pl("counting"))?;
    Ok(out
        .column("n")
        .map_err(pl("counting"))?
        .u64()
        .map_err(pl("counting"))?
        .get(0)
        .unwrap_or(0))
}

/// The customer key as text, trimmed; an empty key becomes null.
pub fn normalised_text_key(c: &str) -> Expr {
    let e = col(c).cast(DataType::String).str().strip_chars(lit(NULL));
    when(e.clone().str().len_chars().eq(lit(0)))
        .then(lit(NULL).cast(DataType::String))
        .otherwise(e)
        .alias(c)
}

/// `s` trimmed, with inner runs of white space collapsed to one space, lower-cased when
/// asked; `None` when that leaves nothing. Borrowed when nothing changes (the common case).
pub fn normalise_value(s: &str, lowercase: bool) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    let mut prev_space = true; // a leading space is also a change
    let mut clean = true;
    for c in s.chars() {
        let space = c.is_whitespace();
        if (space && (prev_space || c != ' ')) || (lowercase && c.is_uppercase()) {
            clean = false;
            break;
        }
        prev_space = space;
    }
    if clean && !prev_space {
        return Some(Cow::Borrowed(s));
    }
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        if lowercase {
            out.extend(word.chars().flat_map(char::to_lowercase));
        } else {
            out.push_str(word);
        }
    }
    (!out.is_empty()).then_some(Cow::Owned(out))
}

/// Trims and collapses white space in every text column (when `trim`), lower-cases the
/// `lowercase` columns. Returns the changed-value count per column that changed.
pub fn normalise_text(
    mut df: DataFrame,
    trim: bool,
    lowercase: &[String],
) -> Result<(DataFrame, Vec<(String, u64)>)> {
    let text_cols: Vec<String> = df
        .columns()
        .iter()
        .filter(|c| c.dtype() == &DataType::String)
        .map(|c| c.name().to_string())
        .filter(|n| trim || lowercase.contains(n))
        .collect();
    let mut report = Vec::new();
    for c in &text_cols {
        let lower = lowercase.contains(c);
        let ca = df
            .column(c)
            .map_err(pl("normalising text"))?
            .str()
            .map_err(pl("normalising text"))?
            .clone();
        let mut changed = 0u64;
        let new: StringChunked = ca
            .iter()
            .map(|v| {
                let v = v?;
                let n = normalise_value(v, lower);
                if n.as_deref() != Some(v) {
                    changed += 1;
                }
                n
            })
            .collect::<StringChunked>()
            .with_name(c.as_str().into());
        if changed > 0 {
            report.push((c.clone(), changed));
            df.replace(c, new.into_column())
                .map_err(pl("normalising text"))?;
        }
    }
    Ok((df, report))
}

/// Parses the named date columns (several formats each) into `Date`. A value that was present
/// but matched no format becomes null and is reported.
pub fn parse_dates(
    df: DataFrame,
    dates: &BTreeMap<String, Vec<String>>,
    source: &str,
) -> Result<(DataFrame, Vec<InvalidCount>)> {
    let mut exprs = Vec::new();
    let mut lost = Vec::new();
    for (c, formats) in dates {
        let dtype = df
            .column(c)
            .map_err(|_| DataError::Invalid(format!("{source}: no date column `{c}`")))?
            .dtype()
            .clone();
        let e = to_date_expr(c, &dtype, formats);
        lost.push(
            (col(c).is_not_null().and(e.clone().is_null()))
                .cast(DataType::UInt64)
                .sum()
                .alias(c),
        );
        exprs.push(e);
    }
    if exprs.is_empty() {
        return Ok((df, Vec::new()));
    }
    let counts = df
        .clone()
        .lazy()
        .select(lost)
        .collect()
        .map_err(pl("parsing dates"))?;
    let mut report = Vec::new();
    for c in dates.keys() {
        let n = counts
            .column(c)
            .ok()
            .and_then(|s| s.u64().ok().and_then(|v| v.get(0)))
            .unwrap_or(0);
        if n > 0 {
            report.push(InvalidCount {
                source: source.into(),
                column: c.clone(),
                rule: "unparseable date".into(),
                count: n,
                action: "set null".into(),
            });
        }
    }
    let out = df
        .lazy()
        .with_columns(exprs)
        .collect()
        .map_err(pl("parsing dates"))?;
    Ok((out, report))
}

/// Removes rows identical to an earlier row; keeps file order. Returns the number removed.
pub fn dedup_exact(df: DataFrame) -> Result<(DataFrame, u64)> {
    let before = df.height();
    let out = df
        .lazy()
        .unique_stable(None, UniqueKeepStrategy::First)
        .collect()
        .map_err(pl("removing duplicate rows"))?;
    let removed = (before - out.height()) as u64;
    Ok((out, removed))
}

/// Sort keys that put the row to keep first within a group.
fn preference(policy: DedupPolicy, updated_at: Option<&str>) -> (Vec<Expr>, Vec<bool>) {
    let recency = updated_at.map(col);
    let mut by = Vec::new();
    let mut desc = Vec::new();
    let mut push = |e: Expr, d: bool| {
        by.push(e);
        desc.push(d);
    };
    match policy {
        DedupPolicy::Latest => {
            if let Some(r) = recency {
                push(r, true);
            }
            push(col(FILLED), true);
        }
        DedupPolicy::MostComplete => {
            push(col(FILLED), true);
            if let Some(r) = recency {
                push(r, true);
            }
        }
        DedupPolicy::First => {}
    }
    push(col(ROW), false);
    (by, desc)
}

/// Sorts so that, within a group, the row to keep comes first (nulls last, stable).
fn sort_by_preference(lf: LazyFrame, by: Vec<Expr>, descending: Vec<bool>) -> LazyFrame {
    let n = by.len();
    lf.sort_by_exprs(
        by,
        SortMultipleOptions::default()
            .with_order_descending_multi(descending)
            .with_nulls_last_multi(vec![true; n])
            .with_maintain_order(true),
    )
}

fn with_helpers(df: DataFrame) -> Result<LazyFrame> {
    let nonnull: Vec<Expr> = df
        .get_column_names()
        .iter()
        .map(|c| col(c.as_str()).is_not_null().cast(DataType::UInt32))
        .collect();
    let filled = polars::lazy::dsl::sum_horizontal(nonnull, true).map_err(pl("de-duplicating"))?;
    Ok(df
        .lazy()
        .with_row_index(ROW, None)
        .with_column(filled.alias(FILLED)))
}

/// Keeps one row per `key`: the most recent by `updated_at` (nulls count as oldest), then the
/// most complete, then the first in the file; or as `policy` says. Customers stay in the order
/// their key first appears in the file.
pub fn dedup_by_key(
    df: DataFrame,
    key: &str,
    policy: DedupPolicy,
    updated_at: Option<&str>,
) -> Result<(DataFrame, u64)> {
    let before = df.height();
    let (mut by, mut desc) = preference(policy, updated_at);
    by.insert(0, col(key));
    desc.insert(0, false);
    // Survivors appear where their key first appeared in the file.
    let first_seen = col(ROW)
        .min()
        .over([col(key)])
        .map_err(pl("de-duplicating by key"))?;
    let lf = with_helpers(df)?.with_column(first_seen.alias(FIRST));
    let out = sort_by_preference(lf, by, desc)
        .unique_stable(Some(cols([key])), UniqueKeepStrategy::First)
        .sort([FIRST], SortMultipleOptions::default())
        .drop(cols([ROW, FILLED, FIRST]))
        .collect()
        .map_err(pl("de-duplicating by key"))?;
    let removed = (before - out.height()) as u64;
    Ok((out, removed))
}

/// Merges customers whose `fuzzy` value (trimmed, lower-cased) is equal under different keys.
/// Returns the frame, the number of rows merged away, and the mapping `old key -> kept key`
/// (columns `old`, `new`) so activity can follow.
pub fn dedup_by_fuzzy_key(
    df: DataFrame,
    key: &str,
    fuzzy: &str,
    policy: DedupPolicy,
    updated_at: Option<&str>,
) -> Result<(DataFrame, u64, DataFrame)> {
    const NORM: &str = "__crmlens_fuzzy";
    const KEEP: &str = "__crmlens_keep";
    let before = df.height();
    let (by, desc) = preference(policy, updated_at);
    let first_of_group = col(key)
        .first()
        .over([col(NORM)])
        .map_err(pl("merging by fuzzy key"))?;
    let lf = with_helpers(df)?.with_column(
        col(fuzzy)
            .cast(DataType::String)
            .str()
            .strip_chars(lit(NULL))
            .str()
            .to_lowercase()
            .alias(NORM),
    );
    let ranked = sort_by_preference(lf, by, desc)
        // The first row of each fuzzy group (in preference order) is the one kept.
        .with_column(
            when(col(NORM).is_null())
                .then(col(key))
                .otherwise(first_of_group)
                .alias(KEEP),
        )
        .collect()
        .map_err(pl("merging by fuzzy key"))?;
    let mapping = ranked
        .clone()
        .lazy()
        .filter(col(KEEP).neq(col(key)))
        .select([col(key).alias("old"), col(KEEP).alias("new")])
        .collect()
        .map_err(pl("merging by fuzzy key"))?;
    let out = ranked
        .lazy()
        .filter(col(KEEP).eq(col(key)))
        .sort([ROW], SortMultipleOptions::default())
        .drop(cols([ROW, FILLED, NORM, KEEP]))
        .collect()
        .map_err(pl("merging by fuzzy key"))?;
    let removed = (before - out.height()) as u64;
    Ok((out, removed, mapping))
}

/// The validity rules on customer columns.
pub struct Rules<'a> {
    pub non_negative: &'a [String],
    pub not_future: &'a [String],
    pub reference: NaiveDate,
    pub policy: InvalidPolicy,
}

/// Flags values that break a rule; sets them null or drops their rows, as the policy says.
/// Returns the frame, the counts per rule, and the rows dropped.
pub fn apply_rules(
    df: DataFrame,
    rules: &Rules,
    source: &str,
) -> Result<(DataFrame, Vec<InvalidCount>, u64)> {
    let mut checks: Vec<(String, String, Expr)> = Vec::new();
    for c in rules.non_negative {
        let dtype = df
            .column(c)
            .map_err(|_| {
                DataError::Invalid(format!("{source}: no column `{c}` for rule non_negative"))
            })?
            .dtype()
            .clone();
        if !dtype.is_primitive_numeric() {
            return Err(DataError::Invalid(format!(
                "{source}: [cleaning] non_negative names `{c}`, which is {dtype}, not a number; remove it from non_negative, or set its type in the source's `schema` if it holds numbers"
            )));
        }
        checks.push((c.clone(), "negative".into(), col(c).lt(lit(0))));
    }
    let ref_days = epoch_days(rules.reference);
    for c in rules.not_future {
        let dtype = df
            .column(c)
            .map_err(|_| {
                DataError::Invalid(format!("{source}: no column `{c}` for rule not_future"))
            })?
            .dtype()
            .clone();
        if dtype != DataType::Date {
            return Err(DataError::Invalid(format!(
                "{source}: [cleaning] not_future names `{c}`, which is {dtype}, not a date; remove it from not_future, or list it under the source's `dates` if it holds dates"
            )));
        }
        checks.push((
            c.clone(),
            format!("after reference date {}", rules.reference),
            col(c).gt(lit(ref_days).cast(DataType::Date)),
        ));
    }
    let action = match rules.policy {
        InvalidPolicy::Null => "set null",
        InvalidPolicy::Drop => "row dropped",
    };
    let mut report = Vec::new();
    for (c, rule, e) in &checks {
        let n = count_true(&df, e.clone().fill_null(lit(false)))?;
        if n > 0 {
            report.push(InvalidCount {
                source: source.into(),
                column: c.clone(),
                rule: rule.clone(),
                count: n,
                action: action.into(),
            });
        }
    }
    let before = df.height();
    let out = match rules.policy {
        InvalidPolicy::Null => {
            let exprs: Vec<Expr> = checks
                .iter()
                .map(|(c, _, e)| {
                    when(e.clone().fill_null(lit(false)))
                        .then(lit(NULL))
                        .otherwise(col(c))
                        .alias(c)
                })
                .collect();
            if exprs.is_empty() {
                df
            } else {
                df.lazy()
                    .with_columns(exprs)
                    .collect()
                    .map_err(pl("applying rules"))?
            }
        }
        InvalidPolicy::Drop => {
            let any_bad = checks
                .iter()
                .map(|(_, _, e)| e.clone().fill_null(lit(false)))
                .reduce(|a, b| a.or(b));
            match any_bad {
                Some(bad) => df
                    .lazy()
                    .filter(bad.not())
                    .collect()
                    .map_err(pl("applying rules"))?,
                None => df,
            }
        }
    };
    let dropped = (before - out.height()) as u64;
    Ok((out, report, dropped))
}

fn scalar_string(df: &DataFrame) -> Option<String> {
    let c = df.columns().first()?;
    let v = c.get(0).ok()?;
    if v.is_null() {
        return None;
    }
    Some(match v {
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Float64(f) => format!("{f}"),
        other => other.to_string(),
    })
}

/// The value `policy` fills column `c` with (None for keep/drop, or when the column is all null).
fn fill_value(df: &DataFrame, c: &str, policy: &MissingPolicy) -> Result<Option<Expr>> {
    let dtype = df.column(c).map_err(pl("filling"))?.dtype().clone();
    let numeric = dtype.is_primitive_numeric();
    let needs_number = |what: &str| {
        DataError::Invalid(format!(
            "[cleaning.missing] {c}: `{what}` needs a numeric column but `{c}` is {dtype}; use mode or constant:VALUE"
        ))
    };
    let agg = |e: Expr| -> Result<Option<Expr>> {
        let out = df
            .clone()
            .lazy()
            .select([e.alias(c)])
            .collect()
            .map_err(pl("filling"))?;
        let s = out.column(c).map_err(pl("filling"))?;
        Ok(if s.null_count() == s.len() {
            None
        } else {
            Some(
                lit(Scalar::new(
                    s.dtype().clone(),
                    s.get(0).map_err(pl("filling"))?.into_static(),
                ))
                .cast(s.dtype().clone()),
            )
        })
    };
    match policy {
        MissingPolicy::Keep | MissingPolicy::Drop => Ok(None),
        MissingPolicy::Mean if numeric => agg(col(c).cast(DataType::Float64).mean()),
        MissingPolicy::Median if numeric => agg(col(c).cast(DataType::Float64).median()),
        MissingPolicy::Min => agg(col(c).min()),
        MissingPolicy::Max => agg(col(c).max()),
        MissingPolicy::Zero if numeric => Ok(Some(lit(0).cast(dtype))),
        MissingPolicy::Mean => Err(needs_number("mean")),
        MissingPolicy::Median => Err(needs_number("median")),
        MissingPolicy::Zero => Err(needs_number("zero")),
        MissingPolicy::Mode => {
            // Most frequent value; ties go to the smallest value, so the result is deterministic.
            let counts = df
                .clone()
                .lazy()
                .filter(col(c).is_not_null())
                .group_by([col(c)])
                .agg([len().alias("__n")])
                .sort_by_exprs(
                    [col("__n"), col(c)],
                    SortMultipleOptions::default().with_order_descending_multi([true, false]),
                )
                .limit(1)
                .select([col(c)])
                .collect()
                .map_err(pl("filling"))?;
            if counts.height() == 0 {
                return Ok(None);
            }
            let v = counts
                .column(c)
                .map_err(pl("filling"))?
                .get(0)
                .map_err(pl("filling"))?;
            Ok(Some(
                lit(Scalar::new(dtype.clone(), v.into_static())).cast(dtype),
            ))
        }
        MissingPolicy::Constant(v) => {
            let bad = || {
                DataError::Invalid(format!(
                    "[cleaning.missing] {c}: `constant:{v}` is not a valid {dtype} value"
                ))
            };
            Ok(Some(match &dtype {
                DataType::String => lit(v.clone()),
                DataType::Date => {
                    let d = NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| bad())?;
                    lit(epoch_days(d)).cast(DataType::Date)
                }
                DataType::Boolean => lit(v.parse::<bool>().map_err(|_| bad())?),
                t if t.is_integer() => {
                    lit(v.parse::<i64>().map_err(|_| bad())?).cast(dtype.clone())
                }
                t if t.is_float() => lit(v.parse::<f64>().map_err(|_| bad())?).cast(dtype.clone()),
                _ => return Err(bad()),
            }))
        }
    }
}

/// Fills (or drops) missing values per column as `policies` says; reports every column's
/// missing count before and after. Columns named in `policies` must exist.
pub fn fill_missing(
    df: DataFrame,
    policies: &BTreeMap<String, String>,
) -> Result<(DataFrame, Vec<MissingReport>, u64)> {
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    for c in policies.keys() {
        if !names.contains(c) {
            return Err(DataError::Invalid(format!(
                "[cleaning.missing] names unknown column `{c}`; the customer-360 table has: {}",
                names.join(", ")
            )));
        }
    }
    let mut fills = Vec::new();
    let mut filled = Vec::new();
    let mut drops = Vec::new();
    let mut report = Vec::new();
    // The fill values (medians, modes...) of the columns with missing values, computed in
    // parallel.
    let values: Vec<Option<Expr>> = {
        use rayon::prelude::*;
        names
            .par_iter()
            .map(|c| {
                let before = df.column(c).map_err(pl("filling"))?.null_count();
                let policy = MissingPolicy::parse(policies.get(c).map_or("keep", String::as_str))
                    .map_err(DataError::Invalid)?;
                if before == 0 || policy == MissingPolicy::Drop {
                    return Ok(None);
                }
                fill_value(&df, c, &policy)
            })
            .collect::<Result<_>>()?
    };
    for (c, value) in names.iter().zip(values) {
        let before = df.column(c).map_err(pl("filling"))?.null_count() as u64;
        let policy_text = policies.get(c).cloned().unwrap_or_else(|| "keep".into());
        let policy = MissingPolicy::parse(&policy_text).map_err(DataError::Invalid)?;
        let mut value_text = None;
        if before > 0 {
            if policy == MissingPolicy::Drop {
                drops.push(col(c).is_not_null());
            } else if let Some(v) = value {
                let shown = df
                    .clone()
                    .lazy()
                    .select([v.clone().alias("v")])
                    .limit(1)
                    .collect()
                    .ok()
                    .and_then(|d| scalar_string(&d));
                value_text = shown;
                let dtype = df.column(c).map_err(pl("filling"))?.dtype().clone();
                // A mean or median of integers is in general not an integer: then the column
                // becomes float; a whole-number fill keeps it integer.
                let whole = value_text
                    .as_deref()
                    .and_then(|v| v.parse::<f64>().ok())
                    .is_some_and(|v| v.fract() == 0.0);
                let target = if matches!(policy, MissingPolicy::Mean | MissingPolicy::Median)
                    && !(dtype.is_integer() && whole)
                {
                    DataType::Float64
                } else {
                    dtype
                };
                fills.push(
                    col(c)
                        .cast(target.clone())
                        .fill_null(v.cast(target))
                        .alias(c),
                );
                filled.push(c.clone());
            }
        }
        report.push(MissingReport {
            column: c.clone(),
            before,
            after: before,
            policy: policy_text,
            fill_value: value_text,
            filled_rows: Vec::new(),
        });
    }
    let before_rows = df.height();
    let keep = drops.iter().cloned().reduce(|a, b| a.and(b));
    // Where the filled cells are in the output: each filled column's nulls, over the rows
    // the drop policies keep.
    if !filled.is_empty() {
        let mut masks = df.clone().lazy().select(
            filled
                .iter()
                .map(|c| col(c).is_null().alias(c))
                .chain(keep.clone().map(|k| k.alias("__keep")))
                .collect::<Vec<_>>(),
        );
        if keep.is_some() {
            masks = masks.filter(col("__keep"));
        }
        let masks = masks.collect().map_err(pl("filling missing values"))?;
        for r in &mut report {
            if let Ok(m) = masks.column(&r.column)
                && filled.contains(&r.column)
                && let Ok(m) = m.bool()
            {
                r.filled_rows = m
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| *v == Some(true))
                    .map(|(i, _)| i as u32)
                    .collect();
            }
        }
    }
    let mut lf = df.lazy();
    if !fills.is_empty() {
        lf = lf.with_columns(fills);
    }
    if let Some(keep) = keep {
        lf = lf.filter(keep);
    }
    let out = lf.collect().map_err(pl("filling missing values"))?;
    for r in &mut report {
        r.after = out
            .column(&r.column)
            .map(|s| s.null_count() as u64)
            .unwrap_or(0);
    }
    let dropped = (before_rows - out.height()) as u64;
    Ok((out, report, dropped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(df: &DataFrame, c: &str) -> Vec<Option<String>> {
        df.column(c)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect()
    }

    #[test]
    fn text_is_trimmed_collapsed_and_lowercased() {
        let df = df!(
            "name" => [Some("  Ann  Lee "), Some("Bo"), Some("   "), None],
            "email" => [Some("Ann.Lee@X.COM "), Some("bo@x.com"), None, Some("Q@Q.q")],
            "n" => [1, 2, 3, 4]
        )
        .unwrap();
        let (out, changed) = normalise_text(df, true, &["email".to_string()]).unwrap();
        assert_eq!(
            strings(&out, "name"),
            vec![Some("Ann Lee".into()), Some("Bo".into()), None, None]
        );
        assert_eq!(
            strings(&out, "email"),
            vec![
                Some("ann.lee@x.com".into()),
                Some("bo@x.com".into()),
                None,
                Some("q@q.q".into())
            ]
        );
        // name: "  Ann  Lee " and "   " changed; email: rows 0 and 3 changed.
        assert_eq!(
            changed,
            vec![("name".to_string(), 2), ("email".to_string(), 2)]
        );
    }

    #[test]
    fn normalise_value_cases() {
        assert_eq!(
            normalise_value("Ann Lee", false).as_deref(),
            Some("Ann Lee")
        );
        assert!(matches!(
            normalise_value("Ann Lee", false),
            Some(std::borrow::Cow::Borrowed(_))
        ));
        assert_eq!(
            normalise_value(" Ann\t Lee\n", false).as_deref(),
            Some("Ann Lee")
        );
        assert_eq!(normalise_value("A@B.COM", true).as_deref(), Some("a@b.com"));
        assert_eq!(
            normalise_value("A@B.COM", false).as_deref(),
            Some("A@B.COM")
        );
        assert_eq!(normalise_value(" \t ", false), None);
        assert_eq!(normalise_value("", false), None);
        assert_eq!(
            normalise_value("Ärger Öl", true).as_deref(),
            Some("ärger öl")
        );
    }

    #[test]
    fn exact_duplicates_keep_first_in_order() {
        let df = df!("id" => ["a", "b", "a", "c", "b"], "v" => [1, 2, 1, 3, 9]).unwrap();
        let (out, removed) = dedup_exact(df).unwrap();
        assert_eq!(removed, 1);
        assert_eq!(
            strings(&out, "id"),
            vec![
                Some("a".into()),
                Some("b".into()),
                Some("c".into()),
                Some("b".into())
            ]
        );
    }

    fn date(y: i32, m: u32, d: u32) -> i32 {
        epoch_days(NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    fn with_dates(df: DataFrame, c: &str) -> DataFrame {
        df.lazy()
            .with_column(col(c).cast(DataType::Date))
            .collect()
            .unwrap()
    }

    #[test]
    fn key_dedup_keeps_latest_then_most_complete() {
        // b: three rows; the newest (row 3) wins. c: equal dates, the one with income wins.
        let df = df!(
            "id" => ["a", "b", "c", "b", "c", "b"],
            "income" => [Some(1.0), Some(2.0), None, Some(3.0), Some(5.0), None],
            "updated_at" => [Some(date(2024, 1, 1)), Some(date(2023, 1, 1)), Some(date(2024, 5, 1)),
                             Some(date(2024, 6, 1)), Some(date(2024, 5, 1)), None]
        )
        .unwrap();
        let df = with_dates(df, "updated_at");
        let (out, removed) =
            dedup_by_key(df.clone(), "id", DedupPolicy::Latest, Some("updated_at")).unwrap();
        assert_eq!(removed, 3);
        assert_eq!(
            strings(&out, "id"),
            vec![Some("a".into()), Some("b".into()), Some("c".into())]
        );
        let inc: Vec<Option<f64>> = out
            .column("income")
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(inc, vec![Some(1.0), Some(3.0), Some(5.0)]);

        let (out, _) = dedup_by_key(df, "id", DedupPolicy::First, Some("updated_at")).unwrap();
        let inc: Vec<Option<f64>> = out
            .column("income")
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(inc, vec![Some(1.0), Some(2.0), None]);
    }

    #[test]
    fn fuzzy_key_merges_and_maps_ids() {
        let df = df!(
            "id" => ["a", "b", "c", "d"],
            "email" => [Some("X@y.com"), Some("z@y.com"), Some(" x@y.com"), None],
            "updated_at" => [date(2023, 1, 1), date(2023, 1, 1), date(2024, 1, 1), date(2024, 1, 1)]
        )
        .unwrap();
        let df = with_dates(df, "updated_at");
        let (out, removed, map) =
            dedup_by_fuzzy_key(df, "id", "email", DedupPolicy::Latest, Some("updated_at")).unwrap();
        assert_eq!(removed, 1);
        assert_eq!(
            strings(&out, "id"),
            vec![Some("b".into()), Some("c".into()), Some("d".into())]
        );
        assert_eq!(strings(&map, "old"), vec![Some("a".into())]);
        assert_eq!(strings(&map, "new"), vec![Some("c".into())]);
    }

    #[test]
    fn rules_null_or_drop() {
        let df = df!(
            "income" => [Some(10.0), Some(-5.0), None, Some(0.0)],
            "birth_date" => [date(1980, 1, 1), date(2030, 1, 1), date(2024, 12, 31), date(2025, 1, 2)]
        )
        .unwrap();
        let df = with_dates(df, "birth_date");
        let non_neg = vec!["income".to_string()];
        let future = vec!["birth_date".to_string()];
        let rules = Rules {
            non_negative: &non_neg,
            not_future: &future,
            reference: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
            policy: InvalidPolicy::Null,
        };
        let (out, report, dropped) = apply_rules(df.clone(), &rules, "customers").unwrap();
        assert_eq!(dropped, 0);
        assert_eq!(report.len(), 2);
        assert_eq!((report[0].column.as_str(), report[0].count), ("income", 1));
        assert_eq!(
            (report[1].column.as_str(), report[1].count),
            ("birth_date", 2)
        );
        assert_eq!(out.column("income").unwrap().null_count(), 2);
        assert_eq!(out.column("birth_date").unwrap().null_count(), 2);

        let rules = Rules {
            policy: InvalidPolicy::Drop,
            ..rules
        };
        let (out, _, dropped) = apply_rules(df, &rules, "customers").unwrap();
        // Rows 1 (both bad) and 3 (future birth) go.
        assert_eq!(dropped, 2);
        assert_eq!(out.height(), 2);
    }

    #[test]
    fn missing_fill_policies_hand_computed() {
        let df = df!(
            "income" => [Some(1.0), None, Some(3.0), Some(10.0), None],
            "visits" => [Some(1i64), Some(2), None, Some(2), Some(7)],
            "gender" => [Some("F"), None, Some("M"), Some("M"), None],
            "city" => [Some("Leeds"), Some("York"), None, Some("York"), Some("Leeds")]
        )
        .unwrap();
        let policies: BTreeMap<String, String> = [
            ("income", "median"),
            ("visits", "mean"),
            ("gender", "constant:unknown"),
            ("city", "mode"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let (out, report, dropped) = fill_missing(df.clone(), &policies).unwrap();
        assert_eq!(dropped, 0);
        let inc: Vec<Option<f64>> = out
            .column("income")
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .collect();
        // median of 1, 3, 10 = 3
        assert_eq!(
            inc,
            vec![Some(1.0), Some(3.0), Some(3.0), Some(10.0), Some(3.0)]
        );
        // mean of 1, 2, 2, 7 = 3, a whole number: the column stays integer.
        assert_eq!(out.column("visits").unwrap().dtype(), &DataType::Int64);
        let visits: Vec<Option<i64>> = out
            .column("visits")
            .unwrap()
            .i64()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(visits[2], Some(3));
        // A fractional mean turns an integer column into floats.
        let half = df!("n" => [Some(1i64), Some(2), None]).unwrap();
        let p: BTreeMap<String, String> = [("n".to_string(), "mean".to_string())].into();
        let (out2, _, _) = fill_missing(half, &p).unwrap();
        let n: Vec<Option<f64>> = out2.column("n").unwrap().f64().unwrap().iter().collect();
        assert_eq!(n, vec![Some(1.0), Some(2.0), Some(1.5)]);
        assert_eq!(strings(&out, "gender")[1], Some("unknown".into()));
        // Leeds and York tie at 2: the smaller value wins.
        assert_eq!(strings(&out, "city")[2], Some("Leeds".into()));
        // Where the fills are, for the workbench's marks.
        let rows = |c: &str| {
            report
                .iter()
                .find(|r| r.column == c)
                .unwrap()
                .filled_rows
                .clone()
        };
        assert_eq!(rows("income"), [1, 4]);
        assert_eq!(rows("visits"), [2]);
        assert_eq!(rows("city"), [2]);
        // With a drop policy the positions are those of the rows kept.
        let p: BTreeMap<String, String> = [
            ("income".to_string(), "median".to_string()),
            ("visits".to_string(), "drop".to_string()),
        ]
        .into();
        let (out3, report3, dropped3) = fill_missing(df.clone(), &p).unwrap();
        assert_eq!((dropped3, out3.height()), (1, 4));
        let filled = &report3
            .iter()
            .find(|r| r.column == "income")
            .unwrap()
            .filled_rows;
        // Rows 1 and 4 of the input are rows 1 and 3 once row 2 (no visits) is dropped.
        assert_eq!(filled, &[1, 3]);
        let inc_report = report.iter().find(|r| r.column == "income").unwrap();
        assert_eq!((inc_report.before, inc_report.after), (2, 0));
        assert_eq!(inc_report.fill_value.as_deref(), Some("3"));

        let drop: BTreeMap<String, String> = [("income".to_string(), "drop".to_string())].into();
        let (out, _, dropped) = fill_missing(df.clone(), &drop).unwrap();
        assert_eq!((out.height(), dropped), (3, 2));

        let bad: BTreeMap<String, String> = [("gender".to_string(), "mean".to_string())].into();
        let msg = fill_missing(df.clone(), &bad).unwrap_err().to_string();
        assert!(msg.contains("gender") && msg.contains("mode"), "{msg}");
        let unknown: BTreeMap<String, String> = [("incme".to_string(), "mean".to_string())].into();
        let msg = fill_missing(df, &unknown).unwrap_err().to_string();
        assert!(msg.contains("incme"), "{msg}");
    }
}
