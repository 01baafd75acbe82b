//! Everything the app can do, and the keymap that turns key presses and mouse events into it.
//! Bindings are data here, so the help overlay and the status bar list them from one place.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};

use super::job::{JobDone, RunningJob};
use super::screen::Screen;
use super::state::{Overlay, State};

#[derive(Debug)]
pub enum Action {
    /// `q`: quit, or ask first when a job runs.
    Quit,
    /// Ctrl-C, or "yes" in the quit prompt.
    ForceQuit,
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
    /// `w`: k-means for k = 2..10 with the quality metrics.
    RunSweep,
    /// `v`: sweep charts or scatter.
    ToggleSweepView,
    /// `p` on the Segments screen: the profile table's next view.
    CycleProfile,
    /// A mining parameter key on the Rules screen.
    RulesParam(super::rules::RulesKey),
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
    /// `y` in the overwrite prompt.
    ConfirmOverwrite,
    /// `/`: start typing a filter.
    StartSearch,
    SearchChar(char),
    SearchBackspace,
    /// Enter in the search prompt: apply the filter (an empty one clears it).
    SearchSubmit,
    ToggleHelp,
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
}

/// One binding: the keys as shown to the user, and what they do.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static str,
    pub what: &'static str,
}

const fn b(keys: &'static str, what: &'static str) -> Binding {
    Binding { keys, what }
}

/// Keys that work on every screen.
pub const GLOBAL: &[Binding] = &[
    b("1-8", "go to screen"),
    b("Tab/S-Tab", "next/previous screen"),
    b("?", "help"),
    b("Esc", "cancel job / close"),
    b("u / Ctrl-r", "undo / redo a parameter or selection"),
    b("Ctrl-s", "save as a workspace .toml (keeps .bak)"),
    b("q", "quit"),
    b("Ctrl-c", "quit now"),
];

const DATA: &[Binding] = &[
    b("j/k ↓/↑", "row"),
    b("h/l ←/→", "column"),
    b("PgDn/PgUp C-d/C-u", "page"),
    b("g/G", "first/last row"),
    b("s", "sort by column (asc, desc, off)"),
    b("/", "filter rows (Enter applies, empty clears)"),
    b("wheel", "scroll"),
];

const QUALITY: &[Binding] = &[
    b("j/k ↓/↑", "scroll steps"),
    b("g/G", "top/bottom"),
    b(
        "e",
        "export the report (.csv/.parquet findings table, .json whole)",
    ),
];

const SEGMENTS: &[Binding] = &[
    b("j/k ↓/↑", "choose parameter (algorithm, k, eps...)"),
    b(
        "+/-",
        "change it (algorithm: k-means, DBSCAN, Gaussian mixture)",
    ),
    b("Enter", "type its value"),
    b("r", "run the algorithm on the Features selection"),
    b(
        "w",
        "k-means/GMM: sweep k = 2..10 with a suggested k; DBSCAN: k-distance curve for eps",
    ),
    b("v", "show the sweep or k-distance chart, or the scatter"),
    b("p", "profiles: descriptions, feature means (z), medians"),
    b(
        "e",
        "export every customer's label to a .csv, .parquet or .json file",
    ),
    b(
        "E",
        "export the cluster profiles (size, share, means, medians, z)",
    ),
    b("Esc", "cancel the run (the previous result stays)"),
];

const RULES: &[Binding] = &[
    b("r", "mine itemsets and rules with these parameters"),
    b(
        "b / i",
        "baskets per order or per customer / products or categories",
    ),
    b("+/-", "minimum support up or down a step"),
    b("[ ]", "minimum confidence -/+ 0.05"),
    b("< >", "minimum lift -/+ 0.25"),
    b("m/M", "longest itemset -/+ 1"),
    b("a", "FP-Growth or Apriori"),
    b("j/k ↓/↑ PgDn/PgUp g/G", "select a rule"),
    b(
        "s",
        "sort by the next metric (lift, confidence, support, ...)",
    ),
    b("/", "filter rules by item text or regex (either side)"),
    b(
        "Enter",
        "the baskets behind the selected rule (again: close)",
    ),
    b(
        "e",
        "export the filtered rules (all of them) to .csv/.parquet/.json",
    ),
];

