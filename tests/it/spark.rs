//! The Spark engine against a real Spark Connect server: `.ci/run` builds with `--features
//! spark`, starts a local[2] server (see `.ci/spark.sh`) and sets CRMLENS_SPARK_URL and
//! CRMLENS_REQUIRE_SPARK; without a server these tests say so and pass, except when
//! CRMLENS_REQUIRE_SPARK is set (in CI skipping is a failure).

use std::time::{Duration, Instant};

use crmlens::data::integrate::{Customer360, integrate};
use crmlens::data::sources::workspace::{EngineKind, InvalidPolicy, Workspace};
use crmlens::progress::Progress;
use polars::prelude::*;

use crate::cli::assert_user_error;
use crate::{crmlens, sample_dir, stderr};

/// The Spark tests share one local server on a 2-core machine: they take turns, so one test's
/// long query (the 500M-line cancel) never starves another's deadline. Held for the test.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The server's URL and this test's turn on it; None (the test passes) without a server.
fn server() -> Option<(String, std::sync::MutexGuard<'static, ()>)> {
    match std::env::var("CRMLENS_SPARK_URL") {
        Ok(u) if !u.is_empty() => {
            let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
            Some((u, turn))
        }
        _ => {
            assert!(
                std::env::var_os("CRMLENS_REQUIRE_SPARK").is_none(),
                "CRMLENS_REQUIRE_SPARK is set but CRMLENS_SPARK_URL is not: the Spark tests must run against a server (source .ci/spark.sh)"
            );
            eprintln!("no Spark Connect test server: see .ci/spark.sh to run these tests");
            None
        }
    }
}

fn on_spark(ws: &Workspace, url: &str) -> Workspace {
    let mut ws = ws.clone();
    ws.engine.kind = EngineKind::Spark;
    ws.engine.remote = Some(url.to_string());
    ws
}

/// Two 360 tables are equal row for row: same columns and types, equal values, floats within
/// 1e-9 relative (Spark sums in another order), the same cleaning steps, invalid counts and
/// orphans.
fn assert_same_360(a: &Customer360, b: &Customer360) {
    crate::sqlite::assert_same_360_within(a, b, 1e-9);
    assert_eq!(a.reference_date, b.reference_date);
    let invalid = |r: &crmlens::data::integrate::quality::QualityReport| {
        r.invalid
            .iter()
            .map(|i| (i.source.clone(), i.column.clone(), i.rule.clone(), i.count))
            .collect::<Vec<_>>()
    };
    assert_eq!(invalid(&a.report), invalid(&b.report));
    assert_eq!(a.report.orphans, b.report.orphans);
}

#[test]
fn the_360_table_on_spark_equals_the_local_one() {
    let Some((url, _turn)) = server() else { return };
    let local = Workspace::load(&sample_dir().join("crmlens.toml")).unwrap();
    let a = integrate(&local, &Progress::new()).unwrap();
    let b = integrate(&on_spark(&local, &url), &Progress::new()).unwrap();
    assert_same_360(&a, &b);
    // The sample has what the rules are about: duplicates, invalid lines, unknown customers.
    assert!(a.report.duplicates.order_lines > 0);
    assert!(a.report.invalid.iter().any(|i| i.source == "orders"));
    assert!(a.report.orphans.iter().any(|(_, n)| *n > 0));
    assert!(
        b.report
            .sources
            .iter()
            .filter(|s| s.role != "customers")
            .all(|s| s.path.starts_with("file://") && s.notes.iter().any(|n| n.contains("Spark"))),
        "{:?}",
        b.report.sources
    );

    // The other policies: invalid lines kept with their amount not counted, duplicates kept,
    // and customers merged on a fuzzy key (their activity moved through the id map).
    // The sample's customers have no e-mail under two ids: give C000002 and C000003
    // C000001's in a copy.
    let dir = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(sample_dir()).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dir.path().join(f.file_name().unwrap())).unwrap();
    }
    let customers = dir.path().join("customers.csv");
    let text = std::fs::read_to_string(&customers).unwrap();
    let email = |id: &str| {
        let line = text.lines().find(|l| l.starts_with(id)).unwrap();
        line.split(',').nth(2).unwrap().to_string()
    };
    let first = email("C000001,");
    let text = text
        .replace(&email("C000002,"), &first)
        .replace(&email("C000003,"), &first.to_uppercase());
    std::fs::write(&customers, text).unwrap();
    let mut other = Workspace::load(&dir.path().join("crmlens.toml")).unwrap();
    other.cleaning.invalid_lines = InvalidPolicy::Null;
    other.cleaning.dedup_activity = Some(false);
    other.cleaning.fuzzy_key = Some("email".into());
    let a = integrate(&other, &Progress::new()).unwrap();
    assert_eq!(
        a.report.duplicates.customers_fuzzy_key, 2,
        "the map is used"
    );
    let b = integrate(&on_spark(&other, &url), &Progress::new()).unwrap();
    assert_same_360(&a, &b);
}

