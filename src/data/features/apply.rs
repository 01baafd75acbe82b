//! A feature matrix built as a saved model was trained: the training's fill values, log1p,
//! centres and scales, and one-hot levels applied to new rows (nothing is fitted again), and
//! how far the new rows' distribution is from the training rows' (population stability
//! index, PSI).

use std::collections::{BTreeMap, BTreeSet};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::{
    ColumnTransform, FeatureMatrix, column_as_f64, quantile_sorted, scale_values, unknown,
};
use crate::data::error::{DataError, Result};
use crate::data::sources::workspace::Scaling;

/// The text a missing categorical value is one-hot encoded as.
pub const MISSING_LEVEL: &str = "(missing)";

/// The mean or median of each of `columns` (numeric), as `--fill mean|median` fills them; a
/// yes/no column gets its more frequent value (1 for true on a tie); a column with no value
/// at all gets none. A column of another type is an error only when it has a missing value
/// (with none there is nothing to fill).
pub fn fill_values(
    table: &DataFrame,
    columns: &[String],
    median: bool,
) -> Result<BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    for c in columns {
        let s = table.column(c).map_err(|_| unknown(table, c))?;
        if s.dtype() == &DataType::Boolean {
            let b = s
                .bool()
                .map_err(|e| DataError::polars(format!("feature `{c}`"), e))?;
            let (yes, known) = (b.sum().unwrap_or(0) as usize, b.len() - b.null_count());
            if known > 0 {
                out.insert(c.clone(), if 2 * yes >= known { 1.0 } else { 0.0 });
            }
            continue;
        }
        if !s.dtype().is_primitive_numeric() && s.null_count() == 0 {
            continue;
        }
        if !s.dtype().is_primitive_numeric() {
            return Err(DataError::Invalid(format!(
                "feature `{c}` is {}, so it has no {}; fill it in the data or drop the feature",
                s.dtype(),
                if median { "median" } else { "mean" }
            )));
        }
        let f = s
            .cast(&DataType::Float64)
            .map_err(|e| DataError::polars(format!("feature `{c}`"), e))?;
        let f = f.as_materialized_series();
        let v = if median { f.median() } else { f.mean() };
        if let Some(v) = v.filter(|v| v.is_finite()) {
            out.insert(c.clone(), v);
        }
    }
    Ok(out)
}

/// `table` with the missing values of each column of `values` filled in, cast to the
/// column's type (an integer column gets the value truncated, as `[cleaning.missing]` does).
pub fn fill_with(table: DataFrame, values: &BTreeMap<String, f64>) -> Result<DataFrame> {
    let mut exprs = Vec::new();
    for (c, v) in values {
        let dtype = table
            .column(c)
            .map_err(|_| unknown(&table, c))?
            .dtype()
            .clone();
        exprs.push(
            col(c.as_str())
                .fill_null(lit(*v).cast(dtype))
                .alias(c.as_str()),
        );
    }
    if exprs.is_empty() {
        return Ok(table);
    }
    table
        .lazy()
        .with_columns(exprs)
        .collect()
        .map_err(|e| DataError::polars("filling missing values", e))
}

