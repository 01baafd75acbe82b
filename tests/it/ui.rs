//! Screens drawn into ratatui's TestBackend from a real integrated table.

use crmlens::app::State;
use crmlens::data::integrate::integrate;
use crmlens::data::workspace::Workspace;
use crmlens::progress::Progress;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::sample_dir;

fn sample_state() -> State {
    let ws = Workspace::load(&sample_dir().join("crmlens.toml")).unwrap();
    let c = integrate(&ws, &Progress::new()).unwrap();
    let mut s = State::new("sample CRM: customer 360".into(), None);
    s.table = Some(c.table);
    s.report = Some(c.report);
    s.message = Some("loaded".into());
    s
}

fn draw(state: &State, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| crmlens::ui::draw(f, state)).unwrap();
    t
}

#[test]
fn table_view_80x24() {
    let mut s = sample_state();
    s.row = 2;
    let t = draw(&s, 80, 24);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn table_view_scrolled_right() {
    let mut s = sample_state();
    s.col = 12;
    s.row = 30;
    let t = draw(&s, 100, 16);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn too_small_terminal_says_so() {
    let s = sample_state();
    let t = draw(&s, 40, 8);
    let text = format!("{:?}", t.backend());
    assert!(text.contains("terminal too small"), "{text}");
    assert!(text.contains("need 60x12"), "{text}");
}
