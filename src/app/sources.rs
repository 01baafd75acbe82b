//! The source picker (`o`): every source of the session with its status, and keys to open
//! one. It lists the workspace (Enter integrates it again) and each source the workspace
//! configures, the files named on the command line, sources opened with `a` (a path or a
//! `postgres://` URL), and the tables of a database (`t`, or at once when a database is
//! opened without naming a table). Enter reads the selected entry on the worker thread; a
//! load that fails marks the entry failed and leaves the data loaded before in place.

use std::path::{Path, PathBuf};

use super::action::Action;
use super::job::{JobRequest, Loaded};
use super::state::{Command, Overlay, State};
use crate::data::sources::file::ReadOptions;
use crate::data::sources::workspace::{SourceConfig, Workspace};

/// What an entry opens. (A source's read options make it larger than a workspace's path;
/// the sources list holds a few dozen entries, so they are not boxed.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Target {
    /// Integrate a workspace into the 360 table.
    Workspace(PathBuf),
    /// Read one source as it is: a file, or a database's table or query (`path` then only
    /// names it: a PostgreSQL source's masked URL).
    Source { path: PathBuf, options: ReadOptions },
}

impl PartialEq for Target {
    /// The same file or URL, read the same way.
    fn eq(&self, other: &Target) -> bool {
        match (self, other) {
            (Target::Workspace(a), Target::Workspace(b)) => a == b,
            (
                Target::Source {
                    path: a,
                    options: x,
                },
                Target::Source {
                    path: b,
                    options: y,
                },
            ) => {
                a == b
                    && (
                        &x.url,
                        &x.table,
                        &x.query,
                        &x.format,
                        &x.delimiter,
                        &x.schema,
                    ) == (
                        &y.url,
                        &y.table,
                        &y.query,
                        &y.format,
                        &y.delimiter,
                        &y.schema,
                    )
            }
            _ => false,
        }
    }
}

impl Target {
    /// A file path or a `postgres://` URL, as typed or named on the command line.
    pub fn parse(location: &str, table: Option<String>) -> Target {
        let location = location.trim();
        if crate::data::sources::postgres::is_url(location) {
            Target::Source {
                path: crate::data::sources::postgres::display_path(location),
                options: ReadOptions {
                    url: Some(location.to_string()),
                    table,
                    ..ReadOptions::default()
                },
            }
        } else if location.ends_with(".toml") && table.is_none() {
            Target::Workspace(PathBuf::from(location))
        } else {
            Target::Source {
                path: PathBuf::from(location),
                options: ReadOptions {
                    table,
                    ..ReadOptions::default()
                },
            }
        }
    }

    /// The load job.
    pub fn request(&self) -> JobRequest {
        match self {
            Target::Workspace(p) => JobRequest::Workspace(p.clone()),
            Target::Source { path, options } => JobRequest::Open {
                path: path.clone(),
                options: options.clone(),
            },
        }
    }

    /// The file or masked URL.
    pub fn path(&self) -> &Path {
        match self {
            Target::Workspace(p) | Target::Source { path: p, .. } => p,
        }
    }

    /// The format its setting or file extension names (update does no I/O, so a file
    /// without a known extension is "?" until read).
    fn format(&self) -> Option<crate::data::sources::file::Format> {
        use crate::data::sources::file::{Format, format_by_name};
        match self {
            Target::Workspace(_) => None,
            Target::Source { options, .. } if options.url.is_some() => Some(Format::Postgres),
            Target::Source { path, options } => match &options.format {
                Some(f) => format_by_name(f),
                None => path
                    .extension()
                    .and_then(|e| e.to_str())
                    .and_then(|e| format_by_name(&e.to_ascii_lowercase())),
            },
        }
    }

    /// A database (SQLite file or PostgreSQL URL) whose tables can be listed.
    pub fn is_database(&self) -> bool {
        use crate::data::sources::file::Format;
        matches!(self.format(), Some(Format::Sqlite | Format::Postgres))
    }

