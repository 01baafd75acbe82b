//! SQLite sources: a table or a query of a database file, read into a polars frame.
//!
//! Read with rusqlite (the SQLite library compiled in, so no system library is needed);
//! polars has no SQLite reader of its own. Columns are built typed, straight from the rows,
//! by the declared type's affinity (SQLite's own rules: INT -> integer; CHAR, CLOB, TEXT ->
//! text; REAL, FLOA, DOUB -> float; BOOL -> boolean; DATE and TIME columns stay text, parsed
//! by the workspace's `dates` as for CSV). A column with no declared type (a query's
//! expression) takes the type of its values: integers, floats when any is fractional, text
//! when any is text. A value that does not fit its declared type (SQLite stores what it is
//! given) is an error naming the column and row, never a silent null.

use std::path::Path;

use polars::prelude::*;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use crate::data::error::{DataError, Result};

/// What a column is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Float,
    Text,
    Bool,
    /// No declared type: decided by the values.
    Infer,
}

/// SQLite's type affinity of a declared column type, with BOOLEAN and dates singled out.
fn kind_of(declared: Option<&str>) -> Kind {
    let Some(d) = declared else {
        return Kind::Infer;
    };
    let d = d.to_ascii_uppercase();
    if d.contains("BOOL") {
        Kind::Bool
    } else if d.contains("DATE") || d.contains("TIME") {
        Kind::Text
    } else if d.contains("INT") {
        Kind::Int
    } else if d.contains("CHAR") || d.contains("CLOB") || d.contains("TEXT") {
        Kind::Text
    } else if d.contains("REAL") || d.contains("FLOA") || d.contains("DOUB") {
        Kind::Float
    } else {
        // NUMERIC, DECIMAL, BLOB or empty: by the values.
        Kind::Infer
    }
}

/// One column's values as read.
enum Values {
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
    Bool(Vec<Option<bool>>),
}

struct Builder {
    name: String,
    declared: String,
    kind: Kind,
    values: Values,
}

impl Builder {
    fn new(name: String, declared: Option<&str>) -> Builder {
        let kind = kind_of(declared);
        let values = match kind {
            Kind::Int | Kind::Infer => Values::Int(Vec::new()),
            Kind::Float => Values::Float(Vec::new()),
            Kind::Text => Values::Text(Vec::new()),
            Kind::Bool => Values::Bool(Vec::new()),
        };
        Builder {
            name,
            declared: declared.unwrap_or("").to_string(),
            kind,
            values,
        }
    }

    /// Widens an inferred column: integers to floats, anything to text.
    fn widen(&mut self, to_text: bool) {
        let values = std::mem::replace(&mut self.values, Values::Int(Vec::new()));
        self.values = match (values, to_text) {
            (Values::Int(v), false) => {
                Values::Float(v.into_iter().map(|x| x.map(|i| i as f64)).collect())
            }
            (Values::Int(v), true) => {
                Values::Text(v.into_iter().map(|x| x.map(|i| i.to_string())).collect())
            }
            (Values::Float(v), true) => {
                Values::Text(v.into_iter().map(|x| x.map(|f| f.to_string())).collect())
            }
            (other, _) => other,
        };
    }

