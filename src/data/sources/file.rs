//! Data sources: CSV/TSV (delimiter detected or given), Parquet, JSON arrays and NDJSON, read
//! through polars as lazy frames so big files stream. Also the checks that turn a wrong path,
//! a wrong delimiter or an unknown column into one clear message.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::data::error::{DataError, Result};
use crate::data::sources::precheck::{self, Encoding};
use crate::data::sources::workspace::parse_delimiter;

/// A file format crmlens reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Parquet,
    Json,
    Ndjson,
    /// A SQLite database file: a table or a query of it.
    Sqlite,
    /// A PostgreSQL server: a table or a query.
    Postgres,
    /// A table of a Spark catalog, read by the Spark engine only.
    SparkTable,
}

impl Format {
    /// Its name in workspaces and reports.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Sqlite => "sqlite",
            Format::Postgres => "postgres",
            Format::SparkTable => "spark table",
        }
    }
}

/// How to read one file.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub format: Option<String>,
    pub delimiter: Option<String>,
    /// column -> int | float | text | bool
    pub schema: BTreeMap<String, String>,
    /// Leave text dates as text: a workspace's sources, whose dates the integration parses
    /// itself (with the workspace's formats, or those found) and whose misses it counts.
    pub keep_date_text: bool,
    /// Let polars recognise ISO dates and datetimes in CSV text columns (for profiling).
    pub try_parse_dates: bool,
    /// A database source's table (SQLite: the only table, or `customers`, when not given).
    pub table: Option<String>,
    /// A database source's SQL query (instead of a table).
    pub query: Option<String>,
    /// A PostgreSQL source's connection URL (the path then only names it in messages).
    pub url: Option<String>,
    /// A database read stops with "cancelled" when this is cancelled (and is told the MB read).
    pub cancel: Option<crate::progress::Progress>,
    /// Read the file in ranges rather than memory-mapping it (big activity files streamed
    /// once: the mapped pages of a multi-GB file would count in the process's memory).
    pub unmapped: bool,
    /// Also read the rows from this byte offset on (a line start after the header: where an
    /// earlier run stopped) as [`Scanned::tail`], exactly as the whole file's rows are read:
    /// the header, the columns' types and their readings are the whole file's (decided on
    /// its first rows, which rows appended since do not change). Only the tail's field
    /// counts are checked. CSV and NDJSON only.
    pub tail_from: Option<u64>,
    /// A database source's watermark column: its rows are read in its order, and with
    /// `watermark_after` only those past that value are [`Scanned::tail`] (the frame then
    /// holds the first rows only, for the decisions made on them). SQLite only.
    pub watermark: Option<String>,
    pub watermark_after: Option<crate::data::sources::sqlite::Watermark>,
}

/// A scanned source: the lazy frame and what was decided about the file.
pub struct Scanned {
    pub path: PathBuf,
    /// Estimated rows of a text file, for pre-sizing (see [`estimate_rows`]).
    pub estimated_rows: Option<usize>,
    pub format: Format,
    pub delimiter: Option<u8>,
    pub frame: LazyFrame,
    pub schema: SchemaRef,
    /// What the reader noted for the quality report (a database type read as text).
    pub notes: Vec<String>,
    /// The text columns read as numbers, flags or text with placeholders (see
    /// [`super::reading`]); each is in `notes` too.
    pub readings: Vec<super::reading::Inferred>,
    /// With [`ReadOptions::tail_from`]: the whole lines from that offset on, read as
    /// `frame` reads the whole file, and the offset after them.
    pub tail: Option<LazyFrame>,
    pub tail_end: Option<u64>,
    /// With [`ReadOptions::watermark`]: the largest watermark value among the rows read.
    pub watermark_max: Option<crate::data::sources::sqlite::Watermark>,
    /// `frame`'s reading through a memory map, for its first rows, when `frame` reads the
    /// file in ranges (see [`ReadOptions::unmapped`]); read them with [`Scanned::first_rows`].
    pub head: Option<LazyFrame>,
}

impl Scanned {
    /// The first `n` rows of `frame`, read as cheaply as the source allows.
    pub fn first_rows(&self, n: IdxSize) -> LazyFrame {
        self.head.as_ref().unwrap_or(&self.frame).clone().limit(n)
    }
}

/// A step of reading a source after its reader: columns cast or read from text, or renamed.
/// Kept so that rows appended to a file are read exactly as the whole file is.
#[derive(Clone)]
enum Stage {
    Columns(Vec<Expr>),
    Rename(Vec<String>, Vec<String>),
}

fn replay(frame: LazyFrame, stages: &[Stage]) -> LazyFrame {
    stages.iter().fold(frame, |f, s| match s {
        Stage::Columns(e) => f.with_columns(e.clone()),
        Stage::Rename(old, new) => f.rename(old.clone(), new.clone(), true),
    })
}

/// Column types the analyst gave for this run over those read (`--schema col=type` for every
/// file read, the workbench's `t` for one file): [`scan`] reads these columns as given, under
/// a workspace source's own `schema`. Process-wide because every reader of a file (the 360
/// view, the order lines of Rules, CLV and Recommend, the report) must read it the same way
/// without each call site carrying them; keyed by file so that two workbench sessions in one
/// process (tests) keep theirs apart.
static SESSION_TYPES: std::sync::Mutex<BTreeMap<Option<PathBuf>, BTreeMap<String, String>>> =
    std::sync::Mutex::new(BTreeMap::new());

