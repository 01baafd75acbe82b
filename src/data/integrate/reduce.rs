//! The per-customer reduction of a streamed activity source: polars parses the file and
//! prepares each row (key, parsed date, amount, validity flags) as a lazy plan on the
//! streaming engine; batches arrive here in file order and are folded into one accumulator
//! per customer.
//!
//! Why hand-written instead of a polars `group_by`: on the benchmark set (1M customers, 16M
//! order lines) the polars plan that also removes exact duplicate rows and counts distinct
//! orders and categories per customer ran 10-25 s at 2.7-4.8 GB peak, because exact
//! de-duplication and each distinct count become group-bys over millions of (row) keys. Here a
//! row is a 128-bit fingerprint in one hash set (see [`crate::data::integrate::dedup`]), a customer's distinct
//! orders are fingerprints of (customer, order) in another, categories are bits, and each
//! customer is one small struct: memory grows with customers and distinct rows, not with the
//! width of the data, and one pass does every count. Rows arrive in file order, so sums are
//! deterministic.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use polars::prelude::*;

use crate::data::integrate::aggregate::{DISTINCT, Duplicates, KEPT, KEY, READ, Role};
use crate::data::integrate::dedup::{Fingerprint, PrintSet, row_fingerprints};
use crate::data::sources::workspace::InvalidPolicy;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

/// Prepared column names the reducer reads.
pub mod prep {
    pub const DATE: &str = "__date";
    pub const BAD_DATE: &str = "__bad_date";
    pub const ORDER: &str = "__order";
    pub const CATEGORY: &str = "__cat";
    pub const AMOUNT: &str = "__amount";
    pub const BAD_QTY: &str = "__bad_qty";
    pub const BAD_PRICE: &str = "__bad_price";
    /// Numeric values of tickets and sessions (`__v0`, `__v1`) and their range flags.
    pub fn value(i: usize) -> String {
        format!("__v{i}")
    }
    pub fn bad_value(i: usize) -> String {
        format!("__badv{i}")
    }
}

/// Output names of a ticket or session reduction.
#[derive(Debug, Clone, Default)]
pub struct OtherNames {
    pub count: String,
    pub means: Vec<String>,
    pub last: String,
}

/// One customer's running counts, sums and dates in one source.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Acc {
    pub read: u64,
    pub distinct: u64,
    pub kept: u64,
    /// Rule violations: orders [date, quantity, price]; others [date, value 0, value 1].
    pub bad: [u64; 3],
    pub sum: [f64; 2],
    pub count: [u64; 2],
    pub min_date: Option<i32>,
    pub max_date: Option<i32>,
    pub orders: u64,
    pub categories: u64,
    pub more_categories: Vec<u32>,
}

impl Acc {
    fn add_date(&mut self, d: i32) {
        self.min_date = Some(self.min_date.map_or(d, |m| m.min(d)));
        self.max_date = Some(self.max_date.map_or(d, |m| m.max(d)));
    }

    fn add_category(&mut self, id: u32) {
        if id < 64 {
            self.categories |= 1 << id;
        } else if let Err(pos) = self.more_categories.binary_search(&id) {
            self.more_categories.insert(pos, id);
        }
    }

    fn distinct_categories(&self) -> u64 {
        self.categories.count_ones() as u64 + self.more_categories.len() as u64
    }

    /// The categories this customer bought from: ids below 64 as bits, the rest listed.
    pub fn categories(&self) -> (u64, &[u32]) {
        (self.categories, &self.more_categories)
    }

    pub fn set_categories(&mut self, mask: u64, more: Vec<u32>) {
        self.categories = mask;
        self.more_categories = more;
    }

    /// The category ids renamed by `by_id` (an id's new id).
    fn remap_categories(&mut self, by_id: &[u32]) {
        let (mask, more) = (self.categories, std::mem::take(&mut self.more_categories));
        self.categories = 0;
        let mut bits = mask;
        while bits != 0 {
            let i = bits.trailing_zeros();
            bits &= bits - 1;
            self.add_category(by_id[i as usize]);
        }
        for id in more {
            self.add_category(by_id[id as usize]);
        }
    }
}

/// Fingerprints an earlier run saw (rows, or a customer's orders), sorted: what an
/// incremental run checks new rows against instead of reading the old ones again.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Sorted segments (one per earlier run that added any): raw little-endian u128.
    pub segments: Vec<std::sync::Arc<Store>>,
}

impl Seen {
    pub fn contains(&self, p: u128) -> bool {
        self.segments
            .iter()
            .any(|s| find(s.words(0, s.len() / 16), p))
    }

