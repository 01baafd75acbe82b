//! Blocking: which pairs are compared at all. Comparing every record with every other is
//! n x m work (10^12 pairs for two sources of a million); a blocking key groups records that
//! agree on something cheap (the same e-mail, the same birth date, surnames that sound
//! alike by Double Metaphone), and only records sharing a key value are paired. The
//! candidate pairs are the union over several keys, so a pair missed by one key (a new
//! e-mail) is caught by another (same name and birth year).
//!
//! Keys are chosen from the fields' cardinality: each possible key's pair count is
//! computed from its block sizes before any pair is made, and a key whose count is above
//! the budget (a key that groups too many records, such as a town on its own) is not used;
//! the report lists every key with its count and whether it was used.
//!
//! A key is either exact (records sharing its value are paired) or a sorted neighbourhood
//! (Hernández and Stolfo): the records are sorted by the key's value, then by source and
//! id, and each is paired with the next `window - 1`. Sorted by family then given name, a
//! typo late in a name ("Smith" / "Smiht") still leaves the two records neighbours, where
//! neither the exact value nor its sound agrees. Its pair count is at most
//! `(window - 1) x records`, whatever the values' cardinality.

use rayon::prelude::*;
use rphonetic::{DoubleMetaphone, Encoder};

use super::fields::Kind;
use super::records::{Records, Values};
use crate::progress::{Cancelled, Progress};

/// What a blocking key is built from, per record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The field's standardised value (a name as given and family name).
    Value(usize),
    /// The Double Metaphone code of a name's family name.
    SurnameSound(usize),
    /// The Double Metaphone code of a name's given name.
    GivenSound(usize),
    /// A name's given-name initial.
    GivenInitial(usize),
    /// A date's year.
    Year(usize),
    /// An e-mail's local part (before the `@`).
    EmailLocal(usize),
    /// A name's family name.
    FamilyName(usize),
    /// A name's given name.
    GivenName(usize),
}

impl Part {
    /// The field the part is built from.
    pub fn field(&self) -> usize {
        match *self {
            Part::Value(f)
            | Part::SurnameSound(f)
            | Part::GivenSound(f)
            | Part::GivenInitial(f)
            | Part::Year(f)
            | Part::EmailLocal(f)
            | Part::FamilyName(f)
            | Part::GivenName(f) => f,
        }
    }
}

/// A blocking key: records agreeing on every part (none of them missing) are paired, or,
/// for a sorted neighbourhood, records near each other in the order of the parts' values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub name: String,
    pub parts: Vec<Part>,
    /// Sorted neighbourhood: each record (in the order of the key's text, then source, then
    /// id) is paired with the next `window - 1`. None: an exact key.
    pub window: Option<usize>,
}

/// The window of the sorted-neighbourhood keys chosen by default: each record meets the
/// next four in the order of its names.
pub const NEIGHBOURHOOD_WINDOW: usize = 5;

/// How one key did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KeyReport {
    pub key: String,
    /// Pairs the key makes on its own.
    pub pairs: u64,
    /// Pairs no key before it made (for the keys used).
    pub new_pairs: u64,
    pub used: bool,
    /// Why a key was not used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Candidate pairs (record indices, the earlier first), sorted, each with the bit set of the
/// keys (by their position among the used keys) that made it.
#[derive(Debug, Clone, Default)]
pub struct Candidates {
    pub pairs: Vec<(u32, u32)>,
    pub keys: Vec<u16>,
    pub used: Vec<Key>,
    pub report: Vec<KeyReport>,
}

/// Which pairs are wanted: across sources only (linking), within a source only when
/// `within`, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Scope {
    pub across: bool,
    pub within: bool,
}

impl Scope {
    pub fn wants(&self, same_source: bool) -> bool {
        if same_source {
            self.within
        } else {
            self.across
        }
    }
}

