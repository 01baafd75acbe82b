//! The Data screen: sorting and filtering, keys pressed while a sort runs, personal data
//! masked unless shown, and copying the selected cell or row.

use crmlens::app::Action;
use crmlens::app::job::JobRequest;
use crmlens::app::state::{Command, Overlay, update};
use crossterm::event::KeyCode;

use super::{copied, draw, key, run_commands, sample_state, typed};

#[test]
fn sort_cycles_and_filter_counts_matches() {
    let mut s = sample_state();
    // Select `monetary` and sort: ascending, then descending, then file order.
    let monetary = (0..s.columns())
        .position(|i| s.column_name(i).as_deref() == Some("monetary"))
        .unwrap();
    for _ in 0..monetary {
        key(&mut s, KeyCode::Char('l'));
    }
    assert_eq!(s.data.summary.as_ref().unwrap().profile.name, "monetary");
    key(&mut s, KeyCode::Char('s'));
    assert_eq!(s.data.sort, Some(("monetary".into(), false)));
    let t = s.table.clone().unwrap();
    let m = t.column("monetary").unwrap().f64().unwrap().clone();
    let order = s.data.order.clone().unwrap();
    assert!(
        order
            .windows(2)
            .all(|w| m.get(w[0] as usize) <= m.get(w[1] as usize))
    );
    key(&mut s, KeyCode::Char('s'));
    let order = s.data.order.clone().unwrap();
    assert!(
        order
            .windows(2)
            .all(|w| m.get(w[0] as usize) >= m.get(w[1] as usize))
    );
    key(&mut s, KeyCode::Char('s'));
    assert!(s.data.order.is_none() && s.data.sort.is_none());

    // Filter for a city: the count equals a direct count in the table.
    key(&mut s, KeyCode::Char('/'));
    assert!(matches!(s.overlay, Some(Overlay::Filter(_))));
    typed(&mut s, "glasgow");
    key(&mut s, KeyCode::Enter);
    let want = t
        .column("city")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .filter(|c| c.is_some_and(|c| c.to_lowercase().contains("glasgow")))
        .count();
    assert!(want > 0);
    assert_eq!(s.rows(), want);
    assert!(
        s.message
            .as_deref()
            .unwrap()
            .contains(&format!("{want} of 5000 rows"))
    );
    // An empty filter restores every row.
    key(&mut s, KeyCode::Char('/'));
    for _ in 0.."glasgow".len() {
        key(&mut s, KeyCode::Backspace);
    }
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.rows(), 5000);
}

#[test]
fn keys_pressed_during_a_sort_build_on_it() {
    let mut s = sample_state();
    // `s` twice before the first sort finishes: the second asks for descending.
    let first = update(&mut s, Action::Sort);
    let second = update(&mut s, Action::Sort);
    let sort_of = |cmds: &[Command]| match &cmds[0] {
        Command::Spawn {
            request: JobRequest::Arrange { sort, .. },
            ..
        } => sort.clone(),
        other => panic!("not an arrange: {other:?}"),
    };
    assert_eq!(sort_of(&first), Some(("customer_id".into(), false)));
    assert_eq!(sort_of(&second), Some(("customer_id".into(), true)));
}