    /// For each of `prints`, whether an earlier run saw it. The prints are looked up in
    /// ascending order, each search going on from where the last one ended: one pass
    /// forward through each segment, instead of a probe at a random place of hundreds of
    /// megabytes for every print (which cost more than the rest of folding the lines).
    pub fn contains_each(&self, prints: &[u128]) -> Vec<bool> {
        let mut out = vec![false; prints.len()];
        if self.segments.is_empty() || prints.is_empty() {
            return out;
        }
        let mut order: Vec<u32> = (0..prints.len() as u32).collect();
        order.sort_unstable_by_key(|&i| prints[i as usize]);
        for segment in &self.segments {
            let s = segment.words(0, segment.len() / 16);
            let mut lo = 0;
            for &i in &order {
                let p = prints[i as usize];
                let at = seek(s, lo, p);
                if at < s.len() && s[at] == p {
                    out[i as usize] = true;
                }
                lo = at;
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.segments.iter().map(|s| s.len() / 16).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

// The state's files are little-endian and read in place (see `Store`).
const _: () = assert!(
    cfg!(target_endian = "little"),
    "the incremental state is read in place as little-endian words"
);

/// A state file's bytes at a 16-byte-aligned address, so that its fingerprints are read in
/// place: the file mapped into memory (nothing is copied or allocated: the pages are the page
/// cache's, and only those a lookup touches are read), or bytes copied into words. Reading
/// the 480 MB of fingerprints and accumulators of 1M customers and 15M lines into fresh
/// memory was a tenth of an incremental run.
pub enum Store {
    Words { words: Vec<u128>, len: usize },
    Mapped(memmap2::Mmap),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({} bytes)", self.len())
    }
}

impl Default for Store {
    fn default() -> Self {
        Store::Words {
            words: Vec::new(),
            len: 0,
        }
    }
}

impl Store {
    /// The file at `path`, mapped.
    pub fn open(path: &std::path::Path) -> std::io::Result<Store> {
        let file = std::fs::File::open(path)?;
        if file.metadata()?.len() == 0 {
            return Ok(Store::default());
        }
        // SAFETY: a state file is written whole under a name no other file had and never
        // changed after (a later run writes new files and removes those no manifest names),
        // so the mapping's bytes do not change while it is held.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(Store::Mapped(map))
    }

    /// `bytes` copied.
    pub fn copied(bytes: &[u8]) -> Store {
        let mut words = vec![0u128; bytes.len().div_ceil(16)];
        bytemuck::cast_slice_mut::<u128, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        Store::Words {
            words,
            len: bytes.len(),
        }
    }

    /// Sorted fingerprints, as a segment holds them.
    pub fn of_prints(prints: Vec<u128>) -> Store {
        let len = prints.len() * 16;
        Store::Words { words: prints, len }
    }

    pub fn bytes(&self) -> &[u8] {
        match self {
            Store::Words { words, len } => &bytemuck::cast_slice(words)[..*len],
            Store::Mapped(m) => m,
        }
    }

    pub fn len(&self) -> usize {
        self.bytes().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `n` words from byte `at` (a multiple of 16; the caller checked the length).
    pub fn words(&self, at: usize, n: usize) -> &[u128] {
        bytemuck::cast_slice(&self.bytes()[at..at + n * 16])
    }
}

/// The first index at or after `from` whose value is not below `p`, in sorted `s` whose
/// values at and after `from` are spread evenly (fingerprints): the search starts where `p`
/// would be in an even spread of the values after `s[from]` and widens from there. For the
/// next of a batch of ascending fingerprints this is a cache line or two past the last one
/// (the error of the guess grows with the square root of the distance, not with the array).
fn seek(s: &[u128], from: usize, p: u128) -> usize {
    let n = s.len();
    if from >= n || s[from] >= p {
        return from.min(n);
    }
    if from + 1 == n {
        return n;
    }
    // Values per entry over the rest of the array, and the entries from `from` to `p`.
    let span = (u128::MAX - s[from]) as f64;
    let ahead = ((p - s[from]) as f64 / span * (n - from) as f64) as usize;
    let guess = (from + ahead).clamp(from + 1, n - 1);
    let (lo, hi) = if s[guess] < p {
        // Widen upwards until s[hi] >= p (or the end).
        let (mut lo, mut step) = (guess, 1);
        loop {
            let hi = guess.saturating_add(step);
            if hi >= n {
                break (lo, n);
            }
            if s[hi] >= p {
                break (lo, hi);
            }
            lo = hi;
            step *= 2;
        }
    } else {
        // Widen downwards until s[lo] < p (s[from] < p holds).
        let (mut hi, mut step) = (guess, 1);
        loop {
            let lo = guess.saturating_sub(step).max(from);
            if s[lo] < p {
                break (lo, hi);
            }
            hi = lo;
            step *= 2;
        }
    };
    // s[lo] < p <= s[hi] (hi = n: past the end).
    lo + 1 + s[lo + 1..hi].partition_point(|x| *x < p)
}

/// Whether sorted `s` holds `p`.
fn find(s: &[u128], p: u128) -> bool {
    position(s, p).is_some()
}

/// Where sorted `s` holds `p`. Fingerprints are spread evenly over the 128-bit range, so
/// the search starts where `p` would be in an even spread and widens from there: a few cache
/// lines are touched instead of a binary search's twenty-odd across the whole array.
fn position(s: &[u128], p: u128) -> Option<usize> {
    let n = s.len();
    if n == 0 {
        return None;
    }
    let guess = ((((p >> 64) as u64 as u128) * n as u128) >> 64) as usize;
    let guess = guess.min(n - 1);
    let (mut lo, mut hi);
    if s[guess] == p {
        return Some(guess);
    }
    if s[guess] < p {
        // Widen upwards until s[hi] >= p.
        let mut step = 1;
        lo = guess;
        hi = guess + step;
        while hi < n && s[hi] < p {
            lo = hi;
            step *= 2;
            hi = guess + step;
        }
        hi = (hi + 1).min(n);
    } else {
        let mut step = 1;
        hi = guess;
        lo = guess.saturating_sub(step);
        while lo > 0 && s[lo] > p {
            hi = lo;
            step *= 2;
            lo = guess.saturating_sub(step);
        }
        hi += 1;
    }
    s[lo..hi].binary_search(&p).ok().map(|i| lo + i)
}

/// The accumulators an earlier run left, found by their customer key's fingerprint: what an
/// incremental run resumes a customer from when the customer's first new row arrives, so
/// that only the customers with new rows are loaded, carried and saved. Segments are sorted
/// by fingerprint, the newest first (a customer in a newer one was updated there).
#[derive(Debug, Default)]
pub struct Earlier {
    pub segments: Vec<AccSegment>,
}

impl Earlier {
    /// The customer's latest accumulator.
    pub fn get(&self, print: u128) -> Option<Acc> {
        self.segments.iter().find_map(|s| s.get(print))
    }

    pub fn len(&self) -> usize {
        self.segments.iter().map(|s| s.n).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every customer's latest accumulator, by fingerprint (for merging the segments): the
    /// segments' sorted fingerprints put together and sorted, the newest of equal ones kept.
    pub fn latest(&self) -> Vec<(u128, Acc)> {
        let mut all: Vec<(u128, u32, u32)> = Vec::with_capacity(self.len());
        for (rank, s) in self.segments.iter().enumerate() {
            all.extend(
                s.prints()
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (*p, rank as u32, i as u32)),
            );
        }
        all.sort_unstable();
        all.dedup_by_key(|(p, _, _)| *p);
        all.into_iter()
            .map(|(p, rank, i)| (p, self.segments[rank as usize].record(i as usize)))
            .collect()
    }
}

/// One segment of accumulators as stored: a header, the sorted key fingerprints, one
/// fixed-width record per customer, and the category ids of 64 and up the records point
/// into. Little-endian throughout.
#[derive(Debug, Default)]
pub struct AccSegment {
    store: Store,
    n: usize,
}

const ACC_MAGIC: &[u8; 8] = b"CRMLACC2";
/// Header bytes: the magic, the count, the rarer categories' count and padding (so that the
/// fingerprints after it are 16-byte aligned).
const ACC_HEADER: usize = 32;
/// Bytes per record: read, distinct, kept, bad x3, sum x2, count x2, orders, category mask
/// (8 each), first and last date (4 each; `i32::MIN` when none), where and how many of the
/// rarer category ids (4 each).
const ACC_RECORD: usize = 12 * 8 + 2 * 4 + 2 * 4;

impl AccSegment {
    /// The stored form of `accs` (sorted by fingerprint, each once).
    pub fn encode(accs: &[(u128, &Acc)]) -> Vec<u8> {
        let n = accs.len();
        let more_len: usize = accs.iter().map(|(_, a)| a.more_categories.len()).sum();
        let mut out = Vec::with_capacity(ACC_HEADER + n * (16 + ACC_RECORD) + more_len * 4);
        out.extend_from_slice(ACC_MAGIC);
        out.extend_from_slice(&(n as u64).to_le_bytes());
        out.extend_from_slice(&(more_len as u64).to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
        for (p, _) in accs {
            out.extend_from_slice(&p.to_le_bytes());
        }
        let mut at = 0u32;
        for (_, a) in accs {
            for v in [a.read, a.distinct, a.kept, a.bad[0], a.bad[1], a.bad[2]] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            for v in [a.sum[0], a.sum[1]] {
                out.extend_from_slice(&v.to_bits().to_le_bytes());
            }
            for v in [a.count[0], a.count[1], a.orders, a.categories] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            for d in [a.min_date, a.max_date] {
                out.extend_from_slice(&d.unwrap_or(i32::MIN).to_le_bytes());
            }
            let k = a.more_categories.len() as u32;
            out.extend_from_slice(&at.to_le_bytes());
            out.extend_from_slice(&k.to_le_bytes());
            at += k;
        }
        for (_, a) in accs {
            for id in &a.more_categories {
                out.extend_from_slice(&id.to_le_bytes());
            }
        }
        out
    }

    /// A stored segment read back; an error says what is wrong with it.
    pub fn decode(bytes: &[u8]) -> std::result::Result<AccSegment, String> {
        AccSegment::of(Store::copied(bytes))
    }

    /// A stored segment in `store` (a mapped file); an error says what is wrong with it.
    pub fn of(store: Store) -> std::result::Result<AccSegment, String> {
        let bytes = store.bytes();
        if bytes.len() < ACC_HEADER || &bytes[..8] != ACC_MAGIC {
            return Err("not an accumulator segment (or one of an older layout)".into());
        }
        let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
        let (n, more_len) = (word(8) as usize, word(16) as usize);
        let more_at = n
            .checked_mul(16 + ACC_RECORD)
            .and_then(|b| b.checked_add(ACC_HEADER))
            .ok_or("an accumulator segment of the wrong size")?;
        if Some(bytes.len()) != more_len.checked_mul(4).and_then(|m| m.checked_add(more_at)) {
            return Err("an accumulator segment of the wrong size (cut short?)".into());
        }
        let segment = AccSegment { store, n };
        if !segment.prints().is_sorted() {
            return Err("an accumulator segment out of order".into());
        }
        Ok(segment)
    }

    /// The sorted fingerprints.
    fn prints(&self) -> &[u128] {
        self.store.words(ACC_HEADER, self.n)
    }

    fn get(&self, print: u128) -> Option<Acc> {
        position(self.prints(), print).map(|i| self.record(i))
    }

    fn record(&self, i: usize) -> Acc {
        let records_at = ACC_HEADER + self.n * 16;
        let at = records_at + i * ACC_RECORD;
        let r = &self.store.bytes()[at..at + ACC_RECORD];
        let u = |k: usize| u64::from_le_bytes(r[k * 8..k * 8 + 8].try_into().unwrap_or([0; 8]));
        let w = |at: usize| u32::from_le_bytes(r[at..at + 4].try_into().unwrap_or([0; 4]));
        let date = |at: usize| Some(w(at) as i32).filter(|d| *d != i32::MIN);
        let (at, k) = (w(104) as usize, w(108) as usize);
        Acc {
            read: u(0),
            distinct: u(1),
            kept: u(2),
            bad: [u(3), u(4), u(5)],
            sum: [f64::from_bits(u(6)), f64::from_bits(u(7))],
            count: [u(8), u(9)],
            orders: u(10),
            categories: u(11),
            min_date: date(96),
            max_date: date(100),
            more_categories: {
                let more_at = records_at + self.n * ACC_RECORD;
                self.store
                    .bytes()
                    .get(more_at + at * 4..more_at + (at + k) * 4)
                    .unwrap_or_default()
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes(c.try_into().unwrap_or([0; 4])))
                    .collect()
            },
        }
    }
}

/// What a source's reducers hold at the end of a run, merged over the shards: every
/// customer's accumulator (its categories as ids into `categories`) and the fingerprints
/// first seen in this run.
#[derive(Debug, Default, Clone)]
pub struct Carried {
    /// The customers' key fingerprints, with their accumulators.
    pub prints: Vec<u128>,
    pub accs: Vec<Acc>,
    pub categories: Vec<String>,
    /// Row and order fingerprints this run added (not in the earlier runs'), sorted.
    pub new_rows: Vec<u128>,
    pub new_orders: Vec<u128>,
}

impl Carried {
    /// Merges the shards' reducers of one run.
    pub fn of(reducers: Vec<Reducer>, start: Carried) -> Carried {
        let mut out = Carried {
            categories: start.categories,
            ..Carried::default()
        };
        let mut global: FastMap<String, u32> = out
            .categories
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), i as u32))
            .collect();
        for r in reducers {
            // This shard's ids -> the merged ids.
            let mut by_id = vec![0u32; r.categories.len()];
            let mut names: Vec<(&String, &u32)> = r.categories.iter().collect();
            names.sort_by_key(|(_, id)| **id);
            for (name, id) in names {
                let g = match global.get(name) {
                    Some(&g) => g,
                    None => {
                        let g = out.categories.len() as u32;
                        out.categories.push(name.clone());
                        global.insert(name.clone(), g);
                        g
                    }
                };
                by_id[*id as usize] = g;
            }
            // A shard resumed from the merged list keeps its ids: nothing to rename.
            let same = by_id.iter().enumerate().all(|(i, g)| *g == i as u32);
            out.prints.extend(r.prints);
            if same {
                out.accs.extend(r.accs);
            } else {
                out.accs.extend(r.accs.into_iter().map(|mut acc| {
                    acc.remap_categories(&by_id);
                    acc
                }));
            }
            out.new_rows.extend(r.seen_rows);
            out.new_orders.extend(r.seen_orders);
        }
        out.new_rows.sort_unstable();
        out.new_orders.sort_unstable();
        out
    }
}

/// The columns every source's batch has, as plain vectors.
struct Common<'a> {
    keys: Vec<Option<&'a str>>,
    key_prints: Vec<u128>,
    /// Row fingerprints, when de-duplicating.
    prints: Option<Vec<u128>>,
    /// Whether an earlier run saw each row (by `prints`).
    seen_before: Vec<bool>,
    dates: Vec<Option<i32>>,
    bad_date: Vec<Option<bool>>,
}

