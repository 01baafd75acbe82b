//! Frequent itemsets over [`Baskets`]: FP-Growth (the default) and Apriori (for comparison and
//! teaching), with the same output.
//!
//! Why hand-written: no maintained crate fits (shared/STACK.md: fp-growth 0.1.6 is
//! unmaintained and has no rule metrics; the other candidate drags in an S3 SDK and a web
//! server). Items are interned to `u32` ids once, so the mining loops never touch strings.
//!
//! Support is `count / n` with `n` the number of baskets; an itemset is frequent when its
//! count is at least `min_count` (see [`min_count_for`] for a fractional `min_support`,
//! inclusive: support >= min_support). Itemsets come out sorted (by length, then item ids),
//! each with its items in ascending id order, so both algorithms give identical vectors.

use std::collections::HashMap;

use rayon::prelude::*;
use serde::Serialize;

use super::error::AnalyticsError;
use crate::data::features::baskets::Baskets;
use crate::progress::Progress;

/// The smallest count whose support `count / n` is at least `min_support` (in the same
/// floating-point division the reported supports use, so "inclusive" holds exactly).
pub fn min_count_for(min_support: f64, n: usize) -> u64 {
    let n_f = n as f64;
    let mut c = (min_support * n_f).floor().max(0.0) as u64;
    while c > 0 && (c - 1) as f64 / n_f >= min_support {
        c -= 1;
    }
    while (c as f64 / n_f) < min_support {
        c += 1;
    }
    c.max(1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    #[default]
    FpGrowth,
    Apriori,
}

crate::choice!(Algorithm { FpGrowth => "fpgrowth", Apriori => "apriori" });

#[derive(Debug, Clone, PartialEq)]
pub struct ItemsetParams {
    /// An itemset is frequent when at least this many baskets contain it.
    pub min_count: u64,
    /// Longest itemset to look for (None: no limit).
    pub max_len: Option<usize>,
    /// Stop with an error past this many itemsets.
    pub limit: usize,
    pub algorithm: Algorithm,
}

/// A frequent itemset: ascending item ids and the number of baskets that contain them all.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Itemset {
    pub items: Vec<u32>,
    pub count: u64,
}

fn too_many(limit: usize) -> AnalyticsError {
    AnalyticsError::TooMany {
        what: "frequent itemsets",
        limit,
        advice: "raise min_support (or min_count) or set max_len",
    }
}

/// The frequent itemsets of `baskets`, sorted by length and then items.
pub fn frequent_itemsets(
    baskets: &Baskets,
    p: &ItemsetParams,
    progress: &Progress,
) -> Result<Vec<Itemset>, AnalyticsError> {
    if p.min_count == 0 {
        return Err(AnalyticsError::Input("min_count must be at least 1".into()));
    }
    if p.max_len == Some(0) {
        return Err(AnalyticsError::Input("max_len must be at least 1".into()));
    }
    let mut out = match p.algorithm {
        Algorithm::FpGrowth => fp_growth(baskets, p, progress)?,
        Algorithm::Apriori => apriori(baskets, p, progress)?,
    };
    out.sort_by(|a, b| {
        a.items
            .len()
            .cmp(&b.items.len())
            .then(a.items.cmp(&b.items))
    });
    Ok(out)
}

/// Counts of every item.
fn item_counts(baskets: &Baskets) -> Vec<u64> {
    let mut counts = vec![0u64; baskets.items.len()];
    for &i in &baskets.data {
        counts[i as usize] += 1;
    }
    counts
}

// ---------------------------------------------------------------------------------------
// FP-Growth

/// An FP-tree over item ranks (0 = most frequent), as flat arrays; node 0 is the root.
struct FpTree {
    item: Vec<u32>,
    count: Vec<u64>,
    parent: Vec<u32>,
    /// Nodes of each rank.
    header: Vec<Vec<u32>>,
    /// (parent node, rank) -> child node, while building.
    children: HashMap<(u32, u32), u32, foldhash::fast::FixedState>,
}

