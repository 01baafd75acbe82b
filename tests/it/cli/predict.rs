//! `crmlens predict`: churn on the sample, at-risk lists, thresholds and grids, bad inputs.

use std::fs;

use super::assert_user_error;
use crate::{crmlens, sample_dir, stderr, stdout};

/// `predict` on the sample's churn: the JSON contract, an AUC below the generator's true
/// probability ceiling and well above chance, accuracy above the majority baseline.
#[test]
fn predict_churn_on_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_dir().join("crmlens.toml");
    let truth: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(sample_dir().join("ground_truth.json")).unwrap())
            .unwrap();
    let ceiling = truth["churn_auc_true_probability"].as_f64().unwrap();
    let out = dir.path().join("scores.csv");
    let o = crmlens(
        dir.path(),
        &[
            "predict",
            "--input",
            ws.to_str().unwrap(),
            "--target",
            "churned",
            "--features",
            "recency_days,frequency,monetary,avg_order_value,tenure_days,tickets,sessions",
            "--fill",
            "median",
            "--model",
            "logistic",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["model"], "logistic");
    assert_eq!(v["n_rows"], 5000);
    assert_eq!(v["classes"], serde_json::json!(["0", "1"]));
    let auc = v["test"]["roc_auc"].as_f64().unwrap();
    assert!(
        auc > 0.75 && auc < ceiling + 0.03,
        "AUC {auc}, ceiling {ceiling}"
    );
    let acc = v["test"]["accuracy"].as_f64().unwrap();
    assert!(acc >= v["baseline_accuracy"].as_f64().unwrap());
    for k in ["accuracy", "precision", "recall", "f1", "roc_auc"] {
        assert!(v["test"][k].is_number(), "{k}");
        assert!(
            v["cv"][k]["mean"].is_number() && v["cv"][k]["std"].is_number(),
            "{k}"
        );
    }
    let cm: u64 = v["test"]["confusion_matrix"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|c| c.as_u64().unwrap()))
        .sum();
    assert_eq!(cm, v["test_rows"].as_u64().unwrap());
    let imp: Vec<f64> = v["feature_importance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["importance"].as_f64().unwrap())
        .collect();
    assert_eq!(imp.len(), 7);
    assert!(imp.windows(2).all(|w| w[0] >= w[1]));
    let scores = fs::read_to_string(&out).unwrap();
    assert!(scores.starts_with("customer_id,actual,p_0,p_1,predicted"));
    assert_eq!(scores.lines().count(), 5001);
}

