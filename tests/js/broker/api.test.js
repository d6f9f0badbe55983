"use strict";
// The broker's HTTP server API (spec broker.md §5) driven with real socket.io-client sockets.
//   RINGCAST_URL=http://... RINGCAST_API_URL=http://... RINGCAST_API_KEY=... node --test broker/api.test.js
// Optional RINGCAST_PEER_URL: a second broker node sharing Redis with the first; its clients
// must receive what the first node's API publishes, and be listed by its /api/sockets.

const test = require("node:test");
const assert = require("node:assert/strict");
const { io } = require("socket.io-client");

const URL = process.env.RINGCAST_URL.replace(/\/+$/, "");
const API = process.env.RINGCAST_API_URL.replace(/\/+$/, "");
const KEY = process.env.RINGCAST_API_KEY;
const PEER = process.env.RINGCAST_PEER_URL;
const open = [];
test.after(() => open.forEach((s) => s.disconnect()));

function connect(url = URL, transports = ["websocket"]) {
  return new Promise((resolve, reject) => {
    const s = io(url, { forceNew: true, reconnection: false, transports });
    open.push(s);
    s.once("connect", () => resolve(s));
    s.once("connect_error", reject);
  });
}

async function call(method, path, body) {
  const res = await fetch(API + path, {
    method,
    headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function post(path, body) {
  const r = await call("POST", path, body);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { ok: true });
}

async function joinRoom(s, room) {
  assert.equal(await s.timeout(3000).emitWithAck("join", room), true);
}

/// Emits a marker to one socket through the API and waits for it: the API's shard sends to
/// every shard in order, so anything the API published to that socket before has arrived.
async function fence(s, tag) {
  const got = new Promise((resolve) => s.once("fence", resolve));
  await post("/api/emit", { rooms: [s.id], event: "fence", args: [tag] });
  assert.equal(await got, tag);
}

/// Waits (on the condition, polling the API) until /api/sockets?room= lists exactly `ids`.
async function untilMembers(room, ids) {
  for (;;) {
    const r = await call("GET", `/api/sockets?nsp=/&room=${encodeURIComponent(room)}`);
    assert.equal(r.status, 200);
    const got = r.body.sockets.map((s) => s.id).sort();
    if (JSON.stringify(got) === JSON.stringify([...ids].sort())) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/// Per-shard open connections from /metrics.
async function shardConnections() {
  const text = await (await fetch(API + "/metrics")).text();
  return [...text.matchAll(/^ringcast_shard_connections\{shard="(\d+)"\} (\d+)$/gm)].map((m) => Number(m[2]));
}

test("ringcast_connections counts each transport, follows upgrades and closes, summed over shards", async () => {
  // The file's first test: no socket of another test is open or closing.
  const before = await gauges();
  const polling = await Promise.all([1, 2, 3].map(() => connect(URL, ["polling"])));
  const ws = await Promise.all([1, 2].map(() => connect(URL, ["websocket"])));
  await untilGauges({ websocket: before.websocket + 2, polling: before.polling + 3 });
  // A client that starts on polling and upgrades moves from one count to the other.
  const up = await connect(URL, ["polling", "websocket"]);
  await untilGauges({ websocket: before.websocket + 3, polling: before.polling + 3 });
  assert.equal(up.io.engine.transport.name, "websocket");
  for (const s of [...polling, ...ws, up]) s.disconnect();
  await untilGauges(before);
});

test("whole-namespace emit reaches clients on every shard", async () => {
  // The kernel spreads connections over the shards (SO_REUSEPORT): connect until every shard
  // holds one of ours (no other client is connected yet), then publish once.
  const clients = [];
  for (;;) {
    clients.push(await connect());
    const per = await shardConnections();
    assert.ok(per.length >= 2, "the broker runs with --shards 2");
    if (per.every((n) => n > 0)) break;
    assert.ok(clients.length < 64, `all clients on one shard: ${per}`);
  }
  const got = clients.map((s) => new Promise((resolve) => s.once("everyone", resolve)));
  await post("/api/emit", { event: "everyone", args: ["hi"] });
  assert.deepEqual(await Promise.all(got), clients.map(() => "hi"));
  clients.forEach((s) => s.disconnect());
});

test("emit reaches rooms, minus except, or the whole namespace", async () => {
  const a = await connect();
  const b = await connect(URL, ["polling", "websocket"]);
  const c = await connect();
  await joinRoom(a, "r1");
  await joinRoom(b, "r1");
  await joinRoom(b, "r2");
  const got = { a: [], b: [], c: [] };
  for (const [n, s] of Object.entries({ a, b, c })) s.on("news", (...args) => got[n].push(args));
  await post("/api/emit", { nsp: "/", rooms: ["r1"], except: ["r2"], event: "news", args: ["r1", { n: 1 }] });
  await post("/api/emit", { event: "news", args: ["all"] });
  await post("/api/emit", { rooms: ["r2"], event: "news", args: ["r2"], volatile: false });
  await Promise.all([fence(a, 1), fence(b, 1), fence(c, 1)]);
  assert.deepEqual(got.a, [["r1", { n: 1 }], ["all"]]);
  assert.deepEqual(got.b, [["all"], ["r2"]]);
  assert.deepEqual(got.c, [["all"]]);
});

test("join and leave by socket id and by room", async () => {
  const a = await connect();
  const b = await connect();
  await joinRoom(b, "sel");
  const got = [];
  a.on("in-j", (v) => got.push(v));
  await post("/api/join", { nsp: "/", sid: a.id, join: ["j"] });
  await post("/api/join", { rooms: ["sel"], join: ["j"] });
  await untilMembers("j", [a.id, b.id]);
  await post("/api/emit", { rooms: ["j"], event: "in-j", args: [1] });
  await fence(a, 2);
  assert.deepEqual(got, [1]);
  await post("/api/leave", { sid: a.id, leave: ["j"] });
  await untilMembers("j", [b.id]);
  const gotB = new Promise((resolve) => b.once("in-j", resolve));
  await post("/api/emit", { rooms: ["j"], event: "in-j", args: [2] });
  assert.equal(await gotB, 2);
  await fence(a, 3);
  assert.deepEqual(got, [1], "a left j");
});

test("sockets and rooms are listed", async () => {
  const a = await connect();
  await joinRoom(a, "listed");
  const r = await call("GET", "/api/sockets?nsp=/&room=listed");
  assert.equal(r.status, 200);
  assert.equal(r.body.sockets.length, 1);
  const [s] = r.body.sockets;
  assert.equal(s.id, a.id);
  assert.deepEqual([...s.rooms].sort(), [a.id, "listed"].sort());
  assert.equal(s.user, null);
  assert.ok("data" in s);
  const all = await call("GET", "/api/sockets");
  assert.ok(all.body.sockets.some((x) => x.id === a.id));
  const rooms = await call("GET", "/api/rooms?nsp=/");
  assert.equal(rooms.status, 200);
  assert.ok(rooms.body.rooms.includes("listed"), JSON.stringify(rooms.body));
  assert.ok(!rooms.body.rooms.includes(a.id), "no socket-id rooms");
});

test("disconnect by socket id", async () => {
  const a = await connect();
  const b = await connect();
  const reason = new Promise((resolve) => a.once("disconnect", resolve));
  await post("/api/disconnect", { sid: a.id, close: false });
  assert.equal(await reason, "io server disconnect");
  assert.ok(b.connected);
  const closed = new Promise((resolve) => b.once("disconnect", resolve));
  await post("/api/disconnect", { sid: b.id, close: true });
  // Node's `disconnect(true)`: DISCONNECT first (the client stays away),
  // then the connection closes.
  assert.equal(await closed, "io server disconnect");
  // Over long-polling too: the GET after the close takes the DISCONNECT.
  const c = await connect(URL, ["polling"]);
  const polled = new Promise((resolve) => c.once("disconnect", resolve));
  await post("/api/disconnect", { sid: c.id, close: true });
  assert.equal(await polled, "io server disconnect");
});

/// `ringcast_connections{transport}` from the API listener's /metrics.
async function gauges() {
  const text = await (await fetch(API + "/metrics")).text();
  const value = (t) => Number(text.match(new RegExp(`^ringcast_connections\\{transport="${t}"\\} (\\d+)$`, "m"))[1]);
  return { websocket: value("websocket"), polling: value("polling") };
}

/// Polls /metrics until the gauges are `want` (each scrape sums the shards as they are then).
async function untilGauges(want) {
  for (;;) {
    const got = await gauges();
    if (got.websocket === want.websocket && got.polling === want.polling) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("errors are JSON with the documented status", async () => {
  const bad = await fetch(API + "/api/emit", { method: "POST", body: "{}", headers: { Authorization: "Bearer nope" } });
  assert.equal(bad.status, 401);
  assert.deepEqual(await bad.json(), { error: "unauthorized" });
  for (const [body, what] of [
    ["{", "malformed JSON"],
    ['{"args":[1]}', "missing field `event`"],
    ['{"event":5}', "invalid type"],
    ['{"event":"disconnect"}', "reserved"],
    ['{"event":"x","nsp":"/nowhere"}', "unknown namespace"],
    ['{"event":"x","bogus":1}', "unknown field"],
  ]) {
    const r = await fetch(API + "/api/emit", { method: "POST", body, headers: { Authorization: `Bearer ${KEY}` } });
    assert.equal(r.status, 400, body);
    const j = await r.json();
    assert.ok(j.error.includes(what), `${body}: ${j.error}`);
  }
  assert.equal((await call("POST", "/api/join", { join: ["x"] })).status, 400);
  assert.equal((await call("GET", "/api/emit")).status, 405);
  assert.equal((await call("POST", "/api/sockets", {})).status, 405);
  assert.equal((await call("GET", "/api/nothing")).status, 404);
  assert.equal((await call("GET", "/nothing")).status, 404);
});

test("a bad token is refused (and counted by /metrics)", async () => {
  const s = io(URL, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { token: "not-a-jwt" } });
  open.push(s);
  const err = await new Promise((resolve) => s.once("connect_error", resolve));
  assert.equal(err.message, "unauthorized");
  assert.equal(err.data.reason, "invalid");
});

test("cluster-wide through Redis", { skip: !PEER }, async () => {
  const here = await connect();
  const there = await connect(PEER);
  await joinRoom(there, "far");
  await untilMembers("far", [there.id]);
  const got = new Promise((resolve) => there.once("far-news", resolve));
  const gotHere = new Promise((resolve) => here.once("far-news", resolve));
  await post("/api/emit", { event: "far-news", args: ["x"] });
  assert.deepEqual(await Promise.all([got, gotHere]), ["x", "x"]);
  const reason = new Promise((resolve) => there.once("disconnect", resolve));
  await post("/api/disconnect", { rooms: ["far"] });
  assert.equal(await reason, "io server disconnect");
});

test("join, leave and rooms cluster-wide, each answered once every node applied it", { skip: !PEER }, async () => {
  // Both on the peer node; this node's API acts on them.
  const there = await connect(PEER);
  const neighbour = await connect(PEER);
  await joinRoom(there, "both-far");
  await post("/api/join", { sid: there.id, join: ["joined-far"] });
  // Answered after the peer applied the join: a broadcast its own client
  // sends to the room at once reaches the socket.
  const hello = new Promise((resolve) => there.once("hello-far", resolve));
  assert.equal(await neighbour.emitWithAck("broadcast", "joined-far", "hello-far", "y"), true);
  assert.equal(await hello, "y");
  let rooms = await call("GET", "/api/rooms?nsp=/");
  assert.ok(rooms.body.rooms.includes("joined-far"), JSON.stringify(rooms.body));
  await post("/api/leave", { sid: there.id, leave: ["joined-far"] });
  // Answered after the peer applied the leave: of two broadcasts the
  // neighbour sends in order, the socket gets only the second.
  const seen = [];
  there.on("after-leave", (n) => seen.push(n));
  const marker = new Promise((resolve) => there.once("marker", resolve));
  assert.equal(await neighbour.emitWithAck("broadcast", "joined-far", "after-leave", "no"), true);
  assert.equal(await neighbour.emitWithAck("broadcast", "both-far", "marker", "m"), true);
  assert.equal(await marker, "m");
  assert.deepEqual(seen, []);
  rooms = await call("GET", "/api/rooms?nsp=/");
  assert.ok(!rooms.body.rooms.includes("joined-far"), JSON.stringify(rooms.body));
  assert.ok(rooms.body.rooms.includes("both-far"), JSON.stringify(rooms.body));
});
