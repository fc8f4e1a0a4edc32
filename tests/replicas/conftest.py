"""Fixtures for the replica tests: one fake Nomad, three gateway replicas sharing one
Postgres database (REPLICAS_DATABASE_URL, a fresh database that tests/replicas/run.sh creates
and drops), and a real HAProxy in front of them that balances every request round-robin
with no stickiness. Binaries come from target/debug (run.sh builds them).

Every request a test sends through HAProxy carries an X-Request-Id of its own
([`Recorder`]); HAProxy logs it with the server that answered, so a test knows which
replica served which request ([`Cluster.served_by`]).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import httpx2
import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
GATEWAY = TARGET / "debug" / "nomad-gateway"
FAKE_NOMAD = TARGET / "debug" / "fake-nomad"
NODE_PREFIX = Path(os.environ.get("INTEROP_NODE_PREFIX", TARGET / "interop-node"))
HAPROXY_TEMPLATE = Path(__file__).with_name("haproxy.cfg.tmpl")

# Writes per minute and caller, on every replica (the budget is meant to be shared).
WRITES_PER_MINUTE = 6
# GATEWAY_SHUTDOWN_DELAY of every replica, above what HAProxy's checks need to see a failing
# /readyz (fall 2 x inter 300 ms, plus a check in flight).
DRAIN_DELAY_S = 1.5
# The job every test reads and evaluates; created once when the cluster starts.
JOB = "web"
# The callers; each test uses its own where budgets or sessions could interfere.
CALLERS = ("alice", "mallory", "writer", "setup", "roll-http", "roll-sse")

MCP_HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2025-06-18",
}

LOG_LINE = re.compile(
    r"rid=(?P<rid>\S*) srv=(?P<srv>\S+) st=(?P<status>-?\d+) (?P<method>\S+) (?P<uri>\S+)"
    r" sid=(?P<sid>\S*) rsid=(?P<rsid>\S*)(?: ts=(?P<ts>\S+))?"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_text(path: Path, text: str, offset: int, process, timeout: float = 30.0) -> None:
    """Waits until `text` appears in the file after `offset`; fails when the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path, errors="replace") as f:
            f.seek(offset)
            if text in f.read():
                return
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited ({process.returncode}) before '{text}'; "
                               f"see {path}")
        time.sleep(0.05)
    raise RuntimeError(f"no '{text}' in {path} within {timeout}s")


