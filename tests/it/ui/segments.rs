//! The Segments screen: k-means, cancelling a run, the k sweep, exporting labels, DBSCAN
//! with its k-distance curve, and Gaussian mixtures.

use crmlens::analytics::segment::{Algorithm, SegmentModel};
use crmlens::app::Action;
use crmlens::app::State;
use crmlens::app::job::{JobDone, JobRequest};
use crmlens::app::state::{Command, Overlay, update};
use crmlens::screens::Screen;
use crossterm::event::KeyCode;

use super::{draw, key, sample_state, small_state, started, typed};

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

/// The k sweep's keys and panes (on a small table: the figures are not what is tested).
#[test]
fn sweep_from_the_segments_screen() {
    let mut s = small_state();
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
        assert_eq!(
            s.overlay,
            Some(Overlay::Export {
                target: crmlens::app::state::ExportTarget::Labels,
                name: "segments.csv".into()
            })
        );
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
    assert_eq!(
        s.overlay,
        Some(Overlay::ConfirmOverwrite {
            target: crmlens::app::state::ExportTarget::Labels,
            path: path.clone()
        })
    );
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

/// `M` saves the shown segmentation; the model file scores the screen's table with the run's
/// labels, exactly; a second `M` to the same file asks first. Also after the Features
/// selection changed (the model keeps the run's).
#[test]
fn save_model_from_the_segments_screen_scores_the_table_as_the_run_labelled_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.toml");
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('4'));
    key(&mut s, KeyCode::Char('M'));
    assert!(
        s.error
            .as_deref()
            .unwrap()
            .contains("run a segmentation first")
    );
    s.error = None;
    for algo in [Algorithm::KMeans, Algorithm::Gmm, Algorithm::Dbscan] {
        s.segments.params.algorithm = algo;
        s.segments.params.eps = 1.0;
        key(&mut s, KeyCode::Char('r'));
        let run = s.segments.run.clone().expect("a result");
        // The selection changes after the run; the saved model is the run's.
        if let Some(item) = s.features.items.iter_mut().find(|i| i.selected) {
            item.selected = false;
        }
        key(&mut s, KeyCode::Char('M'));
        assert_eq!(
            s.overlay,
            Some(Overlay::Export {
                target: crmlens::app::state::ExportTarget::Model,
                name: "segments_model.toml".into()
            })
        );
        for _ in 0.."segments_model.toml".len() {
            key(&mut s, KeyCode::Backspace);
        }
        typed(&mut s, path.to_str().unwrap());
        key(&mut s, KeyCode::Enter);
        if path.exists() && s.overlay.is_some() {
            key(&mut s, KeyCode::Char('y'));
        }
        assert!(
            s.message.as_deref().unwrap().starts_with("wrote 1 model"),
            "{:?} {:?}",
            s.message,
            s.error
        );
        let model = crmlens::pipeline::saved::SavedModel::load(&path).unwrap();
        let table = (*s.table.clone().unwrap()).clone();
        let key_col = table.get_column_names()[0].to_string();
        let scored = crmlens::pipeline::saved::score(&model, table, &key_col).unwrap();
        assert_eq!(scored.labels.unwrap(), run.labels, "{algo:?}");
        assert!(scored.drift.iter().all(|d| d.psi == 0.0));
    }
}
