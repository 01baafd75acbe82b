//! Background jobs: a worker thread runs the engine and sends its outcome over a channel,
//! while the UI thread polls a shared [`Progress`] for the gauge and can cancel it. Every job
//! has an id; an outcome whose id is no longer the one the state waits for is stale and
//! dropped, so a cancelled or superseded job never overwrites newer results.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use polars::prelude::{DataFrame, IdxSize};

use super::state::ExportTarget;
use crate::analytics::AnalyticsError;
use crate::analytics::kmeans::KMeansParams;
use crate::analytics::segment::{SegmentParams, SegmentRun};
use crate::analytics::sweep::SweepResult;
use crate::data::features::{Correlation, correlation};
use crate::data::integrate::explore::{self, ColumnSummary};
use crate::data::integrate::integrate;
use crate::data::integrate::quality::QualityReport;
use crate::data::sources::file::{self, ReadOptions};
use crate::data::sources::workspace::{FeatureConfig, Workspace};
use crate::data::write::ExportOptions;
use crate::pipeline::{self, PipelineError};
use crate::progress::Progress;

/// What a job does.
#[derive(Debug, Clone)]
pub enum JobRequest {
    /// Integrate a workspace into the 360 table.
    Workspace(PathBuf),
    /// Read one source as it is: a data file, a SQLite file or a PostgreSQL URL (`path` then
    /// only names it), with a table or query. A database with several tables and none named
    /// (nor a `customers` table) ends with its table list for the source picker.
    Open { path: PathBuf, options: ReadOptions },
    /// The tables of a database source (the source picker's `t`).
    Tables { path: PathBuf, options: ReadOptions },
    /// The row order of the Data screen: filter and sort.
    Arrange {
        table: Arc<DataFrame>,
        filter: Option<String>,
        sort: Option<(String, bool)>,
    },
    /// The Data screen's column panel.
    Summarise {
        table: Arc<DataFrame>,
        column: String,
    },
    /// The Features screen's correlation table.
    Correlate {
        table: Arc<DataFrame>,
        columns: Vec<String>,
        log1p: Vec<String>,
    },
    /// K-Means, DBSCAN or a Gaussian mixture on the Features selection.
    Segment {
        table: Arc<DataFrame>,
        features: FeatureConfig,
        params: SegmentParams,
    },
    /// The k-distance curve for DBSCAN's eps.
    KDistance {
        table: Arc<DataFrame>,
        features: FeatureConfig,
        min_points: usize,
    },
    /// Write the session as a workspace file (atomically, the previous file kept as `.bak`).
    SaveWorkspace {
        path: PathBuf,
        workspace: Box<crate::data::sources::workspace::Workspace>,
        /// Column types (`t`) to write into the `schema` of the sources whose files have
        /// the columns (found by reading their headers here, off the UI thread).
        types: std::collections::BTreeMap<String, String>,
    },
    /// Write the last segmentation's cluster profiles.
    ExportProfiles {
        path: PathBuf,
        profiles: Vec<crate::analytics::profile::ClusterProfile>,
        overwrite: bool,
    },
    /// Write the data-quality report.
    ExportQuality {
        path: PathBuf,
        report: Box<QualityReport>,
        overwrite: bool,
    },
    /// Write the segment labels (id, label) to a file; refuses to replace an existing file
    /// unless `overwrite`.
    ExportLabels {
        path: PathBuf,
        id_col: String,
        /// The key column (shared with the table, not copied).
        ids: polars::prelude::Column,
        labels: Vec<i64>,
        overwrite: bool,
        /// Replace the customer key by its keyed pseudonym.
        pseudonymise: bool,
    },
    /// The column roles of the order lines of `input` (for the role editor).
    FindRoles { input: PathBuf },
    /// Frequent itemsets and rules from the order lines of `input` (a workspace or a file).
    Rules {
        input: PathBuf,
        params: crate::pipeline::rules::RulesSettings,
        /// The analyst's column roles (the role editor) over those found.
        roles: crate::data::sources::roles::Given,
    },
    /// Write rules to a .csv/.parquet/.json file; refuses to replace a file unless `overwrite`.
    ExportRules {
        path: PathBuf,
        rules: Vec<crate::analytics::rules::Rule>,
        names: Arc<Vec<String>>,
        overwrite: bool,
    },
    /// A classifier for `target` on the Features selection (the target left out of it), or
    /// with `grid`, the grid search around `params`.
    Predict {
        table: Arc<DataFrame>,
        features: FeatureConfig,
        target: String,
        /// The model, its parameters and the task (None: regression for a number with
        /// many values, else classification).
        settings: crate::pipeline::predict::PredictSettings,
        mode: crate::pipeline::predict::Mode,
    },
    /// Write customers' scores (`rows` only, in that order, or all); refuses to replace a
    /// file unless `overwrite`.
    ExportScores {
        path: PathBuf,
        id_col: String,
        ids: polars::prelude::Column,
        classes: Vec<String>,
        actual: Vec<usize>,
        probabilities: Arc<Vec<Vec<f64>>>,
        predicted: Vec<usize>,
        rows: Option<Vec<usize>>,
        overwrite: bool,
        /// Replace the customer key by its keyed pseudonym.
        pseudonymise: bool,
    },
    /// A regressor for each customer's next-period value from the order lines of `input`,
    /// in the CLV screen's window (`window`: its calibration and observation ends).
    NextPeriod {
        input: PathBuf,
        roles: crate::data::sources::roles::Given,
        window: crate::pipeline::clv::ClvSettings,
        target: crate::pipeline::next_period::NextTarget,
        settings: crate::pipeline::predict::PredictSettings,
        mode: crate::pipeline::predict::Mode,
    },
    /// Write a regressor's values (id, actual, predicted, set: `rows` only, in that order,
    /// or all); refuses to replace a file unless `overwrite`.
    ExportValues {
        path: PathBuf,
        id_col: String,
        ids: polars::prelude::Column,
        actual: Arc<Vec<f64>>,
        predicted: Arc<Vec<f64>>,
        test: Vec<bool>,
        rows: Option<Vec<usize>>,
        overwrite: bool,
        /// Replace the customer key by its keyed pseudonym.
        pseudonymise: bool,
    },
    /// Save a model fitted on `features` of `table` for `crmlens score`; refuses to replace a
    /// file unless `overwrite`.
    SaveModel {
        path: PathBuf,
        table: Arc<DataFrame>,
        features: crate::data::sources::workspace::FeatureConfig,
        trained: Box<crate::pipeline::saved::Trained>,
        overwrite: bool,
    },
    /// Save the CLV screen's fitted models (BG/NBD, Gamma-Gamma) for `crmlens score`.
    SaveLifetime {
        path: PathBuf,
        outcome: Arc<crate::pipeline::clv::ClvOutcome>,
        overwrite: bool,
    },
    /// Save the Identity screen's comparison model (weights, threshold) for `crmlens score`.
    SaveLinkage {
        path: PathBuf,
        run: Arc<crate::pipeline::link::LinkRun>,
        overwrite: bool,
    },
    /// BG/NBD and Gamma-Gamma on the transactions of `input` (a workspace's orders or a file).
    Clv {
        input: PathBuf,
        settings: crate::pipeline::clv::ClvSettings,
        roles: crate::data::sources::roles::Given,
    },
    /// Write every customer's CLV figures; refuses to replace a file unless `overwrite`.
    ExportClv {
        path: PathBuf,
        ids: Vec<String>,
        rows: Vec<crate::analytics::clv::ClvRow>,
        overwrite: bool,
        /// Replace the customer key by its keyed pseudonym.
        pseudonymise: bool,
    },
    /// The item-item model from the order lines of `input`, evaluated when it can be.
    Recommend {
        input: PathBuf,
        settings: crate::pipeline::recommend::RecommendSettings,
        roles: crate::data::sources::roles::Given,
    },
    /// Everyone's top N to a file; refuses to replace a file unless `overwrite`.
    ExportRecommendations {
        path: PathBuf,
        model: Arc<crate::pipeline::recommend::RecModel>,
        top: usize,
        overwrite: bool,
        /// Replace the customer key by its keyed pseudonym.
        pseudonymise: bool,
    },
    /// Identity resolution of customer lists.
    Link {
        inputs: Vec<crate::pipeline::link::LinkInput>,
        settings: crate::pipeline::link::LinkSettings,
        labels: Vec<(u32, u32, bool)>,
    },
    /// The last identity run scored again under labels and a threshold.
    Relabel {
        run: Arc<crate::pipeline::link::LinkRun>,
        labels: Vec<(u32, u32, bool)>,
        threshold: f64,
    },
    /// Read what arrived in the shown data's sources and arrange it after the shown table
    /// (the workbench following its sources, `super::follow`).
    Refresh(Box<RefreshRequest>),
    /// Follow's look at the database sources with F6 off: the rows past the last look.
    Peek(Vec<super::follow::Peek>),
    /// K-Means for k = 2..=10 with the quality metrics.
    Sweep {
        table: Arc<DataFrame>,
        features: FeatureConfig,
        params: KMeansParams,
        k_max: usize,
    },
}