/// Personal data is masked on screen by default: the sample's name, e-mail, phone and birth
/// date columns are found, no raw value of them appears on the Data screen (table or panel),
/// and their masks do. With show_pii the raw values appear and the status bar says so.
#[test]
fn personal_data_is_masked_unless_shown() {
    use crmlens::data::privacy::{PiiKind, mask};
    let mut s = sample_state();
    let kinds: Vec<(String, PiiKind)> = s.pii.iter().map(|p| (p.column.clone(), p.kind)).collect();
    let named: Vec<(&str, PiiKind)> = kinds.iter().map(|(c, k)| (c.as_str(), *k)).collect();
    assert_eq!(
        named,
        vec![
            ("name", PiiKind::Name),
            ("email", PiiKind::Email),
            ("phone", PiiKind::Phone),
            ("birth_date", PiiKind::BirthDate),
        ]
    );
    let t = s.table.clone().unwrap();
    let raw = |col: &str, i: usize| -> String {
        crmlens::text::format_cell(&t.column(col).unwrap().get(i).unwrap())
    };
    // Select the e-mail column so the panel shows its values too.
    for _ in 0..2 {
        key(&mut s, KeyCode::Char('l'));
    }
    run_commands(&mut s, Vec::new());
    let screen = draw(&s, 160, 30);
    assert!(!screen.contains("PII VISIBLE"));
    for i in 0..20 {
        for (col, kind) in &kinds {
            let v = raw(col, i);
            if col == "birth_date" {
                // A date's year is what the mask keeps; the full date must not show.
                assert!(!screen.contains(&v), "{col} {v} shown");
                continue;
            }
            assert!(!screen.contains(&v), "{col} {v} shown:\n{screen}");
            if col != "name" {
                assert!(screen.contains(&mask(*kind, &v)), "{col} mask of {v}");
            }
        }
    }
    // Features: personal columns are marked and cannot be ticked while masked.
    key(&mut s, KeyCode::Char('3'));
    let email = s
        .features
        .items
        .iter()
        .position(|i| i.name == "email")
        .unwrap();
    s.features.cursor = email;
    key(&mut s, KeyCode::Char(' '));
    assert!(!s.features.items[email].selected);
    assert!(
        s.error
            .as_deref()
            .unwrap()
            .contains("email holds personal data")
    );
    let screen = draw(&s, 120, 40);
    let row = screen.lines().find(|l| l.contains("] email")).unwrap();
    assert!(row.contains(" pii "), "{row}");
    s.show_pii = true;
    key(&mut s, KeyCode::Char(' '));
    assert!(s.features.items[email].selected);
    key(&mut s, KeyCode::Char(' '));
    key(&mut s, KeyCode::Char('1'));
    s.error = None;
    let screen = draw(&s, 160, 30);
    assert!(screen.contains("PII VISIBLE"), "{screen}");
    assert!(screen.contains(&raw("name", 0)));
    assert!(screen.contains(&raw("phone", 0)));
}

#[test]
fn y_copies_the_selected_cell_and_shift_y_the_row() {
    let mut s = sample_state();
    let t = s.table.clone().unwrap();
    let city = (0..s.columns())
        .position(|i| s.column_name(i).as_deref() == Some("city"))
        .unwrap();
    s.data.col = city;
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Char('j'));
    let want = t
        .column("city")
        .unwrap()
        .str()
        .unwrap()
        .get(2)
        .unwrap()
        .to_string();
    assert_eq!(copied(&mut s, 'y').as_deref(), Some(want.as_str()));
    assert_eq!(
        s.message.as_deref().unwrap(),
        format!(
            "copied city of C000003 ({} characters) to the clipboard (OSC 52)",
            want.chars().count()
        )
    );
    // Y: a header line of the column names, a line of the values (as shown), tab-separated.
    let row = copied(&mut s, 'Y').unwrap();
    let lines: Vec<&str> = row.lines().collect();
    assert_eq!(lines.len(), 2);
    let names: Vec<String> = t.get_column_names().iter().map(|n| n.to_string()).collect();
    assert_eq!(lines[0], names.join("\t"));
    let values: Vec<&str> = lines[1].split('\t').collect();
    assert_eq!(values.len(), 29);
    assert_eq!(values[0], "C000003");
    assert_eq!(values[city], want);
    assert!(
        s.message
            .as_deref()
            .unwrap()
            .starts_with("copied the row of C000003 (")
    );
    // In a filtered view the selected row is the view's, not the file's.
    key(&mut s, KeyCode::Char('/'));
    typed(&mut s, "glasgow");
    key(&mut s, KeyCode::Enter);
    let first = s.data.order.as_ref().unwrap()[0] as usize;
    let want = t
        .column("city")
        .unwrap()
        .str()
        .unwrap()
        .get(first)
        .unwrap()
        .to_string();
    assert!(want.to_lowercase().contains("glasgow"));
    assert_eq!(copied(&mut s, 'y').unwrap(), want);
    // Other screens without a selection: y is not a key there.
    key(&mut s, KeyCode::Char('6'));
    assert_eq!(copied(&mut s, 'y'), None);
}

