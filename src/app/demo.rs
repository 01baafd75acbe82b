//! Demo mode: a scripted keyboard walkthrough for presenters. A plain-text script (the
//! bundled `assets/demo.txt` or `--script FILE`) lists steps of keys, a caption and a pause;
//! the keys go through the normal keymap and `update`, exactly as if a person pressed them.
//! Nothing here draws (that is `ui::demo`) or runs jobs (the event loop does).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::{Action, map_key as workbench_key};
use super::state::{Command, State, update as workbench_update};
use crate::screens::Screen;

/// The bundled walkthrough of the sample workspace.
pub const BUNDLED: &str = include_str!("../../assets/demo.txt");

/// How long auto-play shows a step when the script does not say.
pub const DEFAULT_PAUSE: Duration = Duration::from_secs(5);

/// One step of a script: keys to press, and what the presenter says about the result.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub caption: String,
    pub keys: Vec<KeyEvent>,
    /// The keys as the script writes them, for the banner.
    pub keys_text: String,
    /// `wait: job`: the step is complete only when no job runs.
    pub wait_job: bool,
    /// Auto-play's dwell time on this step once it is complete.
    pub pause: Duration,
    /// Texts that must be on screen after the step (the tests check them).
    pub expect: Vec<String>,
    /// The script line the step starts on.
    pub line: usize,
}

/// A parsed demo script.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    pub steps: Vec<Step>,
}

impl Script {
    /// The bundled walkthrough.
    pub fn bundled() -> Result<Script, String> {
        parse(BUNDLED, "assets/demo.txt")
    }
}

/// The named keys a script may use (besides single characters, `Ctrl-x` and "text").
const KEY_NAMES: &[(&str, KeyCode)] = &[
    ("Enter", KeyCode::Enter),
    ("Esc", KeyCode::Esc),
    ("Tab", KeyCode::Tab),
    ("BackTab", KeyCode::BackTab),
    ("Space", KeyCode::Char(' ')),
    ("Backspace", KeyCode::Backspace),
    ("Up", KeyCode::Up),
    ("Down", KeyCode::Down),
    ("Left", KeyCode::Left),
    ("Right", KeyCode::Right),
    ("PgDn", KeyCode::PageDown),
    ("PgUp", KeyCode::PageUp),
    ("Home", KeyCode::Home),
    ("End", KeyCode::End),
];

const KEY_HELP: &str = "keys are single characters, Enter, Esc, Tab, BackTab, Space, Backspace, Up, Down, Left, Right, PgDn, PgUp, Home, End, F1-F12, Ctrl-x, or \"text\" in double quotes";

fn plain(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// One key token of a `keys:` line.
fn parse_key(token: &str) -> Result<KeyEvent, String> {
    let mut chars = token.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return Ok(plain(KeyCode::Char(c)));
    }
    if let Some((_, code)) = KEY_NAMES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(token))
    {
        return Ok(plain(*code));
    }
    if let Some(n) = token
        .strip_prefix(['F', 'f'])
        .and_then(|n| n.parse::<u8>().ok())
        .filter(|n| (1..=12).contains(n))
    {
        return Ok(plain(KeyCode::F(n)));
    }
    let ctrl = token
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("ctrl-"))
        .and_then(|_| {
            let mut rest = token[5..].chars();
            match (rest.next(), rest.next()) {
                (Some(c), None) if c.is_ascii_alphabetic() => Some(c.to_ascii_lowercase()),
                _ => None,
            }
        });
    match ctrl {
        Some(c) => Ok(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)),
        None => Err(format!("unknown key \"{token}\"; {KEY_HELP}")),
    }
}

/// The keys of a `keys:` value: tokens separated by spaces; "quoted text" types its
/// characters (spaces included).
pub fn parse_keys(text: &str) -> Result<Vec<KeyEvent>, String> {
    let mut keys = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"').filter(|q| !q.is_empty()) {
            let Some(end) = quoted.find('"') else {
                return Err(format!("unclosed quote in {rest}; end the text with \""));
            };
            keys.extend(quoted[..end].chars().map(|c| plain(KeyCode::Char(c))));
            rest = quoted[end + 1..].trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            keys.push(parse_key(&rest[..end])?);
            rest = rest[end..].trim_start();
        }
    }
    Ok(keys)
}

