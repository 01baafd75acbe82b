//! Everything the app can do, and the keymap that turns key presses and mouse events into it.
//! Bindings are data here, so the help overlay and the status bar list them from one place.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};

use super::job::{JobDone, RunningJob};
use super::state::{Overlay, State};
use crate::screens::Screen;

#[derive(Debug)]
pub enum Action {
    /// `q`: quit, or ask first when a job runs.
    Quit,
    /// Ctrl-C, or "yes" in the quit prompt.
    ForceQuit,
    /// Ctrl-Z (or SIGTSTP): back to the shell until `fg`.
    Suspend,
    GoTo(Screen),
    NextTab,
    PrevTab,
    Up(usize),
    Down(usize),
    PageUp,
    PageDown,
    Top,
    Bottom,
    Left,
    Right,
    /// Sort the Data table by the selected column: ascending, descending, off.
    Sort,
    /// Space on the Features screen: use the column or not.
    ToggleFeature,
    /// `L`: log1p on the selected numeric feature.
    ToggleLog,
    /// `c`: next scaling (standard, min-max, robust, none).
    CycleScaling,
    /// `+`/`-` on the Segments screen: change the selected parameter.
    Adjust(i64),
    /// Enter on the Segments screen: type the selected parameter's value.
    StartEdit,
    /// `r`: run the model of the current screen.
    RunModel,
    /// `y` / `n` / `s` on the Identity screen: the pair is the same person, different
    /// people, or skipped.
    Label(Option<bool>),
    /// `w`: k-means for k = 2..10 with the quality metrics; `W` on Predict: the grid search.
    RunSweep,
    /// `w` on Predict: every model of the task cross-validated on the same folds.
    RunCompare,
    /// `n` on Predict: the next-period value target (spend, purchases, off).
    RunNextPeriod,
    /// `v`: sweep charts or scatter.
    ToggleSweepView,
    /// `p` on the Segments screen: the profile table's next view.
    CycleProfile,
    /// `]`/`[` on the Segments screen: the cluster profiles from the next / previous cluster.
    ScrollProfiles(bool),
    /// A mining parameter key on the Rules screen.
    RulesParam(crate::screens::rules::RulesKey),
    /// Enter on the Rules screen: the baskets behind the selected rule (again: close).
    Drill,
    /// A click on a Rules table header: sort by that metric.
    SortRules(crate::analytics::rules::SortBy),
    /// `a` on the Predict screen: put the grid search's best setting into the parameters.
    ApplyBest,
    /// `c` on the Predict screen: ROC or precision-recall curve.
    ToggleCurve,
    /// `e`: export the screen's result (asks for a file name).
    StartExport,
    /// `E` on the Segments screen: export the cluster profiles.
    ExportProfiles,
    /// `M` on the Segments and Predict screens: save the model for `crmlens score`.
    SaveModel,
    /// `y` in the overwrite prompt.
    ConfirmOverwrite,
    /// `/`: start typing a filter.
    StartSearch,
    PromptChar(char),
    PromptBackspace,
    /// Enter in the search prompt: apply the filter (an empty one clears it).
    PromptSubmit,
    ToggleHelp,
    /// `!`: every message and error of the session in full.
    ToggleMessages,
    /// `P` on the Data screen: the selected column is personal data, or is not.
    TogglePii,
    /// `t` on the Data screen: choose the type to read the selected column as.
    StartColumnType,
    /// The type chosen (int, float, text, bool), or None: as found.
    SetColumnType(Option<&'static str>),
    /// A key of the role editor.
    Roles(super::roles::RolesKey),
    /// j/k in the message log: one line older (true) or newer.
    ScrollMessages(bool),
    /// `o`: the sources and their status.
    ToggleSources,
    /// A key of the source picker.
    Sources(super::sources::SourcesKey),
    /// Esc: close the overlay, or cancel running jobs.
    Escape,
    /// The table area now shows this many rows.
    Viewport(usize),
    JobStarted(RunningJob),
    JobDone(Box<JobDone>),
    /// A demo-mode key (`crmlens demo`).
    Demo(super::demo::DemoAction),
    /// The event loop's clock, while demo mode is on (auto-play).
    Tick(std::time::Instant),
    /// `u`: put back the selections and parameters before the last change.
    Undo,
    /// Ctrl-R: redo what `u` undid.
    Redo,
    /// Ctrl-S: save the session as a workspace (asks for the path the first time).
    Save,
    /// `:` or Ctrl-P, and the keys of the command palette.
    Palette(super::palette::PaletteKey),
    /// `y`: copy the selected cell, rule or recommendations; `Y` (`row`): the Data row.
    CopySelected {
        row: bool,
    },
    /// F5: read what arrived in the sources (`super::follow`).
    Refresh,
    /// F6: refresh as data arrives, or only on F5.
    ToggleFollow,
    /// The event loop saw the followed files change.
    SourcesChanged(crate::data::integrate::follow::Signature),
    /// The event loop's timer for database sources (see `follow::poll`).
    PollDatabases,
}

/// One binding: the keys as shown to the user, what they do, and the command palette's
/// entries for them (none for navigation keys such as j/k or PgDn).
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static str,
    pub what: &'static str,
    /// The palette entry when the keys do one thing.
    pub run: Option<Named>,
    /// One palette entry per action when the keys name several (`+/-`, `1-8`).
    pub each: &'static [Named],
}

