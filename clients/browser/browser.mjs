// The example SPA (examples/spa) in a real browser: Debian's chromium,
// driven by playwright-core (never a downloaded browser), headless. The page
// is served from an allowed origin on another port than latchkey; a second
// page from an origin that is not allowed tries to read token answers.
//
//   node browser.mjs API_URL USERNAME PASSWORD
//   (API_URL is latchkey in cookie mode with cors.allowed_origins naming
//   http://localhost:PAGE_PORT; PAGE_PORT and OTHER_PORT from the environment)
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const [api, username, password] = process.argv.slice(2);
const pagePort = Number(process.env.PAGE_PORT || 18182);
const otherPort = Number(process.env.OTHER_PORT || 18183);
const spa = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "examples", "spa");

function expect(condition, what) {
  if (!condition) {
    console.error(`browser check: ${what}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

function serve(port, host) {
  const server = createServer(async (request, response) => {
    const name = new URL(request.url, "http://x").pathname === "/app.js" ? "app.js" : "index.html";
    const type = name.endsWith(".js") ? "text/javascript" : "text/html";
    response.writeHead(200, { "Content-Type": type });
    const file = await readFile(join(spa, name), "utf8");
    // Deployed for a latchkey on another origin: the page's meta tag.
    response.end(file.replace('name="latchkey-api" content=""', `name="latchkey-api" content="${api}"`));
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

const servers = [await serve(pagePort, "localhost"), await serve(otherPort, "127.0.0.1")];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox"],
});
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`http://localhost:${pagePort}/`);

  const login = await page.evaluate(([u, p]) => window.latchkey.login(u, p), [username, password]);
  expect(login.status === 200 && typeof login.data.access === "string", "log in with fetch(..., {credentials: \"include\"})");
  // All of them: playwright leaves Secure cookies out of an http:// URL's,
  // though the browser sends them to localhost.
  const cookies = await context.cookies();
  const refreshCookie = cookies.find((c) => c.name.endsWith("refresh"));
  expect(refreshCookie && refreshCookie.httpOnly, "the refresh token is in an HttpOnly cookie");
  const visible = await page.evaluate(() => document.cookie);
  expect(!visible.includes(refreshCookie.value), "document.cookie never holds the refresh token");

  const me = await page.evaluate(() => window.latchkey.me());
  expect(me.status === 200 && me.data.username === username, "GET /api/me/ with the in-memory access token");

  const refreshed = await page.evaluate(() => window.latchkey.refresh());
  expect(refreshed.status === 200, "refresh by cookie, with the CSRF header");
  const withoutCsrf = await page.evaluate(async () => {
    window.latchkey.setCsrf(null);
    return window.latchkey.refresh();
  });
  expect(withoutCsrf.status === 403 && /CSRF/.test(withoutCsrf.data.detail), "refresh without the CSRF header is refused (403)");

  // Another origin's page: the browser keeps every token answer from it.
  const other = await context.newPage();
  await other.goto(`http://127.0.0.1:${otherPort}/`);
  const stolen = await other.evaluate(async (api) => {
    const attempts = [];
    for (const [path, body] of [["/api/token/refresh/", {}], ["/api/token/", { username: "x", password: "y" }]]) {
      try {
        const response = await fetch(api + path, {
          method: "POST",
          credentials: "include",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body),
        });
        attempts.push(await response.text());
      } catch (error) {
        attempts.push(null);
      }
    }
    return attempts;
  }, api);
  expect(stolen.every((answer) => answer === null), "a page from an origin that is not allowed reads no token answer");

  // A fresh page (and CSRF token), then logout.
  await page.reload();
  const relogin = await page.evaluate(([u, p]) => window.latchkey.login(u, p), [username, password]);
  const session = (await context.cookies()).find((c) => c.name.endsWith("refresh")).value;
  const out = await page.evaluate(() => window.latchkey.logout());
  expect(relogin.status === 200 && out.status === 200, "log out by cookie");
  const left = (await context.cookies()).find((c) => c.name.endsWith("refresh"));
  expect(!left, "logging out clears the refresh cookie");
  const reuse = await fetch(`${api}/api/token/refresh/`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh: session }),
  });
  expect(reuse.status === 401, "the logged-out session's refresh token is refused afterwards");
} finally {
  await browser.close();
  servers.forEach((server) => server.close());
}
