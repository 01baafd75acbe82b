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
    /// Rows read by the current step, and about how many it will read (0: unknown).
    rows: AtomicU64,
    rows_expected: AtomicU64,
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
        self.rows(0, 0);
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
        self.rows(0, 0);
    }

    /// The current step has read `read` rows of about `expected` (0: not known).
    pub fn rows(&self, read: u64, expected: u64) {
        self.inner.rows.store(read, Ordering::Relaxed);
        self.inner.rows_expected.store(expected, Ordering::Relaxed);
    }

    /// The current step's rows read and expected (0: not known), once it reads rows.
    pub fn rows_read(&self) -> Option<(u64, u64)> {
        let read = self.inner.rows.load(Ordering::Relaxed);
        (read > 0).then(|| (read, self.inner.rows_expected.load(Ordering::Relaxed)))
    }

    /// How far the job is, 0 to 1: the steps done, and the share of the current step's
    /// expected rows read.
    pub fn fraction(&self) -> f64 {
        let (done, total, _) = self.snapshot();
        if total == 0 {
            return 0.0;
        }
        let within = match self.rows_read() {
            Some((read, expected)) if expected > 0 => (read as f64 / expected as f64).min(0.99),
            _ => 0.0,
        };
        ((done as f64 + within) / total as f64).clamp(0.0, 1.0)
    }

    /// The step and its rows: "aggregating orders · 8.2M of ~16.3M rows (50%)".
    pub fn describe(&self) -> String {
        let (_, _, label) = self.snapshot();
        match self.rows_read() {
            None => label,
            Some((read, 0)) => format!("{label} · {} rows", count(read)),
            Some((read, expected)) => format!(
                "{label} · {} of ~{} rows ({:.0}%)",
                count(read),
                count(expected.max(read)),
                (100.0 * read as f64 / expected.max(read) as f64).min(100.0)
            ),
        }
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

/// A row count as people read it: 950, 12.3k, 8.2M, 1.1G.
fn count(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1}M", n as f64 / 1e6),
        _ => format!("{:.1}G", n as f64 / 1e9),
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

    #[test]
    fn rows_read_are_described_and_counted_in_the_fraction() {
        let p = Progress::new();
        p.start("reading customers", 4);
        assert_eq!(p.describe(), "reading customers");
        p.next("aggregating orders");
        p.rows(8_200_000, 16_400_000);
        assert_eq!(
            p.describe(),
            "aggregating orders · 8.2M of ~16.4M rows (50%)"
        );
        // One step of four done, half of the second: 1.5 / 4.
        assert!((p.fraction() - 0.375).abs() < 1e-12);
        // An estimate that falls short: never over 100%, and the step is not counted done.
        p.rows(20_000_000, 16_400_000);
        assert!(p.describe().ends_with("20.0M of ~20.0M rows (100%)"));
        assert!(p.fraction() < 0.5);
        p.rows(950, 0);
        assert_eq!(p.describe(), "aggregating orders · 950 rows");
        p.next("joining");
        assert_eq!(p.rows_read(), None);
        assert_eq!(p.describe(), "joining");
    }
}
