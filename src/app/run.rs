//! The event loop: terminal set-up and restore (also on panic, through ratatui's hook), an
//! input thread and the job channel feeding one queue, and a redraw after every event or tick.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crossterm::event::{self, Event, KeyEventKind};

use super::action::{Action, key_to_action};
use super::job::{self, JobOutcome, JobRequest};
use super::state::{State, update};
use crate::ui;

enum AppEvent {
    Input(Event),
    Job(JobOutcome),
}

/// Opens the workbench on `request` and runs until the user quits.
pub fn run(request: JobRequest) -> anyhow::Result<()> {
    let (tx, rx) = mpsc::channel::<AppEvent>();
    let running = job::spawn(request, job::to_channel(tx.clone(), AppEvent::Job));
    let mut state = State::new(running.label.clone(), Some(running));

    let mut terminal = ratatui::try_init()?;
    let input_tx = tx.clone();
    thread::spawn(move || {
        while let Ok(ev) = event::read() {
            if input_tx.send(AppEvent::Input(ev)).is_err() {
                break;
            }
        }
    });

    let result = (|| -> anyhow::Result<()> {
        while !state.quit {
            terminal.draw(|f| ui::draw(f, &state))?;
            let size = terminal.size()?;
            update(&mut state, Action::Viewport(ui::table_rows(size.height)));
            // Tick while a job runs so the gauge and the elapsed time move.
            let ev = match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(ev) => ev,
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            let action = match ev {
                AppEvent::Input(Event::Key(k)) if k.kind == KeyEventKind::Press => key_to_action(k),
                AppEvent::Input(_) => None,
                AppEvent::Job(outcome) => Some(Action::JobDone(Box::new(outcome))),
            };
            if let Some(a) = action {
                update(&mut state, a);
            }
        }
        Ok(())
    })();
    ratatui::restore();
    result
}