/// Folds prepared batches of one source into per-customer accumulators.
pub struct Reducer {
    role: Role,
    duplicates: Duplicates,
    invalid: InvalidPolicy,
    /// The raw columns that define an exact duplicate row.
    raw: Vec<String>,
    values: usize,
    has_category: bool,
    /// Customer key fingerprint -> slot (no string compares in the hot loop).
    index: HashMap<u128, usize, BuildHasherDefault<Fingerprint>>,
    last: Option<(u128, usize)>,
    last_order: Option<u128>,
    keys: Vec<String>,
    /// The key fingerprint of each slot.
    prints: Vec<u128>,
    accs: Vec<Acc>,
    /// An incremental run's earlier accumulators: a customer starts from theirs.
    earlier: std::sync::Arc<Earlier>,
    seen_rows: PrintSet,
    seen_orders: PrintSet,
    /// What earlier runs saw, for an incremental run (empty otherwise).
    earlier_rows: std::sync::Arc<Seen>,
    earlier_orders: std::sync::Arc<Seen>,
    categories: FastMap<String, u32>,
    pub rows: u64,
    /// Rows this reducer expects (0: unknown), and whether the distinct-order set was sized
    /// from the orders per line of the first rows.
    expected_rows: usize,
    orders_sized: bool,
}

