#!/usr/bin/env bash
# CI smoke: every fuzz target from its committed seeds for a fixed number of
# runs (stable toolchain, no sanitizer). Usage: fuzz/smoke.sh [RUNS]
# A crash, a property failure, a timeout, an allocation over 256 MiB or RSS
# over 512 MiB fails the script; the input lands in fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-${FUZZ_RUNS:-20000}}"
# Keep glibc handing the readers' 4 MiB buffers out as fresh zero pages
# instead of recycling (and clearing) them on every run.
export MALLOC_MMAP_THRESHOLD_=131072
cargo fuzz build --sanitizer none -a
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for target in $(cargo fuzz list); do
    n="$runs"
    dict=()
    case "$target" in
    # A thread (and for the split, a file and a thread per cut) per run;
    # several regex compiles per run.
    read_file | split_equals_one_pass | calico_method) n=$((runs / 10)) ;;
    esac
    case "$target" in
    read_file | decode_frame | split_equals_one_pass) dict=(-dict=fuzz/dict/capture.dict) ;;
    k8s_names) dict=(-dict=fuzz/dict/k8s.dict) ;;
    esac
    corpus="$(mktemp -d)"
    start=$SECONDS
    if ! cargo fuzz run --sanitizer none -a "$target" "$corpus" "fuzz/seeds/$target" -- \
        -runs="$n" "${dict[@]}" -rss_limit_mb=512 -malloc_limit_mb=256 -timeout=10 \
        -max_len=8192 -print_final_stats=1 >"$log" 2>&1; then
        tail -n 40 "$log"
        echo "fuzz smoke: $target FAILED (input in fuzz/artifacts/$target/)" >&2
        exit 1
    fi
    rm -rf "$corpus"
    echo "fuzz smoke: $target ok, $(grep -m1 -o 'number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') runs," \
        "$(grep -m1 -o 'peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$') MiB peak, $((SECONDS - start)) s"
done
