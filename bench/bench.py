#!/usr/bin/env python3
"""Per-call overhead of the gateway, measured side by side on this machine.

A static fake Nomad (nginx serving Nomad's documented sample answers from bench/nomad/)
answers in well under a millisecond, so what is measured is the gateway. The load
generator is wrk. Rows:

  nomad      GET /v1/job/example straight from nginx (the floor)
  rest       GET /api/v1/jobs/example
  mcp        tools/call get_job on /mcp in an initialized session (2025-06-18)
  stateless  tools/call get_job on /mcp as a 2026-07-28 request (no session)
  sse        tools/call get_job over the legacy transport (POST /messages, answer on the
             open GET /sse stream), driven by the asyncio client in this file

For each row and concurrency: calls/s, p50/p90/p99, gateway CPU per call (utime+stime
from /proc), Nomad requests and new Nomad connections per call (nginx's access log),
RSS before and after. Each cell is the median of the repetitions.

`sessions N` holds N legacy SSE and N Streamable HTTP sessions open and reports bytes
and file descriptors per session, then RSS after they close.

`replicas` runs two gateways (A and B) on one fresh Postgres database (made on the server
of --database-url and dropped at the end) and measures a session served by the replica
that did not open it, beside one served by the replica that did:

  mcp-creator  tools/call get_job in Streamable HTTP sessions initialized on A, sent to A
  mcp-other    the same sessions, sent to B (restored from their rows by a warm-up call)
  sse-holder   legacy SSE, stream opened on A, messages POSTed to A
  sse-other    stream opened on A, messages POSTed to B (relayed to A through Postgres)

with the two gateways' CPU per call and database writes per call (pg_stat_user_tables).

Everything listens on 127.0.0.1 and everything started is stopped at the end.
"""

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOMAD_FILES = os.path.join(ROOT, "bench", "nomad")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PROTOCOL = "2025-06-18"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the whole line (man 5 proc).
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_kib(pid, field):
    """One KiB figure of /proc/PID/status (`VmRSS`, `RssAnon`...); 0 when absent."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    return 0


def rss_kib(pid):
    return status_kib(pid, "VmRSS")


def rss_anon_kib(pid):
    """The anonymous part of the RSS (heap and stacks), without the binary's mapped pages."""
    return status_kib(pid, "RssAnon")


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Started:
    """Processes this run started; all are stopped at exit."""

    def __init__(self):
        self.procs = []

    def spawn(self, args, **kw):
        proc = subprocess.Popen(args, **kw)
        self.procs.append(proc)
        return proc

    def stop(self, proc):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self):
        for proc in reversed(self.procs):
            self.stop(proc)


def wait_http(url, timeout=30, want=200):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == want:
                    return
                last = r.status
        except Exception as e:  # noqa: BLE001 - any failure means "not yet"
            last = e
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer {want} within {timeout}s (last: {last})")


def start_nomad(started, work):
    """nginx serving the sample answers; its access log counts requests and connections."""
    port = free_port()
    log = os.path.join(work, "nomad-access.log")
    routes = {
        "/v1/job/example": "job.json",
        "/v1/job/example/summary": "summary.json",
        "/v1/job/example/deployment": "deployment.json",
        "/v1/status/leader": "leader.json",
    }
    locations = "\n".join(
        f"    location = {path} {{ alias {NOMAD_FILES}/{file}; }}" for path, file in routes.items()
    )
    conf = f"""
daemon off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  log_format bench '$connection $request_uri';
  access_log {log} bench buffer=64k flush=100ms;
  client_body_temp_path {work}/nginx-body;
  proxy_temp_path {work}/nginx-proxy;
  fastcgi_temp_path {work}/nginx-fastcgi;
  uwsgi_temp_path {work}/nginx-uwsgi;
  scgi_temp_path {work}/nginx-scgi;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  default_type application/json;
  add_header X-Nomad-Index 13 always;
  add_header X-Nomad-KnownLeader true always;
  server {{
    listen 127.0.0.1:{port};
{locations}
  }}
}}
"""
    path = os.path.join(work, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    started.spawn(["nginx", "-c", path, "-p", work], stderr=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{port}/v1/status/leader")
    return port, log


def start_gateway(started, work, binary, nomad_port, extra_env=None, name="gateway"):
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "GATEWAY_AUTH": "off",
        "GATEWAY_RATE_LIMIT_READS": "0",
        "GATEWAY_RATE_LIMIT_WRITES": "0",
        "NOMAD_ADDR": f"http://127.0.0.1:{nomad_port}",
        "DATABASE_URL": f"sqlite://{work}/gateway.db",
        "RUST_LOG": "warn",
        # With authentication off every client is the same caller; the bench holds more
        # sessions than the default per-caller cap.
        "GATEWAY_MCP_SESSIONS_PER_CALLER": "100000",
    }
    env.update(extra_env or {})
    log = open(os.path.join(work, f"{name}.log"), "ab")
    proc = started.spawn([binary, "serve"], env=env, cwd=work, stdout=log, stderr=log)
    wait_http(f"http://127.0.0.1:{port}/readyz")
    return proc, port


def http_json(url, body, headers):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    for k, v in headers.items():
        request.add_header(k, v)
    with urllib.request.urlopen(request, timeout=10) as r:
        return r.status, dict(r.headers), r.read().decode()


def mcp_session(port):
    base = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
    }
    _, headers, _ = http_json(
        f"http://127.0.0.1:{port}/mcp",
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "1"},
            },
        },
        base,
    )
    session = {k.lower(): v for k, v in headers.items()}["mcp-session-id"]
    http_json(
        f"http://127.0.0.1:{port}/mcp",
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {**base, "Mcp-Session-Id": session, "MCP-Protocol-Version": PROTOCOL},
    )
    return session


