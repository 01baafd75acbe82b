//! Hostile command lines and runaway inputs (issue 21, items 6, 7, 8 and 12): every bad
//! argument is one `error:` line naming the flag and the value, exit 2; runs that looped or
//! ran without bound stop with a result or a clear error.

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::cli::assert_user_error;
use crate::{crmlens, sample_dir, stderr, stdout};

fn sample_workspace() -> String {
    sample_dir().join("crmlens.toml").display().to_string()
}

/// Runs crmlens in `dir`, killing it after `limit` (then the test fails: the run did not
/// stop). Output goes through files, so a large one cannot block the child.
fn crmlens_within(dir: &Path, args: &[&str], limit: Duration) -> Output {
    let (out, err) = (dir.join("stdout.txt"), dir.join("stderr.txt"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_crmlens"))
        .args(args)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::from(fs::File::create(&out).unwrap()))
        .stderr(Stdio::from(fs::File::create(&err).unwrap()))
        .spawn()
        .expect("run crmlens");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("crmlens {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: fs::read(&out).unwrap(),
        stderr: fs::read(&err).unwrap(),
    }
}

#[test]
fn usage_errors_are_one_line_with_the_help_to_read() {
    let dir = tempfile::tempdir().unwrap();
    let o = crmlens(dir.path(), &["segment", "--foo"]);
    assert_user_error(&o, &["--foo", "see crmlens segment --help"]);
    let o = crmlens(dir.path(), &["--nope"]);
    assert_user_error(&o, &["--nope", "see crmlens --help"]);
    let o = crmlens(dir.path(), &["segment", "--features", "a"]);
    assert_user_error(&o, &["--input", "see crmlens segment --help"]);
    let o = crmlens(
        dir.path(),
        &["rules", "--input", "o.csv", "--min-count", "2.5"],
    );
    assert_user_error(&o, &["--min-count", "2.5", "not a whole number"]);
    // Help and version are not errors: printed in full on stdout, exit 0.
    for (args, needle) in [
        (&["--help"][..], "Usage:"),
        (&["segment", "--help"][..], "--n-init"),
        (&["--version"][..], "crmlens"),
    ] {
        let o = crmlens(dir.path(), args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(stdout(&o).contains(needle), "{args:?}: {}", stdout(&o));
    }
}

/// `--k -1` was read as an unknown flag `-1`; now it is the value of --k and refused as a
/// negative number. A negative real reaches the range check.
#[test]
fn negative_numbers_are_values_refused_by_validation() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_workspace();
    let base = ["segment", "--input", ws.as_str(), "--features", "income"];
    let with = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        crmlens(dir.path(), &a)
    };
    assert_user_error(&with(&["--k", "-1"]), &["'-1'", "--k", "negative"]);
    assert_user_error(&with(&["--tol", "-1"]), &["--tol -1", "out of range"]);
    assert_user_error(
        &with(&["--algo", "dbscan", "--eps", "-0.5"]),
        &["--eps -0.5"],
    );
}

