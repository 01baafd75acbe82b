//! The event loop: terminal set-up and restore (also on panic, through ratatui's hook), an
//! input thread and the job channel feeding one queue, commands from `update` carried out,
//! and a redraw after every event, at least 20 times a second while a job runs.

use std::io::stdout;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event, KeyEventKind};
use crossterm::execute;

use super::action::{Action, map_key, map_mouse};
use super::demo::Demo;
use super::job::{self, JobDone, JobRequest};
use super::state::{Command, State, update};
use crate::ui;

enum AppEvent {
    Input(Event),
    Job(JobDone),
}

/// Carries out `update`'s commands.
fn execute_commands(state: &mut State, commands: Vec<Command>, tx: &mpsc::Sender<AppEvent>) {
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
        }
    }
}

/// Restores the terminal: mouse capture off, then ratatui's restore (raw mode, alternate
/// screen).
fn restore() {
    let _ = execute!(stdout(), DisableMouseCapture);
    ratatui::restore();
}

/// How the workbench opens: personal data shown unmasked, exports pseudonymised, and the
/// other files named on the command line (the source picker lists them).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub show_pii: bool,
    pub pseudonymise: bool,
    pub others: Vec<std::path::PathBuf>,
}

/// Opens the workbench on `request` and runs until the user quits.
pub fn run(request: JobRequest, options: Options) -> anyhow::Result<()> {
    run_with(request, options, None)
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

    let mut terminal = ratatui::try_init()?;
    // ratatui's panic hook restores raw mode and the screen; mouse capture goes too.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(stdout(), DisableMouseCapture);
        hook(info);
    }));
    execute!(stdout(), EnableMouseCapture)?;

    let input_tx = tx.clone();
    thread::spawn(move || {
        while let Ok(ev) = event::read() {
            if input_tx.send(AppEvent::Input(ev)).is_err() {
                break;
            }
        }
    });
    execute_commands(&mut state, first, &tx);

    let result = (|| -> anyhow::Result<()> {
        while !state.quit {
            let size = terminal.size()?;
            let rows = ui::table_rows(size.height);
            if rows != state.viewport {
                update(&mut state, Action::Viewport(rows));
            }
            terminal.draw(|f| ui::draw(f, &state))?;
            let wait = if state.jobs.is_empty() { 250 } else { 50 };
            let ev = match rx.recv_timeout(Duration::from_millis(wait)) {
                Ok(ev) => ev,
                Err(mpsc::RecvTimeoutError::Timeout) if state.demo.is_some() => {
                    let commands = update(&mut state, Action::Tick(Instant::now()));
                    execute_commands(&mut state, commands, &tx);
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            let action = match ev {
                AppEvent::Input(Event::Key(k)) if k.kind == KeyEventKind::Press => {
                    map_key(&state, k)
                }
                AppEvent::Input(Event::Mouse(m)) => {
                    let header = (state.screen == super::screen::Screen::Rules
                        && matches!(m.kind, crossterm::event::MouseEventKind::Down(_)))
                    .then(|| {
                        let screen = ratatui::layout::Rect::new(0, 0, size.width, size.height);
                        ui::rules::header_at(screen, m.column, m.row)
                    })
                    .flatten();
                    match header {
                        Some(by) => Some(Action::SortRules(by)),
                        None => map_mouse(m, |x, y| ui::tabs::tab_at(size.width, x, y)),
                    }
                }
                AppEvent::Input(_) => None,
                AppEvent::Job(done) => Some(Action::JobDone(Box::new(done))),
            };
            if let Some(a) = action {
                let commands = update(&mut state, a);
                execute_commands(&mut state, commands, &tx);
            }
        }
        Ok(())
    })();
    restore();
    result
}
