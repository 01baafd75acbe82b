//! The Predict screen's state and what its keys do: the target and model, their parameters,
//! the last run (with the threshold applied to the test rows as it moves), the grid search,
//! the lower pane (importance, at-risk list, tree, grid), and the drill-down from a
//! confusion-matrix cell to its customers.

pub mod draw;
mod draw_values;

use std::path::PathBuf;
use std::sync::Arc;

use crate::analytics::gbdt::RegressionLoss;
use crate::analytics::predict::{Comparison, GridResult, ModelKind, Task};
use crate::analytics::tree::Criterion;
use crate::pipeline::predict::{Mode, PredictSettings, Prediction, ValuePrediction};

use crate::app::action::{Action, Binding, b, n};
use crate::app::job::{JobOutcome, JobRequest};
use crate::app::state::{Command, Overlay, State};

/// A parameter on the Predict screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PField {
    Target,
    Task,
    Model,
    Loss,
    Trees,
    MaxDepth,
    MinLeaf,
    Criterion,
    Alpha,
    Rounds,
    LearningRate,
    MaxLeaves,
    EarlyStopping,
    Hidden,
    Epochs,
    Dropout,
    Threshold,
    Folds,
    Seed,
}

impl PField {
    pub fn name(self) -> &'static str {
        match self {
            PField::Target => "target",
            PField::Task => "task",
            PField::Model => "model",
            PField::Loss => "loss",
            PField::Trees => "trees",
            PField::MaxDepth => "max depth",
            PField::MinLeaf => "min leaf",
            PField::Criterion => "criterion",
            PField::Alpha => "alpha (L2)",
            PField::Rounds => "rounds",
            PField::LearningRate => "learn rate",
            PField::MaxLeaves => "max leaves",
            PField::EarlyStopping => "early stop",
            PField::Hidden => "hidden",
            PField::Epochs => "epochs",
            PField::Dropout => "dropout",
            PField::Threshold => "threshold",
            PField::Folds => "cv folds",
            PField::Seed => "seed",
        }
    }

    /// Chosen from a list with +/- (nothing to type).
    pub fn is_choice(self) -> bool {
        matches!(
            self,
            PField::Target
                | PField::Task
                | PField::Model
                | PField::Loss
                | PField::Criterion
                | PField::EarlyStopping
        )
    }
}

/// What the lower right pane shows (`v` cycles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pane {
    #[default]
    Importance,
    /// Classes: the at-risk list; values: the customers predicted highest.
    AtRisk,
    Tree,
    Grid,
    /// Every model of the task side by side (`w`).
    Compare,
}

impl Pane {
    pub const ALL: [Pane; 5] = [
        Pane::Importance,
        Pane::AtRisk,
        Pane::Tree,
        Pane::Grid,
        Pane::Compare,
    ];
    /// A value target's panes (no decision-tree text).
    pub const VALUES: [Pane; 4] = [Pane::Importance, Pane::AtRisk, Pane::Grid, Pane::Compare];

    /// The panes `v` cycles through for `task`.
    pub fn cycle(task: Task) -> &'static [Pane] {
        match task {
            Task::Classification => &Self::ALL,
            Task::Regression => &Self::VALUES,
        }
    }

    pub fn title(self, task: Task) -> &'static str {
        match (self, task) {
            (Pane::Importance, _) => "importance",
            (Pane::AtRisk, Task::Classification) => "at risk",
            (Pane::AtRisk, Task::Regression) => "highest predicted",
            (Pane::Tree, _) => "tree",
            (Pane::Grid, _) => "grid search",
            (Pane::Compare, _) => "models compared",
        }
    }
}

/// The customers behind one confusion-matrix cell.
#[derive(Debug, Clone, PartialEq)]
pub struct CellDrill {
    pub actual: usize,
    pub predicted: usize,
    pub rows: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct PredictView {
    /// Columns that can be a target of classes (boolean, integer or text; not the key).
    pub targets: Vec<String>,
    /// Columns of values that can be a regression target (numbers with many values or
    /// fractions), after `targets` in the Target line's choices.
    pub value_targets: Vec<String>,
    /// The target and the model's parameters.
    pub settings: PredictSettings,
    /// The parameter the +/- keys change, an index into [`PredictView::fields`].
    pub field: usize,
    pub result: Option<Box<Prediction>>,
    /// The last regression run (a value target); `result` and `values` are never both set.
    pub values: Option<Box<ValuePrediction>>,
    pub grid: Option<GridResult>,
    /// The last comparison of every model of the task (`w`).
    pub comparison: Option<Comparison>,
    /// `n`: the target is each customer's next-period value (spend or purchases) from the
    /// order lines, in the CLV screen's window, instead of a column.
    pub next: Option<crate::pipeline::next_period::NextTarget>,
    pub pane: Pane,
    /// The selected confusion-matrix cell (actual, predicted).
    pub cell: (usize, usize),
    pub drill: Option<CellDrill>,
    /// First line shown of the lower pane's list or tree.
    pub scroll: usize,
    /// Show the precision-recall curve instead of the ROC curve.
    pub show_pr: bool,
    /// The Features selection and table of the running prediction, and of the one shown
    /// (what `M` saves the model with, and a refresh scores new customers with).
    pub pending_features: Option<crate::app::follow::FitOn>,
    pub run_features: Option<crate::app::follow::FitOn>,
}

impl Default for PredictView {
    fn default() -> Self {
        PredictView {
            targets: Vec::new(),
            value_targets: Vec::new(),
            settings: PredictSettings::default(),
            field: 0,
            result: None,
            values: None,
            grid: None,
            comparison: None,
            next: None,
            pane: Pane::Importance,
            cell: (1, 0),
            drill: None,
            scroll: 0,
            show_pr: false,
            pending_features: None,
            run_features: None,
        }
    }
}

/// Steps for +/- on the minimum leaf size and the L2 strength.
const MIN_LEAF: [usize; 10] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
const ALPHA: [f64; 9] = [0.001, 0.01, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0, 1000.0];
const TREES: [usize; 9] = [10, 20, 50, 100, 200, 300, 500, 750, 1000];
const ROUNDS: [usize; 9] = [10, 20, 50, 100, 200, 300, 500, 1000, 2000];
const LEARNING_RATE: [f64; 8] = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0];
const LEAVES: [usize; 9] = [2, 4, 8, 15, 31, 63, 127, 255, 511];
const EPOCHS: [usize; 8] = [5, 10, 20, 50, 100, 200, 500, 1000];
/// The hidden layers +/- cycles through (any other is typed with Enter).
const HIDDEN: [&[usize]; 7] = [
    &[16],
    &[32],
    &[64],
    &[32, 16],
    &[64, 32],
    &[128, 64],
    &[64, 32, 16],
];

