//! Text columns read as a person reads them. A reader types a column by its values as
//! written; a real export writes `$1,234.50`, `USD 12.00`, `39.1%`, `12,5` (decimal comma),
//! `(12.00)` (an accountant's minus), `N/A` and `-` for nothing, `Yes`/`No` for flags. Such a
//! column stays text and every later step treats money as a category. Here each text column's
//! first rows are looked at, and a column whose values (placeholders aside) nearly all read
//! as numbers or as flags is converted, lazily, for the whole file; placeholders become
//! nulls in every text column. Each decision is reported with how many values did not read
//! and examples of them.
//!
//! Our own code rather than a crate's: polars' readers type a column from its literal
//! values only, and no crate on the registries reads one column's formats as a whole (a
//! decimal comma is told from a thousands comma by the column, not by one value).

use polars::prelude::*;
use serde::{Deserialize, Serialize};

/// Values that mean "no value" (compared trimmed, in any case). An empty cell is one too.
pub const PLACEHOLDERS: [&str; 10] = [
    "na", "n/a", "#n/a", "null", "none", "nan", "-", "--", "?", "unknown",
];

/// Share of a column's values (placeholders aside) that must read for it to be converted.
pub const MIN_SHARE: f64 = 0.95;

/// Examples of values that did not read, kept per column.
const EXAMPLES: usize = 3;

/// Currency codes taken before or after a number.
const CODES: [&str; 16] = [
    "USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "INR", "CNY", "SEK", "NOK", "DKK", "PLN",
    "BRL", "MXN", "ZAR",
];
/// Currency symbols taken before or after a number.
const SYMBOLS: [char; 6] = ['$', '€', '£', '¥', '₹', '₽'];

/// How a column's numbers are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decimal {
    /// `1,234.50`
    Point,
    /// `1.234,50`
    Comma,
}

/// What a text column was read as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "as", rename_all = "snake_case")]
pub enum Reading {
    Number {
        decimal: Decimal,
        /// Whole numbers only: read as integers.
        integer: bool,
        /// The values end in `%`: read as fractions (39.1% is 0.391).
        percent: bool,
        /// A currency symbol or code seen (`$`, `USD`).
        currency: Option<String>,
    },
    Boolean,
    /// Dates, written in these forms (chrono formats, tried in order; see
    /// `data::dates::infer_formats`); `order` says how day-first was told from month-first.
    Date {
        formats: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order: Option<String>,
    },
    /// Still text; its placeholders became nulls.
    Text,
}

/// One text column's reading, and what did not fit it (among the rows looked at).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inferred {
    pub column: String,
    pub reading: Reading,
    /// Rows looked at.
    pub sampled: usize,
    /// Placeholders (and blank cells) among them, read as nulls.
    pub placeholders: usize,
    /// Values that did not read as the column's type, read as nulls.
    pub unparsed: usize,
    pub examples: Vec<String>,
    /// The type was set by the analyst (`--schema`, the workbench's `t`), not inferred.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub given: bool,
}

impl Inferred {
    /// One line for the notes: what was decided and what did not fit.
    pub fn describe(&self) -> String {
        let what = match &self.reading {
            Reading::Number {
                decimal,
                integer,
                percent,
                currency,
            } => {
                let mut how = Vec::new();
                if let Some(c) = currency {
                    how.push(format!("currency {c}"));
                }
                if *decimal == Decimal::Comma {
                    how.push("decimal comma".into());
                }
                if *percent {
                    how.push("percent as fractions".into());
                }
                let kind = if *integer { "whole numbers" } else { "numbers" };
                if how.is_empty() {
                    kind.to_string()
                } else {
                    format!("{kind} ({})", how.join(", "))
                }
            }
            Reading::Boolean => "yes/no flags".to_string(),
            Reading::Date { formats, order } => {
                let mut d = format!("dates ({})", formats.join(" / "));
                if let Some(o) = order {
                    d = format!("{d}, {o}");
                }
                d
            }
            Reading::Text => "text".to_string(),
        };
        let mut line = format!("column `{}` read as {what}", self.column);
        if self.given {
            line.push_str(" (the type you set)");
        }
        match self.placeholders {
            0 => {}
            1 => line.push_str("; 1 blank or placeholder value (N/A, -, ...) as missing"),
            n => line.push_str(&format!(
                "; {n} blank or placeholder values (N/A, -, ...) as missing"
            )),
        }
        if self.unparsed > 0 {
            let examples: Vec<String> = self
                .examples
                .iter()
                .map(|e| format!("\"{}\"", crate::text::escape(e)))
                .collect();
            line.push_str(&format!(
                "; {} of {} values did not read and are missing, e.g. {}",
                self.unparsed,
                self.sampled,
                examples.join(", ")
            ));
        }
        line
    }
}

