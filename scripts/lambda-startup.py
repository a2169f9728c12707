#!/usr/bin/env python3
"""Start-up time of a Lambda binary: from process start to its first answered event.

Serves the Lambda runtime API (the part a custom runtime uses: `invocation/next`,
`invocation/{id}/response` and `/error`, `init/error`) on 127.0.0.1, starts the bootstrap
with AWS_LAMBDA_RUNTIME_API pointing at it, hands it one event and times the answer. The clock
starts just before the process is spawned and stops when its response arrives, so it includes
loading the binary, reading configuration, building the SDK clients and the router, and
handling the event (which, for the HTTP functions' `GET /healthz`, reads DynamoDB once).

    lambda-startup.py --bootstrap PATH --event FILE [--runs N] [--env K=V ...]
    lambda-startup.py --serve URL -- COMMAND...   # a server: until URL first answers 200

Prints one JSON object: {"runs_ms": [...], "median_ms": M, "status": S}, and for a bootstrap
also {"init_runs_ms": [...], "init_median_ms": I}: the time to its first poll for an event (what
Lambda reports as the init duration; the rest is handling the event). Every process it starts
is killed before it exits; each wait is bounded.
"""

import argparse
import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time

PREFIX = "/2018-06-01/runtime"


class Runtime(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, event):
        super().__init__(("127.0.0.1", 0), Handler)
        self.event = event
        self.lock = threading.Lock()
        self.served = 0
        self.done = threading.Event()
        self.answer = None
        self.answered_at = None
        self.polled_at = None

    def handle_error(self, request, client_address):
        # The bootstrap is killed while its next poll waits: a broken pipe then is expected.
        pass


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path != PREFIX + "/invocation/next":
            self.send_error(404)
            return
        with self.server.lock:
            first = self.server.served == 0
            self.server.served += 1
            if first:
                self.server.polled_at = time.perf_counter()
        if not first:
            # One event per run: later polls wait until the process is killed.
            self.server.done.wait(30)
            self.send_error(410)
            return
        body = self.server.event
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Lambda-Runtime-Aws-Request-Id", "startup-1")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
        self.send_header(
            "Lambda-Runtime-Invoked-Function-Arn",
            "arn:aws:lambda:us-east-1:000000000000:function:startup",
        )
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        at = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        if self.path.endswith("/response"):
            self.server.answer = body
        else:
            self.server.answer = b"ERROR " + self.path.encode() + b" " + body
        self.server.answered_at = at
        self.server.done.set()


def one_run(bootstrap, event, env):
    server = Runtime(event)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address
    child_env = dict(env)
    child_env["AWS_LAMBDA_RUNTIME_API"] = f"{host}:{port}"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [bootstrap], env=child_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        if not server.done.wait(60):
            raise SystemExit(f"{bootstrap}: no answer within 60 s")
        elapsed = (server.answered_at - started) * 1000
        init = (server.polled_at - started) * 1000
        answer = server.answer or b""
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=10)
        server.shutdown()
        server.server_close()
    if answer.startswith(b"ERROR"):
        raise SystemExit(f"{bootstrap}: {answer[:500]!r}\n{err.decode(errors='replace')[-2000:]}")
    status = None
    try:
        status = json.loads(answer).get("statusCode")
    except (ValueError, AttributeError):
        pass
    return elapsed, init, status


def serve_run(url, command, env):
    """From spawning a server to its first 200 at `url`, polled every millisecond."""
    import urllib.error
    import urllib.request

    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = started + 60
        while time.perf_counter() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        return (time.perf_counter() - started) * 1000, None, 200
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if proc.poll() is not None:
                raise SystemExit(f"{command[0]} exited: {proc.stderr.read().decode(errors='replace')[-2000:]}")
            time.sleep(0.001)
        raise SystemExit(f"{command[0]}: {url} did not answer within 60 s")
    finally:
        proc.kill()
        proc.communicate(timeout=10)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap")
    p.add_argument("--event")
    p.add_argument("--serve", metavar="URL")
    p.add_argument("command", nargs="*")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--env", action="append", default=[])
    a = p.parse_args()
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}
    for kv in a.env:
        k, _, v = kv.partition("=")
        env[k] = v
    if a.serve:
        if not a.command:
            p.error("--serve needs the command after --")
        run = lambda: serve_run(a.serve, a.command, env)  # noqa: E731
    elif a.bootstrap and a.event:
        with open(a.event, "rb") as f:
            event = f.read()
        run = lambda: one_run(a.bootstrap, event, env)  # noqa: E731
    else:
        p.error("give --bootstrap and --event, or --serve URL -- COMMAND")
    runs, inits, status = [], [], None
    for _ in range(max(1, min(a.runs, 100))):
        ms, init, status = run()
        runs.append(round(ms, 1))
        if init is not None:
            inits.append(round(init, 1))
    out = {"runs_ms": runs, "median_ms": statistics.median(runs), "status": status}
    if inits:
        out["init_runs_ms"] = inits
        out["init_median_ms"] = statistics.median(inits)
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
