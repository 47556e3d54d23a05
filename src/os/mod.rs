//! Every contact with the operating system, behind small traits tests can fake.

pub mod netlink;
