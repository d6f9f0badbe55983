#!/usr/bin/env node
// No sticky sessions (issue 14): two ringcast nodes sharing one Redis behind a round-robin HTTP
// proxy (no affinity, every request to the next node: tests/cluster/rr_proxy.rs), or behind
// nginx / HAProxy for `balancer`. Started by tests/cluster/nosticky.rs and balancers.rs.
//
//   PROXY=http://127.0.0.1:4000 NODES=http://127.0.0.1:3001,http://127.0.0.1:3002 \
//   PIDS=123,456 REDIS_URL=redis://... ROUTES=/tmp/routes.txt \
//   node scenario-nosticky.js <polling|upgrade|kill|raw|balancer>
//
// ROUTES (kill): the proxy's record of the node each websocket upgrade reached.
//
// Exits 0 when every check passed; prints the first failure and exits 1 otherwise.
"use strict";

const assert = require("node:assert/strict");
const { io } = require("socket.io-client");
const { createClient } = require("redis");

const PROXY = process.env.PROXY;
const NODES = (process.env.NODES ?? "").split(",").filter(Boolean);
const PIDS = (process.env.PIDS ?? "").split(",").filter(Boolean).map(Number);
const REDIS_URL = process.env.REDIS_URL;
const KEY = "socket.io";
const clients = [];

function log(...a) {
  console.log(`[${new Date().toISOString().slice(11, 23)}]`, ...a);
}

function client(opts = {}) {
  const s = io(PROXY, { forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 300, ...opts });
  clients.push(s);
  return s;
}

function polling(opts = {}) {
  return client({ transports: ["polling"], ...opts });
}

function once(emitter, ev) {
  return new Promise((resolve) => emitter.once(ev, (...a) => resolve(a)));
}

async function connected(s) {
  if (!s.connected) await once(s, "connect");
}

/** Acked emit, resolving with every ack argument; a missing ack fails after 10 s instead of
 * hanging the test. */
function ask(s, ...args) {
  return new Promise((resolve, reject) =>
    s.timeout(10000).emit(...args, (err, ...r) => (err ? reject(err) : resolve(r))),
  );
}

/** Collects `event` on `s` until `n` arrived. */
function collect(s, event, n) {
  const got = [];
  return new Promise((resolve) => {
    s.on(event, (...a) => {
      got.push(a);
      if (got.length === n) resolve(got);
    });
  });
}

/** Which node (index in NODES) owns the session of `s`: the sid's node tag, read in Redis. */
async function owner(redis, s) {
  const id = s.io.engine.id;
  assert.equal(id.length, 28, `a cluster sid carries a node tag: ${id}`);
  const addr = await redis.get(`{${KEY}-nodes}#${id.slice(20)}`);
  assert.ok(addr, `node tag ${id.slice(20)} is registered`);
  const port = addr.split(":").pop();
  const i = NODES.findIndex((u) => new URL(u).port === port);
  assert.ok(i >= 0, `owner ${addr} is one of ${NODES}`);
  return i;
}

async function redisClient() {
  const c = createClient({ url: REDIS_URL });
  c.on("error", () => {});
  await c.connect();
  return c;
}

