//! The guard at the polars boundary: a call into polars (or any reader) that panics becomes
//! one error naming the file, never a crash or a backtrace. While a guarded call runs, the
//! process's panic hook is told to stay quiet ([`quiet`]), since the panic is reported as an
//! error instead; polars panics on its rayon threads too, so the flag is process-wide.
//!
//! A stack overflow is not a panic and cannot be caught: the readers check nesting depth
//! before polars sees a file (see `source`).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::data::error::{DataError, Result};

/// Guarded calls running now, on any thread.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// True while a guarded call runs: a panic hook should print nothing (the panic becomes an
/// error line).
pub fn quiet() -> bool {
    ACTIVE.load(Ordering::SeqCst) > 0
}

thread_local! {
    /// Guarded calls running on this thread.
    static HERE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// True while a guarded call runs on this thread (a panic here becomes an error): a hook
/// that restores the terminal on the UI thread's panics leaves these alone.
pub fn guarded_here() -> bool {
    HERE.with(|h| h.get() > 0)
}

struct Active;

impl Active {
    fn enter() -> Self {
        ACTIVE.fetch_add(1, Ordering::SeqCst);
        HERE.with(|h| h.set(h.get() + 1));
        Active
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::SeqCst);
        HERE.with(|h| h.set(h.get().saturating_sub(1)));
    }
}

/// The message a panic carried, on one line.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = crate::text::panic_text(payload);
    let line = text.lines().next().unwrap_or("").trim();
    // A runaway message (a type printed 10,000 levels deep) is cut.
    match line.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line.to_string(),
    }
}

/// Runs `f`, which reads `path` through polars; a panic inside it becomes
/// `path: could not be read (...)`.
pub fn guarded<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let _active = Active::enter();
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => Err(DataError::Malformed {
            path: path.to_path_buf(),
            message: format!(
                "could not be read: the reader failed on it ({}); check the file is of its format, or convert it (e.g. to CSV), and please report this",
                panic_message(payload.as_ref())
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_naming_the_file() {
        let e = guarded::<()>(Path::new("/data/x.ndjson"), || {
            panic!("Arrow datatype Int128 not supported")
        })
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("/data/x.ndjson: could not be read"), "{e}");
        assert!(e.contains("Int128"), "{e}");
    }

    #[test]
    fn a_panic_on_a_rayon_thread_is_caught_too() {
        use rayon::prelude::*;
        let e = guarded::<()>(Path::new("f.csv"), || {
            (0..4).into_par_iter().for_each(|i| {
                if i == 3 {
                    panic!("boom on a worker");
                }
            });
            Ok(())
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("boom on a worker"), "{e}");
    }

    #[test]
    fn long_messages_are_cut() {
        let long = "List(".repeat(10_000);
        let payload: Box<dyn Any + Send> = Box::new(long);
        let m = panic_message(payload.as_ref());
        assert!(m.len() < 220 && m.ends_with("..."), "{m}");
    }
}
