// The person's part of a sign-in on the built-in authorization server's page, played by a
// real headless Chromium (Debian's, driven by puppeteer-core): open the authorization URL,
// untick every scope not kept, then paste the API key and approve, or choose the team's
// identity provider (which signs its user in at once and sends the browser back), and wait
// for the page the redirects land on. Shared by ts_oauth.mjs and browser_sign_in.mjs.
import puppeteer from "puppeteer-core";

/** Chromium trusting exactly the test's server certificate (by its key's SHA-256). */
export async function launch(chromium, spki) {
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ["--no-sandbox", `--ignore-certificate-errors-spki-list=${spki}`],
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 760, height: 980, deviceScaleFactor: 1 });
  return { browser, page };
}

/** The page's main text, or the start of whatever else came (a browser error page). */
export async function said(page) {
  return page
    .$eval("main", (m) => m.innerText)
    .catch(async () => (await page.content()).slice(0, 600));
}

/**
 * Signs in at `url`; `landsOn` says whether a URL is where the redirect should end
 * (the client's callback). Answers what the page showed and where it went.
 */
export async function signIn(page, { url, apiKey, keep, screenshot, landsOn, step, via = "key" }) {
  step?.(`browser opens ${url}`);
  await page.goto(String(url), { waitUntil: "load" });
  const title = await page.title();
  const text = await said(page);
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  const offered = await page.$$eval("input[name=grant]", (boxes) =>
    boxes.map((b) => ({ scope: b.value, checked: b.checked })),
  );
  step?.(`page "${title}" offers ${offered.map((b) => b.scope).join(" ")}`);
  for (const box of offered) {
    if (!keep.includes(box.scope)) await page.click(`input[name=grant][value="${box.scope}"]`);
  }
  if (via === "provider") {
    await Promise.all([
      page.waitForNavigation({ waitUntil: "load" }),
      page.click("button[value=oidc]"),
    ]);
  } else {
    await page.type("#api_key", apiKey);
    await Promise.all([
      page.waitForNavigation({ waitUntil: "load" }),
      page.click("button[value=approve]"),
    ]);
  }
  const landed = page.url();
  if (!landsOn(landed)) {
    throw new Error(`approving did not reach the callback but ${landed}: ${await said(page)}`);
  }
  step?.(`callback reached: ${landed}`);
  return { title, text, offered, landed };
}
