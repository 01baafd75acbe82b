//! The Data screen: the loaded table in pages, its row order (filter and sort, computed on a
//! worker thread), the selected cell, and the selected column's summary panel.

pub mod draw;

use std::sync::Arc;

use polars::prelude::IdxSize;

use crate::app::action::{Action, Binding, b, n};
use crate::app::job::{JobOutcome, JobRequest};
use crate::app::state::{Command, Overlay, State};
use crate::data::integrate::explore::ColumnSummary;

/// A filter and a sort (column, descending) of the Data table.
pub type Arrangement = (Option<String>, Option<(String, bool)>);

/// The Data screen.
#[derive(Debug, Default, Clone)]
pub struct DataView {
    /// Selected row (in view order) and selected column.
    pub row: usize,
    pub col: usize,
    /// Row indices of the filtered/sorted view; `None` is the whole table in file order.
    pub order: Option<Arc<Vec<IdxSize>>>,
    pub filter: Option<String>,
    pub sort: Option<(String, bool)>,
    /// The filter and sort of an arrange job in flight: keys pressed meanwhile build on it.
    pub requested: Option<Arrangement>,
    pub summary: Option<ColumnSummary>,
}

pub const BINDINGS: &[Binding] = &[
    b("j/k ↓/↑", "row"),
    b("h/l ←/→", "column"),
    b("PgDn/PgUp C-d/C-u", "page"),
    b("g/G", "first/last row"),
    b("s", "sort by column (asc, desc, off)").run("sort by the selected column", || Action::Sort),
    b("/", "filter rows (Enter applies, empty clears)").run("filter rows", || Action::StartSearch),
    b("y / Y", "copy cell / row with header (OSC 52)").each(&[
        n("y", "copy the selected cell", || Action::CopySelected {
            row: false,
        }),
        n("Y", "copy the selected row", || Action::CopySelected {
            row: true,
        }),
    ]),
    b(
        "P",
        "personal data: mark / unmark the selected column (Ctrl-S saves it in [privacy])",
    )
    .run(
        "mark or unmark the selected column as personal data",
        || Action::TogglePii,
    ),
    b(
        "t",
        "type: read the selected column as int, float, text or bool, or as found (Ctrl-S saves it)",
    )
    .run("read the selected column as another type", || {
        Action::StartColumnType
    }),
    b("wheel", "scroll"),
];

pub const HINTS: &str = "j/k row · h/l column · s sort · / filter · Tab screens · ? help · q quit";

/// What a key means on this screen (after the keys every screen shares).
pub fn keys(key: crossterm::event::KeyEvent) -> Option<Action> {
    use crossterm::event::KeyCode;
    Some(match key.code {
        KeyCode::Char('y') => Action::CopySelected { row: false },
        KeyCode::Char('Y') => Action::CopySelected { row: true },
        KeyCode::Char('s') => Action::Sort,
        KeyCode::Char('/') => Action::StartSearch,
        KeyCode::Char('P') => Action::TogglePii,
        KeyCode::Char('t') => Action::StartColumnType,
        _ => return None,
    })
}

pub fn update(state: &mut State, action: &Action) -> Option<Vec<Command>> {
    if let Some((down, n)) = super::scroll_of(action, state.viewport) {
        let to = if down {
            state.data.row + n
        } else {
            state.data.row.saturating_sub(n)
        };
        move_row(state, to);
        return Some(Vec::new());
    }
    Some(match action {
        Action::Left => {
            state.data.col = state.data.col.saturating_sub(1);
            summarise(state)
        }
        Action::Right => {
            state.data.col = (state.data.col + 1).min(state.columns().saturating_sub(1));
            summarise(state)
        }
        Action::Sort => {
            let Some(name) = state.column_name(state.data.col) else {
                return Some(Vec::new());
            };
            let (filter, current) = match &state.data.requested {
                Some((f, s)) => (f.clone(), s.clone()),
                None => (state.data.filter.clone(), state.data.sort.clone()),
            };
            let next = match current {
                Some((c, false)) if c == name => Some((name, true)),
                Some((c, true)) if c == name => None,
                _ => Some((name, false)),
            };
            arrange(state, filter, next)
        }
        Action::TogglePii => {
            let Some(name) = state.column_name(state.data.col) else {
                return Some(Vec::new());
            };
            toggle_pii(state, &name);
            Vec::new()
        }
        Action::StartColumnType => {
            if let Some(name) = state.column_name(state.data.col) {
                state.overlay = Some(Overlay::ColumnType(name));
            }
            Vec::new()
        }
        Action::SetColumnType(ty) => {
            let Some(Overlay::ColumnType(name)) = state.overlay.take() else {
                return Some(Vec::new());
            };
            set_column_type(state, &name, *ty)
        }
        Action::StartSearch => {
            let current = state.data.filter.clone().unwrap_or_default();
            state.overlay = Some(Overlay::Filter(current));
            Vec::new()
        }
        Action::PromptSubmit if matches!(state.overlay, Some(Overlay::Filter(_))) => {
            let Some(Overlay::Filter(text)) = state.overlay.take() else {
                return Some(Vec::new());
            };
            let filter = (!text.is_empty()).then_some(text);
            let sort = match &state.data.requested {
                Some((_, s)) => s.clone(),
                None => state.data.sort.clone(),
            };
            arrange(state, filter, sort)
        }
        _ => return None,
    })
}