    fn push(&mut self, value: ValueRef<'_>, row: usize, path: &Path) -> Result<()> {
        if self.kind == Kind::Infer {
            match (&self.values, value) {
                (Values::Int(_), ValueRef::Real(_)) => self.widen(false),
                (Values::Int(_) | Values::Float(_), ValueRef::Text(_) | ValueRef::Blob(_)) => {
                    self.widen(true)
                }
                _ => {}
            }
        }
        let misfit = |what: &str| DataError::Malformed {
            path: path.to_path_buf(),
            message: format!(
                "column `{}` is declared {} but row {} holds {what}; fix the data or declare the column TEXT",
                self.name,
                self.declared,
                row + 1
            ),
        };
        match (&mut self.values, value) {
            (Values::Int(v), ValueRef::Null) => v.push(None),
            (Values::Float(v), ValueRef::Null) => v.push(None),
            (Values::Text(v), ValueRef::Null) => v.push(None),
            (Values::Bool(v), ValueRef::Null) => v.push(None),
            (Values::Int(v), ValueRef::Integer(i)) => v.push(Some(i)),
            (Values::Float(v), ValueRef::Integer(i)) => v.push(Some(i as f64)),
            (Values::Float(v), ValueRef::Real(f)) => v.push(Some(f)),
            (Values::Int(_), ValueRef::Real(_)) => return Err(misfit("a fractional number")),
            (Values::Text(v), ValueRef::Text(t)) => {
                v.push(Some(String::from_utf8_lossy(t).into_owned()))
            }
            (Values::Text(v), ValueRef::Integer(i)) => v.push(Some(i.to_string())),
            (Values::Text(v), ValueRef::Real(f)) => v.push(Some(f.to_string())),
            (Values::Text(v), ValueRef::Blob(b)) => {
                v.push(Some(b.iter().map(|x| format!("{x:02x}")).collect()))
            }
            (Values::Bool(v), ValueRef::Integer(i)) if i == 0 || i == 1 => v.push(Some(i == 1)),
            (Values::Bool(v), ValueRef::Text(t)) => match t.to_ascii_lowercase().as_slice() {
                b"true" | b"t" | b"1" => v.push(Some(true)),
                b"false" | b"f" | b"0" => v.push(Some(false)),
                _ => return Err(misfit("text that is not true/false")),
            },
            (Values::Bool(_), _) => return Err(misfit("a value that is not 0/1 or true/false")),
            (Values::Int(_) | Values::Float(_), ValueRef::Text(_)) => return Err(misfit("text")),
            (Values::Int(_) | Values::Float(_), ValueRef::Blob(_)) => {
                return Err(misfit("binary data"));
            }
        }
        Ok(())
    }

    fn finish(self) -> Column {
        let name: PlSmallStr = self.name.into();
        match self.values {
            Values::Int(v) => Column::new(name, v),
            Values::Float(v) => Column::new(name, v),
            Values::Text(v) => Column::new(name, v),
            Values::Bool(v) => Column::new(name, v),
        }
    }
}

fn sql_error(path: &Path, what: &str, e: rusqlite::Error) -> DataError {
    DataError::Malformed {
        path: path.to_path_buf(),
        message: format!("{what}: {}", crate::data::privacy::redact(&e.to_string())),
    }
}

/// The tables of the database at `path`, in name order.
pub fn tables(path: &Path) -> Result<Vec<String>> {
    let conn = open(path)?;
    table_names(&conn, path)
}

fn table_names(conn: &Connection, path: &Path) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .map_err(|e| not_a_database(path, e))?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(|e| not_a_database(path, e))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| not_a_database(path, e))?;
    Ok(names)
}

fn not_a_database(path: &Path, e: rusqlite::Error) -> DataError {
    DataError::Malformed {
        path: path.to_path_buf(),
        message: format!(
            "cannot be read as a SQLite database ({}); check the file, or set `format` if it is not SQLite",
            crate::data::privacy::redact(&e.to_string())
        ),
    }
}

fn open(path: &Path) -> Result<Connection> {
    if !path.exists() {
        return Err(DataError::NotFound {
            path: path.to_path_buf(),
        });
    }
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| not_a_database(path, e))
}

/// Reads `table` or the result of `query` from the SQLite database at `path`. With neither,
/// the database's only table, or its `customers` table.
pub fn read(path: &Path, table: Option<&str>, query: Option<&str>) -> Result<DataFrame> {
    read_rows(path, table, query, None)
}

/// A value of a watermark column: the largest an incremental run has read.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Watermark {
    Int(i64),
    Real(f64),
    Text(String),
}

