//! SQLite sources: the sample data copied into a SQLite database integrates to the same
//! customer-360 table, row for row, as the files; profile reads a table or a query; bad
//! tables and queries are one line.

use crmlens::data::integrate::integrate;
use crmlens::data::sources::file::{ReadOptions, read_frame};
use crmlens::data::sources::sqlite::write_table;
use crmlens::data::sources::workspace::Workspace;
use crmlens::progress::Progress;
use polars::prelude::DataType;

use crate::cli::assert_user_error;
use crate::fixtures::{sample_360, sample_workspace};
use crate::{crmlens, sample_dir, stderr, stdout};

/// The sample workspace (as read), and a copy of it whose sources are database tables:
/// `write(role, frame)` stores each source's frame, `point(source, role)` points the source
/// at its table. Dates and datetimes get ISO formats in `dates`, as databases without those
/// types hand them over as text.
pub(crate) fn copy_sample(
    mut write: impl FnMut(&str, &mut polars::prelude::DataFrame),
    point: impl Fn(&mut crmlens::data::sources::workspace::SourceConfig, &str),
) -> (Workspace, Workspace) {
    let files = Workspace::load(&sample_dir().join("crmlens.toml")).unwrap();
    let mut ws = files.clone();
    let mut copy = |role: &str, src: &mut crmlens::data::sources::workspace::SourceConfig| {
        let opts = ReadOptions {
            format: src.format.clone(),
            delimiter: src.delimiter.clone(),
            schema: src.schema.clone(),
            // Dates copied as written, for the integration to parse as it parses the files.
            keep_date_text: true,
            ..Default::default()
        };
        let mut df = read_frame(&files.resolve(src), &opts).unwrap();
        write(role, &mut df);
        for c in df.columns() {
            let format = match c.dtype() {
                DataType::Date => "%Y-%m-%d",
                DataType::Datetime(..) => "%Y-%m-%dT%H:%M:%S",
                _ => continue,
            };
            src.dates
                .entry(c.name().to_string())
                .or_insert_with(|| vec![format.into()]);
        }
        src.format = None;
        src.delimiter = None;
        point(src, role);
    };
    copy("customers", &mut ws.sources.customers);
    for (role, s) in [
        ("orders", ws.sources.orders.as_mut()),
        ("tickets", ws.sources.tickets.as_mut()),
        ("sessions", ws.sources.sessions.as_mut()),
    ] {
        copy(role, s.unwrap());
    }
    (files, ws)
}

/// The sample workspace with every source copied into one SQLite file (a table per role),
/// saved beside it as `sqlite.toml`.
fn sqlite_workspace(dir: &std::path::Path) -> (Workspace, Workspace) {
    let db = dir.join("crm.sqlite");
    let (files, mut ws) = copy_sample(
        |role, df| write_table(&db, role, df).unwrap(),
        |src, role| {
            src.path = db.clone();
            src.table = Some(role.to_string());
        },
    );
    ws.base_dir = dir.to_path_buf();
    ws.save(&dir.join("sqlite.toml")).unwrap();
    (files, ws)
}

/// Asserts two 360 tables are equal, column by column, with the same cleaning steps.
pub(crate) fn assert_same_360(
    a: &crmlens::data::integrate::Customer360,
    b: &crmlens::data::integrate::Customer360,
) {
    assert_same_360_within(a, b, 0.0);
}

/// [`assert_same_360`], floats within `rel` relative (an engine that sums in another order).
pub(crate) fn assert_same_360_within(
    a: &crmlens::data::integrate::Customer360,
    b: &crmlens::data::integrate::Customer360,
    rel: f64,
) {
    assert_eq!(a.table.shape(), b.table.shape());
    assert_eq!(a.table.get_column_names(), b.table.get_column_names());
    for (x, y) in a.table.columns().iter().zip(b.table.columns()) {
        assert_eq!(x.dtype(), y.dtype(), "{}", x.name());
        if rel > 0.0 && x.dtype() == &DataType::Float64 {
            let (xs, ys) = (x.f64().unwrap(), y.f64().unwrap());
            for (i, (p, q)) in xs.iter().zip(ys.iter()).enumerate() {
                match (p, q) {
                    (Some(p), Some(q)) => assert!(
                        (p - q).abs() <= rel * p.abs().max(q.abs()),
                        "column {} row {i}: {p} vs {q}",
                        x.name()
                    ),
                    (p, q) => assert_eq!(p, q, "column {} row {i}", x.name()),
                }
            }
            continue;
        }
        let (xs, ys) = (x.as_materialized_series(), y.as_materialized_series());
        if !xs.equals_missing(ys) {
            let at = (0..xs.len())
                .find(|&i| xs.get(i).ok() != ys.get(i).ok())
                .unwrap_or(0);
            panic!(
                "column {} differs first at row {at}: {:?} vs {:?}",
                x.name(),
                xs.get(at),
                ys.get(at)
            );
        }
    }
    let steps = |r: &crmlens::data::integrate::quality::QualityReport| {
        r.steps
            .iter()
            .map(|s| (s.source.clone(), s.step.clone(), s.rows_in, s.rows_out))
            .collect::<Vec<_>>()
    };
    assert_eq!(steps(&a.report), steps(&b.report));
}

#[test]
fn the_360_table_from_sqlite_equals_the_one_from_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let (files, ws) = sqlite_workspace(dir.path());
    // The files' 360 table: the sample workspace as read, integrated once per test process.
    assert_eq!(files, Workspace::load(&sample_workspace()).unwrap());
    let a = sample_360();
    let b = integrate(&ws, &Progress::new()).unwrap();
    assert_same_360(&a, &b);
    assert!(
        b.report.sources.iter().all(|s| s.format == "sqlite"),
        "{:?}",
        b.report.sources
    );

    // Headless, from the saved workspace file.
    let o = crmlens(
        dir.path(),
        &["integrate", "-w", "sqlite.toml", "--out", "c360.csv"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join("c360.csv").exists());
}

#[test]
fn profile_reads_a_table_or_a_query_and_names_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    sqlite_workspace(dir.path());
    let o = crmlens(
        dir.path(),
        &["profile", "crm.sqlite", "--table", "orders", "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let orders = read_frame(&sample_dir().join("orders.csv"), &Default::default()).unwrap();
    assert_eq!(
        v["files"][0]["rows"].as_u64(),
        Some(orders.height() as u64),
        "{v}"
    );
    let o = crmlens(
        dir.path(),
        &[
            "profile",
            "crm.sqlite",
            "--query",
            "SELECT customer_id, COUNT(*) AS lines FROM orders GROUP BY customer_id",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let distinct = orders.column("customer_id").unwrap().n_unique().unwrap();
    assert_eq!(v["files"][0]["rows"].as_u64(), Some(distinct as u64));

    let o = crmlens(dir.path(), &["profile", "crm.sqlite", "--table", "order"]);
    assert_user_error(
        &o,
        &[
            "crm.sqlite",
            "no table `order`",
            "customers, orders, sessions, tickets",
        ],
    );
    let o = crmlens(
        dir.path(),
        &["profile", "crm.sqlite", "--query", "SELEC * FROM orders"],
    );
    assert_user_error(&o, &["crm.sqlite", "the query failed", "SELEC"]);
}
