"use strict";
// Connection state recovery across ringcast nodes (conformance part 2, 8.7),
// driven by socket.io-client 4.8 against three servers of tests/recovery.rs
// sharing one redis-server: A and B keep sessions 2 minutes, S 1 ms. The
// client under test talks to a TCP proxy of this file whose target flips, so
// the same Socket object reconnects to another node as it would behind a
// load balancer. Skipped unless RINGCAST_B_URL is set.
//
//   RINGCAST_A_URL=http://127.0.0.1:P1 RINGCAST_B_URL=http://127.0.0.1:P2 \
//   RINGCAST_S_URL=http://127.0.0.1:P3 RINGCAST_REDIS_PORT=P4 \
//     node --test tests/js/recovery/cluster.test.js

const test = require("node:test");
const assert = require("node:assert/strict");
const { execFile } = require("node:child_process");
const { client, once, connected, kill, until, proxy } = require("./common");

const env = process.env;
const skip = !env.RINGCAST_B_URL && "RINGCAST_B_URL not set";
// RINGCAST_REDIS_DOWN=1 runs only the test that stops Redis (its own run).
const down = !!env.RINGCAST_REDIS_DOWN;
const skipUp = skip || (down && "Redis is stopped in this run");
const skipDown = skip || (!down && "RINGCAST_REDIS_DOWN not set");
const [A, B, S] = [env.RINGCAST_A_URL, env.RINGCAST_B_URL, env.RINGCAST_S_URL];

async function ready(url, auth) {
  const s = client(url, auth);
  const hello = once(s, "hello");
  await connected(s);
  await hello;
  return s;
}

function redis(...args) {
  return new Promise((resolve, reject) =>
    execFile("redis-cli", ["-p", env.RINGCAST_REDIS_PORT, ...args], (e, out) =>
      e ? reject(e) : resolve(out.trim()),
    ),
  );
}

// Polls Redis until `EXISTS ringcast:session:<pid>` is `want` (the owner
// publishes the session right after the disconnect handlers ran).
async function sessionExists(pid, want) {
  const key = `ringcast:session:${pid}`;
  while ((await redis("EXISTS", key)) !== want) await new Promise((r) => setImmediate(r));
}

// Watches `gone` notices (every node broadcasts them to room `watchers`).
function watcher(w) {
  const gone = new Set();
  w.on("gone", ([id]) => gone.add(id));
  return (ids) => until(w, "gone", () => ids.every((i) => gone.has(i)));
}

let p;
let wA;
let wB;
let goneAll;
const firedOnA = new Set(); // emit_later timers that fired (on any node)
const onA = []; // every `news` to room r, in A's order
const onB = []; // and in B's

test.before(async () => {
  if (skip) return;
  p = await proxy(A);
  wA = await ready(A);
  assert.equal(await wA.emitWithAck("join", "watchers"), true);
  goneAll = watcher(wA);
  wA.on("fired", (n) => firedOnA.add(n));
  assert.equal(await wA.emitWithAck("join", "r"), true);
  wA.on("news", (n) => onA.push(n));
  wB = await ready(B);
  assert.equal(await wB.emitWithAck("join", "r"), true);
  wB.on("news", (n) => onB.push(n));
});

// What recovery promises: every packet exactly once, each origin's packets
// in the order sent. Packets of two origins may interleave differently on
// the client's shard than on the watchers' (each node runs two shards; the
// bridge and the mesh are separate FIFOs), as on any two receivers.
function assertDelivered(news, sent) {
  assert.deepEqual([...news].sort(), [...sent].sort());
  for (const o of ["A", "B"]) {
    const mine = (l) => l.filter((n) => originOf.get(n) === o);
    assert.deepEqual(mine(news), mine(sent), `packets of ${o} in order`);
  }
}

test.after(() => {
  if (p) p.close();
});

// Which watcher sent each shouted packet: its origin (one socket, so one
// shard of one node).
const originOf = new Map();