def check_get_job(port, session):
    """One real call first: a tool error also answers 200, and must not be counted as speed."""
    _, _, body = http_json(
        f"http://127.0.0.1:{port}/mcp",
        GET_JOB,
        {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "Mcp-Session-Id": session,
            "MCP-Protocol-Version": PROTOCOL,
        },
    )
    data = next((l[6:] for l in body.splitlines() if l.startswith("data: ") and len(l) > 6), body)
    result = json.loads(data).get("result", {})
    if result.get("isError") or result.get("structuredContent", {}).get("id") != "example":
        raise SystemExit(f"get_job over MCP did not answer the job: {body[:500]}")


GET_JOB = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {"name": "get_job", "arguments": {"job_id": "example"}},
}


def wrk_script(work, name, headers, body, sessions=None, threads=1):
    """A wrk Lua script that POSTs `body` with `headers`. With `sessions`, each wrk thread
    takes its own share of them and its requests go round its share, so with as many
    sessions as connections about one request per session is in flight (an MCP session
    answers its requests one after another, as one client would send them)."""
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(json.dumps(body))}"]
    for k, v in headers.items():
        lines.append(f'wrk.headers["{k}"] = "{v}"')
    if sessions:
        ids = ", ".join(json.dumps(s) for s in sessions)
        lines += [
            f"local all = {{{ids}}}",
            "local threads = 0",
            "function setup(thread) thread:set('index', threads); threads = threads + 1 end",
            "function init(args)",
            "  mine = {}",
            f"  local step = {threads}",
            "  for i = index + 1, #all, step do table.insert(mine, all[i]) end",
            "  if #mine == 0 then mine = all end",
            "  turn = 0",
            "end",
            "function request()",
            "  turn = turn % #mine + 1",
            "  wrk.headers['Mcp-Session-Id'] = mine[turn]",
            "  return wrk.format()",
            "end",
        ]
    path = os.path.join(work, f"{name}.lua")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def parse_wrk(text):
    def seconds(value, unit):
        return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]

    out = {}
    for pct in ("50", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        out[f"p{pct}_ms"] = seconds(*m.groups()) * 1000 if m else float("nan")
    m = re.search(r"(\d+) requests in", text)
    out["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["errors"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["errors"] += sum(int(x) for x in m.groups()) if m else 0
    return out


def nomad_log_mark(log):
    time.sleep(0.25)  # nginx flushes its access log every 100 ms
    with open(log) as f:
        return sum(1 for _ in f)


def nomad_log_since(log, mark):
    time.sleep(0.25)
    with open(log) as f:
        lines = f.readlines()[mark:]
    connections = {line.split(" ", 1)[0] for line in lines}
    return len(lines), connections


def run_wrk(url, concurrency, duration, script=None):
    threads = min(concurrency, 2)
    args = ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{duration}s", "--latency"]
    if script:
        args += ["-s", script]
    result = subprocess.run(args + [url], capture_output=True, text=True, check=True)
    return parse_wrk(result.stdout), result.stdout


def measure(row, url, script, concurrency, duration, gateway, nomad_log):
    """One run of one row; gateway CPU and Nomad traffic are read around it."""
    # A short warm-up opens the connections (client and Nomad side) before measuring.
    run_wrk(url, concurrency, 2, script)
    mark = nomad_log_mark(nomad_log)
    before_conns = nomad_log_since(nomad_log, 0)[1] if row != "nomad" else set()
    cpu0 = cpu_seconds(gateway.pid) if row != "nomad" else 0.0
    stats, text = run_wrk(url, concurrency, duration, script)
    cpu1 = cpu_seconds(gateway.pid) if row != "nomad" else 0.0
    nomad_requests, conns = nomad_log_since(nomad_log, mark)
    calls = max(stats["requests"], 1)
    stats["cpu_us"] = (cpu1 - cpu0) * 1e6 / calls if row != "nomad" else float("nan")
    stats["nomad_per_call"] = nomad_requests / calls if row != "nomad" else 1.0
    stats["new_nomad_conns"] = len(conns - before_conns) if row != "nomad" else 0
    if stats["errors"]:
        print(text, file=sys.stderr)
        raise SystemExit(f"{row} at concurrency {concurrency}: {stats['errors']} failed calls")
    return stats


# ------------------------------------------------------------------ legacy SSE


class SseSession:
    """One legacy HTTP+SSE session on a raw asyncio connection. The stream is opened on
    `port`; messages are POSTed to `post_port` (another replica), or to `port` too."""

    def __init__(self, port, post_port=None):
        self.port = port
        self.post_port = post_port or port
        self.pending = {}
        self.reader = None
        self.writer = None
        self.endpoint = None
        self.buffer = b""

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(
            f"GET /sse HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        assert b" 200 " in head.split(b"\r\n")[0] + b" ", head
        assert b"chunked" in head.lower(), head
        event = await self.next_event()
        assert event[0] == "endpoint", event
        self.endpoint = event[1]
        self.task = asyncio.ensure_future(self.read_loop())

    async def next_event(self):
        name, data = "message", []
        while True:
            line = await self.read_line()
            if line == "":
                if data:
                    return name, "\n".join(data)
                continue
            if line.startswith(":"):
                continue
            key, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)

    async def read_line(self):
        """The next line of the event stream, through HTTP/1.1 chunked framing."""
        while b"\n" not in self.buffer:
            size = int((await self.reader.readline()).strip() or b"0", 16)
            if size == 0:
                raise ConnectionError("stream closed")
            self.buffer += await self.reader.readexactly(size)
            await self.reader.readexactly(2)
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode().rstrip("\r")

    async def read_loop(self):
        try:
            while True:
                _, data = await self.next_event()
                message = json.loads(data)
                future = self.pending.pop(message.get("id"), None)
                if future:
                    future.set_result(message)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return

    async def post(self, writer_pool, body):
        """POSTs a message on a connection of its own (kept alive) and waits for the answer."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if "id" in body:
            self.pending[body["id"]] = future
        reader, writer = writer_pool
        payload = json.dumps(body).encode()
        writer.write(
            (
                f"POST {self.endpoint} HTTP/1.1\r\nHost: 127.0.0.1:{self.post_port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
            ).encode()
            + payload
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1)) if b"ontent-" in head else 0
        if length:
            await reader.readexactly(length)
        status = int(head.split(b" ")[1])
        if status != 202:
            raise RuntimeError(f"POST /messages answered {status}")
        if "id" in body:
            return await future

    async def initialize(self, pool):
        await self.post(
            pool,
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2024-11-05",
                    "capabilities": {},
                    "clientInfo": {"name": "bench", "version": "1"},
                },
            },
        )
        await self.post(pool, {"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def close(self):
        self.task.cancel()
        self.writer.close()


async def sse_load(port, concurrency, duration, post_port=None):
    """`concurrency` sessions, each calling get_job in a loop for `duration` seconds; the
    streams are opened on `port`, the messages POSTed to `post_port` (default: `port`)."""
    latencies = []
    errors = 0

    async def one():
        nonlocal errors
        session = SseSession(port, post_port)
        await session.open()
        pool = await asyncio.open_connection("127.0.0.1", session.post_port)
        await session.initialize(pool)
        n = 0
        deadline = time.perf_counter() + duration
        while time.perf_counter() < deadline:
            n += 1
            started = time.perf_counter()
            answer = await session.post(pool, {**GET_JOB, "id": n})
            if "error" in answer or answer.get("result", {}).get("isError"):
                errors += 1
            latencies.append(time.perf_counter() - started)
        pool[1].close()
        await session.close()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000

    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "errors": errors,
    }


def measure_sse(concurrency, duration, gateway, port, nomad_log):
    asyncio.run(sse_load(port, concurrency, 1))
    mark = nomad_log_mark(nomad_log)
    before_conns = nomad_log_since(nomad_log, 0)[1]
    cpu0 = cpu_seconds(gateway.pid)
    stats = asyncio.run(sse_load(port, concurrency, duration))
    cpu1 = cpu_seconds(gateway.pid)
    nomad_requests, conns = nomad_log_since(nomad_log, mark)
    calls = max(stats["requests"], 1)
    stats["cpu_us"] = (cpu1 - cpu0) * 1e6 / calls
    stats["nomad_per_call"] = nomad_requests / calls
    stats["new_nomad_conns"] = len(conns - before_conns)
    if stats["errors"]:
        raise SystemExit(f"sse at concurrency {concurrency}: {stats['errors']} failed calls")
    return stats


# ------------------------------------------------------------------ rows


def calls(args, work, binary):
    started = Started()
    try:
        nomad_port, nomad_log = start_nomad(started, work)
        gateway, port = start_gateway(started, work, binary, nomad_port, args.env)
        time.sleep(1)
        idle_rss = rss_kib(gateway.pid)
        sessions = [mcp_session(port) for _ in range(max(args.concurrency))]
        check_get_job(port, sessions[0])
        json_headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        }
        rows = {
            "nomad": (f"http://127.0.0.1:{nomad_port}/v1/job/example", None),
            "rest": (f"http://127.0.0.1:{port}/api/v1/jobs/example", None),
            # One session per connection: the script is made per concurrency below.
            "mcp": (f"http://127.0.0.1:{port}/mcp", None),
            "stateless": (
                f"http://127.0.0.1:{port}/mcp",
                wrk_script(
                    work,
                    "stateless",
                    {
                        **json_headers,
                        "MCP-Protocol-Version": "2026-07-28",
                        "Mcp-Method": "tools/call",
                        "Mcp-Name": "get_job",
                    },
                    {
                        **GET_JOB,
                        "params": {
                            **GET_JOB["params"],
                            "_meta": {
                                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                                "io.modelcontextprotocol/clientCapabilities": {},
                                "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
                            },
                        },
                    },
                ),
            ),
            "sse": (None, None),
        }
        results = []
        for row in args.rows:
            url, script = rows[row]
            for concurrency in args.concurrency:
                if row == "mcp":
                    script = wrk_script(
                        work,
                        f"mcp-{concurrency}",
                        {**json_headers, "MCP-Protocol-Version": PROTOCOL},
                        GET_JOB,
                        sessions=sessions[:concurrency],
                        threads=min(concurrency, 2),
                    )
                runs = []
                for _ in range(args.repeat):
                    if row == "sse":
                        runs.append(measure_sse(concurrency, args.duration, gateway, port, nomad_log))
                    else:
                        runs.append(
                            measure(row, url, script, concurrency, args.duration, gateway, nomad_log)
                        )
                cell = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                cell.update(row=row, concurrency=concurrency, runs=len(runs))
                results.append(cell)
                print(format_row(cell), flush=True)
        return {"idle_rss_kib": idle_rss, "final_rss_kib": rss_kib(gateway.pid), "rows": results}
    finally:
        started.stop_all()


HEADER = (
    "| row | conc | calls/s | p50 ms | p90 ms | p99 ms | gateway CPU µs/call | Nomad req/call | new Nomad conns |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def format_row(c):
    cpu = "-" if c["cpu_us"] != c["cpu_us"] else f"{c['cpu_us']:.0f}"
    return (
        f"| {c['row']} | {c['concurrency']} | {c['rps']:.0f} | {c['p50_ms']:.2f} | {c['p90_ms']:.2f} "
        f"| {c['p99_ms']:.2f} | {cpu} | {c['nomad_per_call']:.2f} | {c['new_nomad_conns']:.0f} |"
    )


# ------------------------------------------------------------------ held sessions


def open_sessions_gauge(port):
    """The gateway's own count of the sessions it holds, by transport (`/metrics`)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    found = {}
    for line in text.splitlines():
        m = re.match(r'gateway_mcp_sessions\{transport="([a-z_]+)"\} (\S+)', line)
        if m:
            found[m.group(1)] = float(m.group(2))
    return found


async def wait_sessions_gone(port, timeout=60):
    start = time.monotonic()
    while True:
        held = open_sessions_gauge(port)
        if all(v == 0 for v in held.values()):
            return round(time.monotonic() - start, 2)
        if time.monotonic() - start > timeout:
            raise SystemExit(f"the gateway still holds sessions {timeout} s after they closed: {held}")
        await asyncio.sleep(0.2)


async def open_standalone(port, session):
    """Opens a Streamable HTTP session's standalone stream (`GET /mcp`), as the official
    SDKs do after `initialize`; returns the connection, kept open."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            f"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n"
            f"Mcp-Session-Id: {session}\r\nMCP-Protocol-Version: {PROTOCOL}\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n")[0] + b" ", head
    return reader, writer


async def hold_sessions(port, count, pid):
    """Opens `count` legacy SSE sessions and `count` Streamable HTTP sessions, then the
    standalone stream of each Streamable HTTP session."""
    # Measured from an idle gateway: its workers hand back what the start used first.
    await asyncio.sleep(3)
    report = {"rss_start_kib": rss_kib(pid), "rss_anon_start_kib": rss_anon_kib(pid), "fds_start": fd_count(pid)}

    sse = []
    opening = time.monotonic()
    for i in range(0, count, 200):
        batch = [SseSession(port) for _ in range(min(200, count - i))]
        await asyncio.gather(*(s.open() for s in batch))
        sse.extend(batch)
    report["sse_open_seconds"] = round(time.monotonic() - opening, 2)
    await asyncio.sleep(0.5)
    report["rss_sse_kib"] = rss_kib(pid)
    report["fds_sse"] = fd_count(pid)

    loop = asyncio.get_running_loop()
    sessions = []
    opening = time.monotonic()
    for i in range(0, count, 100):
        n = min(100, count - i)
        sessions += await asyncio.gather(*(loop.run_in_executor(None, mcp_session, port) for _ in range(n)))
    report["streamable_open_seconds"] = round(time.monotonic() - opening, 2)
    await asyncio.sleep(0.5)
    report["rss_both_kib"] = rss_kib(pid)
    report["fds_both"] = fd_count(pid)

    # As many standalone streams as this process has descriptors left for (each SSE
    # session holds one already).
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    with_stream = min(count, limit - count - 500)
    streams = []
    for i in range(0, with_stream, 200):
        batch = sessions[i : min(i + 200, with_stream)]
        streams += await asyncio.gather(*(open_standalone(port, s) for s in batch))
    report["streams"] = len(streams)
    await asyncio.sleep(0.5)
    report["rss_streams_kib"] = rss_kib(pid)
    report["fds_streams"] = fd_count(pid)

    # Every held session still answers: the last SSE one is initialized now, and a
    # Streamable HTTP session opened after all the others works.
    pool = await asyncio.open_connection("127.0.0.1", port)
    await sse[-1].initialize(pool)
    answer = await sse[-1].post(pool, {"jsonrpc": "2.0", "id": 7, "method": "ping"})
    assert "result" in answer, answer
    pool[1].close()
    live_sse = sum(1 for s in sse if not s.task.done())
    if live_sse != count:
        raise SystemExit(f"only {live_sse} of {count} legacy SSE sessions are still open")
    for session in (sessions[0], sessions[-1]):
        status, _, body = http_json(
            f"http://127.0.0.1:{port}/mcp",
            {"jsonrpc": "2.0", "id": 9, "method": "ping"},
            {
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
                "Mcp-Session-Id": session,
                "MCP-Protocol-Version": PROTOCOL,
            },
        )
        if status != 200 or '"result"' not in body:
            raise SystemExit(f"a held Streamable HTTP session no longer answers: {status} {body}")
    sessions.append(mcp_session(port))
    report["live_sse"] = live_sse
    report["streamable_sessions"] = len(sessions)

    for reader, writer in streams:
        if reader.at_eof():
            raise SystemExit("a standalone stream of a held session ended")
        writer.close()
    for s in sse:
        await s.close()
    for session in sessions:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/mcp", method="DELETE")
        req.add_header("Mcp-Session-Id", session)
        req.add_header("MCP-Protocol-Version", PROTOCOL)
        try:
            await loop.run_in_executor(None, lambda r=req: urllib.request.urlopen(r, timeout=10).read())
        except Exception:  # noqa: BLE001 - a 404 for an evicted one is fine here
            pass
    # The gateway lets go of a closed SSE stream when it sees the connection end, and of an
    # ended Streamable HTTP session at once; wait until its gauge says none is left.
    report["seconds_to_let_go"] = await wait_sessions_gone(port)
    await asyncio.sleep(1)
    report["rss_end_kib"] = rss_kib(pid)
    report["fds_end"] = fd_count(pid)
    # Again a little later: the allocator gives freed pages back over time.
    await asyncio.sleep(20)
    report["rss_end_20s_kib"] = rss_kib(pid)
    report["rss_anon_end_20s_kib"] = rss_anon_kib(pid)
    return report


def sessions(args, work, binary):
    started = Started()
    try:
        nomad_port, _ = start_nomad(started, work)
        # Each held session is one open connection (the SSE streams, then the standalone
        # streams), more than the default connection cap at 10,000 of each.
        env = {"GATEWAY_MAX_CONNECTIONS": str(2 * args.count + 1000), **args.env}
        gateway, port = start_gateway(started, work, binary, nomad_port, env)
        report = asyncio.run(hold_sessions(port, args.count, gateway.pid))
        report["count"] = args.count
        n = args.count
        report["sse_bytes_per_session"] = (report["rss_sse_kib"] - report["rss_start_kib"]) * 1024 / n
        report["streamable_bytes_per_session"] = (report["rss_both_kib"] - report["rss_sse_kib"]) * 1024 / n
        report["sse_fds_per_session"] = (report["fds_sse"] - report["fds_start"]) / n
        report["streamable_fds_per_session"] = (report["fds_both"] - report["fds_sse"]) / n
        m = max(report["streams"], 1)
        report["stream_bytes_per_session"] = (report["rss_streams_kib"] - report["rss_both_kib"]) * 1024 / m
        report["stream_fds_per_session"] = (report["fds_streams"] - report["fds_both"]) / m
        return report
    finally:
        started.stop_all()


# ------------------------------------------------------------------ replicas

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"
REPLICA_ROWS = ["mcp-creator", "mcp-other", "sse-holder", "sse-other"]
# (row on the replica that did not open the session, row on the one that did)
REPLICA_PAIRS = [("mcp-other", "mcp-creator"), ("sse-other", "sse-holder")]


def shown(url):
    """The URL without its password, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc}"))


def psql(url, sql):
    result = subprocess.run(
        ["psql", url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True,
        text=True,
        env={**os.environ, "PGCONNECT_TIMEOUT": "5"},
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip())
    return result.stdout.strip()


class Database:
    """A fresh Postgres database for one run, dropped at the end."""

    def __init__(self, server_url):
        self.server_url = server_url
        self.name = f"bench_replicas_{os.getpid()}"
        self.url = None

    def create(self):
        try:
            version = int(psql(self.server_url, "SHOW server_version_num"))
        except RuntimeError as e:
            raise SystemExit(
                f"cannot reach Postgres at {shown(self.server_url)} (BENCH_DATABASE_URL, else "
                f"TEST_DATABASE_URL, else {DEFAULT_DATABASE_URL}); the replicas mode needs one:\n{e}"
            ) from None
        if version < 150000:
            # Before 15, counts went to a collector process and an idle backend could hold
            # its own for as long as it stayed idle: no wait after a run would be enough.
            raise SystemExit(f"the replicas mode needs PostgreSQL 15 or later for its write counts (found {version})")
        try:
            psql(self.server_url, f"CREATE DATABASE {self.name}")
        except RuntimeError as e:
            raise SystemExit(f"cannot create {self.name} on {shown(self.server_url)}: {e}") from None
        parts = urllib.parse.urlsplit(self.server_url)
        self.url = urllib.parse.urlunsplit(parts._replace(path="/" + self.name))
        return self.url

    def drop(self):
        if self.url:
            try:
                psql(self.server_url, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
            except RuntimeError as e:
                print(f"dropping {self.name} failed: {e}", file=sys.stderr)


def table_writes(url):
    """Rows inserted, updated and deleted so far, per table of the database (their sum is
    `SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables`).

    These are the statistics each backend flushes to shared memory itself (PostgreSQL 15+),
    and the gateways' pooled connections are other backends: pg_stat_force_next_flush() and
    pg_stat_xact_* only reach the calling backend, so neither can read them sooner. A backend
    flushes when it goes idle, but at most once a second (PGSTAT_MIN_INTERVAL); what is
    still pending then is flushed by a timer PGSTAT_IDLE_INTERVAL (10 s) later
    (src/backend/utils/activity/pgstat.c). So a read counts a run's writes in full only
    when it is made more than 10 s after the run: `--stats-wait`, 11 s by default. The
    gateways' own background writes during the wait (heartbeats, sweeps) are counted too;
    their idle rate is measured and reported beside the rows."""
    try:
        out = psql(url, "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables")
    except RuntimeError as e:
        raise SystemExit(f"reading write counts from {shown(url)} failed: {e}") from None
    writes = {}
    for line in out.splitlines():
        name, n = line.rsplit("|", 1)
        writes[name] = int(n or 0)
    return writes


def writes_between(before, after):
    tables = sorted(set(before) | set(after))
    return {t: after.get(t, 0) - before.get(t, 0) for t in tables if after.get(t, 0) != before.get(t, 0)}


def replicas(args, work, binary):
    started = Started()
    database = Database(args.database_url)
    try:
        db_url = database.create()
        nomad_port, _ = start_nomad(started, work)
        env = {**args.env, "DATABASE_URL": db_url}
        # A migrates the empty database; B starts on it after.
        a, port_a = start_gateway(
            started, work, binary, nomad_port, {**env, "GATEWAY_AUDIT_SPOOL": f"{work}/spool-a"}, name="gateway-a"
        )
        b, port_b = start_gateway(
            started, work, binary, nomad_port, {**env, "GATEWAY_AUDIT_SPOOL": f"{work}/spool-b"}, name="gateway-b"
        )
        sessions = [mcp_session(port_a) for _ in range(max(args.concurrency))]
        check_get_job(port_a, sessions[0])
        # The warm-up call on B: its first request for each session restores it from the row.
        for session in sessions:
            check_get_job(port_b, session)

        time.sleep(args.stats_wait)
        idle_from, idle_t0 = table_writes(db_url), time.time()
        time.sleep(args.stats_wait)
        idle_to, idle_t1 = table_writes(db_url), time.time()
        idle_rate = sum(writes_between(idle_from, idle_to).values()) / (idle_t1 - idle_t0)

        json_headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": PROTOCOL,
        }
        results = []
        print(REPLICAS_HEADER, flush=True)
        for concurrency in args.concurrency:
            script = wrk_script(
                work,
                f"replicas-{concurrency}",
                json_headers,
                GET_JOB,
                sessions=sessions[:concurrency],
                threads=min(concurrency, 2),
            )
            load = {
                "mcp-creator": lambda d: run_wrk(f"http://127.0.0.1:{port_a}/mcp", concurrency, d, script)[0],
                "mcp-other": lambda d: run_wrk(f"http://127.0.0.1:{port_b}/mcp", concurrency, d, script)[0],
                "sse-holder": lambda d: asyncio.run(sse_load(port_a, concurrency, d)),
                "sse-other": lambda d: asyncio.run(sse_load(port_a, concurrency, d, post_port=port_b)),
            }
            # Warm-ups first (connections on both sides, sessions on B), so that no write
            # of theirs lands in a measured run's count.
            for row in args.rows:
                stats = load[row](2 if row.startswith("mcp") else 1)
                if stats["errors"]:
                    raise SystemExit(
                        f"{row} at concurrency {concurrency}: {stats['errors']} failed calls in the warm-up"
                    )
            time.sleep(args.stats_wait)
            mark = table_writes(db_url)
            runs = {row: [] for row in args.rows}
            # Each repetition measures the rows one after another (creator, other, creator,
            # other), so the machine's drift reaches both sides of a pair alike.
            for _ in range(args.repeat):
                for row in args.rows:
                    cpu0 = cpu_seconds(a.pid) + cpu_seconds(b.pid)
                    stats = load[row](args.duration)
                    cpu1 = cpu_seconds(a.pid) + cpu_seconds(b.pid)
                    time.sleep(args.stats_wait)
                    after = table_writes(db_url)
                    calls = max(stats["requests"], 1)
                    by_table = writes_between(mark, after)
                    mark = after
                    if stats["errors"]:
                        raise SystemExit(f"{row} at concurrency {concurrency}: {stats['errors']} failed calls")
                    stats["cpu_us"] = (cpu1 - cpu0) * 1e6 / calls
                    stats["writes"] = sum(by_table.values())
                    stats["writes_per_call"] = stats["writes"] / calls
                    stats["writes_by_table"] = by_table
                    runs[row].append(stats)
            for row in args.rows:
                numeric = [k for k, v in runs[row][0].items() if isinstance(v, (int, float))]
                cell = {k: statistics.median(r[k] for r in runs[row]) for k in numeric}
                cell.update(row=row, concurrency=concurrency, runs=runs[row])
                results.append(cell)
                print(format_replica_row(cell), flush=True)
        return {
            "stats_wait_s": args.stats_wait,
            "idle_writes_per_s": idle_rate,
            "idle_writes_by_table": writes_between(idle_from, idle_to),
            "rows": results,
            "differences": replica_differences(results),
        }
    finally:
        started.stop_all()
        database.drop()


def replica_differences(results):
    """p50 on the replica that did not open the session minus p50 on the one that did."""
    cells = {(c["row"], c["concurrency"]): c for c in results}
    out = []
    for other, creator in REPLICA_PAIRS:
        for concurrency in sorted({c["concurrency"] for c in results}):
            o, c = cells.get((other, concurrency)), cells.get((creator, concurrency))
            if not (o and c):
                continue
            out.append(
                {
                    "pair": f"{other} vs {creator}",
                    "concurrency": concurrency,
                    "p50_diff_ms": o["p50_ms"] - c["p50_ms"],
                    "p50_ratio": o["p50_ms"] / c["p50_ms"] if c["p50_ms"] else float("nan"),
                    "per_repetition_ms": [
                        ro["p50_ms"] - rc["p50_ms"] for ro, rc in zip(o["runs"], c["runs"])
                    ],
                }
            )
    return out


REPLICAS_HEADER = (
    "| row | conc | calls/s | p50 ms | p90 ms | p99 ms | gateways' CPU µs/call (A+B) | DB writes/call |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def format_replica_row(c):
    return (
        f"| {c['row']} | {c['concurrency']} | {c['rps']:.0f} | {c['p50_ms']:.2f} | {c['p90_ms']:.2f} "
        f"| {c['p99_ms']:.2f} | {c['cpu_us']:.0f} | {c['writes_per_call']:.4f} |"
    )


def print_replica_summary(result):
    print("\n| pair | conc | p50 other − creator ms | ratio | per repetition ms |")
    print("| --- | ---: | ---: | ---: | --- |")
    for d in result["differences"]:
        each = ", ".join(f"{x:+.3f}" for x in d["per_repetition_ms"])
        print(
            f"| {d['pair']} | {d['concurrency']} | {d['p50_diff_ms']:+.3f} | {d['p50_ratio']:.2f}× | {each} |"
        )
    idle = ", ".join(f"{t} {n}" for t, n in result["idle_writes_by_table"].items()) or "none"
    print(
        f"\nidle: {result['idle_writes_per_s']:.2f} DB writes/s from both gateways ({idle}); "
        f"each count read {result['stats_wait_s']:g} s after its run"
    )
    for cell in result["rows"]:
        tables = {}
        for run in cell["runs"]:
            for t, n in run["writes_by_table"].items():
                tables[t] = tables.get(t, 0) + n
        calls = sum(run["requests"] for run in cell["runs"]) or 1
        split = ", ".join(f"{t} {n / calls:.4f}" for t, n in sorted(tables.items())) or "none"
        print(f"writes/call by table, {cell['row']} at {cell['concurrency']}: {split}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--json", help="write the results here as JSON")
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="extra gateway environment"
    )
    sub = parser.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("calls")
    c.add_argument("--rows", nargs="+", default=["nomad", "rest", "mcp", "stateless", "sse"])
    c.add_argument("--concurrency", nargs="+", type=int, default=[1, 16, 64])
    c.add_argument("--repeat", type=int, default=3)
    c.add_argument("--duration", type=int, default=5)
    s = sub.add_parser("sessions")
    s.add_argument("--count", type=int, default=10000)
    r = sub.add_parser("replicas")
    r.add_argument("--rows", nargs="+", choices=REPLICA_ROWS, default=REPLICA_ROWS)
    # Also after the mode, so that `bench/run.sh replicas --json FILE` works.
    r.add_argument("--json", default=argparse.SUPPRESS, help="write the results here as JSON")
    r.add_argument("--concurrency", nargs="+", type=int, default=[1, 16])
    r.add_argument("--repeat", type=int, default=3)
    r.add_argument("--duration", type=int, default=5)
    r.add_argument(
        "--stats-wait",
        type=float,
        default=11.0,
        help="seconds between a run and reading its write count (see table_writes)",
    )
    r.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or DEFAULT_DATABASE_URL,
        help="a Postgres server where a database may be created (BENCH_DATABASE_URL, TEST_DATABASE_URL)",
    )
    args = parser.parse_args()
    for tool in ("nginx", "wrk") + (("psql",) if args.mode == "replicas" else ()):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing; bench/run.sh installs it")
    args.binary = os.path.abspath(args.binary)
    args.env = dict(kv.split("=", 1) for kv in args.env)
    # Many held sessions need many descriptors, here and in the gateway (which inherits it).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    work = tempfile.mkdtemp(prefix="gateway-bench-")
    try:
        if args.mode == "calls":
            print(HEADER, flush=True)
            result = calls(args, work, args.binary)
            print(f"\nidle RSS {result['idle_rss_kib'] / 1024:.1f} MiB, after the runs {result['final_rss_kib'] / 1024:.1f} MiB")
        elif args.mode == "replicas":
            result = replicas(args, work, args.binary)
            print_replica_summary(result)
        else:
            result = sessions(args, work, args.binary)
            print(json.dumps(result, indent=2))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=2)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
