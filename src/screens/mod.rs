//! The workbench's screens (tabs), in tab-bar order, and [`SCREENS`]: the one table that
//! registers each screen's keys, job outcomes, bindings and drawing. `app::state` dispatches
//! actions and job outcomes through it, `ui` draws through it, and the help, the status
//! line's hints and the command palette list its bindings. A screen is a module here:
//! `mod.rs` holds its view state, its `update` and `job_done` and its bindings, `draw.rs`
//! its drawing (from `&State` only). See docs/architecture.md, "Add a screen".

use ratatui::Frame;
use ratatui::layout::Rect;

use crate::app::action::{Action, Binding};
use crate::app::job::JobOutcome;
use crate::app::state::{Command, Overlay, State};
use crate::ui::theme::Theme;

pub mod clv;
pub mod data;
pub mod features;
pub mod identity;
pub mod predict;
pub mod quality;
pub mod recommend;
pub mod rules;
pub mod segments;

/// One tab of the workbench.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Screen {
    #[default]
    Data,
    Quality,
    Features,
    Segments,
    Rules,
    Predict,
    Clv,
    Recommend,
    Identity,
}

impl Screen {
    pub const ALL: [Screen; 9] = [
        Screen::Data,
        Screen::Quality,
        Screen::Features,
        Screen::Segments,
        Screen::Rules,
        Screen::Predict,
        Screen::Clv,
        Screen::Recommend,
        Screen::Identity,
    ];

    pub fn title(self) -> &'static str {
        self.spec().title
    }

    /// The title on a narrow tab bar.
    pub fn short_title(self) -> &'static str {
        match self {
            Screen::Data => "Data",
            Screen::Quality => "Qual",
            Screen::Features => "Feat",
            Screen::Segments => "Segs",
            Screen::Rules => "Rules",
            Screen::Predict => "Pred",
            Screen::Clv => "CLV",
            Screen::Recommend => "Recs",
            Screen::Identity => "Ident",
        }
    }

    /// The screen's row of [`SCREENS`].
    pub fn spec(self) -> &'static Spec {
        &SCREENS[self.index()]
    }

    pub fn index(self) -> usize {
        Screen::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    /// The screen for number key `n` (1-based).
    pub fn from_number(n: u32) -> Option<Screen> {
        Screen::ALL.get((n as usize).checked_sub(1)?).copied()
    }

    pub fn next(self) -> Screen {
        Screen::ALL[(self.index() + 1) % Screen::ALL.len()]
    }

    pub fn prev(self) -> Screen {
        Screen::ALL[(self.index() + Screen::ALL.len() - 1) % Screen::ALL.len()]
    }
}

/// The palette's "Go to" entries, one per screen in [`Screen::ALL`] order (key 1, 2, ...).
pub const GO_TO: &[crate::app::action::Named] = {
    use crate::app::action::n;
    &[
        n("1", "Go to Data", || Action::GoTo(Screen::Data)),
        n("2", "Go to Quality", || Action::GoTo(Screen::Quality)),
        n("3", "Go to Features", || Action::GoTo(Screen::Features)),
        n("4", "Go to Segments", || Action::GoTo(Screen::Segments)),
        n("5", "Go to Rules", || Action::GoTo(Screen::Rules)),
        n("6", "Go to Predict", || Action::GoTo(Screen::Predict)),
        n("7", "Go to CLV", || Action::GoTo(Screen::Clv)),
        n("8", "Go to Recommend", || Action::GoTo(Screen::Recommend)),
        n("9", "Go to Identity", || Action::GoTo(Screen::Identity)),
    ]
};

