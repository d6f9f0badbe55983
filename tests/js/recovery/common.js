"use strict";
// What the cross-node recovery tests share (cluster.test.js on a test app,
// app.test.js on the conformance app): a socket.io-client factory whose
// sockets close after the file's tests, waits on events, a transport kill
// and a TCP proxy whose target flips, so one Socket object reconnects to
// another node as it would behind a load balancer.
//   RINGCAST_TRANSPORTS=websocket|polling (default websocket)

const test = require("node:test");
const net = require("node:net");
const { io } = require("socket.io-client");

const MODE = process.env.RINGCAST_TRANSPORTS || "websocket";
const opts = MODE === "polling" ? { transports: ["polling"] } : { transports: ["websocket"] };
const open = [];
test.after(() => open.forEach((s) => s.close()));

function client(url, auth = {}) {
  const s = io(url, { forceNew: true, reconnection: false, auth, ...opts });
  open.push(s);
  return s;
}

function once(s, ev) {
  return new Promise((resolve) => s.once(ev, (...a) => resolve(a)));
}

function connected(s) {
  return new Promise((resolve, reject) => {
    if (s.connected) return resolve(s);
    s.once("connect", () => resolve(s));
    s.once("connect_error", reject);
  });
}

// Kills the transport (no DISCONNECT packet: a recoverable close).
function kill(s) {
  const d = once(s, "disconnect");
  s.io.engine.close();
  return d;
}

// Resolves when `pred()` holds, checked after every `ev` on `s`.
async function until(s, ev, pred) {
  while (!pred()) await once(s, ev);
}

// A TCP proxy to `target` (host:port of an http URL); `flip(url)` sends new
// connections elsewhere and cuts the current ones.
function proxy(target) {
  let to = new URL(target);
  const conns = new Set();
  const server = net.createServer((inbound) => {
    const outbound = net.connect(Number(to.port), to.hostname);
    conns.add(inbound).add(outbound);
    for (const [a, b] of [
      [inbound, outbound],
      [outbound, inbound],
    ]) {
      a.pipe(b);
      a.on("error", () => b.destroy());
      a.on("close", () => {
        b.destroy();
        conns.delete(a);
      });
    }
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        flip(url) {
          to = new URL(url);
          for (const c of conns) c.destroy();
        },
        close: () => server.close(),
      }),
    ),
  );
}

module.exports = { MODE, opts, open, client, once, connected, kill, until, proxy };