/// Columns of [`SESSION_TYPES`] found in a file read (to tell the analyst of one never found).
static SESSION_TYPES_FOUND: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn session_key(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Sets the types to read columns as: in every file (`file` None: `--schema`) or in one.
/// An empty map clears them.
pub fn set_session_types(file: Option<&Path>, types: BTreeMap<String, String>) {
    let key = file.map(session_key);
    let mut all = SESSION_TYPES.lock().unwrap_or_else(|e| e.into_inner());
    if types.is_empty() {
        all.remove(&key);
    } else {
        all.insert(key, types);
    }
}

/// The types set for `file` (its own over those for every file).
pub fn session_types(file: &Path) -> BTreeMap<String, String> {
    let all = SESSION_TYPES.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = all.get(&None).cloned().unwrap_or_default();
    if let Some(own) = all.get(&Some(session_key(file))) {
        out.extend(own.clone());
    }
    out
}

/// The `--schema` columns no file read so far has (for a warning at the end of a command).
pub fn session_types_not_found() -> Vec<String> {
    let all = SESSION_TYPES.lock().unwrap_or_else(|e| e.into_inner());
    let found = SESSION_TYPES_FOUND
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    all.get(&None)
        .map(|t| t.keys().filter(|c| !found.contains(c)).cloned().collect())
        .unwrap_or_default()
}

/// Reads the text columns of `frame` as a person reads them (numbers with currency and
/// separators, yes/no flags, placeholders as nulls), judged on its first rows; the columns
/// `schema` types are left as they are.
fn read_text_columns(
    path: &Path,
    frame: &LazyFrame,
    schema: &Schema,
    opts: &ReadOptions,
) -> Result<(Vec<Stage>, Vec<super::reading::Inferred>)> {
    // The types the analyst gave this run (not those of the source's own `schema`).
    let session: BTreeMap<String, String> = session_types(path)
        .into_iter()
        .filter(|(c, _)| schema.contains(c) && !opts.schema.contains_key(c))
        .collect();
    if !session.is_empty() {
        let mut found = SESSION_TYPES_FOUND
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        found.extend(session.keys().cloned());
    }
    // The session's types, and the source's own `schema` (its `text` columns were read as
    // text already).
    let mut given = session;
    given.extend(
        opts.schema
            .iter()
            .filter(|(c, t)| t.as_str() != "text" && schema.contains(c.as_str()))
            .map(|(c, t)| (c.clone(), t.clone())),
    );
    // Columns already of another type than text: cast (a number read as text, a float as a
    // whole number only when it is one).
    let mut frame = frame.clone();
    let mut stages = Vec::new();
    let mut casts = Vec::new();
    let mut cast_readings = Vec::new();
    for (c, ty) in &given {
        let t = schema.get(c.as_str()).cloned().unwrap_or(DataType::String);
        if t == DataType::String {
            continue;
        }
        let to = polars_type(ty);
        if t == to {
            continue;
        }
        // What the cast does to the first rows, for the column's note: a float that is not
        // whole is no `int` (missing, never truncated).
        let head = frame
            .clone()
            .select([col(c.as_str())])
            .limit(INFER_ROWS as IdxSize)
            .collect()
            .map_err(|e| malformed_error(path, &e))?;
        let values = head
            .column(c.as_str())
            .map_err(|e| malformed_error(path, &e))?;
        let lost: Vec<String> = match (ty.as_str(), values.f64()) {
            ("int", Ok(v)) => v
                .iter()
                .flatten()
                .filter(|x| x.fract() != 0.0)
                .map(|x| x.to_string())
                .collect(),
            _ => Vec::new(),
        };
        let mut examples: Vec<String> = Vec::new();
        for l in &lost {
            if examples.len() < 3 && !examples.contains(l) {
                examples.push(l.clone());
            }
        }
        cast_readings.push(super::reading::Inferred {
            column: c.clone(),
            reading: match ty.as_str() {
                "int" | "float" => super::reading::Reading::Number {
                    decimal: super::reading::Decimal::Point,
                    integer: ty == "int",
                    percent: false,
                    currency: None,
                },
                "bool" => super::reading::Reading::Boolean,
                _ => super::reading::Reading::Text,
            },
            sampled: head.height(),
            placeholders: 0,
            unparsed: lost.len(),
            examples,
            given: true,
        });
        casts.push(match ty.as_str() {
            "int" if t.is_float() => when(col(c.as_str()).eq(col(c.as_str()).floor()))
                .then(col(c.as_str()).cast(DataType::Int64))
                .otherwise(lit(NULL).cast(DataType::Int64))
                .alias(c.as_str()),
            _ => col(c.as_str()).cast(to),
        });
    }
    if !casts.is_empty() {
        frame = frame.with_columns(casts.clone());
        stages.push(Stage::Columns(casts));
    }
    // Text columns, and whole-number columns named as dates (20240131 under `date`).
    let text: Vec<PlSmallStr> = schema
        .iter()
        .filter(|(n, t)| {
            (**t == DataType::String
                || t.is_integer()
                    && super::roles::date_like_name(n)
                    && !given.contains_key(n.as_str()))
                && opts.schema.get(n.as_str()).map(String::as_str) != Some("text")
        })
        .map(|(n, _)| n.clone())
        .collect();
    if text.is_empty() {
        return Ok((stages, cast_readings));
    }
    let head = frame
        .clone()
        .select(text.iter().map(|n| col(n.clone())).collect::<Vec<_>>())
        .limit(INFER_ROWS as IdxSize)
        .collect()
        .map_err(|e| malformed_error(path, &e))?;
    let mut readings = cast_readings;
    // Each column on its own, in parallel (the first rows of a dozen text columns are read
    // in a tenth of a second otherwise), kept in the columns' order.
    let read = |c: &Column| -> Option<super::reading::Inferred> {
        let integer = c.dtype().is_integer();
        let as_text = c.cast(&DataType::String).ok()?;
        let values: Vec<Option<&str>> = as_text.str().ok()?.iter().collect();
        if let Some(ty) = given.get(c.name().as_str()) {
            return Some(super::reading::forced(c.name().as_str(), &values, ty));
        }
        let is_date = |r: &super::reading::Inferred| {
            matches!(r.reading, super::reading::Reading::Date { .. })
        };
        super::reading::infer(c.name().as_str(), &values)
            .filter(|r| (!integer || is_date(r)) && !(opts.keep_date_text && is_date(r)))
    };
    {
        use rayon::prelude::*;
        let found: Vec<Option<super::reading::Inferred>> =
            head.columns().par_iter().map(read).collect();
        readings.extend(found.into_iter().flatten());
    }
    if readings.is_empty() {
        return Ok((stages, readings));
    }
    let exprs: Vec<Expr> = readings
        .iter()
        // Text columns only (the casts of other columns are made above).
        .filter(|r| {
            schema.get(r.column.as_str()) == Some(&DataType::String)
                || !r.given
                    && schema
                        .get(r.column.as_str())
                        .is_some_and(|t| t.is_integer())
        })
        .map(|r| match (&r.reading, schema.get(r.column.as_str())) {
            (super::reading::Reading::Date { formats, .. }, Some(t)) if t.is_integer() => {
                crate::data::dates::to_date_expr(&r.column, t, formats)
            }
            _ => super::reading::expr(&r.column, &r.reading),
        })
        .collect();
    stages.push(Stage::Columns(exprs));
    Ok((stages, readings))
}

/// The format a `format` setting or a file extension names (`.json` is JSON here; reading
/// looks at the file to tell NDJSON from it). No I/O.
pub fn format_by_name(name: &str) -> Option<Format> {
    match name {
        "csv" | "tsv" | "txt" | "basket" | "baskets" => Some(Format::Csv),
        "parquet" | "pq" => Some(Format::Parquet),
        "ndjson" | "jsonl" => Some(Format::Ndjson),
        "json" => Some(Format::Json),
        "sqlite" | "sqlite3" | "db" => Some(Format::Sqlite),
        _ => None,
    }
}

/// Picks the format from an explicit name or the extension (JSON arrays and NDJSON are told
/// apart by the first non-blank byte).
pub fn detect_format(path: &Path, explicit: Option<&str>) -> Result<Format> {
    let by_name = format_by_name;
    if let Some(f) = explicit {
        return by_name(f).ok_or_else(|| DataError::Malformed {
            path: path.to_path_buf(),
            message: format!(
                "unknown format `{f}`; use csv, tsv, baskets, parquet, json, ndjson or sqlite"
            ),
        });
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match by_name(&ext) {
        Some(Format::Json) => {
            // A `.json` file holding one object per line is NDJSON.
            let head = read_head(path, 4096)?;
            let first = head.iter().find(|b| !b.is_ascii_whitespace());
            Ok(if first == Some(&b'[') {
                Format::Json
            } else {
                Format::Ndjson
            })
        }
        Some(f) => Ok(f),
        // A SQLite database under another name says so in its first 16 bytes.
        None if read_head(path, 16).is_ok_and(|h| h.starts_with(b"SQLite format 3\0")) => {
            Ok(Format::Sqlite)
        }
        None => Err(DataError::Malformed {
            path: path.to_path_buf(),
            message: format!(
                "cannot tell the format from {}; use .csv, .tsv, .parquet, .json, .ndjson or .sqlite, or set `format` in the workspace",
                if ext.is_empty() {
                    "a name without an extension".to_string()
                } else {
                    format!("the extension `.{ext}`")
                }
            ),
        }),
    }
}

pub(crate) fn read_head(path: &Path, n: usize) -> Result<Vec<u8>> {
    let mut f = File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut buf = vec![0u8; n];
    let mut len = 0;
    while len < n {
        let got = f
            .read(&mut buf[len..])
            .map_err(|e| DataError::io(path, e))?;
        if got == 0 {
            break;
        }
        len += got;
    }
    buf.truncate(len);
    Ok(buf)
}

/// Counts `delim` outside double quotes in one line.
fn count_outside_quotes(line: &[u8], delim: u8) -> usize {
    let mut in_quotes = false;
    let mut n = 0;
    for &b in line {
        if b == b'"' {
            in_quotes = !in_quotes;
        } else if b == delim && !in_quotes {
            n += 1;
        }
    }
    n
}

/// Detects the delimiter of a delimited text: the candidate (`,` `;` tab `|`) that appears the
/// same non-zero number of times on the header and on the following complete lines.
/// Returns `None` when no candidate is consistent (a one-column file, or a broken one).
pub fn sniff_delimiter(head: &[u8]) -> Option<u8> {
    let mut lines: Vec<&[u8]> = head.split(|&b| b == b'\n').collect();
    if lines.len() > 1 {
        lines.pop(); // the last line may be cut off
    }
    let lines: Vec<&[u8]> = lines
        .into_iter()
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
        .take(50)
        .collect();
    let header = lines.first()?;
    let mut best: Option<(u8, usize)> = None;
    for cand in [b',', b'\t', b';', b'|'] {
        let n = count_outside_quotes(header, cand);
        if n == 0 {
            continue;
        }
        let consistent = lines[1..]
            .iter()
            .filter(|l| count_outside_quotes(l, cand) == n)
            .count();
        let total = lines.len() - 1;
        // Allow a few malformed lines, but most must agree with the header.
        if total == 0 || consistent * 10 >= total * 9 {
            match best {
                Some((_, m)) if m >= n => {}
                _ => best = Some((cand, n)),
            }
        }
    }
    best.map(|(d, _)| d)
}

fn polars_type(name: &str) -> DataType {
    match name {
        "int" => DataType::Int64,
        "float" => DataType::Float64,
        "bool" => DataType::Boolean,
        _ => DataType::String,
    }
}

fn delimiter_name(d: u8) -> String {
    match d {
        b'\t' => "tab".into(),
        _ => format!("'{}'", d as char),
    }
}

/// Opens a file as a lazy frame and reads its schema (which catches a missing file, a wrong
/// delimiter and a broken header early, with the file named).
pub fn scan(path: &Path, opts: &ReadOptions) -> Result<Scanned> {
    if let Some(url) = &opts.url {
        use crate::data::sources::sqlite::Ordered;
        let read = |ordered: Option<Ordered<'_>>| {
            let settings = crate::data::sources::postgres::ReadSettings {
                cancel: opts.cancel.as_ref(),
                ordered,
                ..Default::default()
            };
            crate::data::sources::postgres::read_with(
                url,
                opts.table.as_deref(),
                opts.query.as_deref(),
                &settings,
            )
        };
        let (mut tail, mut watermark_max) = (None, None);
        let (frame, notes) = match &opts.watermark {
            None => read(None)?,
            Some(column) => {
                let notes = std::cell::RefCell::new(Vec::new());
                let w = by_watermark(
                    path,
                    column,
                    opts.watermark_after.as_ref(),
                    |after, limit| {
                        let (df, n) = read(Some(Ordered {
                            column,
                            after,
                            limit,
                        }))?;
                        // Each read says the same of the columns: the first one's notes.
                        if notes.borrow().is_empty() {
                            *notes.borrow_mut() = n;
                        }
                        Ok(df)
                    },
                )?;
                (tail, watermark_max) = (w.tail, w.max);
                (w.head, notes.into_inner())
            }
        };
        let schema = frame.schema().clone();
        for c in opts.schema.keys() {
            require_column(path, &schema, c, "the workspace's `schema` table")?;
        }
        let casts: Vec<Expr> = opts
            .schema
            .iter()
            .map(|(c, t)| col(c.as_str()).strict_cast(polars_type(t)))
            .collect();
        let tail = tail.map(|t: LazyFrame| t.with_columns(casts.clone()));
        let mut frame = frame.lazy().with_columns(casts);
        let schema = frame
            .collect_schema()
            .map_err(|e| malformed_error(path, &e))?;
        let (stages, readings) = read_text_columns(path, &frame, &schema, opts)?;
        let tail = tail.map(|t| replay(t, &stages));
        let mut frame = replay(frame, &stages);
        let mut notes = notes;
        notes.extend(readings.iter().map(|r| r.describe()));
        let schema = frame
            .collect_schema()
            .map_err(|e| malformed_error(path, &e))?;
        return Ok(Scanned {
            tail,
            tail_end: None,
            watermark_max,
            estimated_rows: None,
            path: crate::data::sources::postgres::display_path(url),
            format: Format::Postgres,
            delimiter: None,
            frame,
            schema,
            notes,
            readings,
            head: None,
        });
    }
    if is_pattern(path) {
        return scan_pattern(path, opts);
    }
    precheck::regular_file(path)?;
    crate::data::sources::guard::guarded(path, || scan_file(path, opts))
}

/// A database source read in the order of its watermark column.
struct Watermarked {
    /// Every row, or (with a value to read past) the first rows, for the decisions made on
    /// a source's first rows.
    head: DataFrame,
    /// The rows past the value, typed as the first rows are (a query's columns are typed by
    /// their values).
    tail: Option<LazyFrame>,
    /// The largest value among the rows read.
    max: Option<crate::data::sources::sqlite::Watermark>,
}

/// Reads a database source by its watermark `column`: `read(after, limit)` gives its rows in
/// that column's order, past `after`, at most `limit` of them.
fn by_watermark(
    path: &Path,
    column: &str,
    after: Option<&crate::data::sources::sqlite::Watermark>,
    read: impl Fn(Option<&crate::data::sources::sqlite::Watermark>, Option<usize>) -> Result<DataFrame>,
) -> Result<Watermarked> {
    use crate::data::sources::sqlite::Watermark;
    let w = match after {
        Some(after) => {
            let new = read(Some(after), None)?;
            let max = Watermark::max_of(&new, column);
            let head = read(None, Some(INFER_ROWS))?;
            let casts: Vec<Expr> = head
                .columns()
                .iter()
                .filter(|c| new.schema().contains(c.name()))
                .map(|c| col(c.name().clone()).cast(c.dtype().clone()))
                .collect();
            Watermarked {
                head,
                tail: Some(new.lazy().with_columns(casts)),
                max,
            }
        }
        None => {
            let all = read(None, None)?;
            Watermarked {
                max: Watermark::max_of(&all, column),
                head: all,
                tail: None,
            }
        }
    };
    require_column(path, w.head.schema(), column, "`watermark`")?;
    Ok(w)
}

/// Whether `path` names files by a pattern (`orders/*.csv`, `logs/2026-??.ndjson`): it
/// holds `*`, `?` or `[` and no file has that very name.
pub fn is_pattern(path: &Path) -> bool {
    path.to_string_lossy().contains(['*', '?', '[']) && !path.exists()
}

/// The files a pattern matches, in name order (files only); an error naming the pattern
/// when none does.
pub fn matching(pattern: &Path) -> Result<Vec<PathBuf>> {
    let text = pattern.to_str().ok_or_else(|| {
        DataError::Invalid(format!(
            "{}: the pattern is not valid UTF-8; rename the folder or list the files",
            pattern.display()
        ))
    })?;
    let found = glob::glob(text).map_err(|e| {
        DataError::Invalid(format!(
            "{}: not a file pattern ({e}); use * (any characters), ? (one) or [abc] (one of)",
            pattern.display()
        ))
    })?;
    let mut files: Vec<PathBuf> = found
        .filter_map(|p| p.ok())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(DataError::Invalid(format!(
            "{}: no file matches the pattern; check the folder and the name (* any characters, ? one, [abc] one of)",
            pattern.display()
        )));
    }
    Ok(files)
}

