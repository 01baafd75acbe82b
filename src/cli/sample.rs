//! `crmlens gen-sample` (the bundled sample data set and its ground truth), `crmlens demo`, and where the bundled sample workspace is.

use super::*;

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

pub(super) fn gen_sample(a: GenArgs) -> Result<()> {
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

/// `crmlens demo`: the script is read and checked first (a mistake is one error line), then
/// the workbench opens on the bundled sample in demo mode.
pub(super) fn demo(script: Option<&Path>) -> Result<()> {
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
