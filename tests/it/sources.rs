//! The source picker (`o`): it lists the workspace and each source it configures with what
//! was read, opens any of them (or another file, database table or URL) on the worker
//! thread, lists a database's tables, and a load that fails leaves the data loaded before.

use crmlens::app::State;
use crmlens::app::job::JobRequest;
use crmlens::app::sources::Status;
use crmlens::app::state::Overlay;
use crmlens::data::sources::file::{ReadOptions, read_frame};
use crmlens::data::sources::sqlite::write_table;
use crossterm::event::KeyCode;

use crate::sample_dir;
use crate::ui::{key, run_commands, sample_state, typed};

/// Moves the picker's cursor to the first entry whose role is `role` (and whose location
/// contains `at`).
pub(crate) fn select(s: &mut State, role: &str, at: &str) {
    let i = s
        .sources
        .entries
        .iter()
        .position(|e| e.role == role && e.location().contains(at))
        .unwrap_or_else(|| panic!("no {role} entry at {at}: {:#?}", s.sources.entries));
    while s.sources.cursor > i {
        key(s, KeyCode::Up);
    }
    while s.sources.cursor < i {
        key(s, KeyCode::Down);
    }
    assert_eq!(s.sources.cursor, i);
}

/// The locations of the picker's table entries.
pub(crate) fn listed_tables(s: &State) -> Vec<String> {
    s.sources
        .entries
        .iter()
        .filter(|e| e.role == "table")
        .map(|e| e.location())
        .collect()
}

/// Presses the keys of a picker that is open (or opens it first).
fn picker(s: &mut State) {
    if s.overlay != Some(Overlay::Sources) {
        key(s, KeyCode::Char('o'));
    }
    assert_eq!(s.overlay, Some(Overlay::Sources));
}

fn rows_of(path: &std::path::Path, opts: &ReadOptions) -> usize {
    read_frame(path, opts).unwrap().height()
}

#[test]
fn o_lists_the_workspace_and_its_sources_as_read() {
    let mut s = sample_state();
    picker(&mut s);
    let screen = crate::ui::draw(&s, 120, 40);
    assert!(
        screen
            .lines()
            .any(|l| l.contains("▶ workspace") && l.contains("5000 rows x 29 cols")),
        "{screen}"
    );
    let report = s.report.clone().unwrap();
    assert_eq!(report.sources.len(), 4);
    for src in &report.sources {
        let line = screen
            .lines()
            .find(|l| l.contains(&format!("  {} ", src.role)))
            .unwrap_or_else(|| panic!("no row for {}: {screen}", src.role));
        assert!(line.contains(&src.format), "{line}");
        assert!(line.contains(&format!("{} rows", src.rows)), "{line}");
        assert!(line.contains(&src.path), "{line}");
    }
    assert!(!screen.contains("problem"), "{screen}");
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.overlay, None);

    // A workspace whose orders file is missing: left out, and said so.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(sample_dir().join("crmlens.toml"))
        .unwrap()
        .replace(
            "path = \"",
            &format!("path = \"{}/", sample_dir().display()),
        )
        .replace("orders.csv", "orders-gone.csv");
    let path = dir.path().join("w.toml");
    std::fs::write(&path, text).unwrap();
    let mut t = State::new("w".into());
    let cmds = t.load(JobRequest::Workspace(path));
    run_commands(&mut t, cmds);
    assert!(t.table.is_some(), "{:?}", t.error);
    picker(&mut t);
    let screen = crate::ui::draw(&t, 160, 40);
    // The lenient load left the source out, so the problem lines say what happened to it.
    assert!(!screen.contains("  orders "), "{screen}");
    assert!(screen.contains("  tickets "), "{screen}");
    let problem = screen
        .lines()
        .find(|l| l.contains("problem"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(problem.contains("orders-gone.csv"), "{problem}");
}

/// Enter on a workspace's source opens it as it is; Enter on the workspace integrates it
/// again; a path typed after `a` that fails leaves the table as it was.
#[test]
fn enter_opens_a_source_and_a_failed_open_keeps_the_data() {
    let mut s = sample_state();
    picker(&mut s);
    select(&mut s, "orders", "orders.csv");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.overlay, None, "{:?}", s.error);
    let orders = rows_of(&sample_dir().join("orders.csv"), &ReadOptions::default());
    assert_eq!(s.table.as_ref().unwrap().height(), orders);
    assert!(s.title.contains("orders.csv"), "{}", s.title);
    // The session's source follows (Rules mines what is shown).
    assert!(s.source.as_ref().unwrap().ends_with("orders.csv"));
    picker(&mut s);
    let screen = crate::ui::draw(&s, 120, 40);
    let line = screen.lines().find(|l| l.contains("▶")).unwrap();
    assert!(line.contains("orders"), "{line}");

    // A path that is not there: the panel, the entry failed, the orders still shown.
    key(&mut s, KeyCode::Char('a'));
    assert!(matches!(s.overlay, Some(Overlay::OpenSource(_))));
    typed(&mut s, "no/such/file.csv");
    key(&mut s, KeyCode::Enter);
    let Some(Overlay::LoadFailed(msg)) = s.overlay.clone() else {
        panic!("{:?}", s.overlay)
    };
    assert!(msg.contains("no/such/file.csv"), "{msg}");
    assert_eq!(s.table.as_ref().unwrap().height(), orders);
    assert!(s.source.as_ref().unwrap().ends_with("orders.csv"));
    let failed = s
        .sources
        .entries
        .iter()
        .find(|e| e.location().contains("no/such/file.csv"))
        .unwrap();
    assert!(matches!(failed.status, Status::Failed(_)), "{failed:?}");
    key(&mut s, KeyCode::Esc);

    // Back to the 360 table.
    picker(&mut s);
    select(&mut s, "workspace", "crmlens.toml");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.table.as_ref().unwrap().height(), 5000);
    assert_eq!(s.columns(), 29);
    assert!(s.features.items.iter().any(|f| f.selected));
}

