//! The Segments screen: the algorithm and its parameters, the run on the Features selection,
//! the guide charts (k sweep, k-distance), the clusters' profiles, and the exports of labels
//! and profiles.

pub mod draw;

use std::sync::Arc;

use polars::prelude::DataFrame;

use super::{export_keys, parse_whole};
use crate::analytics::gmm::CovarianceType;
use crate::analytics::segment::{Algorithm, SegmentModel, SegmentParams, SegmentRun};
use crate::analytics::sweep::SweepResult;
use crate::app::action::{Action, Binding, b, n};
use crate::app::job::{JobOutcome, JobRequest};
use crate::app::state::{Command, ExportTarget, Overlay, State};
use crate::data::sources::workspace::FeatureConfig;
use crate::pipeline::segment::KDistance;

/// A parameter on the Segments screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Algorithm,
    K,
    Restarts,
    Seed,
    Eps,
    MinPoints,
    Covariance,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::Algorithm => "algorithm",
            Field::K => "k",
            Field::Restarts => "restarts",
            Field::Seed => "seed",
            Field::Eps => "eps",
            Field::MinPoints => "min points",
            Field::Covariance => "covariance",
        }
    }

    /// Chosen from a list with +/- (nothing to type).
    pub fn is_choice(self) -> bool {
        matches!(self, Field::Algorithm | Field::Covariance)
    }
}

/// The Segments screen: parameters and the last result.
#[derive(Debug, Clone)]
pub struct SegmentsView {
    pub params: SegmentParams,
    /// The parameter the +/- keys change, an index into [`SegmentsView::fields`].
    pub field: usize,
    pub run: Option<SegmentRun>,
    pub sweep: Option<SweepResult>,
    /// DBSCAN's guide: the k-distance curve (from `w`, or from the last DBSCAN run).
    pub k_distance: Option<KDistance>,
    /// Show the guide chart (k sweep, or k-distance for DBSCAN) instead of the scatter.
    pub show_sweep: bool,
    /// What the profile table shows: 0 descriptions, 1 feature means (z), 2 medians.
    pub profile_view: u8,
    /// The first cluster the profile table shows (`[`/`]` scroll through them).
    pub profile_first: usize,
    /// The k sweep's largest k.
    pub sweep_max_k: usize,
    /// The Features selection and table of the running segmentation, and of the one shown
    /// (what `M` saves the model with, and a refresh assigns new customers with).
    pub pending_features: Option<crate::app::follow::FitOn>,
    pub run_features: Option<crate::app::follow::FitOn>,
}

impl Default for SegmentsView {
    fn default() -> Self {
        SegmentsView {
            params: SegmentParams::default(),
            // On k, so + and - change it straight away; the algorithm is one row up.
            field: 1,
            run: None,
            sweep: None,
            k_distance: None,
            show_sweep: false,
            profile_view: 0,
            profile_first: 0,
            sweep_max_k: 10,
            pending_features: None,
            run_features: None,
        }
    }
}

