//! Column profiles of a data file: type, nulls, distinct values, and min/max/mean for numbers
//! and dates or the most frequent values for text. Backs `crmlens profile`.

use std::fmt::Write as _;
use std::path::Path;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::error::{DataError, Result};
use crate::data::sources::file::{self, ReadOptions};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TopValue {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ColumnProfile {
    pub name: String,
    pub dtype: String,
    pub nulls: u64,
    pub distinct: u64,
    pub min: Option<String>,
    pub max: Option<String>,
    pub mean: Option<f64>,
    pub top: Vec<TopValue>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileProfile {
    pub path: String,
    pub format: String,
    pub rows: u64,
    pub columns: Vec<ColumnProfile>,
    /// Columns found to hold personal data (see [`crate::data::privacy::detect`]).
    #[serde(default)]
    pub pii: Vec<crate::data::privacy::PiiColumn>,
    /// What the reader noted (a file converted from UTF-16, integers read as floats).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The text columns read as numbers, flags, or text with placeholders as missing, with
    /// what did not read (see `data::sources::reading`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readings: Vec<crate::data::sources::reading::Inferred>,
    /// Which column plays which role (customer, order, date, item, amount...) and why, as
    /// every analysis reads the file (see `data::sources::roles`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<crate::data::sources::roles::Assigned>,
}

fn pl(context: &str) -> impl Fn(PolarsError) -> DataError + '_ {
    move |e| DataError::polars(context, e)
}

fn any_to_string(v: AnyValue) -> Option<String> {
    match v {
        AnyValue::Null => None,
        AnyValue::String(s) => Some(s.to_string()),
        AnyValue::StringOwned(s) => Some(s.to_string()),
        other => Some(other.to_string()),
    }
}

/// Profiles one column of an in-memory frame.
pub fn profile_column(df: &DataFrame, name: &str) -> Result<ColumnProfile> {
    let s = df.column(name).map_err(pl("profiling"))?;
    profile_series(s)
}

/// Whether a column name says it holds ids: `id`, `*_id`, `customerID`, `*key`, `index`.
pub fn id_like_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "id"
        || lower.ends_with("_id")
        || lower.ends_with(" id")
        || (name.len() > 2 && name.ends_with("ID"))
        || (name.len() > 2 && name.ends_with("Id"))
        || lower.ends_with("key")
        || lower == "index"
}

/// Profiles one column. The lazy queries run on a frame of this column alone: on the whole
/// frame each one would copy and plan over every column, so profiling a wide file took time
/// quadratic in its width.
fn profile_series(s: &Column) -> Result<ColumnProfile> {
    let name = s.name().as_str();
    let context = format!("profiling column `{name}`");
    let pl = |_: &str| pl(&context);
    let df = s.clone().into_frame();
    let df = &df;
    let dtype = s.dtype().clone();
    let numeric = dtype.is_primitive_numeric();
    let ordered = numeric || dtype.is_temporal() || dtype == DataType::String;
    let nulls = s.null_count() as u64;
    let distinct = s.drop_nulls().n_unique().map_err(pl("profiling"))? as u64;
    let mut min = None;
    let mut max = None;
    let mut mean = None;
    if ordered && !numeric && dtype != DataType::String {
        let stats = df
            .clone()
            .lazy()
            .select([col(name).min().alias("min"), col(name).max().alias("max")])
            .collect()
            .map_err(pl("profiling"))?;
        min = any_to_string(
            stats
                .column("min")
                .map_err(pl("profiling"))?
                .get(0)
                .map_err(pl("profiling"))?,
        );
        max = any_to_string(
            stats
                .column("max")
                .map_err(pl("profiling"))?
                .get(0)
                .map_err(pl("profiling"))?,
        );
    }
    if numeric {
        let f = s.cast(&DataType::Float64).map_err(pl("profiling"))?;
        let ca = f.f64().map_err(pl("profiling"))?;
        min = ca.min().map(format_number);
        max = ca.max().map(format_number);
        // An id's mean means nothing: a column named like one, or whole numbers all
        // distinct (a row number), gets none.
        let non_null = s.len() as u64 - nulls;
        let counter = dtype.is_integer() && non_null >= 50 && distinct == non_null;
        if !id_like_name(name) && !counter {
            mean = ca.mean();
        }
    }
    let mut top = Vec::new();
    if dtype.is_nested() {
        // Lists and structs have no text cast: count their printed values.
        top = nested_top_values(s, 5);
    } else if !numeric && !dtype.is_temporal() {
        let counts = df
            .clone()
            .lazy()
            .filter(col(name).is_not_null())
            .group_by([col(name).cast(DataType::String).alias("value")])
            .agg([len().cast(DataType::UInt64).alias("count")])
            .sort_by_exprs(
                [col("count"), col("value")],
                SortMultipleOptions::default().with_order_descending_multi([true, false]),
            )
            .limit(5)
            .collect()
            .map_err(pl("profiling"))?;
        let values = counts
            .column("value")
            .map_err(pl("profiling"))?
            .str()
            .map_err(pl("profiling"))?
            .clone();
        let cnt = counts
            .column("count")
            .map_err(pl("profiling"))?
            .u64()
            .map_err(pl("profiling"))?
            .clone();
        for (v, c) in values.iter().zip(cnt.iter()) {
            top.push(TopValue {
                value: v.unwrap_or("").to_string(),
                count: c.unwrap_or(0),
            });
        }
    }
    Ok(ColumnProfile {
        name: name.to_string(),
        dtype: dtype.to_string(),
        nulls,
        distinct,
        min,
        max,
        mean,
        top,
    })
}

