#!/usr/bin/env bash
# DynamoDB cost per user action on the AWS backend (tests/benches/dynamo_cost.rs): each action
# through the API against ministack (started here on its own port, stopped at exit), counting
# the requests per DynamoDB operation and the capacity units the answers report
# (ReturnConsumedCapacity=TOTAL), with the on-demand price per 1,000 actions. Fails when a
# request is a Scan. The figures do not vary between runs, so it runs once.
#
# Environment: BENCH_ROOT, CARGO_TARGET_DIR; BENCH_DYNAMO_PORT (ministack's port, 4597).
# Markdown on stdout, logs on stderr.
set -euo pipefail

ROOT=${BENCH_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/chengguo/target}
export MINISTACK_PORT=${BENCH_DYNAMO_PORT:-4597}
log() { echo "50-dynamodb: $*" >&2; }

log "building the bench"
cargo bench --quiet -p chengguo-tests --bench dynamo_cost --no-run >&2 2>&1
"$ROOT/scripts/ministack.sh" start >&2
trap '"$ROOT/scripts/ministack.sh" stop >&2 || true' EXIT
export CHENGGUO_TEST_AWS_ENDPOINT
CHENGGUO_TEST_AWS_ENDPOINT=$("$ROOT/scripts/ministack.sh" endpoint)
out=$(CHENGGUO_LOG=warn cargo bench --quiet -p chengguo-tests --bench dynamo_cost 2>/dev/null)
echo "$out" >&2

echo "## DynamoDB cost per user action (AWS backend)"
echo
echo "Each action sent through the API (the router the Lambda functions serve) against ministack,"
echo "with a DynamoDB client that asks every request for \`ReturnConsumedCapacity=TOTAL\` and records"
echo "the operation and the units each answer reports (\`tests/benches/dynamo_cost.rs\`). Request"
echo "units are as the server reports them; AWS charges on-demand tables by the same units."
echo "Prices used: us-east-1 on-demand, standard table class, **US\$0.625 per million write request"
echo "units and US\$0.125 per million read request units**; storage, streams and backups are not"
echo "included. The record is an 应用技术成果 with the full form; the leader is in a department;"
echo "the table holds the demo organisation and this one record, so a list page reads few items"
echo "(a full page of 20 reads 20 items' worth of units more)."
echo
grep '^|' <<<"$out"
echo
unreported=$(grep '^RESULT unreported' <<<"$out" || true)
if [[ -n $unreported ]]; then
    echo "- Capacity not reported by the server for some requests (left out of the units, not guessed):"
    sed 's/^RESULT unreported /  - /' <<<"$unreported"
fi
scans=$(sed -n 's/^RESULT scans=\([0-9]*\).*/\1/p' <<<"$out")
if [[ $scans == 0 ]]; then
    echo "- No request was a \`Scan\`: **met** (every read is a key lookup or a query)."
else
    echo "- No \`Scan\`: **missed** ($scans Scan requests)."
    exit 1
fi
