//! Association rules from frequent itemsets, with the textbook metrics (as mlxtend defines
//! them): for a rule A -> C over n baskets, with s(X) = count(X) / n,
//!
//! - support = s(A u C), antecedent/consequent support = s(A), s(C);
//! - confidence = s(A u C) / s(A); lift = confidence / s(C);
//! - leverage = s(A u C) - s(A) s(C);
//! - conviction = (1 - s(C)) / (1 - confidence), infinite (`None`) when confidence = 1;
//! - Zhang's metric = leverage / max(s(A u C) (1 - s(A)), s(A) (s(C) - s(A u C))), 0 when
//!   that denominator is 0.
//!
//! Every frequent itemset of two or more items gives one rule per non-empty proper subset
//! as antecedent. By downward closure both sides are frequent, so their counts are known.

use std::collections::HashMap;

use serde::Serialize;

use super::error::AnalyticsError;
use super::itemsets::{Itemset, ItemsetParams, frequent_itemsets};
use crate::data::features::baskets::Baskets;
use crate::progress::Progress;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    /// Ascending item ids.
    pub antecedents: Vec<u32>,
    pub consequents: Vec<u32>,
    pub antecedent_support: f64,
    pub consequent_support: f64,
    pub support: f64,
    pub confidence: f64,
    pub lift: f64,
    pub leverage: f64,
    /// `None` is infinite (confidence 1).
    pub conviction: Option<f64>,
    pub zhangs_metric: f64,
    /// Baskets that contain both sides.
    pub count: u64,
}

