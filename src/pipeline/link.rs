//! Identity resolution for the front ends (`crmlens link`, the Identity screen): the engine's
//! file-level run ([`crate::data::identity::run`]) with the pipeline's error, and the
//! `[identity]` section's checks.

use super::error::Result;
use crate::progress::Progress;

pub use crate::data::identity::link::FieldModel;
pub use crate::data::identity::run::{
    IdentitySource, LinkInput, LinkRun, LinkSettings, id_column, workspace_inputs,
};

/// Reads the inputs and runs identity resolution on them (see
/// [`crate::data::identity::run::run`]).
pub fn run(
    inputs: &[LinkInput],
    settings: &LinkSettings,
    labels: &[(u32, u32, bool)],
    progress: &Progress,
) -> Result<LinkRun> {
    Ok(crate::data::identity::run::run(
        inputs, settings, labels, progress,
    )?)
}

#[cfg(feature = "spark")]
pub use crate::data::identity::spark::{DEFAULT_SAMPLE, SparkLinked, SparkPair};

/// Runs identity resolution on the Spark Connect server at `remote`: blocking and scoring on
/// the cluster, the model trained here on at most `sample` records (see
/// [`crate::data::identity::spark`]).
#[cfg(feature = "spark")]
pub fn run_on_spark(
    inputs: &[LinkInput],
    settings: &LinkSettings,
    remote: &str,
    sample: usize,
    progress: &Progress,
) -> Result<SparkLinked> {
    Ok(crate::data::identity::spark::link_on_spark(
        inputs, settings, remote, sample, progress,
    )?)
}

impl crate::pipeline::settings::Section for LinkSettings {
    const NAME: &'static str = "identity";

    fn out_of_range(&self) -> Vec<(&'static str, String)> {
        match self.check() {
            Ok(()) => Vec::new(),
            Err(e) => vec![("threshold", e)],
        }
    }
}