/// Values accepted silently before (or run without bound) are one line naming the flag,
/// the value and the range, the range a workspace is held to.
#[test]
fn out_of_range_values_name_flag_value_and_range() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_workspace();
    let orders = sample_dir().join("orders.csv").display().to_string();
    let segment = ["segment", "--input", ws.as_str(), "--features", "income"];
    let predict = [
        "predict",
        "--input",
        ws.as_str(),
        "--features",
        "income",
        "--target",
        "churned",
    ];
    let rules = [
        "rules",
        "--input",
        orders.as_str(),
        "--transaction-col",
        "order_id",
        "--item-col",
        "product",
    ];
    let clv = [
        "clv",
        "--input",
        ws.as_str(),
        "--calibration-end",
        "2024-06-30",
    ];
    let cases: Vec<(&[&str], [&str; 2], &str)> = vec![
        (
            &segment,
            ["--n-init", "0"],
            "--n-init 0 is out of range (use 1 to 1000)",
        ),
        (
            &segment,
            ["--n-init", "100000"],
            "--n-init 100000 is out of range (use 1 to 1000)",
        ),
        (
            &segment,
            ["--max-iter", "0"],
            "--max-iter 0 is out of range (use 1 to 100000)",
        ),
        (
            &segment,
            ["--k", "0"],
            "--k 0 is out of range (use 1 to 1000)",
        ),
        (
            &predict,
            ["--min-leaf", "0"],
            "--min-leaf 0 is out of range (use 1 to 1000000)",
        ),
        (
            &predict,
            ["--max-depth", "0"],
            "--max-depth 0 is out of range (use 1 to 64)",
        ),
        (
            &predict,
            ["--folds", "1"],
            "--folds 1 is out of range (use 2 to 50)",
        ),
        (
            &rules,
            ["--min-confidence", "2"],
            "--min-confidence 2 is out of range (use 0 to 1)",
        ),
        (
            &rules,
            ["--min-confidence", "NaN"],
            "--min-confidence NaN is out of range (use 0 to 1)",
        ),
        (
            &rules,
            ["--min-lift", "NaN"],
            "--min-lift NaN is out of range",
        ),
        (
            &clv,
            ["--horizon", "1e9"],
            "--horizon 1000000000 is out of range (use 1 to 120)",
        ),
        (
            &clv,
            ["--horizon", "1000000000"],
            "--horizon 1000000000 is out of range (use 1 to 120)",
        ),
    ];
    for (base, extra, needle) in cases {
        let mut args = base.to_vec();
        args.extend_from_slice(&extra);
        // Refused before any data is read or any model runs.
        let o = crmlens_within(dir.path(), &args, Duration::from_secs(60));
        assert_user_error(&o, &[needle]);
    }
}

/// "delimiter é must be one character": é is one character (two bytes); the rule is one
/// ASCII byte.
#[test]
fn a_multibyte_delimiter_is_named_as_not_one_byte() {
    let dir = tempfile::tempdir().unwrap();
    let customers = sample_dir().join("customers.csv").display().to_string();
    let o = crmlens(
        dir.path(),
        &["profile", "--delimiter", "é", customers.as_str()],
    );
    assert_user_error(&o, &["--delimiter é", "single ASCII (one-byte) character"]);
    assert!(!stderr(&o).contains("must be one character"));
}

