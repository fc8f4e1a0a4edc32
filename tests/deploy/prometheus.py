"""A real Prometheus scrapes a running gateway: MCP tool calls and Nomad calls show up as
series, read back through Prometheus's HTTP API, and every metric the Grafana dashboard
(deploy/grafana/nomad-gateway.json) queries exists in that scrape.

Run by tests/deploy/prometheus.sh, which installs Debian's prometheus and builds the
binaries; usage: prometheus.py ROOT
"""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = sys.argv[1]
BIN = os.path.join(ROOT, "target", "debug")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, seconds=30):
    deadline = time.time() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def post_mcp(base, message, session=None):
    headers = {
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
    }
    if session:
        headers["mcp-session-id"] = session
        headers["mcp-protocol-version"] = "2025-06-18"
    request = urllib.request.Request(
        base + "/mcp", data=json.dumps(message).encode(), headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read().decode()
        session = response.headers.get("mcp-session-id", session)
    for line in body.splitlines():
        if line.startswith("data:") and line[5:].strip():
            return json.loads(line[5:]), session
    return (json.loads(body) if body.strip() else None), session


def query(prometheus, expression):
    url = prometheus + "/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    with urllib.request.urlopen(url, timeout=10) as response:
        answer = json.load(response)
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def main():
    work = tempfile.mkdtemp(prefix="gateway-prometheus-")
    nomad_port, gateway_port, prometheus_port = free_port(), free_port(), free_port()
    processes = []
    try:
        processes.append(
            subprocess.Popen(
                [os.path.join(BIN, "fake-nomad"), "--listen", f"127.0.0.1:{nomad_port}"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        env = {
            "PATH": os.environ.get("PATH", ""),
            "GATEWAY_LISTEN": f"127.0.0.1:{gateway_port}",
            "GATEWAY_AUTH": "off",
            "GATEWAY_LOG_FORMAT": "json",
            "DATABASE_URL": f"sqlite://{work}/gateway.db",
            "NOMAD_ADDR": f"http://127.0.0.1:{nomad_port}",
        }
        gateway_log = open(os.path.join(work, "gateway.log"), "w")
        processes.append(
            subprocess.Popen(
                [os.path.join(BIN, "nomad-gateway"), "serve"],
                env=env,
                cwd=work,
                stdout=gateway_log,
                stderr=subprocess.STDOUT,
            )
        )
        base = f"http://127.0.0.1:{gateway_port}"
        wait_for(base + "/readyz")

        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write(
                "global:\n  scrape_interval: 1s\n"
                "scrape_configs:\n  - job_name: nomad-gateway\n"
                f"    static_configs:\n      - targets: ['127.0.0.1:{gateway_port}']\n"
            )
        processes.append(
            subprocess.Popen(
                [
                    "prometheus",
                    f"--config.file={config}",
                    f"--storage.tsdb.path={work}/tsdb",
                    f"--web.listen-address=127.0.0.1:{prometheus_port}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=open(os.path.join(work, "prometheus.log"), "w"),
            )
        )
        prometheus = f"http://127.0.0.1:{prometheus_port}"
        wait_for(prometheus + "/-/ready", seconds=60)

        # A few tool calls over Streamable HTTP: a write that waits, two reads, a failure.
        answer, session = post_mcp(
            base,
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "prometheus-test", "version": "1"},
                },
            },
        )
        assert session, answer
        post_mcp(base, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
        calls = [
            ("create_job", {"job_id": "web", "image": "nginx:1.27", "count": 2, "wait": 30}),
            ("get_job", {"job_id": "web"}),
            ("list_jobs", {}),
            ("get_job", {"job_id": "nope"}),
        ]
        for n, (tool, arguments) in enumerate(calls, start=2):
            answer, _ = post_mcp(
                base,
                {
                    "jsonrpc": "2.0",
                    "id": n,
                    "method": "tools/call",
                    "params": {"name": tool, "arguments": arguments},
                },
                session,
            )
            assert "result" in answer, answer

        # Read the series back through Prometheus.
        deadline = time.time() + 30
        while True:
            tools = {
                (r["metric"]["tool"], r["metric"]["outcome"]): float(r["value"][1])
                for r in query(prometheus, "sum by (tool, outcome) (gateway_tool_calls_total)")
            }
            nomad = query(prometheus, "sum by (endpoint, status) (gateway_nomad_requests_total)")
            if ("get_job", "error") in tools and nomad:
                break
            assert time.time() < deadline, f"series did not arrive: {tools} {nomad}"
            time.sleep(1)
        assert tools[("create_job", "ok")] == 1, tools
        assert tools[("get_job", "ok")] == 1, tools
        assert tools[("get_job", "error")] == 1, tools
        assert tools[("list_jobs", "ok")] == 1, tools
        endpoints = {r["metric"]["endpoint"] for r in nomad}
        assert "/v1/jobs" in endpoints and "/v1/job/{job_id}" in endpoints, endpoints
        timed = {
            r["metric"]["tool"]: float(r["value"][1])
            for r in query(prometheus, "sum by (tool) (gateway_tool_call_duration_seconds_count)")
        }
        assert timed.get("create_job") == 1 and timed.get("get_job") == 2, timed
        slowest = query(
            prometheus, "max(histogram_quantile(1, gateway_tool_call_duration_seconds_bucket))"
        )
        assert slowest and float(slowest[0]["value"][1]) > 0, slowest

        # Every metric the dashboard queries is in the scrape.
        with urllib.request.urlopen(prometheus + "/api/v1/label/__name__/values") as response:
            scraped = set(json.load(response)["data"])
        with open(os.path.join(ROOT, "deploy", "grafana", "nomad-gateway.json")) as f:
            dashboard = json.load(f)
        expressions = [
            target["expr"]
            for panel in dashboard["panels"]
            for target in panel.get("targets", [])
            if "expr" in target
        ]
        wanted = set()
        for expression in expressions:
            wanted.update(re.findall(r"\b((?:gateway|http)_[a-z_]+)\b", expression))
        missing = sorted(name for name in wanted if name not in scraped)
        assert not missing, f"the dashboard queries metrics the gateway does not export: {missing}"
        print(
            f"prometheus: {len(tools)} tool series, {len(endpoints)} Nomad endpoints scraped; "
            f"all {len(wanted)} dashboard metrics exist"
        )
    except Exception:
        for name in ("gateway.log", "prometheus.log"):
            path = os.path.join(work, name)
            if os.path.exists(path):
                print(f"--- {name}", file=sys.stderr)
                print(open(path).read()[-4000:], file=sys.stderr)
        raise
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


main()
