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
        // Whole numbers written as dates (20240131) with a format that reads them.
        d if d.is_integer() && !formats.is_empty() => {
            let text = col(column).cast(DataType::String);
            let attempts: Vec<Expr> = formats
                .iter()
                .filter(|f| !has_time(f))
                .map(|f| {
                    text.clone().str().to_date(StrptimeOptions {
                        format: Some(f.as_str().into()),
                        strict: false,
                        exact: true,
                        cache: true,
                    })
                })
                .collect();
            match attempts.len() {
                0 => lit(NULL).cast(DataType::Date),
                1 => attempts.into_iter().next().expect("one attempt"),
                _ => coalesce(&attempts),
            }
        }
        // Anything else (e.g. integers without a format) cannot be a date; every value
        // becomes null and is counted as unparseable.
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

/// The date formats a person would read a column's values in: which of the usual ways of
/// writing a date (ISO, day-first or month-first with `/`, `-` or `.`, `yyyymmdd`, "Jan 31,
/// 2024", "31 Jan 2024", each with or without a time) its values are written in.
#[derive(Debug, Clone, PartialEq)]
pub struct DateReading {
    /// Formats to try in order (chrono strftime, as [`to_date_expr`] takes them).
    pub formats: Vec<String>,
    /// Values read as dates, and those that were not (with up to three examples).
    pub parsed: usize,
    pub unparsed: usize,
    pub examples: Vec<String>,
    /// How day-first and month-first were told apart, when both were possible.
    pub order: Option<String>,
}

/// Day/month orders of the slash, dash and dot forms: (day-first, month-first) formats.
const ORDERED: &[(&str, &str)] = &[
    ("%d/%m/%Y", "%m/%d/%Y"),
    ("%d-%m-%Y", "%m-%d-%Y"),
    ("%d.%m.%Y", "%m.%d.%Y"),
    ("%d/%m/%y", "%m/%d/%y"),
];

/// Forms without a day/month question.
const PLAIN: &[&str] = &[
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y%m%d",
    "%b %d, %Y",
    "%d %b %Y",
    "%B %d, %Y",
    "%d %B %Y",
];

/// Times that may follow a date (after a space or a `T`).
const TIMES: &[&str] = &[
    "",
    " %H:%M:%S",
    " %H:%M",
    "T%H:%M:%S",
    "T%H:%M:%S%.f",
    " %H:%M:%S%.f",
];

/// Every form [`infer_formats`] tries, parsed once per thread: base `b` (the plain ones, then
/// the day-first and the month-first ones of [`ORDERED`]) with time `t` is form
/// `b * TIMES.len() + t`.
struct Forms {
    names: Vec<String>,
    items: Vec<Vec<chrono::format::Item<'static>>>,
    timed: Vec<bool>,
}

const _: () = assert!((PLAIN.len() + 2 * ORDERED.len()) * TIMES.len() <= 128);

/// The bits of one base's forms (one per time).
const TIME_BITS: u128 = (1 << TIMES.len()) - 1;

thread_local! {
    static FORMS: Forms = Forms::new();
}

impl Forms {
    fn new() -> Forms {
        let bases = PLAIN
            .iter()
            .chain(ORDERED.iter().map(|(d, _)| d))
            .chain(ORDERED.iter().map(|(_, m)| m));
        let names: Vec<String> = bases
            .flat_map(|b| TIMES.iter().map(move |t| format!("{b}{t}")))
            .collect();
        Forms {
            items: names
                .iter()
                .map(|f| {
                    chrono::format::StrftimeItems::new(f)
                        .parse_to_owned()
                        .unwrap_or_default()
                })
                .collect(),
            timed: names.iter().map(|f| has_time(f)).collect(),
            names,
        }
    }

    /// The forms `value` reads in, as bits (what [`parses`] says of each).
    fn fits(&self, value: &str) -> u128 {
        if !value.bytes().any(|b| b.is_ascii_digit()) {
            return 0;
        }
        let mut mask = 0u128;
        for (i, items) in self.items.iter().enumerate() {
            if items.is_empty() {
                continue;
            }
            let mut parsed = chrono::format::Parsed::new();
            if chrono::format::parse(&mut parsed, value, items.iter()).is_err() {
                continue;
            }
            let ok = if self.timed[i] {
                parsed.to_naive_datetime_with_offset(0).is_ok()
            } else {
                parsed.to_naive_date().is_ok()
            };
            if ok {
                mask |= 1 << i;
            }
        }
        mask
    }
}

