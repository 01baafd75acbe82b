//! The headless CLI: outputs on good input, and one clear `error:` line with exit code 2 on
//! each kind of bad input (never a panic or a backtrace).

use std::fs;
use std::path::Path;

use crate::{crmlens, sample_dir, stderr, stdout};

/// Asserts a user error: exit 2, exactly one line on stderr starting `error:`, containing
/// every needle, and no panic or backtrace.
pub fn assert_user_error(o: &std::process::Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "want one line, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("stack backtrace"),
        "{err}"
    );
    for n in needles {
        assert!(err.contains(n), "`{n}` missing from: {err}");
    }
}

fn workspace(dir: &Path, body: &str) -> String {
    let p = dir.join("w.toml");
    fs::write(&p, body).unwrap();
    p.display().to_string()
}

#[test]
fn profile_sample_json_has_columns_and_stats() {
    let dir = tempfile::tempdir().unwrap();
    let customers = sample_dir().join("customers.csv");
    let o = crmlens(
        dir.path(),
        &["profile", customers.to_str().unwrap(), "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let file = &v["files"][0];
    assert!(file["rows"].as_u64().unwrap() > 5000, "duplicates included");
    let cols = file["columns"].as_array().unwrap();
    let income = cols.iter().find(|c| c["name"] == "income").unwrap();
    assert!(income["nulls"].as_u64().unwrap() > 0);
    assert!(income["mean"].as_f64().unwrap() > 0.0);
    let channel = cols.iter().find(|c| c["name"] == "channel").unwrap();
    assert_eq!(channel["distinct"].as_u64(), Some(4));
    assert_eq!(channel["top"].as_array().unwrap().len(), 4);
}

/// `profile` lists the personal-data columns and masks their values unless --show-pii: no
/// raw e-mail, name or phone of customers.csv appears in the masked output.
#[test]
fn profile_masks_personal_data_unless_shown() {
    let dir = tempfile::tempdir().unwrap();
    let customers = sample_dir().join("customers.csv");
    let run = |extra: &[&str]| {
        let mut args = vec!["profile", customers.to_str().unwrap(), "--json"];
        args.extend_from_slice(extra);
        let o = crmlens(dir.path(), &args);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let masked = run(&[]);
    let v: serde_json::Value = serde_json::from_str(&masked).unwrap();
    let pii: Vec<(&str, &str)> = v["files"][0]["pii"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["column"].as_str().unwrap(), p["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        pii,
        vec![
            ("name", "name"),
            ("email", "email"),
            ("phone", "phone"),
            ("birth_date", "birth_date")
        ]
    );
    let raw = fs::read_to_string(&customers).unwrap();
    for line in raw.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        for value in [f[1], f[2], f[3]] {
            assert!(
                !masked.contains(value.trim()),
                "{value} in the masked profile"
            );
        }
    }
    let shown = run(&["--show-pii"]);
    let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
    let name = v["files"][0]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "name")
        .unwrap();
    let top = name["top"][0]["value"].as_str().unwrap();
    assert!(raw.contains(top) && top.contains(' '), "{top}");
}

#[test]
fn profile_text_and_several_formats() {
    let dir = tempfile::tempdir().unwrap();
    let s = sample_dir();
    let files =
        ["support_tickets.ndjson", "web_sessions.parquet"].map(|f| s.join(f).display().to_string());
    let o = crmlens(dir.path(), &["profile", &files[0], &files[1]]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("satisfaction") && out.contains("session_start"),
        "{out}"
    );
}

#[test]
fn integrate_sample_writes_table_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_dir().join("crmlens.toml");
    let out = dir.path().join("c360.parquet");
    let rep = dir.path().join("report.json");
    let o = crmlens(
        dir.path(),
        &[
            "integrate",
            "--workspace",
            ws.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--report-json",
            rep.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("customer 360: 5000 customers"),
        "{}",
        stdout(&o)
    );
    let report: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&rep).unwrap()).unwrap();
    assert_eq!(report["customers_out"], 5000);
    assert!(!report["steps"].as_array().unwrap().is_empty());
    let table = crmlens::data::sources::file::read_frame(&out, &Default::default()).unwrap();
    assert_eq!(table.height(), 5000);
    for c in [
        "customer_id",
        "recency_days",
        "frequency",
        "monetary",
        "tickets",
        "sessions",
    ] {
        assert!(table.column(c).is_ok(), "missing {c}");
    }
    // CSV output too.
    let csv = dir.path().join("c360.csv");
    let o = crmlens(
        dir.path(),
        &[
            "integrate",
            "-w",
            ws.to_str().unwrap(),
            "--out",
            csv.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 5001);
}

#[test]
fn missing_file_is_one_line_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = crmlens(dir.path(), &["profile", "nope.csv"]);
    assert_user_error(&o, &["nope.csv", "not found"]);
    let o = crmlens(
        dir.path(),
        &["integrate", "--workspace", "missing.toml", "--out", "x.csv"],
    );
    assert_user_error(&o, &["missing.toml"]);
    // The workbench with a missing file fails before touching the terminal.
    let o = crmlens(dir.path(), &["gone.parquet"]);
    assert_user_error(&o, &["gone.parquet"]);
}

