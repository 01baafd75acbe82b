//! Recommendations: order lines -> purchases -> the item-item model (and its
//! leave-last-order-out evaluation against popularity), the same for `crmlens recommend`, the
//! Recommend screen and its export.

use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;

use crate::analytics::recommend::{
    Evaluation, Interactions, ItemModel, Recommendation, Scorer, Weighting, evaluate, item_model,
    last_order_split,
};
use crate::data::features::purchases::{
    PurchaseColumns, Purchases, purchase_columns, read_purchases,
};
use crate::data::write::ExportOptions;
use crate::progress::Progress;

use super::error::Result;
use super::settings::{Section, check_whole};
use crate::analytics::limits;
use serde::{Deserialize, Serialize};

/// Column names for the order lines; None: the workspace's roles or the usual names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PurchaseColumnNames {
    pub customer: Option<String>,
    pub item: Option<String>,
    pub order: Option<String>,
    pub date: Option<String>,
    /// The analyst's role choices (the role editor), under the named columns.
    pub given: crate::data::sources::roles::Given,
}

/// Whether to evaluate the model (leave each customer's last order out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Evaluate {
    No,
    /// When the lines have orders or dates; a failed evaluation leaves none.
    #[default]
    IfPossible,
    /// Always; an error when it cannot be done.
    Yes,
}

/// The Recommend analysis's settings: the `[recommend]` section of a workspace, the flags
/// of `crmlens recommend` and what the Recommend screen uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct RecommendSettings {
    /// Recommendations per customer (1 to 100); also the list length the evaluation scores.
    #[arg(long, default_value_t = 10, value_parser = crate::choice::whole::<usize>)]
    pub top: usize,
    /// Most similar items kept per item (1 to 10000).
    #[arg(long, default_value_t = 50, value_parser = crate::choice::whole::<usize>)]
    pub neighbours: usize,
    /// Inverse user frequency: scale each customer's entries by |items|^(-X/2) before the
    /// cosine (0: plain cosine).
    #[arg(long, default_value_t = 1.0)]
    pub iuf: f64,
    /// binary (bought or not) or count (purchases).
    #[arg(long, value_enum, ignore_case = true, default_value_t = Weighting::Binary)]
    pub weighting: Weighting,
    /// Weight purchases by age: each line counts 0.5^(age / DAYS), age from the last day in
    /// the data (needs dates; implies count weighting).
    #[arg(long = "half-life")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub half_life: Option<f64>,
    /// Whether the model is evaluated (the command line's `--evaluate`).
    #[arg(skip)]
    #[serde(skip)]
    pub evaluate: Evaluate,
}

impl Default for RecommendSettings {
    fn default() -> Self {
        RecommendSettings {
            top: 10,
            neighbours: 50,
            iuf: 1.0,
            weighting: Weighting::Binary,
            half_life: None,
            evaluate: Evaluate::IfPossible,
        }
    }
}

impl Section for RecommendSettings {
    const NAME: &'static str = "recommend";

    fn out_of_range(&self) -> Vec<(&'static str, String)> {
        let mut bad: Vec<(&'static str, String)> = [
            check_whole("top", self.top, limits::TOP),
            check_whole("neighbours", self.neighbours, limits::NEIGHBOURS),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !(self.iuf >= 0.0 && self.iuf.is_finite()) {
            bad.push((
                "iuf",
                format!("{} is out of range (use 0 or more)", self.iuf),
            ));
        }
        if let Some(h) = self.half_life
            && !(h > 0.0 && h.is_finite())
        {
            bad.push((
                "half_life",
                format!("{h} is out of range (use a positive number of days)"),
            ));
        }
        bad
    }
}

/// A built model with what its users need to name things.
#[derive(Debug, Clone)]
pub struct RecModel {
    pub customers: Vec<String>,
    pub items: Vec<String>,
    pub x: Interactions,
    /// Per entry of `x`: lines bought, and the last purchase day (days since 1970-01-01)
    /// when the lines have dates.
    pub times: Vec<u32>,
    pub last_day: Option<Vec<i32>>,
    pub model: ItemModel,
    pub evaluation: Option<Evaluation>,
    pub neighbours: usize,
    /// The columns read.
    pub columns: PurchaseColumns,
    /// Order lines read.
    pub n_lines: usize,
}

impl RecModel {
    /// Customer `u`'s bought items as (item, times bought, last purchase day): the latest
    /// first when there are dates, else the most bought first.
    pub fn history(&self, u: usize) -> Vec<(u32, u32, Option<i32>)> {
        let (a, b) = (self.x.indptr[u], self.x.indptr[u + 1]);
        let mut h: Vec<(u32, u32, Option<i32>)> = (a..b)
            .map(|e| {
                let day = self.last_day.as_ref().map(|d| d[e]);
                (self.x.items[e], self.times[e], day)
            })
            .collect();
        h.sort_by(|p, q| q.2.cmp(&p.2).then(q.1.cmp(&p.1)).then(p.0.cmp(&q.0)));
        h
    }

