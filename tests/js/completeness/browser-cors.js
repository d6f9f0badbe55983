#!/usr/bin/env node
// CORS with credentials in a real browser (headless Chromium, which enforces CORS): a page served
// from PAGE_PORT (the origin ringcast was started with: `--cors http://127.0.0.1:PAGE_PORT
// --cors-credentials`) connects with `withCredentials: true` over polling and gets an ack; a page
// from another port (an origin not in the list) must be refused by the browser.
//
//   RINGCAST_URL=http://127.0.0.1:3000 PAGE_PORT=4000 node tests/js/completeness/browser-cors.js
"use strict";

const fs = require("node:fs");
const http = require("node:http");
const path = require("node:path");
const { chromium } = require("playwright-core");

const URL_ = (process.env.RINGCAST_URL || "http://127.0.0.1:3000").replace(/\/+$/, "");
const PAGE_PORT = Number(process.env.PAGE_PORT || 4000);
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const BUNDLE = path.join(__dirname, "..", "node_modules", "socket.io-client", "dist", "socket.io.min.js");

const PAGE = `<!doctype html><script src="/socket.io.min.js"></script><script>
window.result = new Promise((resolve) => {
  const s = io(${JSON.stringify(URL_)}, { transports: ["polling"], withCredentials: true, reconnection: false });
  s.on("connect", () => s.emit("echo", "hi", (r) => { resolve("ack:" + r); s.close(); }));
  s.on("connect_error", (e) => { resolve("connect_error:" + e.message); s.close(); });
});
</script>`;

function serve(port) {
  const server = http.createServer((req, res) => {
    if (req.url === "/socket.io.min.js") {
      res.writeHead(200, { "Content-Type": "text/javascript" });
      fs.createReadStream(BUNDLE).pipe(res);
    } else if (req.url === "/") {
      res.writeHead(200, { "Content-Type": "text/html" }).end(PAGE);
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

async function run(browser, origin) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(origin + "/");
  const result = await page.evaluate(() => window.result);
  await context.close();
  return result;
}

async function main() {
  const allowed = await serve(PAGE_PORT);
  const other = await serve(0);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
  });
  let failed = false;
  try {
    const ok = await run(browser, `http://127.0.0.1:${PAGE_PORT}`);
    console.log(`allowed origin: ${ok}`);
    if (ok !== "ack:hi") failed = true;
    const refused = await run(browser, `http://127.0.0.1:${other.address().port}`);
    console.log(`other origin: ${refused}`);
    if (!refused.startsWith("connect_error:")) failed = true;
  } finally {
    await browser.close();
    allowed.close();
    other.close();
  }
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