/// A SQLite file: opened at its `customers` table; `t` lists every table under it, and
/// Enter on one reads it. A database with several tables and no `customers` offers its
/// tables instead of guessing.
#[test]
fn database_tables_are_listed_and_opened() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crm.sqlite");
    let customers = read_frame(&sample_dir().join("customers.csv"), &Default::default()).unwrap();
    let orders = read_frame(&sample_dir().join("orders.csv"), &Default::default()).unwrap();
    write_table(&db, "customers", &customers).unwrap();
    write_table(&db, "orders", &orders).unwrap();

    let mut s = State::new("crm".into());
    let cmds = s.load(JobRequest::Open {
        path: db.clone(),
        options: ReadOptions::default(),
    });
    run_commands(&mut s, cmds);
    assert_eq!(s.table.as_ref().unwrap().height(), customers.height());
    assert!(s.title.ends_with("table customers"), "{}", s.title);
    picker(&mut s);
    key(&mut s, KeyCode::Char('t'));
    let tables = listed_tables(&s);
    assert_eq!(tables.len(), 2, "{tables:?}");
    assert!(tables[0].ends_with("table customers") && tables[1].ends_with("table orders"));
    select(&mut s, "table", "table orders");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.table.as_ref().unwrap().height(), orders.height());
    assert_eq!(s.columns(), orders.width());
    let screen = {
        picker(&mut s);
        crate::ui::draw(&s, 120, 30)
    };
    let line = screen.lines().find(|l| l.contains("▶")).unwrap();
    assert!(line.contains("table orders"), "{line}");
    assert!(
        line.contains(&format!("{} rows", orders.height())),
        "{line}"
    );
    key(&mut s, KeyCode::Esc);

    // The order-line screens read workspaces and files, and say so rather than reading the
    // database's default table.
    key(&mut s, KeyCode::Char('5'));
    key(&mut s, KeyCode::Char('r'));
    assert!(s.jobs.is_empty());
    let e = s.error.clone().unwrap();
    assert!(e.contains("database table opened on its own"), "{e}");
    // Ctrl-S would save a workspace reading that table.
    let ws = crmlens::app::history::session_workspace(&s);
    assert_eq!(ws.sources.customers.path, db);
    assert_eq!(ws.sources.customers.table.as_deref(), Some("orders"));
    key(&mut s, KeyCode::Char('1'));

    // `t` on a plain file: a clear line, nothing listed.
    let csv = sample_dir().join("orders.csv");
    key(&mut s, KeyCode::Char('o'));
    key(&mut s, KeyCode::Char('a'));
    typed(&mut s, &csv.display().to_string());
    key(&mut s, KeyCode::Enter);
    picker(&mut s);
    select(&mut s, "opened", "orders.csv");
    key(&mut s, KeyCode::Char('t'));
    assert!(
        s.error.as_deref().unwrap().contains("not a database"),
        "{:?}",
        s.error
    );

    // No `customers` table: the picker opens with the tables to choose from.
    let shop = dir.path().join("shop.sqlite");
    write_table(&shop, "orders", &orders).unwrap();
    write_table(&shop, "returns", &orders.head(Some(10))).unwrap();
    let before = s.table.as_ref().unwrap().height();
    key(&mut s, KeyCode::Esc);
    key(&mut s, KeyCode::Char('o'));
    key(&mut s, KeyCode::Char('a'));
    typed(&mut s, &shop.display().to_string());
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.overlay, Some(Overlay::Sources));
    assert_eq!(s.table.as_ref().unwrap().height(), before);
    let selected = s.sources.selected().unwrap();
    assert_eq!(selected.role, "table");
    assert!(selected.location().ends_with("table orders"));
    assert!(
        s.message.as_deref().unwrap().contains("2 tables"),
        "{:?}",
        s.message
    );
    select(&mut s, "table", "table returns");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.table.as_ref().unwrap().height(), 10);
}

/// Files named on the command line after the first are listed, and Enter opens one.
#[test]
fn other_files_from_the_command_line_are_listed_to_open() {
    let mut s = State::new("files".into());
    let cmds = s.load(JobRequest::Open {
        path: sample_dir().join("customers.csv"),
        options: ReadOptions::default(),
    });
    s.sources.add_files(&[sample_dir().join("orders.csv")]);
    run_commands(&mut s, cmds);
    picker(&mut s);
    let screen = crate::ui::draw(&s, 120, 30);
    let line = screen.lines().find(|l| l.contains("orders.csv")).unwrap();
    assert!(line.contains("not read"), "{line}");
    select(&mut s, "file", "orders.csv");
    key(&mut s, KeyCode::Enter);
    // Order lines on their own are a transaction log: they open as one row per customer.
    let lines = crmlens::data::sources::file::read_frame(
        &sample_dir().join("orders.csv"),
        &ReadOptions::default(),
    )
    .unwrap();
    let customers = lines.column("customer_id").unwrap().n_unique().unwrap();
    let table = s.table.as_ref().unwrap();
    assert_eq!(table.height(), customers);
    assert!(s.title.contains("transaction log"), "{}", s.title);
    for c in ["recency_days", "frequency", "monetary"] {
        assert!(
            table.column(c).is_ok(),
            "{c}: {:?}",
            table.get_column_names()
        );
    }
}