/// A refresh: what to read again, the table shown, the files followed, and the models on
/// screen to assign the refreshed customers with.
#[derive(Debug, Clone)]
pub struct RefreshRequest {
    pub reread: super::follow::Reread,
    pub previous: Arc<DataFrame>,
    pub files: Vec<crate::data::integrate::follow::Watched>,
    pub segment: Option<super::follow::Assign>,
    pub predict: Option<super::follow::Assign>,
}

impl JobRequest {
    /// Loads replace the table; other jobs work on it.
    pub fn kind(&self) -> JobKind {
        match self {
            JobRequest::Workspace(_) | JobRequest::Open { .. } | JobRequest::Refresh(_) => {
                JobKind::Load
            }
            JobRequest::Tables { .. } | JobRequest::FindRoles { .. } | JobRequest::Peek(_) => {
                JobKind::Browse
            }
            JobRequest::Arrange { .. } => JobKind::Arrange,
            JobRequest::Summarise { .. } => JobKind::Summarise,
            JobRequest::Correlate { .. } => JobKind::Correlate,
            JobRequest::Segment { .. }
            | JobRequest::Sweep { .. }
            | JobRequest::KDistance { .. } => JobKind::Model,
            JobRequest::Predict { .. } | JobRequest::NextPeriod { .. } => JobKind::Predict,
            JobRequest::Clv { .. } => JobKind::Clv,
            JobRequest::Recommend { .. } => JobKind::Recommend,
            JobRequest::Link { .. } | JobRequest::Relabel { .. } => JobKind::Identity,
            JobRequest::ExportLabels { .. } => JobKind::Export(ExportTarget::Labels),
            JobRequest::SaveModel { .. }
            | JobRequest::SaveLifetime { .. }
            | JobRequest::SaveLinkage { .. } => JobKind::Export(ExportTarget::Model),
            JobRequest::SaveWorkspace { .. } => JobKind::Export(ExportTarget::Workspace),
            JobRequest::ExportProfiles { .. } => JobKind::Export(ExportTarget::Profiles),
            JobRequest::ExportQuality { .. } => JobKind::Export(ExportTarget::Quality),
            JobRequest::ExportRules { .. } => JobKind::Export(ExportTarget::Rules),
            JobRequest::ExportScores { .. } | JobRequest::ExportValues { .. } => {
                JobKind::Export(ExportTarget::Scores)
            }
            JobRequest::ExportClv { .. } => JobKind::Export(ExportTarget::Clv),
            JobRequest::ExportRecommendations { .. } => {
                JobKind::Export(ExportTarget::Recommendations)
            }
            JobRequest::Rules { .. } => JobKind::Rules,
        }
    }

