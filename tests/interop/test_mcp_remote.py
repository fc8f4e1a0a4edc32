"""mcp-remote (npm, pinned in package.json), the stdio bridge Claude Desktop uses, against
the gateway over HTTPS with an Authorization header, in its `http-first` and `sse-only`
modes: the official Python SDK speaks stdio to the bridge and runs the same exercise as
over a direct connection (tools, create_job with progress, reads, an error), validating
every structuredContent against its outputSchema."""

import os

import anyio
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from conftest import ROOT
from test_python_sdk import exercise

NODE_PREFIX = os.environ.get("INTEROP_NODE_PREFIX", str(ROOT / "target" / "interop-node"))
BRIDGE = os.path.join(NODE_PREFIX, "node_modules", ".bin", "mcp-remote")


@pytest.mark.parametrize("mode,path", [("http-first", "/mcp"), ("sse-only", "/sse")])
def test_mcp_remote_bridges_both_transports(gateway, tmp_path, mode, path):
    if not os.path.exists(BRIDGE):
        raise RuntimeError(f"{BRIDGE} is missing: run tests/interop/run.sh, which installs it")
    params = StdioServerParameters(
        command=BRIDGE,
        args=[f"{gateway.url}{path}", "--transport", mode,
              "--header", f"Authorization:{gateway.authorization}"],
        env={
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "MCP_REMOTE_CONFIG_DIR": str(tmp_path / "mcp-auth"),
            "NODE_EXTRA_CA_CERTS": str(gateway.ca),
        },
    )

    async def main():
        with open(tmp_path / "mcp-remote.log", "w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write) as session:
                    await exercise(session, f"web-remote-{mode}")

    try:
        anyio.run(main)
    except BaseException:
        print((tmp_path / "mcp-remote.log").read_text())
        raise
