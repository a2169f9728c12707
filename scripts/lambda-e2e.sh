#!/usr/bin/env bash
# End to end through the built Lambda binaries, as deployed but on this machine:
#   1. builds them (scripts/lambda-build.sh --x86-64, the machine's own architecture);
#   2. starts ministack (DynamoDB, S3, SES) and creates a table and buckets;
#   3. loads the demo organisation into a data folder and moves it there with `chengguo migrate`;
#   4. starts cargo-lambda's runtime emulator (`cargo lambda watch --only-lambda-apis`) and every
#      function's bootstrap polling it, with the environment the template gives it (each
#      function's size and start-up time are measured by scripts/bench.d/40-startup.sh);
#   5. starts every function once more under libfaketime, its clock 31 days ahead, polling a
#      second emulator, for the decision (Debian's faketime, installed with apt-get if missing);
#   6. runs functions/lambda/tests/watch.rs against them: the workflow through the function
#      URLs, uploads through presigned URLs, the publisher, the announcement in the site bucket,
#      and 31 days later the decision and the registry page.
#
#   scripts/lambda-e2e.sh [--no-build]
#
# Environment: CHENGGUO_VENV, CARGO_TARGET_DIR as for the other scripts; MINISTACK_PORT and
# LAMBDA_EMULATOR_PORT (default: free ports).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VENV=${CHENGGUO_VENV:-$ROOT/.venv}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/chengguo/target}
RUN=$(mktemp -d "${TMPDIR:-/tmp}/chengguo-e2e.XXXXXX")
export CHENGGUO_RUN_DIR=$RUN
FUNCTIONS=(submissions transitions uploads exports pages objections publisher housekeeping)

wait_for_port() {
    python3 - "$1" <<'PY'
import socket, sys, time
for _ in range(150):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit("e2e: the emulator did not start")
PY
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# libfaketime (Debian's faketime) runs the instances that decide 31 days later.
FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
if [[ ! -e $FAKETIME_LIB ]]; then
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO=sudo
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends faketime >&2 ||
        { DEBIAN_FRONTEND=noninteractive $SUDO apt-get update >&2 &&
            DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends faketime >&2; }
fi
FAKETIME_LIB=$(dpkg -L libfaketime 2>/dev/null | grep -m1 'libfaketimeMT.so.1$' || echo "$FAKETIME_LIB")
[[ -e $FAKETIME_LIB ]] || { echo "e2e: libfaketime is missing" >&2; exit 1; }

if [[ ${1:-} != --no-build ]]; then
    scripts/lambda-build.sh --x86-64
fi
cargo build --quiet -p chengguo
CHENGGUO=$CARGO_TARGET_DIR/debug/chengguo
for f in "${FUNCTIONS[@]}"; do
    [[ -x target/lambda/$f/bootstrap ]] || { echo "target/lambda/$f/bootstrap missing: build first" >&2; exit 1; }
done

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    scripts/ministack.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export MINISTACK_PORT=${MINISTACK_PORT:-$(free_port)}
scripts/ministack.sh start
S3=$(scripts/ministack.sh endpoint)
export AWS_ENDPOINT_URL=$S3 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
suffix=$(date +%s)-$$
export CHENGGUO_TABLE=chengguo-e2e-$suffix CHENGGUO_UPLOADS_BUCKET=chengguo-e2e-uploads-$suffix \
    CHENGGUO_SITE_BUCKET=chengguo-e2e-site-$suffix
"$CHENGGUO" setup-aws
# SES on ministack sends only from a verified identity.
"$VENV/bin/python" - "$S3" <<'PY' || echo "e2e: could not verify the SES identity; mail stays queued" >&2
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1] + "/v2/email/identities", method="POST",
    data=json.dumps({"EmailIdentity": "example.org"}).encode(),
    headers={"content-type": "application/json",
             "authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ses/aws4_request, SignedHeaders=host, Signature=0"})
urllib.request.urlopen(req, timeout=10).read()
PY

# The system moves in from a data folder of the embedded default.
"$CHENGGUO" seed-demo --data "$RUN/data" >/dev/null
"$CHENGGUO" migrate --data "$RUN/data"