/// The next value of `steps` (ascending) from `v` in direction `delta` (+1 or -1); a value
/// between two steps moves to the nearer one in that direction.
fn step_in<T: PartialOrd + Copy>(steps: &[T], v: T, delta: i64) -> T {
    let Some(at) = steps.iter().position(|s| *s >= v) else {
        // Above the last step: down goes to the last, up stays.
        return if delta < 0 { steps[steps.len() - 1] } else { v };
    };
    let at = at as i64;
    let to = if steps[at as usize] > v {
        if delta > 0 { at } else { at - 1 }
    } else {
        at + delta
    };
    steps[to.clamp(0, steps.len() as i64 - 1) as usize]
}

impl PredictView {
    /// Offers `targets` (see [`crate::data::features::target::candidates`]); `churned` is picked when
    /// there is one.
    pub fn with_targets(targets: Vec<String>) -> PredictView {
        let target = crate::pipeline::predict::default_target(&targets);
        PredictView {
            targets,
            settings: PredictSettings {
                target,
                ..PredictSettings::default()
            },
            ..PredictView::default()
        }
    }

    /// Why there is no target, and what to do.
    pub fn no_target(&self) -> String {
        if self.targets.is_empty() {
            format!(
                "no target: no column of this table has 2 to {} classes",
                crate::data::features::target::MAX_CLASSES
            )
        } else {
            format!(
                "no target chosen: no column is named like churn, target or label; on the Target line (j/k) +/- picks one of: {}",
                self.targets.join(", ")
            )
        }
    }

    /// What the target asks for: the Task line's choice, else regression for a column of
    /// values (see [`PredictView::value_targets`]).
    pub fn task(&self) -> Task {
        if self.next.is_some() {
            return Task::Regression;
        }
        self.settings.task.unwrap_or(match &self.settings.target {
            Some(t) if self.value_targets.contains(t) => Task::Regression,
            _ => Task::Classification,
        })
    }

    /// Every column the Target line offers: classes, then values.
    fn all_targets(&self) -> Vec<String> {
        let mut all = self.targets.clone();
        all.extend(self.value_targets.iter().cloned());
        all
    }

    /// A model the task cannot use gives way to the forest (which does both).
    fn fit_model_to_task(&mut self) {
        if !self.settings.model.does(self.task()) {
            self.settings.model = ModelKind::Forest;
        }
    }

