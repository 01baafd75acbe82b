//! The pipeline layer: one module per analysis, each composing the engine the same way for
//! every front end (the headless commands, the workbench's jobs and the report): load its
//! inputs, take one typed parameter value, run with progress and cancel, return a typed
//! result. Nothing here knows about a terminal, the command line or the report.

pub mod clv;
pub mod error;
pub mod guard;
pub mod input;
pub mod link;
pub mod next_period;
pub mod predict;
pub mod recommend;
pub mod rules;
pub mod saved;
pub mod segment;
pub mod settings;

pub use error::PipelineError;
