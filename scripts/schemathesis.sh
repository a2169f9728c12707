#!/usr/bin/env bash
# Fuzzes the HTTP API with schemathesis against its own OpenAPI document (/api/openapi.json):
# builds chengguo (debug), starts `chengguo serve --demo` on an empty temporary data folder on a
# free 127.0.0.1 port, and runs tests/schemathesis/run.py, which makes some records and runs
# schemathesis over every operation anonymously and as leader, point and admin, checking that
# no answer is a server error, that statuses, content types and bodies match the document, and
# that a refused state-changing request changes no stored state. The server is stopped at exit.
#
#   scripts/schemathesis.sh     # prints a summary; exit status 1 on any failure
#
# Environment:
#   SCHEMATHESIS_MAX_EXAMPLES  examples per operation and phase (default 20)
#   SCHEMATHESIS_SEED          the random seed (default fixed, so that runs repeat)
#   SCHEMATHESIS_SUMMARY_JSON  also write the totals as JSON to this file
#   SCHEMATHESIS_KEEP          1 keeps the data folder and the reports (their path is printed)
#   CHENGGUO_BIN               a chengguo binary to run instead of building one
#   CHENGGUO_VENV              Python virtual environment (default <repo>/.venv, shared)
#   CARGO_TARGET_DIR           build folder (default ~/.cache/chengguo/target)
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${CHENGGUO_VENV:-$ROOT/.venv}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/chengguo/target}

shown=""
if [[ -x $VENV/bin/schemathesis ]]; then
    shown=$("$VENV/bin/python" -m pip show schemathesis 2>/dev/null || true)
fi
if ! grep -qx "Version: $SCHEMATHESIS_VERSION" <<<"$shown"; then
    echo "schemathesis: installing schemathesis==$SCHEMATHESIS_VERSION into $VENV" >&2
    [[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "schemathesis==$SCHEMATHESIS_VERSION"
fi

BIN=${CHENGGUO_BIN:-}
if [[ -z $BIN ]]; then
    echo "schemathesis: building chengguo" >&2
    (cd "$ROOT" && cargo build --quiet -p chengguo --bin chengguo)
    BIN=$CARGO_TARGET_DIR/debug/chengguo
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/chengguo-schemathesis.XXXXXX")
mkdir -p "$WORK/data" "$WORK/reports"
PID=""
cleanup() {
    if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
        kill "$PID" 2>/dev/null || true
        for _ in $(seq 1 40); do
            kill -0 "$PID" 2>/dev/null || break
            sleep 0.25
        done
        kill -9 "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    if [[ ${SCHEMATHESIS_KEEP:-0} == 1 ]]; then
        echo "schemathesis: kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
BASE=http://127.0.0.1:$PORT
# The embedded backend whatever the caller's environment says: the state check reads its files.
env CHENGGUO_BACKEND=embedded CHENGGUO_LOG=warn CHENGGUO_PUBLIC_URL="$BASE" \
    "$BIN" serve --demo --data "$WORK/data" --addr "127.0.0.1:$PORT" \
    >"$WORK/server.log" 2>&1 </dev/null &
PID=$!

ready=0
for _ in $(seq 1 120); do
    if "$VENV/bin/python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
        "$BASE/healthz" >/dev/null 2>&1; then
        ready=1
        break
    fi
    if ! kill -0 "$PID" 2>/dev/null; then
        break
    fi
    sleep 0.5
done
if [[ $ready != 1 ]]; then
    echo "schemathesis: the server did not answer /healthz within 60 s; its log:" >&2
    tail -n 40 "$WORK/server.log" >&2 || true
    exit 1
fi
echo "schemathesis: server PID $PID at $BASE" >&2

status=0
# No __pycache__ folders in the source tree.
export PYTHONDONTWRITEBYTECODE=1
"$VENV/bin/python" "$ROOT/tests/schemathesis/run.py" \
    --base "$BASE" --data "$WORK/data" --report-dir "$WORK/reports" \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-20}" \
    ${SCHEMATHESIS_SEED:+--seed "$SCHEMATHESIS_SEED"} \
    ${SCHEMATHESIS_SUMMARY_JSON:+--summary-json "$SCHEMATHESIS_SUMMARY_JSON"} || status=$?

# Server-side errors are logged at error level; show them with the failures.
if grep -q "ERROR" "$WORK/server.log"; then
    echo "schemathesis: the server logged errors:" >&2
    grep "ERROR" "$WORK/server.log" | head -n 20 >&2
    status=1
fi
exit "$status"
