//! Command-line interface: argument parsing and the headless subcommands. Thin: every
//! subcommand calls the engine and prints its result (JSON with `--json`).

mod bar;
mod clv;
pub mod out;
mod predict;
mod recommend;
mod report;
mod rules;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Result, bail};
use clap::{Args, Parser, Subcommand};

use crate::analytics::limits;
use crate::data::integrate::integrate;
use crate::data::integrate::profile::profile_file;
use crate::data::sources::file::ReadOptions;
use crate::data::sources::generator::{self, GenConfig};
use crate::data::sources::workspace::Workspace;
use crate::progress::Progress;
use crate::text;

/// crmlens: a keyboard-driven terminal workbench for customer-data analytics.
///
/// With no arguments it opens the bundled sample workspace; with a workspace file
/// (`.toml`) it opens that; with data files it opens them.
#[derive(Debug, Parser)]
#[command(name = "crmlens", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// A workspace (.toml), data files (CSV, TSV, Parquet, JSON, NDJSON, SQLite) or a
    /// postgres:// URL to open; `o` in the workbench lists them and opens another.
    pub files: Vec<PathBuf>,
    /// The table to open in a SQLite file or PostgreSQL database (default: its only table or
    /// `customers`; otherwise the workbench lists the tables to pick from).
    #[arg(long)]
    pub table: Option<String>,
    /// Open this workspace file.
    #[arg(long, short = 'w')]
    pub workspace: Option<PathBuf>,
    /// Show personal data (names, e-mails, phones, addresses, birth dates, notes) unmasked;
    /// the status bar says so while it is visible.
    #[arg(long = "show-pii")]
    pub show_pii: bool,
    /// Workbench exports replace the customer key by its keyed pseudonym (HMAC-SHA256 with
    /// the key in CRMLENS_PSEUDONYM_KEY or the file CRMLENS_PSEUDONYM_KEY_FILE names).
    #[arg(long)]
    pub pseudonymise: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Per-column type, nulls, distinct values, min/max/mean or top values of data files.
    Profile(ProfileArgs),
    /// Build the customer-360 table of a workspace and its data-quality report.
    Integrate(IntegrateArgs),
    /// Write the deterministic sample CRM data set (with its ground truth and workspace).
    GenSample(GenArgs),
    /// Time and peak memory of integrating a workspace (JSON on stdout).
    Bench(BenchArgs),
    /// Cluster customers (k-means, DBSCAN or a Gaussian mixture) on chosen features.
    Segment(SegmentArgs),
    /// K-means for a range of k with inertia, silhouette, Calinski-Harabasz, Davies-Bouldin.
    Sweep(SweepArgs),
    /// Frequent itemsets and association rules from order lines ("who buys X also buys Y").
    Rules(rules::RulesArgs),
    /// Predict a class column (e.g. churned) with a tree, forest or logistic regression.
    Predict(predict::PredictArgs),
    /// Customer lifetime value: BG/NBD purchases and Gamma-Gamma spend from transactions.
    Clv(clv::ClvArgs),
    /// Item-based collaborative-filtering recommendations, evaluated against popularity.
    Recommend(recommend::RecommendArgs),
    /// One self-contained HTML (or Markdown) report of a workspace: data quality, segments,
    /// rules, prediction, lifetime value and the parameters used.
    Report(report::ReportArgs),
    /// Open the workbench on the sample data and play a scripted walkthrough for presenters:
    /// Space/→ next step, ← back, a auto-play, Esc explore freely.
    Demo {
        /// Play this script instead of the bundled one (the format is described at the top
        /// of assets/demo.txt).
        #[arg(long)]
        script: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct SweepArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    #[arg(long = "k-min", default_value_t = 2, value_parser = whole::<usize>)]
    pub k_min: usize,
    #[arg(long = "k-max", default_value_t = 10, value_parser = whole::<usize>)]
    pub k_max: usize,
    /// K-Means restarts per k, keeping the best (1 to 1000).
    #[arg(long = "n-init", default_value_t = 10, value_parser = whole::<usize>)]
    pub n_init: usize,
    #[arg(long, default_value_t = 42, value_parser = whole::<u64>)]
    pub seed: u64,
    #[arg(long)]
    pub json: bool,
}

/// How `--out` is written (shared by every command that writes per-customer results).
#[derive(Debug, Args, Clone, Default)]
pub struct ExportFlags {
    /// Replace the --out file if it exists (otherwise an existing file is an error).
    #[arg(long)]
    pub force: bool,
    /// Replace the customer key in --out, and the customer ids printed, by a keyed pseudonym
    /// (HMAC-SHA256 under the key in CRMLENS_PSEUDONYM_KEY, or in the file
    /// CRMLENS_PSEUDONYM_KEY_FILE names). Also on when the workspace's [privacy] says
    /// pseudonymise = true.
    #[arg(long)]
    pub pseudonymise: bool,
}

