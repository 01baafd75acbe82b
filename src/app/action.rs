//! Everything the app can do, and the keymap that turns key presses and mouse events into it.
//! Bindings are data here, so the help overlay and the status bar list them from one place.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};

use super::job::{JobDone, RunningJob};
use super::state::{Overlay, State};
use crate::screens::Screen;
use crate::screens::rules::RulesKey;

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
    /// `w`: k-means for k = 2..10 with the quality metrics.
    RunSweep,
    /// `v`: sweep charts or scatter.
    ToggleSweepView,
    /// `p` on the Segments screen: the profile table's next view.
    CycleProfile,
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
    /// `y` in the overwrite prompt.
    ConfirmOverwrite,
    /// `/`: start typing a filter.
    StartSearch,
    SearchChar(char),
    SearchBackspace,
    /// Enter in the search prompt: apply the filter (an empty one clears it).
    SearchSubmit,
    ToggleHelp,
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

const fn b(keys: &'static str, what: &'static str) -> Binding {
    Binding {
        keys,
        what,
        run: None,
        each: &[],
    }
}

const fn n(key: &'static str, name: &'static str, action: fn() -> Action) -> Named {
    Named { name, key, action }
}

impl Binding {
    /// The keys do one thing: `action`, named `name` in the palette.
    const fn run(self, name: &'static str, action: fn() -> Action) -> Binding {
        Binding {
            run: Some(n(self.keys, name, action)),
            ..self
        }
    }

    /// The keys do several things, one palette entry each.
    const fn each(self, each: &'static [Named]) -> Binding {
        Binding { each, ..self }
    }

    /// The palette entries of this binding.
    pub fn commands(&self) -> impl Iterator<Item = &Named> {
        self.run.iter().chain(self.each)
    }
}

/// Keys that work on every screen.
pub const GLOBAL: &[Binding] = &[
    b("1-8", "go to screen").each(&[
        n("1", "Go to Data", || Action::GoTo(Screen::Data)),
        n("2", "Go to Quality", || Action::GoTo(Screen::Quality)),
        n("3", "Go to Features", || Action::GoTo(Screen::Features)),
        n("4", "Go to Segments", || Action::GoTo(Screen::Segments)),
        n("5", "Go to Rules", || Action::GoTo(Screen::Rules)),
        n("6", "Go to Predict", || Action::GoTo(Screen::Predict)),
        n("7", "Go to CLV", || Action::GoTo(Screen::Clv)),
        n("8", "Go to Recommend", || Action::GoTo(Screen::Recommend)),
    ]),
    b("Tab/S-Tab", "next/previous screen").each(&[
        n("Tab", "Next screen", || Action::NextTab),
        n("S-Tab", "Previous screen", || Action::PrevTab),
    ]),
    b("?", "help").run("Help", || Action::ToggleHelp),
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
    b("Ctrl-s", "save as a workspace .toml (keeps .bak)")
        .run("Save the session as a workspace", || Action::Save),
    b("q", "quit").run("Quit", || Action::Quit),
    b("Ctrl-c", "quit now").run("Quit now (cancels jobs)", || Action::ForceQuit),
    b("Ctrl-z", "suspend to the shell (fg resumes)")
        .run("Suspend to the shell (fg resumes)", || Action::Suspend),
];

const DATA: &[Binding] = &[
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
    b("wheel", "scroll"),
];

const QUALITY: &[Binding] = &[
    b("j/k ↓/↑", "scroll steps"),
    b("g/G", "top/bottom"),
    b(
        "e",
        "export the report (.csv/.parquet findings table, .json whole)",
    )
    .run("export the quality report", || Action::StartExport),
];

const SEGMENTS: &[Binding] = &[
    b("j/k ↓/↑", "choose parameter (algorithm, k, eps...)"),
    b(
        "+/-",
        "change it (algorithm: k-means, DBSCAN, Gaussian mixture)",
    )
    .each(&[
        n("+", "increase the selected parameter", || Action::Adjust(1)),
        n("-", "decrease the selected parameter", || {
            Action::Adjust(-1)
        }),
    ]),
    b("Enter", "type its value").run("type the selected parameter's value", || Action::StartEdit),
    b("r", "run the algorithm on the Features selection")
        .run("run the algorithm", || Action::RunModel),
    b(
        "w",
        "k-means/GMM: sweep k = 2..10 with a suggested k; DBSCAN: k-distance curve for eps",
    )
    .run("sweep k (DBSCAN: k-distance curve)", || Action::RunSweep),
    b("v", "show the sweep or k-distance chart, or the scatter")
        .run("show the sweep chart or the scatter", || {
            Action::ToggleSweepView
        }),
    b("p", "profiles: descriptions, feature means (z), medians")
        .run("next profile view", || Action::CycleProfile),
    b(
        "e",
        "export every customer's label to a .csv, .parquet or .json file",
    )
    .run("export the labels", || Action::StartExport),
    b(
        "E",
        "export the cluster profiles (size, share, means, medians, z)",
    )
    .run("export the cluster profiles", || Action::ExportProfiles),
    b("Esc", "cancel the run (the previous result stays)"),
];