/// A column's values as a plain vector: per-row `ChunkedArray::get` is too slow for the hot
/// loop, one sequential pass into a `Vec` is not.
fn bools(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<bool>>> {
    Ok(df.column(name)?.bool()?.iter().collect())
}

fn strs<'a>(df: &'a DataFrame, name: &str) -> PolarsResult<Vec<Option<&'a str>>> {
    Ok(df.column(name)?.str()?.iter().collect())
}

impl Reducer {
    pub fn new(
        role: Role,
        duplicates: Duplicates,
        invalid: InvalidPolicy,
        raw: Vec<String>,
        values: usize,
        has_category: bool,
    ) -> Self {
        Reducer {
            role,
            duplicates,
            invalid,
            raw,
            values,
            has_category,
            index: HashMap::default(),
            last: None,
            last_order: None,
            keys: Vec::new(),
            prints: Vec::new(),
            accs: Vec::new(),
            earlier: Default::default(),
            seen_rows: PrintSet::default(),
            seen_orders: PrintSet::default(),
            earlier_rows: Default::default(),
            earlier_orders: Default::default(),
            expected_rows: 0,
            orders_sized: false,
            categories: FastMap::default(),
            rows: 0,
        }
    }

    /// The accumulator slot of a customer; consecutive rows of one customer (the lines of an
    /// order) skip the map.
    fn slot(&mut self, key: &str, print: u128) -> usize {
        if let Some((p, i)) = self.last
            && p == print
        {
            return i;
        }
        let i = match self.index.get(&print) {
            Some(&i) => i,
            None => {
                let i = self.accs.len();
                self.index.insert(print, i);
                self.keys.push(key.to_string());
                self.prints.push(print);
                self.accs.push(self.earlier.get(print).unwrap_or_default());
                i
            }
        };
        self.last = Some((print, i));
        i
    }

