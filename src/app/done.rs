//! What a finished job does to the state: the outcome of a superseded job is dropped; a
//! screen's own outcomes go to it (through `crate::screens::SCREENS`); the shared ones (a
//! load, a save, an export, a failure, a cancel) are handled here.

use super::job::{JobDone, JobKind, JobOutcome};
use super::state::{Command, Overlay, State};

pub fn finished(state: &mut State, done: JobDone) -> Vec<Command> {
    let Some(pos) = state.jobs.iter().position(|j| j.id == done.id) else {
        // A superseded job: its result is stale.
        return Vec::new();
    };
    let job = state.jobs.remove(pos);
    if job.kind == JobKind::Arrange {
        state.data.requested = None;
    }
    let secs = job.started.elapsed().as_secs_f64();
    // The screens' own outcomes first (each gives back what is not its own). A model run
    // again after a refresh leaves the refresh's message up.
    let rerun = state.follow.reruns.iter().position(|&id| id == job.id);
    if let Some(at) = rerun {
        state.follow.reruns.remove(at);
    }
    let message = state.message.clone();
    let mut outcome = done.outcome;
    for spec in &crate::screens::SCREENS {
        match (spec.job_done)(state, outcome, secs) {
            Ok(commands) => {
                if rerun.is_some() {
                    state.message = message;
                }
                return commands;
            }
            Err(other) => outcome = other,
        }
    }
    match outcome {
        JobOutcome::Loaded(l) => return super::sources::opened(state, *l, secs),
        JobOutcome::Refreshed(r) => {
            let quiet = state.follow.poll_job.take() == Some(job.id);
            return super::follow::refreshed(state, *r, secs, quiet);
        }
        JobOutcome::Peeked(found) => {
            state.follow.poll_job = None;
            super::follow::looked(state, found);
        }
        JobOutcome::Saved(path, bak) => {
            state.message = Some(match bak {
                Some(b) => format!(
                    "saved the workspace to {} (the previous version is in {}); Ctrl-S saves there again",
                    path.display(),
                    b.display()
                ),
                None => format!(
                    "saved the workspace to {}; Ctrl-S saves there again",
                    path.display()
                ),
            });
            state.save_path = Some(path);
        }
        JobOutcome::Exported(path, n, what) => {
            state.message = Some(format!("wrote {n} {what} to {}", path.display()));
        }
        JobOutcome::ExistsAlready(path) => {
            if let JobKind::Export(target) = job.kind {
                state.overlay = Some(Overlay::ConfirmOverwrite { target, path });
            }
        }
        JobOutcome::Roles {
            input,
            found,
            columns,
        } => super::roles::found(state, input, *found, columns),
        JobOutcome::Tables(names) => {
            state.message = Some(match names.len() {
                0 => "the database has no tables".into(),
                n => format!("{n} tables: pick one and press Enter"),
            });
            // A database opened without a table: the picker offers its tables.
            state.sources.tables(&names, job.kind == JobKind::Load);
            state.overlay = Some(Overlay::Sources);
        }
        // A database read again on follow's timer that cannot be read now: one line, and
        // the next poll tries again (no panel every few seconds).
        JobOutcome::Failed(e) if state.follow.poll_job == Some(job.id) => {
            state.follow.poll_job = None;
            state.message = Some(format!(
                "follow: the database could not be read ({e}); tried again in {} s",
                super::follow::DATABASE_POLL.as_secs()
            ));
        }
        JobOutcome::Failed(e) => {
            // A load that fails is shown in a panel (the data loaded before stays).
            if job.kind == JobKind::Load {
                state.sources.failed(&e);
                state.overlay = Some(Overlay::LoadFailed(e.clone()));
            }
            if job.kind == JobKind::Browse {
                state.sources.listing = None;
            }
            state.error = Some(e);
        }
        JobOutcome::Cancelled => {
            if job.kind == JobKind::Load {
                state.sources.failed("cancelled");
            }
            state.message = Some(format!("cancelled {}; previous results kept", job.label))
        }
        // Every other outcome is a screen's, taken in the loop above.
        _ => {}
    }
    Vec::new()
}
