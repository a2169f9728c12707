#!/usr/bin/env bash
# Benchmark fragment: the model-based test of the workflow and the fuzz targets.
#
# Runs the model test (tests/model: random actions of random users through the HTTP API against
# a reference model) on the embedded backend and on DynamoDB + S3 (ministack, started here on
# its own port and stopped at exit; as many cases as on the embedded backend, where the test
# suite's run of `.ci/run` does 8), and scripts/fuzz.sh (each fuzz target
# of tests/fuzz for 60 s, 10 s with BENCH_QUICK=1). Prints a Markdown section with the figures
# to stdout; build, test and fuzzer output go to stderr. Exits non-zero when the model test
# fails or a fuzz target crashed (after printing).
#
# Environment:
#   CARGO_TARGET_DIR            build folder (default ~/.cache/chengguo/target)
#   BENCH_MODEL_PORT            ministack's port (default 4599)
#   BENCH_QUICK=1               10 s per fuzz target instead of 60 s; the AWS model as in the suite
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/chengguo/target}
export CARGO_TERM_COLOR=never
seconds=60
if [[ ${BENCH_QUICK:-0} == 1 ]]; then
    seconds=10
fi

log=$(mktemp)
fuzz_out=$(mktemp)
export MINISTACK_PORT=${BENCH_MODEL_PORT:-4599}
trap 'scripts/ministack.sh stop >&2 || true; rm -f "$log" "$fuzz_out"' EXIT
scripts/ministack.sh start >&2
export CHENGGUO_TEST_AWS_ENDPOINT
CHENGGUO_TEST_AWS_ENDPOINT=$(scripts/ministack.sh endpoint)
if [[ ${BENCH_QUICK:-0} != 1 ]]; then
    export CHENGGUO_TEST_MODEL_AWS_CASES=32 CHENGGUO_TEST_MODEL_AWS_STEPS=40
fi

model_status=0
cargo test -p chengguo-tests --test model -- --nocapture 2>&1 | tee "$log" >&2 || model_status=$?
fuzz_status=0
scripts/fuzz.sh "$seconds" >"$fuzz_out" || fuzz_status=$?
cat "$fuzz_out" >&2

echo "## Reliability: model-based test and fuzzing"
echo
echo "Model-based test (\`cargo test -p chengguo-tests --test model\`, proptest): each case"
echo "starts a fresh app and runs up to 40 random steps: records created, filled, edited and"
echo "checked by random users of every role, in and out of scope, with right and wrong versions;"
echo "every workflow action with opinions present, blank or missing; \`decide\` with proposed,"
echo "fresh, taken, malformed and wrong-kind numbers; \`reopen\` with and without evidence; public"
echo "objections and their resolution; the clock moved past the notice windows. After every step a reference model written from"
echo "domain.md must agree on the answer and on every record's state, version and number;"
echo "history must only grow, by events that are rows of the workflow table; each role must read"
echo "and list exactly the records in its scope (404 otherwise) and be offered exactly the"
echo "actions it can take; numbers must be unique."
echo
if grep -q '^model (' "$log"; then
    grep '^model (' "$log" | sed -e 's/^model (\([a-z]*\)): /- \1 backend: /'
else
    echo "- no figures: the model test did not run to its end"
fi
if [[ $model_status != 0 ]]; then
    echo "- **the model test failed** (exit status $model_status): its output (stderr) has the build error or the minimal failing sequence"
fi
echo
echo "Fuzzing (\`scripts/fuzz.sh $seconds\`: cargo-fuzz, libFuzzer with AddressSanitizer and debug"
echo "assertions, ${seconds} s per target, from the corpus under \`tests/fuzz/corpus/\`: the committed"
echo "seeds plus what earlier runs on this machine added): \`form\` feeds arbitrary bytes to the"
echo "create and patch body parsers, and puts them in place of one value of a complete form, then"
echo "runs every check of 「填写检查」 for each kind and source; \`import\` feeds them to the csv and"
echo "xlsx project import parsers; \`uscc\` to the USCC, registration number, date, mobile and"
echo "email parsers. Inputs tried and runs/s depend on the machine's load."
echo
echo "| target | inputs tried | runs/s | coverage (edges) | features | crashes |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
tail -n +2 "$fuzz_out" | awk 'NF == 6 { printf "| `%s` | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }'
if [[ $fuzz_status != 0 ]]; then
    echo
    echo "**A fuzz target failed** (exit status $fuzz_status): the inputs are under \`tests/fuzz/artifacts/\`."
fi
echo

if [[ $model_status != 0 || $fuzz_status != 0 ]]; then
    exit 1
fi
