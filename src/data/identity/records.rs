//! The records of every source, standardised once, field by field, in compact columns (one
//! text buffer per column with offsets: a million records hold a few tens of megabytes, not
//! millions of small strings). Records of all sources are numbered together: source `s`
//! holds `starts[s]..starts[s + 1]`.

use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;

use super::fields::{Columns, Field, Kind};
use super::standardise;
use crate::data::dates;

/// Text values in one buffer: value `i` is `buf[ends[i - 1]..ends[i]]`; empty is missing.
#[derive(Debug, Clone, Default)]
pub struct Texts {
    buf: String,
    ends: Vec<u32>,
}

impl Texts {
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.buf[start..self.ends[i] as usize]
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn push(&mut self, s: &str) {
        self.buf.push_str(s);
        self.ends.push(self.buf.len() as u32);
    }

    fn extend(&mut self, other: Texts) {
        let base = self.buf.len() as u32;
        self.buf.push_str(&other.buf);
        self.ends.extend(other.ends.iter().map(|e| e + base));
    }

    fn from_values(values: impl IntoIterator<Item = String>) -> Texts {
        let mut t = Texts::default();
        for v in values {
            t.push(&v);
        }
        t
    }
}

/// One field's standardised values for every record.
#[derive(Debug, Clone)]
pub enum Values {
    Text(Texts),
    /// Given name and family name, standardised (either may be empty).
    Name {
        first: Texts,
        last: Texts,
    },
    Date(Vec<Option<NaiveDate>>),
}

/// All records of all sources, standardised.
#[derive(Debug, Clone)]
pub struct Records {
    /// Each record's id as in its file.
    pub ids: Vec<String>,
    /// Source `s` holds records `starts[s]..starts[s + 1]`.
    pub starts: Vec<usize>,
    pub fields: Vec<Field>,
    pub values: Vec<Values>,
}

impl Records {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn sources(&self) -> usize {
        self.starts.len() - 1
    }

    /// The source record `i` is from.
    pub fn source_of(&self, i: usize) -> usize {
        self.starts.partition_point(|s| *s <= i) - 1
    }

    /// The standardised value of field `f` for record `i`, as one text (a name as "first
    /// last", a date as ISO): for the screen and for term frequencies.
    pub fn text(&self, f: usize, i: usize) -> String {
        match &self.values[f] {
            Values::Text(t) => t.get(i).to_string(),
            Values::Name { first, last } => {
                let (a, b) = (first.get(i), last.get(i));
                match (a.is_empty(), b.is_empty()) {
                    (true, _) => b.to_string(),
                    (_, true) => a.to_string(),
                    _ => format!("{a} {b}"),
                }
            }
            Values::Date(d) => d[i].map(|d| d.to_string()).unwrap_or_default(),
        }
    }

    /// Standardises `sources` (frame and id column each) on `fields`.
    pub fn build(sources: &[(&DataFrame, &str)], fields: &[Field]) -> Result<Records, String> {
        let mut ids = Vec::new();
        let mut starts = vec![0];
        for (df, id) in sources {
            ids.extend(ids_of(df, id)?);
            starts.push(ids.len());
        }
        let mut values = Vec::with_capacity(fields.len());
        for field in fields {
            let parts: Vec<Values> = sources
                .iter()
                .zip(&field.columns)
                .map(|((df, _), cols)| standardise_field(df, field.kind, cols))
                .collect::<Result<_, _>>()?;
            values.push(concat(parts));
        }
        Ok(Records {
            ids,
            starts,
            fields: fields.to_vec(),
            values,
        })
    }
}

/// The record ids of `df`'s column `id`, as text (trimmed; a missing id is empty).
pub fn ids_of(df: &DataFrame, id: &str) -> Result<Vec<String>, String> {
    let c = df
        .column(id)
        .map_err(|_| format!("no id column `{id}`"))?
        .cast(&DataType::String)
        .map_err(|e| format!("id column `{id}`: {e}"))?;
    let s = c.as_materialized_series();
    let ca = s.str().map_err(|e| format!("id column `{id}`: {e}"))?;
    Ok(ca
        .iter()
        .map(|v| v.unwrap_or("").trim().to_string())
        .collect())
}

