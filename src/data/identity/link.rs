//! The whole run: blocking -> comparison vectors of the candidate pairs -> u from random
//! pairs (the exact level's u counted exactly from the values' frequencies) -> m and the
//! prior by EM over the distinct vectors -> a match weight and probability per pair, with
//! term-frequency adjustment on exact agreement -> accepted pairs -> clusters.
//!
//! Term frequencies: agreeing on "smith" says less than agreeing on "featherstonehaugh". A
//! pair agreeing exactly on value v gets, on top of the level's log2(m/u), the adjustment
//! log2(u_exact * tf(v) / u(v)), where tf(v) is v's share of the records and u(v) the chance
//! that a random pair both hold v; within one population u(v) = tf(v)^2 and this is Splink's
//! log2(u_exact / tf(v)).

use std::sync::Arc;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rayon::prelude::*;

use super::blocking::{self, Candidates, Scope};
use super::compare::{Comparison, Outcome};
use super::fields::Kind;
use super::model::{Dependent, Model, Vector};
use super::records::{Records, Values};
use crate::progress::{Cancelled, Progress};

/// How a run is set up (the engine's side of the pipeline's settings).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Accept pairs whose match probability is at least this.
    pub threshold: f64,
    pub scope: Scope,
    /// Seed of the random pairs that estimate u.
    pub seed: u64,
    /// Random pairs drawn for u (fewer when there are fewer pairs).
    pub random_pairs: usize,
    /// A blocking key making more pairs than this is not used (None: 20 per record, at
    /// least 100,000).
    pub budget: Option<u64>,
    /// Pairs the analyst has labelled (record indices, same person or not): their fields'
    /// levels fix m where they say enough (see [`Model`]).
    pub labels: Vec<(u32, u32, bool)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threshold: DEFAULT_THRESHOLD,
            scope: Scope {
                across: true,
                within: false,
            },
            seed: 42,
            random_pairs: 1_000_000,
            budget: None,
            labels: Vec::new(),
        }
    }
}

/// The default threshold on the match probability (see the README's identity section for
/// how it was chosen).
pub const DEFAULT_THRESHOLD: f64 = 0.5;

/// Null outcome in the flat vector store.
pub const NULL: u8 = u8::MAX;

/// One comparison level of one field, with its fitted probabilities.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Level {
    pub name: String,
    pub m: f64,
    pub u: f64,
    /// log2(m / u): what the level adds to a pair's match weight.
    pub weight: f64,
    /// For an e-mail compared with a name: u and the weight when the names agree (see
    /// `email_given_name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub u_if_names_agree: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_if_names_agree: Option<f64>,
}

/// One compared field: its levels and whether exact agreement is adjusted by frequency.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FieldModel {
    pub field: String,
    pub kind: &'static str,
    /// The column(s) per input.
    pub columns: Vec<String>,
    pub term_frequency: bool,
    pub levels: Vec<Level>,
}

/// The clusters (people) the accepted pairs make.
#[derive(Debug, Clone, Default)]
pub struct Clusters {
    /// Person number of every record (0-based, numbered by their first record).
    pub person: Vec<u32>,
    /// Records per person.
    pub sizes: Vec<u32>,
    /// People whose cluster is much larger than the rest (a chain of links through
    /// borderline pairs is the usual cause): person numbers.
    pub large: Vec<u32>,
    /// The size above which a cluster is reported as large.
    pub large_above: u32,
}

/// What a run keeps whatever the model: the records, the candidate pairs and their
/// comparison vectors, the values' frequencies, u, and the EM's m.
#[derive(Debug)]
pub struct Base {
    pub records: Records,
    pub candidates: Candidates,
    /// Candidate pair p's outcome for field f: `vectors[p * fields + f]` ([`NULL`]: missing).
    pub vectors: Vec<u8>,
    /// Each field's value frequencies (term-frequency adjustment).
    pub frequencies: Frequencies,
    /// All pairs in scope (n x m for two sources).
    pub total_pairs: u64,
    pub scope: Scope,
    /// Per field: level names, and whether exact agreement is adjusted by frequency.
    pub levels: Vec<(Vec<String>, bool)>,
    /// Per field: u of the exact level.
    pub u_exact: Vec<f64>,
    /// m as EM estimated it (before any labels).
    pub m_em: Vec<Vec<f64>>,
    pub u: Vec<Vec<f64>>,
    pub dependent: Option<Dependent>,
    /// About how many matches to expect (the prior's starting point).
    pub expected: f64,
    pub em_iterations: usize,
    /// Seconds per step up to scoring.
    pub timings: Vec<(String, f64)>,
}

/// The outcome of a run: the [`Base`] and the scores under the current model.
#[derive(Debug, Clone)]
pub struct Linked {
    pub base: Arc<Base>,
    pub weights: Vec<f64>,
    pub probabilities: Vec<f64>,
    pub fields: Vec<FieldModel>,
    pub model: Model,
    pub threshold: f64,
    /// The match probability of two random records in scope.
    pub prior: f64,
    /// Candidate pairs at or above the threshold (or labelled "same"), by falling weight.
    pub accepted: Vec<usize>,
    pub clusters: Clusters,
    /// Blocking recall as estimated from the keys' overlap among the accepted pairs (None
    /// with one key: nothing to estimate it from).
    pub blocking_recall: Option<f64>,
    pub em_iterations: usize,
    /// Seconds per step, in order.
    pub timings: Vec<(String, f64)>,
    /// All pairs in scope (n x m for two sources).
    pub total_pairs: u64,
    pub scope: Scope,
    /// The labels the model was trained with.
    pub labels: Vec<(u32, u32, bool)>,
}

impl Linked {
    pub fn records(&self) -> &Records {
        &self.base.records
    }

    pub fn candidates(&self) -> &Candidates {
        &self.base.candidates
    }

    /// Candidate pair `p`'s level for field `f` ([`NULL`]: missing).
    pub fn level(&self, p: usize, f: usize) -> u8 {
        self.base.vectors[p * self.fields.len() + f]
    }
}

