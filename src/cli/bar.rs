//! The headless progress bar: while a long job runs, a thread redraws an indicatif bar on
//! stderr from the job's [`Progress`] (step, rows read of the expected rows) ten times a
//! second. Only when stderr is a terminal: in scripts, cron and pipes nothing is written.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::progress::Progress;

/// The bar of a running job; dropping it clears the bar.
pub struct Bar {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Shows `progress` on stderr if stderr is a terminal.
pub fn show(progress: &Progress) -> Bar {
    let stop = Arc::new(AtomicBool::new(false));
    if !std::io::stderr().is_terminal() {
        return Bar { stop, thread: None };
    }
    let bar = ProgressBar::with_draw_target(Some(1000), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    let (p, flag) = (progress.clone(), stop.clone());
    let thread = std::thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            bar.set_position((p.fraction() * 1000.0) as u64);
            // The step may name a file or a column: no control characters on the terminal.
            bar.set_message(crate::text::escape(&p.describe()).into_owned());
            std::thread::sleep(Duration::from_millis(100));
        }
        bar.finish_and_clear();
    });
    Bar {
        stop,
        thread: Some(thread),
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
