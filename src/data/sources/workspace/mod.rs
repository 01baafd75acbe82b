//! The workspace file (TOML): the sources and their keys, the cleaning policy and the default
//! features. Parsing and validation only; nothing here reads the data files themselves.
//!
//! Unknown keys are rejected (`deny_unknown_fields`), so a typo in a workspace is an error that
//! names the key instead of a setting that silently does nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::data::error::{DataError, Result};

mod policy;
mod sample;

pub use policy::{
    CleaningPolicy, DedupPolicy, FeatureConfig, InvalidPolicy, MissingPolicy, Scaling,
};
pub use sample::sample_workspace_toml;

/// An analysis section (`[segment]`, `[rules]`, `[predict]`, `[clv]`, `[recommend]`) as
/// written: its keys are the analysis's settings, read (key by key, each bad value a
/// problem that keeps its default) by `pipeline::settings`, which knows the analyses.
pub type Section = toml::Table;

/// A whole workspace file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Workspace {
    #[serde(default)]
    pub workspace: WorkspaceMeta,
    pub sources: Sources,
    #[serde(default)]
    pub cleaning: CleaningPolicy,
    #[serde(default)]
    pub features: FeatureConfig,
    /// Personal-data columns marked or exempted, and whether to show them unmasked.
    #[serde(default)]
    pub privacy: crate::data::privacy::PrivacyConfig,
    /// The Segments screen's algorithm and parameters.
    #[serde(default, skip_serializing_if = "Section::is_empty")]
    pub segment: Section,
    /// The Rules screen's baskets, thresholds, sort and filter.
    #[serde(default, skip_serializing_if = "Section::is_empty")]
    pub rules: Section,
    /// The Predict screen's target, model and parameters.
    #[serde(default, skip_serializing_if = "Section::is_empty")]
    pub predict: Section,
    /// The CLV screen's calibration, horizon and discount.
    #[serde(default, skip_serializing_if = "Section::is_empty")]
    pub clv: Section,
    /// The Recommend screen's list length and neighbourhood.
    #[serde(default, skip_serializing_if = "Section::is_empty")]
    pub recommend: Section,
    /// Identity resolution: the other customer lists to link with the customers, the
    /// fields, the threshold (the Identity screen and `crmlens link`'s settings).
    #[serde(default, skip_serializing_if = "Section::is_empty")]
    pub identity: Section,
    /// Where the per-customer aggregation of the activity sources runs.
    #[serde(default, skip_serializing_if = "is_default")]
    pub engine: EngineConfig,
    /// Folder the relative source paths are resolved from (the workspace file's folder).
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// Read by [`Workspace::load_lenient`] (the workbench): a missing-value policy for a
    /// column the 360 table lacks (its source was left out) is a warning, not an error.
    #[serde(skip)]
    pub lenient: bool,
    /// Where the workspace was read from, for messages.
    #[serde(skip)]
    pub file: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceMeta {
    #[serde(default)]
    pub name: Option<String>,
    /// The customer key shared by every source (each source may override it with `key`).
    #[serde(default = "default_key")]
    pub customer_key: String,
    /// Reference date for recency, tenure and age ("as of"). Default: the day after the latest
    /// order date in the data.
    #[serde(default)]
    pub reference_date: Option<NaiveDate>,
}

impl Default for WorkspaceMeta {
    fn default() -> Self {
        WorkspaceMeta {
            name: None,
            customer_key: default_key(),
            reference_date: None,
        }
    }
}

fn is_empty_path(p: &Path) -> bool {
    p.as_os_str().is_empty()
}

/// The engine that aggregates the activity sources per customer (`[engine]`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// polars on this machine, streaming.
    #[default]
    Local,
    /// Apache Spark through Spark Connect (`remote = "sc://host:15002"`).
    Spark,
}

/// `[engine] kind = "local" | "spark"`, `remote = "sc://host:port"`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    #[serde(default)]
    pub kind: EngineKind,
    /// The Spark Connect server (`sc://host:port`), for `kind = "spark"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
}

