//! `crmlens integrate --state DIR`: a later run reads only what arrived (lines appended to
//! CSV and NDJSON sources) and its table equals a full rebuild, row for row: on the sample
//! workspace (CSV orders, NDJSON tickets, Parquet sessions read whole), with changed and
//! added customers, on the real CDNOW log; a rewritten file and a damaged state fall back to
//! a full read with the reason.

use std::fs;
use std::path::{Path, PathBuf};

use polars::prelude::SerReader as _;

use super::assert_user_error;
use crate::{crmlens, sample_dir, stderr, stdout};

fn copy_sample(dir: &Path) -> PathBuf {
    let ws = dir.join("ws");
    fs::create_dir_all(&ws).unwrap();
    for e in fs::read_dir(sample_dir()).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), ws.join(e.file_name())).unwrap();
    }
    ws
}

/// Splits a text file: keeps its first `keep` lines, returns the rest (each with its line
/// end).
fn hold_back(path: &Path, keep: usize) -> String {
    let text = fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    fs::write(path, lines[..keep].concat()).unwrap();
    lines[keep..].concat()
}

fn append(path: &Path, text: &str) {
    use std::io::Write as _;
    let mut f = fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn integrate(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["integrate"];
    all.extend(args);
    all.push("--json");
    let o = crmlens(dir, &all);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

/// The table a full rebuild writes now.
fn full_table(dir: &Path, source: &[&str], name: &str) -> String {
    let out = dir.join(name);
    let _ = fs::remove_file(&out);
    let mut args = source.to_vec();
    args.extend(["--out", out.to_str().unwrap()]);
    integrate(dir, &args);
    fs::read_to_string(out).unwrap()
}

/// An incremental run that reads `role` whole, for a reason naming `why`, and writes to
/// `out` the table a full rebuild writes.
fn read_whole(dir: &Path, args: &[&str], src: &[&str], out: &Path, role: &str, why: &str) {
    let v = integrate(dir, args);
    let s = source(&v, role);
    assert_eq!(s["mode"], "full", "{s}");
    assert!(s["reason"].as_str().unwrap().contains(why), "{s}");
    assert_eq!(
        fs::read_to_string(out).unwrap(),
        full_table(dir, src, "full.csv")
    );
}

fn source<'a>(v: &'a serde_json::Value, role: &str) -> &'a serde_json::Value {
    v["incremental"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["role"] == role)
        .unwrap_or_else(|| panic!("no {role} in {v}"))
}

