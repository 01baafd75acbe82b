//! The generator's promises, checked against the files it writes (read back with plain
//! std parsing, not with the data layer under test elsewhere).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use chrono::NaiveDate;

use super::customer::World;
use super::*;

const FILES: [&str; 7] = [
    "customers.csv",
    "orders.csv",
    "support_tickets.ndjson",
    "web_sessions.parquet",
    "ground_truth.json",
    "ground_truth_customers.csv",
    "crmlens.toml",
];

fn tmp(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("crmlens-gen-{tag}-"))
        .tempdir()
        .expect("temp dir")
}

fn gen_into(dir: &Path, customers: usize, seed: u64) -> GroundTruth {
    generate(&GenConfig {
        order_scale: 1.0,
        customers,
        seed,
        out_dir: dir.to_path_buf(),
    })
    .expect("generate")
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).expect("read generated file")
}

/// Data rows of a CSV file (no field of the generated files is quoted), header checked.
fn rows(dir: &Path, file: &str, header: &str) -> Vec<Vec<String>> {
    let text = read(dir, file);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(header), "{file} header");
    lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

const CUSTOMERS_HEADER: &str = "customer_id,name,email,phone,gender,birth_date,city,signup_date,income,channel,updated_at,churned";
const ORDERS_HEADER: &str = "order_id,customer_id,order_date,product,category,quantity,unit_price";
const TRUTH_HEADER: &str =
    "customer_id,segment,recency_days,frequency,monetary,churn_probability,favourite_category";

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%d/%m/%Y"))
        .unwrap_or_else(|_| panic!("bad date {s:?}"))
}

fn cents(s: &str) -> i64 {
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (units, frac) = s.split_once('.').expect("two decimals");
    assert_eq!(frac.len(), 2, "{s}");
    let c = units.parse::<i64>().unwrap() * 100 + frac.parse::<i64>().unwrap();
    if neg { -c } else { c }
}