    /// The source as a workspace's `[sources.customers]` (for Ctrl-S on a source opened on
    /// its own). A URL is written without its password (libpq's lookup in PGPASSWORD or
    /// ~/.pgpass finds it again); None for a workspace.
    pub fn source_config(&self) -> Option<SourceConfig> {
        let Target::Source { path, options } = self else {
            return None;
        };
        let url = options.url.as_deref().map(|u| {
            crate::data::sources::postgres::mask_url(u)
                .replacen(":***@", "@", 1)
                .replace("password=***&", "")
                .replace("&password=***", "")
                .replace("?password=***", "")
        });
        Some(SourceConfig {
            path: if url.is_some() {
                PathBuf::new()
            } else {
                path.clone()
            },
            url,
            format: options.format.clone(),
            delimiter: options.delimiter.clone(),
            schema: options.schema.clone(),
            table: options.table.clone(),
            query: options.query.clone(),
            ..SourceConfig::default()
        })
    }

    /// The table or query read, for display.
    fn detail(&self) -> String {
        match self {
            Target::Source { options, .. } => match (&options.table, &options.query) {
                (Some(t), _) => format!("table {t}"),
                (None, Some(q)) => format!("query {}", brief(q)),
                (None, None) => String::new(),
            },
            Target::Workspace(_) => String::new(),
        }
    }
}

/// `text` on one line, cut to 60 characters (a picker entry's detail).
fn brief(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > 60 {
        format!("{}...", line.chars().take(57).collect::<String>())
    } else {
        line
    }
}

/// Where an entry stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    NotRead,
    Reading,
    Read {
        rows: usize,
        columns: usize,
    },
    /// The load failed: the message's first line.
    Failed(String),
    /// A workspace source that was not read (why).
    Skipped(String),
}

/// One row of the picker.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Stable across inserts (the cursor, the shown and the loading entry refer to it).
    pub id: u64,
    /// workspace, customers, orders, tickets, sessions, file, table, opened.
    pub role: String,
    pub format: String,
    /// 0 at the top, 1 for a workspace's sources and a database's tables.
    pub depth: u8,
    pub target: Target,
    pub status: Status,
    /// What the reader noted (a database type read as text).
    pub notes: Vec<String>,
}

impl Entry {
    /// The file or masked URL, and the table or query.
    pub fn location(&self) -> String {
        let detail = self.target.detail();
        let path = self.target.path().display().to_string();
        if detail.is_empty() {
            path
        } else {
            format!("{path} · {detail}")
        }
    }

    pub fn status_text(&self) -> String {
        match &self.status {
            Status::NotRead => "not read".into(),
            Status::Reading => "reading...".into(),
            Status::Read { rows, columns } => format!("{rows} rows x {columns} cols"),
            Status::Failed(m) => format!("failed: {m}"),
            Status::Skipped(why) => why.clone(),
        }
    }
}

/// The picker's entries and cursor.
#[derive(Debug, Clone, Default)]
pub struct SourcesView {
    pub entries: Vec<Entry>,
    pub cursor: usize,
    /// The entry the table comes from.
    pub shown: Option<u64>,
    /// The entry being read.
    pub loading: Option<u64>,
    /// The entry whose tables are being listed.
    pub listing: Option<u64>,
    next_id: u64,
}

/// A key of the open picker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourcesKey {
    Up,
    Down,
    /// Enter: read the selected entry.
    Open,
    /// `t`: list the selected database's tables.
    Tables,
    /// `a`: type a path or URL to open.
    Add,
    /// `r`: the role editor for the order lines.
    Roles,
}

fn format_of(target: &Target) -> String {
    match (target, target.format()) {
        (Target::Workspace(_), _) => "toml",
        (_, Some(f)) => f.name(),
        (_, None) => "?",
    }
    .into()
}

impl SourcesView {
    fn push(&mut self, at: usize, role: &str, depth: u8, target: Target) -> u64 {
        self.next_id += 1;
        let entry = Entry {
            id: self.next_id,
            role: role.into(),
            format: format_of(&target),
            depth,
            target,
            status: Status::NotRead,
            notes: Vec::new(),
        };
        self.entries.insert(at.min(self.entries.len()), entry);
        self.next_id
    }

    fn index(&self, id: u64) -> Option<usize> {
        self.entries.iter().position(|e| e.id == id)
    }

    fn entry_mut(&mut self, id: Option<u64>) -> Option<&mut Entry> {
        let i = self.index(id?)?;
        self.entries.get_mut(i)
    }

    /// The entry for `target` (added at the end at depth 0 if new).
    fn find_or_add(&mut self, role: &str, target: Target) -> u64 {
        match self.entries.iter().find(|e| e.target == target) {
            Some(e) => e.id,
            None => self.push(self.entries.len(), role, 0, target),
        }
    }

