//! Issue 21, the workbench's UI thread: it never waits for polars' thread pool (a filter or
//! sort of a million rows kept the pool busy and froze the screen, item 9), and a job's
//! panic is a failed job (item 1). The signals are tested in a real terminal
//! (tests/tmux_signals.sh).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::time::{Duration, Instant};

use crmlens::app::action::Action;
use crmlens::app::job::{JobDone, JobKind, JobOutcome};
use crmlens::app::state::{Overlay, update};
use crmlens::screens::Screen;
use polars::prelude::IdxSize;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::ui::sample_state;

/// Keeps every thread of polars' pool busy until dropped (or `limit` passes), as a filter
/// of a million rows does for seconds.
struct BusyPool {
    gate: Arc<(Mutex<bool>, Condvar)>,
}

impl BusyPool {
    fn hold(limit: Duration) -> BusyPool {
        let pool = &polars_core::runtime::THREAD_POOL;
        let n = pool.current_num_threads();
        let inside = Arc::new(Barrier::new(n + 1));
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let (i, g) = (inside.clone(), gate.clone());
        pool.spawn_broadcast(move |_| {
            i.wait();
            let (open, cv) = &*g;
            let guard = open.lock().unwrap();
            let _ = cv.wait_timeout_while(guard, limit, |open| !*open).unwrap();
        });
        // Every pool thread is now inside the task.
        inside.wait();
        BusyPool { gate }
    }
}

impl Drop for BusyPool {
    fn drop(&mut self) {
        let (open, cv) = &*self.gate;
        *open.lock().unwrap() = true;
        cv.notify_all();
    }
}

/// Every screen draws, and keys are handled, while polars' pool is busy: the UI thread does
/// no work on that pool. Before the fix, the Data screen of a sorted or filtered table took
/// its visible rows with `DataFrame::take`, which runs on the pool, and the frame waited
/// for the whole job (2 s for a filter of 1M rows).
#[test]
fn the_ui_thread_never_waits_for_polars_thread_pool() {
    let mut s = sample_state();
    let n = s.rows() as IdxSize;
    // A sorted view: the visible rows go through the row order.
    s.data.order = Some(Arc::new((0..n).rev().collect()));
    s.data.sort = Some(("customer_id".into(), true));
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let limit = Duration::from_secs(20);
    let busy = BusyPool::hold(limit);
    let t = Instant::now();
    for screen in Screen::ALL {
        s.screen = screen;
        term.draw(|f| crmlens::ui::draw(f, &s)).unwrap();
    }
    s.screen = Screen::Data;
    // Moving through the sorted rows and opening the help: handled and drawn at once.
    for a in [Action::Down(1), Action::PageDown, Action::ToggleHelp] {
        let _ = update(&mut s, a);
        term.draw(|f| crmlens::ui::draw(f, &s)).unwrap();
    }
    let took = t.elapsed();
    drop(busy);
    assert!(
        took < Duration::from_secs(5),
        "drawing 8 screens and 3 keys took {took:?} while polars' pool was busy"
    );
    assert!(matches!(s.overlay, Some(Overlay::Help)));
    // The last visible row of the first frame was the sorted view's: C005000 first.
    let screen = format!("{:?}", term.backend().buffer());
    assert!(screen.contains("C004"), "sorted rows not drawn");
}

/// A job that panics fails with an error panel naming the job, and the app goes on: the
/// panel closes, keys work, q quits (the panic itself: `job::tests`; in a real terminal:
/// tests/tmux_signals.sh).
#[test]
fn a_job_that_panicked_is_an_error_panel_and_the_app_goes_on() {
    let mut s = sample_state();
    let request = crmlens::app::job::JobRequest::Open {
        path: "/tmp/x.ndjson".into(),
        options: Default::default(),
    };
    let label = request.label();
    crate::ui::started(&mut s, 41, &request);
    let message =
        format!("internal error in {label}: Arrow datatype Int128 not supported; please report it");
    let _ = update(
        &mut s,
        Action::JobDone(Box::new(JobDone {
            id: 41,
            kind: JobKind::Load,
            outcome: JobOutcome::Failed(message.clone()),
        })),
    );
    assert!(
        matches!(&s.overlay, Some(Overlay::LoadFailed(e)) if *e == message),
        "{:?}",
        s.overlay
    );
    assert!(s.jobs.is_empty());
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    term.draw(|f| crmlens::ui::draw(f, &s)).unwrap();
    let screen = format!("{:?}", term.backend().buffer());
    assert!(screen.contains("internal error in reading /tmp/x.ndjson"));
    // The data loaded before is still there; Esc closes the panel, q quits.
    assert_eq!(s.rows(), 5000);
    let _ = update(&mut s, Action::Escape);
    assert!(s.overlay.is_none());
    let _ = update(&mut s, Action::Quit);
    assert!(s.quit);
}

/// The pool-holding helper itself: it does hold the pool (a parallel polars operation
/// started meanwhile finishes only after it lets go), so the test above can fail.
#[test]
fn busy_pool_really_holds_polars_pool() {
    let done = Arc::new(AtomicBool::new(false));
    let busy = BusyPool::hold(Duration::from_secs(20));
    let d = done.clone();
    let worker = std::thread::spawn(move || {
        polars_core::runtime::THREAD_POOL.install(|| ());
        d.store(true, Ordering::SeqCst);
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(!done.load(Ordering::SeqCst), "the pool ran work while held");
    drop(busy);
    worker.join().unwrap();
    assert!(done.load(Ordering::SeqCst));
}

/// A job run headless (`run_now`, as `crmlens report` does) that panics: its part of the
/// report says so in one line, and stderr carries no panic message or backtrace. Uses the
/// debug builds' `CRMLENS_TEST_PANIC_IN_JOB` (the tests run a debug binary). The workspace is
/// the sample's with a decision tree and one k-means start: the other sections are not what
/// is tested here, and the default forest is most of a report's time.
#[test]
fn a_headless_job_that_panics_is_one_line_and_no_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    let sample = crate::sample_dir();
    let text = std::fs::read_to_string(sample.join("crmlens.toml"))
        .unwrap()
        .replace("path = \"", &format!("path = \"{}/", sample.display()))
        + "\n[predict]\nmodel = \"tree\"\n\n[segment]\nn_init = 1\n";
    let ws = dir.path().join("w.toml");
    std::fs::write(&ws, text).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_crmlens"))
        .args(["report", "--workspace", &ws.display().to_string()])
        .args(["--out", "r.html"])
        .current_dir(dir.path())
        .env("RUST_BACKTRACE", "1")
        .env("CRMLENS_TEST_PANIC_IN_JOB", "rules")
        .output()
        .unwrap();
    let err = crate::stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("backtrace"), "{err}");
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    assert!(
        html.contains("No rules: internal error in mining rules")
            && html.contains("injected by CRMLENS_TEST_PANIC_IN_JOB; please report it"),
        "the report does not say the rules job failed"
    );
}