#[test]
fn workbench_without_a_terminal_says_so() {
    // Tests run with pipes, not a terminal: the workbench must refuse cleanly, not garble.
    let dir = tempfile::tempdir().unwrap();
    let o = crmlens(dir.path(), &[]);
    assert_user_error(&o, &["needs a terminal", "crmlens integrate"]);
}

#[test]
fn wrong_delimiter_is_named() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("c.csv"), "customer_id,name\nC1,Ann\n").unwrap();
    let o = crmlens(dir.path(), &["profile", "c.csv", "--delimiter", ";"]);
    assert_user_error(&o, &["c.csv", "delimiter", "','"]);
    let ws = workspace(
        dir.path(),
        "[sources.customers]\npath = \"c.csv\"\ndelimiter = \";\"\n",
    );
    let o = crmlens(dir.path(), &["integrate", "-w", &ws, "--out", "o.csv"]);
    assert_user_error(&o, &["c.csv", "','-delimited"]);
}

#[test]
fn malformed_rows_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("bad.csv"),
        "customer_id,income\nC1,10\nC2,20,extra,fields\nC3,30\n",
    )
    .unwrap();
    let o = crmlens(dir.path(), &["profile", "bad.csv"]);
    assert_user_error(&o, &["bad.csv", "line 3 has 4 fields, the header has 2"]);
    fs::write(dir.path().join("bad.parquet"), "this is not parquet").unwrap();
    let o = crmlens(dir.path(), &["profile", "bad.parquet"]);
    assert_user_error(&o, &["bad.parquet"]);
    fs::write(dir.path().join("bad.ndjson"), "{\"a\": 1}\n{not json\n").unwrap();
    let o = crmlens(dir.path(), &["profile", "bad.ndjson"]);
    assert_user_error(&o, &["bad.ndjson", "line 2 is not valid JSON"]);
}

#[test]
fn unknown_column_and_key_in_workspace() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("c.csv"), "id,name,income\nC1,Ann,10\n").unwrap();
    fs::write(
        dir.path().join("o.csv"),
        "order_id,id,order_date,amount\nO1,C1,2024-01-01,5\n",
    )
    .unwrap();
    // The default key `customer_id` is not in the file.
    let ws = workspace(dir.path(), "[sources.customers]\npath = \"c.csv\"\n");
    let o = crmlens(dir.path(), &["integrate", "-w", &ws, "--out", "360.csv"]);
    assert_user_error(
        &o,
        &["c.csv", "customer_id", "id, name, income", "customer_key"],
    );
    // A misspelt column under [cleaning].
    let ws = workspace(
        dir.path(),
        "[workspace]\ncustomer_key = \"id\"\n[sources.customers]\npath = \"c.csv\"\n[cleaning]\nnon_negative = [\"incme\"]\n",
    );
    let o = crmlens(dir.path(), &["integrate", "-w", &ws, "--out", "out.csv"]);
    assert_user_error(&o, &["c.csv", "incme", "non_negative"]);
    // An explicitly mapped role column that the orders file lacks.
    let ws = workspace(
        dir.path(),
        "[workspace]\ncustomer_key = \"id\"\n[sources.customers]\npath = \"c.csv\"\n[sources.orders]\npath = \"o.csv\"\ncolumns = { quantity = \"qty\" }\n",
    );
    let o = crmlens(dir.path(), &["integrate", "-w", &ws, "--out", "out.csv"]);
    assert_user_error(&o, &["o.csv", "qty", "[sources.orders.columns] quantity"]);
    // An unknown key in the workspace file itself.
    let ws = workspace(
        dir.path(),
        "[sources.customers]\npath = \"c.csv\"\nkee = \"id\"\n",
    );
    let o = crmlens(dir.path(), &["integrate", "-w", &ws, "--out", "out.csv"]);
    assert_user_error(&o, &["w.toml", "kee"]);
}

