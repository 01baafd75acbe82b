//! `crmlens profile` (column profiles of a data file) and `crmlens integrate` (a workspace into the customer-360 table, locally or on Spark).

use super::*;

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
    #[arg(
        long,
        short = 'w',
        required_unless_present = "input",
        conflicts_with = "input"
    )]
    pub workspace: Option<PathBuf>,
    /// Data files without a workspace: a transaction log (customer, date and amount on each
    /// line), optionally with a customer table; their columns' roles are found.
    #[arg(long, num_args = 1..)]
    pub input: Vec<PathBuf>,
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
    /// Keep the per-customer state in this folder and, when it holds an earlier run's, read
    /// only what arrived since (lines appended to CSV and NDJSON sources); the table equals a
    /// full rebuild. --out may be replaced without --force when this state wrote it.
    #[arg(long)]
    pub state: Option<PathBuf>,
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

pub(super) fn profile(a: ProfileArgs) -> Result<()> {
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

pub(super) fn integrate_cmd(a: IntegrateArgs) -> Result<()> {
    let (mut ws, source) = match &a.workspace {
        Some(w) => (Workspace::load(w)?, w.clone()),
        None => {
            let (ws, _) = crate::data::integrate::log::workspace_for(&a.input)?;
            (ws, a.input[0].clone())
        }
    };
    a.engine.apply(&mut ws);
    // A table this state wrote is the one it refreshes.
    let owned = a
        .state
        .as_deref()
        .is_some_and(|s| crate::data::integrate::incremental::wrote(s, &a.out));
    let mut export = a.export.clone();
    export.force |= owned;
    let opts = export.options(Some(&a.out), Some(&source))?;
    if let Some(r) = &a.report_json {
        crate::data::write::refuse_existing(r, a.export.force)?;
    }
    let progress = Progress::new();
    let started = std::time::Instant::now();
    let (c360, refreshed) = {
        let _bar = bar::show(&progress);
        match &a.state {
            Some(dir) => {
                let r = crate::data::integrate::incremental::integrate_incremental(
                    &ws,
                    dir,
                    Some(&a.out),
                    &progress,
                )?;
                (r.customer360, Some((r.sources, r.full)))
            }
            None => (integrate(&ws, &progress)?, None),
        }
    };
    let seconds = started.elapsed().as_secs_f64();
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
            if let Some((sources, full)) = &refreshed {
                m.insert(
                    "incremental".into(),
                    serde_json::json!({"sources": sources, "full": full, "seconds": round(seconds, 3)}),
                );
            }
        }
        out.json(&v)?;
    } else {
        write!(out, "{}", c360.report.to_text())?;
        if let Some((sources, _)) = &refreshed {
            writeln!(out)?;
            for s in sources {
                writeln!(out, "{}", refresh_line(s))?;
            }
        }
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

/// One line per source of an incremental run: what was read, or why it was read whole.
pub(super) fn refresh_line(s: &crate::data::integrate::incremental::SourceRefresh) -> String {
    let file = crate::data::integrate::file_name(std::path::Path::new(&s.path));
    let name = text::escape(&file);
    match s.mode {
        "appended" => format!(
            "{}: {} new lines ({} bytes) read from {name}",
            s.role, s.rows, s.bytes
        ),
        "unchanged" => format!("{}: nothing new in {name}", s.role),
        _ => format!(
            "{}: {name} read whole ({} lines): {}",
            s.role,
            s.rows,
            s.reason.as_deref().unwrap_or("")
        ),
    }
}
