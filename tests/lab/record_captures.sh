#!/usr/bin/env bash
# Regenerates captures/*.pcapng in the namespace lab (needs root): for each
# of the seed's five autodetection cases, pod1 pings pod2 10 times through the
# TUN-based tunl0 while `tuntrace live --write` records both NICs of each node.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo test --test live_lab record_captures -- --ignored --nocapture
ls -l captures/*.pcapng
