//! Demo mode (`crmlens demo`) without a terminal: the bundled script played step by step
//! through `map_key` and `update`, jobs run synchronously the way the event loop runs them
//! (every job a call starts is registered before any finishes), each step's screen drawn into
//! a TestBackend and checked; and the `demo` subcommand's errors.

use std::collections::VecDeque;
use std::time::Instant;

use crmlens::app::Action;
use crmlens::app::State;
use crmlens::app::action::map_key;
use crmlens::app::demo::{Demo, DemoAction, Script, parse};
use crmlens::app::job::{JobDone, JobRequest, RunningJob, run_now};
use crmlens::app::state::{Command, update};
use crmlens::progress::Progress;
use crmlens::screens::Screen;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Modifier;

use crate::fixtures::{sample_loaded, sample_workspace};
use crate::{crmlens, stderr};

/// Registers started jobs with the state, as the event loop does, and returns them.
fn register(state: &mut State, commands: Vec<Command>) -> VecDeque<(u64, JobRequest)> {
    let mut started = VecDeque::new();
    for command in commands {
        let Command::Spawn { id, request } = command else {
            continue;
        };
        let more = update(
            state,
            Action::JobStarted(RunningJob {
                id,
                kind: request.kind(),
                label: request.label(),
                progress: Progress::new(),
                started: Instant::now(),
            }),
        );
        assert!(more.is_empty(), "JobStarted starts nothing");
        started.push_back((id, request));
    }
    started
}

/// Finishes one job and feeds its result back; returns what that starts.
fn finish(state: &mut State, id: u64, request: JobRequest) -> Vec<Command> {
    let kind = request.kind();
    let outcome = run_now(request);
    update(
        state,
        Action::JobDone(Box::new(JobDone { id, kind, outcome })),
    )
}

/// Runs jobs to completion, and the jobs their results start.
fn run_all(state: &mut State, commands: Vec<Command>) {
    let queue = register(state, commands);
    run_queue(state, queue);
}

/// Runs registered jobs to completion, in order, and the jobs their results start.
fn run_queue(state: &mut State, mut queue: VecDeque<(u64, JobRequest)>) {
    while let Some((id, request)) = queue.pop_front() {
        let more = finish(state, id, request);
        queue.extend(register(state, more));
    }
}

fn press(state: &mut State, code: KeyCode) {
    if let Some(a) = map_key(state, KeyEvent::new(code, KeyModifiers::NONE)) {
        let commands = update(state, a);
        run_all(state, commands);
    }
}

fn terminal(state: &State, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| crmlens::ui::draw(f, state)).unwrap();
    t
}

fn draw(state: &State, w: u16, h: u16) -> String {
    format!("{}", terminal(state, w, h).backend())
}

/// The sample opened in demo mode, as `crmlens demo` does it: the demo is set before the
/// load's jobs run, so step 1's keys wait for the data. The load job's outcome is computed
/// once per test process ([`crate::fixtures::sample_loaded`]); what it starts runs here.
fn sample_in_demo(script: Script) -> State {
    let mut s = State::new("sample".into());
    s.demo = Some(Demo::new(script));
    let cmds = s.load(JobRequest::Workspace(sample_workspace()));
    let mut queue = register(&mut s, cmds);
    assert_eq!(queue.len(), 1, "one load job");
    let (id, request) = queue.pop_front().unwrap();
    assert!(matches!(&request, JobRequest::Workspace(p) if *p == sample_workspace()));
    let kind = request.kind();
    let more = update(
        &mut s,
        Action::JobDone(Box::new(JobDone {
            id,
            kind,
            outcome: sample_loaded(),
        })),
    );
    queue.extend(register(&mut s, more));
    run_queue(&mut s, queue);
    s
}

/// The banner of a drawn screen: its title line and its caption (the lines inside the box,
/// joined).
fn banner(screen: &str) -> (String, String) {
    let lines: Vec<&str> = screen.lines().collect();
    let top = lines
        .iter()
        .position(|l| l.contains("Demo step"))
        .unwrap_or_else(|| panic!("no banner in\n{screen}"));
    let inner = |l: &str| {
        let l = l.trim_matches('"');
        l.trim_start_matches('│')
            .trim_end_matches('│')
            .trim()
            .to_string()
    };
    let caption: Vec<String> = lines[top + 1..top + 3].iter().map(|l| inner(l)).collect();
    (lines[top].to_string(), caption.join(" ").trim().to_string())
}

fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `screen`'s tab is drawn as the active one (reversed) and no other is.
fn tab_active(state: &State, screen: Screen) -> bool {
    let t = terminal(state, 120, 40);
    let buf = t.backend().buffer();
    crmlens::ui::tabs::layout(120).iter().all(|(s, x, _)| {
        let reversed = buf[(*x, 0)].modifier.contains(Modifier::REVERSED);
        reversed == (*s == screen)
    })
}

/// The screen each step of the bundled script ends on: it covers loading, quality,
/// features, segmentation, rules, prediction and recommendations.
const SCREENS: &[Screen] = &[
    Screen::Data,
    Screen::Data,
    Screen::Quality,
    Screen::Features,
    Screen::Features,
    Screen::Segments,
    Screen::Segments,
    Screen::Segments,
    Screen::Rules,
    Screen::Rules,
    Screen::Predict,
    Screen::Predict,
    Screen::Recommend,
    Screen::Recommend,
    Screen::Recommend,
];

/// The whole bundled script through the update loop: every step's banner, caption, screen
/// and expected texts; then back, auto-play and leaving with everything kept.
#[test]
fn demo_plays_the_bundled_script_step_by_step() {
    let script = Script::bundled().unwrap();
    let n = script.steps.len();
    assert_eq!(n, SCREENS.len(), "one expected screen per step");
    let mut s = sample_in_demo(script.clone());
    assert_eq!(s.rows(), 5000);

    for (i, step) in script.steps.iter().enumerate() {
        if i > 0 {
            press(&mut s, KeyCode::Char(' '));
        }
        let demo = s.demo.as_ref().expect("still in demo mode");
        assert_eq!(demo.step, i);
        assert!(s.jobs.is_empty() && !demo.is_running(&s), "step {}", i + 1);
        assert!(s.error.is_none(), "step {}: {:?}", i + 1, s.error);
        assert_eq!(s.screen, SCREENS[i], "step {}", i + 1);
        assert!(tab_active(&s, SCREENS[i]), "step {}", i + 1);
        for (w, h) in [(120, 40), (80, 24)] {
            let screen = draw(&s, w, h);
            let (title, caption) = banner(&screen);
            assert!(
                title.contains(&format!("Demo step {}/{n}", i + 1)),
                "{w}x{h}: {title}"
            );
            // The whole caption fits in the banner's two lines.
            assert_eq!(caption, words(&step.caption), "{w}x{h}:\n{screen}");
            assert!(screen.contains("Space/→ next · ← back · a auto-play (off) · Esc explore"));
            if w == 120 {
                for e in &step.expect {
                    assert!(
                        screen.contains(e.as_str()),
                        "step {}: {e:?} not on screen\n{screen}",
                        i + 1
                    );
                }
            }
        }
    }

    // The script really ran the models, with the parameters it typed.
    assert!(s.data.sort == Some(("monetary".into(), true)));
    let sweep = s.segments.sweep.as_ref().expect("a k sweep");
    assert_eq!(sweep.entries.len(), 9);
    let run = s.segments.run.clone().expect("a segmentation");
    assert_eq!(run.clusters(), 4);
    assert!(run.features.iter().any(|f| f == "pages_mean"));
    assert!(s.rules.run.is_some() && s.rules.params.filter.as_deref() == Some("printer"));
    assert!(s.predict.result.is_some());
    let rec = s.recommend.result.clone().expect("a recommender");
    assert_eq!(rec.customers[s.recommend.customer.unwrap()], "C000002");

    // Space on the last step stays there; other workbench keys do nothing in demo mode.
    press(&mut s, KeyCode::Char(' '));
    press(&mut s, KeyCode::Char('4'));
    press(&mut s, KeyCode::Char('r'));
    assert_eq!(s.demo.as_ref().unwrap().step, n - 1);
    assert_eq!(s.screen, Screen::Recommend);

    // ← goes back: the previous captions and screens, without pressing keys again.
    press(&mut s, KeyCode::Left);
    assert_eq!(
        banner(&draw(&s, 120, 40)).1,
        words(&script.steps[n - 2].caption)
    );
    for _ in 0..4 {
        press(&mut s, KeyCode::Left);
    }
    assert_eq!(s.demo.as_ref().unwrap().step, n - 6);
    assert_eq!(s.screen, SCREENS[n - 6]);
    assert_eq!(
        banner(&draw(&s, 120, 40)).1,
        words(&script.steps[n - 6].caption)
    );
    // → through steps already played shows them without running their keys again.
    let a = map_key(&s, KeyEvent::new(KeyCode::Right, KeyModifiers::NONE)).unwrap();
    assert!(update(&mut s, a).is_empty(), "no job started");
    assert_eq!(s.demo.as_ref().unwrap().step, n - 5);
    assert_eq!(s.screen, SCREENS[n - 5]);
    for _ in 0..3 {
        press(&mut s, KeyCode::Right);
    }
    assert_eq!(s.demo.as_ref().unwrap().step, n - 2);

    // a: auto-play on; the banner says so; after the step's pause it moves on by itself.
    press(&mut s, KeyCode::Char('a'));
    assert!(s.demo.as_ref().unwrap().auto);
    assert!(draw(&s, 80, 24).contains("a auto-play (on)"));
    let t0 = Instant::now();
    let pause = script.steps[n - 2].pause;
    update(&mut s, Action::Tick(t0));
    update(&mut s, Action::Tick(t0 + pause / 2));
    assert_eq!(s.demo.as_ref().unwrap().step, n - 2);
    update(&mut s, Action::Tick(t0 + pause));
    assert_eq!(s.demo.as_ref().unwrap().step, n - 1);
    press(&mut s, KeyCode::Char('a'));
    assert!(draw(&s, 80, 24).contains("a auto-play (off)"));

    // Esc leaves demo mode and keeps everything for free exploration.
    press(&mut s, KeyCode::Esc);
    assert!(s.demo.is_none());
    assert!(!draw(&s, 120, 40).contains("Demo step"));
    assert_eq!(s.segments.run.as_ref().unwrap().model, run.model);
    assert!(s.rules.run.is_some() && s.predict.result.is_some());
    press(&mut s, KeyCode::Char('4'));
    assert_eq!(s.screen, Screen::Segments, "the workbench keys work again");
    assert!(draw(&s, 120, 40).contains("4 clusters: sizes"));
}

