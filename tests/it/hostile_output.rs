//! Hostile data against what crmlens writes (issue 21, items 5, 10, 11 and 12's EPIPE): no
//! control character from a cell, a header or a file name reaches the terminal; no raw id
//! or personal data in printed output when it should be hidden; no file replaced without
//! --force, no temporary file left behind, permissions and symbolic links respected; a
//! closed standard output is a quiet exit.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::cli::assert_user_error;
use crate::{crmlens, sample_dir, stderr, stdout};

const TITLE: &str = "City\x1b]0;PWNED\x07";
const CURSOR: &str = "Town\x1b[?25l";
const TITLE_SHOWN: &str = r"City\e]0;PWNED\x07";
const CURSOR_SHOWN: &str = r"Town\e[?25l";

/// The bytes a terminal acts on (C0 controls other than newline, DEL) and the C1 controls
/// as UTF-8.
fn raw_controls(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    text.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .map(|c| format!("{:#x}", c as u32))
        .collect()
}

fn assert_clean(o: &Output, what: &str) {
    assert!(o.status.success(), "{what}: {}", stderr(o));
    let out = raw_controls(&o.stdout);
    assert!(
        out.is_empty(),
        "{what}: raw controls on stdout: {out:?}\n{}",
        stdout(o)
    );
    let err = raw_controls(&o.stderr);
    assert!(err.is_empty(), "{what}: raw controls on stderr: {err:?}");
}

/// 120 customers: a city and a product with terminal sequences, a name column of people,
/// a right-to-left override and a C1 control in a note, ids CUST-0000.., a churn flag that
/// depends on the amount.
fn customers(dir: &Path) -> std::path::PathBuf {
    let firsts = ["Alice", "Bruno", "Chiara", "Dmitri", "Elena", "Farid"];
    let lasts = ["Smith", "Okafor", "Rossi", "Ivanova", "Haddad"];
    let mut s = String::from("customer_id,city,amount,visits,churned,name,product\n");
    for i in 0..120 {
        let city = [TITLE, CURSOR, "Ville"][i % 3];
        let amount = (i * 37) % 100;
        let churned = u8::from(amount + (i * 7) % 30 > 70);
        let name = format!("{} {}", firsts[i % 6], lasts[(i / 6) % 5]);
        let product = ["Tea\u{202e}txt.exe", "Coffee\u{9b}31m", "Milk"][i % 3];
        s.push_str(&format!(
            "CUST-{i:04},{city},{amount},{},{churned},{name},{product}\n",
            i % 13
        ));
    }
    let p = dir.join("customers.csv");
    std::fs::write(&p, s).unwrap();
    p
}

/// Order lines of 40 customers over two years, items with terminal sequences.
fn orders(dir: &Path) -> std::path::PathBuf {
    let items = [TITLE, CURSOR, "Milk", "Bread", "Jam"];
    let mut s = String::from("order_id,customer_id,order_date,product,amount\n");
    let mut order = 0;
    for c in 0..40usize {
        for k in 0..(1 + c % 5) {
            order += 1;
            let day = 1 + (c * 11 + k * 67) % 28;
            let month = 1 + (c + k * 5) % 12;
            let year = 2023 + (k % 2);
            for j in 0..(1 + (c + k) % 3) {
                let item = items[(c + k + j * 2) % 5];
                s.push_str(&format!(
                    "O{order},CUST-{c:04},{year}-{month:02}-{day:02},{item},{}\n",
                    5 + (c * 3 + j) % 40
                ));
            }
        }
    }
    let p = dir.join("orders.csv");
    std::fs::write(&p, s).unwrap();
    p
}

fn run_env(dir: &Path, args: &[&str], key: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_crmlens"));
    c.args(args)
        .current_dir(dir)
        .env_remove("CRMLENS_PSEUDONYM_KEY")
        .env_remove("CRMLENS_PSEUDONYM_KEY_FILE");
    if let Some(k) = key {
        c.env("CRMLENS_PSEUDONYM_KEY", k);
    }
    c.output().unwrap()
}

