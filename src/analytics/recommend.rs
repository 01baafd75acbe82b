//! Item-based collaborative filtering on a sparse customer x item matrix, the popularity
//! baseline, and leave-last-order-out evaluation (hit rate, precision, recall, NDCG and
//! catalogue coverage at N).
//!
//! The matrix is our own CSR (rows: customers; sorted item ids with a weight) and its
//! transpose; nothing is ever dense in customers. Item-item cosine similarity is accumulated
//! per item from the customers who bought it (a dense accumulator the size of the catalogue,
//! one per thread), and only the top-M neighbours of each item are kept. A customer's score
//! for an item is the sum of its similarities to the items they bought. Own code rather than
//! sprs: the one product needed (X^T X restricted to each row's top M) is a dozen lines over
//! CSR, and sprs would still need the top-M pruning and the per-thread accumulators.

use rayon::prelude::*;
use serde::Serialize;

use super::error::AnalyticsError;
use crate::progress::Progress;

/// How a customer's lines for one item become a matrix entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Weighting {
    /// 1 if bought at all.
    #[default]
    Binary,
    /// The number of lines (purchases).
    Count,
}

crate::choice!(Weighting { Binary => "binary", Count => "count" });

/// A sparse customers x items matrix in CSR form.
#[derive(Debug, Clone, PartialEq)]
pub struct Interactions {
    pub n_items: usize,
    /// Row r's entries are `items[indptr[r]..indptr[r + 1]]`, sorted, with `weights`.
    pub indptr: Vec<usize>,
    pub items: Vec<u32>,
    pub weights: Vec<f64>,
}

impl Interactions {
    /// From (customer, item) lines; a pair seen k times is one entry of weight 1 (binary) or k.
    pub fn from_lines(
        n_users: usize,
        n_items: usize,
        lines: impl IntoIterator<Item = (u32, u32)>,
        weighting: Weighting,
    ) -> Interactions {
        Interactions::from_weighted_lines(
            n_users,
            n_items,
            lines.into_iter().map(|(u, i)| (u, i, 1.0)),
            weighting,
        )
    }

    /// From (customer, item, weight) lines: binary gives every bought pair weight 1, count the
    /// sum of its lines' weights (e.g. purchases discounted by their age).
    pub fn from_weighted_lines(
        n_users: usize,
        n_items: usize,
        lines: impl IntoIterator<Item = (u32, u32, f64)>,
        weighting: Weighting,
    ) -> Interactions {
        let mut lines: Vec<(u32, u32, f64)> = lines.into_iter().collect();
        lines.par_sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)).then(a.2.total_cmp(&b.2)));
        let mut indptr = vec![0usize; n_users + 1];
        let mut items = Vec::with_capacity(lines.len());
        let mut weights = Vec::with_capacity(lines.len());
        let mut k = 0;
        while k < lines.len() {
            let (u, i, _) = lines[k];
            let mut total = 0.0;
            while k < lines.len() && (lines[k].0, lines[k].1) == (u, i) {
                total += lines[k].2;
                k += 1;
            }
            items.push(i);
            weights.push(match weighting {
                Weighting::Binary => 1.0,
                Weighting::Count => total,
            });
            indptr[u as usize + 1] += 1;
        }
        for r in 0..n_users {
            indptr[r + 1] += indptr[r];
        }
        Interactions {
            n_items,
            indptr,
            items,
            weights,
        }
    }

    pub fn n_users(&self) -> usize {
        self.indptr.len() - 1
    }

    /// Customer `u`'s (item, weight) entries.
    pub fn row(&self, u: usize) -> impl Iterator<Item = (u32, f64)> + '_ {
        let (a, b) = (self.indptr[u], self.indptr[u + 1]);
        self.items[a..b]
            .iter()
            .copied()
            .zip(self.weights[a..b].iter().copied())
    }

    /// Per entry (aligned with `items`): how many of `lines` (customer, item) fell on it, and
    /// the latest of their `day`s when days are given; for a customer's history. Every line
    /// must have an entry (the matrix was built from these lines).
    pub fn entry_stats(
        &self,
        (user, item): (&[u32], &[u32]),
        day: Option<&[i32]>,
    ) -> (Vec<u32>, Option<Vec<i32>>) {
        let mut times = vec![0u32; self.items.len()];
        let mut last = day.map(|_| vec![i32::MIN; self.items.len()]);
        for k in 0..user.len() {
            let u = user[k] as usize;
            let (a, b) = (self.indptr[u], self.indptr[u + 1]);
            if let Ok(j) = self.items[a..b].binary_search(&item[k]) {
                times[a + j] += 1;
                if let (Some(l), Some(d)) = (last.as_mut(), day) {
                    l[a + j] = l[a + j].max(d[k]);
                }
            }
        }
        (times, last)
    }

    pub fn has(&self, u: usize, item: u32) -> bool {
        let (a, b) = (self.indptr[u], self.indptr[u + 1]);
        self.items[a..b].binary_search(&item).is_ok()
    }

    /// The transpose: per item, the (customer, weight) entries.
    fn transpose(&self) -> (Vec<usize>, Vec<u32>, Vec<f64>) {
        let mut ptr = vec![0usize; self.n_items + 1];
        for &i in &self.items {
            ptr[i as usize + 1] += 1;
        }
        for i in 0..self.n_items {
            ptr[i + 1] += ptr[i];
        }
        let mut fill = ptr.clone();
        let mut users = vec![0u32; self.items.len()];
        let mut w = vec![0.0; self.items.len()];
        for u in 0..self.n_users() {
            for (i, x) in self.row(u) {
                let at = fill[i as usize];
                users[at] = u as u32;
                w[at] = x;
                fill[i as usize] += 1;
            }
        }
        (ptr, users, w)
    }

    /// Customers who bought each item.
    pub fn item_counts(&self) -> Vec<usize> {
        let mut c = vec![0usize; self.n_items];
        for &i in &self.items {
            c[i as usize] += 1;
        }
        c
    }
}

