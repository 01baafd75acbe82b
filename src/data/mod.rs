//! The data engine: sources, cleaning, integration into the customer-360 table, features.
//! Functions over polars frames; nothing here knows about a terminal.

pub mod aggregate;
pub mod baskets;
pub mod clean;
pub mod dates;
pub mod dedup;
pub mod error;
pub mod explore;
pub mod export;
pub mod features;
pub mod generator;
pub mod guard;
pub mod input;
pub mod integrate;
pub mod postgres;
pub mod precheck;
pub mod privacy;
pub mod profile;
pub mod purchases;
pub mod quality;
pub mod reduce;
pub mod source;
#[cfg(feature = "spark")]
pub mod spark;
pub mod sqlite;
pub mod target;
pub mod transactions;
pub mod workspace;

pub use error::{DataError, Result};
pub use integrate::{Customer360, integrate};
pub use workspace::Workspace;
