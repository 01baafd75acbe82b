//! The status line (job gauge, last message or error) and the key-hint line.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Paragraph};

use crate::app::State;
use crate::app::action::BINDINGS;

pub fn draw(f: &mut Frame, status: Rect, keys: Rect, state: &State) {
    if let Some(job) = &state.job {
        let (done, total, label) = job.progress.snapshot();
        let ratio = if total > 0 {
            (done as f64 / total as f64).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let text = format!(
            "{} · {} (step {} of {}) · {:.1}s · Esc cancels",
            job.label,
            label,
            done.min(total) + 1,
            total.max(1),
            job.started.elapsed().as_secs_f64()
        );
        f.render_widget(Gauge::default().ratio(ratio).label(text), status);
    } else if let Some(e) = &state.error {
        f.render_widget(
            Paragraph::new(Line::from(vec![Span::styled(
                format!("error: {e}"),
                Style::default().fg(Color::Red),
            )])),
            status,
        );
    } else if let Some(m) = &state.message {
        f.render_widget(Paragraph::new(m.as_str()), status);
    }
    let hints: Vec<String> = BINDINGS
        .iter()
        .map(|b| format!("{} {}", b.keys, b.what))
        .collect();
    f.render_widget(
        Paragraph::new(hints.join(" · ")).style(Style::default().fg(Color::DarkGray)),
        keys,
    );
}