/// The item-item model: each item's top-M most similar items (cosine), most similar first.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemModel {
    pub neighbours: Vec<Vec<(u32, f64)>>,
    /// Items by popularity (customers who bought them), most popular first.
    pub popular: Vec<u32>,
}

/// Builds the item-item cosine model keeping `m` neighbours per item. With `iuf` > 0 each
/// customer's entries are scaled by |items bought|^(-iuf/2) first (inverse user frequency:
/// a customer who bought half the catalogue says less about which items go together than
/// one who bought three); 0 is plain cosine.
pub fn item_model(
    x: &Interactions,
    m: usize,
    iuf: f64,
    progress: &Progress,
) -> Result<ItemModel, AnalyticsError> {
    let n = x.n_items;
    let (ptr, users, mut w) = x.transpose();
    // Per-customer scale, applied to both sides of every product (and to the norms).
    let scale: Vec<f64> = (0..x.n_users())
        .map(|u| {
            let len = (x.indptr[u + 1] - x.indptr[u]).max(1) as f64;
            len.powf(-iuf / 2.0)
        })
        .collect();
    for k in 0..w.len() {
        w[k] *= scale[users[k] as usize];
    }
    let norm: Vec<f64> = (0..n)
        .map(|i| {
            w[ptr[i]..ptr[i + 1]]
                .iter()
                .map(|v| v * v)
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    progress.start("item similarities", n as u64);
    let neighbours: Vec<Vec<(u32, f64)>> = (0..n)
        .into_par_iter()
        .map_init(
            || (vec![0.0f64; n], Vec::<u32>::new()),
            |(acc, touched), i| {
                if progress.is_cancelled() {
                    return Vec::new();
                }
                for k in ptr[i]..ptr[i + 1] {
                    let (u, wu) = (users[k] as usize, w[k]);
                    let su = scale[u];
                    for (j, wj) in x.row(u) {
                        if acc[j as usize] == 0.0 {
                            touched.push(j);
                        }
                        acc[j as usize] += wu * wj * su;
                    }
                }
                let mut sims: Vec<(u32, f64)> = touched
                    .iter()
                    .filter(|&&j| j as usize != i)
                    .map(|&j| (j, acc[j as usize] / (norm[i] * norm[j as usize])))
                    .collect();
                for &j in touched.iter() {
                    acc[j as usize] = 0.0;
                }
                touched.clear();
                let by = |a: &(u32, f64), b: &(u32, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
                if sims.len() > m {
                    sims.select_nth_unstable_by(m, by);
                    sims.truncate(m);
                }
                sims.sort_by(by);
                progress.advance(1);
                sims
            },
        )
        .collect();
    if progress.is_cancelled() {
        return Err(AnalyticsError::Cancelled);
    }
    let counts = x.item_counts();
    let mut popular: Vec<u32> = (0..n as u32).collect();
    popular.sort_by(|&a, &b| counts[b as usize].cmp(&counts[a as usize]).then(a.cmp(&b)));
    Ok(ItemModel {
        neighbours,
        popular,
    })
}

/// One recommended item with the bought items that contributed most to its score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub item: u32,
    pub score: f64,
    /// (bought item, similarity), largest first, at most 3.
    pub because: Vec<(u32, f64)>,
    /// From the popularity fallback (no similar item scored).
    pub popular: bool,
}

/// Scratch space for scoring one customer at a time.
pub struct Scorer {
    acc: Vec<f64>,
    touched: Vec<u32>,
}

impl Scorer {
    pub fn new(n_items: usize) -> Scorer {
        Scorer {
            acc: vec![0.0; n_items],
            touched: Vec::new(),
        }
    }
}

impl ItemModel {
    /// The top `n` items for a customer who bought `bought` (sorted item ids): the sum of
    /// similarities to the bought items; bought items left out unless `repeat`; topped up from
    /// the most popular items when fewer score.
    pub fn recommend(
        &self,
        bought: &[u32],
        n: usize,
        repeat: bool,
        s: &mut Scorer,
    ) -> Vec<Recommendation> {
        let is_bought = |j: u32| bought.binary_search(&j).is_ok();
        for &b in bought {
            for &(j, sim) in &self.neighbours[b as usize] {
                if s.acc[j as usize] == 0.0 {
                    s.touched.push(j);
                }
                s.acc[j as usize] += sim;
            }
        }
        let mut cand: Vec<(u32, f64)> = s
            .touched
            .iter()
            .filter(|&&j| repeat || !is_bought(j))
            .map(|&j| (j, s.acc[j as usize]))
            .filter(|c| c.1 > 0.0)
            .collect();
        for &j in &s.touched {
            s.acc[j as usize] = 0.0;
        }
        s.touched.clear();
        let by = |a: &(u32, f64), b: &(u32, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if cand.len() > n {
            cand.select_nth_unstable_by(n, by);
            cand.truncate(n);
        }
        cand.sort_by(by);
        let mut out: Vec<Recommendation> = cand
            .into_iter()
            .map(|(j, score)| {
                let mut because: Vec<(u32, f64)> = bought
                    .iter()
                    .filter_map(|&b| {
                        self.neighbours[b as usize]
                            .iter()
                            .find(|(k, _)| *k == j)
                            .map(|&(_, sim)| (b, sim))
                    })
                    .collect();
                because.sort_by(by);
                because.truncate(3);
                Recommendation {
                    item: j,
                    score,
                    because,
                    popular: false,
                }
            })
            .collect();
        for &p in &self.popular {
            if out.len() >= n {
                break;
            }
            if (repeat || !is_bought(p)) && !out.iter().any(|r| r.item == p) {
                out.push(Recommendation {
                    item: p,
                    score: 0.0,
                    because: Vec::new(),
                    popular: true,
                });
            }
        }
        out
    }

    /// The most popular `n` items the customer has not bought (the baseline).
    pub fn popular_for(&self, bought: &[u32], n: usize, repeat: bool) -> Vec<u32> {
        self.popular
            .iter()
            .copied()
            .filter(|&p| repeat || bought.binary_search(&p).is_err())
            .take(n)
            .collect()
    }
}

/// Ranking metrics at N, averaged over the evaluated customers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankMetrics {
    pub hit_rate: f64,
    pub precision: f64,
    pub recall: f64,
    pub ndcg: f64,
    /// Share of the catalogue recommended to at least one evaluated customer.
    pub coverage: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub n: usize,
    /// Customers with a history before their last order and a new item in it.
    pub customers: usize,
    pub model: RankMetrics,
    pub baseline: RankMetrics,
}

/// (hit, precision, recall, ndcg) of `ranked` against the relevant set `truth` (sorted).
pub fn rank_metrics(ranked: &[u32], truth: &[u32], n: usize) -> (f64, f64, f64, f64) {
    let mut hits = 0usize;
    let mut dcg = 0.0;
    for (r, item) in ranked.iter().take(n).enumerate() {
        if truth.binary_search(item).is_ok() {
            hits += 1;
            dcg += 1.0 / ((r + 2) as f64).log2();
        }
    }
    let ideal: f64 = (0..truth.len().min(n))
        .map(|r| 1.0 / ((r + 2) as f64).log2())
        .sum();
    (
        if hits > 0 { 1.0 } else { 0.0 },
        hits as f64 / n as f64,
        if truth.is_empty() {
            0.0
        } else {
            hits as f64 / truth.len() as f64
        },
        if ideal > 0.0 { dcg / ideal } else { 0.0 },
    )
}

/// The leave-last-order-out split of purchase lines (`user`, `item`, and whether each line is
/// in its customer's last order): training lines are everything but the last orders of
/// customers with more than one order (single-order customers train and are not tested);
/// `test[u]` is customer u's last order's items, sorted.
pub fn last_order_split(
    n_users: usize,
    n_items: usize,
    (user, item, weight): (&[u32], &[u32], Option<&[f64]>),
    last: &[bool],
    weighting: Weighting,
) -> (Interactions, Vec<Vec<u32>>) {
    let mut single = vec![true; n_users];
    for (k, &u) in user.iter().enumerate() {
        if !last[k] {
            single[u as usize] = false;
        }
    }
    let held_out = |k: usize| last[k] && !single[user[k] as usize];
    let train = Interactions::from_weighted_lines(
        n_users,
        n_items,
        (0..user.len())
            .filter(|&k| !held_out(k))
            .map(|k| (user[k], item[k], weight.map_or(1.0, |w| w[k]))),
        weighting,
    );
    let mut test: Vec<Vec<u32>> = vec![Vec::new(); n_users];
    for k in 0..user.len() {
        if held_out(k) {
            test[user[k] as usize].push(item[k]);
        }
    }
    for t in &mut test {
        t.sort_unstable();
        t.dedup();
    }
    (train, test)
}

/// Leave-last-order-out: `train` holds every customer's lines before their last order (and
/// all lines of customers with one order); `test[u]` the items of customer u's last order
/// (sorted). Customers are evaluated when they have a history and a last-order item they had
/// not bought before (items bought before are never recommended, so they cannot be hit).
pub fn evaluate(
    train: &Interactions,
    test: &[Vec<u32>],
    n: usize,
    m: usize,
    iuf: f64,
    progress: &Progress,
) -> Result<Evaluation, AnalyticsError> {
    let model = item_model(train, m, iuf, progress)?;
    progress.label("scoring the last orders");
    let users: Vec<usize> = (0..train.n_users())
        .filter(|&u| train.indptr[u + 1] > train.indptr[u])
        .filter(|&u| test[u].iter().any(|&i| !train.has(u, i)))
        .collect();
    if users.is_empty() {
        return Err(AnalyticsError::Input(
            "no customer has an order after their first with a new item; nothing to evaluate"
                .into(),
        ));
    }
    type Sums = (f64, f64, f64, f64, Vec<bool>);
    let zero = || -> Sums { (0.0, 0.0, 0.0, 0.0, vec![false; train.n_items]) };
    let add = |mut a: Sums, b: Sums| -> Sums {
        a.0 += b.0;
        a.1 += b.1;
        a.2 += b.2;
        a.3 += b.3;
        for (x, y) in a.4.iter_mut().zip(b.4) {
            *x |= y;
        }
        a
    };
    let run = |baseline: bool| -> Sums {
        users
            .par_chunks(4096)
            .map(|chunk| {
                let mut s = Scorer::new(train.n_items);
                let mut acc = zero();
                for &u in chunk {
                    let bought: Vec<u32> = train.row(u).map(|(i, _)| i).collect();
                    let truth: Vec<u32> = test[u]
                        .iter()
                        .copied()
                        .filter(|i| bought.binary_search(i).is_err())
                        .collect();
                    let ranked: Vec<u32> = if baseline {
                        model.popular_for(&bought, n, false)
                    } else {
                        model
                            .recommend(&bought, n, false, &mut s)
                            .into_iter()
                            .map(|r| r.item)
                            .collect()
                    };
                    let (h, p, r, g) = rank_metrics(&ranked, &truth, n);
                    acc.0 += h;
                    acc.1 += p;
                    acc.2 += r;
                    acc.3 += g;
                    for i in ranked {
                        acc.4[i as usize] = true;
                    }
                }
                acc
            })
            .collect::<Vec<_>>()
            .into_iter()
            .fold(zero(), add)
    };
    let k = users.len() as f64;
    let metrics = |s: Sums| RankMetrics {
        hit_rate: s.0 / k,
        precision: s.1 / k,
        recall: s.2 / k,
        ndcg: s.3 / k,
        coverage: s.4.iter().filter(|b| **b).count() as f64 / train.n_items.max(1) as f64,
    };
    Ok(Evaluation {
        n,
        customers: users.len(),
        model: metrics(run(false)),
        baseline: metrics(run(true)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Customers x items (a, b, c, d):
    ///   u0: a b     u1: a b c     u2: b c     u3: d
    fn tiny() -> Interactions {
        let lines = [
            (0, 0),
            (0, 1),
            (1, 0),
            (1, 1),
            (1, 2),
            (2, 1),
            (2, 2),
            (3, 3),
            (0, 0),
        ];
        Interactions::from_lines(4, 4, lines, Weighting::Binary)
    }

    #[test]
    fn entry_stats_count_lines_and_keep_the_latest_day() {
        let x = tiny();
        // u0 bought a twice (days 5 and 2) and b once (day 7); u3 d on day 1.
        let user = [0, 0, 3, 0];
        let item = [0, 1, 3, 0];
        let day = [5, 7, 1, 2];
        let (times, last) = x.entry_stats((&user, &item), Some(&day));
        // Entries: u0 a, u0 b | u1 a b c | u2 b c | u3 d.
        assert_eq!(times, vec![2, 1, 0, 0, 0, 0, 0, 1]);
        let last = last.unwrap();
        assert_eq!((last[0], last[1], last[7]), (5, 7, 1));
        assert_eq!(last[2], i32::MIN);
        assert!(x.entry_stats((&user, &item), None).1.is_none());
    }

    #[test]
    fn cosine_similarities_by_hand() {
        let x = tiny();
        assert_eq!(x.indptr, vec![0, 2, 5, 7, 8]);
        let m = item_model(&x, 10, 0.0, &Progress::new()).unwrap();
        // a = (1,1,0,0), b = (1,1,1,0), c = (0,1,1,0), d = (0,0,0,1).
        // cos(a,b) = 2/(√2·√3), cos(a,c) = 1/(√2·√2) = 0.5, cos(b,c) = 2/(√3·√2).
        let ab = 2.0 / (2f64.sqrt() * 3f64.sqrt());
        let bc = ab;
        assert_eq!(m.neighbours[0].len(), 2);
        assert!((m.neighbours[0][0].1 - ab).abs() < 1e-12 && m.neighbours[0][0].0 == 1);
        assert!((m.neighbours[0][1].1 - 0.5).abs() < 1e-12 && m.neighbours[0][1].0 == 2);
        assert!((m.neighbours[2][0].1 - bc).abs() < 1e-12);
        // d shares no customer with anything.
        assert!(m.neighbours[3].is_empty());
        // Top-1 keeps only the most similar.
        let m1 = item_model(&x, 1, 0.0, &Progress::new()).unwrap();
        // Inverse user frequency 1: u1 (3 items) counts 1/3, u0 and u2 (2 items) 1/2.
        // a·b = 1/2 + 1/3, |a|² = 1/2 + 1/3, |b|² = 1/2 + 1/3 + 1/2: cos = (5/6)/√(5/6 · 4/3).
        let mi = item_model(&x, 10, 1.0, &Progress::new()).unwrap();
        let want = (5.0 / 6.0) / ((5.0f64 / 6.0) * (4.0 / 3.0)).sqrt();
        assert!(
            (mi.neighbours[0][0].1 - want).abs() < 1e-12,
            "{:?}",
            mi.neighbours[0]
        );
        assert_eq!(m1.neighbours[0], vec![(1, ab)]);
        // Popularity: b (3 customers), then a and c (2), then d.
        assert_eq!(m.popular, vec![1, 0, 2, 3]);
        // Counts: u0 bought a twice.
        let xc = Interactions::from_lines(4, 4, [(0, 0), (0, 0), (0, 1)], Weighting::Count);
        assert_eq!(xc.row(0).collect::<Vec<_>>(), vec![(0, 2.0), (1, 1.0)]);
        // Weighted lines (e.g. halved per half-life of age) add up per pair.
        let xw = Interactions::from_weighted_lines(
            1,
            2,
            [(0, 1, 0.25), (0, 0, 1.0), (0, 1, 0.5)],
            Weighting::Count,
        );
        assert_eq!(xw.row(0).collect::<Vec<_>>(), vec![(0, 1.0), (1, 0.75)]);
    }

    #[test]
    fn scores_sum_similarities_and_skip_bought_items() {
        let x = tiny();
        let m = item_model(&x, 10, 0.0, &Progress::new()).unwrap();
        let mut s = Scorer::new(4);
        // A customer who bought a only: b scores cos(a,b), c scores 0.5; then d from popularity.
        let r = m.recommend(&[0], 3, false, &mut s);
        let ab = 2.0 / (2f64.sqrt() * 3f64.sqrt());
        assert_eq!(r[0].item, 1);
        assert!((r[0].score - ab).abs() < 1e-12);
        assert_eq!(r[0].because, vec![(0, ab)]);
        assert_eq!(r[1].item, 2);
        assert!((r[1].score - 0.5).abs() < 1e-12);
        assert!(r[2].popular && r[2].item == 3);
        assert!(r.iter().all(|x| x.item != 0), "bought item recommended");
        // a and b bought: c scores cos(a,c) + cos(b,c), explained by b first.
        let r = m.recommend(&[0, 1], 1, false, &mut s);
        assert_eq!(r[0].item, 2);
        assert!((r[0].score - (0.5 + ab)).abs() < 1e-12);
        assert_eq!(r[0].because[0].0, 1);
        // With repeat purchases allowed, bought items can come back.
        let r = m.recommend(&[0, 1], 3, true, &mut s);
        assert!(r.iter().any(|x| x.item == 0 || x.item == 1));
        // No history: popularity.
        let r = m.recommend(&[], 2, false, &mut s);
        assert_eq!(r.iter().map(|x| x.item).collect::<Vec<_>>(), vec![1, 0]);
        assert!(r.iter().all(|x| x.popular));
    }

    /// The timing target: 1,000,000 customers, 2,000 items, 15,000,000 lines (20 tastes, each
    /// a Zipf-like preference over a shuffled catalogue): the model, then everyone's top 10.
    /// `cargo test --release --lib -- --ignored recommend_speed --nocapture`
    #[test]
    #[ignore]
    fn recommend_speed() {
        use rand::seq::SliceRandom;
        use rand::{Rng, SeedableRng};
        let (users, items, lines) = (1_000_000usize, 2000usize, 15_000_000usize);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let tastes: Vec<Vec<u32>> = (0..20)
            .map(|_| {
                let mut v: Vec<u32> = (0..items as u32).collect();
                v.shuffle(&mut rng);
                v
            })
            .collect();
        let t0 = std::time::Instant::now();
        let per_user = lines / users;
        let pairs: Vec<(u32, u32)> = (0..users as u32)
            .flat_map(|u| {
                let taste = &tastes[u as usize % 20];
                let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(u as u64);
                (0..per_user)
                    .map(|_| {
                        // Rank ~ items^(uniform): heavy head, long tail.
                        let rank = ((items as f64).powf(r.gen_range(0.0..1.0f64)) as usize - 1)
                            .min(items - 1);
                        (u, taste[rank])
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let x = Interactions::from_lines(users, items, pairs, Weighting::Binary);
        println!("matrix: {} entries in {:?}", x.items.len(), t0.elapsed());
        let t1 = std::time::Instant::now();
        let m = item_model(&x, 50, 1.0, &Progress::new()).unwrap();
        println!("item model (50 neighbours): {:?}", t1.elapsed());
        let t2 = std::time::Instant::now();
        let n: usize = (0..users)
            .into_par_iter()
            .map_init(
                || Scorer::new(items),
                |s, u| {
                    let bought: Vec<u32> = x.row(u).map(|(i, _)| i).collect();
                    m.recommend(&bought, 10, false, s).len()
                },
            )
            .sum();
        println!(
            "top 10 for all {users} customers: {:?} ({n} recommendations)",
            t2.elapsed()
        );
    }

    #[test]
    fn ranking_metrics_by_hand() {
        // Ranked [5, 3, 9], truth {3, 7}: one hit at rank 2.
        let (h, p, r, g) = rank_metrics(&[5, 3, 9], &[3, 7], 3);
        assert_eq!((h, p, r), (1.0, 1.0 / 3.0, 0.5));
        let want = (1.0 / 3f64.log2()) / (1.0 + 1.0 / 3f64.log2());
        assert!((g - want).abs() < 1e-12);
        assert_eq!(rank_metrics(&[1, 2], &[3], 2), (0.0, 0.0, 0.0, 0.0));
    }
}