fn normalise(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn truth_rows(dir: &Path) -> BTreeMap<String, Vec<String>> {
    rows(dir, "ground_truth_customers.csv", TRUTH_HEADER)
        .into_iter()
        .map(|r| (r[0].clone(), r))
        .collect()
}

#[test]
fn same_seed_gives_identical_files_and_another_seed_does_not() {
    let (a, b, c) = (tmp("det-a"), tmp("det-b"), tmp("det-c"));
    let ta = gen_into(a.path(), 300, 7);
    let tb = gen_into(b.path(), 300, 7);
    gen_into(c.path(), 300, 8);
    assert_eq!(ta, tb);
    for f in FILES {
        let (x, y) = (
            std::fs::read(a.path().join(f)).unwrap(),
            std::fs::read(b.path().join(f)).unwrap(),
        );
        assert!(!x.is_empty(), "{f} is empty");
        assert!(x == y, "{f} differs between two runs with the same seed");
    }
    assert_ne!(read(a.path(), "orders.csv"), read(c.path(), "orders.csv"));
    let toml = read(a.path(), "crmlens.toml");
    assert_eq!(
        toml,
        crate::data::sources::workspace::sample_workspace_toml()
    );
    let json: GroundTruth = serde_json::from_str(&read(a.path(), "ground_truth.json")).unwrap();
    assert_eq!(json, ta);
}

#[test]
fn the_thread_count_does_not_change_the_data() {
    let world = World::new(99, 5000);
    let one = simulate_all(&world, 1);
    let three = simulate_all(&world, 3);
    assert_eq!(one.len(), 3);
    assert_eq!(one.len(), three.len());
    for (a, b) in one.iter().zip(&three) {
        assert_eq!(a.customer_rows, b.customer_rows);
        assert_eq!(a.truth_rows, b.truth_rows);
        assert_eq!(a.lines.len(), b.lines.len());
        assert_eq!(a.sessions.len(), b.sessions.len());
    }
}

#[test]
fn a_customer_does_not_depend_on_the_others() {
    let (a, b) = (tmp("indep-a"), tmp("indep-b"));
    gen_into(a.path(), 300, 11);
    gen_into(b.path(), 450, 11);
    let (ra, rb) = (truth_rows(a.path()), truth_rows(b.path()));
    assert_eq!(ra.len(), 300);
    for (id, row) in &ra {
        assert_eq!(Some(row), rb.get(id), "{id}");
    }
}

#[test]
fn rfm_truth_is_reproduced_from_orders_csv() {
    let dir = tmp("rfm");
    let gt = gen_into(dir.path(), 300, 3);
    let truth = truth_rows(dir.path());
    let lines = rows(dir.path(), "orders.csv", ORDERS_HEADER);
    assert_eq!(lines.len(), gt.order_lines_written);

    let mut seen = HashSet::new();
    let (mut dup, mut bad, mut orphan, mut valid) = (0, 0, 0, 0);
    // customer -> (last date, distinct orders, cents)
    let mut rfm: BTreeMap<String, (NaiveDate, BTreeSet<String>, i64)> = BTreeMap::new();
    let mut order_ids = BTreeSet::new();
    let mut previous: Option<(NaiveDate, String)> = None;
    for l in &lines {
        assert_eq!(l.len(), 7, "{l:?}");
        let d = date(&l[2]);
        assert!(d >= date("2023-01-01") && d <= date("2024-12-31"), "{l:?}");
        let key = (d, l[0].clone());
        if let Some(p) = &previous {
            assert!(
                *p <= key,
                "orders.csv is not sorted by date then order id: {p:?} > {key:?}"
            );
        }
        previous = Some(key);
        order_ids.insert(l[0].clone());
        let qty: i64 = l[5].parse().unwrap();
        if !seen.insert(l.join(",")) {
            assert!(
                qty > 0 && truth.contains_key(&l[1]),
                "only valid lines are duplicated: {l:?}"
            );
            dup += 1;
            continue;
        }
        if !truth.contains_key(&l[1]) {
            orphan += 1;
            continue;
        }
        if qty <= 0 {
            bad += 1;
            continue;
        }
        valid += 1;
        let e = rfm.entry(l[1].clone()).or_insert((d, BTreeSet::new(), 0));
        e.0 = e.0.max(d);
        e.1.insert(l[0].clone());
        e.2 += qty * cents(&l[6]);
    }
    assert_eq!(dup, gt.duplicate_order_lines);
    assert_eq!(bad, gt.nonpositive_quantity_lines);
    assert_eq!(orphan, gt.orphan_order_lines);
    assert_eq!(valid, gt.valid_order_lines);
    assert_eq!(order_ids.len(), gt.orders_written);
    assert!(
        orphan > 0 && valid > 300 * 10,
        "orphans {orphan}, valid {valid}"
    );

    let reference = date("2025-01-01");
    for (id, t) in &truth {
        match rfm.get(id) {
            Some((last, orders, c)) => {
                assert_eq!(
                    t[2],
                    (reference - *last).num_days().to_string(),
                    "recency of {id}"
                );
                assert_eq!(t[3], orders.len().to_string(), "frequency of {id}");
                assert_eq!(cents(&t[4]), *c, "monetary of {id}");
            }
            None => assert_eq!(&t[2..5], ["", "0", "0.00"], "{id} has no valid order"),
        }
    }
}

#[test]
fn customer_rows_carry_the_recorded_duplicates_and_defects() {
    let dir = tmp("dups");
    let gt = gen_into(dir.path(), 2000, 5);
    let all = rows(dir.path(), "customers.csv", CUSTOMERS_HEADER);
    assert_eq!(all.len(), gt.customer_rows_written);
    let mut by_id: BTreeMap<&str, Vec<(usize, &Vec<String>)>> = BTreeMap::new();
    for (k, r) in all.iter().enumerate() {
        assert_eq!(r.len(), 12, "{r:?}");
        by_id.entry(&r[0]).or_default().push((k, r));
    }
    assert_eq!(by_id.len(), 2000);
    let d = &gt.duplicates;
    assert_eq!(
        (d.exact, d.reexport, d.stale),
        (d.ids_exact.len(), d.ids_reexport.len(), d.ids_stale.len())
    );
    let total = d.exact + d.reexport + d.stale;
    assert!(
        (30..=100).contains(&total),
        "{total} duplicate rows for 2000 customers"
    );
    let twice: BTreeSet<&str> = by_id
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(k, _)| *k)
        .collect();
    let recorded: BTreeSet<&str> = d
        .ids_exact
        .iter()
        .chain(&d.ids_reexport)
        .chain(&d.ids_stale)
        .map(String::as_str)
        .collect();
    assert_eq!(twice, recorded);
    assert!(by_id.values().all(|v| v.len() <= 2));

    for (ids, kind) in [(&d.ids_exact, 0), (&d.ids_reexport, 1), (&d.ids_stale, 2)] {
        for id in ids {
            let v = &by_id[id.as_str()];
            let ((k0, orig), (k1, copy)) = (v[0], v[1]);
            assert!(
                k1 > k0 + 1,
                "{id}: duplicate row is adjacent to or before the original"
            );
            let same = |cols: &[usize]| cols.iter().all(|c| orig[*c] == copy[*c]);
            let (u0, u1) = (date(&orig[10]), date(&copy[10]));
            match kind {
                0 => assert_eq!(orig, copy, "{id}"),
                1 => {
                    assert!(
                        orig[1] != copy[1] && orig[2] != copy[2],
                        "{id}: {orig:?} {copy:?}"
                    );
                    assert_eq!(normalise(&orig[1]), normalise(&copy[1]));
                    assert_eq!(orig[2].to_lowercase(), copy[2].to_lowercase());
                    assert!(same(&[3, 4, 5, 6, 7, 8, 9, 11]), "{id}");
                    assert!(u1 > u0, "{id}: re-export is not newer");
                }
                _ => {
                    assert!(same(&[1, 2, 3, 4, 5, 7, 9, 11]), "{id}");
                    assert!(
                        orig[6] != copy[6] || orig[8] != copy[8],
                        "{id}: stale copy changes nothing"
                    );
                    assert!(
                        u1 < u0 && u1 >= date(&orig[7]),
                        "{id}: stale copy is not older"
                    );
                }
            }
        }
    }

    // Defects of the current records (the first row of every id).
    let current: Vec<&Vec<String>> = by_id.values().map(|v| v[0].1).collect();
    let ids_where = |f: &dyn Fn(&Vec<String>) -> bool| -> Vec<String> {
        current
            .iter()
            .filter(|r| f(r))
            .map(|r| r[0].clone())
            .collect()
    };
    assert_eq!(
        gt.negative_income_ids,
        ids_where(&|r| r[8].starts_with('-'))
    );
    let reference = date("2025-01-01");
    assert_eq!(gt.future_birth_ids, ids_where(&|r| date(&r[5]) > reference));
    assert_eq!(gt.missing_income, ids_where(&|r| r[8].is_empty()).len());
    assert_eq!(gt.missing_gender, ids_where(&|r| r[4].is_empty()).len());
    assert!(!gt.negative_income_ids.is_empty() && gt.missing_income > 80 && gt.missing_gender > 40);
    let messy = ids_where(&|r| r[1] != normalise(&r[1]) || r[6] != normalise(&r[6])).len();
    let mixed = ids_where(&|r| r[2] != r[2].to_lowercase()).len();
    assert!(
        (50..200).contains(&messy) && (50..200).contains(&mixed),
        "{messy} {mixed}"
    );
    for r in &current {
        let (birth, signup) = (date(&r[5]), date(&r[7]));
        let age_ok = gt.future_birth_ids.contains(&r[0])
            || (birth <= reference - chrono::Months::new(18 * 12)
                && birth > reference - chrono::Months::new(86 * 12));
        assert!(age_ok, "{r:?}");
        assert!(
            signup >= date("2019-01-01") && signup <= date("2024-06-30"),
            "{r:?}"
        );
        assert!(
            date(&r[10]) > signup && date(&r[10]) <= date("2024-12-31"),
            "{r:?}"
        );
        assert!(["web", "store", "phone", "partner"].contains(&r[9].as_str()));
        assert!(r[11] == "0" || r[11] == "1");
    }
    let dmy = current.iter().filter(|r| r[7].contains('/')).count();
    assert!(
        (450..750).contains(&dmy),
        "{dmy} of 2000 signup dates are DD/MM/YYYY"
    );
}

