//! The Spark SQL of identity resolution on a cluster: every rule of the local engine
//! ([`crate::data::identity::records`], [`crate::data::identity::blocking`],
//! [`crate::data::identity::link::compare_field`]) written as an expression, so that the
//! cluster standardises, blocks and compares as this machine does. Text only: it can be read,
//! and tested without a server.
//!
//! Where Spark has no built-in the expression is built from others:
//! - accents: `translate` with the table Rust's NFKD gives for the Latin letters
//!   (U+00A0-U+024F, U+1E00-U+1EFF), `replace` for the few that become two letters, then
//!   `\p{M}` removed; other scripts keep their marks (the local engine drops them);
//! - Damerau-Levenshtein (unrestricted, as `strsim`): Spark's `levenshtein` decides most
//!   pairs (the distance is at most it and at least half of it); the pairs in between run
//!   the same dynamic programme as `strsim`, as nested `aggregate` over the characters;
//! - Jaro-Winkler is Spark's `jaro_winkler_similarity` (4.3+), which the local engine's
//!   [`crate::data::identity::compare::jaro_winkler`] computes the same way.

use unicode_normalization::UnicodeNormalization;

use crate::data::identity::blocking::{Key, Part, Scope};
use crate::data::identity::fields::{Columns, Field, Kind};
use crate::data::integrate::spark::{ident, spark_pattern, text_literal};

/// A double as a Spark literal that reads back to the same bits.
pub fn double(x: f64) -> String {
    if x.is_finite() {
        format!("CAST('{x:e}' AS DOUBLE)")
    } else {
        "CAST(NULL AS DOUBLE)".into()
    }
}

/// Whitespace trimmed at both ends (Spark's `trim` removes spaces only).
fn trim(e: &str) -> String {
    format!("regexp_replace({e}, {}, '')", text_literal(r"^\s+|\s+$"))
}

/// The accent table: (from, to) for one-letter results, (letter, letters) for longer ones,
/// and the letters that vanish.
fn accents() -> (String, String, Vec<(char, String)>) {
    let (mut from, mut to, mut multi) = (String::new(), String::new(), Vec::new());
    let mut gone = String::new();
    let ranges = [(0xA0u32, 0x24F), (0x1E00, 0x1EFF)];
    for c in ranges
        .iter()
        .flat_map(|&(a, b)| (a..=b).filter_map(char::from_u32))
    {
        let d: String = std::iter::once(c)
            .nfkd()
            .filter(|x| !unicode_normalization::char::is_combining_mark(*x))
            .collect();
        if d.chars().eq(std::iter::once(c)) {
            continue;
        }
        let mut it = d.chars();
        match (it.next(), it.next()) {
            (None, _) => gone.push(c),
            (Some(one), None) => {
                from.push(c);
                to.push(one);
            }
            _ => multi.push((c, d)),
        }
    }
    // `translate` deletes the letters of `from` beyond the length of `to`.
    from.push_str(&gone);
    (from, to, multi)
}

/// [`crate::data::identity::standardise::text`] in SQL: accents removed, apostrophes dropped,
/// lower case, other punctuation as one space, trimmed. `e` is a text expression (NULL is
/// empty).
pub fn std_text(e: &str) -> String {
    let (from, to, multi) = accents();
    let mut x = format!(
        "regexp_replace(coalesce({e}, ''), {}, '')",
        text_literal("['\u{2019}`]")
    );
    x = format!(
        "translate({x}, {}, {})",
        text_literal(&from),
        text_literal(&to)
    );
    for (c, d) in multi {
        x = format!(
            "replace({x}, {}, {})",
            text_literal(&c.to_string()),
            text_literal(&d)
        );
    }
    x = format!("lower(regexp_replace({x}, {}, ''))", text_literal(r"\p{M}"));
    trim(&format!(
        "regexp_replace({x}, {}, ' ')",
        text_literal(r"[^\p{L}\p{N}]+")
    ))
}

/// A column as text (NULL when missing), as the local engine reads it.
fn col_text(c: &str) -> String {
    format!("CAST({} AS STRING)", ident(c))
}

