//! PostgreSQL sources against a real server: `.ci/run` starts a throwaway one (see
//! `.ci/postgres.sh`) and sets CRMLENS_TEST_PG_URL and CRMLENS_REQUIRE_PG; without a server
//! these tests say so and pass, except when CRMLENS_REQUIRE_PG is set (in CI skipping is a
//! failure).

use std::time::{Duration, Instant};

use crmlens::data::integrate::integrate;
use crmlens::data::sources::postgres::{
    ReadSettings, TlsUse, connect, connect_with, read_with, write_table,
};
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
    crmlens::data::sources::workspace::Workspace,
    crmlens::data::sources::workspace::Workspace,
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
    // The sample's [identity] list is a file, not in the database: left out here.
    saved.identity.clear();
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
    let back =
        crmlens::data::sources::file::read_frame(&dir.path().join("c360.csv"), &Default::default())
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
    let orders = crmlens::data::sources::file::read_frame(
        &sample_dir().join("orders.csv"),
        &Default::default(),
    )
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
    let (df, notes) = crmlens::data::sources::postgres::read_noted(&url, None, Some(q)).unwrap();
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
    // (The test server has TLS, so the connection may also be noted as unverified.)
    let notes: Vec<&String> = notes.iter().filter(|n| n.starts_with("column")).collect();
    assert_eq!(notes, vec!["column `p` has type point, read as text"]);
}

/// The test server's TLS setup: (URL of the TLS-only user `crmlens_tls`, the CA's PEM, a CA
/// that signed nothing), or None when the server has no TLS and none is required.
fn tls_server() -> Option<(String, String, String)> {
    let url = server()?;
    match (
        std::env::var("CRMLENS_TEST_PG_CA"),
        std::env::var("CRMLENS_TEST_PG_OTHER_CA"),
    ) {
        (Ok(ca), Ok(other)) if !ca.is_empty() && !other.is_empty() => Some((
            url.replacen("postgres://crmlens@", "postgres://crmlens_tls@", 1),
            ca,
            other,
        )),
        _ => {
            assert!(
                std::env::var_os("CRMLENS_REQUIRE_PG").is_none(),
                "CRMLENS_REQUIRE_PG is set but CRMLENS_TEST_PG_CA is not: the TLS tests need the server of .ci/postgres.sh (with openssl)"
            );
            eprintln!("the PostgreSQL test server has no TLS: the TLS tests did not run");
            None
        }
    }
}

/// `url` with `params` added to its query string.
fn with(url: &str, params: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
}

/// No PG* variables and no HOME: everything comes from the URL (tests run in parallel threads,
/// so none of them changes the process's environment).
fn no_env(_: &str) -> Option<String> {
    None
}

fn settings<'a>() -> ReadSettings<'a> {
    ReadSettings {
        env: Some(&no_env),
        ..Default::default()
    }
}

/// What the server says about this connection's TLS.
fn server_sees_ssl(url: &str) -> bool {
    let mut c = connect_with(url, &no_env).unwrap();
    c.client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0)
}

