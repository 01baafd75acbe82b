//! `--pseudonymise`: exports from several subcommands carry keyed pseudonyms that join.

use super::assert_user_error;
use crate::{sample_dir, stderr};

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
        // Not read here, and the slowest part of the run.
        "--no-silhouette",
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
