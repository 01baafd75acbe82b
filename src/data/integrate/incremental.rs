//! Incremental integration: the 360 table refreshed from what arrived since the last run,
//! equal row for row to a full rebuild.
//!
//! The per-customer accumulators of each activity source (what the streamed reduction of
//! [`crate::data::integrate::reduce`] holds at the end of a file: counts, sums in file
//! order, first and last dates, categories) are kept in a state folder with the
//! fingerprints of the rows and orders already seen (so an exact duplicate of an old line is
//! still recognised), the source's per-customer table, and how far each file was read. A
//! later run reads only the bytes appended since (CSV and NDJSON), takes a customer's
//! accumulator from the state when their first new row arrives, folds the rows into it in
//! the same order, and finishes it as the full run would: the sums are the same to the bit
//! because every customer's rows are added in file order either way. Only the customers with
//! new rows are loaded, finished and saved; the others' rows of the per-customer table are
//! kept as they were (the table is kept in key order, the changed rows merged in, so that it
//! is placed onto the customers by one merge). The customers source is read whole again when
//! its files or the workspace changed (changed and added customers are simply there); the
//! steps after the aggregation (placing the tables, derived columns, the quality report) are
//! made every run. Each source's state is written on a thread of its own while they run.
//!
//! A SQLite source with a `watermark` column (an increasing id, or when a row was added) is
//! read in that column's order, and a later run reads only its rows past the largest value
//! read (rows changed in place are not seen: the column must grow with every new row). A
//! Parquet, JSON or database file that is byte for byte the one read last time is not read
//! at all. A source is read whole again, with one line saying why, when: there is no state
//! for it; it is a Parquet, JSON or database file that changed; it is shorter than what was
//! read, or the part already read changed; the last line read had no line end; it grew while
//! it was read in full; or anything that decides its aggregates changed (its columns, types,
//! date formats, the cleaning policy, the customers merged by the fuzzy key or identity
//! resolution, the crmlens version).
//!
//! Whether a file (or the part of it already read) changed is decided by its checksum: xxh3 of
//! each 8 MiB block, hashed in parallel, so the old part is read but not parsed; the hashes are
//! kept, so saving hashes only the new blocks. A file that has the identity it had when it was
//! checksummed (device, inode, size, modification and change times to the nanosecond; see
//! [`identity`]) is not read again, as git trusts its index: every write moves the change
//! time. The part already read of a file that grew is checksummed on a thread of its own while
//! the new lines are read and folded; if it changed, what was folded is dropped and the file
//! is read whole.
//!
//! The state is a manifest (TOML) naming the files of one generation: each source's
//! per-customer table (Parquet), its accumulators (segments of fixed-width records sorted by
//! the customer key's fingerprint, see [`crate::data::integrate::reduce::AccSegment`]: the
//! first run's holds every customer, each later run adds one with the customers it changed,
//! and the newest holding a customer is theirs) and its sorted fingerprint segments (raw
//! little-endian u128; one more per run that saw new rows). Segments are memory-mapped, not
//! read: a run touches only the pages its lookups need. When either kind would have more
//! than eight segments, the later ones are merged into one (see `merge_from`). The
//! manifest is replaced atomically after every file it names is written, so an interrupted
//! run leaves the previous state whole; files no manifest names are removed on the next run.

use std::collections::BTreeMap;
use std::io::{Read as _, Seek as _};
use std::path::Path;
use std::sync::{Arc, Mutex};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::error::{DataError, Result};
use crate::data::integrate::aggregate::KEY;
use crate::data::integrate::aggregate::{
    AggregationPlan, CustomerAggregator, LocalAggregator, Resume, Role, RoleAggregate,
    aggregate_source, from_frame,
};
use crate::data::integrate::dedup::row_fingerprints;
use crate::data::integrate::reduce::{Acc, AccSegment, Carried, Earlier, Reducer, Seen, Store};
use crate::data::integrate::{Customer360, PreparedCustomers, integrate_with};
use crate::data::sources::file::{self, Format, ReadOptions, Scanned};
use crate::data::sources::sqlite::Watermark;
use crate::data::sources::workspace::{SourceConfig, Workspace};
use crate::progress::Progress;

const FORMAT: &str = "crmlens-integrate-state";
/// The layout of the state folder this build reads and writes.
const VERSION: u32 = 3;
const MANIFEST: &str = "manifest.toml";
/// Fingerprint segments kept before they are merged into one.
const MAX_SEGMENTS: usize = 8;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Manifest {
    format: String,
    version: u32,
    crmlens_version: String,
    generation: u64,
    /// The tables written from this state (absolute paths): the next run may replace them.
    #[serde(default)]
    outputs: Vec<String>,
    /// The customers read and cleaned, kept while their files and the workspace are the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    customers: Option<CustomersState>,
    sources: Vec<SourceState>,
}

/// The cleaned customers of the last run and what they were made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CustomersState {
    /// The files read (the customers source, the `[identity]` lists) with their checksums,
    /// and the workspace's settings.
    inputs: Vec<(String, String)>,
    /// Each input's identity when its checksum was made (see [`identity`]; empty: unknown).
    #[serde(default)]
    identities: Vec<String>,
    settings: String,
    table: String,
    #[serde(default)]
    key_map: String,
    /// The roles, path and report of the customers steps (JSON).
    meta: String,
}

/// One activity source as the last run left it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SourceState {
    role: String,
    path: String,
    format: String,
    /// Bytes read (every line up to here was folded in).
    read_to: u64,
    /// Checksum of the bytes read.
    checksum: String,
    /// The file's identity when the checksum was made, if it was read to its end (see
    /// [`identity`]; empty: unknown).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    identity: String,
    /// Everything besides the rows that decides the aggregates.
    settings: String,
    /// Whether the file kept its size while it was read (else the next run reads it whole).
    settled: bool,
    /// The per-customer accumulators: segments, the oldest first (each later one holds the
    /// customers a run changed).
    #[serde(default)]
    accumulators: Vec<String>,
    /// The source's finished per-customer table (what a run with nothing new reads).
    #[serde(default)]
    aggregate: String,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    row_segments: Vec<String>,
    #[serde(default)]
    order_segments: Vec<String>,
    /// A database source's watermark column and the largest value read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    watermark: Option<Watermark>,
    /// A source named by a pattern (`orders/*.csv`): each file matched and how far it was
    /// read (`read_to` and `checksum` above are then unused).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    files: Vec<FileRead>,
}

/// One file of a source named by a pattern, as the last run left it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct FileRead {
    path: String,
    read_to: u64,
    checksum: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    identity: String,
    settled: bool,
}

/// How one activity source was brought up to date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceRefresh {
    pub role: String,
    pub path: String,
    /// "appended" (only the new bytes were read), "unchanged" (nothing new) or "full".
    pub mode: &'static str,
    /// Why the source was read whole (None when it was not).
    pub reason: Option<String>,
    /// Bytes read in this run.
    pub bytes: u64,
    /// Lines read in this run.
    pub rows: u64,
}

/// An incremental run's table and what it read.
pub struct Refreshed {
    pub customer360: Customer360,
    pub sources: Vec<SourceRefresh>,
    /// Whether any source was read whole.
    pub full: bool,
}

/// What `open` decided for a source: read from an offset, or whole with a reason.
#[derive(Debug, Clone)]
enum Plan {
    Tail {
        from: u64,
        end: u64,
    },
    /// A database source's rows past a watermark value.
    Rows {
        after: Watermark,
    },
    /// A source named by a pattern: each file matched read from where the last run stopped
    /// (a new file from its start).
    Files {
        parts: Vec<Part>,
    },
    Full {
        reason: String,
    },
}

/// One file of a pattern: read from `from` to `end`.
#[derive(Debug, Clone)]
struct Part {
    path: std::path::PathBuf,
    from: u64,
    end: u64,
}

/// What `open` found for a source.
#[derive(Debug, Clone)]
struct Opened {
    plan: Plan,
    size: u64,
    watermark: Option<Watermark>,
    /// A pattern's files and their sizes when it was opened.
    files: Vec<(std::path::PathBuf, u64)>,
}

