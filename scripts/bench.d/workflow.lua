-- The load of the workflow benchmark, for wrk with one connection per thread (-t C -c C), so
-- each thread's requests are strictly one after another and the thread owns its records.
--
-- Arguments (after --): CONFIG MODE, where CONFIG is the file workflow_prepare.py wrote
-- (sessions with their cookie and CSRF token, per-thread cycle and edit records, ids to read)
-- and MODE is
--   mix          per 10 requests: 6 reads (GET record as the point, GET a list page of 20),
--                2 edits (PATCH of the thread's draft with its version) and 2 transitions
--   transitions  transitions only
-- A transition moves the thread's cycle record one step round
-- draft/returned --submit (leader)--> dept_review --pass (dept)--> unit_review
-- --return (unit)--> returned, which can go on indefinitely. A refused step (it should never
-- happen) is counted, and the record is read again to resynchronise its state and version;
-- each thread starts by reading both its records, which earlier runs may have moved on.
-- done() prints "RESULT requests=… transitions=… edits=… reads=… failed=… secs=… p50_ms=…
-- p99_ms=…" for scripts/bench.d/10-workflow.sh.

local threads = {}
local count = 0

function setup(thread)
  thread:set("index", count)
  count = count + 1
  table.insert(threads, thread)
end

local sessions, cycles, edits, reads = {}, {}, {}, {}
local mode
local cycle, edit
local step, pending = 0, nil
transitions, edits_done, reads_done, failed = 0, 0, 0, 0

function init(args)
  mode = args[2] or "mix"
  for line in io.lines(args[1]) do
    local kind, a, b, c = line:match("^(%S+) (%S+) ?(%S*) ?(%S*)$")
    if kind == "session" then
      sessions[a] = { ["Cookie"] = b, ["X-CSRF-Token"] = c, ["Content-Type"] = "application/json" }
    elseif kind == "cycle" then
      table.insert(cycles, { id = a, version = tonumber(b), state = "draft" })
    elseif kind == "edit" then
      table.insert(edits, { id = a, version = tonumber(b) })
    elseif kind == "read" then
      table.insert(reads, a)
    end
  end
  cycle = cycles[index + 1]
  edit = edits[index + 1]
  -- An earlier run may have moved both records on: read them first.
  cycle.stale = true
  edit.stale = true
  math.randomseed(index * 7919 + 1)
end

local function read_path()
  return "/api/registrations/" .. reads[math.random(#reads)]
end

local function transition()
  local who, action, body
  if cycle.state == "draft" or cycle.state == "returned" then
    who, action = "leader", "submit"
  elseif cycle.state == "dept_review" then
    who, action = "dept", "pass"
  elseif cycle.state == "unit_review" then
    who, action = "unit", "return"
  else
    who, action = "leader", "resync"
  end
  if action == "resync" then
    pending = "resync"
    return wrk.format("GET", "/api/registrations/" .. cycle.id, sessions.leader)
  end
  if action == "return" then
    body = '{"version":' .. cycle.version .. ',"opinion":"请补充成果应用证明材料。"}'
  else
    body = '{"version":' .. cycle.version .. '}'
  end
  pending = "transition"
  return wrk.format("POST", "/api/registrations/" .. cycle.id .. "/actions/" .. action,
    sessions[who], body)
end

function request()
  if cycle.stale then
    pending = "resync"
    return wrk.format("GET", "/api/registrations/" .. cycle.id, sessions.leader)
  elseif edit.stale then
    pending = "resync_edit"
    return wrk.format("GET", "/api/registrations/" .. edit.id, sessions.leader)
  end
  step = step + 1
  if mode == "transitions" then
    return transition()
  end
  local k = step % 10
  if k == 4 or k == 9 then
    return transition()
  elseif k == 2 or k == 7 then
    pending = "edit"
    local body = '{"version":' .. edit.version .. ',"fields":{"summary":"本成果的第' .. step ..
      '次修改：针对产业关键技术瓶颈提出了新的方法。"}}'
    return wrk.format("PATCH", "/api/registrations/" .. edit.id, sessions.leader, body)
  elseif k == 5 or k == 0 then
    pending = "read"
    return wrk.format("GET", "/api/registrations?limit=20", sessions.point)
  else
    pending = "read"
    return wrk.format("GET", read_path(), sessions.point)
  end
end

local function top_level(body, key)
  -- The record's own state and version: the API's JSON keys are sorted, and the record's
  -- "state" and "version" are the last top-level keys of those names.
  local value
  for v in body:gmatch('"' .. key .. '":"?([%w_]+)"?') do
    value = v
  end
  return value
end

function response(status, headers, body)
  if pending == "transition" then
    if status == 200 then
      transitions = transitions + 1
      cycle.version = cycle.version + 1
      if cycle.state == "draft" or cycle.state == "returned" then
        cycle.state = "dept_review"
      elseif cycle.state == "dept_review" then
        cycle.state = "unit_review"
      else
        cycle.state = "returned"
      end
    else
      failed = failed + 1
      cycle.stale = true
    end
  elseif pending == "edit" then
    if status == 200 then
      edits_done = edits_done + 1
      edit.version = edit.version + 1
    else
      failed = failed + 1
      edit.stale = true
    end
  elseif pending == "resync" then
    cycle.stale = false
    if status == 200 then
      cycle.version = tonumber(top_level(body, "version")) or cycle.version
      cycle.state = top_level(body, "state") or cycle.state
    end
  elseif pending == "resync_edit" then
    edit.stale = false
    if status == 200 then
      edit.version = tonumber(top_level(body, "version")) or edit.version
    end
  else
    if status == 200 then
      reads_done = reads_done + 1
    else
      failed = failed + 1
    end
  end
end

function done(summary, latency, requests)
  local t, e, r, f = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    t = t + thread:get("transitions")
    e = e + thread:get("edits_done")
    r = r + thread:get("reads_done")
    f = f + thread:get("failed")
  end
  io.write(string.format(
    "RESULT requests=%d transitions=%d edits=%d reads=%d failed=%d errors=%d secs=%.3f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, t, e, r, f,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status +
      summary.errors.timeout,
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
