//! `crmlens segment` and `crmlens sweep`: k-means, DBSCAN and Gaussian mixtures (against
//! scikit-learn), the k sweep, and bad inputs.

use std::fs;

use super::assert_user_error;
use crate::{crmlens, sample_dir, stderr, stdout};

#[test]
fn segment_json_contract_and_labels_file() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_dir().join("crmlens.toml");
    let out = dir.path().join("labels.csv");
    let o = crmlens(
        dir.path(),
        &[
            "segment",
            "--input",
            ws.to_str().unwrap(),
            "--features",
            "recency_days,frequency,monetary",
            "--algo",
            "kmeans",
            "--k",
            "4",
            "--seed",
            "7",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["algorithm"], "kmeans");
    assert_eq!(v["n_rows"], 5000);
    assert_eq!(v["k"], 4);
    assert_eq!(
        v["features"],
        serde_json::json!(["recency_days", "frequency", "monetary"])
    );
    let sizes: Vec<u64> = v["sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .collect();
    assert_eq!(sizes.iter().sum::<u64>(), 5000);
    assert!(v["inertia"].as_f64().unwrap() > 0.0);
    assert!(v["iterations"].as_u64().unwrap() >= 1);
    let sil = v["silhouette"].as_f64().unwrap();
    assert!((-1.0..=1.0).contains(&sil));
    assert_eq!(v["centroids"].as_array().unwrap().len(), 4);
    // The labels file: every customer once, and its label counts are the sizes.
    let text = fs::read_to_string(&out).unwrap();
    let mut counts = [0u64; 4];
    for line in text.lines().skip(1) {
        let label: usize = line.rsplit(',').next().unwrap().parse().unwrap();
        counts[label] += 1;
    }
    assert_eq!(counts.to_vec(), sizes);
    // Same seed, same result.
    let again = crmlens(
        dir.path(),
        &[
            "segment",
            "--input",
            ws.to_str().unwrap(),
            "--features",
            "recency_days,frequency,monetary",
            "--k",
            "4",
            "--seed",
            "7",
            // The silhouette (checked above) is computed after the clustering compared here.
            "--no-silhouette",
            "--json",
        ],
    );
    let w: serde_json::Value = serde_json::from_str(&stdout(&again)).unwrap();
    assert_eq!(w["inertia"], v["inertia"]);
    assert_eq!(w["sizes"], v["sizes"]);
}

#[test]
fn segment_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_dir().join("crmlens.toml");
    let ws = ws.to_str().unwrap();
    let customers = sample_dir().join("customers.csv");
    let customers = customers.to_str().unwrap();
    let run = |args: &[&str]| crmlens(dir.path(), args);
    assert_user_error(
        &run(&["segment", "--input", ws, "--features", "city", "--k", "3"]),
        &["feature `city` is text", "--categorical city"],
    );
    assert_user_error(
        &run(&["segment", "--input", ws, "--features", ",", "--k", "3"]),
        &["--features is empty"],
    );
    assert_user_error(
        &run(&["segment", "--input", ws, "--features", "nope", "--k", "3"]),
        &["`nope`"],
    );
    assert_user_error(
        &run(&[
            "segment",
            "--input",
            customers,
            "--features",
            "income",
            "--k",
            "3",
        ]),
        &["`income`", "missing", "--fill"],
    );
    // k above the number of distinct rows: `churned` has two values.
    assert_user_error(
        &run(&[
            "segment",
            "--input",
            ws,
            "--features",
            "churned",
            "--k",
            "3",
        ]),
        &["k = 3", "2 distinct rows"],
    );
    assert_user_error(
        &run(&["segment", "--input", "missing.csv", "--features", "x"]),
        &["missing.csv"],
    );
}

#[test]
fn sweep_json_has_every_k_and_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_dir().join("crmlens.toml");
    let o = crmlens(
        dir.path(),
        &[
            "sweep",
            "--input",
            ws.to_str().unwrap(),
            "--features",
            "recency_days,frequency,monetary",
            "--k-min",
            "2",
            "--k-max",
            "5",
            "--n-init",
            "2",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 4);
    for (e, k) in entries.iter().zip(2..) {
        assert_eq!(e["k"], k);
        for key in [
            "inertia",
            "silhouette",
            "calinski_harabasz",
            "davies_bouldin",
        ] {
            assert!(e[key].as_f64().is_some(), "{key} missing for k={k}");
        }
    }
    let suggested = v["suggested_k"].as_u64().unwrap();
    let best = entries
        .iter()
        .max_by(|a, b| {
            a["silhouette"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["silhouette"].as_f64().unwrap())
        })
        .unwrap();
    assert_eq!(best["k"].as_u64().unwrap(), suggested);
    let o = crmlens(
        dir.path(),
        &[
            "sweep",
            "--input",
            ws.to_str().unwrap(),
            "--features",
            "income",
            "--k-min",
            "1",
        ],
    );
    assert_user_error(&o, &["--k-min 1", "use 2 to 1000"]);
}

