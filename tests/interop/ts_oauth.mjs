// The official MCP TypeScript SDK's OAuth client (npm @modelcontextprotocol/sdk, pinned in
// package.json) against a gateway with GATEWAY_OAUTH=builtin, the way a connector signs in:
// the first connect gets a 401, the SDK discovers the authorization server from it,
// registers itself (RFC 7591), and sends the person to the authorization URL with PKCE and
// the resource parameter. A real headless Chromium (Debian's, driven by puppeteer-core)
// plays the person: it takes screenshots of the sign-in page and of a refused request,
// unticks every scope but nomad:read and nomad:write, pastes the API key and approves. The
// code comes back to a loopback callback; the SDK exchanges it and calls tools with the
// token. Then a refresh, a reuse of the spent refresh token (the grant is revoked), and a
// second sign-in ended by revocation (RFC 7009). Prints one JSON line.
//
// With `provider` as the last argument the person signs in through the team's identity
// provider instead (the page's "Sign in with" button), and only the first sign-in and its
// tool calls run.
//
// With `document DOC_URL` the client names itself by the client ID metadata document at
// DOC_URL instead of registering (the SDK does so when the authorization server's metadata
// says `client_id_metadata_document_supported`); the first sign-in, its tool calls and a
// refresh run.
//
// Usage: node ts_oauth.mjs GATEWAY_URL API_KEY SCREENSHOT_DIR CHROMIUM SPKI_SHA256
//        [key | provider | document DOC_URL]
import http from "node:http";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  UnauthorizedError,
  discoverAuthorizationServerMetadata,
  refreshAuthorization,
} from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { launch, said, signIn } from "./sign_in.mjs";

const [base, apiKey, shots, chromium, spki, via = "key", documentUrl] = process.argv.slice(2);
const mcpUrl = new URL(`${base}/mcp`);

// The loopback callback a native client listens on (RFC 8252 §7.3).
let answered;
const callback = http.createServer((req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  res.writeHead(200, { "content-type": "text/plain" });
  res.end("signed in; you may close this window");
  answered?.(Object.fromEntries(url.searchParams));
});
await new Promise((resolve) => callback.listen(0, "127.0.0.1", resolve));
const redirectUrl = `http://127.0.0.1:${callback.address().port}/callback`;

class Provider {
  constructor(info) {
    this.info = info;
    this.saved = undefined;
    this.verifier = undefined;
    this.sentTo = [];
  }
  get redirectUrl() {
    return redirectUrl;
  }
  get clientMetadataUrl() {
    return via === "document" ? documentUrl : undefined;
  }
  get clientMetadata() {
    return {
      client_name: "Interop connector",
      redirect_uris: [redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  state() {
    return "interop-state";
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url) {
    this.sentTo.push(url);
  }
  saveCodeVerifier(verifier) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}

/** A step, on stderr: what a failure's message shows. */
const step = (what) => console.error(`${new Date().toISOString()} ${what}`);

step("launching the browser");
const { browser, page } = await launch(chromium, spki);

/** The person's part (sign_in.mjs), then the query the callback got. */
async function signInAt(url, screenshot) {
  const query = new Promise((resolve) => (answered = resolve));
  const signed = await signIn(page, {
    url,
    apiKey,
    keep: ["nomad:read", "nomad:write"],
    screenshot: screenshot ? `${shots}/oauth-sign-in${via === "key" ? "" : `-${via}`}.png` : undefined,
    via: via === "provider" ? "provider" : "key",
    landsOn: (landed) => landed.startsWith(redirectUrl),
    step,
  });
  return { ...signed, query: await query };
}

async function connect(provider) {
  const client = new Client({ name: "interop-oauth", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }));
  return client;
}

/** Connects, signs in when the SDK asks for it, and connects again with the tokens. */
async function signedIn(provider, screenshot) {
  let refused;
  try {
    await connect(provider);
  } catch (error) {
    refused = error;
  }
  if (!(refused instanceof UnauthorizedError)) throw new Error(`expected a sign-in, got ${refused}`);
  step("the SDK asks for a sign-in");
  const url = provider.sentTo.at(-1);
  const signed = await signInAt(url, screenshot);
  const transport = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
  await transport.finishAuth(signed.query.code);
  step("code exchanged");
  const client = await connect(provider);
  return { client, url, signed };
}

async function status(token) {
  const response = await fetch(`${base}/api/v1/jobs`, { headers: { authorization: `Bearer ${token}` } });
  return response.status;
}

/** Milliseconds until the token is refused (the gateway's grant cache lives 5 s). */
async function untilRefused(token) {
  const started = Date.now();
  while (Date.now() - started < 10000) {
    if ((await status(token)) === 401) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 200));
  }
  return -1;
}

