//! Writing results to CSV, Parquet or JSON (by the file name's extension), for the headless
//! `--out` options and the workbench's exports.
//!
//! Every write goes to a temporary file in the target folder, which is renamed into place
//! only when complete, so a crash or a full disk never leaves half a file under the real
//! name; an existing file is replaced only when [`ExportOptions::overwrite`] says so. With a
//! [`Pseudonymiser`] the customer key is replaced by its keyed pseudonym.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use polars::prelude::*;

use super::error::{DataError, Result};
use super::privacy::Pseudonymiser;

/// How an export is written.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Replace an existing file (headless `--force`; the workbench asks first).
    pub overwrite: bool,
    /// Replace the customer key by its keyed pseudonym.
    pub pseudonymiser: Option<Arc<Pseudonymiser>>,
}

impl ExportOptions {
    /// Options that replace an existing file and keep ids as they are.
    pub fn overwriting() -> ExportOptions {
        ExportOptions {
            overwrite: true,
            pseudonymiser: None,
        }
    }

    /// `id_col` of `df` pseudonymised, when asked.
    fn ids(&self, df: &mut DataFrame, id_col: &str) -> Result<()> {
        match &self.pseudonymiser {
            Some(p) => p.apply(df, id_col),
            None => Ok(()),
        }
    }
}

/// An error for an existing `out` unless `overwrite` (checked again by [`write_atomic`]; call
/// it first to refuse before a long computation).
pub fn refuse_existing(out: &Path, overwrite: bool) -> Result<()> {
    if out.exists() && !overwrite {
        return Err(exists_error(out));
    }
    Ok(())
}

/// The suffix of the temporary files [`AtomicFile`] writes: `.NAME.PID.crmlens-tmp`.
const TMP_SUFFIX: &str = ".crmlens-tmp";

/// A temporary file of a process that is gone is removed only when it has not been touched
/// for this long (a writer in another PID namespace sharing the folder keeps writing it).
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// The file a write to `out` replaces: `out` itself, or, when `out` is a symbolic link
/// (to a file that may not exist yet), the file it points to, so a write goes through the
/// link instead of replacing it with a regular file.
pub fn resolve_target(out: &Path) -> Result<std::path::PathBuf> {
    let mut path = out.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&path).map_err(|e| DataError::io(&path, e))?;
                path = match path.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(path),
        }
    }
    Err(DataError::Invalid(format!(
        "{}: too many levels of symbolic links (a loop?); write to a plain path",
        out.display()
    )))
}

/// Whether process `pid` is running here (false only when /proc says it is not).
fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

