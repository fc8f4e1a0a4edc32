"""The MCP Inspector CLI (npm @modelcontextprotocol/inspector, pinned in package.json)
against the gateway over HTTPS with an Authorization header, on both transports."""

import json
import os
import subprocess
from pathlib import Path

from conftest import ROOT

NODE_PREFIX = Path(os.environ.get("INTEROP_NODE_PREFIX", ROOT / "target" / "interop-node"))
INSPECTOR = NODE_PREFIX / "node_modules" / ".bin" / "mcp-inspector"


def inspector(gateway, path: str, transport: str, *args: str) -> dict:
    if not INSPECTOR.exists():
        raise RuntimeError(f"{INSPECTOR} is missing: run tests/interop/run.sh, which installs it")
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(gateway.ca)}
    done = subprocess.run(
        [str(INSPECTOR), "--cli", f"{gateway.url}{path}", "--transport", transport,
         "--header", f"Authorization: {gateway.authorization}", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_inspector_lists_tools_over_streamable_http(gateway):
    listed = inspector(gateway, "/mcp", "http", "--method", "tools/list")
    names = {t["name"] for t in listed["tools"]}
    assert len(names) == 59 and "get_job_logs" in names, names


def test_inspector_calls_a_tool_over_sse(gateway):
    result = inspector(gateway, "/sse", "sse", "--method", "tools/call",
                       "--tool-name", "list_nodes")
    assert not result.get("isError"), result
    assert result["structuredContent"]["total"] == 3, result
