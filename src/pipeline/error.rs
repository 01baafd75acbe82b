//! The pipeline's error: the layer an error comes from is kept (a data error names the file or
//! column, an analytics error the parameter), and a cancel is its own variant whichever layer
//! noticed it, so callers match `PipelineError::Cancelled` instead of comparing text.

use crate::analytics::AnalyticsError;
use crate::data::DataError;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Data(DataError),
    #[error(transparent)]
    Analytics(AnalyticsError),
    /// Esc (or the caller's cancel) stopped the run.
    #[error("cancelled")]
    Cancelled,
}

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;

impl From<DataError> for PipelineError {
    fn from(e: DataError) -> Self {
        match e {
            DataError::Cancelled => PipelineError::Cancelled,
            e => PipelineError::Data(e),
        }
    }
}

impl From<AnalyticsError> for PipelineError {
    fn from(e: AnalyticsError) -> Self {
        match e {
            AnalyticsError::Cancelled => PipelineError::Cancelled,
            e => PipelineError::Analytics(e),
        }
    }
}

impl From<crate::progress::Cancelled> for PipelineError {
    fn from(_: crate::progress::Cancelled) -> Self {
        PipelineError::Cancelled
    }
}

impl PipelineError {
    pub fn is_cancelled(&self) -> bool {
        matches!(self, PipelineError::Cancelled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancel_from_either_layer_is_the_same_variant_and_other_errors_keep_their_layer() {
        assert!(PipelineError::from(DataError::Cancelled).is_cancelled());
        assert!(PipelineError::from(AnalyticsError::Cancelled).is_cancelled());
        let e = PipelineError::from(AnalyticsError::Input("k = 9 > 3 rows".into()));
        assert!(matches!(e, PipelineError::Analytics(_)));
        assert_eq!(e.to_string(), "k = 9 > 3 rows");
        let e = PipelineError::from(DataError::Invalid("no orders".into()));
        assert!(matches!(e, PipelineError::Data(_)));
        assert_eq!(e.to_string(), "no orders");
    }
}