    /// Carries on from an earlier run: its accumulators (`categories` names the category
    /// ids they hold, in order; a customer is taken from them at their first new row) and
    /// the fingerprints it saw.
    pub fn resume(
        &mut self,
        earlier: std::sync::Arc<Earlier>,
        categories: &[String],
        rows: std::sync::Arc<Seen>,
        orders: std::sync::Arc<Seen>,
    ) {
        for (i, c) in categories.iter().enumerate() {
            self.categories.insert(c.clone(), i as u32);
        }
        self.earlier = earlier;
        self.earlier_rows = rows;
        self.earlier_orders = orders;
    }

    /// Reserves room for about `rows` rows (an estimate from the file size), so the
    /// duplicate set does not rehash its way up.
    pub fn reserve(&mut self, rows: usize) {
        self.expected_rows = rows;
        if self.duplicates != Duplicates::Keep {
            self.seen_rows.reserve(rows);
        }
    }

    /// Once 2% of the expected rows are in, sizes the distinct-order set for the rest at the
    /// orders per line seen so far (plus 10%), so that it is not regrown (each regrowth
    /// briefly holds the old and the new table: at 50M lines the biggest memory peak).
    fn size_orders(&mut self) {
        if self.orders_sized || self.expected_rows == 0 || self.rows == 0 {
            return;
        }
        let rows = self.rows as usize;
        if rows * 50 < self.expected_rows {
            return;
        }
        self.orders_sized = true;
        let per_line = self.seen_orders.len() as f64 / rows as f64;
        let total = (self.expected_rows.max(rows) as f64 * per_line * 1.1) as usize;
        self.seen_orders
            .reserve(total.saturating_sub(self.seen_orders.len()));
    }

