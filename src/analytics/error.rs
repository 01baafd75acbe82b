//! Errors of the analytics engine: bad input the user can fix (exit code 2), or a cancelled run.

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalyticsError {
    #[error("{0}")]
    Input(String),
    #[error("cancelled")]
    Cancelled,
}
