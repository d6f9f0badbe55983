"use strict";
// Socket data across nodes: two ringcast nodes of tests/library.rs over one
// Redis; each node's fetch_sockets reports the other node's sockets with the
// data their middleware and handlers set (the adapter's FETCH_SOCKETS
// response carries `data`, as Node's socket.data).
//
//   RINGCAST_URL_A=http://... RINGCAST_URL_B=http://... node --test tests/js/library-redis/

const test = require("node:test");
const assert = require("node:assert/strict");
const { io } = require("socket.io-client");

const A = process.env.RINGCAST_URL_A;
const B = process.env.RINGCAST_URL_B;
const open = [];

function connect(url, auth) {
  return new Promise((resolve, reject) => {
    const s = io(url, { forceNew: true, reconnection: false, auth, transports: ["websocket"] });
    open.push(s);
    s.once("connect", () => resolve(s));
    s.once("connect_error", reject);
  });
}

const ack = (s, ...args) => s.timeout(10000).emitWithAck(...args);

test.after(() => open.forEach((s) => s.disconnect()));

test("fetch_sockets on each node reports the other node's socket data", async () => {
  const a = await connect(A, { name: "on-a" });
  const b = await connect(B, { name: "on-b" });
  await ack(b, "whoami");
  // Wait until each node answers for the other (the Redis subscriptions are up).
  let fromA;
  let fromB;
  for (;;) {
    fromA = await ack(a, "fetch");
    fromB = await ack(b, "fetch");
    const sees = (list, id) => Array.isArray(list) && list.some((x) => x.id === id);
    if (sees(fromA, b.id) && sees(fromB, a.id)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const list of [fromA, fromB]) {
    const ra = list.find((x) => x.id === a.id);
    const rb = list.find((x) => x.id === b.id);
    assert.equal(ra.data.name, "on-a");
    assert.equal(ra.data.hits, 0);
    assert.equal(rb.data.name, "on-b");
    assert.equal(rb.data.hits, 1);
    assert.equal(rb.data.seen[0], "whoami");
  }
});

test("server-side events: an async handler on the other node answers after awaiting", async () => {
  const a = await connect(A, { name: "pinger" });
  const r = await ack(a, "ping_nodes", { n: 7 });
  assert.deepEqual(r, { ok: true, answers: [{ pong: [{ n: 7 }] }] });
});

test("fetch_sockets as a future spans both nodes", async () => {
  const a = await connect(A, { name: "fa" });
  const b = await connect(B, { name: "fb" });
  const all = await ack(b, "fetch_async");
  assert.equal(all.find((x) => x.id === a.id).data.name, "fa");
  assert.equal(all.find((x) => x.id === b.id).data.name, "fb");
});