    pub fn label(&self) -> String {
        match self {
            JobRequest::Workspace(p) => format!("integrating {}", p.display()),
            JobRequest::Open { path, options } => match &options.table {
                Some(t) => format!("reading {} · table {t}", path.display()),
                None => format!("reading {}", path.display()),
            },
            JobRequest::Tables { path, .. } => format!("listing the tables of {}", path.display()),
            JobRequest::Refresh(r) => match &r.reread {
                super::follow::Reread::Workspace { .. } => {
                    "refreshing: reading what arrived".into()
                }
                super::follow::Reread::File { path, .. } => {
                    format!("refreshing: reading {} again", path.display())
                }
            },
            JobRequest::FindRoles { input } => {
                format!("finding the column roles of {}", input.display())
            }
            JobRequest::Peek(_) => "looking for new rows in the database".into(),
            JobRequest::Arrange { filter, sort, .. } => match (filter, sort) {
                (Some(f), _) if !f.is_empty() => format!("filtering for \"{f}\""),
                (_, Some((c, _))) => format!("sorting by {c}"),
                _ => "restoring file order".into(),
            },
            JobRequest::Summarise { column, .. } => format!("summarising {column}"),
            JobRequest::Correlate { columns, .. } => {
                format!("correlating {} features", columns.len())
            }
            JobRequest::Segment { params, .. } => params.describe(),
            JobRequest::KDistance { min_points, .. } => {
                format!("k-distance curve for min points = {min_points}")
            }
            JobRequest::Sweep { k_max, .. } => format!("k sweep 2..{k_max}"),
            JobRequest::SaveWorkspace { path, .. } => {
                format!("saving the workspace to {}", path.display())
            }
            JobRequest::SaveModel { path, .. }
            | JobRequest::SaveLifetime { path, .. }
            | JobRequest::SaveLinkage { path, .. } => {
                format!("saving the model to {}", path.display())
            }
            JobRequest::ExportLabels { path, .. }
            | JobRequest::ExportProfiles { path, .. }
            | JobRequest::ExportQuality { path, .. }
            | JobRequest::ExportRules { path, .. }
            | JobRequest::ExportScores { path, .. }
            | JobRequest::ExportValues { path, .. }
            | JobRequest::ExportClv { path, .. }
            | JobRequest::ExportRecommendations { path, .. } => {
                format!("exporting to {}", path.display())
            }
            JobRequest::Recommend {
                input, settings, ..
            } => format!(
                "item similarities ({} neighbours) from {}",
                settings.neighbours,
                input.display()
            ),
            JobRequest::Clv { input, .. } => {
                format!("lifetime value from {}", input.display())
            }
            JobRequest::Link { inputs, .. } => format!(
                "linking {}",
                inputs
                    .iter()
                    .map(|i| i.path.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" + ")
            ),
            JobRequest::Relabel { labels, .. } => {
                format!("retraining on {} labels", labels.len())
            }
            JobRequest::NextPeriod { target, mode, .. } => match mode {
                crate::pipeline::predict::Mode::Run => {
                    format!("predicting next-period {target} from the order lines")
                }
                crate::pipeline::predict::Mode::Grid => {
                    format!("grid search for next-period {target}")
                }
                crate::pipeline::predict::Mode::Compare => {
                    format!("comparing the regressors for next-period {target}")
                }
            },
            JobRequest::Predict {
                target,
                settings,
                mode,
                ..
            } => match mode {
                crate::pipeline::predict::Mode::Run => {
                    format!("predicting {target}: {}", settings.params().describe())
                }
                crate::pipeline::predict::Mode::Grid => {
                    format!("grid search for {target}: {}", settings.model.title())
                }
                crate::pipeline::predict::Mode::Compare => {
                    format!("comparing the models for {target}")
                }
            },
            JobRequest::Rules { params, .. } => params.describe(),
        }
    }
}

/// The kinds of job; at most one of each runs at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Load,
    Arrange,
    Summarise,
    Correlate,
    /// A model run (segmentation, later prediction).
    Model,
    /// Mining association rules.
    Rules,
    /// A prediction run or grid search.
    Predict,
    /// Lifetime-value models.
    Clv,
    /// The recommendation model.
    Recommend,
    /// Identity resolution (a run, or retraining on labels).
    Identity,
    /// Writing a file: what it writes.
    Export(ExportTarget),
    /// Listing a database's tables.
    Browse,
}

