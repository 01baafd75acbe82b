//! `crmlens recommend`: a customer's history and recommendations, against popularity, bad
//! inputs.

use std::fs;
use std::path::Path;

use super::assert_user_error;
use crate::{crmlens, sample_dir, stderr, stdout};

/// Recommendations for one customer: never an item they bought, reasons among their
/// purchases; the evaluation reports both models; --out has every customer's top N.
/// `crmlens recommend` on the sample workspace with `--evaluate --out recs.csv --json` and
/// `extra`: the JSON, and the path of the recommendations file.
fn recommend_sample(dir: &Path, extra: &[&str]) -> (serde_json::Value, std::path::PathBuf) {
    let ws = sample_dir().join("crmlens.toml");
    let out = dir.join("recs.csv");
    let mut args = vec![
        "recommend",
        "--input",
        ws.to_str().unwrap(),
        "--evaluate",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    let o = crmlens(dir, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    (serde_json::from_str(&stdout(&o)).unwrap(), out)
}

#[test]
fn recommend_on_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let (v, out) = recommend_sample(dir.path(), &["--customer", "C000002", "--top", "5"]);
    let history: Vec<&str> = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["item"].as_str().unwrap())
        .collect();
    // Times bought (orders with the item) and the last date, from orders.csv by hand.
    let orders = fs::read_to_string(sample_dir().join("orders.csv")).unwrap();
    let mut seen: std::collections::BTreeMap<&str, (std::collections::BTreeSet<&str>, &str)> =
        Default::default();
    for l in orders.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        if f[1] == "C000002" && f[5].parse::<i64>().unwrap() > 0 {
            let e = seen.entry(f[3]).or_insert((Default::default(), ""));
            e.0.insert(f[0]);
            e.1 = e.1.max(f[2]);
        }
    }
    assert_eq!(history.len(), seen.len());
    for h in v["history"].as_array().unwrap() {
        let (orders, last) = &seen[h["item"].as_str().unwrap()];
        assert_eq!(h["times"].as_u64().unwrap() as usize, orders.len(), "{h}");
        assert_eq!(h["last_date"].as_str().unwrap(), *last, "{h}");
    }
    let recs = v["recommendations"].as_array().unwrap();
    assert_eq!(recs.len(), 5);
    let scores: Vec<f64> = recs.iter().map(|r| r["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]));
    for r in recs {
        let item = r["item"].as_str().unwrap();
        assert!(!history.contains(&item), "{item} was bought already");
        for b in r["because"].as_array().unwrap() {
            assert!(history.contains(&b.as_str().unwrap()));
        }
    }
    for side in ["model", "baseline"] {
        for k in ["hit_rate", "precision", "recall", "ndcg", "coverage"] {
            let x = v[side][k].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&x), "{side}.{k} = {x}");
        }
    }
    let text = fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("customer_id,rank,item,score,because"));
    assert_eq!(
        text.lines().count() - 1,
        5 * v["n_customers"].as_u64().unwrap() as usize
    );
}

/// The sample's planted patterns (follow-ups across orders, customers' favourite categories)
/// are what item-based CF can learn and bestsellers cannot: with the defaults (N = 10), CF
/// beats the popularity baseline on hit rate and NDCG in the leave-last-order-out evaluation,
/// and it recommends a planted follow-up to customers who bought its trigger far more often
/// than to other customers.
#[test]
fn recommend_beats_popularity_on_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let (v, out) = recommend_sample(dir.path(), &[]);
    let metric = |side: &str, k: &str| v[side][k].as_f64().unwrap();
    assert!(v["evaluated_customers"].as_u64().unwrap() > 3000);
    let (cf, pop) = (metric("model", "hit_rate"), metric("baseline", "hit_rate"));
    assert!(cf > pop + 0.02, "hit rate@10: CF {cf}, popularity {pop}");
    let (cf, pop) = (metric("model", "ndcg"), metric("baseline", "ndcg"));
    assert!(cf > pop + 0.02, "NDCG@10: CF {cf}, popularity {pop}");

    // Laptop owners without a monitor get "Monitor 27in" recommended far more often than
    // customers without a laptop (or a monitor).
    let orders = fs::read_to_string(sample_dir().join("orders.csv")).unwrap();
    let mut bought: std::collections::HashMap<&str, std::collections::HashSet<&str>> =
        Default::default();
    for l in orders.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        if f[5].parse::<i64>().unwrap() > 0 {
            bought.entry(f[1]).or_default().insert(f[3]);
        }
    }
    let recs = fs::read_to_string(&out).unwrap();
    let mut top: std::collections::HashMap<&str, Vec<&str>> = Default::default();
    for l in recs.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        top.entry(f[0]).or_default().push(f[2]);
    }
    for (trigger, follow) in [("Laptop", "Monitor 27in"), ("Tent", "Hiking Boots")] {
        let (mut owners, mut owners_hit, mut others, mut others_hit) = (0, 0, 0, 0);
        for (id, items) in &bought {
            if items.contains(follow) {
                continue;
            }
            let hit = top.get(id).is_some_and(|t| t.contains(&follow)) as usize;
            if items.contains(trigger) {
                (owners, owners_hit) = (owners + 1, owners_hit + hit);
            } else {
                (others, others_hit) = (others + 1, others_hit + hit);
            }
        }
        let (a, b) = (
            owners_hit as f64 / owners as f64,
            others_hit as f64 / others as f64,
        );
        assert!(owners >= 50, "{owners} {trigger} owners");
        assert!(
            a > 2.0 * b && a > 0.3,
            "{follow} recommended to {a:.2} of {trigger} owners, {b:.2} of others"
        );
    }
}

#[test]
fn recommend_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_dir().join("crmlens.toml");
    let ws = ws.to_str().unwrap();
    assert_user_error(
        &crmlens(
            dir.path(),
            &["recommend", "--input", ws, "--customer", "NOPE"],
        ),
        &["--customer NOPE", "no purchases"],
    );
    assert_user_error(
        &crmlens(
            dir.path(),
            &["recommend", "--input", ws, "--item-col", "sku"],
        ),
        &["no column `sku`"],
    );
    let flat = dir.path().join("lines.csv");
    fs::write(&flat, "customer_id,product\nA,x\nA,y\nB,x\n").unwrap();
    assert_user_error(
        &crmlens(
            dir.path(),
            &["recommend", "--input", flat.to_str().unwrap(), "--evaluate"],
        ),
        &["--evaluate needs the order or date column"],
    );
    assert_user_error(
        &crmlens(
            dir.path(),
            &[
                "recommend",
                "--input",
                flat.to_str().unwrap(),
                "--half-life",
                "90",
            ],
        ),
        &["--half-life needs a date column"],
    );
    assert_user_error(
        &crmlens(
            dir.path(),
            &["recommend", "--input", ws, "--half-life", "0"],
        ),
        &["--half-life 0"],
    );
}
