#!/usr/bin/env node
// Cluster scenarios driven with the real socket.io-client against every node of a cluster
// (ringcast conformance example with --redis-url, or node-peer.js), started by tests/cluster.rs.
//
//   NODES=http://127.0.0.1:3001,http://127.0.0.1:3002 NAMES=a,b REDIS_URL=redis://... \
//     node scenario.js <broadcast|binary|requests|acks|emitter|outage>
//
// Exits 0 when every check passed; prints the first failure and exits 1 otherwise.
"use strict";

const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const { io } = require("socket.io-client");
const { createClient, createCluster } = require("redis");

const NODES = (process.env.NODES ?? "").split(",").filter(Boolean);
const NAMES = (process.env.NAMES ?? "").split(",");
const REDIS_URL = process.env.REDIS_URL;
// SHARDED=1: the nodes use Redis 7 sharded pub/sub (createShardedAdapter / REDIS_SHARDED=1)
const SHARDED = process.env.SHARDED === "1";
// REDIS_CLUSTER=url1,url2,...: every node of a Redis Cluster (counts are summed over them, as the
// Node adapter does with a cluster client)
const CLUSTER = (process.env.REDIS_CLUSTER ?? "").split(",").filter(Boolean);
const MODE = process.env.SUBSCRIPTION_MODE || "dynamic";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const clients = [];

function log(...a) {
  console.log(`[${new Date().toISOString().slice(11, 23)}]`, ...a);
}

async function redisClient() {
  const c = createClient({
    url: REDIS_URL,
    socket: { reconnectStrategy: (n) => Math.min(n * 50, 300) },
  });
  c.on("error", () => {});
  await c.connect();
  return c;
}

/** One plain client per Redis node (one for a single server). */
async function nodeClients() {
  const urls = CLUSTER.length ? CLUSTER : [REDIS_URL];
  return Promise.all(urls.map(async (url) => {
    const c = createClient({ url, socket: { reconnectStrategy: (n) => Math.min(n * 50, 300) } });
    c.on("error", () => {});
    await c.connect();
    c.port = Number(new URL(url).port);
    return c;
  }));
}

/** Subscribers of `channel` (sharded: SHARDNUMSUB), summed over every node. */
async function countSubs(clients, channel, sharded = SHARDED) {
  let sum = 0;
  for (const c of clients) {
    const r = sharded ? await c.pubSubShardNumSub(channel) : await c.pubSubNumSub(channel);
    sum += r[channel];
  }
  return sum;
}

/** Shard channels `socket.io#/#<x>#` whose `<x>` is neither a socket id (20 characters) nor one
 * of `rooms`: the adapter response channels (one per node; the uid format is the node's own). */
async function responseChannels(cs, rooms) {
  let n = 0;
  for (const c of cs) {
    for (const ch of await c.sendCommand(["PUBSUB", "SHARDCHANNELS", "socket.io#/#?*#"])) {
      const x = ch.slice("socket.io#/#".length, -1);
      if (x.length !== 20 && !rooms.includes(x)) n++;
    }
  }
  return n;
}

/** Connections holding a pattern subscription (CLIENT LIST `psub=`), summed over every node. */
async function patternSubscribers(cs) {
  let n = 0;
  for (const c of cs) {
    const list = await c.sendCommand(["CLIENT", "LIST"]);
    n += list.split("\n").filter((l) => /\bpsub=[1-9]/.test(l)).length;
  }
  return n;
}

/** Waits until `n` servers are ready to take part, i.e. hold every subscription a scenario
 * depends on (a node is up, and accepts clients, before its Redis subscriptions are confirmed):
 * - classic: the request channel of `/` (NUMSUB, what Node counts servers with), and the
 *   broadcast pattern `socket.io#/#*` (CLIENT LIST: one connection with `psub` per server;
 *   NUMSUB alone does not imply it);
 * - sharded: the namespace channel (SHARDNUMSUB) and each server's response channel (a node
 *   SSUBSCRIBEs them one after the other; a request answered before the requester holds its
 *   response channel is lost). `rooms`: room channels that may exist already (not responses).
 */
