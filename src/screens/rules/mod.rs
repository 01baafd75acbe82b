//! The Rules screen's state and what its keys do: mining parameters, the rule table's sort,
//! filter and selection, the drill-down to matching baskets, and export.

pub mod draw;

use std::path::PathBuf;
use std::sync::Arc;

use crate::analytics::itemsets::Algorithm;
use crate::analytics::rules::{Rule, RulesRun, SortBy, baskets_with};
use crate::pipeline::rules::{Baskets, Items, RulesSettings};

use crate::app::action::{Action, Binding, b, n};
use crate::app::job::{JobOutcome, JobRequest};
use crate::app::state::{Command, Overlay, State};

/// Steps for +/- on the minimum support.
const SUPPORTS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0,
];

/// A parameter key on the Rules screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RulesKey {
    /// `b`: baskets per order or per customer.
    Basket,
    /// `i`: products or categories.
    Item,
    /// `+`/`-`: minimum support up or down a step.
    Support(i8),
    /// `]`/`[`: minimum confidence +/- 0.05.
    Confidence(i8),
    /// `>`/`<`: minimum lift +/- 0.25.
    Lift(i8),
    /// `m`/`M`: longest itemset -/+ 1.
    MaxLen(i8),
    /// `a`: FP-Growth or Apriori.
    Algorithm,
}

/// The drill-down of the selected rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Drill {
    pub rule: usize,
    /// Basket numbers that contain both sides.
    pub baskets: Vec<usize>,
    /// Baskets that contain the antecedent.
    pub with_antecedent: usize,
}

#[derive(Debug, Clone, Default)]
pub struct RulesView {
    /// The mining parameters, the table's sort and its filter (the item pattern rules are
    /// filtered by, either side).
    pub params: RulesSettings,
    pub run: Option<Arc<RulesRun>>,
    /// Indices into `run.rules`: filtered and sorted.
    pub visible: Vec<usize>,
    /// Selected row of `visible`.
    pub row: usize,
    pub drill: Option<Drill>,
}

impl RulesView {
    /// The selected rule.
    pub fn selected(&self) -> Option<&Rule> {
        let run = self.run.as_ref()?;
        self.visible.get(self.row).map(|&i| &run.rules[i])
    }

    /// Recomputes `visible` after a new run, sort or filter; keeps the row in range.
    pub fn arrange(&mut self) -> Result<(), String> {
        let Some(run) = &self.run else {
            self.visible.clear();
            return Ok(());
        };
        let idx =
            crate::pipeline::rules::arrange(run, self.params.sort, self.params.filter.as_deref())?;
        self.visible = idx;
        self.row = self.row.min(self.visible.len().saturating_sub(1));
        self.drill = None;
        Ok(())
    }

    fn adjust(&mut self, key: RulesKey) {
        let p = &mut self.params;
        match key {
            RulesKey::Basket => {
                p.baskets = match p.baskets {
                    Baskets::Order => Baskets::Customer,
                    Baskets::Customer => Baskets::Order,
                }
            }
            RulesKey::Item => {
                p.items = match p.items {
                    Items::Product => Items::Category,
                    Items::Category => Items::Product,
                }
            }
            RulesKey::Algorithm => {
                p.algorithm = match p.algorithm {
                    Algorithm::FpGrowth => Algorithm::Apriori,
                    Algorithm::Apriori => Algorithm::FpGrowth,
                }
            }
            RulesKey::Support(d) => {
                let at = SUPPORTS
                    .iter()
                    .position(|s| *s >= p.min_support)
                    .unwrap_or(SUPPORTS.len() - 1) as i64;
                let to = (at + d as i64).clamp(0, SUPPORTS.len() as i64 - 1);
                p.min_support = SUPPORTS[to as usize];
            }
            RulesKey::Confidence(d) => {
                p.min_confidence = ((p.min_confidence + 0.05 * d as f64) * 100.0).round() / 100.0;
                p.min_confidence = p.min_confidence.clamp(0.0, 1.0);
            }
            RulesKey::Lift(d) => {
                p.min_lift = (p.min_lift + 0.25 * d as f64).max(0.0);
            }
            RulesKey::MaxLen(d) => {
                p.max_len = (p.max_len as i64 + d as i64).clamp(2, 10) as usize;
            }
        }
    }
}