    /// Makes room for about `n` customers.
    pub fn reserve_customers(&mut self, n: usize) {
        // An incremental run meets only the customers of its new rows.
        let n = if self.earlier.is_empty() {
            n
        } else {
            n.min(self.expected_rows)
        };
        self.index.reserve(n);
        self.prints.reserve(n);
        self.keys.reserve(n);
        self.accs.reserve(n);
    }

    fn category_id(&mut self, c: &str) -> u32 {
        if let Some(&id) = self.categories.get(c) {
            return id;
        }
        let id = self.categories.len() as u32;
        self.categories.insert(c.to_string(), id);
        id
    }

    /// The key fingerprints of the customers met, in the order of [`Reducer::finish`]'s rows.
    pub fn customers(&self) -> &[u128] {
        &self.prints
    }

    /// Folds one batch.
    pub fn push(&mut self, df: &DataFrame) -> PolarsResult<()> {
        let n = df.height();
        self.rows += n as u64;
        let prints = if self.duplicates != Duplicates::Keep {
            let raw: Vec<Column> = self
                .raw
                .iter()
                .map(|c| df.column(c).cloned())
                .collect::<PolarsResult<_>>()?;
            Some(row_fingerprints(&raw)?)
        } else {
            None
        };
        let seen_before = match &prints {
            Some(p) => self.earlier_rows.contains_each(p),
            None => Vec::new(),
        };
        let common = Common {
            keys: strs(df, KEY)?,
            key_prints: row_fingerprints(&[df.column(KEY)?.clone()])?,
            prints,
            seen_before,
            dates: df.column(prep::DATE)?.date()?.physical().iter().collect(),
            bad_date: bools(df, prep::BAD_DATE)?,
        };
        match self.role {
            Role::Orders => self.push_orders(df, &common),
            _ => self.push_other(df, &common),
        }
    }

    /// The slot of row `i`'s customer if the row is the first copy of itself (counting it as
    /// read either way); `None` for a repeat or a row without a key.
    fn take_row(&mut self, c: &Common, i: usize) -> Option<usize> {
        let key = c.keys[i]?;
        let slot = self.slot(key, c.key_prints[i]);
        let earlier = c.seen_before.get(i).copied().unwrap_or(false);
        self.first_copy(slot, c.prints.as_ref().map(|p| p[i]), earlier)
            .then_some(slot)
    }

    /// Counts the row as read (and as distinct unless it repeats a row of this run or, as
    /// `earlier` says, of an earlier one) and tells whether to keep it: a repeat is dropped
    /// only when duplicates are removed.
    fn first_copy(&mut self, slot: usize, print: Option<u128>, earlier: bool) -> bool {
        self.accs[slot].read += 1;
        let repeat = print.is_some_and(|p| earlier || !self.seen_rows.insert(p));
        if !repeat {
            self.accs[slot].distinct += 1;
        }
        !(repeat && self.duplicates == Duplicates::Remove)
    }

    fn push_orders(&mut self, df: &DataFrame, c: &Common) -> PolarsResult<()> {
        self.size_orders();
        let bad_qty = bools(df, prep::BAD_QTY)?;
        let bad_price = bools(df, prep::BAD_PRICE)?;
        let amount: Vec<Option<f64>> = df.column(prep::AMOUNT)?.f64()?.iter().collect();
        let order_col = df.column(prep::ORDER)?;
        let orders = strs(df, prep::ORDER)?;
        let order_prints = row_fingerprints(&[df.column(KEY)?.clone(), order_col.clone()])?;
        let order_seen = self.earlier_orders.contains_each(&order_prints);
        let cats = if self.has_category {
            Some(strs(df, prep::CATEGORY)?)
        } else {
            None
        };
        for i in 0..c.keys.len() {
            let Some(slot) = self.take_row(c, i) else {
                continue;
            };
            if c.bad_date[i].unwrap_or(true) {
                self.accs[slot].bad[0] += 1;
                continue;
            }
            let bq = bad_qty[i].unwrap_or(false);
            let bp = !bq && bad_price[i].unwrap_or(false);
            if bq {
                self.accs[slot].bad[1] += 1;
            } else if bp {
                self.accs[slot].bad[2] += 1;
            }
            let invalid = bq || bp;
            if invalid && self.invalid == InvalidPolicy::Drop {
                continue;
            }
            let acc = &mut self.accs[slot];
            acc.kept += 1;
            if !invalid && let Some(a) = amount[i] {
                acc.sum[0] += a;
            }
            if let Some(d) = c.dates[i] {
                acc.add_date(d);
            }
            // Lines of one order are usually adjacent: skip the set for a repeat.
            if orders[i].is_some()
                && self.last_order != Some(order_prints[i])
                && !order_seen.get(i).copied().unwrap_or(false)
                && self.seen_orders.insert(order_prints[i])
            {
                self.accs[slot].orders += 1;
            }
            if orders[i].is_some() {
                self.last_order = Some(order_prints[i]);
            }
            if let Some(c) = cats.as_ref().and_then(|c| c[i]) {
                let id = self.category_id(c);
                self.accs[slot].add_category(id);
            }
        }
        Ok(())
    }

