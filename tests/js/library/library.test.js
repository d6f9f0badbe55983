"use strict";
// The library's application features (issue 10) driven by a real
// socket.io-client, against the app built in tests/library.rs (2 shards):
// async middleware and handlers, socket data, app state, typed arguments,
// acks as futures, onAny / onAnyOutgoing / fallback, serial event order.
//
//   RINGCAST_URL=http://127.0.0.1:PORT node --test tests/js/library/

const test = require("node:test");
const assert = require("node:assert/strict");
const { io } = require("socket.io-client");

const URL = (process.env.RINGCAST_URL || "http://127.0.0.1:3000").replace(/\/+$/, "");
const MODE = process.env.RINGCAST_TRANSPORTS || "websocket";
const opts = MODE === "polling" ? { transports: ["polling"] } : { transports: ["websocket"] };
const open = [];
const uniq = (p) => `${p}-${MODE}-${Math.random().toString(36).slice(2)}`;

function client(nsp = "/", auth = {}, answer = null) {
  const s = io(URL + nsp, { forceNew: true, reconnection: false, auth, ...opts });
  open.push(s);
  s.on("question", (...args) => {
    const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (answer && cb) cb(answer(args));
  });
  return s;
}

function connected(s) {
  return new Promise((resolve, reject) => {
    if (s.connected) return resolve(s);
    s.once("connect", () => resolve(s));
    s.once("connect_error", reject);
  });
}

const connect = (nsp, auth, answer) => connected(client(nsp, auth, answer));
const ack = (s, ...args) => s.timeout(5000).emitWithAck(...args);