impl ExportFlags {
    /// The options for writing `out` and printing ids, checked before any work is done: the
    /// format, an existing file without --force, a missing pseudonym key (also without
    /// `out`: printed ids are pseudonymised too). `input` is the command's input; when it is
    /// a workspace its `[privacy] pseudonymise` counts too.
    pub fn options(
        &self,
        out: Option<&std::path::Path>,
        input: Option<&std::path::Path>,
    ) -> Result<crate::data::write::ExportOptions> {
        let mut opts = crate::data::write::ExportOptions {
            overwrite: self.force,
            pseudonymiser: None,
        };
        if let Some(out) = out {
            crate::data::write::table_format(out)?;
            crate::data::write::refuse_existing(out, self.force)?;
        }
        // Also without --out: the ids a command prints are pseudonymised too.
        let from_workspace = input
            .filter(|p| crate::data::sources::workspace::is_workspace(p))
            .and_then(|p| Workspace::load(p).ok())
            .is_some_and(|w| w.privacy.pseudonymise);
        if self.pseudonymise || from_workspace {
            opts.pseudonymiser = Some(std::sync::Arc::new(
                crate::data::privacy::Pseudonymiser::from_env()?,
            ));
        }
        Ok(opts)
    }
}

/// The data and features a model runs on (shared by `segment` and `sweep`).
#[derive(Debug, Args)]
pub struct MatrixArgs {
    /// A data file, or a workspace (.toml) whose customer-360 table is used.
    #[arg(long)]
    pub input: PathBuf,
    /// Numeric feature columns, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub features: Vec<String>,
    /// Scaling: standard, minmax, robust or none.
    #[arg(long, default_value = "standard")]
    pub scale: String,
    /// Missing values in the features: mean, median or drop (default: refuse).
    #[arg(long)]
    pub fill: Option<String>,
    /// Text columns to one-hot encode as features, comma-separated (at most 20 levels each;
    /// rarer ones are pooled as "other").
    #[arg(long, value_delimiter = ',')]
    pub categorical: Vec<String>,
    /// Features to take log(1 + x) of before scaling, comma-separated (as a workspace's
    /// [features] log1p).
    #[arg(long, value_delimiter = ',')]
    pub log1p: Vec<String>,
}

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct SegmentArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    /// Algorithm: kmeans, dbscan or gmm (Gaussian mixture).
    #[arg(long, default_value = "kmeans")]
    pub algo: String,
    /// Clusters (1 to 1000).
    #[arg(long, default_value_t = 8, value_parser = whole::<usize>)]
    pub k: usize,
    /// Restarts, keeping the best (1 to 1000; default: 10 for kmeans, 1 for gmm as in
    /// scikit-learn).
    #[arg(long = "n-init", value_parser = whole::<usize>)]
    pub n_init: Option<usize>,
    /// Iteration limit per restart (1 to 100000; default: 300 for kmeans, 100 for gmm).
    #[arg(long = "max-iter", value_parser = whole::<usize>)]
    pub max_iter: Option<usize>,
    /// Convergence tolerance (default: 1e-4 of the mean variance for kmeans centroid
    /// movement, 0 = until no row changes cluster; 1e-3 change of the mean log-likelihood
    /// per row for gmm).
    #[arg(long)]
    pub tol: Option<f64>,
    /// GMM: covariance type, full, tied, diag or spherical.
    #[arg(long, default_value = "full")]
    pub covariance: String,
    #[arg(long, default_value_t = 42, value_parser = whole::<u64>)]
    pub seed: u64,
    /// Write every row's id and cluster label here (.csv, .parquet or .json).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub export: ExportFlags,
    /// The id column for --out (default: the workspace's key, else the first column).
    #[arg(long = "id-col")]
    pub id_col: Option<String>,
    /// DBSCAN: neighbourhood radius in the scaled feature space (a point at distance <= eps
    /// is a neighbour).
    #[arg(long)]
    pub eps: Option<f64>,
    /// DBSCAN: points within eps, the point itself included, that make a core point.
    #[arg(long = "min-points", default_value_t = 5, value_parser = whole::<usize>)]
    pub min_points: usize,
    /// Skip the silhouette (JSON `silhouette: null`); above 10,000 rows it is otherwise
    /// computed on a seeded 10,000-row sample.
    #[arg(long = "no-silhouette")]
    pub no_silhouette: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// Files to profile.
    #[arg(required_unless_present = "source")]
    pub files: Vec<PathBuf>,
    /// A PostgreSQL server to profile a table (--table) or query (--query) of:
    /// postgres://user@host:port/database (password from the URL, PGPASSWORD or ~/.pgpass).
    #[arg(long, conflicts_with = "files")]
    pub source: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Field delimiter for CSV files (detected when not given).
    #[arg(long)]
    pub delimiter: Option<String>,
    /// Show the values of personal-data columns unmasked (masked by default).
    #[arg(long = "show-pii")]
    pub show_pii: bool,
    /// A SQLite file's table to profile (default: its only table, or `customers`).
    #[arg(long, conflicts_with = "query")]
    pub table: Option<String>,
    /// An SQL query to profile the result of (SQLite files).
    #[arg(long)]
    pub query: Option<String>,
}

#[derive(Debug, Args)]
pub struct IntegrateArgs {
    /// The workspace file.
    #[arg(long, short = 'w')]
    pub workspace: PathBuf,
    /// Where to write the 360 table: .csv, .parquet or .json. Personal-data columns are left
    /// out unless --include-pii.
    #[arg(long)]
    pub out: PathBuf,
    /// Keep the personal-data columns (emails, phones, names, addresses, birth dates, notes)
    /// in --out.
    #[arg(long = "include-pii")]
    pub include_pii: bool,
    #[command(flatten)]
    pub export: ExportFlags,
    /// Also write the quality report as JSON here.
    #[arg(long)]
    pub report_json: Option<PathBuf>,
    /// Print the quality report as JSON on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineFlags,
}