/// `4s`, `2.5s` or `500ms`.
fn parse_pause(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let seconds = if let Some(ms) = t.strip_suffix("ms") {
        ms.trim().parse::<f64>().map(|v| v / 1000.0)
    } else if let Some(s) = t.strip_suffix('s') {
        s.trim().parse::<f64>()
    } else {
        "not a duration".parse::<f64>()
    };
    match seconds {
        Ok(s) if s.is_finite() && (0.0..=3600.0).contains(&s) => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!(
            "pause \"{t}\" is not a duration; write seconds like 4s or 2.5s, or 500ms"
        )),
    }
}

/// A step being read: its first line and what it has so far.
#[derive(Default)]
struct Draft {
    line: usize,
    caption: Vec<String>,
    keys: Vec<KeyEvent>,
    keys_text: Vec<String>,
    wait_job: bool,
    pause: Option<Duration>,
    expect: Vec<String>,
    /// The last directive was a caption (an indented line continues it).
    in_caption: bool,
}

impl Draft {
    fn finish(self, name: &str) -> Result<Step, String> {
        if self.caption.is_empty() {
            return Err(format!(
                "{name}:{}: this step has no caption; add a line \"caption: ...\"",
                self.line
            ));
        }
        Ok(Step {
            caption: self.caption.join(" "),
            keys: self.keys,
            keys_text: self.keys_text.join(" "),
            wait_job: self.wait_job,
            pause: self.pause.unwrap_or(DEFAULT_PAUSE),
            expect: self.expect,
            line: self.line,
        })
    }
}

/// Reads a demo script; `name` (the file) is named in the errors with the line number.
pub fn parse(text: &str, name: &str) -> Result<Script, String> {
    let mut steps = Vec::new();
    let mut draft: Option<Draft> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let at = |what: String| format!("{name}:{n}: {what}");
        let line = raw.trim();
        if line.starts_with('#') {
            continue;
        }
        if line.is_empty() || line == "step" || line.starts_with("step ") {
            if let Some(d) = draft.take() {
                steps.push(d.finish(name)?);
            }
            if !line.is_empty() {
                draft = Some(Draft {
                    line: n,
                    ..Draft::default()
                });
            }
            continue;
        }
        let d = draft.get_or_insert_with(|| Draft {
            line: n,
            ..Draft::default()
        });
        if raw.starts_with(char::is_whitespace) && d.in_caption {
            d.caption.push(line.to_string());
            continue;
        }
        let Some((directive, value)) = line.split_once(':') else {
            return Err(at(format!(
                "\"{line}\" is not \"directive: value\" or \"step\"; directives are caption, keys, wait, pause and expect"
            )));
        };
        let value = value.trim();
        d.in_caption = false;
        match directive.trim() {
            "caption" => {
                if value.is_empty() {
                    return Err(at("empty caption".into()));
                }
                d.caption.push(value.to_string());
                d.in_caption = true;
            }
            "keys" => {
                d.keys.extend(parse_keys(value).map_err(at)?);
                d.keys_text.push(value.to_string());
            }
            "wait" if value == "job" => d.wait_job = true,
            "wait" => {
                return Err(at(format!(
                    "wait \"{value}\": the only wait is \"job\" (until no job runs)"
                )));
            }
            "pause" => d.pause = Some(parse_pause(value).map_err(at)?),
            "expect" if value.is_empty() => return Err(at("empty expect".into())),
            "expect" => d.expect.push(value.to_string()),
            other => {
                return Err(at(format!(
                    "unknown directive \"{other}\"; directives are caption, keys, wait, pause and expect"
                )));
            }
        }
    }
    if let Some(d) = draft {
        steps.push(d.finish(name)?);
    }
    if steps.is_empty() {
        return Err(format!(
            "{name}: no steps; a step needs at least \"caption: ...\""
        ));
    }
    Ok(Script { steps })
}

/// What the demo keys do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoAction {
    /// Space or →: the next step.
    Next,
    /// ←: the previous step's caption and screen.
    Back,
    /// `a`: auto-play on or off.
    ToggleAuto,
    /// Esc: leave demo mode, keeping everything for free exploration.
    Leave,
}

/// The keymap while demo mode is on; keys not listed do nothing.
pub fn map_key(key: KeyEvent) -> Option<Action> {
    Some(match key.code {
        KeyCode::Char(' ') | KeyCode::Right => Action::Demo(DemoAction::Next),
        KeyCode::Left => Action::Demo(DemoAction::Back),
        KeyCode::Char('a') => Action::Demo(DemoAction::ToggleAuto),
        KeyCode::Esc => Action::Demo(DemoAction::Leave),
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('?') => Action::ToggleHelp,
        _ => return None,
    })
}

