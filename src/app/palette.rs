//! The command palette (`:` or Ctrl-P): every action of the workbench by name, with its
//! screen and key, filtered by a fuzzy query; Enter does what the key does, on the key's
//! screen.
//!
//! The entries come from the binding tables in [`super::action`] (the ones the help overlay
//! and the status bar list), so the palette cannot drift from them.
//!
//! The fuzzy matcher is hand-written: no fuzzy-matching crate (nucleo-matcher, fuzzy-matcher,
//! ...) is among the packages installed here, and scoring a subsequence over about a
//! hundred short names needs only the small dynamic programme below.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::{Action, GLOBAL, Named, own_bindings};
use super::state::{Command, Overlay, State, update as update_state};
use crate::screens::Screen;

/// The palette while it is open: the query typed and the selected row of the matches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Palette {
    pub query: String,
    pub selected: usize,
}

/// What a key does in the palette (or `Open`, from the screens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaletteKey {
    Open,
    Char(char),
    Backspace,
    Up,
    Down,
    /// Enter: run the selected entry.
    Run,
}

/// One action in the palette.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The screen the action belongs to; None for the keys that work everywhere.
    pub screen: Option<Screen>,
    pub named: Named,
    /// The help overlay's text for the binding it comes from.
    pub what: &'static str,
}

impl Entry {
    /// The name the palette shows and matches: "Segments: run the algorithm", "Go to Rules".
    pub fn title(&self) -> String {
        match self.screen {
            Some(s) => format!("{}: {}", s.title(), self.named.name),
            None => self.named.name.to_string(),
        }
    }

    pub fn key(&self) -> &'static str {
        self.named.key
    }

    pub fn action(&self) -> Action {
        (self.named.action)()
    }
}

/// Every entry: the actions of `current` first, then the keys that work everywhere, then
/// the other screens' in tab order.
pub fn entries(current: Screen) -> Vec<Entry> {
    let of = |screen: Option<Screen>| {
        let table = match screen {
            Some(s) => own_bindings(s),
            None => GLOBAL,
        };
        table.iter().flat_map(move |b| {
            b.commands().map(move |&named| Entry {
                screen,
                named,
                what: b.what,
            })
        })
    };
    let mut all: Vec<Entry> = of(Some(current)).chain(of(None)).collect();
    for s in Screen::ALL.into_iter().filter(|s| *s != current) {
        all.extend(of(Some(s)));
    }
    all
}

/// An entry that matches the query: its score and the positions (in characters of its
/// title) of the matched characters.
#[derive(Debug, Clone)]
pub struct Match {
    pub entry: Entry,
    pub title: String,
    pub score: i32,
    pub positions: Vec<usize>,
}

/// The entries matching `query`, best first (ties in [`entries`] order); all of them for an
/// empty query.
pub fn matches(current: Screen, query: &str) -> Vec<Match> {
    let mut found: Vec<Match> = entries(current)
        .into_iter()
        .filter_map(|entry| {
            let title = entry.title();
            // The title, else one of the screen's words ("kmeans" finds the Segments
            // actions): a word match ranks below a title match and highlights nothing.
            let by_word = || {
                let screen = entry.screen.or_else(|| {
                    Screen::ALL
                        .into_iter()
                        .find(|s| title == format!("Go to {}", s.title()))
                })?;
                screen
                    .spec()
                    .also
                    .iter()
                    .filter_map(|w| {
                        // Most of the word, from a query of three letters or more.
                        score(query, w).filter(|(_, p)| p.len() >= 3 && p.len() * 3 >= w.len() * 2)
                    })
                    .map(|(s, _)| s / 2)
                    .max()
                    .map(|s| (s, Vec::new()))
            };
            let (score, positions) = score(query, &title).or_else(by_word)?;
            Some(Match {
                entry,
                title,
                score,
                positions,
            })
        })
        .collect();
    // A stable sort keeps the screen-first order among equal scores.
    found.sort_by_key(|m| std::cmp::Reverse(m.score));
    found
}

