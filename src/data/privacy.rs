//! Personal data: which columns hold it (by column name and by the look of the values, or
//! as the workspace's `[privacy]` section says) and how each kind is masked for display.
//!
//! Hand-written rather than a crate: the PII-detection crates found are either language
//! models or web-log scrubbers; what a CRM table needs is a handful of name rules and value
//! patterns that can be read and tested here.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use polars::prelude::*;
use regex::Regex;
use serde::{Deserialize, Serialize};

/// A kind of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    Email,
    Phone,
    Name,
    Address,
    BirthDate,
    FreeText,
    /// A national id number: a social security number, a national insurance number, a tax
    /// id, a passport number.
    NationalId,
    /// A bank account's IBAN.
    Iban,
    /// A payment card number.
    Card,
}

impl PiiKind {
    pub const ALL: [PiiKind; 9] = [
        PiiKind::Email,
        PiiKind::Phone,
        PiiKind::Name,
        PiiKind::Address,
        PiiKind::BirthDate,
        PiiKind::FreeText,
        PiiKind::NationalId,
        PiiKind::Iban,
        PiiKind::Card,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::Name => "name",
            PiiKind::Address => "address",
            PiiKind::BirthDate => "birth_date",
            PiiKind::FreeText => "free_text",
            PiiKind::NationalId => "national_id",
            PiiKind::Iban => "iban",
            PiiKind::Card => "card",
        }
    }
}

/// A column found to hold personal data, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PiiColumn {
    pub column: String,
    pub kind: PiiKind,
    /// "workspace", "column name", or the share of sampled values that matched.
    pub reason: String,
}

/// The workspace's `[privacy]` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyConfig {
    /// Columns marked explicitly: column -> kind (email, phone, name, address, birth_date,
    /// free_text, national_id, iban, card).
    #[serde(default)]
    pub pii: BTreeMap<String, PiiKind>,
    /// Columns never treated as personal data (to overrule detection).
    #[serde(default)]
    pub not_pii: Vec<String>,
    /// Show personal data unmasked on screen (as `--show-pii`).
    #[serde(default)]
    pub show_pii: bool,
    /// Replace the customer key by its keyed pseudonym in every export (as `--pseudonymise`).
    #[serde(default)]
    pub pseudonymise: bool,
}

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$").expect("email pattern"));
/// A phone number: an optional +, then digits with spaces, dots, dashes or parentheses, 9 to
/// 15 digits in all, and either a leading + or 0 or a separator (so plain numeric codes and
/// amounts are not phones).
static PHONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\+?[0-9(][0-9 ().\-]{7,20}[0-9]$").expect("phone pattern"));
static STREET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\d+[a-z]?,?\s+.*\b(street|st|road|rd|avenue|ave|lane|ln|drive|dr|way|close|court|ct|place|pl|boulevard|blvd|crescent|terrace|square|strasse|straße|rue)\b",
    )
    .expect("street pattern")
});
static PERSON_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\p{Lu}[\p{L}'\-]+(\s+\p{Lu}[\p{L}'\-]+){1,3}$").expect("name pattern")
});

/// A US social security number or a UK national insurance number.
static NATIONAL_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{3}-\d{2}-\d{4}|(?i)[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D])$")
        .expect("national id pattern")
});

/// An IBAN whose check digits are right (ISO 13616: the number mod 97 is 1).
fn is_iban(v: &str) -> bool {
    let t: String = v.chars().filter(|c| !c.is_whitespace()).collect();
    let b = t.as_bytes();
    if !(15..=34).contains(&b.len())
        || !b[..2].iter().all(u8::is_ascii_uppercase)
        || !b[2..4].iter().all(u8::is_ascii_digit)
        || !b.iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    let mut rem: u32 = 0;
    for &c in b[4..].iter().chain(&b[..4]) {
        let d = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c.to_ascii_uppercase() - b'A') + 10
        };
        rem = if d >= 10 {
            (rem * 100 + d) % 97
        } else {
            (rem * 10 + d) % 97
        };
    }
    rem == 1
}