/// The keys worth trying on these fields, most specific first.
pub fn candidate_keys(records: &Records) -> Vec<Key> {
    let find = |k: Kind| records.fields.iter().position(|f| f.kind == k);
    let national = find(Kind::NationalId);
    let (name, email, phone, dob, town, postcode, street) = (
        find(Kind::Name),
        find(Kind::Email),
        find(Kind::Phone),
        find(Kind::BirthDate),
        find(Kind::Town),
        find(Kind::Postcode),
        find(Kind::Street),
    );
    let mut keys = Vec::new();
    let mut add = |name: &str, parts: Vec<Option<Part>>| {
        if let Some(parts) = parts.into_iter().collect::<Option<Vec<Part>>>() {
            keys.push(Key {
                name: name.to_string(),
                parts,
                window: None,
            });
        }
    };
    add("national_id", vec![national.map(Part::Value)]);
    add("email", vec![email.map(Part::Value)]);
    add("phone", vec![phone.map(Part::Value)]);
    add("birth_date", vec![dob.map(Part::Value)]);
    add(
        "name sound",
        vec![name.map(Part::SurnameSound), name.map(Part::GivenSound)],
    );
    add(
        "name sound + birth year",
        vec![
            name.map(Part::SurnameSound),
            name.map(Part::GivenSound),
            dob.map(Part::Year),
        ],
    );
    add(
        "surname sound + birth_date",
        vec![name.map(Part::SurnameSound), dob.map(Part::Value)],
    );
    add(
        "given name sound + birth_date",
        vec![name.map(Part::GivenSound), dob.map(Part::Value)],
    );
    add("email local part", vec![email.map(Part::EmailLocal)]);
    add(
        "phone + birth year",
        vec![phone.map(Part::Value), dob.map(Part::Year)],
    );
    add("postcode", vec![postcode.map(Part::Value)]);
    add(
        "postcode + initial",
        vec![postcode.map(Part::Value), name.map(Part::GivenInitial)],
    );
    add(
        "name sound + town",
        vec![
            name.map(Part::SurnameSound),
            name.map(Part::GivenSound),
            town.map(Part::Value),
        ],
    );
    add(
        "street + surname sound",
        vec![street.map(Part::Value), name.map(Part::SurnameSound)],
    );
    // Fields of no known kind: each one on its own.
    for (f, field) in records.fields.iter().enumerate() {
        if matches!(field.kind, Kind::Text | Kind::Number) {
            add(&field.name, vec![Some(Part::Value(f))]);
        }
    }
    // Sorted neighbourhoods of the names, both ways round: a typo in the family name keeps
    // the records close in the given-name order, and one in the given name in the other.
    if let Some(n) = name {
        let w = NEIGHBOURHOOD_WINDOW;
        keys.push(Key {
            name: format!("family, given name neighbourhood (window {w})"),
            parts: vec![Part::FamilyName(n), Part::GivenName(n)],
            window: Some(w),
        });
        keys.push(Key {
            name: format!("given, family name neighbourhood (window {w})"),
            parts: vec![Part::GivenName(n), Part::FamilyName(n)],
            window: Some(w),
        });
    }
    keys
}

/// The text of `key` for every record, parts joined by U+0001 (None: a part is missing),
/// as the Spark engine's `key_expr` writes it: what a sorted neighbourhood sorts by.
pub fn key_texts(records: &Records, key: &Key) -> Vec<Option<String>> {
    let dm = DoubleMetaphone::default();
    (0..records.len())
        .into_par_iter()
        .map_init(
            || dm,
            |dm, i| {
                let mut out = String::new();
                for (n, p) in key.parts.iter().enumerate() {
                    let (first, last) = match &records.values[p.field()] {
                        Values::Name { first, last } => (first.get(i), last.get(i)),
                        _ => ("", ""),
                    };
                    let t: std::borrow::Cow<'_, str> = match *p {
                        Part::Value(f) => value_text(records, f, i),
                        Part::SurnameSound(_) if !last.is_empty() => sound_code(dm, last).into(),
                        Part::GivenSound(_) if !first.is_empty() => sound_code(dm, first).into(),
                        Part::SurnameSound(_) | Part::GivenSound(_) => "".into(),
                        Part::GivenInitial(_) => first.chars().take(1).collect::<String>().into(),
                        Part::Year(f) => match &records.values[f] {
                            Values::Date(d) => d[i]
                                .map(|d| chrono::Datelike::year(&d).to_string())
                                .unwrap_or_default()
                                .into(),
                            _ => "".into(),
                        },
                        Part::EmailLocal(f) => {
                            let v = value_text(records, f, i);
                            v.split('@').next().unwrap_or("").to_string().into()
                        }
                        Part::FamilyName(_) => last.into(),
                        Part::GivenName(_) => first.into(),
                    };
                    if t.is_empty() {
                        return None;
                    }
                    if n > 0 {
                        out.push('\u{1}');
                    }
                    out.push_str(&t);
                }
                Some(out)
            },
        )
        .collect()
}