#[test]
fn planted_rules_hold_in_orders_csv() {
    let dir = tmp("rules");
    let gt = gen_into(dir.path(), 2000, 9);
    let mut baskets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for l in rows(dir.path(), "orders.csv", ORDERS_HEADER) {
        baskets
            .entry(l[0].clone())
            .or_default()
            .insert(l[3].clone());
    }
    assert!(baskets.values().all(|b| (1..=5).contains(&b.len())));
    assert_eq!(gt.planted_rules.len(), 9);
    for rule in &gt.planted_rules {
        let has = |b: &BTreeSet<String>, items: &[String]| items.iter().all(|i| b.contains(i));
        let with_ante: Vec<_> = baskets
            .values()
            .filter(|b| has(b, &rule.antecedent))
            .collect();
        let both = with_ante
            .iter()
            .filter(|b| has(b, &rule.consequent))
            .count();
        let conf = both as f64 / with_ante.len() as f64;
        assert_eq!(with_ante.len(), rule.antecedent_orders, "{rule:?}");
        assert!(
            (conf - rule.observed_confidence).abs() < 1e-4,
            "{rule:?}: {conf}"
        );
        assert!(with_ante.len() >= 150, "{rule:?}: too rare to mine");
        assert!(
            (conf - rule.confidence).abs() < 0.08,
            "{rule:?}: measured {conf}"
        );
        // A real rule: the consequent is far more likely with the antecedent (lift > 2).
        let base = baskets
            .values()
            .filter(|b| has(b, &rule.consequent))
            .count() as f64
            / baskets.len() as f64;
        assert!(conf / base > 2.0, "{rule:?}: lift {}", conf / base);
    }
}

