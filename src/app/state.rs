//! The app state and `update`, the only place it changes. `update` never does I/O or spawns
//! threads: it returns [`Command`]s (start this job) that the event loop carries out, so the
//! whole UI can be driven and checked in tests without a terminal.

use std::sync::Arc;

use polars::prelude::DataFrame;

use super::action::Action;
use super::job::{JobKind, JobRequest, RunningJob};
pub use crate::analytics::segment::SegmentParams;
use crate::data::integrate::quality::QualityReport;
use crate::screens::Screen;

pub use crate::screens::ExportTarget;

/// A pop-up that takes the keys while it is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    Help,
    ConfirmQuit,
    /// Typing a filter for the Data table.
    Filter(String),
    /// Every message and error of the session in full (`!`), scrolled up this many lines
    /// from the newest.
    Messages(usize),
    /// Typing a value for a Segments parameter (field index, text).
    Edit(usize, String),
    /// Typing the file name to export `target` to.
    Export {
        target: ExportTarget,
        name: String,
    },
    /// The file `target` was to be exported to exists: y replaces it.
    ConfirmOverwrite {
        target: ExportTarget,
        path: std::path::PathBuf,
    },
    /// Typing the path to save the workspace to (Ctrl-S, the first time).
    SaveAs(String),
    /// The source picker (`o`): the sources and their status; Enter opens one.
    Sources,
    /// The role editor (`r` in the source picker): each role's column, found or chosen.
    Roles,
    /// Typing a path or `postgres://` URL to open (`a` in the source picker).
    OpenSource(String),
    /// A load failed: the whole message (the data loaded before stays).
    LoadFailed(String),
    /// The command palette (`:` or Ctrl-P).
    Palette(super::palette::Palette),
    /// `t` on the Data screen: the type to read this column as.
    ColumnType(String),
}

/// Something for the event loop to do: start a job, or put text on the clipboard (OSC 52,
/// see `super::clipboard`).
// A few at a time, carried out at once: a job request's size does not matter here.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Command {
    Spawn {
        id: u64,
        request: JobRequest,
    },
    Copy(String),
    /// Give the terminal back to the shell and stop until `fg` (the event loop does it).
    Suspend,
}

/// Everything the screen shows.
#[derive(Debug, Default)]
pub struct State {
    pub screen: Screen,
    pub overlay: Option<Overlay>,
    pub title: String,
    pub table: Option<Arc<DataFrame>>,
    pub report: Option<QualityReport>,
    pub jobs: Vec<RunningJob>,
    next_id: u64,
    /// The last message (info) or error, shown in the status bar.
    pub message: Option<String>,
    pub error: Option<String>,
    /// Every message, warning and error of the session, oldest first (the last
    /// [`LOG_LINES`]), in full: `!` shows them.
    pub log: Vec<String>,
    pub data: crate::screens::data::DataView,
    pub features: crate::screens::features::FeaturesView,
    pub segments: crate::screens::segments::SegmentsView,
    pub rules: crate::screens::rules::RulesView,
    pub predict: crate::screens::predict::PredictView,
    pub clv: crate::screens::clv::ClvView,
    pub recommend: crate::screens::recommend::RecommendView,
    pub identity: crate::screens::identity::IdentityView,
    /// The workspace or data file the workbench was opened on (the Rules screen mines its
    /// order lines).
    pub source: Option<std::path::PathBuf>,
    /// First visible step of the Quality screen's table.
    pub quality_row: usize,
    /// Rows the table area shows (set from the terminal size).
    pub viewport: usize,
    /// NO_COLOR: draw with modifiers only.
    pub no_color: bool,
    /// Personal-data columns of the table (masked on screen unless `show_pii`).
    pub pii: Vec<crate::data::privacy::PiiColumn>,
    /// Personal data shown unmasked (`--show-pii` or the workspace's `show_pii`).
    pub show_pii: bool,
    /// Exports replace the customer key by its keyed pseudonym (`--pseudonymise`, or the
    /// workspace's `[privacy] pseudonymise`).
    pub pseudonymise: bool,
    /// Demo mode (`crmlens demo`): the walkthrough being played.
    pub demo: Option<super::demo::Demo>,
    /// The workspace the session was opened on, as read (Ctrl-S saves it with the screens'
    /// settings); None for a plain data file.
    pub workspace: Option<Box<crate::data::sources::workspace::Workspace>>,
    /// Where Ctrl-S writes without asking (set by the first save).
    pub save_path: Option<std::path::PathBuf>,
    /// Undo and redo of selections and parameters.
    pub history: super::history::History,
    /// What the workspace set wrongly when it opened (file, line, key); the Quality screen
    /// lists them all.
    pub warnings: Vec<String>,
    /// The source picker (`o`).
    pub sources: super::sources::SourcesView,
    /// The order lines' column roles chosen in the role editor.
    pub roles: super::roles::RolesView,
    /// Personal-data marks and exemptions made in the session (`P` on the Data screen),
    /// saved into the workspace's `[privacy]` by Ctrl-S.
    pub privacy: crate::data::privacy::PrivacyConfig,
    /// Column types set in the session (`t` on the Data screen: column -> int, float, text
    /// or bool), read into every file of the session; Ctrl-S saves them as the data file's
    /// `schema`.
    pub types: std::collections::BTreeMap<String, String>,
    /// The sources followed: what arrived, the auto mode, the rows the last refresh marked.
    pub follow: super::follow::FollowView,
    pub quit: bool,
}