impl FpTree {
    fn new(ranks: usize) -> FpTree {
        FpTree {
            item: vec![u32::MAX],
            count: vec![0],
            parent: vec![u32::MAX],
            header: vec![Vec::new(); ranks],
            children: HashMap::with_hasher(foldhash::fast::FixedState::with_seed(7)),
        }
    }

    /// Adds a path of ranks (ascending: most frequent first) with weight `w`.
    fn insert(&mut self, path: &[u32], w: u64) {
        let mut node = 0u32;
        for &r in path {
            node = match self.children.get(&(node, r)) {
                Some(&c) => {
                    self.count[c as usize] += w;
                    c
                }
                None => {
                    let c = self.item.len() as u32;
                    self.item.push(r);
                    self.count.push(w);
                    self.parent.push(node);
                    self.header[r as usize].push(c);
                    self.children.insert((node, r), c);
                    c
                }
            };
        }
    }

    /// True when every node has at most one child (the tree is one path).
    fn single_path(&self) -> bool {
        let mut seen = vec![false; self.item.len()];
        for &p in self.parent.iter().skip(1) {
            if seen[p as usize] {
                return false;
            }
            seen[p as usize] = true;
        }
        true
    }
}

struct Miner<'a> {
    min_count: u64,
    max_len: usize,
    limit: usize,
    /// Rank -> item id.
    item_of_rank: &'a [u32],
    out: Vec<Itemset>,
    progress: &'a Progress,
}

impl Miner<'_> {
    fn emit(&mut self, suffix: &[u32], count: u64) -> Result<(), AnalyticsError> {
        if self.out.len() >= self.limit {
            return Err(too_many(self.limit));
        }
        // Deep recursions under one item can be long: look at the cancel flag as they go.
        if self.out.len() % 4096 == 4095 {
            self.progress
                .check()
                .map_err(|_| AnalyticsError::Cancelled)?;
        }
        let mut items: Vec<u32> = suffix
            .iter()
            .map(|&r| self.item_of_rank[r as usize])
            .collect();
        items.sort_unstable();
        self.out.push(Itemset { items, count });
        Ok(())
    }

    /// Mines `tree` (its ranks are global) for itemsets extending `suffix`.
    fn mine(&mut self, tree: &FpTree, suffix: &mut Vec<u32>) -> Result<(), AnalyticsError> {
        if suffix.len() >= self.max_len {
            return Ok(());
        }
        if tree.single_path() {
            return self.mine_path(tree, suffix);
        }
        // Least frequent rank first.
        for r in (0..tree.header.len()).rev() {
            let nodes = &tree.header[r];
            if nodes.is_empty() {
                continue;
            }
            let support: u64 = nodes.iter().map(|&n| tree.count[n as usize]).sum();
            if support < self.min_count {
                continue;
            }
            if suffix.is_empty() {
                self.progress.advance(1);
                self.progress
                    .check()
                    .map_err(|_| AnalyticsError::Cancelled)?;
            }
            suffix.push(r as u32);
            self.emit(suffix, support)?;
            if suffix.len() < self.max_len {
                // The conditional pattern base: every prefix path above a node of rank r.
                let mut counts = vec![0u64; r];
                let mut paths: Vec<(Vec<u32>, u64)> = Vec::with_capacity(nodes.len());
                for &n in nodes {
                    let w = tree.count[n as usize];
                    let mut path = Vec::new();
                    let mut p = tree.parent[n as usize];
                    while p != 0 {
                        let pr = tree.item[p as usize];
                        path.push(pr);
                        counts[pr as usize] += w;
                        p = tree.parent[p as usize];
                    }
                    if !path.is_empty() {
                        path.reverse();
                        paths.push((path, w));
                    }
                }
                if counts.iter().any(|&c| c >= self.min_count) {
                    let mut sub = FpTree::new(r);
                    let mut kept = Vec::new();
                    for (path, w) in &paths {
                        kept.clear();
                        kept.extend(
                            path.iter()
                                .copied()
                                .filter(|&x| counts[x as usize] >= self.min_count),
                        );
                        if !kept.is_empty() {
                            sub.insert(&kept, *w);
                        }
                    }
                    sub.children = HashMap::default();
                    self.mine(&sub, suffix)?;
                }
            }
            suffix.pop();
        }
        Ok(())
    }

    /// A single path: every combination of its frequent nodes, with the count of the
    /// deepest node chosen.
    fn mine_path(&mut self, tree: &FpTree, suffix: &mut Vec<u32>) -> Result<(), AnalyticsError> {
        // Nodes in path order (root side first) with their counts; counts never grow downwards.
        let mut path: Vec<(u32, u64)> = Vec::new();
        let mut node = (1..tree.item.len()).find(|&n| tree.parent[n] == 0);
        while let Some(n) = node {
            if tree.count[n] < self.min_count {
                break;
            }
            path.push((tree.item[n], tree.count[n]));
            node = (n + 1..tree.item.len()).find(|&c| tree.parent[c] as usize == n);
        }
        let room = self.max_len - suffix.len();
        // Choose subsets by recursion over the path, deepest chosen node sets the count.
        fn rec(
            m: &mut Miner<'_>,
            path: &[(u32, u64)],
            from: usize,
            room: usize,
            suffix: &mut Vec<u32>,
        ) -> Result<(), AnalyticsError> {
            if room == 0 {
                return Ok(());
            }
            for i in from..path.len() {
                suffix.push(path[i].0);
                m.emit(suffix, path[i].1)?;
                rec(m, path, i + 1, room - 1, suffix)?;
                suffix.pop();
            }
            Ok(())
        }
        rec(self, &path, 0, room, suffix)
    }
}