const out = {};
const provider = new Provider();
const first = await signedIn(provider, true);
const authorizeUrl = first.url;
out.client_id = provider.info?.client_id;
out.authorize = {
  code_challenge_method: authorizeUrl.searchParams.get("code_challenge_method"),
  has_challenge: Boolean(authorizeUrl.searchParams.get("code_challenge")),
  resource: authorizeUrl.searchParams.get("resource"),
  scope: authorizeUrl.searchParams.get("scope"),
};
out.page = { title: first.signed.title, text: first.signed.text, offered: first.signed.offered };
out.callback = { state: first.signed.query.state, iss: first.signed.query.iss, landed: first.signed.landed };
out.granted = provider.saved?.scope;
const tools = await first.client.listTools();
out.tools = tools.tools.map((t) => t.name);
const jobs = await first.client.callTool({ name: "list_jobs", arguments: {} });
out.list_jobs = { isError: jobs.isError ?? false, total: jobs.structuredContent?.total };

/** Closes what the script opened and prints the one JSON line. */
async function finish(client) {
  await client?.close().catch(() => {});
  await browser.close();
  callback.close();
  console.log(JSON.stringify(out));
  process.exit(0);
}

if (via === "provider") await finish(first.client);

// A refresh: new tokens, and the client goes on with them.
const metadata = await discoverAuthorizationServerMetadata(new URL(base));
out.documents_supported = metadata.client_id_metadata_document_supported;
const spent = provider.saved;
const refreshed = await refreshAuthorization(new URL(base), {
  metadata,
  clientInformation: provider.info,
  refreshToken: spent.refresh_token,
  resource: mcpUrl,
});
provider.saveTokens(refreshed);
out.refreshed = refreshed.refresh_token !== spent.refresh_token && refreshed.access_token !== spent.access_token;
const again = await first.client.callTool({ name: "list_jobs", arguments: {} });
out.after_refresh = { isError: again.isError ?? false };

if (via === "document") await finish(first.client);
// The spent refresh token once more: refused, and the whole grant with it.
try {
  await refreshAuthorization(new URL(base), {
    metadata,
    clientInformation: provider.info,
    refreshToken: spent.refresh_token,
    resource: mcpUrl,
  });
  out.reuse = "accepted";
} catch (error) {
  out.reuse = `${error.constructor.name}: ${error.message}`;
}
out.reuse_revoked_after_ms = await untilRefused(refreshed.access_token);
await first.client.close().catch(() => {});

// A second sign-in (the same registration), ended by revocation.
const second = new Provider(provider.info);
const other = await signedIn(second, false);
const before = await status(second.saved.access_token);
const revoked = await fetch(`${base}/oauth/revoke`, {
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams({ token: second.saved.refresh_token, client_id: second.info.client_id }),
});
out.revocation = {
  before,
  status: revoked.status,
  refused_after_ms: await untilRefused(second.saved.access_token),
};
await other.client.close().catch(() => {});

// A refused request, as the person sees it: the redirect URI is not registered.
const bad = new URL(authorizeUrl);
bad.searchParams.set("redirect_uri", "https://elsewhere.example/callback");
const refusedPage = await page.goto(bad.href, { waitUntil: "load" });
out.refused_page = { status: refusedPage.status(), text: await said(page) };
await page.screenshot({ path: `${shots}/oauth-refused.png`, fullPage: true });

await finish();