/// A payment card number: 13 to 19 digits (spaces or dashes between groups) that pass the
/// Luhn check.
fn is_card(v: &str) -> bool {
    if !v
        .chars()
        .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
    {
        return false;
    }
    let digits: Vec<u32> = v.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Whether `c` is a yes/no flag: booleans, 0/1 integers, or text of yes/no/true/false/y/n.
fn is_flag(c: &Column) -> bool {
    match c.dtype() {
        DataType::Boolean => true,
        d if d.is_integer() => c
            .cast(&DataType::Int64)
            .ok()
            .and_then(|x| {
                x.i64()
                    .ok()
                    .map(|x| x.iter().flatten().all(|v| v == 0 || v == 1))
            })
            .unwrap_or(false),
        DataType::String => c.str().is_ok_and(|s| {
            s.iter().flatten().all(|v| {
                matches!(
                    v.trim().to_ascii_lowercase().as_str(),
                    "yes" | "no" | "y" | "n" | "true" | "false" | ""
                )
            })
        }),
        _ => false,
    }
}

fn looks_like_phone(v: &str) -> bool {
    let digits = v.chars().filter(char::is_ascii_digit).count();
    PHONE.is_match(v)
        && (9..=15).contains(&digits)
        && (v.starts_with(['+', '0', '(']) || v.contains([' ', '-', '(', '.']))
}

/// The kind a column name says, if any: words split on `_`, `-`, spaces and case changes.
pub fn kind_by_name(column: &str) -> Option<PiiKind> {
    let lower = column.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let has = |w: &str| words.contains(&w);
    let joined = words.join("");
    if has("ssn")
        || has("nino")
        || has("nin")
        || has("passport")
        || has("tin")
        || joined.contains("socsec")
        || joined.contains("socialsecurity")
        || joined.contains("nationalid")
        || joined.contains("nationalinsurance")
        || joined.contains("taxid")
    {
        return Some(PiiKind::NationalId);
    }
    if has("iban") {
        return Some(PiiKind::Iban);
    }
    if joined.contains("cardnumber")
        || joined.contains("creditcard")
        || joined.contains("ccnumber")
        || has("pan")
    {
        return Some(PiiKind::Card);
    }
    if has("email") || has("mail") || joined == "emailaddress" {
        return Some(PiiKind::Email);
    }
    if ["phone", "mobile", "tel", "telephone", "cell", "msisdn"]
        .iter()
        .any(|w| has(w))
        || joined.contains("phone")
    {
        return Some(PiiKind::Phone);
    }
    if has("birth") || has("dob") || has("birthday") || joined.contains("dateofbirth") {
        return Some(PiiKind::BirthDate);
    }
    if ["address", "street", "addr", "postcode", "zip", "zipcode"]
        .iter()
        .any(|w| has(w))
    {
        return Some(PiiKind::Address);
    }
    if ["notes", "note", "comment", "comments", "remarks", "memo"]
        .iter()
        .any(|w| has(w))
    {
        return Some(PiiKind::FreeText);
    }
    // "name", "first_name", "surname", "customer_name", but not "product_name" or "city_name".
    let person = [
        "first", "last", "full", "given", "family", "customer", "contact", "middle",
    ];
    if words == ["name"]
        || has("surname")
        || has("forename")
        || has("firstname")
        || has("lastname")
        || has("fullname")
        || (has("name") && words.iter().any(|w| person.contains(w)))
    {
        return Some(PiiKind::Name);
    }
    None
}

/// The kind the values say, with the share that matched: at least 80% of the sampled
/// non-empty values must match (60% for street addresses; names need 90%, and many distinct
/// values, so that product or city names are not taken for people).
pub fn kind_by_values(values: &[&str]) -> Option<(PiiKind, f64)> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let share = |f: &dyn Fn(&str) -> bool| values.iter().filter(|v| f(v)).count() as f64 / n;
    let email = share(&|v| EMAIL.is_match(v));
    if email >= 0.8 {
        return Some((PiiKind::Email, email));
    }
    let card = share(&|v| is_card(v));
    if card >= 0.8 {
        return Some((PiiKind::Card, card));
    }
    let iban = share(&|v| is_iban(v));
    if iban >= 0.8 {
        return Some((PiiKind::Iban, iban));
    }
    let id = share(&|v| NATIONAL_ID.is_match(v));
    if id >= 0.8 {
        return Some((PiiKind::NationalId, id));
    }
    let phone = share(&looks_like_phone);
    if phone >= 0.8 {
        return Some((PiiKind::Phone, phone));
    }
    let street = share(&|v| STREET.is_match(v));
    if street >= 0.6 {
        return Some((PiiKind::Address, street));
    }
    let long = share(&|v| v.chars().count() >= 40 && v.split_whitespace().count() >= 6);
    if long >= 0.5 {
        return Some((PiiKind::FreeText, long));
    }
    let mut distinct: Vec<&str> = values.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let names = share(&|v| PERSON_NAME.is_match(v));
    if names >= 0.9 && distinct.len() as f64 >= 0.5 * n && values.len() >= 20 {
        return Some((PiiKind::Name, names));
    }
    None
}