/// A palette entry: its name (the palette puts the screen before it), the one key that does
/// it, and the action that key means.
#[derive(Debug, Clone, Copy)]
pub struct Named {
    pub name: &'static str,
    pub key: &'static str,
    pub action: fn() -> Action,
}

pub const fn b(keys: &'static str, what: &'static str) -> Binding {
    Binding {
        keys,
        what,
        run: None,
        each: &[],
    }
}

pub const fn n(key: &'static str, name: &'static str, action: fn() -> Action) -> Named {
    Named { name, key, action }
}

impl Binding {
    /// The keys do one thing: `action`, named `name` in the palette.
    pub const fn run(self, name: &'static str, action: fn() -> Action) -> Binding {
        Binding {
            run: Some(n(self.keys, name, action)),
            ..self
        }
    }

    /// The keys do several things, one palette entry each.
    pub const fn each(self, each: &'static [Named]) -> Binding {
        Binding { each, ..self }
    }

    /// The palette entries of this binding.
    pub fn commands(&self) -> impl Iterator<Item = &Named> {
        self.run.iter().chain(self.each)
    }
}

/// Keys that work on every screen.
pub const GLOBAL: &[Binding] = &[
    b("1-8", "go to screen").each(crate::screens::GO_TO),
    b("Tab/S-Tab", "next/previous screen").each(&[
        n("Tab", "Next screen", || Action::NextTab),
        n("S-Tab", "Previous screen", || Action::PrevTab),
    ]),
    b("?", "help").run("Help", || Action::ToggleHelp),
    b("!", "messages: every error and warning in full")
        .run("Show every message, warning and error in full", || {
            Action::ToggleMessages
        }),
    b("o", "sources: status, open another file, table or URL").run(
        "Show the sources; open another file, database table or URL",
        || Action::ToggleSources,
    ),
    b(": / Ctrl-p", "command palette: every action by name"),
    b("Esc", "cancel job / close").run("Cancel running jobs", || Action::Escape),
    b("u / Ctrl-r", "undo / redo a parameter or selection").each(&[
        n(
            "u",
            "Undo the last change of a selection or parameter",
            || Action::Undo,
        ),
        n("Ctrl-r", "Redo the change undone last", || Action::Redo),
    ]),
    b(
        "F5",
        "refresh: read the data that arrived (new rows +, changed *)",
    )
    .run("Refresh: read the data that arrived in the sources", || {
        Action::Refresh
    }),
    b("F6", "follow: refresh as data arrives, on or off").run(
        "Follow the sources: refresh as data arrives (on/off)",
        || Action::ToggleFollow,
    ),
    b("Ctrl-s", "save as a workspace .toml (keeps .bak)")
        .run("Save the session as a workspace", || Action::Save),
    b("q", "quit").run("Quit", || Action::Quit),
    b("Ctrl-c", "quit now").run("Quit now (cancels jobs)", || Action::ForceQuit),
    b("Ctrl-z", "suspend to the shell (fg resumes)")
        .run("Suspend to the shell (fg resumes)", || Action::Suspend),
];

/// The bindings of `screen`, its own first.
pub fn bindings(screen: Screen) -> Vec<Binding> {
    own_bindings(screen).iter().chain(GLOBAL).copied().collect()
}

/// The bindings of `screen` alone (without [`GLOBAL`]).
pub fn own_bindings(screen: Screen) -> &'static [Binding] {
    screen.spec().bindings
}

/// The short hint line of `screen` for the status bar.
pub fn hints(screen: Screen) -> &'static str {
    screen.spec().hints
}

