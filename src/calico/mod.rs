//! Calico node-IP autodetection (`IP_AUTODETECTION_METHOD`) and Calico's
//! tunnel routes, for `tuntrace autodetect` and `tuntrace routes`.
//!
//! * [`autodetect`]: the pure part, method parsing and evaluation over a
//!   host given as data, following `shared/docs/calico-autodetection.md`.
//! * [`host`]: the host behind the [`HostInfo`] trait (the kernel's links,
//!   addresses, routes and neighbours; `cmd` passes the real one), and the
//!   UDP-connect route lookup behind `can-reach=`.
//! * [`routes`]: tunnel routes (`tunl0`, `vxlan.calico`) and the kernel's
//!   path to each peer.
//! * [`fdb`]: the node address behind a VXLAN peer (neighbour + FDB).
//! * [`hostfile`]: a host described in a file (`ip -j addr` or our JSON).
//! * [`regex_list`]: Calico's list splitting and Go-regex handling.
//! * [`version`]: which Calico release's rules to follow.

pub mod autodetect;
pub mod fdb;
pub mod host;
pub mod hostfile;
pub mod regex_list;
pub mod routes;
pub mod version;

pub use autodetect::{
    detect, evaluate, likely_methods, parse_method, Failure, Family, Host, HostIface, Method,
    MethodError, Pick, Resolver,
};
pub use host::{read_host, HostInfo, SystemResolver};
pub use routes::{route_get, tunnel_routes, PeerPath, TunnelRoute};
pub use version::CalicoVersion;