/// What the shell needs of a screen.
pub struct Spec {
    pub screen: Screen,
    pub title: &'static str,
    /// Words the command palette also finds the screen's actions by: its algorithms and
    /// tasks ("kmeans", "churn", "basket").
    pub also: &'static [&'static str],
    /// Its keys, for the help, the palette and (first) the status line.
    pub bindings: &'static [Binding],
    /// The status line's hint.
    pub hints: &'static str,
    /// What a key means on it (after the keys every screen shares).
    pub keys: fn(crossterm::event::KeyEvent) -> Option<Action>,
    /// Its actions while it is shown; None: not its action (the shell's, or nobody's).
    pub update: fn(&mut State, &Action) -> Option<Vec<Command>>,
    /// The outcomes of the jobs it started; any other outcome is given back.
    pub job_done: fn(&mut State, JobOutcome, f64) -> Result<Vec<Command>, JobOutcome>,
    /// Draws its body.
    pub draw: fn(&mut Frame, Rect, &State, Theme),
}

/// Every screen, in [`Screen::ALL`] order.
pub static SCREENS: [Spec; 9] = [
    Spec {
        screen: Screen::Data,
        title: "Data",
        also: &["table", "rows", "filter", "sort", "explore"],
        bindings: data::BINDINGS,
        hints: data::HINTS,
        keys: data::keys,
        update: data::update,
        job_done: data::job_done,
        draw: data::draw::draw,
    },
    Spec {
        screen: Screen::Quality,
        title: "Quality",
        also: &["cleaning", "duplicates", "missing", "invalid", "report"],
        bindings: quality::BINDINGS,
        hints: quality::HINTS,
        keys: quality::keys,
        update: quality::update,
        job_done: quality::job_done,
        draw: quality::draw::draw,
    },
    Spec {
        screen: Screen::Features,
        title: "Features",
        also: &["columns", "scaling", "log1p", "one-hot", "correlation"],
        bindings: features::BINDINGS,
        hints: features::HINTS,
        keys: features::keys,
        update: features::update,
        job_done: features::job_done,
        draw: features::draw::draw,
    },
    Spec {
        screen: Screen::Segments,
        title: "Segments",
        also: &[
            "kmeans",
            "k-means",
            "dbscan",
            "gmm",
            "gaussian mixture",
            "clustering",
            "clusters",
            "segmentation",
            "elbow",
            "silhouette",
        ],
        bindings: segments::BINDINGS,
        hints: segments::HINTS,
        keys: segments::keys,
        update: segments::update,
        job_done: segments::job_done,
        draw: segments::draw::draw,
    },
    Spec {
        screen: Screen::Rules,
        title: "Rules",
        also: &[
            "association",
            "basket",
            "market basket",
            "apriori",
            "fpgrowth",
            "fp-growth",
            "itemsets",
            "lift",
        ],
        bindings: rules::BINDINGS,
        hints: rules::HINTS,
        keys: rules::keys,
        update: rules::update,
        job_done: rules::job_done,
        draw: rules::draw::draw,
    },
    Spec {
        screen: Screen::Predict,
        title: "Predict",
        also: &[
            "churn",
            "classification",
            "classifier",
            "decision tree",
            "random forest",
            "logistic regression",
            "roc",
            "at risk",
        ],
        bindings: predict::BINDINGS,
        hints: predict::HINTS,
        keys: predict::keys,
        update: predict::update,
        job_done: predict::job_done,
        draw: predict::draw::draw,
    },
    Spec {
        screen: Screen::Clv,
        title: "CLV",
        also: &[
            "clv",
            "lifetime value",
            "lifetime",
            "bg/nbd",
            "bgnbd",
            "gamma-gamma",
            "value prediction",
        ],
        bindings: clv::BINDINGS,
        hints: clv::HINTS,
        keys: clv::keys,
        update: clv::update,
        job_done: clv::job_done,
        draw: clv::draw::draw,
    },
    Spec {
        screen: Screen::Recommend,
        title: "Recommend",
        also: &[
            "recommend",
            "recommendations",
            "next best item",
            "item similarity",
            "cross-sell",
            "collaborative filtering",
        ],
        bindings: recommend::BINDINGS,
        hints: recommend::HINTS,
        keys: recommend::keys,
        update: recommend::update,
        job_done: recommend::job_done,
        draw: recommend::draw::draw,
    },
    Spec {
        screen: Screen::Identity,
        title: "Identity",
        also: &[
            "record linkage",
            "deduplicate",
            "same person",
            "fellegi-sunter",
            "match",
            "splink",
        ],
        bindings: identity::BINDINGS,
        hints: identity::HINTS,
        keys: identity::keys,
        update: identity::update,
        job_done: identity::job_done,
        draw: identity::draw::draw,
    },
];

