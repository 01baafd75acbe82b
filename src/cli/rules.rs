//! `crmlens rules`: frequent itemsets and association rules from order lines.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use crate::analytics::itemsets::Algorithm;
use crate::analytics::limits;
use crate::analytics::rules::{RuleFilter, RulesRun, SortBy, sort_rules};
use crate::export::{rule_json, write_rules};
use crate::pipeline::rules::{BasketColumns, MinSupport, Mining, mine};
use crate::progress::Progress;

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct RulesArgs {
    /// Order lines: a data file, or a workspace (.toml) whose orders source is read.
    #[arg(long)]
    pub input: PathBuf,
    /// The basket column: an order id, or a customer id for one basket per customer.
    /// Default: found by its role (the order id; else each customer's day; else the customer).
    #[arg(long = "transaction-col")]
    pub transaction_col: Option<String>,
    /// The item column: a product, or a category for category-level rules. Default: found
    /// by its role (product, item, sku, description...).
    #[arg(long = "item-col")]
    pub item_col: Option<String>,
    /// Minimum support as a fraction of baskets, inclusive (default 0.01 unless --min-count).
    #[arg(long = "min-support")]
    pub min_support: Option<f64>,
    /// Minimum support as a number of baskets.
    #[arg(long = "min-count", value_parser = super::whole::<u64>)]
    pub min_count: Option<u64>,
    /// Minimum confidence, 0 to 1.
    #[arg(long = "min-confidence", default_value_t = 0.0)]
    pub min_confidence: f64,
    /// Minimum lift, 0 or more.
    #[arg(long = "min-lift", default_value_t = 0.0)]
    pub min_lift: f64,
    /// Longest itemset (both sides of a rule together).
    #[arg(long = "max-len", value_parser = super::whole::<usize>)]
    pub max_len: Option<usize>,
    /// fpgrowth (default) or apriori.
    #[arg(long, value_enum, ignore_case = true, default_value_t = Algorithm::FpGrowth)]
    pub algo: Algorithm,
    /// Keep only the top N rules by --sort.
    #[arg(long = "max-rules", value_parser = super::whole::<usize>)]
    pub max_rules: Option<usize>,
    /// lift, confidence, support, leverage, conviction, zhangs_metric or count (highest first).
    #[arg(long, value_enum, ignore_case = true, default_value_t = SortBy::Lift)]
    pub sort: SortBy,
    /// Keep rules with an antecedent item matching this pattern (case-insensitive regex).
    #[arg(long)]
    pub antecedent: Option<String>,
    /// Keep rules with a consequent item matching this pattern (case-insensitive regex).
    #[arg(long)]
    pub consequent: Option<String>,
    /// Items on the antecedent side: at least / at most.
    #[arg(long = "min-antecedents", default_value_t = 1, value_parser = super::whole::<usize>)]
    pub min_antecedents: usize,
    #[arg(long = "max-antecedents", value_parser = super::whole::<usize>)]
    pub max_antecedents: Option<usize>,
    /// Items on the consequent side: at least / at most.
    #[arg(long = "min-consequents", default_value_t = 1, value_parser = super::whole::<usize>)]
    pub min_consequents: usize,
    #[arg(long = "max-consequents", value_parser = super::whole::<usize>)]
    pub max_consequents: Option<usize>,
    /// Stop, with advice, past this many itemsets or rules.
    #[arg(long, default_value_t = 1_000_000, value_parser = super::whole::<usize>)]
    pub limit: usize,
    /// Write the rules to a .csv, .parquet or .json file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace the --out file if it exists (otherwise an existing file is an error).
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: RulesArgs) -> Result<()> {
    let (algorithm, sort) = (a.algo, a.sort);
    if a.min_support.is_some() && a.min_count.is_some() {
        bail!("give --min-support or --min-count, not both");
    }
    if let Some(s) = a.min_support
        && !(s > 0.0 && s <= 1.0)
    {
        bail!(
            "--min-support {s}: it must be a fraction in (0, 1]; use --min-count for a number of baskets"
        );
    }
    if a.min_count == Some(0) {
        bail!("--min-count 0: it must be at least 1");
    }
    if a.max_len == Some(0) {
        bail!("--max-len 0: it must be at least 1");
    }
    // The ranges a workspace's [rules] is held to (`analytics::limits`).
    limits::MIN_CONFIDENCE.named("--min-confidence", a.min_confidence)?;
    limits::MIN_LIFT.named("--min-lift", a.min_lift)?;
    if a.limit == 0 {
        bail!("--limit 0: it must be at least 1 (itemsets or rules before stopping)");
    }
    let opts = super::ExportFlags {
        force: a.force,
        pseudonymise: false,
    }
    .options(a.out.as_deref(), None)?;
    let filter = RuleFilter {
        antecedent: a
            .antecedent
            .as_deref()
            .map(RuleFilter::pattern)
            .transpose()?,
        consequent: a
            .consequent
            .as_deref()
            .map(RuleFilter::pattern)
            .transpose()?,
        antecedent_items: (a.min_antecedents, a.max_antecedents.unwrap_or(usize::MAX)),
        consequent_items: (a.min_consequents, a.max_consequents.unwrap_or(usize::MAX)),
    };
    let mining = Mining {
        min_support: match (a.min_count, a.min_support) {
            (Some(c), _) => MinSupport::Count(c),
            (None, s) => MinSupport::Fraction(s.unwrap_or(0.01)),
        },
        min_confidence: a.min_confidence,
        min_lift: a.min_lift,
        max_len: a.max_len,
        algorithm,
        limit: a.limit,
    };
    let columns = BasketColumns::Named {
        transaction: a.transaction_col.clone(),
        item: a.item_col.clone(),
    };
    let mined = mine(&a.input, &columns, &mining, &Progress::new())?;
    let [loaded, mined_s, ruled] = mined.seconds;
    let RulesRun {
        baskets: b,
        itemsets: sets,
        rules: mut list,
        min_count,
        ..
    } = mined.run;
    let n = b.len();
    list = filter.apply(list, &b.items);
    sort_rules(&mut list, sort);
    if let Some(max) = a.max_rules {
        list.truncate(max);
    }
    let names = &b.items;
    let rules_json: Vec<serde_json::Value> = list.iter().map(|r| rule_json(r, names)).collect();
    if let Some(out) = &a.out {
        write_rules(out, &list, names, &opts)?;
    }
    let round = |s: f64| (s * 1000.0).round() / 1000.0;
    let mut stdout = super::out::stdout();
    if a.json {
        let itemsets: Vec<serde_json::Value> = sets
            .iter()
            .map(|s| {
                let items: Vec<&str> = s
                    .items
                    .iter()
                    .map(|&i| names[i as usize].as_str())
                    .collect();
                serde_json::json!({
                    "items": items,
                    "support": s.count as f64 / n as f64,
                    "count": s.count,
                })
            })
            .collect();
        let v = serde_json::json!({
            "input": a.input.display().to_string(),
            "algorithm": a.algo.name(),
            "n_transactions": n,
            "n_items": names.len(),
            "min_count": min_count,
            "min_support": min_count as f64 / n as f64,
            "itemsets": itemsets,
            "rules": rules_json,
            "sort": sort.name(),
            "seconds": {"load": round(loaded), "itemsets": round(mined_s), "rules": round(ruled)},
        });
        stdout.json(&v)?;
    } else {
        writeln!(
            stdout,
            "{n} baskets, {} items; {} frequent itemsets (count >= {min_count}), {} rules, by {}",
            names.len(),
            sets.len(),
            list.len(),
            sort.name()
        )?;
        for r in list.iter().take(20) {
            let side = |ids: &[u32]| {
                crate::text::escape(&crate::analytics::rules::side_text(ids, names, ", "))
                    .into_owned()
            };
            writeln!(
                stdout,
                "  {} -> {}  support {:.4}  confidence {:.3}  lift {:.2}  ({} baskets)",
                side(&r.antecedents),
                side(&r.consequents),
                r.support,
                r.confidence,
                r.lift,
                r.count
            )?;
        }
    }
    Ok(())
}
