//! `crmlens watch`: keeps a customer-360 table (and the scores of saved models) up to date as
//! its sources grow. Each refresh is an incremental integration (`integrate --state`), the
//! table and score files rewritten atomically, and one line saying what arrived, how long it
//! took and how many customers changed segment or crossed a classifier's threshold.
//!
//! It wakes when the system says a source file changed (inotify, through the `notify` crate)
//! and, in any case, every `--interval` seconds, when it compares each source file's size and
//! modification time with the last refresh's (so it also works where notifications do not
//! reach, such as network file systems); a database source is read again every interval.
//! SIGTERM and SIGINT stop it: a refresh under way is cancelled (its files are written
//! atomically, so the previous ones stay whole) and it exits with status 0.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::Args;
use polars::prelude::DataFrame;

use crate::data::integrate::follow::{Signature, signature, source_files};
use crate::data::integrate::incremental::{SourceRefresh, integrate_incremental};
use crate::data::sources::workspace::Workspace;
use crate::pipeline::saved::{Model, SavedModel, score};
use crate::progress::Progress;

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The workspace file.
    #[arg(long, short = 'w')]
    pub workspace: PathBuf,
    /// The 360 table to keep up to date (.csv, .parquet or .json). Personal-data columns are
    /// left out unless --include-pii.
    #[arg(long)]
    pub out: PathBuf,
    /// A saved model (`segment` or `predict` --save-model) to score the table with after
    /// each refresh; repeatable. Each writes `<out name>.<model name>.<out extension>` beside
    /// --out (the columns of `crmlens score --out`).
    #[arg(long = "score")]
    pub models: Vec<PathBuf>,
    /// Seconds between checks of the sources (file changes the system reports wake it
    /// sooner).
    #[arg(long, default_value_t = 2.0)]
    pub interval: f64,
    /// The incremental state's folder (default: `<out>.state` beside --out).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Keep the personal-data columns in --out.
    #[arg(long = "include-pii")]
    pub include_pii: bool,
    #[command(flatten)]
    pub export: super::ExportFlags,
}

/// A model to score with, its output and the last refresh's result per customer.
struct Scorer {
    path: PathBuf,
    model: SavedModel,
    out: PathBuf,
    last: BTreeMap<String, String>,
}

fn scored_path(out: &Path, model: &Path) -> PathBuf {
    let stem = out.file_stem().map(|s| s.to_string_lossy().to_string());
    let model_stem = model.file_stem().map(|s| s.to_string_lossy().to_string());
    let ext = out
        .extension()
        .map(|e| e.to_string_lossy().to_string())
        .unwrap_or_else(|| "csv".into());
    out.with_file_name(format!(
        "{}.{}.{ext}",
        stem.unwrap_or_else(|| "c360".into()),
        model_stem.unwrap_or_else(|| "model".into())
    ))
}

pub fn run(a: WatchArgs) -> Result<()> {
    if !(a.interval.is_finite() && a.interval >= 0.05) {
        bail!("--interval {}: give seconds, at least 0.05", a.interval);
    }
    let ws = Workspace::load(&a.workspace)?;
    let state = a.state.clone().unwrap_or_else(|| {
        let mut s = a.out.clone().into_os_string();
        s.push(".state");
        PathBuf::from(s)
    });
    let owned = crate::data::integrate::incremental::wrote(&state, &a.out);
    let mut export = a.export.clone();
    export.force |= owned;
    let opts = export.options(Some(&a.out), Some(&a.workspace))?;
    let mut scorers = Vec::new();
    for m in &a.models {
        let model = SavedModel::load(m)?;
        if !matches!(model.model, Model::Segment(_) | Model::Predict(_)) {
            bail!(
                "{}: watch scores the 360 table with segment and predict models; a {} model is scored with `crmlens score`",
                m.display(),
                model.model.kind()
            );
        }
        let out = scored_path(&a.out, m);
        crate::data::write::table_format(&out)?;
        crate::data::write::refuse_existing(&out, export.force)?;
        scorers.push(Scorer {
            path: m.clone(),
            model,
            out,
            last: BTreeMap::new(),
        });
    }
    // SIGTERM / SIGINT: stop, cancelling a refresh under way.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    let files = source_files(&ws);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    // File notifications where the system has them; polling covers the rest.
    let _watcher = {
        use notify::Watcher as _;
        let tx = tx.clone();
        let mut w = notify::recommended_watcher(move |_res: notify::Result<notify::Event>| {
            let _ = tx.send(());
        })
        .ok();
        if let Some(w) = &mut w {
            let mut dirs: Vec<PathBuf> = files
                .iter()
                .filter(|w| !w.database)
                .filter_map(|w| w.path.parent().map(Path::to_path_buf))
                .collect();
            dirs.sort();
            dirs.dedup();
            for d in dirs {
                let d = if d.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    d
                };
                let _ = w.watch(&d, notify::RecursiveMode::NonRecursive);
            }
        }
        w
    };
    let has_db = files.iter().any(|w| w.database);
    let mut last: Option<Signature> = None;
    let mut first = true;
    let mut stdout = super::out::stdout();
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let now = signature(&files);
        if first || has_db || last.as_ref() != Some(&now) {
            let progress = Progress::new();
            let cancel = {
                let (stop, progress) = (stop.clone(), progress.clone());
                let done = Arc::new(AtomicBool::new(false));
                let d = done.clone();
                std::thread::spawn(move || {
                    while !d.load(Ordering::Relaxed) {
                        if stop.load(Ordering::Relaxed) {
                            progress.cancel();
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                });
                done
            };
            let result = refresh(&a, &ws, &state, &opts, &mut scorers, &progress);
            cancel.store(true, Ordering::Relaxed);
            match result {
                Ok(line) => {
                    writeln!(stdout, "{line}")?;
                }
                Err(e) if stop.load(Ordering::Relaxed) => {
                    let _ = e;
                    break;
                }
                // A refresh that fails (a file being rewritten, a value that does not parse)
                // is reported and tried again on the next change: the previous files stay.
                Err(e) => {
                    writeln!(stdout, "{}  refresh failed: {e:#}", stamp())?;
                }
            }
            first = false;
            last = Some(now);
        }
        // Wait for a notification or the interval, then let a burst of writes settle.
        let deadline = Instant::now() + Duration::from_secs_f64(a.interval);
        while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
            let left = deadline.saturating_duration_since(Instant::now());
            if rx
                .recv_timeout(left.min(Duration::from_millis(100)))
                .is_ok()
            {
                std::thread::sleep(Duration::from_millis(100));
                while rx.try_recv().is_ok() {}
                break;
            }
        }
    }
    writeln!(stdout, "{}  stopped", stamp())?;
    Ok(())
}