fn concat(parts: Vec<Values>) -> Values {
    let mut it = parts.into_iter();
    let Some(mut first) = it.next() else {
        return Values::Text(Texts::default());
    };
    for p in it {
        match (&mut first, p) {
            (Values::Text(a), Values::Text(b)) => a.extend(b),
            (
                Values::Name { first: f, last: l },
                Values::Name {
                    first: f2,
                    last: l2,
                },
            ) => {
                f.extend(f2);
                l.extend(l2);
            }
            (Values::Date(a), Values::Date(b)) => a.extend(b),
            _ => unreachable!("one field has one kind of values in every source"),
        }
    }
    first
}

/// A column's values as text (numbers as written; missing as None).
pub(crate) fn strings(df: &DataFrame, column: &str) -> Result<Vec<Option<String>>, String> {
    let c = df
        .column(column)
        .map_err(|_| format!("no column `{column}`"))?;
    let c = c
        .cast(&DataType::String)
        .map_err(|e| format!("column `{column}`: {e}"))?;
    let s = c.as_materialized_series();
    let ca = s.str().map_err(|e| format!("column `{column}`: {e}"))?;
    Ok(ca.iter().map(|v| v.map(str::to_string)).collect())
}

fn standardise_field(df: &DataFrame, kind: Kind, cols: &Columns) -> Result<Values, String> {
    let n = df.height();
    match (kind, cols) {
        (Kind::Name, Columns::NameParts { first, last }) => {
            let get = |c: &Option<String>| -> Result<Vec<Option<String>>, String> {
                match c {
                    Some(c) => strings(df, c),
                    None => Ok(vec![None; n]),
                }
            };
            let (f, l) = (get(first)?, get(last)?);
            let std = |v: &Option<String>| v.as_deref().map(standardise::text).unwrap_or_default();
            Ok(Values::Name {
                first: Texts::from_values(f.iter().map(std)),
                last: Texts::from_values(l.iter().map(std)),
            })
        }
        (Kind::Name, Columns::One(c)) => {
            let v = strings(df, c)?;
            let split: Vec<(String, String)> = v
                .par_iter()
                .map(|v| split_name(v.as_deref().unwrap_or("")))
                .collect();
            let mut first = Texts::default();
            let mut last = Texts::default();
            for (f, l) in &split {
                first.push(f);
                last.push(l);
            }
            Ok(Values::Name { first, last })
        }
        (Kind::BirthDate, Columns::One(c)) => Ok(Values::Date(dates_of(df, c)?)),
        (kind, Columns::One(c)) => {
            let v = strings(df, c)?;
            let out: Vec<String> = v
                .par_iter()
                .map(|v| standardise_text(kind, v.as_deref().unwrap_or("")))
                .collect();
            Ok(Values::Text(Texts::from_values(out)))
        }
        (kind, Columns::NameParts { .. }) => Err(format!(
            "a {} field cannot be read from name columns",
            kind.name()
        )),
    }
}

/// "Ann Marie Lee" -> ("ann", "lee"); "Lee, Ann" -> ("ann", "lee"): a comma puts the
/// family name first. Middle names are dropped; a single word is a given name.
pub fn split_name(s: &str) -> (String, String) {
    if let Some((family, given)) = s.split_once(',') {
        let g = standardise::text(given);
        let f = standardise::text(family);
        let first = g.split(' ').next().unwrap_or("").to_string();
        return (first, f);
    }
    let t = standardise::text(s);
    let mut parts = t.split(' ').filter(|p| !p.is_empty());
    let first = parts.next().unwrap_or("").to_string();
    let last = parts.next_back().unwrap_or("").to_string();
    (first, last)
}

/// A value standardised for its kind: e-mails lower case without `+tags`, phones as their
/// last ten national digits, postcodes without spaces, other text as [`standardise::text`].
pub fn standardise_text(kind: Kind, v: &str) -> String {
    match kind {
        Kind::Email => match standardise::email(v) {
            Some((l, d)) => format!("{l}@{d}"),
            None => String::new(),
        },
        Kind::Phone => {
            let d = standardise::phone(v, None);
            // The last ten digits: "+44 7700 900123" and "07700 900123" agree without
            // knowing the country; shorter numbers are kept whole (too short: missing).
            if d.len() < 6 {
                String::new()
            } else {
                d[d.len().saturating_sub(10)..].to_string()
            }
        }
        Kind::Postcode | Kind::NationalId => standardise::postcode(v),
        Kind::HouseNumber => v.trim().to_ascii_lowercase().replace(' ', ""),
        Kind::Number => v.trim().to_string(),
        _ => standardise::text(v),
    }
}