/// [`crate::data::identity::records::standardise_text`] in SQL for one column.
pub fn std_value(kind: Kind, c: &str) -> String {
    let v = format!("coalesce({}, '')", col_text(c));
    match kind {
        Kind::Email => {
            let s = format!("lower({})", trim(&v));
            let re = text_literal(r"(?s)^(.*)@([^@]*)$");
            let local = format!("split(regexp_extract({s}, {re}, 1), '\\\\+')[0]");
            let domain = format!("regexp_extract({s}, {re}, 2)");
            format!(
                "CASE WHEN {local} = '' OR {domain} = '' THEN '' ELSE concat({local}, '@', {domain}) END"
            )
        }
        Kind::Phone => {
            let intl = format!("({v} RLIKE {})", text_literal(r"^\s*(\+|00)"));
            let digits = format!("regexp_replace({v}, '[^0-9]', '')");
            let d1 = format!(
                "CASE WHEN {intl} AND startswith({digits}, '00') THEN substring({digits}, 3) ELSE {digits} END"
            );
            let trunk = format!("(instr({v}, '(0)') > 0 OR NOT {intl})");
            let d2 = format!(
                "CASE WHEN {trunk} AND startswith({d1}, '0') THEN substring({d1}, 2) ELSE {d1} END"
            );
            format!(
                "CASE WHEN length({d2}) < 6 THEN '' ELSE substring({d2}, greatest(length({d2}) - 9, 1)) END"
            )
        }
        Kind::Postcode | Kind::NationalId => format!(
            "upper(regexp_replace({v}, {}, ''))",
            text_literal(r"[^\p{L}\p{N}]")
        ),
        Kind::HouseNumber => format!(
            "replace(translate({}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), ' ', '')",
            trim(&v)
        ),
        Kind::Number => trim(&v),
        _ => std_text(&v),
    }
}

/// A chrono format as a Spark pattern for reading: a day or month number between separators
/// may have one digit, as chrono reads it (`2/1/1980` for `%d/%m/%Y`).
pub fn reading_pattern(chrono: &str) -> Result<String, String> {
    let p = spark_pattern(chrono)?;
    let compact = chrono.contains("%Y%") || chrono.contains("d%") || chrono.contains("m%");
    if compact {
        return Ok(p);
    }
    // `dd` -> `d`, `MM` (not `MMM`) -> `M`, outside quoted literals.
    let mut out = String::new();
    let mut quoted = false;
    let chars: Vec<char> = p.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            quoted = !quoted;
        }
        if !quoted && (c == 'd' || c == 'M') {
            let mut n = 1;
            while i + n < chars.len() && chars[i + n] == c {
                n += 1;
            }
            if n == 2 {
                out.push(c);
            } else {
                out.extend(std::iter::repeat_n(c, n));
            }
            i += n;
            continue;
        }
        out.push(c);
        i += 1;
    }
    Ok(out)
}

/// A date column in SQL: as it is, or text read in `formats` (the first that reads it).
pub fn date_value(c: &str, is_date: bool, formats: &[String]) -> Result<String, String> {
    if is_date {
        return Ok(format!("CAST({} AS DATE)", ident(c)));
    }
    let v = trim(&format!("coalesce({}, '')", col_text(c)));
    let mut tries = Vec::new();
    for f in formats {
        let p = reading_pattern(f).map_err(|why| format!("date format `{f}` of `{c}`: {why}"))?;
        tries.push(format!(
            "CAST(try_to_timestamp({v}, {}) AS DATE)",
            text_literal(&p)
        ));
    }
    Ok(match tries.len() {
        0 => "CAST(NULL AS DATE)".into(),
        1 => tries.remove(0),
        _ => format!("coalesce({})", tries.join(", ")),
    })
}

/// The column names of field `f` in the records view: a name's given and family name, else
/// its one value.
pub fn given(f: usize) -> String {
    format!("__f{f}_g")
}
pub fn family(f: usize) -> String {
    format!("__f{f}_l")
}
pub fn value(f: usize) -> String {
    format!("__f{f}")
}

/// How a date field is read in one source: whether its column is a date already, and the
/// forms of its text (None: not a date field).
pub type DateReading = Option<(bool, Vec<String>)>;