/// The action a key press means in the current state, if any.
pub fn map_key(state: &State, key: KeyEvent) -> Option<Action> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
        return Some(Action::ForceQuit);
    }
    // Raw mode turns Ctrl-Z into a key: suspend as the shell's SIGTSTP would (also in demo
    // mode and prompts).
    if ctrl && key.code == KeyCode::Char('z') {
        return Some(Action::Suspend);
    }
    if state.demo.is_some() && !matches!(state.overlay, Some(Overlay::Help | Overlay::ConfirmQuit))
    {
        return super::demo::map_key(key);
    }
    match &state.overlay {
        Some(Overlay::ConfirmOverwrite { .. }) => {
            return match key.code {
                KeyCode::Char('y') => Some(Action::ConfirmOverwrite),
                _ => Some(Action::Escape),
            };
        }
        Some(
            Overlay::Filter(_)
            | Overlay::Edit(..)
            | Overlay::Export { .. }
            | Overlay::SaveAs(_)
            | Overlay::OpenSource(_),
        ) => {
            return match key.code {
                KeyCode::Enter => Some(Action::PromptSubmit),
                KeyCode::Esc => Some(Action::Escape),
                KeyCode::Backspace => Some(Action::PromptBackspace),
                KeyCode::Char(c) if !ctrl => Some(Action::PromptChar(c)),
                _ => None,
            };
        }
        Some(Overlay::ColumnType(_)) => {
            return Some(match key.code {
                KeyCode::Char('i') | KeyCode::Char('#') => Action::SetColumnType(Some("int")),
                KeyCode::Char('f') | KeyCode::Char('%') => Action::SetColumnType(Some("float")),
                KeyCode::Char('t') | KeyCode::Char('~') => Action::SetColumnType(Some("text")),
                KeyCode::Char('b') => Action::SetColumnType(Some("bool")),
                KeyCode::Char('a') => Action::SetColumnType(None),
                _ => Action::Escape,
            });
        }
        Some(Overlay::ConfirmQuit) => {
            return match key.code {
                KeyCode::Char('y') | KeyCode::Char('q') | KeyCode::Enter => Some(Action::ForceQuit),
                _ => Some(Action::Escape),
            };
        }
        Some(Overlay::Sources) => {
            use super::sources::SourcesKey;
            return match key.code {
                KeyCode::Char('q') => Some(Action::Quit),
                KeyCode::Char('j') | KeyCode::Down => Some(Action::Sources(SourcesKey::Down)),
                KeyCode::Char('k') | KeyCode::Up => Some(Action::Sources(SourcesKey::Up)),
                KeyCode::Enter => Some(Action::Sources(SourcesKey::Open)),
                KeyCode::Char('t') => Some(Action::Sources(SourcesKey::Tables)),
                KeyCode::Char('a') => Some(Action::Sources(SourcesKey::Add)),
                KeyCode::Char('r') => Some(Action::Sources(SourcesKey::Roles)),
                KeyCode::Esc | KeyCode::Char('o') => Some(Action::Escape),
                _ => None,
            };
        }
        Some(Overlay::Roles) => {
            use super::roles::RolesKey;
            return match key.code {
                KeyCode::Char('q') => Some(Action::Quit),
                KeyCode::Char('j') | KeyCode::Down => Some(Action::Roles(RolesKey::Down)),
                KeyCode::Char('k') | KeyCode::Up => Some(Action::Roles(RolesKey::Up)),
                KeyCode::Char('h') | KeyCode::Left => Some(Action::Roles(RolesKey::Prev)),
                KeyCode::Char('l') | KeyCode::Right | KeyCode::Char(' ') => {
                    Some(Action::Roles(RolesKey::Next))
                }
                KeyCode::Enter => Some(Action::Roles(RolesKey::Apply)),
                KeyCode::Esc => Some(Action::Escape),
                _ => None,
            };
        }
        Some(Overlay::Messages(_)) => {
            return match key.code {
                KeyCode::Char('q') => Some(Action::Quit),
                KeyCode::Char('k') | KeyCode::Up => Some(Action::ScrollMessages(true)),
                KeyCode::Char('j') | KeyCode::Down => Some(Action::ScrollMessages(false)),
                _ => Some(Action::ToggleMessages),
            };
        }
        Some(Overlay::Help | Overlay::LoadFailed(_)) => {
            return match key.code {
                KeyCode::Char('q') => Some(Action::Quit),
                _ => Some(Action::Escape),
            };
        }
        Some(Overlay::Palette(_)) => return super::palette::map_key(key),
        None => {}
    }
    Some(match key.code {
        KeyCode::Char(':') => Action::Palette(super::palette::PaletteKey::Open),
        KeyCode::Char('p') if ctrl => Action::Palette(super::palette::PaletteKey::Open),
        KeyCode::Char('d') if ctrl => Action::PageDown,
        KeyCode::Char('u') if ctrl => Action::PageUp,
        KeyCode::Char('r') if ctrl => Action::Redo,
        KeyCode::Char('s') if ctrl => Action::Save,
        KeyCode::F(5) => Action::Refresh,
        KeyCode::F(6) => Action::ToggleFollow,
        KeyCode::Char('u') => Action::Undo,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::Char('!') => Action::ToggleMessages,
        KeyCode::Char('o') => Action::ToggleSources,
        KeyCode::Esc => Action::Escape,
        KeyCode::Tab => Action::NextTab,
        KeyCode::BackTab => Action::PrevTab,
        KeyCode::Char(c @ '1'..='9') => Action::GoTo(Screen::from_number(c.to_digit(10)?)?),
        KeyCode::Char('j') | KeyCode::Down => Action::Down(1),
        KeyCode::Char('k') | KeyCode::Up => Action::Up(1),
        KeyCode::Char('h') | KeyCode::Left => Action::Left,
        KeyCode::Char('l') | KeyCode::Right => Action::Right,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::Char('g') | KeyCode::Home => Action::Top,
        KeyCode::Char('G') | KeyCode::End => Action::Bottom,
        // The shown screen's own keys.
        _ => return (state.screen.spec().keys)(key),
    })
}

