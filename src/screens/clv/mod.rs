//! The CLV screen's state and keys: the calibration end, time unit, horizon and discount
//! rate; the last run; the scroll of the top-customer list; export.

pub mod draw;

use std::path::PathBuf;

use chrono::{Months, NaiveDate};

use crate::pipeline::clv::{ClvOutcome, ClvSettings, TimeUnit};

use crate::app::action::{Action, Binding, b, n};
use crate::app::job::{JobOutcome, JobRequest};
use crate::app::state::{Command, Overlay, State};

/// A parameter on the CLV screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CField {
    CalibrationEnd,
    Unit,
    Horizon,
    Discount,
}

impl CField {
    pub const ALL: [CField; 4] = [
        CField::CalibrationEnd,
        CField::Unit,
        CField::Horizon,
        CField::Discount,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CField::CalibrationEnd => "calibration end",
            CField::Unit => "time unit",
            CField::Horizon => "horizon (months)",
            CField::Discount => "discount / month",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ClvView {
    pub settings: ClvSettings,
    pub field: usize,
    pub result: Option<std::sync::Arc<ClvOutcome>>,
    /// First row shown of the top-customer list.
    pub scroll: usize,
    /// Mean CLV per segment of the last segmentation (see [`per_segment`]), kept up to date
    /// when either result changes.
    pub segments: Option<Vec<(i64, usize, f64)>>,
}

impl ClvView {
    pub fn current(&self) -> CField {
        CField::ALL[self.field.min(CField::ALL.len() - 1)]
    }

    pub fn display(&self, f: CField) -> String {
        let s = &self.settings;
        match f {
            CField::CalibrationEnd => match (s.calibration_end, &self.result) {
                (Some(d), _) => d.to_string(),
                (None, Some(r)) => format!("auto ({})", r.calibration_end),
                (None, None) => "auto (last - 6 months)".into(),
            },
            CField::Unit => s.unit.singular().into(),
            CField::Horizon => s.horizon_months.to_string(),
            CField::Discount => format!("{}", s.discount_rate),
        }
    }

    /// +/-: a month later or earlier, the other unit, a month more or less, 0.005 steps.
    pub fn adjust(&mut self, f: CField, delta: i64) {
        let s = &mut self.settings;
        match f {
            CField::CalibrationEnd => {
                let base = s
                    .calibration_end
                    .or(self.result.as_ref().map(|r| r.calibration_end));
                if let Some(d) = base {
                    let m = Months::new(delta.unsigned_abs() as u32);
                    let moved = if delta > 0 {
                        d.checked_add_months(m)
                    } else {
                        d.checked_sub_months(m)
                    };
                    s.calibration_end = moved.or(Some(d));
                }
            }
            CField::Unit => {
                s.unit = match s.unit {
                    TimeUnit::Days => TimeUnit::Weeks,
                    TimeUnit::Weeks => TimeUnit::Days,
                }
            }
            CField::Horizon => {
                s.horizon_months = (s.horizon_months as i64 + delta).clamp(1, 120) as usize
            }
            CField::Discount => {
                let v = ((s.discount_rate + 0.005 * delta as f64) * 1000.0).round() / 1000.0;
                s.discount_rate = v.clamp(0.0, 0.5);
            }
        }
    }

    pub fn set_text(&mut self, f: CField, text: &str) -> Result<(), String> {
        let text = text.trim();
        let s = &mut self.settings;
        match f {
            CField::CalibrationEnd => {
                if text.is_empty() || text == "auto" {
                    s.calibration_end = None;
                } else {
                    s.calibration_end =
                        Some(NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
                            format!("calibration end: {text:?} is not a date; type YYYY-MM-DD")
                        })?);
                }
            }
            CField::Horizon => {
                s.horizon_months = super::parse_whole(f.name(), text, 1, 120)? as usize
            }
            CField::Discount => match text.parse::<f64>() {
                Ok(v) if (0.0..1.0).contains(&v) => s.discount_rate = v,
                _ => {
                    return Err(format!(
                        "discount: {text:?} is not a monthly rate from 0 to 1, e.g. 0.01"
                    ));
                }
            },
            CField::Unit => {
                s.unit = match s.unit {
                    TimeUnit::Days => TimeUnit::Weeks,
                    TimeUnit::Weeks => TimeUnit::Days,
                }
            }
        }
        Ok(())
    }
}