/// How each kind of field is compared (see [`compare_field`]).
pub fn comparison_for(kind: Kind) -> (Vec<String>, bool) {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    match kind {
        Kind::Name => (
            s(&[
                "exact",
                "given and family swapped",
                "both jaro-winkler >= 0.92",
                "both jaro-winkler >= 0.8",
                "family name agrees",
                "given name agrees",
                "else",
            ]),
            true,
        ),
        Kind::Email => (
            s(&[
                "exact",
                "same local part",
                "<= 2 edits, same digits",
                "else",
            ]),
            true,
        ),
        Kind::Phone => (Comparison::Edits(vec![1]).level_names(), true),
        // Frequencies matter for dates too: a default such as 1900-01-01, or a birth date
        // clamped to an age limit, is shared by many.
        Kind::BirthDate => (Comparison::Date.level_names(), true),
        Kind::Postcode | Kind::NationalId => (Comparison::Edits(vec![1, 2]).level_names(), true),
        Kind::HouseNumber => (s(&["exact", "else"]), false),
        Kind::Town | Kind::State => (Comparison::JaroWinkler(vec![0.88]).level_names(), true),
        Kind::Street | Kind::Text => (Comparison::JaroWinkler(vec![0.92, 0.8]).level_names(), true),
        Kind::Number => (Comparison::Number(vec![0.01, 0.1]).level_names(), false),
    }
}

fn level(o: Outcome) -> u8 {
    match o {
        Outcome::Null => NULL,
        Outcome::Level(l) => l,
    }
}

/// Field `f`'s level for records `i` and `j` ([`NULL`] when either is missing).
pub fn compare_field(records: &Records, f: usize, i: usize, j: usize) -> u8 {
    let kind = records.fields[f].kind;
    match &records.values[f] {
        Values::Date(d) => level(Comparison::date(d[i], d[j])),
        Values::Name { first, last } => {
            let (f1, l1, f2, l2) = (first.get(i), last.get(i), first.get(j), last.get(j));
            name_level(f1, l1, f2, l2)
        }
        Values::Text(t) => {
            let (a, b) = (t.get(i), t.get(j));
            if a.is_empty() || b.is_empty() {
                return NULL;
            }
            if a == b {
                return 0;
            }
            match kind {
                Kind::Email => {
                    let la = a.split('@').next().unwrap_or(a);
                    let lb = b.split('@').next().unwrap_or(b);
                    if la == lb {
                        1
                    } else if same_digits(a, b) && strsim::damerau_levenshtein(a, b) <= 2 {
                        // A typo, not another account: edits rather than Jaro-Winkler, and
                        // the digits must agree (ann.lee12@x.com and ann.lee13@x.com are two
                        // Ann Lees).
                        2
                    } else {
                        3
                    }
                }
                Kind::Phone => level(Comparison::Edits(vec![1]).text(a, b)),
                Kind::Postcode | Kind::NationalId => {
                    level(Comparison::Edits(vec![1, 2]).text(a, b))
                }
                Kind::HouseNumber => 1,
                Kind::Town | Kind::State => level(Comparison::JaroWinkler(vec![0.88]).text(a, b)),
                Kind::Number => level(Comparison::Number(vec![0.01, 0.1]).text(a, b)),
                _ => level(Comparison::JaroWinkler(vec![0.92, 0.8]).text(a, b)),
            }
        }
    }
}

fn same_digits(a: &str, b: &str) -> bool {
    a.chars()
        .filter(char::is_ascii_digit)
        .eq(b.chars().filter(char::is_ascii_digit))
}

/// Name levels: 0 exact, 1 swapped, 2 both parts Jaro-Winkler >= 0.92, 3 both >= 0.8,
/// 4 family name agrees (a nickname or an initial), 5 given name agrees (a new family
/// name), 6 else. A one-part name on either side is compared whole.
pub fn name_level(f1: &str, l1: &str, f2: &str, l2: &str) -> u8 {
    if (f1.is_empty() && l1.is_empty()) || (f2.is_empty() && l2.is_empty()) {
        return NULL;
    }
    if f1.is_empty() || l1.is_empty() || f2.is_empty() || l2.is_empty() {
        let a = if f1.is_empty() { l1 } else { f1 };
        let b = if f2.is_empty() { l2 } else { f2 };
        let whole1 = [f1, l1].join(" ");
        let whole2 = [f2, l2].join(" ");
        return if whole1.trim() == whole2.trim() {
            0
        } else if super::compare::jaro_winkler(a, b) >= 0.92 {
            2
        } else {
            6
        };
    }
    if f1 == f2 && l1 == l2 {
        return 0;
    }
    if f1 == l2 && l1 == f2 {
        return 1;
    }
    let (jf, jl) = (
        super::compare::jaro_winkler(f1, f2),
        super::compare::jaro_winkler(l1, l2),
    );
    if jf >= 0.92 && jl >= 0.92 {
        2
    } else if jf >= 0.8 && jl >= 0.8 {
        3
    } else if l1 == l2 {
        4
    } else if f1 == f2 {
        5
    } else {
        6
    }
}

fn vector_of(records: &Records, i: usize, j: usize, out: &mut [u8]) {
    for (f, o) in out.iter_mut().enumerate() {
        *o = compare_field(records, f, i, j);
    }
}

/// Frequencies of each field's standardised values: per value hash, records per source.
#[derive(Debug, Clone, Default)]
pub struct Frequencies {
    /// Per field: value hash -> offset of its per-source counts in `counts`.
    index: Vec<foldhash::HashMap<u64, u32>>,
    counts: Vec<Vec<u32>>,
    /// Per field: non-missing records per source.
    present: Vec<Vec<u64>>,
    sources: usize,
}

impl Frequencies {
    fn of(&self, f: usize, h: u64) -> Option<&[u32]> {
        let at = *self.index[f].get(&h)? as usize;
        Some(&self.counts[f][at..at + self.sources])
    }

    /// Per field, each distinct value's per-source counts.
    fn values(&self, f: usize) -> impl Iterator<Item = &[u32]> {
        self.counts[f].chunks(self.sources.max(1))
    }
}

fn value_hash(records: &Records, f: usize, i: usize) -> Option<u64> {
    match &records.values[f] {
        Values::Text(t) => {
            let v = t.get(i);
            (!v.is_empty()).then(|| xxhash_rust::xxh3::xxh3_64(v.as_bytes()))
        }
        _ => {
            let t = records.text(f, i);
            (!t.is_empty()).then(|| xxhash_rust::xxh3::xxh3_64(t.as_bytes()))
        }
    }
}

