//! The Identity screen: which records of the customer lists are the same person. `r` runs
//! identity resolution (the workspace's customers and its `[identity]` sources, or the one
//! file open, deduplicated) in the background; the candidate pairs closest to the threshold
//! come first, side by side, and `y` / `n` / `s` label them (same person, different, skip):
//! each label retrains the model from the labels at once (blocking and comparisons are
//! kept), so the analyst sees the weights and the next borderline pairs move.

pub mod draw;

use std::sync::Arc;

use crate::app::action::{Action, Binding, b, n};
use crate::app::job::{JobOutcome, JobRequest};
use crate::app::state::{Command, State};
use crate::data::identity::link::Linked;
use crate::pipeline::link::{LinkInput, LinkRun, LinkSettings};

/// Pairs listed for review.
pub const REVIEW: usize = 500;

/// Bins of the match-weight histogram, over weights -30 to +30.
pub const HISTOGRAM_BINS: usize = 120;
pub const HISTOGRAM_RANGE: (f64, f64) = (-30.0, 30.0);

/// What the screen shows of a run that takes a pass over every candidate pair: computed by
/// the job on its worker thread, so drawing and keys never walk millions of pairs.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// The pairs to review ([`review_order`]).
    pub review: Vec<usize>,
    /// Candidate pairs per match-weight bin ([`HISTOGRAM_BINS`] over [`HISTOGRAM_RANGE`]).
    pub histogram: Vec<u64>,
}

