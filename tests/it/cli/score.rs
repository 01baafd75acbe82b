//! `--save-model` and `crmlens score`: a saved model scores its own training rows exactly as
//! the training run wrote them (segments of every algorithm, every classifier), on real data
//! (the `mlc_churn` extract, tests/data/real) and on the sample workspace; drift; and the
//! inputs a model cannot score, each refused with one line.

use std::fs;
use std::path::{Path, PathBuf};

use super::assert_user_error;
use crate::{crmlens, sample_dir, stderr, stdout};

fn mlc_churn() -> PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/real/mlc_churn/mlc_churn.csv")
}

const FEATURES: &str = "total_day_minutes,total_eve_minutes,total_night_minutes,total_intl_minutes,number_customer_service_calls";

fn run_ok(dir: &Path, args: &[&str]) -> String {
    let o = crmlens(dir, args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    stdout(&o)
}

fn score_json(dir: &Path, model: &Path, input: &Path, out: &Path) -> serde_json::Value {
    let s = run_ok(
        dir,
        &[
            "score",
            "--model",
            model.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
    );
    serde_json::from_str(&s).unwrap()
}

#[test]
fn every_segmentation_scores_its_training_rows_as_the_training_run_labelled_them() {
    let dir = tempfile::tempdir().unwrap();
    let input = mlc_churn();
    for (algo, extra) in [
        ("kmeans", vec!["--k", "4"]),
        ("gmm", vec!["--k", "3", "--covariance", "full"]),
        ("gmm", vec!["--k", "3", "--covariance", "diag"]),
        ("dbscan", vec!["--eps", "0.9", "--min-points", "4"]),
    ] {
        let trained = dir.path().join(format!("{algo}_train.csv"));
        let model = dir.path().join(format!("{algo}.toml"));
        let mut args = vec![
            "segment",
            "--input",
            input.to_str().unwrap(),
            "--features",
            FEATURES,
            "--categorical",
            "international_plan",
            "--algo",
            algo,
            "--out",
            trained.to_str().unwrap(),
            "--save-model",
            model.to_str().unwrap(),
            "--force",
        ];
        args.extend(extra.iter().copied());
        run_ok(dir.path(), &args);
        let scored = dir.path().join(format!("{algo}_scored.csv"));
        let _ = fs::remove_file(&scored);
        let v = score_json(dir.path(), &model, &input, &scored);
        let (a, b) = (
            fs::read_to_string(&trained).unwrap(),
            fs::read_to_string(&scored).unwrap(),
        );
        assert_eq!(a.lines().count(), 201);
        assert_eq!(
            a, b,
            "{algo} {extra:?}: the scored labels differ from the training run's"
        );
        if algo == "dbscan" {
            // Some rows are noise and some clustered: the rule is exercised both ways.
            assert!(a.lines().any(|l| l.ends_with(",-1")), "no noise");
            assert!(a.lines().any(|l| l.ends_with(",0")), "no cluster");
        }
        assert_eq!(v["kind"], "segment");
        assert_eq!(v["n_rows"], 200);
        assert_eq!(v["training_rows"], 200);
        assert_eq!(v["schema_matches"], true);
        assert_eq!(v["retrain"], false);
        // The same rows: no drift at all.
        for d in v["drift"].as_array().unwrap() {
            assert_eq!(d["psi"], 0.0, "{d}");
            assert_eq!(d["status"], "stable");
        }
        assert_eq!(v["drift"].as_array().unwrap().len(), 6);
        let counts: u64 = v["counts"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum();
        assert_eq!(counts, 200);
    }
}

#[test]
fn a_segmentation_of_the_sample_workspace_scores_its_customers_as_labelled() {
    let dir = tempfile::tempdir().unwrap();
    let ws = sample_dir().join("crmlens.toml");
    let trained = dir.path().join("train.parquet");
    let model = dir.path().join("m.toml");
    run_ok(
        dir.path(),
        &[
            "segment",
            "--input",
            ws.to_str().unwrap(),
            "--features",
            "recency_days,frequency,monetary",
            "--log1p",
            "frequency,monetary",
            "--scale",
            "robust",
            "--k",
            "5",
            "--out",
            trained.to_str().unwrap(),
            "--save-model",
            model.to_str().unwrap(),
        ],
    );
    let scored = dir.path().join("scored.parquet");
    let v = score_json(dir.path(), &model, &ws, &scored);
    assert_eq!(v["n_rows"], 5000);
    let read = |p: &Path| {
        use polars::prelude::*;
        ParquetReader::new(fs::File::open(p).unwrap())
            .finish()
            .unwrap()
    };
    let (a, b) = (read(&trained), read(&scored));
    assert_eq!(a.get_column_names(), b.get_column_names());
    assert!(a.equals(&b), "labels differ");
    // The model file is plain TOML with what scoring needs and no customer ids.
    let text = fs::read_to_string(&model).unwrap();
    assert!(text.contains("format = \"crmlens-model\""));
    assert!(text.contains("format_version = 1"));
    assert!(text.contains("algorithm = \"kmeans\""));
    assert!(!text.contains("C000001"), "a customer id in the model file");
}

/// The training run's --out without its `actual` column (the second) and its `set` column
/// (the last).
fn without_actual(text: &str) -> String {
    text.lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split(',').collect();
            f.remove(1);
            f.pop();
            f.join(",")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_classifier_scores_its_training_rows_with_the_training_run_probabilities() {
    let dir = tempfile::tempdir().unwrap();
    let churn = mlc_churn();
    let telco = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/real/telco_churn/telco_churn.csv");
    let on_churn = [
        "--features",
        FEATURES,
        "--categorical",
        "international_plan,voice_mail_plan",
        "--target",
        "churn",
    ];
    // The linear SVM on the MLC++ extract is the constant model (w = 0, b = -1: the hinge
    // loss's optimum with 13% churners and a weak linear signal, as scikit-learn's LinearSVC
    // finds too), so it is saved and scored on the Telco extract, with its own features
    // (the numbers, yes/no and text columns it picks, blanks filled with the median).
    let on_telco = ["--fill", "median"];
    let cases: [(&str, &Path, &[&str]); 6] = [
        ("forest", &churn, &on_churn),
        ("tree", &churn, &on_churn),
        ("logistic", &churn, &on_churn),
        ("gbdt", &churn, &on_churn),
        ("svm", &telco, &on_telco),
        ("mlp", &telco, &on_telco),
    ];
    for (model_name, input, args) in cases {
        let input = input.to_path_buf();
        let trained = dir.path().join(format!("{model_name}_train.csv"));
        let model = dir.path().join(format!("{model_name}.toml"));
        // 200 rows: boosting's default min leaf (20) and its 15 validation rows stop it
        // within a few rounds near the prior; smaller leaves let it call some churners.
        let min_leaf = if model_name == "gbdt" { "5" } else { "1" };
        let mut all = vec!["predict", "--input", input.to_str().unwrap()];
        all.extend_from_slice(args);
        all.extend_from_slice(&[
            "--model",
            model_name,
            "--min-leaf",
            min_leaf,
            "--threshold",
            "0.3",
            "--out",
            trained.to_str().unwrap(),
            "--save-model",
            model.to_str().unwrap(),
        ]);
        run_ok(dir.path(), &all);
        let scored = dir.path().join(format!("{model_name}_scored.csv"));
        let v = score_json(dir.path(), &model, &input, &scored);
        let (a, b) = (
            fs::read_to_string(&trained).unwrap(),
            fs::read_to_string(&scored).unwrap(),
        );
        assert!(
            a.lines()
                .next()
                .unwrap()
                .contains(",actual,p_false,p_true,predicted"),
            "{a}"
        );
        assert_eq!(
            without_actual(&a),
            b.trim_end(),
            "{model_name}: the scored probabilities differ from the training run's"
        );
        assert_eq!(v["kind"], "predict");
        let predicted_yes = b.lines().skip(1).filter(|l| l.ends_with(",true")).count() as u64;
        assert!(predicted_yes > 0);
        assert_eq!(v["counts"]["true"].as_u64().unwrap_or(0), predicted_yes);
    }
}

#[test]
fn a_shifted_feature_is_reported_as_drift() {
    let dir = tempfile::tempdir().unwrap();
    let input = mlc_churn();
    let model = dir.path().join("m.toml");
    run_ok(
        dir.path(),
        &[
            "segment",
            "--input",
            input.to_str().unwrap(),
            "--features",
            FEATURES,
            "--k",
            "3",
            "--save-model",
            model.to_str().unwrap(),
        ],
    );
    // The same customers with day minutes up by half.
    let text = fs::read_to_string(&input).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let day = header
        .split(',')
        .position(|h| h == "\"total_day_minutes\"")
        .unwrap();
    let mut shifted = vec![header.to_string()];
    for l in lines {
        let mut f: Vec<String> = l.split(',').map(String::from).collect();
        let v: f64 = f[day].parse().unwrap();
        f[day] = format!("{}", v * 1.5);
        shifted.push(f.join(","));
    }
    let new = dir.path().join("new.csv");
    fs::write(&new, shifted.join("\n")).unwrap();
    let out = dir.path().join("labels.csv");
    let v = score_json(dir.path(), &model, &new, &out);
    let drift = v["drift"].as_array().unwrap();
    let psi = |f: &str| {
        drift.iter().find(|d| d["feature"] == f).unwrap()["psi"]
            .as_f64()
            .unwrap()
    };
    assert!(psi("total_day_minutes") > 0.25, "{drift:?}");
    assert_eq!(psi("total_eve_minutes"), 0.0);
    assert_eq!(v["shifted"], serde_json::json!(["total_day_minutes"]));
    assert_eq!(v["retrain"], true);
}

#[test]
fn inputs_a_model_cannot_score_are_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = mlc_churn();
    let model = dir.path().join("m.toml");
    run_ok(
        dir.path(),
        &[
            "predict",
            "--input",
            input.to_str().unwrap(),
            "--features",
            "total_day_minutes,number_customer_service_calls",
            "--categorical",
            "area_code",
            "--target",
            "churn",
            "--save-model",
            model.to_str().unwrap(),
        ],
    );
    let text = fs::read_to_string(&input).unwrap();
    let score = |name: &str, body: &str, needles: &[&str]| {
        let p = dir.path().join(name);
        fs::write(&p, body).unwrap();
        let o = crmlens(
            dir.path(),
            &[
                "score",
                "--model",
                model.to_str().unwrap(),
                "--input",
                p.to_str().unwrap(),
            ],
        );
        assert_user_error(&o, needles);
    };
    // A column the model reads is gone.
    let no_calls: String = text.replace("\"number_customer_service_calls\"", "\"calls\"");
    score("renamed.csv", &no_calls, &["number_customer_service_calls"]);
    // A category never seen in training.
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[1] = lines[1].replacen("area_code_415", "area_code_999", 1);
    score(
        "unseen.csv",
        &lines.join("\n"),
        &["area_code", "`area_code_999`", "never saw"],
    );
    // "n/a" reads as a missing value, which the model cannot fill.
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[1] = lines[1].replacen(",265.1,", ",n/a,", 1);
    score(
        "na.csv",
        &lines.join("\n"),
        &["total_day_minutes", "missing value", "--fill"],
    );
    // A numeric feature that became words.
    let words: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let mut f: Vec<String> = l.split(',').map(String::from).collect();
            if i > 0 {
                f[6] = if i % 2 == 0 { "\"high\"" } else { "\"low\"" }.to_string();
            }
            f.join(",")
        })
        .collect();
    score(
        "text.csv",
        &words.join("\n"),
        &["total_day_minutes", "numbers"],
    );
    // A model file of another format version, and a file that is no model.
    let other = dir.path().join("other.toml");
    fs::write(
        &other,
        fs::read_to_string(&model)
            .unwrap()
            .replacen("format_version = 1", "format_version = 2", 1),
    )
    .unwrap();
    let o = crmlens(
        dir.path(),
        &[
            "score",
            "--model",
            other.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
        ],
    );
    assert_user_error(&o, &["format version 2", "train the model again"]);
    let o = crmlens(
        dir.path(),
        &[
            "score",
            "--model",
            input.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
        ],
    );
    assert_user_error(&o, &["not a crmlens model file"]);
    // An existing model file is not replaced without --force.
    let o = crmlens(
        dir.path(),
        &[
            "segment",
            "--input",
            input.to_str().unwrap(),
            "--features",
            FEATURES,
            "--save-model",
            model.to_str().unwrap(),
        ],
    );
    assert_user_error(&o, &["m.toml", "--force"]);
}

fn real(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/real")
        .join(path)
}

/// Rows of a CSV keyed by its first column.
fn rows_by_id(text: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<String> = l.split(',').map(String::from).collect();
            (f[0].clone(), f[1..].to_vec())
        })
        .collect()
}

