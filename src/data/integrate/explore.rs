//! Exploring a loaded table: the row order of a filtered and sorted view (as row indices, so
//! the table itself is never copied) and one column's summary with a histogram. Used by the
//! workbench's Data screen, on a worker thread.

use polars::prelude::*;
use serde::Serialize;

use crate::data::error::{DataError, Result};
use crate::data::integrate::profile::{ColumnProfile, profile_column};

fn pl(context: &str) -> impl Fn(PolarsError) -> DataError + '_ {
    move |e| DataError::polars(context, e)
}

/// Rows of `table` containing `needle` (case-insensitive, in any column), sorted by `sort`
/// (column, descending) when given; as row indices into `table`. Sorting is stable, nulls
/// last, so equal keys keep file order.
pub fn arrange(
    table: &DataFrame,
    filter: Option<&str>,
    sort: Option<(&str, bool)>,
) -> Result<Vec<IdxSize>> {
    const ROW: &str = "__crmlens_row";
    let mut lf = table.clone().lazy().with_row_index(ROW, None);
    if let Some(needle) = filter.filter(|n| !n.is_empty()) {
        let needle = needle.to_lowercase();
        let hits: Vec<Expr> = table
            .get_column_names()
            .iter()
            .map(|c| {
                col(c.as_str())
                    .cast(DataType::String)
                    .str()
                    .to_lowercase()
                    .str()
                    .contains_literal(lit(needle.clone()))
                    .fill_null(lit(false))
            })
            .collect();
        let any = hits
            .into_iter()
            .reduce(|a, b| a.or(b))
            .unwrap_or(lit(false));
        lf = lf.filter(any);
    }
    if let Some((c, descending)) = sort {
        if table.column(c).is_err() {
            return Err(DataError::Invalid(format!("cannot sort: no column `{c}`")));
        }
        lf = lf.sort(
            [c],
            SortMultipleOptions::default()
                .with_order_descending(descending)
                .with_nulls_last(true)
                .with_maintain_order(true),
        );
    }
    let out = lf
        .select([col(ROW)])
        .collect()
        .map_err(pl("arranging rows"))?;
    let idx = out.column(ROW).map_err(pl("arranging rows"))?;
    let idx = idx.idx().map_err(pl("arranging rows"))?;
    Ok(idx.into_no_null_iter().collect())
}

/// A column's profile and a histogram: equal-width bins for numbers and dates, the most
/// frequent values for text.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ColumnSummary {
    pub profile: ColumnProfile,
    /// (label, count) per bar.
    pub histogram: Vec<(String, u64)>,
}

/// Summarises one column of `table`.
pub fn column_summary(table: &DataFrame, column: &str, bins: usize) -> Result<ColumnSummary> {
    let profile = profile_column(table, column)?;
    let s = table.column(column).map_err(pl("summarising"))?;
    let dtype = s.dtype().clone();
    let histogram = if dtype.is_primitive_numeric() || dtype.is_temporal() {
        let values = s
            .as_materialized_series()
            .to_physical_repr()
            .cast(&DataType::Float64)
            .map_err(pl("summarising"))?;
        let v: Vec<f64> = values
            .f64()
            .map_err(pl("summarising"))?
            .iter()
            .flatten()
            .filter(|x| x.is_finite())
            .collect();
        numeric_histogram(&v, bins, dtype.is_temporal())
    } else {
        profile
            .top
            .iter()
            .map(|t| (t.value.clone(), t.count))
            .collect()
    };
    Ok(ColumnSummary { profile, histogram })
}

/// `bins` equal-width bins over [min, max]; the last bin includes max. Labels are the bins'
/// lower edges (as dates when `dates`).
pub fn numeric_histogram(v: &[f64], bins: usize, dates: bool) -> Vec<(String, u64)> {
    if v.is_empty() || bins == 0 {
        return Vec::new();
    }
    let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let bins = if max == min { 1 } else { bins };
    let width = (max - min) / bins as f64;
    let mut counts = vec![0u64; bins];
    for x in v {
        let b = if width == 0.0 {
            0
        } else {
            (((x - min) / width) as usize).min(bins - 1)
        };
        counts[b] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let edge = min + width * i as f64;
            let label = if dates {
                crate::data::dates::from_epoch_days(edge.floor() as i32).to_string()
            } else if edge.abs() >= 1000.0 || edge.fract() == 0.0 {
                format!("{edge:.0}")
            } else {
                format!("{edge:.2}")
            };
            (label, c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> DataFrame {
        df!(
            "id" => ["a", "b", "c", "d"],
            "city" => [Some("York"), Some("Leeds"), None, Some("york")],
            "v" => [Some(3.0), None, Some(1.0), Some(2.0)]
        )
        .unwrap()
    }

    #[test]
    fn filter_is_case_insensitive_across_columns() {
        let t = table();
        assert_eq!(arrange(&t, Some("YORK"), None).unwrap(), vec![0, 3]);
        assert_eq!(arrange(&t, Some("c"), None).unwrap(), vec![2]);
        assert_eq!(arrange(&t, Some(""), None).unwrap(), vec![0, 1, 2, 3]);
        assert!(arrange(&t, Some("zzz"), None).unwrap().is_empty());
    }

    #[test]
    fn sort_puts_nulls_last_and_combines_with_filter() {
        let t = table();
        assert_eq!(
            arrange(&t, None, Some(("v", false))).unwrap(),
            vec![2, 3, 0, 1]
        );
        assert_eq!(
            arrange(&t, None, Some(("v", true))).unwrap(),
            vec![0, 3, 2, 1]
        );
        assert_eq!(
            arrange(&t, Some("york"), Some(("v", false))).unwrap(),
            vec![3, 0]
        );
        assert!(arrange(&t, None, Some(("nope", false))).is_err());
    }

    #[test]
    fn histogram_bins_hand_computed() {
        // 0..=9 in 5 bins of width 1.8: [0,1.8) has 0,1; [1.8,3.6) 2,3; [3.6,5.4) 4,5;
        // [5.4,7.2) 6,7; [7.2,9] 8,9.
        let v: Vec<f64> = (0..10).map(|i| i as f64).collect();
        let h = numeric_histogram(&v, 5, false);
        assert_eq!(
            h.iter().map(|b| b.1).collect::<Vec<_>>(),
            vec![2, 2, 2, 2, 2]
        );
        assert_eq!(h[0].0, "0");
        assert_eq!(h[1].0, "1.80");
        // A constant column is one bar.
        assert_eq!(
            numeric_histogram(&[4.0, 4.0], 5, false),
            vec![("4".to_string(), 2)]
        );
        assert!(numeric_histogram(&[], 5, false).is_empty());
    }

    #[test]
    fn summary_of_text_uses_top_values() {
        let s = column_summary(&table(), "city", 10).unwrap();
        assert_eq!(s.profile.nulls, 1);
        assert_eq!(s.histogram.len(), 3);
        let s = column_summary(&table(), "v", 2).unwrap();
        assert_eq!(
            s.histogram,
            vec![("1".to_string(), 1), ("2".to_string(), 2)]
        );
    }
}