/// Removes the temporary files in `dir` that processes no longer running left behind (a
/// killed export): `.NAME.PID.crmlens-tmp` whose PID is gone and that has not been written
/// to for [`STALE_AFTER`]. Returns how many were removed. Best effort: an unreadable folder
/// or a file that cannot be removed is left as it is.
pub fn remove_stale_temporaries(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name
            .strip_prefix('.')
            .and_then(|n| n.strip_suffix(TMP_SUFFIX))
        else {
            continue;
        };
        let Some(pid) = stem
            .rsplit_once('.')
            .and_then(|(_, pid)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || process_alive(pid) {
            continue;
        }
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        let idle = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age >= STALE_AFTER);
        if meta.is_file() && idle && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// A file written atomically: the bytes go to a temporary file next to the target, which
/// [`AtomicFile::commit`] flushes to disk and renames over the target (then syncs the
/// folder, so the rename survives a crash). Dropped without a commit (an error, a cancelled
/// job, a panic) the temporary file is removed. The target is the file a symbolic link
/// points to, when `out` is one; a replaced file keeps its permissions.
#[derive(Debug)]
pub struct AtomicFile {
    out: std::path::PathBuf,
    target: std::path::PathBuf,
    tmp: std::path::PathBuf,
    file: Option<std::fs::File>,
    overwrite: bool,
}

impl AtomicFile {
    /// Starts writing `out`; an existing `out` is an error unless `overwrite` (checked again
    /// when committing). Stale temporary files of dead processes in the folder are removed.
    pub fn create(out: &Path, overwrite: bool) -> Result<AtomicFile> {
        AtomicFile::create_with(out, overwrite, false)
    }

    /// As [`AtomicFile::create`]; with `private`, a new file is readable by its owner only
    /// (0600: a workspace holding a database URL). A replaced file keeps its permissions.
    pub fn create_with(out: &Path, overwrite: bool, private: bool) -> Result<AtomicFile> {
        refuse_existing(out, overwrite)?;
        let target = resolve_target(out)?;
        // Renaming a file over a device, a pipe or a folder would replace it (as root,
        // /dev/null itself): only regular files are written.
        if let Ok(m) = std::fs::metadata(&target)
            && !m.is_file()
        {
            return Err(DataError::Invalid(format!(
                "{}: not a regular file (a folder, device or pipe); write to a file",
                out.display()
            )));
        }
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(DataError::Invalid(format!(
                "{}: the folder {} does not exist; create it or choose another path",
                out.display(),
                dir.display()
            )));
        }
        remove_stale_temporaries(&dir);
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "export".into());
        let tmp = dir.join(format!(".{name}.{}{TMP_SUFFIX}", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            // The temporary file starts private: it may hold what the target's permissions
            // protect; it gets the target's own permissions when committed.
            options.mode(0o600);
        }
        let file = options.open(&tmp).map_err(|e| DataError::io(&tmp, e))?;
        let mode = match existing_permissions(&target) {
            Some(p) => Some(p),
            None if private => None,
            None => default_permissions(),
        };
        if let Some(perm) = mode {
            let _ = file.set_permissions(perm);
        }
        Ok(AtomicFile {
            out: out.to_path_buf(),
            target,
            tmp,
            file: Some(file),
            overwrite,
        })
    }

    /// The temporary file, to write to.
    pub fn file(&mut self) -> &mut std::fs::File {
        self.file
            .as_mut()
            .expect("an uncommitted AtomicFile has its file")
    }

    /// Where the bytes go until the commit.
    pub fn temporary_path(&self) -> &Path {
        &self.tmp
    }

    /// Flushes the file to disk and renames it over the target (an existing target is
    /// refused unless overwriting, without a window in which another file could be
    /// replaced), then syncs the folder.
    pub fn commit(mut self) -> Result<()> {
        let mut file = self
            .file
            .take()
            .expect("an uncommitted AtomicFile has its file");
        file.flush()
            .and_then(|_| file.sync_all())
            .map_err(|e| DataError::io(&self.tmp, e))?;
        drop(file);
        if self.overwrite {
            std::fs::rename(&self.tmp, &self.target).map_err(|e| DataError::io(&self.out, e))?;
        } else {
            // A hard link fails if the name exists (rename would replace it): no clobbering
            // a file that appeared while this one was written.
            match std::fs::hard_link(&self.tmp, &self.target) {
                Ok(()) => {
                    let _ = std::fs::remove_file(&self.tmp);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(exists_error(&self.out));
                }
                // A file system without hard links: check, then rename.
                Err(_) => {
                    refuse_existing(&self.target, false)?;
                    std::fs::rename(&self.tmp, &self.target)
                        .map_err(|e| DataError::io(&self.out, e))?;
                }
            }
        }
        self.tmp.clear();
        if let Some(dir) = self.target.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            // Best effort: some file systems cannot sync a folder.
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file().write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file().flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            drop(self.file.take());
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// The permissions of an existing `target`, to keep when replacing it.
fn existing_permissions(target: &Path) -> Option<std::fs::Permissions> {
    std::fs::metadata(target).ok().map(|m| m.permissions())
}

/// A new file's permissions: 0666 less the process's umask, as `File::create` gives.
#[cfg(unix)]
fn default_permissions() -> Option<std::fs::Permissions> {
    use std::os::unix::fs::PermissionsExt as _;
    Some(std::fs::Permissions::from_mode(0o666 & !umask()))
}

#[cfg(not(unix))]
fn default_permissions() -> Option<std::fs::Permissions> {
    None
}

/// The process's umask (read from /proc/self/status; 022 when not known).
#[cfg(unix)]
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

fn exists_error(out: &Path) -> DataError {
    DataError::Invalid(format!(
        "{}: the file exists already; pass --force to replace it, or choose another name",
        out.display()
    ))
}

/// Runs `write` on a temporary file next to `out` and renames it to `out` when `write`
/// succeeds (removing it when not): an [`AtomicFile`]. Refuses an existing `out` unless
/// `overwrite`.
pub fn write_atomic<T>(
    out: &Path,
    overwrite: bool,
    write: impl FnOnce(&mut std::fs::File) -> Result<T>,
) -> Result<T> {
    let mut f = AtomicFile::create(out, overwrite)?;
    let v = write(f.file())?;
    f.commit()?;
    Ok(v)
}

/// Writes `text` to `out` atomically (JSON results, reports).
pub fn write_text(out: &Path, text: &str, overwrite: bool) -> Result<()> {
    write_atomic(out, overwrite, |f| {
        f.write_all(text.as_bytes())
            .map_err(|e| DataError::io(out, e))
    })
}

/// The table format of `out` by its extension: "csv", "parquet" or "json", else an error.
pub fn table_format(out: &Path) -> Result<String> {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !matches!(ext.as_str(), "csv" | "parquet" | "json") {
        return Err(DataError::Invalid(format!(
            "{}: unknown output format `.{ext}`; use a .csv, .parquet or .json file name",
            out.display()
        )));
    }
    Ok(ext)
}

fn write_frame(df: &mut DataFrame, ext: &str, out: &Path, file: &mut std::fs::File) -> Result<()> {
    let failed = |e: PolarsError| DataError::Malformed {
        path: out.to_path_buf(),
        message: format!("writing {ext}: {e}"),
    };
    match ext {
        "csv" => CsvWriter::new(file)
            .include_header(true)
            .finish(df)
            .map_err(failed)?,
        "json" => JsonWriter::new(file)
            .with_json_format(JsonFormat::Json)
            .finish(df)
            .map_err(failed)?,
        _ => {
            ParquetWriter::new(file).finish(df).map_err(failed)?;
        }
    }
    Ok(())
}

/// Writes `df` to `out`; the extension picks the format (.csv, .parquet or .json: an array
/// of row objects). `id_col`, when given, is the customer key to pseudonymise.
pub fn write_table(
    df: &mut DataFrame,
    out: &Path,
    id_col: Option<&str>,
    opts: &ExportOptions,
) -> Result<()> {
    let ext = table_format(out)?;
    if let Some(id) = id_col {
        opts.ids(df, id)?;
    }
    write_atomic(out, opts.overwrite, |file| write_frame(df, &ext, out, file))
}

/// Writes ids and cluster labels (-1 for noise) as a two-column table.
pub fn write_labels(
    out: &Path,
    id_col: &str,
    ids: &Column,
    labels: Vec<i64>,
    opts: &ExportOptions,
) -> Result<()> {
    let mut df = DataFrame::new_infer_height(vec![
        ids.clone().with_name(id_col.into()),
        Column::new("label".into(), labels),
    ])
    .map_err(|e| DataError::polars("labels", e))?;
    write_table(&mut df, out, Some(id_col), opts)
}

/// A model's scores for writing: every row's actual class, class probabilities and
/// predicted class, by class number.
#[derive(Debug, Clone)]
pub struct Scores<'a> {
    pub classes: &'a [String],
    pub actual: &'a [usize],
    pub probabilities: &'a [Vec<f64>],
    pub predicted: &'a [usize],
}

/// Writes a model's scores: id, actual class, one `p_<class>` column per class, and the
/// predicted class; for `rows` only, in that order, when given (else every row).
pub fn write_scores(
    out: &Path,
    id_col: &str,
    ids: &Column,
    s: &Scores,
    rows: Option<&[usize]>,
    opts: &ExportOptions,
) -> Result<()> {
    let all: Vec<usize>;
    let rows = match rows {
        Some(r) => r,
        None => {
            all = (0..s.actual.len()).collect();
            &all
        }
    };
    let idx = IdxCa::from_vec("rows".into(), rows.iter().map(|&r| r as IdxSize).collect());
    let ids = ids.take(&idx).map_err(|e| DataError::polars("scores", e))?;
    let mut cols = vec![ids.with_name(id_col.into())];
    let name =
        |c: &[usize]| -> Vec<&str> { rows.iter().map(|&r| s.classes[c[r]].as_str()).collect() };
    cols.push(Column::new("actual".into(), name(s.actual)));
    for (c, class) in s.classes.iter().enumerate() {
        let p: Vec<f64> = rows.iter().map(|&r| s.probabilities[r][c]).collect();
        cols.push(Column::new(format!("p_{class}").into(), p));
    }
    cols.push(Column::new("predicted".into(), name(s.predicted)));
    let mut df = DataFrame::new_infer_height(cols).map_err(|e| DataError::polars("scores", e))?;
    write_table(&mut df, out, Some(id_col), opts)
}

/// Writes everyone's top N (id, rank, item, score, because: the contributing bought items
/// joined by " | ") to .csv, .parquet or .json, `CHUNK` customers at a time: `recs_for(range)`
/// gives those customers' recommendations, which are written and dropped before the next
/// chunk, so memory stays bounded by one chunk however many customers there are. Returns
/// the rows written.
pub fn write_recommendations(
    out: &Path,
    id_col: &str,
    customers: &[String],
    items: &[String],
    opts: &ExportOptions,
    mut recs_for: impl FnMut(
        std::ops::Range<usize>,
    ) -> Result<Vec<Vec<crate::analytics::recommend::Recommendation>>>,
) -> Result<usize> {
    const CHUNK: usize = 65_536;
    let ext = table_format(out)?;
    let failed = |e: PolarsError| DataError::Malformed {
        path: out.to_path_buf(),
        message: format!("writing {ext}: {e}"),
    };
    let name = |i: u32| items[i as usize].as_str();
    let chunk_frame = |start: usize, recs: &[Vec<crate::analytics::recommend::Recommendation>]| {
        let (mut c, mut rank, mut item, mut score, mut why) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (k, rs) in recs.iter().enumerate() {
            let id = match &opts.pseudonymiser {
                Some(p) => p.pseudonym(&customers[start + k]),
                None => customers[start + k].clone(),
            };
            for (r_i, r) in rs.iter().enumerate() {
                c.push(id.clone());
                rank.push(r_i as u32 + 1);
                item.push(name(r.item));
                score.push(r.score);
                why.push(
                    r.because
                        .iter()
                        .map(|(b, _)| name(*b))
                        .collect::<Vec<_>>()
                        .join(" | "),
                );
            }
        }
        DataFrame::new_infer_height(vec![
            Column::new(id_col.into(), c),
            Column::new("rank".into(), rank),
            Column::new("item".into(), item),
            Column::new("score".into(), score),
            Column::new("because".into(), why),
        ])
        .map_err(|e| DataError::polars("recommendations", e))
    };
    write_atomic(out, opts.overwrite, |file| {
        let mut parquet: Option<polars::io::parquet::write::BatchedWriter<std::fs::File>> = None;
        let mut rows = 0;
        let mut start = 0;
        if ext == "json" {
            file.write_all(b"[").map_err(|e| DataError::io(out, e))?;
        }
        loop {
            let end = (start + CHUNK).min(customers.len());
            let recs = recs_for(start..end)?;
            let mut df = chunk_frame(start, &recs)?;
            drop(recs);
            if ext == "csv" {
                CsvWriter::new(&mut *file)
                    .include_header(start == 0)
                    .finish(&mut df)
                    .map_err(failed)?;
            } else if ext == "json" {
                // Each chunk as newline-delimited objects, joined into one array.
                let mut buf = Vec::new();
                JsonWriter::new(&mut buf)
                    .with_json_format(JsonFormat::JsonLines)
                    .finish(&mut df)
                    .map_err(failed)?;
                for line in buf.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    if rows > 0 {
                        file.write_all(b",\n").map_err(|e| DataError::io(out, e))?;
                    }
                    file.write_all(line).map_err(|e| DataError::io(out, e))?;
                    rows += 1;
                }
            } else {
                if parquet.is_none() {
                    let f = file.try_clone().map_err(|e| DataError::io(out, e))?;
                    parquet = Some(ParquetWriter::new(f).batched(df.schema()).map_err(failed)?);
                }
                if let Some(w) = parquet.as_mut() {
                    w.write_batch(&df).map_err(failed)?;
                }
            }
            if ext != "json" {
                rows += df.height();
            }
            start = end;
            if start >= customers.len() {
                break;
            }
        }
        if ext == "json" {
            file.write_all(b"]\n").map_err(|e| DataError::io(out, e))?;
        }
        if let Some(w) = parquet {
            w.finish().map_err(failed)?;
        }
        Ok(rows)
    })
}

