"""Confirmation before a destructive tool, with the official Python SDK as the person's
client: elicitation on a session (Streamable HTTP and legacy SSE), and the 2026-07-28
`input_required` round trip that the SDK's `Client` drives by itself. A "no" changes
nothing; a "yes" runs the call."""

import anyio
import httpx2
import pytest
from mcp import types
from mcp.client.client import Client
from mcp.client.session import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from test_python_sdk import client_factory


class Person:
    """Answers every question with `answer`, and keeps what it was asked."""

    def __init__(self):
        self.answer = "decline"
        self.asked = []

    async def __call__(self, context, params):
        self.asked.append(params.message)
        assert params.requested_schema["properties"] == {}, params
        return types.ElicitResult(action=self.answer, content={} if self.answer == "accept" else None)


async def confirm_twice(call, person: Person, job_id: str) -> None:
    created = await call("create_job", {"job_id": job_id, "image": "nginx:1.27", "count": 2, "wait": 60})
    assert not created.is_error, created.content
    assert person.asked == [], "creating is not destructive"

    declined = await call("stop_job", {"job_id": job_id})
    assert declined.is_error, declined
    sentence = f"Stop job {job_id} in default: its 2 running allocations stop."
    assert person.asked == [f"{sentence} Go ahead?"], person.asked
    assert declined.content[0].text.startswith(f'The user declined: "{sentence}"'), declined.content
    job = await call("get_job", {"job_id": job_id})
    assert job.structured_content["stop"] is False, job.structured_content

    person.answer = "accept"
    accepted = await call("stop_job", {"job_id": job_id, "wait": 60})
    assert not accepted.is_error, accepted.content
    job = await call("get_job", {"job_id": job_id})
    assert job.structured_content["stop"] is True, job.structured_content
    assert len(person.asked) == 2


def http_client(gateway):
    return httpx2.AsyncClient(
        headers={"Authorization": gateway.authorization},
        verify=gateway.ssl_context(),
        timeout=httpx2.Timeout(30, read=300),
    )


def test_a_session_over_streamable_http_asks_first(gateway):
    async def main():
        person = Person()
        async with http_client(gateway) as http:
            async with streamable_http_client(f"{gateway.url}/mcp", http_client=http) as (read, write):
                async with ClientSession(read, write, elicitation_callback=person) as session:
                    await session.initialize()
                    await confirm_twice(session.call_tool, person, "confirm-http")

    anyio.run(main)


def test_a_session_over_legacy_sse_asks_first(gateway):
    async def main():
        person = Person()
        async with sse_client(f"{gateway.url}/sse", httpx_client_factory=client_factory(gateway)) as (
            read,
            write,
        ):
            async with ClientSession(read, write, elicitation_callback=person) as session:
                await session.initialize()
                await confirm_twice(session.call_tool, person, "confirm-sse")

    anyio.run(main)


def test_the_2026_07_28_revision_asks_with_input_required(gateway):
    async def main():
        person = Person()
        async with http_client(gateway) as http:
            transport = streamable_http_client(f"{gateway.url}/mcp", http_client=http)
            async with Client(transport, mode="2026-07-28", elicitation_callback=person) as client:
                assert client.protocol_version == "2026-07-28"
                await confirm_twice(client.call_tool, person, "confirm-stateless")

    anyio.run(main)