// Shouts `n` to `room` from `w` and waits until A and B have seen it.
async function shout(w, room, n) {
  originOf.set(n, w === wA ? "A" : "B");
  assert.equal(await w.emitWithAck("shout", room, n), true);
  if (room === "r" || room === "") {
    await until(wA, "news", () => onA.includes(n));
    await until(wB, "news", () => onB.includes(n));
  }
}

// A client on `from` (through the proxy), in room r, killed; packets from
// both nodes meanwhile (and an `emit_later` of the old node to the
// session); reconnected to `to`.
async function roundTrip(from, to, tag) {
  p.flip(from);
  const c = await ready(p.url, { tag });
  assert.equal(await c.emitWithAck("join", "r"), true);
  const id = c.id;
  const news = [];
  // This test's packets only: shout() waits for the watchers, each on one
  // shard of its node, so the previous test's live packets may still reach
  // c after it joined r on another shard.
  c.on("news", (n, offset) => {
    assert.equal(typeof offset, "string");
    if (n.startsWith(`${tag}-`)) news.push(n);
  });
  // Received before the drop: its offset was issued by node B.
  const sent = [`${tag}-before`];
  await shout(wB, "r", sent[0]);
  await until(c, "news", () => news.length === 1);
  // Fired by the old node's timer, to the session, most likely while the
  // client is away (else live before the drop, or after the recovery):
  // exactly once in every case.
  const later = `${tag}-later`;
  const fired = until(wA, "fired", () => firedOnA.has(later));
  assert.equal(await c.emitWithAck("emit_later", "news", 300, later), true);
  await kill(c);
  await goneAll([id]);
  await sessionExists(c._pid, "1");
  for (let i = 0; i < 3; i++) {
    for (const [w, room, n, mine] of [
      [wA, "r", `${tag}-a${i}`, true],
      [wB, "r", `${tag}-b${i}`, true],
      [wA, "", `${tag}-all${i}`, true],
      [wB, "elsewhere", `${tag}-no${i}`, false],
    ]) {
      await shout(w, room, n);
      if (mine) sent.push(n);
    }
  }
  await fired;
  p.flip(to);
  const hello = once(c, "hello");
  c.connect();
  await connected(c);
  assert.equal(c.recovered, true);
  assert.equal(c.id, id);
  assert.equal((await hello)[0].recovered, true);
  const me = await c.emitWithAck("whoami");
  assert.equal(me.id, id);
  assert.equal(me.recovered, true);
  assert.deepEqual(me.rooms.sort(), [id, "r"].sort());
  assert.deepEqual(me.data, { tag });
  // Live after the replay, from both nodes: everything before arrived once.
  await shout(wA, "r", `${tag}-liveA`);
  await shout(wB, "r", `${tag}-liveB`);
  sent.push(`${tag}-liveA`, `${tag}-liveB`);
  await until(c, "news", () => news.length >= sent.length + 1);
  assert.deepEqual(
    news.filter((n) => n === later),
    [later],
  );
  assertDelivered(
    news.filter((n) => n !== later),
    sent,
  );
  await sessionExists(c._pid, "0");
  c.close();
}

test("a client dropped on node A recovers on node B, missed packets of both nodes exactly once in order", { skip: skipUp }, async () => {
  await roundTrip(A, B, "ab");
});

test("recovery on the same node still works with Redis on", { skip: skipUp }, async () => {
  await roundTrip(A, A, "aa");
});