/// A rule as JSON: item names (ascending ids, so alphabetical), every metric; infinite
/// conviction as `null`.
pub fn rule_json(r: &crate::analytics::rules::Rule, names: &[String]) -> serde_json::Value {
    let named =
        |ids: &[u32]| -> Vec<&str> { ids.iter().map(|&i| names[i as usize].as_str()).collect() };
    serde_json::json!({
        "antecedents": named(&r.antecedents),
        "consequents": named(&r.consequents),
        "antecedent_support": r.antecedent_support,
        "consequent_support": r.consequent_support,
        "support": r.support,
        "confidence": r.confidence,
        "lift": r.lift,
        "leverage": r.leverage,
        "conviction": r.conviction,
        "zhangs_metric": r.zhangs_metric,
        "count": r.count,
    })
}

/// Writes rules to a .csv or .parquet table (sides as item names joined by " | ", infinite
/// conviction as inf) or a .json array of [`rule_json`] objects.
pub fn write_rules(
    out: &Path,
    list: &[crate::analytics::rules::Rule],
    names: &[String],
    opts: &ExportOptions,
) -> Result<()> {
    if out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        let v: Vec<serde_json::Value> = list.iter().map(|r| rule_json(r, names)).collect();
        let text = serde_json::to_string_pretty(&v)
            .map_err(|e| DataError::Invalid(format!("rules as JSON: {e}")))?;
        return write_text(out, &text, opts.overwrite);
    }
    let side = |pick: &dyn Fn(&crate::analytics::rules::Rule) -> &Vec<u32>| -> Vec<String> {
        list.iter()
            .map(|r| crate::analytics::rules::side_text(pick(r), names, " | "))
            .collect()
    };
    let num = |pick: &dyn Fn(&crate::analytics::rules::Rule) -> f64| -> Vec<f64> {
        list.iter().map(pick).collect()
    };
    let mut df = DataFrame::new_infer_height(vec![
        Column::new("antecedents".into(), side(&|r| &r.antecedents)),
        Column::new("consequents".into(), side(&|r| &r.consequents)),
        Column::new("antecedent_support".into(), num(&|r| r.antecedent_support)),
        Column::new("consequent_support".into(), num(&|r| r.consequent_support)),
        Column::new("support".into(), num(&|r| r.support)),
        Column::new("confidence".into(), num(&|r| r.confidence)),
        Column::new("lift".into(), num(&|r| r.lift)),
        Column::new("leverage".into(), num(&|r| r.leverage)),
        Column::new(
            "conviction".into(),
            num(&|r| r.conviction.unwrap_or(f64::INFINITY)),
        ),
        Column::new("zhangs_metric".into(), num(&|r| r.zhangs_metric)),
        Column::new(
            "count".into(),
            list.iter().map(|r| r.count).collect::<Vec<u64>>(),
        ),
    ])
    .map_err(|e| DataError::polars("rules", e))?;
    write_table(&mut df, out, None, opts)
}