#[test]
fn a_tls_only_user_reads_over_tls_by_default_and_unverified_tls_is_noted() {
    let Some((url, ca, _)) = tls_server() else {
        return;
    };
    let table = format!("tls_read_{}", std::process::id());
    let mut c = connect_with(&url, &no_env).unwrap();
    assert_eq!(c.tls, TlsUse::Unverified);
    c.client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} AS SELECT i AS id, 'n' || i AS name FROM generate_series(1, 1000) AS i"
        ))
        .unwrap();
    drop(c);
    // The default sslmode (prefer): TLS, as the server confirms.
    assert!(server_sees_ssl(&url));
    let (df, notes) = read_with(&url, Some(&table), None, &settings()).unwrap();
    assert_eq!(df.height(), 1000);
    assert_eq!(
        notes,
        vec![
            "TLS without certificate verification (sslmode=prefer); use sslmode=verify-full with sslrootcert to check the server"
                .to_string()
        ]
    );
    // require: TLS or nothing, still unverified without a root certificate, and noted.
    let (_, notes) = read_with(
        &with(&url, "sslmode=require"),
        Some(&table),
        None,
        &settings(),
    )
    .unwrap();
    assert!(
        notes.iter().any(|n| n.starts_with(
            "TLS without certificate verification (sslmode=require); use sslmode=verify-full"
        )),
        "{notes:?}"
    );
    // allow: plain first; the server refuses it for this user, so TLS.
    assert!(server_sees_ssl(&with(&url, "sslmode=allow")));
    // ...and for a user allowed either way, allow stays plain (no note).
    let plain_user = server().unwrap();
    assert!(!server_sees_ssl(&with(&plain_user, "sslmode=allow")));
    let (_, notes) = read_with(
        &with(&plain_user, "sslmode=allow"),
        Some(&table),
        None,
        &settings(),
    )
    .unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    // With a root certificate the chain is checked (as libpq does under require): no note.
    let verified = with(&url, &format!("sslmode=require&sslrootcert={ca}"));
    assert_eq!(
        connect_with(&verified, &no_env).unwrap().tls,
        TlsUse::Verified
    );
    let (_, notes) = read_with(&verified, Some(&table), None, &settings()).unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    // Through a source scan the note lands in the source's notes (the quality report's).
    let opts = crmlens::data::sources::file::ReadOptions {
        url: Some(with(&url, "sslmode=require")),
        table: Some(table.clone()),
        ..Default::default()
    };
    let scanned = crmlens::data::sources::file::scan(std::path::Path::new("pg"), &opts).unwrap();
    assert!(
        scanned.notes.iter().any(|n| n.contains("sslmode=require")),
        "{:?}",
        scanned.notes
    );
    connect(&server().unwrap())
        .unwrap()
        .batch_execute(&format!("DROP TABLE {table}"))
        .unwrap();
}

#[test]
fn sslmode_disable_against_a_tls_only_user_is_one_line_with_the_servers_words() {
    let Some((url, _, _)) = tls_server() else {
        return;
    };
    let plain = with(&url, "sslmode=disable");
    let msg = read_with(&plain, Some("t"), None, &settings())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("cannot connect") && msg.contains("pg_hba.conf rejects connection"),
        "{msg}"
    );
    assert!(
        msg.contains("no encryption") && !msg.contains('\n'),
        "{msg}"
    );
    // The CLI: one error line, exit 2, password masked.
    let secret = plain.replacen("crmlens_tls@", "crmlens_tls:hunter2hunter2@", 1);
    let o = crmlens(
        &sample_dir(),
        &["profile", "--source", &secret, "--table", "t"],
    );
    assert_user_error(
        &o,
        &[
            "crmlens_tls:***@",
            "cannot connect",
            "pg_hba.conf rejects connection",
        ],
    );
    assert!(!stderr(&o).contains("hunter2"), "{}", stderr(&o));
}