// A → B → A: the second recovery, on the node the pid names, must use the
// session as B left it (a room joined on B, B's packets), not A's own copy
// from the first drop.
test("A to B to A: the pid's node recovers the session as the last node left it", { skip: skipUp }, async () => {
  p.flip(A);
  const c = await ready(p.url, { tag: "aba" });
  assert.equal(await c.emitWithAck("join", "r"), true);
  const id = c.id;
  const news = [];
  // The previous test's live packets may still reach c (see roundTrip).
  c.on("news", (n) => n.startsWith("aba-") && news.push(n));
  await kill(c);
  await goneAll([id]);
  await sessionExists(c._pid, "1");
  await shout(wA, "r", "aba-1");
  p.flip(B);
  c.connect();
  await connected(c);
  assert.equal(c.recovered, true);
  await until(c, "news", () => news.includes("aba-1"));
  // On B: a room A never saw this socket join, and a packet through it.
  assert.equal(await c.emitWithAck("join", "r2"), true);
  await shout(wB, "r", "aba-2");
  await until(c, "news", () => news.includes("aba-2"));
  await kill(c);
  // B publishes the session again once its disconnect handlers ran.
  await sessionExists(c._pid, "1");
  await shout(wB, "r2", "aba-3");
  await shout(wA, "r", "aba-4");
  p.flip(A);
  c.connect();
  await connected(c);
  assert.equal(c.recovered, true);
  assert.equal(c.id, id);
  const me = await c.emitWithAck("whoami");
  assert.deepEqual(me.rooms.sort(), [id, "r", "r2"].sort());
  await shout(wA, "r", "aba-live");
  await until(c, "news", () => news.includes("aba-live"));
  assertDelivered(news, ["aba-1", "aba-2", "aba-3", "aba-4", "aba-live"]);
  await sessionExists(c._pid, "0");
  c.close();
});

test("a session expired in Redis fails cleanly on another node", { skip: skipUp }, async () => {
  p.flip(S);
  const c = await ready(p.url, { tag: "x" });
  assert.equal(await c.emitWithAck("join", "r"), true);
  const id = c.id;
  const news = [];
  // The previous test's live packets may still reach c (see roundTrip).
  c.on("news", (n) => n.startsWith("x-") && news.push(n));
  await shout(wB, "r", "x-before");
  await until(c, "news", () => news.length === 1);
  // A watcher on S, so that a publish from S follows the session's SET.
  const wS = await ready(S);
  await kill(c);
  await goneAll([id]);
  await shout(wS, "r", "x-marker");
  // Published after the SET (one connection, in order): the SET ran, and
  // the 1 ms session is gone once EXISTS says so.
  await sessionExists(c._pid, "0");
  await shout(wB, "r", "x-missed");
  p.flip(B);
  c.connect();
  await connected(c);
  assert.equal(c.recovered, false);
  assert.notEqual(c.id, id);
  const me = await c.emitWithAck("whoami");
  assert.equal(me.recovered, false);
  assert.deepEqual(me.rooms, [c.id]);
  assert.deepEqual(me.data, { tag: "x" });
  // A room of its own: x-missed, acked once wB's shard queued it, may
  // still reach B's other shard after c joined r there.
  assert.equal(await c.emitWithAck("join", "x-r"), true);
  await shout(wB, "x-r", "x-after");
  await until(c, "news", () => news.length >= 2);
  assert.deepEqual(news, ["x-before", "x-after"]);
  c.close();
});

test("Redis unreachable: the other node connects the client as new, no error", { skip: skipDown }, async () => {
  p.flip(A);
  const c = await ready(p.url, { tag: "down" });
  assert.equal(await c.emitWithAck("join", "r"), true);
  const id = c.id;
  const news = [];
  c.on("news", (n) => news.push(n));
  await shout(wB, "r", "down-before");
  await until(c, "news", () => news.length === 1);
  await kill(c);
  await goneAll([id]);
  await sessionExists(c._pid, "1");
  // The connection drops as Redis stops: redis-cli may report it.
  await redis("SHUTDOWN", "NOSAVE").catch(() => {});
  p.flip(B);
  c.connect();
  await connected(c);
  assert.equal(c.recovered, false);
  assert.notEqual(c.id, id);
  const me = await c.emitWithAck("whoami");
  assert.equal(me.recovered, false);
  assert.deepEqual(me.data, { tag: "down" });
  c.close();
});
