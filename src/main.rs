//! The `crmlens` binary: parse arguments, run a headless subcommand or open the workbench.
//! A user error is one `error: ...` line on stderr and exit code 2.

use std::process::ExitCode;

use clap::Parser;
use crmlens::app::job::JobRequest;
use crmlens::cli::{Cli, run_command, sample_workspace_path};

fn open_request(cli: &Cli) -> anyhow::Result<JobRequest> {
    if let Some(w) = &cli.workspace {
        return Ok(JobRequest::Workspace(w.clone()));
    }
    match cli.files.as_slice() {
        [] => sample_workspace_path().map(JobRequest::Workspace).ok_or_else(|| {
            anyhow::anyhow!(
                "no bundled sample found (sample_data/crmlens.toml); pass a workspace or data files"
            )
        }),
        [one] if one.extension().is_some_and(|e| e == "toml") => Ok(JobRequest::Workspace(one.clone())),
        [first, others @ ..] => {
            for p in others {
                if !p.exists() {
                    anyhow::bail!("{}: file not found; check the path", p.display());
                }
            }
            Ok(JobRequest::File {
                path: first.clone(),
                others: others.to_vec(),
            })
        }
    }
}

fn check_exists(req: &JobRequest) -> anyhow::Result<()> {
    if let JobRequest::Workspace(p) | JobRequest::File { path: p, .. } = req
        && !p.exists()
    {
        anyhow::bail!("{}: file not found; check the path", p.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(cmd) => run_command(cmd),
        None => open_request(&cli).and_then(|req| {
            check_exists(&req)?;
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
            };
            crmlens::app::run::run(req, options)
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let msg = e.to_string().replace('\n', " ");
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}
