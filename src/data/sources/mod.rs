//! Where data comes from: CSV/TSV, Parquet, JSON and NDJSON files ([`file`], checked by
//! [`precheck`] and read under [`guard`]), SQLite ([`sqlite`]) and PostgreSQL ([`postgres`])
//! tables and queries, basket files (one basket per line, [`baskets`]), the workspace file that names them ([`workspace`]), and the generator
//! of the bundled sample ([`generator`]).

pub mod baskets;
pub mod file;
pub mod generator;
pub mod guard;
pub mod postgres;
pub mod precheck;
pub mod reading;
pub mod roles;
pub mod sqlite;
pub mod workspace;
