//! Application state, actions, the update function and background jobs. No drawing here
//! (that is `ui`), and no engine logic (that is `data` and `analytics`).

pub mod action;
pub mod clipboard;
pub mod demo;
pub mod done;
pub mod follow;
pub mod history;
pub mod job;
pub mod palette;
pub mod roles;
pub mod run;
pub mod sources;
pub mod state;
pub mod terminal;

pub use action::Action;
pub use state::State;
