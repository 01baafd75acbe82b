//! The Rules screen: mining, sorting (by key or by a header click), filtering, drilling down,
//! exporting and copying rules.

use crmlens::app::Action;
use crmlens::screens::Screen;
use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::{copied, draw, drive, key, sample_state, typed};
use crate::sample_dir;

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
    assert_eq!(s.rules.params.filter.as_deref(), Some("printer"));
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