/// Hints the status bar adds after [`hints`] while the line has room for them.
pub fn more_hints(screen: Screen) -> &'static [&'static str] {
    match screen {
        Screen::Data => &["y/Y copy", ": palette"],
        Screen::Rules | Screen::Recommend => &["y copy", ": palette"],
        _ => &[": palette"],
    }
}

/// The action of a mouse event: a click on a tab switches to it, the wheel scrolls.
/// `tab_at(column, row)` is the tab bar's hit test (from the view's layout).
pub fn map_mouse(ev: MouseEvent, tab_at: impl Fn(u16, u16) -> Option<Screen>) -> Option<Action> {
    match ev.kind {
        MouseEventKind::Down(_) => tab_at(ev.column, ev.row).map(Action::GoTo),
        MouseEventKind::ScrollDown => Some(Action::Down(3)),
        MouseEventKind::ScrollUp => Some(Action::Up(3)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn search_prompt_takes_letters_as_text() {
        let mut s = State::default();
        assert!(matches!(
            map_key(&s, key(KeyCode::Char('q'))),
            Some(Action::Quit)
        ));
        s.overlay = Some(Overlay::Filter(String::new()));
        assert!(matches!(
            map_key(&s, key(KeyCode::Char('q'))),
            Some(Action::PromptChar('q'))
        ));
        // Ctrl-C quits from anywhere.
        let cc = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert!(matches!(map_key(&s, cc), Some(Action::ForceQuit)));
    }

    #[test]
    fn ctrl_z_suspends_from_anywhere_and_ctrl_c_still_quits() {
        let cz = KeyEvent::new(KeyCode::Char('z'), KeyModifiers::CONTROL);
        let cc = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        let mut s = State::default();
        for overlay in [
            None,
            Some(Overlay::Filter("gla".into())),
            Some(Overlay::ConfirmQuit),
            Some(Overlay::Help),
        ] {
            s.overlay = overlay;
            assert!(matches!(map_key(&s, cz), Some(Action::Suspend)));
            assert!(matches!(map_key(&s, cc), Some(Action::ForceQuit)));
        }
        // A plain z is not a suspend.
        s.overlay = None;
        assert!(!matches!(
            map_key(&s, key(KeyCode::Char('z'))),
            Some(Action::Suspend)
        ));
        // update hands the suspend to the event loop.
        let cmds = crate::app::state::update(&mut s, Action::Suspend);
        assert!(matches!(
            cmds.as_slice(),
            [crate::app::state::Command::Suspend]
        ));
    }

    #[test]
    fn mouse_clicks_tabs_and_wheel_scrolls() {
        use crossterm::event::MouseButton;
        let ev = |kind, column, row| MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        };
        let tab_at = |x, y| crate::ui::tabs::tab_at(80, x, y);
        let (quality, x0, _) = crate::ui::tabs::layout(80)[1];
        assert_eq!(quality, Screen::Quality);
        let click = ev(MouseEventKind::Down(MouseButton::Left), x0, 0);
        assert!(matches!(
            map_mouse(click, tab_at),
            Some(Action::GoTo(Screen::Quality))
        ));
        let below = ev(MouseEventKind::Down(MouseButton::Left), x0, 5);
        assert!(map_mouse(below, tab_at).is_none());
        assert!(matches!(
            map_mouse(ev(MouseEventKind::ScrollDown, 10, 10), tab_at),
            Some(Action::Down(3))
        ));
    }

    #[test]
    fn every_screen_lists_the_global_keys() {
        for s in Screen::ALL {
            let b = bindings(s);
            assert!(b.iter().any(|b| b.keys == "?"));
            assert!(b.iter().any(|b| b.keys == "q"));
        }
        assert!(bindings(Screen::Data).iter().any(|b| b.keys == "s"));
    }
}