/// `profile`, `rules`, `predict` and `recommend` print cells with terminal sequences, item
/// names with a right-to-left override and a C1 control: every one shown as an escape.
#[test]
fn text_outputs_show_control_characters_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let c = customers(dir.path());
    let o = orders(dir.path());
    let (c, o) = (c.to_str().unwrap(), o.to_str().unwrap());

    let out = crmlens(dir.path(), &["profile", c]);
    assert_clean(&out, "profile");
    let text = stdout(&out);
    assert!(
        text.contains(TITLE_SHOWN) && text.contains(CURSOR_SHOWN),
        "{text}"
    );
    assert!(text.contains(r"Tea\u{202e}txt.exe"), "{text}");
    assert!(text.contains(r"Coffee\u{9b}31m"), "{text}");

    let out = crmlens(
        dir.path(),
        &[
            "rules",
            "--input",
            o,
            "--transaction-col",
            "order_id",
            "--item-col",
            "product",
            "--min-support",
            "0.02",
        ],
    );
    assert_clean(&out, "rules");
    let text = stdout(&out);
    assert!(
        text.contains(TITLE_SHOWN) || text.contains(CURSOR_SHOWN),
        "{text}"
    );

    let out = crmlens(
        dir.path(),
        &[
            "predict",
            "--input",
            c,
            "--features",
            "amount,visits",
            "--categorical",
            "city,product",
            "--target",
            "churned",
            "--model",
            "tree",
            "--folds",
            "3",
        ],
    );
    assert_clean(&out, "predict");
    let text = stdout(&out);
    assert!(text.contains(&format!("city={TITLE_SHOWN}")), "{text}");
    assert!(text.contains(&format!("city={CURSOR_SHOWN}")), "{text}");

    let out = crmlens(
        dir.path(),
        &["recommend", "--input", o, "--customer", "CUST-0007"],
    );
    assert_clean(&out, "recommend");
    let text = stdout(&out);
    assert!(text.contains("CUST-0007 bought:"), "{text}");
    assert!(
        text.contains(TITLE_SHOWN) || text.contains(CURSOR_SHOWN),
        "{text}"
    );
}

/// `--json` escapes the JSON way, also for the C1 controls and bidirectional overrides JSON
/// writers leave raw, and a reader gets the values back unchanged.
#[test]
fn json_output_has_no_raw_controls_and_keeps_the_values() {
    let dir = tempfile::tempdir().unwrap();
    let c = customers(dir.path());
    let out = crmlens(dir.path(), &["profile", c.to_str().unwrap(), "--json"]);
    assert_clean(&out, "profile --json");
    let text = stdout(&out);
    assert!(text.contains(r"\u001b]0;PWNED\u0007"), "{text}");
    assert!(text.contains(r"Coffee\u009b31m") && text.contains(r"Tea\u202etxt.exe"));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let values: BTreeSet<String> = v["files"][0]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["top"].as_array().cloned().unwrap_or_default())
        .map(|t| t["value"].as_str().unwrap().to_string())
        .collect();
    for raw in [TITLE, CURSOR, "Tea\u{202e}txt.exe", "Coffee\u{9b}31m"] {
        assert!(values.contains(raw), "{raw:?} not in {values:?}");
    }
}

/// A header of 4,096 NULs and one with a terminal sequence, and a file name with a newline:
/// the `error:` line is still one line, with the controls escaped (the folding of long runs
/// is unit-tested in `text`).
#[test]
fn error_lines_escape_headers_and_file_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut nuls = b"id,".to_vec();
    nuls.extend(std::iter::repeat_n(0u8, 4096));
    nuls.extend(b"\n1,2\n");
    std::fs::write(dir.path().join("nuls.csv"), nuls).unwrap();
    let o = crmlens(
        dir.path(),
        &["segment", "--input", "nuls.csv", "--features", "zz"],
    );
    // The reader refuses a header of NULs before any column is looked up.
    assert_user_error(&o, &["nuls.csv", "NUL bytes"]);
    assert!(!o.stderr.contains(&0), "a NUL on stderr");
    assert!(o.stderr.len() < 400, "{} bytes", o.stderr.len());

    std::fs::write(dir.path().join("esc.csv"), format!("id,{TITLE}\n1,2\n")).unwrap();
    let o = crmlens(
        dir.path(),
        &["segment", "--input", "esc.csv", "--features", "zz"],
    );
    assert_user_error(&o, &[TITLE_SHOWN]);
    assert!(raw_controls(&o.stderr).is_empty(), "{}", stderr(&o));

    let name = "bad\nname.csv";
    std::fs::write(dir.path().join(name), "id,x\n1,2\n").unwrap();
    let o = crmlens(
        dir.path(),
        &["segment", "--input", name, "--features", "nope"],
    );
    assert_user_error(&o, &[r"bad\nname.csv", "nope"]);
    let o = crmlens(dir.path(), &["profile", "no\x1b[2Jsuch\n.csv"]);
    assert_user_error(&o, &[r"no\e[2Jsuch\n.csv"]);
    assert!(raw_controls(&o.stderr).is_empty(), "{}", stderr(&o));
}