    /// The parameters of the chosen model, in screen order.
    pub fn fields(&self) -> &'static [PField] {
        use PField::*;
        if self.task() == crate::analytics::predict::Task::Regression {
            return match self.settings.model {
                ModelKind::Linear => &[Target, Task, Model, Alpha, Folds, Seed],
                ModelKind::Tree => &[Target, Task, Model, MaxDepth, MinLeaf, Folds, Seed],
                ModelKind::Gbdt => &[
                    Target,
                    Task,
                    Model,
                    Loss,
                    Rounds,
                    LearningRate,
                    MaxLeaves,
                    MaxDepth,
                    MinLeaf,
                    EarlyStopping,
                    Folds,
                    Seed,
                ],
                _ => &[Target, Task, Model, Trees, MaxDepth, MinLeaf, Folds, Seed],
            };
        }
        match self.settings.model {
            ModelKind::Forest => &[
                Target, Task, Model, Trees, MaxDepth, MinLeaf, Threshold, Folds, Seed,
            ],
            ModelKind::Tree => &[
                Target, Task, Model, MaxDepth, MinLeaf, Criterion, Threshold, Folds, Seed,
            ],
            ModelKind::Logistic | ModelKind::Svm => {
                &[Target, Task, Model, Alpha, Threshold, Folds, Seed]
            }
            ModelKind::Linear => &[Target, Task, Model, Alpha, Folds, Seed],
            ModelKind::Mlp => &[
                Target,
                Task,
                Model,
                Hidden,
                Epochs,
                Dropout,
                EarlyStopping,
                Threshold,
                Folds,
                Seed,
            ],
            ModelKind::Gbdt => &[
                Target,
                Task,
                Model,
                Rounds,
                LearningRate,
                MaxLeaves,
                MaxDepth,
                MinLeaf,
                EarlyStopping,
                Threshold,
                Folds,
                Seed,
            ],
        }
    }

    /// The selected parameter.
    pub fn current(&self) -> PField {
        let f = self.fields();
        f[self.field.min(f.len() - 1)]
    }

    /// A parameter's value as the screen shows it.
    pub fn display(&self, field: PField) -> String {
        let p = &self.settings;
        match field {
            PField::Target => match self.next {
                Some(t) => format!("next {t}"),
                None => self
                    .settings
                    .target
                    .clone()
                    .unwrap_or_else(|| "(none)".into()),
            },
            // Auto: what the target's column is (values or classes), marked as chosen for it.
            PField::Task => {
                let words = |t: Task| match t {
                    Task::Classification => "classes",
                    Task::Regression => "values",
                };
                match p.task {
                    Some(t) => words(t).to_string(),
                    None => format!("auto·{}", &words(self.task())[..3]),
                }
            }
            PField::Model => p.model.name().to_string(),
            PField::Loss => p.loss.name().to_string(),
            PField::Trees => p.trees.to_string(),
            PField::MaxDepth => p.max_depth.to_string(),
            PField::MinLeaf => p.min_leaf().to_string(),
            PField::Rounds => p.rounds.to_string(),
            PField::LearningRate => format!("{}", p.learning_rate),
            PField::MaxLeaves => p.max_leaves.to_string(),
            PField::EarlyStopping => if p.early_stopping { "on" } else { "off" }.to_string(),
            PField::Hidden => p
                .hidden
                .iter()
                .map(|h| h.to_string())
                .collect::<Vec<_>>()
                .join(","),
            PField::Epochs => p.epochs.to_string(),
            PField::Dropout => format!("{}", p.dropout),
            PField::Criterion => p.criterion.name().to_string(),
            PField::Alpha => format!("{}", p.alpha()),
            PField::Threshold => format!("{:.2}", p.threshold),
            PField::Folds => p.folds.to_string(),
            PField::Seed => p.seed.to_string(),
        }
    }

    /// +/- on a parameter.
    pub fn adjust(&mut self, field: PField, delta: i64) {
        let cycle = |i: usize, n: usize| (i as i64 + delta).rem_euclid(n.max(1) as i64) as usize;
        let p = &mut self.settings;
        match field {
            PField::Target if self.next.is_some() => {
                // Back to the table's columns.
                self.next = None;
                self.fit_model_to_task();
            }
            PField::Target => {
                let all = self.all_targets();
                if !all.is_empty() {
                    let i = self
                        .settings
                        .target
                        .as_ref()
                        .and_then(|t| all.iter().position(|x| x == t))
                        .unwrap_or(0);
                    self.settings.target = Some(all[cycle(i, all.len())].clone());
                    self.fit_model_to_task();
                }
            }
            PField::Task => {
                const CHOICES: [Option<Task>; 3] =
                    [None, Some(Task::Classification), Some(Task::Regression)];
                let i = CHOICES.iter().position(|t| *t == p.task).unwrap_or(0);
                p.task = CHOICES[cycle(i, CHOICES.len())];
                self.fit_model_to_task();
            }
            PField::Model => {
                let models = ModelKind::for_task(self.task());
                let p = &mut self.settings;
                let i = models.iter().position(|m| *m == p.model).unwrap_or(0);
                p.model = models[cycle(i, models.len())];
                self.field = 2;
            }
            PField::Loss => {
                let i = RegressionLoss::ALL
                    .iter()
                    .position(|l| *l == p.loss)
                    .unwrap_or(0);
                p.loss = RegressionLoss::ALL[cycle(i, RegressionLoss::ALL.len())];
            }
            PField::Trees => p.trees = step_in(&TREES, p.trees, delta),
            PField::MaxDepth => p.max_depth = (p.max_depth as i64 + delta).clamp(1, 32) as usize,
            PField::MinLeaf => p.min_leaf = Some(step_in(&MIN_LEAF, p.min_leaf(), delta)),
            PField::Rounds => p.rounds = step_in(&ROUNDS, p.rounds, delta),
            PField::LearningRate => {
                p.learning_rate = step_in(&LEARNING_RATE, p.learning_rate, delta)
            }
            PField::MaxLeaves => p.max_leaves = step_in(&LEAVES, p.max_leaves, delta),
            PField::EarlyStopping => p.early_stopping = !p.early_stopping,
            PField::Hidden => {
                let i = HIDDEN.iter().position(|h| *h == p.hidden.as_slice());
                let next = match i {
                    Some(i) => cycle(i, HIDDEN.len()),
                    None => 0,
                };
                p.hidden = HIDDEN[next].to_vec();
            }
            PField::Epochs => p.epochs = step_in(&EPOCHS, p.epochs, delta),
            PField::Dropout => {
                p.dropout = ((p.dropout + 0.05 * delta as f64) * 100.0)
                    .round()
                    .clamp(0.0, 90.0)
                    / 100.0
            }
            PField::Criterion => {
                p.criterion = match p.criterion {
                    Criterion::Gini => Criterion::Entropy,
                    Criterion::Entropy => Criterion::Gini,
                }
            }
            PField::Alpha => p.alpha = Some(step_in(&ALPHA, p.alpha(), delta)),
            PField::Threshold => {
                let t = ((p.threshold + 0.05 * delta as f64) * 100.0).round() / 100.0;
                p.threshold = t.clamp(0.05, 0.95);
                self.apply_threshold();
            }
            PField::Folds => p.folds = (p.folds as i64 + delta).clamp(2, 20) as usize,
            PField::Seed => {
                p.seed = p.seed.saturating_add_signed(delta);
            }
        }
    }

    /// Moves the last run's test metrics and drill-down to the current threshold.
    pub(crate) fn apply_threshold(&mut self) {
        let t = self.settings.threshold;
        if let Some(r) = &mut self.result
            && r.classes.len() == 2
        {
            r.rethreshold(t);
            if let Some(d) = &self.drill {
                let rows = r.cell_rows(d.actual, d.predicted);
                self.drill = Some(CellDrill { rows, ..d.clone() });
            }
        }
    }

    /// A typed value for a parameter, or why it is not valid.
    pub fn set_text(&mut self, field: PField, text: &str) -> Result<(), String> {
        let text = text.trim();
        let whole = |lo: u64, hi: u64| super::parse_whole(field.name(), text, lo, hi);
        let p = &mut self.settings;
        match field {
            PField::Trees => p.trees = whole(1, 5000)? as usize,
            PField::MaxDepth => p.max_depth = whole(1, 64)? as usize,
            PField::MinLeaf => p.min_leaf = Some(whole(1, 1_000_000)? as usize),
            PField::Rounds => p.rounds = whole(1, 10_000)? as usize,
            PField::Epochs => p.epochs = whole(1, 10_000)? as usize,
            PField::Dropout => match text.parse::<f64>() {
                Ok(v) if (0.0..=0.9).contains(&v) => p.dropout = v,
                _ => return Err(format!("dropout: {text:?} is not a share from 0 to 0.9")),
            },
            PField::MaxLeaves => p.max_leaves = whole(2, 4096)? as usize,
            PField::LearningRate => match text.parse::<f64>() {
                Ok(v) if crate::analytics::limits::LEARNING_RATE.check(v).is_ok() => {
                    p.learning_rate = v
                }
                _ => {
                    return Err(format!(
                        "learning rate: {text:?} is not a number from 0.0001 to 1"
                    ));
                }
            },
            PField::Folds => p.folds = whole(2, 50)? as usize,
            PField::Seed => {
                p.seed = whole(0, u64::MAX)?;
            }
            PField::Alpha => match text.parse::<f64>() {
                Ok(v) if v > 0.0 && v.is_finite() => p.alpha = Some(v),
                // Linear regression: 0 is least squares.
                Ok(v) if v == 0.0 && p.model == ModelKind::Linear => p.alpha = Some(v),
                _ => return Err(format!("alpha: {text:?} is not a positive number")),
            },
            PField::Threshold => match text.parse::<f64>() {
                Ok(v) if v > 0.0 && v < 1.0 => {
                    p.threshold = v;
                    self.apply_threshold();
                }
                _ => {
                    return Err(format!(
                        "threshold: {text:?} is not a probability between 0 and 1"
                    ));
                }
            },
            PField::Hidden => {
                let layers: Result<Vec<usize>, _> =
                    text.split(',').map(|v| v.trim().parse::<usize>()).collect();
                match layers {
                    Ok(l)
                        if (1..=3).contains(&l.len())
                            && l.iter().all(|&h| (1..=4096).contains(&h)) =>
                    {
                        p.hidden = l
                    }
                    _ => {
                        return Err(format!(
                            "hidden: {text:?} is not 1 to 3 layer sizes from 1 to 4096, e.g. 64,32"
                        ));
                    }
                }
            }
            PField::Target
            | PField::Task
            | PField::Model
            | PField::Loss
            | PField::Criterion
            | PField::EarlyStopping => self.adjust(field, 1),
        }
        Ok(())
    }

    /// The selected confusion-matrix cell moved by `delta` (row-major, wrapping).
    fn move_cell(&mut self, delta: i64) {
        let k = self.result.as_ref().map_or(2, |r| r.classes.len());
        let at = (self.cell.0 * k + self.cell.1) as i64;
        let to = (at + delta).rem_euclid((k * k) as i64) as usize;
        self.cell = (to / k, to % k);
        if self.drill.is_some() {
            self.open_drill();
        }
    }

    fn open_drill(&mut self) {
        if let Some(r) = &self.result {
            let (a, p) = self.cell;
            self.drill = Some(CellDrill {
                actual: a,
                predicted: p,
                rows: r.cell_rows(a, p),
            });
            self.scroll = 0;
        }
    }

    /// Puts the grid's best setting into the parameters.
    fn apply_best(&mut self) -> Option<String> {
        let g = self.grid.as_ref()?;
        let best = &g.rows[g.best];
        if g.model != self.settings.model {
            return None;
        }
        if let Some(a) = best.alpha {
            self.settings.alpha = Some(a);
        }
        if let (Some(d), Some(l)) = (best.max_depth, best.min_leaf) {
            self.settings.max_depth = d;
            self.settings.min_leaf = Some(l);
        }
        Some(match best.alpha {
            Some(a) => format!("alpha {a}"),
            None => format!(
                "max depth {}, min leaf {}",
                self.settings.max_depth,
                self.settings.min_leaf()
            ),
        })
    }
}