/// The personal-data columns of `df`: those the config marks, then by column name, then,
/// for text columns, by up to 500 sampled non-empty values (evenly spread over the rows).
/// Columns in `not_pii` are never listed.
pub fn detect(df: &DataFrame, config: &PrivacyConfig) -> Vec<PiiColumn> {
    let mut out = Vec::new();
    for c in df.columns() {
        let name = c.name().as_str();
        if config.not_pii.iter().any(|n| n == name) {
            continue;
        }
        if let Some(kind) = config.pii.get(name) {
            out.push(PiiColumn {
                column: name.into(),
                kind: *kind,
                reason: "workspace".into(),
            });
            continue;
        }
        // A flag identifies nobody, whatever its name says (`PhoneService` of Yes/No is not
        // a phone number).
        if is_flag(c) {
            continue;
        }
        if let Some(kind) = kind_by_name(name) {
            out.push(PiiColumn {
                column: name.into(),
                kind,
                reason: "column name".into(),
            });
            continue;
        }
        let Ok(s) = c.str() else { continue };
        let non_empty: Vec<&str> = s
            .iter()
            .flatten()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        let step = (non_empty.len() / 500).max(1);
        let sample: Vec<&str> = non_empty.iter().step_by(step).take(500).copied().collect();
        if let Some((kind, share)) = kind_by_values(&sample) {
            out.push(PiiColumn {
                column: name.into(),
                kind,
                reason: format!("{:.0}% of sampled values", share * 100.0),
            });
        }
    }
    out
}

/// `value` masked for display: e-mails as `j***@e***.com`, phones as `***-***-1234`, names as
/// initials, birth dates as the year, addresses and free text hidden (free text says its
/// length).
pub fn mask(kind: PiiKind, value: &str) -> String {
    let value = value.trim();
    if value.is_empty() {
        return String::new();
    }
    let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
    match kind {
        PiiKind::Email => match value.rsplit_once('@') {
            Some((local, domain)) => {
                let tld = domain.rsplit_once('.').map_or("", |(_, t)| t);
                format!("{}***@{}***.{tld}", first(local), first(domain))
            }
            None => "***".into(),
        },
        PiiKind::Phone => {
            let digits: Vec<char> = value.chars().filter(char::is_ascii_digit).collect();
            let last: String = digits[digits.len().saturating_sub(4)..].iter().collect();
            format!("***-***-{last}")
        }
        PiiKind::Name => value
            .split_whitespace()
            .map(|w| format!("{}.", first(w).to_uppercase()))
            .collect::<Vec<_>>()
            .join(" "),
        PiiKind::BirthDate => {
            static YEAR: LazyLock<Regex> =
                LazyLock::new(|| Regex::new(r"\b(1[89]\d\d|20\d\d)\b").expect("year pattern"));
            YEAR.find(value)
                .map_or_else(|| "****".into(), |m| m.as_str().to_string())
        }
        PiiKind::Address | PiiKind::NationalId => "***".into(),
        PiiKind::Iban => {
            let t: String = value.chars().filter(|c| !c.is_whitespace()).collect();
            let last: String = t
                .chars()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("{}** **** {last}", t.chars().take(2).collect::<String>())
        }
        PiiKind::Card => {
            let digits: Vec<char> = value.chars().filter(char::is_ascii_digit).collect();
            let last: String = digits[digits.len().saturating_sub(4)..].iter().collect();
            format!("**** **** **** {last}")
        }
        PiiKind::FreeText => format!("[text, {} chars]", value.chars().count()),
    }
}