struct Incremental<'a> {
    dir: &'a Path,
    manifest: Option<Manifest>,
    /// Per role: the plan, the file's size when it was opened, and the largest watermark
    /// value among the rows it reads.
    plans: Mutex<BTreeMap<String, Opened>>,
    /// Per source: what it read, its reducers and its state before they are saved.
    results: Mutex<Vec<Done>>,
    /// The customers as read (or kept) this run, with their files' signature, and whether
    /// they were kept.
    customers: Mutex<Option<KeptCustomers>>,
    /// Per role: the checksum of the part of its file already read, being made while the
    /// new rows are read and folded (see [`Incremental::unchanged_before`]).
    verifying: Mutex<BTreeMap<String, Verifying>>,
}

/// A checksum being made on a thread of its own, and the one it must equal.
struct Verifying {
    thread: std::thread::JoinHandle<Result<String>>,
    want: String,
}

/// The customers of this run, the checksums of their files, the workspace's settings, and
/// whether they were kept from the last run.
type KeptCustomers = (PreparedCustomers, Signature, String, bool);

/// The customers' files with their checksums, and their identities.
type Signature = (Vec<(String, String)>, Vec<String>);

/// The files the customers are made from: the customers source and, with `[identity]
/// person_key`, the linked lists (None when one is not a local file).
fn customer_inputs(ws: &Workspace) -> Option<Vec<std::path::PathBuf>> {
    let c = &ws.sources.customers;
    if c.url.is_some() {
        return None;
    }
    let path = ws.resolve(c);
    let mut out = if file::is_pattern(&path) {
        file::matching(&path).ok()?
    } else {
        vec![path]
    };
    if let Some(ids) = ws.identity.get("sources").and_then(|v| v.as_array()) {
        for s in ids {
            let p = s.get("path").and_then(|p| p.as_str())?;
            out.push(crate::data::identity::run::resolved(
                &ws.base_dir,
                Path::new(p),
            ));
        }
    }
    Some(out)
}

/// The workspace's settings, as decide the cleaned customers.
fn workspace_settings(ws: &Workspace) -> String {
    let text = format!(
        "{VERSION};{};{}",
        env!("CARGO_PKG_VERSION"),
        serde_json::to_string(ws).unwrap_or_default()
    );
    hex(xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}

#[derive(Serialize, Deserialize)]
struct CustomersMeta {
    roles: BTreeMap<String, String>,
    path: std::path::PathBuf,
    report: crate::data::integrate::quality::QualityReport,
}

/// One source's part of a run: what it read, and its state being saved.
struct Done {
    refresh: SourceRefresh,
    /// The source's files for the next run, written on a thread of their own while the
    /// run goes on (joins, derived columns, the table written): nothing after the
    /// aggregation needs them. Files of a run that fails are named by no manifest and
    /// removed by the next run.
    saving: Saving,
}

enum Saving {
    /// Nothing new: the state's files are kept as they are.
    Kept(Box<SourceState>),
    Writing(std::thread::JoinHandle<Result<SourceState>>),
}

/// What one source's state is saved from.
struct ToSave {
    dir: std::path::PathBuf,
    generation: u64,
    reducers: Vec<Reducer>,
    /// The finished per-customer table, to keep for a run with nothing new.
    frame: DataFrame,
    state: SourceState,
    /// The categories the run started from (their ids stay).
    categories: Vec<String>,
}

/// A run's shared table, locked (a worker that panicked while holding it is an error).
fn locked<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| DataError::Invalid("incremental state poisoned".into()))
}

/// A run's shared table, taken at the end.
fn inner<T>(m: Mutex<T>) -> Result<T> {
    m.into_inner()
        .map_err(|_| DataError::Invalid("incremental state poisoned".into()))
}

fn hex(h: u64) -> String {
    format!("{h:016x}")
}

/// Why a source whose part already read changed is read whole.
const CHANGED: &str = "the part already read changed: rewritten";

/// Bytes per checksummed block.
const BLOCK: u64 = 8 << 20;

/// Checksum of `path`'s first `len` bytes: the xxh3 of each 8 MiB block (the last one
/// partial), hashed in parallel, as comma-separated hex. `known` holds the hashes of the
/// whole blocks before it that are known (verified this run) and are not read again.
fn checksum_from(path: &Path, len: u64, known: &[String]) -> Result<String> {
    use rayon::prelude::*;
    use std::os::unix::fs::FileExt as _;
    let f = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let blocks = len.div_ceil(BLOCK);
    let first = (known.len() as u64).min(len / BLOCK);
    let hashes: Vec<String> = (first..blocks)
        .into_par_iter()
        // One buffer per thread, not a fresh 8 MiB (zeroed page by page) per block.
        .map_init(Vec::new, |buf: &mut Vec<u8>, b| {
            let at = b * BLOCK;
            let n = BLOCK.min(len - at) as usize;
            buf.resize(n, 0);
            f.read_exact_at(&mut buf[..n], at)
                .map_err(|e| DataError::io(path, e))?;
            Ok(hex(xxhash_rust::xxh3::xxh3_64(&buf[..n])))
        })
        .collect::<Result<_>>()?;
    let mut all: Vec<String> = known[..first as usize].to_vec();
    all.extend(hashes);
    Ok(format!("{len}:{}", all.join(",")))
}

fn checksum(path: &Path, len: u64) -> Result<String> {
    checksum_from(path, len, &[])
}

/// How long after a file's last change its identity is trusted: a write within the same
/// tick of the filesystem's clock would not move its times (git's "racily clean" entries).
const RACY: std::time::Duration = std::time::Duration::from_secs(2);

/// A file's identity as the filesystem keeps it, and when it last changed.
struct Identity {
    text: String,
    len: u64,
    changed: std::time::SystemTime,
}

/// `path`'s identity: device, inode, size, and the times of its last modification and of
/// its inode's last change, to the nanosecond. Any write moves the change time, and no
/// program can set it back (only the system clock can), so a file with the identity it had
/// when it was checksummed still holds the bytes checksummed: as git trusts for its index.
/// A file replaced by another (a new inode), truncated, touched or rewritten in place gets
/// another identity, and is checksummed again.
fn identity(path: &Path) -> Option<Identity> {
    use std::os::unix::fs::MetadataExt as _;
    let m = std::fs::metadata(path).ok()?;
    let changed = std::time::UNIX_EPOCH
        + std::time::Duration::new(m.ctime().max(0) as u64, m.ctime_nsec().max(0) as u32);
    Some(Identity {
        text: format!(
            "{}:{}:{}:{}.{:09}:{}.{:09}",
            m.dev(),
            m.ino(),
            m.len(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec()
        ),
        len: m.len(),
        changed,
    })
}

/// Whether `path` has the identity kept with a checksum (so that checksum holds without
/// reading the file).
fn same_file(path: &Path, kept: &str) -> bool {
    !kept.is_empty() && identity(path).is_some_and(|i| i.text == kept)
}

/// [`checksum_from`], and `path`'s identity to keep with it: only when the checksum covers
/// the whole file, the file did not change while it was read, and it last changed more than
/// [`RACY`] before (else empty: the next run reads it again).
fn checksum_and_identity(path: &Path, len: u64, known: &[String]) -> Result<(String, String)> {
    let before = identity(path);
    let sum = checksum_from(path, len, known)?;
    let after = identity(path);
    let settled = match (before, after) {
        (Some(b), Some(a)) => {
            let old = std::time::SystemTime::now()
                .duration_since(b.changed)
                .is_ok_and(|d| d >= RACY);
            (b.text == a.text && b.len == len && old).then_some(b.text)
        }
        _ => None,
    };
    Ok((sum, settled.unwrap_or_default()))
}

/// The hashes of the whole blocks of a checksum.
fn whole_blocks(sum: &str) -> Vec<String> {
    let Some((len, hashes)) = sum.split_once(':') else {
        return Vec::new();
    };
    let whole = len.parse::<u64>().unwrap_or(0) / BLOCK;
    hashes
        .split(',')
        .take(whole as usize)
        .map(String::from)
        .collect()
}

/// The byte before `at` (None at 0).
fn byte_before(path: &Path, at: u64) -> Result<Option<u8>> {
    if at == 0 {
        return Ok(None);
    }
    let mut f = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    f.seek(std::io::SeekFrom::Start(at - 1))
        .map_err(|e| DataError::io(path, e))?;
    let mut b = [0u8; 1];
    f.read_exact(&mut b).map_err(|e| DataError::io(path, e))?;
    Ok(Some(b[0]))
}

fn file_size(path: &Path) -> Result<u64> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| DataError::io(path, e))
}

