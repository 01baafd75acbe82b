//! The data engine, in the order data flows through it: [`sources`] (files, SQLite,
//! PostgreSQL, the workspace file, the sample generator) -> [`integrate`] (cleaning and the
//! customer-360 table, locally or on Spark) -> [`features`] (what the models take: feature
//! matrices, targets, baskets, purchases, transactions). [`identity`] (in progress) finds the
//! records of sources without a shared key that are one person. Beside them, what all three share:
//! errors, dates, personal-data detection and safe file writing. Functions over polars
//! frames; nothing here knows about models, a terminal or a command line.

pub mod dates;
pub mod error;
pub mod features;
pub mod identity;
pub mod integrate;
pub mod privacy;
pub mod sources;
pub mod write;

pub use error::{DataError, Result};
pub use integrate::{Customer360, integrate};
pub use sources::workspace::Workspace;