/// `crmlens profile --json f | head`: the reader goes away, the command stops without a
/// message, exit 141 (128 + SIGPIPE), for text and JSON.
#[test]
fn a_closed_stdout_is_a_quiet_exit() {
    let dir = tempfile::tempdir().unwrap();
    // A profile of ~300 KB: more than a pipe holds, so the writer must meet the closed end.
    let header: Vec<String> = (0..2000).map(|i| format!("column_{i}")).collect();
    let row: Vec<String> = (0..2000).map(|i| i.to_string()).collect();
    std::fs::write(
        dir.path().join("wide.csv"),
        format!("{}\n{}\n", header.join(","), row.join(",")),
    )
    .unwrap();
    for extra in [&["--json"][..], &[][..]] {
        let mut args = vec!["profile", "wide.csv"];
        args.extend_from_slice(extra);
        let mut child = Command::new(env!("CARGO_BIN_EXE_crmlens"))
            .args(&args)
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 16];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut first)
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(141), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o), "", "{args:?}");
    }
}

/// With --pseudonymise every customer id printed, text and JSON, is its pseudonym: predict's
/// at-risk customers, clv's top customers, recommend's customer.
#[test]
fn pseudonymised_commands_print_no_raw_ids() {
    let dir = tempfile::tempdir().unwrap();
    let c = customers(dir.path());
    let o = orders(dir.path());
    let (c, o) = (c.to_str().unwrap(), o.to_str().unwrap());
    let key = "a pseudonym key of some length";
    let p = crmlens::data::privacy::Pseudonymiser::new(key.as_bytes());
    let pseudonyms: BTreeSet<String> = (0..120)
        .map(|i| p.pseudonym(&format!("CUST-{i:04}")))
        .collect();
    let predict = [
        "predict",
        "--input",
        c,
        "--features",
        "amount,visits",
        "--target",
        "churned",
        "--model",
        "tree",
        "--folds",
        "3",
        "--pseudonymise",
    ];
    let clv = [
        "clv",
        "--input",
        o,
        "--calibration-end",
        "2023-12-31",
        "--top",
        "5",
        "--pseudonymise",
    ];
    let recommend = [
        "recommend",
        "--input",
        o,
        "--customer",
        "CUST-0007",
        "--pseudonymise",
    ];
    // Without a key: refused, nothing printed.
    assert_user_error(
        &run_env(dir.path(), &predict, None),
        &["CRMLENS_PSEUDONYM_KEY"],
    );
    for args in [&predict[..], &clv[..], &recommend[..]] {
        for json in [false, true] {
            let mut a = args.to_vec();
            if json {
                a.push("--json");
            }
            let out = run_env(dir.path(), &a, Some(key));
            assert!(out.status.success(), "{a:?}: {}", stderr(&out));
            let text = stdout(&out);
            assert!(!text.contains("CUST-"), "{a:?} prints a raw id:\n{text}");
            let shown = pseudonyms
                .iter()
                .filter(|p| text.contains(p.as_str()))
                .count();
            assert!(shown >= 1, "{a:?} shows no pseudonym:\n{text}");
            if json {
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                let ids: Vec<&str> = match args[0] {
                    "predict" => v["at_risk"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r["id"].as_str().unwrap())
                        .collect(),
                    "clv" => v["top"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r["id"].as_str().unwrap())
                        .collect(),
                    _ => vec![v["customer"].as_str().unwrap()],
                };
                assert!(!ids.is_empty(), "{a:?}");
                for id in ids {
                    assert!(pseudonyms.contains(id), "{a:?}: {id} is not a pseudonym");
                }
            }
        }
    }
}

/// A personal-data column used as a categorical feature: its levels (people's names) are
/// masked in the importance list, the tree and the JSON, as the workbench masks them.
#[test]
fn a_personal_data_categorical_is_masked_in_printed_output() {
    let dir = tempfile::tempdir().unwrap();
    let c = customers(dir.path());
    for json in [false, true] {
        let mut args = vec![
            "predict",
            "--input",
            c.to_str().unwrap(),
            "--features",
            "amount",
            "--categorical",
            "name",
            "--target",
            "churned",
            "--model",
            "tree",
            "--max-depth",
            "12",
            "--folds",
            "3",
        ];
        if json {
            args.push("--json");
        }
        let out = crmlens(dir.path(), &args);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        for first in ["Alice", "Bruno", "Chiara", "Dmitri", "Elena", "Farid"] {
            assert!(!text.contains(first), "{first} printed:\n{text}");
        }
        assert!(text.contains("name=A. S."), "{text}");
    }
}