#[test]
fn bad_output_extension_and_bad_args() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_dir().join("crmlens.toml");
    let o = crmlens(
        dir.path(),
        &["integrate", "-w", ws.to_str().unwrap(), "--out", "x.xlsx"],
    );
    assert_user_error(&o, &["x.xlsx", ".csv, .parquet or .json"]);
    let o = crmlens(dir.path(), &["profile"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn integrate_small_workspace_end_to_end() {
    // Hand-made data: C1 twice (newer row wins), C2 with a negative income, C3 without orders;
    // orders: a duplicate line, a zero quantity, an unknown customer.
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("c.csv"),
        "customer_id,name,email,income,updated_at,signup_date\n\
         C1, Ann  Lee ,ANN@X.COM,100,2024-01-01,2023-01-01\n\
         C2,Bo,bo@x.com,-5,2024-01-01,01/06/2023\n\
         C3,Cy,cy@x.com,,2024-01-01,2024-01-01\n\
         C1,Ann Lee,ann@x.com,120,2024-06-01,2023-01-01\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("o.csv"),
        "order_id,customer_id,order_date,product,category,quantity,unit_price\n\
         O1,C1,2024-11-01,Pen,office,2,1.50\n\
         O1,C1,2024-11-01,Ink,office,1,10.00\n\
         O1,C1,2024-11-01,Ink,office,1,10.00\n\
         O2,C1,2024-12-21,Pen,office,0,1.50\n\
         O3,C2,2024-12-01,Tent,outdoor,1,99.99\n\
         O4,C9,2024-12-01,Tent,outdoor,1,99.99\n",
    )
    .unwrap();
    let ws = workspace(
        dir.path(),
        "[workspace]\nreference_date = \"2025-01-01\"\n\
         [sources.customers]\npath = \"c.csv\"\ndates = { updated_at = [\"%Y-%m-%d\"], signup_date = [\"%Y-%m-%d\", \"%d/%m/%Y\"] }\n\
         [sources.orders]\npath = \"o.csv\"\n\
         [cleaning]\nlowercase = [\"email\"]\nnon_negative = [\"income\"]\n\
         [cleaning.missing]\nincome = \"mean\"\n",
    );
    let o = crmlens(
        dir.path(),
        &["integrate", "-w", &ws, "--out", "out.csv", "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    // Personal data is left out of the export unless asked for.
    assert_eq!(report["pii_dropped"], serde_json::json!(["name", "email"]));
    let without = fs::read_to_string(dir.path().join("out.csv")).unwrap();
    assert!(
        !without.contains("email") && !without.contains("ann@x.com"),
        "{without}"
    );
    let o = crmlens(
        dir.path(),
        &[
            "integrate",
            "-w",
            &ws,
            "--out",
            "out.csv",
            "--json",
            "--include-pii",
        ],
    );
    assert_user_error(&o, &["out.csv", "exists already", "--force"]);
    let o = crmlens(
        dir.path(),
        &[
            "integrate",
            "-w",
            &ws,
            "--out",
            "out.csv",
            "--json",
            "--include-pii",
            "--force",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["pii_dropped"], serde_json::json!([]));
    assert_eq!(report["customers_out"], 3);
    assert_eq!(report["duplicates"]["customers_same_key"], 1);
    assert_eq!(report["duplicates"]["order_lines"], 1);
    assert_eq!(report["customers_without_orders"], 1);
    let invalid = report["invalid"].as_array().unwrap();
    let neg = invalid.iter().find(|i| i["column"] == "income").unwrap();
    assert_eq!(neg["count"], 1);
    let qty = invalid.iter().find(|i| i["column"] == "quantity").unwrap();
    assert_eq!(qty["count"], 1);
    assert_eq!(report["orphans"][0], serde_json::json!(["orders", 1]));

    let t =
        crmlens::data::sources::file::read_frame(&dir.path().join("out.csv"), &Default::default())
            .unwrap();
    let ids: Vec<&str> = t
        .column("customer_id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .collect();
    assert_eq!(ids, vec!["C1", "C2", "C3"]);
    let get_f = |c: &str, i: usize| {
        t.column(c)
            .unwrap()
            .cast(&polars::prelude::DataType::Float64)
            .unwrap()
            .f64()
            .unwrap()
            .get(i)
    };
    // C1: O1 = 2*1.50 + 10.00 (the duplicate ink line once); O2 only has a zero quantity.
    assert_eq!(get_f("frequency", 0), Some(1.0));
    assert_eq!(get_f("monetary", 0), Some(13.0));
    assert_eq!(get_f("recency_days", 0), Some(61.0)); // 2024-11-01 -> 2025-01-01
    assert_eq!(get_f("monetary", 1), Some(99.99));
    assert_eq!(get_f("recency_days", 1), Some(31.0));
    assert_eq!(get_f("frequency", 2), Some(0.0));
    assert_eq!(get_f("monetary", 2), Some(0.0));
    // Newest C1 row kept (income 120); C2's negative income nulled then filled with the mean of
    // the remaining incomes (120 only, as C3 is missing).
    assert_eq!(get_f("income", 0), Some(120.0));
    assert_eq!(get_f("income", 1), Some(120.0));
    // Tenure from the sign-up date in dd/mm/yyyy: 2023-06-01 -> 2025-01-01 = 580 days.
    assert_eq!(get_f("tenure_days", 1), Some(580.0));
    let email: Vec<&str> = t
        .column("email")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .collect();
    assert_eq!(email[0], "ann@x.com");
}

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
        &run(&[
            "segment",
            "--input",
            ws,
            "--features",
            "income",
            "--algo",
            "dbscan",
        ]),
        &["dbscan"],
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
        ],
    );
    assert_user_error(&o, &["--eps"]);
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
    assert_user_error(&with(&["--covariance", "banana"]), &["--covariance banana"]);
    assert_user_error(&with(&["--tol=0"]), &["--tol 0"]);
    assert_user_error(&with(&["--k", "0"]), &["--k 0", "use 1 to 1000"]);
}

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
    assert_user_error(&run(&["--algo", "eclat"]), &["--algo eclat"]);
    assert_user_error(&run(&["--sort", "fun"]), &["--sort fun"]);
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

/// `predict` on the sample's churn: the JSON contract, an AUC below the generator's true
/// probability ceiling and well above chance, accuracy above the majority baseline.
#[test]
fn predict_churn_on_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_dir().join("crmlens.toml");
    let truth: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(sample_dir().join("ground_truth.json")).unwrap())
            .unwrap();
    let ceiling = truth["churn_auc_true_probability"].as_f64().unwrap();
    let out = dir.path().join("scores.csv");
    let o = crmlens(
        dir.path(),
        &[
            "predict",
            "--input",
            ws.to_str().unwrap(),
            "--target",
            "churned",
            "--features",
            "recency_days,frequency,monetary,avg_order_value,tenure_days,tickets,sessions",
            "--fill",
            "median",
            "--model",
            "logistic",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["model"], "logistic");
    assert_eq!(v["n_rows"], 5000);
    assert_eq!(v["classes"], serde_json::json!(["0", "1"]));
    let auc = v["test"]["roc_auc"].as_f64().unwrap();
    assert!(
        auc > 0.75 && auc < ceiling + 0.03,
        "AUC {auc}, ceiling {ceiling}"
    );
    let acc = v["test"]["accuracy"].as_f64().unwrap();
    assert!(acc >= v["baseline_accuracy"].as_f64().unwrap());
    for k in ["accuracy", "precision", "recall", "f1", "roc_auc"] {
        assert!(v["test"][k].is_number(), "{k}");
        assert!(
            v["cv"][k]["mean"].is_number() && v["cv"][k]["std"].is_number(),
            "{k}"
        );
    }
    let cm: u64 = v["test"]["confusion_matrix"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|c| c.as_u64().unwrap()))
        .sum();
    assert_eq!(cm, v["test_rows"].as_u64().unwrap());
    let imp: Vec<f64> = v["feature_importance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["importance"].as_f64().unwrap())
        .collect();
    assert_eq!(imp.len(), 7);
    assert!(imp.windows(2).all(|w| w[0] >= w[1]));
    let scores = fs::read_to_string(&out).unwrap();
    assert!(scores.starts_with("customer_id,actual,p_0,p_1,predicted"));
    assert_eq!(scores.lines().count(), 5001);
}

/// The at-risk list, the threshold, --positive and the grid, checked against the scores the
/// same run writes.
#[test]
fn predict_at_risk_threshold_positive_and_grid() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_dir().join("crmlens.toml");
    let out = dir.path().join("scores.csv");
    let o = crmlens(
        dir.path(),
        &[
            "predict",
            "--input",
            ws.to_str().unwrap(),
            "--target",
            "churned",
            "--features",
            "recency_days,frequency,monetary,tickets",
            "--model",
            "tree",
            "--max-depth",
            "4",
            "--positive",
            "0",
            "--threshold",
            "0.7",
            "--top",
            "5",
            "--grid",
            "--grid-depth",
            "2,4",
            "--grid-min-leaf",
            "1,20",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    // --positive 0 puts "0" last, so it is the class the threshold and at_risk are about.
    assert_eq!(v["classes"], serde_json::json!(["1", "0"]));
    assert_eq!(v["positive"], "0");
    assert_eq!(v["threshold"], 0.7);
    assert_eq!(
        v["class_counts"]["0"].as_u64().unwrap() + v["class_counts"]["1"].as_u64().unwrap(),
        5000
    );
    // at_risk: the 5 highest p_0 in the scores file among rows not already 0.
    let scores = fs::read_to_string(&out).unwrap();
    let mut lines = scores.lines();
    assert_eq!(lines.next(), Some("customer_id,actual,p_1,p_0,predicted"));
    let rows: Vec<(String, String, f64, String)> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].to_string(),
                f[1].to_string(),
                f[3].parse().unwrap(),
                f[4].to_string(),
            )
        })
        .collect();
    // The threshold decides the predicted class.
    for (id, _, p0, predicted) in &rows {
        assert_eq!(predicted == "0", *p0 >= 0.7, "{id} {p0} {predicted}");
    }
    let mut rows: Vec<(String, f64)> = rows
        .into_iter()
        .filter(|r| r.1 != "0")
        .map(|r| (r.0, r.2))
        .collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let at_risk = v["at_risk"].as_array().unwrap();
    assert_eq!(at_risk.len(), 5);
    for (got, want) in at_risk.iter().zip(&rows) {
        assert_eq!(got["id"].as_str().unwrap(), want.0);
        assert!((got["probability"].as_f64().unwrap() - want.1).abs() < 1e-9);
    }
    // The grid: 2 depths x 2 leaf sizes, the best by cross-validated ROC-AUC.
    let grid = &v["grid"];
    assert_eq!(grid["metric"], "roc_auc");
    let rows = grid["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let best = grid["best"].as_u64().unwrap() as usize;
    let auc = |r: &serde_json::Value| r["cv"]["roc_auc"]["mean"].as_f64().unwrap();
    assert!(rows.iter().all(|r| auc(r) <= auc(&rows[best])));
    // Curves and permutation importance.
    let roc = v["roc_curve"].as_array().unwrap();
    assert_eq!(roc.last().unwrap()["tpr"], 1.0);
    assert!(v["average_precision"].as_f64().unwrap() > 0.0);
    let perm = v["permutation_importance"].as_array().unwrap();
    assert_eq!(perm.len(), 4);
    assert_eq!(v["permutation_metric"], "roc_auc");
    assert_eq!(perm[0]["feature"], "recency_days");
}