pub fn frequencies(records: &Records) -> Frequencies {
    let nsrc = records.sources();
    let per_field: Vec<_> = (0..records.fields.len())
        .into_par_iter()
        .map(|f| {
            let mut index: foldhash::HashMap<u64, u32> = foldhash::HashMap::default();
            let mut counts: Vec<u32> = Vec::new();
            let mut present = vec![0u64; nsrc];
            for s in 0..nsrc {
                for i in records.starts[s]..records.starts[s + 1] {
                    if let Some(h) = value_hash(records, f, i) {
                        let at = *index.entry(h).or_insert_with(|| {
                            counts.extend(std::iter::repeat_n(0, nsrc));
                            (counts.len() - nsrc) as u32
                        });
                        counts[at as usize + s] += 1;
                        present[s] += 1;
                    }
                }
            }
            (index, counts, present)
        })
        .collect();
    let mut out = Frequencies {
        sources: nsrc,
        ..Default::default()
    };
    for (i, c, p) in per_field {
        out.index.push(i);
        out.counts.push(c);
        out.present.push(p);
    }
    out
}

/// The chance that a random pair in `scope` both hold a value with these per-source
/// counts, out of pairs where both are present.
fn agree_share(counts: &[u32], present: &[u64], scope: Scope) -> f64 {
    let (mut agree, mut all) = (0.0, 0.0);
    let n = counts.len();
    for s in 0..n {
        for t in s..n {
            let wanted = if s == t { scope.within } else { scope.across };
            if !wanted {
                continue;
            }
            if s == t {
                let c = counts[s] as f64;
                let p = present[s] as f64;
                agree += c * (c - 1.0) / 2.0;
                all += p * (p - 1.0) / 2.0;
            } else {
                agree += counts[s] as f64 * counts[t] as f64;
                all += present[s] as f64 * present[t] as f64;
            }
        }
    }
    if all > 0.0 { agree / all } else { 0.0 }
}

/// All pairs in scope.
fn pairs_in_scope(records: &Records, scope: Scope) -> u64 {
    let sizes: Vec<u64> = (0..records.sources())
        .map(|s| (records.starts[s + 1] - records.starts[s]) as u64)
        .collect();
    pairs_in_scope_of(&sizes, scope)
}

/// All pairs in scope among sources of these sizes.
pub fn pairs_in_scope_of(sizes: &[u64], scope: Scope) -> u64 {
    let mut total = 0;
    for s in 0..sizes.len() {
        for t in s..sizes.len() {
            if s == t && scope.within {
                total += sizes[s] * sizes[s].saturating_sub(1) / 2;
            } else if s != t && scope.across {
                total += sizes[s] * sizes[t];
            }
        }
    }
    total
}

/// `n` random pairs in scope, seeded: a pair of sources by their share of the pairs, then
/// a record of each.
fn random_pairs(records: &Records, scope: Scope, n: usize, seed: u64) -> Vec<(u32, u32)> {
    let sizes: Vec<u64> = (0..records.sources())
        .map(|s| (records.starts[s + 1] - records.starts[s]) as u64)
        .collect();
    let mut combos: Vec<(usize, usize, u64)> = Vec::new();
    for s in 0..sizes.len() {
        for t in s..sizes.len() {
            let w = if s == t && scope.within {
                sizes[s] * sizes[s].saturating_sub(1) / 2
            } else if s != t && scope.across {
                sizes[s] * sizes[t]
            } else {
                0
            };
            if w > 0 {
                combos.push((s, t, w));
            }
        }
    }
    let total: u64 = combos.iter().map(|c| c.2).sum();
    if total == 0 {
        return Vec::new();
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut x = rng.gen_range(0..total);
        let &(s, t, _) = combos
            .iter()
            .find(|c| {
                if x < c.2 {
                    true
                } else {
                    x -= c.2;
                    false
                }
            })
            .unwrap_or(&combos[0]);
        let i = records.starts[s] + rng.gen_range(0..sizes[s] as usize);
        let mut j = records.starts[t] + rng.gen_range(0..sizes[t] as usize);
        if s == t {
            while j == i {
                j = records.starts[t] + rng.gen_range(0..sizes[t] as usize);
            }
        }
        out.push((i.min(j) as u32, i.max(j) as u32));
    }
    out
}

