//! A pipeline step that panics (a bug, ours or a library's, e.g. polars on an input it does
//! not expect) becomes one error line, "internal error in <step>: <message>; please report
//! it", so the workbench lives on and the report says which section failed. While a guarded
//! step runs on a thread, the panic hooks print nothing for that thread's panics: the step's
//! error carries the message (one line, not a backtrace on stderr).

use std::cell::Cell;

thread_local! {
    static IN_STEP: Cell<bool> = const { Cell::new(false) };
}

/// This thread runs a guarded step whose panics become its error (see [`guarded`]).
pub fn in_guarded_step() -> bool {
    IN_STEP.with(|g| g.get())
}

pub use crate::text::panic_text as panic_message;

/// Runs `f` as the step `label`; a panic in it is `Err` with one line naming the step. With
/// `inject` (tests only, see [`injected`]) the step panics on purpose.
pub fn guarded<T>(label: &str, inject: bool, f: impl FnOnce() -> T) -> Result<T, String> {
    IN_STEP.with(|g| g.set(true));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if inject {
            panic!("injected by CRMLENS_TEST_PANIC_IN_JOB");
        }
        f()
    }));
    IN_STEP.with(|g| g.set(false));
    outcome.map_err(|payload| {
        let message = panic_message(&*payload);
        format!(
            "internal error in {label}: {}; please report it",
            message.trim_end_matches(['.', ' ', '\n'])
        )
        .replace('\n', " ")
    })
}

/// Tests only (debug builds): whether a step of `kind` should panic on purpose, as
/// `CRMLENS_TEST_PANIC_IN_JOB=<kind>` (load, arrange, summarise, correlate, model, rules,
/// predict, clv, recommend, export, browse) asks. How the real-terminal test checks that a
/// panicking job ends in an error panel, not a crash.
pub fn injected(kind: &str) -> bool {
    #[cfg(debug_assertions)]
    {
        std::env::var("CRMLENS_TEST_PANIC_IN_JOB").is_ok_and(|v| v.eq_ignore_ascii_case(kind))
    }
    #[cfg(not(debug_assertions))]
    {
        let _ = kind;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_message_is_one_line_whatever_its_payload() {
        let payload = std::panic::catch_unwind(|| panic!("two\nlines {}", 2)).unwrap_err();
        assert_eq!(panic_message(&*payload), "two\nlines 2");
        let payload = std::panic::catch_unwind(|| std::panic::panic_any(42_u8)).unwrap_err();
        assert_eq!(panic_message(&*payload), "no message");
        let e = guarded("a step", false, || panic!("two\nlines.")).unwrap_err();
        assert_eq!(e, "internal error in a step: two lines; please report it");
        assert!(!in_guarded_step());
        assert_eq!(guarded("a step", false, || 7), Ok(7));
    }
}