#[test]
fn appended_lines_give_the_full_rebuilds_table_for_every_source_format() {
    let dir = tempfile::tempdir().unwrap();
    let ws = copy_sample(dir.path());
    let toml = ws.join("crmlens.toml");
    let (orders, tickets, customers) = (
        ws.join("orders.csv"),
        ws.join("support_tickets.ndjson"),
        ws.join("customers.csv"),
    );
    let new_orders = hold_back(&orders, 75_001);
    let n_tickets = fs::read_to_string(&tickets).unwrap().lines().count();
    let new_tickets = hold_back(&tickets, n_tickets * 9 / 10);
    let (out, state) = (dir.path().join("c360.csv"), dir.path().join("state"));
    let src = ["--workspace", toml.to_str().unwrap()];
    let mut args = src.to_vec();
    args.extend([
        "--out",
        out.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    // First run: everything is read whole.
    let v = integrate(dir.path(), &args);
    assert_eq!(source(&v, "orders")["mode"], "full");
    assert!(
        source(&v, "orders")["reason"]
            .as_str()
            .unwrap()
            .contains("first run")
    );
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        full_table(dir.path(), &src, "a.csv")
    );

    // Lines arrive: only they are read.
    append(&orders, &new_orders);
    append(&tickets, &new_tickets);
    let v = integrate(dir.path(), &args);
    let o = source(&v, "orders");
    assert_eq!(o["mode"], "appended", "{o}");
    assert_eq!(o["rows"], new_orders.lines().count() as u64);
    assert_eq!(o["bytes"], new_orders.len() as u64);
    // The customers did not change: their cleaned table is kept, not read again.
    assert_eq!(source(&v, "customers")["mode"], "unchanged");
    let t = source(&v, "tickets");
    assert_eq!(t["mode"], "appended", "{t}");
    assert_eq!(t["rows"], new_tickets.lines().count() as u64);
    // The Parquet sessions did not change: not read at all.
    let s = source(&v, "sessions");
    assert_eq!(s["mode"], "unchanged", "{s}");
    assert_eq!(s["rows"], 0);
    let refreshed = fs::read_to_string(&out).unwrap();
    assert_eq!(refreshed, full_table(dir.path(), &src, "b.csv"));
    assert!(refreshed.lines().count() > 4000);

    // Nothing new: nothing read, the same table.
    let v = integrate(dir.path(), &args);
    assert_eq!(source(&v, "orders")["mode"], "unchanged");
    assert_eq!(source(&v, "orders")["rows"], 0);
    assert_eq!(fs::read_to_string(&out).unwrap(), refreshed);

    // The Parquet file is written again with more sessions: read whole, with the reason.
    let sessions = ws.join("web_sessions.parquet");
    let mut df = polars::prelude::ParquetReader::new(fs::File::open(&sessions).unwrap())
        .finish()
        .unwrap();
    let extra = df.slice(0, 5);
    df.vstack_mut(&extra).unwrap();
    polars::prelude::ParquetWriter::new(fs::File::create(&sessions).unwrap())
        .finish(&mut df)
        .unwrap();
    read_whole(dir.path(), &args, &src, &out, "sessions", "parquet");

    // A customer changes and one is added, with orders of their own.
    let text = fs::read_to_string(&customers).unwrap();
    let header = text.lines().next().unwrap().to_string();
    let first = text.lines().nth(1).unwrap().to_string();
    let id = first.split(',').next().unwrap().to_string();
    let added = first.replacen(&id, "C999999", 1);
    fs::write(
        &customers,
        format!(
            "{header}\n{}\n{added}\n",
            text.lines().skip(1).collect::<Vec<_>>().join("\n")
        ),
    )
    .unwrap();
    append(
        &orders,
        "O9999999,C999999,2024-12-01,Hoodie,apparel,2,39.99\nO9999999,C999999,2024-12-01,Non-stick Pan,kitchen,1,39.99\n",
    );
    let v = integrate(dir.path(), &args);
    assert_eq!(source(&v, "orders")["mode"], "appended");
    assert_eq!(source(&v, "orders")["rows"], 2);
    let c = source(&v, "customers");
    assert_eq!(c["mode"], "full");
    assert!(c["reason"].as_str().unwrap().contains("changed"), "{c}");
    let refreshed = fs::read_to_string(&out).unwrap();
    assert!(refreshed.contains("C999999"));
    assert_eq!(refreshed, full_table(dir.path(), &src, "c.csv"));
}

#[test]
fn a_rewritten_file_or_a_damaged_state_is_read_whole_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let ws = copy_sample(dir.path());
    let toml = ws.join("crmlens.toml");
    let orders = ws.join("orders.csv");
    let (out, state) = (dir.path().join("c360.csv"), dir.path().join("state"));
    let src = ["--workspace", toml.to_str().unwrap()];
    let mut args = src.to_vec();
    args.extend([
        "--out",
        out.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    integrate(dir.path(), &args);
    // One value in the middle changes, the size does not.
    let text = fs::read_to_string(&orders).unwrap();
    let at = text.len() / 2;
    let line_start = text[..at].rfind('\n').unwrap() + 1;
    let line_end = line_start + text[line_start..].find('\n').unwrap();
    let line = &text[line_start..line_end];
    let changed = line.replacen(",1,", ",2,", 1);
    assert_ne!(changed, line, "{line}");
    fs::write(
        &orders,
        format!("{}{changed}{}", &text[..line_start], &text[line_end..]),
    )
    .unwrap();
    read_whole(dir.path(), &args, &src, &out, "orders", "rewritten");
    // A value in the part already read changes and lines are appended: the new lines are
    // read and folded while that part is checksummed, then the file is read whole.
    let text = fs::read_to_string(&orders).unwrap();
    let at = text.len() / 3;
    let line_start = text[..at].rfind('\n').unwrap() + 1;
    let line_end = line_start + text[line_start..].find('\n').unwrap();
    let line = &text[line_start..line_end];
    let changed = line.replacen(",1,", ",3,", 1).replacen(",2,", ",3,", 1);
    assert_ne!(changed, line, "{line}");
    fs::write(
        &orders,
        format!(
            "{}{changed}{}O9999990,C000028,2024-12-02,Hoodie,apparel,1,39.99\n",
            &text[..line_start],
            &text[line_end..]
        ),
    )
    .unwrap();
    read_whole(dir.path(), &args, &src, &out, "orders", "rewritten");
    // Shorter than what was read.
    let text = fs::read_to_string(&orders).unwrap();
    let keep: String = text.split_inclusive('\n').take(1000).collect();
    fs::write(&orders, keep).unwrap();
    let v = integrate(dir.path(), &args);
    assert!(
        source(&v, "orders")["reason"]
            .as_str()
            .unwrap()
            .contains("shorter")
    );
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        full_table(dir.path(), &src, "b.csv")
    );
    // The state's accumulators are gone (a disk cleaned by hand).
    for e in fs::read_dir(&state).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().contains("orders.")
            && p.extension().is_some_and(|x| x == "parquet" || x == "acc")
        {
            fs::remove_file(p).unwrap();
        }
    }
    append(
        &orders,
        "O9999998,C000028,2024-12-01,Hoodie,apparel,1,39.99\n",
    );
    let v = integrate(dir.path(), &args);
    let o = source(&v, "orders");
    assert_eq!(o["mode"], "full");
    assert!(
        o["reason"]
            .as_str()
            .unwrap()
            .contains("state could not be read"),
        "{o}"
    );
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        full_table(dir.path(), &src, "c.csv")
    );
    // A table this state did not write is not replaced without --force.
    let other = dir.path().join("other.csv");
    fs::write(&other, "keep me").unwrap();
    let o = crmlens(
        dir.path(),
        &[
            "integrate",
            "--workspace",
            toml.to_str().unwrap(),
            "--out",
            other.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ],
    );
    assert_user_error(&o, &["other.csv", "--force"]);
    assert_eq!(fs::read_to_string(&other).unwrap(), "keep me");
}

