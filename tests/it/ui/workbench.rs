//! The workbench as a whole: loading the sample, switching screens, jobs that are
//! cancelled or stale, drawing without colours or in a terminal too small, and a workspace's
//! analysis sections.

use crmlens::analytics::segment::Algorithm;
use crmlens::app::Action;
use crmlens::app::State;
use crmlens::app::job::{JobDone, JobRequest};
use crmlens::app::state::{Command, Overlay, update};
use crmlens::screens::Screen;
use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::{draw, key, run_commands, sample_state, started};
use crate::sample_dir;

#[test]
fn loading_the_sample_fills_every_part_of_the_state() {
    let s = sample_state();
    assert_eq!(s.rows(), 5000);
    assert_eq!(s.columns(), 29);
    assert!(s.report.is_some());
    assert!(s.jobs.is_empty());
    // The first column's summary was computed after the load.
    assert_eq!(s.data.summary.as_ref().unwrap().profile.name, "customer_id");
}

#[test]
fn tabs_by_number_tab_and_backtab() {
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('2'));
    assert_eq!(s.screen, Screen::Quality);
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.screen, Screen::Features);
    key(&mut s, KeyCode::BackTab);
    key(&mut s, KeyCode::BackTab);
    assert_eq!(s.screen, Screen::Data);
    key(&mut s, KeyCode::BackTab);
    assert_eq!(s.screen, Screen::Identity);
}

#[test]
fn quitting_during_a_load_asks_and_esc_cancels() {
    let mut s = State::new("x".into());
    let cmds = s.load(JobRequest::Workspace(sample_dir().join("crmlens.toml")));
    let Some(Command::Spawn { id, request }) = cmds.into_iter().next() else {
        panic!("no job")
    };
    let progress = started(&mut s, id, &request);
    key(&mut s, KeyCode::Char('q'));
    assert_eq!(s.overlay, Some(Overlay::ConfirmQuit));
    assert!(!s.quit);
    key(&mut s, KeyCode::Char('n'));
    assert_eq!(s.overlay, None);
    key(&mut s, KeyCode::Esc);
    assert!(progress.is_cancelled());
}

#[test]
fn a_cancelled_or_stale_job_keeps_the_previous_result() {
    let mut s = sample_state();
    let before = s.rows();
    // A sort starts, then Esc: the cancelled outcome arrives and nothing changes.
    let cmds = update(&mut s, Action::Sort);
    let Some(Command::Spawn { id, request }) = cmds.into_iter().next() else {
        panic!("no job")
    };
    started(&mut s, id, &request);
    update(&mut s, Action::Escape);
    update(
        &mut s,
        Action::JobDone(Box::new(JobDone {
            id,
            kind: request.kind(),
            outcome: crmlens::app::job::JobOutcome::Cancelled,
        })),
    );
    assert!(s.data.order.is_none());
    assert_eq!(s.rows(), before);
    assert!(
        s.message
            .as_deref()
            .unwrap()
            .contains("previous results kept")
    );
    // A result for a job nobody waits for (superseded) is ignored.
    update(
        &mut s,
        Action::JobDone(Box::new(JobDone {
            id: 9999,
            kind: request.kind(),
            outcome: crmlens::app::job::JobOutcome::Failed("old".into()),
        })),
    );
    assert!(s.error.is_none());
}

#[test]
fn no_color_draws_without_colours() {
    let mut s = sample_state();
    s.no_color = true;
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    t.draw(|f| crmlens::ui::draw(f, &s)).unwrap();
    let buf = t.backend().buffer();
    for cell in buf.content() {
        assert_eq!(cell.fg, ratatui::style::Color::Reset);
        assert_eq!(cell.bg, ratatui::style::Color::Reset);
    }
}

#[test]
fn too_small_terminal_says_so() {
    let s = sample_state();
    let text = draw(&s, 40, 8);
    assert!(text.contains("terminal too small"), "{text}");
    assert!(text.contains("need 60x12"), "{text}");
}

/// A workspace's analysis sections set the screens' parameters when it opens; a bad value
/// and an unknown key are reported with their lines, and everything else still opens.
#[test]
fn workspace_sections_set_the_screens_and_bad_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read_to_string(sample_dir().join("crmlens.toml")).unwrap();
    let base = sample_dir().display().to_string();
    let text = sample
        .replace("path = \"", &format!("path = \"{base}/"))
        .replace("numeric = [\"", "numeric = [\"spend_2031\", \"")
        + "\n[privacy]\npseudonymise = true\n\n[segment]\nalgorithm = \"gmm\"\nk = 6\nseed = 11\n\n[rules]\nmin_support = 0.01\nsort = \"confidence\"\nfilter = \"zzz-no-item\"\n\n[predict]\nmodel = \"tree\"\nfolds = 1\n\n[recommend]\ntop = 5\ncolour = \"red\"\n";
    let path = dir.path().join("w.toml");
    std::fs::write(&path, &text).unwrap();
    let line_of = |needle: &str| text.lines().position(|l| l == needle).unwrap() + 1;
    let mut s = State::new("w".into());
    let cmds = s.load(JobRequest::Workspace(path));
    run_commands(&mut s, cmds);
    assert!(s.table.is_some(), "{:?}", s.error);
    let p = &s.segments.params;
    assert_eq!(p.algorithm, Algorithm::Gmm);
    assert_eq!((p.gmm.k, p.gmm.seed), (6, 11));
    assert_eq!(s.rules.params.min_support, 0.01);
    assert_eq!(
        s.rules.params.sort,
        crmlens::analytics::rules::SortBy::Confidence
    );
    assert_eq!(
        s.predict.settings.model,
        crmlens::analytics::predict::ModelKind::Tree
    );
    assert_eq!(s.predict.settings.folds, 5, "a bad value keeps the default");
    assert_eq!(s.recommend.settings.top, 5);
    assert!(
        s.pseudonymise,
        "[privacy] pseudonymise reaches the workbench's exports"
    );
    let err = s.error.clone().unwrap_or_default();
    let all = s.warnings.join("\n");
    assert!(
        all.contains(&format!(
            "line {}: `recommend.colour`: unknown key `colour` (use top, neighbours,",
            line_of("colour = \"red\"")
        )),
        "{all}"
    );
    assert!(
        err.contains(&format!("line {}: `predict.folds`", line_of("folds = 1"))),
        "{err}"
    );
    assert!(err.contains("(and 2 more: see Quality, 2)"), "{err}");
    // The rules filter is set for the next run; the unknown feature is left out.
    assert_eq!(s.rules.params.filter.as_deref(), Some("zzz-no-item"));
    assert!(!s.features.items.iter().any(|i| i.name == "spend_2031"));
    let all = crmlens::app::history::Snapshot::of(&s);
    assert_eq!(all.settings.rules.filter.as_deref(), Some("zzz-no-item"));
    // The Quality screen lists every problem.
    assert_eq!(s.warnings.len(), 3, "{:?}", s.warnings);
    s.screen = Screen::Quality;
    let screen = draw(&s, 160, 40);
    assert!(screen.contains("workspace problems (3)"), "{screen}");
    assert!(screen.contains("`spend_2031`: no such column"), "{screen}");
    assert!(screen.contains("`colour`"), "{screen}");
}
