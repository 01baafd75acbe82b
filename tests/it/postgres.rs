//! PostgreSQL sources against a real server: `.ci/run` starts a throwaway one (see
//! `.ci/postgres.sh`) and sets CRMLENS_TEST_PG_URL and CRMLENS_REQUIRE_PG; without a server
//! these tests say so and pass, except when CRMLENS_REQUIRE_PG is set (in CI skipping is a
//! failure).

use crmlens::data::integrate::integrate;
use crmlens::data::postgres::{connect, write_table};
use crmlens::progress::Progress;

use crate::cli::assert_user_error;
use crate::sqlite::{assert_same_360, copy_sample};
use crate::{crmlens, sample_dir, stderr, stdout};

/// The test server's URL, or None (and a note) when there is none and none is required.
fn server() -> Option<String> {
    match std::env::var("CRMLENS_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var_os("CRMLENS_REQUIRE_PG").is_none(),
                "CRMLENS_REQUIRE_PG is set but CRMLENS_TEST_PG_URL is not: the database tests must run against a server (source .ci/postgres.sh)"
            );
            eprintln!("no PostgreSQL test server: `source .ci/postgres.sh` to run these tests");
            None
        }
    }
}

/// A fresh schema for one test, holding the sample's four sources as tables.
fn load_sample(
    url: &str,
    schema: &str,
) -> (
    crmlens::data::workspace::Workspace,
    crmlens::data::workspace::Workspace,
) {
    let mut client = connect(url).unwrap();
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .unwrap();
    let url = url.to_string();
    copy_sample(
        |role, df| write_table(&mut client, &format!("{schema}.{role}"), df).unwrap(),
        |src, role| {
            src.path = Default::default();
            src.url = Some(url.clone());
            src.table = Some(format!("{schema}.{role}"));
        },
    )
}