@dataclass
class Replica:
    """One gateway process on a fixed port; it can be killed and started again on it."""

    name: str
    port: int
    env: dict = field(repr=False)
    log: Path = field(repr=False)
    process: subprocess.Popen | None = field(default=None, repr=False)
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "a") as out:
            out.write(f"---- start {self.starts + 1} of {self.name} ----\n")
            out.flush()
            self.process = subprocess.Popen([str(GATEWAY), "serve"], env=self.env, stdout=out,
                                            stderr=subprocess.STDOUT)
        self.starts += 1
        wait_for_text(self.log, "serving HTTP", offset, self.process)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no drain, no goodbye."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout: float = 30.0) -> float:
        """SIGTERM and wait for the drain to finish; returns how long it took."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=timeout)
        return time.monotonic() - started

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Served:
    """One request as HAProxy logged it."""

    rid: str
    server: str
    status: int
    method: str
    uri: str
    session_id: str
    response_session_id: str
    termination: str


@dataclass
class Cluster:
    url: str
    replicas: list[Replica]
    authorization: dict[str, str] = field(repr=False)
    database_url: str = field(repr=False)
    haproxy_log: Path = field(repr=False)
    stats_socket: Path = field(repr=False)
    tmp: Path = field(repr=False)

    def replica(self, name: str) -> Replica:
        return next(r for r in self.replicas if r.name == name)

    # -- HAProxy ---------------------------------------------------------------------------

    def haproxy_command(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(str(self.stats_socket))
            s.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def server_status(self) -> dict[str, str]:
        """Each server's state as HAProxy's health checks see it: UP, DOWN, ..."""
        lines = self.haproxy_command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        status = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == "replicas" and row.get("svname") not in ("FRONTEND", "BACKEND"):
                status[row["svname"]] = row["status"]
        return status

    def wait_status(self, name: str, wanted: str, timeout: float = 10.0) -> float:
        """Waits until HAProxy reports `name` in state `wanted` (UP or DOWN); returns the wait."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            state = self.server_status().get(name, "")
            if state.split()[0:1] == [wanted]:
                return time.monotonic() - started
            time.sleep(0.05)
        raise AssertionError(f"HAProxy did not see {name} {wanted} within {timeout}s "
                             f"(states: {self.server_status()})")

    def ensure_all_up(self) -> None:
        """Restarts any replica a test left stopped and waits until HAProxy routes to all."""
        for replica in self.replicas:
            if not replica.running():
                replica.start()
        for replica in self.replicas:
            self.wait_status(replica.name, "UP")

    def served(self) -> list[Served]:
        lines = self.haproxy_log.read_text(errors="replace").splitlines()
        return [Served(m["rid"], m["srv"], int(m["status"]), m["method"], m["uri"], m["sid"],
                       m["rsid"], m["ts"] or "")
                for m in map(LOG_LINE.search, lines) if m]

    def served_by(self, rids, timeout: float = 5.0) -> dict[str, Served]:
        """The HAProxy log entries of these request ids (waits for the log to catch up)."""
        wanted = set(rids)
        deadline = time.monotonic() + timeout
        while True:
            found = {s.rid: s for s in self.served() if s.rid in wanted}
            if len(found) == len(wanted) or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    # -- the database ----------------------------------------------------------------------

    def sql(self, query: str) -> list[list[str]]:
        out = subprocess.run(["psql", self.database_url, "-v", "ON_ERROR_STOP=1", "-AtF", "\t",
                              "-c", query], check=True, capture_output=True, text=True).stdout
        return [line.split("\t") for line in out.splitlines() if line]


class Recorder:
    """httpx2 event hooks that give every request an X-Request-Id of its own (`tag-N`) and
    remember each request: method, path, JSON-RPC method, session header, status."""

    def __init__(self, tag: str):
        self.tag = tag
        self.requests: list[dict] = []

    async def _on_request(self, request: httpx2.Request) -> None:
        rid = f"{self.tag}-{len(self.requests) + 1}"
        request.headers["x-request-id"] = rid
        rpc = None
        try:
            body = json.loads(request.content or b"null")
            rpc = body.get("method") if isinstance(body, dict) else None
        except (ValueError, httpx2.RequestNotRead):
            pass
        query = request.url.query
        self.requests.append({
            "rid": rid,
            "method": request.method,
            "path": request.url.path,
            "query": query.decode() if isinstance(query, bytes) else str(query),
            "rpc": rpc,
            "session_id": request.headers.get("mcp-session-id"),
            "status": None,
        })

    async def _on_response(self, response: httpx2.Response) -> None:
        rid = response.request.headers.get("x-request-id")
        for record in reversed(self.requests):
            if record["rid"] == rid:
                record["status"] = response.status_code
                record["session_id_answer"] = response.headers.get("mcp-session-id")
                break

    def hooks(self) -> dict:
        return {"request": [self._on_request], "response": [self._on_response]}

    def rids(self, **match) -> list[str]:
        return [r["rid"] for r in self.requests
                if all(r.get(k) == v for k, v in match.items())]


def mint(env: dict, subject: str) -> str:
    out = subprocess.run([str(GATEWAY), "token", "mint", "--sub", subject, "--scope", "nomad:read",
                          "--scope", "nomad:write", "--ttl", "1h"], env=env, check=True,
                         capture_output=True, text=True).stdout
    return f"Bearer {out.strip().splitlines()[-1]}"