/// A name's sound: its Double Metaphone code (primary), or the name itself when it has
/// none (digits only).
pub fn sound_code(dm: &DoubleMetaphone, name: &str) -> String {
    let c = dm.encode(name);
    if c.is_empty() { name.to_string() } else { c }
}

/// Whether a key making `pairs` pairs is used, given the budget and the keys used before it:
/// Ok, or why not.
pub fn verdict(pairs: u64, budget: u64, used: usize) -> Result<(), String> {
    if pairs == 0 {
        Err("no record shares a value with another".into())
    } else if pairs > budget {
        Err(format!(
            "makes {pairs} pairs, more than the budget of {budget}: too few distinct values"
        ))
    } else if used >= 15 {
        Err("15 keys already used".into())
    } else {
        Ok(())
    }
}

/// The budget of a run over `records` records: 20 pairs per record, at least 100,000.
pub fn default_budget(records: u64) -> u64 {
    (20 * records).max(100_000)
}

/// Double Metaphone codes of names, computed once per distinct name.
struct Sounds {
    given: Vec<u64>,
    family: Vec<u64>,
}

fn sounds(records: &Records, f: usize) -> Sounds {
    let Values::Name { first, last } = &records.values[f] else {
        return Sounds {
            given: vec![0; records.len()],
            family: vec![0; records.len()],
        };
    };
    let code = |texts: &super::records::Texts| -> Vec<u64> {
        let dm = DoubleMetaphone::default();
        let mut cache: foldhash::HashMap<&str, u64> = foldhash::HashMap::default();
        (0..texts.len())
            .map(|i| {
                let v = texts.get(i);
                if v.is_empty() {
                    return 0;
                }
                *cache.entry(v).or_insert_with(|| {
                    xxhash_rust::xxh3::xxh3_64(sound_code(&dm, v).as_bytes()) | 1
                })
            })
            .collect()
    };
    let (given, family) = rayon::join(|| code(first), || code(last));
    Sounds { given, family }
}

/// Each record's hash for `key` (0: a part is missing, no block).
fn hashes(records: &Records, key: &Key, sounds: &[(usize, Sounds)]) -> Vec<u64> {
    let sound = |f: usize| sounds.iter().find(|(g, _)| *g == f).map(|(_, s)| s);
    (0..records.len())
        .into_par_iter()
        .map(|i| {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            for p in &key.parts {
                let ok = match *p {
                    Part::Value(f) => {
                        let v = value_text(records, f, i);
                        h.update(v.as_bytes());
                        !v.is_empty()
                    }
                    Part::SurnameSound(f) | Part::GivenSound(f) => {
                        let s = sound(f).map_or(0, |s| {
                            if matches!(p, Part::SurnameSound(_)) {
                                s.family[i]
                            } else {
                                s.given[i]
                            }
                        });
                        h.update(&s.to_le_bytes());
                        s != 0
                    }
                    Part::GivenInitial(f) => match &records.values[f] {
                        Values::Name { first, .. } => {
                            let c = first.get(i).chars().next();
                            h.update(c.map(|c| c.to_string()).unwrap_or_default().as_bytes());
                            c.is_some()
                        }
                        _ => false,
                    },
                    Part::Year(f) => match &records.values[f] {
                        Values::Date(d) => match d[i] {
                            Some(d) => {
                                h.update(&chrono::Datelike::year(&d).to_le_bytes());
                                true
                            }
                            None => false,
                        },
                        _ => false,
                    },
                    Part::EmailLocal(f) => {
                        let v = value_text(records, f, i);
                        let local = v.split('@').next().unwrap_or("");
                        h.update(local.as_bytes());
                        !local.is_empty()
                    }
                    Part::FamilyName(f) | Part::GivenName(f) => match &records.values[f] {
                        Values::Name { first, last } => {
                            let v = if matches!(p, Part::FamilyName(_)) {
                                last.get(i)
                            } else {
                                first.get(i)
                            };
                            h.update(v.as_bytes());
                            !v.is_empty()
                        }
                        _ => false,
                    },
                };
                if !ok {
                    return 0;
                }
                h.update(&[0xff]);
            }
            h.digest() | 1
        })
        .collect()
}