fn to_outcomes(v: &[u8]) -> Vector {
    v.iter()
        .map(|&l| {
            if l == NULL {
                Outcome::Null
            } else {
                Outcome::Level(l)
            }
        })
        .collect()
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

/// Runs identity resolution on `records`.
pub fn link(records: Records, opts: &Options, progress: &Progress) -> Result<Linked, LinkError> {
    let mut timings = Vec::new();
    let nf = records.fields.len();
    if records.len() >= 1 << 28 {
        return Err(LinkError::Input(format!(
            "{} records: at most 268,435,455 can be linked on one machine; use the Spark engine",
            records.len()
        )));
    }
    let total_pairs = pairs_in_scope(&records, opts.scope);
    if total_pairs == 0 {
        return Err(LinkError::Input(
            "no pair of records to compare: give two or more records (one input is deduplicated, several are linked)".into(),
        ));
    }
    progress.start("identity", 5);
    // Blocking.
    let t = Instant::now();
    let budget = opts
        .budget
        .unwrap_or_else(|| blocking::default_budget(records.len() as u64));
    let keys = blocking::candidate_keys(&records);
    let candidates = blocking::candidates(&records, &keys, opts.scope, budget, progress)?;
    timings.push(("blocking".to_string(), secs(t)));
    progress.next("comparing candidate pairs");
    // Comparison vectors of the candidate pairs.
    let t = Instant::now();
    let mut vectors = vec![0u8; candidates.pairs.len() * nf];
    if nf > 0 {
        vectors
            .par_chunks_mut(nf * 4096)
            .enumerate()
            .try_for_each(|(c, chunk)| {
                progress.check()?;
                for (k, out) in chunk.chunks_mut(nf).enumerate() {
                    let (i, j) = candidates.pairs[c * 4096 + k];
                    vector_of(&records, i as usize, j as usize, out);
                }
                Ok::<(), Cancelled>(())
            })?;
    }
    timings.push(("comparing".to_string(), secs(t)));
    // u: the exact level from frequencies, the others from random pairs.
    progress.next("estimating u from random pairs");
    let t = Instant::now();
    let freq = frequencies(&records);
    let levels: Vec<(Vec<String>, bool)> = records
        .fields
        .iter()
        .map(|f| comparison_for(f.kind))
        .collect();
    let n_random = (opts.random_pairs as u64).min(total_pairs) as usize;
    let random = random_pairs(&records, opts.scope, n_random, opts.seed);
    let mut rvec = vec![0u8; random.len() * nf];
    rvec.par_chunks_mut(nf.max(1))
        .zip(&random)
        .for_each(|(out, &(i, j))| vector_of(&records, i as usize, j as usize, out));
    progress.check()?;
    let mut u = Vec::with_capacity(nf);
    let mut u_exact_all = Vec::with_capacity(nf);
    for f in 0..nf {
        let nl = levels[f].0.len();
        let exact: f64 = freq
            .values(f)
            .map(|c| agree_share(c, &freq.present[f], opts.scope))
            .sum::<f64>()
            .clamp(1e-9, 1.0 - 1e-9);
        let mut counts = vec![0.0; nl];
        for v in rvec.chunks(nf.max(1)) {
            let l = v[f];
            if l != NULL && l != 0 {
                counts[l as usize] += 1.0;
            }
        }
        let rest: f64 = counts.iter().sum();
        let mut uf = vec![0.0; nl];
        uf[0] = exact;
        for l in 1..nl {
            // A level no random pair shows is rarer than one in the pairs drawn, not
            // impossible: half a pair's share.
            uf[l] = if rest > 0.0 {
                (1.0 - exact) * counts[l].max(0.5) / rest
            } else {
                (1.0 - exact) / (nl - 1) as f64
            };
        }
        u.push(uf);
        u_exact_all.push(exact);
    }
    let dependent = email_given_name(&records, opts, &u);
    timings.push(("estimating u".to_string(), secs(t)));
    // m and the prior by EM over the distinct vectors.
    progress.next("estimating m by expectation-maximisation");
    let t = Instant::now();
    let m0: Vec<Vec<f64>> = levels
        .iter()
        .map(|(names, _)| {
            let nl = names.len();
            (0..nl)
                .map(|l| if l == 0 { 0.8 } else { 0.2 / (nl - 1) as f64 })
                .collect()
        })
        .collect();
    let smallest = (0..records.sources())
        .map(|s| records.starts[s + 1] - records.starts[s])
        .min()
        .unwrap_or(0) as f64;
    let expected = if opts.scope.across && records.sources() > 1 {
        0.5 * smallest
    } else {
        0.05 * records.len() as f64
    };
    // One EM session per blocking key, over the pairs that key made, with the key's own
    // fields left out (they agree in every such pair, so they say nothing there about m);
    // each field's m is the mean over the sessions that estimated it (as Splink trains).
    let mut m_sum: Vec<Vec<f64>> = m0.iter().map(|m| vec![0.0; m.len()]).collect();
    let mut m_n = vec![0usize; nf];
    let mut em_iterations = 0;
    for (k, key) in candidates.used.iter().enumerate() {
        progress.check()?;
        // A sorted neighbourhood pairs names that are only close, mostly different people
        // whose other fields are no sample of either kind: it finds pairs, it does not train.
        if key.window.is_some() {
            continue;
        }
        let mut fixed: Vec<usize> = key.parts.iter().map(|p| p.field()).collect();
        // A field made from a key's field (an e-mail from the name) agrees with it whether
        // or not the pair is one person: it is left out of that key's session too.
        if let Some(d) = &dependent
            && (fixed.contains(&d.on) || fixed.contains(&d.field))
        {
            fixed.extend([d.on, d.field]);
        }
        let mut patterns: std::collections::BTreeMap<Vec<u8>, f64> =
            std::collections::BTreeMap::new();
        let mut n = 0.0;
        for (p, mask) in candidates.keys.iter().enumerate() {
            if mask & (1 << k) == 0 {
                continue;
            }
            let mut v = vectors[p * nf..(p + 1) * nf].to_vec();
            for &f in &fixed {
                v[f] = NULL;
            }
            *patterns.entry(v).or_insert(0.0) += 1.0;
            n += 1.0;
        }
        if n < 10.0 || fixed.len() >= nf {
            continue;
        }
        let pats: Vec<Vector> = patterns.keys().map(|v| to_outcomes(v)).collect();
        let counts: Vec<f64> = patterns.values().copied().collect();
        let mut session = Model {
            // Low: a key of too few distinct values makes pairs that are mostly not the
            // same person, and EM started high calls them all matches.
            lambda: (expected / n).clamp(0.001, 0.05),
            m: m0.clone(),
            u: u.clone(),
            dependent: dependent.clone(),
        };
        em_iterations += session.fit_counted(&pats, &counts, 200, 1e-6);
        for f in (0..nf).filter(|f| !fixed.contains(f)) {
            for (s, m) in m_sum[f].iter_mut().zip(&session.m[f]) {
                *s += m;
            }
            m_n[f] += 1;
        }
    }
    let m: Vec<Vec<f64>> = (0..nf)
        .map(|f| {
            if m_n[f] == 0 {
                m0[f].clone()
            } else {
                m_sum[f].iter().map(|s| s / m_n[f] as f64).collect()
            }
        })
        .collect();
    timings.push(("estimating m (EM)".to_string(), secs(t)));
    let base = Arc::new(Base {
        records,
        candidates,
        vectors,
        frequencies: freq,
        total_pairs,
        scope: opts.scope,
        levels,
        u_exact: u_exact_all,
        m_em: m,
        u,
        dependent,
        expected,
        em_iterations,
        timings,
    });
    Ok(score(base, &opts.labels, opts.threshold, progress))
}

/// The model from the EM's m (and, with labels, the labelled pairs'), and the prior: that of
/// two random records, as u comes from random pairs (a candidate pair agrees on its blocking
/// key by construction, so the candidates' own share of matches would count that agreement
/// twice). Pairs outside the candidates share no key and are taken as non-matches, so the
/// expected number of matches is the sum of the candidates' probabilities: the prior is the
/// fixed point of lambda = sum(p) / all pairs (EM over all pairs, the others contributing
/// nothing).
fn fit_model(base: &Base, labels: &[(u32, u32, bool)]) -> Model {
    let nf = base.records.fields.len();
    let mut model = Model {
        lambda: (base.expected / base.total_pairs as f64).clamp(1e-12, 0.5),
        m: base.m_em.clone(),
        u: base.u.clone(),
        dependent: base.dependent.clone(),
    };
    apply_labels(&mut model, &base.records, labels);
    let mut patterns: std::collections::BTreeMap<&[u8], f64> = std::collections::BTreeMap::new();
    for v in base.vectors.chunks(nf.max(1)) {
        *patterns.entry(v).or_insert(0.0) += 1.0;
    }
    let pats: Vec<Vector> = patterns.keys().map(|v| to_outcomes(v)).collect();
    let counts: Vec<f64> = patterns.values().copied().collect();
    for _ in 0..500 {
        let before = model.lambda;
        let matches: f64 = pats
            .iter()
            .zip(&counts)
            .map(|(v, c)| c * model.probability(v))
            .sum();
        model.lambda = (matches / base.total_pairs as f64).clamp(1e-12, 0.5);
        if (model.lambda - before).abs() <= 1e-6 * before {
            break;
        }
    }
    model
}

/// Retrains from the analyst's labels (record pairs, same person or not) and scores again:
/// m moves towards the levels of the pairs labelled "same", the prior follows, and labelled
/// pairs are accepted or not as labelled. Cheap: blocking and comparisons are kept.
pub fn relabel(l: &Linked, labels: &[(u32, u32, bool)], threshold: f64) -> Linked {
    score(l.base.clone(), labels, threshold, &Progress::new())
}

/// Weights, probabilities, accepted pairs and clusters under the model fitted to `base`.
pub fn score(
    base: Arc<Base>,
    labels: &[(u32, u32, bool)],
    threshold: f64,
    progress: &Progress,
) -> Linked {
    let t = Instant::now();
    let model = fit_model(&base, labels);
    progress.next("scoring candidate pairs");
    let (records, candidates, vectors, freq) = (
        &base.records,
        &base.candidates,
        &base.vectors,
        &base.frequencies,
    );
    let tf_on: Vec<bool> = base.levels.iter().map(|l| l.1).collect();
    let (level_w, dep_w) = level_weights(&model);
    let weights = pair_weights(
        &model,
        &Scoring {
            records,
            pairs: &candidates.pairs,
            vectors,
            frequencies: freq,
            term_frequency: &tf_on,
            u_exact: &base.u_exact,
            scope: base.scope,
        },
    );
    let probabilities: Vec<f64> = weights.iter().map(|w| 1.0 / (1.0 + (-w).exp2())).collect();
    let labelled: std::collections::HashMap<(u32, u32), bool> = labels
        .iter()
        .map(|&(i, j, y)| ((i.min(j), i.max(j)), y))
        .collect();
    let mut accepted: Vec<usize> = (0..weights.len())
        .filter(|&p| {
            labelled
                .get(&candidates.pairs[p])
                .copied()
                .unwrap_or(probabilities[p] >= threshold)
        })
        .collect();
    accepted.par_sort_by(|&a, &b| {
        weights[b]
            .total_cmp(&weights[a])
            .then(candidates.pairs[a].cmp(&candidates.pairs[b]))
    });
    let mut timings = base.timings.clone();
    timings.push(("scoring".to_string(), secs(t)));
    progress.next("clustering");
    let t = Instant::now();
    let clusters = cluster(records.len(), accepted.iter().map(|&p| candidates.pairs[p]));
    let blocking_recall = estimate_recall(candidates, &accepted);
    timings.push(("clustering".to_string(), secs(t)));
    let prior = model.lambda;
    let fields = records
        .fields
        .iter()
        .enumerate()
        .map(|(f, field)| FieldModel {
            field: field.name.clone(),
            kind: field.kind.name(),
            columns: field.columns.iter().map(|c| c.describe()).collect(),
            term_frequency: tf_on[f],
            levels: base.levels[f]
                .0
                .iter()
                .enumerate()
                .map(|(l, name)| {
                    let dep = dep_w.as_ref().filter(|d| d.0 == f);
                    Level {
                        name: name.clone(),
                        m: model.m[f][l],
                        u: model.u[f][l],
                        weight: level_w[f][l],
                        u_if_names_agree: dep.and(model.dependent.as_ref()).map(|d| d.u[l]),
                        weight_if_names_agree: dep.map(|d| d.3[l]),
                    }
                })
                .collect(),
        })
        .collect();
    Linked {
        em_iterations: base.em_iterations,
        total_pairs: base.total_pairs,
        scope: base.scope,
        base,
        weights,
        probabilities,
        fields,
        model,
        threshold,
        prior,
        accepted,
        clusters,
        blocking_recall,
        timings,
        labels: labels.to_vec(),
    }
}

/// Each field's level weights, log2(m / u), and a dependent field's weights when the field
/// it depends on agrees (field, the field it depends on, its agreeing levels, weights).
type DependentWeights = Option<(usize, usize, Vec<bool>, Vec<f64>)>;

fn level_weights(model: &Model) -> (Vec<Vec<f64>>, DependentWeights) {
    let level_w: Vec<Vec<f64>> = model
        .m
        .iter()
        .zip(&model.u)
        .map(|(m, u)| {
            m.iter()
                .zip(u)
                .map(|(m, u)| (m.max(1e-9) / u.max(1e-9)).log2())
                .collect()
        })
        .collect();
    let dep_w = model.dependent.as_ref().map(|d| {
        let w = model.m[d.field]
            .iter()
            .zip(&d.u)
            .map(|(m, u)| (m.max(1e-9) / u.max(1e-9)).log2())
            .collect();
        (d.field, d.on, d.agree.clone(), w)
    });
    (level_w, dep_w)
}

/// What scoring pairs reads: the records, the pairs with their comparison vectors, the
/// values' frequencies and, per field, whether exact agreement is adjusted by frequency and
/// u of the exact level.
pub struct Scoring<'a> {
    pub records: &'a Records,
    pub pairs: &'a [(u32, u32)],
    pub vectors: &'a [u8],
    pub frequencies: &'a Frequencies,
    pub term_frequency: &'a [bool],
    pub u_exact: &'a [f64],
    pub scope: Scope,
}