impl State {
    pub fn new(title: String) -> State {
        State {
            title,
            viewport: 20,
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
            ..State::default()
        }
    }

    /// Rows in the Data view (after the filter).
    pub fn rows(&self) -> usize {
        match (&self.data.order, &self.table) {
            (Some(o), _) => o.len(),
            (None, Some(t)) => t.height(),
            _ => 0,
        }
    }

    /// How to mask `column` on screen: its kind while personal data is hidden, else None.
    pub fn masking(&self, column: &str) -> Option<crate::data::privacy::PiiKind> {
        if self.show_pii {
            return None;
        }
        self.pii.iter().find(|p| p.column == column).map(|p| p.kind)
    }

    /// `text`, a value of `column`, as the screen may show it.
    pub fn shown(&self, column: &str, text: String) -> String {
        match self.masking(column) {
            Some(kind) => crate::data::privacy::mask(kind, &text),
            None => text,
        }
    }

    pub fn columns(&self) -> usize {
        self.table.as_ref().map_or(0, |t| t.width())
    }

    pub fn column_name(&self, i: usize) -> Option<String> {
        let t = self.table.as_ref()?;
        t.get_column_names().get(i).map(|s| s.to_string())
    }

    /// The running job of a kind, if any.
    pub fn job(&self, kind: JobKind) -> Option<&RunningJob> {
        self.jobs.iter().find(|j| j.kind == kind)
    }

    /// Asks for a job; a running job of the same kind is cancelled and its result ignored.
    fn start(&mut self, request: JobRequest) -> Command {
        let kind = request.kind();
        for j in self.jobs.iter().filter(|j| j.kind == kind) {
            j.progress.cancel();
        }
        self.jobs.retain(|j| j.kind != kind);
        self.next_id += 1;
        Command::Spawn {
            id: self.next_id,
            request,
        }
    }

    /// Starts loading; the first frame can be drawn before the data is there.
    pub fn load(&mut self, request: JobRequest) -> Vec<Command> {
        let target = match &request {
            JobRequest::Workspace(p) => Some(super::sources::Target::Workspace(p.clone())),
            JobRequest::Open { path, options } => Some(super::sources::Target::Source {
                path: path.clone(),
                options: options.clone(),
            }),
            _ => None,
        };
        if let Some(t) = target {
            // The first load names the session's source at once; later ones when they
            // succeed (a failed load leaves everything as it was).
            if self.source.is_none() {
                self.source = Some(t.path().to_path_buf());
            }
            self.sources.begin(t);
        }
        vec![self.start(request)]
    }

    /// The workspace or file the order-line screens (Rules, CLV, Recommend) read; None, with
    /// the reason in the status line, when nothing is open or what is shown is a database
    /// table opened on its own.
    pub fn order_lines_input(&mut self) -> Option<std::path::PathBuf> {
        if let Some(problem) = self.sources.order_lines_problem() {
            self.error = Some(problem);
            return None;
        }
        if self.source.is_none() {
            self.error = Some("no order lines: open a workspace or an order-lines file".into());
        }
        self.source.clone()
    }

