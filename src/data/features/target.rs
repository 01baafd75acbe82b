//! A classification target: a column's values as class numbers 0..k, with the classes named.

use std::collections::HashMap;

use polars::prelude::{DataFrame, DataType};

use crate::data::error::{DataError, Result};

/// More distinct values than this is not a set of classes (an amount, an id...).
pub const MAX_CLASSES: usize = 50;

#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Class names, sorted, except that a chosen positive class goes last.
    pub classes: Vec<String>,
    /// Each row's class number.
    pub y: Vec<usize>,
}

impl Target {
    /// The class a two-class model's probability and threshold are about (the last one).
    pub fn positive(&self) -> usize {
        self.classes.len() - 1
    }
}

/// The columns of `table` (not the first, the key) that can be a classification target:
/// boolean, integer or text with 2 to [`MAX_CLASSES`] distinct values, in table order.
pub fn candidates(table: &DataFrame) -> Vec<String> {
    table
        .columns()
        .iter()
        .skip(1)
        .filter(|c| {
            let d = c.dtype();
            (d.is_integer() || matches!(d, DataType::Boolean | DataType::String))
                && c.n_unique().is_ok_and(|n| {
                    (2..=MAX_CLASSES).contains(&(n - usize::from(c.null_count() > 0)))
                })
        })
        .map(|c| c.name().to_string())
        .collect()
}

/// The classes of column `name` of `table`. `positive` moves that value to the end, so it is
/// class 1 of a two-class target. Refuses a missing column, missing values, one class, and
/// more than [`MAX_CLASSES`] classes.
pub fn target(table: &DataFrame, name: &str, positive: Option<&str>) -> Result<Target> {
    let Ok(column) = table.column(name) else {
        let have: Vec<String> = table
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        return Err(DataError::Invalid(format!(
            "no target column `{name}`; the table has: {}",
            have.join(", ")
        )));
    };
    let nulls = column.null_count();
    if nulls > 0 {
        return Err(DataError::Invalid(format!(
            "target `{name}` has {nulls} missing values; drop those rows or fill them first"
        )));
    }
    let text = column
        .cast(&DataType::String)
        .map_err(|e| DataError::polars(format!("target `{name}`"), e))?;
    let text = text
        .str()
        .map_err(|e| DataError::polars(format!("target `{name}`"), e))?;
    let mut classes: Vec<String> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut first_seen: Vec<usize> = Vec::with_capacity(text.len());
    for v in text.iter() {
        let v = v.unwrap_or("");
        let next = index.len();
        let c = *index.entry(v).or_insert_with(|| {
            classes.push(v.to_string());
            next
        });
        if index.len() > MAX_CLASSES {
            return Err(DataError::Invalid(format!(
                "target `{name}` has more than {MAX_CLASSES} distinct values; pick a column of classes (e.g. churned)"
            )));
        }
        first_seen.push(c);
    }
    if classes.len() < 2 {
        return Err(DataError::Invalid(format!(
            "target `{name}` has a single class ({}); a model needs two or more",
            classes.first().map_or("none", |s| s.as_str())
        )));
    }
    let mut sorted = classes.clone();
    sorted.sort();
    if let Some(pos) = positive {
        let Some(at) = sorted.iter().position(|c| c == pos) else {
            return Err(DataError::Invalid(format!(
                "--positive {pos}: target `{name}` has no such value; it has {}",
                sorted.join(", ")
            )));
        };
        let c = sorted.remove(at);
        sorted.push(c);
    }
    // From order of first appearance to the final order.
    let remap: Vec<usize> = classes
        .iter()
        .map(|c| sorted.iter().position(|s| s == c).expect("a class"))
        .collect();
    Ok(Target {
        y: first_seen.into_iter().map(|c| remap[c]).collect(),
        classes: sorted,
    })
}

fn column<'a>(table: &'a DataFrame, name: &str) -> Result<&'a polars::prelude::Column> {
    table.column(name).map_err(|_| {
        let have: Vec<String> = table
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        DataError::Invalid(format!(
            "no target column `{name}`; the table has: {}",
            have.join(", ")
        ))
    })
}

/// The columns of `table` (not the first, the key) that hold values to regress on (see
/// [`is_value`]), in table order.
pub fn value_candidates(table: &DataFrame) -> Vec<String> {
    table
        .get_column_names()
        .iter()
        .skip(1)
        .map(|c| c.to_string())
        .filter(|c| is_value(table, c))
        .collect()
}

/// Whether column `name` holds values to regress on rather than classes: numbers with more
/// than [`MAX_CLASSES`] distinct values, or with a fraction (an amount, a rate). A missing
/// column is not (the classification target's error names it).
pub fn is_value(table: &DataFrame, name: &str) -> bool {
    let Ok(c) = table.column(name) else {
        return false;
    };
    if !c.dtype().is_primitive_numeric() {
        return false;
    }
    let many = c.n_unique().is_ok_and(|n| n > MAX_CLASSES + 1);
    let fractional = c.dtype().is_float()
        && c.cast(&DataType::Float64).ok().is_some_and(|f| {
            f.f64()
                .is_ok_and(|f| f.iter().flatten().any(|v| v.fract() != 0.0))
        });
    many || fractional
}

