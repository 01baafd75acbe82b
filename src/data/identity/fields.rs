//! Which columns of each source are compared, as which kind of field. Sources name the same
//! thing differently (`name` in one, `first_name` + `last_name` in another; `phone` and
//! `mobile`; `birth_date` and `dob`), so a field is a kind with one column (or, for names,
//! one or two columns) per source. Kinds are found from column names first (the words of
//! the name, as the privacy scan reads them), then from sampled values (e-mails, phones).

use polars::prelude::{DataFrame, DataType};

use crate::data::privacy::{self, PiiKind};
use crate::data::sources::roles::words;

/// The kinds of field identity resolution compares, each with its standardisation,
/// comparison levels and blocking keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A person's name: one full-name column, or a given and a family name.
    Name,
    Email,
    Phone,
    BirthDate,
    Street,
    HouseNumber,
    Town,
    Postcode,
    State,
    /// A national id number (social security, national insurance, tax id, passport).
    NationalId,
    /// Any other text column the analyst names.
    Text,
    /// Any other numeric column the analyst names.
    Number,
}

impl Kind {
    pub const DETECTED: [Kind; 10] = [
        Kind::Name,
        Kind::Email,
        Kind::Phone,
        Kind::BirthDate,
        Kind::Street,
        Kind::HouseNumber,
        Kind::Town,
        Kind::Postcode,
        Kind::State,
        Kind::NationalId,
    ];

    /// The field's name in `--fields`, the JSON and the workspace.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Name => "name",
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::BirthDate => "birth_date",
            Kind::Street => "street",
            Kind::HouseNumber => "house_number",
            Kind::Town => "town",
            Kind::Postcode => "postcode",
            Kind::State => "state",
            Kind::NationalId => "national_id",
            Kind::Text => "text",
            Kind::Number => "number",
        }
    }

    /// A kind by the name a user may give it (`dob`, `city`, `zip` and the like too).
    pub fn parse(s: &str) -> Option<Kind> {
        Some(
            match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
                "name" | "full_name" | "person" => Kind::Name,
                "email" | "e_mail" | "mail" => Kind::Email,
                "phone" | "mobile" | "telephone" | "tel" => Kind::Phone,
                "birth_date" | "dob" | "date_of_birth" | "birthdate" | "birthday" => {
                    Kind::BirthDate
                }
                "street" | "address" | "street_address" => Kind::Street,
                "house_number" | "house_no" | "street_number" => Kind::HouseNumber,
                "town" | "city" | "locality" => Kind::Town,
                "postcode" | "zip" | "zipcode" | "zip_code" | "postal_code" | "postcode_fake" => {
                    Kind::Postcode
                }
                "state" | "county" | "region" | "province" => Kind::State,
                "national_id" | "ssn" | "soc_sec_id" | "nino" | "passport" | "tax_id" => {
                    Kind::NationalId
                }
                _ => return None,
            },
        )
    }
}

/// Where a field is in one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Columns {
    /// One column (a full name, an e-mail, ...).
    One(String),
    /// A name in two columns: given name and family name (either may be absent).
    NameParts {
        first: Option<String>,
        last: Option<String>,
    },
}

impl Columns {
    pub fn describe(&self) -> String {
        match self {
            Columns::One(c) => c.clone(),
            Columns::NameParts { first, last } => [first, last]
                .into_iter()
                .flatten()
                .cloned()
                .collect::<Vec<_>>()
                .join(" + "),
        }
    }
}

/// One compared field: its kind, its name, and its columns in each source (same order as
/// the sources).
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub kind: Kind,
    pub name: String,
    pub columns: Vec<Columns>,
}

