//! Data files without a workspace: a transaction log on its own (customer, date, amount on
//! every line, customers repeating) is a data set, and so is a log with a customer list. The
//! files' column roles (see [`crate::data::sources::roles`]) make the workspace an analyst
//! would have written, in memory, and the integration builds the one-row-per-customer table
//! from it (RFM, tenure, average order value, distinct categories when present). With the
//! log alone, the customers are the log's distinct customers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::data::error::{DataError, Result};
use crate::data::sources::file::ReadOptions;
use crate::data::sources::roles::{self, Role, Roles};
use crate::data::sources::workspace::{
    CleaningPolicy, EngineConfig, FeatureConfig, SourceConfig, Sources, Workspace, WorkspaceMeta,
};

/// Lines per customer (among the first rows) above which a file with a customer, a date and
/// an amount is a log rather than a customer table with a date and a total.
const LOG_REPEATS: f64 = 1.2;

/// A data file and the roles found in it.
#[derive(Debug, Clone)]
pub struct Classified {
    pub path: PathBuf,
    pub roles: Roles,
    /// Lines per distinct customer among the rows looked at (1.0: one row per customer).
    pub repeats: f64,
}

impl Classified {
    /// A transaction log: a customer, a date and an amount, customers repeating.
    pub fn is_log(&self) -> bool {
        self.roles.is_transaction_log() && self.repeats >= LOG_REPEATS
    }
}

/// Column roles the analyst chose for a log in the workbench's role editor, per file: the
/// log's customer table is built with them (the one-row-per-customer table follows the
/// customer, date and amount columns chosen, not only the order-line screens).
static SESSION_ROLES: std::sync::Mutex<BTreeMap<PathBuf, roles::Given>> =
    std::sync::Mutex::new(BTreeMap::new());