#[test]
fn a_spark_catalog_table_is_a_source() {
    let Some((url, _turn)) = server() else { return };
    let spark = spark_connect::SparkSession::builder()
        .remote(&url)
        .get_or_create()
        .unwrap();
    let table = format!("crmlens_test_orders_{}", std::process::id());
    let orders = sample_dir().join("orders.csv");
    for q in [
        format!(
            "CREATE OR REPLACE TEMP VIEW crmlens_test_csv USING csv OPTIONS (path 'file://{}', header 'true')",
            orders.display()
        ),
        format!("DROP TABLE IF EXISTS {table}"),
        format!("CREATE TABLE {table} USING parquet AS SELECT * FROM crmlens_test_csv"),
    ] {
        spark.sql(&q).unwrap().collect_record_batches().unwrap();
    }
    let local = Workspace::load(&sample_dir().join("crmlens.toml")).unwrap();
    let mut ws = on_spark(&local, &url);
    let src = ws.sources.orders.as_mut().unwrap();
    src.path = Default::default();
    src.table = Some(table.clone());
    let a = integrate(&local, &Progress::new()).unwrap();
    let b = integrate(&ws, &Progress::new()).unwrap();
    assert_same_360(&a, &b);
    let orders = b
        .report
        .sources
        .iter()
        .find(|s| s.role == "orders")
        .unwrap();
    assert_eq!(orders.path, format!("spark table {table}"));
    assert_eq!(orders.format, "spark table");
    spark
        .sql(&format!("DROP TABLE IF EXISTS {table}"))
        .unwrap()
        .collect_record_batches()
        .unwrap();
}

/// The sample workspace with absolute paths and `[engine]` pointing at `remote`, with
/// `edit` applied to its text.
fn workspace_file(dir: &std::path::Path, remote: &str, edit: impl Fn(String) -> String) -> String {
    let sample = std::fs::read_to_string(sample_dir().join("crmlens.toml"))
        .unwrap()
        .replace(
            "path = \"",
            &format!("path = \"{}/", sample_dir().display()),
        );
    let text = edit(format!(
        "{sample}\n[engine]\nkind = \"spark\"\nremote = \"{remote}\"\n"
    ));
    let p = dir.join("spark.toml");
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn spark_errors_are_one_line_with_sparks_words() {
    let Some((url, _turn)) = server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let run = |ws: &str| {
        crmlens(
            dir.path(),
            &["integrate", "-w", ws, "--out", "c360.parquet"],
        )
    };

    // Nobody listens on the port: refused at once, not after the client's retries.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ws = workspace_file(dir.path(), &format!("sc://127.0.0.1:{free}"), |t| t);
    let t0 = Instant::now();
    let o = run(&ws);
    assert_user_error(&o, &[&format!("sc://127.0.0.1:{free}"), "cannot connect"]);
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());

    // A path the cluster cannot read.
    let ws = workspace_file(dir.path(), &url, |t| {
        t.replace("orders.csv", "no_such_orders.csv")
    });
    let o = run(&ws);
    assert_user_error(&o, &["no_such_orders.csv", "Spark says", "PATH_NOT_FOUND"]);

    // A table the catalog does not have.
    let ws = workspace_file(dir.path(), &url, |t| {
        t.replacen(
            &format!("path = \"{}/orders.csv\"", sample_dir().display()),
            "table = \"no_such_db.order_lines\"",
            1,
        )
    });
    let o = run(&ws);
    assert_user_error(&o, &["no_such_db.order_lines", "Spark says", "NOT_FOUND"]);

    // A date format the engine cannot translate, named with the column.
    let ws = workspace_file(dir.path(), &url, |t| {
        t.replace(
            "dates = { order_date = [\"%Y-%m-%d\"] }",
            "dates = { order_date = [\"%Y-%j\"] }",
        )
    });
    let o = run(&ws);
    assert_user_error(&o, &["order_date", "%Y-%j", "%j"]);

    // The same workspace on the working server writes the table.
    let ws = workspace_file(dir.path(), &url, |t| t);
    let o = run(&ws);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join("c360.parquet").exists());
}

