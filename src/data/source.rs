//! Data sources: CSV/TSV (delimiter detected or given), Parquet, JSON arrays and NDJSON, read
//! through polars as lazy frames so big files stream. Also the checks that turn a wrong path,
//! a wrong delimiter or an unknown column into one clear message.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::error::{DataError, Result};
use super::workspace::parse_delimiter;

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
}

/// The format a `format` setting or a file extension names (`.json` is JSON here; reading
/// looks at the file to tell NDJSON from it). No I/O.
pub fn format_by_name(name: &str) -> Option<Format> {
    match name {
        "csv" | "tsv" | "txt" => Some(Format::Csv),
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
            message: format!("unknown format `{f}`; use csv, tsv, parquet, json, ndjson or sqlite"),
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
                "cannot tell the format from the extension `.{ext}`; use .csv, .tsv, .parquet, .json, .ndjson or .sqlite, or set `format` in the workspace"
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
        let settings = super::postgres::ReadSettings {
            cancel: opts.cancel.as_ref(),
            ..Default::default()
        };
        let (frame, notes) = super::postgres::read_with(
            url,
            opts.table.as_deref(),
            opts.query.as_deref(),
            &settings,
        )?;
        let schema = frame.schema().clone();
        for c in opts.schema.keys() {
            require_column(path, &schema, c, "the workspace's `schema` table")?;
        }
        let casts: Vec<Expr> = opts
            .schema
            .iter()
            .map(|(c, t)| col(c.as_str()).strict_cast(polars_type(t)))
            .collect();
        let mut frame = frame.lazy().with_columns(casts);
        let schema = frame
            .collect_schema()
            .map_err(|e| malformed_error(path, &e))?;
        return Ok(Scanned {
            estimated_rows: None,
            path: super::postgres::display_path(url),
            format: Format::Postgres,
            delimiter: None,
            frame,
            schema,
            notes,
        });
    }
    if !path.exists() {
        return Err(DataError::NotFound {
            path: path.to_path_buf(),
        });
    }
    if path.is_dir() {
        return Err(DataError::Malformed {
            path: path.to_path_buf(),
            message: "is a folder, not a data file".into(),
        });
    }
    let format = detect_format(path, opts.format.as_deref())?;
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
    let overrides: Schema = opts
        .schema
        .iter()
        .map(|(c, t)| Field::new(c.as_str().into(), polars_type(t)))
        .collect();
    let malformed = |e: PolarsError| malformed_error(path, &e);
    let mut delimiter = None;
    let frame = match format {
        Format::Csv => {
            let head = read_head(path, 64 * 1024)?;
            if head.iter().all(|b| b.is_ascii_whitespace()) {
                return Err(DataError::Malformed {
                    path: path.to_path_buf(),
                    message: "is empty; expected a header line and rows".into(),
                });
            }
            let sniffed = sniff_delimiter(&head);
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
                            super::workspace::DELIMITER_RULE
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
            delimiter = Some(d);
            LazyCsvReader::new(pl_path)
                .with_glob(false)
                .with_separator(d)
                .with_has_header(true)
                .with_infer_schema_length(Some(10_000))
                .with_try_parse_dates(opts.try_parse_dates)
                .with_dtype_overwrite(if overrides.is_empty() {
                    None
                } else {
                    Some(Arc::new(overrides.clone()))
                })
                .finish()
                .map_err(malformed)?
        }
        Format::Parquet => {
            let args = ScanArgsParquet {
                glob: false,
                ..Default::default()
            };
            LazyFrame::scan_parquet(pl_path, args).map_err(malformed)?
        }
        Format::Ndjson => LazyJsonLineReader::new(pl_path)
            .with_infer_schema_length(std::num::NonZeroUsize::new(10_000))
            .finish()
            .map_err(malformed)?,
        Format::Json => {
            let file = File::open(path).map_err(|e| DataError::io(path, e))?;
            JsonReader::new(file)
                .with_json_format(JsonFormat::Json)
                .finish()
                .map_err(malformed)?
                .lazy()
        }
        Format::Sqlite => {
            super::sqlite::read(path, opts.table.as_deref(), opts.query.as_deref())?.lazy()
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
    let schema = frame.collect_schema().map_err(malformed)?;
    // Parquet and JSON carry their own types; overrides become casts.
    let frame = if format != Format::Csv && !overrides.is_empty() {
        let casts: Vec<Expr> = overrides
            .iter_fields()
            .filter(|f| schema.contains(f.name()))
            .map(|f| col(f.name().clone()).strict_cast(f.dtype().clone()))
            .collect();
        frame.with_columns(casts)
    } else {
        frame
    };
    for c in opts.schema.keys() {
        require_column(path, &schema, c, "the workspace's `schema` table")?;
    }
    Ok(Scanned {
        estimated_rows: estimate_rows(path, format),
        path: path.to_path_buf(),
        format,
        delimiter,
        frame,
        schema,
        notes: Vec::new(),
    })
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
        return super::postgres::tables(url).map(Some);
    }
    match detect_format(path, opts.format.as_deref())? {
        Format::Sqlite => super::sqlite::tables(path).map(Some),
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
    lf.collect().map_err(|e| malformed_error(path, &e))
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
        message = format!("{place}: {message}");
    }
    DataError::Malformed {
        path: path.to_path_buf(),
        message,
    }
}

/// "line N has X fields, the header has Y" for the first such line of a delimited file.
fn first_ragged_line(path: &Path) -> Option<String> {
    use std::io::BufRead;
    let head = read_head(path, 64 * 1024).ok()?;
    let delim = sniff_delimiter(&head).unwrap_or(b',');
    let file = File::open(path).ok()?;
    let mut lines = std::io::BufReader::new(file).split(b'\n');
    let header = lines.next()?.ok()?;
    let expected = count_outside_quotes(&header, delim) + 1;
    for (i, line) in lines.enumerate() {
        let line = line.ok()?;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        if line.is_empty() {
            continue;
        }
        let fields = count_outside_quotes(line, delim) + 1;
        if fields != expected {
            return Some(format!(
                "line {} has {fields} fields, the header has {expected}",
                i + 2
            ));
        }
    }
    None
}

/// "line N is not valid JSON" for the first such line of an NDJSON file.
fn first_bad_json_line(path: &Path) -> Option<String> {
    use std::io::BufRead;
    let file = File::open(path).ok()?;
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.ok()?;
        if line.trim().is_empty() {
            continue;
        }
        if let Err(e) = serde_json::from_str::<serde_json::Value>(&line) {
            return Some(format!("line {} is not valid JSON ({e})", i + 1));
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

/// A polars error as one line with advice where we can give it.
pub fn polars_message(e: &PolarsError) -> String {
    // Polars quotes the values it could not read; personal data among them is masked, as
    // on screen (error lines end up in logs and cron mail).
    let raw = super::privacy::redact(&e.to_string());
    let first = raw.lines().next().unwrap_or("").trim().to_string();
    let mut msg = first;
    let lower = raw.to_ascii_lowercase();
    if lower.contains("could not parse") || lower.contains("conversion from") {
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
