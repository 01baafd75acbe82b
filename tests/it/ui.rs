//! The workbench without a terminal: key sequences through `update` (jobs run synchronously
//! here), and every screen drawn into ratatui's TestBackend at 80x24 and 120x40.

use std::time::Instant;

use crmlens::analytics::segment::{Algorithm, SegmentModel};
use crmlens::app::Action;
use crmlens::app::State;
use crmlens::app::job::{JobDone, JobRequest, RunningJob, run_now};
use crmlens::app::state::{Command, Overlay, update};
use crmlens::progress::Progress;
use crmlens::screens::Screen;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::sample_dir;

/// Registers a started job with the state, as the event loop does; returns its cancel handle.
pub(crate) fn started(state: &mut State, id: u64, request: &JobRequest) -> Progress {
    let progress = Progress::new();
    update(
        state,
        Action::JobStarted(RunningJob {
            id,
            kind: request.kind(),
            label: request.label(),
            progress: progress.clone(),
            started: Instant::now(),
        }),
    );
    progress
}

/// Applies `action`, then runs every job it starts to completion and feeds the results back,
/// as the event loop would.
pub(crate) fn drive(state: &mut State, action: Action) {
    let commands = update(state, action);
    run_commands(state, commands);
}

/// Runs jobs to completion and feeds their results back, including the jobs those start.
pub(crate) fn run_commands(state: &mut State, mut pending: Vec<Command>) {
    while let Some(command) = pending.pop() {
        let Command::Spawn { id, request } = command else {
            continue;
        };
        let kind = request.kind();
        started(state, id, &request);
        let outcome = run_now(request);
        pending.extend(update(
            state,
            Action::JobDone(Box::new(JobDone { id, kind, outcome })),
        ));
    }
}

pub(crate) fn key(state: &mut State, code: KeyCode) {
    let ev = KeyEvent::new(code, KeyModifiers::NONE);
    if let Some(a) = crmlens::app::action::map_key(state, ev) {
        drive(state, a);
    }
}

pub(crate) fn typed(state: &mut State, text: &str) {
    for c in text.chars() {
        key(state, KeyCode::Char(c));
    }
}

pub(crate) fn sample_state() -> State {
    let mut s = State::new("sample".into());
    s.no_color = false;
    let cmds = s.load(JobRequest::Workspace(sample_dir().join("crmlens.toml")));
    run_commands(&mut s, cmds);
    // The load message has a duration in it; keep snapshots stable.
    s.message = Some("loaded".into());
    s
}

pub(crate) fn draw(state: &State, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| crmlens::ui::draw(f, state)).unwrap();
    format!("{}", t.backend())
}

#[test]
fn loading_the_sample_fills_every_part_of_the_state() {
    let s = sample_state();
    assert_eq!(s.rows(), 5000);
    assert_eq!(s.columns(), 29);
    assert!(s.report.is_some());
    assert!(s.jobs.is_empty());
    // The first column's summary was computed after the load.
    assert_eq!(s.data.summary.as_ref().unwrap().profile.name, "customer_id");
}

#[test]
fn tabs_by_number_tab_and_backtab() {
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('2'));
    assert_eq!(s.screen, Screen::Quality);
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.screen, Screen::Features);
    key(&mut s, KeyCode::BackTab);
    key(&mut s, KeyCode::BackTab);
    assert_eq!(s.screen, Screen::Data);
    key(&mut s, KeyCode::BackTab);
    assert_eq!(s.screen, Screen::Recommend);
}

#[test]
fn sort_cycles_and_filter_counts_matches() {
    let mut s = sample_state();
    // Select `monetary` and sort: ascending, then descending, then file order.
    let monetary = (0..s.columns())
        .position(|i| s.column_name(i).as_deref() == Some("monetary"))
        .unwrap();
    for _ in 0..monetary {
        key(&mut s, KeyCode::Char('l'));
    }
    assert_eq!(s.data.summary.as_ref().unwrap().profile.name, "monetary");
    key(&mut s, KeyCode::Char('s'));
    assert_eq!(s.data.sort, Some(("monetary".into(), false)));
    let t = s.table.clone().unwrap();
    let m = t.column("monetary").unwrap().f64().unwrap().clone();
    let order = s.data.order.clone().unwrap();
    assert!(
        order
            .windows(2)
            .all(|w| m.get(w[0] as usize) <= m.get(w[1] as usize))
    );
    key(&mut s, KeyCode::Char('s'));
    let order = s.data.order.clone().unwrap();
    assert!(
        order
            .windows(2)
            .all(|w| m.get(w[0] as usize) >= m.get(w[1] as usize))
    );
    key(&mut s, KeyCode::Char('s'));
    assert!(s.data.order.is_none() && s.data.sort.is_none());

    // Filter for a city: the count equals a direct count in the table.
    key(&mut s, KeyCode::Char('/'));
    assert!(matches!(s.overlay, Some(Overlay::Filter(_))));
    typed(&mut s, "glasgow");
    key(&mut s, KeyCode::Enter);
    let want = t
        .column("city")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .filter(|c| c.is_some_and(|c| c.to_lowercase().contains("glasgow")))
        .count();
    assert!(want > 0);
    assert_eq!(s.rows(), want);
    assert!(
        s.message
            .as_deref()
            .unwrap()
            .contains(&format!("{want} of 5000 rows"))
    );
    // An empty filter restores every row.
    key(&mut s, KeyCode::Char('/'));
    for _ in 0.."glasgow".len() {
        key(&mut s, KeyCode::Backspace);
    }
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.rows(), 5000);
}

#[test]
fn help_overlay_and_quit_prompt() {
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('?'));
    assert_eq!(s.overlay, Some(Overlay::Help));
    let screen = draw(&s, 80, 24);
    assert!(screen.contains("sort by column"), "{screen}");
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.overlay, None);
    // With no job running, q quits at once.
    key(&mut s, KeyCode::Char('q'));
    assert!(s.quit);
}

#[test]
fn quitting_during_a_load_asks_and_esc_cancels() {
    let mut s = State::new("x".into());
    let cmds = s.load(JobRequest::Workspace(sample_dir().join("crmlens.toml")));
    let Some(Command::Spawn { id, request }) = cmds.into_iter().next() else {
        panic!("no job")
    };
    let progress = started(&mut s, id, &request);
    key(&mut s, KeyCode::Char('q'));
    assert_eq!(s.overlay, Some(Overlay::ConfirmQuit));
    assert!(!s.quit);
    key(&mut s, KeyCode::Char('n'));
    assert_eq!(s.overlay, None);
    key(&mut s, KeyCode::Esc);
    assert!(progress.is_cancelled());
}

#[test]
fn a_cancelled_or_stale_job_keeps_the_previous_result() {
    let mut s = sample_state();
    let before = s.rows();
    // A sort starts, then Esc: the cancelled outcome arrives and nothing changes.
    let cmds = update(&mut s, Action::Sort);
    let Some(Command::Spawn { id, request }) = cmds.into_iter().next() else {
        panic!("no job")
    };
    started(&mut s, id, &request);
    update(&mut s, Action::Escape);
    update(
        &mut s,
        Action::JobDone(Box::new(JobDone {
            id,
            kind: request.kind(),
            outcome: crmlens::app::job::JobOutcome::Cancelled,
        })),
    );
    assert!(s.data.order.is_none());
    assert_eq!(s.rows(), before);
    assert!(
        s.message
            .as_deref()
            .unwrap()
            .contains("previous results kept")
    );
    // A result for a job nobody waits for (superseded) is ignored.
    update(
        &mut s,
        Action::JobDone(Box::new(JobDone {
            id: 9999,
            kind: request.kind(),
            outcome: crmlens::app::job::JobOutcome::Failed("old".into()),
        })),
    );
    assert!(s.error.is_none());
}

#[test]
fn screens_80x24() {
    let mut s = sample_state();
    for screen in Screen::ALL {
        s.screen = screen;
        insta::assert_snapshot!(format!("80x24_{}", screen.title()), draw(&s, 80, 24));
    }
}

#[test]
fn screens_120x40() {
    let mut s = sample_state();
    s.data.row = 3;
    for screen in Screen::ALL {
        s.screen = screen;
        insta::assert_snapshot!(format!("120x40_{}", screen.title()), draw(&s, 120, 40));
    }
}

