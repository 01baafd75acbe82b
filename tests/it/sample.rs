//! The committed sample data: regenerating it gives the same bytes, and integrating it
//! reproduces the ground truth the generator recorded.

use std::fs;

use crmlens::data::sources::generator::{GenConfig, generate};

use crate::sample_dir;

const FILES: &[&str] = &[
    "customers.csv",
    "orders.csv",
    "support_tickets.ndjson",
    "web_sessions.parquet",
    "ground_truth.json",
    "ground_truth_customers.csv",
    "crmlens.toml",
];

#[test]
fn regenerating_the_sample_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    generate(&GenConfig {
        order_scale: 1.0,
        customers: 5000,
        seed: 42,
        out_dir: dir.path().to_path_buf(),
    })
    .unwrap();
    for f in FILES {
        let committed = fs::read(sample_dir().join(f)).unwrap();
        let fresh = fs::read(dir.path().join(f)).unwrap();
        assert!(
            committed == fresh,
            "{f} differs from a fresh `crmlens gen-sample --customers 5000 --seed 42`"
        );
    }
}

mod truth {
    use std::collections::BTreeMap;
    use std::fs;

    use crmlens::data::integrate::Customer360;
    use crmlens::data::sources::file::read_frame;
    use crmlens::data::sources::generator::GroundTruth;
    use polars::prelude::*;

    use crate::fixtures::sample_360;
    use crate::sample_dir;

    /// The ground truth, and the sample integrated (once per test process).
    fn load() -> (GroundTruth, Customer360) {
        let text = fs::read_to_string(sample_dir().join("ground_truth.json")).unwrap();
        let truth: GroundTruth = serde_json::from_str(&text).unwrap();
        (truth, sample_360())
    }

    fn invalid(c: &Customer360, source: &str, column: &str) -> u64 {
        c.report
            .invalid
            .iter()
            .filter(|i| i.source == source && i.column == column)
            .map(|i| i.count)
            .sum()
    }

    #[test]
    fn counts_match_what_the_generator_planted() {
        let (truth, c) = load();
        let r = &c.report;
        assert_eq!(r.customers_out as usize, truth.customers);
        assert_eq!(c.table.height(), truth.customers);
        assert_eq!(r.sources[0].rows as usize, truth.customer_rows_written);
        let d = &truth.duplicates;
        assert_eq!(r.duplicates.customers_exact as usize, d.exact);
        assert_eq!(
            r.duplicates.customers_same_key as usize,
            d.reexport + d.stale
        );
        assert_eq!(
            r.duplicates.order_lines as usize,
            truth.duplicate_order_lines
        );
        assert_eq!(
            invalid(&c, "orders", "quantity") as usize,
            truth.nonpositive_quantity_lines
        );
        let orphans: BTreeMap<String, u64> = r.orphans.iter().cloned().collect();
        assert_eq!(orphans["orders"] as usize, truth.orphan_order_lines);
        assert_eq!(orphans["tickets"] as usize, truth.orphan_tickets);
        assert_eq!(
            invalid(&c, "customers", "income") as usize,
            truth.negative_income_ids.len()
        );
        assert_eq!(
            invalid(&c, "customers", "birth_date") as usize,
            truth.future_birth_ids.len()
        );
        let orders = r.sources.iter().find(|s| s.role == "orders").unwrap();
        assert_eq!(orders.rows as usize, truth.order_lines_written);
        // Missing income: the planted gaps plus the negative incomes set null, all filled.
        let inc = r.missing.iter().find(|m| m.column == "income").unwrap();
        assert_eq!(
            inc.before as usize,
            truth.missing_income + truth.negative_income_ids.len()
        );
        assert_eq!(inc.after, 0);
    }