/// The sum of the shown table's `monetary`.
fn monetary(s: &crmlens::app::State) -> f64 {
    let table = s.table.as_ref().unwrap();
    table
        .column("monetary")
        .unwrap()
        .f64()
        .unwrap()
        .sum()
        .unwrap()
}

/// The workbench: a Spark workspace that fails shows the panel with Spark's words and keeps
/// the table shown before; one that works replaces it with the same 360 table as locally.
#[test]
fn the_workbench_shows_sparks_error_and_keeps_the_data() {
    use crmlens::app::job::JobRequest;
    use crmlens::app::state::Overlay;

    use crate::ui::{draw, run_commands, sample_state};
    let Some((url, _turn)) = server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut s = sample_state();
    let local_monetary = monetary(&s);

    let bad = workspace_file(dir.path(), &url, |t| {
        t.replace("orders.csv", "no_such_orders.csv")
    });
    let cmds = s.load(JobRequest::Workspace(bad.into()));
    run_commands(&mut s, cmds);
    let Some(Overlay::LoadFailed(msg)) = s.overlay.clone() else {
        panic!("{:?}", s.overlay)
    };
    assert!(
        msg.contains("Spark says") && msg.contains("no_such_orders.csv"),
        "{msg}"
    );
    assert_eq!(s.rows(), 5000, "the table shown before stays");
    let screen = draw(&s, 120, 40);
    assert!(screen.contains("could not load"), "{screen}");
    assert!(screen.contains("PATH_NOT_FOUND"), "{screen}");

    let good = workspace_file(dir.path(), &url, |t| t);
    let cmds = s.load(JobRequest::Workspace(good.into()));
    run_commands(&mut s, cmds);
    assert!(s.error.is_none(), "{:?}", s.error);
    assert_eq!(s.rows(), 5000);
    let spark_monetary = monetary(&s);
    assert!((spark_monetary - local_monetary).abs() <= 1e-9 * local_monetary);
}

/// Esc on a long Spark aggregation interrupts the query on the server: the job ends with
/// "cancelled" in seconds, not when the cluster finishes.
#[test]
fn a_cancelled_spark_aggregation_stops_on_the_server() {
    let Some((url, _turn)) = server() else { return };
    let spark = spark_connect::SparkSession::builder()
        .remote(&url)
        .get_or_create()
        .unwrap();
    // A lazy view of 500M order lines (global: visible to crmlens' own session).
    let view = format!("crmlens_big_{}", std::process::id());
    spark
        .sql(&format!(
            "CREATE OR REPLACE GLOBAL TEMP VIEW {view} AS SELECT concat('C', lpad(CAST(id % 5000 AS STRING), 6, '0')) AS customer_id, \
             concat('O', CAST(id AS STRING)) AS order_id, '2024-01-01' AS order_date, 'kitchen' AS category, \
             1 AS quantity, 2.5D AS unit_price FROM range(500000000)"
        ))
        .unwrap()
        .collect_record_batches()
        .unwrap();
    let mut ws = on_spark(
        &Workspace::load(&sample_dir().join("crmlens.toml")).unwrap(),
        &url,
    );
    let src = ws.sources.orders.as_mut().unwrap();
    src.path = Default::default();
    src.table = Some(format!("global_temp.{view}"));
    let progress = Progress::new();
    let job = {
        let progress = progress.clone();
        std::thread::spawn(move || integrate(&ws, &progress))
    };
    let t0 = Instant::now();
    while !progress.snapshot().2.contains("on Spark") {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "{}",
            progress.snapshot().2
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(2));
    let cancelled_at = Instant::now();
    progress.cancel();
    let result = job.join().unwrap();
    let took = cancelled_at.elapsed();
    match result {
        Err(e) => assert_eq!(e.to_string(), "cancelled"),
        Ok(_) => panic!("500M lines finished in 2 s"),
    }
    assert!(took < Duration::from_secs(20), "cancel took {took:?}");
    // The server is free for the next query.
    let t1 = Instant::now();
    spark
        .sql("SELECT 1")
        .unwrap()
        .collect_record_batches()
        .unwrap();
    assert!(t1.elapsed() < Duration::from_secs(20));
}