/// What decides a source's aggregates besides its rows.
fn settings_of(
    input: &crate::data::integrate::aggregate::ActivityInput,
    plan: &AggregationPlan,
) -> String {
    let mut text = format!(
        "{VERSION};{};{:?};{};{:?};{:?};{:?};{:?};",
        env!("CARGO_PKG_VERSION"),
        input.role,
        input.key,
        input.columns,
        input.date_formats,
        input.duplicates,
        plan.invalid_lines,
    );
    for (n, t) in input.schema.iter() {
        text.push_str(&format!("{n}:{t};"));
    }
    let mut h = xxhash_rust::xxh3::xxh3_64(text.as_bytes());
    if let Some(map) = &plan.key_map {
        let mut prints = row_fingerprints(map.columns()).unwrap_or_default();
        prints.sort_unstable();
        for p in prints {
            h = xxhash_rust::xxh3::xxh3_64_with_seed(&p.to_le_bytes(), h);
        }
    }
    hex(h)
}

impl Incremental<'_> {
    /// The generation this run writes.
    fn generation(&self) -> u64 {
        self.manifest.as_ref().map_or(0, |m| m.generation) + 1
    }

    fn previous(&self, role: Role) -> Option<&SourceState> {
        self.manifest
            .as_ref()?
            .sources
            .iter()
            .find(|s| s.role == role.name())
    }

    /// Whether the part of `role`'s file read by the last run is unchanged: the checksum
    /// `plan` started, awaited (true when none was started).
    fn unchanged_before(&self, role: &str) -> Result<bool> {
        let Some(v) = locked(&self.verifying)?.remove(role) else {
            return Ok(true);
        };
        let sum = v
            .thread
            .join()
            .map_err(|_| DataError::Invalid("checksumming the file failed".into()))??;
        Ok(sum == v.want)
    }

    /// Whether `path` can be read from where the last run stopped.
    fn plan(&self, role: Role, path: &Path, format: Format, watermark: bool) -> Result<Plan> {
        let full = |reason: &str| {
            Ok(Plan::Full {
                reason: reason.to_string(),
            })
        };
        let Some(prev) = self.previous(role) else {
            return full(if self.manifest.is_some() {
                "new source"
            } else {
                "first run (no state yet)"
            });
        };
        if prev.path != absolute(path) {
            return full("its file changed (another path)");
        }
        if watermark {
            return match &prev.watermark {
                Some(after) => Ok(Plan::Rows {
                    after: after.clone(),
                }),
                None => full("no watermark value yet (the table had no rows)"),
            };
        }
        if format == Format::Postgres {
            return full("a PostgreSQL source without a `watermark` is read whole");
        }
        if !prev.settled {
            return full("it grew while the last run read it");
        }
        let size = file_size(path)?;
        if !matches!(format, Format::Csv | Format::Ndjson) {
            // Read whole unless it is the very file read last time.
            if size == prev.read_to
                && (same_file(path, &prev.identity) || checksum(path, size)? == prev.checksum)
            {
                return Ok(Plan::Tail {
                    from: size,
                    end: size,
                });
            }
            return full(&format!(
                "a {} file that changed is read whole (only CSV and NDJSON are read from where the last run stopped)",
                format.name()
            ));
        }
        if size < prev.read_to {
            return full(&format!(
                "it is shorter than what was read ({size} < {} bytes): rewritten",
                prev.read_to
            ));
        }
        if size == prev.read_to && same_file(path, &prev.identity) {
            return Ok(Plan::Tail {
                from: size,
                end: size,
            });
        }
        if byte_before(path, prev.read_to)?.is_some_and(|b| b != b'\n') {
            return full("the last line read had no line end");
        }
        // The part already read is checksummed while the new rows are read and folded; the
        // source is read whole if it changed (see `unchanged_before`).
        let (owned, len) = (path.to_path_buf(), prev.read_to);
        locked(&self.verifying)?.insert(
            role.name().to_string(),
            Verifying {
                thread: std::thread::spawn(move || checksum(&owned, len)),
                want: prev.checksum.clone(),
            },
        );
        Ok(Plan::Tail {
            from: prev.read_to,
            end: size,
        })
    }
}

impl Incremental<'_> {
    /// Whether each file of a pattern can be read from where the last run stopped.
    fn plan_files(
        &self,
        role: Role,
        pattern: &Path,
        files: &[(std::path::PathBuf, u64)],
        format: Format,
    ) -> Result<Plan> {
        let full = |reason: String| Ok(Plan::Full { reason });
        let Some(prev) = self.previous(role) else {
            return full(
                if self.manifest.is_some() {
                    "new source"
                } else {
                    "first run (no state yet)"
                }
                .into(),
            );
        };
        if prev.path != absolute(pattern) || prev.files.is_empty() {
            return full("its file changed (another path)".into());
        }
        let name = |p: &Path| {
            p.file_name()
                .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into())
        };
        for f in &prev.files {
            if !files.iter().any(|(p, _)| absolute(p) == f.path) {
                return full(format!("{} is no longer there", name(Path::new(&f.path))));
            }
        }
        let appendable = matches!(format, Format::Csv | Format::Ndjson);
        let mut parts = Vec::new();
        for (path, size) in files {
            let size = *size;
            let Some(f) = prev.files.iter().find(|f| f.path == absolute(path)) else {
                parts.push(Part {
                    path: path.clone(),
                    from: 0,
                    end: size,
                });
                continue;
            };
            let n = name(path);
            if !f.settled {
                return full(format!("{n} grew while the last run read it"));
            }
            if size < f.read_to {
                return full(format!(
                    "{n} is shorter than what was read ({size} < {} bytes): rewritten",
                    f.read_to
                ));
            }
            if !appendable && size != f.read_to {
                return full(format!(
                    "{n}, a {} file, changed (only CSV and NDJSON are read from where the last run stopped)",
                    format.name()
                ));
            }
            if size == f.read_to && same_file(path, &f.identity) {
                parts.push(Part {
                    path: path.clone(),
                    from: size,
                    end: size,
                });
                continue;
            }
            if checksum(path, f.read_to)? != f.checksum {
                return full(format!("the part of {n} already read changed: rewritten"));
            }
            if appendable && byte_before(path, f.read_to)?.is_some_and(|b| b != b'\n') {
                return full(format!("the last line read of {n} had no line end"));
            }
            parts.push(Part {
                path: path.clone(),
                from: f.read_to,
                end: size,
            });
        }
        Ok(Plan::Files { parts })
    }

    /// A pattern's files opened under `plan`: each new file whole and each known one from
    /// its offset, as the tail; the whole files as the frame.
    fn open_files(
        &self,
        cfg: &SourceConfig,
        pattern: &Path,
        plan: &mut Plan,
        progress: &Progress,
    ) -> Result<Scanned> {
        let Plan::Files { parts } = plan else {
            let opts = ReadOptions {
                unmapped: true,
                cancel: Some(progress.clone()),
                ..cfg.read_options()
            };
            return file::scan(pattern, &opts);
        };
        let mut scans = Vec::new();
        for part in parts.iter_mut() {
            let opts = ReadOptions {
                unmapped: true,
                cancel: Some(progress.clone()),
                tail_from: (part.from > 0).then_some(part.from),
                ..cfg.read_options()
            };
            let mut s = file::scan(&part.path, &opts)?;
            if part.from == 0 {
                s.tail = Some(s.frame.clone());
            } else if let Some(end) = s.tail_end {
                part.end = end;
            }
            scans.push(s);
        }
        file::combine(pattern, scans)
    }
}