/// Which part of a person's name a column holds, from its name's words.
fn name_part(column: &str) -> Option<NamePart> {
    let w = words(column);
    let has = |x: &str| w.iter().any(|y| y == x);
    if has("first") || has("given") || has("forename") || has("firstname") || has("fname") {
        return Some(NamePart::First);
    }
    if has("last")
        || has("surname")
        || has("family")
        || has("lastname")
        || has("lname")
        || has("sur")
    {
        return Some(NamePart::Last);
    }
    if has("middle") || has("title") || has("salutation") {
        return None;
    }
    Some(NamePart::Full)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NamePart {
    First,
    Last,
    Full,
}

/// The kind a column name says (None: not a field identity resolution detects).
pub fn kind_by_name(column: &str) -> Option<Kind> {
    let w = words(column);
    let has = |x: &str| w.iter().any(|y| y == x);
    let joined = w.join("");
    if has("house") && (has("number") || has("no") || has("nr"))
        || joined == "streetnumber"
        || joined == "housenumber"
    {
        return Some(Kind::HouseNumber);
    }
    if has("postcode") || has("zip") || has("zipcode") || has("postal") || joined == "postcode" {
        return Some(Kind::Postcode);
    }
    if has("city") || has("town") || has("locality") || has("suburb") {
        return Some(Kind::Town);
    }
    if has("state") || has("county") || has("province") || has("region") {
        return Some(Kind::State);
    }
    match privacy::kind_by_name(column)? {
        PiiKind::Email => Some(Kind::Email),
        PiiKind::Phone => Some(Kind::Phone),
        PiiKind::BirthDate => Some(Kind::BirthDate),
        PiiKind::Address => Some(Kind::Street),
        PiiKind::Name => Some(Kind::Name),
        PiiKind::NationalId => Some(Kind::NationalId),
        _ => None,
    }
}

/// The fields of one source: kind -> columns, from names, then from values for text
/// columns no name explained (e-mails and phones only: a column of names or towns is
/// not told apart from other text by its values alone).
pub fn detect(df: &DataFrame, id: &str) -> Vec<(Kind, Columns)> {
    let mut out: Vec<(Kind, Columns)> = Vec::new();
    let (mut first, mut last, mut full) = (None, None, None);
    for c in df.columns() {
        let name = c.name().as_str();
        if name == id {
            continue;
        }
        let kind = kind_by_name(name).or_else(|| {
            if c.dtype() != &DataType::String {
                return None;
            }
            let s = c.as_materialized_series().str().ok()?;
            let values: Vec<&str> = s.iter().flatten().take(500).collect();
            match privacy::kind_by_values(&values)? {
                (PiiKind::Email, _) => Some(Kind::Email),
                (PiiKind::Phone, _) => Some(Kind::Phone),
                _ => None,
            }
        });
        let Some(kind) = kind else { continue };
        if kind == Kind::Name {
            match name_part(name) {
                Some(NamePart::First) => first = first.or(Some(name.to_string())),
                Some(NamePart::Last) => last = last.or(Some(name.to_string())),
                Some(NamePart::Full) => full = full.or(Some(name.to_string())),
                None => {}
            }
            continue;
        }
        if !out.iter().any(|(k, _)| *k == kind) {
            out.push((kind, Columns::One(name.to_string())));
        }
    }
    let name = if first.is_some() || last.is_some() {
        Some(Columns::NameParts { first, last })
    } else {
        full.map(Columns::One)
    };
    if let Some(n) = name {
        out.insert(0, (Kind::Name, n));
    }
    out.sort_by_key(|(k, _)| *k);
    out
}

/// The fields to compare across `sources` (frame and id column each): those given (kind
/// names such as `name` or `dob`, or a column every source has), else every detected kind
/// that every source has. Returns the fields and, for the report, detected kinds left out
/// because a source lacks them.
pub fn plan(
    sources: &[(&DataFrame, &str)],
    given: Option<&[String]>,
) -> Result<(Vec<Field>, Vec<String>), String> {
    let found: Vec<Vec<(Kind, Columns)>> = sources.iter().map(|(df, id)| detect(df, id)).collect();
    let in_all = |k: Kind| -> Option<Vec<Columns>> {
        found
            .iter()
            .map(|f| f.iter().find(|(x, _)| *x == k).map(|(_, c)| c.clone()))
            .collect()
    };
    let mut fields = Vec::new();
    let mut left_out = Vec::new();
    match given {
        Some(names) => {
            for n in names {
                let n = n.trim();
                if n.is_empty() {
                    continue;
                }
                // A column every source has, by its own name.
                if sources.iter().all(|(df, _)| df.schema().contains(n)) {
                    let kind = kind_by_name(n).unwrap_or_else(|| {
                        let numeric = sources.iter().all(|(df, _)| {
                            df.column(n).is_ok_and(|c| c.dtype().is_primitive_numeric())
                        });
                        if numeric { Kind::Number } else { Kind::Text }
                    });
                    let columns = sources
                        .iter()
                        .map(|_| Columns::One(n.to_string()))
                        .collect();
                    fields.push(Field {
                        kind: if kind == Kind::Name { Kind::Name } else { kind },
                        name: n.to_string(),
                        columns,
                    });
                    continue;
                }
                let Some(kind) = Kind::parse(n) else {
                    let missing: Vec<String> = sources
                        .iter()
                        .enumerate()
                        .filter(|(_, (df, _))| !df.schema().contains(n))
                        .map(|(i, _)| format!("input {}", i + 1))
                        .collect();
                    return Err(format!(
                        "field `{n}` is neither a column of every input (missing in {}) nor a kind of field ({})",
                        missing.join(", "),
                        Kind::DETECTED.map(Kind::name).join(", ")
                    ));
                };
                let Some(columns) = in_all(kind) else {
                    let lacking: Vec<String> = found
                        .iter()
                        .enumerate()
                        .filter(|(_, f)| !f.iter().any(|(x, _)| *x == kind))
                        .map(|(i, _)| format!("input {}", i + 1))
                        .collect();
                    return Err(format!(
                        "field `{n}`: no {} column found in {}; name the column instead (it must have the same name in every input)",
                        kind.name(),
                        lacking.join(", ")
                    ));
                };
                fields.push(Field {
                    kind,
                    name: kind.name().to_string(),
                    columns,
                });
            }
        }
        None => {
            for k in Kind::DETECTED {
                match in_all(k) {
                    Some(columns) => fields.push(Field {
                        kind: k,
                        name: k.name().to_string(),
                        columns,
                    }),
                    None if found.iter().any(|f| f.iter().any(|(x, _)| *x == k)) => {
                        left_out.push(k.name().to_string())
                    }
                    None => {}
                }
            }
        }
    }
    if fields.is_empty() {
        return Err(
            "no field to compare: no column of every input reads as a name, e-mail, phone, birth date, address, town, postcode or state; give them with --fields a,b,c"
                .into(),
        );
    }
    Ok((fields, left_out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::df;

    #[test]
    fn kinds_from_column_names() {
        assert_eq!(kind_by_name("first_name"), Some(Kind::Name));
        assert_eq!(kind_by_name("Surname"), Some(Kind::Name));
        assert_eq!(kind_by_name("dob"), Some(Kind::BirthDate));
        assert_eq!(kind_by_name("date_of_birth"), Some(Kind::BirthDate));
        assert_eq!(kind_by_name("mobile"), Some(Kind::Phone));
        assert_eq!(kind_by_name("EmailAddress"), Some(Kind::Email));
        assert_eq!(kind_by_name("city"), Some(Kind::Town));
        assert_eq!(kind_by_name("zip_code"), Some(Kind::Postcode));
        assert_eq!(kind_by_name("postcode_fake"), Some(Kind::Postcode));
        assert_eq!(kind_by_name("house_no"), Some(Kind::HouseNumber));
        assert_eq!(kind_by_name("product_name"), None);
        assert_eq!(kind_by_name("income"), None);
    }

    #[test]
    fn two_sources_with_different_column_names_share_fields() {
        let a = df!(
            "customer_id" => ["C1"],
            "name" => ["Ann Lee"],
            "email" => ["a@x.com"],
            "birth_date" => ["1980-01-02"],
            "city" => ["Leeds"],
            "income" => [1.0]
        )
        .unwrap();
        let b = df!(
            "member_id" => ["M1"],
            "first_name" => ["Ann"],
            "last_name" => ["Lee"],
            "contact" => ["ann@x.com"],
            "dob" => ["02/01/1980"],
            "mobile" => ["07700 900123"]
        )
        .unwrap();
        let (fields, left_out) = plan(&[(&a, "customer_id"), (&b, "member_id")], None).unwrap();
        let kinds: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        // `contact` holds e-mails: found by its values.
        assert_eq!(kinds, ["name", "email", "birth_date"]);
        assert_eq!(fields[0].columns[0], Columns::One("name".into()));
        assert_eq!(
            fields[0].columns[1],
            Columns::NameParts {
                first: Some("first_name".into()),
                last: Some("last_name".into())
            }
        );
        assert_eq!(fields[1].columns[1], Columns::One("contact".into()));
        assert_eq!(left_out, ["phone", "town"]);
        // Given by kind or by a shared column name; an unknown one is named in the error.
        let (f, _) = plan(
            &[(&a, "customer_id"), (&b, "member_id")],
            Some(&["dob".to_string()]),
        )
        .unwrap();
        assert_eq!(f[0].kind, Kind::BirthDate);
        let e = plan(
            &[(&a, "customer_id"), (&b, "member_id")],
            Some(&["town".to_string()]),
        )
        .unwrap_err();
        assert!(e.contains("no town column found in input 2"), "{e}");
        let e = plan(
            &[(&a, "customer_id"), (&b, "member_id")],
            Some(&["shoe_size".to_string()]),
        )
        .unwrap_err();
        assert!(e.contains("`shoe_size`"), "{e}");
    }
}