pub const BINDINGS: &[Binding] = &[
    b(
        "j/k ↓/↑",
        "choose parameter (target, model, depth, threshold...)",
    ),
    b("+/-", "change it (target and model: next choice)").each(&[
        n("+", "increase the selected parameter", || Action::Adjust(1)),
        n("-", "decrease the selected parameter", || {
            Action::Adjust(-1)
        }),
    ]),
    b("Enter", "type its value").run("type the selected parameter's value", || Action::StartEdit),
    b(
        "r",
        "train and validate on the Features selection (target left out)",
    )
    .run("train and validate the model", || Action::RunModel),
    b(
        "w / W / a",
        "compare all models / grid search / apply its best",
    )
    .each(&[
        n("w", "compare every model of the task on the same folds", || {
            Action::RunCompare
        }),
        n(
            "W",
            "grid search: depth x min leaf (trees, forest, gbdt) or alpha (logistic, svm, linear)",
            || Action::RunSweep,
        ),
        n("a", "apply the grid's best setting", || Action::ApplyBest),
    ]),
    b(
        "n",
        "target: next-period spend, purchases, columns again",
    )
    .run("predict next-period spend from the order lines", || {
        Action::RunNextPeriod
    }),
    b(
        "+/- on threshold",
        "moves the test metrics and confusion matrix at once",
    ),
    b("h/l ←/→", "select a confusion-matrix cell"),
    b("d", "the customers in that cell (again: close)")
        .run("the customers in the selected cell", || Action::Drill),
    b("c", "ROC or precision-recall curve")
        .run("ROC or precision-recall curve", || Action::ToggleCurve),
    b(
        "v",
        "lower pane: importance, at-risk list (values: highest predicted), tree, grid, models compared",
    )
        .run("next lower pane", || Action::ToggleSweepView),
    b("PgDn/PgUp", "scroll the lower pane"),
    b(
        "e",
        "export scores (.csv/.parquet): the open cell, the at-risk list, or everyone",
    )
    .run("export scores", || Action::StartExport),
    b(
        "M",
        "save the model (its trees or coefficients, the features' scaling, the threshold) for crmlens score",
    )
    .run("save the prediction model", || Action::SaveModel),
    b("Esc", "cancel the run (the previous result stays)"),
];
pub const HINTS: &str = "j/k +/- Enter params · r run · w compare · W grid · a best · h/l d cell · c curve · v pane · e export";