#[test]
fn predict_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_dir().join("crmlens.toml");
    let ws = ws.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut a = vec!["predict", "--input", ws];
        a.extend_from_slice(args);
        crmlens(dir.path(), &a)
    };
    assert_user_error(
        &run(&["--target", "nope", "--features", "recency_days"]),
        &["no target column `nope`"],
    );
    assert_user_error(
        &run(&["--target", "churned", "--features", "recency_days,churned"]),
        &["also among --features"],
    );
    assert_user_error(
        &run(&[
            "--target",
            "churned",
            "--features",
            "recency_days",
            "--model",
            "svm",
        ]),
        &["--model svm"],
    );
    assert_user_error(
        &run(&[
            "--target",
            "churned",
            "--features",
            "recency_days",
            "--threshold",
            "1.5",
        ]),
        &["--threshold 1.5"],
    );
    assert_user_error(
        &run(&[
            "--target",
            "churned",
            "--features",
            "recency_days",
            "--positive",
            "maybe",
        ]),
        &["--positive maybe", "0, 1"],
    );
    assert_user_error(
        &run(&["--target", "churned", "--features", "recency_days,channel"]),
        &["feature `channel` is text", "--categorical channel"],
    );
    // With --categorical it is one-hot encoded.
    let o = run(&[
        "--target",
        "churned",
        "--features",
        "recency_days",
        "--categorical",
        "channel",
        "--model",
        "logistic",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let names: Vec<&str> = v["feature_importance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["feature"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"channel=web"), "{names:?}");
    assert_eq!(
        v["features"],
        serde_json::json!(["recency_days", "channel"])
    );
    let flat = dir.path().join("flat.csv");
    fs::write(&flat, "id,x,y\na,1,yes\nb,2,yes\nc,3,yes\n").unwrap();
    let o = crmlens(
        dir.path(),
        &[
            "predict",
            "--input",
            flat.to_str().unwrap(),
            "--target",
            "y",
            "--features",
            "x",
        ],
    );
    assert_user_error(&o, &["single class", "yes"]);
}

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

/// `--pseudonymise` without a key is refused before anything is written; with one, two
/// exports from two commands carry the same keyed pseudonyms (so they still join), and no
/// real id.
#[test]
fn pseudonymised_exports_need_a_key_and_join_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_dir().join("crmlens.toml");
    let ws = ws.to_str().unwrap();
    let run = |key: Option<&str>, args: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_crmlens"));
        c.args(args)
            .current_dir(dir.path())
            .env_remove("CRMLENS_PSEUDONYM_KEY")
            .env_remove("CRMLENS_PSEUDONYM_KEY_FILE");
        if let Some(k) = key {
            c.env("CRMLENS_PSEUDONYM_KEY", k);
        }
        c.output().unwrap()
    };
    let segment = [
        "segment",
        "--input",
        ws,
        "--features",
        "recency_days,frequency,monetary",
        "--k",
        "3",
        "--out",
        "labels.csv",
        "--pseudonymise",
    ];
    let o = run(None, &segment);
    assert_user_error(&o, &["CRMLENS_PSEUDONYM_KEY"]);
    assert!(!dir.path().join("labels.csv").exists());

    let key = "correct horse battery staple";
    let o = run(Some(key), &segment);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(
        Some(key),
        &[
            "recommend",
            "--input",
            ws,
            "--out",
            "recs.csv",
            "--pseudonymise",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let read = |name: &str| {
        crmlens::data::sources::file::read_frame(&dir.path().join(name), &Default::default())
            .unwrap()
    };
    let ids = |df: &polars::prelude::DataFrame| -> std::collections::BTreeSet<String> {
        df.columns()[0]
            .str()
            .unwrap()
            .iter()
            .flatten()
            .map(str::to_string)
            .collect()
    };
    let labels = ids(&read("labels.csv"));
    let recs = ids(&read("recs.csv"));
    assert_eq!(labels.len(), 5000);
    let p = crmlens::data::privacy::Pseudonymiser::new(key.as_bytes());
    assert!(labels.contains(&p.pseudonym("C000001")));
    assert!(
        labels
            .iter()
            .all(|id| id.len() == 32 && !id.starts_with('C'))
    );
    let joined = labels.intersection(&recs).count();
    assert!(
        joined > 4900,
        "only {joined} recommendation customers join the labels"
    );
    // Again: the same key gives the same file.
    let before = std::fs::read_to_string(dir.path().join("labels.csv")).unwrap();
    let mut again = segment.to_vec();
    again.push("--force");
    let o = run(Some(key), &again);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("labels.csv")).unwrap(),
        before
    );

    // The workbench's --pseudonymise checks the key before the screen opens.
    let o = run(None, &["--pseudonymise", ws]);
    assert_user_error(&o, &["CRMLENS_PSEUDONYM_KEY"]);
}