#[test]
fn verify_full_and_verify_ca_check_the_certificate() {
    let Some((url, ca, other_ca)) = tls_server() else {
        return;
    };
    let localhost = url.replacen("@127.0.0.1:", "@localhost:", 1);
    let ok = |u: &str| {
        let c = connect_with(u, &no_env).unwrap_or_else(|e| panic!("{u}: {e}"));
        assert_eq!(c.tls, TlsUse::Verified, "{u}");
        let (df, notes) = read_with(u, None, Some("SELECT 1 AS one"), &settings()).unwrap();
        assert_eq!(df.height(), 1);
        assert!(notes.is_empty(), "{notes:?}");
    };
    let fails = |u: &str, needles: &[&str]| {
        let msg = read_with(u, None, Some("SELECT 1"), &settings())
            .unwrap_err()
            .to_string();
        assert!(!msg.contains('\n'), "{msg}");
        for n in needles {
            assert!(msg.contains(n), "`{n}` missing from: {msg}");
        }
    };
    // The host name (localhost) and the address (127.0.0.1) are both in the certificate.
    ok(&with(
        &localhost,
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ));
    ok(&with(
        &url,
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ));
    ok(&with(&url, &format!("sslmode=verify-ca&sslrootcert={ca}")));
    assert!(server_sees_ssl(&with(
        &url,
        &format!("sslmode=verify-full&sslrootcert={ca}")
    )));
    // A name the certificate does not hold (reaching the same address through hostaddr):
    // verify-ca does not look at it, verify-full refuses.
    let wrong_name = url.replacen("@127.0.0.1:", "@db.invalid:", 1);
    let wrong_name = with(&wrong_name, "hostaddr=127.0.0.1");
    ok(&with(
        &wrong_name,
        &format!("sslmode=verify-ca&sslrootcert={ca}"),
    ));
    fails(
        &with(
            &wrong_name,
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
        &[
            "cannot connect",
            "certificate not valid for name \"db.invalid\"",
        ],
    );
    // Another CA: a certificate error, for every mode that has a root certificate (a root
    // certificate turns verification on under require too, as in libpq).
    for mode in ["verify-full", "verify-ca", "require"] {
        fails(
            &with(&url, &format!("sslmode={mode}&sslrootcert={other_ca}")),
            &[
                "cannot connect",
                "invalid peer certificate",
                "UnknownIssuer",
            ],
        );
    }
    // prefer falls back to plain when TLS fails; this user is refused plain, so both
    // failures are in the line.
    fails(
        &with(&url, &format!("sslmode=prefer&sslrootcert={other_ca}")),
        &[
            "UnknownIssuer",
            "without TLS",
            "pg_hba.conf rejects connection",
        ],
    );
    // ...while a user allowed plain connects without TLS.
    let plain_user = server().unwrap();
    let c = connect_with(
        &with(
            &plain_user,
            &format!("sslmode=prefer&sslrootcert={other_ca}"),
        ),
        &no_env,
    )
    .unwrap();
    assert_eq!(c.tls, TlsUse::Plain);
    // No root certificate: one line naming what to give.
    fails(
        &with(&url, "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"),
        &[
            "TLS: sslmode=verify-full",
            "\"/nonexistent/ca.pem\" does not exist",
            "sslrootcert=PATH",
        ],
    );
    let home = tempfile::tempdir().unwrap();
    let home_s = home.path().to_string_lossy().to_string();
    let env = |k: &str| (k == "HOME").then(|| home_s.clone());
    let msg = read_with(
        &with(&url, "sslmode=verify-full"),
        None,
        Some("SELECT 1"),
        &ReadSettings {
            env: Some(&env),
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        msg.contains(".postgresql/root.crt\" does not exist") && msg.contains("PGSSLROOTCERT"),
        "{msg}"
    );
    // ~/.postgresql/root.crt is the default root certificate.
    std::fs::create_dir(home.path().join(".postgresql")).unwrap();
    std::fs::copy(&ca, home.path().join(".postgresql/root.crt")).unwrap();
    let c = connect_with(&with(&localhost, "sslmode=verify-full"), &env).unwrap();
    assert_eq!(c.tls, TlsUse::Verified);
    // PGSSLMODE and PGSSLROOTCERT, below the URL's own parameters.
    let env2 = |k: &str| match k {
        "PGSSLMODE" => Some("verify-full".to_string()),
        "PGSSLROOTCERT" => Some(other_ca.clone()),
        _ => None,
    };
    assert!(connect_with(&localhost, &env2).is_err());
    let c = connect_with(&with(&localhost, &format!("sslrootcert={ca}")), &env2).unwrap();
    assert_eq!(c.tls, TlsUse::Verified);
    // The CLI: one error line, exit 2.
    let o = crmlens(
        &sample_dir(),
        &[
            "profile",
            "--source",
            &with(&url, &format!("sslmode=verify-full&sslrootcert={other_ca}")),
            "--query",
            "SELECT 1",
        ],
    );
    assert_user_error(&o, &["cannot connect", "UnknownIssuer"]);
}

/// A server that answers the TLS request with no: require fails with one clear line, prefer
/// goes on without TLS (this fake server then hangs up).
#[test]
fn require_fails_when_the_server_refuses_tls() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        for _ in 0..2 {
            let (mut s, _) = listener.accept().unwrap();
            let mut req = [0u8; 8];
            s.read_exact(&mut req).unwrap();
            // SSLRequest: length 8, code 80877103.
            assert_eq!(req, [0, 0, 0, 8, 4, 210, 22, 47]);
            s.write_all(b"N").unwrap();
        }
    });
    let url = format!("postgres://ann:topsecret@127.0.0.1:{port}/crm");
    let msg = read_with(&with(&url, "sslmode=require"), Some("t"), None, &settings())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("cannot connect") && msg.contains("server does not support TLS"),
        "{msg}"
    );
    assert!(!msg.contains("topsecret") && !msg.contains('\n'), "{msg}");
    let msg = read_with(&with(&url, "sslmode=prefer"), Some("t"), None, &settings())
        .unwrap_err()
        .to_string();
    assert!(!msg.contains("does not support TLS"), "{msg}");
    server.join().unwrap();
}