async function scenarioPolling(redis) {
  // Connect, ack, binary, across sessions owned by both nodes.
  const a = polling();
  const b = polling();
  await Promise.all([connected(a), connected(b)]);
  const owners = new Set([await owner(redis, a), await owner(redis, b)]);
  assert.equal(owners.size, 2, "round robin: the two handshakes landed on different nodes");
  for (const s of [a, b]) {
    for (let i = 0; i < 6; i++) {
      assert.deepEqual(await ask(s, "echo", "hi", i), ["hi", i]);
    }
    const [bin] = await ask(s, "echo", Buffer.from([1, 2, 3]));
    assert.ok(Buffer.isBuffer(bin) && bin.equals(Buffer.from([1, 2, 3])), "binary echoed as binary");
  }
  log("acks and binary through the proxy ok");
  // Rooms across nodes: b broadcasts, a (other node) receives, binary too.
  assert.equal((await ask(a, "join", "room1"))[0], true);
  const got = once(a, "news");
  b.emit("broadcast", "room1", "news", { n: 1, bin: Buffer.from([9]) });
  const [msg] = await got;
  assert.equal(msg.n, 1);
  assert.ok(Buffer.isBuffer(msg.bin) && msg.bin[0] === 9, "binary in a broadcast");
  log("room broadcast across nodes ok");
  // Several heartbeats on one session, its requests spread over both nodes.
  const id = a.id;
  let pings = 0;
  await new Promise((resolve) => {
    a.io.engine.on("ping", () => {
      pings += 1;
      if (pings === 4) resolve();
    });
  });
  assert.equal(a.id, id, "same session after 4 heartbeats");
  assert.ok(a.connected);
  log("heartbeats ok");
  // 50 broadcasts reach 100 polling clients in order.
  const many = Array.from({ length: 100 }, () => polling());
  await Promise.all(many.map(connected));
  await Promise.all(many.map((s) => ask(s, "join", "fan")));
  const done = many.map((s) => collect(s, "seq", 50));
  for (let i = 0; i < 50; i++) a.emit("broadcast", "fan", "seq", i);
  const all = await Promise.all(done);
  for (const got of all) assert.deepEqual(got.map(([n]) => n), Array.from({ length: 50 }, (_, i) => i));
  const owners100 = new Set(await Promise.all(many.map((s) => owner(redis, s))));
  assert.equal(owners100.size, 2, "the 100 sessions are spread over both nodes");
  log("50 broadcasts to 100 polling clients in order ok");
}

async function scenarioUpgrade(redis) {
  const socks = [client(), client(), client(), client()];
  await Promise.all(socks.map(connected));
  await Promise.all(
    socks.map(async (s) => {
      if (s.io.engine.transport.name !== "websocket") await once(s.io.engine, "upgrade");
    }),
  );
  const owners = new Set(await Promise.all(socks.map((s) => owner(redis, s))));
  assert.equal(owners.size, 2, "sessions on both nodes");
  for (const s of socks) {
    assert.equal(s.io.engine.transport.name, "websocket");
    assert.deepEqual(await ask(s, "echo", "ws", Buffer.from([7])), ["ws", Buffer.from([7])]);
  }
  await Promise.all(socks.map((s) => ask(s, "join", "wsroom")));
  const got = socks.map((s) => once(s, "hello"));
  socks[0].emit("broadcast", "wsroom", "hello", "all");
  for (const [m] of await Promise.all(got)) assert.equal(m, "all");
  log("default clients upgraded to websocket through the proxy ok");
  // The spliced websockets live past any forwarding deadline (ping interval + timeout + 5 s =
  // 7.4 s with the nodes' 400 / 2000 ms): 20 heartbeats (8 s) on every socket, same sessions.
  const ids = socks.map((s) => s.io.engine.id);
  let closed = 0;
  for (const s of socks) s.on("disconnect", () => (closed += 1));
  await Promise.all(
    socks.map(
      (s) =>
        new Promise((resolve) => {
          let n = 0;
          s.io.engine.on("ping", () => {
            n += 1;
            if (n === 20) resolve();
          });
        }),
    ),
  );
  assert.equal(closed, 0, "no websocket dropped");
  for (const [i, s] of socks.entries()) {
    assert.equal(s.io.engine.id, ids[i]);
    assert.deepEqual(await ask(s, "echo", "later"), ["later"]);
  }
  log("websockets kept across 20 heartbeats ok");
}

/** Resolves once `s` runs over its websocket (the polling transport paused and closed). */
async function upgraded(s) {
  if (s.io.engine.transport.name !== "websocket") await once(s.io.engine, "upgrade");
}

/** Resolves once `s` has no packet buffered and no POST on its way: a node dying now cannot
 * take a client packet with it. */
async function idle(s) {
  const e = s.io.engine;
  while (!(e.transport.writable && e.writeBuffer.length === 0)) await once(e, "drain");
}

/** What the proxy recorded (tests/cluster/rr_proxy.rs): per sid, the node (index in NODES) of
 * its websocket upgrade (`ws`), and of its long-poll GET now waiting (`parked`: a GET sent there
 * and not answered yet; null when none is). */