async function waitServers(n, timeoutMs = 20000, rooms = []) {
  if (!REDIS_URL) return; // a single node without Redis
  const cs = await nodeClients();
  const end = Date.now() + timeoutMs;
  const channel = SHARDED ? "socket.io#/#" : "socket.io-request#/#";
  let last;
  try {
    while (Date.now() < end) {
      try {
        const subs = await countSubs(cs, channel);
        const other = SHARDED ? await responseChannels(cs, rooms) : await patternSubscribers(cs);
        last = `${subs} / ${other}`;
        if (subs === n && other === n) return;
      } catch (e) {
        last = e.message;
      }
      await sleep(50);
    }
  } finally {
    for (const c of cs) await c.disconnect().catch(() => {});
  }
  const what = SHARDED ? "SHARDNUMSUB / response channels" : "NUMSUB / PSUBSCRIBEd connections";
  throw new Error(`${channel}: ${what} is ${last}, expected ${n} / ${n}`);
}

/** Sharded pub/sub, subscriptionMode dynamic or dynamic-private: waits until the channel of
 * `room` is SSUBSCRIBEd by every node that has one of `members`. A node acknowledges a join
 * before Redis confirmed the room channel's SSUBSCRIBE (ringcast and Node's sharded adapter
 * alike), and a broadcast published on the room channel before that does not reach the node.
 * Nothing to wait for otherwise: classic mode has one pattern per namespace (waitServers), static
 * mode and (dynamic) socket-id rooms use the namespace channel. */
async function waitRoom(room, members, timeoutMs = 20000) {
  if (!SHARDED || MODE === "static") return;
  if (MODE === "dynamic" && room.length === 20) return;
  const want = new Set(members.map((s) => s.node)).size;
  const ch = `socket.io#/#${room}#`;
  const cs = await nodeClients();
  try {
    await until(`${ch} held by ${want} nodes`, async () => (await countSubs(cs, ch, true)) === want, timeoutMs);
  } finally {
    for (const c of cs) await c.disconnect().catch(() => {});
  }
}

/** A connected client on node `i`, recording every event it receives. */
async function connect(i, opts = {}, nsp = "") {
  const s = io(NODES[i] + nsp, { transports: ["websocket"], forceNew: true, reconnection: false, ...opts });
  s.node = i;
  s.got = [];
  s.onAny((event, ...args) => s.got.push({ event, args }));
  clients.push(s);
  await new Promise((resolve, reject) => {
    s.once("connect", resolve);
    s.once("connect_error", reject);
  });
  return s;
}

function call(s, event, ...args) {
  return s.timeout(8000).emitWithAck(event, ...args);
}

function received(s, event) {
  return s.got.filter((g) => g.event === event);
}

/** Polls `pred` until it holds. The deadline only bounds how long a failure takes to show (the
 * machine may be loaded): never a claim about speed. */
