//! The workbench follows its sources (`crmlens::app::follow`): the event loop's report of a
//! grown file puts "new data" in the status line; F5 (or F6's auto mode) refreshes the view
//! on a worker; the shown customers keep their rows, new and changed rows are marked, the
//! Data screen's sort stays, and the Segments and Predict screens assign the refreshed
//! customers with their current model (the customers they were fit on keep their labels and
//! probabilities exactly). On real data: the CDNOW log and the `mlc_churn` table.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use crmlens::app::Action;
use crmlens::app::State;
use crmlens::app::job::{JobOutcome, JobRequest, run_now};
use crmlens::data::integrate::follow::{Mark, signature};
use crmlens::pipeline::saved::{SavedModel, score};
use crossterm::event::KeyCode;
use polars::prelude::{DataFrame, SortMultipleOptions};

use super::{draw, drive, key, run_commands, typed};

fn real(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/real")
        .join(path)
}

/// Writes the header and the first `keep` lines of `from` to `to`; returns the other lines.
fn hold_back(from: &Path, to: &Path, keep: usize) -> Vec<String> {
    let text = fs::read_to_string(from).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    fs::write(to, lines[..=keep].join("\n") + "\n").unwrap();
    lines[keep + 1..].iter().map(|l| l.to_string()).collect()
}

fn append(path: &Path, lines: &[String]) {
    use std::io::Write as _;
    let mut f = fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all((lines.join("\n") + "\n").as_bytes()).unwrap();
    // Sizes differ, so the change shows even within the file system's time resolution.
}

/// Opens `path` in the workbench (its jobs run here).
fn opened(path: &Path) -> State {
    let mut s = State::new("follow".into());
    let cmds = s.load(JobRequest::Open {
        path: path.to_path_buf(),
        options: Default::default(),
    });
    run_commands(&mut s, cmds);
    assert!(s.table.is_some(), "{:?}", s.error);
    s
}

/// What a fresh load of `path` gives: the table a refresh must equal.
fn full_table(path: &Path) -> DataFrame {
    match run_now(JobRequest::Open {
        path: path.to_path_buf(),
        options: Default::default(),
    }) {
        JobOutcome::Loaded(l) => l.table,
        other => panic!("{other:?}"),
    }
}

fn key_column(t: &DataFrame) -> String {
    t.get_column_names()[0].to_string()
}

fn keys(t: &DataFrame) -> Vec<String> {
    let c = t.columns()[0]
        .cast(&polars::prelude::DataType::String)
        .unwrap();
    c.str()
        .unwrap()
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect()
}

/// Each row as text, by key.
fn rows_by_key(t: &DataFrame) -> HashMap<String, Vec<String>> {
    let k = keys(t);
    (0..t.height())
        .map(|i| {
            let row = t
                .get_row(i)
                .unwrap()
                .0
                .iter()
                .map(|v| format!("{v:?}"))
                .collect();
            (k[i].clone(), row)
        })
        .collect()
}

fn sorted(t: &DataFrame) -> DataFrame {
    t.sort([key_column(t)], SortMultipleOptions::default())
        .unwrap()
}

/// Tells the workbench the files changed, as its event loop does.
fn files_changed(s: &mut State) {
    let now = signature(&s.follow.files);
    drive(s, Action::SourcesChanged(now));
}