#[test]
fn help_and_search_overlays_80x24() {
    let mut s = sample_state();
    s.overlay = Some(Overlay::Help);
    insta::assert_snapshot!("80x24_help", draw(&s, 80, 24));
    // The Predict screen has more keys than 24 rows hold: every screen's keys fold into one
    // row and the bottom border is drawn.
    s.screen = Screen::Predict;
    let screen = draw(&s, 80, 24);
    assert!(screen.contains("every screen"), "{screen}");
    assert!(screen.contains("export scores"), "{screen}");
    assert!(screen.contains("└"), "{screen}");
    s.screen = Screen::Data;
    s.overlay = Some(Overlay::Filter("leeds".into()));
    insta::assert_snapshot!("80x24_search", draw(&s, 80, 24));
}

#[test]
fn no_color_draws_without_colours() {
    let mut s = sample_state();
    s.no_color = true;
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    t.draw(|f| crmlens::ui::draw(f, &s)).unwrap();
    let buf = t.backend().buffer();
    for cell in buf.content() {
        assert_eq!(cell.fg, ratatui::style::Color::Reset);
        assert_eq!(cell.bg, ratatui::style::Color::Reset);
    }
}

#[test]
fn too_small_terminal_says_so() {
    let s = sample_state();
    let text = draw(&s, 40, 8);
    assert!(text.contains("terminal too small"), "{text}");
    assert!(text.contains("need 60x12"), "{text}");
}

#[test]
fn keys_pressed_during_a_sort_build_on_it() {
    let mut s = sample_state();
    // `s` twice before the first sort finishes: the second asks for descending.
    let first = update(&mut s, Action::Sort);
    let second = update(&mut s, Action::Sort);
    let sort_of = |cmds: &[Command]| match &cmds[0] {
        Command::Spawn {
            request: JobRequest::Arrange { sort, .. },
            ..
        } => sort.clone(),
        other => panic!("not an arrange: {other:?}"),
    };
    assert_eq!(sort_of(&first), Some(("customer_id".into(), false)));
    assert_eq!(sort_of(&second), Some(("customer_id".into(), true)));
}

#[test]
fn features_start_from_the_workspace_and_toggle() {
    let mut s = sample_state();
    let ws = crmlens::data::sources::workspace::Workspace::load(&sample_dir().join("crmlens.toml"))
        .unwrap();
    assert_eq!(
        s.features.config(),
        ws.features,
        "the workspace's selection is the default"
    );
    let corr = s.features.correlation.clone().unwrap();
    assert_eq!(corr.names, ws.features.numeric);
    key(&mut s, KeyCode::Char('3'));
    assert_eq!(s.screen, Screen::Features);
    // The first item is the first numeric column; drop it and the correlation follows.
    let first = s.features.items[0].clone();
    key(&mut s, KeyCode::Char(' '));
    let cfg = s.features.config();
    assert_eq!(cfg.numeric.contains(&first.name), !first.selected);
    let corr = s.features.correlation.clone().unwrap();
    assert_eq!(corr.names, cfg.numeric);
    // Scaling cycles; log1p only applies to numeric columns.
    key(&mut s, KeyCode::Char('c'));
    assert_eq!(
        s.features.config().scaling,
        crmlens::data::sources::workspace::Scaling::Minmax
    );
    key(&mut s, KeyCode::Char('L'));
    assert_eq!(s.features.items[0].log1p, !first.log1p);
    // The selection builds a feature matrix the models can use.
    key(&mut s, KeyCode::Char(' '));
    let m = crmlens::data::features::build_features(
        s.table.as_ref().unwrap(),
        "customer_id",
        &s.features.config(),
    )
    .unwrap();
    assert_eq!(m.values.nrows(), 5000);
}

#[test]
fn segments_run_k_means_on_the_feature_selection() {
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('4'));
    assert_eq!(s.screen, Screen::Segments);
    assert!(draw(&s, 80, 24).contains("no result yet"));
    key(&mut s, KeyCode::Char('r'));
    let run = s.segments.run.clone().expect("a result");
    assert_eq!(run.clusters(), 4);
    assert!(matches!(&run.model, SegmentModel::KMeans(r) if r.k == 4));
    assert_eq!(run.sizes.iter().sum::<usize>(), 5000);
    assert_eq!(run.noise, 0);
    assert_eq!(run.profiles.len(), 4);
    assert_eq!(run.n_rows, 5000);
    // 11 numeric features and 4 channel levels.
    assert_eq!(run.features.len(), 15);
    assert!(
        s.message
            .as_deref()
            .unwrap()
            .starts_with("k-means: 4 clusters")
    );
    // The message has the run time in it; keep snapshots stable.
    s.message = Some("done".into());
    let screen = draw(&s, 120, 40);
    assert!(screen.contains("4 clusters: sizes"), "{screen}");
    assert!(screen.contains("cluster profiles"), "{screen}");
    insta::assert_snapshot!("120x40_Segments_k4", screen);
    insta::assert_snapshot!("80x24_Segments_k4", draw(&s, 80, 24));
    // + raises k; Enter then digits type it; the same seed gives the same clusters.
    key(&mut s, KeyCode::Char('+'));
    assert_eq!(s.segments.params.kmeans.k, 5);
    key(&mut s, KeyCode::Enter);
    typed(&mut s, "4");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.segments.params.kmeans.k, 4);
    key(&mut s, KeyCode::Char('r'));
    assert_eq!(s.segments.run.as_ref().unwrap().model, run.model);
}

#[test]
fn cancelling_a_model_run_keeps_the_previous_result() {
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('4'));
    key(&mut s, KeyCode::Char('r'));
    let before = s.segments.run.clone().unwrap();
    // Start a k = 6 run and cancel it before it reports: the k = 4 result stays.
    key(&mut s, KeyCode::Char('+'));
    key(&mut s, KeyCode::Char('+'));
    let cmds = update(&mut s, Action::RunModel);
    let Some(Command::Spawn { id, request }) = cmds.into_iter().next() else {
        panic!("no job")
    };
    let progress = started(&mut s, id, &request);
    key(&mut s, KeyCode::Esc);
    assert!(progress.is_cancelled());
    // The worker sees the flag and reports Cancelled (run here on this thread).
    let outcome = match request {
        JobRequest::Segment {
            table,
            features,
            params,
        } => {
            let m =
                crmlens::data::features::build_features(&table, "customer_id", &features).unwrap();
            let err = crmlens::analytics::segment::segment(&m, &params, &progress).unwrap_err();
            assert_eq!(err, crmlens::analytics::AnalyticsError::Cancelled);
            crmlens::app::job::JobOutcome::Cancelled
        }
        other => panic!("not a segment job: {other:?}"),
    };
    update(
        &mut s,
        Action::JobDone(Box::new(JobDone {
            id,
            kind: crmlens::app::job::JobKind::Model,
            outcome,
        })),
    );
    assert_eq!(s.segments.run.as_ref().unwrap().model, before.model);
    assert!(s.jobs.is_empty());
}

#[test]
fn sweep_from_the_segments_screen() {
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('4'));
    key(&mut s, KeyCode::Char('w'));
    let sw = s.segments.sweep.clone().expect("a sweep");
    assert_eq!(
        sw.entries.iter().map(|e| e.k).collect::<Vec<_>>(),
        (2..=10).collect::<Vec<_>>()
    );
    assert!((2..=10).contains(&sw.suggested_k));
    assert!(s.segments.show_sweep);
    let screen = draw(&s, 120, 40);
    assert!(
        screen.contains(&format!("suggested k = {}", sw.suggested_k)),
        "{screen}"
    );
    assert!(
        screen.contains("inertia (elbow)") && screen.contains("Davies-Bouldin"),
        "{screen}"
    );
    key(&mut s, KeyCode::Char('v'));
    assert!(!s.segments.show_sweep);
    assert!(!draw(&s, 120, 40).contains("inertia (elbow)"));
}

