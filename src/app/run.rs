//! The event loop: terminal set-up and restore (see [`super::terminal`]: quitting, a panic on
//! the UI thread, SIGTERM/SIGHUP/SIGINT, Ctrl-Z and `fg`), an input thread, the signal thread
//! and the job channel feeding one queue, commands from `update` carried out, and a redraw
//! after every event, at least 20 times a second while a job runs.

use std::io::stdout;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyEventKind};
use ratatui::DefaultTerminal;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;

use super::action::{Action, map_key, map_mouse};
use super::demo::Demo;
use super::job::{self, JobDone, JobRequest};
use super::state::{Command, State, update};
use super::terminal::{self, SignalEvent};
use crate::ui;

enum AppEvent {
    Input(Event),
    /// The input thread stopped: reading the terminal failed, or the thread panicked.
    InputFailed(String),
    Job(JobDone),
    Signal(SignalEvent),
}

/// The workbench ended on a terminating signal (SIGTERM, SIGHUP, SIGINT, SIGQUIT), with the
/// terminal restored: the process exits with 128 + the signal's number, as a shell reports a
/// process the signal killed, and prints nothing (after SIGHUP there is no terminal).
#[derive(Debug, thiserror::Error)]
#[error("stopped by {}", terminal::signal_name(*.0))]
pub struct Interrupted(pub i32);

impl Interrupted {
    /// 128 + the signal's number.
    pub fn exit_code(&self) -> u8 {
        u8::try_from(128 + self.0).unwrap_or(u8::MAX)
    }
}

/// Carries out `update`'s commands.
fn execute_commands(
    state: &mut State,
    commands: Vec<Command>,
    tx: &mpsc::Sender<AppEvent>,
    term: &mut DefaultTerminal,
) -> anyhow::Result<()> {
    for c in commands {
        match c {
            Command::Spawn { id, request } => {
                let tx = tx.clone();
                let running = job::spawn(id, request, move |done| {
                    let _ = tx.send(AppEvent::Job(done));
                });
                let more = update(state, Action::JobStarted(running));
                debug_assert!(more.is_empty());
            }
            Command::Copy(text) => {
                let _ = super::clipboard::write(&text);
            }
            Command::Suspend => suspend(state, term)?,
        }
    }
    Ok(())
}

/// Ctrl-Z or SIGTSTP: back to the shell; on `fg`, everything redrawn.
fn suspend(state: &mut State, term: &mut DefaultTerminal) -> anyhow::Result<()> {
    if terminal::suspend()? {
        redraw_all(term)?;
    } else {
        state.message =
            Some("Ctrl-Z: no job control here (SIGTSTP is ignored), so no suspend; q quits".into());
    }
    Ok(())
}

/// Clears the screen and makes the next draw paint every cell.
fn redraw_all(term: &mut DefaultTerminal) -> std::io::Result<()> {
    let size = term.size()?;
    term.resize(Rect::new(0, 0, size.width, size.height))
}

/// Restores the terminal when dropped: on every way out of the loop (an error, an unwinding
/// panic) the terminal is given back, once.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        terminal::restore();
    }
}

/// How the workbench opens: personal data shown unmasked, exports pseudonymised, and the
/// other files named on the command line (the source picker lists them).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub show_pii: bool,
    pub pseudonymise: bool,
    pub others: Vec<std::path::PathBuf>,
}

/// Opens the workbench on `request` and runs until the user quits. A terminating signal ends
/// it with [`Interrupted`].
pub fn run(request: JobRequest, options: Options) -> anyhow::Result<()> {
    run_with(request, options, None)
}

/// Reads terminal events on a thread of its own. When reading fails (or the thread panics),
/// the loop hears it, after a moment: a terminal that hangs up also sends SIGHUP, and the
/// signal should decide how the workbench ends.
fn spawn_input(tx: mpsc::Sender<AppEvent>) -> std::io::Result<()> {
    thread::Builder::new()
        .name("crmlens-input".into())
        .spawn(move || {
            let read = catch_unwind(AssertUnwindSafe(|| {
                loop {
                    match event::read() {
                        Ok(ev) => {
                            if tx.send(AppEvent::Input(ev)).is_err() {
                                return None;
                            }
                        }
                        Err(e) => return Some(e.to_string()),
                    }
                }
            }));
            let problem = match read {
                Ok(None) => return,
                Ok(Some(e)) => e,
                Err(panic) => format!(
                    "internal error: {}",
                    crate::pipeline::guard::panic_message(&*panic)
                ),
            };
            thread::sleep(Duration::from_millis(300));
            let _ = tx.send(AppEvent::InputFailed(problem));
        })
        .map(|_| ())
}

