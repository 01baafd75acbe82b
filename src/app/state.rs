//! The app state and `update`, the only place it changes. `update` never does I/O or spawns
//! threads: it returns [`Command`]s (start this job) that the event loop carries out, so the
//! whole UI can be driven and checked in tests without a terminal.

use crate::pipeline::segment::KDistance;
use std::sync::Arc;

use polars::prelude::{DataFrame, IdxSize};

use super::action::Action;
use super::job::{JobKind, JobOutcome, JobRequest, RunningJob};
use crate::analytics::gmm::CovarianceType;
pub use crate::analytics::segment::SegmentParams;
use crate::analytics::segment::{Algorithm, SegmentModel, SegmentRun};
use crate::analytics::sweep::SweepResult;
use crate::data::features::Correlation;
use crate::data::integrate::explore::ColumnSummary;
use crate::data::integrate::quality::QualityReport;
use crate::data::sources::workspace::{FeatureConfig, Scaling};
use crate::screens::Screen;

/// A pop-up that takes the keys while it is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    Help,
    ConfirmQuit,
    /// Typing a filter for the Data table.
    Search(String),
    /// Typing a value for a Segments parameter (field index, text).
    Edit(usize, String),
    /// Typing the file name to export the segment labels to.
    Export(String),
    /// The export file exists: y replaces it.
    ConfirmOverwrite(std::path::PathBuf),
    /// Typing the path to save the workspace to (Ctrl-S, the first time).
    SaveAs(String),
    /// The source picker (`o`): the sources and their status; Enter opens one.
    Sources,
    /// Typing a path or `postgres://` URL to open (`a` in the source picker).
    OpenSource(String),
    /// A load failed: the whole message (the data loaded before stays).
    LoadFailed(String),
    /// The command palette (`:` or Ctrl-P).
    Palette(super::palette::Palette),
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

/// A filter and a sort (column, descending) of the Data table.
pub type Arrangement = (Option<String>, Option<(String, bool)>);

/// The Data screen.
#[derive(Debug, Default, Clone)]
pub struct DataView {
    /// Selected row (in view order) and selected column.
    pub row: usize,
    pub col: usize,
    /// Row indices of the filtered/sorted view; `None` is the whole table in file order.
    pub order: Option<Arc<Vec<IdxSize>>>,
    pub filter: Option<String>,
    pub sort: Option<(String, bool)>,
    /// The filter and sort of an arrange job in flight: keys pressed meanwhile build on it.
    pub requested: Option<Arrangement>,
    pub summary: Option<ColumnSummary>,
}

/// One column offered on the Features screen.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureItem {
    pub name: String,
    /// Numeric (scaled) or categorical (one-hot encoded).
    pub numeric: bool,
    pub selected: bool,
    pub log1p: bool,
}

/// The Features screen: which columns the models use, and how.
#[derive(Debug, Clone, Default)]
pub struct FeaturesView {
    pub items: Vec<FeatureItem>,
    pub cursor: usize,
    pub scaling: Scaling,
    pub max_categories: usize,
    pub correlation: Option<Correlation>,
}

impl FeaturesView {
    /// Offers every numeric and text column of `table` except the key, with the workspace's
    /// default selection ticked.
    pub fn from_table(table: &DataFrame, defaults: Option<&FeatureConfig>) -> FeaturesView {
        let d = defaults.cloned().unwrap_or_default();
        let mut items = Vec::new();
        for (i, c) in table.columns().iter().enumerate() {
            let name = c.name().to_string();
            let dtype = c.dtype();
            let numeric =
                dtype.is_primitive_numeric() || dtype == &polars::prelude::DataType::Boolean;
            let text = dtype == &polars::prelude::DataType::String;
            if i == 0 || !(numeric || text) {
                continue;
            }
            let selected = if numeric {
                d.numeric.contains(&name)
            } else {
                d.categorical.contains(&name)
            };
            items.push(FeatureItem {
                log1p: d.log1p.contains(&name),
                name,
                numeric,
                selected,
            });
        }
        // Numeric first, then categorical; the workspace's picks first, in its order (so the
        // models see the columns in the order the workspace lists them), then table order.
        let rank = |it: &FeatureItem| {
            let listed = if it.numeric {
                &d.numeric
            } else {
                &d.categorical
            };
            listed
                .iter()
                .position(|n| *n == it.name)
                .unwrap_or(usize::MAX)
        };
        items.sort_by_key(|it| (!it.numeric, rank(it)));
        FeaturesView {
            items,
            cursor: 0,
            scaling: d.scaling,
            max_categories: d.max_categories.max(2),
            correlation: None,
        }
    }