#[test]
fn export_labels_asks_before_overwriting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.csv");
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('4'));
    key(&mut s, KeyCode::Char('e'));
    assert!(
        s.error
            .as_deref()
            .unwrap()
            .contains("run a segmentation first")
    );
    key(&mut s, KeyCode::Char('r'));
    let export = |s: &mut State| {
        key(s, KeyCode::Char('e'));
        assert_eq!(s.overlay, Some(Overlay::Export("segments.csv".into())));
        for _ in 0.."segments.csv".len() {
            key(s, KeyCode::Backspace);
        }
        typed(s, path.to_str().unwrap());
        key(s, KeyCode::Enter);
    };
    export(&mut s);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 5001);
    assert!(text.starts_with("customer_id,label"));
    assert!(
        s.message
            .as_deref()
            .unwrap()
            .starts_with("wrote 5000 labels")
    );
    // Again: the file exists, so it asks; `n` keeps the file as it is.
    std::fs::write(&path, "keep me").unwrap();
    export(&mut s);
    assert_eq!(s.overlay, Some(Overlay::ConfirmOverwrite(path.clone())));
    key(&mut s, KeyCode::Char('n'));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
    // And `y` replaces it.
    export(&mut s);
    key(&mut s, KeyCode::Char('y'));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap().lines().count(),
        5001
    );
}

#[test]
fn dbscan_from_the_segments_screen_with_its_k_distance_curve() {
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('4'));
    // Up to the algorithm row, + picks DBSCAN; its rows are eps and min points.
    key(&mut s, KeyCode::Char('k'));
    key(&mut s, KeyCode::Char('+'));
    assert_eq!(s.segments.params.algorithm, Algorithm::Dbscan);
    assert_eq!(s.segments.fields().len(), 3);
    // w draws the k-distance curve for the current min points (5).
    key(&mut s, KeyCode::Char('w'));
    let kd = s.segments.k_distance.clone().expect("a k-distance curve");
    assert_eq!(kd.min_points, 5);
    assert!(
        kd.values.windows(2).all(|w| w[0] >= w[1]),
        "sorted, largest first"
    );
    s.message = Some("done".into());
    let screen = draw(&s, 120, 40);
    assert!(screen.contains("k-distance (min points 5)"), "{screen}");
    // eps: j to its row, Enter, type 1.5, Enter; then run.
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    typed(&mut s, "1.5");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.segments.params.eps, 1.5);
    key(&mut s, KeyCode::Char('r'));
    let run = s.segments.run.clone().expect("a DBSCAN result");
    let SegmentModel::Dbscan { eps, result, .. } = &run.model else {
        panic!("not DBSCAN: {:?}", run.algorithm());
    };
    assert_eq!(*eps, 1.5);
    assert_eq!(run.sizes.iter().sum::<usize>() + run.noise, 5000);
    assert_eq!(run.noise, result.noise);
    assert!(run.noise > 0, "the sample has outliers at eps 1.5");
    assert!(s.message.as_deref().unwrap().starts_with("DBSCAN: "));
    s.message = Some("done".into());
    let screen = draw(&s, 120, 40);
    assert!(screen.contains("clusters + noise: sizes"), "{screen}");
    assert!(screen.contains("noise"), "{screen}");
    insta::assert_snapshot!("120x40_Segments_dbscan", screen);
    // A bad eps is refused with a message and leaves eps alone.
    key(&mut s, KeyCode::Enter);
    typed(&mut s, "..");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.segments.params.eps, 1.5);
    assert!(s.error.as_deref().unwrap().contains("eps"), "{:?}", s.error);
}

#[test]
fn gaussian_mixture_from_the_segments_screen() {
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('4'));
    key(&mut s, KeyCode::Char('k'));
    key(&mut s, KeyCode::Char('-'));
    assert_eq!(s.segments.params.algorithm, Algorithm::Gmm);
    // k carries over from k-means (4); covariance cycles with Enter.
    key(&mut s, KeyCode::Char('j'));
    assert_eq!(s.segments.display(s.segments.current()), "4");
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    assert_eq!(
        s.segments.params.gmm.covariance,
        crmlens::analytics::gmm::CovarianceType::Tied
    );
    key(&mut s, KeyCode::Char('r'));
    let run = s.segments.run.clone().expect("a mixture");
    let SegmentModel::Gmm(g) = &run.model else {
        panic!("not a mixture");
    };
    assert_eq!(g.k, 4);
    assert_eq!(g.covariance, crmlens::analytics::gmm::CovarianceType::Tied);
    assert!((g.weights.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    assert_eq!(run.sizes, g.sizes);
    s.message = Some("done".into());
    let screen = draw(&s, 120, 40);
    assert!(screen.contains("BIC"), "{screen}");
    assert!(screen.contains("Gaussian mixture"), "{screen}");
    insta::assert_snapshot!("120x40_Segments_gmm", screen);
    // p shows the feature means with their z-scores, then the medians.
    key(&mut s, KeyCode::Char('p'));
    let screen = draw(&s, 120, 40);
    assert!(screen.contains("feature means, original units"), "{screen}");
    let p0 = &run.profiles[0];
    let z = format!("({:+.1})", p0.features[0].z);
    assert!(screen.contains(&z), "{z} in {screen}");
    key(&mut s, KeyCode::Char('p'));
    assert!(draw(&s, 120, 40).contains("feature medians"));
    insta::assert_snapshot!("120x40_Segments_gmm_medians", draw(&s, 120, 40));
}

#[test]
fn rules_screen_mines_sorts_filters_and_drills_down() {
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('5'));
    assert_eq!(s.screen, Screen::Rules);
    assert!(draw(&s, 120, 40).contains("no rules yet"));
    key(&mut s, KeyCode::Char('r'));
    let run = s.rules.run.clone().expect("mined");
    assert!(run.baskets.len() > 30_000, "one basket per order");
    assert!(!run.rules.is_empty());
    assert_eq!(s.rules.visible.len(), run.rules.len());
    // Default sort: lift, highest first; every rule passes the default thresholds.
    let lifts: Vec<f64> = s.rules.visible.iter().map(|&i| run.rules[i].lift).collect();
    assert!(lifts.windows(2).all(|w| w[0] >= w[1]));
    assert!(
        run.rules
            .iter()
            .all(|r| r.confidence >= 0.2 && r.lift >= 1.0)
    );
    // s: next metric (confidence).
    key(&mut s, KeyCode::Char('s'));
    let conf: Vec<f64> = s
        .rules
        .visible
        .iter()
        .map(|&i| run.rules[i].confidence)
        .collect();
    assert!(conf.windows(2).all(|w| w[0] >= w[1]));
    // / printer: only rules with a printer item on either side.
    key(&mut s, KeyCode::Char('/'));
    typed(&mut s, "printer");
    key(&mut s, KeyCode::Enter);
    assert!(!s.rules.visible.is_empty());
    for &i in &s.rules.visible {
        let r = &run.rules[i];
        assert!(r.antecedents.iter().chain(&r.consequents).any(|&x| {
            run.baskets.items[x as usize]
                .to_lowercase()
                .contains("printer")
        }));
    }
    assert!(
        s.message
            .as_deref()
            .unwrap()
            .contains("rules match \"printer\"")
    );
    // Enter: the baskets behind the selected rule, as many as the rule counts.
    key(&mut s, KeyCode::Enter);
    let d = s.rules.drill.clone().expect("drill-down");
    let r = s.rules.selected().unwrap().clone();
    assert_eq!(d.baskets.len() as u64, r.count);
    let screen = draw(&s, 120, 40);
    assert!(screen.contains("baskets have both sides"), "{screen}");
    assert!(screen.contains("of the time"), "{screen}");
    s.message = Some("done".into());
    insta::assert_snapshot!("120x40_Rules_printer", draw(&s, 120, 40));
    // A bad pattern is refused and the filter stays.
    key(&mut s, KeyCode::Char('/'));
    for _ in 0.."printer".len() {
        key(&mut s, KeyCode::Backspace);
    }
    typed(&mut s, "(");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.rules.filter.as_deref(), Some("printer"));
    assert!(s.error.as_deref().unwrap().contains("item pattern"));
    // Parameters: per customer, categories; mining again gives category rules.
    key(&mut s, KeyCode::Char('b'));
    key(&mut s, KeyCode::Char('i'));
    key(&mut s, KeyCode::Char('/'));
    key(&mut s, KeyCode::Char('('));
    key(&mut s, KeyCode::Backspace);
    key(&mut s, KeyCode::Enter);
    key(&mut s, KeyCode::Char('r'));
    let run = s.rules.run.clone().unwrap();
    let lines = crmlens::data::features::baskets::order_lines(
        &sample_dir().join("orders.csv"),
        &["customer_id"],
    )
    .unwrap();
    let customers = lines.column("customer_id").unwrap().n_unique().unwrap();
    assert_eq!(run.baskets.len(), customers, "one basket per customer");
    assert!(
        run.baskets
            .items
            .iter()
            .all(|i| i.chars().all(|c| c.is_lowercase()))
    );
}

