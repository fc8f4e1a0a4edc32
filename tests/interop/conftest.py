"""Fixtures for the interop tests: a test CA and server certificate made with openssl, the
fake Nomad, and the gateway serving HTTPS with authentication on (HS256 tokens minted by
the gateway's own CLI). Binaries come from target/debug (tests/interop/run.sh builds them).
"""

import json
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug"
GATEWAY = TARGET / "nomad-gateway"
FAKE_NOMAD = TARGET / "fake-nomad"


def run(*args, cwd=None, env=None):
    return subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True, text=True)


def make_pki(directory: Path) -> dict:
    """A CA and a leaf for 127.0.0.1/localhost signed by it (webpki refuses a self-signed
    leaf)."""
    ca_key, ca_cert = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    ext = directory / "leaf.ext"
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "2", "-subj", "/CN=interop test CA", "-keyout", str(ca_key),
        "-out", str(ca_cert), "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(csr))
    ext.write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
    )
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert))
    return {"ca": ca_cert, "cert": cert, "key": key}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_line(process, prefix: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                raise RuntimeError(f"process exited ({process.returncode}) before '{prefix}'")
            continue
        if prefix in line:
            return line
    raise RuntimeError(f"no '{prefix}' within {timeout}s")


def drain(process, keep: int = 2000) -> deque:
    """Reads the rest of a process's output in the background, keeping the last `keep`
    lines. A pipe nobody reads fills up (64 KiB on Linux), and then the process blocks on
    its next log line: a gateway frozen mid-request."""
    lines = deque(maxlen=keep)

    def read():
        for line in process.stdout:
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


@dataclass
class Gateway:
    url: str
    ca: Path
    authorization: str

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))


@pytest.fixture(scope="session")
def gateway():
    for binary in (GATEWAY, FAKE_NOMAD):
        if not binary.exists():
            raise RuntimeError(f"{binary} is missing: run tests/interop/run.sh, which builds it")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pki = make_pki(tmp)
        fake = subprocess.Popen([str(FAKE_NOMAD), "--listen", "127.0.0.1:0"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            nomad = wait_for_line(fake, "listening on").split()[-1]
            drain(fake)
            port = free_port()
            secret = os.urandom(32).hex()
            env = {
                "PATH": os.environ.get("PATH", ""),
                "GATEWAY_LISTEN": f"127.0.0.1:{port}",
                "GATEWAY_PUBLIC_URL": f"https://127.0.0.1:{port}/",
                "GATEWAY_TLS_CERT": str(pki["cert"]),
                "GATEWAY_TLS_KEY": str(pki["key"]),
                "GATEWAY_JWT_SECRET": secret,
                "GATEWAY_LOG_FORMAT": "text",
                "RUST_LOG": "info",
                "NOMAD_ADDR": f"http://{nomad}",
                "DATABASE_URL": f"sqlite://{tmp / 'gateway.db'}",
            }
            # The Authorization header: a token minted for the test unless one is given.
            authorization = os.environ.get("INTEROP_AUTHORIZATION")
            if not authorization:
                token = run(str(GATEWAY), "token", "mint", "--sub", "interop",
                            "--scope", "nomad:read", "--scope", "nomad:write",
                            "--scope", "nodes:write", "--scope", "variables:read",
                            "--scope", "variables:write", "--ttl", "1h",
                            env=env).stdout.strip()
                authorization = f"Bearer {token.splitlines()[-1]}"
            server = subprocess.Popen([str(GATEWAY), "serve"], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
            try:
                wait_for_line(server, "serving HTTPS")
                logged = drain(server)
                yield Gateway(url=f"https://127.0.0.1:{port}", ca=pki["ca"],
                              authorization=authorization)
            finally:
                # The gateway's last lines, for a failure's post-mortem.
                if "logged" in locals():
                    (TARGET.parent / "interop-gateway.log").write_text("".join(logged))
                server.terminate()
                server.wait(timeout=20)
        finally:
            fake.terminate()
            fake.wait(timeout=10)


def dump(value) -> str:
    return json.dumps(value, indent=2, default=str)
