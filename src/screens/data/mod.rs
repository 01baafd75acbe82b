//! The Data screen.

pub mod draw;