/// The select list of one source's standardised fields (`dates[f]`: how field f's dates are
/// read in this source).
pub fn field_columns(
    fields: &[Field],
    source: usize,
    dates: &[DateReading],
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (f, field) in fields.iter().enumerate() {
        let cols = &field.columns[source];
        match (field.kind, cols) {
            (Kind::Name, Columns::NameParts { first, last }) => {
                let part = |c: &Option<String>| match c {
                    Some(c) => std_text(&col_text(c)),
                    None => "''".to_string(),
                };
                out.push(format!("{} AS {}", part(first), given(f)));
                out.push(format!("{} AS {}", part(last), family(f)));
            }
            (Kind::Name, Columns::One(c)) => {
                let v = format!("coalesce({}, '')", col_text(c));
                let comma = format!("instr({v}, ',')");
                let after = std_text(&format!("substring({v}, {comma} + 1)"));
                let before = std_text(&format!("substring_index({v}, ',', 1)"));
                let t = std_text(&v);
                out.push(format!(
                    "CASE WHEN {comma} > 0 THEN split({after}, ' ')[0] ELSE split({t}, ' ')[0] END AS {}",
                    given(f)
                ));
                out.push(format!(
                    "CASE WHEN {comma} > 0 THEN {before} WHEN size(split({t}, ' ')) > 1 THEN element_at(split({t}, ' '), -1) ELSE '' END AS {}",
                    family(f)
                ));
            }
            (Kind::BirthDate, Columns::One(c)) => {
                let (is_date, formats) = dates
                    .get(f)
                    .cloned()
                    .flatten()
                    .unwrap_or((false, Vec::new()));
                out.push(format!(
                    "{} AS {}",
                    date_value(c, is_date, &formats)?,
                    value(f)
                ));
            }
            (kind, Columns::One(c)) => out.push(format!("{} AS {}", std_value(kind, c), value(f))),
            (kind, Columns::NameParts { .. }) => {
                return Err(format!(
                    "a {} field cannot be read from name columns",
                    kind.name()
                ));
            }
        }
    }
    Ok(out)
}

/// Field `f`'s value as one text, NULL when missing (as [`crate::data::identity::records::Records::text`]):
/// for term frequencies and blocking keys. `p` is the table alias with a dot, or empty.
pub fn text_of(field: &Field, f: usize, p: &str) -> String {
    match field.kind {
        Kind::Name => {
            let (g, l) = (format!("{p}{}", given(f)), format!("{p}{}", family(f)));
            format!(
                "CASE WHEN {g} = '' AND {l} = '' THEN NULL WHEN {g} = '' THEN {l} WHEN {l} = '' THEN {g} ELSE concat({g}, ' ', {l}) END"
            )
        }
        Kind::BirthDate => format!("CAST({p}{} AS STRING)", value(f)),
        _ => format!("nullif({p}{}, '')", value(f)),
    }
}

/// The sound-code column of a name part (joined from the codes sent to the cluster).
pub fn sound(f: usize, family_name: bool) -> String {
    format!("__f{f}_{}s", if family_name { "l" } else { "g" })
}

/// A blocking key as one text per record (NULL when a part is missing), as
/// [`crate::data::identity::blocking`] hashes it.
pub fn key_expr(fields: &[Field], key: &Key) -> String {
    let parts: Vec<String> = key
        .parts
        .iter()
        .map(|p| match *p {
            Part::Value(f) => match fields[f].kind {
                Kind::Name => format!(
                    "CASE WHEN {g} = '' OR {l} = '' THEN NULL ELSE concat({g}, ' ', {l}) END",
                    g = given(f),
                    l = family(f)
                ),
                _ => text_of(&fields[f], f, ""),
            },
            Part::SurnameSound(f) => sound(f, true),
            Part::GivenSound(f) => sound(f, false),
            Part::GivenInitial(f) => format!("nullif(substring({}, 1, 1), '')", given(f)),
            Part::Year(f) => format!("CAST(year({}) AS STRING)", value(f)),
            Part::EmailLocal(f) => format!("nullif(substring_index({}, '@', 1), '')", value(f)),
            Part::FamilyName(f) => format!("nullif({}, '')", family(f)),
            Part::GivenName(f) => format!("nullif({}, '')", given(f)),
        })
        .collect();
    // concat_ws skips NULLs: a missing part must make the key NULL.
    let any_null = parts
        .iter()
        .map(|p| format!("({p}) IS NULL"))
        .collect::<Vec<_>>()
        .join(" OR ");
    format!(
        "CASE WHEN {any_null} THEN NULL ELSE concat_ws('\\u0001', {}) END",
        parts.join(", ")
    )
}

/// The unrestricted Damerau-Levenshtein distance of two non-empty texts, as `strsim`
/// computes it (Lowrance-Wagner with the last row of each character).
pub fn damerau_levenshtein(a: &str, b: &str) -> String {
    let (la, lb) = (format!("length({a})"), format!("length({b})"));
    let mx = format!("({la} + {lb})");
    let ca = format!("substring({a}, __i, 1)");
    let cb = format!("substring({b}, __j, 1)");
    let inner = format!(
        "aggregate(sequence(1, {lb}), named_struct('row', array({mx}, __i), 'db', 0), \
         (__rs, __j) -> named_struct(\
           'row', concat(__rs.row, array(least(\
              __st.h[__i][__j] + CASE WHEN {ca} = {cb} THEN 0 ELSE 1 END, \
              __st.h[__i][__j + 1] + 1, \
              __rs.row[__j] + 1, \
              __st.h[coalesce(__st.da[{cb}], 0)][__rs.db] + (__i - coalesce(__st.da[{cb}], 0) - 1) + 1 + (__j - __rs.db - 1)))), \
           'db', CASE WHEN {ca} = {cb} THEN __j ELSE __rs.db END), \
         __rs -> __rs.row)"
    );
    format!(
        "aggregate(sequence(1, {la}), \
         named_struct('h', array(array_repeat({mx}, {lb} + 2), concat(array({mx}), sequence(0, {lb}))), 'da', CAST(map() AS MAP<STRING, INT>)), \
         (__st, __i) -> named_struct('h', concat(__st.h, array({inner})), \
           'da', map_concat(map_filter(__st.da, (__k, __v) -> __k != {ca}), map({ca}, __i))), \
         __st -> __st.h[{la} + 1][{lb} + 1])"
    )
}

