//! Feature matrices for the models: picked numeric columns (optionally log1p, then scaled) and
//! one-hot categoricals with a cardinality cap, as an ndarray matrix with column names and the
//! customer key kept alongside. Scaling statistics are computed here in plain Rust so they match
//! scikit-learn's definitions exactly (population standard deviation, linear-interpolated
//! quantiles) and can be inverted to show results in original units.

pub mod apply;
pub mod baskets;
pub mod purchases;
pub mod target;
pub mod transactions;

use ndarray::{Array2, ShapeBuilder};
use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::error::{DataError, Result};
use crate::data::sources::workspace::{FeatureConfig, Scaling};

/// How one output column was made from the 360 table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ColumnTransform {
    /// Output column name (`channel=web` for a one-hot column).
    pub name: String,
    /// The 360 column it comes from.
    pub source: String,
    pub log1p: bool,
    /// value_scaled = (value - center) / scale, after log1p when set.
    pub center: f64,
    pub scale: f64,
    pub one_hot: bool,
    /// The power of two the column's values were scaled with (values beyond 1e150; 0 for
    /// ordinary ones): a saved model scales new values the same way.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub exponent: i32,
}

fn is_zero(e: &i32) -> bool {
    *e == 0
}

/// `(x - center) / scale` in place, computed times 2^`e` (near 1 for values beyond 1e150:
/// `x - center` overflows when the values span both signs near 1e308).
pub(crate) fn scale_values(v: &mut [f64], center: f64, scale: f64, e: i32) {
    let (c2, s2) = (libm::scalbn(center, e), libm::scalbn(scale, e));
    v.iter_mut()
        .for_each(|x| *x = (libm::scalbn(*x, e) - c2) / s2);
}

impl ColumnTransform {
    /// A scaled value back in the original units.
    pub fn to_original(&self, scaled: f64) -> f64 {
        let v = scaled * self.scale + self.center;
        if self.log1p { v.exp_m1() } else { v }
    }
}

/// The model input: one row per customer.
#[derive(Debug, Clone)]
pub struct FeatureMatrix {
    /// The key column, as the table has it (shared, not copied).
    pub keys: Column,
    pub names: Vec<String>,
    pub values: Array2<f64>,
    pub transforms: Vec<ColumnTransform>,
    pub scaling: Scaling,
}

/// Writes column `c` of `table` as f64 values into `out` (its length is the table's height;
/// no nulls, no NaN or infinity).
pub(crate) fn column_as_f64(table: &DataFrame, c: &str, out: &mut [f64]) -> Result<()> {
    let s = table.column(c).map_err(|_| unknown(table, c))?;
    let dtype = s.dtype().clone();
    if !(dtype.is_primitive_numeric() || dtype == DataType::Boolean) {
        return Err(DataError::Invalid(format!(
            "feature `{c}` is {dtype}, not numeric; pick it as a categorical feature or choose a numeric column"
        )));
    }
    let nulls = s.null_count();
    if nulls > 0 {
        return Err(DataError::Invalid(format!(
            "feature `{c}` has {nulls} missing values; set a fill policy for it ([cleaning.missing] in a workspace, --fill on the command line) or drop the feature"
        )));
    }
    let f = s
        .cast(&DataType::Float64)
        .map_err(|e| DataError::polars(format!("feature `{c}`"), e))?;
    let ca = f
        .f64()
        .map_err(|e| DataError::polars(format!("feature `{c}`"), e))?;
    let mut at = 0;
    for chunk in ca.downcast_iter() {
        let values = chunk.values().as_slice();
        out[at..at + values.len()].copy_from_slice(values);
        at += values.len();
    }
    if let Some(bad) = out.iter().find(|x| !x.is_finite()) {
        return Err(DataError::Invalid(format!(
            "feature `{c}` has a non-finite value ({bad}); fix or drop those rows"
        )));
    }
    Ok(())
}