/// The `n` most common values of a list or struct column, as printed, most common first.
fn nested_top_values(s: &Column, n: usize) -> Vec<TopValue> {
    let mut counts: std::collections::HashMap<String, u64> = Default::default();
    for v in s.as_materialized_series().iter() {
        if let Some(text) = any_to_string(v) {
            *counts.entry(text).or_default() += 1;
        }
    }
    let mut top: Vec<TopValue> = counts
        .into_iter()
        .map(|(value, count)| TopValue { value, count })
        .collect();
    top.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    top.truncate(n);
    top
}

fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

/// Profiles every column of a frame.
pub fn profile_frame(df: &DataFrame, path: &str, format: &str) -> Result<FileProfile> {
    let columns = df
        .columns()
        .iter()
        .map(profile_series)
        .collect::<Result<Vec<_>>>()?;
    Ok(FileProfile {
        path: path.to_string(),
        format: format.to_string(),
        rows: df.height() as u64,
        columns,
        pii: crate::data::privacy::detect(df, &Default::default()),
        notes: Vec::new(),
        readings: Vec::new(),
        roles: crate::data::sources::roles::detect(&df.head(Some(10_000))).assigned,
    })
}

/// Reads a file (format and delimiter detected) and profiles it.
///
/// With `try_parse_dates`, ISO dates in CSV text become dates; a column that mixes formats
/// makes that fail, and then the file is read again with those columns as text.
pub fn profile_file(path: &Path, opts: &ReadOptions) -> Result<FileProfile> {
    type Read = (
        String,
        DataFrame,
        Vec<String>,
        Vec<crate::data::sources::reading::Inferred>,
    );
    let read = |opts: &ReadOptions| -> Result<Read> {
        let scanned = file::scan(path, opts)?;
        let format = format!("{:?}", scanned.format).to_lowercase();
        let (notes, readings) = (scanned.notes, scanned.readings);
        Ok((
            format,
            file::collect_source(path, scanned.frame)?,
            notes,
            readings,
        ))
    };
    let (format, df, notes, readings) = match read(opts) {
        Err(_) if opts.try_parse_dates => read(&ReadOptions {
            try_parse_dates: false,
            ..opts.clone()
        })?,
        other => other?,
    };
    let mut profile =
        profile_frame(&df, &path.display().to_string(), &format).map_err(|e| match e {
            DataError::Polars { context, source } => DataError::Polars {
                context: format!("{}: {context}", path.display()),
                source,
            },
            other => other,
        })?;
    profile.notes = notes;
    profile.readings = readings;
    Ok(profile)
}

impl FileProfile {
    /// Masks the values (min, max, top values) of the personal-data columns.
    pub fn mask_pii(&mut self) {
        use crate::data::privacy::mask;
        // By name through an index: a wide file may have thousands of personal-data columns.
        let index: std::collections::HashMap<String, usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect();
        for p in &self.pii {
            let Some(c) = index.get(&p.column).map(|&i| &mut self.columns[i]) else {
                continue;
            };
            for v in [&mut c.min, &mut c.max].into_iter().flatten() {
                *v = mask(p.kind, v);
            }
            for t in &mut c.top {
                t.value = mask(p.kind, &t.value);
            }
        }
    }