fn roles_key(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Sets (or, empty, clears) the roles chosen for the log `path`.
pub fn set_session_roles(path: &Path, given: roles::Given) {
    let mut all = SESSION_ROLES.lock().unwrap_or_else(|e| e.into_inner());
    if given.is_empty() {
        all.remove(&roles_key(path));
    } else {
        all.insert(roles_key(path), given);
    }
}

fn session_roles(path: &Path) -> roles::Given {
    let all = SESSION_ROLES.lock().unwrap_or_else(|e| e.into_inner());
    all.get(&roles_key(path)).cloned().unwrap_or_default()
}

/// Finds `path`'s roles on its first rows, and how often its customers repeat.
pub fn classify(path: &Path, opts: &ReadOptions) -> Result<Classified> {
    // Dates as written, so that the roles say how they are written (the integration parses
    // them with those formats and counts what does not parse).
    let opts = ReadOptions {
        keep_date_text: true,
        ..opts.clone()
    };
    let s = crate::data::sources::file::scan(path, &opts)?;
    let head = s
        .frame
        .limit(10_000)
        .collect()
        .map_err(|e| crate::data::sources::file::malformed_error(&s.path, &e))?;
    let mut roles = roles::detect(&head);
    let given = session_roles(path);
    if !given.is_empty() {
        let found_date = roles.get(Role::Date).map(str::to_string);
        roles.apply(&given);
        // Another date column: how its text is written.
        let date = roles.get(Role::Date).map(str::to_string);
        if date != found_date {
            roles.date_formats = date
                .and_then(|c| head.column(&c).ok().cloned())
                .and_then(|c| c.cast(&polars::prelude::DataType::String).ok())
                .and_then(|c| {
                    let values: Vec<&str> = c.str().ok()?.iter().flatten().collect();
                    crate::data::dates::infer_formats(
                        &values,
                        crate::data::sources::reading::MIN_SHARE,
                    )
                })
                .map(|r| r.formats)
                .unwrap_or_default();
        }
    }
    let repeats = roles
        .get(Role::Customer)
        .and_then(|c| head.column(c).ok())
        .map_or(1.0, |c| {
            let n = c.len() - c.null_count();
            let u = c.n_unique().unwrap_or(n).max(1);
            n as f64 / u as f64
        });
    Ok(Classified {
        path: path.to_path_buf(),
        roles,
        repeats,
    })
}

/// The orders source of a log: its roles as `[sources.orders]` columns.
fn orders_source(log: &Classified) -> SourceConfig {
    let mut columns = BTreeMap::new();
    for a in &log.roles.assigned {
        if a.role != Role::Customer {
            columns.insert(a.role.name().to_string(), a.column.clone());
        }
    }
    let mut dates = BTreeMap::new();
    if let Some(d) = log.roles.get(Role::Date)
        && !log.roles.date_formats.is_empty()
    {
        dates.insert(d.to_string(), log.roles.date_formats.clone());
    }
    SourceConfig {
        path: log.path.clone(),
        key: log.roles.get(Role::Customer).map(str::to_string),
        columns,
        dates,
        ..Default::default()
    }
}

/// The workspace for `inputs` (data files): one transaction log, and optionally one customer
/// table (a file with a customer id that is not a log). Errors name the file and what it
/// lacks.
pub fn workspace_for(inputs: &[PathBuf]) -> Result<(Workspace, Vec<Classified>)> {
    let mut files = Vec::new();
    for p in inputs {
        files.push(classify(p, &ReadOptions::default())?);
    }
    let logs: Vec<&Classified> = files.iter().filter(|c| c.is_log()).collect();
    let tables: Vec<&Classified> = files.iter().filter(|c| !c.is_log()).collect();
    let Some(log) = logs.first().copied() else {
        let first = &files[0];
        return Err(DataError::Invalid(format!(
            "{}: not a transaction log: a log needs a customer id, a date and an amount on each line, with customers repeating (found: {}); open it on its own with `crmlens FILE`, or write a workspace (docs/workspace.md)",
            first.path.display(),
            first.roles.summary()
        )));
    };
    if logs.len() > 1 {
        return Err(DataError::Invalid(format!(
            "{} and {}: two transaction logs; give one log (and optionally one customer table), or write a workspace for several activity sources (docs/workspace.md)",
            logs[0].path.display(),
            logs[1].path.display()
        )));
    }
    if tables.len() > 1 {
        return Err(DataError::Invalid(format!(
            "{} and {}: two customer tables; give one (with the log), or write a workspace",
            tables[0].path.display(),
            tables[1].path.display()
        )));
    }
    let orders = orders_source(log);
    let log_key = orders.key.clone().unwrap_or_default();
    let (customers, key) = match tables.first() {
        Some(t) => {
            let Some(k) = t.roles.get(Role::Customer) else {
                return Err(DataError::Invalid(format!(
                    "{}: no customer id column found to join the log's `{log_key}` on (found: {}); write a workspace naming the key (docs/workspace.md)",
                    t.path.display(),
                    t.roles.summary()
                )));
            };
            (
                SourceConfig {
                    path: t.path.clone(),
                    ..Default::default()
                },
                k.to_string(),
            )
        }
        // The log alone: its distinct customers are the spine.
        None => (
            SourceConfig {
                path: log.path.clone(),
                ..Default::default()
            },
            log_key,
        ),
    };
    let name = log
        .path
        .file_name()
        .map(|n| n.to_string_lossy().to_string());
    let ws = Workspace {
        workspace: WorkspaceMeta {
            name,
            customer_key: key,
            reference_date: None,
        },
        sources: Sources {
            customers,
            orders: Some(orders),
            tickets: None,
            sessions: None,
        },
        cleaning: CleaningPolicy::default(),
        features: FeatureConfig::default(),
        privacy: Default::default(),
        identity: Default::default(),
        segment: Default::default(),
        rules: Default::default(),
        predict: Default::default(),
        clv: Default::default(),
        recommend: Default::default(),
        engine: EngineConfig::default(),
        base_dir: PathBuf::new(),
        lenient: false,
        file: log.path.clone(),
    };
    Ok((ws, files))
}
