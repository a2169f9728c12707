"""Schemathesis hooks for chengguo (loaded through SCHEMATHESIS_HOOKS by tests/schemathesis/run.py).

- Real ids: about every other request of an operation with path parameters uses ids of records,
  attachments, projects, units, accounts, mail jobs and signed file tokens that exist (listed by
  the driver in CHENGGUO_ST_IDS), so that the fuzzer reaches the handlers' logic instead of only
  their 404s.
- The check `refused_request_changes_nothing`: a state-changing request (POST, PUT, PATCH, DELETE)
  answered 4xx must leave the stored state as it was. The state is read between calls from the
  embedded backend's SQLite file (opened read-only) and its files folder; the only parts left out
  are the counters of failed logins and of public submissions, which a refusal is meant to
  count, and the mail outbox, which the server's dispatcher updates on its own schedule.
"""

from __future__ import annotations

import atexit
import hashlib
import itertools
import json
import os
import sqlite3
from pathlib import Path

import schemathesis

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}

# Tables whose every row is compared before and after a refused request.
COMPARED_TABLES = (
    "authorities",
    "units",
    "departments",
    "users",
    "sessions",
    "registrations",
    "events",
    "numbers",
    "attachments",
    "projects",
    "objections",
)

_DATA = Path(os.environ.get("CHENGGUO_ST_DATA", "."))
_IDS: dict[str, list[dict[str, str]]] = json.loads(os.environ.get("CHENGGUO_ST_IDS", "{}"))
_counters: dict[str, itertools.count] = {}
_before: dict[str, object] = {}
# How many refused state-changing requests were compared, written at exit for the summary.
_compared = {"refused_state_changing": 0}
_STATS = os.environ.get("CHENGGUO_ST_STATS")


@atexit.register
def _write_stats() -> None:
    if _STATS:
        Path(_STATS).write_text(json.dumps(_compared))


def fingerprint() -> dict[str, str]:
    """A digest per table of the compared tables, and one of the files folder."""
    out: dict[str, str] = {}
    uri = f"file:{_DATA / 'chengguo.db'}?mode=ro"
    con = sqlite3.connect(uri, uri=True, timeout=30)
    try:
        for table in COMPARED_TABLES:
            rows = con.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            out[table] = hashlib.sha256(repr(rows).encode()).hexdigest()
    finally:
        con.close()
    files = hashlib.sha256()
    root = _DATA / "files"
    if root.exists():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            # Temporary files of an upload in progress are not stored state.
            files.update(str(path.relative_to(root)).encode())
            files.update(hashlib.sha256(path.read_bytes()).digest())
    out["files"] = files.hexdigest()
    return out


@schemathesis.hook
def before_call(context, case, kwargs):
    """Substitutes real ids on every other call, drops generated `Content-Length` headers and
    records the state before a state-changing request."""
    op = case.operation
    pool = _IDS.get(f"{op.method.upper()} {op.path}") or _IDS.get(op.path)
    if pool and case.path_parameters is not None:
        n = next(_counters.setdefault(op.label, itertools.count()))
        if n % 2 == 1:
            case.path_parameters = {**case.path_parameters, **pool[(n // 2) % len(pool)]}
    if case.headers:
        # The HTTP client sets Content-Length from the body it sends. A generated one that is
        # not a number is refused by the HTTP layer itself (an empty 400 before the router), and
        # one larger than the body would leave the server waiting for bytes that never come;
        # declared-versus-sent sizes are covered by tests/api/security.rs.
        for name in list(case.headers):
            if name.lower() == "content-length":
                del case.headers[name]
    if case.method.upper() in STATE_CHANGING:
        _before["state"] = fingerprint()
        _before["label"] = f"{case.method.upper()} {case.formatted_path}"


@schemathesis.check
def refused_request_changes_nothing(ctx, response, case):
    """A state-changing request answered 4xx changed no stored state."""
    if case.method.upper() not in STATE_CHANGING or not 400 <= response.status_code < 500:
        return None
    before = _before.get("state")
    label = f"{case.method.upper()} {case.formatted_path}"
    if before is None or _before.get("label") != label:
        return None
    after = fingerprint()
    _compared["refused_state_changing"] += 1
    changed = sorted(k for k in after if after[k] != before.get(k))
    # The next response of a replayed case is compared with a fresh fingerprint.
    _before["state"] = after
    if changed:
        raise AssertionError(
            f"{label} was refused with {response.status_code} but changed the stored state: "
            f"{', '.join(changed)}"
        )
    return True