/// A lifetime-value model saved by `clv` (on the CDNOW extract, tests/data/real) values the
/// training customers at the training run's calibration end exactly as the run did, with the
/// same holdout check; as of a later day each customer's age T grows by the days between.
#[test]
fn a_lifetime_value_model_scores_its_training_customers_as_the_fit_did() {
    let dir = tempfile::tempdir().unwrap();
    let input = real("cdnow/cdnow_transactions.csv");
    let (trained, model) = (dir.path().join("train.csv"), dir.path().join("clv.toml"));
    let fit: serde_json::Value = serde_json::from_str(&run_ok(
        dir.path(),
        &[
            "clv",
            "--input",
            input.to_str().unwrap(),
            "--customer-col",
            "id",
            "--calibration-end",
            "1997-09-30",
            "--out",
            trained.to_str().unwrap(),
            "--save-model",
            model.to_str().unwrap(),
            "--json",
        ],
    ))
    .unwrap();
    let text = fs::read_to_string(&model).unwrap();
    assert!(
        text.contains("kind = \"clv\"") && text.contains("[model.bgnbd]"),
        "{text}"
    );
    let scored = dir.path().join("scored.csv");
    let s = run_ok(
        dir.path(),
        &[
            "score",
            "--model",
            model.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--as-of",
            "1997-09-30",
            "--out",
            scored.to_str().unwrap(),
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&s).unwrap();
    let (a, b) = (
        fs::read_to_string(&trained).unwrap(),
        fs::read_to_string(&scored).unwrap(),
    );
    assert!(a.lines().count() > 50, "{a}");
    assert_eq!(a, b, "scored figures differ from the fit's");
    assert_eq!(v["kind"], "clv");
    assert_eq!(v["n_rows"], fit["n_customers"]);
    assert_eq!(v["holdout"], fit["holdout"]);
    assert_eq!(v["clv"], fit["clv"]);
    // Scoring the customers it was fitted on: the summary has not drifted.
    assert_eq!(v["retrain"], false, "{v}");
    for d in v["drift"].as_array().unwrap() {
        assert!(d["psi"].as_f64().unwrap() < 1e-9, "{d}");
    }
    // As of the data's last day (the default): T grows by the days since the calibration
    // end for every customer of the fit.
    let later = dir.path().join("later.csv");
    let s = run_ok(
        dir.path(),
        &[
            "score",
            "--model",
            model.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--out",
            later.to_str().unwrap(),
            "--json",
        ],
    );
    let w: serde_json::Value = serde_json::from_str(&s).unwrap();
    let as_of =
        chrono::NaiveDate::parse_from_str(w["as_of"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let days = (as_of - chrono::NaiveDate::from_ymd_opt(1997, 9, 30).unwrap()).num_days() as f64;
    assert!(days > 0.0);
    assert!(w["holdout"].is_null());
    let (before, after) = (
        rows_by_id(&a),
        rows_by_id(&fs::read_to_string(&later).unwrap()),
    );
    assert!(after.len() >= before.len());
    for (id, r) in &before {
        // Columns after the id: frequency, recency, T, monetary, ...
        let t0: f64 = r[2].parse().unwrap();
        let t1: f64 = after[id][2].parse().unwrap();
        assert!((t1 - t0 - days).abs() < 1e-9, "{id}: T {t0} -> {t1}");
    }
}

/// A link model saved by `link` on FEBRL 4 (tests/data/real) joins records it has not seen
/// to the people found: the originals and the first 900 duplicates are linked, then the last
/// 100 duplicates are scored and each joins its original's person (the truth is in the ids).
/// And scoring the second file against the first gives back the run's own people and match
/// probabilities exactly.
#[test]
fn a_link_model_joins_new_records_to_the_people_found() {
    let dir = tempfile::tempdir().unwrap();
    let a = real("febrl4/dataset4a_1000.csv");
    let b_text = fs::read_to_string(real("febrl4/dataset4b_1000.csv")).unwrap();
    let lines: Vec<&str> = b_text.lines().collect();
    let (b1, b2) = (dir.path().join("b_first.csv"), dir.path().join("b_new.csv"));
    fs::write(&b1, lines[..901].join("\n")).unwrap();
    fs::write(&b2, [&lines[..1], &lines[901..]].concat().join("\n")).unwrap();
    let (persons, model) = (dir.path().join("persons.csv"), dir.path().join("link.toml"));
    run_ok(
        dir.path(),
        &[
            "link",
            "--input",
            a.to_str().unwrap(),
            "--input",
            b1.to_str().unwrap(),
            "--clusters-out",
            persons.to_str().unwrap(),
            "--save-model",
            model.to_str().unwrap(),
        ],
    );
    let number = |id: &str| id.trim().split('-').nth(1).unwrap().to_string();
    // The person of each original, from the run's clusters file.
    let persons_text = fs::read_to_string(&persons).unwrap();
    let mut person_of_original = std::collections::BTreeMap::new();
    for l in persons_text.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        if f[1].contains("-org") {
            person_of_original.insert(number(f[1]), f[2].to_string());
        }
    }
    let joined = dir.path().join("joined.csv");
    let s = run_ok(
        dir.path(),
        &[
            "score",
            "--model",
            model.to_str().unwrap(),
            "--input",
            b2.to_str().unwrap(),
            "--persons",
            persons.to_str().unwrap(),
            "--out",
            joined.to_str().unwrap(),
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&s).unwrap();
    assert_eq!(v["kind"], "link");
    assert_eq!(v["n_rows"], 100);
    assert_eq!(v["existing_records"], 1900);
    let out = fs::read_to_string(&joined).unwrap();
    let header: Vec<&str> = out.lines().next().unwrap().split(',').collect();
    assert_eq!(
        header,
        [
            "input",
            "id",
            "person_id",
            "cluster_size",
            "new_person",
            "matched_id",
            "probability"
        ]
    );
    let mut right = 0;
    for l in out.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        if person_of_original.get(&number(f[1])).map(String::as_str) == Some(f[2]) {
            right += 1;
        }
    }
    assert!(right >= 98, "{right} of 100 joined their original's person");
    assert_eq!(v["joined"], right, "{v}");

    // The second file scored against the first: the run's pairs, probabilities and people.
    let (pairs, persons2, model2) = (
        dir.path().join("pairs.csv"),
        dir.path().join("persons2.csv"),
        dir.path().join("link2.toml"),
    );
    let b = real("febrl4/dataset4b_1000.csv");
    run_ok(
        dir.path(),
        &[
            "link",
            "--input",
            a.to_str().unwrap(),
            "--input",
            b.to_str().unwrap(),
            "--out",
            pairs.to_str().unwrap(),
            "--clusters-out",
            persons2.to_str().unwrap(),
            "--save-model",
            model2.to_str().unwrap(),
        ],
    );
    let joined2 = dir.path().join("joined2.csv");
    run_ok(
        dir.path(),
        &[
            "score",
            "--model",
            model2.to_str().unwrap(),
            "--input",
            b.to_str().unwrap(),
            "--against",
            a.to_str().unwrap(),
            "--persons",
            persons2.to_str().unwrap(),
            "--out",
            joined2.to_str().unwrap(),
        ],
    );
    // The run's best pair of each record of the second file.
    let pairs_text = fs::read_to_string(&pairs).unwrap();
    let cols: Vec<&str> = pairs_text.lines().next().unwrap().split(',').collect();
    let at = |c: &str| cols.iter().position(|x| *x == c).unwrap();
    let (left, right_c, prob) = (at("left"), at("right"), at("probability"));
    let mut best: std::collections::BTreeMap<String, (f64, String)> = Default::default();
    for l in pairs_text.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let p: f64 = f[prob].parse().unwrap();
        let e = best
            .entry(f[right_c].to_string())
            .or_insert((p, f[left].to_string()));
        if p > e.0 {
            *e = (p, f[left].to_string());
        }
    }
    let trained_person: std::collections::BTreeMap<String, String> = fs::read_to_string(&persons2)
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| l.contains("dataset4b"))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1].to_string(), f[2].to_string())
        })
        .collect();
    let out = fs::read_to_string(&joined2).unwrap();
    let mut n = 0;
    for l in out.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let (id, person, new, matched, p) = (f[1], f[2], f[4], f[5], f[6]);
        match best.get(id) {
            Some((q, left)) => {
                assert_eq!(matched, left, "{id}");
                assert_eq!(p.parse::<f64>().unwrap(), *q, "{id}");
                assert_eq!(person, trained_person[id], "{id}");
                assert_eq!(new, "false");
                n += 1;
            }
            None => assert_eq!(new, "true", "{id} matched nothing in the run"),
        }
    }
    assert!(n >= 990, "{n}");
}

