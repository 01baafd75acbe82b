//! PostgreSQL sources: a table or a query read into a polars frame.
//!
//! The rows are streamed with `COPY (SELECT ...) TO STDOUT (FORMAT csv)` and parsed by
//! polars' CSV reader with an explicit schema taken from the query's column types, not
//! fetched row by row through generic structs. Each column is cast in the SELECT to a form
//! the reader parses exactly: integers as bigint, numeric and reals as double precision,
//! booleans as 0/1, timestamptz converted to UTC, dates and timestamps in ISO style, and
//! every other type (uuid, json, enums...) as text.
//!
//! Credentials come from the URL, the standard PG* environment variables (PGHOST, PGPORT,
//! PGUSER, PGDATABASE, PGPASSWORD) or the password file (PGPASSFILE, else ~/.pgpass), as
//! libpq does. The password is masked (`***`) in every message ([`mask_url`]).
//!
//! TLS follows libpq's `sslmode` (see [`tls`]): `prefer` by default, `sslrootcert` for the
//! CA. The COPY stream is parsed in batches ([`stream`]) and can be cancelled between chunks.

mod stream;
pub mod tls;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use polars::prelude::*;
use postgres::types::Type;
use postgres::{CancelToken, Client, Config};

use crate::data::error::{DataError, Result};
use crate::progress::Progress;

/// Whether `s` is a PostgreSQL connection URL.
pub fn is_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// `url` with its password replaced by `***` (`postgres://ann:***@db/crm`), also in
/// `password=...` key-value form.
pub fn mask_url(url: &str) -> String {
    if is_url(url)
        && let Some((scheme, rest)) = url.split_once("://")
    {
        let (auth, host) = match rest.rsplit_once('@') {
            Some((a, h)) => (Some(a), h),
            None => (None, rest),
        };
        let mut out = format!("{scheme}://");
        if let Some(a) = auth {
            match a.split_once(':') {
                Some((user, _)) => out.push_str(&format!("{user}:***@")),
                None => out.push_str(&format!("{a}@")),
            }
        }
        // A password in the query string (`?password=...`).
        let host = match host.split_once('?') {
            Some((h, q)) => {
                let q: Vec<String> = q
                    .split('&')
                    .map(|kv| match kv.split_once('=') {
                        Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                        _ => kv.to_string(),
                    })
                    .collect();
                format!("{h}?{}", q.join("&"))
            }
            None => host.to_string(),
        };
        out.push_str(&host);
        return out;
    }
    // Key-value form: password=secret or password='se cret'.
    static PASSWORD: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?i)(password\s*=\s*)('[^']*'|\S+)").expect("password pattern")
    });
    PASSWORD.replace_all(url, "${1}***").into_owned()
}

/// The place a source is read from, as messages name it (password masked).
pub fn display_path(url: &str) -> PathBuf {
    PathBuf::from(mask_url(url))
}

/// A client error as text: the server's own message (severity, message, detail, hint) for
/// a database error, else the error and its causes.
fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("{}: {}", db.severity(), db.message());
        if let Some(d) = db.detail() {
            s.push_str(&format!(" ({d})"));
        }
        if let Some(h) = db.hint() {
            s.push_str(&format!("; hint: {h}"));
        }
        return s;
    }
    let mut s = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        s.push_str(&format!(": {c}"));
        cause = c.source();
    }
    s
}

fn error(url: &str, what: &str, e: impl std::fmt::Display) -> DataError {
    let mut msg = e.to_string();
    // The server's own text ("db error: ERROR: relation ... does not exist") is kept, on one
    // line, with any password that crept in masked.
    msg = msg.replace('\n', " ");
    if let Some(secret) = password_of(url) {
        msg = msg.replace(&secret, "***");
    }
    DataError::Malformed {
        path: display_path(url),
        message: format!("{what}: {}", crate::data::privacy::redact(&msg)),
    }
}

fn password_of(url: &str) -> Option<String> {
    let cfg: Config = tls::split_params(url).0.parse().ok()?;
    let p = String::from_utf8_lossy(cfg.get_password()?).into_owned();
    (!p.is_empty()).then_some(p)
}

/// Looks up an environment variable by name: [`process_env`], or a test's own.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// An environment variable, unset when empty (the process's; tests pass their own lookup).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The connection settings: the URL's, then the PG* variables and the password file for
/// what it leaves out. TLS settings are not in it: see [`config_with`].
pub fn config(url: &str) -> Result<Config> {
    config_with(url, &process_env).map(|(cfg, _)| cfg)
}