/// Whether the file, or some file of the pattern, is there.
pub fn source_exists(path: &Path) -> bool {
    path.exists() || (is_pattern(path) && matching(path).is_ok())
}

/// Every file a pattern matches, each read as [`scan`] reads one file, as one source.
fn scan_pattern(pattern: &Path, opts: &ReadOptions) -> Result<Scanned> {
    if opts.tail_from.is_some() || opts.watermark.is_some() {
        return Err(DataError::Invalid(format!(
            "{}: a pattern of files is read from an offset file by file, not as one",
            pattern.display()
        )));
    }
    let scans = matching(pattern)?
        .iter()
        .map(|f| {
            precheck::regular_file(f)?;
            crate::data::sources::guard::guarded(f, || scan_file(f, opts))
        })
        .collect::<Result<Vec<_>>>()?;
    combine(pattern, scans)
}

/// Several files read as one source (`pattern` names it): their rows one after the other,
/// in the order given, the columns of all of them (a column a file lacks is missing in its
/// rows; types widened to hold every file's values, as `concat` with supertypes does). The
/// tails, when every file has one, are put together the same way and cast to the whole
/// source's types, so that rows read from an offset are read as the whole source reads them.
pub fn combine(pattern: &Path, scans: Vec<Scanned>) -> Result<Scanned> {
    let fail = |e: PolarsError| malformed_error(pattern, &e);
    let Some(first) = scans.first() else {
        return Err(DataError::Invalid(format!(
            "{}: no file to read",
            pattern.display()
        )));
    };
    let (format, delimiter) = (first.format, first.delimiter);
    // The columns of all files, in the order they first appear, with a type for each.
    let mut columns: Vec<(PlSmallStr, DataType)> = Vec::new();
    for s in &scans {
        for (name, dtype) in s.schema.iter() {
            if !columns.iter().any(|(n, _)| n == name) {
                columns.push((name.clone(), dtype.clone()));
            }
        }
    }
    let aligned = |frame: LazyFrame, schema: &Schema, to: Option<&Schema>| -> LazyFrame {
        frame.select(
            columns
                .iter()
                .map(|(name, dtype)| {
                    let e = if schema.contains(name) {
                        col(name.clone())
                    } else {
                        lit(NULL).cast(dtype.clone()).alias(name.clone())
                    };
                    match to.and_then(|t| t.get(name)) {
                        Some(t) => e.cast(t.clone()),
                        None => e,
                    }
                })
                .collect::<Vec<_>>(),
        )
    };
    let union = UnionArgs {
        to_supertypes: true,
        rechunk: false,
        ..Default::default()
    };
    let frames: Vec<LazyFrame> = scans
        .iter()
        .map(|s| aligned(s.frame.clone(), &s.schema, None))
        .collect();
    let mut frame = concat(frames, union).map_err(fail)?;
    let schema = frame.collect_schema().map_err(fail)?;
    let tail = if scans.iter().all(|s| s.tail.is_some()) {
        let tails: Vec<LazyFrame> = scans
            .iter()
            .filter_map(|s| Some(aligned(s.tail.clone()?, &s.schema, Some(schema.as_ref()))))
            .collect();
        Some(concat(tails, union).map_err(fail)?)
    } else {
        None
    };
    let mut notes = Vec::new();
    let mut readings = Vec::new();
    let mut estimated = Some(0usize);
    for s in &scans {
        let name = s.path.file_name().map_or_else(
            || s.path.display().to_string(),
            |n| n.to_string_lossy().into(),
        );
        notes.extend(s.notes.iter().map(|n| format!("{name}: {n}")));
        for r in &s.readings {
            if !readings
                .iter()
                .any(|x: &super::reading::Inferred| x.column == r.column)
            {
                readings.push(r.clone());
            }
        }
        estimated = estimated.zip(s.estimated_rows).map(|(a, b)| a + b);
    }
    Ok(Scanned {
        path: pattern.to_path_buf(),
        estimated_rows: estimated,
        format,
        delimiter,
        frame,
        schema,
        notes,
        readings,
        tail,
        tail_end: None,
        watermark_max: None,
        head: None,
    })
}

