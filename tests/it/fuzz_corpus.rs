//! The fuzz corpus (fuzz/corpus/, the seeds and every input the fuzzers found) replayed on
//! stable in every test run: each file is read and profiled with the checks of the fuzz
//! targets (fuzz/fuzz_targets/common.rs), so a fixed defect stays fixed without nightly.

use std::path::Path;

use crmlens::data::sources::workspace::Workspace;

#[path = "../../fuzz/fuzz_targets/common.rs"]
mod common;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = super::repo().join("fuzz/corpus").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

#[test]
fn the_loader_corpus_reads_or_fails_in_one_line() {
    for (target, ext) in [
        ("csv", "csv"),
        ("ndjson", "ndjson"),
        ("json", "json"),
        ("parquet", "parquet"),
    ] {
        let inputs = corpus(target);
        assert!(inputs.len() >= 4, "{target}: the corpus is missing");
        for (name, bytes) in inputs {
            let r = std::panic::catch_unwind(|| common::check_file(ext, &bytes));
            assert!(r.is_ok(), "fuzz/corpus/{target}/{name} fails its check");
        }
    }
}

#[test]
fn the_workspace_corpus_parses_or_fails_naming_the_file() {
    let path = Path::new("fuzz.toml");
    for (name, bytes) in corpus("workspace") {
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        for r in [
            Workspace::parse(text, path).err(),
            Workspace::parse_lenient(text, path).err(),
        ]
        .into_iter()
        .flatten()
        {
            assert!(r.to_string().starts_with("fuzz.toml"), "{name}: {r}");
        }
    }
}