pub(crate) fn unknown(table: &DataFrame, c: &str) -> DataError {
    let names: Vec<String> = table
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    DataError::Invalid(format!(
        "unknown feature column `{c}`; the customer-360 table has: {}",
        names.join(", ")
    ))
}

/// Linear-interpolated quantile of sorted values (numpy's default, used by scikit-learn).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// (center, scale) of a column under `scaling`. A constant column gets scale 1 (as
/// scikit-learn does) so it maps to zeros instead of NaN. Values beyond 1e150 are summed
/// times a power of two that brings them near 1 (exact), so a column near 1e308 gets its
/// true mean and spread instead of an overflow; a spread beyond the floating-point range
/// is infinite (the caller refuses it).
pub fn scale_params(v: &[f64], scaling: Scaling) -> (f64, f64) {
    let e = large_exponent(v);
    if e == 0 || scaling == Scaling::None {
        return scale_params_plain(v, scaling);
    }
    let scaled: Vec<f64> = v.iter().map(|x| libm::scalbn(*x, e)).collect();
    let (center, scale) = scale_params_plain(&scaled, scaling);
    if scale == 1.0 && scaling != Scaling::None && scaled.iter().all(|x| *x == scaled[0]) {
        // Constant: scale 1, not 2^-e.
        return (libm::scalbn(center, -e), 1.0);
    }
    (libm::scalbn(center, -e), libm::scalbn(scale, -e))
}

fn scaling_name(s: Scaling) -> &'static str {
    match s {
        Scaling::Standard => "standard",
        Scaling::Minmax => "minmax",
        Scaling::Robust => "robust",
        Scaling::None => "no",
    }
}

/// The power of two (exponent) values beyond 1e150 are computed with, else 0.
fn large_exponent(v: &[f64]) -> i32 {
    let max = v
        .iter()
        .filter(|x| x.is_finite())
        .fold(0.0f64, |a, x| a.max(x.abs()));
    if max > 1e150 { -libm::ilogb(max) } else { 0 }
}

fn scale_params_plain(v: &[f64], scaling: Scaling) -> (f64, f64) {
    let n = v.len() as f64;
    let fix = |s: f64| if s == 0.0 || !s.is_finite() { 1.0 } else { s };
    match scaling {
        Scaling::None => (0.0, 1.0),
        Scaling::Standard => {
            let mean = v.iter().sum::<f64>() / n;
            let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
            (mean, fix(var.sqrt()))
        }
        Scaling::Minmax => {
            let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
            let max = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            (min, fix(max - min))
        }
        Scaling::Robust => {
            let mut s = v.to_vec();
            s.sort_by(|a, b| a.total_cmp(b));
            let median = quantile_sorted(&s, 0.5);
            let iqr = quantile_sorted(&s, 0.75) - quantile_sorted(&s, 0.25);
            (median, fix(iqr))
        }
    }
}