pub fn job_done(
    state: &mut State,
    outcome: JobOutcome,
    secs: f64,
) -> Result<Vec<Command>, JobOutcome> {
    match outcome {
        JobOutcome::Predicted(p) => {
            state.predict.run_features = state.predict.pending_features.clone();
            let r = &p.run;
            let auc = r
                .test
                .roc_auc
                .map_or("n/a".to_string(), |a| format!("{a:.3}"));
            let mut msg = format!(
                "{} for {}: test ROC-AUC {auc}, accuracy {:.3} (baseline {:.3}), {secs:.1}s",
                p.params.model.title(),
                p.target,
                r.test.accuracy,
                r.baseline_accuracy
            );
            if let Some(n) = &r.network {
                msg.push_str(&format!("; {} of {} epochs kept", n.epochs, n.max_epochs));
                if n.early_stopping {
                    msg.push_str(" (early stopping)");
                }
            }
            if let Some(b) = &r.boosting {
                msg.push_str(&format!("; {} of {} rounds kept", b.rounds, b.max_rounds));
                if b.early_stopping {
                    msg.push_str(" (early stopping)");
                }
            }
            if p.dropped_target {
                msg.push_str(&format!(
                    "; {} left out of the features (it is the target)",
                    p.target
                ));
            }
            state.message = Some(msg);
            let view = &mut state.predict;
            view.drill = None;
            view.scroll = 0;
            let k = p.classes.len();
            if view.cell.0 >= k || view.cell.1 >= k {
                view.cell = (k - 1, 0);
            }
            if p.tree_text.is_none() && view.pane == Pane::Tree {
                view.pane = Pane::Importance;
            }
            view.values = None;
            let mut p = p;
            // The threshold may have moved while it ran.
            if p.classes.len() == 2 && p.run.threshold != view.settings.threshold {
                p.rethreshold(view.settings.threshold);
            }
            view.result = Some(p);
        }
        JobOutcome::Valued(p) => {
            state.predict.run_features = state.predict.pending_features.clone();
            let r = &p.run;
            let mut msg = format!(
                "{} for {}: test R² {:.3}, RMSE {:.3} (mean baseline {:.3}), MAE {:.3} (median baseline {:.3}), {secs:.1}s",
                crate::analytics::regress::describe(&p.params),
                p.target,
                r.test.r2,
                r.test.rmse,
                r.baseline.rmse,
                r.test.mae,
                r.baseline.mae
            );
            if let Some(b) = &r.boosting {
                msg.push_str(&format!("; {} of {} rounds kept", b.rounds, b.max_rounds));
                if b.early_stopping {
                    msg.push_str(" (early stopping)");
                }
            }
            if p.dropped_target {
                msg.push_str(&format!(
                    "; {} left out of the features (it is the target)",
                    p.target
                ));
            }
            if let Some(n) = &p.next {
                msg.push_str(&format!(
                    "; {} on the same customers: RMSE {:.3}, R² {:.3} ({} to {})",
                    n.lifetime_model,
                    n.lifetime_test.rmse,
                    n.lifetime_test.r2,
                    n.calibration_end,
                    n.observation_end
                ));
            }
            state.message = Some(msg);
            let view = &mut state.predict;
            view.drill = None;
            view.scroll = 0;
            if !Pane::VALUES.contains(&view.pane) {
                view.pane = Pane::Importance;
            }
            view.result = None;
            view.values = Some(p);
        }
        JobOutcome::Compared(c) => {
            let best = &c.rows[c.best];
            let v = &best.cv[c.metric];
            state.message = Some(format!(
                "{} models compared on the same {} folds in {secs:.1}s; best cv {}: {} ({:.3} ± {:.3})",
                c.rows.len(),
                c.folds,
                c.metric,
                best.model,
                v.mean,
                v.std
            ));
            state.predict.comparison = Some(*c);
            state.predict.pane = Pane::Compare;
            state.predict.drill = None;
            state.predict.scroll = 0;
        }
        JobOutcome::Gridded(g) => {
            let best = &g.rows[g.best];
            let setting = match best.alpha {
                Some(a) => format!("alpha {a}"),
                None => format!(
                    "max depth {}, min leaf {}",
                    best.max_depth.unwrap_or(0),
                    best.min_leaf.unwrap_or(0)
                ),
            };
            state.message = Some(format!(
                "grid search: {} settings in {secs:.1}s; best cv {} with {setting} (a applies it)",
                g.rows.len(),
                g.metric
            ));
            state.predict.grid = Some(*g);
            state.predict.pane = Pane::Grid;
            state.predict.drill = None;
            state.predict.scroll = 0;
        }
        other => return Err(other),
    }
    Ok(Vec::new())
}