/// Feature names as they may be shown: a one-hot level (`column=level`) of a personal-data
/// column in `pii` masked as [`mask`] masks its values (`name=A. S.`; numbered, `#2`, when two
/// levels mask alike). The pooled `other` and `(missing)` levels are nobody's data and stay.
pub fn mask_feature_names<'a>(
    names: impl IntoIterator<Item = &'a str>,
    pii: &[PiiColumn],
) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    names
        .into_iter()
        .map(|name| {
            let hit = pii.iter().find_map(|p| {
                let level = name.strip_prefix(p.column.as_str())?.strip_prefix('=')?;
                Some((p, level))
            });
            match hit {
                Some((p, level)) if !matches!(level, "other" | "(missing)") => {
                    let masked = format!("{}={}", p.column, mask(p.kind, level));
                    let n = seen.entry(masked.clone()).or_default();
                    *n += 1;
                    if *n > 1 {
                        format!("{masked} #{n}")
                    } else {
                        masked
                    }
                }
                _ => name.to_string(),
            }
        })
        .collect()
}

/// The environment variable holding the pseudonym key, and the one naming a key file.
pub const KEY_ENV: &str = "CRMLENS_PSEUDONYM_KEY";
pub const KEY_FILE_ENV: &str = "CRMLENS_PSEUDONYM_KEY_FILE";

/// Keyed pseudonyms of customer ids: HMAC-SHA256 of the id under a secret key, the first 128
/// bits in hex. The same key gives the same pseudonym in every run (so exports still join);
/// without the key the id cannot be recovered or recomputed.
pub struct Pseudonymiser {
    mac: hmac::Hmac<sha2::Sha256>,
}

impl std::fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymiser(key hidden)")
    }
}

impl Pseudonymiser {
    pub fn new(key: &[u8]) -> Pseudonymiser {
        use hmac::Mac;
        Pseudonymiser {
            mac: hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key"),
        }
    }

    /// The key from `CRMLENS_PSEUDONYM_KEY`, else from the file `CRMLENS_PSEUDONYM_KEY_FILE`
    /// names (trailing white space trimmed); an error saying how to set one when neither is
    /// there or the key is shorter than 16 bytes. The key itself is never printed.
    pub fn from_env() -> crate::data::error::Result<Pseudonymiser> {
        use crate::data::error::DataError;
        let key = match (std::env::var(KEY_ENV), std::env::var_os(KEY_FILE_ENV)) {
            (Ok(k), _) if !k.is_empty() => k.into_bytes(),
            (_, Some(path)) => {
                let path = std::path::PathBuf::from(path);
                let mut k = std::fs::read(&path).map_err(|e| DataError::io(&path, e))?;
                while k.last().is_some_and(|b| b.is_ascii_whitespace()) {
                    k.pop();
                }
                k
            }
            _ => {
                return Err(DataError::Invalid(format!(
                    "no pseudonym key: set {KEY_ENV} to a secret of 16 or more characters, or {KEY_FILE_ENV} to a file holding one; keep it to get the same pseudonyms next time"
                )));
            }
        };
        if key.len() < 16 {
            return Err(DataError::Invalid(format!(
                "the pseudonym key is {} bytes; use 16 or more (from {KEY_ENV} or {KEY_FILE_ENV})",
                key.len()
            )));
        }
        Ok(Pseudonymiser::new(&key))
    }

