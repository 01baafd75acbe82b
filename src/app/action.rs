//! Everything the app can do, and the keymap that turns key presses into it. Keys are data
//! here so the help line and (later) the help overlay list them from one place.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::job::JobOutcome;

#[derive(Debug)]
pub enum Action {
    Quit,
    Up(usize),
    Down(usize),
    PageUp,
    PageDown,
    Top,
    Bottom,
    Left,
    Right,
    /// Cancel the running job (or nothing).
    Cancel,
    /// The table area now shows this many rows.
    Viewport(usize),
    JobDone(Box<JobOutcome>),
}

/// One binding: the keys as shown to the user, and what they do.
pub struct Binding {
    pub keys: &'static str,
    pub what: &'static str,
}

/// The bindings of the table view, in the order the help line shows them.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: "j/k",
        what: "row",
    },
    Binding {
        keys: "h/l",
        what: "columns",
    },
    Binding {
        keys: "PgDn/PgUp",
        what: "page",
    },
    Binding {
        keys: "g/G",
        what: "top/end",
    },
    Binding {
        keys: "Esc",
        what: "cancel",
    },
    Binding {
        keys: "q",
        what: "quit",
    },
];

/// The action a key press means, if any.
pub fn key_to_action(key: KeyEvent) -> Option<Action> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Char('c') if ctrl => Action::Quit,
        KeyCode::Char('d') if ctrl => Action::PageDown,
        KeyCode::Char('u') if ctrl => Action::PageUp,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('j') | KeyCode::Down => Action::Down(1),
        KeyCode::Char('k') | KeyCode::Up => Action::Up(1),
        KeyCode::Char('h') | KeyCode::Left => Action::Left,
        KeyCode::Char('l') | KeyCode::Right => Action::Right,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::Char('g') | KeyCode::Home => Action::Top,
        KeyCode::Char('G') | KeyCode::End => Action::Bottom,
        KeyCode::Esc => Action::Cancel,
        _ => return None,
    })
}
