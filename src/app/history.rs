//! Undo/redo (`u`, Ctrl-R) for every change of selection and parameters, and saving the
//! session as a workspace (Ctrl-S).
//!
//! Undo works on snapshots rather than on inverse actions: before each user action the
//! state's selections and parameters ([`Snapshot`]) are captured, and if the action changed
//! them the old snapshot goes on the undo stack. So every key that changes a parameter,
//! present or added later, is undoable without writing its inverse, and undo restores
//! exactly what the screens showed. Results (a model run, mined rules) are not undone: they
//! are what was run, and `r` runs again with the restored parameters.

use std::path::PathBuf;

use super::action::Action;
use super::job::JobRequest;
use super::state::{Command, Overlay, State};
use crate::data::sources::workspace::{Scaling, Workspace};
use crate::pipeline::settings::Settings;
use crate::screens::data::Arrangement;

/// How many changes undo remembers.
const DEPTH: usize = 200;

/// Every selection and parameter the user sets on the screens.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub settings: Settings,
    /// Each Features item: name, used, log1p.
    pub features: Vec<(String, bool, bool)>,
    pub scaling: Scaling,
    /// The Data table's filter and sort (the requested ones while a job arranges).
    pub data: Arrangement,
}

impl Snapshot {
    pub fn of(state: &State) -> Snapshot {
        // By name: the screen's order depends on how the session was opened, not on a choice.
        let mut features: Vec<(String, bool, bool)> = state
            .features
            .items
            .iter()
            .map(|i| (i.name.clone(), i.selected, i.log1p))
            .collect();
        features.sort();
        Snapshot {
            settings: state.settings(),
            features,
            scaling: state.features.scaling,
            data: state
                .data
                .requested
                .clone()
                .unwrap_or_else(|| (state.data.filter.clone(), state.data.sort.clone())),
        }
    }

    /// What differs from `other`, for the status bar ("k-means k", "features").
    pub fn changes(&self, other: &Snapshot) -> Vec<&'static str> {
        let (a, b) = (&self.settings, &other.settings);
        let mut out = Vec::new();
        if self.features != other.features {
            out.push("features");
        }
        if self.scaling != other.scaling {
            out.push("scaling");
        }
        if self.data != other.data {
            out.push("data filter/sort");
        }
        if a.segment != b.segment || a.sweep_max_k != b.sweep_max_k {
            out.push("segment parameters");
        }
        let mining = |r: &crate::pipeline::rules::RulesSettings| {
            let mut r = r.clone();
            r.sort = Default::default();
            r.filter = None;
            r
        };
        if mining(&a.rules) != mining(&b.rules) {
            out.push("rules parameters");
        }
        if a.rules.sort != b.rules.sort {
            out.push("rules sort");
        }
        if a.rules.filter != b.rules.filter {
            out.push("rules filter");
        }
        if a.predict != b.predict {
            out.push("predict parameters");
        }
        if a.clv != b.clv {
            out.push("CLV parameters");
        }
        if a.recommend != b.recommend {
            out.push("recommendation parameters");
        }
        out
    }

    /// Puts the snapshot back on the screens; returns the jobs that brings (the Data table's
    /// arrangement, the correlation of the restored feature selection).
    pub fn restore(self, state: &mut State) -> Vec<Command> {
        let now = Snapshot::of(state);
        let features_changed = now.scaling != self.scaling || now.features != self.features;
        for item in &mut state.features.items {
            if let Some((_, selected, log1p)) = self.features.iter().find(|f| f.0 == item.name) {
                item.selected = *selected;
                item.log1p = *log1p;
            }
        }
        state.features.scaling = self.scaling;
        state.apply_settings(self.settings);
        let mut commands = Vec::new();
        let current = state
            .data
            .requested
            .clone()
            .unwrap_or_else(|| (state.data.filter.clone(), state.data.sort.clone()));
        if current != self.data {
            commands.extend(crate::screens::data::arrange(
                state,
                self.data.0,
                self.data.1,
            ));
        }
        if features_changed {
            commands.extend(crate::screens::features::correlate(state));
        }
        commands
    }
}

/// The undo and redo stacks.
#[derive(Debug, Default)]
pub struct History {
    undo: Vec<Snapshot>,
    redo: Vec<Snapshot>,
}

impl History {
    /// Records `before` if the state now differs from it; a new change clears redo.
    pub fn record(&mut self, before: Snapshot, state_now: &Snapshot) {
        if before == *state_now {
            return;
        }
        self.undo.push(before);
        if self.undo.len() > DEPTH {
            self.undo.remove(0);
        }
        self.redo.clear();
    }

    pub fn clear(&mut self) {
        self.undo.clear();
        self.redo.clear();
    }

    pub fn undo_len(&self) -> usize {
        self.undo.len()
    }

    pub fn redo_len(&self) -> usize {
        self.redo.len()
    }
}

/// Whether an action is the user's and may change selections or parameters (job results,
/// the clock and the terminal size are not undoable).
pub fn tracks(action: &Action) -> bool {
    !matches!(
        action,
        Action::JobStarted(_)
            | Action::JobDone(_)
            | Action::Tick(_)
            | Action::Viewport(_)
            | Action::Undo
            | Action::Redo
            | Action::Save
            // The palette runs its choice through `update`, which records it there.
            | Action::Palette(_)
            | Action::CopySelected { .. }
    )
}

