"use strict";
// The broker binary's default app, driven by socket.io-client.
//   RINGCAST_URL=... RINGCAST_BROKER_MODE=default|restricted node --test broker/
// "restricted" = started with --no-broadcast: broadcast is ignored, the rest works.

const test = require("node:test");
const assert = require("node:assert/strict");
const { io } = require("socket.io-client");

const URL = (process.env.RINGCAST_URL || "http://127.0.0.1:3000").replace(/\/+$/, "");
const MODE = process.env.RINGCAST_BROKER_MODE || "default";
const open = [];
test.after(() => open.forEach((s) => s.disconnect()));

function connect() {
  return new Promise((resolve, reject) => {
    const s = io(URL, { forceNew: true, reconnection: false, transports: ["websocket"] });
    open.push(s);
    s.once("connect", () => resolve(s));
    s.once("connect_error", reject);
  });
}

test("join, broadcast and broadcast_others as the broker allows", async () => {
  const [a, b] = [await connect(), await connect()];
  for (const s of [a, b]) assert.equal(await s.timeout(3000).emitWithAck("join", "room"), true);
  const got = { a: [], b: [] };
  a.on("ev", (v) => got.a.push(v));
  b.on("ev", (v) => got.b.push(v));
  a.emit("broadcast", "room", "ev", "all");
  a.emit("broadcast_others", "room", "ev", "others");
  // Fence, not a pause: the server handles a's events in order and emits to each socket in
  // order, so a marker a broadcasts next reaches each receiver after everything a's earlier
  // events sent it. Restricted mode has no "broadcast": the marker goes to b only, and its ack
  // comes back to a after anything a's earlier events could have sent a.
  const receivers = MODE === "restricted" ? [b] : [a, b];
  const fences = receivers.map((s) => new Promise((resolve) => s.once("fence", resolve)));
  const kind = MODE === "restricted" ? "broadcast_others" : "broadcast";
  assert.equal(await a.timeout(5000).emitWithAck(kind, "room", "fence", 1), true);
  await Promise.all(fences);
  if (MODE === "restricted") {
    assert.deepEqual(got, { a: [], b: ["others"] });
  } else {
    assert.deepEqual(got, { a: ["all"], b: ["all", "others"] });
  }
});

test("other namespaces are refused", async () => {
  const s = io(URL + "/custom", { forceNew: true, reconnection: false, transports: ["websocket"] });
  open.push(s);
  const err = await new Promise((resolve) => s.once("connect_error", resolve));
  assert.equal(err.message, "Invalid namespace");
});

// One client used to be able to disconnect a whole room by broadcasting an event named like a
// protocol event (socket.io-client treats "disconnect" or "connect_error" from the server as a
// parse error and drops the connection). Every reserved name is refused with an ack error and
// delivers nothing; a marker broadcast sent afterwards by the same client arrives (per-sender
// order), which proves the refused ones were never delivered ahead of it.
const RESERVED = ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"];
for (const transport of ["websocket", "polling"]) {
  test(`reserved event names are refused and deliver nothing (${transport})`, async () => {
    if (MODE === "restricted") return;
    const mk = () =>
      new Promise((resolve, reject) => {
        const s = io(URL, { forceNew: true, reconnection: false, transports: [transport] });
        open.push(s);
        s.once("connect", () => resolve(s));
        s.once("connect_error", reject);
      });
    const [a, b] = [await mk(), await mk()];
    const room = `reserved-${transport}`;
    for (const s of [a, b]) assert.equal(await s.timeout(5000).emitWithAck("join", room), true);
    const seen = [];
    b.onAny((ev, ...args) => seen.push([ev, ...args]));
    let dropped = null;
    b.on("disconnect", (reason) => (dropped = reason));
    for (const name of RESERVED) {
      for (const kind of ["broadcast", "broadcast_others"]) {
        const reply = await a.timeout(5000).emitWithAck(kind, room, name, { boom: true });
        assert.deepEqual(reply, { error: "reserved event" }, `${kind} ${name}`);
      }
    }
    const marker = new Promise((resolve) => b.once("marker", resolve));
    assert.equal(await a.timeout(5000).emitWithAck("broadcast_others", room, "marker", 1), true);
    assert.equal(await marker, 1);
    assert.equal(dropped, null, "b was disconnected");
    assert.ok(b.connected);
    assert.deepEqual(seen, [["marker", 1]]);
  });
}
