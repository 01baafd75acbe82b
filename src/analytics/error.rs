//! Errors of the analytics engine: bad input the user can fix (exit code 2), or a cancelled run.

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalyticsError {
    #[error("{0}")]
    Input(String),
    /// A mining run found more than `limit` itemsets or rules: the thresholds are too low
    /// for the data (each front end says which of its settings raise them).
    #[error("more than {limit} {what}; {advice}")]
    TooMany {
        what: &'static str,
        limit: usize,
        advice: &'static str,
    },
    #[error("cancelled")]
    Cancelled,
}
