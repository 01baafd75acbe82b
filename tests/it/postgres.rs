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