/// Builds the feature matrix of `table` as `cfg` says.
pub fn build_features(table: &DataFrame, key: &str, cfg: &FeatureConfig) -> Result<FeatureMatrix> {
    if cfg.numeric.is_empty() && cfg.categorical.is_empty() {
        return Err(DataError::Invalid(
            "no features selected; list numeric or categorical columns under [features]".into(),
        ));
    }
    let n = table.height();
    if n == 0 {
        return Err(DataError::Invalid(
            "the customer-360 table has no rows; check the customers source and the cleaning policy".into(),
        ));
    }
    for c in &cfg.log1p {
        if !cfg.numeric.contains(c) {
            return Err(DataError::Invalid(format!(
                "[features] log1p names `{c}`, which is not among the numeric features"
            )));
        }
    }
    let keys = table.column(key).map_err(|_| unknown(table, key))?.clone();

    // Column-major ("Fortran") layout: each feature contiguous, as the models read them;
    // columns are written straight into the matrix's buffer.
    let mut flat: Vec<f64> = Vec::with_capacity(n * cfg.numeric.len());
    let mut transforms = Vec::new();
    // Numeric columns in parallel, one task per column; the first error in column order wins.
    flat.resize(n * cfg.numeric.len(), 0.0);
    let numeric: Vec<Result<ColumnTransform>> = flat
        .par_chunks_mut(n)
        .zip(cfg.numeric.par_iter())
        .map(|(v, c)| {
            column_as_f64(table, c, v)?;
            let log = cfg.log1p.contains(c);
            if log {
                if let Some(bad) = v.iter().find(|x| **x < 0.0) {
                    return Err(DataError::Invalid(format!(
                        "feature `{c}` has a negative value ({bad}) and cannot take log1p; remove it from [features] log1p or fix the data"
                    )));
                }
                v.iter_mut().for_each(|x| *x = x.ln_1p());
            }
            let (center, scale) = scale_params(v, cfg.scaling);
            if !(scale.is_finite() && center.is_finite()) {
                let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                    (a.min(*x), b.max(*x))
                });
                return Err(DataError::Invalid(format!(
                    "feature `{c}`: its values ({lo:e} to {hi:e}) spread beyond the floating-point range, so {} scaling cannot be computed; rescale the column (e.g. divide it by 1e300) or use standard scaling",
                    scaling_name(cfg.scaling)
                )));
            }
            let e = large_exponent(v);
            scale_values(v, center, scale, e);
            if let Some(bad) = v.iter().find(|x| !x.is_finite()) {
                return Err(DataError::Invalid(format!(
                    "feature `{c}`: {} scaling gives {bad}; its values are too large or too spread for floating point; rescale the column",
                    scaling_name(cfg.scaling)
                )));
            }
            Ok(ColumnTransform {
                name: c.clone(),
                source: c.clone(),
                log1p: log,
                center,
                scale,
                one_hot: false,
                exponent: e,
            })
        })
        .collect();
    for t in numeric {
        transforms.push(t?);
    }
    for c in &cfg.categorical {
        let values = apply::text_values(table, c)?;
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for v in &values {
            *counts.entry(v.as_str()).or_default() += 1;
        }
        let mut ranked: Vec<(&str, usize)> = counts.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let pooled = ranked.len() > cfg.max_categories;
        let keep: Vec<&str> = if pooled {
            ranked[..cfg.max_categories - 1]
                .iter()
                .map(|r| r.0)
                .collect()
        } else {
            ranked.iter().map(|r| r.0).collect()
        };
        let mut levels: Vec<String> = keep.iter().map(|s| s.to_string()).collect();
        levels.sort();
        if pooled {
            levels.push("other".to_string());
        }
        for level in &levels {
            let is_other = pooled && level == "other";
            flat.extend(values.iter().map(|v| {
                let hit = if is_other {
                    !keep.contains(&v.as_str())
                } else {
                    v == level
                };
                if hit { 1.0 } else { 0.0 }
            }));
            transforms.push(ColumnTransform {
                name: format!("{c}={level}"),
                source: c.clone(),
                log1p: false,
                center: 0.0,
                scale: 1.0,
                one_hot: true,
                exponent: 0,
            });
        }
    }
    FeatureMatrix::from_columns(keys, flat, transforms, cfg.scaling)
}

impl FeatureMatrix {
    /// The matrix of `flat` (column after column, one per transform, each as long as `keys`).
    pub(crate) fn from_columns(
        keys: Column,
        flat: Vec<f64>,
        transforms: Vec<ColumnTransform>,
        scaling: Scaling,
    ) -> Result<FeatureMatrix> {
        let (n, k) = (keys.len(), transforms.len());
        let values = Array2::from_shape_vec((n, k).f(), flat)
            .map_err(|e| DataError::Invalid(format!("feature matrix: {e}")))?;
        Ok(FeatureMatrix {
            keys,
            names: transforms.iter().map(|t| t.name.clone()).collect(),
            values,
            transforms,
            scaling,
        })
    }
}

/// Pearson correlations between numeric columns (log1p applied to the `log1p` ones first, as
/// the models see them), over the rows where every chosen column has a value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Correlation {
    pub names: Vec<String>,
    /// values[i][j] = corr(names[i], names[j]); NaN when a column is constant.
    pub values: Vec<Vec<f64>>,
    pub rows_used: usize,
}

