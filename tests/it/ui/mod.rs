//! The workbench without a terminal: key sequences through `update` (jobs run synchronously
//! here), and every screen drawn into ratatui's TestBackend at 80x24 and 120x40.

mod clv;
mod data;
mod features;
mod follow;
mod identity;
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
use crmlens::app::job::{JobDone, JobOutcome, JobRequest, Loaded, RunningJob, run_now};
use crmlens::app::state::{Command, update};
use crmlens::data::sources::workspace::FeatureConfig;
use crmlens::progress::Progress;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use polars::prelude::{DataFrame, df};
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

/// A small customer table in memory, shaped like the sample's 360 table (the key first,
/// activity columns, a channel of four values, a churn flag; deterministic), for the tests of
/// a screen's own logic that do not depend on the sample's figures.
pub(crate) fn small_table() -> DataFrame {
    const ROWS: usize = 200;
    let channels = ["web", "store", "phone", "partner"];
    let ids: Vec<String> = (1..=ROWS).map(|i| format!("C{i:06}")).collect();
    let channel: Vec<&str> = (0..ROWS).map(|i| channels[i % 4]).collect();
    let recency: Vec<i64> = (0..ROWS).map(|i| (i * 37 % 365) as i64).collect();
    let churned: Vec<i64> = recency
        .iter()
        .enumerate()
        .map(|(i, r)| i64::from((*r > 180) != (i % 7 == 0)))
        .collect();
    let frequency: Vec<i64> = (0..ROWS).map(|i| 1 + (i * 7 % 13) as i64).collect();
    let monetary: Vec<f64> = (0..ROWS)
        .map(|i| 20.0 + (i * 53 % 997) as f64 * 1.5)
        .collect();
    let tenure: Vec<i64> = (0..ROWS).map(|i| 100 + (i * 91 % 2000) as i64).collect();
    df!(
        "customer_id" => ids,
        "channel" => channel,
        "churned" => churned,
        "recency_days" => recency,
        "frequency" => frequency,
        "monetary" => monetary,
        "tenure_days" => tenure,
    )
    .unwrap()
}

/// [`small_table`] opened in the workbench with a feature selection as a workspace's
/// `[features]` would set it (the numeric columns, `channel` one-hot, log1p on `monetary`);
/// the jobs the load starts run as [`run_commands`] runs them.
pub(crate) fn small_state() -> State {
    let table = small_table();
    let features = FeatureConfig {
        numeric: ["recency_days", "frequency", "monetary", "tenure_days"]
            .map(String::from)
            .to_vec(),
        categorical: vec!["channel".into()],
        log1p: vec!["monetary".into()],
        ..FeatureConfig::default()
    };
    let mut s = State::new("small".into());
    s.no_color = false;
    // Opened as a data file is (no workspace); the load's outcome is made here, in memory.
    let mut cmds = s.load(JobRequest::Open {
        path: "small.csv".into(),
        options: Default::default(),
    });
    let Some(Command::Spawn { id, request }) = cmds.pop() else {
        panic!("no load job")
    };
    let kind = request.kind();
    started(&mut s, id, &request);
    let loaded = Loaded {
        title: "small".into(),
        targets: crmlens::data::features::target::candidates(&table),
        pii: crmlens::data::privacy::detect(&table, &Default::default()),
        show_pii: false,
        settings: None,
        warnings: Vec::new(),
        pseudonymise: false,
        report: None,
        features: Some(features),
        workspace: None,
        notes: Vec::new(),
        watched: Vec::new(),
        seen: Vec::new(),
        table,
    };
    let outcome = JobOutcome::Loaded(Box::new(loaded));
    let cmds = update(
        &mut s,
        Action::JobDone(Box::new(JobDone { id, kind, outcome })),
    );
    run_commands(&mut s, cmds);
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
