//! `crmlens clv`: BG/NBD and Gamma-Gamma fitted on transactions up to a calibration end, every
//! customer's expected purchases, spend and lifetime value, and the holdout check.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use crate::pipeline::clv::{ClvColumns, ClvSettings, fit};
use crate::progress::Progress;

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct ClvArgs {
    /// Transactions: a data file, or a workspace (.toml) whose orders source is used.
    #[arg(long)]
    pub input: PathBuf,
    #[command(flatten)]
    pub cols: super::CustomerDateCols,
    /// The amount column (default: found by its role: a line total such as amount, total,
    /// revenue, sales, value or spent; else quantity x unit price).
    #[arg(long = "amount-col")]
    pub amount_col: Option<String>,
    /// Calibration end, holdout end, time unit, horizon and discount rate.
    #[command(flatten)]
    pub settings: ClvSettings,
    /// How many top customers by CLV to list.
    #[arg(long, default_value_t = 10, value_parser = super::whole::<usize>)]
    pub top: usize,
    /// Write every customer's figures (.csv, .parquet or .json).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub export: super::ExportFlags,
    /// Save the fitted models here (TOML) for `crmlens score` (an existing file only with
    /// --force).
    #[arg(long = "save-model")]
    pub save_model: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

use super::round;

pub fn run(a: ClvArgs) -> Result<()> {
    let opts = a.export.options(a.out.as_deref(), Some(&a.input))?;
    if let Some(p) = &a.save_model {
        crate::data::write::refuse_existing(p, a.export.force)?;
    }
    let settings = &a.settings;
    let Some(end) = settings.calibration_end else {
        bail!("--calibration-end is required: the last day (YYYY-MM-DD) of the fit");
    };
    if !(settings.discount_rate >= 0.0 && settings.discount_rate < 1.0) {
        bail!(
            "--discount-rate {}: use a monthly rate from 0 to 1, e.g. 0.01",
            settings.discount_rate
        );
    }
    if settings.horizon_months == 0 {
        bail!("--horizon 0: use 1 or more months");
    }
    // The range a workspace's [clv] horizon_months is held to: up to ten years.
    crate::analytics::limits::HORIZON_MONTHS.named("--horizon", settings.horizon_months)?;
    let columns = ClvColumns {
        customer: a.cols.customer_col.clone(),
        date: a.cols.date_col.clone(),
        amount: a.amount_col.clone(),
        given: Vec::new(),
    };
    let o = fit(&a.input, &columns, settings, &Progress::new())?;
    let (s, r, cols, dropped) = (&o, &o.run, &o.columns, o.dropped_lines);
    let [read_s, summary_s, models_s] = o.seconds;
    let seconds = read_s + summary_s + models_s;
    if let Some(out) = &a.out {
        write_figures(&o, out, &opts)?;
    }
    if let Some(path) = &a.save_model {
        crate::pipeline::saved::SavedModel::lifetime(&o)?.save(path, a.export.force)?;
    }
    let order = &o.order;
    let (total, median) = (o.stats.total, o.stats.median);
    let top: Vec<serde_json::Value> = order
        .iter()
        .take(a.top)
        .map(|&i| {
            serde_json::json!({
                "id": super::shown_id(&s.ids[i], &opts),
                "clv": round(r.rows[i].clv, 2),
                "p_alive": round(r.rows[i].p_alive, 4),
                "expected_purchases": round(r.rows[i].expected_purchases, 3),
                "expected_spend": round(r.rows[i].expected_spend, 2),
            })
        })
        .collect();
    let mut stdout = super::out::stdout();
    let bg = &r.bgnbd;
    let gg = &r.gamma_gamma;
    if a.json {
        let v = serde_json::json!({
            "input": a.input.display().to_string(),
            "columns": {"customer": cols.customer, "date": cols.date, "amount": cols.amount.describe()},
            "n_customers": s.ids.len(),
            "excluded_customers": s.excluded,
            "dropped_lines": dropped,
            "calibration_end": end.to_string(),
            "first_date": s.first_date.to_string(),
            "last_date": o.last_date.to_string(),
            "time_unit": settings.unit.singular(),
            "horizon_months": settings.horizon_months,
            "discount_rate": settings.discount_rate,
            "bgnbd": {"r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b, "log_likelihood": bg.log_likelihood},
            "gamma_gamma": {"p": gg.p, "q": gg.q, "v": gg.v, "n_customers": gg.n_customers, "log_likelihood": gg.log_likelihood},
            "frequency_monetary_correlation": r.frequency_monetary_correlation,
            "holdout": r.holdout,
            "clv": {"total": total, "mean": total / s.ids.len().max(1) as f64, "median": median},
            "top": top,
            "seconds": round(seconds, 3),
            // Reading and checking the lines; the per-customer summary; both fits and scoring.
            "stage_seconds": {"read": round(read_s, 3), "summary": round(summary_s, 3), "models": round(models_s, 3)},
        });
        stdout.json(&v)?;
    } else {
        writeln!(
            stdout,
            "{} customers (calibration to {end}; {} starting later left out), {} to {}{}",
            s.ids.len(),
            s.excluded,
            s.first_date,
            o.last_date,
            if dropped > 0 {
                format!("; {dropped} invalid or duplicate lines dropped as integration does")
            } else {
                String::new()
            }
        )?;
        writeln!(
            stdout,
            "BG/NBD: r {:.4}, alpha {:.4}, a {:.4}, b {:.4} (log-likelihood {:.2})",
            bg.r, bg.alpha, bg.a, bg.b, bg.log_likelihood
        )?;
        writeln!(
            stdout,
            "Gamma-Gamma on {} repeat customers: p {:.4}, q {:.4}, v {:.4}; frequency-spend correlation {:.3}{}",
            gg.n_customers,
            gg.p,
            gg.q,
            gg.v,
            r.frequency_monetary_correlation,
            if r.frequency_monetary_correlation.abs() > 0.3 {
                " (high: the model assumes none)"
            } else {
                ""
            }
        )?;
        if let Some(h) = &r.holdout {
            writeln!(
                stdout,
                "holdout ({:.0} {}s): predicted {:.1} purchases, actual {:.0}",
                h.duration,
                settings.unit.singular(),
                h.predicted_total,
                h.actual_total
            )?;
        }
        writeln!(
            stdout,
            "CLV over {} months at {}/month: total {:.0}, mean {:.2}, median {:.2}",
            settings.horizon_months,
            settings.discount_rate,
            total,
            total / s.ids.len().max(1) as f64,
            median
        )?;
        for &i in order.iter().take(a.top) {
            writeln!(
                stdout,
                "  {:<14} {:>10.2}  (p alive {:.2}, {:.2} purchases, {:.2} each)",
                crate::text::escape(&super::shown_id(&s.ids[i], &opts)),
                r.rows[i].clv,
                r.rows[i].p_alive,
                r.rows[i].expected_purchases,
                r.rows[i].expected_spend
            )?;
        }
    }
    Ok(())
}

/// Writes every customer's summary and figures (the columns of `clv --out`, which
/// `score --out` with a lifetime-value model writes too).
pub fn write_figures(
    o: &crate::pipeline::clv::ClvOutcome,
    out: &std::path::Path,
    opts: &crate::data::write::ExportOptions,
) -> Result<()> {
    let mut df = o.table()?;
    let id = o.columns.customer.clone();
    crate::data::write::write_table(&mut df, out, Some(&id), opts)?;
    Ok(())
}