/// Every pair's match weight under `model`: log2 prior odds, plus each non-null field's
/// level weight (a dependent field's conditional one when the field it depends on agrees),
/// plus the term-frequency adjustment of exact agreements.
pub fn pair_weights(model: &Model, s: &Scoring<'_>) -> Vec<f64> {
    let nf = s.records.fields.len();
    let (level_w, dep_w) = level_weights(model);
    let prior_w = (model.lambda / (1.0 - model.lambda)).log2();
    s.pairs
        .par_iter()
        .enumerate()
        .map(|(p, &(i, _))| {
            let v = &s.vectors[p * nf..(p + 1) * nf];
            let mut w = prior_w;
            for f in 0..nf {
                if v[f] == NULL {
                    continue;
                }
                w += match &dep_w {
                    Some((df, on, agree, dw))
                        if *df == f
                            && v[*on] != NULL
                            && agree.get(v[*on] as usize).copied().unwrap_or(false) =>
                    {
                        dw[v[f] as usize]
                    }
                    _ => level_w[f][v[f] as usize],
                };
                if v[f] == 0 && s.term_frequency[f] {
                    w += tf_adjustment(
                        s.records,
                        s.frequencies,
                        f,
                        i as usize,
                        s.u_exact[f],
                        s.scope,
                    );
                }
            }
            w
        })
        .collect()
}

