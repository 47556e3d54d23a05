//! `tuntrace probe POD_IP`: the observed path of one conversation. Capture
//! on the node's NICs, ping the pod (raw ICMP, a unique id and payload
//! marker, only ever to the given address), and find the marked request and
//! reply inside the tunnel: NIC, encapsulation, outer pair, round-trip time.

mod echo;
#[cfg(test)]
mod table_tests;

use std::io::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use crate::cli::{OutFormat, ProbeArgs};
use crate::decode::{Decoded, Encap, Kind};
use crate::exit;
use crate::flows::Limits;
use crate::os::{EchoSocket, Host, Platform};
use crate::session::{self, open_chosen, Plan, Session, Tap};
use crate::sources::live::{CaptureConfig, FilterChoice};
use crate::sources::Frame;

use self::echo::{echo_request, find_echo, new_marker, recv_reply, Echo, MARKER_LEN};
use super::live::parse_duration;

/// Snaplen: headers through VXLAN/Geneve over IPv6 plus the echo and marker.
const SNAPLEN: u32 = 384;
/// Gap between two requests.
const GAP: Duration = Duration::from_millis(100);
/// Extra time for the capture loops to see the last reply.
const SETTLE: Duration = Duration::from_millis(150);

/// Which way a marked echo was going.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Request,
    Reply,
}

/// One marked echo seen on a NIC.
#[derive(Debug, Clone, Serialize)]
pub struct Sighting {
    pub interface: String,
    pub direction: Direction,
    /// The tunnel's encapsulation, `null` when the echo crossed in plain IP.
    pub encap: Option<Encap>,
    pub outer_src: IpAddr,
    pub outer_dst: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vni: Option<u32>,
    pub seq: u16,
    #[serde(skip)]
    pub ts_ns: u64,
}

pub fn run(args: &ProbeArgs) -> u8 {
    run_on(&Host, args, &mut std::io::stdout())
}

/// `probe` on `platform` (the host, or a fake network), the answer written to `out`.
pub fn run_on(platform: &dyn Platform, args: &ProbeArgs, out: &mut dyn Write) -> u8 {
    let timeout = match parse_duration(&args.timeout) {
        Ok(t) => t,
        Err(e) => {
            super::error(format!("--timeout {:?}: {e}", args.timeout));
            return exit::USAGE;
        }
    };
    match session::block_on(probe(platform, args, timeout, out)) {
        Ok(code) => code,
        Err(e) => {
            super::error(format!("cannot start the runtime: {e}"));
            exit::USAGE
        }
    }
}

async fn probe(
    platform: &dyn Platform,
    args: &ProbeArgs,
    timeout: Duration,
    out: &mut dyn Write,
) -> u8 {
    let target = args.target;
    let sock = match platform.echo_socket(target) {
        Ok(s) => s,
        Err(e) => {
            super::error(format!(
                "cannot open a raw ICMP socket: {e}. probe needs root, or CAP_NET_RAW and CAP_NET_ADMIN"
            ));
            return exit::USAGE;
        }
    };
    let mut stops = match platform.stop_requests() {
        Ok(s) => s,
        Err(e) => {
            super::error(format!("cannot handle signals: {e}"));
            return exit::USAGE;
        }
    };
    let cfg = CaptureConfig {
        snaplen: SNAPLEN,
        buffer_bytes: 8 << 20,
        filter: FilterChoice::Tunnels {
            vxlan_ports: args.decode.vxlan_ports.clone(),
            geneve_ports: args.decode.geneve_ports.clone(),
            extra: format!(
                "({} and host {target})",
                if target.is_ipv6() { "icmp6" } else { "icmp" }
            ),
        },
    };
    let Ok(opened) = open_chosen(platform, &args.interfaces, &cfg) else {
        return exit::USAGE;
    };
    if session::drop_privileges(platform, &args.user, false).is_err() {
        return exit::USAGE;
    }
    let names: Vec<String> = opened.nics.iter().map(|n| n.name().to_string()).collect();
    let marker = new_marker();
    let id = u16::from_be_bytes([marker[14], marker[15]]) ^ (std::process::id() as u16);
    let (tx, rx) = channel();
    let plan = Plan {
        tap: Some(Box::new(move |_: &str| -> Box<dyn Tap> {
            Box::new(EchoTap {
                marker,
                id,
                tx: tx.clone(),
            })
        })),
        ..Plan::new(super::decode_config(&args.decode), Limits::default())
    };
    let mut session = Session::start(opened.nics, plan, &opened.known);
    eprintln!(
        "tuntrace: capturing on {} (probe to {target}, id {id:#06x}, {} request{})",
        names.join(", "),
        args.count,
        if args.count == 1 { "" } else { "s" }
    );
    let cancel = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let pinger = {
        let cancel = cancel.clone();
        let count = args.count;
        let sock: Box<dyn EchoSocket> = sock;
        std::thread::spawn(move || {
            let result = ping(sock.as_ref(), target, id, &marker, count, timeout, &cancel);
            let _ = done_tx.send(());
            result
        })
    };
    // The session ends once the pings are done and the loops saw the last
    // reply, or on a signal (which also stops the pings).
    let until = async {
        let _ = done_rx.await;
        tokio::time::sleep(SETTLE).await;
    };
    session.run(&mut stops, until, |_, _| {}).await;
    cancel.store(true, Relaxed);
    let (sent, rtts) = pinger.join().unwrap_or_else(|_| {
        (
            Err(std::io::Error::other("the ping thread panicked")),
            Vec::new(),
        )
    });
    drop(session);
    let mut seen: Vec<Sighting> = rx.try_iter().collect();
    seen.sort_by_key(|s| s.ts_ns);
    let sent = match sent {
        Ok(n) => n,
        Err(e) => {
            super::error(format!("sending to {target}: {e}"));
            return exit::USAGE;
        }
    };
    report(args, target, sent, &rtts, &seen, &names, out)
}