/// The feature matrix of `table` under a trained model's `transforms` (in the model's column
/// order, scaled by `scaling`); `pooled` names the categorical columns whose rarer values the training pooled as
/// `other`. A value a categorical column never held in training is an error naming it,
/// unless the column was pooled (it is `other` then); so is a missing or non-numeric value in
/// a numeric feature.
pub fn apply(
    table: &DataFrame,
    key: &str,
    transforms: &[ColumnTransform],
    scaling: Scaling,
    pooled: &BTreeSet<String>,
) -> Result<FeatureMatrix> {
    let n = table.height();
    if n == 0 {
        return Err(DataError::Invalid("the input has no rows to score".into()));
    }
    let keys = table.column(key).map_err(|_| unknown(table, key))?.clone();
    let mut flat: Vec<f64> = Vec::with_capacity(n * transforms.len());
    // Each categorical column's one-hot columns, in the model's order.
    let mut one_hot: BTreeMap<&str, Vec<(usize, &str)>> = BTreeMap::new();
    for (j, t) in transforms.iter().enumerate() {
        if t.one_hot {
            let level = t
                .name
                .strip_prefix(&format!("{}=", t.source))
                .unwrap_or(&t.name);
            one_hot
                .entry(t.source.as_str())
                .or_default()
                .push((j, level));
        }
    }
    let mut texts: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (&c, levels) in &one_hot {
        let values = text_values(table, c)?;
        let known: BTreeSet<&str> = levels.iter().map(|(_, l)| *l).collect();
        if !pooled.contains(c) {
            let mut unseen: BTreeMap<&str, usize> = BTreeMap::new();
            for v in &values {
                if !known.contains(v.as_str()) {
                    *unseen.entry(v.as_str()).or_default() += 1;
                }
            }
            if !unseen.is_empty() {
                let rows: usize = unseen.values().sum();
                let shown: Vec<String> = unseen.keys().take(3).map(|v| format!("`{v}`")).collect();
                return Err(DataError::Invalid(format!(
                    "feature `{c}`: {rows} row(s) hold {} value(s) the model never saw in training ({}{}); map them to a known value or retrain the model on data that has them",
                    unseen.len(),
                    shown.join(", "),
                    if unseen.len() > 3 { ", ..." } else { "" }
                )));
            }
        }
        texts.insert(c, values);
    }
    for t in transforms {
        if t.one_hot {
            let values = &texts[t.source.as_str()];
            let level = t
                .name
                .strip_prefix(&format!("{}=", t.source))
                .unwrap_or(&t.name);
            let levels = &one_hot[t.source.as_str()];
            let is_other = pooled.contains(&t.source) && level == "other";
            flat.extend(values.iter().map(|v| {
                let hit = if is_other {
                    !levels.iter().any(|(_, l)| *l == v && *l != "other")
                } else {
                    v == level
                };
                if hit { 1.0 } else { 0.0 }
            }));
            continue;
        }
        let start = flat.len();
        flat.resize(start + n, 0.0);
        let v = &mut flat[start..];
        let c = &t.source;
        if let Ok(s) = table.column(c) {
            let nulls = s.null_count();
            if nulls > 0 {
                return Err(DataError::Invalid(format!(
                    "feature `{c}` has {nulls} missing value(s) and the model was trained without filling it; fill them, or retrain with --fill"
                )));
            }
        }
        column_as_f64(table, c, v)?;
        if t.log1p {
            if let Some(bad) = v.iter().find(|x| **x < 0.0) {
                return Err(DataError::Invalid(format!(
                    "feature `{c}` has a negative value ({bad}); the model takes log1p of it, so it was trained on values >= 0"
                )));
            }
            v.iter_mut().for_each(|x| *x = x.ln_1p());
        }
        scale_values(v, t.center, t.scale, t.exponent);
        if let Some(bad) = v.iter().find(|x| !x.is_finite()) {
            return Err(DataError::Invalid(format!(
                "feature `{c}`: scaled as in training it gives {bad}; its values are far outside the training range"
            )));
        }
    }
    FeatureMatrix::from_columns(keys, flat, transforms.to_vec(), scaling)
}

/// A column's distribution in the training rows, for drift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    pub column: String,
    /// Binned by value (one-hot features) rather than by deciles.
    #[serde(default)]
    pub categorical: bool,
    /// Numeric: the bins' upper edges but the last one's (the deciles of the training values,
    /// equal ones merged); a value <= `edges[i]` (and above the edge before) is in bin i.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edges: Vec<f64>,
    /// Categorical: each of these values (sorted) is a bin, and one more bin holds every other
    /// value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub levels: Vec<String>,
    /// The share of the training rows in each bin.
    pub shares: Vec<f64>,
}