/// The comparison vectors of `pairs` (one level per field, [`NULL`] when missing).
pub fn vectors_of(records: &Records, pairs: &[(u32, u32)]) -> Vec<u8> {
    let nf = records.fields.len();
    let mut vectors = vec![0u8; pairs.len() * nf];
    if nf > 0 {
        vectors
            .par_chunks_mut(nf)
            .zip(pairs)
            .for_each(|(out, &(i, j))| vector_of(records, i as usize, j as usize, out));
    }
    vectors
}

/// E-mail addresses are often made of the name (ann.lee12@...): among pairs with the same
/// name, e-mails agree far more often than among random pairs, and counting both at their
/// random-pair u would count one agreement twice. When both a name and an e-mail are
/// compared, the e-mail's u for pairs whose names agree (exact, swapped or close) is taken
/// among random pairs with the same standardised name that disagree on a birth date (or a
/// phone), drawn with the run's seed.
fn email_given_name(records: &Records, opts: &Options, u: &[Vec<f64>]) -> Option<Dependent> {
    let name = records.fields.iter().position(|f| f.kind == Kind::Name)?;
    let email = records.fields.iter().position(|f| f.kind == Kind::Email)?;
    // Pairs with the same name are often the same person: only those that disagree on a
    // witness field (birth date, else phone) are counted, nearly all different people.
    let witness = records
        .fields
        .iter()
        .position(|f| f.kind == Kind::BirthDate)
        .or_else(|| records.fields.iter().position(|f| f.kind == Kind::Phone))?;
    let witness_else = (u[witness].len() - 1) as u8;
    let mut keyed: Vec<(u64, u32)> = (0..records.len())
        .filter_map(|i| value_hash(records, name, i).map(|h| (h, i as u32)))
        .collect();
    keyed.par_sort_unstable();
    // Groups of one name with the pairs in scope each makes.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut weights: Vec<u64> = Vec::new();
    let mut s = 0;
    while s < keyed.len() {
        let mut e = s + 1;
        while e < keyed.len() && keyed[e].0 == keyed[s].0 {
            e += 1;
        }
        if e - s > 1 {
            let mut per = vec![0u64; records.sources()];
            for &(_, i) in &keyed[s..e] {
                per[records.source_of(i as usize)] += 1;
            }
            let n: u64 = per.iter().sum();
            let within: u64 = per.iter().map(|c| c * c.saturating_sub(1) / 2).sum();
            let all = n * (n - 1) / 2;
            let w = if opts.scope.within { within } else { 0 }
                + if opts.scope.across { all - within } else { 0 };
            if w > 0 {
                groups.push((s, e));
                weights.push(w);
            }
        }
        s = e;
    }
    let total: u64 = weights.iter().sum();
    if total < 100 {
        return None;
    }
    let cumulative: Vec<u64> = weights
        .iter()
        .scan(0u64, |acc, w| {
            *acc += w;
            Some(*acc)
        })
        .collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed ^ 0x9e37_79b9_7f4a_7c15);
    let n = (total as usize).min(200_000);
    let nl = u[email].len();
    let mut counts = vec![0.0; nl];
    let mut drawn = 0usize;
    let mut tries = 0usize;
    while drawn < n && tries < 20 * n {
        tries += 1;
        let x = rng.gen_range(0..total);
        let g = cumulative.partition_point(|&c| c <= x);
        let (gs, ge) = groups[g];
        let a = keyed[rng.gen_range(gs..ge)].1 as usize;
        let b = keyed[rng.gen_range(gs..ge)].1 as usize;
        if a == b {
            continue;
        }
        let same = records.source_of(a) == records.source_of(b);
        if !opts.scope.wants(same) {
            continue;
        }
        if compare_field(records, witness, a.min(b), a.max(b)) != witness_else {
            continue;
        }
        drawn += 1;
        let l = compare_field(records, email, a.min(b), a.max(b));
        if l != NULL {
            counts[l as usize] += 1.0;
        }
    }
    let present: f64 = counts.iter().sum();
    if present < 100.0 {
        return None;
    }
    let cond: Vec<f64> = counts
        .iter()
        .zip(&u[email])
        .map(|(c, random)| (c.max(0.5) / present).max(*random))
        .collect();
    Some(Dependent {
        field: email,
        on: name,
        agree: (0..u[name].len()).map(|l| l <= 3).collect(),
        u: cond,
    })
}