impl EngineConfig {
    /// Checks the remote's form: `sc://host:port`; the one-line reason when it is not.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.kind == EngineKind::Local {
            return Ok(());
        }
        let Some(remote) = &self.remote else {
            return Err(
                "[engine] kind = \"spark\" needs `remote = \"sc://host:port\"` (or --spark-remote)"
                    .into(),
            );
        };
        let bad = |why: &str| {
            Err(format!(
                "Spark remote `{remote}`: {why}; use sc://host:port (e.g. sc://spark.internal:15002)"
            ))
        };
        let Some(rest) = remote.strip_prefix("sc://") else {
            return bad("it must start with sc://");
        };
        let hostport = rest.split(['/', ';']).next().unwrap_or_default();
        match hostport.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(()),
            Some((_, port)) if !port.is_empty() => bad(&format!("port `{port}` is not a number")),
            _ if hostport.is_empty() => bad("the host is missing"),
            _ => Ok(()),
        }
    }
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn default_key() -> String {
    "customer_id".to_string()
}

/// The sources by role. Customers are the spine of the 360 table; the others are optional.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Sources {
    pub customers: SourceConfig,
    #[serde(default)]
    pub orders: Option<SourceConfig>,
    #[serde(default)]
    pub tickets: Option<SourceConfig>,
    #[serde(default)]
    pub sessions: Option<SourceConfig>,
}

/// One data file and how to read it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The file (relative to the workspace's folder); empty for a database `url`.
    #[serde(default, skip_serializing_if = "is_empty_path")]
    pub path: PathBuf,
    /// A PostgreSQL source: `postgres://user@host:port/database` (the password, if any, from
    /// the URL, PGPASSWORD or ~/.pgpass), with `table` or `query`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// csv, tsv, parquet, json or ndjson; default from the file extension.
    #[serde(default)]
    pub format: Option<String>,
    /// Field delimiter for CSV; default detected from the first lines.
    #[serde(default)]
    pub delimiter: Option<String>,
    /// The customer key column in this source; default `workspace.customer_key`.
    #[serde(default)]
    pub key: Option<String>,
    /// Role column -> column name in this file (see [`RoleColumns`] for the roles).
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// Date columns and the formats (chrono strftime) to try, in order.
    #[serde(default)]
    pub dates: BTreeMap<String, Vec<String>>,
    /// Type overrides: column -> int | float | text | bool.
    #[serde(default)]
    pub schema: BTreeMap<String, String>,
    /// A database source (`format = "sqlite"`, or a .sqlite/.sqlite3/.db path): the table
    /// to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// A database source: an SQL query to read instead of a table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// A SQLite activity source: a column whose value grows with every new row (an
    /// increasing id, or when the row was added). Rows are read in its order, and
    /// `integrate --state` reads only the rows past the last run's largest value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<String>,
}

/// The role columns each source may map, with their default names (those of the bundled sample).
pub struct RoleColumns;

impl RoleColumns {
    pub const CUSTOMERS: &'static [(&'static str, &'static str)] = &[
        ("email", "email"),
        ("birth_date", "birth_date"),
        ("signup_date", "signup_date"),
        ("updated_at", "updated_at"),
    ];
    pub const ORDERS: &'static [(&'static str, &'static str)] = &[
        ("order_id", "order_id"),
        ("date", "order_date"),
        ("product", "product"),
        ("category", "category"),
        ("quantity", "quantity"),
        ("unit_price", "unit_price"),
        // The line total (when there is no quantity x unit price), and a line's own id.
        ("amount", "amount"),
        ("line_id", "line_id"),
    ];
    pub const TICKETS: &'static [(&'static str, &'static str)] = &[
        ("date", "opened_at"),
        ("satisfaction", "satisfaction"),
        ("resolution_hours", "resolution_hours"),
    ];
    pub const SESSIONS: &'static [(&'static str, &'static str)] = &[
        ("date", "session_start"),
        ("pages", "pages"),
        ("duration", "duration_s"),
    ];
}

impl SourceConfig {
    /// How to read this source (the workspace's `format`, `delimiter`, `schema`, `table`,
    /// `query`, `url`).
    pub fn read_options(&self) -> crate::data::sources::file::ReadOptions {
        crate::data::sources::file::ReadOptions {
            format: self.format.clone(),
            delimiter: self.delimiter.clone(),
            schema: self.schema.clone(),
            keep_date_text: true,
            table: self.table.clone(),
            query: self.query.clone(),
            url: self.url.clone(),
            watermark: self.watermark.clone(),
            ..Default::default()
        }
    }

    /// The column playing `role`, and whether the user named it explicitly.
    pub fn role_column(&self, role: &str, defaults: &[(&str, &str)]) -> Option<(String, bool)> {
        if let Some(name) = self.columns.get(role) {
            return Some((name.clone(), true));
        }
        defaults
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, c)| (c.to_string(), false))
    }
}

/// Whether `path` names a workspace file (`.toml`) rather than a data file.
pub fn is_workspace(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
}