/// `[engine]` and `integrate --engine/--spark-remote`: local runs; a Spark engine without a
/// remote, with a malformed remote, or in this build (no Spark support yet) is one line each.
#[test]
fn engine_choice_is_checked_and_an_unavailable_spark_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read_to_string(sample_dir().join("crmlens.toml"))
        .unwrap()
        .replace(
            "path = \"",
            &format!("path = \"{}/", sample_dir().display()),
        );
    let write = |name: &str, engine: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, format!("{sample}\n{engine}\n")).unwrap();
        p.display().to_string()
    };
    let local = write("local.toml", "[engine]\nkind = \"local\"");
    let o = crmlens(
        dir.path(),
        &["integrate", "-w", &local, "--out", "a.parquet"],
    );
    assert!(o.status.success(), "{}", stderr(&o));

    let no_remote = write("s1.toml", "[engine]\nkind = \"spark\"");
    let o = crmlens(
        dir.path(),
        &["integrate", "-w", &no_remote, "--out", "b.parquet"],
    );
    assert_user_error(&o, &["needs `remote", "--spark-remote"]);

    let o = crmlens(
        dir.path(),
        &[
            "integrate",
            "-w",
            &local,
            "--out",
            "c.parquet",
            "--engine",
            "spark",
            "--spark-remote",
            "http://spark:15002",
        ],
    );
    assert_user_error(&o, &["http://spark:15002", "must start with sc://"]);
    let o = crmlens(
        dir.path(),
        &[
            "integrate",
            "-w",
            &local,
            "--out",
            "c.parquet",
            "--engine",
            "spark",
            "--spark-remote",
            "sc://spark:port",
        ],
    );
    assert_user_error(&o, &["port `port` is not a number"]);

    let spark = write(
        "s2.toml",
        "[engine]\nkind = \"spark\"\nremote = \"sc://127.0.0.1:15002\"",
    );
    let o = crmlens(
        dir.path(),
        &["integrate", "-w", &spark, "--out", "d.parquet"],
    );
    // Without the feature the build says how to get it; with it, nothing listens there.
    if cfg!(feature = "spark") {
        assert_user_error(&o, &["sc://127.0.0.1:15002", "cannot connect"]);
    } else {
        assert_user_error(&o, &["built without Spark support", "--features spark"]);
    }
    // --engine local overrides the workspace.
    let o = crmlens(
        dir.path(),
        &[
            "integrate",
            "-w",
            &spark,
            "--out",
            "e.parquet",
            "--engine",
            "local",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));

    let typo = write("s3.toml", "[engine]\nkind = \"sparky\"");
    let o = crmlens(
        dir.path(),
        &["integrate", "-w", &typo, "--out", "f.parquet"],
    );
    assert_user_error(&o, &["sparky"]);
}