/// Invalid date formats in a workspace were accepted, then every order line was dropped as
/// an unparseable date (exit 0).
#[test]
fn invalid_workspace_date_formats_stop_the_load() {
    let dir = tempfile::tempdir().unwrap();
    let sample = fs::read_to_string(sample_dir().join("crmlens.toml")).unwrap();
    let sample = sample.replace(
        "path = \"",
        &format!("path = \"{}/", sample_dir().display()),
    );
    for (format, needle) in [
        ("%Q", "`%Q` is not a valid date format"),
        ("", "the format is empty"),
        ("%Y-%m-%", "`%Y-%m-%` is not a valid date format"),
    ] {
        let text = sample.replace(
            "order_date = [\"%Y-%m-%d\"]",
            &format!("order_date = [\"{format}\"]"),
        );
        assert_ne!(text, sample);
        let ws = dir.path().join("w.toml");
        fs::write(&ws, text).unwrap();
        let o = crmlens(
            dir.path(),
            &["integrate", "-w", ws.to_str().unwrap(), "--out", "c360.csv"],
        );
        assert_user_error(&o, &["w.toml", "[sources.orders] dates.order_date", needle]);
        assert!(!dir.path().join("c360.csv").exists());
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// Unscaled values near 1e308: logistic regression looped forever; now it fits (as the
/// scaled copy of the data). k-means returned `"inertia": null` and two empty clusters;
/// now the unrepresentable inertia is a clear error, and denormal values (all one cluster
/// before) give their four groups.
#[test]
fn extreme_values_fit_or_fail_clearly_and_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let mut big = String::from("id,a,b,y\n");
    let mut tiny = String::from("id,a,b\n");
    for i in 0..200u32 {
        let g = f64::from(i % 4);
        let jitter = f64::from(i % 7) / 7.0;
        big.push_str(&format!(
            "c{i},{:e},{:e},{}\n",
            (1.0 + g + jitter) * 1e307,
            (8.0 - g - jitter) * 1e307,
            i % 2
        ));
        tiny.push_str(&format!(
            "c{i},{:e},{:e}\n",
            (g * 10.0 + jitter) * 1e-315,
            ((i % 2) as f64 * 10.0 + jitter) * 1e-315
        ));
    }
    let big = write(dir.path(), "big.csv", &big);
    let tiny = write(dir.path(), "tiny.csv", &tiny);
    let limit = Duration::from_secs(120);
    let o = crmlens_within(
        dir.path(),
        &[
            "predict",
            "--input",
            &big,
            "--features",
            "a,b",
            "--target",
            "y",
            "--model",
            "logistic",
            "--scale",
            "none",
            "--json",
        ],
        limit,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["test"]["accuracy"].as_f64().is_some());
    let o = crmlens_within(
        dir.path(),
        &[
            "segment",
            "--input",
            &big,
            "--features",
            "a,b",
            "--k",
            "3",
            "--scale",
            "none",
        ],
        limit,
    );
    assert_user_error(
        &o,
        &["k-means", "inertia", "beyond the largest floating-point"],
    );
    // Scaled first, the same values cluster.
    let o = crmlens_within(
        dir.path(),
        &[
            "segment",
            "--input",
            &big,
            "--features",
            "a,b",
            "--k",
            "3",
            "--json",
        ],
        limit,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["inertia"].as_f64().is_some_and(f64::is_finite), "{v}");
    let o = crmlens_within(
        dir.path(),
        &[
            "segment",
            "--input",
            &tiny,
            "--features",
            "a,b",
            "--k",
            "4",
            "--scale",
            "none",
            "--json",
        ],
        limit,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let sizes: Vec<u64> = v["sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .collect();
    assert_eq!(sizes, vec![50, 50, 50, 50], "{v}");
    assert!(v["inertia"].as_f64().is_some(), "{v}");
    // The mixture on the same inputs: a clear error each.
    for (input, needle) in [(&big, "covariances are beyond"), (&tiny, "vary too little")] {
        let mut args = vec![
            "segment",
            "--input",
            input,
            "--features",
            "a,b",
            "--k",
            "3",
            "--scale",
            "none",
            "--algo",
            "gmm",
        ];
        if input == &tiny {
            args[6] = "4";
        }
        let o = crmlens_within(dir.path(), &args, limit);
        assert_user_error(&o, &["Gaussian mixture", needle]);
    }
}

/// Apriori with --min-count 1 on dense baskets ignored the itemset limit FP-Growth honours
/// (it built and counted a whole level of millions of candidates first: still running after
/// 120 s in 571 MB). Both stop with the same error.
#[test]
fn apriori_honours_the_itemset_limit_on_dense_baskets() {
    let dir = tempfile::tempdir().unwrap();
    // 64 items in each of 20 baskets: 2,080 pairs, 41,664 triples, 679,120 itemsets up to
    // size 4 and 7.6 million candidates of size 5. A limit of 20,000 (the same check as the
    // default million, reached in a tenth of the time) stops both algorithms in size 3.
    let mut lines = String::from("order_id,product\n");
    for o in 0..20 {
        for p in 0..64 {
            lines.push_str(&format!("o{o},p{p:02}\n"));
        }
    }
    let orders = write(dir.path(), "dense.csv", &lines);
    let mut errors = Vec::new();
    for algo in ["fpgrowth", "apriori"] {
        let o = crmlens_within(
            dir.path(),
            &[
                "rules",
                "--input",
                &orders,
                "--transaction-col",
                "order_id",
                "--item-col",
                "product",
                "--min-count",
                "1",
                "--algo",
                algo,
                "--limit",
                "20000",
            ],
            Duration::from_secs(120),
        );
        assert_user_error(
            &o,
            &["more than 20000 frequent itemsets", "raise min_support"],
        );
        errors.push(stderr(&o));
    }
    assert_eq!(errors[0], errors[1]);
}
