//! The workbench without a terminal: key sequences through `update` (jobs run synchronously
//! here), and every screen drawn into ratatui's TestBackend at 80x24 and 120x40.

mod clv;
mod data;
mod features;
mod overlays;
mod palette;
mod predict;
mod recommend;
mod rules;
mod screens;
mod segments;
mod workbench;

use std::time::Instant;

use crmlens::app::Action;
use crmlens::app::State;
use crmlens::app::job::{JobDone, JobRequest, RunningJob, run_now};
use crmlens::app::state::{Command, update};
use crmlens::progress::Progress;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::fixtures::{sample_loaded, sample_workspace};

/// Registers a started job with the state, as the event loop does; returns its cancel handle.
pub(crate) fn started(state: &mut State, id: u64, request: &JobRequest) -> Progress {
    let progress = Progress::new();
    update(
        state,
        Action::JobStarted(RunningJob {
            id,
            kind: request.kind(),
            label: request.label(),
            progress: progress.clone(),
            started: Instant::now(),
        }),
    );
    progress
}

/// Applies `action`, then runs every job it starts to completion and feeds the results back,
/// as the event loop would.
pub(crate) fn drive(state: &mut State, action: Action) {
    let commands = update(state, action);
    run_commands(state, commands);
}

/// Runs jobs to completion and feeds their results back, including the jobs those start.
pub(crate) fn run_commands(state: &mut State, mut pending: Vec<Command>) {
    while let Some(command) = pending.pop() {
        let Command::Spawn { id, request } = command else {
            continue;
        };
        let kind = request.kind();
        started(state, id, &request);
        let outcome = run_now(request);
        pending.extend(update(
            state,
            Action::JobDone(Box::new(JobDone { id, kind, outcome })),
        ));
    }
}

pub(crate) fn key(state: &mut State, code: KeyCode) {
    let ev = KeyEvent::new(code, KeyModifiers::NONE);
    if let Some(a) = crmlens::app::action::map_key(state, ev) {
        drive(state, a);
    }
}

pub(crate) fn typed(state: &mut State, text: &str) {
    for c in text.chars() {
        key(state, KeyCode::Char(c));
    }
}

/// The sample workspace opened in the workbench. The load job's outcome is computed once per
/// test process ([`crate::fixtures::sample_loaded`]); the jobs it starts run here, as
/// [`run_commands`] runs them.
pub(crate) fn sample_state() -> State {
    let mut s = State::new("sample".into());
    s.no_color = false;
    let mut cmds = s.load(JobRequest::Workspace(sample_workspace()));
    assert_eq!(cmds.len(), 1, "one load job");
    let Some(Command::Spawn { id, request }) = cmds.pop() else {
        panic!("no load job")
    };
    assert!(matches!(&request, JobRequest::Workspace(p) if *p == sample_workspace()));
    let kind = request.kind();
    started(&mut s, id, &request);
    let outcome = sample_loaded();
    let cmds = update(
        &mut s,
        Action::JobDone(Box::new(JobDone { id, kind, outcome })),
    );
    run_commands(&mut s, cmds);
    // The load message has a duration in it; keep snapshots stable.
    s.message = Some("loaded".into());
    s
}

pub(crate) fn draw(state: &State, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| crmlens::ui::draw(f, state)).unwrap();
    format!("{}", t.backend())
}

/// Maps `ev` and applies it, without running the jobs it asks for.
fn press(state: &mut State, ev: KeyEvent) -> Vec<Command> {
    match crmlens::app::action::map_key(state, ev) {
        Some(a) => update(state, a),
        None => Vec::new(),
    }
}

/// What `commands` ask for: jobs as kind and label, copies with their text.
fn jobs_of(commands: &[Command]) -> Vec<String> {
    commands
        .iter()
        .map(|c| match c {
            Command::Spawn { request, .. } => format!("{:?} {}", request.kind(), request.label()),
            Command::Copy(text) => format!("copy {text:?}"),
            Command::Suspend => "suspend".into(),
        })
        .collect()
}

/// The text `y`/`Y` asks the event loop to copy, if any.
fn copied(state: &mut State, c: char) -> Option<String> {
    match press(state, KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)).as_slice() {
        [Command::Copy(text)] => Some(text.clone()),
        [] => None,
        other => panic!("{} commands", other.len()),
    }
}