    /// The entries below `id` one level deeper (its sources, or its tables): their range.
    fn children(&self, id: u64) -> std::ops::Range<usize> {
        let Some(i) = self.index(id) else {
            return 0..0;
        };
        let depth = self.entries[i].depth;
        let end = self.entries[i + 1..]
            .iter()
            .position(|e| e.depth <= depth)
            .map_or(self.entries.len(), |n| i + 1 + n);
        i + 1..end
    }

    /// Replaces the children of `id`.
    fn set_children(&mut self, id: u64, children: Vec<(String, Target, Status, Vec<String>)>) {
        let range = self.children(id);
        let Some(parent) = self.index(id) else {
            return;
        };
        let depth = self.entries[parent].depth + 1;
        // A child listed before keeps its id (it may be the one shown) and, unless there is
        // news, its status.
        let old: Vec<Entry> = self.entries.drain(range).collect();
        for (at, (role, target, status, notes)) in (parent + 1..).zip(children) {
            let entry = match old.iter().find(|e| e.target == target) {
                Some(e) => {
                    let mut e = e.clone();
                    if status != Status::NotRead || e.status == Status::Reading {
                        e.status = status;
                    }
                    Entry {
                        role,
                        depth,
                        notes,
                        ..e
                    }
                }
                None => {
                    self.next_id += 1;
                    Entry {
                        id: self.next_id,
                        role,
                        format: format_of(&target),
                        depth,
                        target,
                        status,
                        notes,
                    }
                }
            };
            self.entries.insert(at, entry);
        }
        self.cursor = self.cursor.min(self.entries.len().saturating_sub(1));
    }

    /// A load of `target` starts (from the command line or the picker).
    pub fn begin(&mut self, target: Target) {
        let role = match &target {
            Target::Workspace(_) => "workspace",
            t if t.is_database() => "database",
            _ => "file",
        };
        let id = self.find_or_add(role, target);
        self.loading = Some(id);
        if let Some(e) = self.entry_mut(Some(id)) {
            e.status = Status::Reading;
        }
    }

    /// Files named on the command line after the first: listed, not read.
    pub fn add_files(&mut self, files: &[PathBuf]) {
        for f in files {
            self.find_or_add("file", Target::parse(&f.display().to_string(), None));
        }
    }

    /// The load finished: the entry is shown; a workspace lists its sources under it.
    pub fn loaded(&mut self, l: &Loaded) {
        let id = self.loading.take();
        if let Some(e) = self.entry_mut(id) {
            e.status = Status::Read {
                rows: l.table.height(),
                columns: l.table.width(),
            };
            e.notes = l.notes.clone();
        }
        self.shown = id.or(self.shown);
        if let (Some(id), Some(ws)) = (id, &l.workspace) {
            let children = workspace_sources(ws, l.report.as_ref());
            self.set_children(id, children);
        }
    }

    /// The load failed: the entry says so; what was shown stays.
    pub fn failed(&mut self, message: &str) {
        let id = self.loading.take();
        if let Some(e) = self.entry_mut(id) {
            let first = message.lines().next().unwrap_or_default().to_string();
            e.status = Status::Failed(first);
        }
    }

    /// A database's tables, listed under it: the one `t` asked for, or (`from_load`) the
    /// one being opened without a table.
    pub fn tables(&mut self, names: &[String], from_load: bool) {
        if from_load {
            self.listing = self.loading.take();
            if let Some(e) = self.entry_mut(self.listing) {
                e.status = Status::NotRead;
            }
        }
        let Some(id) = self.listing.take() else {
            return;
        };
        let Some(parent) = self.index(id) else {
            return;
        };
        let Target::Source { path, options } = self.entries[parent].target.clone() else {
            return;
        };
        let children = names
            .iter()
            .map(|n| {
                let target = Target::Source {
                    path: path.clone(),
                    options: ReadOptions {
                        table: Some(n.clone()),
                        query: None,
                        ..options.clone()
                    },
                };
                ("table".to_string(), target, Status::NotRead, Vec::new())
            })
            .collect();
        self.set_children(id, children);
        if let Some(i) = self.index(id) {
            self.cursor = (i + 1).min(self.entries.len().saturating_sub(1));
        }
    }