/// A terminating signal among the events of the next 300 ms.
fn terminating_signal_soon(rx: &mpsc::Receiver<AppEvent>) -> Option<i32> {
    let until = Instant::now() + Duration::from_millis(300);
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(AppEvent::Signal(SignalEvent::Terminate(signal))) => return Some(signal),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

/// Tests only (debug builds): `CRMLENS_TEST_PANIC_IN_UI=1` makes the UI thread panic when
/// the first job ends, for the real-terminal test of a panic on the UI thread.
fn ui_panic_injected() -> bool {
    cfg!(debug_assertions) && std::env::var_os("CRMLENS_TEST_PANIC_IN_UI").is_some()
}

/// [`run`], in demo mode when `demo` is given: its first step plays once the data is loaded.
pub fn run_with(request: JobRequest, options: Options, demo: Option<Demo>) -> anyhow::Result<()> {
    let (tx, rx) = mpsc::channel::<AppEvent>();
    let mut state = State::new(request.label());
    state.show_pii = options.show_pii;
    state.pseudonymise = options.pseudonymise;
    let first = state.load(request);
    state.sources.add_files(&options.others);
    // Step 1's keys wait for the load: they are pressed once no job runs.
    state.demo = demo;

    // Signals are watched before the terminal changes, so none can leave it changed.
    terminal::set_ui_thread();
    terminal::install_panic_hook();
    let signal_tx = tx.clone();
    terminal::watch_signals(move |s| signal_tx.send(AppEvent::Signal(s)).is_ok())?;
    let _restore = Restore;
    terminal::enter()?;
    let mut term = ratatui::Terminal::new(CrosstermBackend::new(stdout()))?;

    spawn_input(tx.clone())?;
    execute_commands(&mut state, first, &tx, &mut term)?;

    // The followed files, looked at about once a second (a stat of each; `super::follow`).
    let mut looked = Instant::now();
    let mut last_seen: Option<crate::data::integrate::follow::Signature> = None;
    // Database sources, looked at (F6 off) or read again (F6 on) on a timer
    // (`super::follow::poll`).
    let mut polled = Instant::now();
    let result = (|| -> anyhow::Result<()> {
        while !state.quit {
            if polled.elapsed() >= super::follow::DATABASE_POLL {
                polled = Instant::now();
                let commands = update(&mut state, Action::PollDatabases);
                execute_commands(&mut state, commands, &tx, &mut term)?;
            }
            if looked.elapsed() >= Duration::from_secs(1) && !state.follow.files.is_empty() {
                looked = Instant::now();
                let now = crate::data::integrate::follow::signature(&state.follow.files);
                if last_seen.as_ref() != Some(&now) && state.follow.seen.as_ref() != Some(&now) {
                    last_seen = Some(now.clone());
                    let commands = update(&mut state, Action::SourcesChanged(now));
                    execute_commands(&mut state, commands, &tx, &mut term)?;
                }
            }
            let size = term.size()?;
            let rows = ui::table_rows(size.height);
            if rows != state.viewport {
                update(&mut state, Action::Viewport(rows));
            }
            term.draw(|f| ui::draw(f, &state))?;
            let wait = if state.jobs.is_empty() { 250 } else { 50 };
            let ev = match rx.recv_timeout(Duration::from_millis(wait)) {
                Ok(ev) => ev,
                Err(mpsc::RecvTimeoutError::Timeout) if state.demo.is_some() => {
                    let commands = update(&mut state, Action::Tick(Instant::now()));
                    execute_commands(&mut state, commands, &tx, &mut term)?;
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            let action = match ev {
                AppEvent::Signal(SignalEvent::Terminate(signal)) => {
                    // As Ctrl-C: the jobs are told to stop, the terminal is restored.
                    update(&mut state, Action::ForceQuit);
                    return Err(Interrupted(signal).into());
                }
                AppEvent::Signal(SignalEvent::Suspend) => Some(Action::Suspend),
                AppEvent::Signal(SignalEvent::Continued) => {
                    // Stopped and continued (also after our own suspend): the shell may have
                    // changed the terminal meanwhile.
                    terminal::resume()?;
                    redraw_all(&mut term)?;
                    None
                }
                AppEvent::InputFailed(problem) if terminal::in_background() => {
                    // Started in the background (`timeout` without --foreground): the screen
                    // shows, keys cannot come; a signal ends it.
                    state.error = Some(format!(
                        "keys cannot be read ({problem}): crmlens is not the terminal's foreground job (with timeout, use timeout --foreground); end it with kill"
                    ));
                    None
                }
                AppEvent::InputFailed(problem) => {
                    anyhow::bail!("cannot read keys from the terminal: {problem}")
                }
                AppEvent::Input(Event::Key(k)) if k.kind == KeyEventKind::Press => {
                    map_key(&state, k)
                }
                AppEvent::Input(Event::Mouse(m)) => {
                    let header = (state.screen == crate::screens::Screen::Rules
                        && matches!(m.kind, crossterm::event::MouseEventKind::Down(_)))
                    .then(|| {
                        let screen = Rect::new(0, 0, size.width, size.height);
                        crate::screens::rules::draw::header_at(screen, m.column, m.row)
                    })
                    .flatten();
                    match header {
                        Some(by) => Some(Action::SortRules(by)),
                        None => map_mouse(m, |x, y| ui::tabs::tab_at(size.width, x, y)),
                    }
                }
                AppEvent::Input(_) => None,
                AppEvent::Job(_) if ui_panic_injected() => {
                    panic!("injected by CRMLENS_TEST_PANIC_IN_UI")
                }
                AppEvent::Job(done) => Some(Action::JobDone(Box::new(done))),
            };
            if let Some(a) = action {
                let commands = update(&mut state, a);
                execute_commands(&mut state, commands, &tx, &mut term)?;
            }
        }
        Ok(())
    })();
    terminal::restore();
    // A hang-up makes drawing fail before its SIGHUP comes: then the signal says how it ended.
    let result = match result {
        Err(e) if !e.is::<Interrupted>() => match terminating_signal_soon(&rx) {
            Some(signal) => Err(Interrupted(signal).into()),
            None => Err(e),
        },
        other => other,
    };
    // The terminal is restored (cursor shown included); ratatui's own "show the cursor" on
    // drop would write to a terminal that may be gone (SIGHUP) and print an error there.
    std::mem::forget(term);
    result
}
