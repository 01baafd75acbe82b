//! Every screen of the sample drawn into ratatui's TestBackend at 80x24 and 120x40.

use crmlens::screens::Screen;

use super::{draw, sample_state};

#[test]
fn screens_80x24() {
    let mut s = sample_state();
    for screen in Screen::ALL {
        s.screen = screen;
        insta::assert_snapshot!(format!("80x24_{}", screen.title()), draw(&s, 80, 24));
    }
}

#[test]
fn screens_120x40() {
    let mut s = sample_state();
    s.data.row = 3;
    for screen in Screen::ALL {
        s.screen = screen;
        insta::assert_snapshot!(format!("120x40_{}", screen.title()), draw(&s, 120, 40));
    }
}