/// [`scan`] of a file on this machine (checked to be a regular file).
fn scan_file(path: &Path, opts: &ReadOptions) -> Result<Scanned> {
    let format = detect_format(path, opts.format.as_deref())?;
    let mut notes = Vec::new();
    let pl_path = match (opts.unmapped, std::fs::canonicalize(path)) {
        // A file:// URI takes polars' async reader, which reads the file in ranges instead
        // of memory-mapping it: the file's pages are not held while the scan runs. Only for
        // paths a URI carries unchanged (a `%`, `#` or space would need escaping).
        (true, Ok(abs))
            if abs.to_str().is_some_and(|p| {
                p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/._-+,=@~".contains(&b))
            }) =>
        {
            PlRefPath::new(format!("file://{}", abs.to_string_lossy()))
        }
        _ => PlRefPath::new(path.to_string_lossy().to_string()),
    };
    // `text` is given to the reader (so `00123` keeps its zeros); the other types are read
    // from the text as a person reads it (see `read_text_columns`), as `--schema` is.
    let overrides: Schema = opts
        .schema
        .iter()
        .filter(|(_, t)| t.as_str() == "text")
        .map(|(c, t)| Field::new(c.as_str().into(), polars_type(t)))
        .collect();
    let mut delimiter = None;
    let mut tail = None;
    let mut tail_end = None;
    let mut watermark_max = None;
    if opts.watermark.is_some() && format != Format::Sqlite {
        return Err(DataError::Invalid(format!(
            "{}: `watermark` is for SQLite sources (a {} file is read whole)",
            path.display(),
            format.name()
        )));
    }
    if opts.tail_from.is_some() && !matches!(format, Format::Csv | Format::Ndjson) {
        return Err(DataError::Invalid(format!(
            "{}: only the rows appended to a CSV or NDJSON file can be read on their own",
            path.display()
        )));
    }
    let mut head = None;
    let frame = match format {
        Format::Csv => {
            let csv = csv_frame(path, pl_path, opts, &overrides)?;
            head = csv.head;
            delimiter = Some(csv.delimiter);
            notes.extend(csv.note);
            tail = csv.tail;
            tail_end = csv.tail_end;
            csv.frame
        }
        Format::Parquet => {
            let args = ScanArgsParquet {
                glob: false,
                ..Default::default()
            };
            LazyFrame::scan_parquet(pl_path, args).map_err(|e| malformed_error(path, &e))?
        }
        Format::Ndjson | Format::Json => {
            let json = json_frame(path, pl_path, format, opts.tail_from)?;
            head = json.head;
            notes.extend(json.note);
            tail = json.tail;
            tail_end = json.tail_end;
            json.frame
        }
        Format::Sqlite => {
            use crate::data::sources::sqlite::{Ordered, read_rows};
            let (table, query) = (opts.table.as_deref(), opts.query.as_deref());
            match &opts.watermark {
                None => read_rows(path, table, query, None)?.lazy(),
                Some(column) => {
                    let w = by_watermark(
                        path,
                        column,
                        opts.watermark_after.as_ref(),
                        |after, limit| {
                            read_rows(
                                path,
                                table,
                                query,
                                Some(Ordered {
                                    column,
                                    after,
                                    limit,
                                }),
                            )
                        },
                    )?;
                    (tail, watermark_max) = (w.tail, w.max);
                    w.head.lazy()
                }
            }
        }
        Format::Postgres => {
            return Err(DataError::Malformed {
                path: path.to_path_buf(),
                message: "a PostgreSQL source needs its `url` (postgres://user@host/db)".into(),
            });
        }
        Format::SparkTable => {
            return Err(DataError::Malformed {
                path: path.to_path_buf(),
                message:
                    "a Spark catalog table is read by the Spark engine ([engine] kind = \"spark\")"
                        .into(),
            });
        }
    };
    let mut frame = frame;
    let mut stages: Vec<Stage> = Vec::new();
    let mut schema = frame
        .collect_schema()
        .map_err(|e| malformed_error(path, &e))?;
    // Integers beyond 64 bits (JSON ids, counters) are read as 128-bit; nothing downstream
    // takes those, so they become floats, with a note.
    let wide: Vec<PlSmallStr> = schema
        .iter()
        .filter(|(_, t)| matches!(t, DataType::Int128 | DataType::UInt128))
        .map(|(n, _)| n.clone())
        .collect();
    // Decimals (database exports in Parquet) are read as floats, which every step takes.
    let decimals: Vec<PlSmallStr> = schema
        .iter()
        .filter(|(_, t)| matches!(t, DataType::Decimal(..)))
        .map(|(n, _)| n.clone())
        .collect();
    if !decimals.is_empty() {
        let casts: Vec<Expr> = decimals
            .iter()
            .map(|n| col(n.clone()).cast(DataType::Float64))
            .collect();
        frame = frame.with_columns(casts.clone());
        stages.push(Stage::Columns(casts));
    }
    if !wide.is_empty() {
        let names = wide
            .iter()
            .map(|n| n.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let which = if wide.len() == 1 {
            format!("column {names} holds")
        } else {
            format!("columns {names} hold")
        };
        notes.push(format!(
            "{which} integers outside the 64-bit range; read as floats (about 16 significant digits)"
        ));
        let casts: Vec<Expr> = wide
            .iter()
            .map(|n| col(n.clone()).cast(DataType::Float64))
            .collect();
        frame = frame.with_columns(casts.clone());
        stages.push(Stage::Columns(casts));
    }
    if !wide.is_empty() || !decimals.is_empty() {
        schema = frame
            .collect_schema()
            .map_err(|e| malformed_error(path, &e))?;
    }
    // Parquet and JSON carry their own types; overrides become casts.
    let frame = if format != Format::Csv && !overrides.is_empty() {
        let casts: Vec<Expr> = overrides
            .iter_fields()
            .filter(|f| schema.contains(f.name()))
            .map(|f| col(f.name().clone()).strict_cast(f.dtype().clone()))
            .collect();
        stages.push(Stage::Columns(casts.clone()));
        frame.with_columns(casts)
    } else {
        frame
    };
    // Header cells written with spaces around them (` given_name`) are named without them
    // (unless the trimmed name is taken).
    let padded: Vec<(String, String)> = schema
        .iter_names()
        .filter(|n| n.trim() != n.as_str() && !n.trim().is_empty())
        .map(|n| (n.to_string(), n.trim().to_string()))
        .filter(|(_, t)| !schema.contains(t))
        .collect();
    let (frame, schema) = if padded.is_empty() {
        (frame, schema)
    } else {
        notes.push(format!(
            "{} column names had spaces around them, removed (e.g. \"{}\" is `{}`)",
            padded.len(),
            crate::text::escape(&padded[0].0),
            padded[0].1
        ));
        let (old, new): (Vec<String>, Vec<String>) = padded.into_iter().unzip();
        stages.push(Stage::Rename(old.clone(), new.clone()));
        let mut frame = frame.rename(old, new, true);
        let schema = frame
            .collect_schema()
            .map_err(|e| malformed_error(path, &e))?;
        (frame, schema)
    };
    for c in opts.schema.keys() {
        require_column(path, &schema, c, "the workspace's `schema` table")?;
    }
    // The text columns are read from their first rows: those of the mapped reader, with the
    // stages so far.
    let mapped = head.map(|h| replay(h, &stages));
    let (more, readings) =
        read_text_columns(path, mapped.as_ref().unwrap_or(&frame), &schema, opts)?;
    let mut frame = replay(frame, &more);
    let mapped = mapped.map(|h| replay(h, &more));
    stages.extend(more);
    let schema = if readings.is_empty() {
        schema
    } else {
        notes.extend(readings.iter().map(|r| r.describe()));
        frame
            .collect_schema()
            .map_err(|e| malformed_error(path, &e))?
    };
    let estimated_rows = match opts.tail_from {
        Some(from) => estimate_rows(path, format).map(|n| {
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(1).max(1);
            (n as f64 * size.saturating_sub(from) as f64 / size as f64) as usize + 1
        }),
        None => estimate_rows(path, format),
    };
    Ok(Scanned {
        tail: tail.map(|t| replay(t, &stages)),
        tail_end,
        watermark_max,
        estimated_rows,
        path: path.to_path_buf(),
        format,
        delimiter,
        frame,
        schema,
        notes,
        readings,
        head: mapped,
    })
}

/// A text source's lazy frame, with its delimiter and what was noted while reading it.
struct TextFrame {
    frame: LazyFrame,
    delimiter: u8,
    note: Option<String>,
    /// The rows from [`ReadOptions::tail_from`] on, before the stages after the reader, and
    /// the offset after them.
    tail: Option<LazyFrame>,
    tail_end: Option<u64>,
    /// The same reading of the file memory-mapped, for its first rows, when `frame` reads it
    /// in ranges (see [`ReadOptions::unmapped`]): a range reader fetches tens of megabytes
    /// ahead for a few thousand rows (180 ms against 30 ms for the first 10,000 lines of a
    /// 900 MB file), while a mapping touches only the pages those rows are on.
    head: Option<LazyFrame>,
}

/// The whole lines of `path` from `from` on (a line still being written is left for a
/// later read), and the offset after them.
fn bytes_from(path: &Path, from: u64) -> Result<(Vec<u8>, u64)> {
    use std::io::{Read as _, Seek as _};
    let mut f = File::open(path).map_err(|e| DataError::io(path, e))?;
    f.seek(std::io::SeekFrom::Start(from))
        .map_err(|e| DataError::io(path, e))?;
    let mut out = Vec::new();
    f.read_to_end(&mut out)
        .map_err(|e| DataError::io(path, e))?;
    let whole = out.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    out.truncate(whole);
    Ok((out, from + whole as u64))
}

fn no_tail(path: &Path, why: &str) -> DataError {
    DataError::Invalid(format!(
        "{}: the appended rows cannot be read on their own: {why}",
        path.display()
    ))
}

/// Rows polars looks at to infer the types of a text source.
const INFER_ROWS: usize = 10_000;

/// The frame of text that needed converting (UTF-16, CR line ends), held in memory.
fn buffer_source(text: Vec<u8>) -> ScanSources {
    let buffers: Vec<_> = vec![text.into()];
    ScanSources::Buffers(buffers.into())
}

/// Errors for a file that is not text at all (compressed, an archive, binary).
fn check_text(path: &Path, head: &[u8]) -> Result<()> {
    let what = if head.starts_with(&[0x1F, 0x8B]) {
        "is gzip-compressed; decompress it first (gunzip)"
    } else if head.starts_with(b"PK\x03\x04") {
        "is a ZIP archive (an Excel .xlsx?); export the sheet as CSV"
    } else if head.starts_with(b"PAR1") {
        "is a Parquet file; give it the .parquet extension or set format = \"parquet\""
    } else if head
        .split(|&b| b == b'\n')
        .next()
        .unwrap_or(&[])
        .contains(&0)
    {
        "has NUL bytes in its first line: it is not UTF-8 text (binary, or an encoding crmlens does not read); save it as UTF-8 CSV"
    } else {
        return Ok(());
    };
    Err(DataError::Malformed {
        path: path.to_path_buf(),
        message: what.into(),
    })
}

/// A CSV/TSV file as a lazy frame, after the checks polars does not make: the encoding and
/// line ends (UTF-16 and CR-only files are converted), a header quote never closed, and rows
/// with too few or too many fields.
fn csv_frame(
    path: &Path,
    pl_path: PlRefPath,
    opts: &ReadOptions,
    overrides: &Schema,
) -> Result<TextFrame> {
    let raw_head = read_head(path, 64 * 1024)?;
    if raw_head.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(DataError::Malformed {
            path: path.to_path_buf(),
            message: "is empty; expected a header line and rows".into(),
        });
    }
    let encoding = precheck::detect_encoding(&raw_head);
    let utf16 = matches!(encoding, Encoding::Utf16Le | Encoding::Utf16Be);
    let (converted, note) = if utf16 {
        let note = format!("read as {} and converted to UTF-8", encoding.name());
        (Some(precheck::converted_text(path, encoding)?), Some(note))
    } else if precheck::has_lone_cr(&raw_head) {
        let note = "has CR line ends (old Mac style); each CR was read as a line end".to_string();
        (Some(precheck::converted_text(path, encoding)?), Some(note))
    } else {
        (None, None)
    };
    let head: &[u8] = match &converted {
        Some(t) => &t[..t.len().min(64 * 1024)],
        None => raw_head
            .strip_prefix(&[0xEF, 0xBB, 0xBF][..])
            .unwrap_or(&raw_head),
    };
    check_text(path, head)?;
    let sniffed = sniff_delimiter(head);
    let ext_tab = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"))
        || opts.format.as_deref() == Some("tsv");
    let d = match &opts.delimiter {
        Some(given) => {
            let d = parse_delimiter(given).ok_or_else(|| DataError::Malformed {
                path: path.to_path_buf(),
                message: format!(
                    "delimiter `{given}` {}",
                    crate::data::sources::workspace::DELIMITER_RULE
                ),
            })?;
            let header = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
            if count_outside_quotes(header, d) == 0
                && let Some(s) = sniffed
            {
                return Err(DataError::Malformed {
                    path: path.to_path_buf(),
                    message: format!(
                        "delimiter {} was given but the header has none; the file looks {}-delimited: fix `delimiter` (or leave it out to detect it)",
                        delimiter_name(d),
                        delimiter_name(s)
                    ),
                });
            }
            d
        }
        None => sniffed.unwrap_or(if ext_tab { b'\t' } else { b',' }),
    };
    precheck::check_header_quotes(path, head, d)?;
    // One basket per line (no header, as many fields as items): read into `basket`/`item`.
    let named_baskets = opts.format.as_deref() == Some(super::baskets::FORMAT)
        || path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("basket") || e.eq_ignore_ascii_case("baskets"));
    let baskets_by = if named_baskets {
        Some(d)
    } else if opts.format.is_none() && opts.delimiter.is_none() && sniffed.is_none() {
        [b',', b'\t', b';', b'|']
            .into_iter()
            .find(|&c| super::baskets::looks_like_baskets(head, c))
    } else if opts.format.is_none() && super::baskets::looks_like_baskets(head, d) {
        Some(d)
    } else {
        None
    };
    if opts.tail_from.is_some() && (converted.is_some() || baskets_by.is_some()) {
        return Err(no_tail(
            path,
            "the file is converted (UTF-16 or CR line ends) or read as baskets",
        ));
    }
    if let Some(d) = baskets_by {
        let bytes = match converted {
            Some(text) => text,
            None => std::fs::read(path).map_err(|e| DataError::io(path, e))?,
        };
        let (frame, summary) = super::baskets::read(path, &bytes, d)?;
        let note = match note {
            Some(n) => format!("{n}; {}", summary.describe()),
            None => summary.describe(),
        };
        return Ok(TextFrame {
            frame: frame.lazy(),
            delimiter: d,
            note: Some(note),
            tail: None,
            tail_end: None,
            head: None,
        });
    }
    // The header line, as the tail's reader is given it.
    let header: Vec<u8> = match head.iter().position(|&b| b == b'\n') {
        Some(end) => head[..=end].to_vec(),
        None => [head, b"\n"].concat(),
    };
    let mut tail_end = None;
    let tail_bytes = match opts.tail_from {
        Some(from) => {
            let (bytes, end) = bytes_from(path, from)?;
            tail_end = Some(end);
            let text = [&header[..], &bytes[..]].concat();
            precheck::check_field_counts(path, &text[..], d)?;
            Some(text)
        }
        None => None,
    };
    match (&converted, &tail_bytes) {
        (_, Some(_)) => {}
        (Some(text), None) => precheck::check_field_counts(path, &text[..], d)?,
        (None, None) => {
            let file = File::open(path).map_err(|e| DataError::io(path, e))?;
            precheck::check_field_counts(path, file, d)?
        }
    }
    let read = |reader: LazyCsvReader| {
        reader
            .with_glob(false)
            .with_separator(d)
            .with_has_header(true)
            .with_infer_schema_length(Some(INFER_ROWS))
            .with_try_parse_dates(opts.try_parse_dates)
            .with_dtype_overwrite(if overrides.is_empty() {
                None
            } else {
                Some(Arc::new(overrides.clone()))
            })
            .finish()
            .map_err(|e| malformed_error(path, &e))
    };
    let (frame, head) = match converted {
        Some(text) => (
            read(LazyCsvReader::new_with_sources(buffer_source(text)))?,
            None,
        ),
        None => (
            read(LazyCsvReader::new(pl_path.clone()))?,
            mapped(path, &pl_path)
                .map(|p| read(LazyCsvReader::new(p)))
                .transpose()?,
        ),
    };
    let tail = match tail_bytes {
        Some(bytes) => {
            let mut full = frame.clone();
            let schema = full
                .collect_schema()
                .map_err(|e| malformed_error(path, &e))?;
            Some(
                LazyCsvReader::new_with_sources(buffer_source(bytes))
                    .with_separator(d)
                    .with_has_header(true)
                    .with_schema(Some(schema))
                    .finish()
                    .map_err(|e| malformed_error(path, &e))?,
            )
        }
        None => None,
    };
    Ok(TextFrame {
        frame,
        delimiter: d,
        note,
        tail,
        tail_end,
        head,
    })
}

