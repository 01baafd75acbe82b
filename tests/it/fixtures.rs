//! Expensive fixtures, computed once per test process and shared by the tests that read them:
//! the integrated sample, and the workbench's load of the sample workspace. Each call hands
//! out a copy (polars frames clone by reference count), so a test never sees another's
//! changes.

use std::path::PathBuf;
use std::sync::OnceLock;

use crmlens::app::job::{JobOutcome, JobRequest, Loaded, run_now};
use crmlens::data::integrate::{Customer360, integrate};
use crmlens::data::sources::workspace::Workspace;
use crmlens::progress::Progress;

use crate::sample_dir;

/// The sample workspace file.
pub fn sample_workspace() -> PathBuf {
    sample_dir().join("crmlens.toml")
}

/// `integrate` of the sample workspace.
pub fn sample_360() -> Customer360 {
    static SAMPLE: OnceLock<Customer360> = OnceLock::new();
    SAMPLE
        .get_or_init(|| {
            let ws = Workspace::load(&sample_workspace()).unwrap();
            integrate(&ws, &Progress::new()).unwrap()
        })
        .clone()
}

/// What the workbench's load job (`JobRequest::Workspace` of the sample workspace) reports.
pub fn sample_loaded() -> JobOutcome {
    static LOADED: OnceLock<Loaded> = OnceLock::new();
    let l = LOADED.get_or_init(
        || match run_now(JobRequest::Workspace(sample_workspace())) {
            JobOutcome::Loaded(l) => *l,
            other => panic!("loading the sample workspace: {other:?}"),
        },
    );
    JobOutcome::Loaded(Box::new(Loaded {
        title: l.title.clone(),
        table: l.table.clone(),
        report: l.report.clone(),
        features: l.features.clone(),
        targets: l.targets.clone(),
        settings: l.settings.clone(),
        warnings: l.warnings.clone(),
        pseudonymise: l.pseudonymise,
        pii: l.pii.clone(),
        show_pii: l.show_pii,
        workspace: l.workspace.clone(),
        notes: l.notes.clone(),
        watched: l.watched.clone(),
        seen: l.seen.clone(),
    }))
}