/// Flags for another kind of model, and a link model without the people to join, are
/// refused with one line.
#[test]
fn scoring_flags_for_another_kind_of_model_are_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = mlc_churn();
    let model = dir.path().join("seg.toml");
    run_ok(
        dir.path(),
        &[
            "segment",
            "--input",
            input.to_str().unwrap(),
            "--features",
            FEATURES,
            "--save-model",
            model.to_str().unwrap(),
        ],
    );
    let o = crmlens(
        dir.path(),
        &[
            "score",
            "--model",
            model.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--as-of",
            "2020-01-01",
        ],
    );
    assert_user_error(&o, &["--as-of", "clv model", "segment model"]);
    let (a, b) = (
        real("febrl4/dataset4a_1000.csv"),
        real("febrl4/dataset4b_1000.csv"),
    );
    let link = dir.path().join("link.toml");
    run_ok(
        dir.path(),
        &[
            "link",
            "--input",
            a.to_str().unwrap(),
            "--input",
            b.to_str().unwrap(),
            "--save-model",
            link.to_str().unwrap(),
        ],
    );
    let o = crmlens(
        dir.path(),
        &[
            "score",
            "--model",
            link.to_str().unwrap(),
            "--input",
            b.to_str().unwrap(),
        ],
    );
    assert_user_error(&o, &["--persons", "--clusters-out"]);
    // A persons file of other records.
    let persons = dir.path().join("persons.csv");
    fs::write(&persons, "input,id,person_id\nx.csv,1,1\n").unwrap();
    let o = crmlens(
        dir.path(),
        &[
            "score",
            "--model",
            link.to_str().unwrap(),
            "--input",
            b.to_str().unwrap(),
            "--persons",
            persons.to_str().unwrap(),
        ],
    );
    assert_user_error(&o, &["persons.csv", "dataset4a_1000.csv", "--clusters-out"]);
}