/// The rows a movement key moves on a screen with a list: (down, how many). `page` is the
/// rows the table area shows.
pub fn scroll_of(action: &Action, page: usize) -> Option<(bool, usize)> {
    let page = page.max(1);
    Some(match action {
        Action::Down(n) => (true, *n),
        Action::Up(n) => (false, *n),
        Action::PageDown => (true, page),
        Action::PageUp => (false, page),
        Action::Top => (false, usize::MAX),
        Action::Bottom => (true, usize::MAX / 2),
        _ => return None,
    })
}

/// What an export writes: the prompt names it, and Enter (or `y` over an existing file)
/// writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportTarget {
    /// Every row's cluster label (Segments `e`).
    Labels,
    /// The clusters' profiles (Segments `E`).
    Profiles,
    Quality,
    Rules,
    Scores,
    Clv,
    Recommendations,
    /// The session as a workspace file (Ctrl-S).
    Workspace,
    /// The last model, for `crmlens score` (Segments and Predict `M`).
    Model,
}

impl ExportTarget {
    /// The prompt's words: " export rules to: ".
    pub fn prompt(self) -> &'static str {
        match self {
            ExportTarget::Labels => " export labels to: ",
            ExportTarget::Profiles => " export profiles to: ",
            ExportTarget::Quality => " export quality report to: ",
            ExportTarget::Rules => " export rules to: ",
            ExportTarget::Scores => " export scores to: ",
            ExportTarget::Clv => " export CLV to: ",
            ExportTarget::Recommendations => " export everyone's recommendations to: ",
            ExportTarget::Workspace => " save the workspace to: ",
            ExportTarget::Model => " save the model to: ",
        }
    }
}

/// A screen's writer of `target` to a path (replacing an existing file when told to).
pub type Export = fn(&mut State, ExportTarget, std::path::PathBuf, bool) -> Vec<Command>;

/// The export keys every result screen shares: `e` asks for a file name for `target`,
/// suggesting `ready`'s name (or shows `ready`'s error: what to run first); Enter writes the
/// prompt's target through `export`; `y` in the overwrite prompt writes it again, replacing
/// the file. None for other actions.
pub fn export_keys(
    state: &mut State,
    action: &Action,
    target: ExportTarget,
    ready: Result<&str, &str>,
    export: Export,
) -> Option<Vec<Command>> {
    match action {
        Action::StartExport => {
            match ready {
                Ok(name) => {
                    state.overlay = Some(Overlay::Export {
                        target,
                        name: name.into(),
                    })
                }
                Err(e) => state.error = Some(e.into()),
            }
            Some(Vec::new())
        }
        Action::PromptSubmit if matches!(state.overlay, Some(Overlay::Export { .. })) => {
            if let Some(Overlay::Export { target, name }) = state.overlay.take()
                && !name.trim().is_empty()
            {
                let path = std::path::PathBuf::from(name.trim());
                return Some(export(state, target, path, false));
            }
            Some(Vec::new())
        }
        Action::ConfirmOverwrite => {
            if let Some(Overlay::ConfirmOverwrite { target, path }) = state.overlay.take() {
                return Some(export(state, target, path, true));
            }
            Some(Vec::new())
        }
        _ => None,
    }
}

/// `M` on a screen with a model: the file name prompt (`ready` holds its default name, or
/// why there is no model yet); None for any other action.
pub fn save_model_keys(
    state: &mut State,
    action: &Action,
    ready: Result<&str, &str>,
    export: Export,
) -> Option<Vec<Command>> {
    if !matches!(action, Action::SaveModel) {
        return None;
    }
    export_keys(
        state,
        &Action::StartExport,
        ExportTarget::Model,
        ready,
        export,
    )
}