impl SegmentsView {
    /// The parameters of the chosen algorithm, in screen order.
    pub fn fields(&self) -> &'static [Field] {
        match self.params.algorithm {
            Algorithm::KMeans => &[Field::Algorithm, Field::K, Field::Restarts, Field::Seed],
            Algorithm::Dbscan => &[Field::Algorithm, Field::Eps, Field::MinPoints],
            Algorithm::Gmm => &[
                Field::Algorithm,
                Field::K,
                Field::Covariance,
                Field::Restarts,
                Field::Seed,
            ],
        }
    }

    /// The selected parameter.
    pub fn current(&self) -> Field {
        let f = self.fields();
        f[self.field.min(f.len() - 1)]
    }

    /// A parameter's value as the screen shows it.
    pub fn display(&self, field: Field) -> String {
        let p = &self.params;
        let gmm = p.algorithm == Algorithm::Gmm;
        match field {
            Field::Algorithm => p.algorithm.title().to_string(),
            Field::K if gmm => p.gmm.k.to_string(),
            Field::K => p.kmeans.k.to_string(),
            Field::Restarts if gmm => p.gmm.n_init.to_string(),
            Field::Restarts => p.kmeans.n_init.to_string(),
            Field::Seed if gmm => p.gmm.seed.to_string(),
            Field::Seed => p.kmeans.seed.to_string(),
            Field::Eps => format!("{:.3}", p.eps),
            Field::MinPoints => p.min_points.to_string(),
            Field::Covariance => p.gmm.covariance.name().to_string(),
        }
    }

    /// +/- on a parameter: the next choice, one more or less, eps in steps of 0.05.
    pub fn adjust(&mut self, field: Field, delta: i64) {
        let p = &mut self.params;
        let step = |v: usize, lo: usize, hi: usize| {
            (v as i64 + delta).clamp(lo as i64, hi as i64) as usize
        };
        let cycle = |i: usize, n: usize| (i as i64 + delta).rem_euclid(n as i64) as usize;
        match field {
            Field::Algorithm => {
                let i = Algorithm::ALL
                    .iter()
                    .position(|a| *a == p.algorithm)
                    .unwrap_or(0);
                p.algorithm = Algorithm::ALL[cycle(i, Algorithm::ALL.len())];
                self.field = 0;
            }
            Field::Covariance => {
                let all = CovarianceType::ALL;
                let i = all.iter().position(|c| *c == p.gmm.covariance).unwrap_or(0);
                p.gmm.covariance = all[cycle(i, all.len())];
            }
            Field::K => {
                let current = if p.algorithm == Algorithm::Gmm {
                    p.gmm.k
                } else {
                    p.kmeans.k
                };
                let k = step(current, 1, 50);
                p.kmeans.k = k;
                p.gmm.k = k;
            }
            Field::Restarts if p.algorithm == Algorithm::Gmm => {
                p.gmm.n_init = step(p.gmm.n_init, 1, 100)
            }
            Field::Restarts => p.kmeans.n_init = step(p.kmeans.n_init, 1, 100),
            Field::Seed => {
                let v = if p.algorithm == Algorithm::Gmm {
                    p.gmm.seed
                } else {
                    p.kmeans.seed
                };
                let v = v.saturating_add_signed(delta);
                p.kmeans.seed = v;
                p.gmm.seed = v;
            }
            Field::Eps => {
                p.eps = ((p.eps + 0.05 * delta as f64) * 1000.0).round() / 1000.0;
                if p.eps <= 0.0 {
                    p.eps = 0.01;
                }
            }
            Field::MinPoints => p.min_points = step(p.min_points, 1, 1000),
        }
    }

    /// A typed value for a parameter, or why it is not valid.
    pub fn set_text(&mut self, field: Field, text: &str) -> Result<(), String> {
        let text = text.trim();
        let whole = |lo: u64, hi: u64| parse_whole(field.name(), text, lo, hi);
        let p = &mut self.params;
        match field {
            Field::K => {
                let k = whole(1, 50)? as usize;
                p.kmeans.k = k;
                p.gmm.k = k;
            }
            Field::Restarts if p.algorithm == Algorithm::Gmm => {
                p.gmm.n_init = whole(1, 100)? as usize
            }
            Field::Restarts => p.kmeans.n_init = whole(1, 100)? as usize,
            Field::Seed => {
                let v = whole(0, u64::MAX)?;
                p.kmeans.seed = v;
                p.gmm.seed = v;
            }
            Field::MinPoints => p.min_points = whole(1, 1000)? as usize,
            Field::Eps => match text.parse::<f64>() {
                Ok(v) if v > 0.0 && v.is_finite() => p.eps = v,
                _ => return Err(format!("eps: {text:?} is not a positive number")),
            },
            Field::Algorithm | Field::Covariance => self.adjust(field, 1),
        }
        Ok(())
    }
}

pub const BINDINGS: &[Binding] = &[
    b("j/k ↓/↑", "choose parameter (algorithm, k, eps...)"),
    b(
        "+/-",
        "change it (algorithm: k-means, DBSCAN, Gaussian mixture)",
    )
    .each(&[
        n("+", "increase the selected parameter", || Action::Adjust(1)),
        n("-", "decrease the selected parameter", || {
            Action::Adjust(-1)
        }),
    ]),
    b("Enter", "type its value").run("type the selected parameter's value", || Action::StartEdit),
    b("r", "run the algorithm on the Features selection")
        .run("run the algorithm", || Action::RunModel),
    b(
        "w",
        "k-means/GMM: sweep k = 2..10 with a suggested k; DBSCAN: k-distance curve for eps",
    )
    .run("sweep k (DBSCAN: k-distance curve)", || Action::RunSweep),
    b("v", "show the sweep or k-distance chart, or the scatter")
        .run("show the sweep chart or the scatter", || {
            Action::ToggleSweepView
        }),
    b("p", "profiles: descriptions, feature means (z), medians")
        .run("next profile view", || Action::CycleProfile),
    b("[ ]", "profiles: scroll through the clusters").each(&[
        n("]", "profiles from the next cluster", || {
            Action::ScrollProfiles(true)
        }),
        n("[", "profiles from the previous cluster", || {
            Action::ScrollProfiles(false)
        }),
    ]),
    b(
        "e",
        "export every customer's label to a .csv, .parquet or .json file",
    )
    .run("export the labels", || Action::StartExport),
    b(
        "E",
        "export the cluster profiles (size, share, means, medians, z)",
    )
    .run("export the cluster profiles", || Action::ExportProfiles),
    b(
        "M",
        "save the model (centroids, mixture or core points, and the features' scaling) for crmlens score",
    )
    .run("save the segmentation model", || Action::SaveModel),
    b("Esc", "cancel the run (the previous result stays)"),
];