/// What a finished load produced.
#[derive(Debug)]
pub struct Loaded {
    pub title: String,
    pub table: DataFrame,
    pub report: Option<QualityReport>,
    /// The workspace's default feature selection, when loaded from a workspace.
    pub features: Option<FeatureConfig>,
    /// Columns that can be a prediction target (few classes).
    pub targets: Vec<String>,
    /// The screens' parameters from the workspace's analysis sections.
    pub settings: Option<Box<crate::pipeline::settings::Settings>>,
    /// What the workspace set wrongly (left out, with file, line and key).
    pub warnings: Vec<String>,
    /// The workspace's `[privacy] pseudonymise`: exports carry keyed pseudonyms.
    pub pseudonymise: bool,
    /// Personal-data columns, masked on screen unless shown.
    pub pii: Vec<crate::data::privacy::PiiColumn>,
    /// The workspace asks to show personal data unmasked.
    pub show_pii: bool,
    /// The workspace as read (what Ctrl-S saves, with the screens' settings); None for a
    /// plain data file.
    pub workspace: Option<Box<Workspace>>,
    /// What the reader noted about a source read on its own (a database type read as text).
    pub notes: Vec<String>,
    /// The files the data was read from, as they were when reading began (the workbench
    /// follows them).
    pub watched: Vec<crate::data::integrate::follow::Watched>,
    pub seen: crate::data::integrate::follow::Signature,
}