function routes() {
  const fs = require("node:fs");
  const lines = fs.readFileSync(process.env.ROUTES, "utf8").split("\n").filter(Boolean);
  const ws = new Map();
  const parked = new Map();
  for (const [what, sid, i] of lines.map((l) => l.split(" "))) {
    if (what === "ws") ws.set(sid, Number(i));
    if (what === "get") parked.set(sid, Number(i));
    if (what === "got") parked.set(sid, null);
  }
  return { ws, parked };
}

/** The node where the long-poll GET of polling client `s` waits, once it does (the client sends
 * its next GET as soon as the previous one is answered; the proxy records it when it sends it
 * on). Waits on the proxy's record, checking it every 5 ms. */
async function parkedOn(s) {
  for (;;) {
    const at = routes().parked.get(s.io.engine.id);
    if (at !== undefined && at !== null) return at;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Node kill. A client belongs to the dead node when its session lives there (owner) or its
 * websocket does (`via`: the node the upgrade reached, which relays the websocket to the owner
 * for the session's life, docs/decisions.md). Polling requests are spread over both nodes; the
 * proxy, as nginx or HAProxy, sends a request again when its node died before answering (the
 * long-poll GET parked through the dead node), so polling clients of the survivor keep their
 * session. The nodes' ping interval is 30 s: no pong POST can be on its way during the kill. */
async function scenarioKill(redis) {
  const victim = 0;
  const survivor = 1;
  const all = [];
  const count = (f) => all.filter(f).length;
  // Without ROUTES (behind nginx or HAProxy, which log a websocket only when it ends), polling
  // clients only.
  const withWs = Boolean(process.env.ROUTES);
  const cases = {
    "polling client of the survivor": (c) => !c.ws && c.owner === survivor,
    "polling client of the victim": (c) => !c.ws && c.owner === victim,
  };
  if (withWs) {
    Object.assign(cases, {
      "polling client of the survivor, its GET waiting in the victim": (c) =>
        !c.ws && c.owner === survivor && c.parked === victim,
      "polling client of the survivor, its GET waiting in the survivor": (c) =>
        !c.ws && c.owner === survivor && c.parked === survivor,
      "websocket on the survivor, session there": (c) =>
        c.ws && c.owner === survivor && c.via === survivor,
      "websocket on the victim, session there": (c) => c.ws && c.owner === victim && c.via === victim,
    });
  }
  /** Cases that upgrading clients may or may not produce (the node their upgrade reaches
   * depends on how their requests interleave): counted and checked, not required. */
  const crossing = {
    "websocket on the victim, session on the survivor": (c) =>
      c.ws && c.owner === survivor && c.via === victim,
    "websocket on the survivor, session on the victim": (c) =>
      c.ws && c.owner === victim && c.via === survivor,
  };
  const missing = () => Object.entries(cases).filter(([, f]) => count(f) === 0).map(([k]) => k);
  // 0 to 2 extra requests through the proxy shift its round-robin phase at random, so that new
  // sessions land on either node.
  const shift = async (n = Math.floor(Math.random() * 3)) => {
    for (let j = 0; j < n; j++) await (await fetch(`${PROXY}/socket.io/`)).arrayBuffer();
  };
  /** Connects a client of `kind` (polling, websocket, default = upgrading) and records where
   * its session, websocket and long-poll GET are. */
  const add = async (kind) => {
    const s = kind === "polling" ? polling() : kind === "websocket" ? client({ transports: ["websocket"] }) : client();
    stage = `client ${all.length} (${kind}): connecting`;
    await connected(s);
    if (kind === "default") await upgraded(s);
    await idle(s);
    const c = { s, ws: kind !== "polling", owner: await owner(redis, s), via: null, parked: null };
    // A websocket-only session lives where its websocket is.
    if (kind === "websocket") c.via = c.owner;
    if (kind === "default") {
      c.via = routes().ws.get(s.io.engine.id);
      assert.ok(c.via !== undefined, `the proxy recorded the websocket of ${s.io.engine.id}`);
    }
    stage = `client ${all.length} (${kind}): waiting for its long-poll GET`;
    if (withWs && kind === "polling") c.parked = await parkedOn(s);
    all.push(c);
    await shift();
    return c;
  };
  /** Moves the long-poll GET of polling client `c` to node `want`: with no other traffic, one
   * extra request, the echo's POST and the GET that follows the answer put the new GET on the
   * other node each time. */
  const steer = async (c, want) => {
    for (let i = 0; i < 4 && c.parked !== want; i++) {
      stage = `steering the GET of ${c.s.io.engine.id} to node ${want}`;
      await shift(1);
      assert.deepEqual(await ask(c.s, "echo", "steer"), ["steer"]);
      await idle(c.s);
      c.parked = await parkedOn(c.s);
    }
    assert.equal(c.parked, want, "the long-poll GET moved");
  };
  for (let k = 0; k < 40 && count(cases["polling client of the victim"]) === 0; k++) await add("polling");
  for (const want of withWs ? [victim, survivor] : [survivor]) {
    let c = null;
    for (let k = 0; k < 40 && !c; k++) {
      const n = await add("polling");
      if (n.owner === survivor) c = n;
    }
    assert.ok(c, "a polling session on the survivor");
    if (withWs) await steer(c, want);
  }
  if (withWs) {
    for (const node of [survivor, victim]) {
      for (let k = 0; k < 40 && !all.some((c) => c.ws && c.owner === node && c.via === node); k++) {
        await add("websocket");
      }
    }
    for (let k = 0; k < 8 && count(crossing["websocket on the victim, session on the survivor"]) === 0; k++) {
      await add("default");
    }
    Object.assign(cases, crossing);
  }
  assert.deepEqual(
    missing().filter((k) => !crossing[k]),
    [],
    "clients for every case",
  );
  for (const c of all) await idle(c.s);
  // Nothing moved since (no packet flows: no pings either): each GET still waits where it did.
  for (const c of all.filter((x) => x.parked !== null)) {
    assert.equal(await parkedOn(c.s), c.parked, "the long-poll GET still waits in the same node");
  }
  const dead = (c) => c.owner === victim || c.via === victim;
  for (const c of all) {
    c.sid = c.s.io.engine.id;
    c.disconnects = 0;
    c.s.on("disconnect", () => (c.disconnects += 1));
    c.back = dead(c)
      ? once(c.s, "disconnect")
          .then(() => once(c.s.io, "reconnect"))
          .then(([attempt]) => attempt)
      : null;
  }
  log(
    `${all.length} clients:`,
    Object.entries(cases).map(([k, f]) => `${k}: ${count(f)}`).join(", "),
  );
  log(`killing node ${victim} (pid ${PIDS[victim]})`);
  stage = "node killed";
  process.kill(PIDS[victim], "SIGKILL");
  // The dead node's clients: disconnected, then reconnected at the first attempt (after one
  // reconnection delay, no failed try), with a new session on the survivor.
  for (const c of all.filter(dead)) {
    stage = `waiting for the reconnection of ${c.sid} ${JSON.stringify({ ws: c.ws, via: c.via, parked: c.parked, owner: c.owner })}`;
    const attempt = await c.back;
    assert.equal(attempt, 1, `reconnected at the first attempt (${c.sid})`);
    await connected(c.s);
    assert.notEqual(c.s.io.engine.id, c.sid, "a new session");
    assert.equal(await owner(redis, c.s), survivor, "now owned by the survivor");
    assert.deepEqual(await ask(c.s, "echo", "after"), ["after"]);
  }
  // Every other client saw nothing: no disconnect, the same session, and it still answers.
  for (const c of all.filter((x) => !dead(x))) {
    stage = `echo on survivor client ${c.sid}`;
    assert.deepEqual(await ask(c.s, "echo", "after"), ["after"]);
    assert.equal(c.disconnects, 0, `no disconnect on a client of the survivor (${c.sid})`);
    assert.equal(c.s.io.engine.id, c.sid, "the same session");
  }
  log(
    `${count(dead)} clients of the killed node reconnected at once; ` +
      `${all.length - count(dead)} clients of the survivor saw nothing`,
  );
}

/** Behind nginx or HAProxy with the README's config (tests/cluster/balancers.rs): a polling-only
 * client and a default client (it upgrades to websocket) connect, get acks, and receive
 * broadcasts sent from each node by a client connected to that node directly, so each receives
 * one from the node that does not own its session. */
async function scenarioBalancer(redis) {
  const p = polling();
  const w = client();
  await Promise.all([connected(p), connected(w)]);
  await upgraded(w);
  assert.equal(p.io.engine.transport.name, "polling");
  assert.equal(w.io.engine.transport.name, "websocket");
  for (const s of [p, w]) {
    for (let i = 0; i < 4; i++) assert.deepEqual(await ask(s, "echo", "lb", i), ["lb", i]);
    assert.equal((await ask(s, "join", "lb"))[0], true);
  }
  log("polling and upgraded clients: acks through the balancer ok");
  const owners = [await owner(redis, p), await owner(redis, w)];
  const direct = NODES.map((u) => io(u, { forceNew: true, reconnection: false }));
  clients.push(...direct);
  await Promise.all(direct.map(connected));
  const got = [p, w].map((s) => collect(s, "from", 2));
  for (const [i, d] of direct.entries()) d.emit("broadcast", "lb", "from", i);
  for (const [k, msgs] of (await Promise.all(got)).entries()) {
    const from = msgs.map(([i]) => i).sort();
    assert.deepEqual(from, [0, 1], "a broadcast from each node");
    assert.ok(from.includes(1 - owners[k]), "one from the node that does not own the session");
  }
  log(`broadcasts from both nodes received (sessions owned by nodes ${owners}) ok`);
}

/** Deterministic forwarding, no proxy: a raw Engine.IO session opened on node 0, then every
 * request of it sent to node 1 (POST, GET, then the websocket upgrade, which node 1 splices). */
async function scenarioRaw() {
  const WebSocket = require("ws");
  const [owner, other] = NODES;
  const path = "/socket.io/?EIO=4";
  const open = await (await fetch(`${owner}${path}&transport=polling`)).text();
  assert.equal(open[0], "0", open);
  const sid = JSON.parse(open.slice(1)).sid;
  assert.equal(sid.length, 28, "a cluster sid");
  const url = `${other}${path}&transport=polling&sid=${sid}`;
  const post = await fetch(url, { method: "POST", body: "40" });
  assert.equal(post.status, 200, "POST forwarded to the owner");
  assert.equal(await post.text(), "ok");
  const got = await (await fetch(url)).text();
  assert.ok(got.startsWith("40{"), `CONNECT answered through node 1: ${got}`);
  log("raw polling GET / POST forwarded ok");
  const ws = new WebSocket(`${other.replace("http", "ws")}${path}&transport=websocket&sid=${sid}`);
  const frames = [];
  let wake = null;
  ws.on("message", (m) => {
    frames.push(m.toString());
    if (wake) wake();
  });
  const next = async () => {
    while (frames.length === 0) await new Promise((r) => (wake = r));
    return frames.shift();
  };
  await once(ws, "open");
  ws.send("2probe");
  assert.equal(await next(), "3probe");
  ws.send("5");
  ws.send('421["echo","spliced"]');
  let f = await next();
  while (f === "2") {
    ws.send("3");
    f = await next();
  }
  assert.equal(f, '431["spliced"]');
  ws.close();
  log("raw websocket upgrade spliced through node 1 ok");
}

async function main() {
  const which = process.argv[2];
  const redis = await redisClient();
  const scenarios = {
    polling: scenarioPolling,
    upgrade: scenarioUpgrade,
    kill: scenarioKill,
    raw: scenarioRaw,
    balancer: scenarioBalancer,
  };
  assert.ok(scenarios[which], `unknown scenario ${which}`);
  await scenarios[which](redis);
  for (const s of clients) s.close();
  await redis.quit();
  log(`scenario ${which} passed`);
}

/** Where the scenario is, reported if it hangs (below). */
let stage = "start";
// A hang guard, not a timed assertion: a scenario stuck for 5 minutes says where, and fails.
setTimeout(() => {
  console.error(`FAILED: stuck at: ${stage}`);
  process.exit(1);
}, 300_000).unref();

main().then(
  () => process.exit(0),
  (e) => {
    console.error("FAILED:", e);
    process.exit(1);
  },
);