fn fp_growth(
    baskets: &Baskets,
    p: &ItemsetParams,
    progress: &Progress,
) -> Result<Vec<Itemset>, AnalyticsError> {
    let counts = item_counts(baskets);
    // Frequent items ranked by descending count (ties: lower id first).
    let mut frequent: Vec<u32> = (0..counts.len() as u32)
        .filter(|&i| counts[i as usize] >= p.min_count)
        .collect();
    frequent.sort_by(|a, b| counts[*b as usize].cmp(&counts[*a as usize]).then(a.cmp(b)));
    let mut rank_of = vec![u32::MAX; counts.len()];
    for (r, &i) in frequent.iter().enumerate() {
        rank_of[i as usize] = r as u32;
    }
    progress.start("frequent itemsets (FP-Growth)", frequent.len() as u64 + 1);
    let mut tree = FpTree::new(frequent.len());
    let mut path = Vec::new();
    for (t, basket) in baskets.iter().enumerate() {
        if t % 65_536 == 0 {
            progress.check().map_err(|_| AnalyticsError::Cancelled)?;
        }
        path.clear();
        path.extend(
            basket
                .iter()
                .map(|&i| rank_of[i as usize])
                .filter(|&r| r != u32::MAX),
        );
        path.sort_unstable();
        if !path.is_empty() {
            tree.insert(&path, 1);
        }
    }
    tree.children = HashMap::default();
    progress.advance(1);
    let mut miner = Miner {
        min_count: p.min_count,
        max_len: p.max_len.unwrap_or(usize::MAX),
        limit: p.limit,
        item_of_rank: &frequent,
        out: Vec::new(),
        progress,
    };
    miner.mine(&tree, &mut Vec::new())?;
    Ok(miner.out)
}

// ---------------------------------------------------------------------------------------
// Apriori

/// Apriori's candidates counted at a time (see the level loop).
const CANDIDATE_CHUNK: usize = 16_384;

