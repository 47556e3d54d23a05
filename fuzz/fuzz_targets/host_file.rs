//! `--host-file` input: `ip -j addr` JSON or tuntrace's host JSON, read by
//! two Calico releases' rules. Never a panic; a host that reads is
//! evaluated with fixed methods and with every method `likely_methods`
//! suggests for it, each of which must parse; picks name host interfaces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tuntrace::calico::hostfile::parse_host_file_as;
use tuntrace::calico::{likely_methods, parse_method, CalicoVersion, Family};
use tuntrace_fuzz::check_detect;

const METHODS: [&str; 7] = [
    "first-found",
    "interface=eth.*,ens.*",
    "skip-interface=ens33",
    "cidr=10.0.0.0/8,fd00::/8",
    "can-reach=8.8.8.8",
    "kubernetes-internal-ip",
    "interface=(",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut seen = None;
    for version in [CalicoVersion::new(3, 31), CalicoVersion::new(3, 32)] {
        let Ok(file) = parse_host_file_as(text, version) else {
            continue;
        };
        // Detection reads only the parsed file: a host both releases read
        // alike gives the same answers twice (regex compiles are most of a
        // run's time; `compile_go` keeps only the last few), so it is
        // evaluated once.
        if seen.as_ref() == Some(&file) {
            continue;
        }
        let host = &file.host;
        for m in METHODS {
            check_detect(m, host, &file, &file.internal_ips);
        }
        for family in [Family::V4, Family::V6] {
            for m in likely_methods(host, family, file.default_gateway, &file.internal_ips) {
                assert!(
                    parse_method(&m).is_ok(),
                    "likely method {m:?} does not parse"
                );
                check_detect(&m, host, &file, &file.internal_ips);
            }
        }
        seen = Some(file);
    }
});