/// The values of numeric column `name` of `table`, to predict. Refuses a missing column, a
/// column that is not numeric, missing values and values that are not finite.
pub fn values(table: &DataFrame, name: &str) -> Result<Vec<f64>> {
    let c = column(table, name)?;
    if !c.dtype().is_primitive_numeric() {
        return Err(DataError::Invalid(format!(
            "target `{name}` holds {} values, not numbers; a regression predicts a number (e.g. spend); for classes use --task classification",
            c.dtype()
        )));
    }
    let nulls = c.null_count();
    if nulls > 0 {
        return Err(DataError::Invalid(format!(
            "target `{name}` has {nulls} missing values; drop those rows or fill them first"
        )));
    }
    let f = c
        .cast(&DataType::Float64)
        .map_err(|e| DataError::polars(format!("target `{name}`"), e))?;
    let f = f
        .f64()
        .map_err(|e| DataError::polars(format!("target `{name}`"), e))?;
    let v: Vec<f64> = f.iter().map(|v| v.unwrap_or(f64::NAN)).collect();
    if let Some((i, x)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(DataError::Invalid(format!(
            "target `{name}` is {x} in row {}; a value to predict must be a finite number",
            i + 1
        )));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::{Column, DataFrame};

    fn frame(values: Vec<&str>) -> DataFrame {
        DataFrame::new_infer_height(vec![Column::new("t".into(), values)]).unwrap()
    }

    #[test]
    fn classes_are_sorted_and_positive_goes_last() {
        let t = target(&frame(vec!["yes", "no", "no", "yes", "no"]), "t", None).unwrap();
        assert_eq!(t.classes, vec!["no", "yes"]);
        assert_eq!(t.y, vec![1, 0, 0, 1, 0]);
        let t = target(&frame(vec!["yes", "no", "no"]), "t", Some("no")).unwrap();
        assert_eq!(t.classes, vec!["yes", "no"]);
        assert_eq!(t.y, vec![0, 1, 1]);
        assert_eq!(t.positive(), 1);
        let ints =
            DataFrame::new_infer_height(vec![Column::new("c".into(), [1i64, 0, 0, 2])]).unwrap();
        let t = target(&ints, "c", None).unwrap();
        assert_eq!((t.classes.len(), t.y.clone()), (3, vec![1, 0, 0, 2]));
    }

    #[test]
    fn candidates_are_columns_of_few_classes() {
        let t = DataFrame::new_infer_height(vec![
            Column::new("id".into(), ["a", "b", "c", "d"]),
            Column::new("flag".into(), [true, false, true, true]),
            Column::new("amount".into(), [1.0, 2.0, 1.0, 2.0]),
            Column::new("one".into(), [1i64, 1, 1, 1]),
            Column::new("tier".into(), ["x", "y", "z", "x"]),
            Column::new("n".into(), [1i64, 2, 3, 1]),
        ])
        .unwrap();
        assert_eq!(candidates(&t), vec!["flag", "tier", "n"]);
        let many = DataFrame::new_infer_height(vec![
            Column::new("id".into(), (0..100i64).collect::<Vec<_>>()),
            Column::new("count".into(), (0..100i64).collect::<Vec<_>>()),
        ])
        .unwrap();
        assert!(candidates(&many).is_empty());
    }

    #[test]
    fn bad_targets_say_why() {
        let e = |r: Result<Target>| r.unwrap_err().to_string();
        assert!(e(target(&frame(vec!["a", "a"]), "t", None)).contains("single class (a)"));
        assert!(e(target(&frame(vec!["a", "b"]), "x", None)).contains("no target column `x`"));
        assert!(e(target(&frame(vec!["a", "b"]), "t", Some("c"))).contains("it has a, b"));
        let many: Vec<String> = (0..60).map(|i| i.to_string()).collect();
        let many: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
        assert!(e(target(&frame(many), "t", None)).contains("more than 50"));
        let nulls =
            DataFrame::new_infer_height(vec![Column::new("t".into(), [Some(1i64), None, Some(0)])])
                .unwrap();
        assert!(e(target(&nulls, "t", None)).contains("1 missing values"));
    }

    #[test]
    fn values_are_numbers_with_many_values_or_fractions() {
        let t = DataFrame::new_infer_height(vec![
            Column::new("spend".into(), [1.5, 2.0, 0.0, 7.25]),
            Column::new("visits".into(), [1i64, 2, 3, 1]),
            Column::new("whole".into(), [1.0, 2.0, 1.0, 2.0]),
            Column::new("tier".into(), ["x", "y", "z", "x"]),
            Column::new("many".into(), [0i64, 1, 2, 3]),
        ])
        .unwrap();
        assert!(is_value(&t, "spend"));
        assert!(!is_value(&t, "visits"));
        assert!(!is_value(&t, "whole"));
        assert!(!is_value(&t, "tier"));
        assert!(!is_value(&t, "nope"));
        assert_eq!(values(&t, "spend").unwrap(), vec![1.5, 2.0, 0.0, 7.25]);
        assert_eq!(values(&t, "visits").unwrap(), vec![1.0, 2.0, 3.0, 1.0]);
        let e = |r: Result<Vec<f64>>| r.unwrap_err().to_string();
        assert!(e(values(&t, "tier")).contains("not numbers"));
        assert!(e(values(&t, "x")).contains("no target column `x`"));
        let many = DataFrame::new_infer_height(vec![Column::new(
            "n".into(),
            (0..60i64).collect::<Vec<_>>(),
        )])
        .unwrap();
        assert!(is_value(&many, "n"));
        let gaps = DataFrame::new_infer_height(vec![Column::new(
            "t".into(),
            [Some(1.5), None, Some(0.5)],
        )])
        .unwrap();
        assert!(e(values(&gaps, "t")).contains("1 missing values"));
    }
}
