//! The committed sample data: regenerating it gives the same bytes, and integrating it
//! reproduces the ground truth the generator recorded.

use std::fs;

use crmlens::data::generator::{GenConfig, generate};

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
        customers: 5000,
        seed: 42,
        out_dir: dir.path().to_path_buf(),
    })
    .unwrap();
    for f in FILES {
        let committed = fs::read(sample_dir().join(f)).unwrap();
        let fresh = fs::read(dir.path().join(f)).unwrap();
        assert!(committed == fresh, "{f} differs from a fresh `crmlens gen-sample --customers 5000 --seed 42`");
    }
}
