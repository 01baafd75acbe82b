//! The terminal while the workbench runs (raw mode, the alternate screen, mouse capture, the
//! cursor hidden by each frame), and everything that must give it back as it was:
//!
//! - quitting (`q`, Ctrl-C) and an error: [`restore`];
//! - a panic on the UI thread: the panic hook restores, then prints the message. A panic on
//!   any other thread while the workbench is up prints nothing (it would scribble over the
//!   screen): the job it belongs to fails with the message instead (see `job::spawn`);
//! - a terminating signal (SIGTERM, SIGHUP, SIGINT, SIGQUIT): [`watch_signals`] hands it to
//!   the event loop, which restores and exits with 128 + the signal's number. If the loop does
//!   not answer within [`SIGNAL_GRACE`], or a second signal comes, the signal thread restores
//!   and exits itself;
//! - Ctrl-Z (a key in raw mode) and SIGTSTP: [`suspend`] restores and stops the process the
//!   way a shell expects; `fg` (SIGCONT) comes back through [`resume`] and a full redraw.
//!
//! A signal the workbench was started with ignored (`nohup`, a background job of a
//! non-interactive shell) stays ignored.

use std::io::{Write, stdout};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, ThreadId};
use std::time::Duration;

use crossterm::cursor::Show;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use signal_hook::consts::{SIGCONT, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTSTP};

/// The terminal is in the workbench's state (raw mode, alternate screen, mouse capture).
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The thread that draws: a panic there restores the terminal; a panic elsewhere does not.
static UI_THREAD: Mutex<Option<ThreadId>> = Mutex::new(None);

/// How long the event loop has to quit on a terminating signal before the signal thread
/// restores the terminal and exits by itself (the loop may be stuck in a draw).
pub const SIGNAL_GRACE: Duration = Duration::from_secs(2);

/// Whether the terminal is in the workbench's state.
pub fn is_active() -> bool {
    ACTIVE.load(Ordering::SeqCst)
}

/// Raw mode, the alternate screen and mouse capture. Marked active before the first change,
/// so that a failure part-way is undone by [`restore`] too.
pub fn enter() -> std::io::Result<()> {
    ACTIVE.store(true, Ordering::SeqCst);
    // Raw mode first: from a background job this stops the process (SIGTTOU) until `fg`,
    // before anything is written to a terminal that is not ours.
    enable_raw_mode()?;
    execute!(stdout(), EnterAlternateScreen, EnableMouseCapture)
}

/// Gives the terminal back: mouse capture off, the main screen, the cursor shown, raw mode
/// off. Every step is tried even if one fails (the terminal may be gone: SIGHUP), and nothing
/// is printed. Safe to call twice and from any thread: only the first call after [`enter`]
/// writes anything.
pub fn restore() {
    restore_to(&mut stdout().lock());
}

fn restore_to(out: &mut impl Write) {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let _ = crossterm::queue!(out, DisableMouseCapture);
    let _ = crossterm::queue!(out, LeaveAlternateScreen);
    let _ = crossterm::queue!(out, Show);
    let _ = out.flush();
    let _ = disable_raw_mode();
}

/// Back from a suspend or a stop (SIGCONT): the workbench's terminal state again, raw mode
/// set anew (the shell may have changed the modes meanwhile). The caller redraws everything.
pub fn resume() -> std::io::Result<()> {
    // crossterm skips enabling raw mode when it thinks it is on; after a stop it may not be.
    if ACTIVE.load(Ordering::SeqCst) {
        let _ = disable_raw_mode();
    }
    enter()
}

/// Ctrl-Z: restores the terminal and stops the process as SIGTSTP would (the shell prints
/// "Stopped" and gets the terminal back); returns once continued (`fg`), with the terminal
/// in the workbench's state again. Returns false, and stops nothing, when suspending is off
/// (SIGTSTP was ignored when the workbench started, as without job control).
pub fn suspend() -> std::io::Result<bool> {
    if !job_control() {
        return Ok(false);
    }
    restore();
    stop_self();
    resume()?;
    Ok(true)
}

/// SIGTSTP is not ignored: a suspend can come back.
fn job_control() -> bool {
    !ignored(SIGTSTP)
}

/// Stops this process with SIGTSTP and its default action, so the kernel's rules apply: a
/// process group without a shell to resume it (orphaned) is not stopped.
fn stop_self() {
    // SAFETY: sigaction with a zeroed struct and SIG_DFL is the documented way to set a
    // default disposition; the old one is put back right after the stop.
    unsafe {
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut default.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(SIGTSTP, &default, &mut old) != 0 {
            return;
        }
        libc::raise(SIGTSTP);
        libc::sigaction(SIGTSTP, &old, std::ptr::null_mut());
    }
}

/// The signal's disposition is "ignore" (inherited from the parent: `nohup`, a background
/// job without job control).
fn ignored(signal: i32) -> bool {
    // SAFETY: reading the current disposition only (the new action is null).
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}