/// What a key means on this screen (after the keys every screen shares).
pub fn keys(key: crossterm::event::KeyEvent) -> Option<Action> {
    use crossterm::event::KeyCode;
    Some(match key.code {
        KeyCode::Char(c) => match c {
            '+' | '=' => Action::Adjust(1),
            '-' => Action::Adjust(-1),
            'r' => Action::RunModel,
            'w' => Action::RunCompare,
            'n' => Action::RunNextPeriod,
            'W' => Action::RunSweep,
            'a' => Action::ApplyBest,
            'd' => Action::Drill,
            'v' => Action::ToggleSweepView,
            'e' => Action::StartExport,
            'M' => Action::SaveModel,
            'c' => Action::ToggleCurve,
            _ => return None,
        },
        KeyCode::Enter => Action::StartEdit,
        _ => return None,
    })
}

/// The Predict screen's handling of `action`, or None to let the common handler have it.
pub fn update(state: &mut State, action: &Action) -> Option<Vec<Command>> {
    let ready = if state.predict.result.is_some() || state.predict.values.is_some() {
        Ok("predict_model.toml")
    } else {
        Err("no model yet: run a prediction first (r)")
    };
    if let Some(c) = super::save_model_keys(state, action, ready, export) {
        return Some(c);
    }
    let v = &state.predict;
    let ready = if v.result.is_none() && v.values.is_none() {
        Err("nothing to export yet: run a model first (r)")
    } else if v.values.is_some() {
        Ok(if v.pane == Pane::AtRisk {
            "highest_predicted.csv"
        } else {
            "values.csv"
        })
    } else if v.drill.is_some() {
        Ok("cell.csv")
    } else if v.pane == Pane::AtRisk {
        Ok("at_risk.csv")
    } else {
        Ok("scores.csv")
    };
    if let Some(c) = super::export_keys(
        state,
        action,
        crate::app::state::ExportTarget::Scores,
        ready,
        export,
    ) {
        return Some(c);
    }
    let view = &mut state.predict;
    match action {
        Action::Down(n) => {
            let last = view.fields().len() - 1;
            view.field = (view.field + n).min(last);
        }
        Action::Up(n) => view.field = view.field.saturating_sub(*n),
        Action::Top => view.field = 0,
        Action::Bottom => view.field = view.fields().len() - 1,
        Action::PageDown => view.scroll = view.scroll.saturating_add(state.viewport.max(1) / 2),
        Action::PageUp => view.scroll = view.scroll.saturating_sub(state.viewport.max(1) / 2),
        Action::Adjust(d) => {
            let f = view.current();
            view.adjust(f, *d);
        }
        Action::StartEdit => {
            let f = view.current();
            if f.is_choice() {
                view.adjust(f, 1);
            } else {
                state.overlay = Some(Overlay::Edit(view.field, String::new()));
            }
        }
        Action::PromptSubmit if matches!(state.overlay, Some(Overlay::Edit(..))) => {
            if let Some(Overlay::Edit(i, text)) = state.overlay.take() {
                let fields = view.fields();
                let f = fields[i.min(fields.len() - 1)];
                if let Err(e) = view.set_text(f, &text) {
                    state.error = Some(e);
                }
            }
        }
        Action::ToggleSweepView => {
            let panes = Pane::cycle(view.task());
            let at = panes.iter().position(|p| *p == view.pane).unwrap_or(0);
            view.pane = panes[(at + 1) % panes.len()];
            view.drill = None;
            view.scroll = 0;
        }
        Action::ToggleCurve => view.show_pr = !view.show_pr,
        Action::Left => view.move_cell(-1),
        Action::Right => view.move_cell(1),
        Action::Drill => {
            if view.drill.is_some() {
                view.drill = None;
            } else if view.result.is_some() {
                view.open_drill();
            } else {
                state.error = Some("no confusion matrix yet: run a model first (r)".into());
            }
        }
        Action::ApplyBest => match view.apply_best() {
            Some(what) => {
                state.message = Some(format!("grid's best setting applied: {what}; r runs it"))
            }
            None => {
                state.error =
                    Some("no grid search for this model yet: w runs one (then a applies)".into())
            }
        },
        Action::Escape if state.overlay.is_none() && view.drill.is_some() => view.drill = None,
        Action::RunModel => return Some(run(state, Mode::Run)),
        Action::RunNextPeriod => {
            use crate::pipeline::next_period::NextTarget;
            view.next = match view.next {
                None => Some(NextTarget::Spend),
                Some(NextTarget::Spend) => Some(NextTarget::Purchases),
                Some(NextTarget::Purchases) => None,
            };
            view.fit_model_to_task();
            if view.next.is_none() {
                state.message =
                    Some("target: the table's columns again (n: next-period spend)".into());
                return Some(Vec::new());
            }
            return Some(run(state, Mode::Run));
        }
        Action::RunCompare => return Some(run(state, Mode::Compare)),
        Action::RunSweep => return Some(run(state, Mode::Grid)),
        _ => return None,
    }
    Some(Vec::new())
}

