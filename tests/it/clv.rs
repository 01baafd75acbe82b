//! Lifetime value against the Python `lifetimes` package (0.11.3): tests/data/clv holds a
//! simulated transactions file and what `lifetimes` computed from it
//! (benches/clv_reference.py wrote both).

use std::fs;

use chrono::NaiveDate;
use crmlens::analytics::clv::{
    BgNbd, GammaGamma, Rfm, bgnbd_log_likelihood, clv, fit_bgnbd, fit_gamma_gamma,
    gamma_gamma_log_likelihood, holdout, hyp2f1,
};
use crmlens::data::features::transactions::{
    Amount, TransactionColumns, read_transactions, summarise,
};
use crmlens::progress::Progress;
use serde_json::Value;

use crate::cli::assert_user_error;
use crate::{crmlens, repo, stderr, stdout};

fn reference() -> Value {
    let text = fs::read_to_string(repo().join("tests/data/clv/reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn close(got: f64, want: f64, rel: f64, what: &str) {
    let tol = rel * want.abs().max(1e-12);
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, lifetimes {want}"
    );
}

fn columns() -> TransactionColumns {
    TransactionColumns {
        customer: "customer_id".into(),
        date: "date".into(),
        amount: Amount::Column("amount".into()),
    }
}

fn calibration() -> (crmlens::data::features::transactions::Summary, Rfm) {
    let path = repo().join("tests/data/clv/transactions.csv");
    let (tx, dropped) = read_transactions(&path, &columns()).unwrap();
    assert_eq!(dropped, 0);
    let s = summarise(
        &tx,
        NaiveDate::from_ymd_opt(2024, 6, 30).unwrap(),
        NaiveDate::from_ymd_opt(2025, 6, 30),
        1.0,
    )
    .unwrap();
    let rfm = Rfm {
        x: s.frequency.clone(),
        t_x: s.recency.clone(),
        t: s.t.clone(),
        monetary: s.monetary.clone(),
    };
    (s, rfm)
}

#[test]
fn summary_matches_lifetimes() {
    let r = reference();
    let (s, _) = calibration();
    let want = r["customers"].as_array().unwrap();
    assert_eq!(s.ids.len(), want.len());
    // Three customers start after the calibration end.
    assert_eq!(s.excluded, 3);
    for (i, c) in want.iter().enumerate() {
        assert_eq!(s.ids[i], c["id"].as_str().unwrap());
        assert_eq!(
            s.frequency[i],
            c["frequency"].as_f64().unwrap(),
            "{}",
            s.ids[i]
        );
        assert_eq!(s.recency[i], c["recency"].as_f64().unwrap(), "{}", s.ids[i]);
        assert_eq!(s.t[i], c["T"].as_f64().unwrap(), "{}", s.ids[i]);
        close(
            s.monetary[i],
            c["monetary_value"].as_f64().unwrap(),
            1e-9,
            &s.ids[i],
        );
        assert_eq!(
            s.holdout_purchases[i],
            c["frequency_holdout"].as_f64().unwrap(),
            "{}",
            s.ids[i]
        );
    }
    assert_eq!(
        s.holdout_duration,
        r["holdout_totals"]["duration_holdout"].as_f64().unwrap()
    );
}

#[test]
fn likelihoods_at_fixed_parameters_match_lifetimes() {
    let r = reference();
    let (_, d) = calibration();
    let f = &r["bgnbd_fixed"];
    let p = |k: &str| f[k].as_f64().unwrap();
    close(
        bgnbd_log_likelihood(&d, p("r"), p("alpha"), p("a"), p("b")),
        p("log_likelihood_sum"),
        1e-10,
        "BG/NBD log-likelihood",
    );
    let g = &r["gamma_gamma_fixed"];
    let q = |k: &str| g[k].as_f64().unwrap();
    let (x, m) = d.repeat_customers();
    close(
        gamma_gamma_log_likelihood(&x, &m, q("p"), q("q"), q("v")),
        q("log_likelihood_sum"),
        1e-10,
        "Gamma-Gamma log-likelihood",
    );
    for h in r["hyp2f1"].as_array().unwrap() {
        let v = |k: &str| h[k].as_f64().unwrap();
        close(
            hyp2f1(v("a"), v("b"), v("c"), v("z")),
            v("value"),
            1e-10,
            &format!("hyp2f1 {h}"),
        );
    }
}

#[test]
fn fitted_parameters_match_lifetimes() {
    let r = reference();
    let (_, d) = calibration();
    let bg = fit_bgnbd(&d, &Progress::new()).unwrap();
    let w = &r["bgnbd"];
    for (got, k) in [(bg.r, "r"), (bg.alpha, "alpha"), (bg.a, "a"), (bg.b, "b")] {
        close(got, w[k].as_f64().unwrap(), 1e-3, k);
    }
    // At least as likely as lifetimes' optimum.
    assert!(bg.log_likelihood >= w["log_likelihood_sum"].as_f64().unwrap() - 1e-6);
    let gg = fit_gamma_gamma(&d, &Progress::new()).unwrap();
    let w = &r["gamma_gamma"];
    assert_eq!(gg.n_customers as u64, w["n_customers"].as_u64().unwrap());
    for (got, k) in [(gg.p, "p"), (gg.q, "q"), (gg.v, "v")] {
        close(got, w[k].as_f64().unwrap(), 1e-3, k);
    }
    assert!(gg.log_likelihood >= w["log_likelihood_sum"].as_f64().unwrap() - 1e-6);
}

/// Per-customer figures at lifetimes' fitted parameters (so the optimiser is not in it).
#[test]
fn per_customer_figures_match_lifetimes() {
    let r = reference();
    let (s, d) = calibration();
    let w = &r["bgnbd"];
    let bg = BgNbd {
        r: w["r"].as_f64().unwrap(),
        alpha: w["alpha"].as_f64().unwrap(),
        a: w["a"].as_f64().unwrap(),
        b: w["b"].as_f64().unwrap(),
        log_likelihood: 0.0,
    };
    let g = &r["gamma_gamma"];
    let gg = GammaGamma {
        p: g["p"].as_f64().unwrap(),
        q: g["q"].as_f64().unwrap(),
        v: g["v"].as_f64().unwrap(),
        n_customers: 0,
        log_likelihood: 0.0,
    };
    close(
        gg.expected_spend(0.0, 0.0),
        g["population_mean_spend"].as_f64().unwrap(),
        1e-12,
        "population mean",
    );
    for (i, c) in r["customers"].as_array().unwrap().iter().enumerate() {
        let id = &s.ids[i];
        let (x, tx, t) = (d.x[i], d.t_x[i], d.t[i]);
        close(
            bg.p_alive(x, tx, t),
            c["p_alive"].as_f64().unwrap(),
            1e-9,
            id,
        );
        close(
            bg.expected_purchases(30.0, x, tx, t),
            c["expected_purchases_30"].as_f64().unwrap(),
            1e-9,
            id,
        );
        close(
            bg.expected_purchases(365.0, x, tx, t),
            c["expected_purchases_365"].as_f64().unwrap(),
            1e-9,
            id,
        );
        if let Some(spend) = c["expected_average_spend"].as_f64() {
            close(gg.expected_spend(x, d.monetary[i]), spend, 1e-9, id);
        }
        let spend = gg.expected_spend(x, d.monetary[i]);
        close(
            clv(&bg, spend, (x, tx, t), 12, 0.01, 30.0),
            c["clv"].as_f64().unwrap(),
            1e-9,
            id,
        );
    }
    let h = holdout(&bg, &d, &s.holdout_purchases, s.holdout_duration, 7);
    close(
        h.predicted_total,
        r["holdout_totals"]["predicted"].as_f64().unwrap(),
        1e-9,
        "holdout predicted",
    );
    assert_eq!(
        h.actual_total,
        r["holdout_totals"]["actual"].as_f64().unwrap()
    );
    assert_eq!(h.buckets.iter().map(|b| b.customers).sum::<usize>(), 150);
}

#[test]
fn clv_command_json_contract() {
    let dir = tempfile::tempdir().unwrap();
    let input = repo().join("tests/data/clv/transactions.csv");
    let out = dir.path().join("clv.csv");
    let o = crmlens(
        dir.path(),
        &[
            "clv",
            "--input",
            input.to_str().unwrap(),
            "--customer-col",
            "customer_id",
            "--date-col",
            "date",
            "--amount-col",
            "amount",
            "--calibration-end",
            "2024-06-30",
            "--observation-end",
            "2025-06-30",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let r = reference();
    assert_eq!(v["n_customers"], 150);
    for k in ["r", "alpha", "a", "b", "log_likelihood"] {
        assert!(v["bgnbd"][k].is_number(), "bgnbd.{k}");
    }
    close(
        v["bgnbd"]["r"].as_f64().unwrap(),
        r["bgnbd"]["r"].as_f64().unwrap(),
        1e-3,
        "r",
    );
    for k in ["p", "q", "v", "n_customers"] {
        assert!(v["gamma_gamma"][k].is_number(), "gamma_gamma.{k}");
    }
    assert_eq!(v["gamma_gamma"]["n_customers"], 121);
    close(
        v["holdout"]["predicted_total"].as_f64().unwrap(),
        r["holdout_totals"]["predicted"].as_f64().unwrap(),
        1e-2,
        "holdout",
    );
    assert_eq!(v["holdout"]["actual_total"], 340.0);
    let text = fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "customer_id,frequency,recency,T,monetary,p_alive,expected_purchases,expected_spend,clv"
        )
    );
    assert_eq!(lines.count(), 150);
}

#[test]
fn clv_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let base = [
        "--customer-col",
        "customer_id",
        "--date-col",
        "date",
        "--amount-col",
        "amount",
    ];
    let run = |file: &str, extra: &[&str]| {
        let path = dir.path().join(file);
        let p = path.to_str().unwrap().to_string();
        let mut a = vec!["clv", "--input", p.as_str()];
        a.extend_from_slice(&base);
        a.extend_from_slice(extra);
        crmlens(dir.path(), &a)
    };
    fs::write(
        dir.path().join("baddate.csv"),
        "customer_id,date,amount\nA,2024-01-01,5\nA,soon,6\n",
    )
    .unwrap();
    assert_user_error(
        &run("baddate.csv", &["--calibration-end", "2024-06-30"]),
        &["date column `date`", "\"soon\""],
    );
    // A negative amount (a return) is dropped and counted, as the integration does.
    fs::write(
        dir.path().join("neg.csv"),
        "customer_id,date,amount\nA,2024-01-01,5\nA,2024-01-02,-6\nA,2024-01-05,7\nB,2024-01-03,4\nB,2024-01-04,3\nC,2024-01-02,8\nC,2024-01-09,6\nA,2024-02-01,2\n",
    )
    .unwrap();
    let out = run("neg.csv", &["--calibration-end", "2024-01-15", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["dropped_lines"], 1, "{v}");
    fs::write(
        dir.path().join("ok.csv"),
        "customer_id,date,amount\nA,2024-01-01,5\nA,2024-01-02,6\n",
    )
    .unwrap();
    assert_user_error(
        &run("ok.csv", &["--calibration-end", "2023-06-30"]),
        &["before all data", "2024-01-01"],
    );
    assert_user_error(
        &run("ok.csv", &["--calibration-end", "30/06/2024"]),
        &[
            "'30/06/2024' for '--calibration-end",
            "not a date; use YYYY-MM-DD",
        ],
    );
    let ok = dir.path().join("ok.csv");
    let o = crmlens(
        dir.path(),
        &[
            "clv",
            "--input",
            ok.to_str().unwrap(),
            "--amount-col",
            "price",
            "--customer-col",
            "customer_id",
            "--date-col",
            "date",
            "--calibration-end",
            "2024-06-30",
        ],
    );
    assert_user_error(&o, &["no column `price`", "customer_id, date, amount"]);
}

/// On the sample data, the generator's planted segments come out in the expected order of
/// lifetime value, and the holdout half-year is predicted within 10%.
#[test]
fn sample_segments_rank_by_clv() {
    let dir = tempfile::tempdir().unwrap();
    let ws = crate::sample_dir().join("crmlens.toml");
    let out = dir.path().join("clv.csv");
    let o = crmlens(
        dir.path(),
        &[
            "clv",
            "--input",
            ws.to_str().unwrap(),
            "--calibration-end",
            "2024-06-30",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let h = &v["holdout"];
    let (p, a) = (
        h["predicted_total"].as_f64().unwrap(),
        h["actual_total"].as_f64().unwrap(),
    );
    assert!((p - a).abs() < 0.1 * a, "holdout predicted {p}, actual {a}");
    // Lines the integration drops (returns, duplicates) are dropped here too.
    assert!(v["dropped_lines"].as_u64().unwrap() > 0);
    let truth = fs::read_to_string(crate::sample_dir().join("ground_truth_customers.csv")).unwrap();
    let segment: std::collections::HashMap<String, String> = truth
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].to_string())
        })
        .collect();
    let mut sums: std::collections::HashMap<String, (f64, usize)> = Default::default();
    let text = fs::read_to_string(&out).unwrap();
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        if let Some(s) = segment.get(f[0]) {
            let e = sums.entry(s.clone()).or_default();
            e.0 += f[8].parse::<f64>().unwrap();
            e.1 += 1;
        }
    }
    let mean = |s: &str| sums[s].0 / sums[s].1 as f64;
    assert!(mean("vip") > 3.0 * mean("loyal"), "{sums:?}");
    assert!(mean("loyal") > mean("occasional"), "{sums:?}");
    assert!(mean("occasional") > mean("lapsed"), "{sums:?}");
    assert!(mean("vip") > 10.0 * mean("lapsed"), "{sums:?}");
}