impl CustomerAggregator for Incremental<'_> {
    fn customers(&self, ws: &Workspace, progress: &Progress) -> Result<PreparedCustomers> {
        let settings = workspace_settings(ws);
        let kept = self.manifest.as_ref().and_then(|m| m.customers.as_ref());
        // A file with the identity it had when it was checksummed is not read again.
        let known = |path: &str| {
            let k = kept?;
            let i = k.inputs.iter().position(|(p, _)| p == path)?;
            same_file(Path::new(path), k.identities.get(i)?).then(|| k.inputs[i].1.clone())
        };
        let signature: Option<Signature> = customer_inputs(ws).and_then(|files| {
            files
                .iter()
                .map(|f| {
                    let path = absolute(f);
                    if let Some(sum) = known(&path) {
                        let id = identity(f)?.text;
                        return Some(((path, sum), id));
                    }
                    let size = file_size(f).ok()?;
                    let (sum, id) = checksum_and_identity(f, size, &[]).ok()?;
                    Some(((path, sum), id))
                })
                .collect::<Option<Vec<_>>>()
                .map(|v| v.into_iter().unzip())
        });
        if let (Some(sig), Some(k)) = (&signature, kept)
            && sig.0 == k.inputs
            && settings == k.settings
            && let Ok(p) = load_customers(self.dir, k)
        {
            *locked(&self.customers)? = Some((p.clone(), sig.clone(), settings, true));
            return Ok(p);
        }
        let p = crate::data::integrate::prepare_customers(ws, progress)?;
        if let Some(sig) = signature {
            *locked(&self.customers)? = Some((p.clone(), sig, settings, false));
        }
        Ok(p)
    }

    fn open(
        &self,
        ws: &Workspace,
        role: Role,
        cfg: &SourceConfig,
        progress: &Progress,
    ) -> Result<Scanned> {
        let path = ws.resolve(cfg);
        if file::is_pattern(&path) && cfg.url.is_none() {
            let format = file::detect_format(&path, cfg.format.as_deref())?;
            let files = file::matching(&path)?
                .into_iter()
                .map(|f| {
                    let size = file_size(&f)?;
                    Ok((f, size))
                })
                .collect::<Result<Vec<_>>>()?;
            let mut plan = self.plan_files(role, &path, &files, format)?;
            let scanned = match self.open_files(cfg, &path, &mut plan, progress) {
                Ok(s) => s,
                Err(e) if matches!(plan, Plan::Files { .. }) => {
                    plan = Plan::Full {
                        reason: format!("its new rows could not be read on their own ({e})"),
                    };
                    self.open_files(cfg, &path, &mut plan, progress)?
                }
                Err(e) => return Err(e),
            };
            locked(&self.plans)?.insert(
                role.name().to_string(),
                Opened {
                    plan,
                    size: files.iter().map(|(_, n)| n).sum(),
                    watermark: None,
                    files,
                },
            );
            return Ok(scanned);
        }
        let size = file_size(&path).unwrap_or(0);
        let format = if cfg.url.is_some() {
            Format::Postgres
        } else {
            file::detect_format(&path, cfg.format.as_deref())?
        };
        let watermark =
            cfg.watermark.is_some() && matches!(format, Format::Sqlite | Format::Postgres);
        let mut plan = self.plan(role, &path, format, watermark)?;
        let mut scanned = None;
        if let Plan::Rows { after, .. } = &plan {
            let opts = ReadOptions {
                cancel: Some(progress.clone()),
                watermark_after: Some(after.clone()),
                ..cfg.read_options()
            };
            scanned = Some(file::scan(&path, &opts)?);
        }
        let appendable = matches!(format, Format::Csv | Format::Ndjson);
        if let Plan::Tail { from, .. } = plan
            && appendable
        {
            let opts = ReadOptions {
                unmapped: true,
                cancel: Some(progress.clone()),
                tail_from: Some(from),
                ..cfg.read_options()
            };
            match file::scan(&path, &opts) {
                Ok(s) => scanned = Some(s),
                Err(e) => {
                    plan = Plan::Full {
                        reason: if self.unchanged_before(role.name())? {
                            format!("its new rows could not be read on their own ({e})")
                        } else {
                            CHANGED.into()
                        },
                    }
                }
            }
        }
        if let Plan::Tail { end, .. } = &mut plan
            && let Some(s) = &scanned
        {
            *end = s.tail_end.unwrap_or(*end);
        }
        let scanned = match scanned {
            Some(s) => s,
            None => LocalAggregator.open(ws, role, cfg, progress)?,
        };
        let max = scanned.watermark_max.clone();
        locked(&self.plans)?.insert(
            role.name().to_string(),
            Opened {
                plan,
                size,
                watermark: max,
                files: Vec::new(),
            },
        );
        Ok(scanned)
    }

    fn aggregate(&self, plan: &AggregationPlan, progress: &Progress) -> Result<Vec<RoleAggregate>> {
        let mut out = Vec::new();
        for input in &plan.inputs {
            progress.check().map_err(|_| DataError::Cancelled)?;
            let role = input.role.name().to_string();
            let opened = locked(&self.plans)?.get(&role).cloned().unwrap_or(Opened {
                plan: Plan::Full {
                    reason: "not opened".into(),
                },
                size: 0,
                watermark: None,
                files: Vec::new(),
            });
            let (mut how, size) = (opened.plan, opened.size);
            let settings = settings_of(input, plan);
            let prev = self.previous(input.role).cloned();
            let carries_on = |h: &Plan| {
                matches!(
                    h,
                    Plan::Tail { .. } | Plan::Rows { .. } | Plan::Files { .. }
                )
            };
            let nothing_new = |h: &Plan| match h {
                Plan::Tail { from, end } => from == end,
                Plan::Files { parts } => parts.iter().all(|p| p.from == p.end),
                _ => false,
            };
            if let Some(p) = &prev
                && carries_on(&how)
                && p.settings != settings
            {
                how = Plan::Full {
                    reason: "its columns, types, date formats, the cleaning policy or the merged customer ids changed".into(),
                };
            }
            // A file of the size read whose checksum is being made: awaited first.
            if nothing_new(&how) && !self.unchanged_before(&role)? {
                how = Plan::Full {
                    reason: CHANGED.into(),
                };
            }
            // Nothing new since a run whose table is kept: that table, nothing read.
            if let Some(p) = &prev
                && nothing_new(&how)
                && !p.aggregate.is_empty()
                && let Ok(frame) = read_parquet(&self.dir.join(&p.aggregate))
            {
                let agg = from_frame(input, plan, frame);
                locked(&self.results)?.push(Done {
                    refresh: SourceRefresh {
                        role: role.clone(),
                        path: input.path.display().to_string(),
                        mode: "unchanged",
                        reason: None,
                        bytes: 0,
                        rows: 0,
                    },
                    saving: Saving::Kept(Box::new(p.clone())),
                });
                out.push(agg);
                continue;
            }
            let resume = match (&how, &prev) {
                (h, Some(p)) if carries_on(h) => match load(self.dir, p) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        how = Plan::Full {
                            reason: format!("its state could not be read ({e})"),
                        };
                        None
                    }
                },
                _ => None,
            };
            // The rows read under `how` folded into the accumulators `resume` holds.
            let run = |how: &Plan,
                       resume: Option<(Resume, DataFrame)>|
             -> Result<(RoleAggregate, Option<Vec<Reducer>>)> {
                let full_input;
                let input_used = match (how, &input.tail) {
                    (Plan::Tail { .. } | Plan::Rows { .. } | Plan::Files { .. }, Some(_)) => input,
                    // The same file as last time (one not read from an offset): nothing to
                    // read.
                    (Plan::Tail { .. } | Plan::Rows { .. } | Plan::Files { .. }, None) => {
                        full_input = input.with_tail(input.frame.clone().limit(0));
                        &full_input
                    }
                    (Plan::Full { .. }, _) => {
                        full_input = input.reading_whole();
                        &full_input
                    }
                };
                let (resume, earlier_frame) = match resume {
                    Some((r, frame)) => (r, Some(frame)),
                    None => (
                        Resume {
                            earlier: Default::default(),
                            categories: Vec::new(),
                            rows: Default::default(),
                            orders: Default::default(),
                        },
                        None,
                    ),
                };
                let (mut agg, reducers) =
                    aggregate_source(input_used, plan, Some(resume), progress)?;
                // The customers without new rows are as the last run left them.
                if let (Some(earlier), Some(reducers)) = (earlier_frame, &reducers) {
                    let t0 = std::time::Instant::now();
                    let millis = agg.millis;
                    agg = from_frame(input, plan, with_changed(earlier, agg.frame, reducers)?);
                    agg.millis = millis + (t0.elapsed().as_secs_f64() * 1000.0).round();
                }
                Ok((agg, reducers))
            };
            let (mut agg, mut reducers) = run(&how, resume)?;
            // The part of the file read before, checksummed meanwhile, changed: the rows
            // folded are not the new rows of the file read before, and it is read whole.
            if carries_on(&how) && !self.unchanged_before(&role)? {
                how = Plan::Full {
                    reason: CHANGED.into(),
                };
                (agg, reducers) = run(&how, None)?;
            }
            let tail = carries_on(&how);
            if !tail {
                // Read whole for another reason: a checksum still being made is not needed.
                locked(&self.verifying)?.remove(&role);
            }
            let rows: u64 = reducers
                .as_ref()
                .map_or(0, |r| r.iter().map(|x| x.rows).sum());
            let (mode, reason, bytes) = match &how {
                Plan::Tail { from, end } if end == from => ("unchanged", None, 0),
                Plan::Tail { from, end } => ("appended", None, end - from),
                Plan::Rows { .. } if rows == 0 => ("unchanged", None, 0),
                Plan::Rows { .. } => ("appended", None, 0),
                Plan::Files { parts } => {
                    let bytes: u64 = parts.iter().map(|p| p.end - p.from).sum();
                    (
                        if bytes == 0 { "unchanged" } else { "appended" },
                        None,
                        bytes,
                    )
                }
                Plan::Full { reason } => ("full", Some(reason.clone()), size),
            };
            let refresh = SourceRefresh {
                role: role.clone(),
                path: input.path.display().to_string(),
                mode,
                reason,
                bytes,
                rows,
            };
            // Read to: the tail's end, or the size before a whole read (if it is unchanged
            // after, nothing was appended while it was read).
            let read_to = match &how {
                Plan::Tail { end, .. } => *end,
                Plan::Rows { .. } | Plan::Files { .. } => 0,
                Plan::Full { .. } => size,
            };
            let settled = match &how {
                Plan::Tail { .. } | Plan::Rows { .. } | Plan::Files { .. } => true,
                Plan::Full { .. } if !opened.files.is_empty() => true,
                Plan::Full { .. } => file_size(&input.path).unwrap_or(u64::MAX) == size,
            };
            // A pattern's files: how far each was read (the checksums are made on saving).
            let files: Vec<FileRead> = match &how {
                Plan::Files { parts } => parts
                    .iter()
                    .map(|p| FileRead {
                        path: absolute(&p.path),
                        read_to: p.end,
                        checksum: prev
                            .as_ref()
                            .and_then(|s| s.files.iter().find(|f| f.path == absolute(&p.path)))
                            .map(|f| f.checksum.clone())
                            .unwrap_or_default(),
                        identity: String::new(),
                        settled: true,
                    })
                    .collect(),
                Plan::Full { .. } => opened
                    .files
                    .iter()
                    .map(|(p, n)| FileRead {
                        path: absolute(p),
                        read_to: *n,
                        checksum: String::new(),
                        identity: String::new(),
                        settled: file_size(p).is_ok_and(|now| now == *n),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            // The largest watermark value read (the last run's when no row was new).
            let watermark = opened.watermark.clone().or(match &how {
                Plan::Rows { after, .. } => Some(after.clone()),
                _ => None,
            });
            let format = input.format.name().to_string();
            let base = SourceState {
                role: role.clone(),
                path: absolute(&input.path),
                format,
                read_to,
                checksum: match (&how, &prev) {
                    (Plan::Tail { .. }, Some(p)) => p.checksum.clone(),
                    _ => String::new(),
                },
                identity: String::new(),
                settings: settings.clone(),
                settled,
                accumulators: match (&how, &prev) {
                    (h, Some(p)) if carries_on(h) => p.accumulators.clone(),
                    _ => Vec::new(),
                },
                aggregate: String::new(),
                categories: Vec::new(),
                row_segments: if tail {
                    prev.as_ref()
                        .map(|p| p.row_segments.clone())
                        .unwrap_or_default()
                } else {
                    Vec::new()
                },
                order_segments: if tail {
                    prev.as_ref()
                        .map(|p| p.order_segments.clone())
                        .unwrap_or_default()
                } else {
                    Vec::new()
                },
                watermark,
                files,
            };
            let categories = match prev {
                Some(p) if tail => p.categories,
                _ => Vec::new(),
            };
            let to_save = ToSave {
                dir: self.dir.to_path_buf(),
                generation: self.generation(),
                reducers: reducers.unwrap_or_default(),
                frame: agg.frame.clone(),
                state: base,
                categories,
            };
            locked(&self.results)?.push(Done {
                refresh,
                saving: Saving::Writing(std::thread::spawn(move || save_source(to_save))),
            });
            out.push(agg);
        }
        Ok(out)
    }
}