const MATCH: i32 = 16;
/// A character at the start of a word ("r" of "run" in "Segments: run").
const WORD_START: i32 = 10;
/// A character at the end of a word: whole words rank above prefixes ("run" vs "running").
const WORD_END: i32 = 4;
/// A character right after the previous matched one.
const CONSECUTIVE: i32 = 12;
/// Skipping characters between two matched ones: this, plus one per character (up to 15).
const GAP: i32 = 5;
/// Each word before the first match costs this (up to five words).
const LEADING_WORD: i32 = 2;

/// How well `query` matches `text` as a subsequence (case-insensitive; spaces in the query
/// are ignored), and the character positions matched; None when it is not a subsequence.
/// Contiguous runs, word starts and word ends score highest; gaps and words skipped before
/// the first match cost.
pub fn score(query: &str, text: &str) -> Option<(i32, Vec<usize>)> {
    let q: Vec<char> = query
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(lower)
        .collect();
    let raw: Vec<char> = text.chars().collect();
    let t: Vec<char> = raw.iter().copied().map(lower).collect();
    if q.is_empty() {
        return Some((0, Vec::new()));
    }
    let (n, m) = (q.len(), t.len());
    if n > m {
        return None;
    }
    // An apostrophe is inside a word: the "s" of "customer's" starts nothing.
    let in_word = |c: char| c.is_alphanumeric() || c == '\'';
    let word_start = |j: usize| {
        j == 0 || !in_word(raw[j - 1]) || (raw[j - 1].is_lowercase() && raw[j].is_uppercase())
    };
    let word_end = |j: usize| j + 1 == raw.len() || !in_word(raw[j + 1]);
    let bonus = |j: usize| {
        MATCH + if word_start(j) { WORD_START } else { 0 } + if word_end(j) { WORD_END } else { 0 }
    };
    // best[i][j]: the best score of q[..=i] with q[i] at t[j]; from[i][j]: where q[i - 1] was.
    let mut best = vec![vec![None::<i32>; m]; n];
    let mut from = vec![vec![0usize; m]; n];
    let mut words_before = 0;
    for j in 0..m {
        if t[j] == q[0] {
            best[0][j] = Some(bonus(j) - LEADING_WORD * words_before.min(5));
        }
        if word_start(j) && raw[j].is_alphanumeric() {
            words_before += 1;
        }
    }
    for i in 1..n {
        for j in i..m {
            if t[j] != q[i] {
                continue;
            }
            let mut top: Option<(i32, usize)> = None;
            for (k, prev) in best[i - 1].iter().enumerate().take(j).skip(i - 1) {
                let Some(prev) = *prev else {
                    continue;
                };
                let gap = (j - k - 1) as i32;
                let link = if gap == 0 {
                    CONSECUTIVE
                } else {
                    -(GAP + gap.min(15))
                };
                let s = prev + link;
                if top.is_none_or(|(b, _)| s > b) {
                    top = Some((s, k));
                }
            }
            if let Some((s, k)) = top {
                best[i][j] = Some(s + bonus(j));
                from[i][j] = k;
            }
        }
    }
    let (mut j, score) = (0..m)
        .filter_map(|j| best[n - 1][j].map(|s| (j, s)))
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))?;
    let mut positions = vec![0; n];
    for i in (0..n).rev() {
        positions[i] = j;
        if i > 0 {
            j = from[i][j];
        }
    }
    Some((score, positions))
}

fn lower(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

/// The palette's keys while it is open.
pub fn map_key(key: KeyEvent) -> Option<Action> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let k = match key.code {
        KeyCode::Enter => PaletteKey::Run,
        KeyCode::Esc => return Some(Action::Escape),
        KeyCode::Backspace => PaletteKey::Backspace,
        KeyCode::Up | KeyCode::BackTab => PaletteKey::Up,
        KeyCode::Down | KeyCode::Tab => PaletteKey::Down,
        KeyCode::Char('p') if ctrl => PaletteKey::Up,
        KeyCode::Char('n') if ctrl => PaletteKey::Down,
        KeyCode::Char(c) if !ctrl => PaletteKey::Char(c),
        _ => return None,
    };
    Some(Action::Palette(k))
}