/// Writes cluster profiles: .json as an array of profile objects; .csv/.parquet one row per
/// cluster (cluster, size, share, description, then each feature's mean, median and z as
/// `FEATURE_mean`, `FEATURE_median`, `FEATURE_z`).
pub fn write_profiles(
    out: &Path,
    profiles: &[crate::analytics::profile::ClusterProfile],
    opts: &ExportOptions,
) -> Result<usize> {
    if is_json(out) {
        let text = serde_json::to_string_pretty(profiles)
            .map_err(|e| DataError::Invalid(format!("profiles as JSON: {e}")))?;
        write_text(out, &text, opts.overwrite)?;
        return Ok(profiles.len());
    }
    let mut columns = vec![
        Column::new(
            "cluster".into(),
            profiles
                .iter()
                .map(|p| p.cluster as u32)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "size".into(),
            profiles.iter().map(|p| p.size as u64).collect::<Vec<_>>(),
        ),
        Column::new(
            "share".into(),
            profiles.iter().map(|p| p.share).collect::<Vec<_>>(),
        ),
        Column::new(
            "description".into(),
            profiles
                .iter()
                .map(|p| p.description.as_str())
                .collect::<Vec<_>>(),
        ),
    ];
    let names: Vec<&str> = profiles
        .first()
        .map(|p| p.features.iter().map(|f| f.feature.as_str()).collect())
        .unwrap_or_default();
    for (i, name) in names.iter().enumerate() {
        type Pick = fn(&crate::analytics::profile::FeatureStat) -> f64;
        let stats: [(&str, Pick); 3] = [
            ("mean", |f| f.mean),
            ("median", |f| f.median),
            ("z", |f| f.z),
        ];
        for (suffix, pick) in stats {
            let values: Vec<Option<f64>> = profiles
                .iter()
                .map(|p| p.features.get(i).map(pick))
                .collect();
            columns.push(Column::new(format!("{name}_{suffix}").into(), values));
        }
    }
    let mut df =
        DataFrame::new_infer_height(columns).map_err(|e| DataError::polars("profiles", e))?;
    write_table(&mut df, out, None, opts)?;
    Ok(profiles.len())
}