/// A JSON array or NDJSON file as a lazy frame, after a pass that refuses nesting too deep
/// for polars (whose nested types recurse per level). UTF-16 files are converted.
fn json_frame(
    path: &Path,
    pl_path: PlRefPath,
    format: Format,
    tail_from: Option<u64>,
) -> Result<TextFrame> {
    let head = read_head(path, 64 * 1024)?;
    let encoding = precheck::detect_encoding(&head);
    let converted = match encoding {
        Encoding::Utf16Le | Encoding::Utf16Be => Some(precheck::converted_text(path, encoding)?),
        _ => None,
    };
    if head.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(DataError::Malformed {
            path: path.to_path_buf(),
            message: "is empty; expected JSON records".into(),
        });
    }
    let lines = format == Format::Ndjson;
    if tail_from.is_some() && (converted.is_some() || !lines) {
        return Err(no_tail(path, "only NDJSON in UTF-8 is read from an offset"));
    }
    let mut tail_end = None;
    let tail_bytes = match tail_from {
        Some(from) => {
            let (bytes, end) = bytes_from(path, from)?;
            tail_end = Some(end);
            precheck::check_json_depth(path, &bytes[..], lines)?;
            Some(bytes)
        }
        None => None,
    };
    // The whole file: a deep line after the rows types are inferred from still overflows.
    match (&converted, &tail_bytes) {
        (_, Some(_)) => {}
        (Some(text), None) => precheck::check_json_depth(path, &text[..], lines)?,
        (None, None) => {
            let file = File::open(path).map_err(|e| DataError::io(path, e))?;
            precheck::check_json_depth(path, file, lines)?
        }
    }
    let note = converted
        .is_some()
        .then(|| format!("read as {} and converted to UTF-8", encoding.name()));
    let malformed = |e: PolarsError| malformed_error(path, &e);
    let mut head = None;
    let frame = if lines {
        let read = |reader: LazyJsonLineReader| {
            reader
                .with_infer_schema_length(std::num::NonZeroUsize::new(INFER_ROWS))
                .finish()
                .map_err(malformed)
        };
        match converted {
            Some(text) => read(LazyJsonLineReader::new_with_sources(buffer_source(text)))?,
            None => {
                head = mapped(path, &pl_path)
                    .map(|p| read(LazyJsonLineReader::new(p)))
                    .transpose()?;
                read(LazyJsonLineReader::new(pl_path))?
            }
        }
    } else {
        let bytes = match converted {
            Some(text) => text,
            None => std::fs::read(path).map_err(|e| DataError::io(path, e))?,
        };
        JsonReader::new(std::io::Cursor::new(bytes))
            .with_json_format(JsonFormat::Json)
            .finish()
            .map_err(malformed)?
            .lazy()
    };
    let tail = match tail_bytes {
        Some(bytes) => {
            let mut full = frame.clone();
            let schema = full.collect_schema().map_err(malformed)?;
            Some(
                LazyJsonLineReader::new_with_sources(buffer_source(bytes))
                    .with_schema(Some(schema))
                    .finish()
                    .map_err(malformed)?,
            )
        }
        None => None,
    };
    Ok(TextFrame {
        frame,
        delimiter: 0,
        note,
        tail,
        tail_end,
        head,
    })
}