pub fn correlation(table: &DataFrame, columns: &[String], log1p: &[String]) -> Result<Correlation> {
    let mut data: Vec<Vec<Option<f64>>> = Vec::new();
    for c in columns {
        let s = table.column(c).map_err(|_| unknown(table, c))?;
        if !(s.dtype().is_primitive_numeric() || s.dtype() == &DataType::Boolean) {
            return Err(DataError::Invalid(format!(
                "feature `{c}` is {}, not numeric",
                s.dtype()
            )));
        }
        let f = s
            .cast(&DataType::Float64)
            .map_err(|e| DataError::polars(format!("feature `{c}`"), e))?;
        let log = log1p.contains(c);
        let v: Vec<Option<f64>> = f
            .f64()
            .map_err(|e| DataError::polars(format!("feature `{c}`"), e))?
            .iter()
            .map(|x| x.map(|x| if log && x >= 0.0 { x.ln_1p() } else { x }))
            .collect();
        data.push(v);
    }
    let n = table.height();
    let complete: Vec<usize> = (0..n)
        .filter(|&i| data.iter().all(|c| c[i].is_some_and(f64::is_finite)))
        .collect();
    let k = columns.len();
    let cols: Vec<Vec<f64>> = data
        .iter()
        .map(|c| complete.iter().map(|&i| c[i].unwrap_or(0.0)).collect())
        .collect();
    let m = complete.len() as f64;
    let means: Vec<f64> = cols.iter().map(|c| c.iter().sum::<f64>() / m).collect();
    let mut values = vec![vec![f64::NAN; k]; k];
    for i in 0..k {
        for j in i..k {
            let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
            for (x, y) in cols[i].iter().zip(&cols[j]) {
                let dx = x - means[i];
                let dy = y - means[j];
                sxy += dx * dy;
                sxx += dx * dx;
                syy += dy * dy;
            }
            let r = if sxx > 0.0 && syy > 0.0 {
                sxy / (sxx * syy).sqrt()
            } else {
                f64::NAN
            };
            values[i][j] = r;
            values[j][i] = r;
        }
    }
    Ok(Correlation {
        names: columns.to_vec(),
        values,
        rows_used: complete.len(),
    })
}

