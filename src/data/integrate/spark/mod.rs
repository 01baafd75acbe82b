//! The Spark engine (`[engine] kind = "spark"`, cargo feature `spark`): the per-customer
//! aggregation of the activity sources runs on a Spark cluster through Spark Connect, and only
//! the per-customer table comes back (as Arrow record batches, passed to polars as IPC stream
//! bytes). The customers source stays on this machine and is joined there, as with the local
//! engine; see [`crate::data::integrate`].
//!
//! The cleaning rules are the local engine's ([`crate::data::integrate::aggregate`], [`crate::data::integrate::reduce`]) written
//! as one Spark SQL query per source:
//! - the key is cast to text and trimmed, then merged ids (the fuzzy-key step) are mapped
//!   through a small table sent with the query;
//! - exact duplicate rows (over the source's used columns, raw) are grouped away, keeping how
//!   many copies each had, so `__read` and `__distinct` count as the local reducer does;
//! - dates are parsed with the workspace's chrono formats translated to Spark's patterns,
//!   trying them in order; numbers go through `try_cast` (text that is not a number is missing,
//!   as in polars' non-strict cast);
//! - the validity rules, counts, distinct orders and categories, sums, means and first/last
//!   dates are the same expressions, per customer.
//!
//! Sources are paths the cluster can read (`hdfs://`, `s3a://`, `file://`; a relative or plain
//! path is this machine's file, sent as `file://`, which a cluster sees only when it shares
//! the file system, as a local-mode server does) or, with an empty `path` and `table = "..."`,
//! tables of the Spark catalog.
//!
//! Written here rather than with the crate's DataFrame builder: the query is plain SQL text,
//! which can be shown, tested without a server, and run by any Spark version.

// The client's `SparkError` (184 bytes) is the crate's type, returned by its every call; it
// is turned into a one-line `DataError` right where it appears.
#![allow(clippy::result_large_err)]

mod sql;

use sql::*;
pub(crate) use sql::{ident, spark_pattern, text_literal};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use polars::prelude::*;
use spark_connect::SparkSession;

use crate::data::dates::DEFAULT_FORMATS;
use crate::data::error::{DataError, Result};
use crate::data::integrate::aggregate::{
    ActivityInput, AggregationPlan, CustomerAggregator, DISTINCT, KEPT, KEY, READ, Role,
    RoleAggregate, RuleColumn, date_rule, mean_rule, order_features, order_rules, other_features,
    other_outputs, role_col, used_columns,
};
use crate::data::sources::file::{Format, Scanned, format_by_name, read_head, sniff_delimiter};
use crate::data::sources::workspace::{InvalidPolicy, SourceConfig, Workspace};
use crate::progress::Progress;

/// The temporary view of the merged-id table (`old`, `new`).
const KEY_MAP_VIEW: &str = "crmlens_key_map";

/// Aggregates on a Spark cluster through Spark Connect.
pub struct SparkAggregator {
    session: SparkSession,
    remote: String,
}

/// One line of a Spark error: the server's first non-empty line (its error class and
/// message), never the JVM stack.
fn first_line(e: &spark_connect::SparkError) -> String {
    let m = e.message();
    let raw = if m.trim().is_empty() {
        e.to_string()
    } else {
        m
    };
    raw.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no message")
        .to_string()
}

fn spark_error(context: &str, e: &spark_connect::SparkError) -> DataError {
    DataError::Invalid(format!("{context}: Spark says: {}", first_line(e)))
}

/// `host:port` of an `sc://host:port/;params` URL (port 15002 when not given).
fn host_port(remote: &str) -> Option<(String, u16)> {
    let rest = remote.strip_prefix("sc://")?;
    let hostport = rest.split(['/', ';']).next()?;
    match hostport.rsplit_once(':') {
        Some((h, p)) => Some((h.trim_matches(['[', ']']).to_string(), p.parse().ok()?)),
        None if !hostport.is_empty() => Some((hostport.to_string(), 15002)),
        None => None,
    }
}