/// Writes a data-quality report: .json as the whole report (as `integrate --report-json`
/// writes it); .csv/.parquet as one long table of its findings with the columns `section`
/// (step, invalid, missing, duplicates, orphans, normalised), `source`, `item`, `before`,
/// `after` and `detail`. Returns the number of findings.
pub fn write_quality(
    out: &Path,
    report: &super::quality::QualityReport,
    opts: &ExportOptions,
) -> Result<usize> {
    if is_json(out) {
        let text = serde_json::to_string_pretty(report)
            .map_err(|e| DataError::Invalid(format!("quality report as JSON: {e}")))?;
        write_text(out, &text, opts.overwrite)?;
        return Ok(report.steps.len());
    }
    let rows = quality_rows(report);
    let col = |pick: fn(&QualityRow) -> &str| rows.iter().map(pick).collect::<Vec<_>>();
    let mut df = DataFrame::new_infer_height(vec![
        Column::new("section".into(), col(|r| r.section)),
        Column::new("source".into(), col(|r| &r.source)),
        Column::new("item".into(), col(|r| &r.item)),
        Column::new(
            "before".into(),
            rows.iter().map(|r| r.before).collect::<Vec<_>>(),
        ),
        Column::new(
            "after".into(),
            rows.iter().map(|r| r.after).collect::<Vec<_>>(),
        ),
        Column::new("detail".into(), col(|r| &r.detail)),
    ])
    .map_err(|e| DataError::polars("quality report", e))?;
    write_table(&mut df, out, None, opts)?;
    Ok(rows.len())
}

