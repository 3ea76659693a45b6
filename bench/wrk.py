"""Drive a server with wrk (Debian's wrk 4) and read its figures from a Lua `done()` hook.

wrk is closed-loop: each connection sends its next request when the previous one
answered. Paced runs add a think time per request with wrk's Lua `delay()`; the rate is
then about connections / (think + latency), and the achieved rate is reported beside the
latencies (wrk measures latency without the think time).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

LUA_DONE = """
done = function(summary, latency, requests)
  io.write(string.format(
    '\\nRESULT {"requests": %d, "seconds": %f, "non2xx3xx": %d, "timeouts": %d,'
    .. ' "socket_errors": %d, "p50_ms": %f, "p99_ms": %f, "max_ms": %f}\\n',
    summary.requests, summary.duration / 1e6, summary.errors.status, summary.errors.timeout,
    summary.errors.connect + summary.errors.read + summary.errors.write,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)
        path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    return path


def lua_paths(paths: list[str], *, think_ms: float = 0.0) -> str:
    """A script cycling through GET `paths` (one per request), with an optional think time."""
    table = ",".join(json.dumps(p) for p in paths)
    return (
        f"""
local paths = {{{table}}}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
delay = function() return {think_ms} end
"""
        + LUA_DONE
    )


def lua_posts(
    path: str,
    bodies: list[str] | None,
    *,
    headers: dict,
    template: str = "",
    signatures: list[str] | None = None,
    signature_header: str = "",
) -> str:
    """A script POSTing `bodies` in turn (each with its signature header, if given), or
    `template` with `{n}` made unique per request."""
    hdrs = "".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in headers.items())
    table = ",".join(json.dumps(b) for b in bodies or [])
    sigs = ",".join(json.dumps(s) for s in signatures or [])
    return (
        f"""
wrk.method = "POST"
{hdrs}
local bodies = {{{table}}}
local sigs = {{{sigs}}}
local template = {json.dumps(template)}
local n, tag, offset = 0, "t", 0
math.randomseed(os.time())
local thread_no = 0
setup = function(thread)
  thread_no = thread_no + 1
  thread:set("tid", tostring(thread_no) .. "-" .. tostring(math.random(1, 1000000000)))
  thread:set("tno", thread_no)
end
init = function(args) tag = tid; offset = (tno or 0) * 100000 end
request = function()
  n = n + 1
  local body, headers
  if #bodies > 0 then
    local k = ((offset + n) % #bodies) + 1
    body = bodies[k]
    if #sigs > 0 then
      headers = {{}}
      for name, value in pairs(wrk.headers) do headers[name] = value end
      headers[{json.dumps(signature_header)}] = sigs[k]
    end
  else body = template:gsub("{{n}}", tag .. "-" .. n) end
  return wrk.format("POST", {json.dumps(path)}, headers, body)
end
"""
        + LUA_DONE
    )


def run(
    url: str, script: str, *, connections: int, seconds: float, threads: int = 2, timeout="2s"
) -> dict:
    """Run wrk once and return requests, rps, p50/p99/max ms, errors."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            [
                ensure_wrk(),
                "-t",
                str(min(threads, connections)),
                "-c",
                str(connections),
                "-d",
                f"{max(1, round(seconds))}s",
                "--timeout",
                timeout,
                "-s",
                f.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        Path(f.name).unlink()
    if out.returncode:
        raise RuntimeError(f"wrk failed: {out.stderr or out.stdout}")
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("RESULT "))
    result = json.loads(line[len("RESULT ") :])
    result["rps"] = result["requests"] / result["seconds"]
    result["errors"] = result["non2xx3xx"] + result["timeouts"] + result["socket_errors"]
    return result