/// `gen-sample --out DIR` and `bench integrate --out F` refuse to replace files without
/// --force (one line naming the file, nothing changed) and replace them with it.
#[test]
fn gen_sample_and_bench_refuse_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let gen_args = [
        "gen-sample",
        "--customers",
        "30",
        "--seed",
        "3",
        "--out",
        "s",
    ];
    let o = crmlens(dir.path(), &gen_args);
    assert!(o.status.success(), "{}", stderr(&o));
    let customers = dir.path().join("s/customers.csv");
    std::fs::write(&customers, "mine\n").unwrap();
    let o = crmlens(dir.path(), &gen_args);
    assert_user_error(&o, &["s/customers.csv", "--force"]);
    assert_eq!(std::fs::read_to_string(&customers).unwrap(), "mine\n");
    let mut forced = gen_args.to_vec();
    forced.push("--force");
    let o = crmlens(dir.path(), &forced);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::read_to_string(&customers)
            .unwrap()
            .starts_with("customer_id")
    );

    let bench = [
        "bench",
        "integrate",
        "--workspace",
        "s/crmlens.toml",
        "--out",
        "b.json",
    ];
    std::fs::write(dir.path().join("b.json"), "keep").unwrap();
    let o = crmlens(dir.path(), &bench);
    assert_user_error(&o, &["b.json", "--force"]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("b.json")).unwrap(),
        "keep"
    );
    let mut forced = bench.to_vec();
    forced.push("--force");
    let o = crmlens(dir.path(), &forced);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("b.json")).unwrap()).unwrap();
    assert_eq!(v["customers_out"], 30);
    let names: Vec<String> = std::fs::read_dir(dir.path().join("s"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("crmlens-tmp"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

/// A killed export's temporary file (its process gone) is removed by the next export to
/// the folder; the export itself leaves none.
#[test]
fn a_stale_temporary_of_a_dead_process_is_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let c = customers(dir.path());
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = dir.path().join(format!(".labels.csv.{dead}.crmlens-tmp"));
    let f = std::fs::File::create(&stale).unwrap();
    f.set_len(1 << 20).unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(7200))
        .unwrap();
    drop(f);
    let o = crmlens(
        dir.path(),
        &[
            "segment",
            "--input",
            c.to_str().unwrap(),
            "--features",
            "amount,visits",
            "--k",
            "2",
            "--out",
            "labels.csv",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stale.exists(), "the stale temporary file is still there");
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("crmlens-tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Ctrl-S (the SaveWorkspace job): a 0600 workspace stays 0600, a symbolic link to a
/// workspace is written through (still a link, its file updated), a new workspace holding
/// a database URL is 0600.
#[cfg(unix)]
#[test]
fn saving_a_workspace_keeps_permissions_and_writes_through_a_symlink() {
    use crmlens::app::job::{JobOutcome, JobRequest, run_now};
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let ws = crmlens::data::sources::workspace::Workspace::load(&sample_dir().join("crmlens.toml"))
        .unwrap();
    let save = |path: &Path, ws: &crmlens::data::sources::workspace::Workspace| match run_now(
        JobRequest::SaveWorkspace {
            path: path.to_path_buf(),
            workspace: Box::new(ws.clone()),
            types: Default::default(),
        },
    ) {
        JobOutcome::Saved(..) => {}
        other => panic!("save failed: {other:?}"),
    };
    let private = dir.path().join("w.toml");
    std::fs::write(&private, "# old\n").unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
    save(&private, &ws);
    assert_eq!(mode(&private), 0o600);
    assert!(
        std::fs::read_to_string(&private)
            .unwrap()
            .contains("[sources.customers]")
    );
    // The previous version is kept as .bak, as private as it was.
    let bak = dir.path().join("w.toml.bak");
    assert_eq!(std::fs::read_to_string(&bak).unwrap(), "# old\n");
    assert_eq!(mode(&bak), 0o600);

    let real_dir = dir.path().join("real");
    std::fs::create_dir(&real_dir).unwrap();
    let real = real_dir.join("team.toml");
    std::fs::write(&real, "# shared\n").unwrap();
    let link = dir.path().join("team.toml");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    save(&link, &ws);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&real)
            .unwrap()
            .contains("[sources.customers]")
    );

    let mut db = ws.clone();
    db.sources.customers.url = Some("postgres://crm:secret@db.example/crm".into());
    db.sources.customers.path = Default::default();
    let fresh = dir.path().join("db.toml");
    save(&fresh, &db);
    assert_eq!(mode(&fresh), 0o600);
    for d in [dir.path(), real_dir.as_path()] {
        let tmp: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("crmlens-tmp"))
            .collect();
        assert!(tmp.is_empty(), "{tmp:?}");
    }
}

/// The workbench's Data screen shows a cell's control characters as escapes too (ratatui
/// alone would drop them unseen).
#[test]
fn the_data_screen_shows_escapes() {
    use crmlens::app::State;
    use crmlens::app::job::JobRequest;
    let dir = tempfile::tempdir().unwrap();
    let c = customers(dir.path());
    let mut s = State::new("hostile".into());
    let cmds = s.load(JobRequest::Open {
        path: c,
        options: Default::default(),
    });
    crate::ui::run_commands(&mut s, cmds);
    let screen = crate::ui::draw(&s, 160, 30);
    assert!(screen.contains(TITLE_SHOWN), "{screen}");
    assert!(screen.contains(CURSOR_SHOWN), "{screen}");
}
