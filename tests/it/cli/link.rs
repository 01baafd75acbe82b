//! `crmlens link`: the sample's loyalty member list (generated with its truth, sharing no key
//! with customers.csv) linked to the customers with the defaults, the JSON contract, the
//! files written, determinism, and bad input.

use std::collections::{BTreeSet, HashMap};
use std::fs;

use polars::prelude::SerReader;

use super::assert_user_error;
use crate::{crmlens, sample_dir, stderr, stdout};

pub(crate) fn truth() -> BTreeSet<(String, String)> {
    let text = fs::read_to_string(sample_dir().join("ground_truth_identity.csv")).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let (m, c) = l.split_once(',')?;
            (!c.is_empty()).then(|| (c.to_string(), m.to_string()))
        })
        .collect()
}

fn link_sample(extra: &[&str]) -> serde_json::Value {
    let dir = sample_dir();
    let mut args = vec![
        "link",
        "--input",
        "customers.csv",
        "--input",
        "loyalty_members.csv",
        "--json",
    ];
    args.extend_from_slice(extra);
    let o = crmlens(&dir, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

fn pairs(v: &serde_json::Value) -> BTreeSet<(String, String)> {
    v["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["left"].as_str().unwrap().to_string(),
                p["right"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The bar: precision and recall both at least 0.98 against the recorded truth,
/// with no flag but the two inputs.
#[test]
fn the_loyalty_list_links_to_the_customers_with_precision_and_recall_above_098() {
    let v = link_sample(&[]);
    let truth = truth();
    let got = pairs(&v);
    let tp = got.intersection(&truth).count() as f64;
    let (precision, recall) = (tp / got.len() as f64, tp / truth.len() as f64);
    assert!(precision >= 0.98, "precision {precision}");
    assert!(recall >= 0.98, "recall {recall}");
    // The contract's keys.
    for k in [
        "n_records",
        "n_candidate_pairs",
        "threshold",
        "pairs",
        "n_clusters",
        "comparisons",
        "prior",
        "seconds",
    ] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    let customers = fs::read_to_string(sample_dir().join("customers.csv")).unwrap();
    let members = fs::read_to_string(sample_dir().join("loyalty_members.csv")).unwrap();
    assert_eq!(
        v["n_records"].as_u64().unwrap() as usize,
        customers.lines().count() - 1 + members.lines().count() - 1
    );
    assert_eq!(v["threshold"], 0.5);
    // Left is from the first input; every pair is at or above the threshold.
    for p in v["pairs"].as_array().unwrap() {
        assert!(p["left"].as_str().unwrap().starts_with('C'), "{p}");
        assert!(p["right"].as_str().unwrap().starts_with("LM"), "{p}");
        let prob = p["probability"].as_f64().unwrap();
        assert!(prob >= 0.5, "{p}");
        let w = p["match_weight"].as_f64().unwrap();
        // probability = 2^w / (1 + 2^w)
        assert!((prob - 1.0 / (1.0 + (-w).exp2())).abs() < 1e-3, "{p}");
    }
    // Fields found by their names in both files, each level with m, u and weight.
    let fields: Vec<&str> = v["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "email", "phone", "birth_date", "town"]);
    for c in v["comparisons"].as_array().unwrap() {
        for l in c["levels"].as_array().unwrap() {
            let (m, u, w) = (
                l["m"].as_f64().unwrap(),
                l["u"].as_f64().unwrap(),
                l["weight"].as_f64().unwrap(),
            );
            assert!(m > 0.0 && m <= 1.0 && u > 0.0 && u <= 1.0, "{l}");
            assert!((w - (m / u).log2()).abs() < 0.05, "{l}");
        }
        // Exact agreement weighs more than "else".
        let lv = c["levels"].as_array().unwrap();
        assert!(
            lv[0]["weight"].as_f64() > lv.last().unwrap()["weight"].as_f64(),
            "{c}"
        );
    }
    // The prior is about the true share of matching pairs among all pairs.
    let n_true = truth.len() as f64;
    let all = (customers.lines().count() - 1) as f64 * (members.lines().count() - 1) as f64;
    let prior = v["prior"].as_f64().unwrap();
    assert!((prior / (n_true / all) - 1.0).abs() < 0.25, "prior {prior}");
    // Fewer candidates than all pairs by orders of magnitude.
    assert!(v["n_candidate_pairs"].as_f64().unwrap() < all / 50.0);
}

#[test]
fn same_seed_same_pairs() {
    let a = link_sample(&["--seed", "7"]);
    let b = link_sample(&["--seed", "7"]);
    assert_eq!(a["pairs"], b["pairs"]);
    assert_eq!(a["comparisons"], b["comparisons"]);
}

#[test]
fn pairs_and_person_ids_are_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, clusters) = (
        tmp.path().join("pairs.csv"),
        tmp.path().join("people.parquet"),
    );
    let v = link_sample(&[
        "--out",
        out.to_str().unwrap(),
        "--clusters-out",
        clusters.to_str().unwrap(),
    ]);
    let text = fs::read_to_string(&out).unwrap();
    let header = text.lines().next().unwrap();
    assert!(
        header.starts_with("left,right,probability,match_weight,name_level"),
        "{header}"
    );
    assert_eq!(
        text.lines().count() - 1,
        v["pairs"].as_array().unwrap().len()
    );
    // Every pair's two records have one person id.
    let df = polars::prelude::ParquetReader::new(fs::File::open(&clusters).unwrap())
        .finish()
        .unwrap();
    let ids = df.column("id").unwrap().str().unwrap().clone();
    let person = df.column("person_id").unwrap().u32().unwrap().clone();
    let mut of: HashMap<String, u32> = HashMap::new();
    for (i, p) in ids.iter().zip(person.iter()) {
        of.insert(i.unwrap().to_string(), p.unwrap());
    }
    for (l, r) in pairs(&v) {
        assert_eq!(of[&l], of[&r], "{l} {r}");
    }
    assert_eq!(
        v["n_clusters"].as_u64().unwrap() as usize,
        person.iter().flatten().collect::<BTreeSet<_>>().len()
    );
    // An existing file is kept without --force.
    let o = crmlens(
        &sample_dir(),
        &[
            "link",
            "--input",
            "customers.csv",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_user_error(&o, &["pairs.csv", "--force"]);
}

#[test]
fn bad_input_is_one_clear_line() {
    let dir = sample_dir();
    let o = crmlens(&dir, &["link", "--input", "nope.csv"]);
    assert_user_error(&o, &["nope.csv"]);
    let o = crmlens(
        &dir,
        &["link", "--input", "customers.csv", "--id-col", "member_no"],
    );
    assert_user_error(&o, &["customers.csv", "member_no", "customer_id"]);
    let o = crmlens(
        &dir,
        &["link", "--input", "customers.csv", "--threshold", "1.5"],
    );
    assert_user_error(&o, &["threshold 1.5"]);
    let o = crmlens(
        &dir,
        &[
            "link",
            "--input",
            "customers.csv",
            "--input",
            "loyalty_members.csv",
            "--fields",
            "shoe_size",
        ],
    );
    assert_user_error(&o, &["shoe_size"]);
    let o = crmlens(
        &dir,
        &[
            "link",
            "--input",
            "customers.csv",
            "--input",
            "loyalty_members.csv",
            "--id-col",
            "a",
            "--id-col",
            "b",
            "--id-col",
            "c",
        ],
    );
    assert_user_error(&o, &["--id-col given 3 times for 2 inputs"]);
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("one.csv"), "id,name\n1,Ann Lee\n").unwrap();
    let o = crmlens(tmp.path(), &["link", "--input", "one.csv"]);
    assert_user_error(&o, &["no pair of records"]);
}

/// --dedupe also finds the loyalty members who signed up twice (two member ids of one
/// customer in the truth); without it no pair is within one input.
#[test]
fn dedupe_finds_double_sign_ups_too() {
    let text = fs::read_to_string(sample_dir().join("ground_truth_identity.csv")).unwrap();
    let mut by: HashMap<String, Vec<String>> = HashMap::new();
    for l in text.lines().skip(1) {
        let (m, c) = l.split_once(',').unwrap();
        if !c.is_empty() {
            by.entry(c.to_string()).or_default().push(m.to_string());
        }
    }
    let twice: BTreeSet<(String, String)> = by
        .values()
        .filter(|v| v.len() == 2)
        .map(|v| {
            (
                v[0].clone().min(v[1].clone()),
                v[0].clone().max(v[1].clone()),
            )
        })
        .collect();
    assert!(twice.len() >= 20, "{}", twice.len());
    let plain = link_sample(&[]);
    assert!(pairs(&plain).iter().all(|(l, _)| l.starts_with('C')));
    let v = link_sample(&["--dedupe"]);
    let within: BTreeSet<(String, String)> = pairs(&v)
        .into_iter()
        .filter(|(l, r)| l.starts_with("LM") && r.starts_with("LM"))
        .map(|(l, r)| (l.clone().min(r.clone()), l.max(r)))
        .collect();
    let found = within.intersection(&twice).count() as f64;
    assert!(
        found / within.len() as f64 >= 0.95,
        "{found} of {}",
        within.len()
    );
    assert!(
        found / twice.len() as f64 >= 0.9,
        "{found} of {}",
        twice.len()
    );
}