#[test]
fn small_batches_split_only_at_row_ends() {
    let Some(url) = server() else { return };
    // Fields with newlines, quotes and commas, which COPY quotes.
    let q = "SELECT i, 'line ' || i || E'\\nsecond \"' || i || E'\",\\n' AS t, i * 0.5 AS f \
             FROM generate_series(1, 20000) AS i";
    let (whole, _) = read_with(&url, None, Some(q), &settings()).unwrap();
    let (batched, _) = read_with(
        &url,
        None,
        Some(q),
        &ReadSettings {
            env: Some(&no_env),
            batch_bytes: Some(1000),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(whole.height(), 20000);
    assert!(batched.equals_missing(&whole));
    assert!(
        batched
            .column("t")
            .unwrap()
            .as_materialized_series()
            .n_chunks()
            > 100,
        "the batches are parsed apart"
    );
    let t = format!("{}", batched.column("t").unwrap().get(6).unwrap());
    assert_eq!(t, "\"line 7\nsecond \"7\",\n\"");
}

/// A cancel stops a read promptly with "cancelled", whether the rows are streaming or the
/// server is still working on the first one, and the server stops the query.
#[test]
fn a_cancel_stops_a_read_promptly_and_the_server_stays_usable() {
    let Some(url) = server() else { return };
    let tag = format!("cancel_probe_{}", std::process::id());
    let q = format!(
        "SELECT i, md5(i::text) AS h, '{tag}' AS tag FROM generate_series(1, 2000000) AS i"
    );
    // Before the read: nothing is asked of the server.
    let p = Progress::new();
    p.cancel();
    let e = read_with(
        &url,
        None,
        Some(&q),
        &ReadSettings {
            cancel: Some(&p),
            env: Some(&no_env),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "cancelled");

    // The whole read, for comparison.
    let started = Instant::now();
    let (df, _) = read_with(&url, None, Some(&q), &settings()).unwrap();
    let full = started.elapsed();
    assert_eq!(df.height(), 2_000_000);
    drop(df);

    // While the rows stream: cancelled once the first MB has arrived.
    let p = Progress::new();
    let started = Instant::now();
    let watcher = {
        let p = p.clone();
        std::thread::spawn(move || {
            while !p.snapshot().2.starts_with("reading ") {
                if started.elapsed() > Duration::from_secs(60) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            p.cancel();
        })
    };
    let e = read_with(
        &url,
        None,
        Some(&q),
        &ReadSettings {
            cancel: Some(&p),
            env: Some(&no_env),
            ..Default::default()
        },
    )
    .unwrap_err();
    let cancelled = started.elapsed();
    watcher.join().unwrap();
    eprintln!("whole read {full:?}, cancelled read {cancelled:?}");
    assert_eq!(e.to_string(), "cancelled");
    assert!(
        cancelled < full,
        "the cancelled read took {cancelled:?}, the whole read {full:?}"
    );

    // While the server works on the first row (the reader is blocked waiting for it).
    let p = Progress::new();
    let started = Instant::now();
    let canceller = {
        let p = p.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            p.cancel();
        })
    };
    let slow = format!("SELECT pg_sleep(30) AS s, '{tag}' AS tag");
    let e = read_with(
        &url,
        None,
        Some(&slow),
        &ReadSettings {
            cancel: Some(&p),
            env: Some(&no_env),
            ..Default::default()
        },
    )
    .unwrap_err();
    canceller.join().unwrap();
    assert_eq!(e.to_string(), "cancelled");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );

    // No backend is left running either query, and the server still answers.
    let mut c = connect(&url).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE $1",
                &[&format!("COPY%{tag}%")],
            )
            .unwrap()
            .get(0);
        if left == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{left} backends still run the query"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (df, _) = read_with(&url, None, Some("SELECT 1 AS one"), &settings()).unwrap();
    assert_eq!(df.height(), 1);
}