/// The workspace's type overrides reach the Spark view: CSV is text there, so `2.50` and
/// `2.5` only make one exact-duplicate line once `unit_price` is a float, as polars reads it
/// locally; for a file this machine sees, the types polars infers are applied the same way.
/// An override naming a column the source lacks is one line.
#[test]
fn type_overrides_apply_on_spark() {
    let Some((url, _turn)) = server() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("customers.csv"),
        "customer_id,name\nC1,Ann\nC2,Bob\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("orders.csv"),
        "order_id,customer_id,order_date,quantity,unit_price\n\
         O1,C1,2024-01-02,1,2.50\n\
         O1,C1,2024-01-02,1,2.5\n\
         O2,C1,2024-02-03,2,1.25\n\
         O3,C2,2024-03-04,1,10\n\
         O3,C2,2024-03-04,1,10.0\n",
    )
    .unwrap();
    let write = |schema: &str| {
        let p = dir.path().join("w.toml");
        std::fs::write(
            &p,
            format!(
                "[workspace]\ncustomer_key = \"customer_id\"\nreference_date = \"2025-01-01\"\n\
                 [sources.customers]\npath = \"customers.csv\"\n\
                 [sources.orders]\npath = \"orders.csv\"\n{schema}\n"
            ),
        )
        .unwrap();
        Workspace::load(&p).unwrap()
    };
    let ws = write("schema = { unit_price = \"float\" }");
    let a = integrate(&ws, &Progress::new()).unwrap();
    let b = integrate(&on_spark(&ws, &url), &Progress::new()).unwrap();
    assert_same_360(&a, &b);
    assert_eq!(a.report.duplicates.order_lines, 2);
    let monetary: Vec<Option<f64>> = b
        .table
        .column("monetary")
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(monetary, vec![Some(5.0), Some(10.0)]);

    // Without the override: the types polars infers from the local file are cast too.
    let ws = write("");
    let a = integrate(&ws, &Progress::new()).unwrap();
    let b = integrate(&on_spark(&ws, &url), &Progress::new()).unwrap();
    assert_same_360(&a, &b);
    assert_eq!(b.report.duplicates.order_lines, 2);

    let ws = write("schema = { unit_prise = \"float\" }");
    let err = integrate(&on_spark(&ws, &url), &Progress::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unit_prise") && err.contains("[sources.orders] schema"),
        "{err}"
    );
}

/// Identity resolution on Spark: the accepted pairs of `inputs` as (left, right) ->
/// (probability, weight), from the local engine and from the server.
mod identity {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use crmlens::pipeline::link::{LinkInput, LinkSettings, run, run_on_spark};
    use crmlens::progress::Progress;

    use super::server;
    use crate::{repo, sample_dir};

    type Pairs = BTreeMap<(String, String), (f64, f64)>;

    fn inputs(paths: &[PathBuf]) -> Vec<LinkInput> {
        paths
            .iter()
            .map(|p| LinkInput {
                path: p.clone(),
                id: None,
            })
            .collect()
    }

    fn local(paths: &[PathBuf]) -> (Pairs, crmlens::pipeline::link::LinkRun) {
        let r = run(
            &inputs(paths),
            &LinkSettings::default(),
            &[],
            &Progress::new(),
        )
        .unwrap();
        let l = &r.linked;
        let mut out = Pairs::new();
        for &p in &l.accepted {
            let (i, j) = l.candidates().pairs[p];
            let key = (
                l.records().ids[i as usize].clone(),
                l.records().ids[j as usize].clone(),
            );
            out.entry(key).or_insert((l.probabilities[p], l.weights[p]));
        }
        (out, r)
    }

