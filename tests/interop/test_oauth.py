"""The built-in authorization server (GATEWAY_OAUTH=builtin) with the official MCP
TypeScript SDK's OAuth client, and with mcp-remote's own OAuth flow, and a real headless
Chromium (Debian's `chromium`, driven by puppeteer-core from npm) for the sign-in page, over
HTTPS: discovery from a 401, registration (RFC 7591, or a client ID metadata document the
test serves), PKCE, the resource parameter, the consent page
narrowed by the person, tool calls with the token, a refresh, a reuse of the spent refresh
token (its grant revoked), a revocation, and the person's name in the audit log. The browser's screenshots of the sign-in page and of a refused request are
kept under target/ (docs/ holds copies)."""

import base64
import hashlib
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import anyio
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

import oidc_provider
from conftest import (FAKE_NOMAD, GATEWAY, ROOT, TARGET, drain, free_port, make_pki, run,
                      wait_for_line)

NODE_PREFIX = Path(os.environ.get("INTEROP_NODE_PREFIX", ROOT / "target" / "interop-node"))
SCRIPT = ROOT / "tests" / "interop" / "ts_oauth.mjs"
SHOTS = TARGET.parent / "oauth-screenshots"


def chromium() -> str:
    found = shutil.which("chromium")
    if not found:
        raise RuntimeError("chromium is missing: run tests/interop/run.sh, which installs it")
    return found


