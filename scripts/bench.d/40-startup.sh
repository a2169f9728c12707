#!/usr/bin/env bash
# Start-up and size: each Lambda function's binary (zipped as Lambda takes it) and its time from
# process start to its first answered event, and the local server's time from process start to
# its first answered request. Prints a Markdown section on stdout; progress goes to stderr.
#
# The Lambda binaries are built with scripts/lambda-build.sh --x86-64 (the machine's own
# architecture; the same `lambda` profile as the arm64 build) unless BENCH_NO_BUILD=1 and they
# exist. Each is started with the environment infra/template.yaml gives it against ministack
# (DynamoDB, S3), under scripts/lambda-startup.py, which serves the Lambda runtime API itself,
# so nothing but the function is timed. An HTTP function answers `GET /healthz` (one DynamoDB
# read); the publisher and housekeeping answer their scheduled event (a site build of an empty
# table; a housekeeping pass).
#
# Environment: BENCH_RUNS (default 5; BENCH_QUICK=1 makes it 3), CARGO_TARGET_DIR, CHENGGUO_VENV.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/chengguo/target}
RUNS=${BENCH_RUNS:-5}
[[ ${BENCH_QUICK:-} == 1 ]] && RUNS=3
FUNCTIONS=(submissions transitions uploads exports pages objections publisher housekeeping)
TARGET_MB=8
TARGET_MS=50

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

if [[ ${BENCH_NO_BUILD:-} != 1 || ! -x target/lambda/publisher/bootstrap ]]; then
    scripts/lambda-build.sh --x86-64 >&2
fi
cargo build --quiet --release -p chengguo >&2
CHENGGUO=$CARGO_TARGET_DIR/release/chengguo

RUN=$(mktemp -d "${TMPDIR:-/tmp}/chengguo-startup.XXXXXX")
export CHENGGUO_RUN_DIR=$RUN MINISTACK_PORT=${MINISTACK_PORT:-$(free_port)}
cleanup() {
    scripts/ministack.sh stop >/dev/null 2>&1 || true
    rm -rf "$RUN"
}
trap cleanup EXIT
scripts/ministack.sh start >&2
EP=$(scripts/ministack.sh endpoint)
suffix=$(date +%s)-$$
TABLE=chengguo-startup-$suffix UPLOADS=chengguo-startup-up-$suffix SITE=chengguo-startup-site-$suffix
AWS_ENDPOINT_URL=$EP AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
    CHENGGUO_TABLE=$TABLE CHENGGUO_UPLOADS_BUCKET=$UPLOADS CHENGGUO_SITE_BUCKET=$SITE \
    "$CHENGGUO" setup-aws >&2
# The emulator loads the code behind each kind of request the first time it serves one (its
# first GetObject that finds an object takes ~75 ms, the next ~4 ms). Serve one of each here,
# on a throwaway object in the uploads bucket, so that the runs time the functions and not that.
s3() { curl -sS -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" --user test:test "$@"; }
codes="$(s3 -X PUT --data-binary warm "$EP/$UPLOADS/warm-up") $(s3 "$EP/$UPLOADS/warm-up") $(s3 "$EP/$UPLOADS/absent")"
[[ $codes == "200 200 404" ]] || { echo "startup: warming the emulator's S3 answered $codes" >&2; exit 1; }

# What a Lambda's environment holds: the runtime's variables and what the template sets.
common=(--env "AWS_ENDPOINT_URL=$EP" --env AWS_REGION=us-east-1 --env AWS_ACCESS_KEY_ID=test
    --env AWS_SECRET_ACCESS_KEY=test --env AWS_LAMBDA_FUNCTION_VERSION=1
    --env AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512 --env "CHENGGUO_TABLE=$TABLE"
    --env CHENGGUO_UNIT_NOTICE_DAYS=7 --env CHENGGUO_WEBSITE_NOTICE_DAYS=30 --env CHENGGUO_LOG=info)
own() {
    case $1 in
    uploads | exports) echo "--env CHENGGUO_UPLOADS_BUCKET=$UPLOADS" ;;
    pages | housekeeping) echo "--env CHENGGUO_UPLOADS_BUCKET=$UPLOADS --env CHENGGUO_MAIL_FROM=no-reply@example.org" ;;
    transitions) echo "--env CHENGGUO_MAIL_FROM=no-reply@example.org" ;;
    publisher) echo "--env CHENGGUO_SITE_BUCKET=$SITE" ;;
    esac
}
zipped_bytes() {
    python3 - "$1" <<'PY'
import io, sys, zipfile
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    z.write(sys.argv[1], "bootstrap")
print(len(buf.getvalue()))
PY
}
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