fn value_text(records: &Records, f: usize, i: usize) -> std::borrow::Cow<'_, str> {
    match &records.values[f] {
        Values::Text(t) => std::borrow::Cow::Borrowed(t.get(i)),
        Values::Name { first, last } if first.get(i).is_empty() || last.get(i).is_empty() => {
            std::borrow::Cow::Borrowed("")
        }
        _ => std::borrow::Cow::Owned(records.text(f, i)),
    }
}

/// Records sorted by hash, with the blocks (runs of one hash) as ranges.
struct Blocks {
    order: Vec<u32>,
    runs: Vec<(usize, usize)>,
}

fn blocks(h: &[u64]) -> Blocks {
    let mut order: Vec<u32> = (0..h.len() as u32)
        .filter(|&i| h[i as usize] != 0)
        .collect();
    order.par_sort_unstable_by_key(|&i| (h[i as usize], i));
    let mut runs = Vec::new();
    let mut s = 0;
    while s < order.len() {
        let mut e = s + 1;
        while e < order.len() && h[order[e] as usize] == h[order[s] as usize] {
            e += 1;
        }
        if e - s > 1 {
            runs.push((s, e));
        }
        s = e;
    }
    Blocks { order, runs }
}

/// What a key groups the records into: blocks of one value, or one sorted order in which
/// each record meets the next `window - 1`.
enum Groups {
    Blocks(Blocks),
    Sorted(Vec<u32>, usize),
}

impl Groups {
    /// The pairs in `scope`, counted without making them.
    fn count(&self, records: &Records, scope: Scope) -> u64 {
        match self {
            Groups::Blocks(b) => b
                .runs
                .par_iter()
                .map(|&(s, e)| block_pairs(records, &b.order[s..e], scope))
                .sum(),
            Groups::Sorted(order, w) => (0..order.len())
                .into_par_iter()
                .map(|x| {
                    let a = records.source_of(order[x] as usize);
                    order[x + 1..(x + w).min(order.len())]
                        .iter()
                        .filter(|&&c| scope.wants(records.source_of(c as usize) == a))
                        .count() as u64
                })
                .sum(),
        }
    }
}

/// The records having every part of `key`, sorted by the key's text, then source, then id
/// (then position, for an id repeated in a source).
fn neighbourhood_order(records: &Records, key: &Key) -> Vec<u32> {
    let texts = key_texts(records, key);
    let mut order: Vec<u32> = (0..records.len() as u32)
        .filter(|&i| texts[i as usize].is_some())
        .collect();
    let sort_key = |i: u32| {
        let i = i as usize;
        (
            texts[i].as_deref(),
            records.source_of(i),
            records.ids[i].as_str(),
        )
    };
    order.par_sort_unstable_by(|&a, &b| sort_key(a).cmp(&sort_key(b)).then(a.cmp(&b)));
    order
}

/// The pairs a block makes in `scope`, counted without making them.
fn block_pairs(records: &Records, members: &[u32], scope: Scope) -> u64 {
    let mut per = vec![0u64; records.sources()];
    for &i in members {
        per[records.source_of(i as usize)] += 1;
    }
    let n: u64 = per.iter().sum();
    let within: u64 = per.iter().map(|c| c * c.saturating_sub(1) / 2).sum();
    let all = n * n.saturating_sub(1) / 2;
    let mut out = 0;
    if scope.within {
        out += within;
    }
    if scope.across {
        out += all - within;
    }
    out
}

