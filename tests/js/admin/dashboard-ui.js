#!/usr/bin/env node
// The official @socket.io/admin-ui dashboard (the package's ui/dist, served here from another
// origin) against the broker, in headless Chromium driven by playwright-core: it logs in (with a
// session id obtained by a real login, as the page stores it after its login form), then lists a
// connected socket on its Sockets page and this node on its Servers page.
//
//   RINGCAST_URL=... ADMIN_USER=... ADMIN_PASSWORD=... [CHROMIUM=/usr/bin/chromium] node admin/dashboard-ui.js
"use strict";

const fs = require("node:fs");
const http = require("node:http");
const path = require("node:path");
const { io } = require("socket.io-client");
const { chromium } = require("playwright-core");

const URL_ = (process.env.RINGCAST_URL || "http://127.0.0.1:3000").replace(/\/+$/, "");
const USER = process.env.ADMIN_USER || "admin";
const PASSWORD = process.env.ADMIN_PASSWORD || "";
const SERVER_ID = process.env.ADMIN_SERVER_ID || "";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const DIST = path.join(__dirname, "..", "node_modules", "@socket.io", "admin-ui", "ui", "dist");
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".map": "application/json" };

function serveDist() {
  const server = http.createServer((req, res) => {
    const rel = path.normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)).replace(/^(\.\.[/\\])+/, "");
    const file = path.join(DIST, rel === "/" ? "index.html" : rel);
    if (!file.startsWith(DIST) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": TYPES[path.extname(file)] || "application/octet-stream" });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

function connect(url, opts) {
  return new Promise((resolve, reject) => {
    const s = io(url, { forceNew: true, reconnection: false, transports: ["websocket"], ...opts });
    s.once("connect_error", reject);
    if (opts && opts.auth && opts.auth.password !== undefined) {
      s.once("session", (id) => resolve([s, id]));
    } else {
      s.once("connect", () => resolve([s]));
    }
  });
}

async function main() {
  const [login, sessionId] = await connect(URL_ + "/admin", { auth: { username: USER, password: PASSWORD } });
  login.disconnect();
  const [client] = await connect(URL_);
  const stat = await serveDist();
  const origin = `http://127.0.0.1:${stat.address().port}`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
    timeout: 30000,
  });
  try {
    const context = await browser.newContext();
    // What the page's login form stores (websocket only: no CORS needed for another origin).
    await context.addInitScript(
      ([url, sid]) => {
        localStorage.setItem("server_url", url);
        localStorage.setItem("ws_only", "true");
        localStorage.setItem("path", "/socket.io");
        localStorage.setItem("namespace", "/admin");
        localStorage.setItem("session_id", sid);
      },
      [URL_, sessionId],
    );
    const page = await context.newPage();
    // Fonts and icons come from CDNs the test machine may not reach: don't wait for them.
    await page.route(/^https:\/\//, (route) => route.abort());
    await page.goto(`${origin}/index.html#/sockets/`, { waitUntil: "domcontentloaded" });
    await page.waitForFunction((id) => document.body.innerText.includes(id), client.id, { timeout: 20000 });
    console.log(`ok   the Sockets page lists ${client.id}`);
    if (SERVER_ID) {
      await page.goto(`${origin}/index.html#/servers/`, { waitUntil: "domcontentloaded" });
      await page.waitForFunction((id) => document.body.innerText.includes(id), SERVER_ID, { timeout: 20000 });
      console.log(`ok   the Servers page lists ${SERVER_ID}`);
    }
  } finally {
    await browser.close();
    stat.close();
    client.disconnect();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