rows=() missed=()
for f in "${FUNCTIONS[@]}"; do
    bin=target/lambda/$f/bootstrap
    case $f in
    publisher | housekeeping) event=tests/fixtures/lambda/eventbridge_scheduled_event.json ;;
    *) event=tests/fixtures/lambda/apigw_v2_get_healthz.json ;;
    esac
    echo "startup: $f" >&2
    # shellcheck disable=SC2046
    out=$(python3 scripts/lambda-startup.py --bootstrap "$bin" --event "$event" --runs "$RUNS" \
        "${common[@]}" --env "AWS_LAMBDA_FUNCTION_NAME=$f" $(own "$f"))
    status=$(field "$out" status)
    if [[ $f != publisher && $f != housekeeping && $status != 200 ]]; then
        echo "startup: $f answered $status" >&2
        exit 1
    fi
    ms=$(field "$out" median_ms)
    all=$(field "$out" runs_ms)
    init=$(field "$out" init_median_ms)
    size=$(stat -c %s "$bin")
    zip=$(zipped_bytes "$bin")
    mb=$(python3 -c "print(f'{$zip/1048576:.2f}')")
    raw=$(python3 -c "print(f'{$size/1048576:.1f}')")
    rows+=("| \`$f\` | $raw MB | $mb MB | $init ms | $ms ms | ${all//, / · } |")
    python3 -c "import sys; sys.exit(0 if $zip < $TARGET_MB*1048576 else 1)" || missed+=("$f is $mb MB zipped")
    python3 -c "import sys; sys.exit(0 if $ms < $TARGET_MS else 1)" || missed+=("$f is ready in $ms ms")
done

# The local server on a data folder holding the demo organisation.
"$CHENGGUO" seed-demo --data "$RUN/data" >/dev/null
port=$(free_port)
echo "startup: chengguo serve" >&2
out=$(python3 scripts/lambda-startup.py --runs "$RUNS" --serve "http://127.0.0.1:$port/healthz" \
    -- "$CHENGGUO" serve --data "$RUN/data" --addr "127.0.0.1:$port")
serve_ms=$(field "$out" median_ms)
serve_all=$(field "$out" runs_ms)
serve_size=$(python3 -c "print(f'{$(stat -c %s "$CHENGGUO")/1048576:.1f}')")

cat <<EOF
## Start-up and binary sizes

Each Lambda function's \`bootstrap\` (built with \`scripts/lambda-build.sh --x86-64\`: the
\`lambda\` profile, optimised for size, x86-64 because this machine cannot build arm64), zipped at
deflate level 9 as the deployment package is, and its time from process start to its first
answered event: \`scripts/lambda-startup.py\` serves the Lambda runtime API itself on loopback,
spawns the binary with the environment of \`infra/template.yaml\` against ministack, hands it one
event and stops the clock when the answer arrives. The HTTP functions answer \`GET /healthz\`
(which reads DynamoDB once), the publisher and housekeeping their scheduled event. Median of
$RUNS runs (all runs listed). The local server is timed from process start to its first
\`200\` on \`/healthz\` (polled every millisecond), on a data folder holding the demo organisation.
"Initialised" is the time to the function's first poll for an event (what Lambda reports as
its init duration: loading the binary, configuration, the SDK clients with their TLS roots, the
router or the site's templates); the rest of "ready" is handling the event. The publisher's
first run publishes the whole site into its empty bucket; the later runs find it unchanged.
Before the runs the emulator serves one S3 write, read and miss on a throwaway object, so that
its own first-use cost (about 75 ms for its first read of a stored object) is not counted.

| binary | size | zipped | initialised (median) | ready (median) | runs (ready) |
| --- | ---: | ---: | ---: | ---: | --- |
$(printf '%s\n' "${rows[@]}")
| \`chengguo serve\` (release) | $serve_size MB | — | — | $serve_ms ms | ${serve_all//, / · } |

EOF
if ((${#missed[@]} == 0)); then
    echo "Target (every Lambda binary under $TARGET_MB MB zipped and ready in under $TARGET_MS ms): **met**."
else
    echo "Target (every Lambda binary under $TARGET_MB MB zipped and ready in under $TARGET_MS ms): **missed** — $(IFS=';'; echo "${missed[*]}")."
fi
echo
