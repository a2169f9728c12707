#!/usr/bin/env bash
# Benchmark fragment: bad input and security.
#
# Runs scripts/schemathesis.sh (schemathesis over every operation of the OpenAPI document of a
# running `chengguo serve --demo`, anonymously and as leader, point and admin) with a larger
# example count, and the security tests of the HTTP API (tests/api/security.rs) on the embedded
# backend and on DynamoDB + S3 (ministack, started here on its own port and stopped at exit;
# not with BENCH_QUICK=1). Prints a Markdown
# section with the figures to stdout; build and test output go to stderr. Exits non-zero when
# either found a failure (after printing the section).
#
# Environment:
#   CARGO_TARGET_DIR            build folder (default ~/.cache/chengguo/target)
#   BENCH_SECURITY_PORT         ministack's port (default 4600)
#   BENCH_QUICK=1               schemathesis with its default example count (20 per operation)
#   BENCH_SCHEMATHESIS_EXAMPLES examples per operation otherwise (default 50)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/chengguo/target}
export CARGO_TERM_COLOR=never

examples=${BENCH_SCHEMATHESIS_EXAMPLES:-50}
if [[ ${BENCH_QUICK:-0} == 1 ]]; then
    examples=20
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ ${BENCH_QUICK:-0} != 1 ]]; then
    export MINISTACK_PORT=${BENCH_SECURITY_PORT:-4600}
    trap 'scripts/ministack.sh stop >&2 || true; rm -rf "$work"' EXIT
    scripts/ministack.sh start >&2
    export CHENGGUO_TEST_AWS_ENDPOINT
    CHENGGUO_TEST_AWS_ENDPOINT=$(scripts/ministack.sh endpoint)
else
    unset CHENGGUO_TEST_AWS_ENDPOINT
fi

fuzz_status=0
start=$(date +%s)
SCHEMATHESIS_MAX_EXAMPLES=$examples SCHEMATHESIS_SUMMARY_JSON=$work/summary.json \
    scripts/schemathesis.sh >&2 || fuzz_status=$?
fuzz_secs=$(($(date +%s) - start))

skip=()
aws=1
if [[ -z ${CHENGGUO_TEST_AWS_ENDPOINT:-} ]]; then
    aws=0
    skip=(--skip ::aws)
fi
test_status=0
start=$(date +%s)
cargo test -p chengguo-tests --test api -- security "${skip[@]}" --nocapture 2>&1 |
    tee "$work/tests.log" >&2 || test_status=$?
tests_secs=$(($(date +%s) - start))

echo "## Reliability: bad input and security"
echo
echo "**Schemathesis** ($(grep -o 'SCHEMATHESIS_VERSION=[0-9.]*' scripts/schemathesis.sh | cut -d= -f2))"
echo "against \`/api/openapi.json\` of a running \`chengguo serve --demo\` (embedded backend), with"
echo "$examples examples per operation and phase (explicit examples, coverage, fuzzing), fixed seed."
echo "Each role's run covers every operation the role's session can call; about every other request"
echo "uses ids that exist (records in draft, point review and returned states, their attachments,"
echo "imported projects, accounts, mail, signed file URLs). Checks: no 5xx, status codes, content"
echo "types, headers and bodies as documented, schema-violating requests refused, and every refused"
echo "(4xx) state-changing request leaves the stored state (SQLite rows and files) unchanged."
echo
if [[ -s $work/summary.json ]]; then
    python3 - "$work/summary.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
print("| session | operations | examples tried | failures | errors | refused writes verified unchanged |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for r in s["runs"]:
    print(f"| {r['role']} | {r['operations']} | {r['examples']} | {r['failures']} | {r['errors']} | {r['refusals_compared']} |")
print(f"| **total** | **{s['operations']}** | **{s['examples']}** | **{s['failures']}** | **{s['errors']}** | **{s['refusals_compared']}** |")
EOF
else
    echo "Schemathesis did not finish (exit status $fuzz_status): no figures."
fi
echo
echo "Wall time: ${fuzz_secs} s including the build and the test data. Exit status: $fuzz_status."
echo
echo "**Security tests** (\`cargo test -p chengguo-tests --test api -- security\`, ${tests_secs} s;"
if [[ $aws == 1 ]]; then
    echo "embedded backend and DynamoDB + S3 on ministack):"
else
    echo "embedded backend; the AWS variants are left out of the quick run):"
fi
echo
echo "| check | embedded | AWS |"
echo "| --- | --- | --- |"
python3 - "$work/tests.log" "$aws" <<'EOF'
import re, sys
log, aws = open(sys.argv[1]).read(), sys.argv[2] == "1"
results = {}
for name, backend, outcome in re.findall(
    r"^test security::(\w+?)(?:::(embedded|aws))? \.\.\. (\w+)", log, re.M
):
    # A test without a backend suffix is about the local server only.
    results.setdefault(name, {})[backend or "local"] = outcome
for name in sorted(results):
    r = results[name]
    if "local" in r:
        row = [name.replace("_", " ").capitalize(), r["local"], "n/a (local server only)"]
    else:
        row = [name.replace("_", " ").capitalize(), r.get("embedded", "not run"), r.get("aws", "not run")]
    print("| " + " | ".join(row) + " |")
passed = sum(1 for r in results.values() for o in r.values() if o == "ok")
failed = sum(1 for r in results.values() for o in r.values() if o != "ok")
print()
print(f"{len(results)} checks, {passed} runs passed, {failed} failed.")
EOF
echo

if [[ $fuzz_status != 0 || $test_status != 0 ]]; then
    exit 1
fi