    /// Asks for a job on the session's order lines with the analyst's column roles (Rules,
    /// CLV, Recommend); nothing, with the reason in the status line, when there are none.
    pub fn start_on_order_lines(
        &mut self,
        request: impl FnOnce(std::path::PathBuf, crate::data::sources::roles::Given) -> JobRequest,
    ) -> Vec<Command> {
        let Some(input) = self.order_lines_input() else {
            return Vec::new();
        };
        let roles = self.roles.given_for(&input);
        self.start_job(request(input, roles))
    }

    /// Asks for a job (a running job of the same kind is cancelled).
    pub fn start_job(&mut self, request: JobRequest) -> Vec<Command> {
        vec![self.start(request)]
    }
}

/// Messages the session log keeps.
pub const LOG_LINES: usize = 500;

impl State {
    /// Adds to the log what changed: a new error or message, new warnings.
    fn record(&mut self, error: Option<String>, message: Option<String>, warnings: usize) {
        let mut add = |line: String| {
            self.log.push(line);
        };
        for w in self.warnings.iter().skip(warnings) {
            add(format!("warning: {w}"));
        }
        if self.error.is_some() && self.error != error {
            add(format!(
                "error: {}",
                self.error.as_deref().unwrap_or_default()
            ));
        }
        if self.message.is_some() && self.message != message {
            add(self.message.clone().unwrap_or_default());
        }
        if self.log.len() > LOG_LINES {
            let extra = self.log.len() - LOG_LINES;
            self.log.drain(..extra);
        }
    }
}

/// Applies one action to the state; returns what the event loop must do. A change of
/// selections or parameters is recorded for undo; new messages go into the log.
pub fn update(state: &mut State, action: Action) -> Vec<Command> {
    let (error, message, warnings) = (
        state.error.clone(),
        state.message.clone(),
        state.warnings.len(),
    );
    let out = update_unlogged(state, action);
    // A new load replaces the warnings: fewer than before means all of them are new.
    let warnings = if state.warnings.len() < warnings {
        0
    } else {
        warnings
    };
    state.record(error, message, warnings);
    out
}

fn update_unlogged(state: &mut State, action: Action) -> Vec<Command> {
    if state.demo.is_some() {
        return super::demo::update(state, action);
    }
    if let Some(commands) = super::history::update(state, &action) {
        return commands;
    }
    if !super::history::tracks(&action) {
        return apply(state, action);
    }
    let before = super::history::Snapshot::of(state);
    let commands = apply(state, action);
    let after = super::history::Snapshot::of(state);
    state.history.record(before, &after);
    commands
}