/// One finding of a quality report as a table row.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityRow {
    pub section: &'static str,
    pub source: String,
    pub item: String,
    pub before: Option<u64>,
    pub after: Option<u64>,
    pub detail: String,
}

/// The findings of a quality report, in report order.
pub fn quality_rows(r: &super::quality::QualityReport) -> Vec<QualityRow> {
    let row = |section, source: &str, item: &str, before, after, detail: String| QualityRow {
        section,
        source: source.to_string(),
        item: item.to_string(),
        before,
        after,
        detail,
    };
    let mut rows = Vec::new();
    for s in &r.steps {
        rows.push(row(
            "step",
            &s.source,
            &s.step,
            Some(s.rows_in),
            Some(s.rows_out),
            s.detail.clone(),
        ));
    }
    for i in &r.invalid {
        rows.push(row(
            "invalid",
            &i.source,
            &i.column,
            Some(i.count),
            None,
            format!("{}; {}", i.rule, i.action),
        ));
    }
    for m in &r.missing {
        let fill = m
            .fill_value
            .as_ref()
            .map_or(String::new(), |v| format!(" ({v})"));
        rows.push(row(
            "missing",
            "",
            &m.column,
            Some(m.before),
            Some(m.after),
            format!("{}{fill}", m.policy),
        ));
    }
    let d = &r.duplicates;
    for (item, n) in [
        ("customers: exact", d.customers_exact),
        ("customers: same key", d.customers_same_key),
        ("customers: fuzzy key", d.customers_fuzzy_key),
        ("order lines", d.order_lines),
        ("tickets", d.tickets),
        ("sessions", d.sessions),
    ] {
        rows.push(row(
            "duplicates",
            "",
            item,
            Some(n),
            None,
            "removed or merged".into(),
        ));
    }
    for (source, n) in &r.orphans {
        rows.push(row(
            "orphans",
            source,
            "rows without a known customer",
            Some(*n),
            None,
            String::new(),
        ));
    }
    for (column, n) in &r.text_normalised {
        rows.push(row(
            "normalised",
            "",
            column,
            Some(*n),
            None,
            "text values trimmed, collapsed or lower-cased".into(),
        ));
    }
    rows
}