/// The connection settings and the TLS decisions, with the PG* variables (PGHOST...,
/// PGSSLMODE, PGSSLROOTCERT, PGPASSFILE, HOME) read through `env`.
pub fn config_with(url: &str, env: Env<'_>) -> Result<(Config, tls::Tls)> {
    let (rest, params) = tls::split_params(url);
    let mut cfg: Config = rest.parse().map_err(|e| {
        error(
            url,
            "not a PostgreSQL URL (postgres://user@host:port/database)",
            e,
        )
    })?;
    if cfg.get_hosts().is_empty() {
        cfg.host(env("PGHOST").as_deref().unwrap_or("localhost"));
    }
    if cfg.get_ports().is_empty() {
        let port = env("PGPORT").and_then(|p| p.parse().ok()).unwrap_or(5432);
        cfg.port(port);
    }
    if cfg.get_user().is_none() {
        let user = env("PGUSER")
            .or_else(|| env("USER"))
            .unwrap_or_else(|| "postgres".into());
        cfg.user(&user);
    }
    if cfg.get_dbname().is_none() {
        let db = env("PGDATABASE").unwrap_or_else(|| cfg.get_user().unwrap_or("").to_string());
        cfg.dbname(&db);
    }
    if cfg.get_password().is_none() {
        if let Some(p) = env("PGPASSWORD") {
            cfg.password(p);
        } else if let Some(p) = pgpass(&cfg, env) {
            cfg.password(p);
        }
    }
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(std::time::Duration::from_secs(10));
    }
    cfg.application_name("crmlens");
    #[cfg(unix)]
    let unix_socket = cfg
        .get_hosts()
        .iter()
        .all(|h| matches!(h, postgres::config::Host::Unix(_)));
    #[cfg(not(unix))]
    let unix_socket = false;
    let tls = tls::Tls::resolve(&params, env, unix_socket).map_err(|e| error(url, "TLS", e))?;
    Ok((cfg, tls))
}

/// The password for `cfg`'s host, port, database and user from the password file
/// (`hostname:port:database:username:password`, `*` matching anything), as libpq reads it.
fn pgpass(cfg: &Config, env: Env<'_>) -> Option<String> {
    let path = env("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".pgpass")))?;
    let text = std::fs::read_to_string(path).ok()?;
    let host = match cfg.get_hosts().first()? {
        postgres::config::Host::Tcp(h) => h.clone(),
        #[cfg(unix)]
        postgres::config::Host::Unix(_) => "localhost".into(),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432).to_string();
    let db = cfg.get_dbname().unwrap_or("");
    let user = cfg.get_user().unwrap_or("");
    pgpass_lookup(&text, &host, &port, db, user)
}

/// The first matching line's password (`\:` and `\\` are escapes).
pub fn pgpass_lookup(text: &str, host: &str, port: &str, db: &str, user: &str) -> Option<String> {
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields = Vec::new();
        let mut cur = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                }
                ':' if fields.len() < 4 => fields.push(std::mem::take(&mut cur)),
                c => cur.push(c),
            }
        }
        fields.push(cur);
        if fields.len() != 5 {
            continue;
        }
        let ok = |pattern: &str, value: &str| pattern == "*" || pattern == value;
        if ok(&fields[0], host)
            && ok(&fields[1], port)
            && ok(&fields[2], db)
            && ok(&fields[3], user)
        {
            return Some(fields[4].clone());
        }
    }
    None
}

/// Connects to the server at `url`.
pub fn connect(url: &str) -> Result<Client> {
    connect_with(url, &process_env).map(|c| c.client)
}

/// Whether a connection uses TLS, and whether the server's certificate was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsUse {
    Plain,
    /// TLS; the certificate was not checked (no root certificate, as libpq does).
    Unverified,
    /// TLS; the chain was checked (and the host name under verify-full).
    Verified,
}

/// A connection and how it is secured.
pub struct Connection {
    pub client: Client,
    pub tls: TlsUse,
    /// The TLS decisions it was made with.
    pub settings: tls::Tls,
    connector: tls::Connector,
}

impl Connection {
    /// Asks the server to stop the running statement (over a new connection).
    fn cancel_request(token: &CancelToken, connector: &tls::Connector) {
        let _ = token.cancel_query(connector.clone());
    }
}