/// The metrics of a rule from its three counts over `n` baskets.
pub fn metrics(count_a: u64, count_c: u64, count_ac: u64, n: usize) -> Rule {
    let n = n as f64;
    let (sa, sc, sac) = (count_a as f64 / n, count_c as f64 / n, count_ac as f64 / n);
    let confidence = sac / sa;
    let lift = confidence / sc;
    let leverage = sac - sa * sc;
    let conviction = if confidence >= 1.0 {
        None
    } else {
        Some((1.0 - sc) / (1.0 - confidence))
    };
    let denominator = (sac * (1.0 - sa)).max(sa * (sc - sac));
    let zhangs_metric = if denominator == 0.0 {
        0.0
    } else {
        leverage / denominator
    };
    Rule {
        antecedents: Vec::new(),
        consequents: Vec::new(),
        antecedent_support: sa,
        consequent_support: sc,
        support: sac,
        confidence,
        lift,
        leverage,
        conviction,
        zhangs_metric,
        count: count_ac,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleParams {
    pub min_confidence: f64,
    pub min_lift: f64,
    /// Stop with an error past this many rules (after the confidence and lift filters).
    pub limit: usize,
}

impl Default for RuleParams {
    fn default() -> Self {
        RuleParams {
            min_confidence: 0.0,
            min_lift: 0.0,
            limit: 1_000_000,
        }
    }
}

/// Every rule of `itemsets` (over `n` baskets) with confidence >= `min_confidence` and
/// lift >= `min_lift`, in itemset order and then antecedent order.
pub fn rules(
    itemsets: &[Itemset],
    n: usize,
    p: &RuleParams,
    progress: &Progress,
) -> Result<Vec<Rule>, AnalyticsError> {
    let count_of: HashMap<&[u32], u64> = itemsets
        .iter()
        .map(|s| (s.items.as_slice(), s.count))
        .collect();
    progress.start("association rules", itemsets.len() as u64);
    let mut out = Vec::new();
    let mut a = Vec::new();
    let mut c = Vec::new();
    for (done, s) in itemsets.iter().enumerate() {
        if done % 4096 == 0 {
            progress.set(done as u64);
            progress.check().map_err(|_| AnalyticsError::Cancelled)?;
        }
        let k = s.items.len();
        if k < 2 {
            continue;
        }
        if k > 63 {
            return Err(AnalyticsError::Input(format!(
                "an itemset of {k} items is too long to split into rules; set max_len"
            )));
        }
        for mask in 1u64..(1u64 << k) - 1 {
            a.clear();
            c.clear();
            for (j, &item) in s.items.iter().enumerate() {
                if mask & (1 << j) != 0 {
                    a.push(item);
                } else {
                    c.push(item);
                }
            }
            let (Some(&na), Some(&nc)) = (count_of.get(a.as_slice()), count_of.get(c.as_slice()))
            else {
                return Err(AnalyticsError::Input(
                    "rules need every subset of a frequent itemset among the itemsets".into(),
                ));
            };
            let mut r = metrics(na, nc, s.count, n);
            if r.confidence < p.min_confidence || r.lift < p.min_lift {
                continue;
            }
            if out.len() >= p.limit {
                return Err(AnalyticsError::TooMany {
                    what: "rules",
                    limit: p.limit,
                    advice: "raise min_support, min_confidence or min_lift, or set max_len",
                });
            }
            r.antecedents = a.clone();
            r.consequents = c.clone();
            out.push(r);
        }
    }
    Ok(out)
}

/// Which rules to show: item patterns for either side (a rule passes when some item on that
/// side matches) and the number of items per side.
#[derive(Debug, Clone, Default)]
pub struct RuleFilter {
    pub antecedent: Option<regex::Regex>,
    pub consequent: Option<regex::Regex>,
    pub antecedent_items: (usize, usize),
    pub consequent_items: (usize, usize),
}

impl RuleFilter {
    /// No filter: every rule passes.
    pub fn all() -> RuleFilter {
        RuleFilter {
            antecedent_items: (1, usize::MAX),
            consequent_items: (1, usize::MAX),
            ..RuleFilter::default()
        }
    }

    /// A case-insensitive pattern (a regular expression; plain text matches itself).
    pub fn pattern(text: &str) -> Result<regex::Regex, AnalyticsError> {
        regex::RegexBuilder::new(text)
            .case_insensitive(true)
            .build()
            .map_err(|e| AnalyticsError::Input(format!("item pattern `{text}`: {e}")))
    }

    /// The rules of `list` that pass, in their order; `names` are the item names by id.
    pub fn apply(&self, list: Vec<Rule>, names: &[String]) -> Vec<Rule> {
        let matches = |re: &Option<regex::Regex>| -> Option<Vec<bool>> {
            re.as_ref()
                .map(|re| names.iter().map(|n| re.is_match(n)).collect())
        };
        let (ma, mc) = (matches(&self.antecedent), matches(&self.consequent));
        let side_ok = |ids: &[u32], m: &Option<Vec<bool>>, (lo, hi): (usize, usize)| {
            ids.len() >= lo
                && ids.len() <= hi
                && m.as_ref()
                    .is_none_or(|m| ids.iter().any(|&i| m[i as usize]))
        };
        list.into_iter()
            .filter(|r| {
                side_ok(&r.antecedents, &ma, self.antecedent_items)
                    && side_ok(&r.consequents, &mc, self.consequent_items)
            })
            .collect()
    }
}

/// A whole run as the workbench shows it: the baskets, the frequent itemsets and the rules.
#[derive(Debug, Clone)]
pub struct RulesRun {
    pub baskets: Baskets,
    /// Baskets containing each item, by item id.
    pub item_counts: Vec<u64>,
    pub min_count: u64,
    pub itemsets: Vec<Itemset>,
    pub rules: Vec<Rule>,
}

/// Mines `baskets`: frequent itemsets, then every rule passing `rule_params`.
pub fn mine(
    baskets: Baskets,
    itemset_params: &ItemsetParams,
    rule_params: &RuleParams,
    progress: &Progress,
) -> Result<RulesRun, AnalyticsError> {
    let itemsets = frequent_itemsets(&baskets, itemset_params, progress)?;
    let list = rules(&itemsets, baskets.len(), rule_params, progress)?;
    let mut item_counts = vec![0u64; baskets.items.len()];
    for &i in &baskets.data {
        item_counts[i as usize] += 1;
    }
    Ok(RulesRun {
        baskets,
        item_counts,
        min_count: itemset_params.min_count,
        itemsets,
        rules: list,
    })
}

/// The baskets (by number) that contain every item of `items` (ascending ids).
pub fn baskets_with(baskets: &Baskets, items: &[u32]) -> Vec<usize> {
    (0..baskets.len())
        .filter(|&t| {
            let b = baskets.basket(t);
            items.iter().all(|i| b.binary_search(i).is_ok())
        })
        .collect()
}

/// A rule in plain words: "baskets with Laptop contain Laptop Bag 55% of the time, 13.6x
/// more often than average; 645 baskets".
pub fn describe(r: &Rule, names: &[String]) -> String {
    let side = |ids: &[u32]| -> String {
        let v: Vec<&str> = ids.iter().map(|&i| names[i as usize].as_str()).collect();
        match v.len() {
            0 => String::new(),
            1 => v[0].to_string(),
            _ => format!("{} and {}", v[..v.len() - 1].join(", "), v[v.len() - 1]),
        }
    };
    let how = if r.lift >= 1.0 {
        format!("{:.1}x more often than average", r.lift)
    } else {
        format!("{:.1}x less often than average", 1.0 / r.lift)
    };
    format!(
        "baskets with {} contain {} {:.0}% of the time, {how}; {} baskets",
        side(&r.antecedents),
        side(&r.consequents),
        r.confidence * 100.0,
        r.count
    )
}

/// What to sort rules by (descending).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    #[default]
    Lift,
    Confidence,
    Support,
    Leverage,
    Conviction,
    ZhangsMetric,
    Count,
}

crate::choice!(SortBy {
    Lift => "lift",
    Confidence => "confidence",
    Support => "support",
    Leverage => "leverage",
    Conviction => "conviction",
    ZhangsMetric => "zhangs_metric",
    Count => "count",
});

impl SortBy {
    /// The metric's value (infinite conviction as +inf).
    pub fn value(self, r: &Rule) -> f64 {
        match self {
            SortBy::Lift => r.lift,
            SortBy::Confidence => r.confidence,
            SortBy::Support => r.support,
            SortBy::Leverage => r.leverage,
            SortBy::Conviction => r.conviction.unwrap_or(f64::INFINITY),
            SortBy::ZhangsMetric => r.zhangs_metric,
            SortBy::Count => r.count as f64,
        }
    }
}

/// Sorts rules by `by`, highest first; ties by support, then by the items, so the order is
/// the same on every run.
pub fn sort_rules(rules: &mut [Rule], by: SortBy) {
    rules.sort_by(|a, b| {
        by.value(b)
            .total_cmp(&by.value(a))
            .then(b.support.total_cmp(&a.support))
            .then(a.antecedents.cmp(&b.antecedents))
            .then(a.consequents.cmp(&b.consequents))
    });
}

/// The names of items `ids` (indices into `names`) joined by `sep`: one side of a rule as
/// the screens, copies, reports and exports write it.
pub fn side_text(ids: &[u32], names: &[String], sep: &str) -> String {
    ids.iter()
        .map(|&i| names[i as usize].as_str())
        .collect::<Vec<_>>()
        .join(sep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::itemsets::tests::{brute_force, random_baskets};
    use crate::analytics::itemsets::{Algorithm, ItemsetParams, frequent_itemsets};
    use crate::data::features::baskets::Baskets;

    #[test]
    fn metrics_hand_computed() {
        // 10 baskets: A in 4, C in 5, both in 3.
        let r = metrics(4, 5, 3, 10);
        assert_eq!(
            (r.antecedent_support, r.consequent_support, r.support),
            (0.4, 0.5, 0.3)
        );
        assert!((r.confidence - 0.75).abs() < 1e-15);
        assert!((r.lift - 1.5).abs() < 1e-15);
        assert!((r.leverage - (0.3 - 0.2)).abs() < 1e-15);
        // (1 - 0.5) / (1 - 0.75) = 2
        assert!((r.conviction.unwrap() - 2.0).abs() < 1e-12);
        // 0.1 / max(0.3 * 0.6, 0.4 * 0.2) = 0.1 / 0.18
        assert!((r.zhangs_metric - 0.1 / 0.18).abs() < 1e-12);
        assert_eq!(r.count, 3);
        // Confidence 1: infinite conviction.
        let r = metrics(3, 5, 3, 10);
        assert_eq!(r.conviction, None);
        assert_eq!(r.confidence, 1.0);
    }

    /// Every rule by brute force: all itemsets of the reference, every split, metrics from
    /// the brute-force counts.
    fn brute_rules(b: &Baskets, min_count: u64) -> Vec<Rule> {
        let sets = brute_force(b, min_count, usize::MAX);
        let count_of: HashMap<Vec<u32>, u64> =
            sets.iter().map(|s| (s.items.clone(), s.count)).collect();
        let mut out = Vec::new();
        for s in sets.iter().filter(|s| s.items.len() >= 2) {
            let k = s.items.len();
            for mask in 1u64..(1 << k) - 1 {
                let a: Vec<u32> = (0..k)
                    .filter(|j| mask & (1 << j) != 0)
                    .map(|j| s.items[j])
                    .collect();
                let c: Vec<u32> = (0..k)
                    .filter(|j| mask & (1 << j) == 0)
                    .map(|j| s.items[j])
                    .collect();
                let mut r = metrics(count_of[&a], count_of[&c], s.count, b.len());
                r.antecedents = a;
                r.consequents = c;
                out.push(r);
            }
        }
        out
    }

    #[test]
    fn rules_equal_brute_force_for_both_algorithms() {
        for seed in 0..25u64 {
            let b = random_baskets(seed + 100, 80, 7 + (seed % 4) as usize, 0.7);
            for min_count in [2u64, 6] {
                let mut want = brute_rules(&b, min_count);
                sort_rules(&mut want, SortBy::Lift);
                for algorithm in [Algorithm::FpGrowth, Algorithm::Apriori] {
                    let p = ItemsetParams {
                        min_count,
                        max_len: None,
                        limit: 1_000_000,
                        algorithm,
                    };
                    let sets = frequent_itemsets(&b, &p, &Progress::new()).unwrap();
                    let mut got =
                        rules(&sets, b.len(), &RuleParams::default(), &Progress::new()).unwrap();
                    sort_rules(&mut got, SortBy::Lift);
                    assert_eq!(
                        got, want,
                        "seed {seed}, min_count {min_count}, {algorithm:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn filters_and_limit() {
        let b = random_baskets(7, 200, 8, 0.8);
        let p = ItemsetParams {
            min_count: 5,
            max_len: None,
            limit: 1_000_000,
            algorithm: Algorithm::FpGrowth,
        };
        let sets = frequent_itemsets(&b, &p, &Progress::new()).unwrap();
        let all = rules(&sets, b.len(), &RuleParams::default(), &Progress::new()).unwrap();
        let strict = RuleParams {
            min_confidence: 0.6,
            min_lift: 1.1,
            ..RuleParams::default()
        };
        let some = rules(&sets, b.len(), &strict, &Progress::new()).unwrap();
        let expected: Vec<&Rule> = all
            .iter()
            .filter(|r| r.confidence >= 0.6 && r.lift >= 1.1)
            .collect();
        assert_eq!(some.iter().collect::<Vec<_>>(), expected);
        assert!(!some.is_empty() && some.len() < all.len());
        let capped = RuleParams {
            limit: 3,
            ..RuleParams::default()
        };
        let e = rules(&sets, b.len(), &capped, &Progress::new()).unwrap_err();
        assert!(e.to_string().contains("more than 3 rules"), "{e}");
    }

    #[test]
    fn item_patterns_and_side_sizes() {
        let names: Vec<String> = ["Ink Cartridge", "Laser Printer", "Paper", "Tent"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let rule = |a: Vec<u32>, c: Vec<u32>| Rule {
            antecedents: a,
            consequents: c,
            ..metrics(4, 5, 3, 10)
        };
        let list = vec![
            rule(vec![1], vec![0]),
            rule(vec![0], vec![1]),
            rule(vec![1, 2], vec![0]),
            rule(vec![3], vec![2]),
        ];
        let f = RuleFilter {
            antecedent: Some(RuleFilter::pattern("printer").unwrap()),
            ..RuleFilter::all()
        };
        assert_eq!(f.apply(list.clone(), &names).len(), 2);
        let f = RuleFilter {
            consequent: Some(RuleFilter::pattern("^(ink|paper)").unwrap()),
            antecedent_items: (1, 1),
            ..RuleFilter::all()
        };
        let kept = f.apply(list.clone(), &names);
        assert_eq!(kept, vec![list[0].clone(), list[3].clone()]);
        assert_eq!(RuleFilter::all().apply(list.clone(), &names), list);
        assert!(RuleFilter::pattern("(").is_err());
    }

    #[test]
    fn plain_words_and_drill_down() {
        let b = Baskets::from_pairs([
            ("o1", "Laptop"),
            ("o1", "Laptop Bag"),
            ("o2", "Laptop"),
            ("o3", "Laptop"),
            ("o3", "Laptop Bag"),
            ("o4", "Tea"),
        ]);
        let p = ItemsetParams {
            min_count: 2,
            max_len: None,
            limit: 1000,
            algorithm: crate::analytics::itemsets::Algorithm::FpGrowth,
        };
        let run = mine(b, &p, &RuleParams::default(), &Progress::new()).unwrap();
        assert_eq!(run.item_counts, vec![3, 2, 1]);
        let r = run.rules.iter().find(|r| r.antecedents == vec![0]).unwrap();
        // 2 of 3 laptop baskets have a bag: 67%; lift (2/4) / (3/4 * 2/4) = 1.33.
        assert_eq!(
            describe(r, &run.baskets.items),
            "baskets with Laptop contain Laptop Bag 67% of the time, 1.3x more often than average; 2 baskets"
        );
        let hits = baskets_with(&run.baskets, &[0, 1]);
        let keys: Vec<&str> = hits.iter().map(|&t| run.baskets.keys[t].as_str()).collect();
        assert_eq!(keys, vec!["o1", "o3"]);
    }

    #[test]
    fn sorting_is_by_metric_then_stable_keys() {
        let mut r = vec![
            metrics(4, 5, 3, 10),
            metrics(3, 5, 3, 10),
            metrics(5, 5, 3, 10),
        ];
        r[0].antecedents = vec![1];
        r[1].antecedents = vec![2];
        r[2].antecedents = vec![3];
        sort_rules(&mut r, SortBy::Conviction);
        // Infinite conviction first.
        assert_eq!(r[0].antecedents, vec![2]);
        sort_rules(&mut r, SortBy::Confidence);
        let conf: Vec<f64> = r.iter().map(|x| x.confidence).collect();
        assert!(conf.windows(2).all(|w| w[0] >= w[1]));
        assert_eq!(SortBy::parse("zhangs_metric"), Some(SortBy::ZhangsMetric));
        assert_eq!(SortBy::parse("nope"), None);
    }
}