pub const BINDINGS: &[Binding] = &[
    b(
        "j/k ↓/↑",
        "choose parameter (calibration end, unit, horizon, discount)",
    ),
    b(
        "+/-",
        "change it (calibration end: a month later / earlier)",
    )
    .each(&[
        n("+", "increase the selected parameter", || Action::Adjust(1)),
        n("-", "decrease the selected parameter", || {
            Action::Adjust(-1)
        }),
    ]),
    b(
        "Enter",
        "type its value (a date as YYYY-MM-DD; empty: auto)",
    )
    .run("type the selected parameter's value", || Action::StartEdit),
    b(
        "r",
        "fit BG/NBD and Gamma-Gamma on the orders, score every customer",
    )
    .run("fit the models and score every customer", || {
        Action::RunModel
    }),
    b("PgDn/PgUp", "scroll the top customers"),
    b(
        "e",
        "export every customer's p alive, purchases, spend and CLV",
    )
    .run("export every customer's CLV", || Action::StartExport),
    b(
        "M",
        "save the fitted models (BG/NBD, Gamma-Gamma, the columns, unit, horizon, discount) for `crmlens score`",
    )
    .run("save the lifetime-value model", || Action::SaveModel),
    b("Esc", "cancel the fit (the previous result stays)"),
];
pub const HINTS: &str = "j/k +/- Enter params · r fit · PgDn/PgUp top · e export · M model";

pub fn job_done(
    state: &mut State,
    outcome: JobOutcome,
    secs: f64,
) -> Result<Vec<Command>, JobOutcome> {
    let JobOutcome::Clv(c) = outcome else {
        return Err(outcome);
    };
    let r = &c.run;
    let holdout = r.holdout.as_ref().map_or(String::new(), |h| {
        format!(
            "; holdout: predicted {:.0} purchases, actual {:.0}",
            h.predicted_total, h.actual_total
        )
    });
    state.message = Some(format!(
        "{} customers to {}{holdout}, {secs:.1}s",
        c.ids.len(),
        c.calibration_end
    ));
    state.clv.scroll = 0;
    state.clv.result = Some(std::sync::Arc::from(c));
    state.clv.segments = per_segment(state);
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
            'e' => Action::StartExport,
            'M' => Action::SaveModel,
            _ => return None,
        },
        KeyCode::Enter => Action::StartEdit,
        _ => return None,
    })
}