/// A script being played.
///
/// Going back (←) shows the previous step's caption and the screen it ended on, without
/// undoing its keys (jobs are asynchronous and results are not versioned); going forward
/// again through steps already played shows them the same way, without pressing their keys
/// a second time.
#[derive(Debug, Clone)]
pub struct Demo {
    pub script: Script,
    /// The step shown (0-based).
    pub step: usize,
    pub auto: bool,
    /// Auto-play: when to advance (set once the step is complete).
    pub next_at: Option<Instant>,
    /// Steps whose keys have been pressed: `0..played`.
    played: usize,
    /// Keys of the current step not pressed yet: they wait while a job runs.
    pending: VecDeque<KeyEvent>,
    /// → was pressed while the step still ran: advance when it is complete.
    queued: bool,
    /// The screen each step ended on, for going back to it.
    screens: Vec<Screen>,
}

impl Demo {
    /// A demo at step 1, its keys about to be pressed (once no job runs). The script has
    /// at least one step ([`parse`] refuses a script without).
    pub fn new(script: Script) -> Demo {
        let pending = script.steps[0].keys.iter().copied().collect();
        let screens = vec![Screen::default(); script.steps.len()];
        Demo {
            script,
            step: 0,
            auto: false,
            next_at: None,
            played: 1,
            pending,
            queued: false,
            screens,
        }
    }

    pub fn len(&self) -> usize {
        self.script.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.script.steps.is_empty()
    }

    pub fn current(&self) -> &Step {
        &self.script.steps[self.step]
    }

    pub fn is_last(&self) -> bool {
        self.step + 1 >= self.len()
    }

    /// Keys still to press, or (`wait: job`) a job still running.
    pub fn is_running(&self, state: &State) -> bool {
        !self.pending.is_empty() || (self.current().wait_job && !state.jobs.is_empty())
    }

    /// → pressed while the step runs: the demo moves on when it is complete.
    pub fn is_queued(&self) -> bool {
        self.queued
    }

    fn advance(&mut self, state: &mut State) {
        if self.is_last() {
            state.message = Some("that was the last step; Esc leaves the demo".into());
            return;
        }
        self.screens[self.step] = state.screen;
        self.step += 1;
        self.queued = false;
        self.next_at = None;
        if self.step < self.played {
            self.show_recorded(state);
        } else {
            self.pending = self.current().keys.iter().copied().collect();
            self.played = self.step + 1;
        }
    }

    fn back(&mut self, state: &mut State) {
        self.queued = false;
        self.next_at = None;
        // Half-pressed keys would leave the step half done; let them finish first.
        if self.step == 0 || !self.pending.is_empty() {
            return;
        }
        self.screens[self.step] = state.screen;
        self.step -= 1;
        self.show_recorded(state);
    }

    fn show_recorded(&self, state: &mut State) {
        state.screen = self.screens[self.step];
        state.overlay = None;
    }

    /// Auto-play: once the step is complete, wait its pause, then advance.
    fn tick(&mut self, state: &mut State, now: Instant) {
        if !self.auto || self.queued || self.is_last() || self.is_running(state) {
            return;
        }
        match self.next_at {
            None => self.next_at = Some(now + self.current().pause),
            Some(t) if now >= t => self.advance(state),
            Some(_) => {}
        }
    }

    /// Presses the pending keys while no job runs; stops at the first key that starts one
    /// (the event loop must start it first). A queued advance happens once the keys are in.
    fn pump(&mut self, state: &mut State) -> Vec<Command> {
        loop {
            if !state.jobs.is_empty() {
                return Vec::new();
            }
            if let Some(key) = self.pending.pop_front() {
                let commands = workbench_key(state, key)
                    .map(|a| workbench_update(state, a))
                    .unwrap_or_default();
                if !commands.is_empty() {
                    return commands;
                }
                continue;
            }
            if self.queued && !self.is_last() {
                self.advance(state);
                continue;
            }
            self.queued = false;
            return Vec::new();
        }
    }
}

/// Starts demo mode on a loaded `state`: step 1's keys are pressed now (or, if jobs run,
/// once they are done). To start with a load, set `state.demo` before the load's jobs run.
pub fn begin(state: &mut State, mut demo: Demo) -> Vec<Command> {
    let commands = demo.pump(state);
    state.demo = Some(demo);
    commands
}

