//! Command-line interface: argument parsing and the headless subcommands. Thin: every
//! subcommand calls the engine and prints its result (JSON with `--json`).

mod bar;
mod bench;
mod clv;
mod integrate;
mod link;
mod matrix;
pub mod out;
mod predict;
mod recommend;
mod report;
mod rules;
mod sample;
mod score;
mod segment;
mod watch;

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

use bench::*;
use integrate::*;
use matrix::*;
use sample::*;
use segment::*;

pub use bench::{BenchArgs, BenchWhat, peak_rss_bytes};
pub use integrate::{EngineFlags, IntegrateArgs, ProfileArgs};
pub use matrix::MatrixArgs;
pub use sample::{GenArgs, sample_workspace_path};
pub use segment::{SegmentArgs, SweepArgs};

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
    /// Read a column as this type instead of the one found: COL=TYPE with TYPE int, float,
    /// text or bool (repeat it, or separate pairs with commas); values that do not read are
    /// missing and counted in the column's note. Before or after the subcommand.
    #[arg(long, global = true, value_name = "COL=TYPE", value_delimiter = ',')]
    pub schema: Vec<String>,
}

/// The `--schema` pairs as column -> type, or one line naming the pair at fault.
pub fn schema_flags(pairs: &[String]) -> Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    for p in pairs {
        let Some((c, t)) = p.split_once('=') else {
            bail!("--schema {p}: expected COL=TYPE, e.g. --schema spent=float");
        };
        let (c, t) = (c.trim(), t.trim().to_ascii_lowercase());
        if c.is_empty() {
            bail!("--schema {p}: the column name is empty");
        }
        if !crate::data::sources::reading::TYPES.contains(&t.as_str()) {
            bail!(
                "--schema {p}: unknown type `{t}`; use {}",
                crate::data::sources::reading::TYPES.join(", ")
            );
        }
        out.insert(c.to_string(), t);
    }
    Ok(out)
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
    /// Predict a class column (e.g. churned) with a tree, forest, logistic regression,
    /// gradient-boosted trees, a linear SVM or a neural network.
    Predict(Box<predict::PredictArgs>),
    /// Customer lifetime value: BG/NBD purchases and Gamma-Gamma spend from transactions.
    Clv(clv::ClvArgs),
    /// Item-based collaborative-filtering recommendations, evaluated against popularity.
    Recommend(recommend::RecommendArgs),
    /// Apply a saved model (--save-model of `segment`, `predict`, `clv` or `link`) to new
    /// data: segment labels, class probabilities, lifetime values, or the person each new
    /// record joins; and each feature's drift from the training data.
    Score(score::ScoreArgs),
    /// Keep a workspace's 360 table (and saved models' scores) up to date as its sources
    /// grow: an incremental refresh on every change, one line per refresh, until stopped.
    Watch(watch::WatchArgs),
    /// Identity resolution: which records are the same person when sources share no key
    /// (one input deduplicated, several linked), by Fellegi-Sunter match weights trained
    /// without labels.
    Link(link::LinkArgs),
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

/// The customer and date columns of a transaction or order-line file (`clv`, `recommend`).
#[derive(Debug, Args, Clone, Default)]
pub struct CustomerDateCols {
    /// The customer column (default: the workspace's key, else found by its role: a
    /// customer/client/user/member id, or an id that repeats in a log).
    #[arg(long = "customer-col")]
    pub customer_col: Option<String>,
    /// The date column (default: the workspace's order date, else found by its role: a
    /// column of dates).
    #[arg(long = "date-col")]
    pub date_col: Option<String>,
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
        Command::Predict(a) => predict::run(*a),
        Command::Clv(a) => clv::run(a),
        Command::Recommend(a) => recommend::run(a),
        Command::Link(a) => link::run(a),
        Command::Score(a) => score::run(a),
        Command::Watch(a) => watch::run(a),
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

/// `id` as printed: its keyed pseudonym when the command pseudonymises (`--pseudonymise` or
/// the workspace's `[privacy] pseudonymise`), as in its `--out`.
fn shown_id(id: &str, opts: &crate::data::write::ExportOptions) -> String {
    match &opts.pseudonymiser {
        Some(p) => p.pseudonym(id),
        None => id.to_string(),
    }
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

pub use crate::choice::whole;

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

#[cfg(test)]
mod tests {
    use super::*;

    /// One analysis's settings, flattened into a command for the test.
    #[derive(Debug, Parser)]
    struct Flags<T: clap::Args> {
        #[command(flatten)]
        settings: T,
    }

    #[test]
    fn the_command_line_and_the_workbench_start_from_the_same_settings() {
        use crate::pipeline::clv::ClvSettings;
        use crate::pipeline::predict::PredictSettings;
        use crate::pipeline::recommend::RecommendSettings;
        let p = Flags::<PredictSettings>::try_parse_from(["x", "--target", "churned"]).unwrap();
        let want = PredictSettings {
            target: Some("churned".into()),
            ..Default::default()
        };
        assert_eq!(p.settings, want);
        let c =
            Flags::<ClvSettings>::try_parse_from(["x", "--calibration-end", "2024-06-30"]).unwrap();
        let want = ClvSettings {
            calibration_end: chrono::NaiveDate::from_ymd_opt(2024, 6, 30),
            ..Default::default()
        };
        assert_eq!(c.settings, want);
        let r = Flags::<RecommendSettings>::try_parse_from(["x"]).unwrap();
        assert_eq!(r.settings, RecommendSettings::default());
        // A choice is parsed by its name or alias, in any case.
        let c = Flags::<ClvSettings>::try_parse_from([
            "x",
            "--calibration-end",
            "2024-06-30",
            "--time-unit",
            "Week",
        ])
        .unwrap();
        assert_eq!(c.settings.unit, crate::pipeline::clv::TimeUnit::Weeks);
    }

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
        let e = usage_error(&["crmlens", "segment", "--features", "x"]);
        assert_eq!(
            e,
            "the following required arguments were not provided: --input <INPUT>; see crmlens segment --help"
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
