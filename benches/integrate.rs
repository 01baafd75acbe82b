//! `cargo bench --bench integrate`: integrate the large generated data set (1,000,000
//! customers, ~15M order lines) and report time and peak memory.
//!
//! The data set is generated once (it is not committed) into `$CRMLENS_BENCH_DIR`
//! (default `/tmp/crmlens-bench-<customers>`); `$CRMLENS_BENCH_CUSTOMERS` changes the size.
//! The integration runs as its own `crmlens bench integrate` process, so the peak resident
//! memory it reports is the integration's alone. The JSON result is printed and written to
//! `<data dir>/bench-integrate.json`.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let bin = env!("CARGO_BIN_EXE_crmlens");
    let customers: usize = std::env::var("CRMLENS_BENCH_CUSTOMERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::var("CRMLENS_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(format!("/tmp/crmlens-bench-{customers}")));
    let workspace = dir.join("crmlens.toml");
    if !workspace.exists() {
        eprintln!("generating {customers} customers into {}", dir.display());
        let status = Command::new(bin)
            .args([
                "gen-sample",
                "--customers",
                &customers.to_string(),
                "--seed",
                "7",
                "--out",
            ])
            .arg(&dir)
            .status()
            .expect("run crmlens gen-sample");
        assert!(status.success(), "gen-sample failed");
    }
    let out = dir.join("bench-integrate.json");
    let status = Command::new(bin)
        .args(["bench", "integrate", "--workspace"])
        .arg(&workspace)
        .arg("--out")
        .arg(&out)
        .arg("--force")
        .status()
        .expect("run crmlens bench integrate");
    assert!(status.success(), "bench integrate failed");
}
