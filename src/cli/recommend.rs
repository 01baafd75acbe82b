//! `crmlens recommend`: item-based collaborative filtering from order lines; one customer's
//! recommendations with reasons, everyone's top N to a file, and the leave-last-order-out
//! evaluation against the popularity baseline.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use clap::Args;

use crate::analytics::recommend::{Recommendation, Scorer, Weighting};
use crate::data::dates::from_epoch_days;
use crate::pipeline::recommend::{
    Evaluate, PurchaseColumnNames, RecommendSettings, model, purchases, write_top_n,
};
use crate::progress::Progress;

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct RecommendArgs {
    /// Order lines: a data file, or a workspace (.toml) whose orders source is used.
    #[arg(long)]
    pub input: PathBuf,
    #[command(flatten)]
    pub cols: super::CustomerDateCols,
    /// The item column (default: found by its role: product, item, sku, description...).
    #[arg(long = "item-col")]
    pub item_col: Option<String>,
    /// The order column, for the leave-last-order-out evaluation (default: found by its
    /// role: an order, invoice, transaction or basket id).
    #[arg(long = "order-col")]
    pub order_col: Option<String>,
    /// N, the neighbourhood, IUF, weighting and half-life.
    #[command(flatten)]
    pub settings: RecommendSettings,
    /// Also recommend items the customer bought before (repeat purchases).
    #[arg(long)]
    pub repeat: bool,
    /// Recommend for this customer id.
    #[arg(long)]
    pub customer: Option<String>,
    /// Leave-last-order-out evaluation of the model and the popularity baseline at N.
    #[arg(long)]
    pub evaluate: bool,
    /// Write every customer's top N (customer, rank, item, score, because) to .csv, .parquet
    /// or .json.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub export: super::ExportFlags,
    #[arg(long)]
    pub json: bool,
}

use super::round;

