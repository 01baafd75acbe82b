//! Values as people type them. Named choices: the enums a parameter picks from (an algorithm, a sort, a unit), each
//! spelled one way everywhere. [`choice!`](crate::choice) gives an enum its names once, and
//! from them `ALL`, `name`, `parse` (case-insensitive), serde (the workspace file and JSON)
//! and clap's `ValueEnum` (the command line), so no front end parses a choice by hand and a
//! wrong value reads the same in a workspace and on the command line.

/// A choice's names joined for a message: `kmeans, dbscan, gmm`.
pub fn names(names: &[&str]) -> String {
    names.join(", ")
}

/// The message for a value that names no choice: `unknown value "x" (use a, b, c)`.
pub fn unknown(value: &str, names: &[&str]) -> String {
    format!("unknown value \"{value}\" (use {})", self::names(names))
}

/// A whole-number value as typed on the command line. A negative or fractional number is
/// read as a number (not as a flag, and not as "invalid digit found in string") so the
/// message says what is wrong with it; `1e9` is a billion. The parameter's own range is
/// checked after parsing.
pub fn whole<T: TryFrom<u64>>(s: &str) -> Result<T, String> {
    let t = s.trim();
    let v: u64 = match t.parse::<u64>() {
        Ok(v) => v,
        Err(_) => match t.parse::<f64>() {
            Ok(f) if f.is_nan() || f.is_infinite() => {
                return Err("not a number; use a whole number such as 10".into());
            }
            Ok(f) if f < 0.0 => {
                return Err("a negative number; use a whole number, 0 or more".into());
            }
            Ok(f) if f.fract() != 0.0 => return Err("not a whole number".into()),
            Ok(f) if f <= u64::MAX as f64 => f as u64,
            Ok(_) => return Err("too large".into()),
            Err(_) => return Err("not a whole number".into()),
        },
    };
    T::try_from(v).map_err(|_| "too large".to_string())
}

/// Gives an enum of unit variants its names:
///
/// ```ignore
/// crate::choice!(Algorithm { KMeans => "kmeans", Dbscan => "dbscan", Gmm => "gmm" });
/// crate::choice!(TimeUnit { Days => "days" | "day", Weeks => "weeks" | "week" });
/// ```
///
/// defines `Algorithm::ALL` (in this order), `name`, `parse` (trimmed, any case, aliases after
/// `|` accepted on input only) and
/// implements `Display`, `serde::Serialize`, `serde::Deserialize` and `clap::ValueEnum` by
/// those names.
#[macro_export]
macro_rules! choice {
    ($t:ident { $($v:ident => $n:literal $(| $a:literal)*),+ $(,)? }) => {
        impl $t {
            /// Every choice, in the order menus and messages list them.
            pub const ALL: [$t; [$($n),+].len()] = [$($t::$v),+];
            /// Every choice's name, in order.
            pub const NAMES: [&'static str; [$($n),+].len()] = [$($n),+];

            /// The name a workspace file, the command line and JSON use.
            pub fn name(self) -> &'static str {
                match self {
                    $($t::$v => $n),+
                }
            }

            /// Other names accepted on input (`day` for `days`).
            pub fn aliases(self) -> &'static [&'static str] {
                match self {
                    $($t::$v => &[$($a),*]),+
                }
            }

            /// The choice named `s` (surrounding blanks and case ignored), by its name or an
            /// alias.
            pub fn parse(s: &str) -> Option<$t> {
                let s = s.trim();
                Self::ALL.into_iter().find(|c| {
                    c.name().eq_ignore_ascii_case(s)
                        || c.aliases().iter().any(|a| a.eq_ignore_ascii_case(s))
                })
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                $t::parse(&s).ok_or_else(|| {
                    <D::Error as serde::de::Error>::custom($crate::choice::unknown(&s, &$t::NAMES))
                })
            }
        }

        impl clap::ValueEnum for $t {
            fn value_variants<'a>() -> &'a [Self] {
                &$t::ALL
            }

            fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
                Some(clap::builder::PossibleValue::new(self.name()).aliases(self.aliases().iter().copied()))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Fruit {
        Apple,
        BloodOrange,
    }
    crate::choice!(Fruit { Apple => "apple" | "pomme", BloodOrange => "blood_orange" });

    #[test]
    fn names_parse_serialise_and_reject_alike() {
        assert_eq!(Fruit::parse(" Blood_Orange "), Some(Fruit::BloodOrange));
        assert_eq!(Fruit::parse("pear"), None);
        assert_eq!(Fruit::parse("Pomme"), Some(Fruit::Apple));
        assert_eq!(serde_json::to_string(&Fruit::Apple).unwrap(), "\"apple\"");
        let back: Fruit = serde_json::from_str("\"APPLE\"").unwrap();
        assert_eq!(back, Fruit::Apple);
        let err = serde_json::from_str::<Fruit>("\"pear\"").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown value \"pear\" (use apple, blood_orange)"),
            "{err}"
        );
        use clap::ValueEnum;
        assert_eq!(
            Fruit::from_str("blood_orange", false).unwrap(),
            Fruit::BloodOrange
        );
        assert!(Fruit::from_str("pear", true).is_err());
        assert_eq!(Fruit::from_str("pomme", false).unwrap(), Fruit::Apple);
    }
}