    #[test]
    fn every_customers_rfm_matches_ground_truth() {
        let (_, c) = load();
        let truth = read_frame(
            &sample_dir().join("ground_truth_customers.csv"),
            &Default::default(),
        )
        .unwrap();
        let joined = truth
            .lazy()
            .join(
                c.table.clone().lazy().select([
                    col("customer_id"),
                    col("recency_days").alias("r"),
                    col("frequency").alias("f"),
                    col("monetary").alias("m"),
                ]),
                [col("customer_id")],
                [col("customer_id")],
                JoinArgs::new(JoinType::Inner),
            )
            .collect()
            .unwrap();
        assert_eq!(joined.height(), c.table.height(), "every customer in both");
        let f64s = |name: &str| -> Vec<Option<f64>> {
            joined
                .column(name)
                .unwrap()
                .cast(&DataType::Float64)
                .unwrap()
                .f64()
                .unwrap()
                .iter()
                .collect()
        };
        let ids: Vec<String> = joined
            .column("customer_id")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|s| s.unwrap().to_string())
            .collect();
        let (tr, tf, tm) = (f64s("recency_days"), f64s("frequency"), f64s("monetary"));
        let (r, f, m) = (f64s("r"), f64s("f"), f64s("m"));
        let max_recency = r.iter().flatten().cloned().fold(0.0, f64::max);
        let without_orders = tr.iter().filter(|v| v.is_none()).count();
        assert_eq!(c.report.customers_without_orders as usize, without_orders);
        for i in 0..ids.len() {
            assert_eq!(tf[i], f[i], "frequency of {}", ids[i]);
            let (a, b) = (tm[i].unwrap_or(0.0), m[i].unwrap());
            assert!((a - b).abs() < 0.005, "monetary of {}: {a} vs {b}", ids[i]);
            match tr[i] {
                Some(days) => assert_eq!(Some(days), r[i], "recency of {}", ids[i]),
                // No orders: the workspace fills recency with the maximum.
                None => assert_eq!(r[i], Some(max_recency), "recency of {}", ids[i]),
            }
        }
    }

    /// Worked out by hand from sample_data/orders.csv (reference date 2025-01-01):
    /// - C000174: one order O0000355 on 2023-01-09, 6.99 + 2*9.99.
    /// - C001535: four orders, last 2023-09-06; O0003547's "Stapler" has quantity 0 and is
    ///   dropped: 649.00 + 19.99 + 34.99 + 179.00 + 2*2.37 + 129.00 + 4*8.99 + 3*5.49.
    /// - C004807: nine orders, last 2024-12-05; O0030120's "Phone Charger" line appears twice
    ///   and counts once (2*21.88); total 1069.48.
    #[test]
    fn hand_checked_customers() {
        let (_, c) = load();
        let t = &c.table;
        let ids = t.column("customer_id").unwrap().str().unwrap().clone();
        let get = |name: &str, i: usize| {
            t.column(name)
                .unwrap()
                .cast(&DataType::Float64)
                .unwrap()
                .f64()
                .unwrap()
                .get(i)
                .unwrap()
        };
        for (id, recency, frequency, monetary) in [
            ("C000174", 723.0, 1.0, 26.97),
            ("C001535", 483.0, 4.0, 1069.15),
            ("C004807", 27.0, 9.0, 1069.48),
        ] {
            let i = ids.iter().position(|v| v == Some(id)).unwrap();
            assert_eq!(get("recency_days", i), recency, "{id}");
            assert_eq!(get("frequency", i), frequency, "{id}");
            assert!(
                (get("monetary", i) - monetary).abs() < 1e-6,
                "{id}: {}",
                get("monetary", i)
            );
        }
    }

    #[test]
    fn duplicates_keep_the_current_record() {
        let (truth, c) = load();
        let raw = fs::read_to_string(sample_dir().join("customers.csv")).unwrap();
        let header: Vec<&str> = raw.lines().next().unwrap().split(',').collect();
        let idx = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (id_i, upd_i, name_i) = (idx("customer_id"), idx("updated_at"), idx("name"));
        let mut rows: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
        for line in raw.lines().skip(1) {
            let f: Vec<String> = line.split(',').map(str::to_string).collect();
            rows.entry(f[id_i].trim().to_string()).or_default().push(f);
        }
        let table = &c.table;
        let ids = table.column("customer_id").unwrap().str().unwrap();
        let upd = table
            .column("updated_at")
            .unwrap()
            .date()
            .unwrap()
            .physical()
            .clone();
        let names = table.column("name").unwrap().str().unwrap();
        let pos: BTreeMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, v)| (v.unwrap(), i))
            .collect();
        let d = &truth.duplicates;
        for id in d.ids_stale.iter().chain(&d.ids_reexport) {
            let copies = &rows[id];
            assert!(copies.len() >= 2, "{id} has duplicates in the file");
            let newest = copies.iter().map(|r| parse(&r[upd_i])).max().unwrap();
            let kept = from_days(upd.get(pos[id.as_str()]).unwrap());
            assert_eq!(kept, newest, "{id} keeps the most recent row");
            let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
            let newest_row = copies.iter().find(|r| parse(&r[upd_i]) == newest).unwrap();
            assert_eq!(
                names.get(pos[id.as_str()]).unwrap(),
                norm(&newest_row[name_i]),
                "{id}"
            );
        }
    }

    fn parse(s: &str) -> chrono::NaiveDate {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .unwrap_or_else(|_| chrono::NaiveDate::parse_from_str(s, "%d/%m/%Y").unwrap())
    }

    fn from_days(d: i32) -> chrono::NaiveDate {
        crmlens::data::dates::from_epoch_days(d)
    }
}

