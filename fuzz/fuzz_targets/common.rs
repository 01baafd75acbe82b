//! What every loader target checks: the bytes, saved under the target's extension, are read
//! and profiled as `crmlens profile` would, and end in a profile or in one error line. A
//! panic, an abort, a hang (libFuzzer's -timeout) or runaway memory (-rss_limit_mb) is a
//! finding; so is a polars panic that the reader's guard turned into an error, and an error
//! line of runaway length.

use std::path::PathBuf;
use std::sync::OnceLock;

use crmlens::data::profile::profile_file;
use crmlens::data::source::ReadOptions;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("crmlens-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    })
}

pub fn check_file(ext: &str, data: &[u8]) {
    let path = dir().join(format!("input.{ext}"));
    std::fs::write(&path, data).expect("write the input");
    let opts = ReadOptions {
        try_parse_dates: true,
        ..Default::default()
    };
    match profile_file(&path, &opts) {
        Ok(p) => {
            let text = p.to_text();
            assert!(text.contains("input."), "the profile names its file");
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                !msg.contains("the reader failed on it"),
                "a reader panicked (caught by the guard): {msg}"
            );
            assert!(
                msg.len() < 8192,
                "an error message of {} bytes: {}",
                msg.len(),
                &msg[..msg.char_indices().nth(300).map_or(msg.len(), |(i, _)| i)]
            );
        }
    }
}
