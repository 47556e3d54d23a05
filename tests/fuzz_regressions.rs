//! Inputs the fuzz targets (`fuzz/`) or their review turned up, each named
//! after what it was, asserting the fixed behaviour.

mod common;

use std::net::IpAddr;

use tuntrace::calico::regex_list::{compile_list, split_list};
use tuntrace::k8s::K8sNames;

#[global_allocator]
static ALLOC: largest_alloc::Tracking = largest_alloc::Tracking;

/// The largest single allocation each thread made (the tests of this file
/// run on parallel threads), as the fuzz targets' allocator checks it.
mod largest_alloc {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static LARGEST: Cell<usize> = const { Cell::new(0) };
    }

    pub struct Tracking;

    fn note(size: usize) {
        // `try_with`: never fails for a const-initialised `Cell`, but an
        // allocator must not panic, even while a thread is torn down.
        let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
    }

    pub fn reset() {
        LARGEST.with(|l| l.set(0));
    }

    pub fn get() -> usize {
        LARGEST.with(Cell::get)
    }

    // SAFETY: every call is passed to the system allocator unchanged.
    unsafe impl GlobalAlloc for Tracking {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            note(layout.size());
            System.alloc(layout)
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            note(layout.size());
            System.alloc_zeroed(layout)
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            note(new_size);
            System.realloc(ptr, layout, new_size)
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            System.dealloc(ptr, layout)
        }
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// `k8s_names`: a YAML "billion laughs". 200 aliases of one pod with a
/// 4 KiB name are 9 KiB of text that serde_yaml's own limit (100 alias
/// jumps per event) lets through; read, they were 200 pods of 4 KiB names
/// each, 100 times the file. Now refused, naming the aliases.
#[test]
fn k8s_yaml_alias_bomb_is_refused() {
    let name = "n".repeat(4096);
    let mut text =
        format!("kind: PodList\nanchor: &p {{metadata: {{name: {name}}}, status: {{podIP: 10.0.0.1}}}}\nitems: [");
    text.push_str(&"*p, ".repeat(200));
    text.push_str("]\n");
    let err = K8sNames::default().add_text(&text).unwrap_err();
    assert!(err.contains("YAML aliases expand"), "{err}");

    // A few aliases, as a hand-written file might use, still read.
    let mut names = K8sNames::default();
    names
        .add_text("kind: PodList\nitems:\n- metadata: &m {name: web, namespace: shop}\n  status: {podIP: 10.0.0.1}\n- metadata: *m\n  status: {podIP: 10.0.0.2}\n")
        .unwrap();
    assert_eq!(names.pod(ip("10.0.0.2")).unwrap().label(), "shop/web");
}

/// `k8s_names`: one pod with a long name and many addresses held one copy
/// of the name per address (a 1 MiB name and 60,000 addresses in 2 MiB of
/// JSON: 60 GiB). The addresses now share one entry.
#[test]
fn k8s_pod_and_node_names_are_shared_by_their_addresses() {
    let long = "p".repeat(10_000);
    let ips: Vec<String> = (0..200)
        .map(|i| format!("{{\"ip\":\"10.1.{}.{}\"}}", i / 250, i % 250))
        .collect();
    let pods = format!(
        r#"{{"kind":"PodList","items":[{{"metadata":{{"name":"{long}","namespace":"ns"}},"status":{{"podIPs":[{}]}}}}]}}"#,
        ips.join(",")
    );
    let mut names = K8sNames::default();
    names.add_text(&pods).unwrap();
    let (a, b) = (
        names.pod(ip("10.1.0.0")).unwrap(),
        names.pod(ip("10.1.0.199")).unwrap(),
    );
    assert_eq!(a.name, long);
    assert!(std::ptr::eq(a, b), "one entry for both addresses");

    let addrs: Vec<String> = (0..100)
        .map(|i| {
            format!(
                "{{\"type\":\"InternalIP\",\"address\":\"192.168.{}.{}\"}}",
                i / 250,
                i % 250
            )
        })
        .collect();
    let nodes = format!(
        r#"{{"kind":"NodeList","items":[{{"metadata":{{"name":"{long}"}},"status":{{"addresses":[{}]}}}}]}}"#,
        addrs.join(",")
    );
    names.add_text(&nodes).unwrap();
    let (a, b) = (
        names.node(ip("192.168.0.0")).unwrap(),
        names.node(ip("192.168.0.99")).unwrap(),
    );
    assert_eq!(a, long);
    assert!(std::ptr::eq(a, b), "one name for both addresses");
}

