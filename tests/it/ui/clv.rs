//! The CLV screen: fitting the sample's orders, ranking customers, CLV per segment, export.

use crmlens::progress::Progress;
use crmlens::screens::Screen;
use crossterm::event::KeyCode;

use super::{draw, key, sample_state, typed};
use crate::sample_dir;

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
    let cols = transaction_columns(&ws, None, None, None, &[]).unwrap();
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

/// `M` on the CLV screen saves the fitted models; on the real CDNOW log, `crmlens score` with
/// that file at the fit's calibration end writes what the screen's `e` export wrote, byte for
/// byte (nothing refitted).
#[test]
fn save_model_from_the_clv_screen_scores_as_the_screen_fitted() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("cdnow.csv");
    std::fs::copy(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/real/cdnow/cdnow_transactions.csv"),
        &log,
    )
    .unwrap();
    let mut s = crmlens::app::State::new("clv".into());
    let cmds = s.load(crmlens::app::job::JobRequest::Open {
        path: log.clone(),
        options: Default::default(),
    });
    super::run_commands(&mut s, cmds);
    key(&mut s, KeyCode::Char('7'));
    key(&mut s, KeyCode::Char('M'));
    assert!(s.error.as_deref().unwrap().contains("fit the models first"));
    s.error = None;
    key(&mut s, KeyCode::Char('r'));
    assert!(s.error.is_none(), "{:?}", s.error);
    let end = s.clv.result.as_ref().expect("a fit").calibration_end;
    let export = |s: &mut crmlens::app::State, k: char, default: &str, path: &std::path::Path| {
        key(s, KeyCode::Char(k));
        for _ in 0..default.len() {
            key(s, KeyCode::Backspace);
        }
        typed(s, path.to_str().unwrap());
        key(s, KeyCode::Enter);
        assert!(
            s.message.as_deref().unwrap_or("").starts_with("wrote"),
            "{:?} {:?}",
            s.message,
            s.error
        );
    };
    let (model, figures) = (dir.path().join("m.toml"), dir.path().join("screen.csv"));
    export(&mut s, 'M', "clv_model.toml", &model);
    export(&mut s, 'e', "clv.csv", &figures);
    let scored = dir.path().join("scored.csv");
    let o = crate::crmlens(
        dir.path(),
        &[
            "score",
            "--model",
            model.to_str().unwrap(),
            "--input",
            log.to_str().unwrap(),
            "--as-of",
            &end.to_string(),
            "--out",
            scored.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", crate::stderr(&o));
    // The screen's export has the figures; `score --out` has the columns of `clv --out`
    // (the summary besides): the ids and every figure are the same, to the bit.
    let read = |p: &std::path::Path| {
        crmlens::data::sources::file::read_frame(p, &Default::default()).unwrap()
    };
    let (a, b) = (read(&scored), read(&figures));
    let text = |df: &polars::prelude::DataFrame, c: usize| -> Vec<String> {
        df.columns()[c]
            .cast(&polars::prelude::DataType::String)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(text(&a, 0), text(&b, 0));
    for c in ["p_alive", "expected_purchases", "expected_spend", "clv"] {
        let ia = a.get_column_index(c).unwrap();
        let ib = b.get_column_index(c).unwrap();
        assert_eq!(text(&a, ia), text(&b, ib), "{c}");
    }
    assert_eq!(a.height(), s.clv.result.as_ref().unwrap().ids.len());
}
