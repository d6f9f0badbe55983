"use strict";
// permessage-deflate (conformance-app-2.md section 13) with the real socket.io-client over
// websocket: in Node it uses `ws`, which offers permessage-deflate (engine.io-client's default
// `perMessageDeflate: { threshold: 1024 }`). Started by tests/deflate.rs against
// `conformance --per-message-deflate --shards 2`.
//
//   RINGCAST_URL=http://127.0.0.1:PORT node --test tests/js/deflate/

const test = require("node:test");
const assert = require("node:assert/strict");
const { io } = require("socket.io-client");

const URL = (process.env.RINGCAST_URL || "http://127.0.0.1:3000").replace(/\/+$/, "");
const open = [];

function client() {
  const s = io(URL, { forceNew: true, reconnection: false, transports: ["websocket"] });
  open.push(s);
  return s;
}

function connected(s) {
  return new Promise((resolve, reject) => {
    if (s.connected) return resolve(s);
    s.once("connect", () => resolve(s));
    s.once("connect_error", reject);
  });
}

test.after(() => open.forEach((s) => s.disconnect()));

test("a large broadcast reaches every member compressed, small acks stay plain", async () => {
  const members = [];
  for (let i = 0; i < 4; i++) {
    const s = await connected(client());
    // node's `ws` reports what the 101 agreed
    const ws = s.io.engine.transport.ws;
    assert.match(ws.extensions, /permessage-deflate/);
    assert.equal(await s.timeout(5000).emitWithAck("join", "deflate-room"), true);
    members.push(s);
  }
  const data = { rows: Array.from({ length: 3000 }, (_, i) => ({ id: i, name: "row", ok: true })) };
  const size = JSON.stringify(data).length;
  assert.ok(size > 50000);
  const before = members.map((s) => s.io.engine.transport.ws._socket.bytesRead);
  const got = members.map((s) => new Promise((resolve) => s.once("big", resolve)));
  members[0].emit("broadcast", "deflate-room", "big", data);
  const all = await Promise.all(got);
  for (const [i, d] of all.entries()) {
    assert.deepEqual(d, data);
    // what came over the socket for that packet is far smaller than the packet
    const read = members[i].io.engine.transport.ws._socket.bytesRead - before[i];
    assert.ok(read < size / 4, `member ${i} read ${read} bytes for a ${size}-byte packet`);
  }
  // a compressed client frame (over ws's threshold) is inflated by the server
  const big = "x".repeat(5000);
  assert.deepEqual(await members[1].timeout(5000).emitWithAck("echo", big), big);
});
