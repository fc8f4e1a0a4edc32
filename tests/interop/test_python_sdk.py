"""The official MCP Python SDK against the gateway over HTTPS (a CA made in the test), with
an Authorization header, on both transports: list the tools, call list_jobs, create_job,
get_job and get_job_logs, and validate every structuredContent against the tool's
outputSchema with jsonschema."""

import anyio
import httpx2
import jsonschema
import pytest
from mcp.client.session import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

TOOLS = 59


def check_structured(tools: dict, name: str, result) -> dict:
    assert not result.is_error, f"{name}: {result.content}"
    assert result.structured_content is not None, f"{name} returns structuredContent"
    schema = tools[name].output_schema
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(result.structured_content)
    assert result.content and result.content[0].text, f"{name} has a text summary"
    return result.structured_content


async def exercise(session: ClientSession, job_id: str) -> None:
    init = await session.initialize()
    assert init.server_info.name == "nomad-gateway"
    listed = await session.list_tools()
    tools = {t.name: t for t in listed.tools}
    assert len(tools) == TOOLS, sorted(tools)
    for tool in tools.values():
        assert tool.title and tool.description and tool.output_schema, tool.name
        assert tool.annotations.read_only_hint is not None, tool.name
        assert tool.annotations.destructive_hint is not None, tool.name

    progress = []

    async def on_progress(value, total, message):
        progress.append(message)

    created = check_structured(
        tools,
        "create_job",
        await session.call_tool(
            "create_job",
            {"job_id": job_id, "image": "nginx:1.27", "count": 2, "wait": 60},
            progress_callback=on_progress,
        ),
    )
    assert created["job_id"] == job_id
    assert created["operation"]["state"] == "succeeded", created
    assert created["operation"]["finished"] is True, created
    assert progress, "progress notifications arrive while the rollout advances"

    jobs = check_structured(tools, "list_jobs", await session.call_tool("list_jobs", {}))
    assert job_id in [j["id"] for j in jobs["items"]]
    job = check_structured(tools, "get_job", await session.call_tool("get_job", {"job_id": job_id}))
    assert job["status"] == "running", job
    logs = check_structured(
        tools, "get_job_logs", await session.call_tool("get_job_logs", {"job_id": job_id, "lines": 5})
    )
    assert 0 < len(logs["lines"]) <= 5, logs

    # A failure is a tool result with isError and a message an agent can act on.
    missing = await session.call_tool("get_job", {"job_id": job_id + "x"})
    assert missing.is_error
    assert f"similar name: {job_id}" in missing.content[0].text, missing.content


def client_factory(gateway):
    def factory(headers=None, timeout=None, auth=None):
        return httpx2.AsyncClient(
            headers={**(headers or {}), "Authorization": gateway.authorization},
            timeout=timeout or httpx2.Timeout(30, read=300),
            verify=gateway.ssl_context(),
            auth=auth,
        )

    return factory


def test_streamable_http(gateway):
    async def main():
        async with httpx2.AsyncClient(
            headers={"Authorization": gateway.authorization},
            verify=gateway.ssl_context(),
            timeout=httpx2.Timeout(30, read=300),
        ) as http:
            async with streamable_http_client(f"{gateway.url}/mcp", http_client=http) as (read, write):
                async with ClientSession(read, write) as session:
                    await exercise(session, "web-http")

    anyio.run(main)


def test_legacy_sse(gateway):
    async def main():
        async with sse_client(f"{gateway.url}/sse", httpx_client_factory=client_factory(gateway)) as (
            read,
            write,
        ):
            async with ClientSession(read, write) as session:
                await exercise(session, "web-sse")

    anyio.run(main)


def test_without_the_header_the_gateway_refuses(gateway):
    async def main():
        async with httpx2.AsyncClient(verify=gateway.ssl_context()) as http:
            response = await http.post(
                f"{gateway.url}/mcp",
                headers={"Accept": "application/json, text/event-stream"},
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            )
            assert response.status_code == 401, response.text
            response = await http.get(f"{gateway.url}/sse")
            assert response.status_code == 401, response.text

    anyio.run(main)


def test_the_tls_certificate_is_checked(gateway):
    async def main():
        async with httpx2.AsyncClient(headers={"Authorization": gateway.authorization}) as http:
            with pytest.raises(httpx2.ConnectError):
                await http.get(f"{gateway.url}/sse")

    anyio.run(main)