impl Workspace {
    /// The orders source's customer column: its own key, else the workspace's.
    pub fn orders_key(&self) -> String {
        self.sources
            .orders
            .as_ref()
            .and_then(|o| o.key.clone())
            .unwrap_or_else(|| self.workspace.customer_key.clone())
    }

    /// The orders source's column for `role` (date, product, quantity...), as mapped or by
    /// its default name; None without an orders source.
    pub fn orders_role(&self, role: &str) -> Option<String> {
        self.sources
            .orders
            .as_ref()
            .and_then(|o| o.role_column(role, RoleColumns::ORDERS))
            .map(|(c, _)| c)
    }

    /// Reads and validates a workspace file.
    pub fn load(path: &Path) -> Result<Workspace> {
        let text = read_text(path)?;
        let mut ws = Workspace::parse(&text, path)?;
        ws.base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        ws.file = path.to_path_buf();
        Ok(ws)
    }

    /// Reads a workspace for the workbench, keeping what is valid: a key with a wrong name or
    /// type is left out (the rest of its table is kept), and an activity source whose file is
    /// missing is dropped (local engine), each with a warning naming the file, line and key. A syntax error,
    /// or a problem with the customers source, is still an error: there is nothing to open.
    pub fn load_lenient(path: &Path) -> Result<(Workspace, Vec<String>)> {
        let text = read_text(path)?;
        let (mut ws, mut warnings) = Workspace::parse_lenient(&text, path)?;
        ws.base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        ws.file = path.to_path_buf();
        ws.lenient = true;
        // With the Spark engine the cluster reads the activity sources (paths this machine
        // may not see): whether they exist is for it to say.
        let local = ws.engine.kind == EngineKind::Local;
        let missing: Vec<&'static str> = ws
            .sources_by_role()
            .into_iter()
            .filter(|(role, src)| {
                local
                    && *role != "customers"
                    && src.url.is_none()
                    && !crate::data::sources::file::source_exists(&ws.resolve(src))
            })
            .map(|(role, _)| role)
            .collect();
        for role in missing {
            let src = match role {
                "orders" => ws.sources.orders.take(),
                "tickets" => ws.sources.tickets.take(),
                _ => ws.sources.sessions.take(),
            };
            if let Some(src) = src {
                let line = text
                    .find(&format!("[sources.{role}]"))
                    .map(|at| format!("line {}: ", line_of(&text, at)))
                    .unwrap_or_default();
                warnings.push(format!(
                    "{}: {line}[sources.{role}] path `{}`: file not found; opened without {role}",
                    path.display(),
                    ws.resolve(&src).display()
                ));
            }
        }
        Ok((ws, warnings))
    }