#[test]
fn churn_carries_real_but_imperfect_signal() {
    let dir = tmp("churn");
    let gt = gen_into(dir.path(), 2000, 13);
    assert!(
        (0.12..=0.28).contains(&gt.churn_rate),
        "churn rate {}",
        gt.churn_rate
    );
    let auc = gt.churn_auc_true_probability;
    assert!((0.80..=0.90).contains(&auc), "AUC {auc}");
    // Recompute the AUC from the written probability and label.
    let truth = truth_rows(dir.path());
    let mut label = BTreeMap::new();
    for r in rows(dir.path(), "customers.csv", CUSTOMERS_HEADER) {
        label.entry(r[0].clone()).or_insert(r[11] == "1");
    }
    let (p, y): (Vec<f64>, Vec<bool>) = truth
        .iter()
        .map(|(id, t)| (t[5].parse::<f64>().unwrap(), label[id]))
        .unzip();
    assert_eq!(y.iter().filter(|c| **c).count(), gt.churned);
    assert!((sample::auc(&p, &y) - auc).abs() < 0.005);
    // Lapsed customers churn far more than VIPs.
    let rate = |seg: &str| {
        let v: Vec<bool> = truth
            .iter()
            .filter(|(_, t)| t[1] == seg)
            .map(|(id, _)| label[id])
            .collect();
        v.iter().filter(|c| **c).count() as f64 / v.len() as f64
    };
    assert!(
        rate("lapsed") > 0.4 && rate("vip") < 0.08,
        "{} {}",
        rate("lapsed"),
        rate("vip")
    );
}