    /// The entry the table comes from.
    pub fn shown_entry(&self) -> Option<&Entry> {
        self.entries.get(self.index(self.shown?)?)
    }

    /// Why the order-line screens (Rules, CLV, Recommend) cannot use what is shown: a
    /// database table opened on its own (they read a workspace's orders or a data file).
    pub fn order_lines_problem(&self) -> Option<String> {
        let e = self.shown_entry()?;
        (e.target.is_database()).then(|| {
            format!(
                "{} is a database table opened on its own; order lines are read from a workspace (its [sources.orders] can be this table) or a data file: o opens one",
                e.location()
            )
        })
    }

    pub fn selected(&self) -> Option<&Entry> {
        self.entries.get(self.cursor)
    }
}

/// The sources a workspace configures, with what the integration read of each.
fn workspace_sources(
    ws: &Workspace,
    report: Option<&crate::data::integrate::quality::QualityReport>,
) -> Vec<(String, Target, Status, Vec<String>)> {
    let s = &ws.sources;
    let configured = [
        ("customers", Some(&s.customers)),
        ("orders", s.orders.as_ref()),
        ("tickets", s.tickets.as_ref()),
        ("sessions", s.sessions.as_ref()),
    ];
    configured
        .into_iter()
        .filter_map(|(role, cfg)| {
            let cfg = cfg?;
            let target = Target::Source {
                path: ws.resolve(cfg),
                options: cfg.read_options(),
            };
            let read = report.and_then(|r| r.sources.iter().find(|s| s.role == role));
            let (status, notes) = match read {
                Some(r) => (
                    Status::Read {
                        rows: r.rows as usize,
                        columns: r.columns,
                    },
                    r.notes.clone(),
                ),
                None => (Status::Skipped("not read (left out)".into()), Vec::new()),
            };
            Some((role.to_string(), target, status, notes))
        })
        .collect()
}

/// The picker's keys and the `a` prompt's Enter (typing is the shared prompt handling in
/// `state`); None for other actions.
pub fn update(state: &mut State, action: &Action) -> Option<Vec<Command>> {
    match action {
        Action::Sources(key) => Some(key_pressed(state, *key)),
        Action::PromptSubmit if matches!(state.overlay, Some(Overlay::OpenSource(_))) => {
            let Some(Overlay::OpenSource(text)) = state.overlay.take() else {
                return Some(Vec::new());
            };
            if text.trim().is_empty() {
                state.overlay = Some(Overlay::Sources);
                return Some(Vec::new());
            }
            let target = Target::parse(&text, None);
            let id = state.sources.find_or_add("opened", target.clone());
            state.sources.cursor = state.sources.index(id).unwrap_or(0);
            Some(open(state, target))
        }
        _ => None,
    }
}

fn key_pressed(state: &mut State, key: SourcesKey) -> Vec<Command> {
    let view = &mut state.sources;
    let last = view.entries.len().saturating_sub(1);
    match key {
        SourcesKey::Up => view.cursor = view.cursor.saturating_sub(1),
        SourcesKey::Down => view.cursor = (view.cursor + 1).min(last),
        SourcesKey::Add => state.overlay = Some(Overlay::OpenSource(String::new())),
        SourcesKey::Roles => return super::roles::open(state),
        SourcesKey::Open => {
            let Some(entry) = view.selected() else {
                return Vec::new();
            };
            let target = entry.target.clone();
            return open(state, target);
        }
        SourcesKey::Tables => {
            let Some(entry) = view.selected() else {
                return Vec::new();
            };
            if !entry.target.is_database() {
                state.error = Some(format!(
                    "{}: not a database; t lists the tables of a SQLite file or a PostgreSQL URL",
                    entry.target.path().display()
                ));
                return Vec::new();
            }
            let Target::Source { path, options } = entry.target.clone() else {
                return Vec::new();
            };
            view.listing = Some(entry.id);
            return state.start_job(JobRequest::Tables {
                path,
                options: ReadOptions {
                    table: None,
                    query: None,
                    ..options
                },
            });
        }
    }
    Vec::new()
}

/// Reads `target` (the overlay closes, so the load's progress and then the data show).
fn open(state: &mut State, target: Target) -> Vec<Command> {
    state.overlay = None;
    state.load(target.request())
}