/// Whether `v` (trimmed) means no value.
pub fn is_placeholder(v: &str) -> bool {
    let t = v.trim();
    t.is_empty() || PLACEHOLDERS.iter().any(|p| p.eq_ignore_ascii_case(t))
}

/// `v` without a currency symbol or code at either end: the rest and the currency.
fn strip_currency(v: &str) -> (&str, Option<String>) {
    let t = v.trim();
    for s in SYMBOLS {
        if let Some(rest) = t.strip_prefix(s).or_else(|| t.strip_suffix(s)) {
            return (rest.trim(), Some(s.to_string()));
        }
    }
    for c in CODES {
        let upper = t.get(..3).is_some_and(|p| p.eq_ignore_ascii_case(c));
        if upper {
            return (t[3..].trim(), Some(c.to_string()));
        }
        let n = t.len();
        if n > 3 && t.get(n - 3..).is_some_and(|p| p.eq_ignore_ascii_case(c)) {
            return (t[..n - 3].trim(), Some(c.to_string()));
        }
    }
    (t, None)
}

/// The digits of `body` written with `decimal` (thousands in groups of three, by the other
/// mark, a space, a no-break space or an apostrophe), as a plain number text.
fn plain(body: &str, decimal: Decimal) -> Option<String> {
    let (dec, thousands): (char, &[char]) = match decimal {
        Decimal::Point => ('.', &[',', ' ', '\u{a0}', '\u{202f}', '\'']),
        Decimal::Comma => (',', &['.', ' ', '\u{a0}', '\u{202f}', '\'']),
    };
    let (int, frac) = match body.split_once(dec) {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    if let Some(f) = frac
        && (f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    // The integer part: digits, or groups of three after a first group of one to three.
    let sep = int.chars().find(|c| thousands.contains(c));
    let digits: String = match sep {
        None if !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit()) => int.to_string(),
        None if int.is_empty() && frac.is_some() => "0".to_string(),
        None => return None,
        Some(s) => {
            let groups: Vec<&str> = int.split(s).collect();
            let ok = groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit()))
                && (1..=3).contains(&groups[0].len())
                && groups[1..].iter().all(|g| g.len() == 3);
            if !ok {
                return None;
            }
            groups.concat()
        }
    };
    Some(match frac {
        Some(f) => format!("{digits}.{f}"),
        None => digits,
    })
}

/// One value as a number written with `decimal`: the value, whether it had a fraction, a
/// percent sign, and its currency.
fn number(v: &str, decimal: Decimal) -> Option<(f64, bool, bool, Option<String>)> {
    let mut t = v.trim();
    let mut negative = false;
    if let Some(inner) = t.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        negative = true;
        t = inner.trim();
    }
    if let Some(rest) = t.strip_prefix('-') {
        negative = !negative;
        t = rest.trim_start();
    } else if let Some(rest) = t.strip_prefix('+') {
        t = rest.trim_start();
    }
    let (rest, currency) = strip_currency(t);
    t = rest;
    // A sign after the symbol: `$-12.00`.
    if let Some(rest) = t.strip_prefix('-') {
        negative = !negative;
        t = rest;
    }
    let percent = t.ends_with('%');
    if percent {
        t = t[..t.len() - 1].trim_end();
    }
    let text = plain(t, decimal)?;
    let fraction = text.contains('.');
    let x: f64 = text.parse().ok()?;
    Some((if negative { -x } else { x }, fraction, percent, currency))
}

/// The flag a value reads as.
fn flag(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" => Some(true),
        "no" | "n" | "false" => Some(false),
        _ => None,
    }
}

