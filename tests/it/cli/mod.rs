//! The headless CLI: outputs on good input, and one clear `error:` line with exit code 2 on
//! each kind of bad input (never a panic or a backtrace).

mod errors;
mod incremental;
mod integrate;
pub(crate) mod link;
mod predict;
mod profile;
mod pseudonymise;
mod recommend;
mod rules;
mod score;
mod segment;

use std::fs;
use std::path::Path;

use crate::stderr;

/// Asserts a user error: exit 2, exactly one line on stderr starting `error:`, containing
/// every needle, and no panic or backtrace.
pub fn assert_user_error(o: &std::process::Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "want one line, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("stack backtrace"),
        "{err}"
    );
    for n in needles {
        assert!(err.contains(n), "`{n}` missing from: {err}");
    }
}

fn workspace(dir: &Path, body: &str) -> String {
    let p = dir.join("w.toml");
    fs::write(&p, body).unwrap();
    p.display().to_string()
}