/// The at-risk list, the threshold, --positive and the grid, checked against the scores the
/// same run writes.
#[test]
fn predict_at_risk_threshold_positive_and_grid() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_dir().join("crmlens.toml");
    let out = dir.path().join("scores.csv");
    let o = crmlens(
        dir.path(),
        &[
            "predict",
            "--input",
            ws.to_str().unwrap(),
            "--target",
            "churned",
            "--features",
            "recency_days,frequency,monetary,tickets",
            "--model",
            "tree",
            "--max-depth",
            "4",
            "--positive",
            "0",
            "--threshold",
            "0.7",
            "--top",
            "5",
            "--grid",
            "--grid-depth",
            "2,4",
            "--grid-min-leaf",
            "1,20",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    // --positive 0 puts "0" last, so it is the class the threshold and at_risk are about.
    assert_eq!(v["classes"], serde_json::json!(["1", "0"]));
    assert_eq!(v["positive"], "0");
    assert_eq!(v["threshold"], 0.7);
    assert_eq!(
        v["class_counts"]["0"].as_u64().unwrap() + v["class_counts"]["1"].as_u64().unwrap(),
        5000
    );
    // at_risk: the 5 highest p_0 in the scores file among rows not already 0.
    let scores = fs::read_to_string(&out).unwrap();
    let mut lines = scores.lines();
    assert_eq!(
        lines.next(),
        Some("customer_id,actual,p_1,p_0,predicted,set")
    );
    let mut test_rows = 0;
    let rows: Vec<(String, String, f64, String)> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert!(f[5] == "train" || f[5] == "test", "{l}");
            test_rows += usize::from(f[5] == "test");
            (
                f[0].to_string(),
                f[1].to_string(),
                f[3].parse().unwrap(),
                f[4].to_string(),
            )
        })
        .collect();
    // `set` marks the held-out rows the test metrics are computed on.
    assert_eq!(test_rows as u64, v["test_rows"].as_u64().unwrap());
    // The threshold decides the predicted class.
    for (id, _, p0, predicted) in &rows {
        assert_eq!(predicted == "0", *p0 >= 0.7, "{id} {p0} {predicted}");
    }
    let mut rows: Vec<(String, f64)> = rows
        .into_iter()
        .filter(|r| r.1 != "0")
        .map(|r| (r.0, r.2))
        .collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let at_risk = v["at_risk"].as_array().unwrap();
    assert_eq!(at_risk.len(), 5);
    for (got, want) in at_risk.iter().zip(&rows) {
        assert_eq!(got["id"].as_str().unwrap(), want.0);
        assert!((got["probability"].as_f64().unwrap() - want.1).abs() < 1e-9);
    }
    // The grid: 2 depths x 2 leaf sizes, the best by cross-validated ROC-AUC.
    let grid = &v["grid"];
    assert_eq!(grid["metric"], "roc_auc");
    let rows = grid["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let best = grid["best"].as_u64().unwrap() as usize;
    let auc = |r: &serde_json::Value| r["cv"]["roc_auc"]["mean"].as_f64().unwrap();
    assert!(rows.iter().all(|r| auc(r) <= auc(&rows[best])));
    // Curves and permutation importance.
    let roc = v["roc_curve"].as_array().unwrap();
    assert_eq!(roc.last().unwrap()["tpr"], 1.0);
    assert!(v["average_precision"].as_f64().unwrap() > 0.0);
    let perm = v["permutation_importance"].as_array().unwrap();
    assert_eq!(perm.len(), 4);
    assert_eq!(v["permutation_metric"], "roc_auc");
    assert_eq!(perm[0]["feature"], "recency_days");
}