/// Whether two non-empty, different texts are at most `k` edits apart (Damerau-Levenshtein).
fn within_edits(a: &str, b: &str, k: usize) -> String {
    format!(
        "(levenshtein({a}, {b}) <= {k} OR (levenshtein({a}, {b}) <= {} AND {} <= {k}))",
        2 * k,
        damerau_levenshtein(a, b)
    )
}

fn jw(a: &str, b: &str) -> String {
    format!("jaro_winkler_similarity({a}, {b})")
}

/// Field `f`'s comparison level of a pair (`l.` and `r.` columns), NULL when either side is
/// missing: [`crate::data::identity::link::compare_field`] in SQL.
pub fn level(field: &Field, f: usize) -> String {
    if field.kind == Kind::Name {
        let (f1, l1, f2, l2) = (
            format!("l.{}", given(f)),
            format!("l.{}", family(f)),
            format!("r.{}", given(f)),
            format!("r.{}", family(f)),
        );
        return format!(
            "CASE WHEN ({f1} = '' AND {l1} = '') OR ({f2} = '' AND {l2} = '') THEN NULL \
             WHEN {f1} = '' OR {l1} = '' OR {f2} = '' OR {l2} = '' THEN \
               CASE WHEN trim(concat({f1}, ' ', {l1})) = trim(concat({f2}, ' ', {l2})) THEN 0 \
                    WHEN {} >= 0.92D THEN 2 ELSE 6 END \
             WHEN {f1} = {f2} AND {l1} = {l2} THEN 0 \
             WHEN {f1} = {l2} AND {l1} = {f2} THEN 1 \
             WHEN {} >= 0.92D AND {} >= 0.92D THEN 2 \
             WHEN {} >= 0.8D AND {} >= 0.8D THEN 3 \
             WHEN {l1} = {l2} THEN 4 WHEN {f1} = {f2} THEN 5 ELSE 6 END",
            jw(
                &format!("CASE WHEN {f1} = '' THEN {l1} ELSE {f1} END"),
                &format!("CASE WHEN {f2} = '' THEN {l2} ELSE {f2} END")
            ),
            jw(&f1, &f2),
            jw(&l1, &l2),
            jw(&f1, &f2),
            jw(&l1, &l2),
        );
    }
    let (a, b) = (format!("l.{}", value(f)), format!("r.{}", value(f)));
    if field.kind == Kind::BirthDate {
        let (ya, ma, da) = (
            format!("year({a})"),
            format!("month({a})"),
            format!("day({a})"),
        );
        let (yb, mb, db) = (
            format!("year({b})"),
            format!("month({b})"),
            format!("day({b})"),
        );
        return format!(
            "CASE WHEN {a} IS NULL OR {b} IS NULL THEN NULL \
             WHEN {a} = {b} THEN 0 \
             WHEN {ya} = {yb} AND {ma} = {db} AND {da} = {mb} THEN 1 \
             WHEN ({ya} = {yb} AND {ma} = {mb}) OR ({ya} = {yb} AND {da} = {db}) OR ({ma} = {mb} AND {da} = {db}) THEN 2 \
             WHEN {ya} = {yb} THEN 3 ELSE 4 END"
        );
    }
    let rest = match field.kind {
        Kind::Email => format!(
            "CASE WHEN substring_index({a}, '@', 1) = substring_index({b}, '@', 1) THEN 1 \
             WHEN regexp_replace({a}, '[^0-9]', '') = regexp_replace({b}, '[^0-9]', '') AND {} THEN 2 \
             ELSE 3 END",
            within_edits(&a, &b, 2)
        ),
        Kind::Phone => format!("CASE WHEN {} THEN 1 ELSE 2 END", within_edits(&a, &b, 1)),
        Kind::Postcode | Kind::NationalId => format!(
            "CASE WHEN {} THEN 1 WHEN {} THEN 2 ELSE 3 END",
            within_edits(&a, &b, 1),
            within_edits(&a, &b, 2)
        ),
        Kind::HouseNumber => "1".to_string(),
        Kind::Town | Kind::State => {
            format!("CASE WHEN {} >= 0.88D THEN 1 ELSE 2 END", jw(&a, &b))
        }
        Kind::Number => {
            let (x, y) = (
                format!("try_cast({a} AS DOUBLE)"),
                format!("try_cast({b} AS DOUBLE)"),
            );
            let rel = format!("abs({x} - {y}) / greatest(abs({x}), abs({y}))");
            format!(
                "CASE WHEN {x} IS NULL OR {y} IS NULL THEN 3 WHEN {x} = {y} THEN 0 \
                 WHEN {rel} <= 0.01D THEN 1 WHEN {rel} <= 0.1D THEN 2 ELSE 3 END"
            )
        }
        _ => format!(
            "CASE WHEN {} >= 0.92D THEN 1 WHEN {} >= 0.8D THEN 2 ELSE 3 END",
            jw(&a, &b),
            jw(&a, &b)
        ),
    };
    format!("CASE WHEN {a} = '' OR {b} = '' THEN NULL WHEN {a} = {b} THEN 0 ELSE {rest} END")
}