async function until(what, pred, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await pred()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Resets every client's record. */
function clear(list) {
  for (const s of list) s.got = [];
}

// ---------------------------------------------------------------------------------------------

async function broadcast() {
  await waitServers(NODES.length);
  const members = [];
  const others = [];
  for (let i = 0; i < NODES.length; i++) {
    for (let k = 0; k < 2; k++) {
      const s = await connect(i);
      await call(s, "join", "r1");
      members.push(s);
    }
    others.push(await connect(i));
  }
  await waitRoom("r1", members);
  for (let i = 0; i < NODES.length; i++) {
    const sender = members.find((s) => s.node === i);
    // io.to(room).emit: every member on every node, exactly once
    clear([...members, ...others]);
    sender.emit("broadcast", "r1", "hello", { from: i, s: "é" });
    await until(`hello from node ${i} at every member`, () =>
      members.every((s) => received(s, "hello").length >= 1),
    );
    await sleep(300);
    for (const s of members) {
      assert.deepEqual(received(s, "hello").map((g) => g.args), [[{ from: i, s: "é" }]],
        `member on node ${s.node} got hello from node ${i} exactly once`);
    }
    for (const s of others) assert.equal(received(s, "hello").length, 0, "non-member got it");
    // socket.to(room).emit: the sender excluded
    clear([...members, ...others]);
    sender.emit("broadcast_others", "r1", "hi", i);
    await until(`hi from node ${i}`, () =>
      members.every((s) => s === sender || received(s, "hi").length >= 1),
    );
    await sleep(300);
    for (const s of members) {
      assert.equal(received(s, "hi").length, s === sender ? 0 : 1, `hi on node ${s.node}`);
    }
    // to all (no room): every client of every node
    clear([...members, ...others]);
    sender.emit("broadcast", "", "all", i);
    // an empty room name is a room like any other: nobody is in it
    await sleep(300);
    for (const s of [...members, ...others]) assert.equal(received(s, "all").length, 0);
  }
  log("broadcast: ok");
}

async function binary() {
  await waitServers(NODES.length);
  const members = [];
  for (let i = 0; i < NODES.length; i++) {
    for (let k = 0; k < 2; k++) {
      const s = await connect(i);
      await call(s, "join", "bin");
      members.push(s);
    }
  }
  await waitRoom("bin", members);
  // every msgpack bin size class: bin8 (< 256), bin16 (< 65536), bin32
  const sizes = [0, 1, 31, 32, 255, 256, 65535, 65536, 200000];
  for (let i = 0; i < NODES.length; i++) {
    const sender = members.find((s) => s.node === i);
    const bufs = sizes.map((n) => {
      const b = Buffer.alloc(n);
      for (let j = 0; j < n; j++) b[j] = (j * 31 + i * 7 + n) & 0xff;
      return b;
    });
    clear(members);
    sender.emit("broadcast", "bin", "blob", { from: i, bufs, nested: { one: bufs[3] } });
    await until(`blob from node ${i}`, () =>
      members.every((s) => received(s, "blob").length >= 1),
    );
    await sleep(200);
    for (const s of members) {
      const got = received(s, "blob");
      assert.equal(got.length, 1, `blob from ${i} exactly once on node ${s.node}`);
      const d = got[0].args[0];
      assert.equal(d.from, i);
      assert.equal(d.bufs.length, sizes.length);
      d.bufs.forEach((b, j) => {
        assert.ok(Buffer.isBuffer(b), `size ${sizes[j]} is binary on node ${s.node}`);
        assert.ok(b.equals(bufs[j]), `size ${sizes[j]} byte-identical on node ${s.node} from ${i}`);
      });
      assert.ok(Buffer.from(d.nested.one).equals(bufs[3]));
    }
  }
  log("binary: ok");
}

async function fetchIds(s, room) {
  const r = await call(s, "fetch_sockets", room);
  assert.ok(Array.isArray(r), `fetch_sockets answered ${JSON.stringify(r)}`);
  return r;
}

async function requests() {
  await waitServers(NODES.length);
  const members = [];
  const others = [];
  for (let i = 0; i < NODES.length; i++) {
    const s = await connect(i);
    await call(s, "join", "fr");
    members.push(s);
    others.push(await connect(i));
  }
  const ids = members.map((s) => s.id).sort();
  for (let i = 0; i < NODES.length; i++) {
    const asker = others[i];
    // fetchSockets
    const r = await fetchIds(asker, "fr");
    assert.deepEqual(r.map((x) => x.id).sort(), ids, `fetch_sockets from node ${i}`);
    for (const x of r) {
      assert.deepEqual([...x.rooms].sort(), [x.id, "fr"].sort(), `rooms of ${x.id}`);
    }
    const single = await fetchIds(asker, members[0].id);
    assert.deepEqual(single.map((x) => x.id), [members[0].id], "fetch by socket id");
    // socketsJoin
    const room = `sj${i}`;
    assert.equal(await call(asker, "sockets_join", "fr", room), true);
    await until(`sockets_join from node ${i}`, async () =>
      (await fetchIds(asker, room)).map((x) => x.id).sort().join() === ids.join());
    // socketsLeave
    assert.equal(await call(asker, "sockets_leave", "fr", room), true);
    await until(`sockets_leave from node ${i}`, async () =>
      (await fetchIds(asker, room)).length === 0);
    // serverSideEmit: the other nodes only
    clear([...members, ...others]);
    assert.equal(await call(asker, "server_side_emit", "ping_all", { from: i }), true);
    await until(`server_side_seen from node ${i}`, () =>
      [...members, ...others].every((s) => s.node === i || received(s, "server_side_seen").length >= 1));
    await sleep(300);
    for (const s of [...members, ...others]) {
      const got = received(s, "server_side_seen");
      if (s.node === i) {
        assert.equal(got.length, 0, `the sender node ${i} must not see its own serverSideEmit`);
      } else {
        assert.deepEqual(got.map((g) => g.args), [[{ node: NAMES[s.node], data: { from: i } }]]);
      }
    }
  }
  // disconnectSockets from each node
  for (let i = 0; i < NODES.length; i++) {
    const doomed = [];
    for (let j = 0; j < NODES.length; j++) {
      const s = await connect(j);
      await call(s, "join", `doomed${i}`);
      doomed.push(s);
    }
    const reasons = doomed.map((s) => new Promise((r) => s.once("disconnect", r)));
    assert.equal(await call(others[i], "disconnect_sockets", `doomed${i}`), true);
    const got = await Promise.race([
      Promise.all(reasons),
      sleep(20000).then(() => "timeout"),
    ]);
    assert.deepEqual(got, doomed.map(() => "io server disconnect"), `disconnect_sockets from ${i}`);
    assert.ok(members.every((s) => s.connected), "members outside the room stay connected");
  }
  log("requests: ok");
}

async function acks() {
  await waitServers(NODES.length);
  const members = [];
  for (let i = 0; i < NODES.length; i++) {
    const s = await connect(i);
    s.on("ask", (data, ack) => ack({ node: i, id: s.id, q: data, b: Buffer.from([i, 1, 2]) }));
    await call(s, "join", "ar");
    members.push(s);
  }
  const silent = await connect(NODES.length - 1);
  silent.on("ask", () => {});
  await call(silent, "join", "ar2");
  const lonely = await connect(0);
  lonely.on("ask", (data, ack) => ack({ node: 0, id: lonely.id, q: data, b: Buffer.from([0, 1, 2]) }));
  await call(lonely, "join", "ar-one");
  for (const s of members) await call(s, "join", "ar2");
  for (let i = 0; i < NODES.length; i++) {
    const asker = members[i];
    const t0 = Date.now();
    const r = await call(asker, "broadcast_with_ack", "ar", "ask", { q: i });
    assert.equal(r.err, false, `broadcast_with_ack from node ${i}: ${JSON.stringify(r)}`);
    // err false: every answer arrived before the 2 s ack timeout, and the app answered then
    // (an aggregation that waited for the timeout would take at least 2 s)
    assert.ok(Date.now() - t0 < 2000, "completes as soon as the last answer arrives");
    assert.deepEqual(r.responses.map((x) => x.id).sort(), members.map((s) => s.id).sort());
    for (const x of r.responses) {
      assert.deepEqual(x.q, { q: i });
      assert.ok(Buffer.from(x.b).equals(Buffer.from([x.node, 1, 2])), "binary ack crosses nodes");
    }
    // a silent member: timeout after 2 s (never earlier; when it fires, `call` bounds: 8 s)
    // with the answers received
    const t1 = Date.now();
    const r2 = await call(asker, "broadcast_with_ack", "ar2", "ask", { q: i });
    const took = Date.now() - t1;
    assert.equal(r2.err, true, `silent member from node ${i}`);
    assert.ok(took >= 1900, `timeout fired early: ${took} ms`);
    assert.deepEqual(r2.responses.map((x) => x.id).sort(), members.map((s) => s.id).sort());
    // A room with its only member on node 0: every other node answers `clientCount: 0` at
    // once, so the ack completes without waiting for the timeout.
    const r3 = await call(asker, "broadcast_with_ack", "ar-one", "ask", { q: i });
    assert.equal(r3.err, false, `one member on node 0, from node ${i}: ${JSON.stringify(r3)}`);
    assert.deepEqual(r3.responses.map((x) => x.id), [lonely.id]);
  }
  log("acks: ok");
}

async function emitter() {
  await waitServers(NODES.length);
  const { Emitter } = require("@socket.io/redis-emitter");
  const rc = await redisClient();
  const em = new Emitter(rc);
  const members = [];
  const all = [];
  for (let i = 0; i < NODES.length; i++) {
    const m = await connect(i);
    await call(m, "join", "er");
    members.push(m);
    const x = await connect(i);
    await call(x, "join", "er");
    await call(x, "join", "ex");
    all.push(m, x, await connect(i));
  }
  const inEx = all.filter((s, k) => k % 3 === 1);
  const inEr = all.filter((s, k) => k % 3 !== 2);
  em.to("er").emit("e1", "x", Buffer.from([9, 8, 7]));
  em.emit("eall", 1);
  em.to("er").except("ex").emit("e2", { k: "v" });
  em.serverSideEmit("ping_all", "e");
  await until("emitter events", () =>
    all.every((s) => received(s, "eall").length >= 1 && received(s, "server_side_seen").length >= 1) &&
    inEr.every((s) => received(s, "e1").length >= 1) &&
    members.every((s) => received(s, "e2").length >= 1));
  await sleep(300);
  for (const s of all) {
    assert.equal(received(s, "eall").length, 1);
    assert.deepEqual(received(s, "server_side_seen").map((g) => g.args),
      [[{ node: NAMES[s.node], data: "e" }]]);
    const e1 = received(s, "e1");
    assert.equal(e1.length, inEr.includes(s) ? 1 : 0);
    if (e1.length) {
      assert.equal(e1[0].args[0], "x");
      assert.ok(Buffer.from(e1[0].args[1]).equals(Buffer.from([9, 8, 7])));
    }
    const e2 = received(s, "e2");
    assert.equal(e2.length, inEr.includes(s) && !inEx.includes(s) ? 1 : 0, "except");
  }
  em.in("er").socketsJoin("ej");
  await until("emitter socketsJoin", async () =>
    (await fetchIds(all[0], "ej")).map((x) => x.id).sort().join() === inEr.map((s) => s.id).sort().join());
  em.in("ej").disconnectSockets(true);
  await until("emitter disconnectSockets", () => inEr.every((s) => !s.connected));
  await rc.disconnect();
  log("emitter: ok");
}

/** Dynamic namespaces' children across nodes (`/dyn-5` on every node; the parent `^/dyn-\d+$`):
 * each node subscribes the child's channels when the child is created there, so broadcasts
 * published by the emitter (classic) or by a Node node reach members on every node once, and a
 * Node node's fetchSockets on the child gathers the members of every node. */
async function dynamic() {
  await waitServers(NODES.length);
  const nsp = "/dyn-5";
  const members = [];
  const outside = [];
  for (let i = 0; i < NODES.length; i++) {
    for (let k = 0; k < 2; k++) members.push(await connect(i, {}, nsp));
    outside.push(await connect(i, {}, "/dyn-6"));
  }
  // The child exists on every node once each holds its channel (the request channel, which
  // follows the broadcast pattern; sharded: the namespace channel).
  const cs = await nodeClients();
  const ch = SHARDED ? `socket.io#${nsp}#` : `socket.io-request#${nsp}#`;
  try {
    await until(`${ch} held by every node`, async () => (await countSubs(cs, ch)) === NODES.length);
  } finally {
    for (const c of cs) await c.disconnect().catch(() => {});
  }
  const everyone = [...members, ...outside];
  if (!SHARDED) {
    // @socket.io/redis-emitter PUBLISHes on socket.io#/dyn-5#: every node receives it
    const { Emitter } = require("@socket.io/redis-emitter");
    const rc = await redisClient();
    const em = new Emitter(rc);
    clear(everyone);
    em.of(nsp).emit("dyn_hello", { k: "é" }, Buffer.from([1, 2]));
    await until("emitter broadcast on the child at every member",
      () => members.every((s) => received(s, "dyn_hello").length >= 1));
    await sleep(300);
    for (const s of members) {
      const got = received(s, "dyn_hello");
      assert.equal(got.length, 1, `exactly once on node ${s.node}`);
      assert.deepEqual(got[0].args[0], { k: "é" });
      assert.ok(Buffer.from(got[0].args[1]).equals(Buffer.from([1, 2])));
    }
    for (const s of outside) assert.equal(received(s, "dyn_hello").length, 0, "another child");
    await rc.disconnect();
  }
  for (let i = 0; i < NODES.length; i++) {
    if (!NAMES[i].startsWith("js")) continue;
    // a Node node's child broadcasts (socket.nsp.emit) and requests (socket.nsp.fetchSockets)
    const sender = members.find((s) => s.node === i);
    clear(everyone);
    sender.emit("broadcast", "dyn_from_node", { from: i });
    await until(`broadcast on the child from node ${i} at every member`,
      () => members.every((s) => received(s, "dyn_from_node").length >= 1));
    await sleep(300);
    for (const s of members) assert.equal(received(s, "dyn_from_node").length, 1);
    for (const s of outside) assert.equal(received(s, "dyn_from_node").length, 0);
    const want = members.map((s) => s.id).sort().join();
    await until(`fetchSockets on the child from node ${i}`, async () => {
      const got = await call(sender, "fetch_sockets");
      return Array.isArray(got) && got.map((x) => x.id).sort().join() === want;
    });
  }
  log("dynamic: ok");
}

async function outage() {
  await waitServers(NODES.length);
  const members = [];
  for (let i = 0; i < NODES.length; i++) {
    for (let k = 0; k < 2; k++) {
      const s = await connect(i);
      await call(s, "join", "o");
      members.push(s);
    }
  }
  await waitRoom("o", members);
  const check = async (tag, sender, expectNodes, timeoutMs = 20000) => {
    clear(members);
    sender.emit("broadcast", "o", "ev", tag);
    const want = members.filter((s) => expectNodes.includes(s.node));
    await until(`${tag} delivered`, () => want.every((s) => received(s, "ev").length >= 1), timeoutMs);
  };
  await check("before", members[0], NODES.map((_, i) => i));
  log("killing redis");
  process.kill(Number(process.env.REDIS_PID), "SIGKILL");
  await sleep(500);
  // every node stays up and serves its local clients
  for (let i = 0; i < NODES.length; i++) {
    const sender = members.find((s) => s.node === i);
    if (SHARDED && NAMES[i].startsWith("js")) {
      // Node's sharded adapter (ClusterAdapter.broadcast) awaits the SPUBLISH, which node-redis
      // queues while Redis is down, before delivering locally: its local emits wait for Redis.
      log(`node ${i} (Node, sharded adapter): local delivery during the outage not checked`);
      continue;
    }
    await check(`during ${i}`, sender, [i]);
    const s = await connect(i);
    assert.equal(await call(s, "echo", "x"), "x");
    s.disconnect();
  }
  log("restarting redis");
  const port = new URL(REDIS_URL).port;
  const child = spawn("redis-server", ["--port", port, "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"], {
    detached: true,
    stdio: "ignore",
  });
  fs.writeFileSync(process.env.REDIS_PIDFILE, String(child.pid));
  child.unref();
  const t0 = Date.now();
  // the cluster heals: every node subscribes again (the room channel too, sharded), then
  // broadcasts cross nodes again, from every node. A publisher may still be reconnecting when
  // the subscriptions are back (what it could not send meanwhile is dropped): retry each send.
  await waitServers(NODES.length, 30000, ["o"]);
  await waitRoom("o", members, 30000);
  for (let i = 0; i < NODES.length; i++) {
    const sender = members.find((s) => s.node === i);
    const end = Date.now() + 30000;
    for (;;) {
      try {
        await check(`after ${i}`, sender, NODES.map((_, j) => j), 5000);
        break;
      } catch (e) {
        if (Date.now() > end) throw e;
      }
    }
  }
  log(`outage: healed in ${Date.now() - t0} ms`);
}

/** Sharded mode: channels of createShardedAdapter (subscriptionMode "dynamic"). */
async function sharded() {
  assert.ok(SHARDED, "run with SHARDED=1");
  await waitServers(NODES.length);
  const rc = await redisClient();
  const shardChannels = async () => (await rc.sendCommand(["PUBSUB", "SHARDCHANNELS", "socket.io#/#*"])).sort();
  const all = [];
  for (let i = 0; i < NODES.length; i++) {
    for (let k = 0; k < 2; k++) all.push(await connect(i));
  }
  // dynamic room channels: SSUBSCRIBEd by each node with a member, dropped after the last leaves
  const roomCh = "socket.io#/#dyn#";
  const numsub = async () => (await rc.pubSubShardNumSub(roomCh))[roomCh];
  assert.equal(await numsub(), 0);
  for (const s of all) await call(s, "join", "dyn");
  await until("room channel held by every node", async () => (await numsub()) === NODES.length);
  for (const s of all.slice(0, 2)) await call(s, "leave", "dyn"); // node 0 has no member left
  await until("node 0 dropped the room channel", async () => (await numsub()) === NODES.length - 1);
  for (const s of all.slice(0, 2)) await call(s, "join", "dyn");
  await until("node 0 holds it again", async () => (await numsub()) === NODES.length);
  // private socket-id rooms have no channel
  const chans = await shardChannels();
  for (const s of all) assert.ok(!chans.includes(`socket.io#/#${s.id}#`), "no channel for a socket id");
  for (let i = 0; i < NODES.length; i++) {
    const sender = all.find((s) => s.node === i);
    // room: through its dynamic channel
    clear(all);
    sender.emit("broadcast", "dyn", "room_ev", i);
    await until(`room_ev from ${i}`, () => all.every((s) => received(s, "room_ev").length >= 1));
    await sleep(200);
    for (const s of all) assert.equal(received(s, "room_ev").length, 1, `room_ev once on node ${s.node}`);
    // a socket-id room (20 characters): through the namespace channel
    for (const target of all.filter((s) => s.node !== i)) {
      clear(all);
      sender.emit("broadcast", target.id, "private", i);
      await until(`private from ${i} to node ${target.node}`, () => received(target, "private").length >= 1);
      await sleep(100);
      for (const s of all) assert.equal(received(s, "private").length, s === target ? 1 : 0, "socket-id room");
    }
  }
  // to all, as another adapter node publishes it: JSON and (with binary) msgpack, on the
  // namespace channel; every client of every node once
  const { encode } = require("notepack.io");
  clear(all);
  const msg = (data) => ({
    type: 3,
    data: { packet: { type: 2, data, nsp: "/" }, opts: { rooms: [], except: [], flags: {} } },
    uid: "third-party",
    nsp: "/",
  });
  await rc.sPublish("socket.io#/#", JSON.stringify(msg(["to_all", { k: 1 }])));
  await rc.sPublish("socket.io#/#", encode(msg(["to_all_bin", Buffer.from([1, 2, 3])])));
  // another namespace's message on this channel is ignored (the adapter checks nsp)
  await rc.sPublish("socket.io#/#", JSON.stringify({ ...msg(["wrong_nsp"]), nsp: "/custom" }));
  await until("to_all everywhere", () =>
    all.every((s) => received(s, "to_all").length >= 1 && received(s, "to_all_bin").length >= 1));
  await sleep(300);
  for (const s of all) {
    assert.deepEqual(received(s, "to_all").map((g) => g.args), [[{ k: 1 }]]);
    const b = received(s, "to_all_bin");
    assert.equal(b.length, 1);
    assert.ok(Buffer.from(b[0].args[0]).equals(Buffer.from([1, 2, 3])), "binary to all");
    assert.equal(received(s, "wrong_nsp").length, 0);
  }
  // the last member leaving drops the channel on every node
  for (const s of all) await call(s, "leave", "dyn");
  await until("room channel dropped everywhere", async () => (await numsub()) === 0);
  await rc.disconnect();
  log("sharded: ok");
}

/** serverSideEmit with acks: one answer per other node (ringcast as requester and responder). */
async function serverSideAcks() {
  await waitServers(NODES.length);
  for (let i = 0; i < NODES.length; i++) {
    const s = await connect(i);
    const r = await call(s, "server_side_emit_with_ack", "ping_ack", { from: i });
    assert.equal(r.err, false, `node ${i}: serverSideEmit with ack failed: ${JSON.stringify(r)}`);
    const want = NAMES.map((name, j) => ({ node: name, data: { from: i } })).filter((_, j) => j !== i);
    const sort = (l) => [...l].sort((a, b) => a.node.localeCompare(b.node));
    assert.deepEqual(sort(r.responses), sort(want), `node ${i}: answers`);
  }
  log("server_side_acks: ok");
}

/** allRooms: every node lists the rooms joined on every node. */
async function allRooms() {
  await waitServers(NODES.length);
  const tag = Math.random().toString(36).slice(2);
  const socks = [];
  for (let i = 0; i < NODES.length; i++) {
    const s = await connect(i);
    assert.equal(await call(s, "join", `ar-${tag}-${i}`), true);
    socks.push(s);
  }
  for (let i = 0; i < NODES.length; i++) {
    const rooms = await call(socks[i], "all_rooms");
    assert.ok(Array.isArray(rooms), `node ${i}: ${JSON.stringify(rooms)}`);
    for (let j = 0; j < NODES.length; j++) {
      assert.ok(rooms.includes(`ar-${tag}-${j}`), `node ${i} lists the room joined on node ${j}`);
    }
  }
  log("all_rooms: ok");
}


const clusterScenarios = require("./scenario-cluster.js")({
  assert, log, sleep, connect, call, received, until, clear, fetchIds, waitServers, nodeClients,
  countSubs, waitRoom, createCluster, NODES, NAMES, CLUSTER, SHARDED, MODE,
});
const { slots, migrate, modes } = clusterScenarios;

const scenarios = { slots, migrate, modes, broadcast, dynamic, binary, requests, acks, emitter, outage, sharded, server_side_acks: serverSideAcks, all_rooms: allRooms };

async function main() {
  const name = process.argv[2];
  const f = scenarios[name];
  if (!f) {
    console.error(`unknown scenario ${name}; one of ${Object.keys(scenarios).join(", ")}`);
    process.exit(2);
  }
  try {
    await f();
    for (const s of clients) s.disconnect();
    process.exit(0);
  } catch (e) {
    console.error(`FAILED ${name}:`, e);
    process.exit(1);
  }
}

main();