/// `update` while demo mode is on: the demo keys move through the script; the workbench
/// keys the script holds go through the normal keymap and `update` with demo mode off.
pub fn update(state: &mut State, action: Action) -> Vec<Command> {
    let Some(mut demo) = state.demo.take() else {
        return workbench_update(state, action);
    };
    let commands = match action {
        Action::Demo(DemoAction::Leave) => {
            state.message = Some("demo over: everything it ran is kept; ? lists the keys".into());
            return Vec::new();
        }
        Action::Demo(DemoAction::Next) => {
            demo.next_at = None;
            if demo.is_running(state) {
                demo.queued = true;
            } else {
                demo.advance(state);
            }
            Vec::new()
        }
        Action::Demo(DemoAction::Back) => {
            demo.back(state);
            Vec::new()
        }
        Action::Demo(DemoAction::ToggleAuto) => {
            demo.auto = !demo.auto;
            demo.next_at = None;
            Vec::new()
        }
        Action::Tick(now) => {
            demo.tick(state, now);
            Vec::new()
        }
        other => workbench_update(state, other),
    };
    let commands = if commands.is_empty() {
        demo.pump(state)
    } else {
        commands
    };
    state.demo = Some(demo);
    commands
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(c: char) -> KeyEvent {
        plain(KeyCode::Char(c))
    }

    #[test]
    fn every_key_form_parses() {
        let keys = parse_keys(
            "a 4 + / Enter Esc Tab BackTab Space Backspace Up Down Left Right PgDn PgUp Home End F1 F12 Ctrl-x ctrl-D \"a b\" enter",
        )
        .unwrap();
        let want = vec![
            ch('a'),
            ch('4'),
            ch('+'),
            ch('/'),
            plain(KeyCode::Enter),
            plain(KeyCode::Esc),
            plain(KeyCode::Tab),
            plain(KeyCode::BackTab),
            ch(' '),
            plain(KeyCode::Backspace),
            plain(KeyCode::Up),
            plain(KeyCode::Down),
            plain(KeyCode::Left),
            plain(KeyCode::Right),
            plain(KeyCode::PageDown),
            plain(KeyCode::PageUp),
            plain(KeyCode::Home),
            plain(KeyCode::End),
            plain(KeyCode::F(1)),
            plain(KeyCode::F(12)),
            KeyEvent::new(KeyCode::Char('x'), KeyModifiers::CONTROL),
            KeyEvent::new(KeyCode::Char('d'), KeyModifiers::CONTROL),
            ch('a'),
            ch(' '),
            ch('b'),
            plain(KeyCode::Enter),
        ];
        assert_eq!(keys, want);
        // A lone quote is the character itself; empty keys are no keys.
        assert_eq!(parse_keys("\"").unwrap(), vec![ch('"')]);
        assert!(parse_keys("   ").unwrap().is_empty());
    }

    #[test]
    fn bad_keys_are_named() {
        for bad in ["Ctlr-x", "F13", "Ctrl-", "Ctrl-xy", "Entr"] {
            let e = parse_keys(bad).unwrap_err();
            assert!(e.starts_with(&format!("unknown key \"{bad}\"; ")), "{e}");
        }
        assert!(parse_keys("\"abc").unwrap_err().contains("unclosed quote"));
    }

    #[test]
    fn steps_comments_and_directives() {
        let text = "# a comment\n\
                    caption: one\n\
                    \x20 more of one\n\
                    keys: 4 w\n\
                    keys: \"ab\"\n\
                    wait: job\n\
                    pause: 2.5s\n\
                    expect: suggested k\n\
                    expect: silhouette\n\
                    \n\
                    \n\
                    # between steps\n\
                    step two\n\
                    caption: two\n\
                    pause: 500ms\n\
                    step\n\
                    caption: three\n";
        let s = parse(text, "t.txt").unwrap();
        assert_eq!(s.steps.len(), 3);
        let one = &s.steps[0];
        assert_eq!(one.caption, "one more of one");
        assert_eq!(one.keys, vec![ch('4'), ch('w'), ch('a'), ch('b')]);
        assert_eq!(one.keys_text, "4 w \"ab\"");
        assert!(one.wait_job);
        assert_eq!(one.pause, Duration::from_millis(2500));
        assert_eq!(one.expect, vec!["suggested k", "silhouette"]);
        assert_eq!(one.line, 2);
        let two = &s.steps[1];
        assert_eq!((two.caption.as_str(), two.line), ("two", 13));
        assert!(two.keys.is_empty() && !two.wait_job && two.expect.is_empty());
        assert_eq!(two.pause, Duration::from_millis(500));
        assert_eq!(s.steps[2].pause, DEFAULT_PAUSE);
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let err = |text: &str| parse(text, "bad.txt").unwrap_err();
        let e = err("caption: a\n\ncaption: b\nkeys: 4 Ctlr-x\n");
        assert!(e.starts_with("bad.txt:4: unknown key \"Ctlr-x\"; "), "{e}");
        let e = err("caption: a\n\nkeys: r\nwait: job\n");
        assert_eq!(
            e,
            "bad.txt:3: this step has no caption; add a line \"caption: ...\""
        );
        let e = err("caption: a\nkyes: r\n");
        assert!(
            e.starts_with("bad.txt:2: unknown directive \"kyes\""),
            "{e}"
        );
        let e = err("caption: a\njust words\n");
        assert!(e.starts_with("bad.txt:2: \"just words\" is not"), "{e}");
        let e = err("caption: a\npause: 4\n");
        assert!(
            e.starts_with("bad.txt:2: pause \"4\" is not a duration"),
            "{e}"
        );
        let e = err("caption: a\nwait: forever\n");
        assert!(e.starts_with("bad.txt:2: wait \"forever\""), "{e}");
        assert_eq!(
            err("# only comments\n\n"),
            "bad.txt: no steps; a step needs at least \"caption: ...\""
        );
        // An indented line continues a caption only.
        let e = err("caption: a\nkeys: r\n  more\n");
        assert!(e.starts_with("bad.txt:3: \"more\" is not"), "{e}");
    }

    #[test]
    fn the_bundled_script_parses() {
        let s = Script::bundled().unwrap();
        assert!(s.steps.len() >= 10, "{}", s.steps.len());
        assert!(s.steps.iter().all(|st| !st.expect.is_empty()));
    }

    #[test]
    fn demo_keys_and_the_rest_ignored() {
        let k = |c| map_key(plain(c));
        assert!(matches!(
            k(KeyCode::Char(' ')),
            Some(Action::Demo(DemoAction::Next))
        ));
        assert!(matches!(
            k(KeyCode::Right),
            Some(Action::Demo(DemoAction::Next))
        ));
        assert!(matches!(
            k(KeyCode::Left),
            Some(Action::Demo(DemoAction::Back))
        ));
        assert!(matches!(
            k(KeyCode::Char('a')),
            Some(Action::Demo(DemoAction::ToggleAuto))
        ));
        assert!(matches!(
            k(KeyCode::Esc),
            Some(Action::Demo(DemoAction::Leave))
        ));
        assert!(matches!(k(KeyCode::Char('q')), Some(Action::Quit)));
        assert!(matches!(k(KeyCode::Char('?')), Some(Action::ToggleHelp)));
        assert!(k(KeyCode::Char('r')).is_none());
        assert!(k(KeyCode::Char('4')).is_none());
    }

    /// Auto-play without jobs: the pause starts when the step is complete, then it advances;
    /// a key that starts a job holds the keys after it until the job is registered and done.
    #[test]
    fn auto_play_waits_its_pause_and_keys_wait_for_jobs() {
        let script = parse(
            "caption: one\npause: 2s\n\ncaption: two\nkeys: 3 j\n\ncaption: three\n",
            "t",
        )
        .unwrap();
        let mut state = State::default();
        assert!(begin(&mut state, Demo::new(script)).is_empty());
        let t0 = Instant::now();
        super::super::state::update(&mut state, Action::Demo(DemoAction::ToggleAuto));
        super::super::state::update(&mut state, Action::Tick(t0));
        super::super::state::update(&mut state, Action::Tick(t0 + Duration::from_secs(1)));
        assert_eq!(state.demo.as_ref().unwrap().step, 0);
        super::super::state::update(&mut state, Action::Tick(t0 + Duration::from_secs(2)));
        let demo = state.demo.as_ref().unwrap();
        assert_eq!(demo.step, 1);
        assert_eq!(
            state.screen,
            Screen::Features,
            "step two's keys were pressed"
        );
        assert!(!demo.is_running(&state));
    }
}