impl Watermark {
    /// The largest value of `column` in `df` (None when it has no value).
    pub fn max_of(df: &DataFrame, column: &str) -> Option<Watermark> {
        let c = df.column(column).ok()?;
        match c.dtype() {
            d if d.is_integer() => c
                .cast(&DataType::Int64)
                .ok()?
                .i64()
                .ok()?
                .max()
                .map(Watermark::Int),
            d if d.is_float() => c.f64().ok()?.max().map(Watermark::Real),
            _ => {
                let s = c.cast(&DataType::String).ok()?;
                s.str()
                    .ok()?
                    .iter()
                    .flatten()
                    .max()
                    .map(|v| Watermark::Text(v.to_string()))
            }
        }
    }

    fn sql(&self) -> rusqlite::types::Value {
        match self {
            Watermark::Int(i) => rusqlite::types::Value::Integer(*i),
            Watermark::Real(f) => rusqlite::types::Value::Real(*f),
            Watermark::Text(t) => rusqlite::types::Value::Text(t.clone()),
        }
    }
}

/// How rows are read in the order of a watermark column: all of them, the first `limit`,
/// or those past a value.
#[derive(Debug, Clone, Copy)]
pub struct Ordered<'a> {
    pub column: &'a str,
    pub after: Option<&'a Watermark>,
    pub limit: Option<usize>,
}

/// [`read`], in the order of a watermark column when `ordered` is given (and only its rows
/// past a value, or its first rows).
pub fn read_rows(
    path: &Path,
    table: Option<&str>,
    query: Option<&str>,
    ordered: Option<Ordered<'_>>,
) -> Result<DataFrame> {
    let conn = open(path)?;
    let sql = match (table, query) {
        (Some(_), Some(_)) => {
            return Err(DataError::Malformed {
                path: path.to_path_buf(),
                message: "both `table` and `query` are given; keep one".into(),
            });
        }
        (None, Some(q)) => q.to_string(),
        (t, None) => {
            let names = table_names(&conn, path)?;
            let chosen = match t {
                Some(t) if names.iter().any(|n| n == t) => t.to_string(),
                Some(t) => {
                    return Err(DataError::Malformed {
                        path: path.to_path_buf(),
                        message: format!(
                            "no table `{t}` (tables: {}); fix `table` (or --table)",
                            list(&names)
                        ),
                    });
                }
                None => match crate::data::sources::file::default_table(&names) {
                    Some(t) => t.to_string(),
                    None => {
                        return Err(DataError::Malformed {
                            path: path.to_path_buf(),
                            message: format!(
                                "holds {} tables ({}); name one with `table` in the workspace or --table",
                                names.len(),
                                list(&names)
                            ),
                        });
                    }
                },
            };
            format!("SELECT * FROM \"{}\"", chosen.replace('"', "\"\""))
        }
    };
    let mut params: Vec<rusqlite::types::Value> = Vec::new();
    let sql = match ordered {
        None => sql,
        Some(o) => {
            let wm = format!("\"{}\"", o.column.replace('"', "\"\""));
            let mut q = format!("SELECT * FROM ({sql}) AS crmlens_rows");
            if let Some(after) = o.after {
                q.push_str(&format!(" WHERE {wm} > ?1"));
                params.push(after.sql());
            }
            q.push_str(&format!(" ORDER BY {wm}"));
            if let Some(n) = o.limit {
                q.push_str(&format!(" LIMIT {n}"));
            }
            q
        }
    };
    let mut stmt = conn
        .prepare(&sql)
        .map_err(|e| sql_error(path, "the query failed", e))?;
    let mut builders: Vec<Builder> = stmt
        .columns()
        .iter()
        .map(|c| Builder::new(c.name().to_string(), c.decl_type()))
        .collect();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params.iter()))
        .map_err(|e| sql_error(path, "the query failed", e))?;
    let mut n = 0;
    while let Some(row) = rows
        .next()
        .map_err(|e| sql_error(path, "reading rows failed", e))?
    {
        for (i, b) in builders.iter_mut().enumerate() {
            let v = row
                .get_ref(i)
                .map_err(|e| sql_error(path, "reading a value failed", e))?;
            b.push(v, n, path)?;
        }
        n += 1;
    }
    let columns: Vec<Column> = builders.into_iter().map(Builder::finish).collect();
    DataFrame::new(n, columns).map_err(|e| DataError::polars(path.display().to_string(), e))
}