/// What a finished load does to the session: the new table, its quality report and
/// personal-data columns, the screens reset for it (the Features selection and the
/// workspace's analysis settings applied), the first summary and correlation asked for.
pub fn opened(state: &mut State, mut l: Loaded, secs: f64) -> Vec<Command> {
    let previous = state.source.clone();
    super::follow::opened(
        state,
        std::mem::take(&mut l.watched),
        std::mem::take(&mut l.seen),
    );
    state.sources.loaded(&l);
    if let Some(e) = state.sources.shown_entry() {
        state.source = Some(e.target.path().to_path_buf());
    }
    state.message = Some(format!(
        "loaded {} rows x {} columns in {secs:.1}s",
        l.table.height(),
        l.table.width()
    ));
    state.error = match l.warnings.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        [first, rest @ ..] => Some(format!("{first} (and {} more: see Quality, 2)", rest.len())),
    };
    state.features =
        crate::screens::features::FeaturesView::from_table(&l.table, l.features.as_ref());
    // The model's parameters stay; the target is the new table's.
    let kept = state.predict.settings.clone();
    state.predict = crate::screens::predict::PredictView::with_targets(l.targets);
    state.predict.value_targets = crate::data::features::target::value_candidates(&l.table);
    state.predict.settings = crate::pipeline::predict::PredictSettings {
        target: state.predict.settings.target.take(),
        ..kept
    };
    if let Some(s) = l.settings {
        state.apply_settings(*s);
    }
    state.workspace = l.workspace;
    // The same source read again (a column's type changed, `t`): the analyst's marks and
    // place stay; another source starts afresh (marks made on the table before belong to it).
    let again = previous.is_some() && previous == state.source;
    if !again {
        state.privacy = Default::default();
        state.types.clear();
    }
    let col = state.data.col;
    state.warnings = l.warnings;
    state.history.clear();
    state.clv.segments = None;
    state.title = l.title;
    state.pii = l.pii;
    state.show_pii |= l.show_pii;
    state.pseudonymise |= l.pseudonymise;
    state.table = Some(std::sync::Arc::new(l.table));
    state.report = l.report;
    state.data = Default::default();
    if again {
        state.data.col = col.min(state.columns().saturating_sub(1));
    }
    state.quality_row = 0;
    let mut cmds = crate::screens::data::summarise(state);
    cmds.extend(crate::screens::features::correlate(state));
    cmds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_saved_without_its_password_and_parsed_as_a_database() {
        let t = Target::parse(
            "postgres://ann:s3cret@db:5432/crm?sslmode=require&password=s3cret",
            Some("sales.orders".into()),
        );
        assert!(t.is_database());
        assert_eq!(
            t.path().display().to_string(),
            "postgres://ann:***@db:5432/crm?sslmode=require&password=***"
        );
        let cfg = t.source_config().unwrap();
        assert_eq!(
            cfg.url.as_deref(),
            Some("postgres://ann@db:5432/crm?sslmode=require")
        );
        assert_eq!(cfg.table.as_deref(), Some("sales.orders"));
        assert!(cfg.path.as_os_str().is_empty());

        assert!(matches!(
            Target::parse("w.toml", None),
            Target::Workspace(_)
        ));
        assert!(Target::parse("crm.sqlite", None).is_database());
        assert!(!Target::parse("orders.csv", None).is_database());
    }

    /// Listing tables under an entry twice replaces them; an entry listed again keeps its id
    /// (it may be the one shown).
    #[test]
    fn tables_listed_again_replace_the_old_ones() {
        let mut v = SourcesView::default();
        v.begin(Target::parse("crm.sqlite", None));
        let db = v.loading.unwrap();
        v.failed("boom");
        assert_eq!(v.entries[0].status, Status::Failed("boom".into()));
        v.listing = Some(db);
        v.tables(&["a".into(), "b".into()], false);
        assert_eq!(v.entries.len(), 3);
        let b = v.entries[2].id;
        v.listing = Some(db);
        v.tables(&["b".into(), "c".into()], false);
        let names: Vec<String> = v.entries.iter().map(|e| e.location()).collect();
        assert_eq!(
            names,
            ["crm.sqlite", "crm.sqlite · table b", "crm.sqlite · table c"]
        );
        assert_eq!(v.entries[1].id, b);
        assert_eq!(v.entries[1].depth, 1);
    }
}
