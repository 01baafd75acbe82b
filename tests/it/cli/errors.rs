//! Errors every subcommand shares: a missing file, the workbench without a terminal, a wrong
//! delimiter.

use std::fs;

use super::{assert_user_error, workspace};
use crate::crmlens;

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
