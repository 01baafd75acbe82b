//! Identity resolution: which records of one or several sources are the same person when
//! they share no key. The stages, in the order they run:
//! [`fields`] (which columns of each source are a name, an e-mail, a phone, a birth date,
//! an address part) -> [`records`] (every value standardised once: case, accents,
//! punctuation, name parts, phones, e-mails, dates in any format) -> [`blocking`] (the
//! candidate pairs: a union of keys chosen by cardinality, Double Metaphone among them) ->
//! [`compare`] (comparison levels per field) -> [`model`] (Fellegi-Sunter: u from random
//! pairs, m and the prior by EM) -> [`link`] (the run: weights with term-frequency
//! adjustment, accepted pairs, clusters, the explanation of a pair).
//!
//! Our own code rather than a crate: no Rust crate does Fellegi-Sunter linkage (the field's
//! tools are Splink in Python/SQL and fastLink in R). String similarities come from
//! our own Jaro-Winkler ([`compare::jaro_winkler`], as Spark computes it) and `strsim` (the
//! unrestricted Damerau-Levenshtein distance),
//! sound codes from `rphonetic` (Double Metaphone, as Apache Commons Codec), accents are
//! removed with `unicode-normalization`'s NFKD.

pub mod attach;
pub mod blocking;
pub mod compare;
pub mod fields;
pub mod link;
pub mod model;
pub mod records;
pub mod run;
#[cfg(feature = "spark")]
pub mod spark;
pub mod standardise;