/// A column of dates whatever their format: a date column as it is; text read in the forms
/// its values are written in (ISO, day-first or month-first, "14 Mar 1987", ...), each
/// value in the first form that reads it.
fn dates_of(df: &DataFrame, column: &str) -> Result<Vec<Option<NaiveDate>>, String> {
    let c = df
        .column(column)
        .map_err(|_| format!("no column `{column}`"))?;
    if matches!(c.dtype(), DataType::Date | DataType::Datetime(_, _)) {
        let d = c
            .cast(&DataType::Date)
            .map_err(|e| format!("column `{column}`: {e}"))?;
        let s = d.as_materialized_series();
        let ca = s.date().map_err(|e| format!("column `{column}`: {e}"))?;
        return Ok(ca
            .physical()
            .iter()
            .map(|v| v.map(dates::from_epoch_days))
            .collect());
    }
    let v = strings(df, column)?;
    let formats = date_formats(v.iter().flatten().map(String::as_str));
    Ok(v.par_iter()
        .map(|s| {
            let s = s.as_deref()?.trim();
            if s.is_empty() {
                return None;
            }
            formats.iter().find_map(|f| parse_date(s, f))
        })
        .collect())
}

/// The forms a column's dates are written in, from its first 5,000 non-empty values; when
/// none holds for half of them (a column of yyyymmdd numbers with a few impossible dates is
/// not taken for dates by the reader), the usual forms, day-first before month-first: each
/// value is read in the first form that reads it.
pub fn date_formats<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    let sample: Vec<&str> = values
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .take(5000)
        .collect();
    dates::infer_formats(&sample, 0.5)
        .map(|r| r.formats)
        .unwrap_or_else(|| {
            [
                "%Y-%m-%d",
                "%Y%m%d",
                "%d/%m/%Y",
                "%m/%d/%Y",
                "%d %b %Y",
                "%b %d, %Y",
                "%d.%m.%Y",
                "%Y/%m/%d",
            ]
            .map(String::from)
            .to_vec()
        })
}

fn parse_date(s: &str, format: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, format).ok().or_else(|| {
        chrono::NaiveDateTime::parse_from_str(s, format)
            .ok()
            .map(|d| d.date())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::identity::fields::plan;
    use polars::df;

    #[test]
    fn names_split_into_given_and_family() {
        assert_eq!(split_name("Ann Marie Lee"), ("ann".into(), "lee".into()));
        assert_eq!(split_name("Lee, Ann"), ("ann".into(), "lee".into()));
        assert_eq!(
            split_name("  José  O'Brien "),
            ("jose".into(), "obrien".into())
        );
        assert_eq!(split_name("Madonna"), ("madonna".into(), "".into()));
        assert_eq!(split_name(""), ("".into(), "".into()));
    }

    #[test]
    fn two_sources_standardised_together() {
        let a = df!(
            "id" => ["C1", "C2"],
            "name" => ["Ann Lee", "Bob  Smith"],
            "phone" => ["+44 7700 900123", ""],
            "birth_date" => ["02/01/1980", "31/12/1975"]
        )
        .unwrap();
        let b = df!(
            "member" => [7i64, 8],
            "first_name" => ["ANN", "Robert"],
            "surname" => ["Lee", "Smith"],
            "mobile" => ["07700900123", "07700 900999"],
            "dob" => ["2 Jan 1980", "31 Dec 1975"]
        )
        .unwrap();
        let sources = [(&a, "id"), (&b, "member")];
        let (fields, _) = plan(&sources, None).unwrap();
        let r = Records::build(&sources, &fields).unwrap();
        assert_eq!(r.ids, ["C1", "C2", "7", "8"]);
        assert_eq!(r.starts, [0, 2, 4]);
        assert_eq!(r.source_of(1), 0);
        assert_eq!(r.source_of(2), 1);
        let names: Vec<String> = (0..4).map(|i| r.text(0, i)).collect();
        assert_eq!(names, ["ann lee", "bob smith", "ann lee", "robert smith"]);
        let phone = fields.iter().position(|f| f.kind == Kind::Phone).unwrap();
        let phones: Vec<String> = (0..4).map(|i| r.text(phone, i)).collect();
        assert_eq!(phones, ["7700900123", "", "7700900123", "7700900999"]);
        let dob = fields
            .iter()
            .position(|f| f.kind == Kind::BirthDate)
            .unwrap();
        let d: Vec<String> = (0..4).map(|i| r.text(dob, i)).collect();
        assert_eq!(d, ["1980-01-02", "1975-12-31", "1980-01-02", "1975-12-31"]);
    }
}