fn stamp() -> String {
    chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// One refresh: integrate what arrived, write the table and the scores, and the line saying
/// what happened.
fn refresh(
    a: &WatchArgs,
    ws: &Workspace,
    state: &Path,
    opts: &crate::data::write::ExportOptions,
    scorers: &mut [Scorer],
    progress: &Progress,
) -> Result<String> {
    let started = Instant::now();
    let r = integrate_incremental(ws, state, Some(&a.out), progress)?;
    let c360 = r.customer360;
    let key = ws.workspace.customer_key.clone();
    let mut parts: Vec<String> = r.sources.iter().map(arrived).collect();
    let n = c360.table.height();
    let mut scored = Vec::new();
    for s in scorers.iter_mut() {
        scored.push(score_table(s, &c360.table, &key, opts)?);
    }
    let (mut table, _) = if a.include_pii {
        (c360.table, Vec::new())
    } else {
        crate::data::privacy::drop_pii(&c360.table, &ws.privacy)
    };
    let has_key = table.get_column_names().iter().any(|c| c.as_str() == key);
    let mut write_opts = opts.clone();
    write_opts.overwrite = true;
    crate::data::write::write_table(
        &mut table,
        &a.out,
        has_key.then_some(key.as_str()),
        &write_opts,
    )?;
    parts.push(format!("{n} customers"));
    parts.extend(scored);
    Ok(format!(
        "{}  {}; {:.2} s",
        stamp(),
        parts.join("; "),
        started.elapsed().as_secs_f64()
    ))
}

/// What a source brought, in a few words.
fn arrived(s: &SourceRefresh) -> String {
    match s.mode {
        "appended" => format!("{} +{} lines", s.role, s.rows),
        "unchanged" => format!("{} nothing new", s.role),
        _ => format!(
            "{} read whole ({})",
            s.role,
            s.reason.as_deref().unwrap_or("")
        ),
    }
}

/// Scores the table with one model, writes its file, and says how many customers changed
/// segment or crossed the threshold since the last refresh.
fn score_table(
    s: &mut Scorer,
    table: &DataFrame,
    key: &str,
    opts: &crate::data::write::ExportOptions,
) -> Result<String> {
    let scored = score(&s.model, table.clone(), key)
        .map_err(|e| anyhow::anyhow!("{}: {e}", s.path.display()))?;
    let keys = &scored.matrix.keys;
    let ids: Vec<String> = keys
        .cast(&polars::prelude::DataType::String)?
        .str()?
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect();
    let mut write_opts = opts.clone();
    write_opts.overwrite = true;
    let name = s
        .path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let (now, what): (Vec<String>, String) = match &s.model.model {
        Model::Segment(_) => {
            let labels = scored.labels.clone().unwrap_or_default();
            crate::export::write_labels(&s.out, key, keys, labels.clone(), &write_opts)?;
            (
                labels.iter().map(|l| l.to_string()).collect(),
                "changed segment".into(),
            )
        }
        Model::Predict(p) => {
            let proba = scored.probabilities.as_deref().unwrap_or_default();
            let predicted = scored.predicted.as_deref().unwrap_or_default();
            let scores = crate::export::Scores {
                classes: &p.classes,
                actual: None,
                probabilities: proba,
                predicted,
                test: None,
            };
            crate::export::write_scores(&s.out, key, keys, &scores, None, &write_opts)?;
            let what = if p.classes.len() == 2 {
                format!("crossed the threshold {}", p.threshold)
            } else {
                "changed predicted class".into()
            };
            (
                predicted.iter().map(|&c| p.classes[c].clone()).collect(),
                what,
            )
        }
        Model::Regress(_) => {
            let values = scored.values.as_deref().unwrap_or_default();
            crate::export::write_values(
                &s.out,
                key,
                keys,
                &crate::export::Values {
                    actual: None,
                    predicted: values,
                    test: None,
                },
                None,
                &write_opts,
            )?;
            (
                values.iter().map(|v| format!("{v:.2}")).collect(),
                "changed predicted value (to the cent)".into(),
            )
        }
        Model::Clv(_) | Model::Link(_) => unreachable!("refused when loaded"),
    };
    let first = s.last.is_empty();
    let mut changed = 0;
    let mut new = 0;
    let mut next = BTreeMap::new();
    for (id, v) in ids.into_iter().zip(now) {
        match s.last.get(&id) {
            Some(old) if *old != v => changed += 1,
            None => new += 1,
            _ => {}
        }
        next.insert(id, v);
    }
    s.last = next;
    Ok(if first {
        format!("{name}: scored")
    } else {
        format!("{name}: {changed} {what}, {new} new")
    })
}