    fn push_other(&mut self, df: &DataFrame, c: &Common) -> PolarsResult<()> {
        let mut values = Vec::new();
        let mut bad = Vec::new();
        for j in 0..self.values {
            values.push(
                df.column(&prep::value(j))?
                    .f64()?
                    .iter()
                    .collect::<Vec<Option<f64>>>(),
            );
            bad.push(bools(df, &prep::bad_value(j))?);
        }
        for i in 0..c.keys.len() {
            let Some(slot) = self.take_row(c, i) else {
                continue;
            };
            let acc = &mut self.accs[slot];
            acc.kept += 1;
            if c.bad_date[i].unwrap_or(false) {
                acc.bad[0] += 1;
            }
            if let Some(d) = c.dates[i] {
                acc.add_date(d);
            }
            for j in 0..values.len() {
                if bad[j][i].unwrap_or(false) {
                    acc.bad[1 + j] += 1;
                } else if let Some(v) = values[j][i] {
                    acc.sum[j] += v;
                    acc.count[j] += 1;
                }
            }
        }
        Ok(())
    }

    /// The per-customer frame, customers in first-seen order. For tickets and sessions,
    /// `names` gives the count column, one mean column per value, and the last-date column.
    pub fn finish(&self, names: &OtherNames) -> PolarsResult<DataFrame> {
        let a = &self.accs;
        let u = |f: &dyn Fn(&Acc) -> u64| a.iter().map(f).collect::<Vec<u64>>();
        let date = |name: &str, f: &dyn Fn(&Acc) -> Option<i32>| -> PolarsResult<Column> {
            Column::new(name.into(), a.iter().map(f).collect::<Vec<Option<i32>>>())
                .cast(&DataType::Date)
        };
        let mut cols = vec![
            Column::new(KEY.into(), &self.keys),
            Column::new(READ.into(), u(&|x| x.read)),
            Column::new(DISTINCT.into(), u(&|x| x.distinct)),
            Column::new(KEPT.into(), u(&|x| x.kept)),
        ];
        match self.role {
            Role::Orders => {
                cols.push(Column::new("__n_bad_date".into(), u(&|x| x.bad[0])));
                cols.push(Column::new("__n_bad_qty".into(), u(&|x| x.bad[1])));
                cols.push(Column::new("__n_bad_price".into(), u(&|x| x.bad[2])));
                cols.push(Column::new("frequency".into(), u(&|x| x.orders)));
                cols.push(Column::new(
                    "monetary".into(),
                    a.iter().map(|x| x.sum[0]).collect::<Vec<f64>>(),
                ));
                cols.push(date("first_order", &|x| x.min_date)?);
                cols.push(date("last_order", &|x| x.max_date)?);
                if self.has_category {
                    cols.push(Column::new(
                        "distinct_categories".into(),
                        u(&|x| x.distinct_categories()),
                    ));
                }
            }
            _ => {
                cols.push(Column::new("__n_bad_date".into(), u(&|x| x.bad[0])));
                cols.push(Column::new(names.count.as_str().into(), u(&|x| x.kept)));
                for j in 0..self.values {
                    cols.push(Column::new(
                        format!("__n__bad_{j}").into(),
                        u(&|x| x.bad[1 + j]),
                    ));
                    let means: Vec<Option<f64>> = a
                        .iter()
                        .map(|x| (x.count[j] > 0).then(|| x.sum[j] / x.count[j] as f64))
                        .collect();
                    cols.push(Column::new(names.means[j].as_str().into(), means));
                }
                cols.push(date(&names.last, &|x| x.max_date)?);
            }
        }
        DataFrame::new_infer_height(cols)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn acc(seed: u64) -> Acc {
        let mut a = Acc {
            read: seed,
            distinct: seed + 1,
            kept: seed + 2,
            bad: [seed + 3, seed + 4, seed + 5],
            sum: [seed as f64 * 0.1, -0.0],
            count: [seed + 6, seed + 7],
            min_date: (!seed.is_multiple_of(3)).then_some(-(seed as i32)),
            max_date: seed.is_multiple_of(2).then_some(seed as i32),
            orders: seed + 8,
            ..Acc::default()
        };
        a.set_categories(
            seed.wrapping_mul(0x9e37_79b9_7f4a_7c15),
            (0..seed % 4).map(|i| 64 + i as u32 * 3).collect(),
        );
        a
    }

    /// A stored segment reads back every field to the bit (no date, a negative zero, the
    /// rarer categories), and lookups take a customer from the newest segment holding them.
    #[test]
    fn accumulator_segments_round_trip_and_the_newest_wins() {
        let old: Vec<(u128, Acc)> = (0..500u64)
            .map(|i| ((i as u128) << 100 | i as u128, acc(i)))
            .collect();
        let seg = AccSegment::decode(&AccSegment::encode(
            &old.iter().map(|(p, a)| (*p, a)).collect::<Vec<_>>(),
        ))
        .unwrap();
        for (p, a) in &old {
            let got = seg.get(*p).unwrap();
            assert_eq!(&got, a);
            assert_eq!(got.sum[1].to_bits(), a.sum[1].to_bits());
        }
        assert_eq!(seg.get(7), None);
        // A newer segment with some of them changed and one new customer.
        let newer: Vec<(u128, Acc)> = old
            .iter()
            .step_by(7)
            .map(|(p, _)| (*p, acc(1000)))
            .chain([(u128::MAX, acc(5))])
            .collect();
        let seg2 = AccSegment::decode(&AccSegment::encode(
            &newer.iter().map(|(p, a)| (*p, a)).collect::<Vec<_>>(),
        ))
        .unwrap();
        let earlier = Earlier {
            segments: vec![seg2, seg],
        };
        for (i, (p, a)) in old.iter().enumerate() {
            let want = if i % 7 == 0 { acc(1000) } else { a.clone() };
            assert_eq!(earlier.get(*p).unwrap(), want);
        }
        assert_eq!(earlier.get(u128::MAX).unwrap(), acc(5));
        let latest = earlier.latest();
        assert_eq!(latest.len(), 501);
        assert!(latest.windows(2).all(|w| w[0].0 < w[1].0));
        for (p, a) in &latest {
            assert_eq!(Some(a), earlier.get(*p).as_ref());
        }
        // A cut-short or foreign file is refused.
        let mut bytes = AccSegment::encode(&[(1, &acc(1))]);
        bytes.pop();
        assert!(AccSegment::decode(&bytes).is_err());
        assert!(AccSegment::decode(&b"PAR1....".repeat(4)).is_err());
    }

    /// The prints of a batch looked up together, in ascending order, are found exactly as
    /// each looked up on its own (several segments, repeated and absent prints, the ends).
    #[test]
    fn looking_up_in_order_agrees_with_each_lookup() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        for n in [0usize, 1, 2, 5, 100, 5000] {
            let segments: Vec<std::sync::Arc<Store>> = (0..rng.gen_range(0..4))
                .map(|_| {
                    let mut v: Vec<u128> = (0..n).map(|_| rng.r#gen::<u128>() >> 110).collect();
                    v.sort_unstable();
                    v.dedup();
                    std::sync::Arc::new(Store::of_prints(v))
                })
                .collect();
            let seen = Seen { segments };
            let probes: Vec<u128> = (0..rng.gen_range(0..3000))
                .map(|_| rng.r#gen::<u128>() >> 110)
                .chain([0, u128::MAX])
                .collect();
            let each = seen.contains_each(&probes);
            for (p, got) in probes.iter().zip(each) {
                assert_eq!(got, seen.contains(*p), "n {n} p {p}");
            }
        }
    }

    /// Seeking from any earlier index finds the first value not below the probe, as a
    /// binary search does: evenly spread fingerprints, skewed ones (the guess far off),
    /// probes present and absent, below the first value and above the last.
    #[test]
    fn seeking_from_an_index_agrees_with_partition_point() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
        for n in [0usize, 1, 2, 3, 17, 1000, 30_000] {
            for shift in [0u32, 64, 112] {
                let mut v: Vec<u128> = (0..n).map(|_| rng.r#gen::<u128>() >> shift).collect();
                v.sort_unstable();
                v.dedup();
                let mut probes: Vec<u128> = (0..300)
                    .map(|_| {
                        if !v.is_empty() && rng.gen_bool(0.5) {
                            v[rng.gen_range(0..v.len())]
                        } else {
                            rng.r#gen::<u128>() >> shift
                        }
                    })
                    .chain([0, 1, u128::MAX])
                    .collect();
                probes.sort_unstable();
                let mut from = 0;
                for p in probes {
                    let want = v.partition_point(|x| *x < p);
                    let start = if rng.gen_bool(0.3) {
                        rng.gen_range(0..=want)
                    } else {
                        from
                    };
                    assert_eq!(seek(&v, start, p), want, "n {n} shift {shift} p {p}");
                    from = want;
                }
            }
        }
    }

    /// The widening search finds exactly what a binary search finds, on random fingerprints
    /// and on skewed ones (all in a narrow range: the guess is far off).
    #[test]
    fn find_agrees_with_binary_search() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for n in [0usize, 1, 2, 3, 10, 1000, 20_000] {
            for skewed in [false, true] {
                let mut v: Vec<u128> = (0..n)
                    .map(|_| {
                        let x: u128 = rng.r#gen();
                        if skewed { x >> 100 } else { x }
                    })
                    .collect();
                v.sort_unstable();
                v.dedup();
                let probes: Vec<u128> = v
                    .iter()
                    .copied()
                    .chain((0..200).map(|_| {
                        let x: u128 = rng.r#gen();
                        if skewed { x >> 100 } else { x }
                    }))
                    .chain([0, u128::MAX])
                    .collect();
                for p in probes {
                    assert_eq!(find(&v, p), v.binary_search(&p).is_ok(), "n {n} p {p}");
                }
            }
        }
    }
}
