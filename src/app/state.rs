//! The app state and `update`, the only place it changes.

use polars::prelude::DataFrame;

use super::action::Action;
use super::job::{JobOutcome, RunningJob};
use crate::data::quality::QualityReport;

/// Everything the screen shows.
#[derive(Debug, Default)]
pub struct State {
    pub title: String,
    pub table: Option<DataFrame>,
    pub report: Option<QualityReport>,
    pub job: Option<RunningJob>,
    /// The last message (info) or error, shown in the status bar.
    pub message: Option<String>,
    pub error: Option<String>,
    /// Selected row and first visible column.
    pub row: usize,
    pub col: usize,
    /// Rows the table area shows (set by the view's size).
    pub viewport: usize,
    pub quit: bool,
}

impl State {
    pub fn new(title: String, job: Option<RunningJob>) -> State {
        State {
            title,
            job,
            viewport: 20,
            ..State::default()
        }
    }

    pub fn rows(&self) -> usize {
        self.table.as_ref().map_or(0, |t| t.height())
    }

    pub fn columns(&self) -> usize {
        self.table.as_ref().map_or(0, |t| t.width())
    }
}

/// Applies one action to the state.
pub fn update(state: &mut State, action: Action) {
    let last = state.rows().saturating_sub(1);
    let page = state.viewport.max(1);
    match action {
        Action::Quit => state.quit = true,
        Action::Down(n) => state.row = (state.row + n).min(last),
        Action::Up(n) => state.row = state.row.saturating_sub(n),
        Action::PageDown => state.row = (state.row + page).min(last),
        Action::PageUp => state.row = state.row.saturating_sub(page),
        Action::Top => state.row = 0,
        Action::Bottom => state.row = last,
        Action::Left => state.col = state.col.saturating_sub(1),
        // `col` counts scrolled columns after the frozen key column.
        Action::Right => state.col = (state.col + 1).min(state.columns().saturating_sub(2)),
        Action::Viewport(n) => state.viewport = n,
        Action::Cancel => {
            if let Some(job) = &state.job {
                job.progress.cancel();
                state.message = Some(format!("cancelling {}...", job.label));
            }
        }
        Action::JobDone(outcome) => {
            let elapsed = state.job.take().map(|j| j.started.elapsed());
            match *outcome {
                JobOutcome::Loaded(l) => {
                    let l = *l;
                    let secs = elapsed.map(|d| d.as_secs_f64()).unwrap_or(0.0);
                    state.message = Some(format!(
                        "loaded {} rows x {} columns in {secs:.1}s",
                        l.table.height(),
                        l.table.width()
                    ));
                    state.error = None;
                    state.title = l.title;
                    state.table = Some(l.table);
                    state.report = l.report;
                    state.row = 0;
                    state.col = 0;
                }
                JobOutcome::Failed(e) => state.error = Some(e),
                JobOutcome::Cancelled => state.message = Some("cancelled".into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::job::Loaded;
    use polars::prelude::*;

    fn loaded(n: usize) -> State {
        let mut s = State::new("t".into(), None);
        let ids: Vec<String> = (0..n).map(|i| format!("C{i}")).collect();
        let table = df!("id" => ids, "v" => (0..n as i64).collect::<Vec<_>>()).unwrap();
        update(
            &mut s,
            Action::JobDone(Box::new(JobOutcome::Loaded(Box::new(Loaded {
                title: "x".into(),
                table,
                report: None,
            })))),
        );
        s
    }

    #[test]
    fn moves_stay_inside_the_table() {
        let mut s = loaded(30);
        assert_eq!(s.rows(), 30);
        assert!(
            s.message
                .as_deref()
                .unwrap()
                .starts_with("loaded 30 rows x 2 columns")
        );
        update(&mut s, Action::Up(1));
        assert_eq!(s.row, 0);
        update(&mut s, Action::Viewport(10));
        update(&mut s, Action::PageDown);
        assert_eq!(s.row, 10);
        update(&mut s, Action::Bottom);
        assert_eq!(s.row, 29);
        update(&mut s, Action::Down(5));
        assert_eq!(s.row, 29);
        // With the key frozen and one other column there is nothing to scroll.
        update(&mut s, Action::Right);
        assert_eq!(s.col, 0);
    }

    #[test]
    fn failure_keeps_previous_table() {
        let mut s = loaded(3);
        update(
            &mut s,
            Action::JobDone(Box::new(JobOutcome::Failed("bad".into()))),
        );
        assert_eq!(s.rows(), 3);
        assert_eq!(s.error.as_deref(), Some("bad"));
    }
}