#[cfg(test)]
fn parses(value: &str, format: &str) -> bool {
    // Every form has digits: a value without any (a name, a town) is no date, and is told so
    // without parsing (this runs for every sampled value of every text column, in ~90 forms).
    if !value.bytes().any(|b| b.is_ascii_digit()) {
        return false;
    }
    // The format's parsed items, once per thread and format (parsing the format string each
    // time was most of the time spent reading a file).
    thread_local! {
        static ITEMS: std::cell::RefCell<
            std::collections::HashMap<String, Vec<chrono::format::Item<'static>>>,
        > = std::cell::RefCell::new(std::collections::HashMap::new());
    }
    ITEMS.with(|cache| {
        let mut cache = cache.borrow_mut();
        let items = cache.entry(format.to_string()).or_insert_with(|| {
            chrono::format::StrftimeItems::new(format)
                .parse_to_owned()
                .unwrap_or_default()
        });
        if items.is_empty() {
            return false;
        }
        let mut parsed = chrono::format::Parsed::new();
        if chrono::format::parse(&mut parsed, value, items.iter()).is_err() {
            return false;
        }
        if has_time(format) {
            parsed.to_naive_datetime_with_offset(0).is_ok()
        } else {
            parsed.to_naive_date().is_ok()
        }
    })
}