/// The CDNOW log (real) opened as a transaction log; half its lines arrive later, then the
/// rest. After each refresh the table equals a fresh load of the whole file; the marks
/// equal a row-by-row comparison with the table shown before; the segmentation assigns the
/// new customers and keeps every unchanged customer's label; the lifetime values are run
/// again and equal a fresh session's; the Data sort stays.
#[test]
fn a_growing_transaction_log_is_refreshed_with_marks_and_kept_selections() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("cdnow.csv");
    let source = real("cdnow/cdnow_transactions.csv");
    let n = fs::read_to_string(&source).unwrap().lines().count() - 1;
    let later = hold_back(&source, &log, n / 2);
    let (first, second) = later.split_at(later.len() / 2);
    let mut s = opened(&log);
    assert_eq!(s.follow.files.len(), 1);
    assert_eq!(s.follow.files[0].path, log);

    // Lifetime values, a segmentation, and the Data table sorted by its second column.
    key(&mut s, KeyCode::Char('7'));
    key(&mut s, KeyCode::Char('r'));
    assert!(s.clv.result.is_some(), "{:?}", s.error);
    key(&mut s, KeyCode::Char('4'));
    key(&mut s, KeyCode::Char('r'));
    assert!(s.segments.run.is_some(), "{:?}", s.error);
    key(&mut s, KeyCode::Char('1'));
    key(&mut s, KeyCode::Char('l'));
    key(&mut s, KeyCode::Char('s'));
    let sort = s.data.sort.clone();
    assert!(sort.is_some());

    // Nothing changed: the loop's report says nothing.
    files_changed(&mut s);
    assert!(s.follow.arrived.is_empty());

    for (round, lines) in [first, second].into_iter().enumerate() {
        let before = (*s.table.clone().unwrap()).clone();
        let labels_before = s.segments.run.as_ref().unwrap().labels.clone();
        append(&log, lines);
        files_changed(&mut s);
        if round == 0 {
            // The status line says what arrived; F5 reads it.
            assert_eq!(s.follow.arrived.len(), 1);
            assert!(s.follow.arrived[0].starts_with("cdnow.csv +"));
            assert!(
                s.message
                    .as_deref()
                    .unwrap()
                    .starts_with("new data: cdnow.csv +"),
                "{:?}",
                s.message
            );
            assert!(draw(&s, 120, 30).contains("NEW DATA: F5"));
            assert_eq!(s.table.as_ref().unwrap().height(), before.height());
            key(&mut s, KeyCode::F(5));
        } else {
            // Arrived, not yet refreshed: F6 turns follow on and refreshes at once.
            assert!(!s.follow.arrived.is_empty());
            key(&mut s, KeyCode::F(6));
            assert!(s.follow.auto);
        }
        assert!(s.follow.arrived.is_empty(), "{:?}", s.follow.arrived);
        assert!(s.error.is_none(), "{:?}", s.error);
        let table = (*s.table.clone().unwrap()).clone();
        let full = full_table(&log);
        assert!(
            sorted(&table).equals_missing(&sorted(&full)),
            "round {round}: the refreshed table differs from a fresh load"
        );
        // The customers shown before keep their rows; new ones come after them.
        let (k_before, k_now) = (keys(&before), keys(&table));
        assert_eq!(k_now[..k_before.len()], k_before[..]);
        // Marks, against a row-by-row comparison.
        let old = rows_by_key(&before);
        let now = rows_by_key(&table);
        let marks = s.follow.marks.clone().unwrap();
        assert_eq!(marks.len(), table.height());
        for (i, k) in k_now.iter().enumerate() {
            let expected = match old.get(k) {
                None => Mark::New,
                Some(row) if *row == now[k] => Mark::Same,
                Some(_) => Mark::Changed,
            };
            assert_eq!(marks[i], expected, "round {round}, customer {k}");
        }
        let new = marks.iter().filter(|m| **m == Mark::New).count();
        assert!(new > 0, "round {round}: new customers arrive");
        assert!(
            s.message
                .as_deref()
                .unwrap()
                .contains(&format!("{new} new (+)")),
            "{:?}",
            s.message
        );
        // The lifetime values were run again on the grown log: as a fresh session's.
        let mut fresh = opened(&log);
        key(&mut fresh, KeyCode::Char('7'));
        key(&mut fresh, KeyCode::Char('r'));
        let (a, b) = (
            s.clv.result.as_ref().unwrap(),
            fresh.clv.result.as_ref().unwrap(),
        );
        assert_eq!(a.ids, b.ids, "round {round}");
        assert_eq!(a.run.rows, b.run.rows, "round {round}");
        assert!(
            a.ids.len() > before.height(),
            "round {round}: new customers valued"
        );
        assert!(
            s.message
                .as_deref()
                .unwrap()
                .contains("lifetime values run again"),
            "{:?}",
            s.message
        );
        // The segmentation covers every row; an unchanged customer keeps its label.
        let run = s.segments.run.as_ref().unwrap();
        assert_eq!(run.labels.len(), table.height());
        for i in 0..before.height() {
            if marks[i] == Mark::Same {
                assert_eq!(run.labels[i], labels_before[i], "customer {}", k_now[i]);
            }
        }
        assert_eq!(run.sizes.iter().sum::<usize>() + run.noise, table.height());
        // The Data sort is still on and covers the new rows.
        assert_eq!(s.data.sort, sort);
        assert_eq!(s.data.order.as_ref().unwrap().len(), table.height());
        // The key cell of a new row shows its mark.
        let pos = s
            .data
            .order
            .as_ref()
            .unwrap()
            .iter()
            .position(|&r| marks[r as usize] == Mark::New)
            .unwrap();
        s.data.row = pos;
        let screen = draw(&s, 120, 30);
        let shown = &k_now[s.data.order.as_ref().unwrap()[pos] as usize];
        assert!(
            screen.contains(&format!("+ {shown} ")),
            "no mark for {shown}:\n{screen}"
        );
    }

    // Follow is on: a new customer's line arriving refreshes the view by itself.
    let rows = s.table.as_ref().unwrap().height();
    append(&log, &["9999,99999,19970301,1,12.50".to_string()]);
    files_changed(&mut s);
    assert_eq!(s.table.as_ref().unwrap().height(), rows + 1);
    let marks = s.follow.marks.clone().unwrap();
    assert_eq!(marks[rows], Mark::New);
    assert!(marks[..rows].iter().all(|m| *m == Mark::Same));
    assert!(draw(&s, 120, 30).contains("FOLLOWING"));

    // The model saved with M after the refreshes is the one fit before them: it scores the
    // refreshed table exactly as the screen assigned it.
    let path = dir.path().join("seg.toml");
    key(&mut s, KeyCode::Char('4'));
    key(&mut s, KeyCode::Char('M'));
    for _ in 0.."segments_model.toml".len() {
        key(&mut s, KeyCode::Backspace);
    }
    typed(&mut s, path.to_str().unwrap());
    key(&mut s, KeyCode::Enter);
    let model = SavedModel::load(&path).unwrap();
    let table = (*s.table.clone().unwrap()).clone();
    let id = key_column(&table);
    let scored = score(&model, table, &id).unwrap();
    assert_eq!(
        scored.labels.unwrap(),
        s.segments.run.as_ref().unwrap().labels
    );
    // The session's incremental state is temporary: gone with the session.
    let state = s.follow.state_dir.clone().unwrap();
    assert!(state.join("manifest.toml").exists());
    drop(s);
    assert!(!state.exists());
}