fn apriori(
    baskets: &Baskets,
    p: &ItemsetParams,
    progress: &Progress,
) -> Result<Vec<Itemset>, AnalyticsError> {
    let counts = item_counts(baskets);
    let max_len = p.max_len.unwrap_or(usize::MAX);
    let mut out: Vec<Itemset> = Vec::new();
    let mut level: Vec<Itemset> = (0..counts.len() as u32)
        .filter(|&i| counts[i as usize] >= p.min_count)
        .map(|i| Itemset {
            items: vec![i],
            count: counts[i as usize],
        })
        .collect();
    progress.start("frequent itemsets (Apriori)", 0);
    // Baskets reduced to their frequent items.
    let frequent: Vec<bool> = counts.iter().map(|&c| c >= p.min_count).collect();
    let reduced: Vec<Vec<u32>> = baskets
        .iter()
        .map(|b| {
            b.iter()
                .copied()
                .filter(|&i| frequent[i as usize])
                .collect()
        })
        .collect();
    let mut k = 1;
    while !level.is_empty() {
        if out.len() + level.len() > p.limit {
            return Err(too_many(p.limit));
        }
        out.extend(level.iter().cloned());
        if k >= max_len {
            break;
        }
        progress.label(&format!(
            "frequent itemsets (Apriori): {} of size {k}",
            level.len()
        ));
        progress.check().map_err(|_| AnalyticsError::Cancelled)?;
        // Candidates: join itemsets sharing their first k - 1 items; keep those whose every
        // k-subset is frequent. They are counted a chunk at a time and the frequent ones
        // join the next level as they are found, so the limit stops a dense level (millions
        // of candidates) as soon as it is passed, as FP-Growth stops, instead of after
        // building and counting all of them.
        let known: std::collections::HashSet<&[u32]> =
            level.iter().map(|s| s.items.as_slice()).collect();
        let done = out.len();
        let mut next: Vec<Itemset> = Vec::new();
        let mut chunk: Vec<Vec<u32>> = Vec::with_capacity(CANDIDATE_CHUNK);
        let count_chunk =
            |chunk: &mut Vec<Vec<u32>>, next: &mut Vec<Itemset>| -> Result<(), AnalyticsError> {
                // Count: each basket against each candidate (a sorted merge test), blocks of
                // baskets on all cores (whole numbers: the same counts on any thread count).
                let counted: Vec<Vec<u64>> = reduced
                    .par_chunks(1024)
                    .map(|block| {
                        let mut counts = vec![0u64; chunk.len()];
                        if progress.is_cancelled() {
                            return counts;
                        }
                        for b in block.iter().filter(|b| b.len() > k) {
                            for (c, cand) in chunk.iter().enumerate() {
                                if contains_sorted(b, cand) {
                                    counts[c] += 1;
                                }
                            }
                        }
                        counts
                    })
                    .collect();
                progress.check().map_err(|_| AnalyticsError::Cancelled)?;
                let mut counts = vec![0u64; chunk.len()];
                for block in counted {
                    for (a, b) in counts.iter_mut().zip(block) {
                        *a += b;
                    }
                }
                next.extend(
                    chunk
                        .drain(..)
                        .zip(counts)
                        .filter(|(_, n)| *n >= p.min_count)
                        .map(|(items, count)| Itemset { items, count }),
                );
                if done + next.len() > p.limit {
                    return Err(too_many(p.limit));
                }
                Ok(())
            };
        for (a, sa) in level.iter().enumerate() {
            for sb in &level[a + 1..] {
                if sa.items[..k - 1] != sb.items[..k - 1] {
                    break;
                }
                let mut c = sa.items.clone();
                c.push(sb.items[k - 1]);
                let all_frequent = (0..c.len()).all(|skip| {
                    let sub: Vec<u32> = c
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != skip)
                        .map(|(_, v)| *v)
                        .collect();
                    known.contains(sub.as_slice())
                });
                if all_frequent {
                    chunk.push(c);
                    if chunk.len() == CANDIDATE_CHUNK {
                        count_chunk(&mut chunk, &mut next)?;
                    }
                }
            }
        }
        if !chunk.is_empty() {
            count_chunk(&mut chunk, &mut next)?;
        }
        level = next;
        level.sort_by(|a, b| a.items.cmp(&b.items));
        k += 1;
    }
    Ok(out)
}