const PREDICT: &[Binding] = &[
    b(
        "j/k ↓/↑",
        "choose parameter (target, model, depth, threshold...)",
    ),
    b("+/-", "change it (target and model: next choice)"),
    b("Enter", "type its value"),
    b(
        "r",
        "train and validate on the Features selection (target left out)",
    ),
    b(
        "w",
        "grid search: depth x min leaf (trees, forest) or alpha (logistic), 5-fold cv",
    ),
    b("a", "apply the grid's best setting"),
    b(
        "+/- on threshold",
        "moves the test metrics and confusion matrix at once",
    ),
    b("h/l ←/→", "select a confusion-matrix cell"),
    b("d", "the customers in that cell (again: close)"),
    b("c", "ROC or precision-recall curve"),
    b("v", "lower pane: importance, at-risk list, tree, grid"),
    b("PgDn/PgUp", "scroll the lower pane"),
    b(
        "e",
        "export scores (.csv/.parquet): the open cell, the at-risk list, or everyone",
    ),
    b("Esc", "cancel the run (the previous result stays)"),
];

const CLV: &[Binding] = &[
    b(
        "j/k ↓/↑",
        "choose parameter (calibration end, unit, horizon, discount)",
    ),
    b(
        "+/-",
        "change it (calibration end: a month later / earlier)",
    ),
    b(
        "Enter",
        "type its value (a date as YYYY-MM-DD; empty: auto)",
    ),
    b(
        "r",
        "fit BG/NBD and Gamma-Gamma on the orders, score every customer",
    ),
    b("PgDn/PgUp", "scroll the top customers"),
    b(
        "e",
        "export every customer's p alive, purchases, spend and CLV",
    ),
    b("Esc", "cancel the fit (the previous result stays)"),
];

const RECOMMEND: &[Binding] = &[
    b(
        "r",
        "build item similarities from the order lines, evaluate against popularity",
    ),
    b("/", "find a customer by id (prefix), Enter selects"),
    b("j/k ↓/↑ g/G", "next / previous customer"),
    b("+/-", "more or fewer recommendations (N)"),
    b("e", "export every customer's top N (background)"),
];

const FEATURES: &[Binding] = &[
    b("j/k ↓/↑", "move"),
    b(
        "Space",
        "use / drop the column (text columns are one-hot encoded)",
    ),
    b("L", "log1p on a numeric column (for skewed money)"),
    b("c", "scaling: standard, min-max, robust, none"),
];

/// The bindings of `screen`, its own first.
pub fn bindings(screen: Screen) -> Vec<Binding> {
    let own: &[Binding] = match screen {
        Screen::Data => DATA,
        Screen::Quality => QUALITY,
        Screen::Features => FEATURES,
        Screen::Segments => SEGMENTS,
        Screen::Rules => RULES,
        Screen::Predict => PREDICT,
        Screen::Clv => CLV,
        Screen::Recommend => RECOMMEND,
    };
    own.iter().chain(GLOBAL).copied().collect()
}

/// The short hint line of `screen` for the status bar.
pub fn hints(screen: Screen) -> &'static str {
    match screen {
        Screen::Data => "j/k row · h/l column · s sort · / filter · Tab screens · ? help · q quit",
        Screen::Quality => "j/k scroll · g/G top/bottom · Tab screens · ? help · q quit",
        Screen::Features => {
            "j/k move · Space use/drop · L log1p · c scaling · Tab screens · ? help · q quit"
        }
        Screen::Segments => {
            "j/k/+/- param · Enter type · r run · w sweep · v view · p profile · e export"
        }
        Screen::Rules => {
            "r run · b i +/- [ ] < > m a · s sort · / filter · Enter baskets · e export"
        }
        Screen::Predict => {
            "j/k +/- Enter params · r run · w grid · a best · h/l d cell · c curve · v pane · e export"
        }
        Screen::Clv => "j/k +/- Enter params · r fit · PgDn/PgUp top customers · e export",
        Screen::Recommend => "r build · / find customer · j/k customer · +/- N · e export all",
    }
}

