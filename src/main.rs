//! The `crmlens` binary: parse arguments, run a headless subcommand or open the workbench.
//! A user error is one `error: ...` line on stderr and exit code 2.

use std::io::Write as _;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use std::path::PathBuf;

use crmlens::app::job::JobRequest;
use crmlens::app::sources::Target;
use crmlens::cli::{Cli, run_command, sample_workspace_path, usage_error_line};

/// The first load, and the other files named (the source picker lists them).
fn open_request(cli: &Cli) -> anyhow::Result<(JobRequest, Vec<PathBuf>)> {
    if let Some(w) = &cli.workspace {
        return Ok((JobRequest::Workspace(w.clone()), Vec::new()));
    }
    match cli.files.as_slice() {
        [] => sample_workspace_path()
            .map(|w| (JobRequest::Workspace(w), Vec::new()))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "no bundled sample found (sample_data/crmlens.toml); pass a workspace or data files"
                )
            }),
        [first, others @ ..] => {
            for p in others {
                if !p.exists() {
                    anyhow::bail!("{}: file not found; check the path", p.display());
                }
            }
            let target = Target::parse(&first.display().to_string(), cli.table.clone());
            if let Target::Source { path, options } = &target
                && options.url.is_none()
                && !path.exists()
            {
                anyhow::bail!("{}: file not found; check the path", path.display());
            }
            if let Target::Workspace(p) = &target
                && !p.exists()
            {
                anyhow::bail!("{}: file not found; check the path", p.display());
            }
            Ok((target.request(), others.to_vec()))
        }
    }
}

fn main() -> ExitCode {
    // A panic inside a guarded reader call becomes an error line naming the file: the hook
    // prints nothing for it (polars panics on its own threads too, hence the global flag).
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // So is a panic in a guarded pipeline step (the report's sections): its error says it.
        if !crmlens::data::sources::guard::quiet() && !crmlens::pipeline::guard::in_guarded_step() {
            hook(info);
        }
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version print as clap prints them, on stdout, exit 0.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        // A usage error is one line, as every other error is.
        Err(e) => {
            // The subcommand whose --help to point at: the first word that names one.
            let sub = std::env::args()
                .skip(1)
                .find(|a| !a.starts_with('-'))
                .filter(|a| Cli::command().find_subcommand(a).is_some());
            eprintln!(
                "error: {}",
                // The bad value is the user's text: its control characters are escaped too.
                crmlens::text::error_line(&usage_error_line(
                    &e.render().to_string(),
                    sub.as_deref()
                ))
            );
            return ExitCode::from(2);
        }
    };
    let result = crmlens::cli::schema_flags(&cli.schema).and_then(|types| {
        let given = !types.is_empty();
        crmlens::data::sources::file::set_session_types(None, types);
        let result = run(cli);
        // A --schema column no file had: said, so a typo is not silently ignored.
        let missing = crmlens::data::sources::file::session_types_not_found();
        if given && result.is_ok() && !missing.is_empty() {
            eprintln!(
                "warning: --schema: no file read has a column {}; check the name (crmlens profile FILE lists them)",
                missing
                    .iter()
                    .map(|c| format!("`{}`", crmlens::text::escape(c)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        result
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `... | head`: the reader has what it wanted; nothing to say.
        Err(e) if crmlens::cli::out::is_closed(&e) => {
            ExitCode::from(crmlens::cli::out::CLOSED_EXIT)
        }
        Err(e) => {
            // The workbench stopped by a signal: the terminal is restored; exit as the
            // signal would have (128 + its number), silently (after SIGHUP there is no
            // terminal to print to).
            if let Some(i) = e.downcast_ref::<crmlens::app::run::Interrupted>() {
                return ExitCode::from(i.exit_code());
            }
            // One line, control characters (from a header, a cell, a file name) escaped.
            let msg = crmlens::text::error_line(&e.to_string());
            let _ = writeln!(std::io::stderr().lock(), "error: {msg}");
            ExitCode::from(2)
        }
    }
}

/// The subcommand, or the workbench on the files given.
fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(cmd) => run_command(cmd),
        None => open_request(&cli).and_then(|(req, others)| {
            if cli.pseudonymise {
                // Checked before the screen opens, so a missing key is one line, not a
                // failed export later.
                crmlens::data::privacy::Pseudonymiser::from_env()?;
            }
            use std::io::IsTerminal;
            if !std::io::stdout().is_terminal() {
                anyhow::bail!(
                    "the workbench needs a terminal (standard output is not one); for scripts use a subcommand such as `crmlens integrate` or `crmlens profile` (see crmlens --help)"
                );
            }
            let options = crmlens::app::run::Options {
                show_pii: cli.show_pii,
                pseudonymise: cli.pseudonymise,
                others,
            };
            crmlens::app::run::run(req, options)
        }),
    }
}