/// `split_equals_one_pass`: records longer than the file's snaplen were
/// counted when their header was seen, so one that straddled the end of
/// the read buffer (read again after the refill) counted twice: a split
/// read, whose parts end in more places, reported 4 where one pass said 2.
/// Here every 512 KiB read ends inside one of 5,000 oversize records.
#[test]
fn oversize_record_straddling_a_buffer_refill_is_counted_once() {
    use tuntrace::linktype::LinkType;
    use tuntrace::write::pcap::PcapWriter;
    use tuntrace::write::{Endian, TsResolution};
    let dir = common::TempDir::new("oversize");
    let path = dir.path("oversize.pcap");
    let file = std::fs::File::create(&path).unwrap();
    let mut w = PcapWriter::new(
        file,
        LinkType::ETHERNET,
        100,
        Endian::Little,
        TsResolution::Micro,
    )
    .unwrap();
    for i in 0..5_000u64 {
        w.write_packet(i * 1000, 200, &[0x45; 200]).unwrap();
    }
    drop(w.finish().unwrap());
    for threads in ["1", "2"] {
        let report = common::read_json(&[&path], &["--threads", threads], 0);
        assert_eq!(report["packets"]["total"], 5_000, "--threads {threads}");
        assert_eq!(
            report["sources"][0]["oversize_records"], 5_000,
            "--threads {threads}"
        );
    }
}

/// Found by `split_equals_one_pass` (round 5: cuts `[0, 0, 681]` of a
/// 2,567-byte classic pcap): ICMP too-big errors about the same tunnel and
/// MTU from several routers tied on the report's sort key, so their rows
/// came out in the hash map's order, which differs between a table that
/// counted every packet and one that merged parts. Here the same rows are
/// held by a table grown one row at a time and by one sized up front and
/// filled in reverse: the reports must list them alike.
#[test]
fn too_big_rows_sort_on_their_whole_key_not_on_how_the_table_grew() {
    use std::net::Ipv4Addr;
    use tuntrace::decode::icmp::TooBig;
    use tuntrace::decode::Encap;
    use tuntrace::flows::{Counts, FlowTable, Limits, TooBigKey};
    use tuntrace::iface::IfaceTable;
    use tuntrace::report::build_report;

    let mut ifaces = IfaceTable::new();
    let iface = ifaces.intern("eth0");
    let keys: Vec<TooBigKey> = (0..40u8)
        .map(|i| TooBigKey {
            iface,
            from: IpAddr::V4(Ipv4Addr::new(10, 0, i, 1)),
            to: IpAddr::V4(Ipv4Addr::new(192, 168, 4, 2)),
            quoted: TooBig {
                quoted_src: ip("192.168.4.2"),
                quoted_dst: ip("2.2.2.2"),
                encap: if i % 2 == 0 { Encap::Gre } else { Encap::Ipip },
                mtu: 1400,
            },
        })
        .collect();
    let counts = |i: usize| Counts {
        packets: 1 + i as u64 % 3,
        bytes: 100,
        first_ns: i as u64,
        last_ns: i as u64,
    };
    let mut grown = FlowTable::new(Limits::default());
    for (i, k) in keys.iter().enumerate() {
        grown.plain.too_big.insert(*k, counts(i));
    }
    let mut sized = FlowTable::new(Limits::default());
    sized.plain.too_big.reserve(4096);
    for (i, k) in keys.iter().enumerate().rev() {
        sized.plain.too_big.insert(*k, counts(i));
    }
    let a = build_report(&grown, &ifaces, Vec::new()).too_big;
    let b = build_report(&sized, &ifaces, Vec::new()).too_big;
    assert_eq!(a.len(), 40);
    let order = |rows: &[tuntrace::report::TooBigRow]| {
        rows.iter()
            .map(|r| (r.from, r.encap, r.packets))
            .collect::<Vec<_>>()
    };
    assert_eq!(order(&a), order(&b));
    // Within one tunnel and MTU, by the router that sent the error.
    assert_eq!(a[0].from, ip("10.0.0.1"));
    assert_eq!(a[39].from, ip("10.0.39.1"));
}

/// `calico_method`: a 243-byte method whose 75 comma-separated items,
/// joined as Calico joins them (`(r1)|(r2)|…`), put dozens of capture
/// groups under nested `{30}` repeats. The regex engine's PikeVM keeps a
/// slot per group for every NFA state: the first match asked for one
/// allocation over 256 MiB (609 MiB peak RSS). Interface regexes are now
/// compiled without capture slots; only whether a name matches is asked.
#[test]
fn interface_regex_of_many_groups_under_repeats_matches_in_bounded_memory() {
    let raw = "i+tk|s\x00r8\x1f\x00\x00\x00((nh*\x19){2\x00\x00\x045}k|s\x00r8\x00\
         \x00\x00\x00((=e\x00*\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\
         \x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
         \x00\x00\x00\x00@\x00\x00\x00\x00\x00\x00\x00\x00n|er\x00\x00\x00\x00\
         \x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
         \x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00,,,,,,,,,,\
         ,,,,,,,,,,l,,,,,,\x1f,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,l,\
         \x00\x00\x00\x00\x00\x00\x00'\x00\x00x\x19){6\x00\x00\x005}){30}\x00\
         \x00\x00k\x00){30}\x00\x00\x00k\x00\x0d";
    assert_eq!(raw.len(), 243);
    let items = split_list(raw);
    assert_eq!(items.len(), 75);
    largest_alloc::reset();
    let re = compile_list(&items).unwrap().expect("a regex");
    for name in ["lo", "ens33", "eth1", "tunl0", "vxlan.calico"] {
        assert!(!re.is_match(name), "{name}");
    }
    let largest = largest_alloc::get();
    assert!(largest < 32 << 20, "one allocation of {largest} bytes");
}
