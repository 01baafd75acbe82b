//! The Predict screen: a run explained and exported, what it refuses, and a multi-class
//! target.

use crmlens::app::state::Overlay;
use crmlens::progress::Progress;
use crmlens::screens::Screen;
use crossterm::event::KeyCode;

use super::{draw, key, sample_state, small_state, typed};

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
    assert_eq!(s.predict.settings.target.as_deref(), Some("churned"));
    assert!(draw(&s, 120, 40).contains("no model yet"));
    // Logistic regression: down to the model row, + twice (forest -> tree -> logistic).
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Char('j'));
    assert_eq!(s.predict.current(), PField::Model);
    key(&mut s, KeyCode::Char('+'));
    key(&mut s, KeyCode::Char('+'));
    assert_eq!(s.predict.settings.model, ModelKind::Logistic);
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
        &s.predict.settings.params(),
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

    // W: grid search over alpha, then a applies the best.
    key(&mut s, KeyCode::Char('W'));
    let g = s.predict.grid.clone().expect("grid");
    assert_eq!(s.predict.pane, Pane::Grid);
    assert_eq!(g.rows.len(), 5);
    key(&mut s, KeyCode::Char('a'));
    assert_eq!(s.predict.settings.alpha, g.rows[g.best].alpha);
    assert!(draw(&s, 120, 40).contains("★"));

    // A decision tree: the tree pane shows its splits.
    while s.predict.current() != PField::Model {
        key(&mut s, KeyCode::Char('k'));
    }
    key(&mut s, KeyCode::Char('-'));
    assert_eq!(s.predict.settings.model, ModelKind::Tree);
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
    assert_eq!(
        s.overlay,
        Some(Overlay::Export {
            target: crmlens::app::state::ExportTarget::Scores,
            name: "at_risk.csv".into()
        })
    );
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
/// is 4 x 4 and the metrics are macro averages; the ROC pane says it is for two classes. On a
/// small table: the figures are not what is tested.
#[test]
fn predict_a_multi_class_target() {
    let mut s = small_state();
    key(&mut s, KeyCode::Char('6'));
    assert!(s.predict.targets.contains(&"channel".to_string()));
    assert!(!s.predict.targets.contains(&"monetary".to_string()));
    while s.predict.settings.target.as_deref() != Some("channel") {
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

/// `M` saves the shown prediction's model; it scores the screen's table with the run's
/// probabilities, exactly, for a forest and a logistic regression.
#[test]
fn save_model_from_the_predict_screen_scores_the_table_as_the_run_did() {
    use crmlens::analytics::predict::ModelKind;
    let dir = tempfile::tempdir().unwrap();
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('6'));
    key(&mut s, KeyCode::Char('M'));
    assert!(
        s.error
            .as_deref()
            .unwrap()
            .contains("run a prediction first")
    );
    s.error = None;
    for (n, model) in [ModelKind::Forest, ModelKind::Logistic]
        .into_iter()
        .enumerate()
    {
        s.predict.settings.model = model;
        s.predict.settings.trees = 20;
        key(&mut s, KeyCode::Char('r'));
        assert!(s.error.is_none(), "{:?}", s.error);
        let p = s.predict.result.clone().expect("a prediction");
        let path = dir.path().join(format!("p{n}.toml"));
        key(&mut s, KeyCode::Char('M'));
        assert_eq!(
            s.overlay,
            Some(Overlay::Export {
                target: crmlens::app::state::ExportTarget::Model,
                name: "predict_model.toml".into()
            })
        );
        for _ in 0.."predict_model.toml".len() {
            key(&mut s, KeyCode::Backspace);
        }
        typed(&mut s, path.to_str().unwrap());
        key(&mut s, KeyCode::Enter);
        assert!(
            s.message
                .as_deref()
                .unwrap_or("")
                .starts_with("wrote 1 model"),
            "{:?} {:?}",
            s.message,
            s.error
        );
        let saved = crmlens::pipeline::saved::SavedModel::load(&path).unwrap();
        let table = (*s.table.clone().unwrap()).clone();
        let scored = crmlens::pipeline::saved::score(&saved, table, "customer_id").unwrap();
        assert_eq!(
            scored.probabilities.unwrap(),
            p.run.probabilities,
            "{model:?}"
        );
        assert_eq!(scored.predicted.unwrap(), p.run.predicted());
    }
}

/// A value target on the Predict screen: the Target line offers the sample's amounts after
/// its classes; picking `monetary` makes the task regression, the model line offers the
/// regressors, r fits one (the engine's own result on the same matrix), the screen shows
/// the metrics against the baseline, the scatter and the residuals, the customers predicted
/// highest, w compares the four regressors, W grid-searches, e exports the values and M saves
/// a model that scores the table as the run did.
#[test]
fn predict_screen_regresses_a_value_target() {
    use crmlens::analytics::predict::{ModelKind, Task};
    use crmlens::screens::predict::{PField, Pane};
    let dir = tempfile::tempdir().unwrap();
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('6'));
    assert!(s.predict.value_targets.contains(&"monetary".to_string()));
    assert!(!s.predict.value_targets.contains(&"churned".to_string()));
    assert_eq!(s.predict.task(), Task::Classification);
    for _ in 0..60 {
        if s.predict.settings.target.as_deref() == Some("monetary") {
            break;
        }
        key(&mut s, KeyCode::Char('+'));
    }
    assert_eq!(s.predict.settings.target.as_deref(), Some("monetary"));
    assert_eq!(s.predict.task(), Task::Regression);
    assert!(!s.predict.fields().contains(&PField::Threshold));
    // The model line offers the regressors: forest -> gbdt -> linear.
    while s.predict.current() != PField::Model {
        key(&mut s, KeyCode::Char('j'));
    }
    key(&mut s, KeyCode::Char('+'));
    assert_eq!(s.predict.settings.model, ModelKind::Gbdt);
    assert!(s.predict.fields().contains(&PField::Loss));
    key(&mut s, KeyCode::Char('+'));
    assert_eq!(s.predict.settings.model, ModelKind::Linear);
    // Fewer trees for the comparison below.
    s.predict.settings.trees = 20;
    key(&mut s, KeyCode::Char('r'));
    assert!(s.error.is_none(), "{:?}", s.error);
    assert!(s.predict.result.is_none());
    let v = s.predict.values.clone().expect("a regression run");
    // The same run straight from the engine, on the same matrix (the target left out).
    let table = s.table.clone().unwrap();
    let mut config = s.features.config();
    assert!(config.without("monetary"));
    let m = crmlens::data::features::build_features(&table, "customer_id", &config).unwrap();
    let y = crmlens::data::features::target::values(&table, "monetary").unwrap();
    let direct = crmlens::analytics::regress::run_regression(
        m.values.view(),
        &m.names,
        &y,
        &s.predict.settings.params(),
        &Progress::new(),
    )
    .unwrap();
    assert_eq!(v.run, direct);
    assert!(v.run.test.rmse < v.run.baseline.rmse);
    let screen = draw(&s, 120, 40);
    for want in [
        "monetary (values)",
        "RMSE",
        "base RMSE",
        "predicted ↑ vs actual",
        "residuals (actual − predicted) · median",
        "importance",
    ] {
        assert!(screen.contains(want), "{want}: {screen}");
    }
    s.message = Some("done".into());
    insta::assert_snapshot!("120x40_Predict_linear_values", draw(&s, 120, 40));
    // v: the customers predicted highest, highest first.
    key(&mut s, KeyCode::Char('v'));
    assert_eq!(s.predict.pane, Pane::AtRisk);
    let top = v.top.clone();
    assert!(
        top.windows(2)
            .all(|w| v.run.predictions[w[0]] >= v.run.predictions[w[1]])
    );
    let ids = table.column("customer_id").unwrap().str().unwrap().clone();
    let screen = draw(&s, 120, 40);
    assert!(screen.contains("highest predicted monetary"), "{screen}");
    assert!(screen.contains(ids.get(top[0]).unwrap()));
    // e: their values, in list order.
    let path = dir.path().join("top.csv");
    key(&mut s, KeyCode::Char('e'));
    for _ in 0.."highest_predicted.csv".len() {
        key(&mut s, KeyCode::Backspace);
    }
    typed(&mut s, path.to_str().unwrap());
    key(&mut s, KeyCode::Enter);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("customer_id,actual,predicted,set"),
        "{text}"
    );
    let written: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    let want: Vec<&str> = top.iter().map(|&r| ids.get(r).unwrap()).collect();
    assert_eq!(written, want);
    // w: the four regressors on the same folds; each equals its own cross-validation.
    key(&mut s, KeyCode::Char('w'));
    assert!(s.error.is_none(), "{:?}", s.error);
    let c = s.predict.comparison.clone().expect("a comparison");
    assert_eq!(s.predict.pane, Pane::Compare);
    assert_eq!(c.metric, "rmse");
    let models: Vec<ModelKind> = c.rows.iter().map(|r| r.model).collect();
    assert_eq!(models, ModelKind::REGRESSORS.to_vec());
    assert_eq!(c.rows[0].cv, v.run.cv);
    let screen = draw(&s, 120, 40);
    assert!(
        screen.contains("models compared") && screen.contains("★"),
        "{screen}"
    );
    // W: the grid over alpha for the linear model.
    key(&mut s, KeyCode::Char('W'));
    let g = s.predict.grid.clone().expect("a grid");
    assert_eq!(g.metric, "rmse");
    assert_eq!(g.rows.len(), 5);
    assert!(
        g.rows
            .iter()
            .all(|r| r.cv["rmse"].mean >= g.rows[g.best].cv["rmse"].mean)
    );
    // M: the model scores the table with the run's values.
    let model = dir.path().join("values_model.toml");
    key(&mut s, KeyCode::Char('M'));
    for _ in 0.."predict_model.toml".len() {
        key(&mut s, KeyCode::Backspace);
    }
    typed(&mut s, model.to_str().unwrap());
    key(&mut s, KeyCode::Enter);
    assert!(s.error.is_none(), "{:?}", s.error);
    let saved = crmlens::pipeline::saved::SavedModel::load(&model).unwrap();
    let scored = crmlens::pipeline::saved::score(&saved, (*table).clone(), "customer_id").unwrap();
    assert_eq!(scored.values.unwrap(), v.run.predictions);
}