/// A job's result.
#[derive(Debug)]
pub enum JobOutcome {
    Loaded(Box<Loaded>),
    /// A refresh of the shown data (`super::follow`).
    Refreshed(Box<super::follow::Refreshed>),
    /// Each database source looked at: its role, rows past the last look, largest value.
    Peeked(Vec<(String, u64, Option<crate::data::sources::sqlite::Watermark>)>),
    /// A database's tables (for the source picker).
    Tables(Vec<String>),
    /// The roles found in the order lines of a file, and its columns (for the role editor).
    Roles {
        input: PathBuf,
        found: Box<crate::data::sources::roles::Roles>,
        columns: Vec<String>,
    },
    Arranged {
        order: Vec<IdxSize>,
        filter: Option<String>,
        sort: Option<(String, bool)>,
    },
    Summary(Box<ColumnSummary>),
    Correlation(Box<Correlation>),
    Segmented(Box<SegmentRun>),
    Mined(Box<crate::analytics::rules::RulesRun>),
    KDistance(Box<crate::pipeline::segment::KDistance>),
    Swept(Box<SweepResult>),
    Predicted(Box<crate::pipeline::predict::Prediction>),
    /// A regression run (a value target).
    Valued(Box<crate::pipeline::predict::ValuePrediction>),
    Gridded(Box<crate::analytics::predict::GridResult>),
    /// Every model of the task on the same folds.
    Compared(Box<crate::analytics::predict::Comparison>),
    Clv(Box<crate::pipeline::clv::ClvOutcome>),
    Recommended(Box<crate::pipeline::recommend::RecModel>),
    /// A run, with what the Identity screen shows of it (computed on the worker).
    Linked(
        Box<crate::pipeline::link::LinkRun>,
        crate::screens::identity::Prepared,
    ),
    Relabelled(
        Box<crate::data::identity::link::Linked>,
        crate::screens::identity::Prepared,
    ),
    /// Written: the file, how many rows, of what ("labels", "rules").
    Exported(PathBuf, usize, &'static str),
    /// The workspace was saved to the path; the previous version is in the backup.
    Saved(PathBuf, Option<PathBuf>),
    /// The file exists: ask before replacing it.
    ExistsAlready(PathBuf),
    Failed(String),
    Cancelled,
}

/// A finished job as it arrives on the channel.
#[derive(Debug)]
pub struct JobDone {
    pub id: u64,
    pub kind: JobKind,
    pub outcome: JobOutcome,
}

/// A job in flight, as the UI sees it.
#[derive(Debug, Clone)]
pub struct RunningJob {
    pub id: u64,
    pub kind: JobKind,
    pub label: String,
    pub progress: Progress,
    pub started: Instant,
}

use crate::text::one_line;

/// An export job's outcome: `ExistsAlready` when `path` exists and may not be replaced, else
/// what `write` wrote (rows) as `Exported`.
/// With `pseudonymise`, the customer key is replaced by its keyed pseudonym (an error, saying
/// how to set the key, when there is none).
fn export_to<E: Into<PipelineError>>(
    path: PathBuf,
    overwrite: bool,
    pseudonymise: bool,
    what: &'static str,
    write: impl FnOnce(&std::path::Path, &ExportOptions) -> Result<usize, E>,
) -> Result<JobOutcome, PipelineError> {
    if path.exists() && !overwrite {
        return Ok(JobOutcome::ExistsAlready(path));
    }
    let pseudonymiser = if pseudonymise {
        Some(Arc::new(crate::data::privacy::Pseudonymiser::from_env()?))
    } else {
        None
    };
    let opts = ExportOptions {
        overwrite: true,
        pseudonymiser,
    };
    let n = write(&path, &opts).map_err(Into::into)?;
    Ok(JobOutcome::Exported(path, n, what))
}

/// A model file's job: `ExistsAlready` when `path` exists and may not be replaced, else
/// `save` writes it.
fn save_model(
    path: PathBuf,
    overwrite: bool,
    progress: &Progress,
    save: impl FnOnce(&std::path::Path) -> Result<(), PipelineError>,
) -> Result<JobOutcome, PipelineError> {
    if path.exists() && !overwrite {
        return Ok(JobOutcome::ExistsAlready(path));
    }
    progress.start("saving the model", 1);
    save(&path)?;
    Ok(JobOutcome::Exported(path, 1, "model"))
}

/// A step's result, whichever layer's error it carries.
fn lift<E: Into<PipelineError>>(r: Result<JobOutcome, E>) -> Result<JobOutcome, PipelineError> {
    r.map_err(Into::into)
}

fn run(request: JobRequest, progress: &Progress) -> JobOutcome {
    let outcome: Result<JobOutcome, PipelineError> = match request {
        JobRequest::Workspace(path) => lift({
            Workspace::load_lenient(&path).and_then(|(ws, mut warnings)| {
                let watched = crate::data::integrate::follow::source_files(&ws);
                let seen = crate::data::integrate::follow::signature(&watched);
                let (settings, problems) = crate::pipeline::settings::from_workspace(&ws);
                let text = std::fs::read_to_string(&path).ok();
                warnings.extend(problems.iter().map(|p| p.describe(&path, text.as_deref())));
                let c = integrate(&ws, progress)?;
                warnings.extend(
                    c.report
                        .warnings
                        .iter()
                        .map(|w| format!("{}: {w}", path.display())),
                );
                // A feature the table does not have is left out of the selection; say so.
                let f = &ws.features;
                for column in f.numeric.iter().chain(&f.categorical).chain(&f.log1p) {
                    if c.table.column(column).is_err() {
                        let quoted = format!("\"{column}\"");
                        let line = text
                            .as_deref()
                            .and_then(|t| t.lines().position(|l| l.contains(&quoted)))
                            .map(|i| format!("line {}: ", i + 1))
                            .unwrap_or_default();
                        warnings.push(format!(
                            "{}: {line}[features] `{column}`: no such column in the customer table; left out",
                            path.display()
                        ));
                    }
                }
                let name = ws
                    .workspace
                    .name
                    .clone()
                    .unwrap_or_else(|| path.display().to_string());
                progress.label("finding target columns");
                Ok(JobOutcome::Loaded(Box::new(Loaded {
                    title: name,
                    targets: crate::data::features::target::candidates(&c.table),
                    pii: crate::data::privacy::detect(&c.table, &ws.privacy),
                    show_pii: ws.privacy.show_pii,
                    settings: Some(Box::new(settings)),
                    warnings,
                    pseudonymise: ws.privacy.pseudonymise,
                    table: c.table,
                    report: Some(c.report),
                    features: Some(ws.features.clone()),
                    workspace: Some(Box::new(ws)),
                    notes: Vec::new(),
                    watched,
                    seen,
                })))
            })
        }),
        JobRequest::Open { path, mut options } => lift((|| -> crate::data::Result<JobOutcome> {
            progress.start("reading", 1);
            let watched = if options.url.is_some() {
                Vec::new()
            } else {
                vec![crate::data::integrate::follow::Watched {
                    path: path.clone(),
                    database: false,
                }]
            };
            let seen = crate::data::integrate::follow::signature(&watched);
            // Esc stops a database read between chunks.
            options.cancel = Some(progress.clone());
            if let Some(names) = file::database_tables(&path, &options)? {
                match file::default_table(&names) {
                    Some(t) => options.table = Some(t.to_string()),
                    None => return Ok(JobOutcome::Tables(names)),
                }
            }
            let mut title = path.display().to_string();
            if let Some(t) = &options.table {
                title.push_str(&format!(" · table {t}"));
            }
            // A transaction log on its own opens as its customers (RFM and the rest); a
            // workspace's source (read with its dates as text) opens as it is.
            if options.table.is_none()
                && options.query.is_none()
                && options.url.is_none()
                && !options.keep_date_text
            {
                progress.label("finding column roles");
                let found = crate::data::integrate::log::classify(&path, &options)?;
                if found.is_log() {
                    let (ws, _) =
                        crate::data::integrate::log::workspace_for(std::slice::from_ref(&path))?;
                    let c = integrate(&ws, progress)?;
                    progress.label("finding target columns");
                    let targets = crate::data::features::target::candidates(&c.table);
                    let pii = crate::data::privacy::detect(&c.table, &Default::default());
                    let features = crate::data::features::first_pick(
                        &c.table,
                        pipeline::predict::default_target(&targets).as_deref(),
                        &pii.iter().map(|p| p.column.clone()).collect::<Vec<_>>(),
                    );
                    let notes = vec![format!(
                        "a transaction log: one row per customer built from its lines ({})",
                        found.roles.summary()
                    )];
                    return Ok(JobOutcome::Loaded(Box::new(Loaded {
                        title: format!("{title} · transaction log"),
                        targets,
                        pii,
                        show_pii: false,
                        settings: None,
                        warnings: Vec::new(),
                        pseudonymise: false,
                        table: c.table,
                        report: Some(c.report),
                        features: Some(features),
                        // Ctrl-S saves the log's workspace (its roles as the orders' columns).
                        workspace: Some(Box::new(ws)),
                        notes,
                        watched,
                        seen,
                    })));
                }
            }
            let scanned = file::scan(&path, &options)?;
            let notes = scanned.notes.clone();
            let table = file::collect_source(&scanned.path, scanned.frame)?;
            let targets = crate::data::features::target::candidates(&table);
            let pii = crate::data::privacy::detect(&table, &Default::default());
            // No workspace says which features: start from what an analyst would tick.
            let features = crate::data::features::first_pick(
                &table,
                pipeline::predict::default_target(&targets).as_deref(),
                &pii.iter().map(|p| p.column.clone()).collect::<Vec<_>>(),
            );
            Ok(JobOutcome::Loaded(Box::new(Loaded {
                title,
                targets,
                pii,
                show_pii: false,
                settings: None,
                warnings: Vec::new(),
                pseudonymise: false,
                table,
                report: None,
                features: Some(features),
                workspace: None,
                notes,
                watched,
                seen,
            })))
        })()),
        JobRequest::Refresh(r) => {
            super::follow::run(*r, progress).map(|r| JobOutcome::Refreshed(Box::new(r)))
        }
        JobRequest::Peek(peeks) => lift({
            progress.start("looking for new rows", 1);
            super::follow::look(&peeks).map(JobOutcome::Peeked)
        }),
        JobRequest::FindRoles { input } => lift({
            progress.start("finding column roles", 1);
            crate::data::sources::roles::of_input(&input).and_then(|found| {
                Ok(JobOutcome::Roles {
                    columns: crate::data::sources::roles::columns_of(&input)?,
                    found: Box::new(found),
                    input,
                })
            })
        }),
        JobRequest::Tables { path, options } => lift({
            progress.start("listing tables", 1);
            file::database_tables(&path, &options)
                .map(|names| JobOutcome::Tables(names.unwrap_or_default()))
        }),
        JobRequest::Arrange {
            table,
            filter,
            sort,
        } => lift({
            progress.start("arranging", 1);
            let s = sort.as_ref().map(|(c, d)| (c.as_str(), *d));
            explore::arrange(&table, filter.as_deref(), s).map(|order| JobOutcome::Arranged {
                order,
                filter,
                sort,
            })
        }),
        JobRequest::Correlate {
            table,
            columns,
            log1p,
        } => lift({
            progress.start("correlating", 1);
            correlation(&table, &columns, &log1p).map(|c| JobOutcome::Correlation(Box::new(c)))
        }),
        JobRequest::Segment {
            table,
            features,
            params,
        } => pipeline::segment::segment(&table, &features, &params, progress)
            .map(|r| JobOutcome::Segmented(Box::new(r))),
        JobRequest::KDistance {
            table,
            features,
            min_points,
        } => pipeline::segment::k_distance(&table, &features, min_points, progress)
            .map(|k| JobOutcome::KDistance(Box::new(k))),
        JobRequest::Sweep {
            table,
            features,
            params,
            k_max,
        } => pipeline::segment::sweep(&table, &features, &params, k_max, progress)
            .map(|r| JobOutcome::Swept(Box::new(r))),
        JobRequest::SaveWorkspace {
            path,
            mut workspace,
            types,
        } => lift((|| {
            progress.start("saving", 1);
            if !types.is_empty() {
                workspace.place_types(&types)?;
            }
            workspace
                .save(&path)
                .map(|bak| JobOutcome::Saved(path, bak))
        })()),
        JobRequest::ExportLabels {
            path,
            id_col,
            ids,
            labels,
            overwrite,
            pseudonymise,
        } => lift(export_to(
            path,
            overwrite,
            pseudonymise,
            "labels",
            |p, o| {
                let n = labels.len();
                crate::export::write_labels(p, &id_col, &ids, labels, o).map(|_| n)
            },
        )),
        JobRequest::ExportRules {
            path,
            rules,
            names,
            overwrite,
        } => lift(export_to(path, overwrite, false, "rules", |p, o| {
            crate::export::write_rules(p, &rules, &names, o).map(|_| rules.len())
        })),
        JobRequest::Predict {
            table,
            features,
            target,
            settings,
            mode,
        } => pipeline::predict::predict(&table, features, &target, &settings, mode, progress).map(
            |o| match o {
                pipeline::predict::Predicted::Run(p) => JobOutcome::Predicted(p),
                pipeline::predict::Predicted::Values(p) => JobOutcome::Valued(p),
                pipeline::predict::Predicted::Grid(g) => JobOutcome::Gridded(g),
                pipeline::predict::Predicted::Compared(c) => JobOutcome::Compared(c),
            },
        ),
        JobRequest::NextPeriod {
            input,
            roles,
            window,
            target,
            settings,
            mode,
        } => crate::pipeline::next_period::predict(
            &input,
            &crate::pipeline::clv::ClvColumns {
                given: roles,
                ..Default::default()
            },
            &window,
            target,
            &settings,
            mode,
            progress,
        )
        .map(|o| match o {
            pipeline::predict::Predicted::Run(p) => JobOutcome::Predicted(p),
            pipeline::predict::Predicted::Values(p) => JobOutcome::Valued(p),
            pipeline::predict::Predicted::Grid(g) => JobOutcome::Gridded(g),
            pipeline::predict::Predicted::Compared(c) => JobOutcome::Compared(c),
        }),
        JobRequest::Clv {
            input,
            settings,
            roles,
        } => lift(
            pipeline::clv::fit(
                &input,
                &pipeline::clv::ClvColumns {
                    given: roles,
                    ..Default::default()
                },
                &settings,
                progress,
            )
            .map(|o| JobOutcome::Clv(Box::new(o))),
        ),
        JobRequest::Link {
            inputs,
            settings,
            labels,
        } => pipeline::link::run(&inputs, &settings, &labels, progress).map(|r| {
            let shown = crate::screens::identity::Prepared::of(&r.linked);
            JobOutcome::Linked(Box::new(r), shown)
        }),
        JobRequest::Relabel {
            run,
            labels,
            threshold,
        } => {
            let l = crate::data::identity::link::relabel(&run.linked, &labels, threshold);
            let shown = crate::screens::identity::Prepared::of(&l);
            Ok(JobOutcome::Relabelled(Box::new(l), shown))
        }
        JobRequest::Recommend {
            input,
            settings,
            roles,
        } => lift(
            pipeline::recommend::purchases(
                &input,
                &pipeline::recommend::PurchaseColumnNames {
                    given: roles,
                    ..Default::default()
                },
                progress,
            )
            .and_then(|(cols, p)| pipeline::recommend::model(cols, p, &settings, progress))
            .map(|m| JobOutcome::Recommended(Box::new(m))),
        ),
        JobRequest::ExportRecommendations {
            path,
            model,
            top,
            overwrite,
            pseudonymise,
        } => lift(export_to(
            path,
            overwrite,
            pseudonymise,
            "recommendations",
            |p, o| {
                pipeline::recommend::write_top_n(p, &model, "customer", top, false, o, progress)
                    .map(|(n, _)| n)
            },
        )),
        JobRequest::SaveModel {
            path,
            table,
            features,
            trained,
            overwrite,
        } => save_model(path, overwrite, progress, |p| {
            crate::pipeline::saved::save_trained(&table, &features, &trained, p, overwrite)
                .map(|_| ())
        }),
        JobRequest::SaveLifetime {
            path,
            outcome,
            overwrite,
        } => save_model(path, overwrite, progress, |p| {
            crate::pipeline::saved::SavedModel::lifetime(&outcome)?.save(p, overwrite)
        }),
        JobRequest::SaveLinkage {
            path,
            run,
            overwrite,
        } => save_model(path, overwrite, progress, |p| {
            crate::pipeline::saved::SavedModel::linkage(&run).save(p, overwrite)
        }),
        JobRequest::ExportProfiles {
            path,
            profiles,
            overwrite,
        } => lift(export_to(
            path,
            overwrite,
            false,
            "cluster profiles",
            |p, o| crate::export::write_profiles(p, &profiles, o),
        )),
        JobRequest::ExportQuality {
            path,
            report,
            overwrite,
        } => lift(export_to(
            path,
            overwrite,
            false,
            "quality findings",
            |p, o| crate::export::write_quality(p, &report, o),
        )),
        JobRequest::ExportClv {
            path,
            ids,
            rows,
            overwrite,
            pseudonymise,
        } => lift(export_to(
            path,
            overwrite,
            pseudonymise,
            "customers' CLV",
            |p, o| {
                let n = ids.len();
                let col = |name: &str, f: fn(&crate::analytics::clv::ClvRow) -> f64| {
                    polars::prelude::Column::new(
                        name.into(),
                        rows.iter().map(f).collect::<Vec<f64>>(),
                    )
                };
                let mut df = DataFrame::new_infer_height(vec![
                    polars::prelude::Column::new("customer".into(), ids),
                    col("p_alive", |r| r.p_alive),
                    col("expected_purchases", |r| r.expected_purchases),
                    col("expected_spend", |r| r.expected_spend),
                    col("clv", |r| r.clv),
                ])
                .map_err(|e| crate::data::DataError::polars("clv", e))?;
                crate::data::write::write_table(&mut df, p, Some("customer"), o).map(|_| n)
            },
        )),
        JobRequest::ExportScores {
            path,
            id_col,
            ids,
            classes,
            actual,
            probabilities,
            predicted,
            rows,
            overwrite,
            pseudonymise,
        } => lift(export_to(
            path,
            overwrite,
            pseudonymise,
            "scores",
            |p, o| {
                let scores = crate::export::Scores {
                    classes: &classes,
                    actual: Some(&actual),
                    probabilities: &probabilities,
                    predicted: &predicted,
                    test: None,
                };
                crate::export::write_scores(p, &id_col, &ids, &scores, rows.as_deref(), o)
                    .map(|_| rows.as_ref().map_or(actual.len(), |r| r.len()))
            },
        )),
        JobRequest::ExportValues {
            path,
            id_col,
            ids,
            actual,
            predicted,
            test,
            rows,
            overwrite,
            pseudonymise,
        } => lift(export_to(
            path,
            overwrite,
            pseudonymise,
            "values",
            |p, o| {
                let values = crate::export::Values {
                    actual: Some(&actual),
                    predicted: &predicted,
                    test: Some(&test),
                };
                crate::export::write_values(p, &id_col, &ids, &values, rows.as_deref(), o)
                    .map(|_| rows.as_ref().map_or(actual.len(), |r| r.len()))
            },
        )),
        JobRequest::Rules {
            input,
            params,
            roles,
        } => lift({
            crate::pipeline::rules::mine(
                &input,
                &params.columns(&roles),
                &params.mining(),
                progress,
            )
            .map(|m| JobOutcome::Mined(Box::new(m.run)))
            .map_err(|e| match e {
                // The workbench's words for the thresholds: the Rules screen's keys.
                PipelineError::Analytics(AnalyticsError::TooMany { what, limit, .. }) => {
                    let also = if what == "rules" {
                        ", raise min confidence with ]"
                    } else {
                        ""
                    };
                    PipelineError::Analytics(AnalyticsError::Input(format!(
                        "more than {limit} {what} at min support {} with up to {} items: on the Rules screen (5) raise min support with +{also} or lower max items with m",
                        params.min_support, params.max_len
                    )))
                }
                e => e,
            })
        }),
        JobRequest::Summarise { table, column } => lift({
            progress.start("summarising", 1);
            explore::column_summary(&table, &column, 12).map(|s| JobOutcome::Summary(Box::new(s)))
        }),
    };
    if progress.is_cancelled() {
        return JobOutcome::Cancelled;
    }
    match outcome {
        Ok(o) => o,
        Err(PipelineError::Cancelled) => JobOutcome::Cancelled,
        Err(e) => JobOutcome::Failed(one_line(e)),
    }
}

/// Runs the job and turns a panic in it (a bug, ours or a library's, e.g. polars on an input
/// it does not expect) into a failed job with one line, so the app lives on.
fn run_guarded(request: JobRequest, progress: &Progress, inject_panic: bool) -> JobOutcome {
    let label = request.label();
    // The panic hook says nothing about a panic of this thread while the job runs: the
    // job's outcome carries the message (one line, not a backtrace on stderr).
    crate::app::terminal::install_panic_hook();
    pipeline::guard::guarded(&label, inject_panic, || run(request, progress))
        .unwrap_or_else(JobOutcome::Failed)
}

/// Tests only (debug builds): whether a job of `kind` should panic on purpose, as
/// `CRMLENS_TEST_PANIC_IN_JOB=<kind>` (load, arrange, summarise, correlate, model, rules,
/// predict, clv, recommend, export, browse) asks, or a unit test on this thread. How the
/// real-terminal test checks that a panicking job ends in an error panel, not a crash.
fn panic_injected(kind: JobKind) -> bool {
    #[cfg(debug_assertions)]
    {
        #[cfg(test)]
        if tests::INJECT_PANIC.with(|k| k.get()) == Some(kind) {
            return true;
        }
        let name = match kind {
            JobKind::Export(_) => "Export".to_string(),
            k => format!("{k:?}"),
        };
        pipeline::guard::injected(&name)
    }
    #[cfg(not(debug_assertions))]
    {
        let _ = kind;
        false
    }
}

/// Starts `request` on a worker thread as job `id`; its outcome is passed to `done`. A panic
/// in the job is its outcome `Failed` ("internal error in <the job's label>: ...").
pub fn spawn<F>(id: u64, request: JobRequest, done: F) -> RunningJob
where
    F: FnOnce(JobDone) + Send + 'static,
{
    let progress = Progress::new();
    let kind = request.kind();
    let label = request.label();
    let p = progress.clone();
    let inject = panic_injected(kind);
    thread::spawn(move || {
        let outcome = run_guarded(request, &p, inject);
        done(JobDone { id, kind, outcome });
    });
    RunningJob {
        id,
        kind,
        label,
        progress,
        started: Instant::now(),
    }
}

/// Runs `request` on this thread (for tests and headless use); a panic in it is `Failed`.
pub fn run_now(request: JobRequest) -> JobOutcome {
    let inject = panic_injected(request.kind());
    run_guarded(request, &Progress::new(), inject)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    thread_local! {
        /// A job of this kind started from this thread panics (see `panic_injected`).
        pub(super) static INJECT_PANIC: Cell<Option<JobKind>> = const { Cell::new(None) };
    }

    fn open(path: &str) -> JobRequest {
        JobRequest::Open {
            path: path.into(),
            options: ReadOptions::default(),
        }
    }

    #[test]
    fn a_panicking_job_fails_with_one_line_and_the_thread_reports_it() {
        INJECT_PANIC.with(|k| k.set(Some(JobKind::Load)));
        let (tx, rx) = mpsc::channel();
        let running = spawn(7, open("/no/such/customers.csv"), move |done| {
            let _ = tx.send(done);
        });
        INJECT_PANIC.with(|k| k.set(None));
        assert_eq!(running.kind, JobKind::Load);
        // The outcome arrives (the worker did not die silently), as a failure naming the job.
        let done = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the panicking job still reports its outcome");
        assert_eq!(done.id, 7);
        match done.outcome {
            JobOutcome::Failed(e) => {
                assert_eq!(
                    e,
                    "internal error in reading /no/such/customers.csv: injected by \
                     CRMLENS_TEST_PANIC_IN_JOB; please report it"
                );
            }
            other => panic!("expected Failed, got {other:?}"),
        }
    }

    #[test]
    fn run_now_turns_a_panic_into_failed_and_only_for_the_kind_asked() {
        INJECT_PANIC.with(|k| k.set(Some(JobKind::Export(ExportTarget::Rules))));
        let failed = run_now(JobRequest::ExportRules {
            path: "/no/such/dir/rules.csv".into(),
            rules: Vec::new(),
            names: Arc::new(Vec::new()),
            overwrite: false,
        });
        // Another kind runs as usual: a missing file is its own error, not a panic.
        let other = run_now(open("/no/such/customers.csv"));
        INJECT_PANIC.with(|k| k.set(None));
        assert!(
            matches!(&failed, JobOutcome::Failed(e) if e.starts_with("internal error in exporting to /no/such/dir/rules.csv: ")),
            "{failed:?}"
        );
        assert!(
            matches!(&other, JobOutcome::Failed(e) if !e.contains("internal error")),
            "{other:?}"
        );
    }
}