/// `--engine local|spark` and `--spark-remote sc://host:port`, over the workspace's [engine].
#[derive(Debug, Args)]
pub struct EngineFlags {
    /// Where the per-customer aggregation runs (default: the workspace's [engine], else
    /// local).
    #[arg(long, value_parser = ["local", "spark"])]
    pub engine: Option<String>,
    /// The Spark Connect server for --engine spark: sc://host:port.
    #[arg(long)]
    pub spark_remote: Option<String>,
}

impl EngineFlags {
    /// The workspace's engine with these flags over it.
    pub fn apply(&self, ws: &mut Workspace) {
        match self.engine.as_deref() {
            Some("spark") => ws.engine.kind = crate::data::sources::workspace::EngineKind::Spark,
            Some(_) => ws.engine.kind = crate::data::sources::workspace::EngineKind::Local,
            None => {}
        }
        if self.spark_remote.is_some() {
            ws.engine.remote = self.spark_remote.clone();
        }
    }
}

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct GenArgs {
    /// Number of customers.
    #[arg(long, default_value_t = 5000, value_parser = whole::<usize>)]
    pub customers: usize,
    /// Random seed.
    #[arg(long, default_value_t = 42, value_parser = whole::<u64>)]
    pub seed: u64,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Multiply every customer's order rate by this: more order lines for the same
    /// customers (for scale benchmarks; 1 is the sample).
    #[arg(long, default_value_t = 1.0)]
    pub order_scale: f64,
    /// Replace the sample's files in --out if they exist (otherwise an existing one is an
    /// error).
    #[arg(long)]
    pub force: bool,
}

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

/// `v` rounded to `digits` decimals, for JSON that reads well.
fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// Runs a headless subcommand. `Ok(())` is exit 0; an error is printed as one line, exit 2.
pub fn run_command(cmd: Command) -> Result<()> {
    match cmd {
        Command::Profile(a) => profile(a),
        Command::Integrate(a) => integrate_cmd(a),
        Command::GenSample(a) => gen_sample(a),
        Command::Segment(a) => segment(a),
        Command::Rules(a) => rules::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Clv(a) => clv::run(a),
        Command::Recommend(a) => recommend::run(a),
        Command::Report(a) => report::run(a),
        Command::Sweep(a) => sweep_cmd(a),
        Command::Demo { script } => demo(script.as_deref()),
        Command::Bench(a) => match a.what {
            BenchWhat::Integrate {
                workspace,
                out,
                force,
                engine,
            } => bench_integrate(&workspace, &engine, out.as_deref(), force),
            BenchWhat::Postgres {
                url,
                rows,
                out,
                force,
            } => bench_postgres(&url, rows, out.as_deref(), force),
        },
    }
}

fn profile(a: ProfileArgs) -> Result<()> {
    if let Some(d) = &a.delimiter
        && crate::data::sources::workspace::parse_delimiter(d).is_none()
    {
        bail!(
            "--delimiter {d}: it {}",
            crate::data::sources::workspace::DELIMITER_RULE
        );
    }
    let opts = ReadOptions {
        delimiter: a.delimiter.clone(),
        try_parse_dates: true,
        table: a.table.clone(),
        query: a.query.clone(),
        ..Default::default()
    };
    let mut profiles = Vec::new();
    if let Some(url) = &a.source {
        if !crate::data::sources::postgres::is_url(url) {
            bail!(
                "--source {}: not a PostgreSQL URL; use postgres://user@host:port/database (files are given without --source)",
                crate::data::sources::postgres::mask_url(url)
            );
        }
        let opts = ReadOptions {
            url: Some(url.clone()),
            try_parse_dates: false,
            ..opts.clone()
        };
        let mut p = profile_file(&crate::data::sources::postgres::display_path(url), &opts)?;
        if !a.show_pii {
            p.mask_pii();
        }
        profiles.push(p);
    }
    for f in &a.files {
        let mut p = profile_file(f, &opts)?;
        if !a.show_pii {
            p.mask_pii();
        }
        profiles.push(p);
    }
    let mut out = out::stdout();
    if a.json {
        out.json(&serde_json::json!({ "files": profiles }))?;
    } else {
        for p in &profiles {
            writeln!(out, "{}", p.to_text())?;
        }
    }
    Ok(())
}

fn integrate_cmd(a: IntegrateArgs) -> Result<()> {
    let mut ws = Workspace::load(&a.workspace)?;
    a.engine.apply(&mut ws);
    let opts = a.export.options(Some(&a.out), Some(&a.workspace))?;
    if let Some(r) = &a.report_json {
        crate::data::write::refuse_existing(r, a.export.force)?;
    }
    let progress = Progress::new();
    let c360 = {
        let _bar = bar::show(&progress);
        integrate(&ws, &progress)?
    };
    let (mut table, dropped) = if a.include_pii {
        (c360.table, Vec::new())
    } else {
        crate::data::privacy::drop_pii(&c360.table, &ws.privacy)
    };
    let key = ws.workspace.customer_key.clone();
    let key = table
        .get_column_names()
        .iter()
        .any(|c| c.as_str() == key)
        .then_some(key);
    crate::data::write::write_table(&mut table, &a.out, key.as_deref(), &opts)?;
    if let Some(path) = &a.report_json {
        let text = serde_json::to_string_pretty(&c360.report)?;
        crate::data::write::write_text(path, &text, a.export.force)?;
    }
    let mut out = out::stdout();
    if a.json {
        let mut v = serde_json::to_value(&c360.report)?;
        if let Some(m) = v.as_object_mut() {
            m.insert("pii_dropped".into(), serde_json::json!(dropped));
            m.insert(
                "pseudonymised".into(),
                serde_json::json!(opts.pseudonymiser.is_some()),
            );
        }
        out.json(&v)?;
    } else {
        write!(out, "{}", c360.report.to_text())?;
        if !dropped.is_empty() {
            let dropped: Vec<_> = dropped.iter().map(|d| text::escape(d)).collect();
            writeln!(
                out,
                "\nleft out personal-data columns: {} (--include-pii keeps them)",
                dropped.join(", ")
            )?;
        }
        if opts.pseudonymiser.is_some() {
            writeln!(out, "customer keys replaced by keyed pseudonyms")?;
        }
        writeln!(
            out,
            "\nwrote {}",
            text::escape(&a.out.display().to_string())
        )?;
    }
    Ok(())
}

