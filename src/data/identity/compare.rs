//! Comparison levels: how far two values of one field agree, from exact to not at all, as
//! Fellegi-Sunter models take them (each level gets its own m and u probability). A missing
//! value on either side is its own outcome ([`Outcome::Null`]), which weighs nothing.

use chrono::{Datelike, NaiveDate};

/// The outcome of comparing one field of a pair: a level (0 is the closest agreement, the
/// last is "disagrees"), or null when either side has no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Null,
    Level(u8),
}

/// How one field is compared.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparison {
    /// Exact; then Jaro-Winkler similarity at least each threshold (highest first); else
    /// disagrees. For names and towns.
    JaroWinkler(Vec<f64>),
    /// Exact; then at most each number of edits (unrestricted Damerau-Levenshtein: a swap of
    /// two neighbours is one edit; lowest first); else disagrees. For e-mails, phones and
    /// postcodes, where a typo is one or two edits.
    Edits(Vec<usize>),
    /// Dates of birth: exact; day and month transposed; one of day, month or year off (the
    /// others equal); same year only; else disagrees.
    Date,
    /// Numbers: exact; within each relative tolerance (lowest first); else disagrees.
    Number(Vec<f64>),
}

impl Comparison {
    /// The names of its levels, closest first, "else" last.
    pub fn level_names(&self) -> Vec<String> {
        let mut names = vec!["exact".to_string()];
        match self {
            Comparison::JaroWinkler(t) => {
                names.extend(t.iter().map(|x| format!("jaro-winkler >= {x}")))
            }
            Comparison::Edits(d) => names.extend(d.iter().map(|x| format!("<= {x} edits"))),
            Comparison::Date => names
                .extend(["day and month swapped", "one part off", "same year"].map(String::from)),
            Comparison::Number(t) => names.extend(t.iter().map(|x| format!("within {x}"))),
        }
        names.push("else".into());
        names
    }

    /// The number of levels (nulls aside), without building their names: called for every
    /// pair compared.
    pub fn levels(&self) -> usize {
        2 + match self {
            Comparison::JaroWinkler(t) | Comparison::Number(t) => t.len(),
            Comparison::Edits(d) => d.len(),
            Comparison::Date => 3,
        }
    }

    /// Compares two texts (already standardised); empty is missing.
    pub fn text(&self, a: &str, b: &str) -> Outcome {
        if a.is_empty() || b.is_empty() {
            return Outcome::Null;
        }
        if a == b {
            return Outcome::Level(0);
        }
        let last = (self.levels() - 1) as u8;
        let level = match self {
            Comparison::JaroWinkler(t) => {
                let s = jaro_winkler(a, b);
                t.iter().position(|x| s >= *x)
            }
            Comparison::Edits(d) => {
                let e = strsim::damerau_levenshtein(a, b);
                d.iter().position(|x| e <= *x)
            }
            Comparison::Number(_) => match (a.parse::<f64>(), b.parse::<f64>()) {
                (Ok(x), Ok(y)) => return self.number(Some(x), Some(y)),
                _ => None,
            },
            Comparison::Date => None,
        };
        Outcome::Level(level.map_or(last, |i| i as u8 + 1))
    }

    /// Compares two dates ([`Comparison::Date`]).
    pub fn date(a: Option<NaiveDate>, b: Option<NaiveDate>) -> Outcome {
        let (Some(a), Some(b)) = (a, b) else {
            return Outcome::Null;
        };
        let same = (
            a.year() == b.year(),
            a.month() == b.month(),
            a.day() == b.day(),
        );
        Outcome::Level(match same {
            (true, true, true) => 0,
            _ if a.year() == b.year() && a.month() == b.day() && a.day() == b.month() => 1,
            (true, true, false) | (true, false, true) | (false, true, true) => 2,
            (true, _, _) => 3,
            _ => 4,
        })
    }