/// Undo, redo, save and the save prompt's Enter (its typing is the shared prompt handling in
/// `state`); None for every other action.
pub fn update(state: &mut State, action: &Action) -> Option<Vec<Command>> {
    match action {
        Action::Undo | Action::Redo => {
            let undo = matches!(action, Action::Undo);
            let h = &mut state.history;
            let Some(snapshot) = (if undo { h.undo.pop() } else { h.redo.pop() }) else {
                state.message = Some(format!("nothing to {}", if undo { "undo" } else { "redo" }));
                return Some(Vec::new());
            };
            let now = Snapshot::of(state);
            let what = now.changes(&snapshot).join(", ");
            let h = &mut state.history;
            let left = if undo {
                h.redo.push(now);
                h.undo.len()
            } else {
                h.undo.push(now);
                h.redo.len()
            };
            let commands = snapshot.restore(state);
            state.error = None;
            state.message = Some(format!(
                "{}: {what} ({left} more to {})",
                if undo { "undone" } else { "redone" },
                if undo { "undo" } else { "redo" },
            ));
            Some(commands)
        }
        Action::Save => {
            if state.table.is_none() {
                state.error = Some("nothing to save yet: wait for the data to load".into());
                return Some(Vec::new());
            }
            match state.save_path.clone() {
                Some(path) => Some(save(state, path)),
                None => {
                    state.overlay = Some(Overlay::SaveAs(suggested_path(state)));
                    Some(Vec::new())
                }
            }
        }
        Action::PromptSubmit if matches!(state.overlay, Some(Overlay::SaveAs(_))) => {
            let Some(Overlay::SaveAs(text)) = state.overlay.take() else {
                return Some(Vec::new());
            };
            let text = text.trim();
            if text.is_empty() {
                return Some(Vec::new());
            }
            let path = PathBuf::from(text);
            if path.extension().is_none_or(|e| e != "toml") {
                state.error = Some(format!(
                    "{text}: a workspace file ends in .toml; try {}.toml",
                    text.trim_end_matches('.')
                ));
                state.overlay = Some(Overlay::SaveAs(text.to_string()));
                return Some(Vec::new());
            }
            Some(save(state, path))
        }
        _ => None,
    }
}

/// The path the save prompt offers: the workspace the session was opened on, or one beside
/// the data file.
fn suggested_path(state: &State) -> String {
    // The bundled sample is not the analyst's to overwrite: offer a new file here.
    let bundled = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data/crmlens.toml");
    if let (Some(p), Ok(b)) = (&state.source, std::fs::canonicalize(&bundled))
        && std::fs::canonicalize(p).ok() == Some(b)
    {
        return "my-workspace.toml".into();
    }
    match &state.source {
        Some(p) if p.extension().is_some_and(|e| e == "toml") => p.display().to_string(),
        Some(p) => {
            let stem = p
                .file_stem()
                .map_or("workspace".into(), |s| s.to_string_lossy().into_owned());
            p.with_file_name(format!("{stem}.crmlens.toml"))
                .display()
                .to_string()
        }
        None => "workspace.toml".into(),
    }
}

/// The session as a workspace: the one it was opened on (or a plain one over the data
/// file), with the Features selection and every screen's parameters.
pub fn session_workspace(state: &State) -> Workspace {
    let mut ws = match (&state.workspace, &state.source) {
        (Some(ws), _) => (**ws).clone(),
        (None, Some(p)) => {
            let mut ws = Workspace::for_customers_file(p);
            // A database table opened on its own: its URL (without a password) and table.
            if let Some(cfg) = state
                .sources
                .shown_entry()
                .and_then(|e| e.target.source_config())
            {
                ws.sources.customers = cfg;
            }
            ws
        }
        (None, None) => Workspace::for_customers_file(std::path::Path::new("customers.csv")),
    };
    ws.features = state.features.config();
    // The session's column types (`t`), as the `schema` of the file they were set on: the
    // data file, or a transaction log's one file. In a workspace over several files, the save
    // job finds the file of each column (see `save`).
    if !state.types.is_empty() && one_file(&ws) {
        let types = state.types.clone();
        ws.sources.customers.schema.extend(types.clone());
        for s in [
            &mut ws.sources.orders,
            &mut ws.sources.tickets,
            &mut ws.sources.sessions,
        ]
        .into_iter()
        .flatten()
        {
            s.schema.extend(types.clone());
        }
    }
    // The session's personal-data marks and exemptions (`P`).
    for (column, kind) in &state.privacy.pii {
        ws.privacy.pii.insert(column.clone(), *kind);
        ws.privacy.not_pii.retain(|c| c != column);
    }
    for column in &state.privacy.not_pii {
        ws.privacy.pii.remove(column);
        if !ws.privacy.not_pii.contains(column) {
            ws.privacy.not_pii.push(column.clone());
        }
    }
    crate::pipeline::settings::to_workspace(&state.settings(), &mut ws);
    ws
}

/// Whether every source of `ws` is the same file (a data file, or a transaction log).
fn one_file(ws: &Workspace) -> bool {
    let paths: std::collections::BTreeSet<std::path::PathBuf> = ws
        .sources_by_role()
        .into_iter()
        .map(|(_, s)| ws.resolve(s))
        .collect();
    paths.len() == 1
}

/// Asks for the session to be written to `path` (on a worker thread: atomically, the
/// previous file kept as `.bak`). The column types of a workspace over several files go to
/// the sources whose files have the columns, found there.
fn save(state: &mut State, path: PathBuf) -> Vec<Command> {
    let workspace = Box::new(session_workspace(state));
    let types = if one_file(&workspace) {
        Default::default()
    } else {
        state.types.clone()
    };
    state.start_job(JobRequest::SaveWorkspace {
        path,
        workspace,
        types,
    })
}