#[test]
fn rules_export_writes_every_filtered_rule() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.json");
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('5'));
    key(&mut s, KeyCode::Char('e'));
    assert!(s.error.as_deref().unwrap().contains("mine rules first"));
    key(&mut s, KeyCode::Char('r'));
    key(&mut s, KeyCode::Char('/'));
    typed(&mut s, "laptop");
    key(&mut s, KeyCode::Enter);
    let want = s.rules.visible.len();
    key(&mut s, KeyCode::Char('e'));
    for _ in 0.."rules.csv".len() {
        key(&mut s, KeyCode::Backspace);
    }
    typed(&mut s, path.to_str().unwrap());
    key(&mut s, KeyCode::Enter);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(written.as_array().unwrap().len(), want);
    assert!(
        s.message
            .as_deref()
            .unwrap()
            .starts_with(&format!("wrote {want} rules"))
    );
}

#[test]
fn clicking_a_rules_header_sorts_by_it() {
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('5'));
    key(&mut s, KeyCode::Char('r'));
    let screen = draw(&s, 120, 40);
    let lines: Vec<&str> = screen.lines().collect();
    // The header row (quoted lines: column 0 of the screen is after the opening quote).
    let (y, row) = lines
        .iter()
        .enumerate()
        .find(|(_, l)| l.contains("confid.") && l.contains("baskets"))
        .expect("a header row");
    let chars: Vec<char> = row.chars().collect();
    let find = |word: &str| -> u16 {
        let w: Vec<char> = word.chars().collect();
        (0..chars.len())
            .find(|&i| chars[i..].starts_with(&w))
            .expect("header word") as u16
            - 1
    };
    let area = ratatui::layout::Rect::new(0, 0, 120, 40);
    let at = |x: u16| crmlens::screens::rules::draw::header_at(area, x, y as u16);
    use crmlens::analytics::rules::SortBy;
    assert_eq!(at(find("confid.")), Some(SortBy::Confidence));
    assert_eq!(at(find("zhang") + 2), Some(SortBy::ZhangsMetric));
    assert_eq!(at(find("rule")), None);
    assert_eq!(
        crmlens::screens::rules::draw::header_at(area, find("lift"), y as u16 + 1),
        None
    );
    drive(&mut s, Action::SortRules(SortBy::Count));
    let run = s.rules.run.clone().unwrap();
    let counts: Vec<u64> = s
        .rules
        .visible
        .iter()
        .map(|&i| run.rules[i].count)
        .collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]));
    assert!(draw(&s, 120, 40).contains("baskets ▼"));
}

/// The Predict screen shows the engine's own result for the Features selection, moves the
/// test metrics with the threshold, drills into a confusion-matrix cell, lists the at-risk
/// customers, grid-searches, and exports scores.
#[test]
fn predict_screen_runs_explains_and_exports() {
    use crmlens::analytics::predict::{ModelKind, run_prediction};
    use crmlens::screens::predict::{PField, Pane};
    let dir = tempfile::tempdir().unwrap();
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('6'));
    assert_eq!(s.screen, Screen::Predict);
    assert_eq!(s.predict.target.as_deref(), Some("churned"));
    assert!(draw(&s, 120, 40).contains("no model yet"));
    // Logistic regression: down to the model row, + twice (forest -> tree -> logistic).
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Char('+'));
    key(&mut s, KeyCode::Char('+'));
    assert_eq!(s.predict.params.model, ModelKind::Logistic);
    key(&mut s, KeyCode::Char('r'));
    assert!(s.error.is_none(), "{:?}", s.error);
    let p = s.predict.result.clone().expect("a prediction");
    // The same run straight from the engine, on the same matrix.
    let table = s.table.clone().unwrap();
    let m = crmlens::data::features::build_features(&table, "customer_id", &s.features.config())
        .unwrap();
    let t = crmlens::data::features::target::target(&table, "churned", None).unwrap();
    let direct = run_prediction(
        m.values.view(),
        &m.names,
        &t.y,
        2,
        &s.predict.params,
        &Progress::new(),
    )
    .unwrap();
    assert_eq!(p.run, direct);
    assert!(p.run.test.roc_auc.unwrap() > 0.75);
    let screen = draw(&s, 120, 40);
    for want in [
        "ROC-AUC",
        "baseline",
        "confusion",
        "ROC · AUC",
        "importance",
    ] {
        assert!(screen.contains(want), "{want}: {screen}");
    }
    s.message = Some("done".into());
    insta::assert_snapshot!("120x40_Predict_logistic", draw(&s, 120, 40));
    insta::assert_snapshot!("80x24_Predict_logistic", draw(&s, 80, 24));
    // c: the precision-recall curve instead, with the average precision.
    key(&mut s, KeyCode::Char('c'));
    let ap = p.run.curves.as_ref().unwrap().average_precision;
    assert!(draw(&s, 120, 40).contains(&format!("AP {ap:.3}")));
    key(&mut s, KeyCode::Char('c'));

    // The threshold: up to 0.70 moves the test metrics (not the AUC) at once.
    while s.predict.current() != PField::Threshold {
        key(&mut s, KeyCode::Char('j'));
    }
    for _ in 0..4 {
        key(&mut s, KeyCode::Char('+'));
    }
    let high = s.predict.result.clone().unwrap();
    assert_eq!(high.run.threshold, 0.7);
    assert!(high.run.test.recall < p.run.test.recall);
    assert_eq!(high.run.test.roc_auc, p.run.test.roc_auc);
    let cm = &high.run.test.confusion_matrix;
    assert_eq!(
        cm.iter().flatten().sum::<u64>() as usize,
        high.run.test_rows.len()
    );
    assert!(draw(&s, 120, 40).contains("cv at 0.50"));

    // Drill: the selected cell (actual 1, predicted 0: missed churners) lists exactly those.
    assert_eq!(s.predict.cell, (1, 0));
    key(&mut s, KeyCode::Char('d'));
    let d = s.predict.drill.clone().expect("drill-down");
    assert_eq!(d.rows.len() as u64, cm[1][0]);
    for &r in &d.rows {
        assert_eq!(high.y[r], 1);
        assert!(high.run.probabilities[r][1] < 0.7);
    }
    assert!(draw(&s, 120, 40).contains("missed"));
    // → moves to (1, 1), the caught churners, and the drill follows.
    key(&mut s, KeyCode::Char('l'));
    assert_eq!(s.predict.cell, (1, 1));
    assert_eq!(
        s.predict.drill.as_ref().unwrap().rows.len() as u64,
        cm[1][1]
    );
    key(&mut s, KeyCode::Esc);
    assert!(s.predict.drill.is_none());

    // v: the at-risk pane, customers not churned, likeliest first.
    key(&mut s, KeyCode::Char('v'));
    assert_eq!(s.predict.pane, Pane::AtRisk);
    let risk = &high.at_risk;
    assert!(!risk.is_empty());
    assert!(risk.iter().all(|&r| high.y[r] == 0));
    assert!(
        risk.windows(2)
            .all(|w| high.run.probabilities[w[0]][1] >= high.run.probabilities[w[1]][1])
    );
    let first_id = table
        .column("customer_id")
        .unwrap()
        .str()
        .unwrap()
        .get(risk[0])
        .unwrap()
        .to_string();
    assert!(draw(&s, 120, 40).contains(&first_id));

    // w: grid search over alpha, then a applies the best.
    key(&mut s, KeyCode::Char('w'));
    let g = s.predict.grid.clone().expect("grid");
    assert_eq!(s.predict.pane, Pane::Grid);
    assert_eq!(g.rows.len(), 5);
    key(&mut s, KeyCode::Char('a'));
    assert_eq!(Some(s.predict.params.logistic.alpha), g.rows[g.best].alpha);
    assert!(draw(&s, 120, 40).contains("★"));

    // A decision tree: the tree pane shows its splits.
    while s.predict.current() != PField::Model {
        key(&mut s, KeyCode::Char('k'));
    }
    key(&mut s, KeyCode::Char('-'));
    assert_eq!(s.predict.params.model, ModelKind::Tree);
    key(&mut s, KeyCode::Char('r'));
    s.predict.pane = Pane::Tree;
    let screen = draw(&s, 120, 40);
    assert!(screen.contains("decision tree, depth"), "{screen}");
    assert!(screen.contains("recency_days <="), "{screen}");

    // e on the at-risk pane: the listed customers, in list order.
    s.predict.pane = Pane::AtRisk;
    let listed = s.predict.result.as_ref().unwrap().at_risk.clone();
    let risk_path = dir.path().join("at_risk.csv");
    key(&mut s, KeyCode::Char('e'));
    assert_eq!(s.overlay, Some(Overlay::Export("at_risk.csv".into())));
    for _ in 0.."at_risk.csv".len() {
        key(&mut s, KeyCode::Backspace);
    }
    typed(&mut s, risk_path.to_str().unwrap());
    key(&mut s, KeyCode::Enter);
    let text = std::fs::read_to_string(&risk_path).unwrap();
    let ids = table.column("customer_id").unwrap().str().unwrap().clone();
    let written: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    let want: Vec<&str> = listed.iter().map(|&r| ids.get(r).unwrap()).collect();
    assert_eq!(written, want);
    assert!(
        text.lines()
            .skip(1)
            .all(|l| l.split(',').nth(1) == Some("0"))
    );
    // e elsewhere: scores for every customer.
    s.predict.pane = Pane::Importance;
    let path = dir.path().join("scores.csv");
    key(&mut s, KeyCode::Char('e'));
    for _ in 0.."scores.csv".len() {
        key(&mut s, KeyCode::Backspace);
    }
    typed(&mut s, path.to_str().unwrap());
    key(&mut s, KeyCode::Enter);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("customer_id,actual,p_0,p_1,predicted"));
    assert_eq!(text.lines().count(), 5001);
    assert!(
        s.message
            .as_deref()
            .unwrap()
            .starts_with("wrote 5000 scores")
    );
}