    /// [`Workspace::parse`], leaving out each key the typed reading rejects (unknown, wrong
    /// type) or, when the check after reading fails, reporting it; see
    /// [`Workspace::load_lenient`].
    pub fn parse_lenient(text: &str, path: &Path) -> Result<(Workspace, Vec<String>)> {
        if let Err(e) = text.parse::<toml::Table>() {
            return Err(DataError::Workspace {
                path: path.to_path_buf(),
                message: one_line_toml_error(&e, text),
            });
        }
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut warnings = Vec::new();
        for _ in 0..100 {
            let current = lines.join("\n");
            match toml::from_str::<Workspace>(&current) {
                Ok(mut ws) => {
                    ws.file = path.to_path_buf();
                    ws.validate()?;
                    return Ok((ws, warnings));
                }
                Err(e) => {
                    let Some(span) = e.span() else {
                        return Err(DataError::Workspace {
                            path: path.to_path_buf(),
                            message: one_line_toml_error(&e, &current),
                        });
                    };
                    let at = line_of(&current, span.start) - 1;
                    // An empty file (or an error past the last line) has no line to drop.
                    if at >= lines.len() {
                        return Err(DataError::Workspace {
                            path: path.to_path_buf(),
                            message: one_line_toml_error(&e, &current),
                        });
                    }
                    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
                    let key = lines[at].split('=').next().unwrap_or("").trim().to_string();
                    // The table the line is in: its header line and name.
                    let header = (0..=at)
                        .rev()
                        .find(|&l| lines[l].trim_start().starts_with('['))
                        .map(|l| {
                            (
                                l,
                                lines[l]
                                    .trim()
                                    .trim_matches(|c| c == '[' || c == ']')
                                    .trim()
                                    .to_string(),
                            )
                        });
                    let message = e.message().replace('\n', " ");
                    let fatal = || DataError::Workspace {
                        path: path.to_path_buf(),
                        message: format!("line {}: {message}", at + 1),
                    };
                    let range = match &header {
                        Some((_, name))
                            if name == "sources" || name.starts_with("sources.customers") =>
                        {
                            return Err(fatal());
                        }
                        None if key.is_empty() => return Err(fatal()),
                        Some((h, name)) if name.starts_with("sources.") => {
                            // A broken activity source is left out whole.
                            let role = name
                                .trim_start_matches("sources.")
                                .split('.')
                                .next()
                                .unwrap_or("");
                            warnings.push(format!(
                                "{}: line {}: `{key}` in [{name}]: {message}; the {role} source is left out",
                                path.display(),
                                at + 1
                            ));
                            let start = (0..=*h)
                                .rev()
                                .find(|&l| lines[l].trim() == format!("[sources.{role}]"))
                                .unwrap_or(*h);
                            let mut end = start + 1;
                            while end < lines.len() {
                                let t = lines[end].trim();
                                if t.starts_with('[')
                                    && !t.starts_with(&format!("[sources.{role}."))
                                {
                                    break;
                                }
                                end += 1;
                            }
                            start..end
                        }
                        _ => {
                            warnings.push(format!(
                                "{}: line {}: `{key}`: {message}; ignored",
                                path.display(),
                                at + 1
                            ));
                            entry_lines(&refs, at)
                        }
                    };
                    let before = lines.clone();
                    for l in range {
                        lines[l] = String::new();
                    }
                    if lines == before {
                        return Err(DataError::Workspace {
                            path: path.to_path_buf(),
                            message: one_line_toml_error(&e, &current),
                        });
                    }
                }
            }
        }
        Err(DataError::Workspace {
            path: path.to_path_buf(),
            message: "too many errors; check the file against sample_data/crmlens.toml".into(),
        })
    }

    /// The workspace as TOML, source paths relative to `dir` when they are under it, else
    /// absolute (so the file works wherever it is saved).
    pub fn to_toml(&self, dir: &Path) -> Result<String> {
        let mut ws = self.clone();
        let rebase = |src: &mut SourceConfig, base: &Path| {
            if src.url.is_some() {
                return;
            }
            let abs = if src.path.is_absolute() {
                src.path.clone()
            } else {
                base.join(&src.path)
            };
            let abs = abs.canonicalize().unwrap_or(abs);
            let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
            src.path = abs.strip_prefix(&dir).map(Path::to_path_buf).unwrap_or(abs);
        };
        let base = self.base_dir.clone();
        rebase(&mut ws.sources.customers, &base);
        for s in [
            ws.sources.orders.as_mut(),
            ws.sources.tickets.as_mut(),
            ws.sources.sessions.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            rebase(s, &base);
        }
        // The other customer lists of [identity]: `path` of each entry of `sources`.
        if let Some(toml::Value::Array(list)) = ws.identity.get_mut("sources") {
            for entry in list.iter_mut() {
                if let Some(toml::Value::String(p)) = entry.get_mut("path") {
                    let mut src = SourceConfig {
                        path: PathBuf::from(p.as_str()),
                        ..Default::default()
                    };
                    rebase(&mut src, &base);
                    *p = src.path.to_string_lossy().to_string();
                }
            }
        }
        toml::to_string_pretty(&ws).map_err(|e| DataError::Workspace {
            path: self.file.clone(),
            message: format!("cannot write as TOML: {e}"),
        })
    }