fn gen_sample(a: GenArgs) -> Result<()> {
    if a.customers == 0 {
        bail!("--customers must be at least 1");
    }
    // Checked before the work: the sample's files already in --out, without --force.
    if !a.force {
        for name in generator::FILES {
            crate::data::write::refuse_existing(&a.out.join(name), false)?;
        }
    }
    let started = Instant::now();
    let truth = generator::generate(&GenConfig {
        customers: a.customers,
        seed: a.seed,
        out_dir: a.out.clone(),
        order_scale: a.order_scale,
    })?;
    out::note(&format!(
        "wrote {} customers ({} rows), {} order lines, {} tickets, {} sessions to {} in {:.1}s",
        truth.customers,
        truth.customer_rows_written,
        truth.order_lines_written,
        truth.tickets_written,
        truth.sessions_written,
        text::escape(&a.out.display().to_string()),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// The feature matrix of `--input` for `--features`, as `segment` and `sweep` build it.
/// Without `need_ids` (nothing is written per row) a data file's id column is not read and
/// rows are keyed by their number.
/// The feature matrix of `--input`, with the id column it is keyed by, the feature names,
/// and the table it was built from (with `extra` columns, e.g. a target, read alongside, so
/// their rows line up with the matrix even after `--fill drop`).
struct Matrix {
    m: crate::data::features::FeatureMatrix,
    id_col: String,
    features: Vec<String>,
    table: polars::prelude::DataFrame,
}

fn feature_matrix(
    args: &MatrixArgs,
    id_col: Option<String>,
    need_ids: bool,
    extra: &[String],
) -> Result<Matrix> {
    use crate::data::features::build_features;
    use crate::data::sources::workspace::{FeatureConfig, Scaling};
    let (input, scale, fill) = (
        args.input.as_path(),
        args.scale.as_str(),
        args.fill.as_deref(),
    );
    let scaling = match scale {
        "standard" => Scaling::Standard,
        "minmax" => Scaling::Minmax,
        "robust" => Scaling::Robust,
        "none" => Scaling::None,
        other => bail!("--scale {other}: use standard, minmax, robust or none"),
    };
    let features: Vec<String> = args
        .features
        .iter()
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect();
    if features.is_empty() {
        bail!("--features is empty; name one or more numeric columns, comma-separated");
    }
    let categorical: Vec<String> = args
        .categorical
        .iter()
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect();
    let mut wanted = features.clone();
    wanted.extend(categorical.iter().cloned());
    wanted.extend(extra.iter().cloned());
    if need_ids && let Some(id) = &id_col {
        wanted.push(id.clone());
    }
    let with_first = need_ids && id_col.is_none();
    let progress = Progress::new();
    let (mut table, key) = {
        let _bar = bar::show(&progress);
        crate::pipeline::input::load_columns(input, &wanted, with_first, &progress)?
    };
    for f in &features {
        if let Ok(c) = table.column(f)
            && c.dtype() == &polars::prelude::DataType::String
        {
            bail!(
                "{}: feature `{f}` is text; pass it with --categorical {f} (one-hot) or choose a numeric column",
                input.display()
            );
        }
    }
    let id_col = if need_ids || key.is_some() {
        id_col
    } else {
        const ROW: &str = "__row";
        table = table
            .with_row_index(ROW.into(), None)
            .map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))?;
        Some(ROW.to_string())
    };
    if let Some(fill) = fill {
        if !matches!(fill, "mean" | "median" | "drop") {
            bail!("--fill {fill}: use mean, median or drop");
        }
        for f in &features {
            if table.column(f).is_err() {
                bail!("{}: unknown feature column `{f}`", input.display());
            }
        }
        let policies = features
            .iter()
            .map(|f| (f.clone(), fill.to_string()))
            .collect();
        table = crate::data::integrate::clean::fill_missing(table, &policies)?.0;
    }
    let id_col = match id_col.or(key) {
        Some(c) => c,
        None => table
            .get_column_names()
            .first()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    };
    if table.column(&id_col).is_err() {
        bail!("--id-col {id_col}: no such column in {}", input.display());
    }
    let cfg = FeatureConfig {
        numeric: features.clone(),
        categorical: categorical.clone(),
        scaling,
        log1p: args
            .log1p
            .iter()
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect(),
        max_categories: 20,
    };
    let m = build_features(&table, &id_col, &cfg)
        .map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))?;
    let mut features = features;
    features.extend(categorical);
    Ok(Matrix {
        m,
        id_col,
        features,
        table,
    })
}