EMULATOR_PORT=${LAMBDA_EMULATOR_PORT:-$(free_port)}
EMULATOR=http://127.0.0.1:$EMULATOR_PORT
"$VENV/bin/cargo-lambda" lambda watch --only-lambda-apis -A 127.0.0.1 -P "$EMULATOR_PORT" \
    -p chengguo-lambda >"$RUN/emulator.log" 2>&1 &
PIDS+=($!)
wait_for_port "$EMULATOR_PORT"

# The environment of infra/template.yaml (Globals and each function's own).
common=(CHENGGUO_TABLE=$CHENGGUO_TABLE CHENGGUO_UNIT_NOTICE_DAYS=7 CHENGGUO_WEBSITE_NOTICE_DAYS=30
    CHENGGUO_PUBLIC_URL=http://127.0.0.1:$EMULATOR_PORT CHENGGUO_LOG=info)
own() {
    case $1 in
    uploads | exports) echo "CHENGGUO_UPLOADS_BUCKET=$CHENGGUO_UPLOADS_BUCKET" ;;
    pages | housekeeping) echo "CHENGGUO_UPLOADS_BUCKET=$CHENGGUO_UPLOADS_BUCKET CHENGGUO_MAIL_FROM=no-reply@example.org" ;;
    transitions) echo "CHENGGUO_MAIL_FROM=no-reply@example.org" ;;
    publisher) echo "CHENGGUO_SITE_BUCKET=$CHENGGUO_SITE_BUCKET" ;;
    esac
}

for f in "${FUNCTIONS[@]}"; do
    # A Lambda's environment holds only what the template sets and the runtime's own variables.
    # shellcheck disable=SC2046
    env -i PATH=/usr/bin:/bin HOME="$RUN" \
        AWS_ENDPOINT_URL="$S3" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
        AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$EMULATOR_PORT/.rt/$f" AWS_LAMBDA_FUNCTION_NAME="$f" \
        AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512 \
        "${common[@]}" $(own "$f") \
        "target/lambda/$f/bootstrap" >"$RUN/$f.log" 2>&1 &
    PIDS+=($!)
    case $f in
    publisher | housekeeping)
        curl -sf --max-time 120 -o /dev/null -X POST -d '{}' "$EMULATOR/2015-03-31/functions/$f/invocations" ;;
    *) curl -sf --max-time 60 -o /dev/null "$EMULATOR/lambda-url/$f/healthz" ;;
    esac
    echo "e2e: $f answers"
done

# The same binaries once more for the decision, which needs the 30-day website notice to have
# ended: instances whose clock runs 31 days ahead (libfaketime; monotonic time and everything
# else untouched), polling a second emulator. The test sends to them for the last part.
LATER_PORT=$(free_port)
LATER=http://127.0.0.1:$LATER_PORT
"$VENV/bin/cargo-lambda" lambda watch --only-lambda-apis -A 127.0.0.1 -P "$LATER_PORT" \
    -p chengguo-lambda >"$RUN/emulator-later.log" 2>&1 &
PIDS+=($!)
wait_for_port "$LATER_PORT"
for f in "${FUNCTIONS[@]}"; do
    # shellcheck disable=SC2046
    env -i PATH=/usr/bin:/bin HOME="$RUN" \
        LD_PRELOAD="$FAKETIME_LIB" FAKETIME=+31d FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_NO_CACHE=1 \
        AWS_ENDPOINT_URL="$S3" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
        AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$LATER_PORT/.rt/$f" AWS_LAMBDA_FUNCTION_NAME="$f" \
        AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512 \
        "${common[@]}" $(own "$f") \
        "target/lambda/$f/bootstrap" >"$RUN/$f-later.log" 2>&1 &
    PIDS+=($!)
done
echo

CHENGGUO_TEST_LAMBDA_WATCH=$EMULATOR CHENGGUO_TEST_LAMBDA_WATCH_LATER=$LATER CHENGGUO_TEST_AWS_ENDPOINT=$S3 \
    cargo test --locked -p chengguo-lambda --test watch -- --ignored --nocapture