/// `n` on the Predict screen: the target becomes each customer's next-period spend from the
/// sample's order lines in the CLV screen's window; the run is the pipeline's own, shows
/// BG/NBD + Gamma-Gamma on the same customers beside the regressor, beats the mean, lists
/// the order lines' customers (not the table's rows) and exports their values; `n` again
/// asks for purchases, and once more goes back to the table's columns.
#[test]
fn next_period_spend_is_one_key_away() {
    use crmlens::pipeline::next_period::NextTarget;
    use crmlens::screens::predict::{PField, Pane};
    let dir = tempfile::tempdir().unwrap();
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('6'));
    s.predict.settings.trees = 20;
    key(&mut s, KeyCode::Char('n'));
    assert!(s.error.is_none(), "{:?}", s.error);
    assert_eq!(s.predict.next, Some(NextTarget::Spend));
    assert_eq!(s.predict.display(PField::Target), "next spend");
    let v = s.predict.values.clone().expect("a next-period run");
    let n = v.next.clone().expect("the window");
    let direct = crmlens::pipeline::next_period::predict(
        &super::sample_workspace(),
        &Default::default(),
        &s.clv.settings,
        NextTarget::Spend,
        &s.predict.settings,
        crmlens::pipeline::predict::Mode::Run,
        &Progress::new(),
    )
    .unwrap();
    let crmlens::pipeline::predict::Predicted::Values(direct) = direct else {
        panic!("values")
    };
    assert_eq!(direct.run, v.run);
    assert_eq!(direct.next, v.next);
    assert!(v.run.test.rmse < v.run.baseline.rmse);
    assert!(n.observation_end > n.calibration_end);
    let screen = draw(&s, 120, 40);
    assert!(screen.contains("BG/NBD·GG"), "{screen}");
    assert!(
        screen.contains(&format!("next_spend after {}", n.calibration_end)),
        "{screen}"
    );
    // The customers predicted highest are the order lines' customers.
    key(&mut s, KeyCode::Char('v'));
    assert_eq!(s.predict.pane, Pane::AtRisk);
    let ids = v.ids.clone().unwrap();
    assert!(draw(&s, 120, 40).contains(&ids[v.top[0]]));
    let path = dir.path().join("next.csv");
    key(&mut s, KeyCode::Char('e'));
    for _ in 0.."highest_predicted.csv".len() {
        key(&mut s, KeyCode::Backspace);
    }
    typed(&mut s, path.to_str().unwrap());
    key(&mut s, KeyCode::Enter);
    let text = std::fs::read_to_string(&path).unwrap();
    let first = text.lines().nth(1).unwrap();
    assert!(first.starts_with(&format!("{},", ids[v.top[0]])), "{text}");
    // M refuses, saying why.
    key(&mut s, KeyCode::Char('M'));
    let m = dir.path().join("next_model.toml");
    for _ in 0.."predict_model.toml".len() {
        key(&mut s, KeyCode::Backspace);
    }
    typed(&mut s, m.to_str().unwrap());
    key(&mut s, KeyCode::Enter);
    assert!(
        s.error
            .as_deref()
            .unwrap_or("")
            .contains("next-period model is not saved")
    );
    assert!(!m.exists());
    // n: purchases; n: the table's columns again.
    key(&mut s, KeyCode::Char('n'));
    assert_eq!(s.predict.next, Some(NextTarget::Purchases));
    assert_eq!(s.predict.values.as_ref().unwrap().target, "next_purchases");
    key(&mut s, KeyCode::Char('n'));
    assert_eq!(s.predict.next, None);
    assert_eq!(s.predict.display(PField::Target), "churned");
}