def spki_sha256(cert: Path) -> str:
    """What Chromium's --ignore-certificate-errors-spki-list takes: base64 of the SHA-256
    of the certificate's public key, so the browser trusts this one test certificate."""
    der = subprocess.run(
        ["sh", "-c", f"openssl x509 -in '{cert}' -pubkey -noout | openssl pkey -pubin -outform der"],
        check=True, capture_output=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@pytest.fixture(scope="module")
def identity_provider():
    provider = oidc_provider.Provider({"email": "carol@example.com", "groups": ["ops"]})
    yield provider
    provider.close()


class DocumentSite:
    """A client ID metadata document served over HTTPS (the test PKI's certificate for
    127.0.0.1), listing a loopback callback (any port matches, RFC 8252 §7.3); it records
    each fetch."""

    PATH = "/connectors/interop/client-metadata.json"

    def __init__(self, pki: dict):
        import http.server

        site = self
        self.fetches = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                site.fetches.append(self.path)
                if self.path != DocumentSite.PATH:
                    self.send_error(404)
                    return
                body = json.dumps({
                    "client_id": site.url,
                    "client_name": "Interop document connector",
                    "client_uri": "https://example.com/",
                    "redirect_uris": ["http://127.0.0.1/callback"],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "none",
                }).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("cache-control", "max-age=300")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(pki["cert"]), str(pki["key"]))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}{DocumentSite.PATH}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def oauth_gateway(identity_provider):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pki = make_pki(tmp)
        site = DocumentSite(pki)
        fake = subprocess.Popen([str(FAKE_NOMAD), "--listen", "127.0.0.1:0"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            nomad = wait_for_line(fake, "listening on").split()[-1]
            drain(fake)
            port = free_port()
            env = {
                "PATH": os.environ.get("PATH", ""),
                "GATEWAY_LISTEN": f"127.0.0.1:{port}",
                "GATEWAY_PUBLIC_URL": f"https://127.0.0.1:{port}/",
                "GATEWAY_TLS_CERT": str(pki["cert"]),
                "GATEWAY_TLS_KEY": str(pki["key"]),
                "GATEWAY_OAUTH": "builtin",
                "GATEWAY_OIDC_ISSUER": identity_provider.issuer,
                "GATEWAY_OIDC_CLIENT_ID": oidc_provider.CLIENT_ID,
                "GATEWAY_OIDC_CLIENT_SECRET": oidc_provider.CLIENT_SECRET,
                # The document site is on loopback, signed by the test CA.
                "GATEWAY_OAUTH_CLIENT_DOCUMENTS_PRIVATE": "allow",
                "GATEWAY_OAUTH_CLIENT_DOCUMENTS_CA": str(pki["ca"]),
                "GATEWAY_JWT_GROUP_SCOPES": "ops=nomad:read,nomad:write",
                "GATEWAY_LOG_FORMAT": "text",
                "RUST_LOG": "info",
                "NOMAD_ADDR": f"http://{nomad}",
                "DATABASE_URL": f"sqlite://{tmp / 'gateway.db'}",
            }
            key = run(str(GATEWAY), "api-key", "create", "--name", "alice", "--scope", "nomad:read",
                      "--scope", "nomad:write", "--scope", "admin", env=env).stdout.strip()
            server = subprocess.Popen([str(GATEWAY), "serve"], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
            try:
                wait_for_line(server, "serving HTTPS")
                logged = drain(server)
                yield {"url": f"https://127.0.0.1:{port}", "ca": pki["ca"], "cert": pki["cert"],
                       "key": key.splitlines()[-1], "documents": site}
            finally:
                if "logged" in locals():
                    (TARGET.parent / "interop-oauth-gateway.log").write_text("".join(logged))
                server.terminate()
                server.wait(timeout=20)
        finally:
            fake.terminate()
            fake.wait(timeout=10)
            site.close()


def audit_events(oauth_gateway, operation: str, limit: int) -> list:
    """The gateway's audit events of one operation, read with the admin key."""
    request = urllib.request.Request(
        f"{oauth_gateway['url']}/api/v1/audit?operation={operation}&limit={limit}",
        headers={"Authorization": f"Bearer {oauth_gateway['key']}"})
    context = ssl.create_default_context(cafile=str(oauth_gateway["ca"]))
    with urllib.request.urlopen(request, context=context, timeout=10) as answer:
        return json.load(answer)["items"]


def run_ts_client(oauth_gateway, via: str = "key") -> dict:
    """Runs ts_oauth.mjs (a copy inside the node prefix, where ESM finds the packages) and
    answers its JSON line."""
    sdk = NODE_PREFIX / "node_modules" / "@modelcontextprotocol" / "sdk"
    if not (NODE_PREFIX / "node_modules" / "puppeteer-core").exists() or not sdk.exists():
        raise RuntimeError(f"{NODE_PREFIX} lacks the SDK or puppeteer-core: run tests/interop/run.sh")
    SHOTS.mkdir(parents=True, exist_ok=True)
    script = NODE_PREFIX / "ts_oauth.mjs"
    script.write_text(SCRIPT.read_text())
    (NODE_PREFIX / "sign_in.mjs").write_text((SCRIPT.parent / "sign_in.mjs").read_text())
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(oauth_gateway["ca"])}
    try:
        done = subprocess.run(
            ["node", str(script), oauth_gateway["url"], oauth_gateway["key"], str(SHOTS),
             chromium(), spki_sha256(oauth_gateway["cert"]), via]
            + ([oauth_gateway["documents"].url] if via == "document" else []),
            env=env, capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired as stuck:
        pytest.fail(f"the client did not finish within 180 s; its steps so far:\n{stuck.stderr}")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_typescript_sdk_signs_in_through_the_browser_and_keeps_its_tokens_honest(oauth_gateway):
    out = run_ts_client(oauth_gateway)
    base = oauth_gateway["url"]

    # The SDK found the gateway as its own authorization server and asked as the spec says.
    assert out["client_id"].startswith("ngwc_"), out
    assert out["authorize"]["code_challenge_method"] == "S256" and out["authorize"]["has_challenge"]
    assert out["authorize"]["resource"] == f"{base}/mcp", out
    # The page: the client's name, every scope asked for offered and ticked.
    assert out["page"]["title"] == "Sign in · nomad-gateway", out
    assert "Interop connector asks to use the Nomad gateway" in out["page"]["text"], out
    offered = {box["scope"]: box["checked"] for box in out["page"]["offered"]}
    assert offered.get("nomad:read") and offered.get("nomad:write"), out
    # Back on the loopback callback with the state and the issuer (RFC 9207).
    assert out["callback"] == {"state": "interop-state", "iss": base,
                               "landed": out["callback"]["landed"]}, out
    assert out["callback"]["landed"].startswith("http://127.0.0.1:"), out
    # The person unticked all but two scopes: that is what the token carries.
    assert out["granted"] == "nomad:read nomad:write", out
    assert "list_jobs" in out["tools"] and "create_job" in out["tools"], out
    assert not any(t.startswith("create_api_key") for t in out["tools"]), out
    assert out["list_jobs"]["isError"] is False, out
    assert out["refreshed"] is True and out["after_refresh"]["isError"] is False, out
    assert "used already" in out["reuse"], out
    assert 0 <= out["reuse_revoked_after_ms"] < 6000, out
    assert out["revocation"]["before"] == 200 and out["revocation"]["status"] == 200, out
    assert 0 <= out["revocation"]["refused_after_ms"] < 6000, out
    assert out["refused_page"]["status"] == 400, out
    assert "is not one registered for Interop connector" in out["refused_page"]["text"], out
    for name in ("oauth-sign-in.png", "oauth-refused.png"):
        assert (SHOTS / name).stat().st_size > 10_000, name


def test_mcp_remote_signs_in_through_the_browser_and_acts_as_the_person(oauth_gateway, tmp_path):
    """mcp-remote (the bridge Claude Desktop uses) with no header at all: it finds the
    gateway's authorization server from the 401, registers, prints the authorization URL and
    waits on its loopback callback; the headless browser signs in there (the key's owner,
    alice, ticking nomad:read and nomad:write). The Python SDK then speaks stdio to the
    bridge: tools, a write with progress, a read. The write's audit event names alice."""
    bridge = NODE_PREFIX / "node_modules" / ".bin" / "mcp-remote"
    if not bridge.exists():
        raise RuntimeError(f"{bridge} is missing: run tests/interop/run.sh, which installs it")
    for script in ("sign_in.mjs", "browser_sign_in.mjs"):
        (NODE_PREFIX / script).write_text((SCRIPT.parent / script).read_text())
    log = tmp_path / "mcp-remote.log"
    log.write_text("")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "MCP_REMOTE_CONFIG_DIR": str(tmp_path / "mcp-auth"),
        "NODE_EXTRA_CA_CERTS": str(oauth_gateway["ca"]),
    }
    params = StdioServerParameters(
        command=str(bridge),
        args=[f"{oauth_gateway['url']}/mcp", str(free_port()), "--transport", "http-first"],
        env=env,
    )
    signed: dict = {}

    def browser():
        """Waits for the URL mcp-remote prints, then signs in there."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = re.search(r"Please authorize this client by visiting:\s*(\S+)", log.read_text())
            if found:
                done = subprocess.run(
                    ["node", str(NODE_PREFIX / "browser_sign_in.mjs"), found.group(1),
                     oauth_gateway["key"], chromium(), spki_sha256(oauth_gateway["cert"]),
                     "nomad:read", "nomad:write"],
                    env={**os.environ, "NODE_EXTRA_CA_CERTS": str(oauth_gateway["ca"])},
                    capture_output=True, text=True, timeout=90)
                signed["exit"] = done.returncode
                signed["out"] = done.stdout + done.stderr
                if done.returncode == 0:
                    signed.update(json.loads(done.stdout.strip().splitlines()[-1]))
                return
            time.sleep(0.2)
        signed["out"] = "mcp-remote printed no authorization URL within 60 s"

    watcher = threading.Thread(target=browser, daemon=True)
    watcher.start()
    job_id = "web-remote-oauth"
    outcome: dict = {}

    async def main():
        with open(log, "w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write) as session:
                    with anyio.fail_after(120):
                        init = await session.initialize()
                    outcome["server"] = init.server_info.name
                    tools = {t.name for t in (await session.list_tools()).tools}
                    outcome["tools"] = tools
                    progress = []

                    async def on_progress(value, total, message):
                        progress.append(message)

                    created = await session.call_tool(
                        "create_job", {"job_id": job_id, "image": "nginx:1.27", "count": 1,
                                       "wait": 60}, progress_callback=on_progress)
                    outcome["created"] = created.structured_content
                    outcome["progress"] = progress
                    jobs = await session.call_tool("list_jobs", {})
                    outcome["jobs"] = [j["id"] for j in jobs.structured_content["items"]]

    try:
        anyio.run(main)
    except BaseException:
        print(log.read_text())
        print(signed.get("out", "the browser never ran"))
        raise
    watcher.join(timeout=5)
    assert signed.get("exit") == 0, signed.get("out")
    assert signed["landed"].startswith("http://localhost:"), signed
    assert "asks to use the Nomad gateway" in signed["text"], signed
    assert outcome["server"] == "nomad-gateway", outcome
    assert {"create_job", "list_jobs"} <= outcome["tools"], outcome
    assert "drain_node" not in outcome["tools"], "nodes:write was not granted"
    assert outcome["created"]["operation"]["state"] == "succeeded", outcome
    assert outcome["progress"], outcome
    assert job_id in outcome["jobs"], outcome

    # The person's own identity is in the audit log, through the connector's token.
    events = audit_events(oauth_gateway, "create_job", 20)
    mine = [e for e in events if e.get("job_id") == job_id]
    assert mine and all(e["caller"] == "alice" for e in mine), events


def test_typescript_sdk_signs_in_through_the_team_identity_provider(oauth_gateway):
    """The same connector, the person choosing "Sign in with" on the page: the browser goes
    to the test OpenID Connect provider and back through the gateway's callback to the
    client's; the person's groups (ops: nomad:read and nomad:write) decide the scopes."""
    out = run_ts_client(oauth_gateway, via="provider")
    assert "Sign in with 127.0.0.1" in out["page"]["text"], out
    assert out["callback"]["state"] == "interop-state", out
    assert out["callback"]["landed"].startswith("http://127.0.0.1:"), out
    assert out["granted"] == "nomad:read nomad:write", out
    assert out["list_jobs"]["isError"] is False, out
    events = audit_events(oauth_gateway, "oauth_authorize", 50)
    assert any(e["caller"] == "carol@example.com" and e["outcome"] == "ok" for e in events), events


def test_typescript_sdk_names_itself_by_a_client_metadata_document(oauth_gateway):
    """The connector does not register: the gateway's metadata says it reads client ID
    metadata documents, so the SDK sends its document's URL as client_id; the gateway
    fetches it (once: max-age=300), shows its name and its publisher on the page, and the
    sign-in, the tool calls and a refresh work as for a registered client."""
    site = oauth_gateway["documents"]
    out = run_ts_client(oauth_gateway, via="document")
    assert out["client_id"] == site.url, out
    assert out["documents_supported"] is True, out
    assert "Interop document connector asks to use the Nomad gateway" in out["page"]["text"], out
    assert "Its description is published by 127.0.0.1." in out["page"]["text"], out
    assert out["callback"]["state"] == "interop-state", out
    assert out["granted"] == "nomad:read nomad:write", out
    assert out["list_jobs"]["isError"] is False, out
    assert out["refreshed"] is True and out["after_refresh"]["isError"] is False, out
    assert site.fetches == [DocumentSite.PATH], site.fetches
    assert (SHOTS / "oauth-sign-in-document.png").stat().st_size > 10_000
    events = audit_events(oauth_gateway, "oauth_authorize", 50)
    assert any(e["arguments"].get("client_id") == site.url and e["outcome"] == "ok"
               for e in events), events
