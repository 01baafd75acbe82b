//! `crmlens report`: every analysis of a workspace in one self-contained HTML page (or
//! Markdown), written atomically.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use clap::Args;

use crate::data::sources::workspace::Workspace;
use crate::progress::Progress;
use crate::report::{self, SECTIONS};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The workspace file; its [segment], [rules], [predict] and [clv] sections set the
    /// analyses' parameters.
    #[arg(long, short = 'w')]
    pub workspace: PathBuf,
    /// Where to write the report.
    #[arg(long)]
    pub out: PathBuf,
    /// html or md (default: md for an --out ending in .md, else html).
    #[arg(long, value_enum, ignore_case = true)]
    pub format: Option<Format>,
    /// Replace the --out file if it exists (otherwise an existing file is an error).
    #[arg(long)]
    pub force: bool,
}

/// What the report is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Md,
}

crate::choice!(Format { Html => "html", Md => "md" | "markdown" });

/// The format `--format` names, else the one `out`'s extension implies.
fn format_of(format: Option<Format>, out: &Path) -> &'static str {
    match format {
        Some(f) => f.name(),
        None => match out
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .as_deref()
        {
            Some("md") | Some("markdown") => "md",
            _ => "html",
        },
    }
}

pub fn run(a: ReportArgs) -> Result<()> {
    let format = format_of(a.format, &a.out);
    // Checked before the work: an existing file without --force.
    crate::data::write::refuse_existing(&a.out, a.force)?;
    let started = Instant::now();
    let ws = Workspace::load(&a.workspace)?;
    let progress = Progress::new();
    let r = {
        let _bar = super::bar::show(&progress);
        report::build(&ws, &progress)?
    };
    let text = match format {
        "md" => report::markdown::render(&r),
        _ => report::html::render(&r),
    };
    crate::data::write::write_text(&a.out, &text, a.force)?;
    let skipped = r.skipped();
    let note = if skipped.is_empty() {
        String::new()
    } else {
        let ids: Vec<&str> = skipped.iter().map(|(id, _)| *id).collect();
        format!(
            " ({} without a result; the report says why)",
            ids.join(", ")
        )
    };
    let ids: Vec<&str> = SECTIONS.iter().map(|(id, _)| *id).collect();
    writeln!(
        super::out::stdout(),
        "wrote {} ({format}, {} bytes): {}{note} in {:.1}s",
        crate::text::escape(&a.out.display().to_string()),
        text.len(),
        ids.join(", "),
        started.elapsed().as_secs_f64()
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_follows_the_flag_then_the_extension() {
        let p = Path::new;
        assert_eq!(format_of(None, p("r.md")), "md");
        assert_eq!(format_of(None, p("r.MD")), "md");
        assert_eq!(format_of(None, p("r.html")), "html");
        assert_eq!(format_of(None, p("report")), "html");
        let f = |s: &str| <Format as clap::ValueEnum>::from_str(s, true);
        assert_eq!(format_of(Some(f("md").unwrap()), p("r.html")), "md");
        assert_eq!(format_of(Some(f("HTML").unwrap()), p("r.md")), "html");
        assert_eq!(format_of(Some(f("markdown").unwrap()), p("r.html")), "md");
        let e = f("pdf").unwrap_err();
        assert!(e.contains("pdf"), "{e}");
    }
}