fn sweep_cmd(a: SweepArgs) -> Result<()> {
    use crate::analytics::kmeans::KMeansParams;
    use crate::analytics::sweep::sweep;
    limits::SWEEP_K.named("--k-min", a.k_min)?;
    limits::SWEEP_K.named("--k-max", a.k_max)?;
    limits::N_INIT.named("--n-init", a.n_init)?;
    let Matrix { m, features, .. } = feature_matrix(&a.matrix, None, false, &[])?;
    let base = KMeansParams {
        k: a.k_min,
        n_init: a.n_init,
        max_iter: 300,
        tol: 1e-4,
        seed: a.seed,
    };
    let started = Instant::now();
    let r = sweep(m.values.view(), a.k_min, a.k_max, &base, &Progress::new())?;
    let seconds = started.elapsed().as_secs_f64();
    let mut stdout = out::stdout();
    if a.json {
        let v = serde_json::json!({
            "input": a.matrix.input.display().to_string(),
            "n_rows": m.values.nrows(),
            "features": features,
            "k_min": a.k_min,
            "k_max": a.k_max,
            "entries": r.entries,
            "suggested_k": r.suggested_k,
            "reason": r.reason,
            "silhouette_sampled": r.silhouette_sampled,
            "seconds": (seconds * 1000.0).round() / 1000.0,
        });
        stdout.json(&v)?;
    } else {
        writeln!(
            stdout,
            "{:>3} {:>14} {:>10} {:>10} {:>10}",
            "k", "inertia", "silhouette", "CH", "DB"
        )?;
        let f = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into());
        for e in &r.entries {
            writeln!(
                stdout,
                "{:>3} {:>14.3} {:>10} {:>10} {:>10}",
                e.k,
                e.inertia,
                f(e.silhouette),
                f(e.calinski_harabasz),
                f(e.davies_bouldin)
            )?;
        }
        writeln!(stdout, "suggested k = {}: {}", r.suggested_k, r.reason)?;
    }
    Ok(())
}

/// `id` as printed: its keyed pseudonym when the command pseudonymises (`--pseudonymise` or
/// the workspace's `[privacy] pseudonymise`), as in its `--out`.
fn shown_id(id: &str, opts: &crate::data::write::ExportOptions) -> String {
    match &opts.pseudonymiser {
        Some(p) => p.pseudonym(id),
        None => id.to_string(),
    }
}

/// The personal-data columns of `table`, read from `input` (a workspace's `[privacy]`
/// counts: its marks, its exceptions, and `show_pii = true`, which masks nothing).
fn pii_columns(
    input: &Path,
    table: &polars::prelude::DataFrame,
) -> Vec<crate::data::privacy::PiiColumn> {
    let config = if crate::data::sources::workspace::is_workspace(input) {
        Workspace::load(input)
            .map(|w| w.privacy)
            .unwrap_or_default()
    } else {
        Default::default()
    };
    if config.show_pii {
        return Vec::new();
    }
    crate::data::privacy::detect(table, &config)
}

/// The feature names of `m` as they may be printed: a one-hot level of a personal-data
/// column masked as the workbench masks its values (`name=A. S.`).
fn printable_features(
    m: &crate::data::features::FeatureMatrix,
    pii: &[crate::data::privacy::PiiColumn],
) -> Vec<String> {
    crate::data::privacy::mask_feature_names(m.names.iter().map(String::as_str), pii)
}

/// Prints `v` as JSON, or `text` for people.
fn print_result(json: bool, v: &serde_json::Value, text: &str) -> Result<()> {
    let mut stdout = out::stdout();
    if json {
        stdout.json(v)
    } else {
        write!(stdout, "{text}")
    }
}

type JsonMap = serde_json::Map<String, serde_json::Value>;

/// What every segmentation reports and writes: the silhouette (over the clustered rows; noise,
/// label -1, left out; none with fewer than two non-empty clusters), the labels file, and the
/// JSON fields all algorithms share, to which each adds its own.
#[allow(clippy::too_many_arguments)]
fn segment_common(
    a: &SegmentArgs,
    m: &crate::data::features::FeatureMatrix,
    id_col: &str,
    features: &[String],
    algorithm: &str,
    labels: Vec<i64>,
    clusters: usize,
    seconds: f64,
) -> Result<(Option<(f64, bool)>, JsonMap)> {
    use crate::analytics::metrics::silhouette;
    let used = {
        let mut seen = vec![false; clusters];
        labels
            .iter()
            .filter(|&&l| l >= 0)
            .for_each(|&l| seen[l as usize] = true);
        seen.iter().filter(|s| **s).count()
    };
    let sil = if a.no_silhouette || used < 2 {
        None
    } else if labels.iter().all(|&l| l >= 0) {
        let lab: Vec<usize> = labels.iter().map(|&l| l as usize).collect();
        silhouette(m.values.view(), &lab, clusters, a.seed)
    } else {
        let rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] >= 0).collect();
        let sub = m.values.select(ndarray::Axis(0), &rows);
        let lab: Vec<usize> = rows.iter().map(|&i| labels[i] as usize).collect();
        silhouette(sub.view(), &lab, clusters, a.seed)
    };
    if let Some(out) = &a.out {
        let opts = a.export.options(Some(out), Some(&a.matrix.input))?;
        crate::export::write_labels(out, id_col, &m.keys, labels, &opts)?;
    }
    let serde_json::Value::Object(map) = serde_json::json!({
        "algorithm": algorithm,
        "input": a.matrix.input.display().to_string(),
        "n_rows": m.values.nrows(),
        "features": features,
        "scale": a.matrix.scale,
        "silhouette": sil.map(|s| s.0),
        "silhouette_sampled": sil.is_some_and(|s| s.1),
        "seconds": (seconds * 1000.0).round() / 1000.0,
    }) else {
        unreachable!("a JSON object literal")
    };
    Ok((sil, map))
}