    /// The selection as the models take it.
    pub fn config(&self) -> FeatureConfig {
        let pick = |numeric: bool| {
            self.items
                .iter()
                .filter(|i| i.selected && i.numeric == numeric)
                .map(|i| i.name.clone())
                .collect::<Vec<_>>()
        };
        FeatureConfig {
            numeric: pick(true),
            categorical: pick(false),
            scaling: self.scaling,
            log1p: self
                .items
                .iter()
                .filter(|i| i.selected && i.numeric && i.log1p)
                .map(|i| i.name.clone())
                .collect(),
            max_categories: self.max_categories,
        }
    }
}

/// A parameter on the Segments screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Algorithm,
    K,
    Restarts,
    Seed,
    Eps,
    MinPoints,
    Covariance,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::Algorithm => "algorithm",
            Field::K => "k",
            Field::Restarts => "restarts",
            Field::Seed => "seed",
            Field::Eps => "eps",
            Field::MinPoints => "min points",
            Field::Covariance => "covariance",
        }
    }

    /// Chosen from a list with +/- (nothing to type).
    pub fn is_choice(self) -> bool {
        matches!(self, Field::Algorithm | Field::Covariance)
    }
}

/// The Segments screen: parameters and the last result.
#[derive(Debug, Clone)]
pub struct SegmentsView {
    pub params: SegmentParams,
    /// The parameter the +/- keys change, an index into [`SegmentsView::fields`].
    pub field: usize,
    pub run: Option<SegmentRun>,
    pub sweep: Option<SweepResult>,
    /// DBSCAN's guide: the k-distance curve (from `w`, or from the last DBSCAN run).
    pub k_distance: Option<KDistance>,
    /// Show the guide chart (k sweep, or k-distance for DBSCAN) instead of the scatter.
    pub show_sweep: bool,
    /// What the profile table shows: 0 descriptions, 1 feature means (z), 2 medians.
    pub profile_view: u8,
    /// The k sweep's largest k.
    pub sweep_max_k: usize,
}

impl Default for SegmentsView {
    fn default() -> Self {
        SegmentsView {
            params: SegmentParams::default(),
            // On k, so + and - change it straight away; the algorithm is one row up.
            field: 1,
            run: None,
            sweep: None,
            k_distance: None,
            show_sweep: false,
            profile_view: 0,
            sweep_max_k: 10,
        }
    }
}

impl SegmentsView {
    /// The parameters of the chosen algorithm, in screen order.
    pub fn fields(&self) -> &'static [Field] {
        match self.params.algorithm {
            Algorithm::KMeans => &[Field::Algorithm, Field::K, Field::Restarts, Field::Seed],
            Algorithm::Dbscan => &[Field::Algorithm, Field::Eps, Field::MinPoints],
            Algorithm::Gmm => &[
                Field::Algorithm,
                Field::K,
                Field::Covariance,
                Field::Restarts,
                Field::Seed,
            ],
        }
    }

    /// The selected parameter.
    pub fn current(&self) -> Field {
        let f = self.fields();
        f[self.field.min(f.len() - 1)]
    }

    /// A parameter's value as the screen shows it.
    pub fn display(&self, field: Field) -> String {
        let p = &self.params;
        let gmm = p.algorithm == Algorithm::Gmm;
        match field {
            Field::Algorithm => p.algorithm.title().to_string(),
            Field::K if gmm => p.gmm.k.to_string(),
            Field::K => p.kmeans.k.to_string(),
            Field::Restarts if gmm => p.gmm.n_init.to_string(),
            Field::Restarts => p.kmeans.n_init.to_string(),
            Field::Seed if gmm => p.gmm.seed.to_string(),
            Field::Seed => p.kmeans.seed.to_string(),
            Field::Eps => format!("{:.3}", p.eps),
            Field::MinPoints => p.min_points.to_string(),
            Field::Covariance => p.gmm.covariance.name().to_string(),
        }
    }

    /// +/- on a parameter: the next choice, one more or less, eps in steps of 0.05.
    pub fn adjust(&mut self, field: Field, delta: i64) {
        let p = &mut self.params;
        let step = |v: usize, lo: usize, hi: usize| {
            (v as i64 + delta).clamp(lo as i64, hi as i64) as usize
        };
        let cycle = |i: usize, n: usize| (i as i64 + delta).rem_euclid(n as i64) as usize;
        match field {
            Field::Algorithm => {
                let i = Algorithm::ALL
                    .iter()
                    .position(|a| *a == p.algorithm)
                    .unwrap_or(0);
                p.algorithm = Algorithm::ALL[cycle(i, Algorithm::ALL.len())];
                self.field = 0;
            }
            Field::Covariance => {
                let all = CovarianceType::ALL;
                let i = all.iter().position(|c| *c == p.gmm.covariance).unwrap_or(0);
                p.gmm.covariance = all[cycle(i, all.len())];
            }
            Field::K => {
                let current = if p.algorithm == Algorithm::Gmm {
                    p.gmm.k
                } else {
                    p.kmeans.k
                };
                let k = step(current, 1, 50);
                p.kmeans.k = k;
                p.gmm.k = k;
            }
            Field::Restarts if p.algorithm == Algorithm::Gmm => {
                p.gmm.n_init = step(p.gmm.n_init, 1, 100)
            }
            Field::Restarts => p.kmeans.n_init = step(p.kmeans.n_init, 1, 100),
            Field::Seed => {
                let v = if p.algorithm == Algorithm::Gmm {
                    p.gmm.seed
                } else {
                    p.kmeans.seed
                };
                let v = v.saturating_add_signed(delta);
                p.kmeans.seed = v;
                p.gmm.seed = v;
            }
            Field::Eps => {
                p.eps = ((p.eps + 0.05 * delta as f64) * 1000.0).round() / 1000.0;
                if p.eps <= 0.0 {
                    p.eps = 0.01;
                }
            }
            Field::MinPoints => p.min_points = step(p.min_points, 1, 1000),
        }
    }

    /// A typed value for a parameter, or why it is not valid.
    pub fn set_text(&mut self, field: Field, text: &str) -> Result<(), String> {
        let text = text.trim();
        let whole = |lo: u64, hi: u64| parse_whole(field.name(), text, lo, hi);
        let p = &mut self.params;
        match field {
            Field::K => {
                let k = whole(1, 50)? as usize;
                p.kmeans.k = k;
                p.gmm.k = k;
            }
            Field::Restarts if p.algorithm == Algorithm::Gmm => {
                p.gmm.n_init = whole(1, 100)? as usize
            }
            Field::Restarts => p.kmeans.n_init = whole(1, 100)? as usize,
            Field::Seed => {
                let v = whole(0, u64::MAX)?;
                p.kmeans.seed = v;
                p.gmm.seed = v;
            }
            Field::MinPoints => p.min_points = whole(1, 1000)? as usize,
            Field::Eps => match text.parse::<f64>() {
                Ok(v) if v > 0.0 && v.is_finite() => p.eps = v,
                _ => return Err(format!("eps: {text:?} is not a positive number")),
            },
            Field::Algorithm | Field::Covariance => self.adjust(field, 1),
        }
        Ok(())
    }
}

