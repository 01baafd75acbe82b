//! Parsing dates written in several formats into one polars `Date` column.
//! A value that matches none of the formats becomes null and is counted by the caller.

use polars::prelude::*;

/// Formats tried when a workspace names a date column without formats.
pub const DEFAULT_FORMATS: &[&str] = &[
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
];

fn has_time(format: &str) -> bool {
    ["%H", "%M", "%S", "%T", "%R"]
        .iter()
        .any(|t| format.contains(t))
}

/// An expression turning `column` (text, date or datetime, as `dtype` says) into a `Date`,
/// trying `formats` in order. Text matching no format becomes null.
pub fn to_date_expr(column: &str, dtype: &DataType, formats: &[String]) -> Expr {
    match dtype {
        DataType::Date => col(column),
        DataType::Datetime(_, _) => col(column).cast(DataType::Date),
        DataType::String => {
            let defaults: Vec<String>;
            let formats = if formats.is_empty() {
                defaults = DEFAULT_FORMATS.iter().map(|s| s.to_string()).collect();
                &defaults
            } else {
                formats
            };
            let attempts: Vec<Expr> = formats
                .iter()
                .map(|f| {
                    let opts = StrptimeOptions {
                        format: Some(f.as_str().into()),
                        strict: false,
                        exact: true,
                        cache: true,
                    };
                    if has_time(f) {
                        col(column)
                            .str()
                            .to_datetime(Some(TimeUnit::Microseconds), None, opts, lit("raise"))
                            .cast(DataType::Date)
                    } else {
                        col(column).str().to_date(opts)
                    }
                })
                .collect();
            if attempts.len() == 1 {
                attempts.into_iter().next().expect("one attempt")
            } else {
                coalesce(&attempts)
            }
        }
        // Anything else (e.g. integers) cannot be a date; every value becomes null and is
        // counted as unparseable.
        _ => lit(NULL).cast(DataType::Date),
    }
    .alias(column)
}

/// Days since the Unix epoch of a chrono date (polars' `Date` representation).
pub fn epoch_days(d: chrono::NaiveDate) -> i32 {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid epoch");
    (d - epoch).num_days() as i32
}

/// The chrono date of polars' `Date` representation.
pub fn from_epoch_days(days: i32) -> chrono::NaiveDate {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid epoch");
    epoch + chrono::Duration::days(days as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_formats_parse_into_one_date_type() {
        let df = df!("d" => ["2024-03-05", "05/03/2024", "2024-03-05T10:22:00", "31/02/2024", "", "soon"]).unwrap();
        let formats: Vec<String> = vec![
            "%Y-%m-%d".into(),
            "%d/%m/%Y".into(),
            "%Y-%m-%dT%H:%M:%S".into(),
        ];
        let out = df
            .lazy()
            .select([to_date_expr("d", &DataType::String, &formats)])
            .collect()
            .unwrap();
        let d = out.column("d").unwrap();
        assert_eq!(d.dtype(), &DataType::Date);
        let days: Vec<Option<i32>> = d.date().unwrap().physical().iter().collect();
        let want = epoch_days(chrono::NaiveDate::from_ymd_opt(2024, 3, 5).unwrap());
        assert_eq!(
            days,
            vec![Some(want), Some(want), Some(want), None, None, None]
        );
    }

    #[test]
    fn epoch_round_trip() {
        let d = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        assert_eq!(epoch_days(d), 20089);
        assert_eq!(from_epoch_days(20089), d);
    }
}