/// Connects to the server at `url`, the PG* variables read through `env`, following the
/// sslmode: `allow` tries plain first and TLS if the server refuses; `prefer` tries TLS if
/// the server offers it and plain if that fails; `require` and `verify-*` TLS only.
pub fn connect_with(url: &str, env: Env<'_>) -> Result<Connection> {
    use postgres::config::SslMode as Wire;
    use tls::SslMode;
    let (cfg, settings) = config_with(url, env)?;
    let attempt = |mode: Wire| {
        let started = Arc::new(AtomicBool::new(false));
        let connector = settings
            .connector(started.clone())
            .map_err(|e| error(url, "TLS", e))?;
        let mut cfg = cfg.clone();
        cfg.ssl_mode(mode);
        let result = cfg.connect(connector.clone());
        Ok::<_, DataError>((result, started.load(Ordering::SeqCst), connector))
    };
    let fail = |e: &postgres::Error| describe(e);
    let (result, tls_used, connector) = match settings.mode {
        SslMode::Disable => attempt(Wire::Disable)?,
        SslMode::Allow => match attempt(Wire::Disable)? {
            // The server refused a plain connection (pg_hba): try TLS, as libpq does.
            (Err(plain), ..) if plain.as_db_error().is_some() => match attempt(Wire::Require)? {
                (Err(tls), ..) => {
                    return Err(error(
                        url,
                        "cannot connect",
                        format!("{}; with TLS: {}", fail(&plain), fail(&tls)),
                    ));
                }
                ok => ok,
            },
            other => other,
        },
        SslMode::Prefer => match attempt(Wire::Prefer)? {
            // TLS was tried and failed (handshake or refused): try plain, as libpq does.
            (Err(tls), true, _) => match attempt(Wire::Disable)? {
                (Err(plain), ..) => {
                    return Err(error(
                        url,
                        "cannot connect",
                        format!("{}; without TLS: {}", fail(&tls), fail(&plain)),
                    ));
                }
                ok => ok,
            },
            other => other,
        },
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => attempt(Wire::Require)?,
    };
    let client = result.map_err(|e| error(url, "cannot connect", fail(&e)))?;
    let tls = match (tls_used, settings.verified()) {
        (false, _) => TlsUse::Plain,
        (true, false) => TlsUse::Unverified,
        (true, true) => TlsUse::Verified,
    };
    Ok(Connection {
        client,
        tls,
        settings,
        connector,
    })
}

/// `name` (or `schema.name`) quoted as an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    name.split('.')
        .map(|p| format!("\"{}\"", p.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(".")
}

/// Types read as text on purpose (no note).
const TEXT_TYPES: &[Type] = &[
    Type::TEXT,
    Type::VARCHAR,
    Type::BPCHAR,
    Type::NAME,
    Type::CHAR,
    Type::UUID,
    Type::JSON,
    Type::JSONB,
];

/// How a column of a PostgreSQL type is selected and read.
fn column_plan(name: &str, t: &Type) -> (String, DataType) {
    let q = quote_ident(name);
    match *t {
        Type::INT2 | Type::INT4 | Type::INT8 | Type::OID => {
            (format!("{q}::bigint"), DataType::Int64)
        }
        Type::FLOAT4 | Type::FLOAT8 | Type::NUMERIC => {
            (format!("{q}::double precision"), DataType::Float64)
        }
        Type::BOOL => (format!("{q}::int"), DataType::Boolean),
        Type::DATE => (q, DataType::Date),
        Type::TIMESTAMP => (q, DataType::Datetime(TimeUnit::Microseconds, None)),
        Type::TIMESTAMPTZ => (
            format!("({q} AT TIME ZONE 'UTC')"),
            DataType::Datetime(TimeUnit::Microseconds, None),
        ),
        _ => (format!("{q}::text"), DataType::String),
    }
}

/// Reads `table` (or `schema.table`) or the result of `query` from the server at `url`.
pub fn read(url: &str, table: Option<&str>, query: Option<&str>) -> Result<DataFrame> {
    read_noted(url, table, query).map(|(df, _)| df)
}

/// [`read`], with notes for the quality report: each column of a type crmlens has no mapping
/// for (read as text), and TLS without certificate verification.
pub fn read_noted(
    url: &str,
    table: Option<&str>,
    query: Option<&str>,
) -> Result<(DataFrame, Vec<String>)> {
    read_with(url, table, query, &ReadSettings::default())
}

/// How [`read_with`] reads, beyond the source.
#[derive(Default)]
pub struct ReadSettings<'a> {
    /// Checked for a cancel between chunks of the stream (then the error is "cancelled" and
    /// the server is told to stop the query); told how many MB were read.
    pub cancel: Option<&'a Progress>,
    /// The environment lookup (PG* variables, HOME); default: the process's.
    pub env: Option<Env<'a>>,
    /// Bytes of CSV text parsed at a time (default [`stream::BATCH_BYTES`]).
    pub batch_bytes: Option<usize>,
    /// Rows in the order of a watermark column (all, the first few, or those past a value).
    pub ordered: Option<crate::data::sources::sqlite::Ordered<'a>>,
}