#[test]
fn predict_without_features_or_with_only_the_target_says_so() {
    let mut s = sample_state();
    for item in &mut s.features.items {
        item.selected = item.name == "churned";
    }
    key(&mut s, KeyCode::Char('6'));
    key(&mut s, KeyCode::Char('r'));
    assert!(
        s.error
            .as_deref()
            .unwrap()
            .contains("no features besides the target `churned`")
    );
    assert!(s.predict.result.is_none());
    key(&mut s, KeyCode::Char('e'));
    assert!(s.error.as_deref().unwrap().contains("run a model first"));
}

/// A multi-class target: channel (4 values) is taken out of the features, the confusion matrix
/// is 4 x 4 and the metrics are macro averages; the ROC pane says it is for two classes.
#[test]
fn predict_a_multi_class_target() {
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('6'));
    assert!(s.predict.targets.contains(&"channel".to_string()));
    assert!(!s.predict.targets.contains(&"monetary".to_string()));
    while s.predict.target.as_deref() != Some("channel") {
        key(&mut s, KeyCode::Char('+'));
    }
    key(&mut s, KeyCode::Char('r'));
    assert!(s.error.is_none(), "{:?}", s.error);
    let p = s.predict.result.clone().unwrap();
    assert_eq!(p.classes.len(), 4);
    assert!(p.dropped_target);
    assert!(!p.names.iter().any(|n| n.starts_with("channel")));
    let cm = &p.run.test.confusion_matrix;
    assert_eq!(cm.len(), 4);
    assert_eq!(
        cm.iter().flatten().sum::<u64>() as usize,
        p.run.test_rows.len()
    );
    assert!(p.run.curves.is_none());
    assert!(
        s.message
            .as_deref()
            .unwrap()
            .contains("channel left out of the features")
    );
    assert!(draw(&s, 120, 40).contains("for two-class targets"));
}

/// The CLV screen fits the sample's orders (calibration end: six months before the last
/// purchase), shows what the engine computes from the same transactions, ranks customers,
/// averages CLV per segment after a segmentation, and exports.
#[test]
fn clv_screen_fits_ranks_and_exports() {
    use chrono::NaiveDate;
    use crmlens::analytics::clv::{ClvParams, Rfm, run_clv};
    use crmlens::data::features::transactions::{
        read_transactions, summarise, transaction_columns,
    };
    let dir = tempfile::tempdir().unwrap();
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('7'));
    assert_eq!(s.screen, Screen::Clv);
    assert!(draw(&s, 120, 40).contains("no model yet"));
    key(&mut s, KeyCode::Char('r'));
    assert!(s.error.is_none(), "{:?}", s.error);
    let r = s.clv.result.clone().expect("a CLV run");
    let end = NaiveDate::from_ymd_opt(2024, 6, 30).unwrap();
    assert_eq!(r.calibration_end, end);
    // The same figures straight from the engine.
    let ws = sample_dir().join("crmlens.toml");
    let cols = transaction_columns(&ws, None, None, None).unwrap();
    let (tx, _) = read_transactions(&ws, &cols).unwrap();
    let sm = summarise(&tx, end, None, 1.0).unwrap();
    let direct = run_clv(
        &Rfm {
            x: sm.frequency.clone(),
            t_x: sm.recency.clone(),
            t: sm.t.clone(),
            monetary: sm.monetary.clone(),
        },
        &ClvParams::default(),
        Some((&sm.holdout_purchases, sm.holdout_duration)),
        &Progress::new(),
    )
    .unwrap();
    assert_eq!(r.run, direct);
    assert_eq!(r.ids, sm.ids);
    // The top list is in CLV order.
    let clv: Vec<f64> = r.order.iter().map(|&i| r.run.rows[i].clv).collect();
    assert!(clv.windows(2).all(|w| w[0] >= w[1]));
    let screen = draw(&s, 120, 40);
    for want in [
        "BG/NBD",
        "Gamma-Gamma",
        "holdout 184 days",
        "top customers by CLV",
        &r.ids[r.order[0]],
    ] {
        assert!(screen.contains(want), "{want}: {screen}");
    }
    s.message = Some("done".into());
    insta::assert_snapshot!("120x40_CLV_sample", draw(&s, 120, 40));
    // A calibration end typed in; - moves it a month earlier.
    key(&mut s, KeyCode::Enter);
    typed(&mut s, "2024-03-31");
    key(&mut s, KeyCode::Enter);
    key(&mut s, KeyCode::Char('-'));
    assert_eq!(
        s.clv.settings.calibration_end,
        NaiveDate::from_ymd_opt(2024, 2, 29)
    );
    // After k-means on the Segments screen, CLV per segment appears.
    key(&mut s, KeyCode::Char('4'));
    key(&mut s, KeyCode::Char('r'));
    assert!(s.segments.run.is_some());
    key(&mut s, KeyCode::Char('7'));
    let seg = crmlens::screens::clv::per_segment(&s).expect("per segment");
    assert_eq!(seg.len(), s.segments.run.as_ref().unwrap().clusters());
    let matched: usize = seg.iter().map(|(_, n, _)| n).sum();
    assert!(matched > 4000, "{matched}");
    assert!(draw(&s, 120, 40).contains("CLV by segment"));
    // e: every customer's figures.
    let path = dir.path().join("clv.csv");
    key(&mut s, KeyCode::Char('e'));
    for _ in 0.."clv.csv".len() {
        key(&mut s, KeyCode::Backspace);
    }
    typed(&mut s, path.to_str().unwrap());
    key(&mut s, KeyCode::Enter);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("customer,p_alive,expected_purchases,expected_spend,clv"));
    assert_eq!(text.lines().count(), r.ids.len() + 1);
}