/// Whether the terminal belongs to another process group (started in the background, e.g.
/// by `timeout` without `--foreground`): then keys cannot be read.
pub fn in_background() -> bool {
    use std::os::fd::AsRawFd;
    let Ok(tty) = std::fs::File::open("/dev/tty") else {
        return false;
    };
    // SAFETY: plain queries on an open descriptor.
    unsafe {
        let fg = libc::tcgetpgrp(tty.as_raw_fd());
        fg > 0 && fg != libc::getpgrp()
    }
}

/// Marks the calling thread as the UI thread (for the panic hook).
pub fn set_ui_thread() {
    if let Ok(mut t) = UI_THREAD.lock() {
        *t = Some(thread::current().id());
    }
}

fn on_ui_thread() -> bool {
    UI_THREAD
        .lock()
        .map(|t| *t == Some(thread::current().id()))
        .unwrap_or(false)
}

/// The panic hook, installed once (by the workbench, and by the first job): while the
/// workbench is up, a panic on the UI thread restores the terminal and then prints the usual
/// message on the main screen (the process exits with 101); a panic on another thread prints
/// nothing, as the screen is the workbench's: a job's panic becomes its error panel
/// (`job::spawn`), the input thread's an error. A panic in a job run headless (`run_now`)
/// prints nothing either: the job's one-line error says it. Other panics print as usual.
pub fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // A panic inside a guarded reader call is an error the caller reports.
            if crate::data::sources::guard::guarded_here() {
                return;
            }
            let ui = on_ui_thread();
            if !ui && (is_active() || crate::pipeline::guard::in_guarded_step()) {
                return;
            }
            if ui {
                restore();
            }
            previous(info);
        }));
    });
}

/// What a signal asks of the event loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalEvent {
    /// SIGTERM, SIGHUP, SIGINT or SIGQUIT: quit as Ctrl-C does, exit 128 + the number.
    Terminate(i32),
    /// SIGTSTP: suspend as Ctrl-Z does.
    Suspend,
    /// SIGCONT: the process was stopped and continued; redraw everything.
    Continued,
}

/// The signal's name, for messages.
pub fn signal_name(signal: i32) -> &'static str {
    signal_hook::low_level::signal_name(signal).unwrap_or("signal")
}

/// Watches for the signals that concern the terminal on a thread of its own and passes each
/// to `send` (false: nobody listens any more). A terminating signal nobody answers within
/// [`SIGNAL_GRACE`], a second one, or one that comes when nobody listens, restores the
/// terminal and exits here with 128 + its number. Signals ignored at start stay ignored.
pub fn watch_signals<F>(send: F) -> std::io::Result<()>
where
    F: Fn(SignalEvent) -> bool + Send + 'static,
{
    let wanted: Vec<i32> = [SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGTSTP, SIGCONT]
        .into_iter()
        .filter(|s| *s == SIGCONT || !ignored(*s))
        .collect();
    let mut signals = signal_hook::iterator::Signals::new(&wanted)?;
    thread::Builder::new()
        .name("crmlens-signals".into())
        .spawn(move || {
            let mut terminating = false;
            for signal in signals.forever() {
                let event = match signal {
                    SIGTSTP => SignalEvent::Suspend,
                    SIGCONT => SignalEvent::Continued,
                    s => SignalEvent::Terminate(s),
                };
                let heard = send(event);
                match event {
                    SignalEvent::Terminate(s) => {
                        if terminating || !heard {
                            exit_now(s);
                        }
                        terminating = true;
                        thread::spawn(move || {
                            thread::sleep(SIGNAL_GRACE);
                            exit_now(s);
                        });
                    }
                    SignalEvent::Suspend if !heard => stop_self(),
                    _ => {}
                }
            }
        })?;
    Ok(())
}

/// Restores the terminal (given a second at most: the terminal may not take output) and
/// exits with 128 + `signal`.
fn exit_now(signal: i32) -> ! {
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        restore();
        let _ = tx.send(());
    });
    let _ = rx.recv_timeout(Duration::from_secs(1));
    std::process::exit(128 + signal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_is_complete_and_runs_once() {
        // Not entered: nothing to undo, nothing written.
        let mut out = Vec::new();
        restore_to(&mut out);
        assert!(out.is_empty());
        // Entered (or part-way): mouse off, main screen, cursor shown, once.
        ACTIVE.store(true, Ordering::SeqCst);
        restore_to(&mut out);
        let text = String::from_utf8_lossy(&out).to_string();
        for (what, seq) in [
            ("mouse tracking off", "\x1b[?1000l"),
            ("any-event mouse off", "\x1b[?1003l"),
            ("SGR mouse off", "\x1b[?1006l"),
            ("main screen", "\x1b[?1049l"),
            ("cursor shown", "\x1b[?25h"),
        ] {
            assert!(text.contains(seq), "{what}: {seq:?} not in {text:?}");
        }
        assert!(!is_active());
        let mut again = Vec::new();
        restore_to(&mut again);
        assert!(again.is_empty(), "a second restore wrote {again:?}");
    }

    #[test]
    fn signal_names() {
        assert_eq!(signal_name(SIGTERM), "SIGTERM");
        assert_eq!(signal_name(SIGHUP), "SIGHUP");
    }
}
