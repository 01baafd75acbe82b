//! What every loader target checks: the bytes, saved under the target's extension, are read
//! and profiled as `crmlens profile` would, and end in a profile or in one error line. A
//! panic, an abort, a hang (libFuzzer's -timeout) or runaway memory (-rss_limit_mb) is a
//! finding, and so is an error line of runaway length. A panic inside polars that the
//! reader's guard turns into an error line is the designed outcome (polars' own defect,
//! reported upstream), not a finding: the targets' panic hook lets those through.

use std::path::PathBuf;
use std::sync::OnceLock;

use crmlens::data::integrate::profile::profile_file;
use crmlens::data::sources::file::ReadOptions;

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
                msg.len() < 8192,
                "an error message of {} bytes: {}",
                msg.len(),
                &msg[..msg.char_indices().nth(300).map_or(msg.len(), |(i, _)| i)]
            );
        }
    }
}

/// libFuzzer's panic hook aborts on every panic, caught or not; this one lets the panics the
/// reader's guard catches (inside polars, on any of its threads) end as the error they become.
#[allow(dead_code)] // the fuzz targets' (the corpus replay in tests/ keeps the usual hook)
pub fn allow_guarded_panics() {
    let abort = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !crmlens::data::sources::guard::quiet() {
            abort(info);
        }
    }));
}
