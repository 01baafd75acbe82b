//! Integration tests, in one test binary (debug test binaries are large): the CLI as a user
//! runs it, and the sample data against the generator's recorded ground truth.

mod cli;
mod clv;
mod demo;
mod fixtures;
mod fuzz_corpus;
mod hostile_cli;
mod hostile_input;
mod hostile_output;
mod hostile_terminal;
mod identity_integrate;
mod postgres;
mod real_data;
mod report;
mod sample;
mod session;
mod sources;
#[cfg(feature = "spark")]
mod spark;
mod sqlite;
mod ui;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the built `crmlens` binary with `args` in `dir`.
pub fn crmlens(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crmlens"))
        .args(args)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run crmlens")
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn sample_dir() -> PathBuf {
    repo().join("sample_data")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}
