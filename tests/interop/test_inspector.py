"""The MCP Inspector CLI (npm @modelcontextprotocol/inspector, pinned in package.json)
against the gateway over HTTPS with an Authorization header, on both transports: the tool
list, a write and a read whose structuredContent is checked against the tool's
outputSchema, and an error. (The CLI prints no progress notifications, so a write's
progress is checked with the SDK clients only.)"""

import json
import os
import subprocess
from pathlib import Path

import jsonschema

from conftest import ROOT

NODE_PREFIX = Path(os.environ.get("INTEROP_NODE_PREFIX", ROOT / "target" / "interop-node"))
INSPECTOR = NODE_PREFIX / "node_modules" / ".bin" / "mcp-inspector"


# The CLI's exit code for a tool result with isError: true.
TOOL_ERROR = 5


def inspector(gateway, path: str, transport: str, *args: str, exit_code: int = 0) -> dict:
    if not INSPECTOR.exists():
        raise RuntimeError(f"{INSPECTOR} is missing: run tests/interop/run.sh, which installs it")
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(gateway.ca)}
    done = subprocess.run(
        [str(INSPECTOR), "--cli", f"{gateway.url}{path}", "--transport", transport,
         "--header", f"Authorization: {gateway.authorization}", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == exit_code, done.stdout + done.stderr
    return json.loads(done.stdout)


def valid(result: dict, schema: dict) -> dict:
    assert not result.get("isError"), result
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(result["structuredContent"])
    return result["structuredContent"]


def test_inspector_lists_tools_over_streamable_http(gateway):
    listed = inspector(gateway, "/mcp", "http", "--method", "tools/list")
    names = {t["name"] for t in listed["tools"]}
    assert len(names) == 59 and "get_job_logs" in names, names


def test_inspector_calls_a_tool_over_sse(gateway):
    result = inspector(gateway, "/sse", "sse", "--method", "tools/call",
                       "--tool-name", "list_nodes")
    assert not result.get("isError"), result
    assert result["structuredContent"]["total"] == 3, result


def test_inspector_writes_reads_and_fails_on_both_transports(gateway):
    for path, transport in (("/mcp", "http"), ("/sse", "sse")):
        listed = inspector(gateway, path, transport, "--method", "tools/list")
        schemas = {t["name"]: t["outputSchema"] for t in listed["tools"]}
        job = f"inspector-{transport}"
        created = inspector(gateway, path, transport, "--method", "tools/call",
                            "--tool-name", "create_job", "--tool-arg", f"job_id={job}",
                            "image=nginx:1")
        answer = valid(created, schemas["create_job"])
        assert answer["job_id"] == job and answer["operation_id"], answer
        read = inspector(gateway, path, transport, "--method", "tools/call",
                         "--tool-name", "get_job", "--tool-arg", f"job_id={job}")
        assert valid(read, schemas["get_job"])["id"] == job, read
        failed = inspector(gateway, path, transport, "--method", "tools/call",
                           "--tool-name", "get_job", "--tool-arg", "job_id=no-such-job",
                           exit_code=TOOL_ERROR)
        assert failed["isError"] is True, failed
        assert "not found" in failed["content"][0]["text"], failed
