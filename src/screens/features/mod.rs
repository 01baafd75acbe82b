//! The Features screen.

pub mod draw;