#[test]
fn predict_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_dir().join("crmlens.toml");
    let ws = ws.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut a = vec!["predict", "--input", ws];
        a.extend_from_slice(args);
        crmlens(dir.path(), &a)
    };
    assert_user_error(
        &run(&["--target", "nope", "--features", "recency_days"]),
        &["no target column `nope`"],
    );
    assert_user_error(
        &run(&["--target", "churned", "--features", "recency_days,churned"]),
        &["also among --features"],
    );
    assert_user_error(
        &run(&[
            "--target",
            "churned",
            "--features",
            "recency_days",
            "--model",
            "knn",
        ]),
        &[
            "'knn' for '--model",
            "forest, tree, logistic, gbdt, svm, mlp",
        ],
    );
    assert_user_error(
        &run(&[
            "--target",
            "churned",
            "--features",
            "recency_days",
            "--threshold",
            "1.5",
        ]),
        &["--threshold 1.5"],
    );
    assert_user_error(
        &run(&[
            "--target",
            "churned",
            "--features",
            "recency_days",
            "--positive",
            "maybe",
        ]),
        &["--positive maybe", "0, 1"],
    );
    assert_user_error(
        &run(&["--target", "churned", "--features", "recency_days,channel"]),
        &["feature `channel` is text", "--categorical channel"],
    );
    // With --categorical it is one-hot encoded.
    let o = run(&[
        "--target",
        "churned",
        "--features",
        "recency_days",
        "--categorical",
        "channel",
        "--model",
        "logistic",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let names: Vec<&str> = v["feature_importance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["feature"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"channel=web"), "{names:?}");
    assert_eq!(
        v["features"],
        serde_json::json!(["recency_days", "channel"])
    );
    let flat = dir.path().join("flat.csv");
    fs::write(&flat, "id,x,y\na,1,yes\nb,2,yes\nc,3,yes\n").unwrap();
    let o = crmlens(
        dir.path(),
        &[
            "predict",
            "--input",
            flat.to_str().unwrap(),
            "--target",
            "y",
            "--features",
            "x",
        ],
    );
    // A yes/no column is read as a flag: its one class is `true`.
    assert_user_error(&o, &["single class (true)"]);
}

/// `predict --model gbdt` on the sample's churn: early stopping keeps at most the rounds
/// allowed and says how many; without it every round is kept; the boosted model ranks about
/// as well as the logistic regression that matches how the generator made churn.
#[test]
fn predict_gbdt_reports_the_rounds_kept() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_dir().join("crmlens.toml");
    let run = |extra: &[&str]| {
        let mut a = vec![
            "predict",
            "--input",
            ws.to_str().unwrap(),
            "--target",
            "churned",
            "--features",
            "recency_days,frequency,monetary,avg_order_value,tenure_days,tickets,sessions",
            "--fill",
            "median",
            "--folds",
            "3",
            "--json",
        ];
        a.extend_from_slice(extra);
        let o = crmlens(dir.path(), &a);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_str::<serde_json::Value>(&stdout(&o)).unwrap()
    };
    let g = run(&["--model", "gbdt", "--rounds", "300"]);
    assert_eq!(g["model"], "gbdt");
    let kept = g["gbdt"]["rounds"].as_u64().unwrap();
    assert_eq!(g["gbdt"]["max_rounds"], 300);
    assert_eq!(g["gbdt"]["early_stopping"], true);
    assert!((1..300).contains(&kept), "{kept}");
    assert!(g["gbdt"]["validation_loss"].as_f64().unwrap() > 0.0);
    let fixed = run(&[
        "--model",
        "gbdt",
        "--rounds",
        "25",
        "--early-stopping",
        "false",
    ]);
    assert_eq!(fixed["gbdt"]["rounds"], 25);
    assert!(fixed["gbdt"]["validation_loss"].is_null());
    let logistic = run(&["--model", "logistic"]);
    let (a, b) = (
        g["test"]["roc_auc"].as_f64().unwrap(),
        logistic["test"]["roc_auc"].as_f64().unwrap(),
    );
    assert!(a > 0.75 && (a - b).abs() < 0.05, "gbdt {a}, logistic {b}");
    assert!(logistic["gbdt"].is_null());
    // Out-of-range boosting flags are refused with the flag named.
    let o = crmlens(
        dir.path(),
        &[
            "predict",
            "--input",
            ws.to_str().unwrap(),
            "--target",
            "churned",
            "--features",
            "recency_days",
            "--model",
            "gbdt",
            "--learning-rate",
            "0",
        ],
    );
    super::assert_user_error(&o, &["--learning-rate 0 is out of range"]);
}

/// `predict --model mlp` on the sample's churn: the epochs kept and why, the network ranks
/// churners about as well as the logistic regression, and bad layer sizes are refused with
/// the flag named.
#[test]
fn predict_mlp_reports_the_epochs_kept() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_dir().join("crmlens.toml");
    let run = |extra: &[&str]| {
        let mut a = vec![
            "predict",
            "--input",
            ws.to_str().unwrap(),
            "--target",
            "churned",
            "--features",
            "recency_days,frequency,monetary,avg_order_value,tenure_days,tickets,sessions",
            "--fill",
            "median",
            "--folds",
            "2",
            "--model",
            "mlp",
        ];
        a.extend_from_slice(extra);
        crmlens(dir.path(), &a)
    };
    let o = run(&["--json", "--epochs", "60"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["model"], "mlp");
    assert_eq!(v["mlp"]["max_epochs"], 60);
    assert_eq!(v["mlp"]["early_stopping"], true);
    let kept = v["mlp"]["epochs"].as_u64().unwrap();
    assert!((1..=60).contains(&kept), "{kept}");
    let auc = v["test"]["roc_auc"].as_f64().unwrap();
    assert!(auc > 0.75, "{auc}");
    super::assert_user_error(&run(&["--hidden", "8,8,8,8"]), &["--hidden: 4 layers"]);
    super::assert_user_error(
        &run(&["--dropout", "0.95"]),
        &["--dropout 0.95 is out of range"],
    );
}

/// `predict --compare`: the models named (or all six) cross-validated on the same folds, one
/// row each with its metric and fit time, the best marked; each row equals the
/// cross-validation of a run of that model alone.
#[test]
fn predict_compare_lines_up_models_on_the_same_folds() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_dir().join("crmlens.toml");
    let run = |extra: &[&str]| {
        let mut a = vec![
            "predict",
            "--input",
            ws.to_str().unwrap(),
            "--target",
            "churned",
            "--features",
            "recency_days,frequency,monetary,tickets,sessions",
            "--fill",
            "median",
            "--folds",
            "3",
            "--n-trees",
            "20",
            "--json",
        ];
        a.extend_from_slice(extra);
        let o = crmlens(dir.path(), &a);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_str::<serde_json::Value>(&stdout(&o)).unwrap()
    };
    let v = run(&["--compare", "logistic,gbdt,forest"]);
    let c = &v["compare"];
    assert_eq!(c["metric"], "roc_auc");
    assert_eq!(c["folds"], 3);
    let rows = c["rows"].as_array().unwrap();
    let models: Vec<&str> = rows.iter().map(|r| r["model"].as_str().unwrap()).collect();
    assert_eq!(models, vec!["logistic", "gbdt", "forest"]);
    let auc = |r: &serde_json::Value| r["cv"]["roc_auc"]["mean"].as_f64().unwrap();
    let best = c["best"].as_u64().unwrap() as usize;
    assert!(rows.iter().all(|r| auc(r) <= auc(&rows[best])));
    for r in rows {
        assert!(r["fit_seconds"].as_f64().unwrap() >= 0.0);
        // The same cross-validation as a run of that model alone.
        let alone = run(&["--model", r["model"].as_str().unwrap()]);
        assert_eq!(alone["cv"], r["cv"], "{}", r["model"]);
    }
    assert!(run(&[]).get("compare").is_none_or(|c| c.is_null()));
}