/// The term-frequency adjustment of a pair agreeing exactly on field `f` (record `i`'s
/// value): log2(u_exact * tf(v) / u(v)).
fn tf_adjustment(
    records: &Records,
    freq: &Frequencies,
    f: usize,
    i: usize,
    u_exact: f64,
    scope: Scope,
) -> f64 {
    let Some(h) = value_hash(records, f, i) else {
        return 0.0;
    };
    let Some(c) = freq.of(f, h) else {
        return 0.0;
    };
    let present: u64 = freq.present[f].iter().sum();
    let total: u64 = c.iter().map(|&x| x as u64).sum();
    let tf = total as f64 / present.max(1) as f64;
    let uv = agree_share(c, &freq.present[f], scope);
    if uv <= 0.0 || tf <= 0.0 {
        return 0.0;
    }
    (u_exact * tf / uv).log2()
}

/// Pairs the analyst labelled "same person" move m towards their levels: each field's m
/// is the EM's m counted as 20 pairs plus the labelled pairs' levels, so a few labels nudge
/// it and many decide it (non-matches do not change u, which random pairs estimate well).
fn apply_labels(model: &mut Model, records: &Records, labels: &[(u32, u32, bool)]) {
    const PRIOR_PAIRS: f64 = 20.0;
    let same: Vec<&(u32, u32, bool)> = labels.iter().filter(|l| l.2).collect();
    if same.is_empty() {
        return;
    }
    for f in 0..records.fields.len() {
        let mut c: Vec<f64> = model.m[f].iter().map(|m| m * PRIOR_PAIRS).collect();
        for &&(i, j, _) in &same {
            let l = compare_field(records, f, i.min(j) as usize, i.max(j) as usize);
            if l != NULL {
                c[l as usize] += 1.0;
            }
        }
        let s: f64 = c.iter().sum();
        model.m[f] = c.iter().map(|x| (x / s).max(1e-6)).collect();
    }
}

/// Connected components of the accepted pairs (union-find), with the guard against
/// chaining: clusters larger than both 8 and four times the 99th percentile of the
/// clusters of two or more are reported.
pub fn cluster(n: usize, pairs: impl Iterator<Item = (u32, u32)>) -> Clusters {
    let mut parent: Vec<u32> = (0..n as u32).collect();
    fn find(p: &mut [u32], mut x: u32) -> u32 {
        while p[x as usize] != x {
            p[x as usize] = p[p[x as usize] as usize];
            x = p[x as usize];
        }
        x
    }
    for (a, b) in pairs {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra != rb {
            let (lo, hi) = (ra.min(rb), ra.max(rb));
            parent[hi as usize] = lo;
        }
    }
    let mut person = vec![0u32; n];
    let mut number = vec![u32::MAX; n];
    let mut sizes = Vec::new();
    for (i, p) in person.iter_mut().enumerate() {
        let r = find(&mut parent, i as u32) as usize;
        if number[r] == u32::MAX {
            number[r] = sizes.len() as u32;
            sizes.push(0);
        }
        *p = number[r];
        sizes[number[r] as usize] += 1;
    }
    let mut multi: Vec<u32> = sizes.iter().copied().filter(|&s| s > 1).collect();
    multi.sort_unstable();
    let p99 = if multi.is_empty() {
        2
    } else {
        multi[((multi.len() - 1) as f64 * 0.99).round() as usize]
    };
    let large_above = (4 * p99).max(8);
    let large = (0..sizes.len() as u32)
        .filter(|&c| sizes[c as usize] > large_above)
        .collect();
    Clusters {
        person,
        sizes,
        large,
        large_above,
    }
}

/// Blocking recall, estimated: for each used key, the share of the accepted pairs found by
/// the other keys that this key finds too; assuming the keys miss pairs independently, a
/// pair is missed by all with the product of their miss rates. Two keys at least.
pub fn estimate_recall(c: &Candidates, accepted: &[usize]) -> Option<f64> {
    let k = c.used.len();
    if k < 2 || accepted.is_empty() {
        return None;
    }
    let mut missed = 1.0;
    for key in 0..k {
        let bit = 1u16 << key;
        let others: Vec<u16> = accepted
            .iter()
            .map(|&p| c.keys[p])
            .filter(|m| m & !bit != 0)
            .collect();
        if others.is_empty() {
            continue;
        }
        let r = others.iter().filter(|m| *m & bit != 0).count() as f64 / others.len() as f64;
        missed *= 1.0 - r;
    }
    Some(1.0 - missed)
}

/// What can stop a run.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("{0}")]
    Input(String),
    #[error("cancelled")]
    Cancelled,
}

impl From<Cancelled> for LinkError {
    fn from(_: Cancelled) -> Self {
        LinkError::Cancelled
    }
}