#[test]
fn segment_dbscan_json_and_noise_labels() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_dir().join("crmlens.toml");
    let out = dir.path().join("labels.csv");
    let o = crmlens(
        dir.path(),
        &[
            "segment",
            "--input",
            ws.to_str().unwrap(),
            "--features",
            "recency_days,frequency,monetary",
            "--algo",
            "dbscan",
            "--eps",
            "0.3",
            "--min-points",
            "10",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["algorithm"], "dbscan");
    let clusters = v["clusters"].as_u64().unwrap() as usize;
    let sizes: Vec<u64> = v["sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .collect();
    assert_eq!(sizes.len(), clusters);
    let noise = v["noise"].as_u64().unwrap();
    assert_eq!(sizes.iter().sum::<u64>() + noise, 5000);
    let text = fs::read_to_string(&out).unwrap();
    let noise_rows = text.lines().skip(1).filter(|l| l.ends_with(",-1")).count() as u64;
    assert_eq!(noise_rows, noise);
    let o = crmlens(
        dir.path(),
        &[
            "segment",
            "--input",
            ws.to_str().unwrap(),
            "--features",
            "income",
            "--algo",
            "dbscan",
            "--json",
        ],
    );
    // No --eps: the k-distance curve's knee, which leaves most rows in clusters.
    assert!(o.status.success(), "{}", crate::stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let eps = v["eps"].as_f64().unwrap();
    assert!(eps > 0.0, "{v}");
    assert!(
        v["noise"].as_u64().unwrap() * 2 < v["n_rows"].as_u64().unwrap(),
        "{}",
        v["noise"]
    );
    let o = crmlens(
        dir.path(),
        &[
            "segment",
            "--input",
            ws.to_str().unwrap(),
            "--features",
            "income",
            "--algo",
            "dbscan",
            "--eps=0",
        ],
    );
    assert_user_error(&o, &["--eps 0"]);
}

/// `segment --algo gmm` against scikit-learn's `GaussianMixture` on the same file, for every
/// covariance type (figures from tests/fixtures/gmm_reference.py).
#[test]
fn gmm_matches_scikit_learn() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = crate::repo().join("tests/fixtures");
    let reference: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(fixtures.join("gmm_sklearn.json")).unwrap())
            .unwrap();
    let points = fixtures.join("gmm_points.csv");
    for cov in ["full", "tied", "diag", "spherical"] {
        let o = crmlens(
            dir.path(),
            &[
                "segment",
                "--input",
                points.to_str().unwrap(),
                "--features",
                "x,y,z",
                "--scale",
                "none",
                "--algo",
                "gmm",
                "--k",
                "3",
                "--covariance",
                cov,
                "--tol",
                "1e-10",
                "--max-iter",
                "2000",
                "--json",
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        let want = &reference["fits"][cov];
        assert_eq!(v["algorithm"], "gmm");
        assert_eq!(v["covariance_type"], cov);
        assert_eq!(v["n_rows"], 600);
        assert_eq!(v["converged"], true);
        for key in ["log_likelihood", "bic", "aic"] {
            let (got, exp) = (v[key].as_f64().unwrap(), want[key].as_f64().unwrap());
            assert!(
                (got - exp).abs() < 1e-7 * exp.abs(),
                "{cov} {key}: {got} vs scikit-learn {exp}"
            );
        }
        let mut weights: Vec<f64> = v["weights"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_f64().unwrap())
            .collect();
        weights.sort_by(f64::total_cmp);
        for (got, exp) in weights
            .iter()
            .zip(want["weights_sorted"].as_array().unwrap())
        {
            assert!((got - exp.as_f64().unwrap()).abs() < 1e-5, "{cov} weights");
        }
        let sizes: u64 = v["sizes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_u64().unwrap())
            .sum();
        assert_eq!(sizes, 600);
        assert_eq!(v["centroids"].as_array().unwrap().len(), 3);
        assert!(v["silhouette"].as_f64().is_some());
        assert!(v["iterations"].as_u64().unwrap() >= 1);
    }
}

#[test]
fn gmm_on_the_sample_workspace_and_its_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_dir().join("crmlens.toml");
    let ws = ws.to_str().unwrap();
    let out = dir.path().join("gmm.csv");
    let o = crmlens(
        dir.path(),
        &[
            "segment",
            "--input",
            ws,
            "--features",
            "recency_days,frequency,monetary",
            "--algo",
            "gmm",
            "--k",
            "4",
            "--covariance",
            "diag",
            "--out",
            out.to_str().unwrap(),
            // Not read here (gmm_matches_scikit_learn checks it), and the slowest part.
            "--no-silhouette",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["k"], 4);
    assert_eq!(v["n_parameters"], 4 * 3 + 4 * 3 + 3);
    let ll = v["log_likelihood"].as_f64().unwrap();
    let bic = v["bic"].as_f64().unwrap();
    assert!((bic - (-2.0 * ll + 27.0 * 5000f64.ln())).abs() < 1e-6 * bic.abs());
    let text = fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 5001);
    let run = |args: &[&str]| crmlens(dir.path(), args);
    let base = [
        "segment",
        "--input",
        ws,
        "--features",
        "recency_days,frequency",
        "--algo",
        "gmm",
    ];
    let with = |extra: &[&'static str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        run(&a)
    };
    assert_user_error(
        &with(&["--covariance", "banana"]),
        &["'banana' for '--covariance", "full, tied, diag, spherical"],
    );
    assert_user_error(&with(&["--tol=0"]), &["--tol 0"]);
    assert_user_error(&with(&["--k", "0"]), &["--k 0", "use 1 to 1000"]);
}
