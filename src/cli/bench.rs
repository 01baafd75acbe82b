//! `crmlens bench`: integration at scale and PostgreSQL reads, timed and with peak memory, as JSON.

use super::*;

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchWhat,
}

#[derive(Debug, Subcommand)]
pub enum BenchWhat {
    /// Integrate a workspace once, report seconds and peak resident memory.
    Integrate {
        #[arg(long, short = 'w')]
        workspace: PathBuf,
        /// Write the JSON result here as well as to stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace the --out file if it exists (otherwise an existing file is an error).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        engine: EngineFlags,
    },
    /// Read a customer table of --rows rows from a PostgreSQL server (made there with
    /// generate_series, in table crmlens_bench_customers), report rows per second.
    Postgres {
        /// postgres://user@host:port/database
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        /// Write the JSON result here as well as to stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace the --out file if it exists (otherwise an existing file is an error).
        #[arg(long)]
        force: bool,
    },
}

/// Peak resident set size of this process in bytes (Linux `VmHWM`), if known.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The largest resident anonymous memory (heap) and resident file pages (the memory-mapped
/// input files) seen while `work` runs, sampled every 20 ms from /proc/self/status, and the
/// step `progress` named when the heap peaked: the peak RSS counts both, and file pages are
/// the kernel's to drop, heap is not.
pub(super) fn rss_split_peaks<T>(
    progress: &Progress,
    work: impl FnOnce() -> T,
) -> (T, Option<(u64, u64, String)>) {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    fn sample() -> Option<(u64, u64)> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let kb = |key: &str| -> Option<u64> {
            let line = status.lines().find(|l| l.starts_with(key))?;
            line.split_whitespace().nth(1)?.parse().ok()
        };
        Some((kb("RssAnon:")? * 1024, kb("RssFile:")? * 1024))
    }
    if sample().is_none() {
        return (work(), None);
    }
    let stop = AtomicBool::new(false);
    let (anon, file) = (AtomicU64::new(0), AtomicU64::new(0));
    let step = Mutex::new(String::new());
    let out = std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                if let Some((a, f)) = sample() {
                    if a > anon.fetch_max(a, Ordering::Relaxed)
                        && let Ok(mut st) = step.lock()
                    {
                        *st = progress.describe();
                    }
                    file.fetch_max(f, Ordering::Relaxed);
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        });
        let out = work();
        stop.store(true, Ordering::Relaxed);
        out
    });
    let step = step.into_inner().unwrap_or_default();
    (out, Some((anon.into_inner(), file.into_inner(), step)))
}

/// Prints a bench's JSON result and writes it to `out` too (atomically; an existing file only
/// with `force`).
pub(super) fn bench_result(v: &serde_json::Value, out: Option<&Path>, force: bool) -> Result<()> {
    if let Some(p) = out {
        let text = serde_json::to_string_pretty(v)?;
        crate::data::write::write_text(p, &format!("{text}\n"), force)?;
    }
    out::stdout().json(v)
}

pub(super) fn bench_integrate(
    workspace: &Path,
    engine: &EngineFlags,
    out: Option<&Path>,
    force: bool,
) -> Result<()> {
    // Checked before the work: an existing file without --force.
    if let Some(p) = out {
        crate::data::write::refuse_existing(p, force)?;
    }
    let mut ws = Workspace::load(workspace)?;
    engine.apply(&mut ws);
    let started = Instant::now();
    let progress = Progress::new();
    let (c360, split) = rss_split_peaks(&progress, || {
        let _bar = bar::show(&progress);
        integrate(&ws, &progress)
    });
    let c360 = c360?;
    let seconds = started.elapsed().as_secs_f64();
    let mb = |b: u64| (b as f64 / 1_048_576.0).round();
    let order_lines = c360
        .report
        .sources
        .iter()
        .find(|s| s.role == "orders")
        .map(|s| s.rows)
        .unwrap_or(0);
    let v = serde_json::json!({
        "bench": "integrate",
        "workspace": workspace.display().to_string(),
        "customers_out": c360.report.customers_out,
        "customer_rows_in": c360.report.sources.first().map(|s| s.rows).unwrap_or(0),
        "order_lines": order_lines,
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "peak_rss_mb": peak_rss_bytes().map(mb),
        "peak_heap_mb": split.as_ref().map(|(anon, _, _)| mb(*anon)),
        "peak_heap_during": split.as_ref().map(|(_, _, step)| step.clone()),
        "peak_file_pages_mb": split.as_ref().map(|(_, file, _)| mb(*file)),
        "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        // With Spark, the aggregation's memory is the server's: peak_rss_mb is this process.
        "engine": match ws.engine.kind {
            crate::data::sources::workspace::EngineKind::Local => "local",
            crate::data::sources::workspace::EngineKind::Spark => "spark",
        },
        "spark_remote": ws.engine.remote,
        "steps_ms": c360.report.timings_ms,
    });
    bench_result(&v, out, force)
}

pub(super) fn bench_postgres(url: &str, rows: u64, out: Option<&Path>, force: bool) -> Result<()> {
    use crate::data::sources::postgres;
    if let Some(p) = out {
        crate::data::write::refuse_existing(p, force)?;
    }
    let mut client = postgres::connect(url)?;
    // A customers table like the sample's: text ids, names and e-mails, a date, a timestamp
    // with time zone, money, a flag.
    let make = format!(
        "DROP TABLE IF EXISTS crmlens_bench_customers;
         CREATE TABLE crmlens_bench_customers AS
         SELECT 'C' || lpad(i::text, 7, '0') AS customer_id,
                'Customer ' || i AS name,
                'c' || i || '@example.com' AS email,
                date '2015-01-01' + (i % 3000) AS signup_date,
                timestamptz '2024-01-01 00:00:00+00' + (i % 100000) * interval '1 minute' AS updated_at,
                (i % 9973) * 7.25::numeric AS income,
                (i % 3 = 0) AS churned,
                (i % 97)::int AS age
         FROM generate_series(1, {rows}) AS i;
         ANALYZE crmlens_bench_customers;"
    );
    client
        .batch_execute(&make)
        .map_err(|e| anyhow::anyhow!("cannot make the bench table: {e}"))?;
    drop(client);
    let started = Instant::now();
    let df = postgres::read(url, Some("crmlens_bench_customers"), None)?;
    let seconds = started.elapsed().as_secs_f64();
    let v = serde_json::json!({
        "bench": "postgres",
        "server": postgres::mask_url(url),
        "rows": df.height(),
        "columns": df.width(),
        "seconds": round(seconds, 3),
        "rows_per_second": (df.height() as f64 / seconds).round(),
        "peak_rss_mb": peak_rss_bytes().map(|b| (b as f64 / 1_048_576.0).round()),
    });
    bench_result(&v, out, force)
}
