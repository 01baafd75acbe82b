//! `cargo bench --bench ui`: how fast the workbench draws.
//!
//! - first frame: from an empty state to the first drawn frame (the loading screen), and to
//!   the first frame with the sample's 360 table (integration included);
//! - redraw: the Data screen of a 1,000,000-row table at 120x40, moving the selection between
//!   frames, in file order and through a sorted row order.
//!
//! Draws go to ratatui's TestBackend, so terminal I/O is not included.

use std::sync::Arc;
use std::time::Instant;

use crmlens::app::State;
use crmlens::app::job::{JobOutcome, JobRequest, run_now};
use crmlens::data::integrate::explore::arrange;
use polars::prelude::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn draw(t: &mut Terminal<TestBackend>, s: &State) {
    t.draw(|f| crmlens::ui::draw(f, s)).unwrap();
}

fn big_table(n: usize) -> DataFrame {
    let ids: Vec<String> = (0..n).map(|i| format!("C{i:07}")).collect();
    let cities = ["London", "Leeds", "York", "Glasgow", "Cardiff"];
    let city: Vec<&str> = (0..n).map(|i| cities[i % 5]).collect();
    let f = |k: u64| -> Vec<f64> {
        (0..n as u64)
            .map(|i| ((i.wrapping_mul(2654435761).wrapping_add(k)) % 100_000) as f64 / 7.0)
            .collect()
    };
    let days: Vec<i32> = (0..n as i32).map(|i| 19000 + i % 700).collect();
    df!(
        "customer_id" => ids,
        "city" => city,
        "recency_days" => f(1),
        "frequency" => f(2),
        "monetary" => f(3),
        "avg_order_value" => f(4),
        "tickets" => f(5),
        "sessions" => f(6),
        "income" => f(7),
        "last_order" => days
    )
    .unwrap()
    .lazy()
    .with_column(col("last_order").cast(DataType::Date))
    .collect()
    .unwrap()
}

fn main() {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();

    // First frames on the sample.
    let t0 = Instant::now();
    let mut s = State::new("sample".into());
    let _ = s.load(JobRequest::Workspace(
        manifest.join("sample_data/crmlens.toml"),
    ));
    draw(&mut term, &s);
    let first_frame = t0.elapsed();
    let outcome = run_now(JobRequest::Workspace(
        manifest.join("sample_data/crmlens.toml"),
    ));
    if let JobOutcome::Loaded(l) = outcome {
        s.table = Some(Arc::new(l.table));
        s.report = l.report;
    }
    draw(&mut term, &s);
    let first_data_frame = t0.elapsed();

    // Redraws on 1M rows.
    let n = 1_000_000;
    let table = Arc::new(big_table(n));
    let mut s = State::new("bench".into());
    s.table = Some(table.clone());
    s.viewport = 36;
    let frames = 200;
    let t = Instant::now();
    for i in 0..frames {
        s.data.row = (i * 4999) % n;
        s.data.col = i % 10;
        draw(&mut term, &s);
    }
    let file_order_ms = t.elapsed().as_secs_f64() * 1000.0 / frames as f64;
    let sort_t = Instant::now();
    let order = arrange(&table, None, Some(("monetary", true))).unwrap();
    let sort_ms = sort_t.elapsed().as_secs_f64() * 1000.0;
    s.data.order = Some(Arc::new(order));
    let t = Instant::now();
    for i in 0..frames {
        s.data.row = (i * 4999) % n;
        draw(&mut term, &s);
    }
    let sorted_ms = t.elapsed().as_secs_f64() * 1000.0 / frames as f64;
    let filter_t = Instant::now();
    let hits = arrange(&table, Some("glasgow"), None).unwrap().len();
    let filter_ms = filter_t.elapsed().as_secs_f64() * 1000.0;

    let v = serde_json::json!({
        "bench": "ui",
        "first_frame_ms": first_frame.as_secs_f64() * 1000.0,
        "first_frame_with_sample_data_ms": first_data_frame.as_secs_f64() * 1000.0,
        "rows": n,
        "redraw_data_screen_ms": file_order_ms,
        "redraw_data_screen_sorted_ms": sorted_ms,
        "sort_1m_rows_ms": sort_ms,
        "filter_1m_rows_ms": filter_ms,
        "filter_hits": hits,
    });
    println!("{}", serde_json::to_string_pretty(&v).unwrap());
}