const RULES: &[Binding] = &[
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

const PREDICT: &[Binding] = &[
    b(
        "j/k ↓/↑",
        "choose parameter (target, model, depth, threshold...)",
    ),
    b("+/-", "change it (target and model: next choice)").each(&[
        n("+", "increase the selected parameter", || Action::Adjust(1)),
        n("-", "decrease the selected parameter", || {
            Action::Adjust(-1)
        }),
    ]),
    b("Enter", "type its value").run("type the selected parameter's value", || Action::StartEdit),
    b(
        "r",
        "train and validate on the Features selection (target left out)",
    )
    .run("train and validate the model", || Action::RunModel),
    b(
        "w",
        "grid search: depth x min leaf (trees, forest) or alpha (logistic), 5-fold cv",
    )
    .run("grid search", || Action::RunSweep),
    b("a", "apply the grid's best setting")
        .run("apply the grid's best setting", || Action::ApplyBest),
    b(
        "+/- on threshold",
        "moves the test metrics and confusion matrix at once",
    ),
    b("h/l ←/→", "select a confusion-matrix cell"),
    b("d", "the customers in that cell (again: close)")
        .run("the customers in the selected cell", || Action::Drill),
    b("c", "ROC or precision-recall curve")
        .run("ROC or precision-recall curve", || Action::ToggleCurve),
    b("v", "lower pane: importance, at-risk list, tree, grid")
        .run("next lower pane", || Action::ToggleSweepView),
    b("PgDn/PgUp", "scroll the lower pane"),
    b(
        "e",
        "export scores (.csv/.parquet): the open cell, the at-risk list, or everyone",
    )
    .run("export scores", || Action::StartExport),
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
    b("Esc", "cancel the fit (the previous result stays)"),
];

const RECOMMEND: &[Binding] = &[
    b(
        "r",
        "build item similarities from the order lines, evaluate against popularity",
    )
    .run("build and evaluate the model", || Action::RunModel),
    b("/", "find a customer by id (prefix), Enter selects")
        .run("find a customer by id", || Action::StartSearch),
    b("j/k ↓/↑ g/G", "next / previous customer"),
    b("+/-", "more or fewer recommendations (N)").each(&[
        n("+", "more recommendations (N + 1)", || Action::Adjust(1)),
        n("-", "fewer recommendations (N - 1)", || Action::Adjust(-1)),
    ]),
    b("e", "export every customer's top N (background)")
        .run("export everyone's top N", || Action::StartExport),
    b("y", "copy the recommendations as TSV (OSC 52)")
        .run("copy the selected customer's recommendations", || {
            Action::CopySelected { row: false }
        }),
];

const FEATURES: &[Binding] = &[
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

/// The bindings of `screen`, its own first.
pub fn bindings(screen: Screen) -> Vec<Binding> {
    own_bindings(screen).iter().chain(GLOBAL).copied().collect()
}

/// The bindings of `screen` alone (without [`GLOBAL`]).
pub fn own_bindings(screen: Screen) -> &'static [Binding] {
    match screen {
        Screen::Data => DATA,
        Screen::Quality => QUALITY,
        Screen::Features => FEATURES,
        Screen::Segments => SEGMENTS,
        Screen::Rules => RULES,
        Screen::Predict => PREDICT,
        Screen::Clv => CLV,
        Screen::Recommend => RECOMMEND,
    }
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
        Some(Overlay::ConfirmOverwrite(_)) => {
            return match key.code {
                KeyCode::Char('y') => Some(Action::ConfirmOverwrite),
                _ => Some(Action::Escape),
            };
        }
        Some(
            Overlay::Search(_)
            | Overlay::Edit(..)
            | Overlay::Export(_)
            | Overlay::SaveAs(_)
            | Overlay::OpenSource(_),
        ) => {
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
        Some(Overlay::Sources) => {
            use super::sources::SourcesKey;
            return match key.code {
                KeyCode::Char('q') => Some(Action::Quit),
                KeyCode::Char('j') | KeyCode::Down => Some(Action::Sources(SourcesKey::Down)),
                KeyCode::Char('k') | KeyCode::Up => Some(Action::Sources(SourcesKey::Up)),
                KeyCode::Enter => Some(Action::Sources(SourcesKey::Open)),
                KeyCode::Char('t') => Some(Action::Sources(SourcesKey::Tables)),
                KeyCode::Char('a') => Some(Action::Sources(SourcesKey::Add)),
                KeyCode::Esc | KeyCode::Char('o') => Some(Action::Escape),
                _ => None,
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
        KeyCode::Char('y')
            if matches!(
                state.screen,
                Screen::Data | Screen::Rules | Screen::Recommend
            ) =>
        {
            Action::CopySelected { row: false }
        }
        KeyCode::Char('Y') if state.screen == Screen::Data => Action::CopySelected { row: true },
        KeyCode::Char('d') if ctrl => Action::PageDown,
        KeyCode::Char('u') if ctrl => Action::PageUp,
        KeyCode::Char('r') if ctrl => Action::Redo,
        KeyCode::Char('s') if ctrl => Action::Save,
        KeyCode::Char('u') => Action::Undo,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('?') => Action::ToggleHelp,
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
        KeyCode::Char('s') if matches!(state.screen, Screen::Data | Screen::Rules) => Action::Sort,
        KeyCode::Char('/') if matches!(state.screen, Screen::Data | Screen::Rules) => {
            Action::StartSearch
        }
        KeyCode::Char(c) if state.screen == Screen::Rules => {
            use crate::screens::rules::RulesKey;
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
    fn ctrl_z_suspends_from_anywhere_and_ctrl_c_still_quits() {
        let cz = KeyEvent::new(KeyCode::Char('z'), KeyModifiers::CONTROL);
        let cc = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        let mut s = State::default();
        for overlay in [
            None,
            Some(Overlay::Search("gla".into())),
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
