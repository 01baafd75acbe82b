//! The help and search overlays, and the quit prompt.

use crmlens::app::state::Overlay;
use crmlens::screens::Screen;
use crossterm::event::KeyCode;

use super::{draw, key, sample_state};

#[test]
fn help_overlay_and_quit_prompt() {
    let mut s = sample_state();
    key(&mut s, KeyCode::Char('?'));
    assert_eq!(s.overlay, Some(Overlay::Help));
    let screen = draw(&s, 80, 24);
    assert!(screen.contains("sort by column"), "{screen}");
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.overlay, None);
    // With no job running, q quits at once.
    key(&mut s, KeyCode::Char('q'));
    assert!(s.quit);
}

#[test]
fn help_and_search_overlays_80x24() {
    let mut s = sample_state();
    s.overlay = Some(Overlay::Help);
    insta::assert_snapshot!("80x24_help", draw(&s, 80, 24));
    // The Predict screen has more keys than 24 rows hold: every screen's keys fold into one
    // row and the bottom border is drawn.
    s.screen = Screen::Predict;
    let screen = draw(&s, 80, 24);
    assert!(screen.contains("every screen"), "{screen}");
    assert!(screen.contains("export scores"), "{screen}");
    assert!(screen.contains("└"), "{screen}");
    s.screen = Screen::Data;
    s.overlay = Some(Overlay::Filter("leeds".into()));
    insta::assert_snapshot!("80x24_search", draw(&s, 80, 24));
}