/// The CLV screen's handling of `action`, or None for the common handler.
pub fn update(state: &mut State, action: &Action) -> Option<Vec<Command>> {
    let ready = if state.clv.result.is_some() {
        Ok("clv_model.toml")
    } else {
        Err("no model yet: fit the models first (r)")
    };
    if let Some(c) = super::save_model_keys(state, action, ready, export) {
        return Some(c);
    }
    let ready = if state.clv.result.is_some() {
        Ok("clv.csv")
    } else {
        Err("nothing to export yet: fit the models first (r)")
    };
    if let Some(c) = super::export_keys(
        state,
        action,
        crate::app::state::ExportTarget::Clv,
        ready,
        export,
    ) {
        return Some(c);
    }
    let view = &mut state.clv;
    match action {
        Action::Down(n) => view.field = (view.field + n).min(CField::ALL.len() - 1),
        Action::Up(n) => view.field = view.field.saturating_sub(*n),
        Action::Top => view.field = 0,
        Action::Bottom => view.field = CField::ALL.len() - 1,
        Action::PageDown => view.scroll = view.scroll.saturating_add(state.viewport.max(2) / 2),
        Action::PageUp => view.scroll = view.scroll.saturating_sub(state.viewport.max(2) / 2),
        Action::Adjust(d) => {
            let f = view.current();
            view.adjust(f, *d);
        }
        Action::StartEdit => {
            if view.current() == CField::Unit {
                view.adjust(CField::Unit, 1);
            } else {
                state.overlay = Some(Overlay::Edit(view.field, String::new()));
            }
        }
        Action::PromptSubmit if matches!(state.overlay, Some(Overlay::Edit(..))) => {
            if let Some(Overlay::Edit(i, text)) = state.overlay.take() {
                let f = CField::ALL[i.min(CField::ALL.len() - 1)];
                if let Err(e) = view.set_text(f, &text) {
                    state.error = Some(e);
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
    let settings = state.clv.settings.clone();
    state.start_on_order_lines(|input, roles| JobRequest::Clv {
        input,
        settings,
        roles,
    })
}

fn export(
    state: &mut State,
    target: crate::app::state::ExportTarget,
    path: PathBuf,
    overwrite: bool,
) -> Vec<Command> {
    let Some(r) = state.clv.result.as_ref() else {
        return Vec::new();
    };
    if target == crate::app::state::ExportTarget::Model {
        let outcome = r.clone();
        return state.start_job(JobRequest::SaveLifetime {
            path,
            outcome,
            overwrite,
        });
    }
    let request = JobRequest::ExportClv {
        path,
        ids: r.ids.clone(),
        rows: r.run.rows.clone(),
        overwrite,
        pseudonymise: state.pseudonymise,
    };
    state.start_job(request)
}

/// Mean CLV per segment of the last segmentation: the 360 table's rows (keys in column 0)
/// matched to the CLV customers by id. (segment label or -1 for noise, customers matched,
/// mean CLV), by label.
pub fn per_segment(state: &State) -> Option<Vec<(i64, usize, f64)>> {
    let r = state.clv.result.as_ref()?;
    let seg = state.segments.run.as_ref()?;
    let table = state.table.as_ref()?;
    let keys = table
        .columns()
        .first()?
        .cast(&polars::prelude::DataType::String)
        .ok()?;
    let keys = keys.str().ok()?;
    if keys.len() != seg.labels.len() {
        return None;
    }
    let clv: std::collections::HashMap<&str, f64> = r
        .ids
        .iter()
        .zip(&r.run.rows)
        .map(|(id, row)| (id.as_str(), row.clv))
        .collect();
    let mut sums: std::collections::BTreeMap<i64, (usize, f64)> = Default::default();
    for (key, label) in keys.iter().zip(&seg.labels) {
        if let Some(v) = key.and_then(|k| clv.get(k)) {
            let e = sums.entry(*label).or_default();
            e.0 += 1;
            e.1 += v;
        }
    }
    Some(
        sums.into_iter()
            .map(|(l, (n, s))| (l, n, s / n.max(1) as f64))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_step_and_parse() {
        let mut v = ClvView::default();
        v.settings.calibration_end = NaiveDate::from_ymd_opt(2024, 1, 31);
        v.adjust(CField::CalibrationEnd, 1);
        assert_eq!(
            v.settings.calibration_end,
            NaiveDate::from_ymd_opt(2024, 2, 29)
        );
        v.adjust(CField::Discount, -3);
        assert_eq!(v.settings.discount_rate, 0.0);
        v.adjust(CField::Horizon, 200);
        assert_eq!(v.settings.horizon_months, 120);
        assert!(v.set_text(CField::CalibrationEnd, "30/06/2024").is_err());
        assert!(v.set_text(CField::CalibrationEnd, "2024-06-30").is_ok());
        assert_eq!(v.display(CField::CalibrationEnd), "2024-06-30");
        assert!(v.set_text(CField::CalibrationEnd, "").is_ok());
        assert_eq!(v.settings.calibration_end, None);
        assert!(v.set_text(CField::Discount, "2").is_err());
    }
}