/// One source's files for the next run (its per-customer table, the changed customers'
/// accumulators, the new fingerprints, the checksum of what was read), and its state naming
/// them.
fn save_source(to_save: ToSave) -> Result<SourceState> {
    let ToSave {
        dir,
        generation,
        reducers,
        frame,
        mut state,
        categories,
    } = to_save;
    let dir = dir.as_path();
    let role = state.role.clone();
    let aggregate = format!("{role}.{generation}.aggregate.parquet");
    write_parquet(&dir.join(&aggregate), by_key(frame)?)?;
    state.aggregate = aggregate;
    let start = Carried {
        categories,
        ..Carried::default()
    };
    let carried = Carried::of(reducers, start);
    // The changed customers' accumulators as one more segment (all of them, merged into
    // one, when there would be more than eight).
    let name = format!("{role}.{generation}.acc");
    let mut accs: Vec<(u128, &Acc)> = carried.prints.iter().copied().zip(&carried.accs).collect();
    accs.sort_unstable_by_key(|(p, _)| *p);
    let merged;
    if !state.accumulators.is_empty() && state.accumulators.len() + 1 > MAX_SEGMENTS {
        let from = merge_from(dir, &state.accumulators);
        let all = Earlier {
            segments: read_accs(dir, state.accumulators[from..].iter().rev())?,
        };
        merged = merge_accs(all.latest(), &accs);
        accs = merged.iter().map(|(p, a)| (*p, a)).collect();
        state.accumulators.truncate(from);
    }
    let path = dir.join(&name);
    std::fs::write(&path, AccSegment::encode(&accs)).map_err(|e| DataError::io(&path, e))?;
    state.accumulators.push(name);
    state.categories = carried.categories.clone();
    for (segments, new, what) in [
        (&mut state.row_segments, &carried.new_rows, "rows"),
        (&mut state.order_segments, &carried.new_orders, "orders"),
    ] {
        if new.is_empty() {
            continue;
        }
        let name = format!("{role}.{generation}.{what}.u128");
        if segments.len() + 1 > MAX_SEGMENTS {
            let from = merge_from(dir, segments);
            let all = merge_segments(dir, &segments[from..], new)?;
            write_segment(&dir.join(&name), &all)?;
            segments.truncate(from);
        } else {
            write_segment(&dir.join(&name), new)?;
        }
        segments.push(name);
    }
    if !state.files.is_empty() {
        for f in &mut state.files {
            let known = whole_blocks(&f.checksum);
            (f.checksum, f.identity) =
                checksum_and_identity(Path::new(&f.path), f.read_to, &known)?;
        }
    } else if state.watermark.is_none() {
        // The whole blocks read before were verified this run (or the file was read
        // whole): only the rest is hashed.
        let known = whole_blocks(&state.checksum);
        (state.checksum, state.identity) =
            checksum_and_identity(Path::new(&state.path), state.read_to, &known)?;
    }
    Ok(state)
}