fn apply(state: &mut State, action: Action) -> Vec<Command> {
    if let Some(commands) = super::palette::update(state, &action) {
        return commands;
    }
    if let Some(commands) = super::clipboard::update(state, &action) {
        return commands;
    }
    if let Some(commands) = super::roles::update(state, &action) {
        return commands;
    }
    if let Some(commands) = super::sources::update(state, &action) {
        return commands;
    }
    if let Some(commands) = (state.screen.spec().update)(state, &action) {
        return commands;
    }
    match action {
        Action::Quit => {
            if state.jobs.iter().any(|j| {
                matches!(
                    j.kind,
                    JobKind::Load
                        | JobKind::Model
                        | JobKind::Rules
                        | JobKind::Predict
                        | JobKind::Clv
                        | JobKind::Recommend
                        | JobKind::Identity
                )
            }) {
                state.overlay = Some(Overlay::ConfirmQuit);
            } else {
                state.quit = true;
            }
        }
        Action::Suspend => return vec![Command::Suspend],
        Action::Refresh => return super::follow::refresh(state),
        Action::ToggleFollow => return super::follow::toggle_auto(state),
        Action::SourcesChanged(now) => return super::follow::changed(state, now),
        Action::PollDatabases => return super::follow::poll(state),
        Action::ForceQuit => {
            for j in &state.jobs {
                j.progress.cancel();
            }
            state.quit = true;
        }
        Action::GoTo(s) => {
            state.screen = s;
            state.overlay = None;
        }
        Action::NextTab => state.screen = state.screen.next(),
        Action::PrevTab => state.screen = state.screen.prev(),
        // A screen's own keys: its `update` (see `crate::screens::SCREENS`) takes them while
        // it is shown; elsewhere they do nothing.
        Action::Down(_)
        | Action::Up(_)
        | Action::PageDown
        | Action::PageUp
        | Action::Top
        | Action::Bottom
        | Action::Left
        | Action::Right
        | Action::Sort
        | Action::StartSearch
        | Action::PromptSubmit
        | Action::ToggleFeature
        | Action::ToggleLog
        | Action::CycleScaling
        | Action::Adjust(_)
        | Action::StartEdit
        | Action::StartExport
        | Action::ExportProfiles
        | Action::SaveModel
        | Action::ConfirmOverwrite
        | Action::ToggleSweepView
        | Action::CycleProfile
        | Action::ScrollProfiles(_)
        | Action::RunSweep
        | Action::RunCompare
        | Action::RunNextPeriod
        | Action::Label(_)
        | Action::RunModel => {}
        // Every typed prompt: the filter, export and save names, the path or URL to open.
        Action::PromptChar(c) => match &mut state.overlay {
            Some(
                Overlay::Filter(text)
                | Overlay::Export { name: text, .. }
                | Overlay::SaveAs(text)
                | Overlay::OpenSource(text),
            ) => text.push(c),
            Some(Overlay::Edit(_, text)) if c.is_ascii_digit() || c == '.' || c == '-' => {
                text.push(c)
            }
            _ => {}
        },
        Action::PromptBackspace => {
            if let Some(
                Overlay::Filter(text)
                | Overlay::Edit(_, text)
                | Overlay::Export { name: text, .. }
                | Overlay::SaveAs(text)
                | Overlay::OpenSource(text),
            ) = &mut state.overlay
            {
                text.pop();
            }
        }
        Action::ToggleMessages => {
            state.overlay = match state.overlay {
                Some(Overlay::Messages(_)) => None,
                _ => Some(Overlay::Messages(0)),
            };
        }
        Action::ScrollMessages(up) => {
            if let Some(Overlay::Messages(n)) = &mut state.overlay {
                *n = if up {
                    n.saturating_add(1)
                } else {
                    n.saturating_sub(1)
                };
            }
        }
        Action::ToggleHelp => {
            state.overlay = match state.overlay {
                Some(Overlay::Help) => None,
                _ => Some(Overlay::Help),
            }
        }
        Action::ToggleSources => {
            state.overlay = match state.overlay {
                Some(Overlay::Sources) => None,
                _ => {
                    // The cursor starts on the entry shown.
                    if let Some(i) = state
                        .sources
                        .shown_entry()
                        .map(|e| e.id)
                        .and_then(|id| state.sources.entries.iter().position(|e| e.id == id))
                    {
                        state.sources.cursor = i;
                    }
                    Some(Overlay::Sources)
                }
            }
        }
        Action::Escape => {
            if state.overlay.take().is_none() {
                if state.jobs.is_empty() {
                    state.message = Some("nothing to cancel".into());
                }
                for j in &state.jobs {
                    j.progress.cancel();
                }
                if !state.jobs.is_empty() {
                    let labels: Vec<&str> = state.jobs.iter().map(|j| j.label.as_str()).collect();
                    state.message = Some(format!("cancelling {}...", labels.join("; ")));
                }
            }
        }
        Action::Viewport(n) => state.viewport = n,
        // Rules-screen and Predict-screen keys (their `update`).
        Action::RulesParam(_) | Action::Drill | Action::SortRules(_) => {}
        Action::ApplyBest | Action::ToggleCurve => {}
        // Demo mode only (`super::demo::update`).
        Action::Demo(_) | Action::Tick(_) => {}
        // `super::history::update`.
        Action::Undo | Action::Redo | Action::Save => {}
        // The command palette and copying (`super::palette`, `super::clipboard`).
        Action::Palette(_)
        | Action::CopySelected { .. }
        | Action::Sources(_)
        | Action::Roles(_)
        | Action::TogglePii
        | Action::StartColumnType
        | Action::SetColumnType(_) => {}
        Action::JobStarted(job) => state.jobs.push(job),
        Action::JobDone(done) => return super::done::finished(state, *done),
    }
    Vec::new()
}