/// The Rules screen's handling of `action`, or None to let the common handler have it.
/// A metric as the rule table shows it.
pub fn num(v: f64) -> String {
    if v.is_infinite() {
        "inf".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// A rule's support, confidence, lift, leverage, conviction and Zhang's metric as the table
/// shows them (and a copy of the rule carries them).
pub fn metric_cells(r: &Rule) -> [String; 6] {
    [
        num(r.support),
        num(r.confidence),
        num(r.lift),
        num(r.leverage),
        num(r.conviction.unwrap_or(f64::INFINITY)),
        num(r.zhangs_metric),
    ]
}

pub const BINDINGS: &[Binding] = &[
    b("r", "mine itemsets and rules with these parameters")
        .run("mine itemsets and rules", || Action::RunModel),
    b(
        "b / i",
        "baskets per order or per customer / products or categories",
    )
    .each(&[
        n("b", "baskets per order or per customer", || {
            Action::RulesParam(RulesKey::Basket)
        }),
        n("i", "items: products or categories", || {
            Action::RulesParam(RulesKey::Item)
        }),
    ]),
    b("+/-", "minimum support up or down a step").each(&[
        n("+", "minimum support up a step", || {
            Action::RulesParam(RulesKey::Support(1))
        }),
        n("-", "minimum support down a step", || {
            Action::RulesParam(RulesKey::Support(-1))
        }),
    ]),
    b("[ ]", "minimum confidence -/+ 0.05").each(&[
        n("[", "minimum confidence - 0.05", || {
            Action::RulesParam(RulesKey::Confidence(-1))
        }),
        n("]", "minimum confidence + 0.05", || {
            Action::RulesParam(RulesKey::Confidence(1))
        }),
    ]),
    b("< >", "minimum lift -/+ 0.25").each(&[
        n("<", "minimum lift - 0.25", || {
            Action::RulesParam(RulesKey::Lift(-1))
        }),
        n(">", "minimum lift + 0.25", || {
            Action::RulesParam(RulesKey::Lift(1))
        }),
    ]),
    b("m/M", "longest itemset -/+ 1").each(&[
        n("m", "longest itemset - 1", || {
            Action::RulesParam(RulesKey::MaxLen(-1))
        }),
        n("M", "longest itemset + 1", || {
            Action::RulesParam(RulesKey::MaxLen(1))
        }),
    ]),
    b("a", "FP-Growth or Apriori").run("FP-Growth or Apriori", || {
        Action::RulesParam(RulesKey::Algorithm)
    }),
    b("j/k ↓/↑ PgDn/PgUp g/G", "select a rule"),
    b(
        "s",
        "sort by the next metric (lift, confidence, support, ...)",
    )
    .run("sort by the next metric", || Action::Sort),
    b("/", "filter rules by item text or regex (either side)")
        .run("filter rules by item", || Action::StartSearch),
    b(
        "Enter",
        "the baskets behind the selected rule (again: close)",
    )
    .run("the baskets behind the selected rule", || Action::Drill),
    b(
        "e",
        "export the filtered rules (all of them) to .csv/.parquet/.json",
    )
    .run("export the filtered rules", || Action::StartExport),
    b("y", "copy the selected rule as a line (OSC 52)").run("copy the selected rule", || {
        Action::CopySelected { row: false }
    }),
];
pub const HINTS: &str =
    "r run · b i +/- [ ] < > m a · s sort · / filter · Enter baskets · e export";

pub fn job_done(
    state: &mut State,
    outcome: JobOutcome,
    secs: f64,
) -> Result<Vec<Command>, JobOutcome> {
    let JobOutcome::Mined(r) = outcome else {
        return Err(outcome);
    };
    state.message = Some(format!(
        "{} baskets, {} frequent itemsets (in at least {} baskets), {} rules, {secs:.1}s",
        r.baskets.len(),
        r.itemsets.len(),
        r.min_count,
        r.rules.len()
    ));
    state.rules.run = Some(Arc::new(*r));
    state.rules.row = 0;
    if let Err(e) = state.rules.arrange() {
        state.rules.params.filter = None;
        let _ = state.rules.arrange();
        state.error = Some(e);
    }
    Ok(Vec::new())
}

/// What a key means on this screen (after the keys every screen shares).
pub fn keys(key: crossterm::event::KeyEvent) -> Option<Action> {
    use crossterm::event::KeyCode;
    Some(match key.code {
        KeyCode::Char('y') => Action::CopySelected { row: false },
        KeyCode::Char('s') => Action::Sort,
        KeyCode::Char('/') => Action::StartSearch,
        KeyCode::Char(c) => Action::RulesParam(match c {
            'b' => RulesKey::Basket,
            'i' => RulesKey::Item,
            '+' | '=' => RulesKey::Support(1),
            '-' => RulesKey::Support(-1),
            ']' => RulesKey::Confidence(1),
            '[' => RulesKey::Confidence(-1),
            '>' => RulesKey::Lift(1),
            '<' => RulesKey::Lift(-1),
            'M' => RulesKey::MaxLen(1),
            'm' => RulesKey::MaxLen(-1),
            'a' => RulesKey::Algorithm,
            'r' => return Some(Action::RunModel),
            'e' => return Some(Action::StartExport),
            _ => return None,
        }),
        KeyCode::Enter => Action::Drill,
        _ => return None,
    })
}

pub fn update(state: &mut State, action: &Action) -> Option<Vec<Command>> {
    let ready = if state.rules.run.is_some() {
        Ok("rules.csv")
    } else {
        Err("nothing to export yet: mine rules first (r)")
    };
    if let Some(c) = super::export_keys(
        state,
        action,
        crate::app::state::ExportTarget::Rules,
        ready,
        export,
    ) {
        return Some(c);
    }
    let view = &mut state.rules;
    match action {
        Action::RulesParam(key) => view.adjust(*key),
        Action::RunModel => return Some(run(state)),
        Action::Sort => {
            let at = SortBy::ALL
                .iter()
                .position(|s| *s == view.params.sort)
                .unwrap_or(0);
            view.params.sort = SortBy::ALL[(at + 1) % SortBy::ALL.len()];
            let _ = view.arrange();
            state.message = Some(format!("rules sorted by {}", view.params.sort.name()));
        }
        Action::SortRules(by) => {
            view.params.sort = *by;
            let _ = view.arrange();
            state.message = Some(format!("rules sorted by {}", view.params.sort.name()));
        }
        Action::Down(n) => move_row(view, view.row.saturating_add(*n)),
        Action::Up(n) => move_row(view, view.row.saturating_sub(*n)),
        Action::PageDown => move_row(view, view.row.saturating_add(state.viewport.max(1))),
        Action::PageUp => move_row(view, view.row.saturating_sub(state.viewport.max(1))),
        Action::Top => move_row(view, 0),
        Action::Bottom => move_row(view, usize::MAX),
        Action::Drill => {
            if view.drill.is_some() {
                view.drill = None;
            } else if let (Some(run), Some(&i)) = (&view.run, view.visible.get(view.row)) {
                let r = &run.rules[i];
                let mut both: Vec<u32> = r
                    .antecedents
                    .iter()
                    .chain(&r.consequents)
                    .copied()
                    .collect();
                both.sort_unstable();
                view.drill = Some(Drill {
                    rule: i,
                    baskets: baskets_with(&run.baskets, &both),
                    with_antecedent: baskets_with(&run.baskets, &r.antecedents).len(),
                });
            }
        }
        Action::StartSearch => {
            state.overlay = Some(Overlay::Filter(
                view.params.filter.clone().unwrap_or_default(),
            ));
        }
        Action::PromptSubmit if matches!(state.overlay, Some(Overlay::Filter(_))) => {
            if let Some(Overlay::Filter(text)) = state.overlay.take() {
                let before = view.params.filter.clone();
                view.params.filter = (!text.is_empty()).then_some(text.clone());
                match view.arrange() {
                    Ok(()) => {
                        let total = view.run.as_ref().map_or(0, |r| r.rules.len());
                        state.message = Some(match &view.params.filter {
                            Some(f) => {
                                format!("{} of {total} rules match \"{f}\"", view.visible.len())
                            }
                            None => format!("all {total} rules"),
                        });
                        state.error = None;
                    }
                    Err(e) => {
                        view.params.filter = before;
                        let _ = view.arrange();
                        state.error = Some(e);
                    }
                }
            }
        }
        Action::Escape if state.overlay.is_none() && view.drill.is_some() => view.drill = None,
        _ => return None,
    }
    Some(Vec::new())
}

fn move_row(view: &mut RulesView, to: usize) {
    view.row = to.min(view.visible.len().saturating_sub(1));
    view.drill = None;
}

fn run(state: &mut State) -> Vec<Command> {
    state.error = None;
    let params = state.rules.params.clone();
    state.start_on_order_lines(|input, roles| JobRequest::Rules {
        input,
        params,
        roles,
    })
}

/// Writes every rule that passes the filter (not only those on screen), in screen order.
fn export(
    state: &mut State,
    _: crate::app::state::ExportTarget,
    path: PathBuf,
    overwrite: bool,
) -> Vec<Command> {
    let Some(run) = state.rules.run.clone() else {
        return Vec::new();
    };
    let rules: Vec<Rule> = state
        .rules
        .visible
        .iter()
        .map(|&i| run.rules[i].clone())
        .collect();
    state.start_job(JobRequest::ExportRules {
        path,
        rules,
        names: Arc::new(run.baskets.items.clone()),
        overwrite,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_keys_step_and_clamp() {
        let mut v = RulesView::default();
        v.adjust(RulesKey::Support(1));
        assert_eq!(v.params.min_support, 0.01);
        for _ in 0..20 {
            v.adjust(RulesKey::Support(-1));
        }
        assert_eq!(v.params.min_support, 0.0005);
        v.adjust(RulesKey::Confidence(1));
        assert_eq!(v.params.min_confidence, 0.25);
        v.adjust(RulesKey::MaxLen(-1));
        v.adjust(RulesKey::MaxLen(-1));
        assert_eq!(v.params.max_len, 2);
        v.adjust(RulesKey::Basket);
        v.adjust(RulesKey::Item);
        v.adjust(RulesKey::Algorithm);
        assert!(v.params.per_customer() && v.params.by_category());
        assert_eq!(v.params.algorithm, Algorithm::Apriori);
        v.adjust(RulesKey::Lift(-1));
        v.adjust(RulesKey::Lift(-1));
        v.adjust(RulesKey::Lift(-1));
        v.adjust(RulesKey::Lift(-1));
        v.adjust(RulesKey::Lift(-1));
        assert_eq!(v.params.min_lift, 0.0);
    }
}