/// Builds the candidate pairs: tries each key of `keys` in order, uses those making at most
/// `budget` pairs, and returns the union.
pub fn candidates(
    records: &Records,
    keys: &[Key],
    scope: Scope,
    budget: u64,
    progress: &Progress,
) -> Result<Candidates, Cancelled> {
    let name_fields: Vec<usize> = records
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.kind == Kind::Name)
        .map(|(i, _)| i)
        .collect();
    let sounds: Vec<(usize, Sounds)> = name_fields
        .into_iter()
        .map(|f| (f, sounds(records, f)))
        .collect();
    let mut out = Candidates::default();
    // Pairs packed as (i << 28 | j) << 4 | key, so one sort gives pairs in order with the keys
    // that made each one.
    let mut packed: Vec<u64> = Vec::new();
    for key in keys {
        progress.check()?;
        progress.label(&format!("blocking: {}", key.name));
        let groups = match key.window {
            None => Groups::Blocks(blocks(&hashes(records, key, &sounds))),
            Some(w) => Groups::Sorted(neighbourhood_order(records, key), w.max(2)),
        };
        let pairs = groups.count(records, scope);
        let mut rep = KeyReport {
            key: key.name.clone(),
            pairs,
            new_pairs: 0,
            used: false,
            note: None,
        };
        if let Err(why) = verdict(pairs, budget, out.used.len()) {
            rep.note = Some(why);
        } else {
            let k = out.used.len() as u64;
            rep.used = true;
            out.used.push(key.clone());
            let pack = |a: u32, c: u32| -> Option<u64> {
                let (i, j) = if a < c { (a, c) } else { (c, a) };
                let same = records.source_of(i as usize) == records.source_of(j as usize);
                scope
                    .wants(same)
                    .then_some(((i as u64) << 28 | j as u64) << 4 | k)
            };
            let made: Vec<u64> = match &groups {
                Groups::Blocks(b) => b
                    .runs
                    .par_iter()
                    .flat_map_iter(|&(s, e)| {
                        let m = &b.order[s..e];
                        let mut v = Vec::new();
                        for (x, &a) in m.iter().enumerate() {
                            v.extend(m[x + 1..].iter().filter_map(|&c| pack(a, c)));
                        }
                        v.into_iter()
                    })
                    .collect(),
                Groups::Sorted(order, w) => (0..order.len())
                    .into_par_iter()
                    .flat_map_iter(|x| {
                        let pack = &pack;
                        let end = (x + w).min(order.len());
                        order[x + 1..end]
                            .iter()
                            .filter_map(move |&c| pack(order[x], c))
                    })
                    .collect(),
            };
            packed.extend(made);
        }
        out.report.push(rep);
    }
    progress.label("blocking: merging the keys' pairs");
    packed.par_sort_unstable();
    let mut new_pairs = vec![0u64; out.used.len()];
    let mut s = 0;
    while s < packed.len() {
        let pair = packed[s] >> 4;
        let mut mask = 0u16;
        let mut e = s;
        while e < packed.len() && packed[e] >> 4 == pair {
            mask |= 1 << (packed[e] & 0xf);
            e += 1;
        }
        new_pairs[(packed[s] & 0xf) as usize] += 1;
        out.pairs
            .push(((pair >> 28) as u32, (pair & ((1 << 28) - 1)) as u32));
        out.keys.push(mask);
        s = e;
    }
    for (k, r) in out.report.iter_mut().filter(|r| r.used).enumerate() {
        r.new_pairs = new_pairs[k];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::identity::fields::plan;
    use crate::data::sources::file::{ReadOptions, read_frame};

    /// The key of record `i` as text, computed the plain way (no hashing, no caches):
    /// None when a part is missing.
    fn key_text(records: &Records, key: &Key, i: usize) -> Option<String> {
        let dm = DoubleMetaphone::default();
        let mut out = Vec::new();
        for p in &key.parts {
            let (first, last) = match &records.values[p.field()] {
                Values::Name { first, last } => (first.get(i).to_string(), last.get(i).to_string()),
                _ => (String::new(), String::new()),
            };
            let sound = |s: &str| {
                let c = dm.encode(s);
                if c.is_empty() { s.to_string() } else { c }
            };
            let t = match *p {
                Part::Value(f) => match &records.values[f] {
                    Values::Name { .. } if first.is_empty() || last.is_empty() => String::new(),
                    _ => records.text(f, i),
                },
                Part::SurnameSound(_) if !last.is_empty() => sound(&last),
                Part::GivenSound(_) if !first.is_empty() => sound(&first),
                Part::GivenInitial(_) => first.chars().take(1).collect(),
                Part::Year(f) => records.text(f, i).chars().take(4).collect(),
                Part::EmailLocal(f) => records
                    .text(f, i)
                    .split('@')
                    .next()
                    .unwrap_or("")
                    .to_string(),
                Part::FamilyName(_) => last.clone(),
                Part::GivenName(_) => first.clone(),
                _ => String::new(),
            };
            if t.is_empty() {
                return None;
            }
            out.push(t);
        }
        Some(out.join("\u{1}"))
    }

    fn sample_records(rows: usize) -> Records {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample_data");
        let a = read_frame(&dir.join("customers.csv"), &ReadOptions::default())
            .unwrap()
            .head(Some(rows));
        let b = read_frame(&dir.join("loyalty_members.csv"), &ReadOptions::default())
            .unwrap()
            .head(Some(rows));
        let sources = [(&a, "customer_id"), (&b, "member_id")];
        let (fields, _) = plan(&sources, None).unwrap();
        Records::build(&sources, &fields).unwrap()
    }

    /// Every key's pairs are exactly the pairs of the brute force over all n x m pairs (so a
    /// subset of them, and none missed), linking and deduplicating; the union is the union.
    #[test]
    fn each_key_makes_exactly_the_brute_force_pairs() {
        let r = sample_records(400);
        let keys = candidate_keys(&r);
        assert!(keys.len() >= 8, "{keys:?}");
        assert_eq!(keys.iter().filter(|k| k.window.is_some()).count(), 2);
        for scope in [
            Scope {
                across: true,
                within: false,
            },
            Scope {
                across: true,
                within: true,
            },
        ] {
            let mut union = std::collections::BTreeSet::new();
            for key in &keys {
                let got = candidates(
                    &r,
                    std::slice::from_ref(key),
                    scope,
                    u64::MAX,
                    &Progress::new(),
                )
                .unwrap();
                let texts: Vec<Option<String>> =
                    (0..r.len()).map(|i| key_text(&r, key, i)).collect();
                assert_eq!(key_texts(&r, key), texts, "key {}", key.name);
                let mut brute = Vec::new();
                match key.window {
                    None => {
                        for i in 0..r.len() {
                            for j in i + 1..r.len() {
                                let same = r.source_of(i) == r.source_of(j);
                                if scope.wants(same) && texts[i].is_some() && texts[i] == texts[j] {
                                    brute.push((i as u32, j as u32));
                                }
                            }
                        }
                    }
                    Some(w) => {
                        // Sorted by text, source, id; each record with the next w - 1.
                        let mut sorted: Vec<(String, usize, String, usize)> = (0..r.len())
                            .filter_map(|i| {
                                let t = texts[i].clone()?;
                                Some((t, r.source_of(i), r.ids[i].clone(), i))
                            })
                            .collect();
                        sorted.sort();
                        for x in 0..sorted.len() {
                            for y in x + 1..sorted.len().min(x + w) {
                                let (i, j) =
                                    (sorted[x].3.min(sorted[y].3), sorted[x].3.max(sorted[y].3));
                                if scope.wants(r.source_of(i) == r.source_of(j)) {
                                    brute.push((i as u32, j as u32));
                                }
                            }
                        }
                        brute.sort();
                        assert!(!brute.is_empty(), "key {}", key.name);
                        assert!(brute.len() as u64 <= (w as u64 - 1) * r.len() as u64);
                    }
                }
                assert_eq!(got.pairs, brute, "key {}", key.name);
                assert_eq!(got.report[0].pairs, brute.len() as u64, "key {}", key.name);
                union.extend(brute);
            }
            let all = candidates(&r, &keys, scope, u64::MAX, &Progress::new()).unwrap();
            assert_eq!(all.pairs, union.into_iter().collect::<Vec<_>>());
            // New pairs per key add up to the union.
            let new: u64 = all.report.iter().map(|k| k.new_pairs).sum();
            assert_eq!(new, all.pairs.len() as u64);
        }
    }

    #[test]
    fn a_key_above_the_budget_is_reported_and_not_used() {
        let r = sample_records(400);
        let keys = candidate_keys(&r);
        let c = candidates(
            &r,
            &keys,
            Scope {
                across: true,
                within: false,
            },
            50,
            &Progress::new(),
        )
        .unwrap();
        for k in &c.report {
            assert_eq!(k.used, k.pairs > 0 && k.pairs <= 50, "{k:?}");
            if k.pairs > 50 {
                assert!(k.note.as_deref().unwrap().contains("budget of 50"), "{k:?}");
            }
        }
    }
}
