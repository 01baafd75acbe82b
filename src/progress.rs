//! A progress and cancel handle shared between a long job and whoever watches it (the UI's
//! status bar, or nobody in headless runs). Cheap to clone; all fields are atomics.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

#[derive(Debug, Default)]
struct Inner {
    done: AtomicU64,
    total: AtomicU64,
    cancelled: AtomicBool,
    label: Mutex<String>,
}

/// Progress of one job: `done` of `total` units, a label for the current step, and a cancel flag.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    inner: Arc<Inner>,
}

/// The job stopped because it was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

impl Progress {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a step: `label`, with `total` units of work.
    pub fn start(&self, label: &str, total: u64) {
        if let Ok(mut l) = self.inner.label.lock() {
            l.clear();
            l.push_str(label);
        }
        self.inner.total.store(total, Ordering::Relaxed);
        self.inner.done.store(0, Ordering::Relaxed);
    }

    /// Changes the label and leaves the counts alone (a sub-step).
    pub fn label(&self, label: &str) {
        if let Ok(mut l) = self.inner.label.lock() {
            l.clear();
            l.push_str(label);
        }
    }

    /// Moves to the next unit of work, naming it.
    pub fn next(&self, label: &str) {
        self.label(label);
        self.advance(1);
    }

    pub fn set(&self, done: u64) {
        self.inner.done.store(done, Ordering::Relaxed);
    }

    pub fn advance(&self, by: u64) {
        self.inner.done.fetch_add(by, Ordering::Relaxed);
    }

    /// (done, total, label)
    pub fn snapshot(&self) -> (u64, u64, String) {
        let label = self
            .inner
            .label
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default();
        (
            self.inner.done.load(Ordering::Relaxed),
            self.inner.total.load(Ordering::Relaxed),
            label,
        )
    }

    pub fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::Relaxed)
    }

    /// `Err(Cancelled)` once cancel was asked: call between units of work.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_state() {
        let p = Progress::new();
        let q = p.clone();
        p.start("reading", 10);
        q.advance(3);
        assert_eq!(p.snapshot(), (3, 10, "reading".to_string()));
        assert!(p.check().is_ok());
        q.cancel();
        assert_eq!(p.check(), Err(Cancelled));
    }
}
