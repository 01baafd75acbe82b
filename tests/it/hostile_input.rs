//! Hostile and odd files given to the readers, through the binary as a user runs it: each is
//! read right (UTF-16, CR line ends, integers beyond 64 bits) or refused in one `error:` line
//! with exit 2 (FIFOs, devices, link loops, JSON nested 10,000 deep, an unclosed header
//! quote, short rows); never a panic, a stack overflow, a hang or unbounded memory.

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::cli::assert_user_error;
use crate::{crmlens, stderr, stdout};

/// Runs crmlens with a deadline: a hang is a failure, not a stuck test run.
fn crmlens_within(dir: &Path, args: &[&str], secs: u64) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crmlens"))
        .args(args)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run crmlens");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            panic!("crmlens {args:?} still running after {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn profile_json(dir: &Path, file: &str) -> serde_json::Value {
    let o = crmlens(dir, &["profile", file, "--json"]);
    assert!(o.status.success(), "{file}: {}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    v["files"][0].clone()
}

fn column<'a>(profile: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    profile["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no column {name} in {profile}"))
}

#[test]
fn integers_beyond_64_bits_are_read_as_floats_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("big.ndjson"),
        "{\"id\":\"A\",\"n\":1}\n{\"id\":\"B\",\"n\":123456789012345678901234567890}\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("big.json"),
        "[{\"n\":123456789012345678901234567890,\"m\":5}]",
    )
    .unwrap();
    for file in ["big.ndjson", "big.json"] {
        let p = profile_json(dir.path(), file);
        let n = column(&p, "n");
        assert_eq!(n["dtype"], "f64", "{file}: {p}");
        assert_eq!(n["nulls"], 0, "{file}");
        let max: f64 = n["max"].as_str().unwrap().parse().unwrap();
        assert!((max / 1.2345678901234568e29 - 1.0).abs() < 1e-12, "{max}");
        let notes = p["notes"].to_string();
        assert!(
            notes.contains("column n holds integers outside the 64-bit range"),
            "{notes}"
        );
        // Other integer columns keep their type.
        if file == "big.json" {
            assert_eq!(column(&p, "m")["dtype"], "i64");
        }
    }
}

#[test]
fn json_nested_ten_thousand_deep_is_refused_not_a_stack_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    fs::write(dir.path().join("deep.json"), &deep).unwrap();
    fs::write(
        dir.path().join("deep.ndjson"),
        format!("{{\"a\":{deep}}}\n"),
    )
    .unwrap();
    // Past the 10,000 rows polars infers types from, where a depth check of the head alone
    // would miss it.
    let mut late = "{\"a\":1,\"b\":[1]}\n".repeat(10_001);
    late.push_str(&format!("{{\"a\":1,\"b\":{deep}}}\n"));
    fs::write(dir.path().join("late.ndjson"), late).unwrap();
    for (file, at) in [
        ("deep.json", ""),
        ("deep.ndjson", "line 1 "),
        ("late.ndjson", "line 10002 "),
    ] {
        let o = crmlens_within(dir.path(), &["profile", file], 60);
        assert_user_error(&o, &[file, &format!("{at}nests deeper than 64 levels")]);
    }
}

#[cfg(unix)]
#[test]
fn fifos_devices_and_broken_links_are_refused_at_once() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fifo = d.join("fifo.csv");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    symlink("/dev/zero", d.join("zero.csv")).unwrap();
    symlink("/dev/zero", d.join("zero.json")).unwrap();
    symlink("loop2.csv", d.join("loop1.csv")).unwrap();
    symlink("loop1.csv", d.join("loop2.csv")).unwrap();
    symlink("nowhere.csv", d.join("dangling.csv")).unwrap();
    for (file, needle) in [
        ("fifo.csv", "is not a regular file"),
        ("zero.csv", "is not a regular file"),
        ("zero.json", "is not a regular file"),
        ("/dev/zero", "is not a regular file"),
        ("loop1.csv", "symbolic link that cannot be followed"),
        (
            "dangling.csv",
            "is a symbolic link to nowhere.csv, which does not exist",
        ),
    ] {
        let o = crmlens_within(d, &["profile", file], 20);
        assert_user_error(&o, &[file, needle]);
    }
    // A workspace that is a device is refused too, before any of it is read.
    let o = crmlens_within(
        d,
        &["integrate", "-w", "/dev/zero", "--out", "x.parquet"],
        20,
    );
    assert_user_error(&o, &["/dev/zero", "is not a regular file"]);
}

#[test]
fn cr_only_and_mixed_line_ends_are_read_as_lines() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("cr.csv"),
        "id,name,amount\rA,Bob,1\rB,Al,2\r",
    )
    .unwrap();
    fs::write(
        dir.path().join("mixed.csv"),
        "id,name,amount\r\nA,Bob,1\rB,Al,2\nC,Cy,3\r\n",
    )
    .unwrap();
    for (file, rows, sum) in [("cr.csv", 2, 3.0), ("mixed.csv", 3, 6.0)] {
        let p = profile_json(dir.path(), file);
        assert_eq!(p["rows"], rows, "{p}");
        assert_eq!(p["columns"].as_array().unwrap().len(), 3, "{p}");
        let amount = column(&p, "amount");
        assert_eq!(amount["dtype"], "i64");
        let mean = amount["mean"].as_f64().unwrap();
        assert!((mean * rows as f64 - sum).abs() < 1e-9, "{p}");
        assert!(p["notes"].to_string().contains("CR line ends"), "{p}");
    }
}