pub fn run(a: RecommendArgs) -> Result<()> {
    let opts = a.export.options(a.out.as_deref(), Some(&a.input))?;
    let weighting = a.settings.weighting;
    if !(a.settings.iuf >= 0.0 && a.settings.iuf.is_finite()) {
        bail!(
            "--iuf {}: use 0 (plain cosine) or more, e.g. 1",
            a.settings.iuf
        );
    }
    if let Some(h) = a.settings.half_life
        && !(h > 0.0 && h.is_finite())
    {
        bail!("--half-life {h}: use a positive number of days, e.g. 180");
    }
    if a.settings.top == 0 || a.settings.neighbours == 0 {
        bail!("--top and --neighbours must be 1 or more");
    }
    // The ranges a workspace's [recommend] is held to (`analytics::limits`).
    crate::analytics::limits::TOP.named("--top", a.settings.top)?;
    crate::analytics::limits::NEIGHBOURS.named("--neighbours", a.settings.neighbours)?;
    let started = Instant::now();
    let names = PurchaseColumnNames {
        customer: a.cols.customer_col.clone(),
        item: a.item_col.clone(),
        order: a.order_col.clone(),
        date: a.cols.date_col.clone(),
        given: Vec::new(),
    };
    let progress = Progress::new();
    let (cols, p) = purchases(&a.input, &names, &progress)?;
    let read_s = started.elapsed().as_secs_f64();
    let target = match &a.customer {
        Some(id) => match p.customers.binary_search(id) {
            Ok(u) => Some(u),
            Err(_) => bail!(
                "--customer {id}: no purchases by that customer in {} (column `{}`)",
                a.input.display(),
                cols.customer
            ),
        },
        None => None,
    };
    if a.settings.half_life.is_some() && p.day.is_none() {
        bail!("--half-life needs a date column; pass --date-col");
    }
    if a.evaluate && p.in_last_order.is_none() {
        bail!(
            "--evaluate needs the order or date column to find each customer's last order; pass --order-col or --date-col"
        );
    }
    let params = RecommendSettings {
        evaluate: if a.evaluate {
            Evaluate::Yes
        } else {
            Evaluate::No
        },
        ..a.settings.clone()
    };
    let t_model = Instant::now();
    let m = model(cols, p, &params, &progress)?;
    // The model's time includes the evaluation's, which is reported with it.
    let model_s = t_model.elapsed().as_secs_f64();
    let (cols, x, model, evaluation) = (&m.columns, &m.x, &m.model, &m.evaluation);
    let weighting = if a.settings.half_life.is_some() {
        Weighting::Count
    } else {
        weighting
    };
    let p = &m;
    let name = |i: u32| p.items[i as usize].as_str();
    let rec_json = |r: &Recommendation| {
        serde_json::json!({
            "item": name(r.item),
            "score": round(r.score, 6),
            "because": r.because.iter().map(|(b, _)| name(*b)).collect::<Vec<_>>(),
            "popular": r.popular,
        })
    };
    let bought = |u: usize| -> Vec<u32> { x.row(u).map(|(i, _)| i).collect() };
    let mut all_s = None;
    if let Some(out) = &a.out {
        // Scoring time only; writing is streamed chunk by chunk between the scoring.
        let (_, scoring) = write_top_n(
            out,
            &m,
            &cols.customer,
            a.settings.top,
            a.repeat,
            &opts,
            &progress,
        )?;
        all_s = Some(scoring);
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut stdout = super::out::stdout();
    if a.json {
        let mut v = serde_json::json!({
            "input": a.input.display().to_string(),
            "columns": {"customer": cols.customer, "item": cols.item, "order": cols.order, "date": cols.date},
            "n_customers": p.customers.len(),
            "n_items": p.items.len(),
            "n_lines": m.n_lines,
            "top": a.settings.top,
            "neighbours": a.settings.neighbours,
            "iuf": a.settings.iuf,
            "half_life": a.settings.half_life,
            "weighting": weighting,
            "seconds": round(seconds, 3),
            "stage_seconds": {"read": round(read_s, 3), "model": round(model_s, 3), "all_top_n": all_s.map(|s| round(s, 3))},
        });
        if let Some(u) = target {
            let mut s = Scorer::new(x.n_items);
            let recs = model.recommend(&bought(u), a.settings.top, a.repeat, &mut s);
            v["customer"] = serde_json::json!(super::shown_id(&p.customers[u], &opts));
            let (times, last) = (&m.times, &m.last_day);
            let a0 = x.indptr[u];
            v["history"] = serde_json::json!(
                x.row(u)
                    .enumerate()
                    .map(|(k, (i, w))| {
                        let last = last.as_ref().map(|l| from_epoch_days(l[a0 + k]).to_string());
                        serde_json::json!({"item": name(i), "weight": w, "times": times[a0 + k], "last_date": last})
                    })
                    .collect::<Vec<_>>()
            );
            v["recommendations"] = serde_json::Value::Array(recs.iter().map(rec_json).collect());
        }
        if let Some(e) = &evaluation {
            v["evaluated_customers"] = serde_json::json!(e.customers);
            v["model"] = serde_json::to_value(&e.model)?;
            v["baseline"] = serde_json::to_value(&e.baseline)?;
        }
        stdout.json(&v)?;
    } else {
        writeln!(
            stdout,
            "{} customers, {} items, {} lines; model with {} neighbours per item in {model_s:.2}s",
            p.customers.len(),
            p.items.len(),
            m.n_lines,
            a.settings.neighbours
        )?;
        if let Some(u) = target {
            let mut s = Scorer::new(x.n_items);
            let esc = crate::text::escape;
            let hist: Vec<_> = x.row(u).map(|(i, _)| esc(name(i))).collect();
            writeln!(
                stdout,
                "{} bought: {}",
                esc(&super::shown_id(&p.customers[u], &opts)),
                hist.join(", ")
            )?;
            for (k, r) in model
                .recommend(&bought(u), a.settings.top, a.repeat, &mut s)
                .iter()
                .enumerate()
            {
                let why: Vec<_> = r.because.iter().map(|(b, _)| esc(name(*b))).collect();
                writeln!(
                    stdout,
                    "  {:>2}. {:<28} {:.3}  {}",
                    k + 1,
                    esc(name(r.item)),
                    r.score,
                    if r.popular {
                        "(popular)".to_string()
                    } else {
                        format!("because you bought {}", why.join(", "))
                    }
                )?;
            }
        }
        if let Some(e) = &evaluation {
            writeln!(
                stdout,
                "leave-last-order-out at {} on {} customers:",
                e.n, e.customers
            )?;
            writeln!(
                stdout,
                "  {:<10} {:>9} {:>9} {:>9} {:>9} {:>9}",
                "", "hit rate", "precision", "recall", "NDCG", "coverage"
            )?;
            for (label, m) in [("item CF", &e.model), ("popular", &e.baseline)] {
                writeln!(
                    stdout,
                    "  {label:<10} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                    m.hit_rate, m.precision, m.recall, m.ndcg, m.coverage
                )?;
            }
        }
    }
    Ok(())
}