#[test]
fn the_360_table_from_postgres_equals_the_one_from_the_files() {
    let Some(url) = server() else { return };
    let schema = format!("t360_{}", std::process::id());
    let (files, ws) = load_sample(&url, &schema);
    let a = integrate(&files, &Progress::new()).unwrap();
    let b = integrate(&ws, &Progress::new()).unwrap();
    assert_same_360(&a, &b);
    assert!(
        b.report.sources.iter().all(|s| s.format == "postgres"),
        "{:?}",
        b.report.sources
    );

    // Headless, from a saved workspace file: the URL is kept, no path is written.
    let dir = tempfile::tempdir().unwrap();
    let mut saved = ws.clone();
    saved.base_dir = dir.path().to_path_buf();
    saved.save(&dir.path().join("pg.toml")).unwrap();
    let text = std::fs::read_to_string(dir.path().join("pg.toml")).unwrap();
    assert!(
        text.contains("url = ") && !text.contains("path = "),
        "{text}"
    );
    let o = crmlens(
        dir.path(),
        &["integrate", "-w", "pg.toml", "--out", "c360.csv"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let back = crmlens::data::source::read_frame(&dir.path().join("c360.csv"), &Default::default())
        .unwrap();
    assert_eq!(back.height(), a.table.height());
    let mut client = connect(&url).unwrap();
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();
}

#[test]
fn profile_reads_a_table_or_a_query_and_errors_carry_the_servers_text() {
    let Some(url) = server() else { return };
    let schema = format!("tprof_{}", std::process::id());
    load_sample(&url, &schema);
    let dir = sample_dir();
    let table = format!("{schema}.orders");
    let o = crmlens(
        &dir,
        &["profile", "--source", &url, "--table", &table, "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let orders =
        crmlens::data::source::read_frame(&sample_dir().join("orders.csv"), &Default::default())
            .unwrap();
    assert_eq!(
        v["files"][0]["rows"].as_u64(),
        Some(orders.height() as u64),
        "{v}"
    );
    assert_eq!(v["files"][0]["format"].as_str(), Some("postgres"), "{v}");

    let q = format!(
        "SELECT customer_id, count(*) AS lines, sum(quantity * unit_price) AS spend FROM {schema}.orders GROUP BY customer_id"
    );
    let o = crmlens(
        &dir,
        &["profile", "--source", &url, "--query", &q, "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let distinct = orders.column("customer_id").unwrap().n_unique().unwrap();
    assert_eq!(v["files"][0]["rows"].as_u64(), Some(distinct as u64));

    // A missing table and a bad query: one line with the server's own words.
    let o = crmlens(
        &dir,
        &["profile", "--source", &url, "--table", "nosuch.orders"],
    );
    assert_user_error(&o, &["cannot read the table", "does not exist"]);
    let o = crmlens(&dir, &["profile", "--source", &url, "--query", "SELEC 1"]);
    assert_user_error(&o, &["the query failed", "syntax error"]);
    // A password in the URL never reaches the output.
    let with_password = url.replacen(
        "postgres://crmlens@",
        "postgres://crmlens:hunter2hunter2@",
        1,
    );
    let o = crmlens(
        &dir,
        &["profile", "--source", &with_password, "--table", "nosuch.t"],
    );
    assert_user_error(&o, &["crmlens:***@"]);
    assert!(!stderr(&o).contains("hunter2"), "{}", stderr(&o));
    let mut client = connect(&url).unwrap();
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();
}

/// Every mapped type arrives with its polars type and value; a type without a mapping is
/// read as text with a note.
#[test]
fn postgres_types_map_to_polars_types() {
    use polars::prelude::{DataType, TimeUnit};
    let Some(url) = server() else { return };
    let q = "SELECT 7::smallint AS s, 70000::int AS i, 5000000000::bigint AS b, 1.25::numeric(10,2) AS n, \
             2.5::real AS r, 0.1::double precision AS d, true AS t, NULL::boolean AS nb, 'x,\"y\"'::text AS tx, \
             'abc'::varchar(5) AS v, date '2024-02-29' AS dt, timestamp '2024-01-02 03:04:05.25' AS ts, \
             timestamptz '2024-01-02 03:04:05+02' AS tz, '6f1c3a7e-0000-4000-8000-000000000001'::uuid AS u, \
             point(1, 2) AS p, NULL::int AS ni";
    let (df, notes) = crmlens::data::postgres::read_noted(&url, None, Some(q)).unwrap();
    let dtype = |c: &str| df.column(c).unwrap().dtype().clone();
    for c in ["s", "i", "b", "ni"] {
        assert_eq!(dtype(c), DataType::Int64, "{c}");
    }
    for c in ["n", "r", "d"] {
        assert_eq!(dtype(c), DataType::Float64, "{c}");
    }
    assert_eq!(dtype("t"), DataType::Boolean);
    assert_eq!(dtype("dt"), DataType::Date);
    assert_eq!(
        dtype("ts"),
        DataType::Datetime(TimeUnit::Microseconds, None)
    );
    assert_eq!(
        dtype("tz"),
        DataType::Datetime(TimeUnit::Microseconds, None)
    );
    let row = |c: &str| format!("{}", df.column(c).unwrap().get(0).unwrap());
    assert_eq!(row("b"), "5000000000");
    assert_eq!(row("n"), "1.25");
    assert_eq!(row("t"), "true");
    assert_eq!(row("nb"), "null");
    assert_eq!(row("tx"), "\"x,\"y\"\"");
    assert_eq!(row("dt"), "2024-02-29");
    assert_eq!(row("ts"), "2024-01-02 03:04:05.250");
    // 03:04:05 at +02 is 01:04:05 UTC.
    assert_eq!(row("tz"), "2024-01-02 01:04:05");
    assert_eq!(row("u"), "\"6f1c3a7e-0000-4000-8000-000000000001\"");
    assert_eq!(row("p"), "\"(1,2)\"");
    assert_eq!(row("ni"), "null");
    assert_eq!(
        notes,
        vec!["column `p` has type point, read as text".to_string()]
    );
}