/// `base` with `extra`'s fields added.
fn with_fields(mut base: JsonMap, extra: serde_json::Value) -> serde_json::Value {
    if let serde_json::Value::Object(e) = extra {
        base.extend(e);
    }
    serde_json::Value::Object(base)
}

fn segment_dbscan(
    a: &SegmentArgs,
    m: &crate::data::features::FeatureMatrix,
    id_col: &str,
    features: Vec<String>,
) -> Result<()> {
    use crate::analytics::dbscan::dbscan;
    let eps = a.eps.unwrap_or(0.0);
    let started = Instant::now();
    let r = dbscan(m.values.view(), eps, a.min_points, &Progress::new())?;
    let seconds = started.elapsed().as_secs_f64();
    let centroids = crate::analytics::dbscan::cluster_means(m.values.view(), &r.labels, r.clusters);
    let (_, base) = segment_common(
        a,
        m,
        id_col,
        &features,
        "dbscan",
        r.labels.clone(),
        r.clusters,
        seconds,
    )?;
    let v = with_fields(
        base,
        serde_json::json!({
            "eps": eps,
            "min_points": a.min_points,
            "clusters": r.clusters,
            "sizes": r.sizes,
            "noise": r.noise,
            "core_points": r.core_points,
            // DBSCAN is not iterative; its centroids are the clusters' mean rows.
            "iterations": serde_json::Value::Null,
            "centroids": &centroids,
            "centroids_original": original_units(&centroids, m),
        }),
    );
    let mut text = format!(
        "dbscan: {} clusters, {} noise rows of {}, {} core points\n",
        r.clusters,
        r.noise,
        m.values.nrows(),
        r.core_points
    );
    for (c, n) in r.sizes.iter().enumerate() {
        text.push_str(&format!("  cluster {c}: {n} rows\n"));
    }
    print_result(a.json, &v, &text)
}

fn segment(a: SegmentArgs) -> Result<()> {
    // Checked before the model runs: the format, an existing file, the pseudonym key.
    a.export.options(a.out.as_deref(), Some(&a.matrix.input))?;
    match a.algo.as_str() {
        "kmeans" | "dbscan" | "gmm" => {}
        other => bail!("--algo {other}: use kmeans, dbscan or gmm"),
    }
    if a.algo == "dbscan" {
        let eps = a.eps.ok_or_else(|| {
            anyhow::anyhow!("--algo dbscan needs --eps (a distance in the scaled space)")
        })?;
        if eps.is_nan() || eps <= 0.0 {
            bail!("--eps {eps}: it must be a positive number");
        }
        limits::EPS.named("--eps", eps)?;
        if a.min_points == 0 {
            bail!("--min-points 0: it counts the point itself, so it must be at least 1");
        }
        limits::MIN_POINTS.named("--min-points", a.min_points)?;
    }
    // The ranges a workspace's [segment] is held to (`analytics::limits`).
    limits::K.named("--k", a.k)?;
    if let Some(n) = a.n_init {
        limits::N_INIT.named("--n-init", n)?;
    }
    if let Some(n) = a.max_iter {
        limits::MAX_ITER.named("--max-iter", n)?;
    }
    if let Some(t) = a.tol {
        if t == 0.0 && a.algo == "gmm" {
            bail!("--tol 0: a Gaussian mixture needs a positive tolerance (default 1e-3)");
        }
        limits::TOL.named("--tol", t)?;
    }
    let covariance =
        crate::analytics::gmm::CovarianceType::parse(&a.covariance).ok_or_else(|| {
            anyhow::anyhow!(
                "--covariance {}: use full, tied, diag or spherical",
                a.covariance
            )
        })?;
    let Matrix {
        m,
        id_col,
        features,
        ..
    } = feature_matrix(&a.matrix, a.id_col.clone(), a.out.is_some(), &[])?;
    match a.algo.as_str() {
        "dbscan" => segment_dbscan(&a, &m, &id_col, features),
        "gmm" => segment_gmm(&a, &m, &id_col, features, covariance),
        _ => segment_kmeans(&a, &m, &id_col, features),
    }
}

/// Centroids (scaled space) back in the features' original units.
fn original_units(
    centroids: &[Vec<f64>],
    m: &crate::data::features::FeatureMatrix,
) -> Vec<Vec<f64>> {
    centroids
        .iter()
        .map(|c| {
            c.iter()
                .zip(&m.transforms)
                .map(|(v, t)| t.to_original(*v))
                .collect()
        })
        .collect()
}

fn fmt_silhouette(sil: Option<(f64, bool)>) -> String {
    sil.map(|s| format!("{:.3}", s.0))
        .unwrap_or_else(|| "n/a".into())
}

