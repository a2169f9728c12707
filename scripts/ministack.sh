#!/usr/bin/env bash
# Starts and stops ministack, the local AWS emulator the AWS backend's tests run against.
#
#   scripts/ministack.sh start    # install if missing, start on 127.0.0.1:$MINISTACK_PORT, wait until it answers
#   scripts/ministack.sh stop     # stop the one this script started (by its PID file)
#   scripts/ministack.sh status   # exit 0 when it answers
#   scripts/ministack.sh endpoint # print the endpoint URL (http://127.0.0.1:$MINISTACK_PORT)
#
# Environment:
#   MINISTACK_PORT     port to listen on (default 4566)
#   CHENGGUO_VENV      Python virtual environment holding ministack (default <repo>/.venv)
#   CHENGGUO_RUN_DIR   where the PID file and the log go (default ${TMPDIR:-/tmp}/chengguo)
#   MINISTACK_AUTH     true to make ministack refuse unsigned requests too (default false)
#
# Tests then use: CHENGGUO_TEST_AWS_ENDPOINT=$(scripts/ministack.sh endpoint)
# ministack accepts the credentials test/test (region us-east-1); it verifies presigned URLs'
# SigV4 signature and expiry itself, even without AUTH=true. It does not check header-signed
# requests' signatures, and without AUTH=true it serves unsigned (anonymous) S3 requests.
set -euo pipefail

MINISTACK_VERSION=1.5.33
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${CHENGGUO_VENV:-$ROOT/.venv}
PORT=${MINISTACK_PORT:-4566}
HOST=127.0.0.1
RUN_DIR=${CHENGGUO_RUN_DIR:-${TMPDIR:-/tmp}/chengguo}
PID_FILE=$RUN_DIR/ministack-$PORT.pid
LOG_FILE=$RUN_DIR/ministack-$PORT.log
ENDPOINT=http://$HOST:$PORT

answers() {
    if command -v curl >/dev/null 2>&1; then
        curl -fs -o /dev/null --max-time 2 "$ENDPOINT/_ministack/health"
    else
        "$VENV/bin/python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
            "$ENDPOINT/_ministack/health" >/dev/null 2>&1
    fi
}

running_pid() {
    [[ -f $PID_FILE ]] || return 1
    local pid
    pid=$(cat "$PID_FILE")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

install() {
    local shown=""
    if [[ -x $VENV/bin/ministack ]]; then
        shown=$("$VENV/bin/python" -m pip show ministack 2>/dev/null || true)
    fi
    if grep -qx "Version: $MINISTACK_VERSION" <<<"$shown"; then
        return 0
    fi
    echo "ministack: installing ministack==$MINISTACK_VERSION into $VENV" >&2
    [[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "ministack==$MINISTACK_VERSION"
}

# Waits (at most 60 s) until the server of PID $1 answers; stops it when it never does.
wait_ready() {
    local pid=$1
    for _ in $(seq 1 120); do
        if answers; then
            echo "ministack: PID $pid ready at $ENDPOINT (log $LOG_FILE)" >&2
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "ministack: exited during start; log $LOG_FILE:" >&2
            tail -n 40 "$LOG_FILE" >&2 || true
            rm -f "$PID_FILE"
            return 1
        fi
        sleep 0.5
    done
    echo "ministack: no answer at $ENDPOINT after 60 s; stopping it. Log $LOG_FILE:" >&2
    tail -n 40 "$LOG_FILE" >&2 || true
    stop
    return 1
}

start() {
    mkdir -p "$RUN_DIR"
    local pid
    if pid=$(running_pid); then
        echo "ministack: already started (PID $pid)" >&2
        wait_ready "$pid"
        return
    fi
    if answers; then
        echo "ministack: something else already answers at $ENDPOINT; choose another MINISTACK_PORT" >&2
        return 1
    fi
    install
    # BIND_HOST keeps it off other interfaces; GATEWAY_PORT is its port. The credentials are the
    # ones it accepts for signed requests (presigned URLs are verified against them).
    env BIND_HOST=$HOST GATEWAY_PORT="$PORT" \
        AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 \
        MINISTACK_REGION=us-east-1 S3_PERSIST=0 PERSIST_STATE=0 LOG_LEVEL=WARNING \
        AUTH="${MINISTACK_AUTH:-false}" \
        nohup "$VENV/bin/ministack" >"$LOG_FILE" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PID_FILE"
    wait_ready "$pid"
}

stop() {
    local pid
    if ! pid=$(running_pid); then
        rm -f "$PID_FILE"
        echo "ministack: not running (no live PID in $PID_FILE)" >&2
        return 0
    fi
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE"
    echo "ministack: stopped (PID $pid)" >&2
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) answers ;;
endpoint) echo "$ENDPOINT" ;;
*)
    echo "usage: $0 start|stop|status|endpoint" >&2
    exit 2
    ;;
esac