/// A watermark value as a SQL literal (COPY takes no parameters): numbers as written, text
/// quoted (the server casts it to the column's type: a date or timestamp compares as one).
fn literal(w: &crate::data::sources::sqlite::Watermark) -> String {
    use crate::data::sources::sqlite::Watermark;
    match w {
        Watermark::Int(i) => i.to_string(),
        // Shortest text that reads back as the same double.
        Watermark::Real(f) => format!("{f:?}"),
        Watermark::Text(t) => format!("'{}'", t.replace('\'', "''")),
    }
}

fn cancelled() -> DataError {
    DataError::Cancelled
}

/// What every read sets first: dates and times as ISO text in UTC, floats to the last digit.
const SESSION_SETUP: &str =
    "SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET extra_float_digits = 3";

/// The query that reads a source: its `table` whole, or its `query`.
fn source_sql(url: &str, table: Option<&str>, query: Option<&str>) -> Result<String> {
    Ok(match (table, query) {
        (Some(_), Some(_)) => {
            return Err(DataError::Malformed {
                path: display_path(url),
                message: "both `table` and `query` are given; keep one".into(),
            });
        }
        (Some(t), None) => format!("SELECT * FROM {}", quote_ident(t)),
        (None, Some(q)) => q.trim().trim_end_matches(';').to_string(),
        (None, None) => {
            return Err(DataError::Malformed {
                path: display_path(url),
                message: "name a `table` or a `query` to read (--table / --query)".into(),
            });
        }
    })
}

/// How many rows of a source lie past `after` in its watermark `column`, and the largest
/// value there (as the server writes it), without reading the rows: one aggregate query,
/// which an index on the column answers without a scan. `after` None counts every row.
/// The workbench asks this on a timer to say that rows arrived (docs/databases.md).
pub fn rows_past(
    url: &str,
    table: Option<&str>,
    query: Option<&str>,
    column: &str,
    after: Option<&crate::data::sources::sqlite::Watermark>,
) -> Result<(u64, Option<crate::data::sources::sqlite::Watermark>)> {
    use crate::data::sources::sqlite::Watermark;
    let sql = source_sql(url, table, query)?;
    let wm = quote_ident(column);
    let mut q = format!("SELECT count(*), max({wm})::text FROM ({sql}) AS crmlens_rows");
    if let Some(after) = after {
        q.push_str(&format!(" WHERE {wm} > {}", literal(after)));
    }
    let mut client = connect(url)?;
    client
        .batch_execute(SESSION_SETUP)
        .map_err(|e| error(url, "cannot set up the session", describe(&e)))?;
    let row = client
        .query_one(q.as_str(), &[])
        .map_err(|e| error(url, "cannot look for new rows", describe(&e)))?;
    let (count, max): (i64, Option<String>) = (row.get(0), row.get(1));
    Ok((count.max(0) as u64, max.map(Watermark::Text)))
}

