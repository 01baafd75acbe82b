//! The status line (what is loaded, row and column counts, job gauge, last message or error)
//! and the key-hint line of the current screen.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Paragraph};

use super::theme::Theme;
use crate::app::State;
use crate::app::action::{hints, more_hints};

/// "12 of 5000 rows x 29 cols" (or all rows when no filter).
pub fn counts(state: &State) -> String {
    let total = state.table.as_ref().map_or(0, |t| t.height());
    let shown = state.rows();
    if shown == total {
        format!("{total} rows x {} cols", state.columns())
    } else {
        format!("{shown} of {total} rows x {} cols", state.columns())
    }
}

pub fn draw(f: &mut Frame, status: Rect, keys: Rect, state: &State, theme: Theme) {
    if let Some(job) = state.jobs.first() {
        let (done, total, _) = job.progress.snapshot();
        let ratio = job.progress.fraction();
        // Every running job is named: the first with its gauge, the others after it.
        let others = match state.jobs.len() {
            0 | 1 => String::new(),
            _ => format!(
                " · also running: {}",
                state.jobs[1..]
                    .iter()
                    .map(|j| j.label.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        };
        let text = format!(
            "{} · {} (step {} of {}) · {:.1}s · Esc cancels{}",
            job.label,
            job.progress.describe(),
            (done + 1).min(total.max(1)),
            total.max(1),
            job.started.elapsed().as_secs_f64(),
            if others.is_empty() { "" } else { " all" },
        ) + &others;
        f.render_widget(
            Gauge::default()
                .ratio(ratio)
                .label(text)
                .gauge_style(theme.gauge()),
            status,
        );
    } else {
        let mut spans = vec![Span::styled(
            format!(" {} · {} ", state.title, counts(state)),
            theme.accent(),
        )];
        if state.show_pii && !state.pii.is_empty() {
            spans.push(Span::styled(" PII VISIBLE ", theme.error()));
        }
        // The sources grew since the shown data was read (F5 reads it), or are followed (F6).
        match (!state.follow.has_arrivals(), state.follow.auto) {
            (false, _) => spans.push(Span::styled(" NEW DATA: F5 ", theme.selected())),
            (true, true) => spans.push(Span::styled(" FOLLOWING ", theme.dim())),
            _ => {}
        }
        // A message longer than the line is cut with a pointer to the message log.
        let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
        let room = (status.width as usize).saturating_sub(used);
        let fit = |text: String| -> String {
            if text.chars().count() <= room {
                return text;
            }
            let tail = "… (! full text)";
            let keep = room.saturating_sub(tail.chars().count());
            let cut: String = text.chars().take(keep).collect();
            format!("{cut}{tail}")
        };
        if let Some(e) = &state.error {
            spans.push(Span::styled(fit(format!(" error: {e}")), theme.error()));
        } else if let Some(m) = &state.message {
            spans.push(Span::raw(fit(format!(" {m}"))));
        }
        f.render_widget(Paragraph::new(Line::from(spans)), status);
    }
    let mut line = format!(" {}", hints(state.screen));
    for more in more_hints(state.screen) {
        let with = format!("{line} · {more}");
        if with.chars().count() >= keys.width as usize {
            break;
        }
        line = with;
    }
    f.render_widget(Paragraph::new(line).style(theme.dim()), keys);
}