    pub fn pseudonym(&self, id: &str) -> String {
        use hmac::Mac;
        let mut mac = self.mac.clone();
        mac.update(id.as_bytes());
        let digest = mac.finalize().into_bytes();
        digest[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// `column` of `df` replaced by the pseudonyms of its values (as text; nulls stay null).
    pub fn apply(&self, df: &mut DataFrame, column: &str) -> crate::data::error::Result<()> {
        use crate::data::error::DataError;
        let fail = |e: PolarsError| DataError::polars("pseudonyms", e);
        let ids = df
            .column(column)
            .map_err(fail)?
            .cast(&DataType::String)
            .map_err(fail)?;
        let out: StringChunked = ids
            .str()
            .map_err(fail)?
            .iter()
            .map(|v| v.map(|v| self.pseudonym(v)))
            .collect();
        df.with_column(out.with_name(column.into()).into_column())
            .map_err(fail)?;
        Ok(())
    }
}

/// `df` without its personal-data columns (those `detect` finds with `config`), and their
/// names.
pub fn drop_pii(df: &DataFrame, config: &PrivacyConfig) -> (DataFrame, Vec<String>) {
    let found: Vec<String> = detect(df, config).into_iter().map(|p| p.column).collect();
    (df.drop_many(found.iter().map(String::as_str)), found)
}

/// `message` (an error from a library, which may quote the values it could not read) with
/// personal data masked: every quoted value in a message about a personal-data column (by
/// name), and any quoted value that itself looks like an e-mail, phone number, street address
/// or free text. Column names and types are left as they are, so the message still says what
/// to fix.
pub fn redact(message: &str) -> String {
    static QUOTED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"`([^`]*)`|'([^']*)'|"([^"]*)""#).expect("quoted pattern"));
    static COLUMN: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?i)(?:column|field)\s+(?:name\s+)?[`'"]([^`'"]+)[`'"]"#)
            .expect("column pattern")
    });
    let columns: Vec<&str> = COLUMN
        .captures_iter(message)
        .filter_map(|c| c.get(1).map(|m| m.as_str()))
        .collect();
    let column_kind = columns.iter().find_map(|c| kind_by_name(c));
    static TYPE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^([iu](8|16|32|64|128)|f(32|64)|str|string|utf8(view)?|bool(ean)?|date|datetime.*|time|null)$")
            .expect("type pattern")
    });
    let is_type = |v: &str| TYPE.is_match(v.trim());
    QUOTED
        .replace_all(message, |c: &regex::Captures| {
            let whole = c.get(0).map_or("", |m| m.as_str());
            let value = c
                .get(1)
                .or_else(|| c.get(2))
                .or_else(|| c.get(3))
                .map_or("", |m| m.as_str());
            if columns.contains(&value) || is_type(value) || value.is_empty() {
                return whole.to_string();
            }
            let kind = column_kind.or_else(|| kind_by_values(&[value]).map(|(k, _)| k));
            match kind {
                Some(k) => whole.replacen(value, &mask(k, value), 1),
                None => whole.to_string(),
            }
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_ids_ibans_and_cards_are_found_by_value_and_by_name() {
        // Valid IBANs (the check digits of the examples in ISO 13616's registry).
        assert!(is_iban("GB82 WEST 1234 5698 7654 32") && is_iban("DE89370400440532013000"));
        assert!(
            !is_iban("GB83 WEST 1234 5698 7654 32"),
            "a wrong check digit"
        );
        // Luhn: the test card numbers pass, one digit off fails.
        assert!(is_card("4111 1111 1111 1111") && is_card("5500-0000-0000-0004"));
        assert!(!is_card("4111 1111 1111 1112") && !is_card("12345"));
        let ssn = ["078-05-1120", "219-09-9999", "457-55-5462"];
        assert_eq!(kind_by_values(&ssn).map(|k| k.0), Some(PiiKind::NationalId));
        let nin = ["AB123456C", "AB 12 34 56 C", "JG103759A"];
        assert_eq!(kind_by_values(&nin).map(|k| k.0), Some(PiiKind::NationalId));
        let cards = [
            "4111 1111 1111 1111",
            "5500 0000 0000 0004",
            "340000000000009",
        ];
        assert_eq!(kind_by_values(&cards).map(|k| k.0), Some(PiiKind::Card));
        let ibans = ["GB82WEST12345698765432", "DE89370400440532013000"];
        assert_eq!(kind_by_values(&ibans).map(|k| k.0), Some(PiiKind::Iban));
        for (name, kind) in [
            ("soc_sec_id", PiiKind::NationalId),
            ("SSN", PiiKind::NationalId),
            ("national_insurance_no", PiiKind::NationalId),
            ("tax_id", PiiKind::NationalId),
            ("IBAN", PiiKind::Iban),
            ("credit_card_number", PiiKind::Card),
        ] {
            assert_eq!(kind_by_name(name), Some(kind), "{name}");
        }
        assert_eq!(
            mask(PiiKind::Card, "4111 1111 1111 1111"),
            "**** **** **** 1111"
        );
        assert_eq!(
            mask(PiiKind::Iban, "GB82 WEST 1234 5698 7654 32"),
            "GB** **** 5432"
        );
        assert_eq!(mask(PiiKind::NationalId, "078-05-1120"), "***");
    }

    #[test]
    fn a_flag_is_not_personal_data_whatever_its_name() {
        let df = df!(
            "PhoneService" => ["Yes", "No", "Yes"],
            "email_opt_in" => [true, false, true],
            "has_phone" => [1i64, 0, 1],
            "phone" => ["07700 900063", "07700 900346", "07700 900555"],
            "soc_sec_id" => [123456789i64, 987654321, 111223333]
        )
        .unwrap();
        let found: Vec<(String, PiiKind)> = detect(&df, &PrivacyConfig::default())
            .into_iter()
            .map(|p| (p.column, p.kind))
            .collect();
        assert_eq!(
            found,
            [
                ("phone".to_string(), PiiKind::Phone),
                ("soc_sec_id".to_string(), PiiKind::NationalId)
            ]
        );
    }

    #[test]
    fn one_hot_levels_of_personal_data_are_masked() {
        let pii = [PiiColumn {
            column: "name".into(),
            kind: PiiKind::Name,
            reason: "column name".into(),
        }];
        let names = [
            "income",
            "name=Alice Smith",
            "name=Anna Scott",
            "name=other",
            "name=(missing)",
            "city=Alice Smith",
            "names=Bob",
        ];
        assert_eq!(
            mask_feature_names(names, &pii),
            [
                "income",
                "name=A. S.",
                "name=A. S. #2",
                "name=other",
                "name=(missing)",
                "city=Alice Smith",
                "names=Bob"
            ]
        );
    }

    #[test]
    fn error_messages_keep_column_names_and_mask_personal_values() {
        let m = redact(
            "could not parse `lily.kelly53@example.net` as dtype `i64` at column 'phone' (column number 4)",
        );
        assert!(!m.contains("lily.kelly53"), "{m}");
        assert!(m.contains("'phone'") && m.contains("`i64`"), "{m}");
        // A value of a personal-data column is masked even when it does not look like one.
        let m = redact("could not parse `frank` as dtype `date` at column 'birth_date'");
        assert!(!m.contains("frank") && m.contains("`date`"), "{m}");
        // A phone number in a list of failed values, in a column with an innocent name.
        let m = redact(
            r#"conversion from `str` to `f64` failed in column 'amount' for 1 out of 3 values: ["+44 20 7946 0958"]"#,
        );
        assert!(!m.contains("7946"), "{m}");
        assert!(m.contains("'amount'"), "{m}");
        // Other values stay, so the user can find them.
        let m = redact("could not parse `12,5` as dtype `f64` at column 'amount'");
        assert!(m.contains("`12,5`"), "{m}");
    }

    #[test]
    fn masks_by_kind() {
        assert_eq!(
            mask(PiiKind::Email, "jane.doe@example.com"),
            "j***@e***.com"
        );
        assert_eq!(
            mask(PiiKind::Email, " Bob@Mail.Example.CO.UK "),
            "B***@M***.UK"
        );
        assert_eq!(mask(PiiKind::Phone, "+44 (0)7700 900846"), "***-***-0846");
        assert_eq!(mask(PiiKind::Phone, "12"), "***-***-12");
        assert_eq!(mask(PiiKind::Name, "jane  van Doe"), "J. V. D.");
        assert_eq!(mask(PiiKind::BirthDate, "1984-03-05"), "1984");
        assert_eq!(mask(PiiKind::BirthDate, "05/03/1984"), "1984");
        assert_eq!(mask(PiiKind::BirthDate, "n/a"), "****");
        assert_eq!(mask(PiiKind::Address, "12 High Street"), "***");
        assert_eq!(mask(PiiKind::FreeText, "called twice"), "[text, 12 chars]");
        assert_eq!(mask(PiiKind::Email, "  "), "");
    }

    #[test]
    fn kinds_by_column_name() {
        for (name, kind) in [
            ("email", Some(PiiKind::Email)),
            ("Contact_EMail", Some(PiiKind::Email)),
            ("phone", Some(PiiKind::Phone)),
            ("mobile_number", Some(PiiKind::Phone)),
            ("birth_date", Some(PiiKind::BirthDate)),
            ("DOB", Some(PiiKind::BirthDate)),
            ("street_address", Some(PiiKind::Address)),
            ("postcode", Some(PiiKind::Address)),
            ("notes", Some(PiiKind::FreeText)),
            ("name", Some(PiiKind::Name)),
            ("first_name", Some(PiiKind::Name)),
            ("surname", Some(PiiKind::Name)),
            ("customer_name", Some(PiiKind::Name)),
            ("product_name", None),
            ("city", None),
            ("customer_id", None),
            ("signup_date", None),
            ("channel", None),
        ] {
            assert_eq!(kind_by_name(name), kind, "{name}");
        }
    }

    #[test]
    fn kinds_by_values() {
        let emails = ["a@b.com", "x.y@mail.example.org", "c@d.net", "not an email"];
        // 3 of 4 is below 80%.
        assert_eq!(kind_by_values(&emails), None);
        let emails = [
            "a@b.com",
            "x.y@mail.example.org",
            "c@d.net",
            "e@f.io",
            "oops",
        ];
        assert_eq!(kind_by_values(&emails), Some((PiiKind::Email, 0.8)));
        let phones = [
            "+44 7700 900846",
            "07700 900001",
            "(020) 7946-0018",
            "+1.555.010.9999",
        ];
        assert_eq!(kind_by_values(&phones).map(|k| k.0), Some(PiiKind::Phone));
        // Order numbers and amounts are not phones.
        let codes = ["123456789", "234567890", "345678901", "1234.56"];
        assert_eq!(kind_by_values(&codes), None);
        let streets = ["12 High Street", "3a Mill Lane", "221B Baker St", "Flat 2"];
        assert_eq!(
            kind_by_values(&streets).map(|k| k.0),
            Some(PiiKind::Address)
        );
        let notes = ["Customer called about a late delivery and asked for a refund today"; 3];
        assert_eq!(kind_by_values(&notes).map(|k| k.0), Some(PiiKind::FreeText));
        let people: Vec<String> = ["Jane", "John", "Amir", "Li", "Olga", "Sam"]
            .iter()
            .flat_map(|f| {
                ["Doe", "Roe", "Khan", "Smith", "O'Neil"]
                    .iter()
                    .map(move |l| format!("{f} {l}"))
            })
            .collect();
        let people: Vec<&str> = people.iter().map(String::as_str).collect();
        assert_eq!(kind_by_values(&people).map(|k| k.0), Some(PiiKind::Name));
        // A few repeated capitalised values are categories (cities, products), not people.
        let cities = ["New York", "Los Angeles", "San Diego"].repeat(10);
        assert_eq!(kind_by_values(&cities), None);
    }

    #[test]
    fn detect_on_a_frame_with_config() {
        let df = df!(
            "customer_id" => ["C1", "C2"],
            "e" => ["a@b.com", "c@d.org"],
            "name" => ["Jane Doe", "John Roe"],
            "city" => ["Leeds", "York"],
            "remark" => ["x", "y"],
            "phone" => ["1", "2"],
        )
        .unwrap();
        let config = PrivacyConfig {
            pii: [("remark".to_string(), PiiKind::FreeText)].into(),
            not_pii: vec!["phone".into()],
            show_pii: false,
            pseudonymise: false,
        };
        let found = detect(&df, &config);
        let got: Vec<(&str, PiiKind, &str)> = found
            .iter()
            .map(|p| (p.column.as_str(), p.kind, p.reason.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("e", PiiKind::Email, "100% of sampled values"),
                ("name", PiiKind::Name, "column name"),
                ("remark", PiiKind::FreeText, "workspace"),
            ]
        );
    }

    #[test]
    fn config_from_toml_and_its_errors() {
        let c: PrivacyConfig =
            toml::from_str("pii = { city = \"address\" }\nnot_pii = [\"name\"]\nshow_pii = true")
                .unwrap();
        assert_eq!(c.pii["city"], PiiKind::Address);
        assert_eq!(c.not_pii, vec!["name".to_string()]);
        assert!(c.show_pii);
        let err = toml::from_str::<PrivacyConfig>("pii = { city = \"postal\" }").unwrap_err();
        assert!(err.to_string().contains("postal"), "{err}");
        let err = toml::from_str::<PrivacyConfig>("show_pi = true").unwrap_err();
        assert!(err.to_string().contains("show_pi"), "{err}");
    }

    #[test]
    fn pseudonyms_are_keyed_hmac_sha256() {
        // RFC 4231 test case 2: HMAC-SHA256(key "Jefe", "what do ya want for nothing?").
        let p = Pseudonymiser::new(b"Jefe");
        assert_eq!(
            p.pseudonym("what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c7"
        );
        let a = Pseudonymiser::new(b"0123456789abcdef");
        let b = Pseudonymiser::new(b"0123456789abcdeX");
        assert_eq!(a.pseudonym("C000001"), a.pseudonym("C000001"));
        assert_ne!(a.pseudonym("C000001"), a.pseudonym("C000002"));
        assert_ne!(a.pseudonym("C000001"), b.pseudonym("C000001"));
        assert_eq!(a.pseudonym("C000001").len(), 32);
        let mut df = df!("id" => [Some("C000001"), None], "x" => [1, 2]).unwrap();
        a.apply(&mut df, "id").unwrap();
        let ids: Vec<Option<&str>> = df.column("id").unwrap().str().unwrap().iter().collect();
        assert_eq!(ids, vec![Some(a.pseudonym("C000001").as_str()), None]);
        assert!(!format!("{a:?}").contains("0123"));
    }

    #[test]
    fn drop_pii_keeps_the_rest() {
        let df = df!("customer_id" => ["C1"], "email" => ["a@b.com"], "city" => ["York"]).unwrap();
        let (out, dropped) = drop_pii(&df, &PrivacyConfig::default());
        assert_eq!(dropped, vec!["email".to_string()]);
        let names: Vec<&str> = out.get_column_names().iter().map(|n| n.as_str()).collect();
        assert_eq!(names, vec!["customer_id", "city"]);
    }
}
