//! Calico method strings and interface regexes (Go RE2 syntax translated
//! for the `regex` crate), evaluated on a small fixed host. Never a panic,
//! bounded time (Go's repeat limits are enforced before compiling).
//!
//! Checked: the list splits into one item per comma; `interface=V` parses
//! to exactly those items; each item and the joined alternation translate
//! and compile or fail with a message naming them; the raw input as a
//! method, and as `interface=`, `skip-interface=`, `cidr=` and
//! `can-reach=`, evaluates for both families with picks on the host.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tuntrace::calico::regex_list::{compile_go, split_list, translate_go};
use tuntrace::calico::{parse_method, Method};
use tuntrace_fuzz::{check_detect, fixed_host};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let items = split_list(raw);
    assert_eq!(
        items.len(),
        raw.matches(',').count() + 1,
        "items of {raw:?}"
    );
    assert_eq!(
        parse_method(&format!("interface={raw}")),
        Ok(Method::Interface(items.clone()))
    );
    for item in &items {
        if let Err(e) = compile_go(item) {
            assert!(
                e.contains(&format!("{item:?}")) || translate_go(item).is_err(),
                "{e}"
            );
        }
    }
    // The joined alternation compiles inside `interface=` and
    // `skip-interface=` below (their items are these, asserted above).

    let file = fixed_host();
    check_detect(raw, &file.host, &file, &file.internal_ips);
    for kw in ["interface=", "skip-interface=", "cidr=", "can-reach="] {
        check_detect(&format!("{kw}{raw}"), &file.host, &file, &file.internal_ips);
    }
});
