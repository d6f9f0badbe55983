"use strict";
// Server-side API features driven by a real socket.io-client, against the
// app built in tests/api.rs (not the conformance app): emit with ack to one
// socket (reply and timeout), broadcast with acks aggregated across shards
// (all replies; timeout with the replies received), server-side disconnect,
// socket.rooms(), volatile.
//
//   RINGCAST_URL=http://127.0.0.1:PORT node --test tests/js/api/

const test = require("node:test");
const assert = require("node:assert/strict");
const { io } = require("socket.io-client");

const URL = (process.env.RINGCAST_URL || "http://127.0.0.1:3000").replace(/\/+$/, "");
const MODE = process.env.RINGCAST_TRANSPORTS || "websocket";
const opts = MODE === "polling" ? { transports: ["polling"] } : MODE === "websocket" ? { transports: ["websocket"] } : {};
const open = [];

function connect(answer) {
  return new Promise((resolve, reject) => {
    const s = io(URL, { forceNew: true, reconnection: false, ...opts });
    open.push(s);
    // answer: a function (args) => reply, or null for a silent client.
    s.on("question", (...args) => {
      const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
      if (answer && cb) cb(answer(args));
    });
    s.once("connect", () => resolve(s));
    s.once("connect_error", reject);
  });
}

// The server-side ack timeouts below leave the answering clients seconds, not milliseconds: a
// loaded machine must not turn an answer into a timeout. This deadline only bounds a failure.
const ack = (s, ...args) => s.timeout(15000).emitWithAck(...args);

test.after(() => open.forEach((s) => s.disconnect()));

test("emit with ack to one socket: the client's reply comes back", async () => {
  const s = await connect((args) => ({ got: args }));
  const r = await ack(s, "ask_me", 3000);
  assert.deepEqual(r, { ok: true, reply: [{ got: [1, "two"] }] });
});

test("emit with ack to one socket: timeout when the client never answers", async () => {
  const s = await connect(null);
  const r = await ack(s, "ask_me", 200);
  assert.deepEqual(r, { ok: false, error: "operation has timed out" });
});

test("broadcast with acks: every receiver's reply, across shards", async () => {
  const room = "r-" + Math.random();
  const clients = [];
  for (let i = 0; i < 6; i++) clients.push(await connect((args) => i));
  for (const c of clients) assert.equal(await ack(c, "join", room), true);
  const asker = await connect(null);
  const r = await ack(asker, "ask_room", room, 3000);
  assert.equal(r.ok, true);
  assert.deepEqual([...r.replies].sort(), [0, 1, 2, 3, 4, 5]);
});

test("broadcast with acks: timeout error carries the replies received", async () => {
  const room = "r-" + Math.random();
  const a = await connect(() => "a");
  const b = await connect(() => "b");
  const silent = await connect(null);
  for (const c of [a, b, silent]) assert.equal(await ack(c, "join", room), true);
  const t0 = Date.now();
  const r = await ack(a, "ask_room", room, 2000);
  assert.ok(Date.now() - t0 >= 1950, "waited for the timeout");
  assert.equal(r.ok, false);
  assert.equal(r.error, "operation has timed out");
  assert.deepEqual([...r.replies].sort(), ["a", "b"]);
});

test("broadcast with acks to an empty room completes at once", async () => {
  const s = await connect(null);
  const r = await ack(s, "ask_room", "nobody-" + Math.random(), 2000);
  assert.deepEqual(r, { ok: true, replies: [] });
});

test("socket.rooms() lists the own id first, then joined rooms", async () => {
  const s = await connect(null);
  await ack(s, "join", "x");
  await ack(s, "join", "y");
  const rooms = await ack(s, "rooms");
  assert.deepEqual(rooms, [s.id, "x", "y"]);
});

test("server-side disconnect: the client sees 'io server disconnect'", async () => {
  const s = await connect(null);
  const reason = new Promise((resolve) => s.once("disconnect", resolve));
  s.emit("kick");
  assert.equal(await reason, "io server disconnect");
});

test("a socket id is a room: io.to(id) reaches exactly that socket", async () => {
  const a = await connect(null);
  const b = await connect(null);
  const got = { a: [], b: [] };
  b.on("direct", (v) => got.b.push(v));
  a.on("direct", (v) => got.a.push(v));
  const arrived = new Promise((resolve) => b.once("direct", resolve));
  assert.equal(await ack(a, "to_id", b.id, "hi"), true);
  await arrived;
  // Fence for a, not a pause: a message to a's own id, sent after "hi", reaches a after
  // anything "hi" could have sent a.
  const fence = new Promise((resolve) => a.once("direct", resolve));
  assert.equal(await ack(a, "to_id", a.id, "fence"), true);
  await fence;
  assert.deepEqual(got, { a: ["fence"], b: ["hi"] });
});

test("volatile: a burst the connection cannot take right now is dropped, not queued", async () => {
  const s = await connect(null);
  const got = [];
  s.on("v", (i) => got.push(i));
  assert.equal(await ack(s, "volatile_burst", 100), true);
  // Fence: an ordinary emit to the same socket id, after the burst, arrives after every "v"
  // that was not dropped.
  const fence = new Promise((resolve) => s.once("direct", resolve));
  assert.equal(await ack(s, "to_id", s.id, "fence"), true);
  await fence;
  // On websocket the first one finds the queue empty; on polling it depends
  // on whether a GET is parked at that instant. Never all 100.
  const min = MODE === "websocket" ? 1 : 0;
  assert.ok(got.length >= min && got.length < 100, `got ${got.length} of 100`);
  if (got.length) assert.equal(got[0], 0);
});

test("every emit form refuses a reserved event name and sends nothing", async () => {
  const s = await connect(null);
  const seen = [];
  s.onAny((ev) => seen.push(ev));
  for (const name of ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]) {
    const r = await ack(s, "emit_reserved", name);
    assert.deepEqual(r, Array(6).fill(`"${name}" is a reserved event name`));
  }
  // An ordinary emit from the same handler path still works, and arrives after nothing else.
  const r = await ack(s, "emit_reserved", "fine");
  assert.deepEqual(r, Array(6).fill(null));
  await new Promise((resolve) => (seen.includes("fine") ? resolve() : s.on("fine", resolve)));
  assert.ok(s.connected);
  assert.ok(seen.every((e) => e === "fine"), JSON.stringify(seen));
});
