//! `crmlens profile`: JSON statistics, personal data masked unless shown, several formats,
//! malformed files.

use std::fs;
use std::sync::OnceLock;

use super::assert_user_error;
use crate::{crmlens, sample_dir, stderr, stdout};

/// What `crmlens profile customers.csv --json` prints for the sample's customers (run once per
/// test process, in a fresh folder; two tests read it).
fn sample_profile_json() -> &'static str {
    static OUT: OnceLock<String> = OnceLock::new();
    OUT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let customers = sample_dir().join("customers.csv");
        let o = crmlens(
            dir.path(),
            &["profile", customers.to_str().unwrap(), "--json"],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    })
}

#[test]
fn profile_sample_json_has_columns_and_stats() {
    let v: serde_json::Value = serde_json::from_str(sample_profile_json()).unwrap();
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
    let masked = sample_profile_json();
    let v: serde_json::Value = serde_json::from_str(masked).unwrap();
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

/// A file typed as an export writes it: money with symbols, codes and thousands separators,
/// a blank cell, percents, yes/no flags and placeholders. Each column is read as a person
/// reads it, reported with what did not read, and usable as a feature at once.
#[test]
fn messy_text_columns_are_read_as_numbers_and_flags_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("id,amount,share,member,city\n");
    let amounts = ["$1,234.50", "USD 12.00", " ", "(3.25)", "N/A", "£0.99"];
    for i in 0..30 {
        let amount = amounts[i % amounts.len()];
        let share = format!("{}.5%", i % 7);
        let member = if i % 3 == 0 { "Yes" } else { "No" };
        let city = if i % 10 == 0 { "n/a" } else { "Leeds" };
        csv.push_str(&format!("c{i},\"{amount}\",{share},{member},{city}\n"));
    }
    fs::write(dir.path().join("export.csv"), &csv).unwrap();
    let o = crmlens(dir.path(), &["profile", "export.csv", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let f = &v["files"][0];
    let col = |name: &str| {
        f["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    // 30 rows: 5 blanks and 5 N/A in `amount`, 3 "n/a" in `city`.
    assert_eq!(col("amount")["dtype"], "f64", "{f}");
    assert_eq!(col("amount")["nulls"], 10);
    assert_eq!(col("share")["dtype"], "f64");
    assert_eq!(col("member")["dtype"], "bool");
    assert_eq!(col("city")["dtype"], "str");
    assert_eq!(col("city")["nulls"], 3);
    let reading = |name: &str| {
        f["readings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["column"] == name)
            .unwrap()
            .clone()
    };
    let amount = reading("amount");
    assert_eq!(amount["reading"]["as"], "number");
    assert_eq!(amount["reading"]["currency"], "$");
    assert_eq!(
        (amount["placeholders"].as_u64(), amount["unparsed"].as_u64()),
        (Some(10), Some(0))
    );
    assert_eq!(reading("share")["reading"]["percent"], true);
    assert_eq!(reading("member")["reading"]["as"], "boolean");
    // The money is a feature now: its mean is the mean of what was written.
    let mean = col("amount")["mean"].as_f64().unwrap();
    let want = (1234.5 + 12.0 - 3.25 + 0.99) / 4.0;
    assert!((mean - want).abs() < 1e-9, "{mean} vs {want}");
    let o = crmlens(
        dir.path(),
        &[
            "segment",
            "--input",
            "export.csv",
            "--features",
            "amount,share",
            "--k",
            "2",
            "--fill",
            "median",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // Text output names what was decided.
    let o = crmlens(dir.path(), &["profile", "export.csv"]);
    let out = stdout(&o);
    assert!(
        out.contains(
            "note: column `amount` read as numbers (currency $); 10 blank or placeholder values"
        ),
        "{out}"
    );
}