/// Writes `df` as table `name` of the SQLite database at `path` (created if missing; an
/// existing table of that name is replaced), in one transaction. Integers, floats, text and
/// booleans keep their types; dates and datetimes are written as ISO text
/// (`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS`). For test fixtures and hand-offs to SQL users.
pub fn write_table(path: &Path, name: &str, df: &DataFrame) -> Result<()> {
    let err = |e: rusqlite::Error| sql_error(path, "writing failed", e);
    let mut conn = Connection::open(path).map_err(|e| not_a_database(path, e))?;
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut decls = Vec::new();
    for c in df.columns() {
        let t = match c.dtype() {
            d if d.is_integer() => "INTEGER",
            d if d.is_float() => "REAL",
            DataType::Boolean => "BOOLEAN",
            DataType::Date => "DATE",
            DataType::Datetime(..) => "DATETIME",
            _ => "TEXT",
        };
        decls.push(format!("{} {t}", quote(c.name())));
    }
    let tx = conn.transaction().map_err(err)?;
    tx.execute_batch(&format!(
        "DROP TABLE IF EXISTS {q}; CREATE TABLE {q} ({});",
        decls.join(", "),
        q = quote(name)
    ))
    .map_err(err)?;
    {
        let marks = vec!["?"; df.width()].join(", ");
        let mut stmt = tx
            .prepare(&format!("INSERT INTO {} VALUES ({marks})", quote(name)))
            .map_err(err)?;
        let columns = df.columns();
        let mut row: Vec<rusqlite::types::Value> = Vec::with_capacity(df.width());
        for i in 0..df.height() {
            row.clear();
            for c in columns {
                use rusqlite::types::Value as V;
                let v = c
                    .get(i)
                    .map_err(|e| DataError::polars(path.display().to_string(), e))?;
                row.push(match v {
                    AnyValue::Null => V::Null,
                    AnyValue::Boolean(b) => V::Integer(b as i64),
                    AnyValue::Int8(x) => V::Integer(x as i64),
                    AnyValue::Int16(x) => V::Integer(x as i64),
                    AnyValue::Int32(x) => V::Integer(x as i64),
                    AnyValue::Int64(x) => V::Integer(x),
                    AnyValue::UInt8(x) => V::Integer(x as i64),
                    AnyValue::UInt16(x) => V::Integer(x as i64),
                    AnyValue::UInt32(x) => V::Integer(x as i64),
                    AnyValue::UInt64(x) => V::Integer(x as i64),
                    AnyValue::Float32(x) => V::Real(x as f64),
                    AnyValue::Float64(x) => V::Real(x),
                    AnyValue::String(s) => V::Text(s.to_string()),
                    AnyValue::StringOwned(s) => V::Text(s.to_string()),
                    AnyValue::Date(d) => V::Text(
                        (chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")
                            + chrono::Duration::days(d as i64))
                        .format("%Y-%m-%d")
                        .to_string(),
                    ),
                    AnyValue::Datetime(t, unit, _) => {
                        let ns = match unit {
                            TimeUnit::Nanoseconds => t,
                            TimeUnit::Microseconds => t * 1_000,
                            TimeUnit::Milliseconds => t * 1_000_000,
                        };
                        let dt = chrono::DateTime::from_timestamp_nanos(ns).naive_utc();
                        V::Text(dt.format("%Y-%m-%dT%H:%M:%S").to_string())
                    }
                    other => V::Text(other.to_string()),
                });
            }
            stmt.execute(rusqlite::params_from_iter(row.iter()))
                .map_err(err)?;
        }
    }
    tx.commit().map_err(err)
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(sql: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(sql).unwrap();
        (dir, path)
    }

    #[test]
    fn declared_types_map_to_polars_types() {
        let (_d, p) = db(
            "CREATE TABLE c (id TEXT, n INTEGER, x REAL, ok BOOLEAN, born DATE, amount NUMERIC);
             INSERT INTO c VALUES ('a', 1, 1.5, 1, '2001-02-03', 10);
             INSERT INTO c VALUES ('b', NULL, 2, 0, NULL, 2.5);
             INSERT INTO c VALUES (NULL, 3, NULL, NULL, '1999-12-31', NULL);",
        );
        let df = read(&p, Some("c"), None).unwrap();
        assert_eq!(df.shape(), (3, 6));
        let dtypes: Vec<DataType> = df.dtypes();
        assert_eq!(
            dtypes,
            vec![
                DataType::String,
                DataType::Int64,
                DataType::Float64,
                DataType::Boolean,
                DataType::String,
                DataType::Float64
            ]
        );
        assert_eq!(df.column("n").unwrap().i64().unwrap().get(1), None);
        assert_eq!(df.column("x").unwrap().f64().unwrap().get(1), Some(2.0));
        assert_eq!(df.column("ok").unwrap().bool().unwrap().get(0), Some(true));
        assert_eq!(
            df.column("born").unwrap().str().unwrap().get(0),
            Some("2001-02-03")
        );
        // NUMERIC with an integer then a fraction: floats.
        assert_eq!(
            df.column("amount").unwrap().f64().unwrap().get(0),
            Some(10.0)
        );
        assert_eq!(df.column("id").unwrap().str().unwrap().get(2), None);
    }

    #[test]
    fn a_query_infers_its_expressions_and_the_only_table_is_the_default() {
        let (_d, p) = db("CREATE TABLE o (c TEXT, q INTEGER, p REAL);
             INSERT INTO o VALUES ('a', 2, 1.25), ('a', 1, 4.0), ('b', 3, 1.0);");
        let df = read(
            &p,
            None,
            Some("SELECT c, SUM(q) AS items, SUM(q * p) AS spend, COUNT(*) || ' lines' AS note FROM o GROUP BY c ORDER BY c"),
        )
        .unwrap();
        assert_eq!(df.column("items").unwrap().dtype(), &DataType::Int64);
        assert_eq!(df.column("spend").unwrap().f64().unwrap().get(0), Some(6.5));
        assert_eq!(
            df.column("note").unwrap().str().unwrap().get(1),
            Some("1 lines")
        );
        let all = read(&p, None, None).unwrap();
        assert_eq!(all.shape(), (3, 3));
    }

    #[test]
    fn bad_tables_queries_values_and_files_are_named() {
        let (_d, p) = db("CREATE TABLE a (n INTEGER); CREATE TABLE b (n INTEGER);
             INSERT INTO a VALUES (1), ('seven');");
        let msg = read(&p, Some("nope"), None).unwrap_err().to_string();
        assert!(msg.contains("no table `nope` (tables: a, b)"), "{msg}");
        let msg = read(&p, None, None).unwrap_err().to_string();
        assert!(msg.contains("holds 2 tables (a, b)"), "{msg}");
        let msg = read(&p, None, Some("SELECT nothere FROM a"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("the query failed") && msg.contains("nothere"),
            "{msg}"
        );
        let msg = read(&p, Some("a"), None).unwrap_err().to_string();
        assert!(
            msg.contains("column `n` is declared INTEGER but row 2 holds text"),
            "{msg}"
        );
        let dir = tempfile::tempdir().unwrap();
        let not_db = dir.path().join("x.sqlite");
        std::fs::write(&not_db, "id,name\n1,a\n").unwrap();
        let msg = read(&not_db, None, None).unwrap_err().to_string();
        assert!(msg.contains("cannot be read as a SQLite database"), "{msg}");
        let msg = read(&dir.path().join("gone.db"), None, None)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("file not found"), "{msg}");
    }
}
