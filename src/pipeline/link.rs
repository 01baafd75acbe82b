//! Identity resolution for the front ends (`crmlens link`, the Identity screen): the engine's
//! file-level run ([`crate::data::identity::run`]) with the pipeline's error, and the
//! `[identity]` section's checks.

use super::error::Result;
use crate::progress::Progress;

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

impl crate::pipeline::settings::Section for LinkSettings {
    const NAME: &'static str = "identity";

    fn out_of_range(&self) -> Vec<(&'static str, String)> {
        match self.check() {
            Ok(()) => Vec::new(),
            Err(e) => vec![("threshold", e)],
        }
    }
}
