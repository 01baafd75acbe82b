//! The headless commands' standard output and notes on standard error. Text goes out with
//! its control characters shown as escapes ([`crate::text::escape_lines`]), JSON with the
//! ones JSON leaves raw escaped ([`crate::text::json_safe`]), so data can never drive the
//! terminal. A closed standard output (`crmlens profile --json f | head`) is
//! [`StdoutClosed`], which `main` turns into a quiet exit.

use std::fmt;
use std::io::Write as _;

use anyhow::Result;

/// Standard output was closed by its reader (EPIPE): not a user error, nothing to say.
#[derive(Debug, thiserror::Error)]
#[error("standard output closed")]
pub struct StdoutClosed;

/// The exit code of a command whose output was cut by its reader: 128 + SIGPIPE, as a shell
/// reports a program stopped by the signal.
pub const CLOSED_EXIT: u8 = 141;

/// Whether `e` (or what caused it) is a closed standard output.
pub fn is_closed(e: &anyhow::Error) -> bool {
    e.chain()
        .any(|c| c.downcast_ref::<StdoutClosed>().is_some())
}

/// The locked standard output, for `writeln!(out, ...)` (text, escaped) and [`Stdout::json`].
pub struct Stdout(std::io::StdoutLock<'static>);

pub fn stdout() -> Stdout {
    Stdout(std::io::stdout().lock())
}

impl Stdout {
    /// Text for people, its control characters escaped (newlines kept).
    pub fn write_fmt(&mut self, args: fmt::Arguments) -> Result<()> {
        let text = match args.as_str() {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(args.to_string()),
        };
        self.raw(crate::text::escape_lines(&text).as_bytes())
    }

    /// `v` as pretty JSON and a newline.
    pub fn json(&mut self, v: &impl serde::Serialize) -> Result<()> {
        let text = serde_json::to_string_pretty(v)?;
        self.raw(crate::text::json_safe(&text).as_bytes())?;
        self.raw(b"\n")
    }

    fn raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.0
            .write_all(bytes)
            .and_then(|_| self.0.flush())
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::BrokenPipe => anyhow::Error::new(StdoutClosed),
                _ => anyhow::anyhow!("cannot write to standard output: {e}"),
            })
    }
}

/// A note for people on standard error (escaped; dropped if standard error is closed).
pub fn note(text: &str) {
    let _ = writeln!(
        std::io::stderr().lock(),
        "{}",
        crate::text::escape_lines(text)
    );
}
