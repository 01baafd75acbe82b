#![no_main]
//! Fuzzes the csv reader: see common.rs for what counts as a finding.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(init: common::allow_guarded_panics(), |data: &[u8]| {
    common::check_file("csv", data);
});