/// Reads column `name` as `ty` (None: as found) in every file of the session and loads the
/// session's source again, so the table, the stats panel and the order-line screens all see
/// it. The column's note then says what did not read.
pub fn set_column_type(state: &mut State, name: &str, ty: Option<&str>) -> Vec<Command> {
    match ty {
        Some(t) => state.types.insert(name.to_string(), t.to_string()),
        None => state.types.remove(name),
    };
    let request = state.sources.shown_entry().map(|e| e.target.request());
    let Some(request) = request else {
        state.error = Some("nothing is open to read again: o opens a source".into());
        return Vec::new();
    };
    for file in session_files(state) {
        crate::data::sources::file::set_session_types(Some(&file), state.types.clone());
    }
    state.message = Some(match ty {
        Some(t) => format!(
            "reading `{name}` as {t}: values that do not read become missing and are counted in the column's note (t, then a: as found; Ctrl-S saves it)"
        ),
        None => format!("reading `{name}` as found"),
    });
    state.load(request)
}

/// The files the session reads: the workspace's sources, or the data file.
fn session_files(state: &State) -> Vec<std::path::PathBuf> {
    match &state.workspace {
        Some(ws) => ws
            .sources_by_role()
            .into_iter()
            .map(|(_, s)| ws.resolve(s))
            .collect(),
        None => state.source.iter().cloned().collect(),
    }
}

/// The analyst's word on column `name`: personal data that detection missed (masked as free
/// text), or a column detection took for personal data that is not. The session's privacy
/// overrides keep it (Ctrl-S writes them to the workspace's `[privacy]`, which every
/// command reads).
pub fn toggle_pii(state: &mut State, name: &str) {
    use crate::data::privacy::{PiiColumn, PiiKind};
    let o = &mut state.privacy;
    if let Some(at) = state.pii.iter().position(|p| p.column == name) {
        state.pii.remove(at);
        o.pii.remove(name);
        if !o.not_pii.iter().any(|c| c == name) {
            o.not_pii.push(name.to_string());
        }
        state.message = Some(format!(
            "`{name}` is not personal data: shown, exported and usable as a feature (P marks it again; Ctrl-S saves it)"
        ));
    } else {
        state.pii.push(PiiColumn {
            column: name.to_string(),
            kind: PiiKind::FreeText,
            reason: "marked by you".into(),
        });
        o.not_pii.retain(|c| c != name);
        o.pii.insert(name.to_string(), PiiKind::FreeText);
        state.message = Some(format!(
            "`{name}` is personal data: masked, left out of exports and features (P unmarks it; Ctrl-S saves it)"
        ));
    }
}

/// The outcomes of the jobs this screen starts (the rest go back).
pub fn job_done(
    state: &mut State,
    outcome: JobOutcome,
    _secs: f64,
) -> Result<Vec<Command>, JobOutcome> {
    match outcome {
        JobOutcome::Arranged {
            order,
            filter,
            sort,
        } => {
            let total = state.table.as_ref().map_or(0, |t| t.height());
            // Arranged again after a refresh (F5): the selected customer and the refresh's
            // message stay.
            if let Some(kept) = state.follow.keep_row.take() {
                state.data.row = order.iter().position(|&r| r == kept).unwrap_or(0);
                let unchanged = filter.is_none() && sort.is_none();
                state.data.order = (!unchanged).then(|| Arc::new(order));
                state.data.filter = filter;
                state.data.sort = sort;
                return Ok(Vec::new());
            }
            state.message = Some(match &filter {
                Some(f) => format!("{} of {total} rows match \"{f}\"", order.len()),
                None => match &sort {
                    Some((c, d)) => {
                        format!(
                            "sorted by {c} {}",
                            if *d { "descending" } else { "ascending" }
                        )
                    }
                    None => "file order".into(),
                },
            });
            let unchanged = filter.is_none() && sort.is_none();
            state.data.order = (!unchanged).then(|| Arc::new(order));
            state.data.filter = filter;
            state.data.sort = sort;
            state.data.row = 0;
            Ok(Vec::new())
        }
        JobOutcome::Summary(s) => {
            state.data.summary = Some(*s);
            Ok(Vec::new())
        }
        other => Err(other),
    }
}

fn move_row(state: &mut State, to: usize) {
    state.data.row = to.min(state.rows().saturating_sub(1));
}

/// Asks for the table's row order under `filter` and `sort` (on a worker thread).
pub fn arrange(
    state: &mut State,
    filter: Option<String>,
    sort: Option<(String, bool)>,
) -> Vec<Command> {
    let Some(table) = state.table.clone() else {
        return Vec::new();
    };
    state.data.requested = Some((filter.clone(), sort.clone()));
    state.start_job(JobRequest::Arrange {
        table,
        filter,
        sort,
    })
}

/// Asks for the selected column's summary, unless it is the one shown.
pub fn summarise(state: &mut State) -> Vec<Command> {
    let (Some(table), Some(column)) = (state.table.clone(), state.column_name(state.data.col))
    else {
        return Vec::new();
    };
    if state
        .data
        .summary
        .as_ref()
        .is_some_and(|s| s.profile.name == column)
    {
        return Vec::new();
    }
    state.start_job(JobRequest::Summarise { table, column })
}
