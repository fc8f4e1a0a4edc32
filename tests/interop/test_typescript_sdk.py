"""The official MCP TypeScript SDK (npm @modelcontextprotocol/sdk, pinned in package.json)
against the gateway over HTTPS with an Authorization header, on both transports, driven by
tests/interop/ts_client.mjs: the SDK validates each structuredContent against the tool's
outputSchema itself."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT

NODE_PREFIX = Path(os.environ.get("INTEROP_NODE_PREFIX", ROOT / "target" / "interop-node"))
SCRIPT = ROOT / "tests" / "interop" / "ts_client.mjs"


def run_client(gateway, path: str, mode: str, job_id: str) -> dict:
    sdk = NODE_PREFIX / "node_modules" / "@modelcontextprotocol" / "sdk"
    if not sdk.exists():
        raise RuntimeError(f"{sdk} is missing: run tests/interop/run.sh, which installs it")
    env = {
        **os.environ,
        "NODE_EXTRA_CA_CERTS": str(gateway.ca),
        "NODE_PATH": str(NODE_PREFIX / "node_modules"),
    }
    # ESM resolves packages from the script's directory up, not NODE_PATH: run a copy
    # inside the prefix.
    script = NODE_PREFIX / "ts_client.mjs"
    script.write_text(SCRIPT.read_text())
    done = subprocess.run(
        ["node", str(script), f"{gateway.url}{path}", gateway.authorization, mode, job_id],
        env=env, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("path,mode", [("/mcp", "http"), ("/sse", "sse")])
def test_typescript_sdk_lists_reads_writes_and_fails(gateway, path, mode):
    job_id = f"ts-{mode}"
    out = run_client(gateway, path, mode, job_id)
    assert out["server"] == "nomad-gateway", out
    assert out["tools"] == 59 and out["withOutputSchema"] == 59, out
    assert out["nodes"] == 3, out
    assert out["created"]["job_id"] == job_id, out
    assert out["created"]["operation"]["state"] == "succeeded", out
    assert out["progress"], "progress notifications arrive while the rollout advances"
    assert out["missing"]["isError"] is True, out
    assert "job 'no-such-job' not found" in out["missing"]["text"], out