fn segment_kmeans(
    a: &SegmentArgs,
    m: &crate::data::features::FeatureMatrix,
    id_col: &str,
    features: Vec<String>,
) -> Result<()> {
    use crate::analytics::kmeans::{KMeansParams, kmeans};
    let params = KMeansParams {
        k: a.k,
        n_init: a.n_init.unwrap_or(10),
        max_iter: a.max_iter.unwrap_or(300),
        tol: a.tol.unwrap_or(1e-4),
        seed: a.seed,
    };
    let started = Instant::now();
    let r = kmeans(m.values.view(), &params, &Progress::new())?;
    let seconds = started.elapsed().as_secs_f64();
    let labels = r.labels.iter().map(|&l| l as i64).collect();
    let (sil, base) = segment_common(a, m, id_col, &features, "kmeans", labels, r.k, seconds)?;
    let v = with_fields(
        base,
        serde_json::json!({
            "k": r.k,
            "sizes": r.sizes,
            "inertia": r.inertia,
            "iterations": r.iterations,
            "converged": r.converged,
            "n_init": params.n_init,
            "seed": params.seed,
            "centroids": r.centroids,
            "centroids_original": original_units(&r.centroids, m),
        }),
    );
    let mut text = format!(
        "k-means: k = {}, {} rows, inertia {:.3}, {} iterations, silhouette {}\n",
        r.k,
        m.values.nrows(),
        r.inertia,
        r.iterations,
        fmt_silhouette(sil)
    );
    for (c, n) in r.sizes.iter().enumerate() {
        text.push_str(&format!("  cluster {c}: {n} rows\n"));
    }
    print_result(a.json, &v, &text)
}