/// The export keys every result screen shares: `e` asks for a file name, suggesting
/// `ready`'s name (or shows `ready`'s error: what to run first); Enter writes through
/// `export`; `y` in the overwrite prompt writes again, replacing the file. None for other
/// actions.
pub fn export_keys(
    state: &mut State,
    action: &Action,
    ready: Result<&str, &str>,
    export: fn(&mut State, std::path::PathBuf, bool) -> Vec<Command>,
) -> Option<Vec<Command>> {
    match action {
        Action::StartExport => {
            match ready {
                Ok(name) => state.overlay = Some(Overlay::Export(name.into())),
                Err(e) => state.error = Some(e.into()),
            }
            Some(Vec::new())
        }
        Action::SearchSubmit if matches!(state.overlay, Some(Overlay::Export(_))) => {
            if let Some(Overlay::Export(name)) = state.overlay.take()
                && !name.trim().is_empty()
            {
                return Some(export(state, std::path::PathBuf::from(name.trim()), false));
            }
            Some(Vec::new())
        }
        Action::ConfirmOverwrite => {
            if let Some(Overlay::ConfirmOverwrite(path)) = state.overlay.take() {
                return Some(export(state, path, true));
            }
            Some(Vec::new())
        }
        _ => None,
    }
}

/// A typed whole number for parameter `name` in `lo..=hi`, or the one-line reason it is not.
pub fn parse_whole(name: &str, text: &str, lo: u64, hi: u64) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(v) if (lo..=hi).contains(&v) => Ok(v),
        _ => Err(format!(
            "{name}: {text:?} is not a whole number from {lo} to {hi}"
        )),
    }
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
    pub data: DataView,
    pub features: FeaturesView,
    pub segments: SegmentsView,
    pub rules: crate::screens::rules::RulesView,
    pub predict: crate::screens::predict::PredictView,
    pub clv: crate::screens::clv::ClvView,
    pub recommend: crate::screens::recommend::RecommendView,
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
    /// The Segments export prompt is for the cluster profiles (`E`), not the labels (`e`).
    pub export_profiles: bool,
    /// The source picker (`o`).
    pub sources: super::sources::SourcesView,
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

    /// Asks for a job (a running job of the same kind is cancelled).
    pub fn start_job(&mut self, request: JobRequest) -> Vec<Command> {
        vec![self.start(request)]
    }

    /// Every screen's parameters, as a workspace's analysis sections hold them.
    pub fn settings(&self) -> crate::pipeline::settings::Settings {
        crate::pipeline::settings::Settings {
            segment: self.segments.params.clone(),
            sweep_max_k: self.segments.sweep_max_k,
            rules: self.rules.params.clone(),
            rules_sort: self.rules.sort,
            rules_filter: self.rules.filter.clone(),
            predict: self.predict.params.clone(),
            target: self.predict.target.clone(),
            clv: self.clv.settings.clone(),
            top: self.recommend.top,
            neighbours: self.recommend.neighbours,
        }
    }

    /// Sets every screen's parameters (from a workspace, or undo); results stay, views that
    /// follow a parameter at once (threshold, rules filter, list length) follow it.
    pub fn apply_settings(&mut self, s: crate::pipeline::settings::Settings) {
        self.segments.params = s.segment;
        self.segments.sweep_max_k = s.sweep_max_k;
        self.rules.params = s.rules;
        let rules_view_changed =
            self.rules.sort != s.rules_sort || self.rules.filter != s.rules_filter;
        self.rules.sort = s.rules_sort;
        self.rules.filter = s.rules_filter;
        if rules_view_changed && let Err(e) = self.rules.arrange() {
            self.rules.filter = None;
            let _ = self.rules.arrange();
            self.error = Some(e);
        }
        let threshold_changed = self.predict.params.threshold != s.predict.threshold;
        self.predict.params = s.predict;
        if threshold_changed {
            self.predict.apply_threshold();
        }
        match s.target {
            Some(t) if self.predict.targets.contains(&t) => self.predict.target = Some(t),
            Some(_) => {}
            None => {}
        }
        self.clv.settings = s.clv;
        let top_changed = self.recommend.top != s.top;
        self.recommend.top = s.top;
        self.recommend.neighbours = s.neighbours;
        if top_changed {
            self.recommend.refresh();
        }
    }

    pub(super) fn arrange(
        &mut self,
        filter: Option<String>,
        sort: Option<(String, bool)>,
    ) -> Vec<Command> {
        let Some(table) = self.table.clone() else {
            return Vec::new();
        };
        self.data.requested = Some((filter.clone(), sort.clone()));
        vec![self.start(JobRequest::Arrange {
            table,
            filter,
            sort,
        })]
    }

    /// Writes the Quality screen's report, or the last segmentation's profiles or labels, to
    /// `path` (on a worker thread).
    fn export(&mut self, path: std::path::PathBuf, overwrite: bool) -> Vec<Command> {
        if self.screen == Screen::Quality {
            let Some(report) = self.report.clone() else {
                return Vec::new();
            };
            return vec![self.start(JobRequest::ExportQuality {
                path,
                report: Box::new(report),
                overwrite,
            })];
        }
        if self.export_profiles {
            let Some(run) = &self.segments.run else {
                return Vec::new();
            };
            let profiles = run.profiles.clone();
            return vec![self.start(JobRequest::ExportProfiles {
                path,
                profiles,
                overwrite,
            })];
        }
        let (Some(table), Some(run)) = (self.table.clone(), self.segments.run.as_ref()) else {
            return Vec::new();
        };
        let Some(key) = table.get_column_names().first().map(|s| s.to_string()) else {
            return Vec::new();
        };
        let Ok(ids) = table.column(&key).cloned() else {
            return Vec::new();
        };
        let labels = run.labels.clone();
        vec![self.start(JobRequest::ExportLabels {
            path,
            id_col: key,
            ids,
            labels,
            overwrite,
            pseudonymise: self.pseudonymise,
        })]
    }

    /// Starts a model job on the table and the Features selection, or says what is missing.
    fn model_job(
        &mut self,
        make: impl FnOnce(Arc<DataFrame>, FeatureConfig) -> JobRequest,
    ) -> Vec<Command> {
        let Some(table) = self.table.clone() else {
            self.error = Some("no data loaded".into());
            return Vec::new();
        };
        let features = self.features.config();
        if features.numeric.is_empty() && features.categorical.is_empty() {
            self.error = Some("no features selected: pick some on the Features screen (3)".into());
            return Vec::new();
        }
        self.error = None;
        vec![self.start(make(table, features))]
    }

    pub(super) fn correlate(&mut self) -> Vec<Command> {
        let Some(table) = self.table.clone() else {
            return Vec::new();
        };
        let cfg = self.features.config();
        if cfg.numeric.len() < 2 {
            self.features.correlation = None;
            return Vec::new();
        }
        vec![self.start(JobRequest::Correlate {
            table,
            columns: cfg.numeric,
            log1p: cfg.log1p,
        })]
    }

    fn summarise(&mut self) -> Vec<Command> {
        let (Some(table), Some(column)) = (self.table.clone(), self.column_name(self.data.col))
        else {
            return Vec::new();
        };
        if self
            .data
            .summary
            .as_ref()
            .is_some_and(|s| s.profile.name == column)
        {
            return Vec::new();
        }
        vec![self.start(JobRequest::Summarise { table, column })]
    }
}