/// An earlier run's state of one source, and its per-customer table.
fn load(dir: &Path, s: &SourceState) -> Result<(Resume, DataFrame)> {
    if s.accumulators.is_empty() || s.aggregate.is_empty() {
        return Err(DataError::Invalid("no accumulators".into()));
    }
    // Newest first.
    let earlier = Earlier {
        segments: read_accs(dir, s.accumulators.iter().rev())?,
    };
    let frame = read_parquet(&dir.join(&s.aggregate))?;
    let segments = |names: &[String]| -> Result<Seen> {
        let mut out = Seen::default();
        for n in names {
            out.segments.push(Arc::new(read_segment(&dir.join(n))?));
        }
        Ok(out)
    };
    Ok((
        Resume {
            earlier: Arc::new(earlier),
            categories: s.categories.clone(),
            rows: Arc::new(segments(&s.row_segments)?),
            orders: Arc::new(segments(&s.order_segments)?),
        },
        frame,
    ))
}

/// The per-customer table of the last run with the rows of the customers in `changed`
/// (every customer the reducers met) replaced by theirs.
fn with_changed(earlier: DataFrame, changed: DataFrame, reducers: &[Reducer]) -> Result<DataFrame> {
    let fail = |e: PolarsError| DataError::polars("updating the per-customer table", e);
    let met: std::collections::HashSet<u128> = reducers
        .iter()
        .flat_map(|r| r.customers().iter().copied())
        .collect();
    let changed = by_key(changed)?;
    // One row for each customer met (the usual case): the rows of `changed` take the place
    // of the earlier rows with their keys, in one merge of the two key orders.
    if changed.height() == met.len()
        && let Some(frame) = replaced_by_key(&earlier, &changed)?
    {
        return Ok(frame);
    }
    let prints =
        crate::data::integrate::dedup::column_fingerprints(earlier.column(KEY).map_err(fail)?)
            .map_err(fail)?;
    let keep: BooleanChunked = prints.iter().map(|p| !met.contains(p)).collect();
    let kept = earlier.filter(&keep).map_err(fail)?;
    merged_by_key(kept, changed)
}

/// The rows of `earlier` and `changed` (each in ascending key order, keys unique) in key
/// order, a row of `changed` replacing the row of `earlier` with its key; None when either
/// is not in key order or a key repeats.
fn replaced_by_key(earlier: &DataFrame, changed: &DataFrame) -> Result<Option<DataFrame>> {
    let fail = |e: PolarsError| DataError::polars("updating the per-customer table", e);
    let text = |f: &DataFrame| f.column(KEY).ok().and_then(|c| c.str().ok()).cloned();
    let (Some(ka), Some(kb)) = (text(earlier), text(changed)) else {
        return Ok(None);
    };
    if ka.null_count() > 0 || kb.null_count() > 0 {
        return Ok(None);
    }
    let n = earlier.height();
    let mut order: Vec<IdxSize> = Vec::with_capacity(n + changed.height());
    let mut left = ka.iter().flatten().enumerate().peekable();
    let mut right = kb.iter().flatten().enumerate().peekable();
    let mut last: Option<&str> = None;
    loop {
        let (i, key) = match (left.peek().copied(), right.peek().copied()) {
            (Some((i, x)), Some((j, y))) => match x.cmp(y) {
                std::cmp::Ordering::Less => {
                    left.next();
                    (i as IdxSize, x)
                }
                std::cmp::Ordering::Equal => {
                    left.next();
                    right.next();
                    ((n + j) as IdxSize, y)
                }
                std::cmp::Ordering::Greater => {
                    right.next();
                    ((n + j) as IdxSize, y)
                }
            },
            (Some((i, x)), None) => {
                left.next();
                (i as IdxSize, x)
            }
            (None, Some((j, y))) => {
                right.next();
                ((n + j) as IdxSize, y)
            }
            (None, None) => break,
        };
        // Strictly ascending, or the sides were not in order (or a key repeats).
        if last.is_some_and(|l| l >= key) {
            return Ok(None);
        }
        last = Some(key);
        order.push(i);
    }
    let mut out = earlier.clone();
    out.vstack_mut(changed).map_err(fail)?;
    out.take(&IdxCa::from_vec(PlSmallStr::EMPTY, order))
        .map(Some)
        .map_err(fail)
}

/// `frame` in ascending key order (the per-customer tables are kept so: the 360 table places
/// them by a merge, see `KeyRows`).
fn by_key(frame: DataFrame) -> Result<DataFrame> {
    let fail = |e: PolarsError| DataError::polars("ordering the per-customer table", e);
    // (A key not held as text is left in its order: it is placed by fingerprint.)
    let Some(keys) = frame.column(KEY).ok().and_then(|c| c.str().ok()) else {
        return Ok(frame);
    };
    if keys.null_count() == 0 && crate::data::integrate::ascending(keys) {
        return Ok(frame);
    }
    frame
        .sort([KEY], SortMultipleOptions::default())
        .map_err(fail)
}