/// The Recommend screen builds the model in the background, finds a customer by id, shows
/// their history beside recommendations that leave out what they bought, and exports
/// everyone's top N.
#[test]
fn recommend_screen_finds_a_customer_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('8'));
    assert_eq!(s.screen, Screen::Recommend);
    assert!(draw(&s, 120, 40).contains("no model yet"));
    key(&mut s, KeyCode::Char('r'));
    assert!(s.error.is_none(), "{:?}", s.error);
    let m = s.recommend.result.clone().expect("a model");
    let e = m.evaluation.as_ref().expect("an evaluation");
    assert!(e.customers > 3000);
    key(&mut s, KeyCode::Char('/'));
    typed(&mut s, "C000002");
    key(&mut s, KeyCode::Enter);
    let u = s.recommend.customer.unwrap();
    assert_eq!(m.customers[u], "C000002");
    let bought: Vec<u32> = m.x.row(u).map(|(i, _)| i).collect();
    assert_eq!(s.recommend.recs.len(), 10);
    for r in &s.recommend.recs {
        assert!(!bought.contains(&r.item));
        assert!(r.because.iter().all(|(b, _)| bought.contains(b)));
    }
    // The history: every bought item once, latest purchase first, each dated on screen.
    let h = m.history(u);
    assert_eq!(h.len(), bought.len());
    assert!(h.windows(2).all(|w| w[0].2 >= w[1].2));
    let screen = draw(&s, 120, 40);
    for (i, times, day) in &h {
        let date = crmlens::data::dates::from_epoch_days(day.unwrap()).to_string();
        let line = screen
            .lines()
            .map(|l| l.split('│').next().unwrap())
            .find(|l| l.contains(&m.items[*i as usize]) && l.contains(&date))
            .unwrap_or_else(|| panic!("{} on {date} in\n{screen}", m.items[*i as usize]));
        assert!(line.contains(&format!(" {times} ")), "{line}");
    }
    assert!(screen.contains("because you bought"), "{screen}");
    assert!(screen.contains("hit rate"), "{screen}");
    s.message = Some("done".into());
    insta::assert_snapshot!("120x40_Recommend_C000002", draw(&s, 120, 40));
    // - : one fewer; j: the next customer.
    key(&mut s, KeyCode::Char('-'));
    assert_eq!(s.recommend.recs.len(), 9);
    key(&mut s, KeyCode::Char('j'));
    assert_eq!(s.recommend.customer, Some(u + 1));
    // An unknown id says so and keeps the selection.
    key(&mut s, KeyCode::Char('/'));
    typed(&mut s, "Z9");
    key(&mut s, KeyCode::Enter);
    assert!(
        s.error
            .as_deref()
            .unwrap()
            .contains("no customer id starts with")
    );
    assert_eq!(s.recommend.customer, Some(u + 1));
    // e: everyone's top 9.
    let path = dir.path().join("recs.csv");
    key(&mut s, KeyCode::Char('e'));
    for _ in 0.."recommendations.csv".len() {
        key(&mut s, KeyCode::Backspace);
    }
    typed(&mut s, path.to_str().unwrap());
    key(&mut s, KeyCode::Enter);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("customer,rank,item,score,because"));
    // Nine each, fewer for the few who have bought all but a handful of the catalogue.
    let expected: usize = (0..m.customers.len())
        .map(|u| 9.min(m.x.n_items - m.x.row(u).count()))
        .sum();
    assert!(expected < 9 * m.customers.len());
    assert_eq!(text.lines().count() - 1, expected);
}

/// Personal data is masked on screen by default: the sample's name, e-mail, phone and birth
/// date columns are found, no raw value of them appears on the Data screen (table or panel),
/// and their masks do. With show_pii the raw values appear and the status bar says so.
#[test]
fn personal_data_is_masked_unless_shown() {
    use crmlens::data::privacy::{PiiKind, mask};
    let mut s = sample_state();
    let kinds: Vec<(String, PiiKind)> = s.pii.iter().map(|p| (p.column.clone(), p.kind)).collect();
    let named: Vec<(&str, PiiKind)> = kinds.iter().map(|(c, k)| (c.as_str(), *k)).collect();
    assert_eq!(
        named,
        vec![
            ("name", PiiKind::Name),
            ("email", PiiKind::Email),
            ("phone", PiiKind::Phone),
            ("birth_date", PiiKind::BirthDate),
        ]
    );
    let t = s.table.clone().unwrap();
    let raw = |col: &str, i: usize| -> String {
        crmlens::text::format_cell(&t.column(col).unwrap().get(i).unwrap())
    };
    // Select the e-mail column so the panel shows its values too.
    for _ in 0..2 {
        key(&mut s, KeyCode::Char('l'));
    }
    run_commands(&mut s, Vec::new());
    let screen = draw(&s, 160, 30);
    assert!(!screen.contains("PII VISIBLE"));
    for i in 0..20 {
        for (col, kind) in &kinds {
            let v = raw(col, i);
            if col == "birth_date" {
                // A date's year is what the mask keeps; the full date must not show.
                assert!(!screen.contains(&v), "{col} {v} shown");
                continue;
            }
            assert!(!screen.contains(&v), "{col} {v} shown:\n{screen}");
            if col != "name" {
                assert!(screen.contains(&mask(*kind, &v)), "{col} mask of {v}");
            }
        }
    }
    // Features: personal columns are marked and cannot be ticked while masked.
    key(&mut s, KeyCode::Char('3'));
    let email = s
        .features
        .items
        .iter()
        .position(|i| i.name == "email")
        .unwrap();
    s.features.cursor = email;
    key(&mut s, KeyCode::Char(' '));
    assert!(!s.features.items[email].selected);
    assert!(
        s.error
            .as_deref()
            .unwrap()
            .contains("email holds personal data")
    );
    let screen = draw(&s, 120, 40);
    let row = screen.lines().find(|l| l.contains("] email")).unwrap();
    assert!(row.contains(" pii "), "{row}");
    s.show_pii = true;
    key(&mut s, KeyCode::Char(' '));
    assert!(s.features.items[email].selected);
    key(&mut s, KeyCode::Char(' '));
    key(&mut s, KeyCode::Char('1'));
    s.error = None;
    let screen = draw(&s, 160, 30);
    assert!(screen.contains("PII VISIBLE"), "{screen}");
    assert!(screen.contains(&raw("name", 0)));
    assert!(screen.contains(&raw("phone", 0)));
}

/// A workspace's analysis sections set the screens' parameters when it opens; a bad value
/// and an unknown key are reported with their lines, and everything else still opens.
#[test]
fn workspace_sections_set_the_screens_and_bad_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read_to_string(sample_dir().join("crmlens.toml")).unwrap();
    let base = sample_dir().display().to_string();
    let text = sample
        .replace("path = \"", &format!("path = \"{base}/"))
        .replace("numeric = [\"", "numeric = [\"spend_2031\", \"")
        + "\n[privacy]\npseudonymise = true\n\n[segment]\nalgorithm = \"gmm\"\nk = 6\nseed = 11\n\n[rules]\nmin_support = 0.01\nsort = \"confidence\"\nfilter = \"zzz-no-item\"\n\n[predict]\nmodel = \"tree\"\nfolds = 1\n\n[recommend]\ntop = 5\ncolour = \"red\"\n";
    let path = dir.path().join("w.toml");
    std::fs::write(&path, &text).unwrap();
    let line_of = |needle: &str| text.lines().position(|l| l == needle).unwrap() + 1;
    let mut s = State::new("w".into());
    let cmds = s.load(JobRequest::Workspace(path));
    run_commands(&mut s, cmds);
    assert!(s.table.is_some(), "{:?}", s.error);
    let p = &s.segments.params;
    assert_eq!(p.algorithm, Algorithm::Gmm);
    assert_eq!((p.gmm.k, p.gmm.seed), (6, 11));
    assert_eq!(s.rules.params.min_support, 0.01);
    assert_eq!(s.rules.sort, crmlens::analytics::rules::SortBy::Confidence);
    assert_eq!(
        s.predict.params.model,
        crmlens::analytics::predict::ModelKind::Tree
    );
    assert_eq!(s.predict.params.folds, 5, "a bad value keeps the default");
    assert_eq!(s.recommend.top, 5);
    assert!(
        s.pseudonymise,
        "[privacy] pseudonymise reaches the workbench's exports"
    );
    let err = s.error.clone().unwrap_or_default();
    assert!(
        err.contains(&format!("line {}: `colour`", line_of("colour = \"red\""))),
        "{err}"
    );
    assert!(err.contains("(and 2 more: see Quality, 2)"), "{err}");
    // The rules filter is set for the next run; the unknown feature is left out.
    assert_eq!(s.rules.filter.as_deref(), Some("zzz-no-item"));
    assert!(!s.features.items.iter().any(|i| i.name == "spend_2031"));
    let all = crmlens::app::history::Snapshot::of(&s);
    assert_eq!(all.settings.rules_filter.as_deref(), Some("zzz-no-item"));
    // The Quality screen lists every problem.
    assert_eq!(s.warnings.len(), 3, "{:?}", s.warnings);
    s.screen = Screen::Quality;
    let screen = draw(&s, 160, 40);
    assert!(screen.contains("workspace problems (3)"), "{screen}");
    assert!(screen.contains("`spend_2031`: no such column"), "{screen}");
    assert!(screen.contains("`colour`"), "{screen}");
}