impl SparkAggregator {
    /// Connects to the Spark Connect server at `remote` (`sc://host:port`). The port is tried
    /// first with a short timeout: the client would otherwise retry for minutes.
    pub fn connect(remote: &str) -> Result<SparkAggregator> {
        use std::net::{TcpStream, ToSocketAddrs};
        let unreachable = |why: String| {
            DataError::Invalid(format!(
                "Spark Connect server {remote}: {why}; check that it is running and reachable ([engine] remote or --spark-remote)"
            ))
        };
        let (host, port) =
            host_port(remote).ok_or_else(|| unreachable("not an sc://host:port address".into()))?;
        let addrs: Vec<_> = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| unreachable(format!("cannot resolve `{host}` ({e})")))?
            .collect();
        let mut last = None;
        let reached = addrs.iter().any(|a| {
            TcpStream::connect_timeout(a, Duration::from_secs(5))
                .map_err(|e| last = Some(e))
                .is_ok()
        });
        if !reached {
            let why = last.map_or("no address".to_string(), |e| e.to_string());
            return Err(unreachable(format!("cannot connect ({why})")));
        }
        let session = SparkSession::builder()
            .remote(remote)
            .get_or_create()
            .map_err(|e| spark_error(&format!("Spark Connect server {remote}"), &e))?;
        // Dates parse and print the same whatever the cluster's time zone.
        session
            .conf()
            .set("spark.sql.session.timeZone", "UTC")
            .map_err(|e| spark_error(&format!("Spark Connect server {remote}"), &e))?;
        Ok(SparkAggregator {
            session,
            remote: remote.to_string(),
        })
    }

    /// Runs `sql` and returns its rows as a polars frame; `what` names it in errors. Progress
    /// (input read, tasks done) goes after `label`; a cancelled job interrupts the query on the server.
    pub(crate) fn collect(
        &self,
        sql: &str,
        what: &str,
        label: &str,
        progress: &Progress,
    ) -> Result<DataFrame> {
        let watcher = progress.clone();
        let label = label.to_string();
        let handler = self.session.register_progress_handler(move |p| {
            let bytes: i64 = p.stages.iter().map(|s| s.input_bytes_read).sum();
            let tasks: i64 = p.stages.iter().map(|s| s.num_tasks).sum();
            let done: i64 = p.stages.iter().map(|s| s.num_completed_tasks).sum();
            watcher.label(&format!(
                "{label} on Spark · {:.1} MB read · {done}/{tasks} tasks",
                bytes as f64 / 1e6
            ));
        });
        let finished = Arc::new(AtomicBool::new(false));
        let canceller = {
            let finished = finished.clone();
            let session = self.session.clone();
            let progress = progress.clone();
            std::thread::spawn(move || {
                while !finished.load(Ordering::Relaxed) {
                    if progress.is_cancelled() {
                        let _ = session.interrupt_all();
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        let batches = self
            .session
            .sql(sql)
            .and_then(|df| df.collect_record_batches());
        finished.store(true, Ordering::Relaxed);
        let _ = canceller.join();
        self.session.remove_progress_handler(handler);
        if progress.is_cancelled() {
            return Err(DataError::Cancelled);
        }
        let batches = batches.map_err(|e| spark_error(what, &e))?;
        to_polars(&batches).map_err(|e| DataError::Invalid(format!("{what}: {e}")))
    }

    /// Sends the merged-id table to the session as a temporary view.
    fn send_key_map(&self, map: &DataFrame) -> Result<()> {
        let text = |c: &str| -> Result<Vec<Option<String>>> {
            let s = map
                .column(c)
                .and_then(|s| s.cast(&DataType::String))
                .map_err(|e| DataError::polars("sending merged ids to Spark", e))?;
            Ok(s.str()
                .map_err(|e| DataError::polars("sending merged ids to Spark", e))?
                .iter()
                .map(|v| v.map(str::to_string))
                .collect())
        };
        self.send_texts(
            KEY_MAP_VIEW,
            &[("old", text("old")?), ("new", text("new")?)],
            "sending merged ids to Spark",
        )
    }

    /// Sends a small table of text columns (of equal length) to the session as the temporary
    /// view `view`.
    pub(crate) fn send_texts(
        &self,
        view: &str,
        columns: &[(&str, Vec<Option<String>>)],
        what: &str,
    ) -> Result<()> {
        use spark_connect::row::{Row, Value};
        use spark_connect::types::{DataType as S, StructField};
        let names: Vec<String> = columns.iter().map(|(n, _)| n.to_string()).collect();
        let n = columns.first().map_or(0, |c| c.1.len());
        let value = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
        let rows: Vec<Row> = (0..n)
            .map(|i| {
                Row::new(
                    names.clone(),
                    columns.iter().map(|(_, c)| value(&c[i])).collect(),
                )
            })
            .collect();
        let field = |name: &str| StructField {
            name: name.into(),
            // Not an empty collation: the crate writes that as "string collate ", which
            // the server cannot parse.
            data_type: S::String {
                collation: "UTF8_BINARY".into(),
            },
            nullable: true,
            metadata: Default::default(),
        };
        let schema = S::Struct {
            fields: names.iter().map(|n| field(n)).collect(),
        };
        self.session
            .create_dataframe(rows, schema)
            .and_then(|df| df.create_or_replace_temp_view(view))
            .map_err(|e| spark_error(what, &e))
    }

    /// Runs a statement whose rows are not wanted (a view's definition); `context` names it in
    /// errors.
    pub(crate) fn execute(&self, sql: &str, context: &str) -> Result<()> {
        self.session
            .sql(sql)
            .and_then(|df| df.collect_record_batches())
            .map(|_| ())
            .map_err(|e| spark_error(context, &e))
    }

    /// The server's address.
    pub fn remote(&self) -> &str {
        &self.remote
    }
}

/// Record batches -> polars, through Arrow IPC stream bytes (polars has its own Arrow).
fn to_polars(
    batches: &[arrow::record_batch::RecordBatch],
) -> std::result::Result<DataFrame, String> {
    let Some(first) = batches.first() else {
        return Ok(DataFrame::empty());
    };
    let mut buf = Vec::new();
    {
        let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut buf, first.schema().as_ref())
            .map_err(|e| e.to_string())?;
        for b in batches {
            w.write(b).map_err(|e| e.to_string())?;
        }
        w.finish().map_err(|e| e.to_string())?;
    }
    IpcStreamReader::new(Cursor::new(buf))
        .finish()
        .map_err(|e| e.to_string())
}

/// A Spark type as the polars type crmlens reasons with (dates, numbers, text).
fn polars_type(t: &spark_connect::types::DataType) -> DataType {
    use spark_connect::types::DataType as S;
    match t {
        S::Boolean => DataType::Boolean,
        S::Byte | S::Short | S::Integer | S::Long => DataType::Int64,
        S::Float | S::Double | S::Decimal { .. } => DataType::Float64,
        S::Date => DataType::Date,
        S::Timestamp | S::TimestampNtz => DataType::Datetime(TimeUnit::Microseconds, None),
        _ => DataType::String,
    }
}

/// The frame in the query's column order and types (an empty result has no columns at all).
fn shape(df: DataFrame, columns: &[(String, DataType)], what: &str) -> Result<DataFrame> {
    let pl = |e| DataError::polars(format!("reading Spark's result for {what}"), e);
    let cols: Vec<Column> = if df.width() == 0 {
        columns
            .iter()
            .map(|(n, t)| Column::new_empty(n.as_str().into(), t))
            .collect()
    } else {
        columns
            .iter()
            .map(|(n, t)| df.column(n).and_then(|c| c.cast(t)))
            .collect::<PolarsResult<_>>()
            .map_err(pl)?
    };
    DataFrame::new_infer_height(cols).map_err(pl)
}

/// Where the cluster reads a file source: a URI as written, else this machine's absolute
/// path as `file://`. Also the local path when there is one (to look at its first bytes).
fn location(resolved: &Path, cfg: &SourceConfig) -> (String, Option<PathBuf>) {
    let raw = cfg.path.to_string_lossy().to_string();
    if let Some(rest) = raw.strip_prefix("file://") {
        return (raw.clone(), Some(PathBuf::from(rest)));
    }
    if raw.contains("://") {
        return (raw, None);
    }
    let local = std::path::absolute(resolved).unwrap_or_else(|_| resolved.to_path_buf());
    (format!("file://{}", local.display()), Some(local))
}

impl SparkAggregator {
    /// Creates the temporary view `view` over a source the cluster reads (a file, or a table
    /// of the Spark catalog), with the workspace's type overrides and the number and boolean
    /// types polars infers for a CSV file this machine sees as casts; `section` names the
    /// source in errors, `resolved` is its path on this machine.
    pub(crate) fn source_view(
        &self,
        resolved: &Path,
        cfg: &SourceConfig,
        view: &str,
        section: &str,
    ) -> Result<Scanned> {
        let raw_view = format!("{view}_raw");

        let refuse = |what: &str| {
            DataError::Invalid(format!(
                "{section}: {what}; the Spark engine reads files the cluster can see (csv, parquet, json, ndjson at hdfs://, s3a://, file:// paths) or Spark tables (`table = \"db.name\"` without a path); use [engine] kind = \"local\" for this source"
            ))
        };
        if cfg.url.is_some() {
            return Err(refuse("is a PostgreSQL table"));
        }
        // Types polars infers for a CSV file this machine sees (Spark reads CSV as text).
        let mut inferred = std::collections::BTreeMap::new();
        let (create, display, format, delimiter) = if cfg.path.as_os_str().is_empty() {
            let Some(table) = &cfg.table else {
                return Err(refuse("has neither a path nor a table"));
            };
            if !table
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '`'))
            {
                return Err(refuse(&format!("table `{table}` is not a table name")));
            }
            (
                format!("CREATE OR REPLACE TEMP VIEW {raw_view} AS SELECT * FROM {table}"),
                format!("spark table {table}"),
                Format::SparkTable,
                None,
            )
        } else {
            let (uri, local) = location(resolved, cfg);
            let local = local.filter(|p| p.is_file());
            let format = match (&cfg.format, &local) {
                (Some(f), _) => format_by_name(f),
                // A file this machine sees: decided as the local engine decides.
                (None, Some(p)) => crate::data::sources::file::detect_format(p, None).ok(),
                (None, None) => Path::new(&uri)
                    .extension()
                    .and_then(|e| e.to_str())
                    .and_then(|e| format_by_name(&e.to_ascii_lowercase()))
                    // Spark's `.json` is one object per line.
                    .map(|f| if f == Format::Json { Format::Ndjson } else { f }),
            };
            let Some(format) = format else {
                return Err(DataError::Invalid(format!(
                    "{uri}: cannot tell the format from the name; set format = \"csv\", \"parquet\", \"json\" or \"ndjson\" in {section}"
                )));
            };
            let mut options = vec![("path", uri.clone())];
            let mut delimiter = None;
            let using = match format {
                Format::Csv => {
                    let d = match (&cfg.delimiter, &local) {
                        (Some(d), _) => d.as_bytes().first().copied(),
                        (None, Some(p)) => read_head(p, 64 * 1024)
                            .ok()
                            .and_then(|h| sniff_delimiter(&h)),
                        (None, None) if uri.ends_with(".tsv") => Some(b'\t'),
                        _ => None,
                    }
                    .unwrap_or(b',');
                    delimiter = Some(d);
                    // So that Spark compares the same values as the local engine (`2.50` and
                    // `2.5` are one price, so such lines are exact duplicates): the numeric
                    // and boolean columns polars infers become casts in the view.
                    if let Some(p) = &local {
                        let opts = crate::data::sources::file::ReadOptions {
                            delimiter: cfg.delimiter.clone(),
                            schema: cfg.schema.clone(),
                            ..Default::default()
                        };
                        if let Ok(scanned) = crate::data::sources::file::scan(p, &opts) {
                            for (name, t) in scanned.schema.iter() {
                                let kind = match t {
                                    t if t.is_integer() => "int",
                                    t if t.is_float() => "float",
                                    DataType::Boolean => "bool",
                                    _ => continue,
                                };
                                inferred.insert(name.to_string(), kind.to_string());
                            }
                        }
                    }
                    options.push(("header", "true".into()));
                    options.push(("sep", (d as char).to_string()));
                    options.push(("mode", "FAILFAST".into()));
                    "csv"
                }
                Format::Parquet => "parquet",
                Format::Ndjson => "json",
                Format::Json => {
                    options.push(("multiLine", "true".into()));
                    "json"
                }
                Format::Sqlite | Format::Postgres | Format::SparkTable => {
                    return Err(refuse("is a database"));
                }
            };
            let options: Vec<String> = options
                .iter()
                .map(|(k, v)| format!("{k} {}", text_literal(v)))
                .collect();
            (
                format!(
                    "CREATE OR REPLACE TEMP VIEW {raw_view} USING {using} OPTIONS ({})",
                    options.join(", ")
                ),
                uri,
                format,
                delimiter,
            )
        };
        let context = format!("{display} (Spark at {})", self.remote);
        let run = |sql: &str| {
            self.session
                .sql(sql)
                .and_then(|df| df.collect_record_batches())
                .map_err(|e| spark_error(&context, &e))
        };
        run(&create)?;
        // The workspace's type overrides (`schema = { col = "int" }`) and the types inferred
        // above, as casts in the view the query reads: CSV comes as text, and a value that is
        // not of the type is Spark's error, as it is polars' when reading locally.
        let raw = self.columns(&raw_view, &context)?;
        let mut select = Vec::new();
        for c in cfg.schema.keys() {
            crate::data::sources::file::require_column(
                Path::new(&display),
                &raw,
                c,
                &format!("{section} schema"),
            )?;
        }
        for name in raw.iter_names() {
            let q = ident(name);
            let kind = cfg
                .schema
                .get(name.as_str())
                .or(inferred.get(name.as_str()));
            select.push(match kind.map(String::as_str) {
                Some("int") => format!("CAST({q} AS BIGINT) AS {q}"),
                Some("float") => format!("CAST({q} AS DOUBLE) AS {q}"),
                Some("bool") => format!("CAST({q} AS BOOLEAN) AS {q}"),
                Some(_) => format!("CAST({q} AS STRING) AS {q}"),
                None => q,
            });
        }
        run(&format!(
            "CREATE OR REPLACE TEMP VIEW {view} AS SELECT {} FROM {raw_view}",
            select.join(", ")
        ))?;
        let schema = self.columns(view, &context)?;
        Ok(Scanned {
            path: PathBuf::from(&display),
            estimated_rows: None,
            format,
            delimiter,
            frame: DataFrame::empty_with_schema(&schema).lazy(),
            schema: Arc::new(schema),
            notes: vec![format!("aggregated by Spark at {}", self.remote)],
            // Spark reads the file with its own types (the reading of text columns is local).
            readings: Vec::new(),
            head: None,
            tail: None,
            tail_end: None,
            watermark_max: None,
        })
    }
}

impl CustomerAggregator for SparkAggregator {
    fn open(
        &self,
        ws: &Workspace,
        role: Role,
        cfg: &SourceConfig,
        _progress: &Progress,
    ) -> Result<Scanned> {
        let section = format!("[sources.{}]", role.name());
        let view = format!("crmlens_{}", role.name());
        self.source_view(&ws.resolve(cfg), cfg, &view, &section)
    }

    fn aggregate(&self, plan: &AggregationPlan, progress: &Progress) -> Result<Vec<RoleAggregate>> {
        let key_map = match &plan.key_map {
            Some(map) if map.height() > 0 => {
                self.send_key_map(map)?;
                true
            }
            _ => false,
        };
        let mut out = Vec::new();
        for input in &plan.inputs {
            progress.check().map_err(|_| DataError::Cancelled)?;
            let t0 = std::time::Instant::now();
            let view = format!("crmlens_{}", input.role.name());
            let q = role_query(input, &view, plan, key_map)?;
            let what = format!("aggregating {}", input.role.name());
            progress.label(&format!("{what} on Spark"));
            let df = self.collect(
                &q.sql,
                &format!("{} ({what})", input.path.display()),
                &what,
                progress,
            )?;
            let frame = shape(df, &q.columns, input.role.name())?;
            out.push(RoleAggregate {
                role: input.role,
                millis: (t0.elapsed().as_secs_f64() * 1000.0).round(),
                path: input.path.clone(),
                frame,
                rules: q.rules,
                features: q.features,
                duplicates: input.duplicates,
            });
        }
        Ok(out)
    }
}

impl SparkAggregator {
    /// A view's columns, as the polars types crmlens reasons with.
    fn columns(&self, view: &str, context: &str) -> Result<Schema> {
        let schema = self
            .session
            .sql(&format!("SELECT * FROM {view} LIMIT 0"))
            .and_then(|df| df.schema())
            .map_err(|e| spark_error(context, &e))?;
        let spark_connect::types::DataType::Struct { fields } = schema else {
            return Err(DataError::Invalid(format!(
                "{context}: Spark returned no column list"
            )));
        };
        Ok(fields
            .iter()
            .map(|f| Field::new(f.name.as_str().into(), polars_type(&f.data_type)))
            .collect())
    }

    /// The server's Spark version (for reports and benchmarks).
    pub fn version(&self) -> Option<String> {
        self.session.version().ok()
    }
}

/// Role columns of the sample's order lines, for the tests of the query text.
#[cfg(test)]
fn sample_columns() -> std::collections::BTreeMap<String, String> {
    [
        ("order_id", "order_id"),
        ("date", "order_date"),
        ("category", "category"),
        ("quantity", "quantity"),
        ("unit_price", "unit_price"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chrono_formats_become_spark_patterns() {
        assert_eq!(spark_pattern("%Y-%m-%d").unwrap(), "yyyy-MM-dd");
        assert_eq!(spark_pattern("%d/%m/%Y").unwrap(), "dd/MM/yyyy");
        assert_eq!(
            spark_pattern("%Y-%m-%dT%H:%M:%S").unwrap(),
            "yyyy-MM-dd'T'HH:mm:ss"
        );
        assert_eq!(
            spark_pattern("%d %b %Y at %T").unwrap(),
            "dd MMM yyyy 'at' HH:mm:ss"
        );
        assert_eq!(spark_pattern("%F 100%%").unwrap(), "yyyy-MM-dd 100%");
        assert!(spark_pattern("%j").unwrap_err().contains("%j"));
        assert!(spark_pattern("%Y%").is_err());
    }

    #[test]
    fn remote_addresses_parse() {
        assert_eq!(
            host_port("sc://127.0.0.1:15002"),
            Some(("127.0.0.1".into(), 15002))
        );
        assert_eq!(
            host_port("sc://spark.internal/;token=x"),
            Some(("spark.internal".into(), 15002))
        );
        assert_eq!(host_port("sc://h:99999"), None);
        assert_eq!(host_port("http://h:1"), None);
    }

    #[test]
    fn quoting_keeps_names_and_text_intact() {
        assert_eq!(ident("we`ird"), "`we``ird`");
        assert_eq!(text_literal("it's a\\b"), "'it\\'s a\\\\b'");
    }

    #[test]
    fn order_query_follows_the_policy_and_the_columns() {
        let schema: Schema = [
            Field::new("customer_id".into(), DataType::String),
            Field::new("order_id".into(), DataType::String),
            Field::new("order_date".into(), DataType::String),
            Field::new("category".into(), DataType::String),
            Field::new("quantity".into(), DataType::Int64),
            Field::new("unit_price".into(), DataType::Float64),
        ]
        .into_iter()
        .collect();
        let input = ActivityInput {
            role: Role::Orders,
            path: "orders.csv".into(),
            frame: DataFrame::empty_with_schema(&schema).lazy(),
            schema: Arc::new(schema),
            key: "customer_id".into(),
            columns: sample_columns(),
            date_formats: vec!["%Y-%m-%d".into()],
            estimated_rows: None,
            format: Format::Csv,
            delimiter: Some(b','),
            duplicates: crate::data::integrate::aggregate::Duplicates::Remove,
            tail: None,
        };
        let mut plan = AggregationPlan {
            inputs: Vec::new(),
            key_map: None,
            invalid_lines: InvalidPolicy::Drop,
            customers: 0,
        };
        let q = role_query(&input, "v", &plan, false).unwrap();
        assert!(q.sql.contains("GROUP BY __key, `customer_id`"), "{}", q.sql);
        assert!(
            q.sql
                .contains("NOT __bad_date AND NOT (__bq OR __bp) AS __keep")
        );
        assert!(
            q.sql
                .contains("try_to_timestamp(`order_date`, 'yyyy-MM-dd')")
        );
        assert!(!q.sql.contains(KEY_MAP_VIEW));
        let names: Vec<&str> = q.columns.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.last(), Some(&"distinct_categories"));
        assert_eq!(q.rules.len(), 3);
        let input = ActivityInput {
            duplicates: crate::data::integrate::aggregate::Duplicates::Keep,
            tail: None,
            ..input
        };
        plan.invalid_lines = InvalidPolicy::Null;
        let q = role_query(&input, "v", &plan, true).unwrap();
        assert!(q.sql.contains("1 AS __n"));
        assert!(q.sql.contains("NOT __bad_date AS __keep"));
        assert!(q.sql.contains(KEY_MAP_VIEW));
    }
}