/// Starts a prediction run, the grid search or the comparison of every model of the task, on
/// the table and the Features selection.
fn run(state: &mut State, mode: Mode) -> Vec<Command> {
    if let Some(target) = state.predict.next {
        state.error = None;
        state.predict.pending_features = None;
        let settings = state.predict.settings.clone();
        let window = state.clv.settings.clone();
        return state.start_on_order_lines(|input, roles| JobRequest::NextPeriod {
            input,
            roles,
            window,
            target,
            settings,
            mode,
        });
    }
    let Some(table) = state.table.clone() else {
        state.error = Some("no data loaded: o opens a source".into());
        return Vec::new();
    };
    let Some(target) = state.predict.settings.target.clone() else {
        state.error = Some(state.predict.no_target());
        return Vec::new();
    };
    let features = state.features.config();
    let others = features
        .numeric
        .iter()
        .chain(&features.categorical)
        .filter(|f| **f != target)
        .count();
    if others == 0 {
        state.error = Some(format!(
            "no features besides the target `{target}`: pick some on the Features screen (3)"
        ));
        return Vec::new();
    }
    state.error = None;
    let settings = state.predict.settings.clone();
    state.predict.pending_features = Some(crate::app::follow::FitOn {
        features: features.clone(),
        table: table.clone(),
    });
    state.start_job(JobRequest::Predict {
        table,
        features,
        target,
        settings,
        mode,
    })
}

/// Writes customers' scores (id, actual, p_<class>..., predicted at the threshold): those of
/// the open confusion-matrix cell, else the at-risk list when it is shown, else everyone.
fn export(
    state: &mut State,
    target: crate::app::state::ExportTarget,
    path: PathBuf,
    overwrite: bool,
) -> Vec<Command> {
    if let Some(v) = &state.predict.values {
        return export_values(state, v.clone(), target, path, overwrite);
    }
    if target == crate::app::state::ExportTarget::Model {
        let view = &state.predict;
        let (Some(r), Some(crate::app::follow::FitOn { features, table })) =
            (view.result.as_ref(), view.run_features.clone())
        else {
            return Vec::new();
        };
        let Some(fitted) = r.run.fitted.clone() else {
            return Vec::new();
        };
        let trained = Box::new(crate::pipeline::saved::Trained::Predict(
            crate::pipeline::saved::Prediction {
                target: r.target.clone(),
                classes: r.classes.clone(),
                threshold: r.run.threshold,
                fitted,
            },
        ));
        return state.start_job(JobRequest::SaveModel {
            path,
            table,
            features,
            trained,
            overwrite,
        });
    }
    let view = &state.predict;
    let (Some(table), Some(r)) = (state.table.clone(), view.result.as_ref()) else {
        return Vec::new();
    };
    let rows = match (&view.drill, view.pane) {
        (Some(d), _) => Some(d.rows.clone()),
        (None, Pane::AtRisk) => Some(r.at_risk.clone()),
        _ => None,
    };
    let Some(key) = table.get_column_names().first().map(|s| s.to_string()) else {
        return Vec::new();
    };
    let Ok(ids) = table.column(&key).cloned() else {
        return Vec::new();
    };
    let request = JobRequest::ExportScores {
        path,
        id_col: key,
        ids,
        classes: r.classes.clone(),
        actual: r.y.clone(),
        probabilities: Arc::new(r.run.probabilities.clone()),
        predicted: r.run.predicted(),
        rows,
        overwrite,
        pseudonymise: state.pseudonymise,
    };
    state.start_job(request)
}

