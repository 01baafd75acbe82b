#![no_main]
//! Fuzzes the workspace parser (strict and lenient): any text ends in a workspace or in an
//! error naming the file, never a panic, a stack overflow or a hang.

use std::path::Path;

use crmlens::data::sources::workspace::Workspace;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.toml");
    if let Err(e) = Workspace::parse(text, path) {
        assert!(e.to_string().starts_with("fuzz.toml"), "{e}");
    }
    if let Err(e) = Workspace::parse_lenient(text, path) {
        assert!(e.to_string().starts_with("fuzz.toml"), "{e}");
    }
});