/// Turns every frame holding our marker into a [`Sighting`].
struct EchoTap {
    marker: [u8; MARKER_LEN],
    id: u16,
    tx: Sender<Sighting>,
}

impl Tap for EchoTap {
    fn frame(&mut self, nic: &str, frame: &Frame<'_>, decoded: &Decoded) {
        let Some(e) = find_echo(frame.data, &self.marker).filter(|e| e.id == self.id) else {
            return;
        };
        if let Some(s) = sighting(nic, decoded, e, frame.ts_ns) {
            let _ = self.tx.send(s);
        }
    }
}

/// Sends `count` marked requests and collects replies until `timeout` after
/// the last one. Returns the number sent and the round-trip times.
fn ping(
    sock: &dyn EchoSocket,
    target: IpAddr,
    id: u16,
    marker: &[u8; MARKER_LEN],
    count: u16,
    timeout: Duration,
    cancel: &AtomicBool,
) -> (std::io::Result<u16>, Vec<(u16, Duration)>) {
    let mut payload = marker.to_vec();
    payload.resize(48, 0);
    let mut sent_at: Vec<Instant> = Vec::new();
    let mut rtts: Vec<(u16, Duration)> = Vec::new();
    let mut deadline = Instant::now();
    let mut next_send = Instant::now();
    loop {
        if cancel.load(Relaxed) {
            break;
        }
        if sent_at.len() < usize::from(count) && Instant::now() >= next_send {
            let seq = sent_at.len() as u16 + 1;
            if let Err(e) = sock.send(target, &echo_request(target, id, seq, &payload)) {
                return (Err(e), rtts);
            }
            sent_at.push(Instant::now());
            next_send = Instant::now() + GAP;
            deadline = Instant::now() + timeout;
        }
        let all_sent = sent_at.len() == usize::from(count);
        if all_sent && (rtts.len() == sent_at.len() || Instant::now() >= deadline) {
            break;
        }
        match recv_reply(sock, target, marker) {
            Ok(Some(Echo { id: rid, seq, .. })) if rid == id => {
                let i = usize::from(seq);
                if i >= 1 && i <= sent_at.len() && !rtts.iter().any(|(s, _)| *s == seq) {
                    rtts.push((seq, sent_at[i - 1].elapsed()));
                }
            }
            Ok(_) => {}
            Err(e) => return (Err(e), rtts),
        }
    }
    (Ok(sent_at.len() as u16), rtts)
}

fn sighting(name: &str, d: &Decoded, e: Echo, ts_ns: u64) -> Option<Sighting> {
    let (encap, src, dst, vni) = match d.kind {
        Kind::Tunnel(t) => (Some(t.encap), t.outer_src, t.outer_dst, t.vni),
        Kind::Plain(p) => (None, p.src, p.dst, None),
        _ => return None,
    };
    Some(Sighting {
        interface: name.to_string(),
        direction: if e.request {
            Direction::Request
        } else {
            Direction::Reply
        },
        encap,
        outer_src: src,
        outer_dst: dst,
        vni,
        seq: e.seq,
        ts_ns,
    })
}