/// A pair's condition of being in scope and in order: the earlier source on the left, and
/// within a source the smaller id (a record is never paired with itself).
pub fn pair_condition(scope: Scope) -> String {
    let order = "(l.__src < r.__src OR (l.__src = r.__src AND l.__id < r.__id))";
    let scope = match (scope.across, scope.within) {
        (true, true) => "TRUE",
        (true, false) => "l.__src <> r.__src",
        (false, true) => "l.__src = r.__src",
        (false, false) => "FALSE",
    };
    format!("{order} AND {scope}")
}

/// [`crate::data::identity::link`]'s agree_share of a value in SQL: `c{s}` are the value's
/// per-source counts (columns), `present` the records holding a value per source; the sums
/// in the same order as the local engine.
pub fn agree_share(sources: usize, present: &[u64], scope: Scope, prefix: &str) -> String {
    let mut agree = "0.0D".to_string();
    let mut all = 0.0f64;
    for s in 0..sources {
        for t in s..sources {
            let wanted = if s == t { scope.within } else { scope.across };
            if !wanted {
                continue;
            }
            if s == t {
                let p = present[s] as f64;
                agree = format!(
                    "({agree} + (CAST({prefix}c{s} AS DOUBLE) * (CAST({prefix}c{s} AS DOUBLE) - 1.0D)) / 2.0D)"
                );
                all += p * (p - 1.0) / 2.0;
            } else {
                agree = format!(
                    "({agree} + CAST({prefix}c{s} AS DOUBLE) * CAST({prefix}c{t} AS DOUBLE))"
                );
                all += present[s] as f64 * present[t] as f64;
            }
        }
    }
    if all > 0.0 {
        format!("({agree} / {})", double(all))
    } else {
        "0.0D".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_patterns_accept_one_digit_days_and_months() {
        assert_eq!(reading_pattern("%d/%m/%Y").unwrap(), "d/M/yyyy");
        assert_eq!(reading_pattern("%d %b %Y").unwrap(), "d MMM yyyy");
        assert_eq!(reading_pattern("%Y%m%d").unwrap(), "yyyyMMdd");
        assert_eq!(reading_pattern("%Y-%m-%d").unwrap(), "yyyy-M-d");
    }

    #[test]
    fn the_accent_table_follows_nfkd() {
        let (from, to, multi) = accents();
        let at = |c: char| from.chars().position(|x| x == c).map(|i| to.chars().nth(i));
        assert_eq!(at('é'), Some(Some('e')));
        assert_eq!(at('Å'), Some(Some('A')));
        assert_eq!(at('ř'), Some(Some('r')));
        assert!(multi.iter().any(|(c, d)| *c == 'Ĳ' && d == "IJ"));
        // Letters NFKD keeps (ß, ø) are not in the table.
        assert_eq!(at('ß'), None);
        assert_eq!(at('ø'), None);
    }

    #[test]
    fn doubles_keep_their_bits() {
        for x in [0.1, -3.25, 1e-300, 123456.789, f64::MIN_POSITIVE] {
            let s = double(x);
            let inner = s
                .trim_start_matches("CAST('")
                .trim_end_matches("' AS DOUBLE)");
            assert_eq!(inner.parse::<f64>().unwrap(), x, "{s}");
        }
    }
}
