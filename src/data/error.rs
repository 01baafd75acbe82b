//! Errors of the data layer. Every message names the file, column or value at fault
//! and what the user can do about it; they are shown as one `error: ...` line.

use std::path::PathBuf;

use polars::prelude::PolarsError;

/// An error the user can act on (exit code 2), or an I/O problem with a named file.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}: file not found; check the path (relative paths in a workspace are resolved from the workspace's folder)"
    )]
    NotFound { path: PathBuf },
    #[error("{path}: {message}")]
    Malformed { path: PathBuf, message: String },
    #[error("{path}: unknown column `{column}` (available: {available}); fix the name in {hint}")]
    UnknownColumn {
        path: PathBuf,
        column: String,
        available: String,
        hint: String,
    },
    #[error("{path}: {message}")]
    Workspace { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
    /// The user cancelled the read (Esc); callers match on it rather than on its text.
    #[error("cancelled")]
    Cancelled,
    #[error("{context}: {}", crate::data::privacy::redact(&source.to_string()))]
    Polars {
        context: String,
        #[source]
        source: PolarsError,
    },
}

pub type Result<T, E = DataError> = std::result::Result<T, E>;

impl DataError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            DataError::NotFound { path }
        } else {
            DataError::Io { path, source }
        }
    }

    /// Whether this is a cancel, not a failure.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, DataError::Cancelled)
    }

    pub fn polars(context: impl Into<String>, source: PolarsError) -> Self {
        DataError::Polars {
            context: context.into(),
            source,
        }
    }
}
