//! `crmlens rules`: the sample's planted patterns, Apriori against FP-Growth, filters, bad
//! inputs.

use std::fs;
use std::path::Path;

use super::assert_user_error;
use crate::{crmlens, sample_dir, stderr, stdout};

fn rules_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["rules"];
    all.extend_from_slice(args);
    all.push("--json");
    let o = crmlens(dir, &all);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

/// The generator planted "who buys X also buys Y" rules in the sample orders; each is found
/// with the confidence the generator observed, and every metric follows its definition.
#[test]
fn rules_find_the_planted_patterns() {
    let dir = tempfile::tempdir().unwrap();
    let orders = sample_dir().join("orders.csv");
    let v = rules_json(
        dir.path(),
        &[
            "--input",
            orders.to_str().unwrap(),
            "--transaction-col",
            "order_id",
            "--item-col",
            "product",
            "--min-support",
            "0.005",
        ],
    );
    let n = v["n_transactions"].as_f64().unwrap();
    assert!(n > 30_000.0);
    let truth: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(sample_dir().join("ground_truth.json")).unwrap())
            .unwrap();
    let rules = v["rules"].as_array().unwrap();
    let names = |x: &serde_json::Value| -> Vec<String> {
        x.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    for planted in truth["planted_rules"].as_array().unwrap() {
        let (a, c) = (names(&planted["antecedent"]), names(&planted["consequent"]));
        let r = rules
            .iter()
            .find(|r| names(&r["antecedents"]) == a && names(&r["consequents"]) == c)
            .unwrap_or_else(|| panic!("planted rule {a:?} -> {c:?} not found"));
        let conf = r["confidence"].as_f64().unwrap();
        let want = planted["observed_confidence"].as_f64().unwrap();
        assert!(
            (conf - want).abs() < 6e-4,
            "{a:?} -> {c:?}: {conf} vs {want}"
        );
        let lift = r["lift"].as_f64().unwrap();
        assert!(
            lift > 5.0,
            "{a:?} -> {c:?}: a planted rule has a high lift ({lift})"
        );
    }
    for r in rules {
        let f = |k: &str| r[k].as_f64().unwrap();
        let (sa, sc, s) = (
            f("antecedent_support"),
            f("consequent_support"),
            f("support"),
        );
        assert!((s - r["count"].as_f64().unwrap() / n).abs() < 1e-12);
        assert!((f("confidence") - s / sa).abs() < 1e-12);
        assert!((f("lift") - s / sa / sc).abs() < 1e-9);
        assert!((f("leverage") - (s - sa * sc)).abs() < 1e-12);
        for side in ["antecedents", "consequents"] {
            let items = names(&r[side]);
            let mut sorted = items.clone();
            sorted.sort();
            assert_eq!(items, sorted, "items sorted alphabetically");
        }
    }
    // Sorted by lift, highest first.
    let lifts: Vec<f64> = rules.iter().map(|r| r["lift"].as_f64().unwrap()).collect();
    assert!(lifts.windows(2).all(|w| w[0] >= w[1]));
    for s in v["itemsets"].as_array().unwrap() {
        assert!(s["support"].as_f64().unwrap() >= 0.005);
    }
}

#[test]
fn rules_apriori_equals_fpgrowth_and_files_hold_every_rule() {
    let dir = tempfile::tempdir().unwrap();
    let orders = sample_dir().join("orders.csv");
    let base = [
        "--input",
        orders.to_str().unwrap(),
        "--transaction-col",
        "customer_id",
        "--item-col",
        "category",
        "--min-support",
        "0.3",
        "--max-len",
        "3",
    ];
    let strip = |mut v: serde_json::Value| {
        v.as_object_mut().unwrap().remove("seconds");
        v.as_object_mut().unwrap().remove("algorithm");
        v
    };
    let fp = strip(rules_json(dir.path(), &base));
    let mut ap_args = base.to_vec();
    ap_args.extend(["--algo", "apriori"]);
    let ap = strip(rules_json(dir.path(), &ap_args));
    assert_eq!(fp, ap);
    let n_rules = fp["rules"].as_array().unwrap().len();
    assert!(n_rules > 10);
    for ext in ["csv", "json", "parquet"] {
        let out = dir.path().join(format!("rules.{ext}"));
        let mut args = base.to_vec();
        args.extend(["--out", out.to_str().unwrap(), "--max-rules", "7"]);
        let v = rules_json(dir.path(), &args);
        assert_eq!(v["rules"].as_array().unwrap().len(), 7);
        let written = match ext {
            "json" => serde_json::from_str::<serde_json::Value>(&fs::read_to_string(&out).unwrap())
                .unwrap()
                .as_array()
                .unwrap()
                .len(),
            "csv" => fs::read_to_string(&out).unwrap().lines().count() - 1,
            _ => crmlens::data::sources::file::read_frame(&out, &Default::default())
                .unwrap()
                .height(),
        };
        assert_eq!(written, 7, "{ext}");
    }
}