    pub fn recommend(&self, u: usize, n: usize) -> Vec<Recommendation> {
        let bought: Vec<u32> = self.x.row(u).map(|(i, _)| i).collect();
        self.model
            .recommend(&bought, n, false, &mut Scorer::new(self.x.n_items))
    }
}

/// Reads the order lines of `input` (a data file, or a workspace's orders source).
pub fn purchases(
    input: &Path,
    names: &PurchaseColumnNames,
    progress: &Progress,
) -> Result<(PurchaseColumns, Purchases)> {
    progress.start("reading order lines", 1);
    let cols = purchase_columns(
        input,
        names.customer.as_deref(),
        names.item.as_deref(),
        names.order.as_deref(),
        names.date.as_deref(),
        &names.given,
    )?;
    let p = read_purchases(input, &cols)?;
    Ok((cols, p))
}

/// The item-item model of `p`, evaluated as `params` asks. A half-life needs the lines'
/// dates and `Evaluate::Yes` their orders or dates: the caller checks (and words) both.
pub fn model(
    columns: PurchaseColumns,
    p: Purchases,
    params: &RecommendSettings,
    progress: &Progress,
) -> Result<RecModel> {
    progress.check()?;
    let line_weights: Option<Vec<f64>> = match (params.half_life, &p.day) {
        (Some(h), Some(days)) => {
            let last = days.iter().copied().max().unwrap_or(0);
            Some(
                days.iter()
                    .map(|&d| 0.5f64.powf((last - d) as f64 / h))
                    .collect(),
            )
        }
        _ => None,
    };
    let weighting = if line_weights.is_some() {
        Weighting::Count
    } else {
        params.weighting
    };
    let x = Interactions::from_weighted_lines(
        p.customers.len(),
        p.items.len(),
        (0..p.user.len()).map(|k| {
            let w = line_weights.as_ref().map_or(1.0, |w| w[k]);
            (p.user[k], p.item[k], w)
        }),
        weighting,
    );
    let (times, last_day) = x.entry_stats((&p.user, &p.item), p.day.as_deref());
    let model = item_model(&x, params.neighbours, params.iuf, progress)?;
    let split = |last: &Vec<bool>| {
        last_order_split(
            p.customers.len(),
            p.items.len(),
            (&p.user, &p.item, line_weights.as_deref()),
            last,
            weighting,
        )
    };
    let run_evaluation = |train: Interactions, test: Vec<Vec<u32>>| {
        evaluate(
            &train,
            &test,
            params.top,
            params.neighbours,
            params.iuf,
            progress,
        )
    };
    let evaluation = match (params.evaluate, &p.in_last_order) {
        (Evaluate::No, _) | (Evaluate::IfPossible, None) => None,
        (Evaluate::IfPossible, Some(last)) => {
            let (train, test) = split(last);
            run_evaluation(train, test).ok()
        }
        (Evaluate::Yes, Some(last)) => {
            let (train, test) = split(last);
            Some(run_evaluation(train, test)?)
        }
        (Evaluate::Yes, None) => {
            return Err(crate::data::DataError::Invalid(
                "evaluating needs the order or date column to find each customer's last order"
                    .into(),
            )
            .into());
        }
    };
    progress.check()?;
    Ok(RecModel {
        n_lines: p.user.len(),
        customers: p.customers,
        items: p.items,
        x,
        times,
        last_day,
        model,
        evaluation,
        neighbours: params.neighbours,
        columns,
    })
}

/// Writes every customer's top `top` (customer, rank, item, score, because) with the key in
/// column `id_col`, scoring in parallel chunk by chunk between writes. Returns the customers
/// written and the seconds spent scoring.
pub fn write_top_n(
    path: &Path,
    m: &RecModel,
    id_col: &str,
    top: usize,
    repeat: bool,
    opts: &ExportOptions,
    progress: &Progress,
) -> Result<(usize, f64)> {
    let n = m.customers.len();
    progress.start("top N for every customer", n as u64);
    let mut scoring = 0.0;
    let written = crate::export::write_recommendations(
        path,
        id_col,
        &m.customers,
        &m.items,
        opts,
        |range| {
            let t = Instant::now();
            let len = range.len() as u64;
            let recs: Vec<Vec<Recommendation>> = range
                .into_par_iter()
                .map_init(
                    || Scorer::new(m.x.n_items),
                    |s, u| {
                        let bought: Vec<u32> = m.x.row(u).map(|(i, _)| i).collect();
                        m.model.recommend(&bought, top, repeat, s)
                    },
                )
                .collect();
            scoring += t.elapsed().as_secs_f64();
            progress.advance(len);
            Ok(recs)
        },
    )?;
    Ok((written, scoring))
}