/// The CDNOW log (real, tests/data/real: yyyymmdd dates as numbers, the customers are the
/// log's own ids) integrated without a workspace, then its last quarter arrives in ten parts:
/// each refresh equals a full rebuild, also after the state's later accumulator segments (one
/// more per refresh) are merged into one, the first run's kept as it is.
#[test]
fn the_real_cdnow_log_refreshed_equals_its_full_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("cdnow.csv");
    fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/real/cdnow/cdnow_transactions.csv"),
        &log,
    )
    .unwrap();
    let n = fs::read_to_string(&log).unwrap().lines().count();
    let later = hold_back(&log, n * 3 / 4);
    let (out, state) = (dir.path().join("c360.csv"), dir.path().join("state"));
    let src = ["--input", log.to_str().unwrap()];
    let mut args = src.to_vec();
    args.extend([
        "--out",
        out.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    integrate(dir.path(), &args);
    let lines: Vec<&str> = later.split_inclusive('\n').collect();
    let parts: Vec<String> = lines
        .chunks(lines.len().div_ceil(10))
        .map(|c| c.concat())
        .collect();
    assert_eq!(parts.len(), 10);
    let segments = || {
        fs::read_dir(&state)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "acc")
            })
            .count()
    };
    let mut most = 0;
    for part in &parts {
        append(&log, part);
        let v = integrate(dir.path(), &args);
        let o = source(&v, "orders");
        assert_eq!(o["mode"], "appended", "{o}");
        assert_eq!(o["rows"], part.lines().count() as u64);
        assert_eq!(
            fs::read_to_string(&out).unwrap(),
            full_table(dir.path(), &src, "full.csv")
        );
        most = most.max(segments());
    }
    // Eight segments at most, and the later ones were merged on the way; the first run's
    // (most of the customers) was not rewritten.
    assert_eq!(most, 8);
    assert!(segments() < 8, "{}", segments());
    assert!(state.join("orders.1.acc").exists());
}