/// Maps `ev` and applies it, without running the jobs it asks for.
fn press(state: &mut State, ev: KeyEvent) -> Vec<Command> {
    match crmlens::app::action::map_key(state, ev) {
        Some(a) => update(state, a),
        None => Vec::new(),
    }
}

/// What `commands` ask for: jobs as kind and label, copies with their text.
fn jobs_of(commands: &[Command]) -> Vec<String> {
    commands
        .iter()
        .map(|c| match c {
            Command::Spawn { request, .. } => format!("{:?} {}", request.kind(), request.label()),
            Command::Copy(text) => format!("copy {text:?}"),
            Command::Suspend => "suspend".into(),
        })
        .collect()
}

/// A palette entry's key as a key press: the help overlay's names, or the demo scripts'.
fn palette_key(key: &str) -> KeyEvent {
    match key {
        "S-Tab" => KeyEvent::new(KeyCode::BackTab, KeyModifiers::NONE),
        other => {
            let keys = crmlens::app::demo::parse_keys(other).unwrap();
            assert_eq!(keys.len(), 1, "{other}");
            keys[0]
        }
    }
}

/// What an action can change, for comparing two states.
fn fingerprint(s: &State) -> String {
    format!(
        "{:?}|{:?}|{:?}|{:?}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        s.screen,
        s.overlay,
        s.error,
        s.message,
        s.quit,
        s.data.requested,
        s.features.scaling,
        s.segments,
        s.rules.params,
        (s.rules.sort, &s.rules.filter, &s.rules.drill),
        (
            &s.predict.params,
            s.predict.pane,
            s.predict.show_pr,
            s.predict.field
        ),
        (&s.clv.settings, s.clv.field),
        (s.recommend.top, s.recommend.customer),
    )
}

#[test]
fn palette_opens_filters_moves_and_runs_on_the_actions_screen() {
    use crmlens::app::palette::Palette;
    let mut s = sample_state();
    let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
    // Ctrl-P opens it, Esc closes it.
    press(&mut s, ctrl('p'));
    assert_eq!(s.overlay, Some(Overlay::Palette(Palette::default())));
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.overlay, None);
    // `:` opens it; letters are the query, not keys (q does not quit).
    key(&mut s, KeyCode::Char(':'));
    typed(&mut s, "q");
    assert!(!s.quit);
    key(&mut s, KeyCode::Backspace);
    typed(&mut s, "sr");
    let Some(Overlay::Palette(p)) = &s.overlay else {
        panic!("palette closed")
    };
    assert_eq!(p.query, "sr");
    let top = crmlens::app::palette::matches(s.screen, "sr");
    assert_eq!(top[0].title, "Segments: run the algorithm");
    // ↓, Tab and Ctrl-N move down; ↑ and Ctrl-P up; the selection wraps.
    key(&mut s, KeyCode::Down);
    key(&mut s, KeyCode::Tab);
    press(&mut s, ctrl('n'));
    key(&mut s, KeyCode::Up);
    press(&mut s, ctrl('p'));
    key(&mut s, KeyCode::Down);
    let selected = |s: &State| match &s.overlay {
        Some(Overlay::Palette(p)) => p.selected,
        _ => usize::MAX,
    };
    assert_eq!(selected(&s), 2);
    key(&mut s, KeyCode::Up);
    key(&mut s, KeyCode::Up);
    key(&mut s, KeyCode::Up);
    assert_eq!(selected(&s), top.len() - 1);
    key(&mut s, KeyCode::Down);
    // Enter on "Segments: run the algorithm" from the Data screen: the Segments screen, and
    // the same job as `r` there.
    let cmds = press(&mut s, KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(s.screen, Screen::Segments);
    assert_eq!(s.overlay, None);
    let jobs = jobs_of(&cmds);
    assert!(jobs.len() == 1 && jobs[0].starts_with("Model "), "{jobs:?}");

    // "Segments: sweep" from the Rules screen: a sweep job.
    s.screen = Screen::Rules;
    key(&mut s, KeyCode::Char(':'));
    typed(&mut s, "segments sweep");
    let cmds = press(&mut s, KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(s.screen, Screen::Segments);
    let jobs = jobs_of(&cmds);
    assert!(
        jobs.len() == 1 && jobs[0].contains("k sweep 2..10"),
        "{jobs:?}"
    );

    // "Go to Rules".
    key(&mut s, KeyCode::Char(':'));
    typed(&mut s, "go to rules");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.screen, Screen::Rules);
    assert_eq!(s.overlay, None);

    // A query nothing matches: Enter does nothing, the palette stays.
    key(&mut s, KeyCode::Char(':'));
    typed(&mut s, "zzqx");
    key(&mut s, KeyCode::Enter);
    assert!(matches!(s.overlay, Some(Overlay::Palette(_))));
    assert_eq!(s.screen, Screen::Rules);
}

/// Every palette entry, chosen from another screen, does what pressing its key on its own
/// screen does: two states take the same steps, one through the palette, one by keys.
#[test]
fn every_palette_entry_does_what_its_key_does() {
    use crmlens::app::palette::{Palette, matches};
    let mut by_palette = sample_state();
    let mut by_key = sample_state();
    let enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE);
    for entry in crmlens::app::palette::entries(Screen::Data) {
        let home = entry.screen.unwrap_or(Screen::Data);
        let away = if entry.screen == Some(Screen::Data) {
            Screen::Quality
        } else {
            Screen::Data
        };
        by_palette.screen = away;
        by_key.screen = home;
        for s in [&mut by_palette, &mut by_key] {
            s.overlay = None;
            s.message = None;
            s.error = None;
        }
        let title = entry.title();
        let list = matches(away, "");
        let at = list.iter().position(|m| m.title == title).unwrap();
        by_palette.overlay = Some(Overlay::Palette(Palette {
            query: String::new(),
            selected: at,
        }));
        let via_palette = press(&mut by_palette, enter);
        let via_key = press(&mut by_key, palette_key(entry.key()));
        if let Some(screen) = entry.screen {
            assert_eq!(by_palette.screen, screen, "{title} lands on its screen");
        }
        assert_eq!(jobs_of(&via_palette), jobs_of(&via_key), "{title}");
        assert_eq!(fingerprint(&by_palette), fingerprint(&by_key), "{title}");
        // And the key means the very action the palette runs.
        let mut fresh = State::new("x".into());
        fresh.screen = home;
        let mapped = crmlens::app::action::map_key(&fresh, palette_key(entry.key()));
        assert_eq!(
            format!("{mapped:?}"),
            format!("{:?}", Some(entry.action())),
            "{title}"
        );
    }
}

