//! crmlens: a keyboard-driven terminal workbench for customer-data analytics.
//!
//! Data flows one way: [`data`] (sources, cleaning, the customer-360 table, features) ->
//! [`analytics`] (models) -> [`app`] (state, jobs) -> [`ui`] (drawing). The engine modules
//! (`data`, `analytics`) never know there is a terminal.

pub mod analytics;
pub mod app;
pub mod choice;
pub mod cli;
pub mod data;
pub mod export;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod screens;
pub mod text;
pub mod ui;