#[test]
fn segments_behave_as_designed() {
    let dir = tmp("segments");
    let gt = gen_into(dir.path(), 2000, 17);
    let truth = truth_rows(dir.path());
    let share = |s: &str| gt.segment_counts[s] as f64 / 2000.0;
    for (s, target) in [
        ("vip", 0.08),
        ("loyal", 0.22),
        ("occasional", 0.35),
        ("bargain", 0.20),
        ("lapsed", 0.15),
    ] {
        assert!((share(s) - target).abs() < 0.04, "{s}: {}", share(s));
    }
    let freq = |seg: &str| {
        let v: Vec<f64> = truth
            .values()
            .filter(|t| t[1] == seg)
            .map(|t| t[3].parse::<f64>().unwrap())
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let (vip, loyal, bargain, occ, lapsed) = (
        freq("vip"),
        freq("loyal"),
        freq("bargain"),
        freq("occasional"),
        freq("lapsed"),
    );
    assert!(
        (18.0..32.0).contains(&vip) && (9.0..16.0).contains(&loyal),
        "{vip} {loyal}"
    );
    assert!(
        (5.0..11.0).contains(&bargain) && (2.0..5.0).contains(&occ) && (2.0..5.5).contains(&lapsed),
        "{bargain} {occ} {lapsed}"
    );
    for t in truth
        .values()
        .filter(|t| t[1] == "lapsed" && !t[2].is_empty())
    {
        assert!(
            t[2].parse::<i64>().unwrap() >= 366,
            "lapsed customer ordered recently: {t:?}"
        );
    }
    let lines_per_customer = gt.order_lines_written as f64 / 2000.0;
    assert!(
        (13.0..19.0).contains(&lines_per_customer),
        "{lines_per_customer}"
    );
}

#[test]
fn tickets_and_sessions_match_the_truth() {
    let dir = tmp("activity");
    let gt = gen_into(dir.path(), 1000, 21);
    let known: BTreeSet<String> = truth_rows(dir.path()).into_keys().collect();
    let text = read(dir.path(), "support_tickets.ndjson");
    let keys = [
        "ticket_id",
        "customer_id",
        "opened_at",
        "channel",
        "topic",
        "satisfaction",
        "resolution_hours",
    ];
    let (mut n, mut orphans, mut missing) = (0, 0, 0);
    let mut ids = BTreeSet::new();
    for line in text.lines() {
        n += 1;
        let positions: Vec<usize> = keys
            .iter()
            .map(|k| line.find(&format!("\"{k}\":")).expect(k))
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "field order: {line}"
        );
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(ids.insert(v["ticket_id"].as_str().unwrap().to_string()));
        orphans += !known.contains(v["customer_id"].as_str().unwrap()) as usize;
        match v["satisfaction"].as_u64() {
            Some(s) => assert!((1..=5).contains(&s)),
            None => {
                assert!(v["satisfaction"].is_null());
                missing += 1;
            }
        }
        let opened = chrono::NaiveDateTime::parse_from_str(
            v["opened_at"].as_str().unwrap(),
            "%Y-%m-%dT%H:%M:%S",
        )
        .unwrap();
        assert!(opened.date() >= date("2023-01-01") && opened.date() <= date("2024-12-31"));
        assert!(v["resolution_hours"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(
        (n, orphans, missing),
        (
            gt.tickets_written,
            gt.orphan_tickets,
            gt.missing_satisfaction
        )
    );
    assert!((500..1500).contains(&n), "{n} tickets for 1000 customers");

    let file = std::fs::File::open(dir.path().join("web_sessions.parquet")).unwrap();
    let df = ParquetReader::new(file).finish().unwrap();
    assert_eq!(df.height(), gt.sessions_written);
    let dtypes: Vec<DataType> = df.dtypes();
    assert_eq!(
        dtypes,
        [
            DataType::String,
            DataType::Datetime(TimeUnit::Microseconds, None),
            DataType::Int64,
            DataType::Float64,
            DataType::String
        ]
    );
    let names: Vec<&str> = df.get_column_names().iter().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "customer_id",
            "session_start",
            "pages",
            "duration_s",
            "device"
        ]
    );
    let ids = df.column("customer_id").unwrap().str().unwrap();
    assert!(ids.iter().all(|id| known.contains(id.unwrap())));
    let per_customer = gt.sessions_written as f64 / 1000.0;
    assert!((3.0..8.0).contains(&per_customer), "{per_customer}");
    let start = df
        .column("session_start")
        .unwrap()
        .datetime()
        .unwrap()
        .physical()
        .clone();
    let (lo, hi) = (start.min().unwrap(), start.max().unwrap());
    assert!(lo >= EPOCH_2023 * 1_000_000 && hi < (EPOCH_2023 + 731 * 86_400) * 1_000_000);
}

#[test]
fn tiny_and_invalid_sizes() {
    let dir = tmp("tiny");
    let gt = gen_into(dir.path(), 1, 1);
    assert_eq!(gt.customer_rows_written, 1);
    assert_eq!(
        rows(dir.path(), "ground_truth_customers.csv", TRUTH_HEADER).len(),
        1
    );
    let err = generate(&GenConfig {
        order_scale: 1.0,
        customers: 0,
        seed: 1,
        out_dir: dir.path().to_path_buf(),
    })
    .unwrap_err();
    assert!(err.to_string().contains('0'), "{err}");
}

/// The order scale grows order lines at the same customers (the scale benchmarks' input);
/// a scale out of range is one clear error.
#[test]
fn order_scale_multiplies_order_lines_for_the_same_customers() {
    let (a, b) = (tmp("scale1"), tmp("scale3"));
    let one = gen_into(a.path(), 2000, 5);
    let three = generate(&GenConfig {
        order_scale: 3.0,
        customers: 2000,
        seed: 5,
        out_dir: b.path().to_path_buf(),
    })
    .expect("generate");
    assert_eq!(one.customers, three.customers);
    let ratio = three.order_lines_written as f64 / one.order_lines_written as f64;
    // Segments have a minimum number of orders that does not scale, so under 3 (2.2 here).
    assert!((2.0..3.1).contains(&ratio), "{ratio}");
    let err = generate(&GenConfig {
        order_scale: 0.0,
        customers: 10,
        seed: 1,
        out_dir: b.path().to_path_buf(),
    })
    .unwrap_err();
    assert!(err.to_string().contains("order scale 0"), "{err}");
}

#[test]
fn ids_use_a_width_fixed_by_n() {
    assert_eq!(customer::id_width(5000), 6);
    assert_eq!(customer::id_width(999_999), 6);
    assert_eq!(customer::id_width(1_000_000), 7);
}

/// Size and timing report:
/// `GEN_N=1000000 cargo test --release --lib generator::tests::print_stats -- --ignored --nocapture`
#[test]
#[ignore]
fn print_stats() {
    let n: usize = std::env::var("GEN_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5000);
    let dir = tmp("stats");
    // GEN_OUT keeps the files (in a folder of your choice) instead of a temporary one.
    let out = std::env::var_os("GEN_OUT").map_or_else(|| dir.path().to_path_buf(), Into::into);
    let t0 = std::time::Instant::now();
    let gt = gen_into(&out, n, 42);
    eprintln!("generated {n} customers in {:.2?}", t0.elapsed());
    let mut brief = gt.clone();
    brief.duplicates.ids_exact.clear();
    brief.duplicates.ids_reexport.clear();
    brief.duplicates.ids_stale.clear();
    brief.negative_income_ids.clear();
    brief.future_birth_ids.clear();
    eprintln!("{}", serde_json::to_string_pretty(&brief).unwrap());
    for f in FILES {
        eprintln!(
            "{f}: {} bytes",
            std::fs::metadata(out.join(f)).unwrap().len()
        );
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        eprintln!(
            "{}",
            status
                .lines()
                .filter(|l| l.starts_with("VmHWM"))
                .collect::<String>()
        );
    }
}

/// Orders of each customer in date order: (date, products).
fn customer_orders(dir: &Path) -> BTreeMap<String, Vec<(String, BTreeSet<String>)>> {
    let mut orders: BTreeMap<String, (String, String, BTreeSet<String>)> = BTreeMap::new();
    for l in rows(dir, "orders.csv", ORDERS_HEADER) {
        orders
            .entry(l[0].clone())
            .or_insert_with(|| (l[1].clone(), l[2].clone(), BTreeSet::new()))
            .2
            .insert(l[3].clone());
    }
    let mut by_customer: BTreeMap<String, Vec<(String, BTreeSet<String>)>> = BTreeMap::new();
    for (cust, day, items) in orders.into_values() {
        by_customer.entry(cust).or_default().push((day, items));
    }
    for v in by_customer.values_mut() {
        v.sort_by(|a, b| a.0.cmp(&b.0));
    }
    by_customer
}

#[test]
fn planted_follow_ups_raise_later_purchases() {
    let dir = tmp("follow");
    let gt = gen_into(dir.path(), 3000, 5);
    assert_eq!(gt.planted_follow_ups.len(), catalog::FOLLOW_UPS.len());
    let orders = customer_orders(dir.path());
    for f in &gt.planted_follow_ups {
        // Orders placed after a strictly earlier order with the trigger, before the customer
        // had the follow-up; and, for comparison, orders of customers who never bought the
        // trigger and did not have the follow-up yet.
        let (mut exposed, mut exposed_hits, mut other, mut other_hits) = (0, 0, 0, 0);
        for list in orders.values() {
            let ever = list.iter().any(|(_, b)| b.contains(&f.trigger));
            let mut trigger_day: Option<&str> = None;
            let mut has_follow = false;
            for (day, b) in list {
                let hit = b.contains(&f.follow_up);
                if !has_follow {
                    if trigger_day.is_some_and(|t| t < day.as_str()) {
                        exposed += 1;
                        exposed_hits += hit as usize;
                    } else if !ever {
                        other += 1;
                        other_hits += hit as usize;
                    }
                }
                has_follow |= hit;
                if trigger_day.is_none() && b.contains(&f.trigger) {
                    trigger_day = Some(day);
                }
            }
        }
        let rate = exposed_hits as f64 / exposed as f64;
        let base = other_hits as f64 / other as f64;
        assert!(exposed >= 100, "{f:?}: {exposed} exposed orders");
        // Orders already at 5 lines take no follow-up; random draws add a few percent.
        assert!(
            rate > base + 0.6 * f.per_order_probability && rate < f.per_order_probability + 0.1,
            "{f:?}: {rate:.3} after the trigger, {base:.3} otherwise"
        );
    }
}

#[test]
fn favourite_categories_shape_baskets() {
    let dir = tmp("taste");
    let gt = gen_into(dir.path(), 3000, 6);
    let truth = truth_rows(dir.path());
    let with = truth.values().filter(|r| !r[6].is_empty()).count() as f64;
    let share = with / truth.len() as f64;
    assert!(
        (share - gt.favourite_category_share).abs() < 0.03,
        "{share} of customers have a favourite category"
    );
    // Share of a customer's lines in category c, for those who favour c vs those who do not.
    let mut lines: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in rows(dir.path(), "orders.csv", ORDERS_HEADER) {
        lines.entry(l[1].clone()).or_default().push(l[4].clone());
    }
    for c in catalog::CATEGORIES {
        let (mut fav, mut fav_n, mut rest, mut rest_n) = (0, 0, 0, 0);
        for (id, cats) in &lines {
            let Some(t) = truth.get(id) else { continue };
            let k = cats.iter().filter(|x| *x == c).count();
            if t[6] == c {
                (fav, fav_n) = (fav + k, fav_n + cats.len());
            } else {
                (rest, rest_n) = (rest + k, rest_n + cats.len());
            }
        }
        let (a, b) = (fav as f64 / fav_n as f64, rest as f64 / rest_n as f64);
        assert!(a > 2.0 * b, "{c}: {a:.3} of favourers' lines vs {b:.3}");
    }
}