/// How `values` (a text column's first rows; None for a null cell) read, or None when
/// there is nothing to report (no placeholder, and neither numbers nor flags).
pub fn infer(column: &str, values: &[Option<&str>]) -> Option<Inferred> {
    let sampled = values.len();
    let (present, placeholders) = present_values(values);
    let share = |n: usize| present.is_empty() || n as f64 >= MIN_SHARE * present.len() as f64;
    let unfit = |fits: &dyn Fn(&str) -> bool| unfit(&present, fits);
    let result = |reading, (unparsed, examples): (usize, Vec<String>)| Inferred {
        column: column.to_string(),
        reading,
        sampled,
        placeholders,
        unparsed,
        examples,
        given: false,
    };
    let dates = || -> Option<Inferred> {
        let r = crate::data::dates::infer_formats(&present, MIN_SHARE)?;
        Some(Inferred {
            column: column.to_string(),
            reading: Reading::Date {
                formats: r.formats,
                order: r.order,
            },
            sampled,
            placeholders,
            unparsed: r.unparsed,
            examples: r.examples,
            given: false,
        })
    };
    if !present.is_empty() {
        // Flags.
        let flags = present.iter().filter(|v| flag(v).is_some()).count();
        if share(flags) {
            return Some(result(Reading::Boolean, unfit(&|v| flag(v).is_some())));
        }
        // Dates named as dates first: 20240131 under `order_date` is a date, not a number.
        if super::roles::date_like_name(column)
            && let Some(d) = dates()
        {
            return Some(d);
        }
        // Numbers: the decimal mark that reads more values (the point on a tie).
        let reads = |d: Decimal| present.iter().filter(|v| number(v, d).is_some()).count();
        let (point, comma) = (reads(Decimal::Point), reads(Decimal::Comma));
        let decimal = if comma > point {
            Decimal::Comma
        } else {
            Decimal::Point
        };
        let parsed: Vec<(f64, bool, bool, Option<String>)> =
            present.iter().filter_map(|v| number(v, decimal)).collect();
        // Whole numbers written with a leading zero are codes (zip codes, ids): text.
        let leading_zero = present.iter().any(|v| {
            let t = v.trim();
            t.len() > 1 && t.starts_with('0') && t.bytes().all(|b| b.is_ascii_digit())
        });
        if share(parsed.len()) && !leading_zero {
            let percent = parsed.iter().filter(|p| p.2).count() * 2 > parsed.len();
            let currency = parsed.iter().find_map(|p| p.3.clone());
            let integer = !percent && parsed.iter().all(|p| !p.1 && p.0.fract() == 0.0);
            let reading = Reading::Number {
                decimal,
                integer,
                percent,
                currency,
            };
            return Some(result(reading, unfit(&|v| number(v, decimal).is_some())));
        }
        if let Some(d) = dates() {
            return Some(d);
        }
    }
    (placeholders > 0).then(|| result(Reading::Text, (0, Vec::new())))
}

/// The types an analyst can give a column (`--schema col=type`, the workbench's `t`, a
/// workspace source's `schema`).
pub const TYPES: [&str; 4] = ["int", "float", "text", "bool"];

/// A text column read as the type the analyst gave (`int`, `float`, `text` or `bool`), with
/// what did not read among `values` (those become nulls): numbers keep the decimal mark,
/// currency and percent found in the values; a value that is not whole is not an `int`.
pub fn forced(column: &str, values: &[Option<&str>], ty: &str) -> Inferred {
    let (present, placeholders) = present_values(values);
    type Fits = Box<dyn Fn(&str) -> bool>;
    let (reading, fits): (Reading, Fits) = match ty {
        "bool" => (Reading::Boolean, Box::new(|v| flag(v).is_some())),
        "int" | "float" => {
            // The decimal mark that reads more values (the point on a tie), as inferred.
            let reads = |d: Decimal| present.iter().filter(|v| number(v, d).is_some()).count();
            let decimal = if reads(Decimal::Comma) > reads(Decimal::Point) {
                Decimal::Comma
            } else {
                Decimal::Point
            };
            let parsed: Vec<(f64, bool, bool, Option<String>)> =
                present.iter().filter_map(|v| number(v, decimal)).collect();
            let percent = parsed.iter().filter(|p| p.2).count() * 2 > parsed.len();
            let currency = parsed.iter().find_map(|p| p.3.clone());
            let integer = ty == "int";
            (
                Reading::Number {
                    decimal,
                    integer,
                    percent,
                    currency,
                },
                Box::new(move |v| {
                    number(v, decimal).is_some_and(|(x, _, _, _)| !integer || x.fract() == 0.0)
                }),
            )
        }
        _ => (Reading::Text, Box::new(|_| true)),
    };
    let (unparsed, examples) = unfit(&present, &*fits);
    Inferred {
        column: column.to_string(),
        reading,
        sampled: values.len(),
        placeholders,
        unparsed,
        examples,
        given: true,
    }
}

/// The values of `values` that are not placeholders (nor nulls), and how many placeholders.
fn present_values<'a>(values: &[Option<&'a str>]) -> (Vec<&'a str>, usize) {
    let mut placeholders = 0;
    let mut present = Vec::new();
    for v in values.iter().flatten() {
        if is_placeholder(v) {
            placeholders += 1;
        } else {
            present.push(*v);
        }
    }
    (present, placeholders)
}