/// The palette's handling of `action`, or None for the rest of `update`.
pub fn update(state: &mut State, action: &Action) -> Option<Vec<Command>> {
    let Action::Palette(key) = action else {
        return None;
    };
    if *key == PaletteKey::Open {
        if state.overlay.is_none() {
            state.overlay = Some(Overlay::Palette(Palette::default()));
        }
        return Some(Vec::new());
    }
    let Some(Overlay::Palette(p)) = &mut state.overlay else {
        return Some(Vec::new());
    };
    let count = matches(state.screen, &p.query).len();
    match key {
        PaletteKey::Open => {}
        PaletteKey::Char(c) => {
            p.query.push(*c);
            p.selected = 0;
        }
        PaletteKey::Backspace => {
            p.query.pop();
            p.selected = 0;
        }
        PaletteKey::Down if count > 0 => p.selected = (p.selected + 1) % count,
        PaletteKey::Up if count > 0 => p.selected = (p.selected + count - 1) % count,
        PaletteKey::Up | PaletteKey::Down => {}
        PaletteKey::Run => {
            let Some(chosen) = matches(state.screen, &p.query).into_iter().nth(p.selected) else {
                return Some(Vec::new());
            };
            state.overlay = None;
            return Some(run(state, &chosen.entry));
        }
    }
    Some(Vec::new())
}