fn is_json(out: &Path) -> bool {
    out.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_through_csv_and_parquet() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["l.csv", "l.parquet", "l.json"] {
            let p = dir.path().join(name);
            let ids = Column::new("key".into(), ["a", "b"]);
            write_labels(&p, "id", &ids, vec![1, -1], &ExportOptions::default()).unwrap();
            let back = super::super::source::read_frame(&p, &Default::default()).unwrap();
            assert_eq!(back.shape(), (2, 2));
            let l: Vec<Option<i64>> = back
                .column("label")
                .unwrap()
                .i64()
                .unwrap()
                .iter()
                .collect();
            assert_eq!(l, vec![Some(1), Some(-1)]);
        }
        let err = write_labels(
            &dir.path().join("l.xlsx"),
            "id",
            &Column::new("id".into(), Vec::<String>::new()),
            vec![],
            &ExportOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains(".xlsx"), "{err}");
    }

    /// More customers than one chunk: every row written once, in customer order, with one
    /// header; the same table from CSV and Parquet; chunks asked for in order.
    #[test]
    fn recommendations_stream_across_chunks() {
        use crate::analytics::recommend::Recommendation;
        let dir = tempfile::tempdir().unwrap();
        let n = 70_000;
        let customers: Vec<String> = (0..n).map(|u| format!("C{u:06}")).collect();
        let items: Vec<String> = vec!["a".into(), "b".into(), "c".into()];
        // Customer u gets (u % 3) recommendations: item k with score k, because item 2.
        let recs = |u: usize| -> Vec<Recommendation> {
            (0..u % 3)
                .map(|k| Recommendation {
                    item: k as u32,
                    score: k as f64,
                    because: vec![(2, 0.5)],
                    popular: false,
                })
                .collect()
        };
        let want_rows: usize = (0..n).map(|u| u % 3).sum();
        let mut frames = Vec::new();
        for name in ["r.csv", "r.parquet", "r.json"] {
            let path = dir.path().join(name);
            let mut next = 0;
            let opts = ExportOptions::default();
            let rows = write_recommendations(&path, "id", &customers, &items, &opts, |range| {
                assert_eq!(range.start, next);
                next = range.end;
                Ok(range.map(recs).collect())
            })
            .unwrap();
            assert_eq!(next, n);
            assert_eq!(rows, want_rows);
            let back = super::super::source::read_frame(&path, &Default::default()).unwrap();
            assert_eq!(back.height(), want_rows);
            frames.push(back);
        }
        let ids = frames[0].column("id").unwrap().str().unwrap().clone();
        // Customers 1, 2, 2, 4, 5, 5, ...: ids never go back.
        assert!(
            ids.iter()
                .collect::<Vec<_>>()
                .windows(2)
                .all(|w| w[0] <= w[1])
        );
        assert_eq!(ids.get(want_rows - 1), Some("C069998"));
        let because = frames[1].column("because").unwrap().str().unwrap().clone();
        assert!(because.iter().all(|b| b == Some("c")));
        assert!(frames[0].equals(&frames[1]));
        let json_ids: Vec<Option<&str>> = frames[2]
            .column("id")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(json_ids, ids.iter().collect::<Vec<_>>());
    }

    #[test]
    fn an_existing_file_is_kept_unless_overwriting() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.csv");
        std::fs::write(&p, "old\n").unwrap();
        let err = write_text(&p, "new\n", false).unwrap_err().to_string();
        assert!(err.contains("out.csv") && err.contains("--force"), "{err}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "old\n");
        write_text(&p, "new\n", true).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new\n");
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.csv");
        std::fs::write(&p, "old\n").unwrap();
        let err = write_atomic(&p, true, |f| {
            f.write_all(b"half a fi").unwrap();
            Err::<(), _>(DataError::Invalid("disk full".into()))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "old\n");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["out.csv"]);
        let err = write_text(&dir.path().join("no/such/dir.csv"), "x", false).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    /// A replaced file keeps its permissions; a new one gets the usual ones, or owner-only
    /// when private.
    #[cfg(unix)]
    #[test]
    fn a_replaced_file_keeps_its_permissions() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.toml");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_text(&p, "new", true).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(mode(&p), 0o600);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_text(&p, "newer", true).unwrap();
        assert_eq!(mode(&p), 0o640);
        let fresh = dir.path().join("fresh.csv");
        write_text(&fresh, "x", false).unwrap();
        assert_eq!(mode(&fresh), 0o666 & !umask());
        let private = dir.path().join("private.toml");
        let mut f = AtomicFile::create_with(&private, false, true).unwrap();
        f.write_all(b"url = \"postgres://u:pw@h/db\"").unwrap();
        f.commit().unwrap();
        assert_eq!(mode(&private), 0o600);
        assert_eq!(
            names_in(dir.path()),
            ["fresh.csv", "private.toml", "w.toml"]
        );
    }

    /// A symbolic link is written through (its file replaced atomically), not replaced by a
    /// regular file; a dangling one creates its file.
    #[cfg(unix)]
    #[test]
    fn a_symlink_is_written_through() {
        use std::os::unix::fs::FileTypeExt as _;
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("real");
        std::fs::create_dir(&real_dir).unwrap();
        let real = real_dir.join("w.toml");
        std::fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.toml");
        std::os::unix::fs::symlink("real/w.toml", &link).unwrap();
        write_text(&link, "new", true).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        // Without overwriting, an existing file behind a link is refused.
        let err = write_text(&link, "x", false).unwrap_err().to_string();
        assert!(
            err.contains("link.toml") && err.contains("--force"),
            "{err}"
        );
        // A dangling link (a chain of two) gets its file.
        let dangling = dir.path().join("d.csv");
        std::os::unix::fs::symlink(real_dir.join("new.csv"), dir.path().join("mid.csv")).unwrap();
        std::os::unix::fs::symlink("mid.csv", &dangling).unwrap();
        write_text(&dangling, "made", false).unwrap();
        assert_eq!(
            std::fs::read_to_string(real_dir.join("new.csv")).unwrap(),
            "made"
        );
        // No temporary left in either folder.
        assert_eq!(names_in(&real_dir), ["new.csv", "w.toml"]);
        assert_eq!(
            names_in(dir.path()),
            ["d.csv", "link.toml", "mid.csv", "real"]
        );
        // A device or a folder is not replaced, even with overwrite.
        let null = dir.path().join("null.csv");
        std::os::unix::fs::symlink("/dev/null", &null).unwrap();
        let err = write_text(&null, "x", true).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        assert!(
            std::fs::metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
        let err = write_text(&real_dir, "x", true).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        // A loop is one clear error.
        let a = dir.path().join("a.csv");
        std::os::unix::fs::symlink("b.csv", &a).unwrap();
        std::os::unix::fs::symlink("a.csv", dir.path().join("b.csv")).unwrap();
        let err = write_text(&a, "x", true).unwrap_err().to_string();
        assert!(err.contains("symbolic links"), "{err}");
    }

    /// Dropped without a commit (an error, a cancelled job), the temporary file goes; a file
    /// that appears while writing without overwrite is not replaced.
    #[test]
    fn an_uncommitted_file_leaves_nothing_and_nothing_is_clobbered() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.csv");
        let mut f = AtomicFile::create(&p, false).unwrap();
        f.write_all(b"partial").unwrap();
        let tmp = f.temporary_path().to_path_buf();
        assert!(tmp.exists());
        let name = tmp.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(name, format!(".out.csv.{}.crmlens-tmp", std::process::id()));
        drop(f);
        assert!(!tmp.exists());
        assert!(names_in(dir.path()).is_empty());
        let mut f = AtomicFile::create(&p, false).unwrap();
        f.write_all(b"mine").unwrap();
        std::fs::write(&p, "someone else's").unwrap();
        let err = f.commit().unwrap_err().to_string();
        assert!(err.contains("exists already"), "{err}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "someone else's");
        assert_eq!(names_in(dir.path()), ["out.csv"]);
    }

    /// The temporary files of processes that are gone (a killed export) are removed by the
    /// next write to the folder; those of a running process, a recent one, and other files
    /// are kept.
    #[test]
    fn stale_temporaries_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        let make = |name: String, age: Option<std::time::SystemTime>| {
            let p = dir.path().join(name);
            let f = std::fs::File::create(&p).unwrap();
            if let Some(t) = age {
                f.set_modified(t).unwrap();
            }
        };
        make(format!(".big.csv.{dead}.crmlens-tmp"), Some(old));
        make(format!(".other.json.{dead}.crmlens-tmp"), Some(old));
        make(format!(".recent.csv.{dead}.crmlens-tmp"), None);
        make(
            format!(".alive.csv.{}.crmlens-tmp", std::process::id()),
            Some(old),
        );
        make(".init.csv.1.crmlens-tmp".into(), Some(old));
        make(".notes.1.txt".into(), Some(old));
        make("x.crmlens-tmp".into(), Some(old));
        write_text(&dir.path().join("out.csv"), "x", false).unwrap();
        assert_eq!(
            names_in(dir.path()),
            [
                format!(".alive.csv.{}.crmlens-tmp", std::process::id()),
                ".init.csv.1.crmlens-tmp".into(),
                ".notes.1.txt".into(),
                format!(".recent.csv.{dead}.crmlens-tmp"),
                "out.csv".into(),
                "x.crmlens-tmp".into(),
            ]
        );
    }

    #[test]
    fn pseudonymised_exports_replace_the_key_the_same_way_every_time() {
        let dir = tempfile::tempdir().unwrap();
        let key = Arc::new(Pseudonymiser::new(b"a key of at least sixteen bytes"));
        let opts = ExportOptions {
            overwrite: false,
            pseudonymiser: Some(key.clone()),
        };
        let ids = Column::new("customer_id".into(), ["C1", "C2"]);
        let labels = dir.path().join("labels.csv");
        write_labels(&labels, "customer_id", &ids, vec![0, 1], &opts).unwrap();
        let text = std::fs::read_to_string(&labels).unwrap();
        assert!(!text.contains("C1") && !text.contains("C2"), "{text}");
        assert!(text.contains(&key.pseudonym("C1")) && text.contains(&key.pseudonym("C2")));
        let recs = dir.path().join("recs.csv");
        let customers = vec!["C1".to_string()];
        let items = vec!["tent".to_string()];
        write_recommendations(&recs, "customer_id", &customers, &items, &opts, |r| {
            Ok(r.map(|_| {
                vec![crate::analytics::recommend::Recommendation {
                    item: 0,
                    score: 1.0,
                    because: vec![],
                    popular: true,
                }]
            })
            .collect())
        })
        .unwrap();
        let text = std::fs::read_to_string(&recs).unwrap();
        // The same customer gets the same pseudonym in both files, so they still join.
        assert!(
            text.contains(&key.pseudonym("C1")) && !text.contains("C1,"),
            "{text}"
        );
    }
}
