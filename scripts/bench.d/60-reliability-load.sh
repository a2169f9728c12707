#!/usr/bin/env bash
# Benchmark fragment: crash safety and contention.
#
# Runs the crash test of the `chengguo` binary (SIGKILL of `chengguo serve` in the middle of a
# load of transitions, restarted on the same folder, a few rounds) and the contention tests of
# the HTTP API (a hundred actors on one version; a thousand concurrent decisions drawing
# registration numbers) on the embedded backend and on DynamoDB + S3 (ministack, started here
# on its own port and stopped at exit). Prints a Markdown section with the figures the tests
# report to stdout; build and test output go to stderr.
#
# Environment:
#   CARGO_TARGET_DIR            build folder (default ~/.cache/chengguo/target)
#   BENCH_RELIABILITY_PORT      ministack's port (default 4598)
#   BENCH_QUICK=1               only the crash test and the one-record contention test, embedded
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/chengguo/target}
export CARGO_TERM_COLOR=never
quick=${BENCH_QUICK:-0}

log=$(mktemp)
trap 'rm -f "$log"' EXIT

run() {
    # Test output to stderr and to the log the figures are read from.
    "$@" 2>&1 | tee -a "$log" >&2
}

run cargo test -p chengguo --test crash -- --nocapture
crash_time=$(grep -o 'finished in [0-9.]*s' "$log" | tail -n 1 | sed -e 's/finished in //')

filter=contention::
if [[ $quick == 1 ]]; then
    filter=contention::one_winner_per_version
fi
aws=0
if [[ $quick != 1 ]]; then
    aws=1
    export MINISTACK_PORT=${BENCH_RELIABILITY_PORT:-4598}
    scripts/ministack.sh start >&2
    trap 'scripts/ministack.sh stop >&2 || true; rm -f "$log"' EXIT
    export CHENGGUO_TEST_AWS_ENDPOINT
    CHENGGUO_TEST_AWS_ENDPOINT=$(scripts/ministack.sh endpoint)
else
    unset CHENGGUO_TEST_AWS_ENDPOINT
fi
skip=()
if [[ $aws == 0 ]]; then
    skip=(--skip ::aws)
fi
# One test at a time, so each one's figures are its own.
run cargo test -p chengguo-tests --test api -- "$filter" "${skip[@]}" --nocapture --test-threads 1
contention_time=$(grep -o 'finished in [0-9.]*s' "$log" | tail -n 1 | sed -e 's/finished in //')

# The tests print one line of figures each, possibly after cargo's "test name ... " prefix.
figure() { grep -o "$1.*" "$log" || true; }

echo "## Reliability: crash safety and contention"
echo
echo "Fault injection: \`chengguo serve\` (embedded backend: SQLite in WAL mode with"
echo "\`synchronous=FULL\`) is killed with SIGKILL while concurrent clients drive workflow"
echo "transitions over HTTP, then restarted on the same data folder. After every kill the"
echo "database is opened with rusqlite: \`PRAGMA integrity_check\` must say \`ok\`, every"
echo "transition that got a 2xx answer must be in the record and its history, and no record"
echo "may be half written (state, version, event count and history must agree)."
echo
figure "crash-safety: " | sed -e 's/^crash-safety: /- /'
echo "- time of the test run: ${crash_time}"
echo
echo "Contention (in-process router, the same code as the server; each line one backend):"
echo
figure "contention\\[" | sed -e 's/^contention\[\([A-Za-z]*\)\]: /- \1 backend: /' -e 's/^- Aws /- AWS /'
if [[ $quick == 1 ]]; then
    echo "- quick run (BENCH_QUICK=1): the thousand-decision test and the AWS backend were left out"
fi
echo "- time of the test run: ${contention_time}"
echo