def start_haproxy(tmp: Path, port: int, replicas: list[Replica]):
    servers = "\n".join(f"    server {r.name} 127.0.0.1:{r.port}" for r in replicas)
    stats_socket = tmp / "haproxy.sock"
    config = tmp / "haproxy.cfg"
    config.write_text(Template(HAPROXY_TEMPLATE.read_text()).substitute(
        port=port, servers=servers, stats_socket=stats_socket))
    log = tmp / "haproxy.log"
    out = open(log, "w")
    process = subprocess.Popen(["haproxy", "-f", str(config), "-db"], stdout=out,
                               stderr=subprocess.STDOUT)
    out.close()
    deadline = time.monotonic() + 10
    while not stats_socket.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"haproxy did not start: {log.read_text()}")
        time.sleep(0.05)
    return process, log, stats_socket


def stop(process, timeout: float = 30.0) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def cluster():
    database_url = os.environ.get("REPLICAS_DATABASE_URL")
    if not database_url:
        raise RuntimeError("REPLICAS_DATABASE_URL is not set: run tests/replicas/run.sh, "
                           "which creates a fresh Postgres database for the run")
    for binary in (GATEWAY, FAKE_NOMAD):
        if not binary.exists():
            raise RuntimeError(f"{binary} is missing: run tests/replicas/run.sh, which builds it")
    keep = os.environ.get("REPLICAS_KEEP_LOGS")
    tmp = Path(tempfile.mkdtemp(prefix="replicas-"))
    processes = []
    replicas: list[Replica] = []
    try:
        fake = subprocess.Popen([str(FAKE_NOMAD), "--listen", "127.0.0.1:0"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        processes.append(fake)
        nomad = fake.stdout.readline().split()[-1]
        # Read the rest, or the fake blocks on a full pipe.
        threading.Thread(target=lambda: fake.stdout.read(), daemon=True).start()
        proxy_port = free_port()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "DATABASE_URL": database_url,
            "GATEWAY_JWT_SECRET": os.urandom(32).hex(),
            "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{proxy_port}/",
            "GATEWAY_LOG_FORMAT": "text",
            "RUST_LOG": "info",
            "GATEWAY_RATE_LIMIT_WRITES": str(WRITES_PER_MINUTE),
            "GATEWAY_SHUTDOWN_DELAY": f"{int(DRAIN_DELAY_S * 1000)}ms",
            "NOMAD_ADDR": f"http://{nomad}",
        }
        for n in (1, 2, 3):
            port = free_port()
            replica_env = {**env, "GATEWAY_LISTEN": f"127.0.0.1:{port}",
                           "GATEWAY_AUDIT_SPOOL": str(tmp / f"spool-r{n}")}
            replicas.append(Replica(f"r{n}", port, replica_env, tmp / f"r{n}.log"))
        # The first one migrates the empty database; the others start together after it.
        replicas[0].start()
        for replica in replicas[1:]:
            replica.start()

        haproxy, haproxy_log, stats_socket = start_haproxy(tmp, proxy_port, replicas)
        processes.append(haproxy)
        authorization = {caller: mint(env, caller) for caller in CALLERS}
        cluster = Cluster(url=f"http://127.0.0.1:{proxy_port}", replicas=replicas,
                          authorization=authorization, database_url=database_url,
                          haproxy_log=haproxy_log, stats_socket=stats_socket, tmp=tmp)
        cluster.ensure_all_up()

        created = httpx2.post(f"{cluster.url}/api/v1/jobs",
                              headers={"Authorization": authorization["setup"]},
                              json={"job_id": JOB, "image": "nginx:1.27", "count": 1}, timeout=30)
        assert created.status_code in (200, 201), created.text
        yield cluster
    finally:
        for replica in replicas:
            stop(replica.process)
        for process in reversed(processes):
            stop(process, timeout=10)
        if keep:
            print(f"\nreplica and HAProxy logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def pytest_runtest_makereport(item, call):
    """On a failure, the tail of each replica's log and of HAProxy's, to see what happened."""
    if call.when != "call" or call.excinfo is None:
        return
    cluster = item.funcargs.get("cluster")
    if cluster is None:
        return
    for path in [r.log for r in cluster.replicas] + [cluster.haproxy_log]:
        try:
            tail = path.read_text(errors="replace").splitlines()[-10:]
        except OSError:
            continue
        item.add_report_section("call", path.name, "\n".join(tail))