/// The workbench on a PostgreSQL URL without a table: the source picker lists the
/// database's tables, Enter reads one; a missing table is the server's own words in the
/// panel, the password never on screen, and the table read before stays.
#[test]
fn the_workbench_lists_a_databases_tables_and_opens_one() {
    use crmlens::app::State;
    use crmlens::app::sources::Target;
    use crmlens::app::state::Overlay;
    use crossterm::event::KeyCode;

    use crate::ui::{key, run_commands};

    let Some(url) = server() else { return };
    load_sample(&url, "picker");
    // The server trusts local users, so any password passes; it must never be shown.
    let secret = url.replacen("postgres://crmlens@", "postgres://crmlens:sekr1t@", 1);
    assert_ne!(secret, url);
    let mut s = State::new("pg".into());
    let cmds = s.load(Target::parse(&secret, None).request());
    run_commands(&mut s, cmds);
    assert!(s.table.is_none());
    assert_eq!(s.overlay, Some(Overlay::Sources), "{:?}", s.error);
    let tables = crate::sources::listed_tables(&s);
    for role in ["customers", "orders", "tickets", "sessions"] {
        assert!(
            tables
                .iter()
                .any(|t| t.ends_with(&format!("table picker.{role}"))),
            "{role}: {tables:?}"
        );
    }
    crate::sources::select(&mut s, "table", "table picker.orders");
    key(&mut s, KeyCode::Enter);
    let orders = crmlens::data::sources::file::read_frame(
        &sample_dir().join("orders.csv"),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(
        s.table.as_ref().unwrap().height(),
        orders.height(),
        "{:?}",
        s.error
    );
    let screen = crate::ui::draw(&s, 140, 30);
    assert!(screen.contains("table picker.orders"), "{screen}");
    assert!(!screen.contains("sekr1t"), "{screen}");

    // A table that is not there: the panel has the server's words, the orders stay.
    let cmds = s.load(Target::parse(&secret, Some("picker.nope".into())).request());
    run_commands(&mut s, cmds);
    let Some(Overlay::LoadFailed(msg)) = s.overlay.clone() else {
        panic!("{:?}", s.overlay)
    };
    assert!(msg.contains("does not exist"), "{msg}");
    assert!(!msg.contains("sekr1t"), "{msg}");
    assert_eq!(s.table.as_ref().unwrap().height(), orders.height());
    let screen = crate::ui::draw(&s, 140, 30);
    assert!(!screen.contains("sekr1t"), "{screen}");
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::Char('o'));
    let screen = crate::ui::draw(&s, 140, 40);
    assert!(screen.contains("failed: "), "{screen}");
    assert!(!screen.contains("sekr1t"), "{screen}");
}

/// The CDNOW log (real) in a fresh schema: `all_lines` with an increasing `line_no`, and
/// `orders` holding its first half; the log's own workspace reading its orders from `orders`
/// with `line_no` as the `watermark`. Returns the workspace, a client, and the line counts.
fn cdnow_half_in_postgres(
    url: &str,
    schema: &str,
) -> (
    crmlens::data::sources::workspace::Workspace,
    postgres::Client,
    usize,
    usize,
) {
    let log = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/real/cdnow/cdnow_transactions.csv");
    let mut df = crmlens::data::sources::file::read_frame(&log, &Default::default()).unwrap();
    let n = df.height();
    df.with_column(polars::prelude::Column::new(
        "line_no".into(),
        (1..=n as i64).collect::<Vec<i64>>(),
    ))
    .unwrap();
    let mut client = connect(url).unwrap();
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .unwrap();
    write_table(&mut client, &format!("{schema}.all_lines"), &mut df).unwrap();
    let half = n / 2;
    client
        .batch_execute(&format!(
            "CREATE TABLE {schema}.orders AS SELECT * FROM {schema}.all_lines WHERE line_no <= {half}"
        ))
        .unwrap();
    // The log's own workspace, its lines read from the database.
    let (mut ws, _) =
        crmlens::data::integrate::log::workspace_for(std::slice::from_ref(&log)).unwrap();
    let orders = ws.sources.orders.as_mut().unwrap();
    orders.path = Default::default();
    orders.url = Some(url.to_string());
    orders.table = Some(format!("{schema}.orders"));
    orders.watermark = Some("line_no".into());
    (ws, client, n, half)
}