    /// A plain-text table for the terminal.
    /// The profile as text for a terminal (names and values with their control characters
    /// escaped).
    pub fn to_text(&self) -> String {
        use crate::text::escape;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}  ({}, {} rows, {} columns)",
            escape(&self.path),
            self.format,
            self.rows,
            self.columns.len()
        );
        for n in &self.notes {
            let _ = writeln!(s, "  note: {n}");
        }
        if !self.roles.is_empty() {
            let roles: Vec<String> = self
                .roles
                .iter()
                .map(|a| format!("{} = `{}` ({})", a.role.name(), escape(&a.column), a.why))
                .collect();
            let _ = writeln!(s, "  roles: {}", roles.join(", "));
        }
        let _ = writeln!(
            s,
            "  {:<24} {:<14} {:>8} {:>9}  min .. max (mean) / top values",
            "column", "type", "nulls", "distinct"
        );
        for c in &self.columns {
            let summary = if !c.top.is_empty() {
                c.top
                    .iter()
                    .map(|t| format!("{} ({})", escape(&t.value), t.count))
                    .collect::<Vec<_>>()
                    .join(", ")
            } else {
                let mean = c
                    .mean
                    .map(|m| format!(" (mean {m:.2})"))
                    .unwrap_or_default();
                format!(
                    "{} .. {}{}",
                    escape(c.min.as_deref().unwrap_or("-")),
                    escape(c.max.as_deref().unwrap_or("-")),
                    mean
                )
            };
            let _ = writeln!(
                s,
                "  {:<24} {:<14} {:>8} {:>9}  {}",
                escape(&c.name),
                c.dtype,
                c.nulls,
                c.distinct,
                summary
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_row_numbers_get_no_mean() {
        let n = 60i64;
        let df = df!(
            "CustomerID" => (0..n).map(|i| i % 9).collect::<Vec<_>>(),
            "row" => (0..n).collect::<Vec<_>>(),
            "visits" => (0..n).map(|i| i % 4).collect::<Vec<_>>()
        )
        .unwrap();
        let p = profile_frame(&df, "t.csv", "csv").unwrap();
        let mean = |name: &str| p.columns.iter().find(|c| c.name == name).unwrap().mean;
        assert_eq!(mean("CustomerID"), None);
        assert_eq!(mean("row"), None);
        // 15 rows each of 0, 1, 2 and 3.
        assert_eq!(mean("visits"), Some(1.5));
        assert!(id_like_name("customer_id") && id_like_name("customerID"));
        assert!(!id_like_name("paid") && !id_like_name("monkey_business"));
    }

    #[test]
    fn profiles_numbers_text_and_nulls() {
        let df = df!(
            "n" => [Some(1i64), Some(5), None, Some(3)],
            "t" => [Some("b"), Some("a"), Some("b"), None]
        )
        .unwrap();
        let p = profile_frame(&df, "x.csv", "csv").unwrap();
        assert_eq!(p.rows, 4);
        let n = &p.columns[0];
        assert_eq!((n.nulls, n.distinct), (1, 3));
        assert_eq!((n.min.as_deref(), n.max.as_deref()), (Some("1"), Some("5")));
        assert_eq!(n.mean, Some(3.0));
        let t = &p.columns[1];
        assert_eq!((t.nulls, t.distinct), (1, 2));
        assert_eq!(
            t.top,
            vec![
                TopValue {
                    value: "b".into(),
                    count: 2
                },
                TopValue {
                    value: "a".into(),
                    count: 1
                }
            ]
        );
    }

    /// A 5,000-column frame (profiling was quadratic in the width: 10,000 columns took 52 s)
    /// is profiled column by column, each with its own figures, in the frame's order.
    #[test]
    fn a_wide_frame_is_profiled_column_by_column() {
        let width = 5000;
        let columns: Vec<Column> = (0..width)
            .map(|i| {
                if i % 2 == 0 {
                    Column::new(
                        format!("n{i}").into(),
                        [Some(i as i64), None, Some(i as i64 + 2)],
                    )
                } else {
                    Column::new(
                        format!("t{i}").into(),
                        [
                            Some(format!("v{i}")),
                            Some(format!("v{i}")),
                            Some("w".into()),
                        ],
                    )
                }
            })
            .collect();
        let df = DataFrame::new_infer_height(columns).unwrap();
        let p = profile_frame(&df, "wide.csv", "csv").unwrap();
        assert_eq!((p.rows, p.columns.len()), (3, width));
        for (i, c) in p.columns.iter().enumerate() {
            if i % 2 == 0 {
                assert_eq!(c.name, format!("n{i}"));
                assert_eq!((c.nulls, c.distinct), (1, 2));
                assert_eq!(c.min, Some(i.to_string()));
                assert_eq!(c.max, Some((i + 2).to_string()));
                assert_eq!(c.mean, Some(i as f64 + 1.0));
            } else {
                assert_eq!(c.name, format!("t{i}"));
                assert_eq!((c.nulls, c.distinct), (0, 2));
                assert_eq!(c.top.len(), 2);
                assert_eq!(
                    (c.top[0].value.as_str(), c.top[0].count),
                    (format!("v{i}").as_str(), 2)
                );
                assert_eq!((c.top[1].value.as_str(), c.top[1].count), ("w", 1));
            }
        }
    }
}