mod features {
    use crmlens::data::features::build_features;
    use crmlens::data::sources::workspace::Workspace;

    use crate::fixtures::sample_360;
    use crate::sample_dir;

    #[test]
    fn sample_default_features_build_and_are_standardised() {
        let ws = Workspace::load(&sample_dir().join("crmlens.toml")).unwrap();
        let c = sample_360();
        let m = build_features(&c.table, &c.key, &ws.features).unwrap();
        assert_eq!(m.values.nrows(), 5000);
        assert_eq!(m.keys.len(), 5000);
        let numeric = ws.features.numeric.len();
        // channel has four levels in the sample: web, store, phone, partner.
        assert_eq!(m.values.ncols(), numeric + 4);
        for j in 0..numeric {
            let col = m.values.column(j);
            let mean = col.sum() / 5000.0;
            let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 5000.0;
            assert!(mean.abs() < 1e-9, "{} mean {mean}", m.names[j]);
            assert!((var - 1.0).abs() < 1e-9, "{} var {var}", m.names[j]);
        }
        for j in numeric..m.values.ncols() {
            assert!(m.names[j].starts_with("channel="));
        }
        // Each customer has exactly one channel.
        for row in m.values.rows() {
            let ones: f64 = row.iter().skip(numeric).sum();
            assert_eq!(ones, 1.0);
        }
    }
}

/// Activity files read in ranges (a `file://` URI, not memory-mapped) give the same frames
/// as the mapped read, for each format the sample uses; a path a URI cannot carry as it is
/// falls back to the mapped read.
#[test]
fn unmapped_reads_equal_mapped_reads() {
    use crmlens::data::sources::file::{ReadOptions, read_frame};
    let ws = crmlens::data::sources::workspace::Workspace::load(&sample_dir().join("crmlens.toml"))
        .unwrap();
    let s = &ws.sources;
    for cfg in [
        s.orders.as_ref().unwrap(),
        s.tickets.as_ref().unwrap(),
        s.sessions.as_ref().unwrap(),
    ] {
        let path = ws.resolve(cfg);
        let mapped = read_frame(&path, &cfg.read_options()).unwrap();
        let unmapped = read_frame(
            &path,
            &ReadOptions {
                unmapped: true,
                ..cfg.read_options()
            },
        )
        .unwrap();
        assert!(mapped.height() > 1000);
        assert!(mapped.equals_missing(&unmapped), "{}", path.display());
    }
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("orders #1 100%.csv");
    std::fs::copy(sample_dir().join("orders.csv"), &odd).unwrap();
    let unmapped = read_frame(
        &odd,
        &ReadOptions {
            unmapped: true,
            ..Default::default()
        },
    )
    .unwrap();
    let mapped = read_frame(&sample_dir().join("orders.csv"), &Default::default()).unwrap();
    assert!(mapped.equals_missing(&unmapped));
}