/// How many of `present` do not fit, with up to [`EXAMPLES`] distinct examples.
fn unfit(present: &[&str], fits: &dyn Fn(&str) -> bool) -> (usize, Vec<String>) {
    let bad: Vec<&str> = present.iter().copied().filter(|v| !fits(v)).collect();
    let mut examples: Vec<String> = Vec::new();
    for b in &bad {
        if examples.len() < EXAMPLES && !examples.iter().any(|e| e == b) {
            examples.push(b.to_string());
        }
    }
    (bad.len(), examples)
}

/// `v` unless it is a placeholder.
fn present(v: Option<&str>) -> Option<&str> {
    v.filter(|v| !is_placeholder(v))
}

/// The expression that reads column `name` as `reading`: each value as [`infer`] judged it
/// (placeholders and values that do not read become nulls), elementwise, so a big file
/// still streams.
pub fn expr(name: &str, reading: &Reading) -> Expr {
    let reading = reading.clone();
    let dtype = match &reading {
        // Dates are parsed by polars with the formats found (a value in none is null).
        Reading::Date { formats, .. } => {
            return crate::data::dates::to_date_expr(name, &DataType::String, formats);
        }
        Reading::Text => DataType::String,
        Reading::Boolean => DataType::Boolean,
        Reading::Number { integer: true, .. } => DataType::Int64,
        Reading::Number { .. } => DataType::Float64,
    };
    let out = dtype.clone();
    col(name)
        .map(
            move |c: Column| {
                let s = c.str()?;
                let name = c.name().clone();
                let column: Column = match &reading {
                    Reading::Text | Reading::Date { .. } => s
                        .iter()
                        .map(present)
                        .collect::<StringChunked>()
                        .with_name(name)
                        .into_column(),
                    Reading::Boolean => s
                        .iter()
                        .map(|v| present(v).and_then(flag))
                        .collect::<BooleanChunked>()
                        .with_name(name)
                        .into_column(),
                    Reading::Number {
                        decimal,
                        integer,
                        percent,
                        ..
                    } => {
                        let value = |v: Option<&str>| {
                            let (x, _, is_percent, _) = number(present(v)?, *decimal)?;
                            Some(if *percent && is_percent { x / 100.0 } else { x })
                        };
                        if *integer {
                            // A value that is not whole is not read (never truncated).
                            s.iter()
                                .map(|v| value(v).filter(|x| x.fract() == 0.0).map(|x| x as i64))
                                .collect::<Int64Chunked>()
                                .with_name(name)
                                .into_column()
                        } else {
                            s.iter()
                                .map(value)
                                .collect::<Float64Chunked>()
                                .with_name(name)
                                .into_column()
                        }
                    }
                };
                Ok(column)
            },
            move |_, f| Ok(Field::new(f.name().clone(), out.clone())),
        )
        .alias(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(values: &[&str]) -> Option<Inferred> {
        let v: Vec<Option<&str>> = values.iter().map(|s| Some(*s)).collect();
        infer("x", &v)
    }

    fn convert(values: &[&str], reading: &Reading) -> Series {
        let df = df!("x" => values).unwrap();
        df.lazy()
            .select([expr("x", reading)])
            .collect()
            .unwrap()
            .column("x")
            .unwrap()
            .as_materialized_series()
            .clone()
    }

    #[test]
    fn a_given_type_reads_what_fits_and_counts_the_rest() {
        let vals = ["1.234,50", "12", "abc", "NA", "7,5"];
        let v: Vec<Option<&str>> = vals.iter().map(|s| Some(*s)).collect();
        // Floats with the decimal comma the values use.
        let f = forced("x", &v, "float");
        assert!(f.given);
        assert_eq!((f.placeholders, f.unparsed), (1, 1));
        assert_eq!(f.examples, ["abc"]);
        let got: Vec<Option<f64>> = convert(&vals, &f.reading).f64().unwrap().iter().collect();
        assert_eq!(got, [Some(1234.5), Some(12.0), None, None, Some(7.5)]);
        // Whole numbers: a value with a fraction is not one (never truncated).
        let i = forced("x", &v, "int");
        assert_eq!(i.unparsed, 3);
        let got: Vec<Option<i64>> = convert(&vals, &i.reading).i64().unwrap().iter().collect();
        assert_eq!(got, [None, Some(12), None, None, None]);
        // Flags.
        let b = forced("x", &[Some("yes"), Some("no"), Some("maybe")], "bool");
        assert_eq!(
            (b.unparsed, b.examples.clone()),
            (1, vec!["maybe".to_string()])
        );
        assert!(b.describe().contains("(the type you set)"));
    }

    #[test]
    fn money_with_symbols_codes_and_thousands_reads_as_numbers() {
        let vals = [
            "$1,234.50",
            "USD 12.00",
            " 7 ",
            "(3.25)",
            "N/A",
            "-",
            "£0.99",
        ];
        let i = read(&vals).unwrap();
        assert_eq!(
            i.reading,
            Reading::Number {
                decimal: Decimal::Point,
                integer: false,
                percent: false,
                currency: Some("$".into())
            }
        );
        assert_eq!((i.placeholders, i.unparsed), (2, 0));
        let s = convert(&vals, &i.reading);
        let got: Vec<Option<f64>> = s.f64().unwrap().iter().collect();
        assert_eq!(
            got,
            [
                Some(1234.5),
                Some(12.0),
                Some(7.0),
                Some(-3.25),
                None,
                None,
                Some(0.99)
            ]
        );
    }

    #[test]
    fn a_decimal_comma_is_told_from_a_thousands_comma_by_the_column() {
        let vals = ["12,5", "1.234,75", "3", "0,25"];
        let i = read(&vals).unwrap();
        assert!(matches!(
            i.reading,
            Reading::Number {
                decimal: Decimal::Comma,
                ..
            }
        ));
        let got: Vec<Option<f64>> = convert(&vals, &i.reading).f64().unwrap().iter().collect();
        assert_eq!(got, [Some(12.5), Some(1234.75), Some(3.0), Some(0.25)]);
        // With a point elsewhere in the column, `1,234` is a thousand and more.
        let i = read(&["1,234", "2.5", "10"]).unwrap();
        let got: Vec<Option<f64>> = convert(&["1,234", "2.5", "10"], &i.reading)
            .f64()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(got, [Some(1234.0), Some(2.5), Some(10.0)]);
    }

    #[test]
    fn percents_are_fractions_and_whole_numbers_integers() {
        let i = read(&["39.1%", "5%", "100 %"]).unwrap();
        let got: Vec<Option<f64>> = convert(&["39.1%", "5%", "100 %"], &i.reading)
            .f64()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(got.len(), 3);
        assert!((got[0].unwrap() - 0.391).abs() < 1e-12 && got[2] == Some(1.0));
        let i = read(&["1,200", "35", "NULL", "7 000"]).unwrap();
        assert!(matches!(i.reading, Reading::Number { integer: true, .. }));
        let got: Vec<Option<i64>> = convert(&["1,200", "35", "NULL", "7 000"], &i.reading)
            .i64()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(got, [Some(1200), Some(35), None, Some(7000)]);
    }

    #[test]
    fn yes_no_columns_are_flags() {
        let vals = ["Yes", "no", "Y", "N", "true", "?"];
        let i = read(&vals).unwrap();
        assert_eq!(i.reading, Reading::Boolean);
        let got: Vec<Option<bool>> = convert(&vals, &i.reading).bool().unwrap().iter().collect();
        assert_eq!(
            got,
            [
                Some(true),
                Some(false),
                Some(true),
                Some(false),
                Some(true),
                None
            ]
        );
    }

    #[test]
    fn a_few_strays_are_counted_and_too_many_keep_the_text() {
        let mut vals: Vec<String> = (0..99).map(|i| format!("{i}.5")).collect();
        vals.push("call me".into());
        let refs: Vec<&str> = vals.iter().map(String::as_str).collect();
        let i = read(&refs).unwrap();
        assert_eq!(
            (i.unparsed, i.examples.clone()),
            (1, vec!["call me".into()])
        );
        assert!(
            i.describe().contains("1 of 100 values did not read"),
            "{}",
            i.describe()
        );
        // Phone numbers, ids, zip codes and names stay text.
        assert_eq!(
            read(&["07700 900861", "+44 7700 900843", "07700 900063"]),
            None
        );
        assert_eq!(read(&["C000001", "C000002"]), None);
        assert_eq!(read(&["01234", "02345"]), None);
        assert_eq!(read(&["12 main st", "3 high st"]), None);
        // A text column with placeholders: they become nulls.
        let i = read(&["London", "n/a", "Paris", "unknown"]).unwrap();
        assert_eq!((i.reading.clone(), i.placeholders), (Reading::Text, 2));
        let s = convert(&["London", "n/a", "Paris", "unknown"], &i.reading);
        assert_eq!(s.null_count(), 2);
    }
}
