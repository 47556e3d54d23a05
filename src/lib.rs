//! tuntrace: which wire does my overlay really use?
//!
//! Data flow, one module per stage:
//! `sources` (capture files, live NICs) → `decode` (link → IP → tunnel walk)
//! → `flows` (bounded per-interface tunnel table) → `report` (the serde model)
//! → `render` (table / json / jsonl).
//! `audit` checks a report against expectations (path problems, MTU, pods);
//! `cluster` merges several nodes' reports into a path map (`merge`), with
//! names from `k8s` (pod and node lists).
//! `write` produces pcap/pcapng files, `synth` builds tunnel frames for tests,
//! benchmarks and the lab.

pub mod audit;
pub mod calico;
pub mod cli;
pub mod cluster;
pub mod cmd;
pub mod decode;
pub mod exit;
pub mod flows;
pub mod iface;
pub mod k8s;
pub mod linktype;
pub mod metrics;
pub mod os;
pub mod pipeline;
pub mod render;
pub mod report;
pub mod session;
pub mod sources;
pub mod synth;
pub mod timefmt;
pub mod timeline;
pub mod write;