/// The plain path of a file `pl_path` reads in ranges (a `file://` URI), for a memory-mapped
/// reader of its first rows; `None` when `pl_path` maps it already.
fn mapped(path: &Path, pl_path: &PlRefPath) -> Option<PlRefPath> {
    pl_path
        .as_str()
        .starts_with("file://")
        .then(|| PlRefPath::new(path.to_string_lossy().to_string()))
}

/// About how many rows a text file (CSV, NDJSON) has, from its size and the average line
/// length of its first 64 KiB; a Parquet file's row count from its footer; `None` for other
/// formats or when it cannot tell.
pub fn estimate_rows(path: &Path, format: Format) -> Option<usize> {
    if format == Format::Parquet {
        // Exact, from the file's footer.
        let file = std::fs::File::open(path).ok()?;
        return ParquetReader::new(file).num_rows().ok();
    }
    if !matches!(format, Format::Csv | Format::Ndjson) {
        return None;
    }
    let size = std::fs::metadata(path).ok()?.len() as usize;
    let head = read_head(path, 64 * 1024).ok()?;
    let lines = head.iter().filter(|&&b| b == b'\n').count();
    if lines == 0 {
        return None;
    }
    Some(size / (head.len() / lines).max(1))
}

/// Reads a whole file into memory (for small files and profiling).
pub fn read_frame(path: &Path, opts: &ReadOptions) -> Result<DataFrame> {
    let s = scan(path, opts)?;
    collect_source(&s.path, s.frame)
}