    /// Writes the workspace to `path` (source paths relative to its folder) atomically; an
    /// existing file is first copied to `path.bak`, so a save never loses the previous
    /// version. Returns the backup's path when there was a previous file. An existing file
    /// keeps its permissions (a symbolic link is written through, not replaced); a new one
    /// holding a database URL is readable by its owner only.
    pub fn save(&self, path: &Path) -> Result<Option<PathBuf>> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            return Err(DataError::Invalid(format!(
                "{}: folder {} does not exist; create it or choose another path",
                path.display(),
                dir.display()
            )));
        }
        let text = self.to_toml(dir)?;
        let bak = if path.exists() {
            let mut name = path.as_os_str().to_os_string();
            name.push(".bak");
            let bak = PathBuf::from(name);
            std::fs::copy(path, &bak).map_err(|e| DataError::io(&bak, e))?;
            Some(bak)
        } else {
            None
        };
        let private = self.sources_by_role().iter().any(|(_, s)| s.url.is_some());
        let mut f = crate::data::write::AtomicFile::create_with(path, true, private)?;
        std::io::Write::write_all(f.file(), text.as_bytes()).map_err(|e| DataError::io(path, e))?;
        f.commit()?;
        Ok(bak)
    }

    /// Parses workspace text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Workspace> {
        let mut ws: Workspace = toml::from_str(text).map_err(|e| DataError::Workspace {
            path: path.to_path_buf(),
            message: one_line_toml_error(&e, text),
        })?;
        ws.file = path.to_path_buf();
        ws.validate()?;
        Ok(ws)
    }

    fn validate(&self) -> Result<()> {
        let bad = |message: String| DataError::Workspace {
            path: self.file.clone(),
            message,
        };
        for (name, src) in self.sources_by_role() {
            let allowed: Vec<&str> = role_defaults(name).iter().map(|(r, _)| *r).collect();
            for role in src.columns.keys() {
                if !allowed.contains(&role.as_str()) {
                    return Err(bad(format!(
                        "unknown role column `{role}` in [sources.{name}.columns] (allowed: {})",
                        allowed.join(", ")
                    )));
                }
            }
            for (col, ty) in &src.schema {
                if !matches!(ty.as_str(), "int" | "float" | "text" | "bool") {
                    return Err(bad(format!(
                        "unknown type `{ty}` for column `{col}` in [sources.{name}.schema] (use int, float, text or bool)"
                    )));
                }
            }
            for (col, formats) in &src.dates {
                for f in formats {
                    crate::data::dates::check_format(f)
                        .map_err(|why| bad(format!("[sources.{name}] dates.{col}: {why}")))?;
                }
            }
            if let Some(d) = &src.delimiter
                && parse_delimiter(d).is_none()
            {
                return Err(bad(format!(
                    "delimiter `{d}` in [sources.{name}] {DELIMITER_RULE}"
                )));
            }
            if let Some(f) = &src.format
                && !matches!(
                    f.as_str(),
                    "csv" | "tsv" | "baskets" | "parquet" | "json" | "ndjson" | "jsonl"
                )
            {
                return Err(bad(format!(
                    "unknown format `{f}` in [sources.{name}] (use csv, tsv, baskets, parquet, json or ndjson)"
                )));
            }
        }
        for (col, policy) in &self.cleaning.missing {
            MissingPolicy::parse(policy)
                .map_err(|m| bad(format!("[cleaning.missing] {col}: {m}")))?;
        }
        if self.features.max_categories < 2 {
            return Err(bad("[features] max_categories must be at least 2".into()));
        }
        Ok(())
    }

    /// The configured sources with their role names, customers first.
    pub fn sources_by_role(&self) -> Vec<(&'static str, &SourceConfig)> {
        let mut v = vec![("customers", &self.sources.customers)];
        if let Some(s) = &self.sources.orders {
            v.push(("orders", s));
        }
        if let Some(s) = &self.sources.tickets {
            v.push(("tickets", s));
        }
        if let Some(s) = &self.sources.sessions {
            v.push(("sessions", s));
        }
        v
    }

    /// The source of a role (`customers`, `orders`, `tickets`, `sessions`), to change it.
    pub fn source_mut(&mut self, role: &str) -> Option<&mut SourceConfig> {
        match role {
            "customers" => Some(&mut self.sources.customers),
            "orders" => self.sources.orders.as_mut(),
            "tickets" => self.sources.tickets.as_mut(),
            "sessions" => self.sources.sessions.as_mut(),
            _ => None,
        }
    }

    /// Writes each column type (`t` in the workbench) into the `schema` of every file
    /// source whose file has that column (read for its header only); returns the columns no
    /// source file has (a column the integration makes, such as `monetary`).
    pub fn place_types(
        &mut self,
        types: &BTreeMap<String, String>,
    ) -> crate::data::error::Result<Vec<String>> {
        let mut headers = Vec::new();
        for (role, src) in self.sources_by_role() {
            if src.url.is_some() {
                continue;
            }
            let s = crate::data::sources::file::scan(&self.resolve(src), &src.read_options())?;
            headers.push((role, s.schema));
        }
        let mut unplaced = Vec::new();
        for (column, ty) in types {
            let mut placed = false;
            for (role, schema) in &headers {
                if schema.contains(column)
                    && let Some(src) = self.source_mut(role)
                {
                    src.schema.insert(column.clone(), ty.clone());
                    placed = true;
                }
            }
            if !placed {
                unplaced.push(column.clone());
            }
        }
        Ok(unplaced)
    }

    /// A source's path resolved against the workspace folder.
    pub fn resolve(&self, src: &SourceConfig) -> PathBuf {
        if let Some(url) = &src.url {
            // A database: named by its URL, password masked.
            return crate::data::sources::postgres::display_path(url);
        }
        if src.path.is_absolute() {
            src.path.clone()
        } else {
            self.base_dir.join(&src.path)
        }
    }

    /// The key column of a source.
    pub fn key_of(&self, src: &SourceConfig) -> String {
        src.key
            .clone()
            .unwrap_or_else(|| self.workspace.customer_key.clone())
    }

    /// A workspace over plain files, with every setting at its default (for `crmlens FILE...`).
    pub fn for_customers_file(path: &Path) -> Workspace {
        Workspace {
            workspace: WorkspaceMeta {
                name: None,
                customer_key: default_key(),
                reference_date: None,
            },
            sources: Sources {
                customers: SourceConfig {
                    path: path.to_path_buf(),
                    ..SourceConfig::default()
                },
                orders: None,
                tickets: None,
                sessions: None,
            },
            cleaning: CleaningPolicy::default(),
            features: FeatureConfig::default(),
            privacy: Default::default(),
            segment: Default::default(),
            rules: Default::default(),
            predict: Default::default(),
            clv: Default::default(),
            recommend: Default::default(),
            identity: Default::default(),
            engine: Default::default(),
            base_dir: PathBuf::from("."),
            file: path.to_path_buf(),
            lenient: false,
        }
    }
}