/// Column `c` as text, a missing value as [`MISSING_LEVEL`]: what one-hot encoding reads.
pub(crate) fn text_values(table: &DataFrame, c: &str) -> Result<Vec<String>> {
    let s = table.column(c).map_err(|_| unknown(table, c))?;
    let s = s
        .cast(&DataType::String)
        .map_err(|e| DataError::polars(format!("feature `{c}`"), e))?;
    let ca = s
        .str()
        .map_err(|e| DataError::polars(format!("feature `{c}`"), e))?;
    Ok(ca
        .iter()
        .map(|v| v.unwrap_or(MISSING_LEVEL).to_string())
        .collect())
}

fn numeric_values(table: &DataFrame, c: &str) -> Result<Vec<f64>> {
    let s = table.column(c).map_err(|_| unknown(table, c))?;
    let f = s
        .cast(&DataType::Float64)
        .map_err(|e| DataError::polars(format!("feature `{c}`"), e))?;
    let ca = f
        .f64()
        .map_err(|e| DataError::polars(format!("feature `{c}`"), e))?;
    Ok(ca.iter().flatten().filter(|v| v.is_finite()).collect())
}

impl Reference {
    /// Column `c` of the training `table`: numeric values binned at their deciles, or, with
    /// `levels`, text values binned by those levels (the model's one-hot levels: a model file
    /// holds no other value of a column) and one more bin for any other value.
    pub fn of(table: &DataFrame, c: &str, levels: Option<Vec<String>>) -> Result<Reference> {
        if let Some(mut levels) = levels {
            levels.sort();
            levels.dedup();
            let r = Reference {
                column: c.to_string(),
                categorical: true,
                edges: Vec::new(),
                shares: Vec::new(),
                levels,
            };
            let shares = r.shares_of_texts(&text_values(table, c)?);
            return Ok(Reference { shares, ..r });
        }
        let mut values = numeric_values(table, c)?;
        values.sort_by(f64::total_cmp);
        let mut edges: Vec<f64> = (1..10)
            .map(|q| quantile_sorted(&values, q as f64 / 10.0))
            .filter(|e| e.is_finite())
            .collect();
        edges.dedup();
        let r = Reference {
            column: c.to_string(),
            categorical: false,
            edges,
            levels: Vec::new(),
            shares: Vec::new(),
        };
        let shares = r.shares_of_numbers(&values);
        Ok(Reference { shares, ..r })
    }

    fn shares_of_numbers(&self, values: &[f64]) -> Vec<f64> {
        let mut counts = vec![0usize; self.edges.len() + 1];
        for v in values {
            counts[self.edges.partition_point(|e| e < v)] += 1;
        }
        shares(&counts)
    }

    fn shares_of_texts(&self, values: &[String]) -> Vec<f64> {
        let mut counts = vec![0usize; self.levels.len() + 1];
        for v in values {
            let bin = self.levels.binary_search(v).unwrap_or(self.levels.len());
            counts[bin] += 1;
        }
        shares(&counts)
    }

    /// The population stability index of the column's values in `table` against the
    /// training rows': the sum over the bins of (new - training) x ln(new / training), each
    /// share at least 0.0001 (a bin empty on one side). Below 0.1 is usually read as no
    /// shift, 0.1 to 0.25 as a moderate one, above 0.25 as a large one.
    pub fn psi(&self, table: &DataFrame) -> Result<f64> {
        let now = if self.categorical {
            self.shares_of_texts(&text_values(table, &self.column)?)
        } else {
            self.shares_of_numbers(&numeric_values(table, &self.column)?)
        };
        Ok(psi(&self.shares, &now))
    }
}

fn shares(counts: &[usize]) -> Vec<f64> {
    let n: usize = counts.iter().sum();
    counts
        .iter()
        .map(|&c| if n == 0 { 0.0 } else { c as f64 / n as f64 })
        .collect()
}