fn telco() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/real/telco_churn/telco_churn.csv")
}

/// A value target on real data (IBM's Telco extract, `MonthlyCharges`: the price of the
/// services a customer has): `predict` sees a number with many values and fractions and
/// regresses; each model beats the mean and median baselines, the JSON contract holds, and
/// the test metrics recomputed from `--out` equal the JSON's.
#[test]
fn predict_values_on_the_telco_set() {
    let dir = tempfile::tempdir().unwrap();
    let input = telco();
    for model in ["linear", "tree", "forest", "gbdt"] {
        let out = dir.path().join(format!("{model}.csv"));
        let o = crmlens(
            dir.path(),
            &[
                "predict",
                "--input",
                input.to_str().unwrap(),
                "--target",
                "MonthlyCharges",
                "--fill",
                "median",
                "--model",
                model,
                "--n-trees",
                "30",
                "--folds",
                "3",
                "--top",
                "5",
                "--out",
                out.to_str().unwrap(),
                "--json",
            ],
        );
        assert!(o.status.success(), "{model}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["task"], "regression");
        assert_eq!(v["model"], model);
        assert_eq!(v["n_rows"], 2000);
        let num = |p: &serde_json::Value| p.as_f64().unwrap();
        let (t, b) = (&v["test"], &v["baseline"]);
        assert!(num(&t["rmse"]) < num(&b["rmse"]), "{model}");
        assert!(num(&t["mae"]) < num(&b["mae"]), "{model}");
        assert!(num(&t["r2"]) > 0.95, "{model}: {}", t["r2"]);
        for k in ["mae", "rmse", "r2"] {
            assert!(v["cv"][k]["mean"].is_number() && v["cv"][k]["std"].is_number());
        }
        let imp = v["importance"].as_array().unwrap();
        assert!(!imp.is_empty());
        assert_eq!(v["coefficients"].is_null(), model != "linear");
        // The test rows' metrics from the file.
        let text = fs::read_to_string(&out).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("customerID,actual,predicted,set"));
        let rows: Vec<(String, f64, f64, bool)> = lines
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (
                    f[0].to_string(),
                    f[1].parse().unwrap(),
                    f[2].parse().unwrap(),
                    f[3] == "test",
                )
            })
            .collect();
        assert_eq!(rows.len(), 2000);
        let test: Vec<&(String, f64, f64, bool)> = rows.iter().filter(|r| r.3).collect();
        assert_eq!(test.len() as u64, v["test_rows"].as_u64().unwrap());
        let n = test.len() as f64;
        let mae = test.iter().map(|r| (r.1 - r.2).abs()).sum::<f64>() / n;
        let rmse = (test.iter().map(|r| (r.1 - r.2).powi(2)).sum::<f64>() / n).sqrt();
        assert!((mae - num(&t["mae"])).abs() < 1e-6 * (1.0 + mae), "{model}");
        assert!(
            (rmse - num(&t["rmse"])).abs() < 1e-6 * (1.0 + rmse),
            "{model}"
        );
        // The highest predicted customers are the file's highest predictions.
        let top = v["top_predicted"].as_array().unwrap();
        assert_eq!(top.len(), 5);
        let best = rows.iter().map(|r| r.2).fold(f64::NEG_INFINITY, f64::max);
        assert!((num(&top[0]["predicted"]) - best).abs() < 1e-6 * (1.0 + best));
        assert!(
            top.windows(2)
                .all(|w| num(&w[0]["predicted"]) >= num(&w[1]["predicted"]))
        );
    }
}