/// A typed whole number for parameter `name` in `lo..=hi`, or the one-line reason it is not.
pub fn parse_whole(name: &str, text: &str, lo: u64, hi: u64) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(v) if (lo..=hi).contains(&v) => Ok(v),
        _ => Err(format!(
            "{name}: {text:?} is not a whole number from {lo} to {hi}"
        )),
    }
}

impl State {
    /// Every screen's parameters, as a workspace's analysis sections hold them.
    pub fn settings(&self) -> crate::pipeline::settings::Settings {
        crate::pipeline::settings::Settings {
            segment: self.segments.params.clone(),
            sweep_max_k: self.segments.sweep_max_k,
            rules: self.rules.params.clone(),
            predict: self.predict.settings.clone(),
            clv: self.clv.settings.clone(),
            recommend: self.recommend.settings.clone(),
            identity: self.identity.settings.clone(),
        }
    }

    /// Sets every screen's parameters (from a workspace, or undo); results stay, views that
    /// follow a parameter at once (threshold, rules filter, list length) follow it.
    pub fn apply_settings(&mut self, s: crate::pipeline::settings::Settings) {
        self.segments.params = s.segment;
        self.segments.sweep_max_k = s.sweep_max_k;
        let rules_view_changed =
            self.rules.params.sort != s.rules.sort || self.rules.params.filter != s.rules.filter;
        self.rules.params = s.rules;
        if rules_view_changed && let Err(e) = self.rules.arrange() {
            self.rules.params.filter = None;
            let _ = self.rules.arrange();
            self.error = Some(e);
        }
        let threshold_changed = self.predict.settings.threshold != s.predict.threshold;
        // A target the table does not have keeps the screen's choice.
        let target = match s.predict.target.clone() {
            Some(t)
                if self.predict.targets.contains(&t) || self.predict.value_targets.contains(&t) =>
            {
                Some(t)
            }
            _ => self.predict.settings.target.clone(),
        };
        self.predict.settings = crate::pipeline::predict::PredictSettings {
            target,
            ..s.predict
        };
        if threshold_changed {
            self.predict.apply_threshold();
        }
        self.clv.settings = s.clv;
        let top_changed = self.recommend.settings.top != s.recommend.top;
        self.recommend.settings = s.recommend;
        if top_changed {
            self.recommend.refresh();
        }
        self.identity.settings = s.identity;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_screen_has_its_go_to_entry_and_registry_row_in_order() {
        assert_eq!(GO_TO.len(), Screen::ALL.len());
        for (i, s) in Screen::ALL.into_iter().enumerate() {
            assert_eq!(SCREENS[i].screen, s);
            let g = &GO_TO[i];
            assert_eq!(g.key, (i + 1).to_string());
            assert_eq!(g.name, format!("Go to {}", SCREENS[i].title));
            assert!(matches!((g.action)(), Action::GoTo(t) if t == s));
        }
    }

    #[test]
    fn tabs_wrap_and_number_keys_map() {
        assert_eq!(Screen::Data.prev(), Screen::Identity);
        assert_eq!(Screen::Identity.next(), Screen::Data);
        assert_eq!(Screen::from_number(1), Some(Screen::Data));
        assert_eq!(Screen::from_number(7), Some(Screen::Clv));
        assert_eq!(Screen::from_number(8), Some(Screen::Recommend));
        assert_eq!(Screen::from_number(9), Some(Screen::Identity));
        assert_eq!(Screen::from_number(0), None);
        assert_eq!(Screen::from_number(10), None);
    }

    #[test]
    fn the_registry_lists_every_screen_once_in_tab_order() {
        for (i, s) in Screen::ALL.iter().enumerate() {
            assert_eq!(SCREENS[i].screen, *s);
            assert_eq!(s.spec().screen, *s);
        }
        assert_eq!(Screen::Clv.title(), "CLV");
    }
}