pub const HINTS: &str =
    "j/k/+/- param · Enter type · r run · w sweep · v view · p profile · e export";

/// What a key means on this screen (after the keys every screen shares).
pub fn keys(key: crossterm::event::KeyEvent) -> Option<Action> {
    use crossterm::event::KeyCode;
    Some(match key.code {
        KeyCode::Char('+') | KeyCode::Char('=') => Action::Adjust(1),
        KeyCode::Char('-') => Action::Adjust(-1),
        KeyCode::Enter => Action::StartEdit,
        KeyCode::Char('r') => Action::RunModel,
        KeyCode::Char('w') => Action::RunSweep,
        KeyCode::Char('v') => Action::ToggleSweepView,
        KeyCode::Char('e') => Action::StartExport,
        KeyCode::Char('p') => Action::CycleProfile,
        KeyCode::Char(']') => Action::ScrollProfiles(true),
        KeyCode::Char('[') => Action::ScrollProfiles(false),
        KeyCode::Char('E') => Action::ExportProfiles,
        KeyCode::Char('M') => Action::SaveModel,
        _ => return None,
    })
}

pub fn update(state: &mut State, action: &Action) -> Option<Vec<Command>> {
    if let Some((down, n)) = super::scroll_of(action, state.viewport) {
        let last = state.segments.fields().len() - 1;
        let f = &mut state.segments.field;
        *f = if down {
            (*f + n.min(last)).min(last)
        } else {
            f.saturating_sub(n)
        };
        return Some(Vec::new());
    }
    let ready = if state.segments.run.is_some() {
        Ok("segments_model.toml")
    } else {
        Err("no model yet: run a segmentation first (r)")
    };
    if let Some(c) = super::save_model_keys(state, action, ready, export) {
        return Some(c);
    }
    if let Action::ExportProfiles = action {
        let ready = if state.segments.run.is_some() {
            Ok("profiles.csv")
        } else {
            Err("no profiles yet: run a segmentation first (r)")
        };
        return export_keys(
            state,
            &Action::StartExport,
            ExportTarget::Profiles,
            ready,
            export,
        );
    }
    let ready = if state.segments.run.is_some() {
        Ok("segments.csv")
    } else {
        Err("nothing to export yet: run a segmentation first (r)")
    };
    if let Some(commands) = export_keys(state, action, ExportTarget::Labels, ready, export) {
        return Some(commands);
    }
    Some(match action {
        Action::Adjust(delta) => {
            let field = state.segments.current();
            state.segments.adjust(field, *delta);
            Vec::new()
        }
        Action::StartEdit => {
            let field = state.segments.current();
            if field.is_choice() {
                state.segments.adjust(field, 1);
            } else {
                state.overlay = Some(Overlay::Edit(state.segments.field, String::new()));
            }
            Vec::new()
        }
        Action::PromptSubmit if matches!(state.overlay, Some(Overlay::Edit(..))) => {
            if let Some(Overlay::Edit(field, text)) = state.overlay.take() {
                let fields = state.segments.fields();
                let field = fields[field.min(fields.len() - 1)];
                if let Err(e) = state.segments.set_text(field, &text) {
                    state.error = Some(e);
                }
            }
            Vec::new()
        }
        Action::ToggleSweepView => {
            state.segments.show_sweep = !state.segments.show_sweep;
            Vec::new()
        }
        Action::CycleProfile => {
            state.segments.profile_view = (state.segments.profile_view + 1) % 3;
            Vec::new()
        }
        Action::ScrollProfiles(next) => {
            let n = state.segments.run.as_ref().map_or(0, |r| r.profiles.len());
            let first = &mut state.segments.profile_first;
            *first = if *next {
                (*first + 1).min(n.saturating_sub(1))
            } else {
                first.saturating_sub(1)
            };
            Vec::new()
        }
        Action::RunSweep if state.segments.params.algorithm == Algorithm::Dbscan => {
            let min_points = state.segments.params.min_points;
            model_job(state, |table, features| JobRequest::KDistance {
                table,
                features,
                min_points,
            })
        }
        Action::RunSweep => {
            let params = state.segments.params.kmeans.clone();
            let k_max = state.segments.sweep_max_k;
            model_job(state, |table, features| JobRequest::Sweep {
                table,
                features,
                params,
                k_max,
            })
        }
        Action::RunModel => {
            let params = state.segments.params.clone();
            state.segments.pending_features = crate::app::follow::FitOn::of(state);
            model_job(state, |table, features| JobRequest::Segment {
                table,
                features,
                params,
            })
        }
        _ => return None,
    })
}