/// What an analyst would tick first on a table no workspace describes: the numeric columns
/// that are not an id, constant, the likely target or personal data, and the text columns
/// of 2 to `max_categories` levels (one-hot) that are neither.
///
/// `target` and `pii` are what the load already found (the likely target, the personal-data
/// columns); the load job calls this, off the UI thread.
pub fn first_pick(table: &DataFrame, target: Option<&str>, pii: &[String]) -> FeatureConfig {
    let mut d = FeatureConfig::default();
    let n = table.height();
    for c in table.columns().iter().skip(1) {
        let name = c.name().to_string();
        if Some(name.as_str()) == target || pii.contains(&name) {
            continue;
        }
        let levels = c
            .n_unique()
            .unwrap_or(0)
            .saturating_sub(usize::from(c.null_count() > 0));
        if levels < 2 {
            continue;
        }
        let id_like = crate::data::integrate::profile::id_like_name(&name);
        let dtype = c.dtype();
        if dtype.is_primitive_numeric() || dtype == &DataType::Boolean {
            // Every value distinct and whole: a row number or an id.
            let counter = dtype.is_integer() && levels == n;
            if !id_like && !counter {
                d.numeric.push(name);
            }
        } else if dtype == &DataType::String && !id_like && levels <= d.max_categories {
            d.categorical.push(name);
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(numeric: &[&str], categorical: &[&str], scaling: Scaling) -> FeatureConfig {
        FeatureConfig {
            numeric: numeric.iter().map(|s| s.to_string()).collect(),
            categorical: categorical.iter().map(|s| s.to_string()).collect(),
            scaling,
            log1p: Vec::new(),
            max_categories: 20,
        }
    }

    fn table() -> DataFrame {
        df!(
            "id" => ["a", "b", "c", "d"],
            "x" => [1.0, 2.0, 3.0, 10.0],
            "n" => [0i64, 0, 0, 0],
            "city" => [Some("York"), Some("Leeds"), None, Some("York")],
            "name" => ["A", "B", "C", "D"]
        )
        .unwrap()
    }

    #[test]
    fn standard_scaling_uses_population_std() {
        let m = build_features(&table(), "id", &cfg(&["x", "n"], &[], Scaling::Standard)).unwrap();
        // mean 4, population variance (9+4+1+36)/4 = 12.5
        let sd = 12.5f64.sqrt();
        let col: Vec<f64> = m.values.column(0).to_vec();
        let want = [-3.0 / sd, -2.0 / sd, -1.0 / sd, 6.0 / sd];
        for (a, b) in col.iter().zip(want) {
            assert!((a - b).abs() < 1e-12);
        }
        // A constant column maps to zeros, not NaN.
        assert!(m.values.column(1).iter().all(|v| *v == 0.0));
        let keys: Vec<&str> = m.keys.str().unwrap().iter().flatten().collect();
        assert_eq!(keys, vec!["a", "b", "c", "d"]);
        assert!((m.transforms[0].to_original(col[3]) - 10.0).abs() < 1e-12);
    }

    /// A column near 1e308 (x times 1e307): its sum overflowed, every scaled value was
    /// infinite or NaN and the models said "missing or infinite value". Its z-scores are
    /// those of x; a range beyond the floating-point range is an error naming the feature.
    #[test]
    fn scaling_values_near_the_float_limit() {
        let t = df!(
            "id" => ["a", "b", "c", "d"],
            "x" => [1e307, 2e307, 3e307, 1e308],
            "same" => [1e308, 1e308, 1e308, 1e308],
            "wide" => [-1.5e308, 0.0, 1.0, 1.5e308]
        )
        .unwrap();
        let small = build_features(&table(), "id", &cfg(&["x"], &[], Scaling::Standard)).unwrap();
        for scaling in [Scaling::Standard, Scaling::Minmax, Scaling::Robust] {
            let big = build_features(&t, "id", &cfg(&["x"], &[], scaling)).unwrap();
            let small = build_features(&table(), "id", &cfg(&["x"], &[], scaling)).unwrap();
            for (a, b) in big.values.iter().zip(small.values.iter()) {
                assert!((a - b).abs() < 1e-12, "{scaling:?}: {a} vs {b}");
            }
            let back = big.transforms[0].to_original(big.values[[3, 0]]);
            assert!((back / 1e308 - 1.0).abs() < 1e-12, "{back}");
        }
        assert!(small.values.iter().all(|v| v.is_finite()));
        // A constant column still maps to zeros.
        let m = build_features(&t, "id", &cfg(&["same"], &[], Scaling::Standard)).unwrap();
        assert!(m.values.iter().all(|v| *v == 0.0));
        // Standard scaling of ±1.5e308 is finite; its min-max range (3e308) is not a number.
        let m = build_features(&t, "id", &cfg(&["wide"], &[], Scaling::Standard)).unwrap();
        assert!(m.values.iter().all(|v| v.is_finite()));
        let e = build_features(&t, "id", &cfg(&["wide"], &[], Scaling::Minmax)).unwrap_err();
        assert!(e.to_string().contains("feature `wide`"), "{e}");
    }

    #[test]
    fn minmax_and_robust_hand_computed() {
        let m = build_features(&table(), "id", &cfg(&["x"], &[], Scaling::Minmax)).unwrap();
        assert_eq!(
            m.values.column(0).to_vec(),
            vec![0.0, 1.0 / 9.0, 2.0 / 9.0, 1.0]
        );
        let m = build_features(&table(), "id", &cfg(&["x"], &[], Scaling::Robust)).unwrap();
        // sorted 1,2,3,10: median 2.5; q1 at pos .75 -> 1.75; q3 at pos 2.25 -> 4.75; IQR 3
        let got = m.values.column(0).to_vec();
        let want = [-1.5 / 3.0, -0.5 / 3.0, 0.5 / 3.0, 7.5 / 3.0];
        for (a, b) in got.iter().zip(want) {
            assert!((a - b).abs() < 1e-12);
        }
    }

    #[test]
    fn log1p_then_scale_and_invert() {
        let mut c = cfg(&["x"], &[], Scaling::None);
        c.log1p = vec!["x".into()];
        let m = build_features(&table(), "id", &c).unwrap();
        assert!((m.values[[3, 0]] - 11f64.ln()).abs() < 1e-12);
        assert!((m.transforms[0].to_original(m.values[[3, 0]]) - 10.0).abs() < 1e-9);
    }

    #[test]
    fn one_hot_with_missing_and_cap() {
        let m = build_features(&table(), "id", &cfg(&[], &["city"], Scaling::Standard)).unwrap();
        assert_eq!(m.names, vec!["city=(missing)", "city=Leeds", "city=York"]);
        assert_eq!(m.values.row(0).to_vec(), vec![0.0, 0.0, 1.0]);
        assert_eq!(m.values.row(2).to_vec(), vec![1.0, 0.0, 0.0]);
        let mut c = cfg(&[], &["city"], Scaling::Standard);
        c.max_categories = 2;
        let m = build_features(&table(), "id", &c).unwrap();
        // York (2) is kept; Leeds and (missing) pool into `other`.
        assert_eq!(m.names, vec!["city=York", "city=other"]);
        assert_eq!(m.values.column(1).to_vec(), vec![0.0, 1.0, 1.0, 0.0]);
    }

    #[test]
    fn correlation_hand_computed() {
        let t = df!(
            "a" => [Some(1.0), Some(2.0), Some(3.0), Some(4.0), None],
            "b" => [Some(2.0), Some(4.0), Some(6.0), Some(8.0), Some(1.0)],
            "c" => [Some(4.0), Some(3.0), Some(2.0), Some(1.0), Some(0.0)],
            "d" => [Some(1.0), Some(3.0), Some(2.0), Some(4.0), Some(5.0)],
            "k" => [7.0, 7.0, 7.0, 7.0, 7.0]
        )
        .unwrap();
        let cols: Vec<String> = ["a", "b", "c", "d", "k"].map(String::from).to_vec();
        let c = correlation(&t, &cols, &[]).unwrap();
        assert_eq!(c.rows_used, 4, "the row with a missing `a` is left out");
        assert!((c.values[0][1] - 1.0).abs() < 1e-12);
        assert!((c.values[0][2] + 1.0).abs() < 1e-12);
        // a = 1,2,3,4; d = 1,3,2,4: sxy = 4, sxx = syy = 5 -> 0.8
        assert!((c.values[0][3] - 0.8).abs() < 1e-12);
        assert!((c.values[3][0] - 0.8).abs() < 1e-12);
        assert!(
            c.values[0][4].is_nan(),
            "a constant column has no correlation"
        );
        assert!(correlation(&table(), &["name".to_string()], &[]).is_err());
    }

    #[test]
    fn bad_selections_are_clear() {
        let t = table();
        let msg = build_features(&t, "id", &cfg(&[], &[], Scaling::None))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("no features"), "{msg}");
        let msg = build_features(&t, "id", &cfg(&["name"], &[], Scaling::None))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("`name`") && msg.contains("categorical"),
            "{msg}"
        );
        let msg = build_features(&t, "id", &cfg(&["nope"], &[], Scaling::None))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("`nope`"), "{msg}");
        let t2 = df!("id" => ["a", "b"], "x" => [Some(1.0), None]).unwrap();
        let msg = build_features(&t2, "id", &cfg(&["x"], &[], Scaling::None))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("1 missing") && msg.contains("[cleaning.missing]"),
            "{msg}"
        );
    }
}