/// `crmlens watch` against files appended by the test: a first refresh, then one line per
/// arrival with the lines read and the customers whose segment changed; the table equals a
/// full rebuild after each refresh and the scores equal `crmlens score`'s; SIGTERM stops it
/// with status 0, a last line, and no temporary file left.
#[test]
fn watch_refreshes_on_each_arrival_and_stops_cleanly_on_sigterm() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let ws = copy_sample(dir.path());
    let toml = ws.join("crmlens.toml");
    let orders = ws.join("orders.csv");
    let new_orders = hold_back(&orders, 80_001);
    let model = dir.path().join("seg.toml");
    let o = crmlens(
        dir.path(),
        &[
            "segment",
            "--input",
            toml.to_str().unwrap(),
            "--features",
            "recency_days,frequency,monetary",
            "--log1p",
            "frequency,monetary",
            "--k",
            "4",
            "--save-model",
            model.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.path().join("c360.csv");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_crmlens"))
        .current_dir(dir.path())
        .args([
            "watch",
            "--workspace",
            toml.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--score",
            model.to_str().unwrap(),
            "--interval",
            "0.2",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout_pipe = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout_pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next_line = || {
        rx.recv_timeout(std::time::Duration::from_secs(120))
            .expect("watch printed no line in 120 s")
    };
    let src = ["--workspace", toml.to_str().unwrap()];
    let scored = dir.path().join("c360.seg.csv");
    let check = |name: &str| {
        assert_eq!(
            fs::read_to_string(&out).unwrap(),
            full_table(dir.path(), &src, &format!("{name}.csv"))
        );
        let reference = dir.path().join(format!("{name}_scores.csv"));
        let o = crmlens(
            dir.path(),
            &[
                "score",
                "--model",
                model.to_str().unwrap(),
                "--input",
                toml.to_str().unwrap(),
                "--out",
                reference.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            fs::read_to_string(&scored).unwrap(),
            fs::read_to_string(&reference).unwrap()
        );
    };
    let first = next_line();
    assert!(first.contains("first run"), "{first}");
    assert!(
        first.contains("5000 customers") && first.contains("seg.toml: scored"),
        "{first}"
    );
    check("first");
    // Lines arrive in two writes; the refresh after them reads exactly those lines.
    let cut = new_orders.len() / 2;
    let cut = cut + new_orders[cut..].find('\n').unwrap() + 1;
    append(&orders, &new_orders[..cut]);
    append(&orders, &new_orders[cut..]);
    let mut read = 0;
    let mut lines = Vec::new();
    while read < new_orders.lines().count() {
        let line = next_line();
        assert!(!line.contains("failed"), "{line}");
        let n: usize = line
            .split("orders +")
            .nth(1)
            .map(|r| r.split(' ').next().unwrap().parse().unwrap())
            .unwrap_or(0);
        read += n;
        lines.push(line);
    }
    assert_eq!(read, new_orders.lines().count(), "{lines:?}");
    let last = lines.last().unwrap();
    assert!(last.contains("changed segment"), "{last}");
    check("second");
    // SIGTERM: a last line, status 0, nothing half-written.
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let rest: Vec<String> = rx.iter().collect();
    assert!(rest.iter().any(|l| l.ends_with("stopped")), "{rest:?}");
    for e in fs::read_dir(dir.path()).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        assert!(!name.ends_with(".crmlens-tmp"), "{name} left behind");
    }
    check("after");
}

/// A SQLite orders table with an increasing line number as its `watermark`: a later run
/// reads only the rows inserted since, and the table equals the full rebuild's.
#[test]
fn sqlite_rows_past_the_watermark_give_the_full_rebuilds_table() {
    let dir = tempfile::tempdir().unwrap();
    let ws = copy_sample(dir.path());
    let toml = ws.join("crmlens.toml");
    let text = fs::read_to_string(&toml).unwrap();
    fs::write(
        &toml,
        text.replacen(
            "path = \"orders.csv\"",
            "path = \"orders.sqlite\"\ntable = \"orders\"\nwatermark = \"line_no\"",
            1,
        ),
    )
    .unwrap();
    // Every order line with its number, in a database the test inserts from.
    let mut df = crmlens::data::sources::file::read_frame(
        &ws.join("orders.csv"),
        &crmlens::data::sources::file::ReadOptions {
            schema: [("order_date".to_string(), "text".to_string())].into(),
            ..Default::default()
        },
    )
    .unwrap();
    let n = df.height();
    df.with_column(polars::prelude::Column::new(
        "line_no".into(),
        (1..=n as i64).collect::<Vec<i64>>(),
    ))
    .unwrap();
    let all = dir.path().join("all.sqlite");
    crmlens::data::sources::sqlite::write_table(&all, "orders", &df).unwrap();
    let db = ws.join("orders.sqlite");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(&format!(
        "ATTACH '{}' AS src; CREATE TABLE orders AS SELECT * FROM src.orders WHERE line_no <= 70000;",
        all.display()
    ))
    .unwrap();
    let (out, state) = (dir.path().join("c360.csv"), dir.path().join("state"));
    let src = ["--workspace", toml.to_str().unwrap()];
    let mut args = src.to_vec();
    args.extend([
        "--out",
        out.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    let v = integrate(dir.path(), &args);
    assert_eq!(source(&v, "orders")["mode"], "full");
    assert_eq!(source(&v, "orders")["rows"], 70000);
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        full_table(dir.path(), &src, "a.csv")
    );
    conn.execute_batch("INSERT INTO orders SELECT * FROM src.orders WHERE line_no > 70000;")
        .unwrap();
    let v = integrate(dir.path(), &args);
    let o = source(&v, "orders");
    assert_eq!(o["mode"], "appended", "{o}");
    assert_eq!(o["rows"], (n - 70000) as u64);
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        full_table(dir.path(), &src, "b.csv")
    );
    let v = integrate(dir.path(), &args);
    assert_eq!(source(&v, "orders")["mode"], "unchanged");
}

/// A source named by a pattern (`--input 'cdnow/part-*.csv'`): the CDNOW log (real) split
/// into monthly-like parts. A later run reads the lines appended to a part and every new
/// part whole, and its table equals a full rebuild; a part that disappears is a full read
/// with its name in the reason.
#[test]
fn new_files_matching_a_pattern_are_read_and_equal_a_full_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let parts = dir.path().join("cdnow");
    fs::create_dir_all(&parts).unwrap();
    let text = fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/real/cdnow/cdnow_transactions.csv"),
    )
    .unwrap();
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let header = lines.remove(0);
    let third = lines.len() / 3;
    let part = |name: &str, body: &[&str]| {
        fs::write(parts.join(name), format!("{header}{}", body.concat())).unwrap();
    };
    // part-1 whole, part-2 without its last 20 lines; part-3 comes later.
    part("part-1.csv", &lines[..third]);
    part("part-2.csv", &lines[third..2 * third - 20]);
    let pattern = parts.join("part-*.csv");
    let (out, state) = (dir.path().join("c360.csv"), dir.path().join("state"));
    let src = ["--input", pattern.to_str().unwrap()];
    let mut args = src.to_vec();
    args.extend([
        "--out",
        out.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    let v = integrate(dir.path(), &args);
    assert_eq!(source(&v, "orders")["mode"], "full");
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        full_table(dir.path(), &src, "full0.csv")
    );

    // Nothing new: nothing read.
    let v = integrate(dir.path(), &args);
    assert_eq!(source(&v, "orders")["mode"], "unchanged", "{v}");

    // The rest of part-2 is appended and part-3 arrives.
    append(
        &parts.join("part-2.csv"),
        &lines[2 * third - 20..2 * third].concat(),
    );
    part("part-3.csv", &lines[2 * third..]);
    let v = integrate(dir.path(), &args);
    let o = source(&v, "orders");
    assert_eq!(o["mode"], "appended", "{o}");
    assert_eq!(o["rows"], (lines.len() - (2 * third - 20)) as u64, "{o}");
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        full_table(dir.path(), &src, "full1.csv")
    );

    // A part is removed: read whole, saying which.
    fs::remove_file(parts.join("part-1.csv")).unwrap();
    let v = integrate(dir.path(), &args);
    let o = source(&v, "orders");
    assert_eq!(o["mode"], "full", "{o}");
    assert!(o["reason"].as_str().unwrap().contains("part-1.csv"), "{o}");
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        full_table(dir.path(), &src, "full2.csv")
    );

    // A pattern nothing matches: one line naming it, exit 2.
    let none = dir.path().join("nothing-*.csv");
    let o = crmlens(
        dir.path(),
        &[
            "integrate",
            "--input",
            none.to_str().unwrap(),
            "--out",
            "x.csv",
        ],
    );
    assert_user_error(&o, &["nothing-*.csv", "no file matches"]);
}