/// How `values` (text, as read; blanks and placeholders already null) are written as dates,
/// when at least `min_share` of them read as dates in one of the usual forms; None
/// otherwise. Day-first or month-first is decided from the values: a first part above 12
/// means day-first, a second part above 12 month-first; when no value tells, day-first
/// (the workspace's `dates` can say otherwise). Plain 8-digit numbers are read as
/// `yyyymmdd` only when every one is a valid date.
pub fn infer_formats(values: &[&str], min_share: f64) -> Option<DateReading> {
    let values: Vec<&str> = values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    if values.is_empty() {
        return None;
    }
    // Which of the forms each distinct value fits (columns repeat their values: a date
    // column's thousands of rows hold a few hundred days).
    let mut fits_of: std::collections::HashMap<&str, u128> = std::collections::HashMap::new();
    let masks: Vec<u128> = values
        .iter()
        .map(|v| {
            *fits_of
                .entry(v)
                .or_insert_with(|| FORMS.with(|f| f.fits(v)))
        })
        .collect();
    let base_fits = |mask: u128, base: usize| mask >> (base * TIMES.len()) & TIME_BITS != 0;
    let mut day_first = 0usize;
    let mut month_first = 0usize;
    for &mask in &masks {
        for i in 0..ORDERED.len() {
            let (a, b) = (
                base_fits(mask, PLAIN.len() + i),
                base_fits(mask, PLAIN.len() + ORDERED.len() + i),
            );
            if a && !b {
                day_first += 1;
            } else if b && !a {
                month_first += 1;
            }
        }
    }
    let month_wins = month_first > day_first;
    let order = (day_first + month_first > 0).then(|| {
        if month_wins {
            format!("month first: {month_first} values have a day above 12 in second place")
        } else {
            format!("day first: {day_first} values have a day above 12 in first place")
        }
    });
    // The bases tried, in order: the plain ones, then the winning order's.
    let bases: Vec<usize> = (0..PLAIN.len())
        .chain(
            (0..ORDERED.len())
                .map(|i| PLAIN.len() + i + if month_wins { ORDERED.len() } else { 0 }),
        )
        .collect();
    // Keep the forms some value needs, most used first; each value counts for its first fit.
    let mut used: Vec<(usize, String)> = Vec::new();
    let mut parsed = 0usize;
    let mut examples = Vec::new();
    for (v, &mask) in values.iter().zip(&masks) {
        let hit = bases
            .iter()
            .flat_map(|b| (0..TIMES.len()).map(move |t| b * TIMES.len() + t))
            .find(|i| mask >> i & 1 == 1);
        match hit {
            Some(i) => {
                parsed += 1;
                let f = FORMS.with(|forms| forms.names[i].clone());
                match used.iter_mut().find(|(_, g)| *g == f) {
                    Some((n, _)) => *n += 1,
                    None => used.push((1, f)),
                }
            }
            None => {
                if examples.len() < 3 && !examples.iter().any(|e: &String| e == v) {
                    examples.push(v.to_string());
                }
            }
        }
    }
    if (parsed as f64) < min_share * values.len() as f64 || parsed == 0 {
        return None;
    }
    // yyyymmdd only when it is the whole story: a column of codes is not a date.
    if used.iter().any(|(_, f)| f.starts_with("%Y%m%d")) && parsed < values.len() {
        return None;
    }
    used.sort_by_key(|u| std::cmp::Reverse(u.0));
    Some(DateReading {
        formats: used.into_iter().map(|(_, f)| f).collect(),
        parsed,
        unparsed: values.len() - parsed,
        examples,
        order,
    })
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

    /// [`infer_formats`] as first written (each value tried form by form, in order): the
    /// reference the memoised one must equal.
    fn infer_formats_reference(values: &[&str], min_share: f64) -> Option<DateReading> {
        let values: Vec<&str> = values
            .iter()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() {
            return None;
        }
        let with_times =
            |base: &str| -> Vec<String> { TIMES.iter().map(|t| format!("{base}{t}")).collect() };
        let fits = |v: &str, base: &str| with_times(base).iter().any(|f| parses(v, f));
        let (mut day_first, mut month_first) = (0usize, 0usize);
        for v in &values {
            for (d, m) in ORDERED {
                let (a, b) = (fits(v, d), fits(v, m));
                if a && !b {
                    day_first += 1;
                } else if b && !a {
                    month_first += 1;
                }
            }
        }
        let month_wins = month_first > day_first;
        let order = (day_first + month_first > 0).then(|| {
            if month_wins {
                format!("month first: {month_first} values have a day above 12 in second place")
            } else {
                format!("day first: {day_first} values have a day above 12 in first place")
            }
        });
        let mut bases: Vec<&str> = PLAIN.to_vec();
        for (d, m) in ORDERED {
            bases.push(if month_wins { m } else { d });
        }
        let mut used: Vec<(usize, String)> = Vec::new();
        let mut parsed = 0usize;
        let mut examples = Vec::new();
        for v in &values {
            let hit = bases
                .iter()
                .flat_map(|b| with_times(b))
                .find(|f| parses(v, f));
            match hit {
                Some(f) => {
                    parsed += 1;
                    match used.iter_mut().find(|(_, g)| *g == f) {
                        Some((n, _)) => *n += 1,
                        None => used.push((1, f)),
                    }
                }
                None => {
                    if examples.len() < 3 && !examples.iter().any(|e: &String| e == v) {
                        examples.push(v.to_string());
                    }
                }
            }
        }
        if (parsed as f64) < min_share * values.len() as f64 || parsed == 0 {
            return None;
        }
        if used.iter().any(|(_, f)| f.starts_with("%Y%m%d")) && parsed < values.len() {
            return None;
        }
        used.sort_by_key(|u| std::cmp::Reverse(u.0));
        Some(DateReading {
            formats: used.into_iter().map(|(_, f)| f).collect(),
            parsed,
            unparsed: values.len() - parsed,
            examples,
            order,
        })
    }

    /// The memoised inference equals the form-by-form one on columns of every kind: each
    /// date form with and without times, day- and month-first mixes, 8-digit numbers and
    /// codes, month names, amounts, names, blanks and junk.
    #[test]
    fn infer_formats_equals_trying_each_form_in_turn() {
        let state = std::cell::Cell::new(11u64);
        let next = |m: u64| {
            state.set(
                state
                    .get()
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407),
            );
            (state.get() >> 33) % m
        };
        let months = ["Jan", "Feb", "Mar", "Sep", "December", "July"];
        let value = |kind: u64| -> String {
            let (y, m, d) = (1990 + next(40), 1 + next(12), 1 + next(28));
            let (h, mi, s) = (next(24), next(60), next(60));
            match kind {
                0 => format!("{y}-{m:02}-{d:02}"),
                1 => format!("{y}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}"),
                2 => format!("{y}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{}", next(1000)),
                3 => format!("{d:02}/{m:02}/{y}"),
                4 => format!("{m}/{d}/{y}"),
                5 => format!("{d}.{m}.{y} {h:02}:{mi:02}"),
                6 => format!("{m:02}-{d:02}-{}", y % 100),
                7 => format!("{y}{m:02}{d:02}"),
                8 => format!("{}", 10_000_000 + next(90_000_000)),
                9 => format!("{} {d}, {y}", months[next(6) as usize]),
                10 => format!("{d} {} {y}", months[next(6) as usize]),
                11 => format!("{}.{:02}", next(500), next(100)),
                12 => ["Anna", "Zoë", "", "  ", "n/a", "31/31/2020", "2020-13-01"]
                    [next(7) as usize]
                    .to_string(),
                _ => format!("C{:06}", next(1_000_000)),
            }
        };
        for column in 0..300 {
            // One to three kinds per column, a few hundred values.
            let kinds: Vec<u64> = (0..1 + next(3)).map(|_| next(14)).collect();
            let n = 1 + next(400) as usize;
            let values: Vec<String> = (0..n)
                .map(|_| value(kinds[next(kinds.len() as u64) as usize]))
                .collect();
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            for share in [0.5, 0.9] {
                assert_eq!(
                    infer_formats(&refs, share),
                    infer_formats_reference(&refs, share),
                    "column {column} kinds {kinds:?}"
                );
            }
        }
    }

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
    fn date_forms_are_read_from_the_values() {
        // Month first, told by 13/..., with times (the Online Retail invoices' form).
        let r = infer_formats(
            &["12/1/2010 8:26", "12/13/2010 10:02", "1/4/2011 9:00"],
            0.95,
        )
        .unwrap();
        assert_eq!(r.formats, vec!["%m/%d/%Y %H:%M".to_string()]);
        assert!(r.order.unwrap().starts_with("month first"));
        // Day first told by 31/...; mixed with ISO and yyyymmdd in one column.
        let r = infer_formats(
            &["2024-01-31", "31/01/2024", "20240131", "2024-02-01"],
            0.95,
        )
        .unwrap();
        assert_eq!(r.formats[0], "%Y-%m-%d");
        assert!(r.formats.contains(&"%d/%m/%Y".to_string()));
        assert_eq!(r.unparsed, 0);
        // Text dates and dots.
        let r = infer_formats(&["Jan 31, 2024", "31.01.2024"], 0.95).unwrap();
        assert_eq!(r.parsed, 2);
        // Codes are not dates; a few bad values are counted with examples.
        assert!(infer_formats(&["A12", "B7"], 0.95).is_none());
        assert!(infer_formats(&["12345678", "20240131"], 0.95).is_none());
        let mut v = vec!["2024-01-05"; 40];
        v.push("soon");
        let r = infer_formats(&v, 0.95).unwrap();
        assert_eq!(
            (r.parsed, r.unparsed, r.examples.clone()),
            (40, 1, vec!["soon".to_string()])
        );
        // The formats found read the column in polars too.
        let df = df!("d" => ["12/13/2010 10:02", "1/4/2011 9:00"]).unwrap();
        let r = infer_formats(&["12/13/2010 10:02", "1/4/2011 9:00"], 0.95).unwrap();
        let out = df
            .lazy()
            .select([to_date_expr("d", &DataType::String, &r.formats)])
            .collect()
            .unwrap();
        assert_eq!(out.column("d").unwrap().null_count(), 0);
        // Whole numbers as yyyymmdd.
        let df = df!("d" => [19970101i64, 19970318]).unwrap();
        let out = df
            .lazy()
            .select([to_date_expr("d", &DataType::Int64, &["%Y%m%d".to_string()])])
            .collect()
            .unwrap();
        let days: Vec<Option<i32>> = out
            .column("d")
            .unwrap()
            .date()
            .unwrap()
            .physical()
            .iter()
            .collect();
        assert_eq!(
            days[0],
            Some(epoch_days(
                chrono::NaiveDate::from_ymd_opt(1997, 1, 1).unwrap()
            ))
        );
    }

    #[test]
    fn epoch_round_trip() {
        let d = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        assert_eq!(epoch_days(d), 20089);
        assert_eq!(from_epoch_days(20089), d);
    }
}
