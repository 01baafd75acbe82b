//! Values made comparable before two records are compared: a person writes "José  O'Brien",
//! another "jose obrien"; "+44 (0)20 7946 0018" and "020 7946 0018" are one phone number.

use unicode_normalization::UnicodeNormalization;

/// Text for comparison: accents removed (NFKD, combining marks dropped), lower case,
/// apostrophes dropped (`O'Brien` is `obrien`), other punctuation as spaces, spaces collapsed.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.nfkd() {
        if unicode_normalization::char::is_combining_mark(c) || matches!(c, '\'' | '’' | '`') {
            continue;
        }
        if c.is_alphanumeric() {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.extend(c.to_lowercase());
        } else {
            space = true;
        }
    }
    out
}

/// A name's parts as standardised words, sorted: "Smith, John" and "john smith" agree
/// (given and surname swapped).
pub fn name_parts(s: &str) -> Vec<String> {
    let mut parts: Vec<String> = text(s)
        .split(' ')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    parts.sort();
    parts
}

/// A phone number's digits, the national number only: a leading `00` or `+` with a
/// country code of one to three digits is dropped when `country` says which it is, and a
/// trunk `0` before the national number too ("+44 (0)20 7946 0018" and "020 7946 0018"
/// are both `2079460018` for country `44`).
pub fn phone(s: &str, country: Option<&str>) -> String {
    let international = s.trim_start().starts_with('+') || s.trim_start().starts_with("00");
    let mut digits: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
    if international {
        if let Some(rest) = digits.strip_prefix("00") {
            digits = rest.to_string();
        }
        if let Some(cc) = country
            && let Some(rest) = digits.strip_prefix(cc)
        {
            digits = rest.to_string();
        }
    }
    // "(0)" after a country code, or a national trunk prefix.
    let trunk = s.contains("(0)") || !international;
    if trunk && let Some(rest) = digits.strip_prefix('0') {
        digits = rest.to_string();
    }
    digits
}

/// An e-mail address as (local part, domain), lower case and trimmed; a `+tag` in the local
/// part is dropped (`ann+shop@x.com` is `ann@x.com`). None when it has no `@`.
pub fn email(s: &str) -> Option<(String, String)> {
    let s = s.trim().to_lowercase();
    let (local, domain) = s.rsplit_once('@')?;
    let local = local.split('+').next().unwrap_or(local);
    if local.is_empty() || domain.is_empty() {
        return None;
    }
    Some((local.to_string(), domain.to_string()))
}

/// A postcode as text: upper case, without spaces or dashes ("sw1a 1aa" is `SW1A1AA`).
pub fn postcode(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(|c| c.to_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_drops_accents_case_and_punctuation() {
        assert_eq!(text("  José  O'Brien-Smith "), "jose obrien smith");
        assert_eq!(text("ÅNGSTRÖM, Zoë"), "angstrom zoe");
        assert_eq!(text("12 High St."), "12 high st");
        assert_eq!(text("..."), "");
    }

    #[test]
    fn swapped_name_parts_agree() {
        assert_eq!(name_parts("Smith, John"), name_parts("john  SMITH"));
        assert_ne!(name_parts("John Smith"), name_parts("Jon Smith"));
    }

    #[test]
    fn phones_are_national_digits() {
        let uk = Some("44");
        assert_eq!(phone("+44 (0)20 7946 0018", uk), "2079460018");
        assert_eq!(phone("020 7946 0018", uk), "2079460018");
        assert_eq!(phone("0044 20 7946 0018", uk), "2079460018");
        // Without the country, the international form keeps its code.
        assert_eq!(phone("+1 (555) 010-9999", None), "15550109999");
    }

    #[test]
    fn emails_split_and_lose_their_tags() {
        assert_eq!(
            email(" Ann.Lee+shop@Example.COM "),
            Some(("ann.lee".into(), "example.com".into()))
        );
        assert_eq!(email("no-at-sign"), None);
        assert_eq!(email("@x.com"), None);
    }

    #[test]
    fn postcodes_lose_spaces_and_case() {
        assert_eq!(postcode("sw1a 1aa"), "SW1A1AA");
        assert_eq!(postcode("12345-6789"), "123456789");
    }
}