/// Each regressor saved by `predict --save-model` scores its training rows with exactly the
/// training run's predicted values (real data: the Telco extract's monthly charges).
#[test]
fn every_regressor_scores_its_training_rows_with_the_training_run_values() {
    let dir = tempfile::tempdir().unwrap();
    let telco = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/real/telco_churn/telco_churn.csv");
    for model_name in ["linear", "tree", "forest", "gbdt"] {
        let trained = dir.path().join(format!("{model_name}_train.csv"));
        let model = dir.path().join(format!("{model_name}.toml"));
        run_ok(
            dir.path(),
            &[
                "predict",
                "--input",
                telco.to_str().unwrap(),
                "--target",
                "MonthlyCharges",
                "--fill",
                "median",
                "--model",
                model_name,
                "--n-trees",
                "10",
                "--out",
                trained.to_str().unwrap(),
                "--save-model",
                model.to_str().unwrap(),
            ],
        );
        let scored = dir.path().join(format!("{model_name}_scored.csv"));
        let v = score_json(dir.path(), &model, &telco, &scored);
        assert_eq!(v["kind"], "regress");
        let (a, b) = (
            fs::read_to_string(&trained).unwrap(),
            fs::read_to_string(&scored).unwrap(),
        );
        assert_eq!(
            without_actual(&a),
            b.trim_end(),
            "{model_name}: the scored values differ from the training run's"
        );
        let values: Vec<f64> = b
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
            .collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        assert!((v["values"]["mean"].as_f64().unwrap() - mean).abs() < 1e-6);
    }
}