#[test]
fn rules_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let orders = sample_dir().join("orders.csv");
    let orders = orders.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut a = vec![
            "rules",
            "--input",
            orders,
            "--transaction-col",
            "order_id",
            "--item-col",
            "product",
        ];
        a.extend_from_slice(extra);
        crmlens(dir.path(), &a)
    };
    assert_user_error(
        &run(&["--min-support", "0"]),
        &["--min-support 0", "(0, 1]"],
    );
    assert_user_error(&run(&["--min-support", "1.5"]), &["(0, 1]"]);
    assert_user_error(
        &run(&["--min-support", "0.1", "--min-count", "3"]),
        &["not both"],
    );
    assert_user_error(
        &run(&["--algo", "eclat"]),
        &["'eclat' for '--algo", "fpgrowth, apriori"],
    );
    assert_user_error(
        &run(&["--sort", "fun"]),
        &["'fun' for '--sort", "zhangs_metric"],
    );
    assert_user_error(&run(&["--out", "r.xlsx"]), &["r.xlsx", ".csv"]);
    assert_user_error(
        &run(&["--min-count", "1", "--limit", "50"]),
        &["more than 50", "raise min_support"],
    );
    let o = crmlens(
        dir.path(),
        &[
            "rules",
            "--input",
            orders,
            "--transaction-col",
            "order",
            "--item-col",
            "product",
        ],
    );
    assert_user_error(&o, &["no column `order`", "order_id"]);
    let empty = dir.path().join("empty.csv");
    fs::write(&empty, "order_id,product\n").unwrap();
    let o = crmlens(
        dir.path(),
        &[
            "rules",
            "--input",
            empty.to_str().unwrap(),
            "--transaction-col",
            "order_id",
            "--item-col",
            "product",
        ],
    );
    assert_user_error(&o, &["no baskets"]);
}

#[test]
fn rules_filters_by_item_pattern_and_side_size() {
    let dir = tempfile::tempdir().unwrap();
    let orders = sample_dir().join("orders.csv");
    let v = rules_json(
        dir.path(),
        &[
            "--input",
            orders.to_str().unwrap(),
            "--transaction-col",
            "order_id",
            "--item-col",
            "product",
            "--min-support",
            "0.005",
            "--antecedent",
            "LAPTOP",
            "--max-consequents",
            "1",
            "--sort",
            "confidence",
        ],
    );
    let rules = v["rules"].as_array().unwrap();
    assert!(!rules.is_empty());
    for r in rules {
        let a: Vec<&str> = r["antecedents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert!(
            a.iter().any(|s| s.to_lowercase().contains("laptop")),
            "{a:?}"
        );
        assert_eq!(r["consequents"].as_array().unwrap().len(), 1);
    }
    let conf: Vec<f64> = rules
        .iter()
        .map(|r| r["confidence"].as_f64().unwrap())
        .collect();
    assert!(conf.windows(2).all(|w| w[0] >= w[1]));
    let o = crmlens(
        dir.path(),
        &[
            "rules",
            "--input",
            orders.to_str().unwrap(),
            "--transaction-col",
            "order_id",
            "--item-col",
            "product",
            "--antecedent",
            "(",
        ],
    );
    assert_user_error(&o, &["item pattern `(`"]);
}