/// → while a step's keys are still running does not stack keys: the second key waits for
/// the first one's job, and the advance happens once the step is complete.
#[test]
fn demo_advancing_waits_for_the_running_step() {
    let script = parse(
        "caption: the sample\nwait: job\n\n\
         caption: sort twice\nkeys: s s\nwait: job\n\n\
         caption: quality\nkeys: 2\n",
        "wait.txt",
    )
    .unwrap();
    let mut s = sample_in_demo(script);
    let next = Action::Demo(DemoAction::Next);
    let first = update(&mut s, next);
    assert_eq!(first.len(), 1, "only the first s is pressed");
    let mut jobs = register(&mut s, first);
    assert!(s.demo.as_ref().unwrap().is_running(&s));
    // → again while it runs: queued, nothing pressed, the banner says so.
    assert!(update(&mut s, Action::Demo(DemoAction::Next)).is_empty());
    let demo = s.demo.as_ref().unwrap();
    assert_eq!(demo.step, 1);
    assert!(demo.is_queued());
    assert!(draw(&s, 120, 40).contains("running… next step when it is done"));
    // The first sort finishes: now the second s is pressed (descending).
    let (id, request) = jobs.pop_front().unwrap();
    let second = finish(&mut s, id, request);
    assert_eq!(s.data.sort, Some(("customer_id".into(), false)));
    assert_eq!(second.len(), 1);
    assert_eq!(s.demo.as_ref().unwrap().step, 1);
    // It finishes: the step is complete and the queued advance plays step 3.
    run_all(&mut s, second);
    assert_eq!(s.data.sort, Some(("customer_id".into(), true)));
    assert_eq!(s.demo.as_ref().unwrap().step, 2);
    assert_eq!(s.screen, Screen::Quality);
    assert!(!s.demo.as_ref().unwrap().is_queued());
}

#[test]
fn demo_script_errors_are_one_line_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("# a script\n");
    for i in 0..3 {
        text.push_str(&format!("caption: step {i}\nkeys: 1\n\n"));
    }
    text.push_str("caption: the bad one\nkeys: 4 Ctlr-x\n");
    assert_eq!(text.lines().count(), 12);
    std::fs::write(dir.path().join("bad.txt"), &text).unwrap();
    let out = crmlens(dir.path(), &["demo", "--script", "bad.txt"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: bad.txt:12: unknown key \"Ctlr-x\"; "),
        "{err}"
    );
    let out = crmlens(dir.path(), &["demo", "--script", "missing.txt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("error: missing.txt: cannot read the script"));
    // The bundled script is checked before the terminal: without one, only that is missing.
    let out = crmlens(dir.path(), &["demo"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("the demo needs a terminal"),
        "{}",
        stderr(&out)
    );
}