impl Prepared {
    pub fn of(l: &Linked) -> Prepared {
        let (lo, hi) = HISTOGRAM_RANGE;
        let mut histogram = vec![0u64; HISTOGRAM_BINS];
        for &w in &l.weights {
            let b = ((w.clamp(lo, hi - 1e-9) - lo) / (hi - lo) * HISTOGRAM_BINS as f64) as usize;
            histogram[b.min(HISTOGRAM_BINS - 1)] += 1;
        }
        Prepared {
            review: review_order(l, REVIEW),
            histogram,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct IdentityView {
    pub settings: LinkSettings,
    pub result: Option<Arc<LinkRun>>,
    /// Candidate pairs to review, the most uncertain first (see [`review_order`]).
    pub review: Vec<usize>,
    pub selected: usize,
    /// Labels given, in order: (record, record, same person).
    pub labels: Vec<(u32, u32, bool)>,
    /// Candidate pairs per match-weight bin of the shown run (see [`Prepared`]).
    pub histogram: Vec<u64>,
}

impl IdentityView {
    pub fn linked(&self) -> Option<&Linked> {
        self.result.as_ref().map(|r| &r.linked)
    }

    /// The candidate pair shown.
    pub fn current(&self) -> Option<usize> {
        self.review.get(self.selected).copied()
    }

    /// The label of candidate pair `p`, if any.
    pub fn label_of(&self, p: usize) -> Option<bool> {
        let l = self.linked()?;
        let pair = l.candidates().pairs[p];
        self.labels
            .iter()
            .rev()
            .find(|(i, j, _)| (*i, *j) == pair)
            .map(|x| x.2)
    }
}

/// The candidate pairs whose weight is closest to the threshold's, at most `n`: the pairs
/// the model is least sure of.
pub fn review_order(l: &Linked, n: usize) -> Vec<usize> {
    let t = l.threshold.clamp(1e-9, 1.0 - 1e-9);
    let at = (t / (1.0 - t)).log2();
    let mut order: Vec<usize> = (0..l.weights.len()).collect();
    let key = |p: usize| (l.weights[p] - at).abs();
    if order.len() > n {
        order.select_nth_unstable_by(n, |&a, &b| key(a).total_cmp(&key(b)).then(a.cmp(&b)));
        order.truncate(n);
    }
    order.sort_by(|&a, &b| key(a).total_cmp(&key(b)).then(a.cmp(&b)));
    // A record written twice in one file makes the same pair of ids twice: listed once.
    let r = l.records();
    let mut seen = std::collections::HashSet::new();
    order.retain(|&p| {
        let (i, j) = l.candidates().pairs[p];
        seen.insert((r.ids[i as usize].as_str(), r.ids[j as usize].as_str()))
    });
    order
}

pub const BINDINGS: &[Binding] = &[
    b(
        "r",
        "link the customer lists (the workspace's customers and [identity] sources)",
    )
    .run("run identity resolution", || Action::RunModel),
    b("j/k ↓/↑", "the next / previous pair to review"),
    b("y", "same person: label the pair, retrain, next pair")
        .run("label the pair: same person", || Action::Label(Some(true))),
    b("n", "different people: label the pair, retrain, next pair")
        .run("label the pair: different people", || {
            Action::Label(Some(false))
        }),
    b("s", "skip the pair").run("skip the pair", || Action::Label(None)),
    b("+/-", "raise / lower the threshold by 0.05").each(&[
        n("+", "raise the match threshold", || Action::Adjust(1)),
        n("-", "lower the match threshold", || Action::Adjust(-1)),
    ]),
    b(
        "M",
        "save the comparison model (levels, m and u weights, threshold) for `crmlens score --persons`",
    )
    .run("save the identity model", || Action::SaveModel),
    b("Esc", "cancel the run (the previous result stays)"),
];
pub const HINTS: &str =
    "r link · y same · n different · s skip · j/k pairs · +/- threshold · M model";

/// What a key means on this screen (after the keys every screen shares).
pub fn keys(key: crossterm::event::KeyEvent) -> Option<Action> {
    use crossterm::event::KeyCode;
    Some(match key.code {
        KeyCode::Char('r') => Action::RunModel,
        KeyCode::Char('y') => Action::Label(Some(true)),
        KeyCode::Char('n') => Action::Label(Some(false)),
        KeyCode::Char('s') => Action::Label(None),
        KeyCode::Char('+') | KeyCode::Char('=') => Action::Adjust(1),
        KeyCode::Char('-') => Action::Adjust(-1),
        KeyCode::Char('M') => Action::SaveModel,
        _ => return None,
    })
}

/// Saves the shown run's comparison model (on a worker thread).
fn export(
    state: &mut State,
    _: crate::app::state::ExportTarget,
    path: std::path::PathBuf,
    overwrite: bool,
) -> Vec<Command> {
    let Some(run) = state.identity.result.clone() else {
        return Vec::new();
    };
    state.start_job(JobRequest::SaveLinkage {
        path,
        run,
        overwrite,
    })
}

/// The inputs the screen links: the workspace's customers and `[identity]` sources, or the
/// file open on its own.
fn inputs(state: &mut State) -> Option<Vec<LinkInput>> {
    if let Some(ws) = &state.workspace {
        return Some(crate::pipeline::link::workspace_inputs(
            ws,
            &state.identity.settings,
        ));
    }
    match &state.source {
        Some(p) => Some(vec![LinkInput {
            path: p.clone(),
            id: None,
        }]),
        None => {
            state.error = Some(
                "nothing to link: open a workspace (its customers and [identity] sources) or a customer file"
                    .into(),
            );
            None
        }
    }
}

fn relabel(state: &mut State) -> Vec<Command> {
    let Some(run) = state.identity.result.clone() else {
        return Vec::new();
    };
    let labels = state.identity.labels.clone();
    let threshold = state.identity.settings.threshold;
    state.start_job(JobRequest::Relabel {
        run,
        labels,
        threshold,
    })
}

/// The Identity screen's handling of `action`, or None for the common handler.
pub fn update(state: &mut State, action: &Action) -> Option<Vec<Command>> {
    let ready = if state.identity.result.is_some() {
        Ok("identity_model.toml")
    } else {
        Err("no model yet: run identity resolution first (r)")
    };
    if let Some(c) = super::save_model_keys(state, action, ready, export) {
        return Some(c);
    }
    let model = crate::app::state::ExportTarget::Model;
    if let Some(c) = super::export_keys(state, action, model, ready, export) {
        return Some(c);
    }
    let view = &mut state.identity;
    let last = view.review.len().saturating_sub(1);
    match action {
        Action::Down(n) => view.selected = (view.selected + n).min(last),
        Action::Up(n) => view.selected = view.selected.saturating_sub(*n),
        Action::Top => view.selected = 0,
        Action::Bottom => view.selected = last,
        Action::PageDown => view.selected = (view.selected + state.viewport.max(2) / 2).min(last),
        Action::PageUp => view.selected = view.selected.saturating_sub(state.viewport.max(2) / 2),
        Action::Adjust(d) => {
            let t = ((view.settings.threshold + 0.05 * *d as f64) * 100.0).round() / 100.0;
            view.settings.threshold = t.clamp(0.05, 0.95);
            state.message = Some(format!(
                "threshold {}: rescoring",
                state.identity.settings.threshold
            ));
            return Some(relabel(state));
        }
        Action::Label(label) => {
            let Some(p) = view.current() else {
                state.error = Some("no pair to label: run identity resolution first (r)".into());
                return Some(Vec::new());
            };
            view.selected = (view.selected + 1).min(last);
            let Some(same) = label else {
                return Some(Vec::new());
            };
            let Some((i, j)) = view.linked().map(|l| l.candidates().pairs[p]) else {
                return Some(Vec::new());
            };
            view.labels.retain(|(a, b, _)| (*a, *b) != (i, j));
            view.labels.push((i, j, *same));
            let (yes, no) =
                view.labels.iter().fold(
                    (0, 0),
                    |(y, n), l| {
                        if l.2 { (y + 1, n) } else { (y, n + 1) }
                    },
                );
            state.message = Some(format!(
                "{} labels ({yes} same, {no} different): retraining",
                yes + no
            ));
            return Some(relabel(state));
        }
        Action::RunModel => {
            let inputs = inputs(state)?;
            state.error = None;
            let settings = state.identity.settings.clone();
            let labels = Vec::new();
            state.identity.labels.clear();
            return Some(state.start_job(JobRequest::Link {
                inputs,
                settings,
                labels,
            }));
        }
        _ => return None,
    }
    Some(Vec::new())
}

pub fn job_done(
    state: &mut State,
    outcome: JobOutcome,
    secs: f64,
) -> Result<Vec<Command>, JobOutcome> {
    match outcome {
        JobOutcome::Linked(run, shown) => {
            let l = &run.linked;
            state.message = Some(format!(
                "{} records, {} candidate pairs, {} linked at p >= {}, {} people, {secs:.1}s",
                l.records().len(),
                l.candidates().pairs.len(),
                l.accepted.len(),
                l.threshold,
                l.clusters.sizes.len()
            ));
            state.identity.review = shown.review;
            state.identity.histogram = shown.histogram;
            state.identity.selected = 0;
            state.identity.result = Some(Arc::new(*run));
            Ok(Vec::new())
        }
        JobOutcome::Relabelled(linked, prepared) => {
            let Some(old) = state.identity.result.as_ref() else {
                return Ok(Vec::new());
            };
            let shown = state.identity.current();
            let run = LinkRun {
                linked: *linked,
                inputs: old.inputs.clone(),
                left_out: old.left_out.clone(),
                read_seconds: old.read_seconds,
            };
            let l = &run.linked;
            state.message = Some(format!(
                "retrained on {} labels: {} pairs at p >= {}, {} people",
                l.labels.len(),
                l.accepted.len(),
                l.threshold,
                l.clusters.sizes.len()
            ));
            // The labelled pairs stay in the list; the rest follow the new weights.
            let mut review = prepared.review;
            state.identity.histogram = prepared.histogram;
            for &(i, j, _) in &l.labels {
                if let Ok(p) = l.candidates().pairs.binary_search(&(i, j))
                    && !review.contains(&p)
                {
                    review.push(p);
                }
            }
            state.identity.selected = shown
                .and_then(|p| review.iter().position(|&x| x == p))
                .unwrap_or(0);
            state.identity.review = review;
            state.identity.result = Some(Arc::new(run));
            Ok(Vec::new())
        }
        other => Err(other),
    }
}
