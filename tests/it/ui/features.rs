//! The Features screen: the workspace's selection, toggling, scaling and log1p.

use crmlens::screens::Screen;
use crossterm::event::KeyCode;

use super::{key, sample_state};
use crate::sample_dir;

#[test]
fn features_start_from_the_workspace_and_toggle() {
    let mut s = sample_state();
    let ws = crmlens::data::sources::workspace::Workspace::load(&sample_dir().join("crmlens.toml"))
        .unwrap();
    assert_eq!(
        s.features.config(),
        ws.features,
        "the workspace's selection is the default"
    );
    let corr = s.features.correlation.clone().unwrap();
    assert_eq!(corr.names, ws.features.numeric);
    key(&mut s, KeyCode::Char('3'));
    assert_eq!(s.screen, Screen::Features);
    // The first item is the first numeric column; drop it and the correlation follows.
    let first = s.features.items[0].clone();
    key(&mut s, KeyCode::Char(' '));
    let cfg = s.features.config();
    assert_eq!(cfg.numeric.contains(&first.name), !first.selected);
    let corr = s.features.correlation.clone().unwrap();
    assert_eq!(corr.names, cfg.numeric);
    // Scaling cycles; log1p only applies to numeric columns.
    key(&mut s, KeyCode::Char('c'));
    assert_eq!(
        s.features.config().scaling,
        crmlens::data::sources::workspace::Scaling::Minmax
    );
    key(&mut s, KeyCode::Char('L'));
    assert_eq!(s.features.items[0].log1p, !first.log1p);
    // The selection builds a feature matrix the models can use.
    key(&mut s, KeyCode::Char(' '));
    let m = crmlens::data::features::build_features(
        s.table.as_ref().unwrap(),
        "customer_id",
        &s.features.config(),
    )
    .unwrap();
    assert_eq!(m.values.nrows(), 5000);
}