fn segment_gmm(
    a: &SegmentArgs,
    m: &crate::data::features::FeatureMatrix,
    id_col: &str,
    features: Vec<String>,
    covariance: crate::analytics::gmm::CovarianceType,
) -> Result<()> {
    use crate::analytics::gmm::{GmmParams, gmm};
    let params = GmmParams {
        k: a.k,
        covariance,
        n_init: a.n_init.unwrap_or(1),
        max_iter: a.max_iter.unwrap_or(100),
        tol: a.tol.unwrap_or(1e-3),
        reg_covar: 1e-6,
        seed: a.seed,
    };
    let started = Instant::now();
    let r = gmm(m.values.view(), &params, &Progress::new())?;
    let seconds = started.elapsed().as_secs_f64();
    let labels = r.labels.iter().map(|&l| l as i64).collect();
    let (sil, base) = segment_common(a, m, id_col, &features, "gmm", labels, r.k, seconds)?;
    let v = with_fields(
        base,
        serde_json::json!({
            "k": r.k,
            "covariance_type": r.covariance,
            "sizes": r.sizes,
            "weights": r.weights,
            "log_likelihood": r.log_likelihood,
            "mean_log_likelihood": r.mean_log_likelihood,
            "bic": r.bic,
            "aic": r.aic,
            "n_parameters": r.n_parameters,
            "iterations": r.iterations,
            "converged": r.converged,
            "n_init": params.n_init,
            "seed": params.seed,
            "centroids": r.means,
            "centroids_original": original_units(&r.means, m),
        }),
    );
    let mut text = format!(
        "gaussian mixture: k = {}, {} covariances, {} rows, log-likelihood {:.3}, BIC {:.3}, \
         {} iterations{}, silhouette {}\n",
        r.k,
        r.covariance.name(),
        m.values.nrows(),
        r.log_likelihood,
        r.bic,
        r.iterations,
        if r.converged { "" } else { " (not converged)" },
        fmt_silhouette(sil)
    );
    for (c, n) in r.sizes.iter().enumerate() {
        text.push_str(&format!(
            "  cluster {c}: {n} rows, weight {:.3}\n",
            r.weights[c]
        ));
    }
    print_result(a.json, &v, &text)
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
fn rss_split_peaks<T>(
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
fn bench_result(v: &serde_json::Value, out: Option<&Path>, force: bool) -> Result<()> {
    if let Some(p) = out {
        let text = serde_json::to_string_pretty(v)?;
        crate::data::write::write_text(p, &format!("{text}\n"), force)?;
    }
    out::stdout().json(v)
}

fn bench_integrate(
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

fn bench_postgres(url: &str, rows: u64, out: Option<&Path>, force: bool) -> Result<()> {
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

/// `crmlens demo`: the script is read and checked first (a mistake is one error line), then
/// the workbench opens on the bundled sample in demo mode.
fn demo(script: Option<&Path>) -> Result<()> {
    use crate::app::demo::{Demo, Script, parse};
    let script = match script {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| anyhow::anyhow!("{}: cannot read the script: {e}", p.display()))?;
            parse(&text, &p.display().to_string())
        }
        None => Script::bundled(),
    }
    .map_err(anyhow::Error::msg)?;
    let Some(workspace) = sample_workspace_path() else {
        bail!(
            "no bundled sample found (sample_data/crmlens.toml); run the demo from the crmlens folder"
        );
    };
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        bail!("the demo needs a terminal (standard output is not one)");
    }
    crate::app::run::run_with(
        crate::app::job::JobRequest::Workspace(workspace),
        Default::default(),
        Some(Demo::new(script)),
    )
}

/// A whole-number argument. A negative or fractional number is read as a number (not as a
/// flag, and not as "invalid digit found in string") so the message says what is wrong with
/// it; `1e9` is a billion. The parameter's own range is checked after parsing.
pub fn whole<T: TryFrom<u64>>(s: &str) -> Result<T, String> {
    let t = s.trim();
    let v: u64 = match t.parse::<u64>() {
        Ok(v) => v,
        Err(_) => match t.parse::<f64>() {
            Ok(f) if f.is_nan() || f.is_infinite() => {
                return Err("not a number; use a whole number such as 10".into());
            }
            Ok(f) if f < 0.0 => {
                return Err("a negative number; use a whole number, 0 or more".into());
            }
            Ok(f) if f.fract() != 0.0 => return Err("not a whole number".into()),
            Ok(f) if f <= u64::MAX as f64 => f as u64,
            Ok(_) => return Err("too large".into()),
            Err(_) => return Err("not a whole number".into()),
        },
    };
    T::try_from(v).map_err(|_| "too large".to_string())
}

/// clap's usage error (as it renders it, without colours) in one line, without the leading
/// `error: `: the message with its indented list joined, clap's tips, and the help to read,
/// e.g. `unexpected argument '--foo' found; see crmlens segment --help` (the command from
/// clap's usage line, else `subcommand`).
pub fn usage_error_line(rendered: &str, subcommand: Option<&str>) -> String {
    let mut message: Vec<String> = Vec::new();
    let mut tips: Vec<String> = Vec::new();
    let mut command = match subcommand {
        Some(s) => format!("crmlens {s}"),
        None => String::from("crmlens"),
    };
    let mut first_paragraph = true;
    for line in rendered.lines() {
        let t = line.trim();
        if t.is_empty() {
            first_paragraph = false;
        } else if let Some(usage) = t.strip_prefix("Usage:") {
            // `crmlens segment [OPTIONS] --input <INPUT>`: the command is the words before
            // the first option or placeholder.
            let words: Vec<&str> = usage
                .split_whitespace()
                .take_while(|w| !w.starts_with(['[', '<', '-']))
                .collect();
            if !words.is_empty() {
                command = words.join(" ");
            }
        } else if let Some(tip) = t.strip_prefix("tip:") {
            tips.push(tip.trim().to_string());
        } else if first_paragraph {
            message.push(t.strip_prefix("error:").unwrap_or(t).trim().to_string());
        }
    }
    let mut out = message.join(" ");
    for tip in tips {
        out.push_str("; ");
        out.push_str(&tip);
    }
    out.push_str(&format!("; see {command} --help"));
    out.replace(['\n', '\r'], " ")
}

/// Where the bundled sample workspace is: `./sample_data/crmlens.toml`, else the one in the
/// source tree this binary was built from.
pub fn sample_workspace_path() -> Option<PathBuf> {
    let local = PathBuf::from("sample_data/crmlens.toml");
    if local.exists() {
        return Some(local);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data/crmlens.toml");
    built.exists().then_some(built)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders the usage error of `args` as `main` prints it.
    fn usage_error(args: &[&str]) -> String {
        let e = Cli::try_parse_from(args).unwrap_err();
        assert!(e.use_stderr(), "{args:?} is not a usage error");
        let sub = args
            .iter()
            .skip(1)
            .find(|a| !a.starts_with('-'))
            .filter(|a| {
                <Cli as clap::CommandFactory>::command()
                    .find_subcommand(a)
                    .is_some()
            });
        usage_error_line(&e.render().to_string(), sub.copied())
    }

    #[test]
    fn usage_errors_are_one_line_naming_the_argument_and_the_help() {
        let e = usage_error(&["crmlens", "segment", "--foo"]);
        assert_eq!(
            e,
            "unexpected argument '--foo' found; see crmlens segment --help"
        );
        let e = usage_error(&["crmlens", "segment", "--input", "x"]);
        assert_eq!(
            e,
            "the following required arguments were not provided: --features <FEATURES>; see crmlens segment --help"
        );
        let e = usage_error(&[
            "crmlens",
            "segment",
            "--input",
            "x",
            "--features",
            "a",
            "--k",
            "-1",
        ]);
        assert!(
            e.starts_with("invalid value '-1' for '--k <K>': a negative number"),
            "{e}"
        );
        assert!(e.ends_with("; see crmlens segment --help"), "{e}");
        for e in [
            usage_error(&["crmlens", "rules", "--min-count", "2.5"]),
            usage_error(&["crmlens", "--nope"]),
        ] {
            assert!(!e.contains('\n'), "{e}");
        }
        // --help and --version are not errors (clap prints them, exit 0).
        for args in [["crmlens", "--help"], ["crmlens", "--version"]] {
            assert!(!Cli::try_parse_from(args).unwrap_err().use_stderr());
        }
    }

    #[test]
    fn whole_numbers_say_what_is_wrong() {
        assert_eq!(whole::<usize>("12"), Ok(12));
        assert_eq!(whole::<usize>("1e9"), Ok(1_000_000_000));
        assert!(whole::<usize>("-1").unwrap_err().contains("negative"));
        assert!(
            whole::<usize>("2.5")
                .unwrap_err()
                .contains("not a whole number")
        );
        assert!(whole::<usize>("NaN").unwrap_err().contains("not a number"));
        assert!(
            whole::<u64>("abc")
                .unwrap_err()
                .contains("not a whole number")
        );
        assert!(whole::<u64>("1e30").unwrap_err().contains("too large"));
    }

    /// Negative numbers reach the range checks as values of their flags.
    #[test]
    fn negative_numbers_are_values() {
        let cli = Cli::try_parse_from([
            "crmlens",
            "segment",
            "--input",
            "x",
            "--features",
            "a",
            "--tol",
            "-1",
        ])
        .unwrap();
        let Some(Command::Segment(a)) = cli.command else {
            panic!("a segment command")
        };
        assert_eq!(a.tol, Some(-1.0));
    }
}
