//! The Recommend screen: a customer's history beside their recommendations, export, copy.

use crmlens::screens::Screen;
use crossterm::event::KeyCode;

use super::{copied, draw, key, sample_state, typed};

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
