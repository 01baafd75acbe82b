//! The session as a whole: undo/redo of selections and parameters, Ctrl-S saving a workspace
//! that reopens to the same screens (with a `.bak` of the previous file), and the workbench's
//! quality-report and cluster-profile exports.

use crmlens::app::State;
use crmlens::app::history::Snapshot;
use crmlens::app::job::JobRequest;
use crmlens::app::state::Overlay;
use crmlens::data::sources::workspace::Workspace;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use polars::prelude::DataType;

use crate::ui::{drive, key, run_commands, sample_state, typed};

fn ctrl(state: &mut State, c: char) {
    let ev = KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
    if let Some(a) = crmlens::app::action::map_key(state, ev) {
        drive(state, a);
    }
}

/// Replaces the text of the open prompt with `text` and presses Enter.
fn answer(state: &mut State, text: &str) {
    let len = match &state.overlay {
        Some(Overlay::Export { name: t, .. } | Overlay::SaveAs(t) | Overlay::Filter(t)) => {
            t.chars().count()
        }
        other => panic!("no text prompt open: {other:?}"),
    };
    for _ in 0..len {
        key(state, KeyCode::Backspace);
    }
    typed(state, text);
    key(state, KeyCode::Enter);
}

#[test]
fn undo_and_redo_every_change_of_selection_and_parameters() {
    let mut s = sample_state();
    let start = Snapshot::of(&s);
    let k0 = s.segments.params.kmeans.k;

    // Five changes on four screens.
    key(&mut s, KeyCode::Char('4'));
    key(&mut s, KeyCode::Char('+'));
    assert_eq!(s.segments.params.kmeans.k, k0 + 1);
    key(&mut s, KeyCode::Char('3'));
    let first = s.features.items[0].clone();
    key(&mut s, KeyCode::Char(' '));
    assert_ne!(s.features.items[0].selected, first.selected);
    let scaling0 = s.features.scaling;
    key(&mut s, KeyCode::Char('c'));
    assert_ne!(s.features.scaling, scaling0);
    key(&mut s, KeyCode::Char('5'));
    let support0 = s.rules.params.min_support;
    key(&mut s, KeyCode::Char('+'));
    assert_ne!(s.rules.params.min_support, support0);
    key(&mut s, KeyCode::Char('1'));
    key(&mut s, KeyCode::Char('/'));
    typed(&mut s, "gold");
    key(&mut s, KeyCode::Enter);
    let filtered = s.rows();
    assert!(filtered < 5000, "the filter keeps {filtered} rows");
    assert_eq!(s.history.undo_len(), 5);

    // Moving around and switching screens are not changes.
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Char('3'));
    key(&mut s, KeyCode::Char('j'));
    assert_eq!(s.history.undo_len(), 5);
    let after = Snapshot::of(&s);

    // Undo walks back one change at a time, newest first.
    key(&mut s, KeyCode::Char('u'));
    assert_eq!(s.data.filter, None);
    assert_eq!(s.rows(), 5000);
    key(&mut s, KeyCode::Char('u'));
    assert_eq!(s.rules.params.min_support, support0);
    assert_eq!(
        s.message.as_deref(),
        Some("undone: rules parameters (3 more to undo)")
    );
    key(&mut s, KeyCode::Char('u'));
    assert_eq!(s.features.scaling, scaling0);
    key(&mut s, KeyCode::Char('u'));
    assert_eq!(s.features.items[0].selected, first.selected);
    key(&mut s, KeyCode::Char('u'));
    assert_eq!(s.segments.params.kmeans.k, k0);
    assert_eq!(Snapshot::of(&s), start);
    key(&mut s, KeyCode::Char('u'));
    assert_eq!(s.message.as_deref(), Some("nothing to undo"));
    assert_eq!(Snapshot::of(&s), start);

    // Redo replays all five.
    for _ in 0..5 {
        ctrl(&mut s, 'r');
    }
    assert_eq!(Snapshot::of(&s), after);
    assert_eq!(s.rows(), filtered);
    ctrl(&mut s, 'r');
    assert_eq!(s.message.as_deref(), Some("nothing to redo"));

    // A new change after an undo drops what could be redone.
    key(&mut s, KeyCode::Char('u'));
    assert_eq!(s.history.redo_len(), 1);
    key(&mut s, KeyCode::Char('4'));
    key(&mut s, KeyCode::Char('-'));
    assert_eq!(s.history.redo_len(), 0);
    ctrl(&mut s, 'r');
    assert_eq!(s.message.as_deref(), Some("nothing to redo"));
}