/// Does what the entry's key does: on its screen (switching to it first when it belongs to
/// another), through `update`.
pub fn run(state: &mut State, entry: &Entry) -> Vec<Command> {
    let mut commands = Vec::new();
    if let Some(s) = entry.screen
        && s != state.screen
    {
        commands.extend(update_state(state, Action::GoTo(s)));
    }
    commands.extend(update_state(state, entry.action()));
    commands
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_subsequence(query: &str, text: &str) -> bool {
        let text = text.to_lowercase();
        let mut rest = text.chars();
        query
            .to_lowercase()
            .chars()
            .filter(|c| !c.is_whitespace())
            .all(|q| rest.any(|c| c == q))
    }

    fn top(current: Screen, query: &str) -> String {
        matches(current, query)
            .first()
            .map(|m| m.title.clone())
            .unwrap_or_default()
    }

    #[test]
    fn algorithms_and_tasks_find_their_screen() {
        for (query, screen) in [
            ("kmeans", Screen::Segments),
            ("k-means", Screen::Segments),
            ("dbscan", Screen::Segments),
            ("churn", Screen::Predict),
            ("clv", Screen::Clv),
            ("lifetime", Screen::Clv),
            ("association", Screen::Rules),
            ("basket", Screen::Rules),
            ("recommend", Screen::Recommend),
        ] {
            let found = matches(Screen::Data, query);
            let first = found.first().unwrap_or_else(|| panic!("{query}: nothing"));
            let on = first.entry.screen.or_else(|| {
                Screen::ALL
                    .into_iter()
                    .find(|s| first.title == format!("Go to {}", s.title()))
            });
            assert_eq!(on, Some(screen), "{query}: {}", first.title);
        }
        // A stray letter does not pull in every screen by its words.
        assert!(matches(Screen::Data, "zq").is_empty());
    }

    #[test]
    fn scores_word_starts_and_runs_above_scattered_letters() {
        assert_eq!(top(Screen::Data, "sr"), "Segments: run the algorithm");
        assert_eq!(top(Screen::Data, "gtp"), "Go to Predict");
        assert_eq!(
            top(Screen::Data, "sweep"),
            "Segments: sweep k (DBSCAN: k-distance curve)"
        );
        assert_eq!(top(Screen::Data, "quit"), "Quit");
        // A whole word beats a word's beginning, wherever the screen puts it.
        assert_eq!(top(Screen::Data, "run"), "Segments: run the algorithm");
        assert_eq!(
            top(Screen::Data, "rules sort"),
            "Rules: sort by the next metric"
        );
        // A contiguous match beats the same letters spread out.
        let (run, _) = score("run", "Segments: run the algorithm").unwrap();
        let (spread, _) = score("run", "Rules: minimum support up").unwrap();
        assert!(run > spread, "{run} {spread}");
        // A word start beats a letter inside a word.
        let (start, _) = score("r", "Segments: run").unwrap();
        let (inside, _) = score("r", "Segments: arun").unwrap();
        assert!(start > inside);
    }

    #[test]
    fn positions_are_the_matched_characters() {
        let (_, pos) = score("sr", "Segments: run the algorithm").unwrap();
        assert_eq!(pos, vec![0, 10]);
        let (_, pos) = score("RUN", "Segments: run").unwrap();
        assert_eq!(pos, vec![10, 11, 12]);
        assert_eq!(score("", "anything"), Some((0, Vec::new())));
        assert!(score("xyz", "Segments: run").is_none());
        assert!(score("toolong", "short").is_none());
    }

    /// Every result contains the query as a subsequence, and every entry that does is a
    /// result: for every query of up to two letters, and some longer ones.
    #[test]
    fn brute_force_results_are_exactly_the_subsequence_matches() {
        let letters: Vec<char> = ('a'..='z').chain([':', '-', '+', ' ']).collect();
        let mut queries: Vec<String> = letters.iter().map(|c| c.to_string()).collect();
        for a in &letters {
            for b in &letters {
                queries.push(format!("{a}{b}"));
            }
        }
        queries.extend(
            [
                "segrun",
                "go to",
                "export",
                "qzx",
                "rulesmin",
                "predict: grid",
                "ctrl",
            ]
            .map(String::from),
        );
        for current in Screen::ALL {
            let all = entries(current);
            for q in &queries {
                let got = matches(current, q);
                let by_word = |m: &Match| m.positions.is_empty() && !q.trim().is_empty();
                for m in got.iter().filter(|m| by_word(m)) {
                    // Found by one of its screen's words, not by its title.
                    assert!(!is_subsequence(q, &m.title), "{q:?} -> {}", m.title);
                }
                for m in got.iter().filter(|m| !by_word(m)) {
                    assert!(is_subsequence(q, &m.title), "{q:?} -> {}", m.title);
                    let chars: Vec<char> = m.title.to_lowercase().chars().collect();
                    let picked: String = m.positions.iter().map(|&i| chars[i]).collect();
                    let want: String = q.to_lowercase().split_whitespace().collect();
                    assert_eq!(picked, want, "{q:?} in {}", m.title);
                    assert!(m.positions.windows(2).all(|w| w[0] < w[1]));
                }
                let want = all.iter().filter(|e| is_subsequence(q, &e.title())).count();
                let titled = got.iter().filter(|m| !by_word(m)).count();
                assert_eq!(titled, want, "{q:?} on {current:?}");
                assert!(got.windows(2).all(|w| w[0].score >= w[1].score));
            }
        }
    }

    #[test]
    fn empty_query_lists_every_entry_with_the_current_screen_first() {
        let all = matches(Screen::Rules, "");
        assert_eq!(all.len(), entries(Screen::Data).len());
        let first_other = all
            .iter()
            .position(|m| m.entry.screen != Some(Screen::Rules))
            .unwrap();
        assert!(first_other > 5);
        assert!(
            all[first_other..]
                .iter()
                .all(|m| m.entry.screen != Some(Screen::Rules))
        );
        // Each title once.
        let mut titles: Vec<&str> = all.iter().map(|m| m.title.as_str()).collect();
        titles.sort();
        let n = titles.len();
        titles.dedup();
        assert_eq!(titles.len(), n, "duplicate palette names");
    }
}
