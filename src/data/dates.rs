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

/// Checks a date format (chrono strftime, as polars reads them) before any data is read: a
/// bad one made every value unparseable, so every order line was dropped. An empty format,
/// an unknown or incomplete `%` code (`%Q`, a trailing `%`), and a format with no full date
/// in it (`%H:%M`, `%m-%d`) are refused with the reason; the test is that a sample date
/// written in the format reads back as the same date.
pub fn check_format(format: &str) -> Result<(), String> {
    use chrono::format::{Item, StrftimeItems};
    use std::fmt::Write as _;
    if format.trim().is_empty() {
        return Err("the format is empty; use e.g. \"%Y-%m-%d\"".into());
    }
    if StrftimeItems::new(format).any(|i| matches!(i, Item::Error)) {
        return Err(format!(
            "`{format}` is not a valid date format (an unknown or incomplete % code); use chrono's strftime codes, e.g. \"%Y-%m-%d\" or \"%d/%m/%Y\""
        ));
    }
    let no_date = || {
        Err(format!(
            "`{format}` does not hold a whole date (a year, month and day, e.g. \"%Y-%m-%d\")"
        ))
    };
    let (Some(day), Some(time), Some(offset)) = (
        chrono::NaiveDate::from_ymd_opt(2024, 3, 15),
        chrono::NaiveTime::from_hms_opt(13, 45, 30),
        chrono::FixedOffset::east_opt(3600),
    ) else {
        return Ok(());
    };
    let Some(sample) = day.and_time(time).and_local_timezone(offset).single() else {
        return Ok(());
    };
    let mut text = String::new();
    if write!(text, "{}", sample.format(format)).is_err() {
        return no_date();
    }
    let back = chrono::NaiveDate::parse_from_str(&text, format)
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(&text, format)
                .ok()
                .map(|d| d.date())
        })
        .or_else(|| {
            chrono::DateTime::parse_from_str(&text, format)
                .ok()
                .map(|d| d.with_timezone(&offset).date_naive())
        });
    match back {
        Some(d) if d == day => Ok(()),
        _ => no_date(),
    }
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
    fn date_formats_are_checked() {
        for good in [
            "%Y-%m-%d",
            "%d/%m/%Y",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M:%S",
            "%Y%m%d",
            "%d %b %Y",
            "%Y-%m-%dT%H:%M:%S%.f%:z",
            "%s",
        ] {
            assert_eq!(check_format(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("%Q", "not a valid date format"),
            ("%Y-%m-%", "not a valid date format"),
            ("", "empty"),
            ("  ", "empty"),
            ("%H:%M", "does not hold a whole date"),
            ("%m-%d", "does not hold a whole date"),
            ("date", "does not hold a whole date"),
        ] {
            let e = check_format(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

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