/// The default role columns of a source role.
pub fn role_defaults(role: &str) -> &'static [(&'static str, &'static str)] {
    match role {
        "customers" => RoleColumns::CUSTOMERS,
        "orders" => RoleColumns::ORDERS,
        "tickets" => RoleColumns::TICKETS,
        "sessions" => RoleColumns::SESSIONS,
        _ => &[],
    }
}

/// A delimiter as written in a workspace or on the command line.
/// A workspace file is small text: a FIFO, a device or a huge file is refused before it is
/// read, and text that is not UTF-8 is named.
const MAX_WORKSPACE_BYTES: u64 = 16 << 20;

fn read_text(path: &Path) -> Result<String> {
    let size = crate::data::sources::precheck::regular_file(path)?;
    if size > MAX_WORKSPACE_BYTES {
        return Err(DataError::Workspace {
            path: path.to_path_buf(),
            message: format!(
                "is {} MB; a workspace file is a small TOML file (did you mean to open it as data?)",
                size >> 20
            ),
        });
    }
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| DataError::Workspace {
        path: path.to_path_buf(),
        message: format!(
            "is not UTF-8 text (invalid byte at offset {}); save it as UTF-8",
            e.utf8_error().valid_up_to()
        ),
    })
}

/// What a delimiter must be, for messages: one byte, so `é` (one character, two bytes in
/// UTF-8) is not one.
pub const DELIMITER_RULE: &str =
    "must be a single ASCII (one-byte) character such as `;` or `|`, or \"tab\"";

pub fn parse_delimiter(s: &str) -> Option<u8> {
    match s {
        "\\t" | "\t" | "tab" => Some(b'\t'),
        _ if s.len() == 1 && s.is_ascii() => Some(s.as_bytes()[0]),
        _ => None,
    }
}

/// The 1-based line of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn one_line_toml_error(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message().replace('\n', " ");
    match e.span() {
        Some(span) => format!("line {}: {msg}", line_of(text, span.start)),
        None => msg,
    }
}