/// [`read_noted`] with [`ReadSettings`].
pub fn read_with(
    url: &str,
    table: Option<&str>,
    query: Option<&str>,
    settings: &ReadSettings<'_>,
) -> Result<(DataFrame, Vec<String>)> {
    let sql = source_sql(url, table, query)?;
    let sql = match settings.ordered {
        None => sql,
        Some(o) => {
            let wm = quote_ident(o.column);
            let mut q = format!("SELECT * FROM ({sql}) AS crmlens_rows");
            if let Some(after) = o.after {
                q.push_str(&format!(" WHERE {wm} > {}", literal(after)));
            }
            q.push_str(&format!(" ORDER BY {wm}"));
            if let Some(n) = o.limit {
                q.push_str(&format!(" LIMIT {n}"));
            }
            q
        }
    };
    let is_cancelled = || settings.cancel.is_some_and(Progress::is_cancelled);
    if is_cancelled() {
        return Err(cancelled());
    }
    let mut conn = connect_with(url, settings.env.unwrap_or(&process_env))?;
    let mut notes = Vec::new();
    if conn.tls == TlsUse::Unverified {
        notes.push(format!(
            "TLS without certificate verification (sslmode={}); use sslmode=verify-full with sslrootcert to check the server",
            conn.settings.mode.name()
        ));
    }
    let client = &mut conn.client;
    client
        .batch_execute(SESSION_SETUP)
        .map_err(|e| error(url, "cannot set up the session", describe(&e)))?;
    let stmt = client.prepare(&sql).map_err(|e| {
        error(
            url,
            if table.is_some() {
                "cannot read the table"
            } else {
                "the query failed"
            },
            describe(&e),
        )
    })?;
    let mut selects = Vec::new();
    let mut fields = Vec::new();
    for c in stmt.columns() {
        let (expr, dtype) = column_plan(c.name(), c.type_());
        if dtype == DataType::String && !TEXT_TYPES.contains(c.type_()) {
            notes.push(format!(
                "column `{}` has type {}, read as text",
                c.name(),
                c.type_().name()
            ));
        }
        // Booleans arrive as 0/1 and are cast after the read.
        let read_as = if dtype == DataType::Boolean {
            DataType::Int64
        } else {
            dtype.clone()
        };
        selects.push(format!("{expr} AS {}", quote_ident(c.name())));
        fields.push((c.name().to_string(), read_as, dtype));
    }
    if fields.is_empty() {
        return Ok((DataFrame::empty(), notes));
    }
    let copy = format!(
        "COPY (SELECT {} FROM ({sql}) AS crmlens_source) TO STDOUT (FORMAT csv)",
        selects.join(", ")
    );
    let schema: Schema = fields
        .iter()
        .map(|(n, t, _)| Field::new(n.as_str().into(), t.clone()))
        .collect();
    let token = client.cancel_token();
    let connector = conn.connector.clone();
    // Until the stream has been read to its end, leaving (a cancel, an error) asks the server
    // to stop the query: otherwise closing the connection would wait for all of its rows.
    let finished = AtomicBool::new(false);
    let cancel_sent = AtomicBool::new(false);
    let send_cancel = || {
        if !cancel_sent.swap(true, Ordering::SeqCst) {
            Connection::cancel_request(&token, &connector);
        }
    };
    let read = std::thread::scope(|scope| {
        // A cancel while the server is still working on the first rows (the reader is then
        // blocked waiting for them) is sent from here.
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        if let Some(p) = settings.cancel {
            let send_cancel = &send_cancel;
            scope.spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    done_rx.recv_timeout(std::time::Duration::from_millis(50))
                {
                    if p.is_cancelled() {
                        send_cancel();
                        break;
                    }
                }
            });
        }
        let result = (|| {
            let mut reader = client
                .copy_out(copy.as_str())
                .map_err(|e| error(url, "reading the rows failed", describe(&e)))?;
            let df = stream::read_csv(
                &mut reader,
                Arc::new(schema),
                settings.batch_bytes.unwrap_or(stream::BATCH_BYTES),
                settings.cancel,
            );
            if df.is_ok() {
                finished.store(true, Ordering::SeqCst);
            } else {
                send_cancel();
            }
            drop(reader);
            df.map_err(|e| match e {
                stream::ReadError::Cancelled => cancelled(),
                stream::ReadError::Io(e) => error(url, "reading the rows failed", e),
                stream::ReadError::Parse(e) => error(url, "reading the rows failed", e),
            })
        })();
        drop(done_tx);
        result
    });
    if is_cancelled() && !finished.load(Ordering::SeqCst) {
        return Err(cancelled());
    }
    let df = read?;
    let casts: Vec<Expr> = fields
        .iter()
        .filter(|(_, _, t)| *t == DataType::Boolean)
        .map(|(n, _, _)| col(n.as_str()).cast(DataType::Boolean))
        .collect();
    if casts.is_empty() {
        return Ok((df, notes));
    }
    let df = df
        .lazy()
        .with_columns(casts)
        .collect()
        .map_err(|e| error(url, "reading the rows failed", e))?;
    Ok((df, notes))
}