/// Personal data is copied as the screen shows it: masked unless it is shown.
#[test]
fn copying_personal_data_copies_the_mask() {
    use crmlens::data::privacy::{PiiKind, mask};
    let mut s = sample_state();
    let t = s.table.clone().unwrap();
    let email = (0..s.columns())
        .position(|i| s.column_name(i).as_deref() == Some("email"))
        .unwrap();
    s.data.col = email;
    let raw = t
        .column("email")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    let masked = mask(PiiKind::Email, &raw);
    assert_ne!(masked, raw);
    assert_eq!(copied(&mut s, 'y').unwrap(), masked);
    let row = copied(&mut s, 'Y').unwrap();
    assert!(!row.contains(&raw), "{row}");
    assert!(row.contains(&masked), "{row}");
    s.show_pii = true;
    assert_eq!(copied(&mut s, 'y').unwrap(), raw);
    assert!(copied(&mut s, 'Y').unwrap().contains(&raw));
}

/// Values [cleaning.missing] filled in are marked `≈` (and dimmed) in the table, exactly on
/// the rows the report says were filled (each line checked by its customer key), also once
/// sorted; the stats panel says how many and with what.
#[test]
fn imputed_cells_are_marked() {
    let mut s = sample_state();
    let income = (0..s.columns())
        .position(|i| s.column_name(i).as_deref() == Some("income"))
        .unwrap();
    let report = s.report.clone().unwrap();
    let m = report
        .missing
        .iter()
        .find(|m| m.column == "income")
        .unwrap();
    assert!(!m.filled_rows.is_empty(), "the sample fills some incomes");
    // The filled rows are those whose income was missing: as many as the report counted.
    assert_eq!(m.filled_rows.len() as u64, m.before);
    let table = s.table.clone().unwrap();
    let keys: Vec<String> = table.columns()[0]
        .cast(&polars::prelude::DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect();
    let row_of: std::collections::HashMap<&str, u32> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i as u32))
        .collect();
    for _ in 0..income {
        key(&mut s, KeyCode::Char('l'));
    }
    // Down to the first filled row.
    for _ in 0..m.filled_rows[0] {
        key(&mut s, KeyCode::Char('j'));
    }
    let check = |screen: &str| {
        let mut marked = 0;
        for line in screen.lines() {
            let first = line
                .trim_matches('"')
                .split_whitespace()
                .next()
                .unwrap_or("");
            let Some(&row) = row_of.get(first) else {
                continue;
            };
            let filled = m.filled_rows.binary_search(&row).is_ok();
            let table_part = line.split('│').next().unwrap();
            assert_eq!(table_part.contains('≈'), filled, "row {row}: {line}");
            marked += filled as usize;
        }
        assert!(marked > 0, "{screen}");
    };
    let screen = draw(&s, 160, 40);
    check(&screen);
    assert!(
        screen.contains(&format!(
            "≈ {} values filled in (median",
            m.filled_rows.len()
        )),
        "{screen}"
    );
    // Sorted by income, the marks follow their rows.
    key(&mut s, KeyCode::Char('s'));
    let order = s.data.order.clone().expect("sorted");
    let at = order
        .iter()
        .position(|r| m.filled_rows.binary_search(r).is_ok())
        .unwrap();
    for _ in 0..at {
        key(&mut s, KeyCode::Char('j'));
    }
    check(&draw(&s, 160, 40));
}