/// A PostgreSQL orders table with an increasing line number as its `watermark` (the CDNOW
/// log, real): `integrate --state` reads only the rows inserted since the last run, and the
/// table equals a full rebuild's; with nothing new, nothing is read.
#[test]
fn postgres_rows_past_the_watermark_give_the_full_rebuilds_table() {
    use crmlens::data::integrate::incremental::integrate_incremental;
    let Some(url) = server() else { return };
    let schema = format!("twm_{}", std::process::id());
    let (ws, mut client, n, half) = cdnow_half_in_postgres(&url, &schema);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let p = Progress::new();
    let mode = |r: &crmlens::data::integrate::incremental::Refreshed| {
        let o = r.sources.iter().find(|s| s.role == "orders").unwrap();
        (o.mode, o.rows)
    };
    let r = integrate_incremental(&ws, &state, None, &p).unwrap();
    assert_eq!(mode(&r).0, "full");
    assert_same_360(&r.customer360, &integrate(&ws, &p).unwrap());

    client
        .batch_execute(&format!(
            "INSERT INTO {schema}.orders SELECT * FROM {schema}.all_lines WHERE line_no > {half}"
        ))
        .unwrap();
    let r = integrate_incremental(&ws, &state, None, &p).unwrap();
    assert_eq!(mode(&r), ("appended", (n - half) as u64));
    let full = integrate(&ws, &p).unwrap();
    assert_eq!(full.table.height(), r.customer360.table.height());
    assert_same_360(&r.customer360, &full);
    let r = integrate_incremental(&ws, &state, None, &p).unwrap();
    assert_eq!(mode(&r).0, "unchanged");
    assert_same_360(&r.customer360, &full);
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();
}

