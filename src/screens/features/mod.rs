//! The Features screen: which columns the models use (numeric, scaled; categorical,
//! one-hot), log1p, the scaling, and the correlation of the numeric picks.

pub mod draw;

use polars::prelude::DataFrame;

use crate::app::action::{Action, Binding, b};
use crate::app::job::{JobOutcome, JobRequest};
use crate::app::state::{Command, State};
use crate::data::features::Correlation;
use crate::data::sources::workspace::{FeatureConfig, Scaling};

/// One column offered on the Features screen.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureItem {
    pub name: String,
    /// Numeric (scaled) or categorical (one-hot encoded).
    pub numeric: bool,
    pub selected: bool,
    pub log1p: bool,
}

/// The Features screen: which columns the models use, and how.
#[derive(Debug, Clone, Default)]
pub struct FeaturesView {
    pub items: Vec<FeatureItem>,
    pub cursor: usize,
    pub scaling: Scaling,
    pub max_categories: usize,
    pub correlation: Option<Correlation>,
}

impl FeaturesView {
    /// Offers every numeric and text column of `table` except the key, with the workspace's
    /// default selection ticked.
    pub fn from_table(table: &DataFrame, defaults: Option<&FeatureConfig>) -> FeaturesView {
        let d = defaults.cloned().unwrap_or_default();
        let mut items = Vec::new();
        for (i, c) in table.columns().iter().enumerate() {
            let name = c.name().to_string();
            let dtype = c.dtype();
            let numeric =
                dtype.is_primitive_numeric() || dtype == &polars::prelude::DataType::Boolean;
            let text = dtype == &polars::prelude::DataType::String;
            if i == 0 || !(numeric || text) {
                continue;
            }
            let selected = if numeric {
                d.numeric.contains(&name)
            } else {
                d.categorical.contains(&name)
            };
            items.push(FeatureItem {
                log1p: d.log1p.contains(&name),
                name,
                numeric,
                selected,
            });
        }
        // Numeric first, then categorical; the workspace's picks first, in its order (so the
        // models see the columns in the order the workspace lists them), then table order.
        let rank = |it: &FeatureItem| {
            let listed = if it.numeric {
                &d.numeric
            } else {
                &d.categorical
            };
            listed
                .iter()
                .position(|n| *n == it.name)
                .unwrap_or(usize::MAX)
        };
        items.sort_by_key(|it| (!it.numeric, rank(it)));
        FeaturesView {
            items,
            cursor: 0,
            scaling: d.scaling,
            max_categories: d.max_categories.max(2),
            correlation: None,
        }
    }

    /// The selection as the models take it.
    pub fn config(&self) -> FeatureConfig {
        let pick = |numeric: bool| {
            self.items
                .iter()
                .filter(|i| i.selected && i.numeric == numeric)
                .map(|i| i.name.clone())
                .collect::<Vec<_>>()
        };
        FeatureConfig {
            numeric: pick(true),
            categorical: pick(false),
            scaling: self.scaling,
            log1p: self
                .items
                .iter()
                .filter(|i| i.selected && i.numeric && i.log1p)
                .map(|i| i.name.clone())
                .collect(),
            max_categories: self.max_categories,
        }
    }
}

pub const BINDINGS: &[Binding] = &[
    b("j/k ↓/↑", "move"),
    b(
        "Space",
        "use / drop the column (text columns are one-hot encoded)",
    )
    .run("use or drop the selected column", || Action::ToggleFeature),
    b("L", "log1p on a numeric column (for skewed money)")
        .run("log1p on the selected column", || Action::ToggleLog),
    b("c", "scaling: standard, min-max, robust, none").run("next scaling", || Action::CycleScaling),
];

pub const HINTS: &str =
    "j/k move · Space use/drop · L log1p · c scaling · Tab screens · ? help · q quit";

/// What a key means on this screen (after the keys every screen shares).
pub fn keys(key: crossterm::event::KeyEvent) -> Option<Action> {
    use crossterm::event::KeyCode;
    Some(match key.code {
        KeyCode::Char(' ') => Action::ToggleFeature,
        KeyCode::Char('L') => Action::ToggleLog,
        KeyCode::Char('c') => Action::CycleScaling,
        _ => return None,
    })
}

