#!/usr/bin/env node
// Browser test: a page served from another origin (static server started here, on another port)
// loads the socket.io-client browser bundle and talks to RINGCAST_URL over polling-only and
// websocket-only, in headless Chromium driven by playwright-core.
//
//   RINGCAST_URL=http://127.0.0.1:3000 node tests/browser/run.js
//   env: RINGCAST_BROWSER_TRANSPORTS (default "polling,websocket"), CHROMIUM (default /usr/bin/chromium)
"use strict";

const fs = require("node:fs");
const http = require("node:http");
const path = require("node:path");

const JS_DIR = path.join(__dirname, "..", "js");
const { chromium } = require(path.join(JS_DIR, "node_modules", "playwright-core"));

const URL_ = (process.env.RINGCAST_URL || process.argv[2] || "http://127.0.0.1:3000").replace(/\/+$/, "");
const TRANSPORTS = (process.env.RINGCAST_BROWSER_TRANSPORTS || "polling,websocket").split(",").filter(Boolean);
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const FILES = {
  "/": { file: path.join(__dirname, "index.html"), type: "text/html; charset=utf-8" },
  "/index.html": { file: path.join(__dirname, "index.html"), type: "text/html; charset=utf-8" },
  "/suite.js": { file: path.join(__dirname, "suite.js"), type: "text/javascript; charset=utf-8" },
  "/socket.io.min.js": {
    file: path.join(JS_DIR, "node_modules", "socket.io-client", "dist", "socket.io.min.js"),
    type: "text/javascript; charset=utf-8",
  },
};

function startStatic() {
  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url, "http://x").pathname;
    if (pathname === "/favicon.ico") {
      res.writeHead(204).end();
      return;
    }
    const f = FILES[pathname];
    if (!f) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "Content-Type": f.type, "Cache-Control": "no-store" });
    fs.createReadStream(f.file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

async function main() {
  if (!fs.existsSync(CHROMIUM)) {
    console.error(`chromium not found at ${CHROMIUM} (apt-get install -y chromium)`);
    process.exit(2);
  }
  for (const f of Object.values(FILES)) {
    if (!fs.existsSync(f.file)) {
      console.error(`missing ${f.file} (run npm ci in tests/js)`);
      process.exit(2);
    }
  }
  const stat = await startStatic();
  const pageOrigin = `http://127.0.0.1:${stat.address().port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30000 });
  let failed = 0;
  let passed = 0;
  try {
    for (const transport of TRANSPORTS) {
      const context = await browser.newContext();
      const page = await context.newPage();
      const pageErrors = [];
      page.on("pageerror", (e) => pageErrors.push(String(e)));
      page.on("console", (m) => {
        if (m.type() === "error") pageErrors.push(`console.error: ${m.text()}`);
      });
      await page.goto(`${pageOrigin}/index.html`);
      await page.waitForFunction(() => typeof window.runSuite === "function" && typeof window.io === "function", null, { timeout: 10000 });
      console.log(`# browser (${transport} only), page ${pageOrigin} -> server ${URL_}`);
      const results = await page.evaluate(([u, t]) => window.runSuite(u, t), [URL_, transport]);
      for (const r of results) {
        if (r.ok) {
          passed++;
          console.log(`ok   [${transport}] ${r.name} (${r.ms} ms)`);
        } else {
          failed++;
          console.log(`FAIL [${transport}] ${r.name} (${r.ms} ms)\n     ${r.error.replace(/\n/g, "\n     ")}`);
        }
      }
      // console errors are reported (e.g. a CORS rejection shows up here), not failures by themselves
      for (const e of pageErrors) console.log(`# page: ${e}`);
      await context.close();
    }
  } finally {
    await browser.close();
    stat.close();
  }
  console.log(`# browser: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
