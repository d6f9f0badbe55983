"use strict";
// Connection state recovery on the conformance app itself (conformance part
// 2 sections 8 and 9: `--recovery --redis-url`, `emit_later`), driven by
// socket.io-client 4.8 against two nodes A and B sharing one redis-server
// (tests/recovery.rs starts them). The client under test reaches them
// through a proxy whose target flips. Skipped unless RINGCAST_APP_A_URL is
// set.
//
//   RINGCAST_APP_A_URL=http://127.0.0.1:P1 RINGCAST_APP_B_URL=http://127.0.0.1:P2 \
//     node --test tests/js/recovery/app.test.js

const test = require("node:test");
const assert = require("node:assert/strict");
const { Manager } = require("socket.io-client");
const { opts, open, client, once, connected, kill, until, proxy } = require("./common");

const env = process.env;
const skip = !env.RINGCAST_APP_A_URL && "RINGCAST_APP_A_URL not set";
const [A, B] = [env.RINGCAST_APP_A_URL, env.RINGCAST_APP_B_URL];

// Connected, with its `auth` emission (section 6.1) received: its offset
// is what a later recovery names.
async function ready(s) {
  const auth = once(s, "auth");
  await connected(s);
  const [, offset] = await auth;
  assert.equal(typeof offset, "string", "the auth emission carries an offset");
  return s;
}

// A watcher in room `r` on `url`, recording the `news` it gets.
async function watcher(url) {
  const w = await ready(client(url));
  w.news = [];
  w.on("news", (n) => w.news.push(n));
  assert.equal(await w.emitWithAck("join", "r"), true);
  return w;
}

// `broadcast`(r, news, n) has no ack: the watchers of both nodes seeing it
// means every shard of both nodes handled it.
async function broadcast(from, ws, n) {
  from.emit("broadcast", "r", "news", n);
  for (const w of ws) await until(w, "news", () => w.news.includes(n));
}

let p;
let wA;
let wB;

test.before(async () => {
  if (skip) return;
  p = await proxy(A);
  wA = await watcher(A);
  wB = await watcher(B);
});

test.after(() => {
  if (p) p.close();
});

test("a client dropped on A recovers on B: /, /custom, emit_later fired by A with binary, broadcasts of both nodes, not its own broadcast_others", { skip }, async () => {
  p.flip(A);
  const m = new Manager(p.url, { reconnection: false, ...opts });
  const root = m.socket("/");
  const custom = m.socket("/custom");
  open.push(root, custom);
  await Promise.all([ready(root), ready(custom)]);
  assert.equal(typeof custom._pid, "string", "the /custom CONNECT reply carries a pid");
  assert.equal(await root.emitWithAck("join", "r"), true);
  const [id, customId] = [root.id, custom.id];
  const news = [];
  root.on("news", (n) => news.push(n));
  const late = [];
  root.on("late", (...args) => late.push(args));
  // Fired by A's timer, to the session, most likely while it is away;
  // exactly once in every case.
  assert.equal(await root.emitWithAck("emit_later", "late", 200, "x", Buffer.from([1, 2, 3])), true);
  // Stored after the client's last offset but excluding it (its own
  // broadcast_others): the replay applies the except filter.
  root.emit("broadcast_others", "r", "news", "mine");
  for (const w of [wA, wB]) await until(w, "news", () => w.news.includes("mine"));
  const customGone = once(custom, "disconnect");
  await Promise.all([kill(root), customGone]);
  await broadcast(wA, [wA, wB], "a1");
  await broadcast(wB, [wA, wB], "b1");
  await broadcast(wA, [wA, wB], "a2");
  p.flip(B);
  root.connect();
  custom.connect();
  await Promise.all([connected(root), connected(custom)]);
  assert.equal(root.recovered, true);
  assert.equal(root.id, id);
  assert.equal(custom.recovered, true);
  assert.equal(custom.id, customId);
  // Live after the replay: everything before it arrived once.
  await broadcast(wB, [wA, wB], "b2");
  await until(root, "news", () => news.includes("b2"));
  await until(root, "late", () => late.length > 0);
  assert.deepEqual([...news].sort(), ["a1", "a2", "b1", "b2"]);
  assert.deepEqual(news.filter((n) => n[0] === "a"), ["a1", "a2"], "A's packets in order");
  assert.deepEqual(news.filter((n) => n[0] === "b"), ["b1", "b2"], "B's packets in order");
  assert.equal(late.length, 1);
  const [x, bin, offset] = late[0];
  assert.equal(x, "x");
  assert.deepEqual([...bin], [1, 2, 3], "binary kept");
  assert.equal(typeof offset, "string");
  root.close();
});

test("a server-side disconnect is not kept: io server disconnect, a new session on reconnect", { skip }, async () => {
  p.flip(A);
  const c = await ready(client(p.url));
  assert.equal(await c.emitWithAck("join", "kick-me"), true);
  const id = c.id;
  const gone = once(c, "disconnect");
  assert.equal(await wB.emitWithAck("disconnect_sockets", "kick-me"), true);
  assert.deepEqual((await gone)[0], "io server disconnect");
  c.connect();
  await connected(c);
  assert.equal(c.recovered, false);
  assert.notEqual(c.id, id);
  c.close();
});

test("a client disconnect is not kept: a new session on reconnect", { skip }, async () => {
  p.flip(A);
  const c = await ready(client(p.url));
  const id = c.id;
  c.disconnect();
  c.connect();
  await connected(c);
  assert.equal(c.recovered, false);
  assert.notEqual(c.id, id);
  c.close();
});
