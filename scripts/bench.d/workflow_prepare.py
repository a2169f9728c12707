"""Prepares the workflow benchmark against a running `chengguo serve` (standard library only).

Signs in as the demo accounts `leader`, `dept`, `unit` and `point` (one session each, so the
load itself never waits on password hashing), and for each of C load connections makes, through
the API as people do: a "cycle" record of `leader` (created, filled with the fixture form of its
kind, every required material uploaded through the signed URL and confirmed), which the load
then moves round submit → pass (department) → return (unit) → submit … for as long as it runs,
and an "edit" draft the load PATCHes. It also lists record ids for the reads (as `point`).

Writes a plain config the Lua script reads, one item a line:
  session ROLE COOKIE CSRF
  cycle ID VERSION
  edit ID VERSION
  read ID

Usage: python workflow_prepare.py BASE_URL FIXTURES_DIR CONNECTIONS OUT_FILE
"""

import json
import sys
import urllib.error
import urllib.request

BASE, FIXTURES, CONNECTIONS, OUT = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
PASSWORD = "chengguo-demo"
REQUIRED = {
    # The required material categories per kind come from the API's own check below.
}


def call(method, path, session=None, body=None, raw=None, headers=None, absolute=False):
    url = path if absolute else BASE + path
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    if session:
        req.add_header("Cookie", session["cookie"])
        req.add_header("X-CSRF-Token", session["csrf"])
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            text = r.read()
            return r.status, r.headers, (json.loads(text) if text[:1] in (b"{", b"[") else text)
    except urllib.error.HTTPError as e:
        text = e.read()
        raise SystemExit(f"{method} {path}: {e.code} {text[:400]!r}")


def login(username):
    status, headers, body = call("POST", "/api/session", body={"username": username, "password": PASSWORD})
    cookie = headers.get("Set-Cookie").split(";", 1)[0]
    return {"cookie": cookie, "csrf": body["csrf_token"]}


def filled_record(leader, kind):
    with open(f"{FIXTURES}/form_{kind}.json", encoding="utf-8") as f:
        form = json.load(f)
    _, _, reg = call("POST", "/api/registrations", leader,
                     {"kind": kind, "source": "other_fiscal", "consent": True})
    rid = reg["id"]
    _, _, reg = call("PATCH", f"/api/registrations/{rid}", leader,
                     {"version": reg["version"], "fields": form})
    _, _, problems = call("GET", f"/api/registrations/{rid}/check", leader)
    items = problems.get("problems", problems) if isinstance(problems, dict) else problems
    categories = sorted({p["field"].split(".", 1)[1] for p in items
                         if p.get("field", "").startswith("materials.")})
    pdf = b"%PDF-1.4\n% benchmark material\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
    for cat in categories:
        _, _, created = call("POST", f"/api/registrations/{rid}/attachments", leader,
                             {"category": cat, "filename": f"{cat}.pdf",
                              "content_type": "application/pdf", "size": len(pdf)})
        up = created["upload"]
        call(up.get("method", "PUT"), up["url"], raw=pdf, headers=up.get("headers") or {}, absolute=True)
        aid = created["attachment"]["id"]
        call("POST", f"/api/registrations/{rid}/attachments/{aid}/confirm", leader, {})
    _, _, reg = call("GET", f"/api/registrations/{rid}", leader)
    return rid, reg["version"]


def main():
    sessions = {u: login(u) for u in ("leader", "dept", "unit", "point")}
    lines = [f"session {u} {s['cookie']} {s['csrf']}" for u, s in sessions.items()]
    for i in range(CONNECTIONS):
        rid, version = filled_record(sessions["leader"], ("applied", "basic", "soft")[i % 3])
        lines.append(f"cycle {rid} {version}")
        _, _, reg = call("POST", "/api/registrations", sessions["leader"],
                         {"kind": "applied", "source": "other_fiscal", "consent": True})
        lines.append(f"edit {reg['id']} {reg['version']}")
    cursor, ids = None, []
    for _ in range(20):
        path = "/api/registrations?limit=100" + (f"&cursor={cursor}" if cursor else "")
        _, _, page = call("GET", path, sessions["point"])
        ids += [r["id"] for r in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    if not ids:
        raise SystemExit("no records to read")
    lines += [f"read {i}" for i in ids]
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"prepared {CONNECTIONS} cycle and edit records, {len(ids)} read ids", file=sys.stderr)


if __name__ == "__main__":
    main()
