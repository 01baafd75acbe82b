//! The Segments screen.

pub mod draw;