// Waits on a condition the server reports (never on time alone).
async function until(check) {
  for (;;) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

test.after(() => open.forEach((s) => s.disconnect()));

test("async middleware delays only its own socket's CONNECT", async () => {
  const gate = uniq("gate");
  const slow = client("/", { gate, name: "slow" });
  let slowConnected = false;
  const slowDone = connected(slow).then(() => (slowConnected = true));
  // A second socket connects and talks while the first one's middleware
  // still waits on its gate (only this socket can open it).
  const fast = await connect("/", { name: "fast" });
  assert.deepEqual(await ack(fast, "gate_status", gate), { closed_seen: false, accepted: false });
  assert.equal(slowConnected, false);
  assert.equal(await ack(fast, "open_gate", gate), true);
  await slowDone;
  const me = await ack(slow, "whoami");
  assert.equal(me.name, "slow");
});

test("async middleware awaiting a timer, then accepting; and refusing after waiting", async () => {
  const s = await connect("/", { delay: 30, name: "timer" });
  assert.equal((await ack(s, "whoami")).name, "timer");
  const refused = client("/", { delay: 10, refuse_later: true });
  const err = await new Promise((resolve) => refused.once("connect_error", resolve));
  assert.equal(err.message, "refused after waiting");
  assert.deepEqual(err.data, { waited: true });
  const now = client("/", { refuse_now: true });
  const err2 = await new Promise((resolve) => now.once("connect_error", resolve));
  assert.equal(err2.message, "refused at once");
});

test("a client gone while its middleware waits gets no socket", async () => {
  const gate = uniq("ghost");
  const name = uniq("ghost");
  const ghost = client("/", { gate, name });
  const watcher = await connect("/", { name: "watcher" });
  // Wait until the engine session is up (the CONNECT is then pending), close it.
  await until(() => ghost.io.engine && ghost.io.engine.readyState === "open");
  ghost.io.engine.close();
  await until(async () => (await ack(watcher, "gate_status", gate)).closed_seen);
  await ack(watcher, "open_gate", gate);
  await until(async () => (await ack(watcher, "gate_status", gate)).accepted);
  const all = await ack(watcher, "fetch");
  assert.ok(!all.some((s) => s.data && s.data.name === name), JSON.stringify(all));
});

test("socket data: set in middleware, changed in handlers, reported by fetch_sockets across shards", async () => {
  const names = [uniq("a"), uniq("b"), uniq("c"), uniq("d")];
  const socks = [];
  for (const name of names) socks.push(await connect("/", { name }));
  for (const s of socks) await ack(s, "whoami");
  await ack(socks[0], "whoami");
  const all = await ack(socks[0], "fetch");
  for (const [i, name] of names.entries()) {
    const found = all.find((x) => x.id === socks[i].id);
    assert.ok(found, `socket ${name} fetched`);
    assert.equal(found.data.name, name);
    assert.equal(found.data.hits, i === 0 ? 2 : 1);
  }
});

test("async handler awaits, then acks", async () => {
  const s = await connect("/", { name: "echo" });
  assert.deepEqual(await ack(s, "slow_echo", 20, { x: [1, 2] }), [20, { x: [1, 2] }]);
});

test("concurrent order: a waiting handler does not hold back the socket's next event", async () => {
  const s = await connect("/", { name: "conc" });
  const gate = uniq("g");
  const waiting = ack(s, "wait_gate", gate);
  // The same socket opens the gate with its next event.
  assert.equal(await ack(s, "open_gate", gate), true);
  assert.equal(await waiting, "opened");
});

test("concurrent order: async handlers of one socket start in arrival order", async () => {
  const s = await connect("/", { name: "marks" });
  for (let i = 0; i < 10; i++) s.emit("mark", i);
  // A sync handler may run before the spawned tasks did: wait until all started.
  let me;
  await until(async () => (me = await ack(s, "whoami")).marks.length === 10);
  assert.deepEqual(me.marks, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test("serial order: a slow handler holds back the next events, connect handler first", async () => {
  const s = await connect("/serial");
  s.emit("slow", 40);
  s.emit("fast");
  s.emit("slow", 1);
  s.emit("fast");
  assert.deepEqual(await ack(s, "log"), ["connected", "slow40", "fast", "slow1", "fast"]);
});

test("typed arguments, typed ack, malformed payloads", async () => {
  const s = await connect("/", { name: "typed" });
  const before = await ack(s, "counters");
  assert.equal(await ack(s, "add", 2, 40), 42);
  assert.equal(await ack(s, "greet", { to: "you", times: 2 }), "hello you from typedhello you from typed");
  assert.deepEqual(await ack(s, "bin_sizes", "b", Buffer.from([1, 2, 3])), { label: "b", sizes: [3] });
  // Malformed with an ack: the error, the handler never runs.
  const bad = await ack(s, "add", "two", 40);
  assert.equal(bad.error, "invalid payload");
  assert.match(bad.message, /invalid type/);
  const bad2 = await ack(s, "greet", { to: 1 });
  assert.equal(bad2.error, "invalid payload");
  // Malformed without an ack: dropped and counted.
  s.emit("add", { not: "numbers" });
  await until(async () => (await ack(s, "counters")).malformed > before.malformed);
  const after = await ack(s, "counters");
  assert.equal(after.adds, before.adds + 1);
  assert.ok(s.connected);
});

test("emit_with_ack future: reply without timeout, reply and expiry with a timeout", async () => {
  const s = await connect("/", { name: "asked" }, (args) => ({ got: args }));
  assert.deepEqual(await ack(s, "ask", null), { ok: true, reply: [{ got: [1, "two"] }] });
  assert.deepEqual(await ack(s, "ask", 1000), { ok: true, reply: [{ got: [1, "two"] }] });
  const silent = await connect("/", { name: "silent" });
  assert.deepEqual(await ack(silent, "ask", 50), { ok: false, error: "operation has timed out" });
});

test("broadcast emit_with_ack future: every reply across shards; timeout keeps the replies", async () => {
  const room = uniq("room");
  const answering = [];
  for (let i = 0; i < 4; i++) answering.push(await connect("/", { name: `r${i}` }, () => i));
  for (const c of answering) await ack(c, "join", room);
  const r = await ack(answering[0], "ask_room", room, 2000);
  assert.equal(r.ok, true);
  assert.deepEqual([...r.replies].sort(), [0, 1, 2, 3]);
  const silent = await connect("/", { name: "mute" });
  await ack(silent, "join", room);
  const t = await ack(answering[0], "ask_room", room, 100);
  assert.equal(t.ok, false);
  assert.equal(t.error, "operation has timed out");
  assert.deepEqual([...t.replies].sort(), [0, 1, 2, 3]);
});

test("on_any sees handled events; fallback answers unhandled ones; on_any_outgoing sees emits", async () => {
  const s = await connect("/", { name: "any" }, () => "yes");
  await ack(s, "add", 1, 2);
  assert.equal(await ack(s, "nothing_here", 1), "unhandled:nothing_here");
  await ack(s, "ask", 500);
  const me = await ack(s, "whoami");
  assert.deepEqual(me.seen, ["add", "nothing_here", "ask", "whoami"]);
  assert.deepEqual(me.sent, ["question"]);
});

test("future emit forms refuse reserved names", async () => {
  const s = await connect("/", { name: "reserved" });
  for (const name of ["connect", "disconnect", "newListener"]) {
    const r = await ack(s, "emit_reserved_async", name);
    assert.deepEqual(r, Array(2).fill(`"${name}" is a reserved event name`));
  }
  assert.deepEqual(await ack(s, "emit_reserved_async", "fine"), [null, null]);
});

test("async disconnect handler runs with the socket's data", async () => {
  const name = uniq("leaver");
  const s = await connect("/", { name });
  const watcher = await connect("/", { name: "w2" });
  s.disconnect();
  const gate = `gone:${name}:client namespace disconnect`;
  // wait_gate answers once the disconnect handler opened that gate.
  assert.equal(await ack(watcher, "wait_gate", gate), "opened");
});
