//! Any bytes read as the report JSON (the contract other tools, and the
//! coming `merge`, read back into `Report`): never a panic; a report that parses serialises, parses
//! back equal, and renders as a table and as JSON like any built report.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tuntrace::report::Report;
use tuntrace_fuzz::check_renderers;

fuzz_target!(|data: &[u8]| {
    let Ok(report) = serde_json::from_slice::<Report>(data) else {
        return;
    };
    let text = serde_json::to_string(&report).expect("a parsed report serialises");
    let back: Report = serde_json::from_str(&text).expect("and parses back");
    assert_eq!(back, report);
    check_renderers(&report);
});
