//! The table an analysis runs on: a data file as it is, or a workspace's customer-360 table.

use std::path::Path;

use polars::prelude::DataFrame;

use super::error::Result;
use super::integrate::integrate;
use super::source::{ReadOptions, read_frame};
use super::workspace::Workspace;
use crate::progress::Progress;

/// Loads `path`: a `.toml` workspace is integrated (its key is returned), any other file is
/// read as it is.
pub fn load_table(path: &Path) -> Result<(DataFrame, Option<String>)> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
    {
        let ws = Workspace::load(path)?;
        let c = integrate(&ws, &Progress::new())?;
        Ok((c.table, Some(c.key)))
    } else {
        Ok((read_frame(path, &ReadOptions::default())?, None))
    }
}
