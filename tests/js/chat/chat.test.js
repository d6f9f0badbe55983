"use strict";
// The chat example (examples/chat.rs, started by tests/chat.rs) with real
// socket.io clients.
//
//   RINGCAST_URL=http://127.0.0.1:PORT node --test tests/js/chat/

const test = require("node:test");
const assert = require("node:assert/strict");
const { io } = require("socket.io-client");

const URL = (process.env.RINGCAST_URL || "http://127.0.0.1:3000").replace(/\/+$/, "");
const open = [];

function client(nick) {
  const s = io(URL, { forceNew: true, reconnection: false, auth: { nick }, transports: ["websocket"] });
  open.push(s);
  return s;
}

function connect(nick) {
  const s = client(nick);
  return new Promise((resolve, reject) => {
    s.once("connect", () => resolve(s));
    s.once("connect_error", reject);
  });
}

const refused = (nick) =>
  new Promise((resolve) => client(nick).once("connect_error", (e) => resolve(e.message)));
const ack = (s, ...args) => s.timeout(5000).emitWithAck(...args);
const next = (s, event) => new Promise((resolve) => s.once(event, resolve));

test.after(() => open.forEach((s) => s.disconnect()));

test("a nick is required and unique; a freed nick can be taken again", async () => {
  assert.equal(await refused(""), "nick required");
  const alice = await connect("alice");
  assert.equal(await refused("alice"), "nick taken");
  alice.disconnect();
  // Freed by the disconnect handler: wait until the name is accepted again.
  for (;;) {
    const s = client("alice");
    const ok = await new Promise((resolve) => {
      s.once("connect", () => resolve(true));
      s.once("connect_error", () => resolve(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 10));
  }
});

test("rooms, messages, history and who", async () => {
  const bob = await connect("bob");
  const carol = await connect("carol");
  assert.deepEqual(await ack(bob, "join", "lobby"), []);
  const joined = next(bob, "joined");
  assert.deepEqual(await ack(carol, "join", "lobby"), []);
  assert.deepEqual(await joined, { nick: "carol" });

  const got = next(carol, "message");
  const r = await ack(bob, "say", "hello");
  assert.equal(r.ok, true);
  const m = await got;
  assert.equal(m.nick, "bob");
  assert.equal(m.text, "hello");
  assert.equal(m.ts, r.ts);

  assert.deepEqual([...(await ack(carol, "who"))].sort(), ["bob", "carol"]);

  // A newcomer gets the history.
  const dave = await connect("dave");
  const history = await ack(dave, "join", "lobby");
  assert.deepEqual(history.map((x) => [x.nick, x.text]), [["bob", "hello"]]);

  // Leaving for another room tells the old one.
  const left = next(bob, "left");
  await ack(carol, "join", "kitchen");
  assert.deepEqual(await left, { nick: "carol" });
  assert.deepEqual([...(await ack(bob, "who"))].sort(), ["bob", "dave"]);
});

test("typed payloads: a wrong type gets the invalid payload ack; no room yet is an error", async () => {
  const erin = await connect("erin");
  assert.deepEqual(await ack(erin, "say", "anyone?"), { ok: false, error: "join a room first" });
  const bad = await ack(erin, "join", { not: "a room" });
  assert.equal(bad.error, "invalid payload");
  assert.ok(erin.connected);
});