    /// The pairs on Spark equal the local ones: the same pairs, probabilities and weights
    /// (to 1e-9; Spark's log2 may differ in the last bit), the same candidate pairs per
    /// blocking key, the same prior and the same number of people.
    fn assert_same_on_spark(url: &str, paths: &[PathBuf]) {
        let (want, r) = local(paths);
        let s = run_on_spark(
            &inputs(paths),
            &LinkSettings::default(),
            url,
            200_000,
            &Progress::new(),
        )
        .unwrap();
        assert_eq!(s.sample_fraction, 1.0);
        let got: Pairs = s
            .pairs
            .iter()
            .map(|p| {
                (
                    (p.left.clone(), p.right.clone()),
                    (p.probability, p.match_weight),
                )
            })
            .collect();
        assert_eq!(
            want.keys().collect::<Vec<_>>(),
            got.keys().collect::<Vec<_>>(),
            "accepted pairs differ"
        );
        for (k, (p, w)) in &want {
            let (p2, w2) = got[k];
            assert!(
                (p - p2).abs() <= 1e-9 && (w - w2).abs() <= 1e-9 * w.abs().max(1.0),
                "{k:?}: local p {p} w {w}, Spark p {p2} w {w2}"
            );
        }
        let l = &r.linked;
        assert_eq!(s.n_candidate_pairs, l.candidates().pairs.len() as u64);
        assert_eq!(s.blocking, l.candidates().report);
        assert_eq!(s.prior, l.prior);
        assert_eq!(s.n_records(), l.records().len() as u64);
        assert_eq!(s.n_clusters(), l.clusters.sizes.len() as u64);
        // The fitted model, field by field (the column names aside: Spark's CSV reader trims
        // FEBRL's leading spaces from the header).
        let model = |f: &[crmlens::data::identity::link::FieldModel]| {
            f.iter()
                .map(|f| (f.field.clone(), f.kind, f.term_frequency, f.levels.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(model(&s.fields), model(&l.fields));
    }

    #[test]
    fn identity_pairs_on_spark_equal_the_local_ones_on_the_sample() {
        let Some((url, _turn)) = server() else { return };
        let dir = sample_dir();
        assert_same_on_spark(
            &url,
            &[dir.join("customers.csv"), dir.join("loyalty_members.csv")],
        );
    }

    /// FEBRL 4 (extract): names in two columns, yyyymmdd numbers, street, house number,
    /// postcode, state and national id, which the sample does not have.
    #[test]
    fn identity_pairs_on_spark_equal_the_local_ones_on_febrl() {
        let Some((url, _turn)) = server() else { return };
        let dir = repo().join("tests/data/real/febrl4");
        assert_same_on_spark(
            &url,
            &[
                dir.join("dataset4a_1000.csv"),
                dir.join("dataset4b_1000.csv"),
            ],
        );
    }

    /// Trained on a third of the records, the model still finds the recorded pairs.
    #[test]
    fn a_model_trained_on_a_sample_links_the_rest() {
        let Some((url, _turn)) = server() else { return };
        let dir = sample_dir();
        let paths = [dir.join("customers.csv"), dir.join("loyalty_members.csv")];
        let s = run_on_spark(
            &inputs(&paths),
            &LinkSettings::default(),
            &url,
            3000,
            &Progress::new(),
        )
        .unwrap();
        assert!(s.sample_fraction < 0.35, "{}", s.sample_fraction);
        assert!(
            (2500..3500).contains(&s.sample_records),
            "{}",
            s.sample_records
        );
        let truth = crate::cli::link::truth();
        let got: std::collections::BTreeSet<(String, String)> = s
            .pairs
            .iter()
            .map(|p| (p.left.clone(), p.right.clone()))
            .collect();
        let tp = got.intersection(&truth).count() as f64;
        let (precision, recall) = (tp / got.len() as f64, tp / truth.len() as f64);
        assert!(
            precision >= 0.98 && recall >= 0.98,
            "precision {precision:.4} recall {recall:.4}"
        );
    }

    #[test]
    fn link_on_spark_needs_a_server() {
        let dir = sample_dir();
        let o = crate::crmlens(
            &dir,
            &[
                "link",
                "--input",
                "customers.csv",
                "--input",
                "loyalty_members.csv",
                "--engine",
                "spark",
            ],
        );
        crate::cli::assert_user_error(&o, &["--spark-remote"]);
        let o = crate::crmlens(
            &dir,
            &[
                "link",
                "--input",
                "customers.csv",
                "--engine",
                "spark",
                "--spark-remote",
                "sc://127.0.0.1:1",
            ],
        );
        crate::cli::assert_user_error(&o, &["sc://127.0.0.1:1", "cannot connect"]);
    }
}