/// PSI of shares `now` against `before` (bins in the same order).
pub fn psi(before: &[f64], now: &[f64]) -> f64 {
    const FLOOR: f64 = 1e-4;
    before
        .iter()
        .zip(now)
        .map(|(&b, &a)| {
            let (b, a) = (b.max(FLOOR), a.max(FLOOR));
            (a - b) * (a / b).ln()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Telco churn file's case: yes/no columns read as booleans, complete or with gaps,
    /// beside a numeric column with gaps: the numbers get their median, a yes/no column its
    /// more frequent value (filled as that value), a complete text column nothing; a text
    /// column with a gap is refused naming it.
    #[test]
    fn fill_values_of_yes_no_and_text_columns() {
        let table = df!(
            "partner" => [Some(true), Some(false), Some(true), Some(true)],
            "dependents" => [Some(false), None, Some(false), Some(true)],
            "total" => [Some(10.0), None, Some(30.0), Some(20.0)],
            "contract" => ["a", "b", "a", "c"],
            "gap" => [Some("x"), None, Some("y"), Some("x")]
        )
        .unwrap();
        let cols = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let v = fill_values(
            &table,
            &cols(&["partner", "dependents", "total", "contract"]),
            true,
        )
        .unwrap();
        assert_eq!(v.get("partner"), Some(&1.0));
        assert_eq!(v.get("dependents"), Some(&0.0));
        assert_eq!(v.get("total"), Some(&20.0));
        assert_eq!(v.get("contract"), None);
        let filled = fill_with(table.clone(), &v).unwrap();
        let d = filled.column("dependents").unwrap().bool().unwrap().clone();
        assert_eq!(d.get(1), Some(false));
        assert_eq!(
            filled.column("total").unwrap().f64().unwrap().get(1),
            Some(20.0)
        );
        let e = fill_values(&table, &cols(&["gap"]), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("feature `gap`") && e.contains("no mean"), "{e}");
    }

    #[test]
    fn psi_by_hand() {
        // Two bins, 50/50 before and 80/20 now: 0.3 ln 1.6 + (-0.3) ln 0.4.
        let v = psi(&[0.5, 0.5], &[0.8, 0.2]);
        let want = 0.3 * 1.6f64.ln() - 0.3 * 0.4f64.ln();
        assert!((v - want).abs() < 1e-12, "{v} {want}");
        assert_eq!(psi(&[0.25; 4], &[0.25; 4]), 0.0);
        // An empty bin on one side counts as 0.0001.
        let e = psi(&[1.0, 0.0], &[0.5, 0.5]);
        let want = (0.5f64 - 1.0) * (0.5f64).ln() + (0.5 - 1e-4) * (0.5f64 / 1e-4).ln();
        assert!((e - want).abs() < 1e-12);
    }

    #[test]
    fn a_reference_of_the_same_rows_has_no_drift_and_a_shifted_column_has() {
        let x: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        let shifted: Vec<f64> = (0..1000).map(|i| i as f64 + 500.0).collect();
        let t = DataFrame::new_infer_height(vec![Column::new("x".into(), x)]).unwrap();
        let s = DataFrame::new_infer_height(vec![Column::new("x".into(), shifted)]).unwrap();
        let r = Reference::of(&t, "x", None).unwrap();
        assert_eq!(r.edges.len(), 9);
        assert!(
            r.shares.iter().all(|s| (s - 0.1).abs() < 0.002),
            "{:?}",
            r.shares
        );
        assert_eq!(r.psi(&t).unwrap(), 0.0);
        // Half the rows move past the last edge: a large shift.
        assert!(r.psi(&s).unwrap() > 0.25);
        let c = DataFrame::new_infer_height(vec![Column::new(
            "c".into(),
            ["a", "b", "a", "a"].map(String::from).to_vec(),
        )])
        .unwrap();
        let r = Reference::of(&c, "c", Some(vec!["b".into(), "a".into()])).unwrap();
        assert_eq!(r.levels, ["a", "b"]);
        assert_eq!(r.shares, [0.75, 0.25, 0.0]);
        assert_eq!(r.psi(&c).unwrap(), 0.0);
    }
}
