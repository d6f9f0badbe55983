"use strict";
// examples/tokio_interop.rs (started by tests/tokio_interop.rs): each
// `visit` runs INCR in Redis through the tokio-based redis client, called
// from an async handler on a ringcast shard.
//
//   RINGCAST_URL=http://127.0.0.1:PORT node --test tests/js/tokio/

const test = require("node:test");
const assert = require("node:assert/strict");
const { io } = require("socket.io-client");

const URL = (process.env.RINGCAST_URL || "http://127.0.0.1:3000").replace(/\/+$/, "");
const open = [];

function connect() {
  const s = io(URL, { forceNew: true, reconnection: false, transports: ["websocket"] });
  open.push(s);
  return new Promise((resolve, reject) => {
    s.once("connect", () => resolve(s));
    s.once("connect_error", reject);
  });
}

const ack = (s, ...args) => s.timeout(5000).emitWithAck(...args);

test.after(() => open.forEach((s) => s.disconnect()));

test("visits are counted in Redis through tokio, from several sockets on both shards", async () => {
  const page = "p-" + Math.random().toString(36).slice(2);
  const socks = [];
  for (let i = 0; i < 4; i++) socks.push(await connect());
  assert.deepEqual(await ack(socks[0], "visit", page), { page, visits: 1 });
  // Concurrent calls: every INCR happens once.
  const all = await Promise.all(socks.flatMap((s) => [ack(s, "visit", page), ack(s, "visit", page)]));
  assert.deepEqual(all.map((r) => r.visits).sort((a, b) => a - b), [2, 3, 4, 5, 6, 7, 8, 9]);
  const bad = await ack(socks[1], "visit", { not: "a page" });
  assert.equal(bad.error, "invalid payload");
});