    /// Compares two numbers ([`Comparison::Number`]): relative difference to the larger.
    pub fn number(&self, a: Option<f64>, b: Option<f64>) -> Outcome {
        let (Some(a), Some(b)) = (a, b) else {
            return Outcome::Null;
        };
        if a == b {
            return Outcome::Level(0);
        }
        let Comparison::Number(t) = self else {
            return Outcome::Level((self.levels() - 1) as u8);
        };
        let rel = (a - b).abs() / a.abs().max(b.abs());
        let at = t.iter().position(|x| rel <= *x);
        Outcome::Level(at.map_or(t.len() as u8 + 1, |i| i as u8 + 1))
    }
}

/// Jaro-Winkler similarity, as Spark SQL's `jaro_winkler_similarity` (4.3) computes it, so
/// that the local and the Spark engine compare alike: characters match within
/// max(len)/2 - 1 positions; t is half the matched characters out of order, not rounded
/// down (Jaro's definition; `strsim` and Apache Commons round it down);
/// jaro = (m/|a| + m/|b| + (m - t)/m) / 3; plus 0.1 of the remaining distance per common
/// leading character (up to 4), whatever the Jaro value (no boost threshold). Characters are
/// Unicode scalar values.
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    if a.is_ascii() && b.is_ascii() {
        jaro_winkler_of(a.as_bytes(), b.as_bytes())
    } else {
        let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        jaro_winkler_of(&a, &b)
    }
}