#[test]
fn utf16_files_are_converted_and_their_personal_data_found() {
    let dir = tempfile::tempdir().unwrap();
    let text = "id,name,email\nA,Zoë Adams,zoe.adams@example.com\nB,Al Brown,al@example.org\n";
    let mut le = vec![0xFF, 0xFE];
    le.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
    fs::write(dir.path().join("le.csv"), le).unwrap();
    // Big-endian without a byte-order mark, as some exports write it.
    let be: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
    fs::write(dir.path().join("be.csv"), be).unwrap();
    for (file, enc) in [("le.csv", "UTF-16LE"), ("be.csv", "UTF-16BE")] {
        let p = profile_json(dir.path(), file);
        assert_eq!(p["rows"], 2, "{p}");
        let names: Vec<&str> = p["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["id", "name", "email"], "{file}");
        assert!(p["notes"].to_string().contains(enc), "{p}");
        let pii = p["pii"].to_string();
        assert!(pii.contains("email"), "{file}: e-mails not detected: {pii}");
        // Masked, and no NUL bytes between the characters.
        let out = stdout(&crmlens(dir.path(), &["profile", file]));
        assert!(
            !out.contains("zoe.adams@example.com") && !out.contains('\0'),
            "{out}"
        );
    }
}

#[test]
fn an_unclosed_header_quote_and_short_rows_are_errors_not_silent() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("quote.csv"),
        "id,\"name,email\nA,Bob,bob@example.com\nB,Al,al@example.org\n",
    )
    .unwrap();
    let o = crmlens(dir.path(), &["profile", "quote.csv"]);
    assert_user_error(
        &o,
        &["quote.csv", "opens a quote in column 2", "never closes"],
    );
    // The rest of the file (with its e-mails) is not echoed.
    assert!(!stderr(&o).contains("bob@example.com"));

    fs::write(
        dir.path().join("short.csv"),
        "id,name,amount\nA,Bob,1\nB,Al\nC,Cy,3\n",
    )
    .unwrap();
    let o = crmlens(dir.path(), &["profile", "short.csv"]);
    assert_user_error(&o, &["short.csv", "line 3 has 2 fields, the header has 3"]);
    fs::write(dir.path().join("long.csv"), "id,name\nA,Bob\nB,Al,x\n").unwrap();
    let o = crmlens(dir.path(), &["profile", "long.csv"]);
    assert_user_error(&o, &["long.csv", "line 3 has 3 fields, the header has 2"]);
}

#[test]
fn files_that_are_not_text_say_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("g.csv"),
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00rest",
    )
    .unwrap();
    fs::write(dir.path().join("n.csv"), b"id,\x00\x00\x00\x00,n\n1,2,3\n").unwrap();
    fs::write(dir.path().join("empty.json"), "").unwrap();
    fs::write(dir.path().join("cut.json"), "[{\"a\":1},").unwrap();
    for (file, needle) in [
        ("g.csv", "gzip-compressed"),
        ("n.csv", "NUL bytes"),
        ("empty.json", "is empty"),
        ("cut.json", "is not valid JSON"),
    ] {
        let o = crmlens(dir.path(), &["profile", file]);
        assert_user_error(&o, &[file, needle]);
        assert!(!stderr(&o).contains('\0'), "{file}");
    }
}

/// Parquet types whose polars feature was off panicked the reader (a decimal column, as
/// database exports write them; found by the fuzz seed corpus): now every Arrow type reads,
/// and decimals become floats.
#[test]
fn parquet_decimals_and_small_integers_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = crate::repo().join("fuzz/corpus/parquet/types");
    let copy = dir.path().join("types.parquet");
    fs::copy(file, &copy).unwrap();
    let p = profile_json(dir.path(), "types.parquet");
    assert_eq!(p["rows"], 3, "{p}");
    let dec = column(&p, "dec");
    assert_eq!(dec["dtype"], "f64", "{p}");
    // pyarrow wrote 1.00, 2.00, 3.00 as decimal(10, 2).
    assert!((dec["mean"].as_f64().unwrap() - 2.0).abs() < 1e-12, "{dec}");
    assert_eq!(dec["min"], "1");
}

/// One column named for two roles made polars refuse its own query ("projections contained
/// duplicate output name", with the rest of its text redacted): now one line naming it.
#[test]
fn one_column_for_two_roles_is_named() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("o.csv"),
        "cid,oid,item\n1,1,x\n1,1,y\n2,2,x\n",
    )
    .unwrap();
    for args in [
        &[
            "rules",
            "--input",
            "o.csv",
            "--transaction-col",
            "oid",
            "--item-col",
            "oid",
        ][..],
        &[
            "recommend",
            "--input",
            "o.csv",
            "--customer-col",
            "cid",
            "--item-col",
            "cid",
        ][..],
    ] {
        let o = crmlens(dir.path(), args);
        assert_user_error(&o, &["o.csv", "is given for two roles"]);
        assert!(!stderr(&o).contains("projections"), "{}", stderr(&o));
    }
}