/// The rows of `a` and `b` (each in ascending key order, no key in both) in ascending key
/// order: merged, not sorted again; put one after the other when either is not in order.
fn merged_by_key(a: DataFrame, b: DataFrame) -> Result<DataFrame> {
    let fail = |e: PolarsError| DataError::polars("updating the per-customer table", e);
    let text = |f: &DataFrame| f.column(KEY).ok().and_then(|c| c.str().ok()).cloned();
    let in_order = |k: &StringChunked| k.null_count() == 0 && crate::data::integrate::ascending(k);
    let sorted = match (text(&a), text(&b)) {
        (Some(ka), Some(kb)) if in_order(&ka) && in_order(&kb) => Some((ka, kb)),
        _ => None,
    };
    let order = sorted.map(|(ka, kb)| {
        let n = a.height();
        let mut order: Vec<IdxSize> = Vec::with_capacity(n + b.height());
        let mut left = ka.iter().flatten().enumerate().peekable();
        let mut right = kb.iter().flatten().enumerate().peekable();
        loop {
            let from_left = match (left.peek(), right.peek()) {
                (Some((_, x)), Some((_, y))) => x <= y,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if from_left {
                order.extend(left.next().map(|(i, _)| i as IdxSize));
            } else {
                order.extend(right.next().map(|(j, _)| (n + j) as IdxSize));
            }
        }
        order
    });
    let mut out = a;
    out.vstack_mut(&b).map_err(fail)?;
    match order {
        Some(order) => out
            .take(&IdxCa::from_vec(PlSmallStr::EMPTY, order))
            .map_err(fail),
        None => Ok(out),
    }
}

fn load_customers(dir: &Path, k: &CustomersState) -> Result<PreparedCustomers> {
    let meta_path = dir.join(&k.meta);
    let meta: CustomersMeta = serde_json::from_str(
        &std::fs::read_to_string(&meta_path).map_err(|e| DataError::io(&meta_path, e))?,
    )
    .map_err(|e| DataError::Invalid(format!("{}: {e}", meta_path.display())))?;
    Ok(PreparedCustomers {
        table: read_parquet(&dir.join(&k.table))?,
        key_map: if k.key_map.is_empty() {
            None
        } else {
            Some(read_parquet(&dir.join(&k.key_map))?)
        },
        roles: meta.roles,
        path: meta.path,
        report: meta.report,
    })
}

fn save_customers(
    dir: &Path,
    generation: u64,
    p: PreparedCustomers,
    inputs: Vec<(String, String)>,
    identities: Vec<String>,
    settings: String,
) -> Result<CustomersState> {
    let table = format!("customers.{generation}.table.parquet");
    write_parquet(&dir.join(&table), p.table)?;
    let key_map = match p.key_map {
        Some(m) => {
            let name = format!("customers.{generation}.key_map.parquet");
            write_parquet(&dir.join(&name), m)?;
            name
        }
        None => String::new(),
    };
    let meta = format!("{generation}.customers.json");
    let text = serde_json::to_string(&CustomersMeta {
        roles: p.roles,
        path: p.path,
        report: p.report,
    })
    .map_err(|e| DataError::Invalid(format!("writing the integration state: {e}")))?;
    let meta_path = dir.join(&meta);
    std::fs::write(&meta_path, text).map_err(|e| DataError::io(&meta_path, e))?;
    Ok(CustomersState {
        inputs,
        identities,
        settings,
        table,
        key_map,
        meta,
    })
}

fn read_parquet(path: &Path) -> Result<DataFrame> {
    ParquetReader::new(std::fs::File::open(path).map_err(|e| DataError::io(path, e))?)
        .finish()
        .map_err(|e| DataError::polars(path.display().to_string(), e))
}

/// A table of the state: uncompressed (written and read again on every run; the disk it
/// takes matters less than the time).
fn write_parquet(path: &Path, mut df: DataFrame) -> Result<()> {
    let f = std::fs::File::create(path).map_err(|e| DataError::io(path, e))?;
    ParquetWriter::new(f)
        .with_compression(ParquetCompression::Uncompressed)
        .finish(&mut df)
        .map_err(|e| DataError::polars(path.display().to_string(), e))?;
    Ok(())
}

/// The accumulator segments `names` of the state in `dir`, mapped, in the order given.
fn read_accs<'a>(dir: &Path, names: impl Iterator<Item = &'a String>) -> Result<Vec<AccSegment>> {
    names
        .map(|name| {
            let path = dir.join(name);
            let store = Store::open(&path).map_err(|e| DataError::io(&path, e))?;
            AccSegment::of(store)
                .map_err(|e| DataError::Invalid(format!("{}: {e}", path.display())))
        })
        .collect()
}

/// A fingerprint segment (raw little-endian u128), mapped.
fn read_segment(path: &Path) -> Result<Store> {
    let store = Store::open(path).map_err(|e| DataError::io(path, e))?;
    if !store.len().is_multiple_of(16) {
        return Err(DataError::Invalid(format!(
            "{}: not a fingerprint segment (its size is not a multiple of 16)",
            path.display()
        )));
    }
    Ok(store)
}

fn write_segment(path: &Path, prints: &[u128]) -> Result<()> {
    let mut bytes = Vec::with_capacity(prints.len() * 16);
    for p in prints {
        bytes.extend_from_slice(&p.to_le_bytes());
    }
    std::fs::write(path, bytes).map_err(|e| DataError::io(path, e))
}

/// Which of a source's segments (oldest first) to merge into one when there are too many:
/// all but the first (the first run's, usually most of the data) while the later ones
/// together are smaller than half of it, else all of them. Rewriting the big first segment
/// every eighth run cost more than the runs in between.
fn merge_from(dir: &Path, segments: &[String]) -> usize {
    let size = |n: &String| std::fs::metadata(dir.join(n)).map_or(0, |m| m.len());
    match segments.split_first() {
        Some((first, rest)) if rest.iter().map(size).sum::<u64>() * 2 < size(first) => 1,
        _ => 0,
    }
}

/// Every customer's accumulator: `all` (sorted) with `changed` (sorted) in place of theirs.
fn merge_accs(all: Vec<(u128, Acc)>, changed: &[(u128, &Acc)]) -> Vec<(u128, Acc)> {
    let mut out = Vec::with_capacity(all.len() + changed.len());
    let mut next = changed.iter().peekable();
    for (p, a) in all {
        while let Some((q, b)) = next.next_if(|(q, _)| *q < p) {
            out.push((*q, (*b).clone()));
        }
        match next.next_if(|(q, _)| *q == p) {
            Some((_, b)) => out.push((p, (*b).clone())),
            None => out.push((p, a)),
        }
    }
    out.extend(next.map(|(q, b)| (*q, (*b).clone())));
    out
}

/// Merges sorted segments into one sorted vector.
fn merge_segments(dir: &Path, names: &[String], more: &[u128]) -> Result<Vec<u128>> {
    let mut all: Vec<u128> = more.to_vec();
    for n in names {
        let segment = read_segment(&dir.join(n))?;
        all.extend_from_slice(segment.words(0, segment.len() / 16));
    }
    // Sorted runs put together: the stable sort merges runs instead of sorting from scratch
    // (seconds for the 20M fingerprints of a big source).
    all.sort();
    Ok(all)
}

fn read_manifest(dir: &Path) -> Result<Option<Manifest>> {
    let path = dir.join(MANIFEST);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(DataError::io(&path, e)),
    };
    let m: Manifest = toml::from_str(&text).map_err(|e| {
        DataError::Invalid(format!(
            "{}: not an integration state ({}); give an empty folder or the one an earlier `integrate --state` wrote",
            path.display(),
            e.message()
        ))
    })?;
    if m.format != FORMAT {
        return Err(DataError::Invalid(format!(
            "{}: not an integration state; give an empty folder or the one an earlier `integrate --state` wrote",
            path.display()
        )));
    }
    Ok(Some(m))
}

