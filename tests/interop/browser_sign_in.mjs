// Plays the person for a client that prints its authorization URL (mcp-remote): signs in
// on the gateway's page with a real headless Chromium (sign_in.mjs) and prints what the
// page showed and where the redirect landed, as one JSON line.
//
// Usage: node browser_sign_in.mjs AUTHORIZATION_URL API_KEY CHROMIUM SPKI_SHA256 SCOPES...
import { launch, signIn } from "./sign_in.mjs";

const [url, apiKey, chromium, spki, ...keep] = process.argv.slice(2);
const gateway = new URL(url).origin;
const { browser, page } = await launch(chromium, spki);
try {
  const signed = await signIn(page, {
    url,
    apiKey,
    keep,
    landsOn: (landed) => new URL(landed).origin !== gateway,
    step: (what) => console.error(what),
  });
  signed.landedText = await page.$eval("body", (b) => b.innerText).catch(() => "");
  console.log(JSON.stringify(signed));
} finally {
  await browser.close();
}
