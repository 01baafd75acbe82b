//! Background jobs: a worker thread runs the engine and sends its outcome over a channel,
//! while the UI thread polls a shared [`Progress`] for the gauge and can cancel it.

use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::thread;
use std::time::Instant;

use polars::prelude::DataFrame;

use crate::data::integrate::integrate;
use crate::data::quality::QualityReport;
use crate::data::source::{self, ReadOptions};
use crate::data::workspace::Workspace;
use crate::progress::Progress;

/// What to load.
#[derive(Debug, Clone)]
pub enum JobRequest {
    /// Integrate a workspace into the 360 table.
    Workspace(PathBuf),
    /// Open a data file as it is; `others` were also named on the command line (the table
    /// view shows one file at a time, and says which ones it leaves out).
    File { path: PathBuf, others: Vec<PathBuf> },
}

/// What a finished load produced.
#[derive(Debug)]
pub struct Loaded {
    pub title: String,
    pub table: DataFrame,
    pub report: Option<QualityReport>,
}

/// A job's result: the data, or the one-line error, or cancelled.
#[derive(Debug)]
pub enum JobOutcome {
    Loaded(Box<Loaded>),
    Failed(String),
    Cancelled,
}

/// A job in flight, as the UI sees it.
#[derive(Debug, Clone)]
pub struct RunningJob {
    pub label: String,
    pub progress: Progress,
    pub started: Instant,
}

fn run(request: &JobRequest, progress: &Progress) -> JobOutcome {
    let result = match request {
        JobRequest::Workspace(path) => Workspace::load(path).and_then(|ws| {
            let c = integrate(&ws, progress)?;
            let name = ws
                .workspace
                .name
                .clone()
                .unwrap_or_else(|| path.display().to_string());
            Ok(Loaded {
                title: format!("{name}: customer 360"),
                table: c.table,
                report: Some(c.report),
            })
        }),
        JobRequest::File { path, others } => {
            progress.start("reading", 1);
            let mut title = path.display().to_string();
            if !others.is_empty() {
                let names: Vec<String> = others.iter().map(|p| p.display().to_string()).collect();
                title.push_str(&format!(" (not shown: {})", names.join(", ")));
            }
            source::read_frame(path, &ReadOptions::default()).map(|table| Loaded {
                title,
                table,
                report: None,
            })
        }
    };
    if progress.is_cancelled() {
        return JobOutcome::Cancelled;
    }
    match result {
        Ok(l) => JobOutcome::Loaded(Box::new(l)),
        Err(e) => JobOutcome::Failed(e.to_string().replace('\n', " ")),
    }
}

/// Starts `request` on a worker thread; its outcome arrives through `done`.
pub fn spawn<F>(request: JobRequest, done: F) -> RunningJob
where
    F: FnOnce(JobOutcome) + Send + 'static,
{
    let progress = Progress::new();
    let label = match &request {
        JobRequest::Workspace(p) => format!("integrating {}", p.display()),
        JobRequest::File { path, .. } => format!("reading {}", path.display()),
    };
    let p = progress.clone();
    thread::spawn(move || done(run(&request, &p)));
    RunningJob {
        label,
        progress,
        started: Instant::now(),
    }
}

/// A `done` callback that forwards the outcome into an event channel.
pub fn to_channel<E: Send + 'static>(
    tx: Sender<E>,
    wrap: fn(JobOutcome) -> E,
) -> impl FnOnce(JobOutcome) + Send + 'static {
    move |o| {
        let _ = tx.send(wrap(o));
    }
}