#[test]
fn ctrl_s_saves_the_session_and_reopening_it_restores_every_screen() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('4'));
    key(&mut s, KeyCode::Char('+'));
    key(&mut s, KeyCode::Char('+'));
    key(&mut s, KeyCode::Char('3'));
    key(&mut s, KeyCode::Char(' '));
    key(&mut s, KeyCode::Char('c'));
    key(&mut s, KeyCode::Char('5'));
    key(&mut s, KeyCode::Char('b'));
    key(&mut s, KeyCode::Char('-'));
    key(&mut s, KeyCode::Char('8'));
    key(&mut s, KeyCode::Char('+'));

    // The first Ctrl-S asks; the bundled sample is not offered to overwrite, a new file is.
    ctrl(&mut s, 's');
    match &s.overlay {
        Some(Overlay::SaveAs(p)) => assert_eq!(p, "my-workspace.toml"),
        other => panic!("expected the save prompt, got {other:?}"),
    }
    // A name without .toml is refused and the prompt stays.
    let path = dir.path().join("saved.toml");
    answer(&mut s, dir.path().join("saved").to_str().unwrap());
    assert!(
        s.error.as_deref().unwrap().contains(".toml"),
        "{:?}",
        s.error
    );
    assert!(matches!(s.overlay, Some(Overlay::SaveAs(_))));
    answer(&mut s, path.to_str().unwrap());
    assert!(s.overlay.is_none());
    assert!(
        s.message
            .as_deref()
            .unwrap()
            .starts_with("saved the workspace to"),
        "{:?} {:?}",
        s.message,
        s.error
    );
    assert_eq!(s.save_path.as_deref(), Some(path.as_path()));

    // Reopening the file gives the same screens: features and every parameter.
    let mut t = State::new("reopened".into());
    let cmds = t.load(JobRequest::Workspace(path.clone()));
    run_commands(&mut t, cmds);
    assert_eq!(t.error, None);
    assert_eq!(t.rows(), 5000);
    assert_eq!(t.settings(), s.settings());
    assert_eq!(t.features.config(), s.features.config());
    assert_eq!(Snapshot::of(&t), Snapshot::of(&s));

    // The second Ctrl-S saves at once, keeping the previous version as .bak.
    let k_saved = s.segments.params.kmeans.k;
    key(&mut s, KeyCode::Char('4'));
    key(&mut s, KeyCode::Char('+'));
    ctrl(&mut s, 's');
    assert!(s.overlay.is_none());
    assert!(s.message.as_deref().unwrap().contains("saved.toml.bak"));
    let now = Workspace::load(&path).unwrap();
    let bak = Workspace::load(&dir.path().join("saved.toml.bak")).unwrap();
    let k = |w: &Workspace| w.segment.get("k").and_then(|v| v.as_integer());
    assert_eq!(k(&now), Some(k_saved as i64 + 1));
    assert_eq!(k(&bak), Some(k_saved as i64));
    // No temporary file is left beside them.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn quality_report_and_cluster_profiles_export_from_the_workbench() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = sample_state();

    key(&mut s, KeyCode::Char('2'));
    key(&mut s, KeyCode::Char('e'));
    assert_eq!(
        s.overlay,
        Some(Overlay::Export {
            target: crmlens::app::state::ExportTarget::Quality,
            name: "quality.csv".into()
        })
    );
    let csv = dir.path().join("quality.csv");
    answer(&mut s, csv.to_str().unwrap());
    let report = s.report.clone().unwrap();
    let rows = crmlens::export::quality_rows(&report);
    let back = crmlens::data::sources::file::read_frame(&csv, &Default::default()).unwrap();
    assert_eq!(back.height(), rows.len());
    let steps = back
        .column("section")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .filter(|v| *v == Some("step"))
        .count();
    assert_eq!(steps, report.steps.len());
    let json = dir.path().join("quality.json");
    key(&mut s, KeyCode::Char('e'));
    answer(&mut s, json.to_str().unwrap());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        v["steps"].as_array().unwrap().len(),
        report.steps.len(),
        "the JSON is the whole report"
    );

    key(&mut s, KeyCode::Char('4'));
    key(&mut s, KeyCode::Char('E'));
    assert!(
        s.error
            .as_deref()
            .unwrap()
            .contains("run a segmentation first")
    );
    key(&mut s, KeyCode::Char('r'));
    key(&mut s, KeyCode::Char('E'));
    assert_eq!(
        s.overlay,
        Some(Overlay::Export {
            target: crmlens::app::state::ExportTarget::Profiles,
            name: "profiles.csv".into()
        })
    );
    let out = dir.path().join("profiles.csv");
    answer(&mut s, out.to_str().unwrap());
    let profiles = s.segments.run.as_ref().unwrap().profiles.clone();
    let back = crmlens::data::sources::file::read_frame(&out, &Default::default()).unwrap();
    assert_eq!(back.height(), profiles.len());
    let sizes: Vec<i64> = back
        .column("size")
        .unwrap()
        .cast(&DataType::Int64)
        .unwrap()
        .i64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    let expected: Vec<i64> = profiles.iter().map(|p| p.size as i64).collect();
    assert_eq!(sizes, expected);
    let f = &profiles[0].features[0];
    let means = back.column(&format!("{}_mean", f.feature)).unwrap();
    let m0 = means
        .cast(&DataType::Float64)
        .unwrap()
        .f64()
        .unwrap()
        .get(0);
    assert!((m0.unwrap() - f.mean).abs() <= 1e-9 * f.mean.abs().max(1.0));
    // `e` is the labels again.
    key(&mut s, KeyCode::Char('e'));
    assert_eq!(
        s.overlay,
        Some(Overlay::Export {
            target: crmlens::app::state::ExportTarget::Labels,
            name: "segments.csv".into()
        })
    );
}

/// A load that fails opens a panel with the whole message; quitting still works.
#[test]
fn a_failed_load_shows_a_panel() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.toml");
    std::fs::write(&path, "[sources.customers]\npath = \"nowhere.csv\"\n").unwrap();
    let mut s = State::new("w".into());
    let cmds = s.load(JobRequest::Workspace(path));
    run_commands(&mut s, cmds);
    let Some(Overlay::LoadFailed(msg)) = s.overlay.clone() else {
        panic!("{:?}", s.overlay)
    };
    assert!(msg.contains("nowhere.csv"), "{msg}");
    let screen = crate::ui::draw(&s, 80, 24);
    assert!(screen.contains("could not load"), "{screen}");
    assert!(screen.contains("nowhere.csv"), "{screen}");
    assert!(screen.contains("Nothing is loaded"), "{screen}");
    key(&mut s, KeyCode::Char('q'));
    assert!(s.quit);
}