fn move_row(state: &mut State, to: usize) {
    state.data.row = to.min(state.rows().saturating_sub(1));
}

fn scroll(state: &mut State, down: bool, n: usize) {
    match state.screen {
        Screen::Data => {
            let to = if down {
                state.data.row + n
            } else {
                state.data.row.saturating_sub(n)
            };
            move_row(state, to);
        }
        Screen::Features => {
            let last = state.features.items.len().saturating_sub(1);
            state.features.cursor = if down {
                state.features.cursor.saturating_add(n).min(last)
            } else {
                state.features.cursor.saturating_sub(n)
            };
        }
        Screen::Segments => {
            let last = state.segments.fields().len() - 1;
            let f = &mut state.segments.field;
            *f = if down {
                (*f + n.min(last)).min(last)
            } else {
                f.saturating_sub(n)
            };
        }
        Screen::Quality => {
            let steps = state.report.as_ref().map_or(0, |r| r.steps.len());
            state.quality_row = if down {
                (state.quality_row + n).min(steps.saturating_sub(1))
            } else {
                state.quality_row.saturating_sub(n)
            };
        }
        _ => {}
    }
}

/// Applies one action to the state; returns what the event loop must do. A change of
/// selections or parameters is recorded for undo.
pub fn update(state: &mut State, action: Action) -> Vec<Command> {
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
    if let Some(commands) = super::sources::update(state, &action) {
        return commands;
    }
    if state.screen == Screen::Rules
        && let Some(commands) = crate::screens::rules::update(state, &action)
    {
        return commands;
    }
    if state.screen == Screen::Predict
        && let Some(commands) = crate::screens::predict::update(state, &action)
    {
        return commands;
    }
    if state.screen == Screen::Clv
        && let Some(commands) = crate::screens::clv::update(state, &action)
    {
        return commands;
    }
    if state.screen == Screen::Recommend
        && let Some(commands) = crate::screens::recommend::update(state, &action)
    {
        return commands;
    }
    let page = state.viewport.max(1);
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
                )
            }) {
                state.overlay = Some(Overlay::ConfirmQuit);
            } else {
                state.quit = true;
            }
        }
        Action::Suspend => return vec![Command::Suspend],
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
        Action::Down(n) => scroll(state, true, n),
        Action::Up(n) => scroll(state, false, n),
        Action::PageDown => scroll(state, true, page),
        Action::PageUp => scroll(state, false, page),
        Action::Top => scroll(state, false, usize::MAX),
        Action::Bottom => scroll(state, true, usize::MAX / 2),
        Action::Left if state.screen == Screen::Data => {
            state.data.col = state.data.col.saturating_sub(1);
            return state.summarise();
        }
        Action::Right if state.screen == Screen::Data => {
            state.data.col = (state.data.col + 1).min(state.columns().saturating_sub(1));
            return state.summarise();
        }
        Action::Left | Action::Right => {}
        Action::Sort => {
            let Some(name) = state.column_name(state.data.col) else {
                return Vec::new();
            };
            let (filter, current) = match &state.data.requested {
                Some((f, s)) => (f.clone(), s.clone()),
                None => (state.data.filter.clone(), state.data.sort.clone()),
            };
            let next = match current {
                Some((c, false)) if c == name => Some((name, true)),
                Some((c, true)) if c == name => None,
                _ => Some((name, false)),
            };
            return state.arrange(filter, next);
        }
        Action::ToggleFeature => {
            let f = &mut state.features;
            if let Some(item) = f.items.get_mut(f.cursor) {
                // Personal data is an identifier, not behaviour: while it is masked, it is
                // not offered as a feature (its one-hot levels would show the values).
                if !item.selected
                    && !state.show_pii
                    && state.pii.iter().any(|p| p.column == item.name)
                {
                    state.error = Some(format!(
                        "{} holds personal data; it is not used as a feature while personal data is masked (--show-pii)",
                        item.name
                    ));
                    return Vec::new();
                }
                item.selected = !item.selected;
            }
            return state.correlate();
        }
        Action::ToggleLog => {
            let f = &mut state.features;
            if let Some(item) = f.items.get_mut(f.cursor).filter(|i| i.numeric) {
                item.log1p = !item.log1p;
                return state.correlate();
            }
        }
        Action::CycleScaling => {
            state.features.scaling = match state.features.scaling {
                Scaling::Standard => Scaling::Minmax,
                Scaling::Minmax => Scaling::Robust,
                Scaling::Robust => Scaling::None,
                Scaling::None => Scaling::Standard,
            };
        }
        Action::Adjust(delta) => {
            let field = state.segments.current();
            state.segments.adjust(field, delta);
        }
        Action::StartEdit => {
            let field = state.segments.current();
            if field.is_choice() {
                state.segments.adjust(field, 1);
            } else {
                state.overlay = Some(Overlay::Edit(state.segments.field, String::new()));
            }
        }
        Action::StartExport if state.screen == Screen::Quality => {
            if state.report.is_some() {
                state.overlay = Some(Overlay::Export("quality.csv".into()));
            } else {
                state.error = Some(
                    "no quality report: a plain data file has none; open a workspace to integrate sources"
                        .into(),
                );
            }
        }
        Action::ExportProfiles => {
            if state.segments.run.is_some() {
                state.export_profiles = true;
                state.overlay = Some(Overlay::Export("profiles.csv".into()));
            } else {
                state.error = Some("no profiles yet: run a segmentation first (r)".into());
            }
        }
        Action::StartExport => {
            state.export_profiles = false;
            if state.segments.run.is_some() {
                state.overlay = Some(Overlay::Export("segments.csv".into()));
            } else {
                state.error = Some("nothing to export yet: run a segmentation first (r)".into());
            }
        }
        Action::ConfirmOverwrite => {
            if let Some(Overlay::ConfirmOverwrite(path)) = state.overlay.take() {
                return state.export(path, true);
            }
        }
        Action::ToggleSweepView => state.segments.show_sweep = !state.segments.show_sweep,
        Action::CycleProfile => state.segments.profile_view = (state.segments.profile_view + 1) % 3,
        Action::RunSweep if state.segments.params.algorithm == Algorithm::Dbscan => {
            let min_points = state.segments.params.min_points;
            return state.model_job(|table, features| JobRequest::KDistance {
                table,
                features,
                min_points,
            });
        }
        Action::RunSweep => {
            let params = state.segments.params.kmeans.clone();
            let k_max = state.segments.sweep_max_k;
            return state.model_job(|table, features| JobRequest::Sweep {
                table,
                features,
                params,
                k_max,
            });
        }
        Action::RunModel => {
            let params = state.segments.params.clone();
            return state.model_job(|table, features| JobRequest::Segment {
                table,
                features,
                params,
            });
        }
        Action::StartSearch => {
            let current = state.data.filter.clone().unwrap_or_default();
            state.overlay = Some(Overlay::Search(current));
        }
        // Every typed prompt: the filter, export and save names, the path or URL to open.
        Action::SearchChar(c) => match &mut state.overlay {
            Some(
                Overlay::Search(text)
                | Overlay::Export(text)
                | Overlay::SaveAs(text)
                | Overlay::OpenSource(text),
            ) => text.push(c),
            Some(Overlay::Edit(_, text)) if c.is_ascii_digit() || c == '.' || c == '-' => {
                text.push(c)
            }
            _ => {}
        },
        Action::SearchBackspace => {
            if let Some(
                Overlay::Search(text)
                | Overlay::Edit(_, text)
                | Overlay::Export(text)
                | Overlay::SaveAs(text)
                | Overlay::OpenSource(text),
            ) = &mut state.overlay
            {
                text.pop();
            }
        }
        Action::SearchSubmit if matches!(state.overlay, Some(Overlay::Export(_))) => {
            if let Some(Overlay::Export(name)) = state.overlay.take()
                && !name.trim().is_empty()
            {
                return state.export(std::path::PathBuf::from(name.trim()), false);
            }
        }
        Action::SearchSubmit if matches!(state.overlay, Some(Overlay::Edit(..))) => {
            if let Some(Overlay::Edit(field, text)) = state.overlay.take() {
                let fields = state.segments.fields();
                let field = fields[field.min(fields.len() - 1)];
                if let Err(e) = state.segments.set_text(field, &text) {
                    state.error = Some(e);
                }
            }
        }
        Action::SearchSubmit => {
            if let Some(Overlay::Search(text)) = state.overlay.take() {
                let filter = (!text.is_empty()).then_some(text);
                let sort = match &state.data.requested {
                    Some((_, s)) => s.clone(),
                    None => state.data.sort.clone(),
                };
                return state.arrange(filter, sort);
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
                    state.message = Some(format!("cancelling {}...", j.label));
                }
            }
        }
        Action::Viewport(n) => state.viewport = n,
        // Rules-screen keys, handled in `crate::screens::rules::update`.
        Action::RulesParam(_) | Action::Drill | Action::SortRules(_) => {}
        // Predict-screen keys, handled in `crate::screens::predict::update`.
        Action::ApplyBest | Action::ToggleCurve => {}
        // Demo mode only (`super::demo::update`).
        Action::Demo(_) | Action::Tick(_) => {}
        // `super::history::update`.
        Action::Undo | Action::Redo | Action::Save => {}
        // The command palette and copying (`super::palette`, `super::clipboard`).
        Action::Palette(_) | Action::CopySelected { .. } | Action::Sources(_) => {}
        Action::JobStarted(job) => state.jobs.push(job),
        Action::JobDone(done) => {
            let Some(pos) = state.jobs.iter().position(|j| j.id == done.id) else {
                // A superseded job: its result is stale.
                return Vec::new();
            };
            let job = state.jobs.remove(pos);
            if job.kind == JobKind::Arrange {
                state.data.requested = None;
            }
            let secs = job.started.elapsed().as_secs_f64();
            match done.outcome {
                JobOutcome::Loaded(l) => {
                    let l = *l;
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
                        [first, rest @ ..] => {
                            Some(format!("{first} (and {} more: see Quality, 2)", rest.len()))
                        }
                    };
                    state.features = FeaturesView::from_table(&l.table, l.features.as_ref());
                    let params = state.predict.params.clone();
                    state.predict = crate::screens::predict::PredictView::with_targets(l.targets);
                    state.predict.params = params;
                    if let Some(s) = l.settings {
                        state.apply_settings(*s);
                    }
                    state.workspace = l.workspace;
                    state.warnings = l.warnings;
                    state.history.clear();
                    state.clv.segments = None;
                    state.title = l.title;
                    state.pii = l.pii;
                    state.show_pii |= l.show_pii;
                    state.pseudonymise |= l.pseudonymise;
                    state.table = Some(Arc::new(l.table));
                    state.report = l.report;
                    state.data = DataView::default();
                    state.quality_row = 0;
                    let mut cmds = state.summarise();
                    cmds.extend(state.correlate());
                    return cmds;
                }
                JobOutcome::Arranged {
                    order,
                    filter,
                    sort,
                } => {
                    let total = state.table.as_ref().map_or(0, |t| t.height());
                    state.message = Some(match &filter {
                        Some(f) => format!("{} of {total} rows match \"{f}\"", order.len()),
                        None => match &sort {
                            Some((c, d)) => {
                                format!(
                                    "sorted by {c} {}",
                                    if *d { "descending" } else { "ascending" }
                                )
                            }
                            None => "file order".into(),
                        },
                    });
                    let unchanged = filter.is_none() && sort.is_none();
                    state.data.order = (!unchanged).then(|| Arc::new(order));
                    state.data.filter = filter;
                    state.data.sort = sort;
                    state.data.row = 0;
                }
                JobOutcome::Summary(s) => state.data.summary = Some(*s),
                JobOutcome::Correlation(c) => state.features.correlation = Some(*c),
                JobOutcome::Saved(path, bak) => {
                    state.message = Some(match bak {
                        Some(b) => format!(
                            "saved the workspace to {} (the previous version is in {}); Ctrl-S saves there again",
                            path.display(),
                            b.display()
                        ),
                        None => format!(
                            "saved the workspace to {}; Ctrl-S saves there again",
                            path.display()
                        ),
                    });
                    state.save_path = Some(path);
                }
                JobOutcome::Exported(path, n, what) => {
                    state.message = Some(format!("wrote {n} {what} to {}", path.display()));
                }
                JobOutcome::Mined(r) => {
                    state.message = Some(format!(
                        "{} baskets, {} frequent itemsets (in at least {} baskets), {} rules, {secs:.1}s",
                        r.baskets.len(),
                        r.itemsets.len(),
                        r.min_count,
                        r.rules.len()
                    ));
                    state.rules.run = Some(Arc::new(*r));
                    state.rules.row = 0;
                    if let Err(e) = state.rules.arrange() {
                        state.rules.filter = None;
                        let _ = state.rules.arrange();
                        state.error = Some(e);
                    }
                }
                JobOutcome::ExistsAlready(path) => {
                    state.overlay = Some(Overlay::ConfirmOverwrite(path));
                }
                JobOutcome::Swept(r) => {
                    state.message = Some(format!(
                        "sweep done in {secs:.1}s: suggested k = {} ({})",
                        r.suggested_k, r.reason
                    ));
                    state.segments.sweep = Some(*r);
                    state.segments.show_sweep = true;
                }
                JobOutcome::Segmented(r) => {
                    state.message = Some(format!("{}, {secs:.1}s", r.summary()));
                    if let SegmentModel::Dbscan {
                        min_points,
                        k_distance,
                        ..
                    } = &r.model
                    {
                        state.segments.k_distance = Some(KDistance {
                            min_points: *min_points,
                            values: k_distance.clone(),
                        });
                    }
                    state.segments.run = Some(*r);
                    state.clv.segments = crate::screens::clv::per_segment(state);
                }
                JobOutcome::KDistance(k) => {
                    state.message = Some(format!(
                        "k-distance curve for min points = {} ({} sampled rows), {secs:.1}s",
                        k.min_points,
                        k.values.len()
                    ));
                    state.segments.k_distance = Some(*k);
                    state.segments.show_sweep = true;
                }
                JobOutcome::Predicted(p) => {
                    let r = &p.run;
                    let auc = r
                        .test
                        .roc_auc
                        .map_or("n/a".to_string(), |a| format!("{a:.3}"));
                    let mut msg = format!(
                        "{} for {}: test ROC-AUC {auc}, accuracy {:.3} (baseline {:.3}), {secs:.1}s",
                        p.params.model.title(),
                        p.target,
                        r.test.accuracy,
                        r.baseline_accuracy
                    );
                    if p.dropped_target {
                        msg.push_str(&format!(
                            "; {} left out of the features (it is the target)",
                            p.target
                        ));
                    }
                    state.message = Some(msg);
                    let view = &mut state.predict;
                    view.drill = None;
                    view.scroll = 0;
                    let k = p.classes.len();
                    if view.cell.0 >= k || view.cell.1 >= k {
                        view.cell = (k - 1, 0);
                    }
                    if p.tree_text.is_none() && view.pane == crate::screens::predict::Pane::Tree {
                        view.pane = crate::screens::predict::Pane::Importance;
                    }
                    let mut p = p;
                    // The threshold may have moved while it ran.
                    if p.classes.len() == 2 && p.run.threshold != view.params.threshold {
                        p.rethreshold(view.params.threshold);
                    }
                    view.result = Some(p);
                }
                JobOutcome::Gridded(g) => {
                    let best = &g.rows[g.best];
                    let setting = match best.alpha {
                        Some(a) => format!("alpha {a}"),
                        None => format!(
                            "max depth {}, min leaf {}",
                            best.max_depth.unwrap_or(0),
                            best.min_leaf.unwrap_or(0)
                        ),
                    };
                    state.message = Some(format!(
                        "grid search: {} settings in {secs:.1}s; best cv {} with {setting} (a applies it)",
                        g.rows.len(),
                        g.metric
                    ));
                    state.predict.grid = Some(*g);
                    state.predict.pane = crate::screens::predict::Pane::Grid;
                    state.predict.drill = None;
                    state.predict.scroll = 0;
                }
                JobOutcome::Clv(c) => {
                    let r = &c.run;
                    let holdout = r.holdout.as_ref().map_or(String::new(), |h| {
                        format!(
                            "; holdout: predicted {:.0} purchases, actual {:.0}",
                            h.predicted_total, h.actual_total
                        )
                    });
                    state.message = Some(format!(
                        "{} customers to {}{holdout}, {secs:.1}s",
                        c.ids.len(),
                        c.calibration_end
                    ));
                    state.clv.scroll = 0;
                    state.clv.result = Some(c);
                    state.clv.segments = crate::screens::clv::per_segment(state);
                }
                JobOutcome::Recommended(m) => {
                    state.message = Some(match &m.evaluation {
                        Some(e) => format!(
                            "{} customers, {} items; hit rate@10 {:.3} (popular {:.3}), {secs:.1}s",
                            m.customers.len(),
                            m.items.len(),
                            e.model.hit_rate,
                            e.baseline.hit_rate
                        ),
                        None => format!(
                            "{} customers, {} items, {secs:.1}s",
                            m.customers.len(),
                            m.items.len()
                        ),
                    });
                    crate::screens::recommend::set_model(state, *m);
                }
                JobOutcome::Tables(names) => {
                    state.message = Some(match names.len() {
                        0 => "the database has no tables".into(),
                        n => format!("{n} tables: pick one and press Enter"),
                    });
                    // A database opened without a table: the picker offers its tables.
                    state.sources.tables(&names, job.kind == JobKind::Load);
                    state.overlay = Some(Overlay::Sources);
                }
                JobOutcome::Failed(e) => {
                    // A load that fails is shown in a panel (the data loaded before stays).
                    if job.kind == JobKind::Load {
                        state.sources.failed(&e);
                        state.overlay = Some(Overlay::LoadFailed(e.clone()));
                    }
                    if job.kind == JobKind::Browse {
                        state.sources.listing = None;
                    }
                    state.error = Some(e);
                }
                JobOutcome::Cancelled => {
                    if job.kind == JobKind::Load {
                        state.sources.failed("cancelled");
                    }
                    state.message = Some(format!("cancelled {}; previous results kept", job.label))
                }
            }
        }
    }
    Vec::new()
}
