// The official MCP TypeScript SDK (npm @modelcontextprotocol/sdk, pinned in package.json)
// against the gateway: connect over Streamable HTTP or the legacy SSE transport with an
// Authorization header, list the tools, call a read, a write with progress and a call that
// fails, and print what happened as one JSON line. The SDK's Client checks every
// structuredContent against the tool's outputSchema (it throws when one does not conform);
// the Python side of the test asserts on the printed summary.
//
// Usage: node ts_client.mjs URL AUTHORIZATION http|sse JOB_ID
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, authorization, mode, jobId] = process.argv.slice(2);
const headers = { Authorization: authorization };
const transport =
  mode === "sse"
    ? new SSEClientTransport(new URL(url), {
        requestInit: { headers },
        eventSourceInit: {
          fetch: (input, init) =>
            fetch(input, { ...init, headers: { ...(init?.headers ?? {}), ...headers } }),
        },
      })
    : new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });

const client = new Client({ name: "interop-typescript", version: "1" });
await client.connect(transport);
const listed = await client.listTools();
const nodes = await client.callTool({ name: "list_nodes", arguments: {} });
const progress = [];
const created = await client.callTool(
  { name: "create_job", arguments: { job_id: jobId, image: "nginx:1.27", count: 1, wait: 60 } },
  undefined,
  { onprogress: (p) => progress.push(p.message ?? ""), timeout: 120000 },
);
const missing = await client.callTool({ name: "get_job", arguments: { job_id: "no-such-job" } });
console.log(
  JSON.stringify({
    server: client.getServerVersion()?.name,
    tools: listed.tools.length,
    withOutputSchema: listed.tools.filter((t) => t.outputSchema).length,
    nodes: nodes.structuredContent?.total,
    created: created.structuredContent,
    progress,
    missing: { isError: missing.isError, text: missing.content?.[0]?.text },
  }),
);
await client.close();