/// Whether sorted `hay` contains every item of sorted `needle`.
fn contains_sorted(hay: &[u32], needle: &[u32]) -> bool {
    let mut h = hay.iter();
    'outer: for n in needle {
        for x in h.by_ref() {
            if x == n {
                continue 'outer;
            }
            if x > n {
                return false;
            }
        }
        return false;
    }
    true
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Every itemset with at least `min_count` baskets, by enumerating all subsets of items.
    pub(crate) fn brute_force(b: &Baskets, min_count: u64, max_len: usize) -> Vec<Itemset> {
        let m = b.items.len();
        assert!(m <= 16, "brute force is for small item sets");
        let mut out = Vec::new();
        for mask in 1u32..(1 << m) {
            let items: Vec<u32> = (0..m as u32).filter(|i| mask & (1 << i) != 0).collect();
            if items.len() > max_len {
                continue;
            }
            let count = b.iter().filter(|t| contains_sorted(t, &items)).count() as u64;
            if count >= min_count {
                out.push(Itemset { items, count });
            }
        }
        out.sort_by(|a, b| {
            a.items
                .len()
                .cmp(&b.items.len())
                .then(a.items.cmp(&b.items))
        });
        out
    }

    pub(crate) fn random_baskets(seed: u64, n: usize, m: usize, density: f64) -> Baskets {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let items = (0..m).map(|i| format!("i{i:02}")).collect();
        let mut pairs = Vec::new();
        for t in 0..n {
            for i in 0..m as u32 {
                // Skewed: lower ids are more popular.
                if rng.r#gen::<f64>() < density / (1.0 + i as f64 * 0.3) {
                    pairs.push((t, i));
                }
            }
        }
        Baskets::from_ids(items, n, pairs)
    }

    fn params(min_count: u64, max_len: Option<usize>, algorithm: Algorithm) -> ItemsetParams {
        ItemsetParams {
            min_count,
            max_len,
            limit: 1_000_000,
            algorithm,
        }
    }

    /// The textbook example (Han, Kamber & Pei, table 6.1): nine transactions, min count 2.
    fn textbook() -> Baskets {
        let t = [
            vec!["I1", "I2", "I5"],
            vec!["I2", "I4"],
            vec!["I2", "I3"],
            vec!["I1", "I2", "I4"],
            vec!["I1", "I3"],
            vec!["I2", "I3"],
            vec!["I1", "I3"],
            vec!["I1", "I2", "I3", "I5"],
            vec!["I1", "I2", "I3"],
        ];
        let names: Vec<String> = (0..t.len())
            .map(|i| format!("T{}", 100 * (i + 1)))
            .collect();
        Baskets::from_pairs(
            t.iter()
                .zip(&names)
                .flat_map(|(items, name)| items.iter().map(move |i| (name.as_str(), *i))),
        )
    }

    #[test]
    fn textbook_example_by_hand() {
        let b = textbook();
        assert_eq!(b.items, vec!["I1", "I2", "I3", "I4", "I5"]);
        assert_eq!(b.len(), 9);
        for algorithm in [Algorithm::FpGrowth, Algorithm::Apriori] {
            let got = frequent_itemsets(&b, &params(2, None, algorithm), &Progress::new()).unwrap();
            let named: Vec<(String, u64)> = got
                .iter()
                .map(|s| {
                    let names: Vec<&str> = s
                        .items
                        .iter()
                        .map(|&i| b.items[i as usize].as_str())
                        .collect();
                    (names.join(","), s.count)
                })
                .collect();
            // The book's L1, L2 and L3.
            let want: Vec<(&str, u64)> = vec![
                ("I1", 6),
                ("I2", 7),
                ("I3", 6),
                ("I4", 2),
                ("I5", 2),
                ("I1,I2", 4),
                ("I1,I3", 4),
                ("I1,I5", 2),
                ("I2,I3", 4),
                ("I2,I4", 2),
                ("I2,I5", 2),
                ("I1,I2,I3", 2),
                ("I1,I2,I5", 2),
            ];
            let want: Vec<(String, u64)> =
                want.into_iter().map(|(s, c)| (s.to_string(), c)).collect();
            assert_eq!(named, want, "{algorithm:?}");
        }
    }

    #[test]
    fn both_algorithms_equal_brute_force_on_many_seeds() {
        for seed in 0..40u64 {
            let m = 6 + (seed % 7) as usize;
            let b = random_baskets(seed, 60 + seed as usize * 3, m, 0.6);
            for min_count in [1u64, 2, 5, 12] {
                for max_len in [None, Some(2), Some(3)] {
                    let want = brute_force(&b, min_count, max_len.unwrap_or(usize::MAX));
                    for algorithm in [Algorithm::FpGrowth, Algorithm::Apriori] {
                        let got = frequent_itemsets(
                            &b,
                            &params(min_count, max_len, algorithm),
                            &Progress::new(),
                        )
                        .unwrap();
                        assert_eq!(
                            got, want,
                            "seed {seed}, min_count {min_count}, max_len {max_len:?}, {algorithm:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn duplicates_in_a_basket_count_once_and_ids_sort_like_names() {
        let b = Baskets::from_pairs([
            ("o1", "milk"),
            ("o1", "bread"),
            ("o1", "milk"),
            ("o2", "bread"),
        ]);
        assert_eq!(b.items, vec!["bread", "milk"]);
        assert_eq!(b.keys, vec!["o1", "o2"]);
        assert_eq!(b.basket(0), &[0, 1]);
        assert_eq!(b.basket(1), &[0]);
        let got =
            frequent_itemsets(&b, &params(1, None, Algorithm::FpGrowth), &Progress::new()).unwrap();
        assert_eq!(
            got[1],
            Itemset {
                items: vec![1],
                count: 1
            }
        );
    }

    #[test]
    fn min_count_for_is_inclusive() {
        // 0.001 * 1,000,000 is 1000.0000000000001 in floating point: 1000 baskets must do.
        assert_eq!(min_count_for(0.001, 1_000_000), 1000);
        assert_eq!(min_count_for(0.5, 9), 5);
        assert_eq!(min_count_for(0.2, 10), 2);
        assert_eq!(min_count_for(1.0, 7), 7);
        assert_eq!(min_count_for(1e-9, 10), 1);
        for n in [3usize, 7, 10, 997] {
            for k in 1..20 {
                let s = k as f64 / 20.0;
                let c = min_count_for(s, n);
                assert!(c as f64 / n as f64 >= s && (c - 1) as f64 / (n as f64) < s);
            }
        }
    }

    #[test]
    fn explosion_stops_with_advice() {
        // Every basket holds all 12 items: 4095 itemsets at min count 1.
        let b = Baskets::from_ids(
            (0..12).map(|i| i.to_string()).collect(),
            3,
            (0..3).flat_map(|t| (0..12u32).map(move |i| (t, i))),
        );
        for algorithm in [Algorithm::FpGrowth, Algorithm::Apriori] {
            let p = ItemsetParams {
                limit: 1000,
                ..params(1, None, algorithm)
            };
            let e = frequent_itemsets(&b, &p, &Progress::new()).unwrap_err();
            assert!(e.to_string().contains("raise min_support"), "{e}");
            let p = ItemsetParams {
                limit: 1000,
                ..params(1, Some(2), algorithm)
            };
            assert_eq!(
                frequent_itemsets(&b, &p, &Progress::new()).unwrap().len(),
                12 + 66
            );
        }
    }

    /// Dense baskets at min count 1: the limit falls inside a level whose candidates far
    /// outnumber it (40 items in every basket: 102,090 itemsets up to size 4, 658,008 of size
    /// 5). Apriori stops there with FP-Growth's error instead of building and counting every
    /// candidate of the level first (which ran for minutes in 500 MB).
    #[test]
    fn apriori_honours_the_limit_inside_a_dense_level() {
        let b = Baskets::from_ids(
            (0..40).map(|i| format!("i{i:02}")).collect(),
            20,
            (0..20).flat_map(|t| (0..40u32).map(move |i| (t, i))),
        );
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let errors: Vec<String> = [Algorithm::FpGrowth, Algorithm::Apriori]
                .into_iter()
                .map(|algorithm| {
                    let p = ItemsetParams {
                        limit: 200_000,
                        ..params(1, None, algorithm)
                    };
                    match frequent_itemsets(&b, &p, &Progress::new()) {
                        Ok(sets) => format!("{} itemsets", sets.len()),
                        Err(e) => e.to_string(),
                    }
                })
                .collect();
            let _ = tx.send(errors);
        });
        // A guard against the old behaviour, not a timing test: it stops in well under a
        // second.
        let errors = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("mining stops at the limit");
        assert_eq!(errors[0], errors[1]);
        assert!(
            errors[1].starts_with("more than 200000 frequent itemsets"),
            "{errors:?}"
        );
    }

    #[test]
    fn cancelling_stops_mining() {
        let b = random_baskets(1, 5000, 12, 0.7);
        let progress = Progress::new();
        progress.cancel();
        for algorithm in [Algorithm::FpGrowth, Algorithm::Apriori] {
            let e = frequent_itemsets(&b, &params(1, None, algorithm), &progress).unwrap_err();
            assert_eq!(e, AnalyticsError::Cancelled);
        }
    }
}

#[cfg(test)]
mod timing {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Not a test of behaviour: `cargo test --release --lib -- --ignored fp_growth_speed
    /// --nocapture` times FP-Growth on 1,000,000 baskets over 2,000 Zipf-popular items.
    #[test]
    #[ignore]
    fn fp_growth_speed() {
        let (n, m) = (1_000_000usize, 2000usize);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        // Zipf(1) popularity by inverse transform on the cumulative weights.
        let weights: Vec<f64> = (1..=m).map(|r| 1.0 / r as f64).collect();
        let total: f64 = weights.iter().sum();
        let mut cum = Vec::with_capacity(m);
        let mut acc = 0.0;
        for w in &weights {
            acc += w / total;
            cum.push(acc);
        }
        let mut pairs = Vec::new();
        for t in 0..n {
            let size = 1 + rng.gen_range(0..8);
            for _ in 0..size {
                let u: f64 = rng.r#gen();
                let i = cum.partition_point(|&c| c < u).min(m - 1);
                pairs.push((t, i as u32));
            }
        }
        let b = Baskets::from_ids((0..m).map(|i| format!("item{i}")).collect(), n, pairs);
        {
            let algorithm = Algorithm::FpGrowth;
            let t = std::time::Instant::now();
            let p = ItemsetParams {
                min_count: min_count_for(0.001, n),
                max_len: None,
                limit: 10_000_000,
                algorithm,
            };
            let sets = frequent_itemsets(&b, &p, &Progress::new()).unwrap();
            let mined = t.elapsed();
            let r = crate::analytics::rules::rules(
                &sets,
                n,
                &crate::analytics::rules::RuleParams::default(),
                &Progress::new(),
            )
            .unwrap();
            println!(
                "{algorithm:?}: {} itemsets in {mined:?}, {} rules in {:?} more",
                sets.len(),
                r.len(),
                t.elapsed() - mined
            );
        }
    }
}