/// Writes `df` as table `name` (replaced if it exists) through `COPY ... FROM STDIN`, with
/// bigint, double precision, boolean, date, timestamp and text columns. For loading test
/// data and hand-offs to SQL users.
pub fn write_table(client: &mut Client, name: &str, df: &mut DataFrame) -> Result<()> {
    let place = || PathBuf::from(format!("table {name}"));
    let fail = |what: &str, e: &dyn std::fmt::Display| DataError::Malformed {
        path: place(),
        message: format!("{what}: {}", e.to_string().replace('\n', " ")),
    };
    let mut decls = Vec::new();
    for c in df.columns() {
        let t = match c.dtype() {
            d if d.is_integer() => "bigint",
            d if d.is_float() => "double precision",
            DataType::Boolean => "boolean",
            DataType::Date => "date",
            DataType::Datetime(..) => "timestamp",
            _ => "text",
        };
        decls.push(format!("{} {t}", quote_ident(c.name())));
    }
    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {q}; CREATE TABLE {q} ({})",
            decls.join(", "),
            q = quote_ident(name)
        ))
        .map_err(|e| fail("cannot create the table", &describe(&e)))?;
    let mut csv = Vec::new();
    CsvWriter::new(&mut csv)
        .include_header(false)
        .with_quote_style(QuoteStyle::NonNumeric)
        .finish(df)
        .map_err(|e| fail("cannot write the rows as CSV", &e))?;
    let mut w = client
        .copy_in(&format!(
            "COPY {} FROM STDIN (FORMAT csv)",
            quote_ident(name)
        ))
        .map_err(|e| fail("cannot copy the rows in", &describe(&e)))?;
    std::io::Write::write_all(&mut w, &csv).map_err(|e| fail("cannot copy the rows in", &e))?;
    w.finish()
        .map_err(|e| fail("cannot copy the rows in", &e))?;
    Ok(())
}

/// The tables and views of the database at `url` outside the system schemas, as `table` for
/// the `public` schema and `schema.table` otherwise, in name order (what the workbench's
/// source picker offers).
pub fn tables(url: &str) -> Result<Vec<String>> {
    let mut client = connect(url)?;
    let rows = client
        .query(
            "SELECT table_schema, table_name FROM information_schema.tables \
             WHERE table_schema NOT IN ('pg_catalog', 'information_schema') \
             AND table_schema NOT LIKE 'pg_toast%' ORDER BY table_schema <> 'public', 1, 2",
            &[],
        )
        .map_err(|e| error(url, "cannot list the tables", describe(&e)))?;
    Ok(rows
        .iter()
        .map(|r| {
            let (schema, name): (String, String) = (r.get(0), r.get(1));
            if schema == "public" {
                name
            } else {
                format!("{schema}.{name}")
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_in_urls_and_key_values() {
        assert_eq!(
            mask_url("postgres://ann:s3cret@db.example:5433/crm"),
            "postgres://ann:***@db.example:5433/crm"
        );
        assert_eq!(mask_url("postgres://ann@db/crm"), "postgres://ann@db/crm");
        assert_eq!(
            mask_url("postgresql://db/crm?user=ann&password=s3cret&sslmode=require"),
            "postgresql://db/crm?user=ann&password=***&sslmode=require"
        );
        assert_eq!(
            mask_url("host=db user=ann password='se cret' dbname=crm"),
            "host=db user=ann password=*** dbname=crm"
        );
    }

    #[test]
    fn the_password_file_is_matched_as_libpq_does() {
        let text = "# comment\ndb:5432:crm:bob:bobpw\n*:*:crm:ann:a\\:b\n*:*:*:*:fallback\n";
        assert_eq!(
            pgpass_lookup(text, "db", "5432", "crm", "bob").as_deref(),
            Some("bobpw")
        );
        assert_eq!(
            pgpass_lookup(text, "x", "1", "crm", "ann").as_deref(),
            Some("a:b")
        );
        assert_eq!(
            pgpass_lookup(text, "db", "5432", "crm", "eve").as_deref(),
            Some("fallback")
        );
        assert_eq!(
            pgpass_lookup("db:5432:crm:bob:pw\n", "db", "5433", "crm", "bob"),
            None
        );
    }

    #[test]
    fn an_unreachable_server_is_one_line_without_the_password() {
        // Port 1 on the loopback: nothing listens there.
        let msg = read(
            "postgres://ann:topsecret@127.0.0.1:1/crm",
            Some("customers"),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            msg.starts_with("postgres://ann:***@127.0.0.1:1/crm: cannot connect"),
            "{msg}"
        );
        assert!(!msg.contains("topsecret") && !msg.contains('\n'), "{msg}");
    }
}
