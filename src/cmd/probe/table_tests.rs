//! `probe`'s table, from sightings the decoder and the echo finder made of
//! synthesised frames: the lines a user reads after a probe.

use std::net::Ipv4Addr;

use super::echo::{find_echo, MARKER_LEN};
use super::{sighting, table, Direction, Sighting};
use crate::decode::{decode_frame, DecodeConfig};
use crate::linktype::LinkType;
use crate::synth::{checksum, ethernet, icmp_echo, ipv4};

const N71: Ipv4Addr = Ipv4Addr::new(192, 168, 30, 71);
const N72: Ipv4Addr = Ipv4Addr::new(192, 168, 30, 72);
const P1: Ipv4Addr = Ipv4Addr::new(10, 244, 118, 193);
const P2: Ipv4Addr = Ipv4Addr::new(10, 244, 5, 194);
const MARKER: [u8; MARKER_LEN] = *b"tuntrace\x01\x02\x03\x04\x05\x06\x07\x08";

/// An IPIP frame carrying our marked echo request (or reply).
fn frame(outer: (Ipv4Addr, Ipv4Addr), inner: (Ipv4Addr, Ipv4Addr), request: bool) -> Vec<u8> {
    let mut payload = MARKER.to_vec();
    payload.resize(48, 0);
    let mut icmp = icmp_echo(0x4242, 1, &payload);
    if !request {
        icmp[0] = 0;
        icmp[2..4].fill(0);
        let c = checksum(&icmp);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
    }
    let ip = ipv4(outer.0, outer.1, 4, &ipv4(inner.0, inner.1, 1, &icmp));
    ethernet([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], 0x0800, &ip)
}

fn seen(name: &str, frame: &[u8]) -> Sighting {
    let echo = find_echo(frame, &MARKER).expect("the marked echo");
    let d = decode_frame(frame, LinkType::ETHERNET, &DecodeConfig::default());
    sighting(name, &d, echo, 1).expect("a tunnel sighting")
}

#[test]
fn probe_table_pins_its_header_and_rows() {
    let req = seen("ens33", &frame((N71, N72), (P1, P2), true));
    let rep = seen("ens33", &frame((N72, N71), (P2, P1), false));
    assert_eq!(
        (req.direction, rep.direction),
        (Direction::Request, Direction::Reply)
    );
    let json = serde_json::to_value(&req).unwrap();
    assert_eq!(
        (&json["direction"], &json["encap"]),
        (&"request".into(), &"ipip".into())
    );
    let mut out = Vec::new();
    let verdict = "request encapsulated, reply received";
    table(
        &mut out,
        P2.into(),
        Some(&req),
        Some(&rep),
        Some(0.412),
        1,
        1,
        verdict,
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "probe to 10.244.5.194: 1 sent, 1 replies\n\
         request  ens33        ipip    192.168.30.71 → 192.168.30.72\n\
         reply    ens33        ipip    192.168.30.72 → 192.168.30.71\n\
         rtt      0.412 ms (min)\n\
         verdict  request encapsulated, reply received\n"
    );
    let mut out = Vec::new();
    table(&mut out, P2.into(), Some(&req), None, None, 1, 0, "none").unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text.lines().nth(2),
        Some("reply    not seen in a tunnel"),
        "{text}"
    );
}