/// `predict --compare` on a value target: the four regressors on the same folds, RMSE
/// (lower is better) picks the best, each row equals a run of that model alone.
#[test]
fn predict_compare_regressors_on_the_same_folds() {
    let dir = tempfile::tempdir().unwrap();
    let input = telco();
    let run = |extra: &[&str]| {
        let mut a = vec![
            "predict",
            "--input",
            input.to_str().unwrap(),
            "--target",
            "MonthlyCharges",
            "--fill",
            "median",
            "--n-trees",
            "20",
            "--folds",
            "3",
            "--json",
        ];
        a.extend_from_slice(extra);
        let o = crmlens(dir.path(), &a);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_str::<serde_json::Value>(&stdout(&o)).unwrap()
    };
    let v = run(&["--compare"]);
    let c = &v["compare"];
    assert_eq!(c["metric"], "rmse");
    let rows = c["rows"].as_array().unwrap();
    let models: Vec<&str> = rows.iter().map(|r| r["model"].as_str().unwrap()).collect();
    assert_eq!(models, vec!["linear", "tree", "forest", "gbdt"]);
    let rmse = |r: &serde_json::Value| r["cv"]["rmse"]["mean"].as_f64().unwrap();
    let best = c["best"].as_u64().unwrap() as usize;
    assert!(rows.iter().all(|r| rmse(r) >= rmse(&rows[best])));
    // Monthly charges are a price list: a sum over the services, which a line fits best.
    assert_eq!(models[best], "linear");
    for r in rows {
        let alone = run(&["--model", r["model"].as_str().unwrap()]);
        assert_eq!(alone["cv"], r["cv"], "{}", r["model"]);
    }
}

/// Value targets and models that cannot go together say so in one line.
#[test]
fn predict_values_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let input = telco();
    let input = input.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut a = vec!["predict", "--input", input, "--fill", "median"];
        a.extend_from_slice(extra);
        crmlens(dir.path(), &a)
    };
    assert_user_error(
        &run(&["--target", "MonthlyCharges", "--model", "svm"]),
        &[
            "--model svm cannot do regression",
            "linear, tree, forest, gbdt",
        ],
    );
    assert_user_error(
        &run(&["--target", "Churn", "--model", "linear"]),
        &["--model linear cannot do classification", "logistic"],
    );
    assert_user_error(
        &run(&["--target", "Contract", "--task", "regression"]),
        &["target `Contract`", "not numbers"],
    );
    assert_user_error(
        &run(&["--task", "regression"]),
        &["--task regression needs --target"],
    );
    assert_user_error(
        &run(&["--target", "MonthlyCharges", "--compare", "linear,mlp"]),
        &["--compare mlp", "cannot do regression"],
    );
    assert_user_error(
        &run(&["--target", "MonthlyCharges", "--positive", "1"]),
        &["--positive is for classes"],
    );
}

