"use strict";
// Dynamic namespaces (Node's parent namespaces) driven by a real
// socket.io-client, against the app of tests/dynamic.rs (2 shards):
// parent `^/dyn-\d+$` (regex) and "tenants" (predicate over name and auth).
//
//   RINGCAST_URL=http://127.0.0.1:PORT node --test tests/js/dynamic/

const test = require("node:test");
const assert = require("node:assert/strict");
const { io, Manager } = require("socket.io-client");

const URL = (process.env.RINGCAST_URL || "http://127.0.0.1:3000").replace(/\/+$/, "");
const MODE = process.env.RINGCAST_TRANSPORTS || "websocket";
const opts = MODE === "polling" ? { transports: ["polling"] } : { transports: ["websocket"] };
const open = [];
// Children persist for the server's life: fresh names for each run.
const fresh = () => `/dyn-${Math.floor(Math.random() * 1e12)}`;

function client(nsp, auth = {}) {
  const s = io(URL + nsp, { forceNew: true, reconnection: false, auth, ...opts });
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

function refused(s) {
  return new Promise((resolve, reject) => {
    s.once("connect", () => reject(new Error(`${s.nsp} connected`)));
    s.once("connect_error", (err) => resolve(err));
  });
}

// Resolves with the first `event` the socket receives.
const next = (s, event) => new Promise((resolve) => s.once(event, (...args) => resolve(args)));
// Records every `event` the socket receives.
function record(s, event) {
  const seen = [];
  s.on(event, (...args) => seen.push(args));
  return seen;
}

const ack = (s, ...args) => s.timeout(5000).emitWithAck(...args);

test.after(() => open.forEach((s) => s.disconnect()));

test("a child multiplexes with / on one connection, under its own name", async () => {
  const name = fresh();
  const m = new Manager(URL, { reconnection: false, ...opts });
  const root = m.socket("/");
  const child = m.socket(name);
  open.push(root, child);
  const hello = next(child, "hello");
  await Promise.all([connected(root), connected(child)]);
  assert.equal(child.nsp, name);
  assert.equal(root.io, child.io);
  assert.deepEqual(await hello, [name]);
  assert.equal(await ack(child, "whoami"), name);
  assert.deepEqual(await ack(child, "echo", "in child", { n: 1 }), "in child");
  assert.equal(await ack(root, "echo", "in root"), "in root");
  // Both namespaces share one Engine.IO session.
  assert.ok(m.engine && m.engine.id);
});

test("names the parent does not match are refused as invalid namespaces", async () => {
  for (const name of ["/dyn-x", "/dyn-7a", "/xdyn-7", "/dyn-"]) {
    const err = await refused(client(name));
    assert.equal(err.message, "Invalid namespace", name);
  }
});

test("the parent's middleware runs for each child", async () => {
  const err = await refused(client(fresh(), { deny: true }));
  assert.equal(err.message, "denied by the parent's middleware");
});

test("a broadcast in a child reaches that child only", async () => {
  const [a, b] = [fresh(), fresh()];
  const a1 = await connected(client(a));
  const a2 = await connected(client(a));
  const b1 = await connected(client(b));
  const rootSock = await connected(client("/"));
  const b1News = record(b1, "news");
  const rootNews = record(rootSock, "news");
  const got = next(a2, "news");
  const own = next(a1, "news");
  assert.equal(await ack(a1, "shout", "for a"), true);
  assert.deepEqual(await got, ["for a"]);
  assert.deepEqual(await own, ["for a"]);
  // b1's own broadcast is the first and only news it gets.
  const bOwn = next(b1, "news");
  assert.equal(await ack(b1, "shout", "for b"), true);
  assert.deepEqual(await bOwn, ["for b"]);
  assert.deepEqual(b1News, [["for b"]]);
  assert.deepEqual(rootNews, []);
});

test("rooms are per child", async () => {
  const [a, b] = [fresh(), fresh()];
  const a1 = await connected(client(a));
  const b1 = await connected(client(b));
  assert.equal(await ack(a1, "join", "r"), true);
  assert.equal(await ack(b1, "join", "r"), true);
  const b1Seen = record(b1, "room_news");
  const aGot = next(a1, "room_news");
  assert.equal(await ack(a1, "to_room", "r"), true);
  assert.deepEqual(await aGot, ["r"]);
  const bGot = next(b1, "room_news");
  assert.equal(await ack(b1, "to_room", "r"), true);
  assert.deepEqual(await bGot, ["r"]);
  assert.equal(b1Seen.length, 1);
});

test("the parent broadcasts to every child, not to other namespaces", async () => {
  const [a, b] = [fresh(), fresh()];
  const a1 = await connected(client(a));
  const b1 = await connected(client(b));
  const rootSock = await connected(client("/"));
  const rootSeen = record(rootSock, "all_news");
  const aGot = next(a1, "all_news");
  const bGot = next(b1, "all_news");
  const n = await ack(a1, "shout_all", "everyone");
  assert.ok(n >= 2, `children reached: ${n}`);
  assert.deepEqual(await aGot, ["everyone"]);
  assert.deepEqual(await bGot, ["everyone"]);
  // A later echo on / is answered after anything queued before it.
  assert.equal(await ack(rootSock, "echo", "x"), "x");
  assert.deepEqual(rootSeen, []);
});

test("a predicate parent decides from the name and auth", async () => {
  const tenant = `acme${Math.floor(Math.random() * 1e9)}`;
  const err = await refused(client(`/t-${tenant}`, { tenant: "someone-else" }));
  assert.equal(err.message, "Invalid namespace");
  const s = client(`/t-${tenant}`, { tenant });
  const hello = next(s, "hello");
  await connected(s);
  assert.equal(s.nsp, `/t-${tenant}`);
  assert.deepEqual(await hello, [`/t-${tenant}`]);
  assert.equal(await ack(s, "echo", "t"), "t");
});

test("an async predicate parent answers later", async () => {
  const name = `/async-${Math.floor(Math.random() * 1e12)}`;
  const err = await refused(client(name, { ok: false }));
  assert.equal(err.message, "Invalid namespace");
  const s = client(name, { ok: true });
  const hello = next(s, "hello");
  await connected(s);
  assert.equal(s.nsp, name);
  assert.deepEqual(await hello, [name]);
  assert.equal(await ack(s, "whoami"), name);
});