/// The action a key press means in the current state, if any.
pub fn map_key(state: &State, key: KeyEvent) -> Option<Action> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
        return Some(Action::ForceQuit);
    }
    if state.demo.is_some() && !matches!(state.overlay, Some(Overlay::Help | Overlay::ConfirmQuit))
    {
        return super::demo::map_key(key);
    }
    match &state.overlay {
        Some(Overlay::ConfirmOverwrite(_)) => {
            return match key.code {
                KeyCode::Char('y') => Some(Action::ConfirmOverwrite),
                _ => Some(Action::Escape),
            };
        }
        Some(Overlay::Search(_) | Overlay::Edit(..) | Overlay::Export(_) | Overlay::SaveAs(_)) => {
            return match key.code {
                KeyCode::Enter => Some(Action::SearchSubmit),
                KeyCode::Esc => Some(Action::Escape),
                KeyCode::Backspace => Some(Action::SearchBackspace),
                KeyCode::Char(c) if !ctrl => Some(Action::SearchChar(c)),
                _ => None,
            };
        }
        Some(Overlay::ConfirmQuit) => {
            return match key.code {
                KeyCode::Char('y') | KeyCode::Char('q') | KeyCode::Enter => Some(Action::ForceQuit),
                _ => Some(Action::Escape),
            };
        }
        Some(Overlay::Help) => {
            return match key.code {
                KeyCode::Char('q') => Some(Action::Quit),
                _ => Some(Action::Escape),
            };
        }
        None => {}
    }
    Some(match key.code {
        KeyCode::Char('d') if ctrl => Action::PageDown,
        KeyCode::Char('u') if ctrl => Action::PageUp,
        KeyCode::Char('r') if ctrl => Action::Redo,
        KeyCode::Char('s') if ctrl => Action::Save,
        KeyCode::Char('u') => Action::Undo,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('?') => Action::ToggleHelp,
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
        KeyCode::Char('s') if matches!(state.screen, Screen::Data | Screen::Rules) => Action::Sort,
        KeyCode::Char('/') if matches!(state.screen, Screen::Data | Screen::Rules) => {
            Action::StartSearch
        }
        KeyCode::Char(c) if state.screen == Screen::Rules => {
            use super::rules::RulesKey;
            Action::RulesParam(match c {
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
            })
        }
        KeyCode::Enter if state.screen == Screen::Rules => Action::Drill,
        KeyCode::Char(c) if state.screen == Screen::Predict => match c {
            '+' | '=' => Action::Adjust(1),
            '-' => Action::Adjust(-1),
            'r' => Action::RunModel,
            'w' => Action::RunSweep,
            'a' => Action::ApplyBest,
            'd' => Action::Drill,
            'v' => Action::ToggleSweepView,
            'e' => Action::StartExport,
            'c' => Action::ToggleCurve,
            _ => return None,
        },
        KeyCode::Enter if state.screen == Screen::Predict => Action::StartEdit,
        KeyCode::Char(c) if state.screen == Screen::Clv => match c {
            '+' | '=' => Action::Adjust(1),
            '-' => Action::Adjust(-1),
            'r' => Action::RunModel,
            'e' => Action::StartExport,
            _ => return None,
        },
        KeyCode::Enter if state.screen == Screen::Clv => Action::StartEdit,
        KeyCode::Char(c) if state.screen == Screen::Recommend => match c {
            '+' | '=' => Action::Adjust(1),
            '-' => Action::Adjust(-1),
            'r' => Action::RunModel,
            'e' => Action::StartExport,
            '/' => Action::StartSearch,
            _ => return None,
        },
        KeyCode::Char(' ') if state.screen == Screen::Features => Action::ToggleFeature,
        KeyCode::Char('L') if state.screen == Screen::Features => Action::ToggleLog,
        KeyCode::Char('c') if state.screen == Screen::Features => Action::CycleScaling,
        KeyCode::Char('+') | KeyCode::Char('=') if state.screen == Screen::Segments => {
            Action::Adjust(1)
        }
        KeyCode::Char('-') if state.screen == Screen::Segments => Action::Adjust(-1),
        KeyCode::Enter if state.screen == Screen::Segments => Action::StartEdit,
        KeyCode::Char('r') if state.screen == Screen::Segments => Action::RunModel,
        KeyCode::Char('w') if state.screen == Screen::Segments => Action::RunSweep,
        KeyCode::Char('v') if state.screen == Screen::Segments => Action::ToggleSweepView,
        KeyCode::Char('e') if state.screen == Screen::Segments => Action::StartExport,
        KeyCode::Char('p') if state.screen == Screen::Segments => Action::CycleProfile,
        KeyCode::Char('E') if state.screen == Screen::Segments => Action::ExportProfiles,
        KeyCode::Char('e') if state.screen == Screen::Quality => Action::StartExport,
        _ => return None,
    })
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
        s.overlay = Some(Overlay::Search(String::new()));
        assert!(matches!(
            map_key(&s, key(KeyCode::Char('q'))),
            Some(Action::SearchChar('q'))
        ));
        // Ctrl-C quits from anywhere.
        let cc = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert!(matches!(map_key(&s, cc), Some(Action::ForceQuit)));
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
