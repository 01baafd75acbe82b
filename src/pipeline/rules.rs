//! Association rules: order lines -> baskets -> frequent itemsets -> rules, the same for
//! `crmlens rules`, the Rules screen and the report.

use std::path::Path;
use std::time::Instant;

use crate::analytics::itemsets::{Algorithm, ItemsetParams, frequent_itemsets, min_count_for};
use crate::analytics::rules::{RuleFilter, RuleParams, RulesRun, SortBy, rules};
use crate::data::features::baskets::{
    BASKET, basket_columns, baskets, order_lines, with_basket_key,
};
use crate::progress::Progress;

use super::error::Result;
use super::settings::{Section, check_real, check_whole};
use crate::analytics::limits;
use serde::{Deserialize, Serialize};

/// Which columns make the baskets.
#[derive(Debug, Clone, PartialEq)]
pub enum BasketColumns {
    /// Columns named (by the command's flags); one not named is found by its role.
    Named {
        transaction: Option<String>,
        item: Option<String>,
    },
    /// By the columns' roles (found, or `given` by the analyst): baskets per order or per
    /// customer, products or categories.
    Roles {
        per_customer: bool,
        by_category: bool,
        given: crate::data::sources::roles::Given,
    },
}

/// How much support an itemset needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MinSupport {
    /// A fraction of baskets, inclusive.
    Fraction(f64),
    /// A number of baskets.
    Count(u64),
}

/// What to mine, whoever asks.
#[derive(Debug, Clone, PartialEq)]
pub struct Mining {
    pub min_support: MinSupport,
    pub min_confidence: f64,
    pub min_lift: f64,
    /// Longest itemset (both sides of a rule together).
    pub max_len: Option<usize>,
    pub algorithm: Algorithm,
    /// Stop, with advice, past this many itemsets or rules.
    pub limit: usize,
}

/// What a basket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Baskets {
    /// One basket per order.
    #[default]
    Order,
    /// One basket per customer (everything they bought).
    Customer,
}

crate::choice!(Baskets { Order => "order", Customer => "customer" });

/// What an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Items {
    #[default]
    Product,
    Category,
}

crate::choice!(Items { Product => "product", Category => "category" });

/// The Rules analysis's settings on a workspace's tables: the `[rules]` section and what the
/// Rules screen edits (`crmlens rules` mines named columns of any file, with its own flags:
/// [`Mining`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesSettings {
    pub baskets: Baskets,
    pub items: Items,
    pub algorithm: Algorithm,
    pub min_support: f64,
    pub min_confidence: f64,
    pub min_lift: f64,
    pub max_len: usize,
    /// The table's order.
    pub sort: SortBy,
    /// The table's filter (item text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

impl Default for RulesSettings {
    fn default() -> Self {
        RulesSettings {
            baskets: Baskets::Order,
            items: Items::Product,
            algorithm: Algorithm::FpGrowth,
            min_support: 0.005,
            min_confidence: 0.2,
            min_lift: 1.0,
            max_len: 3,
            sort: SortBy::Lift,
            filter: None,
        }
    }
}

impl Section for RulesSettings {
    const NAME: &'static str = "rules";