/// The `mlc_churn` extract (real; its first column, the US state, repeats, so rows follow by
/// position) opened as a plain file with 120 of its 200 rows and a churn forest; the other
/// 80 rows arrive. The Predict screen scores every row with its model: the 120 keep their
/// probabilities exactly, and the probabilities equal those of the model saved with M.
const KEPT: usize = 120;

#[test]
fn a_grown_table_is_scored_with_the_current_prediction() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("churn.csv");
    let rest = hold_back(&real("mlc_churn/mlc_churn.csv"), &file, KEPT);
    let mut s = opened(&file);
    key(&mut s, KeyCode::Char('6'));
    s.predict.settings.target = Some("churn".into());
    key(&mut s, KeyCode::Char('r'));
    let before = s.predict.result.as_ref().expect("a prediction").clone();
    assert_eq!(before.run.probabilities.len(), KEPT);

    append(&file, &rest);
    key(&mut s, KeyCode::F(5));
    assert!(s.error.is_none(), "{:?}", s.error);
    let table = (*s.table.clone().unwrap()).clone();
    assert_eq!(table.height(), KEPT + rest.len());
    assert!(
        sorted(&table).equals_missing(&sorted(&full_table(&file))),
        "the refreshed table differs from a fresh load"
    );
    let marks = s.follow.marks.clone().unwrap();
    assert!(marks[..KEPT].iter().all(|m| *m == Mark::Same));
    assert!(marks[KEPT..].iter().all(|m| *m == Mark::New));

    let after = s.predict.result.clone().unwrap();
    assert_eq!(after.run.probabilities.len(), table.height());
    assert_eq!(
        after.run.probabilities[..KEPT],
        before.run.probabilities[..]
    );
    // Each row's actual class is the table's.
    let churn: Vec<String> = table
        .column("churn")
        .unwrap()
        .cast(&polars::prelude::DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.unwrap().to_string())
        .collect();
    let actual: Vec<String> = after.y.iter().map(|&c| after.classes[c].clone()).collect();
    assert_eq!(actual, churn);
    assert!(after.at_risk.iter().all(|&r| r < table.height()));
    assert!(
        s.message
            .as_deref()
            .unwrap()
            .contains(&format!("predict: {} customers scored", table.height())),
        "{:?}",
        s.message
    );

    // M saves the model fit on the first rows; it scores the grown table as the screen did.
    let path = dir.path().join("churn_model.toml");
    key(&mut s, KeyCode::Char('M'));
    for _ in 0.."predict_model.toml".len() + 5 {
        key(&mut s, KeyCode::Backspace);
    }
    typed(&mut s, path.to_str().unwrap());
    key(&mut s, KeyCode::Enter);
    let model = SavedModel::load(&path).unwrap_or_else(|e| panic!("{e}: {:?}", s.error));
    assert_eq!(model.training.rows, KEPT);
    let id = key_column(&table);
    let scored = score(&model, table, &id).unwrap();
    assert_eq!(scored.probabilities.unwrap(), after.run.probabilities);
}