/// The weight each field contributed to candidate pair `p` (field, level name, weight), for
/// the waterfall: the prior first, then each field; they add up to the pair's weight.
pub fn explain(l: &Linked, p: usize) -> Vec<(String, String, f64)> {
    let nf = l.fields.len();
    let (i, _) = l.base.candidates.pairs[p];
    let mut out = vec![(
        "prior".to_string(),
        String::new(),
        (l.model.lambda / (1.0 - l.model.lambda)).log2(),
    )];
    for f in 0..nf {
        let lv = l.level(p, f);
        if lv == NULL {
            out.push((l.fields[f].field.clone(), "missing".into(), 0.0));
            continue;
        }
        let lev = &l.fields[f].levels[lv as usize];
        let v = to_outcomes(&l.base.vectors[p * nf..(p + 1) * nf]);
        let mut w = (l.model.m[f][lv as usize].max(1e-9)
            / l.model.u_of(&v, f, lv as usize).max(1e-9))
        .log2();
        if lv == 0 && l.fields[f].term_frequency {
            w += tf_adjustment(
                &l.base.records,
                &l.base.frequencies,
                f,
                i as usize,
                l.base.u_exact[f],
                l.scope,
            );
        }
        out.push((l.fields[f].field.clone(), lev.name.clone(), w));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::identity::fields::plan;
    use polars::df;
    use polars::prelude::DataFrame;

    #[test]
    fn name_levels() {
        assert_eq!(name_level("ann", "lee", "ann", "lee"), 0);
        assert_eq!(name_level("lee", "ann", "ann", "lee"), 1);
        assert_eq!(name_level("jonathan", "smith", "jonathon", "smith"), 2);
        // jaro-winkler(jon, jonathan) = 0.85, (smith, smyth) = 0.893
        assert_eq!(name_level("jon", "smith", "jonathan", "smyth"), 3);
        assert_eq!(name_level("j", "smith", "jonathan", "smith"), 4);
        assert_eq!(name_level("ann", "lee", "ann", "morris"), 5);
        assert_eq!(name_level("ann", "lee", "bob", "morris"), 6);
        assert_eq!(name_level("", "", "bob", "morris"), NULL);
        assert_eq!(name_level("madonna", "", "madonna", ""), 0);
        // The level names of the name comparison match the levels.
        assert_eq!(comparison_for(Kind::Name).0.len(), 7);
    }

    #[test]
    fn clusters_are_components_and_chains_are_reported() {
        // 0-1, 1-2 (a chain), 3-4; 5 alone.
        let c = cluster(6, [(0, 1), (1, 2), (3, 4)].into_iter());
        assert_eq!(c.person, [0, 0, 0, 1, 1, 2]);
        assert_eq!(c.sizes, [3, 2, 1]);
        assert!(c.large.is_empty());
        // 200 pairs of two and one chain of 40: the chain is reported.
        let mut pairs: Vec<(u32, u32)> = (0..200).map(|k| (2 * k, 2 * k + 1)).collect();
        pairs.extend((400..439).map(|k| (k, k + 1)));
        let c = cluster(440, pairs.into_iter());
        assert_eq!(c.large_above, 8);
        assert_eq!(c.large.len(), 1);
        assert_eq!(c.sizes[c.large[0] as usize], 40);
    }

    #[test]
    fn recall_estimate_by_hand() {
        // Key 0 finds 4 of the 5 accepted pairs key 1 finds; key 1 finds 4 of the 5 key 0
        // finds. Misses: (1 - 4/5) x (1 - 4/5) = 0.04.
        let c = Candidates {
            pairs: vec![(0, 1); 6],
            keys: vec![0b11, 0b11, 0b11, 0b11, 0b01, 0b10],
            used: vec![
                blocking::Key {
                    name: "a".into(),
                    parts: vec![],
                    window: None,
                },
                blocking::Key {
                    name: "b".into(),
                    parts: vec![],
                    window: None,
                },
            ],
            report: vec![],
        };
        let r = estimate_recall(&c, &[0, 1, 2, 3, 4, 5]).unwrap();
        assert!((r - 0.96).abs() < 1e-12, "{r}");
        let one = Candidates {
            used: c.used[..1].to_vec(),
            ..c.clone()
        };
        assert_eq!(estimate_recall(&one, &[0]), None);
    }

    fn people(n: usize, offset: usize) -> DataFrame {
        // Common surname for most, a rare one for a few; birth dates spread.
        let ids: Vec<String> = (0..n).map(|i| format!("R{}", i + offset)).collect();
        let first: Vec<String> = (0..n)
            .map(|i| ["ann", "bob", "cat", "dan", "eve"][i % 5].to_string())
            .collect();
        let last: Vec<String> = (0..n)
            .map(|i| {
                if i % 50 == 0 {
                    format!("featherstone{i}")
                } else {
                    ["smith", "jones"][i % 2].to_string()
                }
            })
            .collect();
        let dob: Vec<String> = (0..n)
            .map(|i| format!("19{:02}-{:02}-{:02}", 40 + i % 50, 1 + i % 12, 1 + i % 28))
            .collect();
        df!("id" => ids, "first_name" => first, "surname" => last, "dob" => dob).unwrap()
    }

    /// Agreeing exactly on a rare surname weighs more than on a common one; the waterfall
    /// adds up to the pair's weight; same seed, same pairs on one thread or several.
    #[test]
    fn term_frequencies_explanations_and_determinism() {
        let a = people(500, 0);
        let b = people(500, 0);
        let sources = [(&a, "id"), (&b, "id")];
        let (fields, _) = plan(&sources, None).unwrap();
        let run = |threads: usize| {
            let records = Records::build(&sources, &fields).unwrap();
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| link(records, &Options::default(), &Progress::new()).unwrap())
        };
        let l = run(2);
        let find = |i: u32| {
            l.candidates()
                .pairs
                .iter()
                .position(|&(x, y)| x == i && y == 500 + i)
                .unwrap()
        };
        // Record 0 has a rare surname, record 1 a common one; both pairs agree on all fields.
        let (rare, common) = (find(50), find(1));
        assert!(
            l.weights[rare] > l.weights[common] + 3.0,
            "{} vs {}",
            l.weights[rare],
            l.weights[common]
        );
        for p in [rare, common] {
            let sum: f64 = explain(&l, p).iter().map(|x| x.2).sum();
            assert!(
                (sum - l.weights[p]).abs() < 1e-9,
                "{sum} vs {}",
                l.weights[p]
            );
        }
        let one = run(1);
        assert_eq!(one.candidates().pairs, l.candidates().pairs);
        assert_eq!(one.accepted, l.accepted);
        assert_eq!(one.weights, l.weights);

        // Labels: a pair labelled "different" is not accepted whatever its probability, one
        // labelled "same" is; m moves towards the labelled pairs' levels.
        let (i, j) = l.candidates().pairs[rare];
        let top = l.accepted[0];
        let (a, b) = l.candidates().pairs[top];
        let weakest = (0..l.weights.len())
            .min_by(|&x, &y| l.weights[x].total_cmp(&l.weights[y]))
            .unwrap();
        let (c, d) = l.candidates().pairs[weakest];
        assert!(l.probabilities[weakest] < 0.5);
        let labels = vec![(i, j, false), (c, d, true), (a, b, true)];
        let r = relabel(&l, &labels, l.threshold);
        assert!(!r.accepted.contains(&rare));
        assert!(r.accepted.contains(&weakest));
        assert!(r.accepted.contains(&top));
        let name = r.fields.iter().position(|f| f.field == "name").unwrap();
        let lv = compare_field(r.records(), name, c as usize, d as usize) as usize;
        assert!(
            r.model.m[name][lv] > l.model.m[name][lv],
            "{:?} vs {:?}",
            r.model.m[name],
            l.model.m[name]
        );
        // Blocking and comparisons are shared, not redone.
        assert!(Arc::ptr_eq(&r.base, &l.base));
    }
}
