//! The Quality screen: the integration's data-quality report (rows in and out of every
//! cleaning step, duplicates, missing values, what the workspace set wrongly) and its export.

pub mod draw;

use super::export_keys;
use crate::app::action::{Action, Binding, b};
use crate::app::job::{JobOutcome, JobRequest};
use crate::app::state::{Command, State};

pub const BINDINGS: &[Binding] = &[
    b("j/k ↓/↑", "scroll steps"),
    b("g/G", "top/bottom"),
    b(
        "e",
        "export the report (.csv/.parquet findings table, .json whole)",
    )
    .run("export the quality report", || Action::StartExport),
];

pub const HINTS: &str = "j/k scroll · g/G top/bottom · Tab screens · ? help · q quit";

/// What a key means on this screen (after the keys every screen shares).
pub fn keys(key: crossterm::event::KeyEvent) -> Option<Action> {
    use crossterm::event::KeyCode;
    Some(match key.code {
        KeyCode::Char('e') => Action::StartExport,
        _ => return None,
    })
}

pub fn update(state: &mut State, action: &Action) -> Option<Vec<Command>> {
    if let Some((down, n)) = super::scroll_of(action, state.viewport) {
        let steps = state.report.as_ref().map_or(0, |r| r.steps.len());
        state.quality_row = if down {
            (state.quality_row + n).min(steps.saturating_sub(1))
        } else {
            state.quality_row.saturating_sub(n)
        };
        return Some(Vec::new());
    }
    let ready = if state.report.is_some() {
        Ok("quality.csv")
    } else {
        Err("no quality report: a plain data file has none; open a workspace to integrate sources")
    };
    export_keys(
        state,
        action,
        crate::app::state::ExportTarget::Quality,
        ready,
        export,
    )
}

/// Nothing of the Quality screen runs as a job but its export (a shared outcome).
pub fn job_done(
    _: &mut State,
    outcome: JobOutcome,
    _secs: f64,
) -> Result<Vec<Command>, JobOutcome> {
    Err(outcome)
}

/// Writes the quality report to `path` (on a worker thread).
fn export(
    state: &mut State,
    _: crate::app::state::ExportTarget,
    path: std::path::PathBuf,
    overwrite: bool,
) -> Vec<Command> {
    let Some(report) = state.report.clone() else {
        return Vec::new();
    };
    state.start_job(JobRequest::ExportQuality {
        path,
        report: Box::new(report),
        overwrite,
    })
}
