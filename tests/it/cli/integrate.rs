//! `crmlens integrate`: the sample's 360 table and quality report, a hand-made workspace end to
//! end, workspace and output errors, and the engine choice.

use std::fs;

use super::{assert_user_error, workspace};
use crate::{crmlens, sample_dir, stderr, stdout};

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
