//! Identity resolution (issue 24, in progress): which records of one or several sources are
//! the same person when they share no key. The stages, in the order they run:
//! [`standardise`] (case, accents, punctuation, name parts, phones, e-mails) ->
//! [`compare`] (comparison levels per field: exact, Jaro-Winkler and Damerau-Levenshtein
//! thresholds, date levels, null) -> [`model`] (Fellegi-Sunter: u from random pairs, m and
//! the prior by EM) -> blocking and clusters (to come). String similarities come from `strsim` (Jaro-Winkler as Winkler 1990, the
//! unrestricted Damerau-Levenshtein distance); accents are removed with
//! `unicode-normalization`'s NFKD.

pub mod compare;
pub mod model;
pub mod standardise;