fn jaro_winkler_of<T: PartialEq + Copy>(a: &[T], b: &[T]) -> f64 {
    let (la, lb) = (a.len(), b.len());
    if la == 0 && lb == 0 {
        return 1.0;
    }
    if la == 0 || lb == 0 {
        return 0.0;
    }
    let window = (la.max(lb) / 2).saturating_sub(1);
    let mut a_hit = vec![false; la];
    let mut b_hit = vec![false; lb];
    let mut m = 0usize;
    for (i, x) in a.iter().enumerate() {
        let lo = i.saturating_sub(window);
        let hi = (i + window + 1).min(lb);
        for j in lo..hi {
            if !b_hit[j] && b[j] == *x {
                a_hit[i] = true;
                b_hit[j] = true;
                m += 1;
                break;
            }
        }
    }
    if m == 0 {
        return 0.0;
    }
    let out_of_order = a
        .iter()
        .zip(&a_hit)
        .filter(|(_, h)| **h)
        .map(|(x, _)| x)
        .zip(b.iter().zip(&b_hit).filter(|(_, h)| **h).map(|(y, _)| y))
        .filter(|(x, y)| x != y)
        .count();
    let t = out_of_order as f64 / 2.0;
    let m = m as f64;
    let jaro = (m / la as f64 + m / lb as f64 + (m - t) / m) / 3.0;
    let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count();
    jaro + 0.1 * prefix as f64 * (1.0 - jaro)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Winkler's published examples (Winkler 1990; the values every implementation quotes).
    #[test]
    fn jaro_winkler_matches_the_published_values() {
        let jw = |a, b| (jaro_winkler(a, b) * 1000.0).round() / 1000.0;
        assert_eq!(jw("MARTHA", "MARHTA"), 0.961);
        assert_eq!(jw("DWAYNE", "DUANE"), 0.84);
        assert_eq!(jw("DIXON", "DICKSONX"), 0.813);
        // Jaro by hand for MARTHA/MARHTA: m = 6, two characters out of order, t = 1:
        // (6/6 + 6/6 + 5/6) / 3 = 17/18; prefix 3: 17/18 + 0.3 * (1/18) = 0.96111.
        assert!((jaro_winkler("MARTHA", "MARHTA") - (17.0 / 18.0 + 0.3 / 18.0)).abs() < 1e-12);
    }

    /// Where the definitions part: an odd number of characters out of order (t is 1.5, not
    /// 1), and a low Jaro value still boosted by a common prefix. Values by hand, and as
    /// Spark 4.3's `jaro_winkler_similarity` returns them (0.90833..., 0.6).
    #[test]
    fn jaro_winkler_keeps_half_transpositions_and_always_boosts() {
        // carter/carrter: m = 6; matched in order c a r t e r vs c a r r t e: 3 out of
        // order, t = 1.5: (1 + 6/7 + 4.5/6) / 3 = 0.869048; prefix 3: + 0.3 * 0.130952.
        let j = (1.0 + 6.0 / 7.0 + 4.5 / 6.0) / 3.0;
        assert!((jaro_winkler("carter", "carrter") - (j + 0.3 * (1.0 - j))).abs() < 1e-12);
        assert!((jaro_winkler("carter", "carrter") - 0.908_333_333_333_333_3).abs() < 1e-12);
        // A window of 0 (three letters): only ß matches in place: (1/3 + 1/3 + 1) / 3 =
        // 0.5556, boosted by its one common letter to 0.6.
        assert!((jaro_winkler("ßab", "ßba") - 0.6).abs() < 1e-12);
        assert_eq!(jaro_winkler("", ""), 1.0);
        assert_eq!(jaro_winkler("a", ""), 0.0);
    }

    #[test]
    fn damerau_levenshtein_counts_a_swap_as_one_edit() {
        assert_eq!(strsim::damerau_levenshtein("smith", "smiht"), 1);
        // Unrestricted: "ca" -> "ac" -> "abc" is 2 (the restricted distance is 3).
        assert_eq!(strsim::damerau_levenshtein("ca", "abc"), 2);
        assert_eq!(strsim::osa_distance("ca", "abc"), 3);
    }

    #[test]
    fn text_levels_from_exact_to_else() {
        let c = Comparison::JaroWinkler(vec![0.92, 0.8]);
        assert_eq!(c.level_names().len(), 4);
        assert_eq!(c.text("martha", "martha"), Outcome::Level(0));
        assert_eq!(c.text("martha", "marhta"), Outcome::Level(1)); // 0.961
        assert_eq!(c.text("dwayne", "duane"), Outcome::Level(2)); // 0.84
        assert_eq!(c.text("ann", "zoe"), Outcome::Level(3));
        assert_eq!(c.text("", "zoe"), Outcome::Null);
        let e = Comparison::Edits(vec![1, 2]);
        assert_eq!(e.text("ann@x.com", "anne@x.com"), Outcome::Level(1));
        assert_eq!(e.text("ann@x.com", "an@y.com"), Outcome::Level(2));
        assert_eq!(e.text("ann@x.com", "bob@y.org"), Outcome::Level(3));
    }

    #[test]
    fn date_levels() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
        assert_eq!(
            Comparison::date(d(1980, 3, 7), d(1980, 3, 7)),
            Outcome::Level(0)
        );
        assert_eq!(
            Comparison::date(d(1980, 3, 7), d(1980, 7, 3)),
            Outcome::Level(1)
        );
        assert_eq!(
            Comparison::date(d(1980, 3, 7), d(1981, 3, 7)),
            Outcome::Level(2)
        );
        assert_eq!(
            Comparison::date(d(1980, 3, 7), d(1980, 3, 9)),
            Outcome::Level(2)
        );
        assert_eq!(
            Comparison::date(d(1980, 3, 7), d(1980, 11, 20)),
            Outcome::Level(3)
        );
        assert_eq!(
            Comparison::date(d(1980, 3, 7), d(1990, 4, 1)),
            Outcome::Level(4)
        );
        assert_eq!(Comparison::date(None, d(1990, 4, 1)), Outcome::Null);
        assert_eq!(Comparison::Date.levels(), 5);
        // The count agrees with the names for every kind.
        for c in [
            Comparison::JaroWinkler(vec![0.9, 0.7]),
            Comparison::Edits(vec![1]),
            Comparison::Date,
            Comparison::Number(vec![0.01, 0.1, 0.2]),
        ] {
            assert_eq!(c.levels(), c.level_names().len());
        }
    }

    #[test]
    fn number_levels_by_relative_difference() {
        let c = Comparison::Number(vec![0.01, 0.1]);
        assert_eq!(c.number(Some(100.0), Some(100.0)), Outcome::Level(0));
        assert_eq!(c.number(Some(100.0), Some(99.5)), Outcome::Level(1));
        assert_eq!(c.number(Some(100.0), Some(95.0)), Outcome::Level(2));
        assert_eq!(c.number(Some(100.0), Some(50.0)), Outcome::Level(3));
        assert_eq!(c.number(None, Some(50.0)), Outcome::Null);
        assert_eq!(c.text("100", "99.5"), Outcome::Level(1));
    }
}
