//! Writing files safely: every write goes to a temporary file in the target folder, which is
//! renamed into place only when complete, so a crash or a full disk never leaves half a file
//! under the real name; an existing file is replaced only when [`ExportOptions::overwrite`]
//! says so. Tables go out as CSV, Parquet or JSON by the file name's extension; with a
//! [`Pseudonymiser`] the customer key is replaced by its keyed pseudonym.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use polars::prelude::*;

use crate::data::error::{DataError, Result};
use crate::data::privacy::Pseudonymiser;

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
    pub fn ids(&self, df: &mut DataFrame, id_col: &str) -> Result<()> {
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

pub fn write_frame(
    df: &mut DataFrame,
    ext: &str,
    out: &Path,
    file: &mut std::fs::File,
) -> Result<()> {
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
            // Snappy, as pyarrow and Spark write by default: every Parquet reader takes it,
            // and a 1M-customer 360 table is written in about half the time zstd takes (0.55
            // against 1.0 s here) for a file a third bigger.
            ParquetWriter::new(file)
                .with_compression(ParquetCompression::Snappy)
                .finish(df)
                .map_err(failed)?;
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

/// Whether `out` names a JSON file.
pub fn is_json(out: &Path) -> bool {
    out.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
