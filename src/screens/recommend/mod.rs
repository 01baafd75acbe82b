//! The Recommend screen's state and keys: build the item-item model (and its evaluation
//! against popularity) in the background, pick a customer by id, see their history beside
//! their recommendations with reasons, export everyone's top N.

pub mod draw;

use std::path::PathBuf;
use std::sync::Arc;

use crate::analytics::recommend::Recommendation;
use crate::pipeline::recommend::{RecModel, RecommendSettings};

use crate::app::action::{Action, Binding, b, n};
use crate::app::job::{JobOutcome, JobRequest};
use crate::app::state::{Command, Overlay, State};

#[derive(Debug, Clone, Default)]
pub struct RecommendView {
    /// The list length and the model's parameters.
    pub settings: RecommendSettings,
    pub result: Option<Arc<RecModel>>,
    /// The selected customer (index into `result.customers`).
    pub customer: Option<usize>,
    /// Their recommendations (recomputed when the customer or N changes).
    pub recs: Vec<Recommendation>,
}

impl RecommendView {
    pub(crate) fn refresh(&mut self) {
        self.recs = match (&self.result, self.customer) {
            (Some(r), Some(u)) => r.recommend(u, self.settings.top),
            _ => Vec::new(),
        };
    }

    /// Selects the first customer whose id starts with `text` (exact match first).
    fn find(&mut self, text: &str) -> Result<(), String> {
        let Some(r) = &self.result else {
            return Err("build the model first (r)".into());
        };
        let t = text.trim();
        let at = r.customers.partition_point(|c| c.as_str() < t);
        match r.customers.get(at) {
            Some(c) if c.starts_with(t) => {
                self.customer = Some(at);
                self.refresh();
                Ok(())
            }
            _ => Err(format!("no customer id starts with {t:?}")),
        }
    }
}

pub const BINDINGS: &[Binding] = &[
    b(
        "r",
        "build item similarities from the order lines, evaluate against popularity",
    )
    .run("build and evaluate the model", || Action::RunModel),
    b("/", "find a customer by id (prefix), Enter selects")
        .run("find a customer by id", || Action::StartSearch),
    b("j/k ↓/↑ g/G", "next / previous customer"),
    b("+/-", "more or fewer recommendations (N)").each(&[
        n("+", "more recommendations (N + 1)", || Action::Adjust(1)),
        n("-", "fewer recommendations (N - 1)", || Action::Adjust(-1)),
    ]),
    b("e", "export every customer's top N (background)")
        .run("export everyone's top N", || Action::StartExport),
    b("y", "copy the recommendations as TSV (OSC 52)")
        .run("copy the selected customer's recommendations", || {
            Action::CopySelected { row: false }
        }),
];
pub const HINTS: &str = "r build · / find customer · j/k customer · +/- N · e export all";

pub fn job_done(
    state: &mut State,
    outcome: JobOutcome,
    secs: f64,
) -> Result<Vec<Command>, JobOutcome> {
    let JobOutcome::Recommended(m) = outcome else {
        return Err(outcome);
    };
    state.message = Some(match &m.evaluation {
        Some(e) => format!(
            "{} customers, {} items; hit rate@10 {:.3} (popular {:.3}), {secs:.1}s",
            m.customers.len(),
            m.items.len(),
            e.model.hit_rate,
            e.baseline.hit_rate
        ),
        None => format!(
            "{} customers, {} items, {secs:.1}s",
            m.customers.len(),
            m.items.len()
        ),
    });
    set_model(state, *m);
    Ok(Vec::new())
}

/// What a key means on this screen (after the keys every screen shares).
pub fn keys(key: crossterm::event::KeyEvent) -> Option<Action> {
    use crossterm::event::KeyCode;
    Some(match key.code {
        KeyCode::Char('y') => Action::CopySelected { row: false },
        KeyCode::Char(c) => match c {
            '+' | '=' => Action::Adjust(1),
            '-' => Action::Adjust(-1),
            'r' => Action::RunModel,
            'e' => Action::StartExport,
            '/' => Action::StartSearch,
            _ => return None,
        },
        _ => return None,
    })
}

pub fn update(state: &mut State, action: &Action) -> Option<Vec<Command>> {
    let ready = if state.recommend.result.is_some() {
        Ok("recommendations.csv")
    } else {
        Err("nothing to export yet: build the model first (r)")
    };
    if let Some(c) = super::export_keys(
        state,
        action,
        crate::app::state::ExportTarget::Recommendations,
        ready,
        export,
    ) {
        return Some(c);
    }
    let view = &mut state.recommend;
    let count = view.result.as_ref().map_or(0, |r| r.customers.len());
    match action {
        Action::Down(n) | Action::Up(n) => {
            if count > 0 {
                let at = view.customer.unwrap_or(0) as i64;
                let d = if matches!(action, Action::Down(_)) {
                    *n as i64
                } else {
                    -(*n as i64)
                };
                view.customer = Some((at + d).clamp(0, count as i64 - 1) as usize);
                view.refresh();
            }
        }
        Action::Top | Action::Bottom if count > 0 => {
            view.customer = Some(if matches!(action, Action::Top) {
                0
            } else {
                count - 1
            });
            view.refresh();
        }
        Action::Adjust(d) => {
            view.settings.top = (view.settings.top as i64 + d).clamp(1, 50) as usize;
            view.refresh();
        }
        Action::StartSearch => state.overlay = Some(Overlay::Filter(String::new())),
        Action::PromptSubmit if matches!(state.overlay, Some(Overlay::Filter(_))) => {
            if let Some(Overlay::Filter(text)) = state.overlay.take() {
                match view.find(&text) {
                    Ok(()) => state.error = None,
                    Err(e) => state.error = Some(e),
                }
            }
        }
        Action::RunModel => {
            state.error = None;
            return Some(run(state));
        }
        _ => return None,
    }
    Some(Vec::new())
}

/// Runs the model on the order lines with the screen's settings (`r`, and again after a
/// refresh brought new order lines). Nothing when the data has no order lines.
pub fn run(state: &mut State) -> Vec<Command> {
    let settings = state.recommend.settings.clone();
    state.start_on_order_lines(|input, roles| JobRequest::Recommend {
        input,
        settings,
        roles,
    })
}

fn export(
    state: &mut State,
    _: crate::app::state::ExportTarget,
    path: PathBuf,
    overwrite: bool,
) -> Vec<Command> {
    let Some(model) = state.recommend.result.clone() else {
        return Vec::new();
    };
    let top = state.recommend.settings.top;
    state.start_job(JobRequest::ExportRecommendations {
        path,
        model,
        top,
        overwrite,
        pseudonymise: state.pseudonymise,
    })
}

/// Sets a freshly built model, keeping the selected customer when it is still there.
pub fn set_model(state: &mut State, m: RecModel) {
    let view = &mut state.recommend;
    let keep = view
        .customer
        .and_then(|u| view.result.as_ref().map(|r| r.customers[u].clone()));
    let at = keep.and_then(|id| m.customers.binary_search(&id).ok());
    view.customer = at.or((!m.customers.is_empty()).then_some(0));
    view.result = Some(Arc::new(m));
    view.refresh();
}
