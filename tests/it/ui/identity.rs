//! The Identity screen: linking the sample's customers with its loyalty member list (the
//! workspace's `[identity]`), the pairs to review side by side with personal data masked,
//! labels retraining the model, the threshold.

use crossterm::event::KeyCode;

use crmlens::screens::Screen;

use super::{draw, key, sample_state};

#[test]
fn identity_links_reviews_and_retrains_from_labels() {
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('9'));
    assert_eq!(s.screen, Screen::Identity);
    let screen = draw(&s, 120, 40);
    assert!(screen.contains("no run yet: press r"), "{screen}");
    key(&mut s, KeyCode::Char('r'));
    assert!(s.error.is_none(), "{:?}", s.error);
    let run = s.identity.result.clone().expect("a run");
    let l = &run.linked;
    // The workspace's customers and its [identity] source, by their keys.
    assert_eq!(run.inputs.len(), 2);
    assert_eq!(run.inputs[0].1, "customer_id");
    assert_eq!(run.inputs[1].1, "member_id");
    // The same run as the headless command's (same defaults, same seed).
    let headless = crmlens::pipeline::link::run(
        &[
            crmlens::pipeline::link::LinkInput {
                path: run.inputs[0].0.clone(),
                id: Some("customer_id".into()),
            },
            crmlens::pipeline::link::LinkInput {
                path: run.inputs[1].0.clone(),
                id: Some("member_id".into()),
            },
        ],
        &Default::default(),
        &[],
        &crmlens::progress::Progress::new(),
    )
    .unwrap();
    assert_eq!(headless.linked.accepted, l.accepted);
    // The histogram (counted by the job) holds every candidate pair once.
    assert_eq!(
        s.identity.histogram.iter().sum::<u64>() as usize,
        l.candidates().pairs.len()
    );
    // The review list: the pairs closest to p = 0.5 first.
    let at = |k: usize| (l.probabilities[s.identity.review[k]] - 0.5).abs();
    assert!(
        at(0) <= at(10) && at(10) <= at(100),
        "{} {} {}",
        at(0),
        at(10),
        at(100)
    );
    let first = s.identity.review[0];
    let (i, j) = l.candidates().pairs[first];
    let screen = draw(&s, 120, 40);
    for want in [
        "least sure first",
        "waterfall",
        "match weights",
        "people by size",
        &l.records().ids[i as usize],
        &l.records().ids[j as usize],
    ] {
        assert!(screen.contains(want), "{want}: {screen}");
    }
    // Personal data is masked: no standardised name of the pair is on screen.
    let name = l.records().text(0, i as usize);
    assert!(
        !name.is_empty() && !screen.contains(&name),
        "{name}: {screen}"
    );
    // y: labelled same, the model retrains, the pair is accepted, the next one is shown.
    let before = l.model.m.clone();
    key(&mut s, KeyCode::Char('y'));
    assert!(s.error.is_none(), "{:?}", s.error);
    assert_eq!(s.identity.labels, vec![(i, j, true)]);
    let r2 = s.identity.result.clone().unwrap();
    assert_eq!(r2.linked.labels, vec![(i, j, true)]);
    assert!(r2.linked.accepted.contains(&first));
    assert_ne!(r2.linked.model.m, before, "m moves with the label");
    assert_ne!(s.identity.current(), Some(first));
    assert!(draw(&s, 120, 40).contains("1 labels"));
    // n on the next pair: never accepted.
    let second = s.identity.current().unwrap();
    key(&mut s, KeyCode::Char('n'));
    let r3 = s.identity.result.clone().unwrap();
    assert!(!r3.linked.accepted.contains(&second));
    assert_eq!(s.identity.label_of(second), Some(false));
    // s skips without a label.
    let third = s.identity.current().unwrap();
    key(&mut s, KeyCode::Char('s'));
    assert_eq!(s.identity.label_of(third), None);
    assert_eq!(s.identity.labels.len(), 2);
    // + raises the threshold: fewer pairs accepted.
    let n_before = s.identity.result.as_ref().unwrap().linked.accepted.len();
    key(&mut s, KeyCode::Char('+'));
    let r4 = s.identity.result.clone().unwrap();
    assert_eq!(r4.linked.threshold, 0.55);
    assert!(r4.linked.accepted.len() <= n_before);
    // Small terminals still draw.
    let small = draw(&s, 80, 24);
    assert!(small.contains("least sure first"), "{small}");
}