/// The workbench following a workspace whose orders are a PostgreSQL table with a
/// `watermark` (the CDNOW log, real): with F6 off, the event loop's timer counts the rows
/// past the last look and the status line announces them (cumulatively), nothing read; F6
/// then refreshes at once; with F6 on, the timer reads the table again; a poll that finds
/// nothing leaves the view, its marks and the message as they were;
/// rows inserted since are read and the customers they name are marked changed (the log's
/// customers all come from its file), the view equal to a fresh integration; a table that
/// cannot be read is one status line, no panel, and the view stays.
#[test]
fn following_a_postgres_source_reads_the_rows_inserted_since() {
    use crmlens::app::job::JobRequest;
    use crmlens::app::{Action, State};
    use crmlens::data::integrate::follow::Mark;
    use crossterm::event::KeyCode;

    use crate::ui::{drive, key, run_commands};

    let Some(url) = server() else { return };
    let schema = format!("tfollow_{}", std::process::id());
    let (ws, mut client, n, half) = cdnow_half_in_postgres(&url, &schema);
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("crmlens.toml");
    ws.save(&toml).unwrap();
    let mut s = State::new("pg-follow".into());
    let cmds = s.load(JobRequest::Workspace(toml.clone()));
    run_commands(&mut s, cmds);
    let before = s.table.as_ref().unwrap().height();
    assert!(
        crmlens::app::follow::follows_database(&s),
        "{:?}",
        s.follow.files
    );
    // F6 off: a poll looks and reads nothing; the first look notes where the source stands.
    let quiet = s.message.clone();
    drive(&mut s, Action::PollDatabases);
    assert_eq!(s.message, quiet, "{:?}", s.error);
    assert!(!s.follow.has_arrivals());
    // Rows inserted are announced with their count, cumulatively, and not read.
    let first = (n - half) / 3;
    client
        .batch_execute(&format!(
            "INSERT INTO {schema}.orders SELECT * FROM {schema}.all_lines \
             WHERE line_no > {half} AND line_no <= {}",
            half + first
        ))
        .unwrap();
    drive(&mut s, Action::PollDatabases);
    let said = s.message.clone().unwrap_or_default();
    assert!(
        said.contains(&format!("new data: orders +{first} rows")) && said.contains("F5"),
        "{said} {:?}",
        s.error
    );
    assert_eq!(s.table.as_ref().unwrap().height(), before);
    assert!(s.follow.marks.is_none());
    let second = first / 2;
    client
        .batch_execute(&format!(
            "INSERT INTO {schema}.orders SELECT * FROM {schema}.all_lines \
             WHERE line_no > {} AND line_no <= {}",
            half + first,
            half + first + second
        ))
        .unwrap();
    drive(&mut s, Action::PollDatabases);
    let said = s.message.clone().unwrap_or_default();
    assert!(
        said.contains(&format!("new data: orders +{} rows", first + second)),
        "{said}"
    );
    // Nothing more: the announcement stays as it was.
    drive(&mut s, Action::PollDatabases);
    assert_eq!(s.message.clone().unwrap_or_default(), said);
    assert_eq!(s.table.as_ref().unwrap().height(), before);

    // F6 with data announced: the refresh at once (the session's first: everything read).
    key(&mut s, KeyCode::F(6));
    let said = s.message.clone().unwrap_or_default();
    assert!(said.contains("refreshed"), "{said}");
    assert!(!s.follow.has_arrivals());
    let before = s.table.as_ref().unwrap().height();
    let read = half + first + second;

    // F6 on: the timer reads the rows inserted since.
    client
        .batch_execute(&format!(
            "INSERT INTO {schema}.orders SELECT * FROM {schema}.all_lines WHERE line_no > {read}"
        ))
        .unwrap();
    drive(&mut s, Action::PollDatabases);
    let table = s.table.clone().unwrap();
    let full = integrate(
        &crmlens::data::sources::workspace::Workspace::load(&toml).unwrap(),
        &Progress::new(),
    )
    .unwrap();
    assert_eq!(table.height(), full.table.height(), "{:?}", s.error);
    let marks = s.follow.marks.clone().unwrap();
    let new = marks.iter().filter(|m| **m == Mark::New).count();
    assert_eq!(new, table.height() - before);
    assert!(marks.contains(&Mark::Changed));
    let said = s.message.clone().unwrap_or_default();
    assert!(said.contains("refreshed"), "{said}");
    // Only the rows past the watermark were read.
    assert!(
        said.contains(&format!("orders +{} lines", n - read)),
        "{said}"
    );
    let by_key = |t: &polars::prelude::DataFrame| {
        t.sort([t.get_column_names()[0].as_str()], Default::default())
            .unwrap()
    };
    assert!(by_key(&table).equals_missing(&by_key(&full.table)));

    // Nothing new: the marks and the message stay.
    drive(&mut s, Action::PollDatabases);
    assert!(std::sync::Arc::ptr_eq(
        &marks,
        s.follow.marks.as_ref().unwrap()
    ));
    assert_eq!(s.message.clone().unwrap_or_default(), said);

    // The table is gone: one line, no panel, the view stays.
    client
        .batch_execute(&format!("DROP TABLE {schema}.orders"))
        .unwrap();
    drive(&mut s, Action::PollDatabases);
    let said = s.message.clone().unwrap_or_default();
    assert!(said.contains("could not be read"), "{said}");
    assert!(s.overlay.is_none(), "{:?}", s.overlay);
    assert_eq!(s.table.as_ref().unwrap().height(), table.height());
    // With F6 off, a look at the missing table is one line too.
    key(&mut s, KeyCode::F(6));
    assert!(!s.follow.auto);
    drive(&mut s, Action::PollDatabases);
    let said = s.message.clone().unwrap_or_default();
    assert!(
        said.contains("could not be read") && said.contains("orders"),
        "{said}"
    );
    assert!(s.overlay.is_none(), "{:?}", s.overlay);
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();
}
