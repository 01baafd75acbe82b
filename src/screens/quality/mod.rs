//! The Quality screen.

pub mod draw;