fn leg(s: Option<&Sighting>) -> serde_json::Value {
    match s {
        Some(s) => json!({"interface": s.interface, "encap": s.encap, "outer_src": s.outer_src,
                          "outer_dst": s.outer_dst, "vni": s.vni}),
        None => serde_json::Value::Null,
    }
}

/// Prints the verdict and returns the exit code.
fn report(
    args: &ProbeArgs,
    target: IpAddr,
    sent: u16,
    rtts: &[(u16, Duration)],
    seen: &[Sighting],
    names: &[String],
    out: &mut dyn Write,
) -> u8 {
    let req = seen
        .iter()
        .find(|s| s.direction == Direction::Request && s.encap.is_some());
    let rep = seen
        .iter()
        .find(|s| s.direction == Direction::Reply && s.encap.is_some());
    let plain_req = seen
        .iter()
        .find(|s| s.direction == Direction::Request && s.encap.is_none());
    let rtt_ms = (!rtts.is_empty()).then(|| {
        let min = rtts.iter().map(|(_, d)| *d).min().unwrap_or_default();
        (min.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
    });
    let (code, verdict) = if let Some(p) = plain_req {
        (
            exit::PROBE_UNENCAPSULATED,
            format!(
                "the request left {} as plain ICMP {} → {target}: no tunnel (a route bypasses tunl0/vxlan.calico)",
                p.interface, p.outer_src
            ),
        )
    } else if req.is_none() {
        let why = if rtts.is_empty() {
            "and no reply came back"
        } else {
            "although a reply came back (is the pod on this node, or does the route use an interface not captured?)"
        };
        (
            exit::PROBE_NOT_SEEN,
            format!("the request was seen on none of {} {why}", names.join(", ")),
        )
    } else if rtts.is_empty() {
        let why = match rep {
            Some(r) => format!(
                "the reply arrived on {} but never reached the probe (dropped on this node: rp_filter, a firewall, a missing decapsulation?)",
                r.interface
            ),
            None => format!("no reply came back within {}", args.timeout),
        };
        (
            exit::PROBE_NO_REPLY,
            format!("the request left encapsulated but {why}"),
        )
    } else if rep.is_none() {
        (
            exit::OK,
            "request encapsulated, reply received, but the reply was not seen in a tunnel on the captured interfaces".to_string(),
        )
    } else {
        (exit::OK, "request encapsulated, reply received".to_string())
    };
    let v = json!({
        "target": target,
        "request": leg(req),
        "reply": leg(rep),
        "rtt_ms": rtt_ms,
        "sent": sent,
        "received": rtts.len(),
        "verdict": verdict,
        "sightings": seen,
    });
    let written = match args.format {
        OutFormat::Json => serde_json::to_writer_pretty(&mut *out, &v)
            .map_err(std::io::Error::from)
            .and_then(|_| writeln!(out)),
        OutFormat::Table => table(out, target, req, rep, rtt_ms, sent, rtts.len(), &verdict),
    };
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            super::error(format!("writing the result: {e}"));
        }
    }
    if code != exit::OK {
        super::error(&verdict);
    }
    code
}

#[allow(clippy::too_many_arguments)]
fn table(
    out: &mut dyn Write,
    target: IpAddr,
    req: Option<&Sighting>,
    rep: Option<&Sighting>,
    rtt_ms: Option<f64>,
    sent: u16,
    received: usize,
    verdict: &str,
) -> std::io::Result<()> {
    writeln!(out, "probe to {target}: {sent} sent, {received} replies")?;
    for (what, s) in [("request", req), ("reply", rep)] {
        match s {
            Some(s) => writeln!(
                out,
                "{what:<8} {:<12} {:<7} {} → {}",
                s.interface,
                s.encap.map_or("plain", Encap::as_str),
                s.outer_src,
                s.outer_dst
            )?,
            None => writeln!(out, "{what:<8} not seen in a tunnel")?,
        }
    }
    if let Some(ms) = rtt_ms {
        writeln!(out, "rtt      {ms} ms (min)")?;
    }
    writeln!(out, "verdict  {verdict}")
}