fn absolute(p: &Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// Whether the state in `dir` wrote `out` (so refreshing it may replace it).
pub fn wrote(dir: &Path, out: &Path) -> bool {
    read_manifest(dir)
        .ok()
        .flatten()
        .is_some_and(|m| m.outputs.contains(&absolute(out)))
}

/// Integrates `ws` reading only what arrived since the run that wrote the state in `dir`
/// (a full run when there is none), and writes the new state there, recording `out` as a
/// table written from it.
pub fn integrate_incremental(
    ws: &Workspace,
    dir: &Path,
    out: Option<&Path>,
    progress: &Progress,
) -> Result<Refreshed> {
    if ws.engine.kind != crate::data::sources::workspace::EngineKind::Local {
        return Err(DataError::Invalid(
            "--state works with the local engine only; integrate on Spark without it".into(),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    let mut manifest = read_manifest(dir)?;
    // A state of another layout (or crmlens version: the reduction may differ) is started
    // over, as a full run.
    if manifest
        .as_ref()
        .is_some_and(|m| m.version != VERSION || m.crmlens_version != env!("CARGO_PKG_VERSION"))
    {
        manifest = None;
    }
    let inc = Incremental {
        dir,
        manifest,
        plans: Mutex::new(BTreeMap::new()),
        results: Mutex::new(Vec::new()),
        customers: Mutex::new(None),
        verifying: Mutex::new(BTreeMap::new()),
    };
    let table = integrate_with(ws, &inc, progress)?;
    progress.label("saving the state");
    let generation = inc.generation();
    let results = inner(inc.results)?;
    let mut sources = Vec::new();
    let mut refreshes = Vec::new();
    for done in results {
        sources.push(match done.saving {
            Saving::Kept(state) => *state,
            Saving::Writing(thread) => thread
                .join()
                .map_err(|_| DataError::Invalid("saving the state failed".into()))??,
        });
        refreshes.push(done.refresh);
    }
    // The cleaned customers: kept as they were, or written for the next run.
    let kept = inner(inc.customers)?;
    let path = ws.resolve(&ws.sources.customers).display().to_string();
    let (mode, reason) = match &kept {
        Some((_, _, _, true)) => ("unchanged", None),
        _ if inc.manifest.as_ref().is_some_and(|m| m.customers.is_some()) => (
            "full",
            Some("its file, a linked list or the workspace changed".to_string()),
        ),
        Some(_) => ("full", Some("first run (no state yet)".to_string())),
        None => ("full", Some("a database source is read whole".to_string())),
    };
    let rows = match &kept {
        Some((p, _, _, _)) => p.report.sources.first().map_or(0, |s| s.rows),
        None => 0,
    };
    refreshes.insert(
        0,
        SourceRefresh {
            role: "customers".into(),
            path,
            mode,
            reason,
            bytes: 0,
            rows: if mode == "unchanged" { 0 } else { rows },
        },
    );
    let customers = match kept {
        Some((_, _, _, true)) => inc.manifest.as_ref().and_then(|m| m.customers.clone()),
        Some((p, (inputs, identities), settings, false)) => Some(save_customers(
            dir, generation, p, inputs, identities, settings,
        )?),
        None => None,
    };
    let mut outputs = inc
        .manifest
        .as_ref()
        .map_or(Vec::new(), |m| m.outputs.clone());
    if let Some(o) = out
        && !outputs.contains(&absolute(o))
    {
        outputs.push(absolute(o));
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        version: VERSION,
        crmlens_version: env!("CARGO_PKG_VERSION").into(),
        generation,
        outputs,
        customers,
        sources,
    };
    let text = toml::to_string(&manifest)
        .map_err(|e| DataError::Invalid(format!("writing the integration state: {e}")))?;
    {
        use std::io::Write as _;
        let path = dir.join(MANIFEST);
        let mut f = crate::data::write::AtomicFile::create(&path, true)?;
        f.file()
            .write_all(text.as_bytes())
            .map_err(|e| DataError::io(&path, e))?;
        f.commit()?;
    }
    // Files the new manifest does not name: the previous generation's, or an interrupted
    // run's.
    let named: std::collections::BTreeSet<String> = manifest
        .sources
        .iter()
        .flat_map(|s| {
            [s.aggregate.clone()]
                .into_iter()
                .chain(s.accumulators.iter().cloned())
                .chain(s.row_segments.iter().cloned())
                .chain(s.order_segments.iter().cloned())
        })
        .chain([MANIFEST.to_string()])
        .chain(
            manifest
                .customers
                .iter()
                .flat_map(|c| [c.table.clone(), c.key_map.clone(), c.meta.clone()]),
        )
        .collect();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let ours = name.ends_with(".parquet")
                || name.ends_with(".acc")
                || name.ends_with(".u128")
                || name.ends_with(".customers.json");
            if ours && !named.contains(&name) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let full = refreshes.iter().any(|r| r.mode == "full");
    Ok(Refreshed {
        customer360: table,
        sources: refreshes,
        full,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Merging the changed accumulators into all of them equals a map updated one by one.
    /// Two per-customer tables in key order merged are their rows sorted by key; tables out
    /// of order are put one after the other.
    #[test]
    fn per_customer_tables_merge_in_key_order() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for _ in 0..40 {
            let mut keys: Vec<String> = (0..rng.gen_range(0..300))
                .map(|i| format!("K{}", i * 7 % 1000))
                .collect();
            keys.sort();
            keys.dedup();
            let (a, b): (Vec<_>, Vec<_>) = keys.iter().partition(|_| rng.gen_bool(0.8));
            let frame = |k: &[&String]| {
                let v: Vec<f64> = k.iter().map(|s| s.len() as f64).collect();
                let k: Vec<&str> = k.iter().map(|s| s.as_str()).collect();
                df!(KEY => k, "v" => v).unwrap()
            };
            let merged = merged_by_key(frame(&a), frame(&b)).unwrap();
            let want = frame(&keys.iter().collect::<Vec<_>>());
            assert!(merged.equals_missing(&want));
            assert!(
                by_key(frame(&b.iter().rev().copied().collect::<Vec<_>>()))
                    .unwrap()
                    .equals_missing(&frame(&b))
            );
        }
        let out_of_order = df!(KEY => ["b", "a"], "v" => [1.0, 2.0]).unwrap();
        let other = df!(KEY => ["c"], "v" => [3.0]).unwrap();
        let stacked = merged_by_key(out_of_order.clone(), other.clone()).unwrap();
        assert!(stacked.equals_missing(&out_of_order.vstack(&other).unwrap()));
    }

    /// A file's identity is kept with its checksum once it has not changed for a while, and
    /// any write gives it another one; a file changed just before it was checksummed has
    /// none (it is read again next time).
    #[test]
    fn a_files_identity_stands_for_its_checksum_until_it_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders.csv");
        std::fs::write(&path, "a,b\n1,2\n").unwrap();
        let (sum, id) = checksum_and_identity(&path, 8, &[]).unwrap();
        assert_eq!(sum, checksum(&path, 8).unwrap());
        assert!(id.is_empty(), "changed just now: {id}");
        std::thread::sleep(RACY + std::time::Duration::from_millis(200));
        let (_, id) = checksum_and_identity(&path, 8, &[]).unwrap();
        assert!(!id.is_empty());
        assert!(same_file(&path, &id));
        // Only part of the file checksummed: no identity.
        assert!(checksum_and_identity(&path, 4, &[]).unwrap().1.is_empty());
        // Rewritten in place with the same size, then touched back to its old times: the
        // change time still moved.
        let before = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::fs::write(&path, "a,b\n1,3\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(before)
            .unwrap();
        assert!(!same_file(&path, &id));
        assert!(!same_file(&path, ""));
    }

    /// Replacing rows by key equals a map of the earlier rows updated with the changed ones,
    /// in key order; sides out of order are refused (the caller then filters and merges).
    #[test]
    fn changed_rows_replace_the_earlier_ones_with_their_keys() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let frame = |rows: &[(String, f64)]| {
            let k: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
            let v: Vec<f64> = rows.iter().map(|(_, v)| *v).collect();
            df!(KEY => k, "v" => v).unwrap()
        };
        for _ in 0..40 {
            let mut side = |p: f64, v: f64| {
                (0..rng.gen_range(0..200))
                    .filter(|_| rng.gen_bool(p))
                    .map(|i| (format!("K{:03}", i * 13 % 997), v))
                    .collect::<std::collections::BTreeMap<_, _>>()
            };
            let earlier = side(0.9, 1.0);
            let changed = side(0.2, 2.0);
            let mut want = earlier.clone();
            want.extend(changed.clone());
            let rows = |m: &std::collections::BTreeMap<String, f64>| {
                m.iter().map(|(k, v)| (k.clone(), *v)).collect::<Vec<_>>()
            };
            let got = replaced_by_key(&frame(&rows(&earlier)), &frame(&rows(&changed)))
                .unwrap()
                .expect("both in key order");
            assert!(got.equals_missing(&frame(&rows(&want))));
        }
        let out_of_order = frame(&[("b".into(), 1.0), ("a".into(), 1.0)]);
        let other = frame(&[("c".into(), 2.0)]);
        assert!(replaced_by_key(&out_of_order, &other).unwrap().is_none());
        let twice = frame(&[("a".into(), 1.0), ("a".into(), 1.0)]);
        assert!(replaced_by_key(&other, &twice).unwrap().is_none());
    }

    #[test]
    fn merged_accumulators_take_the_changed_ones() {
        let acc = |n: u64| Acc {
            read: n,
            ..Acc::default()
        };
        let all: Vec<(u128, Acc)> = (0..50u128).map(|p| (p * 3, acc(p as u64))).collect();
        let changed_owned: Vec<(u128, Acc)> = (0..40u128)
            .map(|p| (p * 4 + 1 - (p % 2), acc(1000 + p as u64)))
            .collect();
        let changed: Vec<(u128, &Acc)> = changed_owned.iter().map(|(p, a)| (*p, a)).collect();
        let mut want: BTreeMap<u128, Acc> = all.iter().cloned().collect();
        for (p, a) in &changed_owned {
            want.insert(*p, a.clone());
        }
        let got = merge_accs(all, &changed);
        assert_eq!(got, want.into_iter().collect::<Vec<_>>());
    }
}
