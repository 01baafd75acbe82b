//! The table an analysis runs on: a data file as it is, or a workspace's customer-360 table.

use std::path::Path;

use polars::prelude::{DataFrame, col};

use crate::data::error::Result;
use crate::data::integrate::integrate;
use crate::data::sources::file::{ReadOptions, collect_source, read_frame, scan};
use crate::data::sources::workspace::Workspace;
use crate::progress::Progress;

/// Loads `path`: a `.toml` workspace is integrated (its key is returned; `progress` follows
/// the integration), any other file is read as it is.
pub fn load_table(path: &Path, progress: &Progress) -> Result<(DataFrame, Option<String>)> {
    if crate::data::sources::workspace::is_workspace(path) {
        let ws = Workspace::load(path)?;
        let c = integrate(&ws, progress)?;
        Ok((c.table, Some(c.key)))
    } else if crate::data::integrate::log::classify(path, &ReadOptions::default())?.is_log() {
        // A transaction log on its own: its customers (RFM and the rest).
        let (ws, _) = crate::data::integrate::log::workspace_for(&[path.to_path_buf()])?;
        let c = integrate(&ws, progress)?;
        Ok((c.table, Some(c.key)))
    } else {
        Ok((read_frame(path, &ReadOptions::default())?, None))
    }
}

/// Whether `path` is read whole as a table of customers built by the integration (a
/// workspace, or a transaction log on its own) rather than as the rows of a data file.
pub fn is_integrated(path: &Path) -> Result<bool> {
    Ok(crate::data::sources::workspace::is_workspace(path)
        || crate::data::integrate::log::classify(path, &ReadOptions::default())?.is_log())
}

/// Like [`load_table`], but a data file is read for `columns` only (the parser skips the
/// rest), plus its first column when `with_first`, if it has them all; with any of them
/// missing it is read whole, so the caller's "unknown column" message can list what the
/// file has.
pub fn load_columns(
    path: &Path,
    columns: &[String],
    with_first: bool,
    progress: &Progress,
) -> Result<(DataFrame, Option<String>)> {
    if is_integrated(path)? {
        return load_table(path, progress);
    }
    let s = scan(path, &ReadOptions::default())?;
    let mut wanted: Vec<String> = Vec::new();
    if with_first && let Some(first) = s.schema.iter_names().next() {
        wanted.push(first.to_string());
    }
    for c in columns {
        if !wanted.contains(c) {
            wanted.push(c.clone());
        }
    }
    if !wanted.is_empty() && wanted.iter().all(|c| s.schema.contains(c)) {
        let picked: Vec<_> = wanted.iter().map(|c| col(c.as_str())).collect();
        let frame = collect_source(&s.path, s.frame.select(picked))?;
        return Ok((frame, None));
    }
    Ok((collect_source(&s.path, s.frame)?, None))
}

/// The feature matrix of a loaded table (its first column is the key).
pub fn model_matrix(
    table: &DataFrame,
    features: &crate::data::sources::workspace::FeatureConfig,
) -> crate::data::Result<crate::data::features::FeatureMatrix> {
    let key = table
        .get_column_names()
        .first()
        .map(|s| s.to_string())
        .unwrap_or_default();
    crate::data::features::build_features(table, &key, features)
}
