"""Runs schemathesis over every operation of a running chengguo server, once per role.

Used by scripts/schemathesis.sh, which builds and starts the server (`serve --demo` on an empty
data folder) and stops it afterwards:

    python tests/schemathesis/run.py --base http://127.0.0.1:PORT --data DIR --report-dir DIR \
        [--max-examples N]

It first makes test data through the API (records of the leader in several states with their
materials, imported projects, a mail job), then runs `schemathesis run` against
`/api/openapi.json`:

- anonymously for the operations that need no session (login, logout, public objections, the
  document, health, the signed file URLs);
- logged in as `leader` (applicant project leader), `point` (registration point staff) and
  `admin` (administration), each over every other operation, with the session cookie and the
  `X-CSRF-Token` header.

Checks: `not_a_server_error`, `status_code_conformance`, `content_type_conformance`,
`response_schema_conformance`, `response_headers_conformance`, `negative_data_rejection`
(schema-violating requests must be refused) and `refused_request_changes_nothing`
(tests/schemathesis/chengguo_hooks.py). Prints one line per run and a total; exits 1 on any
failure or error.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PASSWORD = "chengguo-demo"
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "negative_data_rejection",
        "refused_request_changes_nothing",
    ]
)
ANONYMOUS_OPERATIONS = [
    "create_session",
    "delete_session",
    "create_objection",
    "get_openapi",
    "get_health",
    "upload_file",
    "download_file",
]


class Api:
    """A logged-in client of the server."""

    def __init__(self, base: str, username: str) -> None:
        self.base = base
        self.http = requests.Session()
        r = self.http.post(
            f"{base}/api/session",
            json={"username": username, "password": PASSWORD},
            timeout=30,
        )
        r.raise_for_status()
        self.csrf = r.json()["csrf_token"]
        self.token = self.http.cookies["chengguo_session"]
        self.http.headers["X-CSRF-Token"] = self.csrf

    def call(self, method: str, path: str, expect: int = 200, **kw) -> requests.Response:
        r = self.http.request(method, f"{self.base}{path}", timeout=30, allow_redirects=False, **kw)
        if r.status_code != expect:
            raise SystemExit(f"setup: {method} {path} gave {r.status_code}: {r.text[:500]}")
        return r

    def record(self, rid: str) -> dict:
        return self.call("GET", f"/api/registrations/{rid}").json()


def pdf(label: str) -> bytes:
    return f"%PDF-1.4\n% {label}\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".encode()


def upload(api: Api, rid: str, category: str, confirm: bool = True) -> dict:
    """Announces a PDF, sends it to the signed URL and (optionally) confirms it."""
    data = pdf(category)
    created = api.call(
        "POST",
        f"/api/registrations/{rid}/attachments",
        201,
        json={
            "category": category,
            "filename": f"{category}.pdf",
            "content_type": "application/pdf",
            "size": len(data),
        },
    ).json()
    up = created["upload"]
    put = requests.put(up["url"], data=data, headers=up["headers"], timeout=30)
    put.raise_for_status()
    aid = created["attachment"]["id"]
    if confirm:
        api.call("POST", f"/api/registrations/{rid}/attachments/{aid}/confirm", json={})
    return {"id": aid, "upload_url": up["url"]}


def filled_draft(leader: Api, kind: str) -> str:
    """A 计划外 draft of `kind` with the fixture form and every required material."""
    created = leader.call(
        "POST",
        "/api/registrations",
        201,
        json={"kind": kind, "source": "other_fiscal", "consent": True},
    ).json()
    rid = created["id"]
    fields = json.loads((ROOT / "tests" / "fixtures" / f"form_{kind}.json").read_text())
    leader.call(
        "PATCH",
        f"/api/registrations/{rid}",
        json={"version": created["version"], "fields": fields},
    )
    for m in leader.record(rid)["materials"]:
        if m["required"]:
            upload(leader, rid, m["category"])
    return rid


def act(api: Api, rid: str, action: str, **extra) -> None:
    version = api.record(rid)["version"]
    api.call(
        "POST",
        f"/api/registrations/{rid}/actions/{action}",
        json={"version": version, **extra},
    )


def token_of(url: str) -> str:
    return url.split("/files/", 1)[1].split("?", 1)[0]


def make_data(base: str) -> dict[str, dict[str, list[dict[str, str]]]]:
    """Creates the records the runs work on; returns the id pools per role."""
    leader = Api(base, "leader")
    dept = Api(base, "dept")
    unit = Api(base, "unit")
    admin = Api(base, "admin")

    # A draft being filled in, with a ready and a pending attachment.
    draft = filled_draft(leader, "applied")
    pending = upload(leader, draft, "application_proof", confirm=False)
    # A record waiting for the point's review.
    at_point = filled_draft(leader, "basic")
    act(leader, at_point, "submit")
    act(dept, at_point, "pass")
    act(unit, at_point, "pass")
    # A record returned to the leader (queues a notification mail).
    returned = filled_draft(leader, "soft")
    act(leader, returned, "submit")
    act(dept, returned, "return", opinion="请补充技术指标。")
    # In-system projects (each makes a system-created draft for its leader).
    csv = (
        "项目编号,项目名称,计划类别,项目负责人账号,承担单位\n"
        "2026B0101001,新型储能材料关键技术研究,广东省重点领域研发计划,leader,中山市示范科技有限公司\n"
        "2026B0101002,智慧农业物联网平台研发,广东省科技创新战略专项,leader-nodept,中山市示范科技有限公司\n"
    )
    admin.call(
        "POST",
        "/api/projects/import",
        data=csv.encode(),
        headers={"Content-Type": "text/csv"},
    )

    def ids(api: Api, path: str, key: str = "items") -> list[str]:
        body = api.call("GET", path).json()
        items = body[key] if isinstance(body, dict) else body
        return [i["id"] for i in items]

    registrations = ids(admin, "/api/registrations?limit=100")
    projects = ids(admin, "/api/projects")
    units = ids(admin, "/api/admin/units")
    users = [u for u in ids(admin, "/api/admin/users") if u != "user-admin"]
    mail = [m for s in ("pending", "sent", "failed") for m in ids(admin, f"/api/admin/mail?status={s}")]

    attachments = []
    for rid in registrations:
        for a in admin.call("GET", f"/api/registrations/{rid}/attachments").json()["items"]:
            attachments.append({"id": rid, "aid": a["id"]})
    ready = next(a for a in attachments if a["id"] == draft)
    download = leader.call(
        "GET", f"/api/registrations/{draft}/attachments/{ready['aid']}/download", 302
    ).headers["Location"]
    tokens = [{"token": token_of(pending["upload_url"])}, {"token": token_of(download)}]

    by_id = [{"id": r} for r in registrations]
    common = {
        "/api/registrations/{id}": by_id,
        "/api/registrations/{id}/kind": by_id,
        "/api/registrations/{id}/check": by_id,
        "/api/registrations/{id}/actions/{action}": by_id,
        "/api/registrations/{id}/next-number": by_id,
        "/api/registrations/{id}/history": by_id,
        "/api/registrations/{id}/attachments": by_id,
        "/api/registrations/{id}/notice.xlsx": by_id,
        "/api/registrations/{id}/attachments/{aid}": attachments,
        "/api/registrations/{id}/attachments/{aid}/confirm": attachments,
        "/api/registrations/{id}/attachments/{aid}/download": attachments,
        "/api/projects/{id}/acceptance": [{"id": p} for p in projects],
        "/api/admin/units/{id}/departments": [{"id": u} for u in units],
        "/api/admin/users/{id}": [{"id": u} for u in users],
        "/api/admin/mail/{id}/retry": [{"id": m} for m in mail],
        "/files/{token}": tokens,
    }
    print(
        f"schemathesis: test data: {len(registrations)} records, {len(attachments)} attachments, "
        f"{len(projects)} projects, {len(mail)} mail jobs",
        file=sys.stderr,
    )
    return {"anonymous": common, "leader": common, "point": common, "admin": common}


def run(args, role: str, pools: dict) -> dict:
    """One schemathesis run; returns its JSON report."""
    report = Path(args.report_dir) / f"{role}.json"
    # The session and CSRF token go through the document's own security schemes, so that
    # schemathesis knows which requests carry them (and may leave them out on purpose).
    config = Path(args.report_dir) / f"{role}.toml"
    if role == "anonymous":
        config.write_text("")
    else:
        api = Api(args.base, role)
        config.write_text(
            f'[auth.openapi.session]\napi_key = "{api.token}"\n'
            f'[auth.openapi.csrf]\napi_key = "{api.csrf}"\n'
        )
    cmd = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        f"{args.base}/api/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        str(args.max_examples),
        "--workers",
        "1",
        "--phases",
        "examples,coverage,fuzzing",
        "--seed",
        str(args.seed),
        "--request-timeout",
        "30",
        "--max-redirects",
        "0",
        "--suppress-health-check",
        "all",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--output-truncate",
        "false",
    ]
    if role == "anonymous":
        for op in ANONYMOUS_OPERATIONS:
            cmd += ["--include-operation-id", op]
    else:
        for op in ANONYMOUS_OPERATIONS:
            cmd += ["--exclude-operation-id", op]
    env = dict(os.environ)
    env.update(
        SCHEMATHESIS_HOOKS="chengguo_hooks",
        PYTHONPATH=str(HERE) + os.pathsep + env.get("PYTHONPATH", ""),
        CHENGGUO_ST_DATA=args.data,
        CHENGGUO_ST_IDS=json.dumps(pools),
        CHENGGUO_ST_STATS=str(Path(args.report_dir) / f"{role}.stats.json"),
    )
    log = Path(args.report_dir) / f"{role}.log"
    with open(log, "w") as out:
        code = subprocess.call(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=args.report_dir)
    if not report.exists():
        sys.stderr.write(log.read_text())
        raise SystemExit(f"schemathesis ({role}) wrote no report (exit {code})")
    result = json.loads(report.read_text())
    result["log"] = str(log)
    stats = Path(args.report_dir) / f"{role}.stats.json"
    result["refusals_compared"] = (
        json.loads(stats.read_text())["refused_state_changing"] if stats.exists() else 0
    )
    return result


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--report-dir", required=True)
    p.add_argument("--max-examples", type=int, default=20)
    p.add_argument("--seed", type=int, default=20261128)
    p.add_argument("--summary-json", help="also write the totals here")
    args = p.parse_args()

    pools = make_data(args.base)
    totals = {
        "runs": [],
        "operations": 0,
        "examples": 0,
        "failures": 0,
        "errors": 0,
        "refusals_compared": 0,
    }
    # The anonymous run and the logged-in runs select disjoint operations.
    tested = {"anonymous": 0, "logged_in": 0}
    failed = False
    # The administration run comes last: it may deactivate accounts and change passwords.
    for role in ["anonymous", "leader", "point", "admin"]:
        r = run(args, role, pools[role])
        ops = r["operations"]["tested"]
        examples = r["test_cases"]["generated"]
        failures = r["test_cases"]["unique_failures"]
        errors = len(r["errors"]) + r["operations"]["errored"]
        refusals = r["refusals_compared"]
        group = "anonymous" if role == "anonymous" else "logged_in"
        tested[group] = max(tested[group], ops)
        totals["runs"].append(
            {
                "role": role,
                "operations": ops,
                "examples": examples,
                "failures": failures,
                "errors": errors,
                "refusals_compared": refusals,
            }
        )
        totals["refusals_compared"] += refusals
        totals["examples"] += examples
        totals["failures"] += failures
        totals["errors"] += errors
        print(
            f"schemathesis [{role}]: {ops} operations, {examples} examples, "
            f"{failures} failures, {errors} errors; {refusals} refused state-changing requests "
            "left the stored state unchanged"
        )
        if failures or errors or r["exit_code"] != 0:
            failed = True
            log = Path(r["log"]).read_text()
            start = log.find("=== FAILURES ===")
            if start < 0:
                start = log.find("=== ERRORS ===")
            print(log[max(start - 40, 0) :] if start >= 0 else log[-4000:])
            for f in r["failures"]:
                print(f"  {f['code']} {f['title']}: {', '.join(f['operations'])}")
    totals["operations"] = tested["anonymous"] + tested["logged_in"]
    print(
        f"schemathesis: {totals['operations']} operations tested, {totals['examples']} examples tried, "
        f"{totals['failures']} failures, {totals['errors']} errors; "
        f"{totals['refusals_compared']} refused state-changing requests compared"
    )
    if args.summary_json:
        Path(args.summary_json).write_text(json.dumps(totals))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
