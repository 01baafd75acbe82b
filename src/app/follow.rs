//! The workbench follows its sources. The event loop compares the size and modification time
//! of the session's files (`data::integrate::follow::signature`) about once a second and
//! reports a change as `Action::SourcesChanged`; the status line then says what arrived.
//! F5 (or, with F6's auto mode on, the change itself) refreshes the view on a worker thread:
//! a workspace (or a transaction log) is integrated incrementally from a state folder of the
//! session, a plain file is read again. The refreshed table keeps the shown customers in
//! their rows and adds the new ones after them (`follow::follow`), so the Data screen's
//! filter, sort, place and the Features selection stay; new and changed rows are marked.
//! A segmentation or prediction on screen assigns every customer of the refreshed table with
//! the current model (the model file's scoring, `pipeline::saved::score`) instead of
//! retraining: the customers it was fit on keep their labels and probabilities exactly.
//! Lifetime values and recommendations, which read the order lines rather than the table,
//! are run again when a refresh brought anything (their results leave its message up).
//! A database source (PostgreSQL) cannot be watched like a file. Every [`DATABASE_POLL`] the
//! event loop calls [`poll`]: with F6 on, a quiet refresh, which reads only the rows past the
//! source's `watermark` and leaves the view as it is when nothing arrived; with F6 off, a
//! look (`peek`): one aggregate query per database source with a `watermark` counts the rows
//! past the largest value seen at the previous look, and the status line says what arrived
//! as it does for a file. The first look after a load or refresh only notes where the
//! source stands (rows that came between the end of a refresh and that look are read by the
//! next F5 but not announced).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use polars::prelude::DataFrame;

use super::job::{JobKind, JobRequest};
use super::state::{Command, State};
use crate::data::integrate::follow::{Mark, Signature, Watched, changes};
use crate::data::sources::file::ReadOptions;
use crate::data::sources::sqlite::Watermark;
use crate::data::sources::workspace::{FeatureConfig, Workspace};
use crate::pipeline::saved::Trained;

/// What the session follows and what the last refresh changed.
#[derive(Debug, Default)]
pub struct FollowView {
    /// The files of the shown data (empty: nothing to follow, e.g. a database table).
    pub files: Vec<Watched>,
    /// The files as they were when the shown data was read.
    pub seen: Option<Signature>,
    /// The files as last reported, when they differ from `seen`.
    pub now: Option<Signature>,
    /// What arrived since the shown data was read ("orders.csv +12.0 KB").
    pub arrived: Vec<String>,
    /// F6: refresh as soon as data arrives.
    pub auto: bool,
    /// Each row of the shown table: new, changed or the same as before the last refresh.
    pub marks: Option<Arc<Vec<Mark>>>,
    /// The incremental state of this session's data (a folder under the temporary
    /// directory, removed on exit); a new one for each data set opened.
    pub state_dir: Option<PathBuf>,
    /// State folders of data sets opened before (removed on exit).
    pub old_dirs: Vec<PathBuf>,
    /// Data sets opened in the session (names the state folders).
    pub generation: u64,
    /// The table row selected on the Data screen when a refresh arranged the rows again: the
    /// arranged view selects it again.
    pub keep_row: Option<polars::prelude::IdxSize>,
    /// The refresh or look started by [`poll`] (a refresh's outcome is quiet when nothing
    /// arrived; a failure of either is a status line, tried again at the next poll).
    pub poll_job: Option<u64>,
    /// Each database source looked at since the shown data was read (by role), with the
    /// largest watermark value seen (None while its table was empty).
    pub db_seen: BTreeMap<String, Option<Watermark>>,
    /// Rows each database source gained since the shown data was read (by role).
    pub db_arrived: BTreeMap<String, u64>,
    /// Models run again by a refresh (lifetime values, recommendations): their results
    /// leave the refresh's message up.
    pub reruns: Vec<u64>,
}

impl FollowView {
    /// Rows marked new and changed.
    pub fn counts(&self) -> (usize, usize) {
        self.marks.as_ref().map_or((0, 0), |m| {
            (
                m.iter().filter(|m| **m == Mark::New).count(),
                m.iter().filter(|m| **m == Mark::Changed).count(),
            )
        })
    }