pub fn job_done(
    state: &mut State,
    outcome: JobOutcome,
    secs: f64,
) -> Result<Vec<Command>, JobOutcome> {
    match outcome {
        JobOutcome::Swept(r) => {
            state.message = Some(format!(
                "sweep done in {secs:.1}s: suggested k = {} ({})",
                r.suggested_k, r.reason
            ));
            state.segments.sweep = Some(*r);
            state.segments.show_sweep = true;
        }
        JobOutcome::Segmented(r) => {
            state.message = Some(format!("{}, {secs:.1}s", r.summary()));
            state.segments.run_features = state.segments.pending_features.clone();
            if let SegmentModel::Dbscan {
                min_points,
                k_distance,
                ..
            } = &r.model
            {
                // Most rows noise: eps is too small for these features; say what would fit.
                if r.noise * 2 > r.n_rows
                    && let Some(k) = crate::analytics::dbscan::knee(k_distance)
                {
                    state.message = Some(format!(
                        "{}, {secs:.1}s: {} of {} rows are noise at eps {:.3}; the k-distance curve's knee is {:.3} (w sets eps there, then r)",
                        r.summary(),
                        r.noise,
                        r.n_rows,
                        state.segments.params.eps,
                        k
                    ));
                }
                state.segments.k_distance = Some(KDistance {
                    min_points: *min_points,
                    values: k_distance.clone(),
                });
            }
            state.segments.run = Some(*r);
            state.segments.profile_first = 0;
            state.clv.segments = super::clv::per_segment(state);
        }
        JobOutcome::KDistance(k) => {
            // eps at the curve's knee: a starting point the analyst can change.
            let knee = crate::analytics::dbscan::knee(&k.values);
            if let Some(e) = knee {
                state.segments.params.eps = ((e * 1000.0).round() / 1000.0).max(0.001);
            }
            state.message = Some(format!(
                "k-distance curve for min points = {} ({} sampled rows), {secs:.1}s{}",
                k.min_points,
                k.values.len(),
                knee.map(|_| format!(
                    "; eps set to {:.3}, the curve's knee (r runs DBSCAN)",
                    state.segments.params.eps
                ))
                .unwrap_or_default()
            ));
            state.segments.k_distance = Some(*k);
            state.segments.show_sweep = true;
        }
        other => return Err(other),
    }
    Ok(Vec::new())
}

/// Writes the last segmentation's labels, or its profiles (`E`), to `path` (on a worker
/// thread).
fn export(
    state: &mut State,
    target: ExportTarget,
    path: std::path::PathBuf,
    overwrite: bool,
) -> Vec<Command> {
    if target == ExportTarget::Model {
        let (Some(run), Some(crate::app::follow::FitOn { features, table })) = (
            state.segments.run.as_ref(),
            state.segments.run_features.clone(),
        ) else {
            return Vec::new();
        };
        let trained = Box::new(crate::pipeline::saved::Trained::Segment(run.model.clone()));
        return state.start_job(JobRequest::SaveModel {
            path,
            table,
            features,
            trained,
            overwrite,
        });
    }
    if target == ExportTarget::Profiles {
        let Some(run) = &state.segments.run else {
            return Vec::new();
        };
        let profiles = run.profiles.clone();
        return state.start_job(JobRequest::ExportProfiles {
            path,
            profiles,
            overwrite,
        });
    }
    let (Some(table), Some(run)) = (state.table.clone(), state.segments.run.as_ref()) else {
        return Vec::new();
    };
    let Some(key) = table.get_column_names().first().map(|s| s.to_string()) else {
        return Vec::new();
    };
    let Ok(ids) = table.column(&key).cloned() else {
        return Vec::new();
    };
    let labels = run.labels.clone();
    let pseudonymise = state.pseudonymise;
    state.start_job(JobRequest::ExportLabels {
        path,
        id_col: key,
        ids,
        labels,
        overwrite,
        pseudonymise,
    })
}

/// Starts a model job on the table and the Features selection, or says what is missing.
fn model_job(
    state: &mut State,
    make: impl FnOnce(Arc<DataFrame>, FeatureConfig) -> JobRequest,
) -> Vec<Command> {
    let Some(table) = state.table.clone() else {
        state.error = Some("no data loaded: o opens a source".into());
        return Vec::new();
    };
    let features = state.features.config();
    if features.numeric.is_empty() && features.categorical.is_empty() {
        state.error = Some("no features selected: pick some on the Features screen (3)".into());
        return Vec::new();
    }
    state.error = None;
    state.start_job(make(table, features))
}