/// The tables of a database source (SQLite file or PostgreSQL URL), or None for a file
/// source. Sources with a `table` or `query` are not asked.
pub fn database_tables(path: &Path, opts: &ReadOptions) -> Result<Option<Vec<String>>> {
    if opts.table.is_some() || opts.query.is_some() {
        return Ok(None);
    }
    if let Some(url) = &opts.url {
        return crate::data::sources::postgres::tables(url).map(Some);
    }
    match detect_format(path, opts.format.as_deref())? {
        Format::Sqlite => crate::data::sources::sqlite::tables(path).map(Some),
        _ => Ok(None),
    }
}

/// The table to read from a database whose tables are `names` when none is named: the only
/// one, or `customers`; None when the choice is the user's.
pub fn default_table(names: &[String]) -> Option<&str> {
    match names {
        [one] => Some(one),
        _ => names.iter().find(|n| *n == "customers").map(|s| s.as_str()),
    }
}

/// Collects a plan that reads `path`, mapping a polars failure (a malformed row, a value of the
/// wrong type) to a message naming the file.
pub fn collect_source(path: &Path, lf: LazyFrame) -> Result<DataFrame> {
    crate::data::sources::guard::guarded(path, || {
        lf.collect().map_err(|e| malformed_error(path, &e))
    })
}

/// A read failure of `path` as one message; for CSV and NDJSON files it names the first
/// line that does not fit (polars' own message does not say where).
pub fn malformed_error(path: &Path, e: &PolarsError) -> DataError {
    let mut message = polars_message(e);
    let format = detect_format(path, None).ok();
    let located = match format {
        Some(Format::Csv) => first_ragged_line(path),
        Some(Format::Ndjson) => first_bad_json_line(path),
        _ => None,
    };
    if let Some(place) = located {
        message = if message.starts_with("is not valid JSON") {
            // The line's own parse error says more than the byte offset polars gives.
            format!("{place}; expected one JSON record per line (NDJSON)")
        } else {
            format!("{place}: {message}")
        };
    }
    DataError::Malformed {
        path: path.to_path_buf(),
        message,
    }
}

/// "line N has X fields, the header has Y" for the first such line of a delimited file.
fn first_ragged_line(path: &Path) -> Option<String> {
    let head = read_head(path, 64 * 1024).ok()?;
    let delim = sniff_delimiter(&head).unwrap_or(b',');
    let file = File::open(path).ok()?;
    match precheck::check_field_counts(path, file, delim) {
        Err(DataError::Malformed { message, .. }) => {
            Some(message.split(';').next().unwrap_or("").to_string())
        }
        _ => None,
    }
}