/// `predict --next-period spend` on the sample workspace's orders: the features come from
/// the purchases up to the calibration end, the target is each customer's spend after it
/// (equal to a sum over the order lines done here), every regressor beats the training-mean
/// baseline, and BG/NBD + Gamma-Gamma is scored on the same test customers.
#[test]
fn predict_next_period_spend_on_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_dir().join("crmlens.toml");
    let out = dir.path().join("next.csv");
    let run = |extra: &[&str]| {
        let mut a = vec![
            "predict",
            "--input",
            ws.to_str().unwrap(),
            "--next-period",
            "spend",
            "--calibration-end",
            "2024-06-30",
            "--n-trees",
            "30",
            "--folds",
            "3",
            "--json",
        ];
        a.extend_from_slice(extra);
        let o = crmlens(dir.path(), &a);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_str::<serde_json::Value>(&stdout(&o)).unwrap()
    };
    let num = |v: &serde_json::Value| v.as_f64().unwrap();
    for model in ["linear", "tree", "forest", "gbdt"] {
        let v = if model == "forest" {
            run(&["--model", model, "--out", out.to_str().unwrap()])
        } else {
            run(&["--model", model])
        };
        assert_eq!(v["task"], "regression");
        assert_eq!(v["target"], "next_spend");
        let np = &v["next_period"];
        assert_eq!(np["calibration_end"], "2024-06-30");
        assert_eq!(np["target"], "spend");
        assert!(
            num(&v["test"]["rmse"]) < num(&v["baseline"]["rmse"]),
            "{model}: {} vs {}",
            v["test"]["rmse"],
            v["baseline"]["rmse"]
        );
        assert!(num(&v["cv"]["r2"]["mean"]) > 0.0, "{model}");
        assert_eq!(v["lifetime_model"]["model"], "bgnbd+gamma_gamma");
        assert!(num(&v["lifetime_model"]["test"]["rmse"]) > 0.0);
    }
    // The target equals each customer's spend after the calibration end, summed from the
    // order lines here (an exactly repeated line counted once: the workspace drops the
    // sample's duplicated lines; two lines of one order alike in quantity and price both
    // count, which a dedup over the columns read alone used to merge).
    let orders = std::fs::read_to_string(sample_dir().join("orders.csv")).unwrap();
    let mut lines = orders.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = |n: &str| head.iter().position(|h| *h == n).unwrap();
    let (c, d) = (at("customer_id"), at("order_date"));
    let (q, p) = (at("quantity"), at("unit_price"));
    let mut after: std::collections::HashMap<String, f64> = Default::default();
    let mut seen = std::collections::HashSet::new();
    for l in lines.filter(|l| seen.insert(*l)) {
        let f: Vec<&str> = l.split(',').collect();
        if f[d] > "2024-06-30" {
            let (Ok(qv), Ok(pv)) = (f[q].parse::<f64>(), f[p].parse::<f64>()) else {
                continue;
            };
            // Returns (quantity 0 or less, or a negative price) are not purchases, as for
            // the lifetime models.
            if qv > 0.0 && pv >= 0.0 {
                *after.entry(f[c].to_string()).or_default() += qv * pv;
            }
        }
    }
    let written = std::fs::read_to_string(&out).unwrap();
    let mut checked = 0;
    for l in written.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let want = after.get(f[0]).copied().unwrap_or(0.0);
        let got: f64 = f[1].parse().unwrap();
        assert!(
            (got - want).abs() < 1e-6 * (1.0 + want),
            "{}: {got} vs {want}",
            f[0]
        );
        checked += 1;
    }
    assert!(checked > 4000);
}

/// `--next-period` refuses what it builds itself, in one line.
#[test]
fn predict_next_period_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_dir().join("crmlens.toml");
    let ws = ws.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut a = vec!["predict", "--input", ws, "--next-period", "spend"];
        a.extend_from_slice(extra);
        crmlens(dir.path(), &a)
    };
    assert_user_error(&run(&["--target", "monetary"]), &["leave out --target"]);
    assert_user_error(
        &run(&["--features", "frequency"]),
        &["leave out --features"],
    );
    assert_user_error(
        &run(&["--model", "logistic"]),
        &["--model logistic cannot do regression"],
    );
    assert_user_error(
        &run(&["--calibration-end", "2030-01-01"]),
        &["not after the calibration end"],
    );
    assert_user_error(
        &run(&["--calibration-end", "2024-31-01"]),
        &["--calibration-end", "YYYY-MM-DD"],
    );
}