/// The palette and the help overlay come from one table: every binding the help overlay
/// lists that does something (not movement or scrolling) has palette entries, with the
/// binding's own key when it names one action.
#[test]
fn every_help_binding_that_names_an_action_is_in_the_palette() {
    let navigation = [
        "j/k ↓/↑",
        "h/l ←/→",
        "PgDn/PgUp C-d/C-u",
        "g/G",
        "wheel",
        "j/k ↓/↑ PgDn/PgUp g/G",
        "PgDn/PgUp",
        "j/k ↓/↑ g/G",
        // Explains +/- on one parameter; +/- itself is in the palette.
        "+/- on threshold",
        // Esc on a screen cancels its run: the palette's "Cancel running jobs".
        "Esc",
        // The palette itself.
        ": / Ctrl-p",
    ];
    let titles: Vec<String> = crmlens::app::palette::entries(Screen::Data)
        .iter()
        .map(|e| e.title())
        .collect();
    let global = crmlens::app::action::GLOBAL;
    for screen in Screen::ALL {
        for b in crmlens::app::action::bindings(screen) {
            let commands: Vec<_> = b.commands().collect();
            if commands.is_empty() {
                assert!(
                    navigation.contains(&b.keys),
                    "{} {:?} {:?} is not in the palette",
                    screen.title(),
                    b.keys,
                    b.what
                );
                continue;
            }
            if let Some(one) = b.run {
                assert_eq!(one.key, b.keys);
            }
            let is_global = global.iter().any(|g| g.keys == b.keys && g.what == b.what);
            for c in commands {
                let title = if is_global {
                    c.name.to_string()
                } else {
                    format!("{}: {}", screen.title(), c.name)
                };
                assert!(titles.contains(&title), "{title} missing");
            }
        }
    }
    // Some names as the issue asks for them.
    for want in [
        "Segments: run the algorithm",
        "Rules: sort by the next metric",
        "Go to Predict",
        "Help",
        "Quit",
    ] {
        assert!(titles.iter().any(|t| t == want), "{want}");
    }
}

#[test]
fn palette_80x24() {
    let mut s = sample_state();
    key(&mut s, KeyCode::Char(':'));
    typed(&mut s, "run");
    key(&mut s, KeyCode::Down);
    insta::assert_snapshot!("80x24_palette", draw(&s, 80, 24));
    // The matched letters are highlighted (bold accent), the others not.
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    t.draw(|f| crmlens::ui::draw(f, &s)).unwrap();
    let buf = t.backend().buffer();
    let row = (0..24u16)
        .find(|&y| {
            let line: String = (0..80u16).map(|x| buf[(x, y)].symbol()).collect();
            line.contains("Segments: run the algorithm")
        })
        .unwrap();
    let x0 = (0..80u16).find(|&x| buf[(x, row)].symbol() == "S").unwrap();
    let bold = |x: u16| {
        buf[(x, row)]
            .modifier
            .contains(ratatui::style::Modifier::BOLD)
    };
    assert!(!bold(x0));
    assert!(bold(x0 + 10) && bold(x0 + 11) && bold(x0 + 12));
    assert!(!bold(x0 + 13));
}

/// The text `y`/`Y` asks the event loop to copy, if any.
fn copied(state: &mut State, c: char) -> Option<String> {
    match press(state, KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)).as_slice() {
        [Command::Copy(text)] => Some(text.clone()),
        [] => None,
        other => panic!("{} commands", other.len()),
    }
}

#[test]
fn y_copies_the_selected_cell_and_shift_y_the_row() {
    let mut s = sample_state();
    let t = s.table.clone().unwrap();
    let city = (0..s.columns())
        .position(|i| s.column_name(i).as_deref() == Some("city"))
        .unwrap();
    s.data.col = city;
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Char('j'));
    let want = t
        .column("city")
        .unwrap()
        .str()
        .unwrap()
        .get(2)
        .unwrap()
        .to_string();
    assert_eq!(copied(&mut s, 'y').as_deref(), Some(want.as_str()));
    assert_eq!(
        s.message.as_deref().unwrap(),
        format!(
            "copied city of C000003 ({} characters) to the clipboard (OSC 52)",
            want.chars().count()
        )
    );
    // Y: a header line of the column names, a line of the values (as shown), tab-separated.
    let row = copied(&mut s, 'Y').unwrap();
    let lines: Vec<&str> = row.lines().collect();
    assert_eq!(lines.len(), 2);
    let names: Vec<String> = t.get_column_names().iter().map(|n| n.to_string()).collect();
    assert_eq!(lines[0], names.join("\t"));
    let values: Vec<&str> = lines[1].split('\t').collect();
    assert_eq!(values.len(), 29);
    assert_eq!(values[0], "C000003");
    assert_eq!(values[city], want);
    assert!(
        s.message
            .as_deref()
            .unwrap()
            .starts_with("copied the row of C000003 (")
    );
    // In a filtered view the selected row is the view's, not the file's.
    key(&mut s, KeyCode::Char('/'));
    typed(&mut s, "glasgow");
    key(&mut s, KeyCode::Enter);
    let first = s.data.order.as_ref().unwrap()[0] as usize;
    let want = t
        .column("city")
        .unwrap()
        .str()
        .unwrap()
        .get(first)
        .unwrap()
        .to_string();
    assert!(want.to_lowercase().contains("glasgow"));
    assert_eq!(copied(&mut s, 'y').unwrap(), want);
    // Other screens without a selection: y is not a key there.
    key(&mut s, KeyCode::Char('6'));
    assert_eq!(copied(&mut s, 'y'), None);
}

/// Personal data is copied as the screen shows it: masked unless it is shown.
#[test]
fn copying_personal_data_copies_the_mask() {
    use crmlens::data::privacy::{PiiKind, mask};
    let mut s = sample_state();
    let t = s.table.clone().unwrap();
    let email = (0..s.columns())
        .position(|i| s.column_name(i).as_deref() == Some("email"))
        .unwrap();
    s.data.col = email;
    let raw = t
        .column("email")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    let masked = mask(PiiKind::Email, &raw);
    assert_ne!(masked, raw);
    assert_eq!(copied(&mut s, 'y').unwrap(), masked);
    let row = copied(&mut s, 'Y').unwrap();
    assert!(!row.contains(&raw), "{row}");
    assert!(row.contains(&masked), "{row}");
    s.show_pii = true;
    assert_eq!(copied(&mut s, 'y').unwrap(), raw);
    assert!(copied(&mut s, 'Y').unwrap().contains(&raw));
}

/// The Rules screen's `y`: the selected rule as one line whose numbers are those of its
/// row in the rule table on screen.
#[test]
fn y_copies_the_selected_rule_as_the_table_shows_it() {
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('5'));
    assert_eq!(copied(&mut s, 'y'), None);
    assert!(s.error.as_deref().unwrap().contains("mine them first"));
    key(&mut s, KeyCode::Char('r'));
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Char('j'));
    let line = copied(&mut s, 'y').unwrap();
    assert!(!line.contains('\n'));
    assert_eq!(
        s.message.as_deref().unwrap(),
        format!(
            "copied rule 3 ({} characters) to the clipboard (OSC 52)",
            line.chars().count()
        )
    );
    let rule = line.split("  support ").next().unwrap();
    let on_screen = rule.replace(" => ", " → ");
    let mut t = Terminal::new(TestBackend::new(220, 50)).unwrap();
    t.draw(|f| crmlens::ui::draw(f, &s)).unwrap();
    let buf = t.backend().buffer();
    let rows: Vec<String> = (0..50u16)
        .map(|y| (0..220u16).map(|x| buf[(x, y)].symbol()).collect())
        .collect();
    let row = rows
        .iter()
        .find(|r| {
            r.strip_prefix(&on_screen)
                .is_some_and(|rest| rest.starts_with("  "))
        })
        .unwrap_or_else(|| panic!("{on_screen} not in the table:\n{}", rows.join("\n")));
    let v: Vec<&str> = row[on_screen.len()..].split_whitespace().collect();
    assert_eq!(v.len(), 7, "{row}");
    assert_eq!(
        line,
        format!(
            "{rule}  support {}  confidence {}  lift {}  leverage {}  conviction {}  zhang {}  baskets {}",
            v[0], v[1], v[2], v[3], v[4], v[5], v[6]
        )
    );
}

#[test]
fn y_copies_the_customers_recommendations() {
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('8'));
    key(&mut s, KeyCode::Char('r'));
    let m = s.recommend.result.clone().unwrap();
    let u = s.recommend.customer.unwrap();
    let text = copied(&mut s, 'y').unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "customer\trank\titem\tscore\tbecause you bought");
    assert_eq!(lines.len(), s.recommend.recs.len() + 1);
    let first: Vec<&str> = lines[1].split('\t').collect();
    assert_eq!(first[0], m.customers[u]);
    assert_eq!(first[1], "1");
    assert_eq!(first[2], m.items[s.recommend.recs[0].item as usize]);
    assert_eq!(first[3], format!("{:.3}", s.recommend.recs[0].score));
    assert!(s.message.as_deref().unwrap().starts_with(&format!(
        "copied the top {} for {}",
        s.recommend.recs.len(),
        m.customers[u]
    )));
}