/// An error path reads lines of at most this many bytes (a file of one endless line, such as
/// a link to /dev/zero, must not fill the memory).
const MAX_ERROR_LINE: u64 = 16 << 20;

/// "line N is not valid JSON" for the first such line of an NDJSON file.
fn first_bad_json_line(path: &Path) -> Option<String> {
    use std::io::BufRead;
    let file = File::open(path).ok()?;
    let mut reader = std::io::BufReader::new(file);
    let mut line = Vec::new();
    for i in 1.. {
        line.clear();
        let n = (&mut reader)
            .take(MAX_ERROR_LINE)
            .read_until(b'\n', &mut line)
            .ok()?;
        if n == 0 {
            return None;
        }
        if n as u64 == MAX_ERROR_LINE && line.last() != Some(&b'\n') {
            return Some(format!(
                "line {i} is longer than {} MiB",
                MAX_ERROR_LINE >> 20
            ));
        }
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        if let Err(e) = serde_json::from_slice::<serde_json::Value>(&line) {
            return Some(format!("line {i} is not valid JSON ({e})"));
        }
    }
    None
}

/// Errors unless `schema` has `column`; the message lists the columns the file does have.
pub fn require_column(path: &Path, schema: &Schema, column: &str, hint: &str) -> Result<()> {
    if schema.contains(column) {
        return Ok(());
    }
    let mut names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    let more = names.len().saturating_sub(15);
    names.truncate(15);
    let mut available = names.join(", ");
    if more > 0 {
        available.push_str(&format!(" and {more} more"));
    }
    Err(DataError::UnknownColumn {
        path: path.to_path_buf(),
        column: column.to_string(),
        available,
        hint: hint.to_string(),
    })
}

/// simd-json's "Syntax at character 8 (',')" or "InternalError(TapeError) at character 0" as
/// a sentence: what is wrong, at which byte, and what the reader expects.
fn json_syntax_message(first: &str) -> Option<String> {
    let (kind, rest) = first.split_once(" at character ")?;
    let at: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    if at.is_empty() {
        return None;
    }
    let what = match kind.trim() {
        "Syntax" => "a syntax error".to_string(),
        k if k.contains("Eof") || k.contains("EOF") => "it ends too early".to_string(),
        k if k.starts_with("InternalError") => {
            "its structure is not a table of records".to_string()
        }
        k => k.to_string(),
    };
    Some(format!(
        "is not valid JSON: {what} at byte {at}; expected one array of records ([{{...}}, ...]) or one record per line (NDJSON)"
    ))
}

/// A polars error as one line with advice where we can give it.
pub fn polars_message(e: &PolarsError) -> String {
    // Polars quotes the values it could not read; personal data among them is masked, as
    // on screen (error lines end up in logs and cron mail).
    let raw = crate::data::privacy::redact(&e.to_string());
    let first = raw.lines().next().unwrap_or("").trim().to_string();
    if let Some(json) = json_syntax_message(&first) {
        return json;
    }
    let mut msg = first;
    let lower = raw.to_ascii_lowercase();
    if lower.contains("could not parse")
        || lower.contains("cannot parse")
        || lower.contains("conversion from")
    {
        msg.push_str("; set the column's type in the workspace (`schema`) or fix the value");
    } else if lower.contains("more fields") || lower.contains("fields than") {
        msg.push_str("; a row has more fields than the header: check the delimiter and quoting");
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn sniffs_common_delimiters() {
        assert_eq!(sniff_delimiter(b"a,b,c\n1,2,3\n4,5,6\n"), Some(b','));
        assert_eq!(sniff_delimiter(b"a;b;c\n1;2,5;3\n4;5;6\n"), Some(b';'));
        assert_eq!(sniff_delimiter(b"a\tb\n1\t2\n"), Some(b'\t'));
        assert_eq!(sniff_delimiter(b"a|b\n1|2\n"), Some(b'|'));
        // Commas inside quotes do not count.
        assert_eq!(
            sniff_delimiter(b"name;city\n\"Doe, J\";Leeds\n\"Roe, K\";York\n"),
            Some(b';')
        );
        assert_eq!(sniff_delimiter(b"justone\nx\ny\n"), None);
    }

    #[test]
    fn reads_csv_with_detected_semicolon_and_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "c.csv", "id;income\nA;10\nB;\nC;2.5\n");
        let opts = ReadOptions {
            schema: [("income".to_string(), "float".to_string())].into(),
            ..Default::default()
        };
        let df = read_frame(&p, &opts).unwrap();
        assert_eq!(df.shape(), (3, 2));
        let inc = df.column("income").unwrap().f64().unwrap();
        assert_eq!(inc.get(0), Some(10.0));
        assert_eq!(inc.get(1), None);
        assert_eq!(inc.get(2), Some(2.5));
    }

    #[test]
    fn wrong_delimiter_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "c.csv", "id,income\nA,10\n");
        let opts = ReadOptions {
            delimiter: Some(";".into()),
            ..Default::default()
        };
        let msg = scan(&p, &opts).err().unwrap().to_string();
        assert!(msg.contains("c.csv") && msg.contains("','"), "{msg}");
    }

    #[test]
    fn json_array_and_ndjson() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(
            dir.path(),
            "a.json",
            "[{\"id\":\"A\",\"n\":1},{\"id\":\"B\",\"n\":2}]",
        );
        let b = write(
            dir.path(),
            "b.json",
            "{\"id\":\"A\",\"n\":1}\n{\"id\":\"B\",\"n\":null}\n",
        );
        assert_eq!(detect_format(&a, None).unwrap(), Format::Json);
        assert_eq!(detect_format(&b, None).unwrap(), Format::Ndjson);
        assert_eq!(read_frame(&a, &ReadOptions::default()).unwrap().height(), 2);
        let df = read_frame(&b, &ReadOptions::default()).unwrap();
        assert_eq!(df.column("n").unwrap().null_count(), 1);
    }

    #[test]
    fn malformed_rows_are_located() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "r.csv", "a,b\n1,2\n\"x,y\",3\n4,5,6\n");
        let msg = read_frame(&p, &ReadOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            msg.contains("line 4 has 3 fields, the header has 2"),
            "{msg}"
        );
        let p = write(dir.path(), "r.ndjson", "{\"a\":1}\n\n{\"a\":2}\n{oops\n");
        let msg = read_frame(&p, &ReadOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(msg.contains("line 4 is not valid JSON"), "{msg}");
    }

    #[test]
    fn missing_file_and_unknown_extension() {
        let msg = scan(Path::new("/nonexistent/x.csv"), &ReadOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(msg.contains("/nonexistent/x.csv") && msg.contains("not found"));
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "x.xlsx", "junk");
        let msg = scan(&p, &ReadOptions::default()).err().unwrap().to_string();
        assert!(msg.contains(".xlsx"), "{msg}");
    }

    #[test]
    fn unknown_column_lists_available() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "c.csv", "id,income\nA,10\n");
        let s = scan(&p, &ReadOptions::default()).unwrap();
        let msg = require_column(&p, &s.schema, "customer_id", "[workspace] customer_key")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("customer_id") && msg.contains("id, income"),
            "{msg}"
        );
    }
}