    fn out_of_range(&self) -> Vec<(&'static str, String)> {
        [
            check_real("min_support", self.min_support, limits::MIN_SUPPORT),
            check_real(
                "min_confidence",
                self.min_confidence,
                limits::MIN_CONFIDENCE,
            ),
            check_real("min_lift", self.min_lift, limits::MIN_LIFT),
            check_whole("max_len", self.max_len, limits::MAX_LEN),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

impl RulesSettings {
    /// One basket per customer instead of per order.
    pub fn per_customer(&self) -> bool {
        self.baskets == Baskets::Customer
    }

    /// Categories instead of products.
    pub fn by_category(&self) -> bool {
        self.items == Items::Category
    }

    /// The basket columns these settings ask for, by the columns' roles (`given`: the
    /// analyst's choices over those found).
    pub fn columns(
        &self,
        given: &[(crate::data::sources::roles::Role, Option<String>)],
    ) -> BasketColumns {
        BasketColumns::Roles {
            per_customer: self.per_customer(),
            by_category: self.by_category(),
            given: given.to_vec(),
        }
    }

    pub fn mining(&self) -> Mining {
        Mining {
            min_support: MinSupport::Fraction(self.min_support),
            min_confidence: self.min_confidence,
            min_lift: self.min_lift,
            max_len: Some(self.max_len),
            algorithm: self.algorithm,
            limit: 1_000_000,
        }
    }

    /// The progress line of a run.
    pub fn describe(&self) -> String {
        format!(
            "mining rules (min support {}, {})",
            self.min_support,
            match self.algorithm {
                Algorithm::FpGrowth => "FP-Growth",
                Algorithm::Apriori => "Apriori",
            }
        )
    }
}

/// A mining run and how long its steps took (seconds: reading and baskets, itemsets, rules).
#[derive(Debug)]
pub struct Mined {
    pub run: RulesRun,
    pub seconds: [f64; 3],
}

/// Reads the order lines of `input` (a data file, or a workspace's orders source), builds the
/// baskets and mines them.
pub fn mine(
    input: &Path,
    columns: &BasketColumns,
    mining: &Mining,
    progress: &Progress,
) -> Result<Mined> {
    let started = Instant::now();
    progress.start("reading order lines", 1);
    let (t, i) = match columns {
        BasketColumns::Named { transaction, item } => basket_columns(
            input,
            false,
            false,
            transaction.as_deref(),
            item.as_deref(),
            &[],
        )?,
        BasketColumns::Roles {
            per_customer,
            by_category,
            given,
        } => basket_columns(input, *per_customer, *by_category, None, None, given)?,
    };
    let mut wanted: Vec<&str> = t.iter().map(String::as_str).collect();
    wanted.push(i.as_str());
    let table = order_lines(input, &wanted)?;
    progress.label("building baskets");
    let table = with_basket_key(table, &t)?;
    let b = baskets(&table, BASKET, &i).map_err(|e| in_file(input, e))?;
    drop(table);
    progress.check()?;
    let loaded = started.elapsed().as_secs_f64();
    let min_count = match mining.min_support {
        MinSupport::Count(c) => c,
        MinSupport::Fraction(s) => min_count_for(s, b.len()),
    };
    let t = Instant::now();
    let itemsets = frequent_itemsets(
        &b,
        &ItemsetParams {
            min_count,
            max_len: mining.max_len,
            limit: mining.limit,
            algorithm: mining.algorithm,
        },
        progress,
    )?;
    let mined = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let list = rules(
        &itemsets,
        b.len(),
        &RuleParams {
            min_confidence: mining.min_confidence,
            min_lift: mining.min_lift,
            limit: mining.limit,
        },
        progress,
    )?;
    let mut item_counts = vec![0u64; b.items.len()];
    for &i in &b.data {
        item_counts[i as usize] += 1;
    }
    let ruled = t.elapsed().as_secs_f64();
    Ok(Mined {
        run: RulesRun {
            baskets: b,
            item_counts,
            min_count,
            itemsets,
            rules: list,
        },
        seconds: [loaded, mined, ruled],
    })
}

/// A baskets error names the file it came from.
fn in_file(input: &Path, e: crate::data::DataError) -> crate::data::DataError {
    crate::data::DataError::Invalid(format!("{}: {e}", input.display()))
}

/// The rules of `run` to show: those with an item matching `filter` (a case-insensitive
/// pattern, either side), sorted by `sort` (highest first, then support, then mining order).
pub fn arrange(run: &RulesRun, sort: SortBy, filter: Option<&str>) -> Result<Vec<usize>, String> {
    let pattern = match filter {
        Some(f) => Some(RuleFilter::pattern(f).map_err(|e| e.to_string())?),
        None => None,
    };
    let hit: Option<Vec<bool>> = pattern
        .as_ref()
        .map(|re| run.baskets.items.iter().map(|n| re.is_match(n)).collect());
    let mut idx: Vec<usize> = (0..run.rules.len())
        .filter(|&i| {
            let r = &run.rules[i];
            hit.as_ref().is_none_or(|h| {
                r.antecedents
                    .iter()
                    .chain(&r.consequents)
                    .any(|&x| h[x as usize])
            })
        })
        .collect();
    idx.sort_by(|&a, &b| {
        let (ra, rb) = (&run.rules[a], &run.rules[b]);
        sort.value(rb)
            .total_cmp(&sort.value(ra))
            .then(rb.support.total_cmp(&ra.support))
            .then(a.cmp(&b))
    });
    Ok(idx)
}