/// The regression run's export: the model file, or the values (id, actual, predicted, set)
/// of the customers predicted highest when that list is shown, else of everyone.
fn export_values(
    state: &mut State,
    v: Box<ValuePrediction>,
    target: crate::app::state::ExportTarget,
    path: PathBuf,
    overwrite: bool,
) -> Vec<Command> {
    if target == crate::app::state::ExportTarget::Model {
        if v.next.is_some() {
            state.error = Some(
                "a next-period model is not saved yet: its features come from the order lines, which crmlens score does not build; save a model of a table column instead".into(),
            );
            return Vec::new();
        }
        let (Some(fitted), Some(crate::app::follow::FitOn { features, table })) =
            (v.run.fitted.clone(), state.predict.run_features.clone())
        else {
            return Vec::new();
        };
        let trained = Box::new(crate::pipeline::saved::Trained::Regress(
            crate::pipeline::saved::ValueModel {
                target: v.target.clone(),
                fitted,
            },
        ));
        return state.start_job(JobRequest::SaveModel {
            path,
            table,
            features,
            trained,
            overwrite,
        });
    }
    let (key, ids) = match (&v.ids, &v.next) {
        (Some(ids), Some(n)) => (
            n.customer.clone(),
            polars::prelude::Column::new(n.customer.as_str().into(), ids.clone()),
        ),
        _ => {
            let Some(table) = state.table.clone() else {
                return Vec::new();
            };
            let Some(key) = table.get_column_names().first().map(|s| s.to_string()) else {
                return Vec::new();
            };
            let Ok(ids) = table.column(&key).cloned() else {
                return Vec::new();
            };
            (key, ids)
        }
    };
    let mut test = vec![false; v.y.len()];
    for &t in &v.run.test_rows {
        test[t] = true;
    }
    let v = *v;
    let rows = (state.predict.pane == Pane::AtRisk).then_some(v.top);
    let request = JobRequest::ExportValues {
        path,
        id_col: key,
        ids,
        actual: Arc::new(v.y),
        predicted: Arc::new(v.run.predictions),
        test,
        rows,
        overwrite,
        pseudonymise: state.pseudonymise,
    };
    state.start_job(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Moving the threshold on screen gives the metrics a fresh run at that threshold has.
    #[test]
    fn rethreshold_matches_the_engine() {
        use crate::analytics::predict::{metrics, run_prediction};
        use ndarray::Array2;
        let n = 400;
        let x = Array2::from_shape_fn((n, 2), |(i, j)| ((i * 7 + j * 13) % 23) as f64 / 23.0);
        let y: Vec<usize> = (0..n)
            .map(|i| usize::from(x[[i, 0]] + 0.1 * ((i % 5) as f64) > 0.7))
            .collect();
        let params = crate::analytics::predict::PredictParams {
            model: ModelKind::Logistic,
            ..Default::default()
        };
        let run = run_prediction(
            x.view(),
            &[],
            &y,
            2,
            &params,
            &crate::progress::Progress::new(),
        )
        .unwrap();
        let mut p = Prediction {
            target: "t".into(),
            classes: vec!["0".into(), "1".into()],
            names: vec![],
            params,
            run,
            tree_text: None,
            y: y.clone(),
            at_risk: vec![],
            dropped_target: false,
        };
        p.rethreshold(0.3);
        let actual: Vec<usize> = p.run.test_rows.iter().map(|&r| y[r]).collect();
        let proba: Vec<Vec<f64>> = p
            .run
            .test_rows
            .iter()
            .map(|&r| p.run.probabilities[r].clone())
            .collect();
        assert_eq!(p.run.test, metrics(&actual, &proba, 2, 0.3));
        assert_eq!(p.run.threshold, 0.3);
    }

    #[test]
    fn steps_move_to_the_next_listed_value() {
        assert_eq!(step_in(&MIN_LEAF, 1, 1), 2);
        assert_eq!(step_in(&MIN_LEAF, 3, 1), 5);
        assert_eq!(step_in(&MIN_LEAF, 3, -1), 2);
        assert_eq!(step_in(&MIN_LEAF, 1, -1), 1);
        assert_eq!(step_in(&MIN_LEAF, 5000, 1), 5000);
        assert_eq!(step_in(&MIN_LEAF, 5000, -1), 1000);
        assert_eq!(step_in(&ALPHA, 1.0, 1), 3.0);
        assert_eq!(step_in(&ALPHA, 0.5, -1), 0.3);
    }

    #[test]
    fn parameters_follow_the_model() {
        let mut v = PredictView::default();
        assert_eq!(v.fields().len(), 9);
        v.adjust(PField::Model, 1);
        assert_eq!(v.settings.model, ModelKind::Tree);
        assert!(v.fields().contains(&PField::Criterion));
        v.adjust(PField::Model, 1);
        assert_eq!(
            v.fields(),
            &[
                PField::Target,
                PField::Task,
                PField::Model,
                PField::Alpha,
                PField::Threshold,
                PField::Folds,
                PField::Seed
            ]
        );
        for _ in 0..20 {
            v.adjust(PField::Threshold, 1);
        }
        assert_eq!(v.settings.threshold, 0.95);
        assert!(v.set_text(PField::Threshold, "1.2").is_err());
        assert!(v.set_text(PField::Threshold, "0.3").is_ok());
        assert_eq!(v.settings.threshold, 0.3);
        assert!(v.set_text(PField::Alpha, "-1").is_err());
        assert!(v.set_text(PField::Alpha, "0").is_err());
        assert!(v.set_text(PField::Folds, "1").is_err());
        // Task values: the regressors only; logistic gives way to the forest, linear takes
        // alpha 0 (least squares), and the threshold is gone.
        v.adjust(PField::Task, 1);
        assert_eq!(v.task(), Task::Classification);
        v.adjust(PField::Task, 1);
        assert_eq!(v.task(), Task::Regression);
        assert_eq!(v.settings.model, ModelKind::Forest);
        assert!(!v.fields().contains(&PField::Threshold));
        let mut seen = Vec::new();
        for _ in 0..4 {
            v.adjust(PField::Model, 1);
            seen.push(v.settings.model);
        }
        seen.sort_by_key(|m| m.name());
        assert_eq!(
            seen,
            [
                ModelKind::Forest,
                ModelKind::Gbdt,
                ModelKind::Linear,
                ModelKind::Tree
            ]
        );
        while v.settings.model != ModelKind::Linear {
            v.adjust(PField::Model, 1);
        }
        assert_eq!(v.settings.alpha(), 0.0);
        assert!(v.set_text(PField::Alpha, "0").is_ok());
        assert_eq!(v.display(PField::Task), "values");
    }
}