    /// The mark of a table row.
    pub fn mark(&self, row: usize) -> Mark {
        self.marks
            .as_ref()
            .and_then(|m| m.get(row).copied())
            .unwrap_or(Mark::Same)
    }

    /// What arrived since the shown data was read: the files' phrases, then the databases'
    /// ("orders +120 rows").
    pub fn arrivals(&self) -> Vec<String> {
        let mut out = self.arrived.clone();
        out.extend(
            self.db_arrived
                .iter()
                .map(|(role, n)| format!("{role} +{n} row{}", if *n == 1 { "" } else { "s" })),
        );
        out
    }

    /// Whether anything arrived since the shown data was read.
    pub fn has_arrivals(&self) -> bool {
        !self.arrived.is_empty() || !self.db_arrived.is_empty()
    }

    /// A load or refresh read the databases: what they gained is in the view, and the next
    /// look notes where they stand again.
    fn databases_read(&mut self) {
        self.db_seen.clear();
        self.db_arrived.clear();
    }

    /// The folders to remove when the session ends.
    pub fn folders(&self) -> impl Iterator<Item = &PathBuf> {
        self.state_dir.iter().chain(&self.old_dirs)
    }
}

impl Drop for FollowView {
    /// The session's state folders are temporary: gone when the session ends.
    fn drop(&mut self) {
        for dir in self.folders() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// What a refresh re-reads: the workspace incrementally, or one file again.
#[derive(Debug, Clone)]
pub enum Reread {
    Workspace {
        workspace: Box<Workspace>,
        state_dir: PathBuf,
    },
    File {
        path: PathBuf,
        options: Box<ReadOptions>,
    },
}

/// What a model was fit on: the Features selection and the table (the scaling and levels
/// of a saved or assigning model are the training table's, not a refreshed one's).
#[derive(Debug, Clone)]
pub struct FitOn {
    pub features: FeatureConfig,
    pub table: Arc<DataFrame>,
}

impl FitOn {
    /// The shown table and the Features selection.
    pub fn of(state: &State) -> Option<FitOn> {
        Some(FitOn {
            features: state.features.config(),
            table: state.table.clone()?,
        })
    }
}

/// A model on screen to assign the refreshed customers with: what it was fit on and the fit.
#[derive(Debug, Clone)]
pub struct Assign {
    pub on: FitOn,
    pub trained: Trained,
}

/// A new data set was opened (`files` are what it reads, as they were when reading began):
/// follow those from now on; the marks of the table before are gone.
pub fn opened(state: &mut State, files: Vec<Watched>, seen: Signature) {
    let f = &mut state.follow;
    if let Some(d) = f.state_dir.take() {
        f.old_dirs.push(d);
    }
    f.generation += 1;
    f.files = files;
    f.seen = Some(seen);
    f.now = None;
    f.arrived.clear();
    f.databases_read();
    f.marks = None;
}

/// The event loop saw the files change (or change back).
pub fn changed(state: &mut State, now: Signature) -> Vec<Command> {
    let Some(seen) = &state.follow.seen else {
        return Vec::new();
    };
    let arrived = changes(seen, &now);
    state.follow.arrived = arrived;
    state.follow.now = Some(now);
    if state.follow.arrived.is_empty() {
        return Vec::new();
    }
    if state.follow.auto && state.job(JobKind::Load).is_none() {
        return refresh(state);
    }
    announce(state);
    Vec::new()
}

/// The status line says what arrived.
fn announce(state: &mut State) {
    state.message = Some(format!(
        "new data: {} · F5 refreshes (F6: as it arrives)",
        state.follow.arrivals().join(", ")
    ));
}

/// How often a database source is read again while the view follows its sources as data
/// arrives (F6). A database table has no size or time to look at, so the refresh itself is
/// the look: it reads only the rows past the source's `watermark` (docs/databases.md).
pub const DATABASE_POLL: std::time::Duration = std::time::Duration::from_secs(10);

/// Whether the shown data reads a database source that is read again on a timer with F6:
/// a workspace whose database sources each have a `watermark` column (a later read takes
/// only the rows past it; one without would be read whole every time) and whose customers
/// come from a file (a customers table is read whole on every refresh).
pub fn follows_database(state: &State) -> bool {
    let Some(ws) = &state.workspace else {
        return false;
    };
    let s = &ws.sources;
    let activity = [s.orders.as_ref(), s.tickets.as_ref(), s.sessions.as_ref()];
    let databases: Vec<_> = activity
        .into_iter()
        .flatten()
        .filter(|c| c.url.is_some())
        .collect();
    state.follow.files.iter().any(|w| w.database)
        && s.customers.url.is_none()
        && !databases.is_empty()
        && databases.iter().all(|c| c.watermark.is_some())
}

/// F6: refresh as data arrives, or only on F5.
pub fn toggle_auto(state: &mut State) -> Vec<Command> {
    state.follow.auto = !state.follow.auto;
    if !state.follow.auto {
        state.message = Some("follow: F5 refreshes when data arrives (F6: as it arrives)".into());
        return Vec::new();
    }
    state.message = Some(if state.follow.files.is_empty() {
        "follow: on, but the shown data has no file to follow (a database is refreshed with F5)"
            .into()
    } else if follows_database(state) {
        format!(
            "follow: the view refreshes as data arrives; the database is read again every {} s (F6 stops)",
            DATABASE_POLL.as_secs()
        )
    } else if state.follow.files.iter().any(|w| w.database) {
        "follow: the view refreshes as files change; F5 reads the database (only sources with a `watermark`, customers from a file, are read on a timer)".into()
    } else {
        "follow: the view refreshes as data arrives (F6 stops)".into()
    });
    if state.follow.has_arrivals() && state.job(JobKind::Load).is_none() {
        return refresh(state);
    }
    poll(state)
}

/// The event loop's timer (every [`DATABASE_POLL`]), while no job runs. With F6 on and a
/// database source, a refresh whose outcome is quiet when nothing arrived (the view, its
/// marks and the message stay). With F6 off, a look at each database source with a
/// `watermark` (`peek`): what arrived is announced, nothing is read. A failure of either is
/// a line in the status bar, tried again at the next poll.
pub fn poll(state: &mut State) -> Vec<Command> {
    if state.table.is_none() || !state.jobs.is_empty() {
        return Vec::new();
    }
    let commands = if state.follow.auto {
        if !follows_database(state) {
            return Vec::new();
        }
        refresh(state)
    } else {
        let peeks = peeks(state);
        if peeks.is_empty() {
            return Vec::new();
        }
        state.start_job(JobRequest::Peek(peeks))
    };
    state.follow.poll_job = commands.iter().find_map(|c| match c {
        Command::Spawn { id, .. } => Some(*id),
        _ => None,
    });
    commands
}

/// A database source to look at: where it is, its watermark column and the largest value
/// seen at the last look.
#[derive(Debug, Clone)]
pub struct Peek {
    pub role: String,
    pub url: String,
    pub table: Option<String>,
    pub query: Option<String>,
    pub column: String,
    pub after: Option<Watermark>,
}

/// The shown workspace's database sources with a `watermark` column.
fn peeks(state: &State) -> Vec<Peek> {
    let Some(ws) = &state.workspace else {
        return Vec::new();
    };
    let s = &ws.sources;
    [
        ("customers", Some(&s.customers)),
        ("orders", s.orders.as_ref()),
        ("tickets", s.tickets.as_ref()),
        ("sessions", s.sessions.as_ref()),
    ]
    .into_iter()
    .filter_map(|(role, c)| {
        let c = c?;
        Some(Peek {
            role: role.to_string(),
            url: c.url.clone()?,
            table: c.table.clone(),
            query: c.query.clone(),
            column: c.watermark.clone()?,
            after: state.follow.db_seen.get(role).cloned().flatten(),
        })
    })
    .collect()
}

/// On the worker thread: each source's rows past its last look, and its largest value.
pub fn look(peeks: &[Peek]) -> crate::data::error::Result<Vec<(String, u64, Option<Watermark>)>> {
    peeks
        .iter()
        .map(|p| {
            let (n, max) = crate::data::sources::postgres::rows_past(
                &p.url,
                p.table.as_deref(),
                p.query.as_deref(),
                &p.column,
                p.after.as_ref(),
            )?;
            Ok((p.role.clone(), n, max))
        })
        .collect()
}

/// What a look found: the first look after a load or refresh notes where each source
/// stands; a later one adds the rows past it to what arrived and says so.
pub fn looked(state: &mut State, found: Vec<(String, u64, Option<Watermark>)>) {
    let mut news = false;
    for (role, n, max) in found {
        // No row past the last value: the last value stays (an empty table: none yet, and
        // the next look counts every row).
        let first = !state.follow.db_seen.contains_key(&role);
        let before = state.follow.db_seen.get(&role).cloned().flatten();
        state.follow.db_seen.insert(role.clone(), max.or(before));
        if !first && n > 0 {
            *state.follow.db_arrived.entry(role).or_default() += n;
            news = true;
        }
    }
    if news {
        announce(state);
    }
}

/// F5: read what is new on a worker thread (the shown data stays until it is done).
pub fn refresh(state: &mut State) -> Vec<Command> {
    if let Some(j) = state.job(JobKind::Load) {
        // A refresh would cancel it (one load at a time): the analyst asks again after.
        state.message = Some(format!("{} first; F5 when it is done", j.label));
        return Vec::new();
    }
    let Some(previous) = state.table.clone() else {
        state.error = Some("nothing to refresh: no data is open (o opens a source)".into());
        return Vec::new();
    };
    let shown = state.sources.shown_entry().map(|e| e.target.clone());
    let reread = match (&state.workspace, shown) {
        (Some(ws), _) => {
            let f = &mut state.follow;
            let dir = f.state_dir.get_or_insert_with(|| {
                // One folder per data set of each session: two sessions of one process (the
                // tests) must not share one.
                static FOLDERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = FOLDERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                std::env::temp_dir().join(format!(
                    "crmlens-follow-{}-{}-{n}",
                    std::process::id(),
                    f.generation
                ))
            });
            Reread::Workspace {
                workspace: ws.clone(),
                state_dir: dir.clone(),
            }
        }
        (None, Some(super::sources::Target::Source { path, options })) => Reread::File {
            path,
            options: Box::new(options),
        },
        _ => {
            state.error = Some("nothing to refresh: no data is open (o opens a source)".into());
            return Vec::new();
        }
    };
    let segment = match (&state.segments.run, &state.segments.run_features) {
        (Some(run), Some(on)) => Some(Assign {
            on: on.clone(),
            trained: Trained::Segment(run.model.clone()),
        }),
        _ => None,
    };
    let predict = match (&state.predict.result, &state.predict.run_features) {
        (Some(r), Some(on)) => r.run.fitted.clone().map(|fitted| Assign {
            on: on.clone(),
            trained: Trained::Predict(crate::pipeline::saved::Prediction {
                target: r.target.clone(),
                classes: r.classes.clone(),
                threshold: r.run.threshold,
                fitted,
            }),
        }),
        _ => None,
    };
    state.start_job(JobRequest::Refresh(Box::new(super::job::RefreshRequest {
        reread,
        previous,
        files: state.follow.files.clone(),
        segment,
        predict,
    })))
}

/// Every row's class probabilities and actual class.
pub type Rescored = (Vec<Vec<f64>>, Vec<usize>);

/// What a refresh brought back (computed on the worker thread).
#[derive(Debug)]
pub struct Refreshed {
    pub followed: crate::data::integrate::follow::Followed,
    pub report: Option<crate::data::integrate::quality::QualityReport>,
    pub pii: Vec<crate::data::privacy::PiiColumn>,
    pub targets: Vec<String>,
    /// The files as they were when the refresh began.
    pub seen: Signature,
    /// One phrase per source: what it brought ("orders +120 lines").
    pub sources: Vec<String>,
    /// The segmentation's labels of every row of the refreshed table, or why not.
    pub segment: Option<Result<Vec<i64>, String>>,
    /// The prediction's probabilities and actual classes of every row, or why not.
    pub predict: Option<Result<Rescored, String>>,
}

/// The refreshed table replaces the shown one; what the analyst chose stays. A `quiet`
/// refresh (a [`poll`]) that found nothing new leaves everything as it was.
pub fn refreshed(state: &mut State, r: Refreshed, secs: f64, quiet: bool) -> Vec<Command> {
    if quiet
        && r.followed.new == 0
        && r.followed.changed == 0
        && r.followed.removed == 0
        && r.followed.keeps_rows()
    {
        return Vec::new();
    }
    let Refreshed {
        followed,
        report,
        pii,
        targets,
        seen,
        sources,
        segment,
        predict,
    } = r;
    let keeps = followed.keeps_rows();
    // A model running on the table before would come back with its rows: stop it.
    let stale: Vec<String> = state
        .jobs
        .iter()
        .filter(|j| matches!(j.kind, JobKind::Model | JobKind::Predict))
        .map(|j| {
            j.progress.cancel();
            j.label.clone()
        })
        .collect();
    state
        .jobs
        .retain(|j| !matches!(j.kind, JobKind::Model | JobKind::Predict));
    let (new, changed, removed) = (followed.new, followed.changed, followed.removed);
    let table = Arc::new(followed.table);
    let columns_same = state
        .table
        .as_ref()
        .is_some_and(|t| t.get_column_names() == table.get_column_names());
    if !columns_same {
        let config = state.features.config();
        let cursor = state.features.cursor;
        state.features = crate::screens::features::FeaturesView::from_table(&table, Some(&config));
        state.features.cursor = cursor.min(state.features.items.len().saturating_sub(1));
    }
    state.follow.marks = Some(Arc::new(followed.marks));
    // Changes that came while the refresh ran stay to be read.
    let now = state.follow.now.take();
    state.follow.arrived = now.as_ref().map(|n| changes(&seen, n)).unwrap_or_default();
    if !state.follow.arrived.is_empty() {
        state.follow.now = now;
    }
    state.follow.seen = Some(seen);
    state.follow.databases_read();
    state.table = Some(table);
    state.report = report;
    state.pii = pii;
    state.predict.value_targets = state
        .table
        .as_deref()
        .map(crate::data::features::target::value_candidates)
        .unwrap_or_default();
    state.predict.targets = targets;
    let mut lines = vec![format!(
        "refreshed in {secs:.1}s: {new} new (+), {changed} changed (*){}",
        if removed > 0 {
            format!(", {removed} gone")
        } else {
            String::new()
        }
    )];
    if !sources.is_empty() {
        lines.push(sources.join(", "));
    }
    let mut problems = Vec::new();
    match (segment, keeps) {
        (Some(Ok(labels)), true) => {
            if let Some(run) = &mut state.segments.run {
                let before = run.labels.clone();
                run.relabel(labels);
                let moved = before
                    .iter()
                    .zip(&run.labels)
                    .filter(|(a, b)| a != b)
                    .count();
                lines.push(format!(
                    "segments: {} customers assigned with the current model, {moved} changed segment (r refits)",
                    run.labels.len()
                ));
            }
        }
        (Some(Err(e)), _) => {
            problems.push(format!("segments cleared: {e} (r runs them again)"));
            state.segments.run = None;
        }
        (Some(Ok(_)), false) => {
            problems.push(format!(
                "segments cleared: {removed} customers are no longer in the data (r runs them again)"
            ));
            state.segments.run = None;
        }
        (None, _) => {}
    }
    match (predict, keeps) {
        (Some(Ok((p, y))), true) => {
            if let Some(result) = &mut state.predict.result {
                let before = result.run.predicted();
                result.rescore(p, y);
                let now = result.run.predicted();
                let crossed = before.iter().zip(&now).filter(|(a, b)| a != b).count();
                lines.push(format!(
                    "predict: {} customers scored with the current model, {crossed} crossed the threshold (r refits)",
                    now.len()
                ));
            }
            state.predict.drill = None;
        }
        (Some(Err(e)), _) => {
            problems.push(format!("prediction cleared: {e} (r runs it again)"));
            state.predict.result = None;
            state.predict.drill = None;
        }
        (Some(Ok(_)), false) => {
            problems.push(format!(
                "prediction cleared: {removed} customers are no longer in the data (r runs it again)"
            ));
            state.predict.result = None;
            state.predict.drill = None;
        }
        (None, _) => {}
    }
    // Lifetime values and recommendations read the order lines, not the table: run again
    // on what the refresh read.
    let mut again = Vec::new();
    let mut cmds = Vec::new();
    if new + changed + removed > 0 {
        if state.clv.result.is_some() {
            cmds.extend(crate::screens::clv::run(state));
            again.push("lifetime values");
        }
        if state.recommend.result.is_some() {
            cmds.extend(crate::screens::recommend::run(state));
            again.push("recommendations");
        }
        state.follow.reruns = cmds
            .iter()
            .filter_map(|c| match c {
                Command::Spawn { id, .. } => Some(*id),
                _ => None,
            })
            .collect();
    }
    if !again.is_empty() {
        lines.push(format!(
            "{} run again on the new lines",
            again.join(" and ")
        ));
    }
    state.message = Some(lines.join("; "));
    problems.extend(
        stale.iter().map(|l| {
            format!("stopped {l}: it ran on the data before the refresh (r runs it again)")
        }),
    );
    state.error = (!problems.is_empty()).then(|| problems.join("; "));
    // The Data screen's place stays; its filter and sort are applied to the new rows.
    let rows = state.table.as_ref().map_or(0, |t| t.height());
    if !keeps {
        state.data.order = None;
    }
    state.data.row = state.data.row.min(rows.saturating_sub(1));
    state.data.summary = None;
    if state.data.filter.is_some() || state.data.sort.is_some() {
        let (filter, sort) = (state.data.filter.clone(), state.data.sort.clone());
        // The selected customer's table row (the shown customers kept theirs).
        state.follow.keep_row = match (&state.data.order, keeps) {
            (Some(o), true) => o.get(state.data.row).copied(),
            _ => None,
        }
        .or(Some(0));
        cmds.extend(crate::screens::data::arrange(state, filter, sort));
    }
    cmds.extend(crate::screens::data::summarise(state));
    cmds.extend(crate::screens::features::correlate(state));
    if state.follow.auto && state.follow.has_arrivals() {
        cmds.extend(refresh(state));
    }
    cmds
}

/// On the worker thread: re-read, arrange the rows after `previous`, and assign the models.
pub fn run(
    request: super::job::RefreshRequest,
    progress: &crate::progress::Progress,
) -> Result<Refreshed, crate::pipeline::PipelineError> {
    let super::job::RefreshRequest {
        reread,
        previous,
        files,
        segment,
        predict,
    } = request;
    let seen = crate::data::integrate::follow::signature(&files);
    let (table, report, pii, sources) = match reread {
        // The Spark engine keeps no state here: the cluster integrates it all again.
        Reread::Workspace { workspace, .. }
            if workspace.engine.kind != crate::data::sources::workspace::EngineKind::Local =>
        {
            let c = crate::data::integrate::integrate(&workspace, progress)?;
            let pii = crate::data::privacy::detect(&c.table, &workspace.privacy);
            let sources = vec!["integrated again on Spark".to_string()];
            (c.table, Some(c.report), pii, sources)
        }
        Reread::Workspace {
            workspace,
            state_dir,
        } => {
            let r = crate::data::integrate::incremental::integrate_incremental(
                &workspace, &state_dir, None, progress,
            )?;
            let sources = r
                .sources
                .iter()
                .filter(|s| s.mode != "unchanged")
                .map(|s| match s.mode {
                    "appended" => format!("{} +{} lines", s.role, s.rows),
                    _ => format!(
                        "{} read whole ({})",
                        s.role,
                        s.reason.as_deref().unwrap_or("first refresh")
                    ),
                })
                .collect();
            let table = r.customer360.table;
            let pii = crate::data::privacy::detect(&table, &workspace.privacy);
            (table, Some(r.customer360.report), pii, sources)
        }
        Reread::File { path, options } => {
            progress.start("reading", 1);
            let scanned = crate::data::sources::file::scan(&path, &options)?;
            let table = crate::data::sources::file::collect_source(&scanned.path, scanned.frame)?;
            let pii = crate::data::privacy::detect(&table, &Default::default());
            (table, None, pii, Vec::new())
        }
    };
    progress.label("comparing with the shown table");
    let followed = crate::data::integrate::follow::follow(&previous, table)?;
    let targets = crate::data::features::target::candidates(&followed.table);
    let key = followed
        .table
        .get_column_names()
        .first()
        .map(|s| s.to_string())
        .unwrap_or_default();
    let segment = segment.map(|a| {
        progress.label("assigning segments");
        assign(&followed.table, &key, &a).map(|s| s.labels.unwrap_or_default())
    });
    let predict = predict.map(|a| {
        progress.label("scoring the prediction");
        let Trained::Predict(p) = &a.trained else {
            return Err("not a classifier".to_string());
        };
        let y = actual(&followed.table, &p.target, &p.classes)?;
        assign(&followed.table, &key, &a).map(|s| (s.probabilities.unwrap_or_default(), y))
    });
    Ok(Refreshed {
        followed,
        report,
        pii,
        targets,
        seen,
        sources,
        segment,
        predict,
    })
}

/// Scores every row of `table` with the model (one score per row, in order), or says why it
/// cannot.
fn assign(
    table: &DataFrame,
    key: &str,
    a: &Assign,
) -> Result<crate::pipeline::saved::Scored, String> {
    let (model, _) = crate::pipeline::saved::trained_model(&a.on.table, &a.on.features, &a.trained)
        .map_err(|e| e.to_string())?;
    let scored =
        crate::pipeline::saved::score(&model, table.clone(), key).map_err(|e| e.to_string())?;
    if scored.matrix.keys.len() != table.height() {
        return Err(format!(
            "{} customers could not be scored (a missing feature)",
            table.height() - scored.matrix.keys.len()
        ));
    }
    Ok(scored)
}

/// Each row's class of `target` among `classes`, or which value is not one of them.
fn actual(table: &DataFrame, target: &str, classes: &[String]) -> Result<Vec<usize>, String> {
    let c = table
        .column(target)
        .map_err(|_| format!("the refreshed table has no target column `{target}`"))?;
    let text = c
        .cast(&polars::prelude::DataType::String)
        .map_err(|e| e.to_string())?;
    let text = text.str().map_err(|e| e.to_string())?;
    text.iter()
        .map(|v| {
            v.and_then(|v| classes.iter().position(|c| c == v))
                .ok_or_else(|| {
                    format!(
                        "target `{target}` has {} in the refreshed table, not one of the model's classes ({})",
                        v.map_or("a missing value".to_string(), |v| format!("the value `{v}`")),
                        classes.join(", ")
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Looks at a database source: the first one is silent, even on an empty table; rows
    /// past the last value seen are announced and add up; a look that finds nothing past it
    /// keeps the last value.
    #[test]
    fn looks_announce_the_rows_past_the_last_value_seen() {
        let mut s = State::new("looks".into());
        let text = |t: &str| Some(Watermark::Text(t.into()));
        let said = |s: &State| s.message.clone().unwrap_or_default();
        // An empty table: nothing seen yet, and nothing to say.
        looked(&mut s, vec![("orders".into(), 0, None)]);
        assert_eq!(s.message, None);
        assert_eq!(s.follow.db_seen.get("orders"), Some(&None));
        // Its first rows are announced (a later look counts every row while none was seen).
        looked(&mut s, vec![("orders".into(), 5, text("5"))]);
        assert!(
            said(&s).starts_with("new data: orders +5 rows"),
            "{}",
            said(&s)
        );
        assert!(s.follow.has_arrivals());
        // Nothing past the last value: it stays, and so does the announcement.
        looked(&mut s, vec![("orders".into(), 0, None)]);
        assert_eq!(s.follow.db_seen.get("orders"), Some(&text("5")));
        looked(&mut s, vec![("orders".into(), 1, text("6"))]);
        assert!(
            said(&s).starts_with("new data: orders +6 rows"),
            "{}",
            said(&s)
        );
        // A load reads them: what arrived is gone and the next look is a first one again.
        opened(&mut s, Vec::new(), Vec::new());
        assert!(!s.follow.has_arrivals() && s.follow.db_seen.is_empty());
        let before = said(&s);
        looked(&mut s, vec![("orders".into(), 9, text("9"))]);
        assert_eq!(said(&s), before);
    }
}
