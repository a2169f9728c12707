#!/usr/bin/env bash
# Fuzzes the parsers that read what people send, with cargo-fuzz (libFuzzer, AddressSanitizer,
# debug assertions on):
#   form    the create and patch bodies of a registration, then every check of 「填写检查」
#   import  the project import parsers (csv and xlsx)
#   uscc    USCC, registration numbers, dates, mobile numbers and email addresses
#
#   scripts/fuzz.sh [SECONDS]     each target for SECONDS (default 60)
#
# Installs cargo-fuzz (pinned) into $CARGO_TARGET_DIR/tools when missing. cargo-fuzz passes
# unstable -Z flags to the compiler; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them.
# Each target starts from the seeds in tests/fuzz/corpus/<target>/seed-* and grows its corpus
# beside them (not committed). Prints, per target, the inputs tried, runs per second, the
# coverage reached and the crashes found (kept under tests/fuzz/artifacts/<target>/); exits
# non-zero when any target crashed.
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
    echo "usage: scripts/fuzz.sh [SECONDS]" >&2
    exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/chengguo/target}"
tools="$CARGO_TARGET_DIR/tools"
fuzz_version="0.13.2"

if ! "$tools/bin/cargo-fuzz" --version 2>/dev/null | grep -qF "$fuzz_version"; then
    echo "installing cargo-fuzz $fuzz_version into $tools" >&2
    CARGO_TARGET_DIR="$tools/build" cargo install cargo-fuzz --version "$fuzz_version" \
        --locked --root "$tools" >&2
fi
export PATH="$tools/bin:$PATH"
export RUSTC_BOOTSTRAP=1

cd "$root/tests/fuzz"
target_dir="$CARGO_TARGET_DIR/fuzz"
targets=(form import uscc)
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

echo "building the fuzz targets" >&2
cargo fuzz build -O -a --target-dir "$target_dir" >&2

printf '%-8s %12s %8s %8s %8s %8s\n' target executions runs/s cov features crashes
failed=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    log="$logs/$t.log"
    touch "$logs/$t.start"
    status=0
    cargo fuzz run -O -a --target-dir "$target_dir" "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -print_final_stats=1 -close_fd_mask=3 >"$log" 2>&1 || status=$?
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
    # The last status line of libFuzzer: "#N DONE cov: C ft: F corp: ..." (or the line before a crash).
    last="$(grep -E '^#[0-9]+' "$log" | tail -1 || true)"
    cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
    ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
    crashes="$(find "artifacts/$t" -type f -newer "$logs/$t.start" \
        \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' \) | wc -l)"
    if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        # A failure that left no artifact (the build or the runner itself): show it.
        tail -40 "$log" >&2
        crashes="?"
    fi
    printf '%-8s %12s %8s %8s %8s %8s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$crashes"
    if [ "$status" -ne 0 ]; then
        failed=1
        grep -E 'panicked|ERROR|SUMMARY' "$log" | head -5 >&2 || true
    fi
done
exit "$failed"