/// The lines `[first, end)` of the entry starting on line `first`: a `[table]` header and
/// its keys up to the next header, or a key with its value (more than one line while an
/// array or inline table is open).
fn entry_lines(lines: &[&str], first: usize) -> std::ops::Range<usize> {
    let t = lines[first].trim_start();
    if t.starts_with('[') {
        let mut end = first + 1;
        while end < lines.len() && !lines[end].trim_start().starts_with('[') {
            end += 1;
        }
        return first..end;
    }
    let mut depth = 0i32;
    let mut end = first;
    while end < lines.len() {
        let part = if end == first {
            t.split_once('=').map_or("", |(_, v)| v)
        } else {
            lines[end]
        };
        for c in part.chars() {
            match c {
                '[' | '{' => depth += 1,
                ']' | '}' => depth -= 1,
                _ => {}
            }
        }
        end += 1;
        if depth <= 0 {
            break;
        }
    }
    first..end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_workspace_parses_and_has_every_role() {
        let ws = Workspace::parse(&sample_workspace_toml(), Path::new("crmlens.toml")).unwrap();
        assert_eq!(ws.sources_by_role().len(), 4);
        assert_eq!(
            ws.workspace.reference_date,
            NaiveDate::from_ymd_opt(2025, 1, 1)
        );
        assert_eq!(ws.cleaning.missing["gender"], "constant:unknown");
        assert_eq!(ws.features.scaling, Scaling::Standard);
    }

    #[test]
    fn defaults_without_a_workspace_table() {
        let ws = Workspace::parse(
            "[sources.customers]\npath = \"c.csv\"\n",
            Path::new("w.toml"),
        )
        .unwrap();
        assert_eq!(ws.workspace.customer_key, "customer_id");
        assert!(ws.cleaning.trim_text && ws.cleaning.dedup_activity.is_none());
        assert_eq!(ws.cleaning.invalid_lines, InvalidPolicy::Drop);
        assert_eq!(ws.features.max_categories, 20);
    }

    /// Bad date formats were accepted, and then every order line was dropped as an
    /// unparseable date. Now the workspace does not load: one line naming the file, the key
    /// and the format, in the strict and the workbench's lenient reading.
    #[test]
    fn a_bad_date_format_is_an_error_naming_file_key_and_format() {
        for (format, why) in [
            ("%Q", "not a valid date format"),
            ("", "empty"),
            ("%Y-%m-%", "not a valid date format"),
            ("%H:%M", "does not hold a whole date"),
        ] {
            let text = format!(
                "[sources.customers]\npath = \"c.csv\"\n[sources.orders]\npath = \"o.csv\"\ndates = {{ order_date = [\"%Y-%m-%d\", \"{format}\"] }}\n"
            );
            for e in [
                Workspace::parse(&text, Path::new("w.toml")).unwrap_err(),
                Workspace::parse_lenient(&text, Path::new("w.toml")).unwrap_err(),
            ] {
                let e = e.to_string();
                assert!(
                    e.starts_with("w.toml: [sources.orders] dates.order_date: "),
                    "{e}"
                );
                assert!(e.contains(why), "{e}");
                if !format.is_empty() {
                    assert!(e.contains(&format!("`{format}`")), "{e}");
                }
                assert!(!e.contains('\n'));
            }
        }
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let text = "[sources.customers]\npath = \"c.csv\"\ndelimeter = \";\"\n";
        let err = Workspace::parse(text, Path::new("w.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("w.toml"), "{msg}");
        assert!(msg.contains("delimeter"), "{msg}");
    }

    #[test]
    fn lenient_reading_leaves_out_bad_keys_and_names_their_lines() {
        let text = "[workspace]\nname = \"w\"\ncolour = \"red\"\n\n[sources.customers]\npath = \"c.csv\"\n\n[features]\nnumeric = [\n  \"a\",\n  \"b\",\n]\nscaling = 3\nlog1p = [\"a\"]\n\n[segmnt]\nk = 4\n";
        let (ws, warnings) = Workspace::parse_lenient(text, Path::new("w.toml")).unwrap();
        assert_eq!(ws.workspace.name.as_deref(), Some("w"));
        assert_eq!(ws.features.numeric, vec!["a", "b"]);
        assert_eq!(ws.features.log1p, vec!["a"]);
        assert_eq!(ws.features.scaling, Scaling::Standard);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(
            warnings[0].starts_with("w.toml: line 3: `colour`"),
            "{warnings:?}"
        );
        assert!(
            warnings[1].starts_with("w.toml: line 13: `scaling`"),
            "{warnings:?}"
        );
        assert!(
            warnings[2].starts_with("w.toml: line 16: `[segmnt]`"),
            "{warnings:?}"
        );
        // The strict reading refuses the same text, naming the line.
        let msg = Workspace::parse(text, Path::new("w.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("line 3"), "{msg}");
    }

    #[test]
    fn lenient_reading_still_refuses_syntax_errors_and_a_bad_customers_source() {
        let msg = Workspace::parse_lenient("[sources.customers\npath = 1\n", Path::new("w.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("w.toml: line 1"), "{msg}");
        let msg = Workspace::parse_lenient("[sources.customers]\npath = 3\n", Path::new("w.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("line 2"), "{msg}");
    }

    #[test]
    fn a_missing_activity_file_is_dropped_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c.csv"), "customer_id\n1\n").unwrap();
        let path = dir.path().join("w.toml");
        std::fs::write(
            &path,
            "[sources.customers]\npath = \"c.csv\"\n\n[sources.orders]\npath = \"gone.csv\"\n",
        )
        .unwrap();
        let (ws, warnings) = Workspace::load_lenient(&path).unwrap();
        assert!(ws.sources.orders.is_none());
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("line 4: [sources.orders] path"),
            "{warnings:?}"
        );
        assert!(warnings[0].contains("gone.csv"), "{warnings:?}");
    }

    #[test]
    fn saved_paths_are_relative_to_the_new_folder_or_absolute() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("data/c.csv"), "customer_id\n1\n").unwrap();
        let mut ws = Workspace::parse(
            "[sources.customers]\npath = \"c.csv\"\n",
            Path::new("w.toml"),
        )
        .unwrap();
        ws.base_dir = dir.path().join("data");
        let text = ws.to_toml(dir.path()).unwrap();
        let back = Workspace::parse(&text, Path::new("w.toml")).unwrap();
        assert_eq!(back.sources.customers.path, Path::new("data/c.csv"));
        let elsewhere = tempfile::tempdir().unwrap();
        let text = ws.to_toml(elsewhere.path()).unwrap();
        let back = Workspace::parse(&text, Path::new("w.toml")).unwrap();
        assert!(back.sources.customers.path.is_absolute());
        assert!(back.sources.customers.path.ends_with("data/c.csv"));
        // [identity]'s customer lists move the same way.
        std::fs::write(dir.path().join("data/l.csv"), "member_id\n1\n").unwrap();
        let mut ws = Workspace::parse(
            "[sources.customers]\npath = \"c.csv\"\n[identity]\nsources = [{ path = \"l.csv\", key = \"member_id\" }]\n",
            Path::new("w.toml"),
        )
        .unwrap();
        ws.base_dir = dir.path().join("data");
        let text = ws.to_toml(dir.path()).unwrap();
        let back = Workspace::parse(&text, Path::new("w.toml")).unwrap();
        let list = back.identity["sources"].as_array().unwrap();
        assert_eq!(list[0]["path"].as_str(), Some("data/l.csv"));
        assert_eq!(list[0]["key"].as_str(), Some("member_id"));
    }

    #[test]
    fn saving_keeps_the_previous_file_as_bak_and_refuses_a_missing_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c.csv"), "customer_id\n1\n").unwrap();
        let mut ws = Workspace::parse(
            "[sources.customers]\npath = \"c.csv\"\n",
            Path::new("w.toml"),
        )
        .unwrap();
        ws.base_dir = dir.path().to_path_buf();
        let path = dir.path().join("w.toml");
        assert_eq!(ws.save(&path).unwrap(), None);
        let first = std::fs::read_to_string(&path).unwrap();
        ws.segment.insert("k".into(), 7.into());
        let bak = ws.save(&path).unwrap().unwrap();
        assert_eq!(bak, dir.path().join("w.toml.bak"));
        assert_eq!(std::fs::read_to_string(&bak).unwrap(), first);
        let back = Workspace::load(&path).unwrap();
        assert_eq!(back.segment.get("k"), Some(&toml::Value::Integer(7)));
        assert_eq!(back.sources.customers.path, Path::new("c.csv"));

        let msg = ws
            .save(&dir.path().join("no/such/w.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("does not exist"), "{msg}");
    }

    #[test]
    fn bad_missing_policy_and_role_are_rejected() {
        let text =
            "[sources.customers]\npath = \"c.csv\"\n[cleaning.missing]\nincome = \"average\"\n";
        let msg = Workspace::parse(text, Path::new("w.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("income") && msg.contains("average"), "{msg}");

        let text = "[sources.customers]\npath = \"c.csv\"\n[sources.orders]\npath = \"o.csv\"\ncolumns = { price_total = \"x\" }\n";
        let msg = Workspace::parse(text, Path::new("w.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("price_total") && msg.contains("sources.orders"),
            "{msg}"
        );
    }

    #[test]
    fn missing_policy_parses_constant() {
        assert_eq!(
            MissingPolicy::parse("constant:n/a").unwrap(),
            MissingPolicy::Constant("n/a".into())
        );
        assert!(MissingPolicy::parse("avg").is_err());
    }

    #[test]
    fn delimiters() {
        assert_eq!(parse_delimiter(";"), Some(b';'));
        assert_eq!(parse_delimiter("tab"), Some(b'\t'));
        assert_eq!(parse_delimiter("\\t"), Some(b'\t'));
        assert_eq!(parse_delimiter(";;"), None);
    }
}