/// With `[identity] person_key`, the Quality screen has a linkage section: pairs and how
/// sure, people, and per list the records linked and single, as the report says.
#[test]
fn the_quality_screen_reports_the_linkage() {
    let dir = tempfile::tempdir().unwrap();
    let base = crate::sample_dir().display().to_string();
    let text = format!(
        "[workspace]\ncustomer_key = \"customer_id\"\nreference_date = \"2025-01-01\"\n\
         [sources.customers]\npath = \"{base}/customers.csv\"\n\
         [identity]\nsources = [{{ path = \"{base}/loyalty_members.csv\", key = \"member_id\" }}]\nperson_key = true\n"
    );
    let path = dir.path().join("w.toml");
    std::fs::write(&path, text).unwrap();
    let mut s = crmlens::app::State::new("w".into());
    let cmds = s.load(crmlens::app::job::JobRequest::Workspace(path));
    super::run_commands(&mut s, cmds);
    assert!(s.table.is_some(), "{:?}", s.error);
    let id = s
        .report
        .as_ref()
        .and_then(|r| r.identity.clone())
        .expect("a linkage report");
    s.screen = Screen::Quality;
    let screen = draw(&s, 160, 45);
    assert!(
        screen.contains("identity resolution · threshold 0.5"),
        "{screen}"
    );
    assert!(
        screen.contains(&format!(
            "{} pairs of {} candidates",
            id.accepted_pairs, id.candidate_pairs
        )),
        "{screen}"
    );
    let members = &id.inputs[1];
    assert_eq!(members.name, "loyalty_members.csv");
    assert!(
        screen.contains(&format!(
            "loyalty_members.c… {:>7} {:>7} {:>7}",
            members.records, members.linked, members.single
        )),
        "{screen}"
    );
    assert!(members.linked > members.records / 2 && members.single > 0);
}

/// `M` on the Identity screen saves the comparison model of the run shown, after labels
/// retrained it and the threshold moved: the file's weights and threshold are that run's.
#[test]
fn save_model_from_the_identity_screen_keeps_the_retrained_weights() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("id.toml");
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('9'));
    key(&mut s, KeyCode::Char('M'));
    assert!(
        s.error
            .as_deref()
            .unwrap()
            .contains("run identity resolution first")
    );
    s.error = None;
    key(&mut s, KeyCode::Char('r'));
    key(&mut s, KeyCode::Char('y'));
    key(&mut s, KeyCode::Char('n'));
    key(&mut s, KeyCode::Char('+'));
    assert!(s.error.is_none(), "{:?}", s.error);
    let run = s.identity.result.clone().unwrap();
    key(&mut s, KeyCode::Char('M'));
    for _ in 0.."identity_model.toml".len() {
        key(&mut s, KeyCode::Backspace);
    }
    super::typed(&mut s, path.to_str().unwrap());
    key(&mut s, KeyCode::Enter);
    assert!(
        s.message.as_deref().unwrap().starts_with("wrote 1 model"),
        "{:?} {:?}",
        s.message,
        s.error
    );
    let saved = crmlens::pipeline::saved::SavedModel::load(&path).unwrap();
    let crmlens::pipeline::saved::Model::Link(l) = &saved.model else {
        panic!("not a link model")
    };
    let expected = crmlens::data::identity::attach::LinkModel::of(&run.linked);
    assert_eq!(l.comparison, expected);
    assert_eq!(l.comparison.threshold, s.identity.settings.threshold);
    assert_eq!(l.inputs.len(), 2);
}