pub fn update(state: &mut State, action: &Action) -> Option<Vec<Command>> {
    if let Some((down, n)) = super::scroll_of(action, state.viewport) {
        let last = state.features.items.len().saturating_sub(1);
        state.features.cursor = if down {
            state.features.cursor.saturating_add(n).min(last)
        } else {
            state.features.cursor.saturating_sub(n)
        };
        return Some(Vec::new());
    }
    Some(match action {
        Action::ToggleFeature => {
            let f = &mut state.features;
            if let Some(item) = f.items.get_mut(f.cursor) {
                // Personal data is an identifier, not behaviour: while it is masked, it is
                // not offered as a feature (its one-hot levels would show the values).
                if !item.selected
                    && !state.show_pii
                    && state.pii.iter().any(|p| p.column == item.name)
                {
                    state.error = Some(format!(
                        "{} holds personal data; it is not used as a feature while personal data is masked (--show-pii)",
                        item.name
                    ));
                    return Some(Vec::new());
                }
                item.selected = !item.selected;
            }
            correlate(state)
        }
        Action::ToggleLog => {
            let f = &mut state.features;
            if let Some(item) = f.items.get_mut(f.cursor).filter(|i| i.numeric) {
                item.log1p = !item.log1p;
                return Some(correlate(state));
            }
            Vec::new()
        }
        Action::CycleScaling => {
            state.features.scaling = match state.features.scaling {
                Scaling::Standard => Scaling::Minmax,
                Scaling::Minmax => Scaling::Robust,
                Scaling::Robust => Scaling::None,
                Scaling::None => Scaling::Standard,
            };
            Vec::new()
        }
        _ => return None,
    })
}

pub fn job_done(
    state: &mut State,
    outcome: JobOutcome,
    _secs: f64,
) -> Result<Vec<Command>, JobOutcome> {
    match outcome {
        JobOutcome::Correlation(c) => {
            state.features.correlation = Some(*c);
            Ok(Vec::new())
        }
        other => Err(other),
    }
}

/// Asks for the correlation of the numeric picks (none for fewer than two).
pub fn correlate(state: &mut State) -> Vec<Command> {
    let Some(table) = state.table.clone() else {
        return Vec::new();
    };
    let cfg = state.features.config();
    if cfg.numeric.len() < 2 {
        state.features.correlation = None;
        return Vec::new();
    }
    state.start_job(JobRequest::Correlate {
        table,
        columns: cfg.numeric,
        log1p: cfg.log1p,
    })
}
#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    #[test]
    fn a_plain_table_gets_the_features_an_analyst_would_tick() {
        let n = 30;
        let df = df!(
            "customer" => (0..n).map(|i| format!("c{i}")).collect::<Vec<_>>(),
            "row" => (0..n as i64).collect::<Vec<_>>(),
            "account_id" => (0..n as i64).map(|i| i % 7).collect::<Vec<_>>(),
            "spend" => (0..n).map(|i| i as f64 * 1.5).collect::<Vec<_>>(),
            "visits" => (0..n as i64).map(|i| i % 4).collect::<Vec<_>>(),
            "constant" => vec![1i64; n],
            "plan" => (0..n).map(|i| ["basic", "pro"][i % 2]).collect::<Vec<_>>(),
            "email" => (0..n).map(|i| format!("user{i}@example.com")).collect::<Vec<_>>(),
            "note" => (0..n).map(|i| format!("free text {i}")).collect::<Vec<_>>(),
            "churned" => (0..n).map(|i| i % 3 == 0).collect::<Vec<_>>()
        )
        .unwrap();
        let target = crate::pipeline::predict::default_target(
            &crate::data::features::target::candidates(&df),
        );
        assert_eq!(target.as_deref(), Some("churned"));
        let pii: Vec<String> = crate::data::privacy::detect(&df, &Default::default())
            .into_iter()
            .map(|p| p.column)
            .collect();
        let d = crate::data::features::first_pick(&df, target.as_deref(), &pii);
        assert_eq!(d.numeric, ["spend", "visits"]);
        assert_eq!(d.categorical, ["plan"]);
        let view = FeaturesView::from_table(&df, Some(&d));
        assert_eq!(view.config().numeric, ["spend", "visits"]);
        // A workspace's selection is taken as it is.
        let mine = FeatureConfig {
            numeric: vec!["row".into()],
            ..Default::default()
        };
        assert_eq!(
            FeaturesView::from_table(&df, Some(&mine)).config().numeric,
            ["row"]
        );
    }
}
