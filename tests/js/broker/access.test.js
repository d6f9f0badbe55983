"use strict";
// The broker with a config file: JWT connection tokens and room permissions, driven by
// socket.io-client. Started by tests/broker_access.rs with the config it writes:
//   [auth] HS256 secret $RINGCAST_JWT_SECRET, RS256 and ES256 public keys from $RINGCAST_KEYS_DIR,
//          jwt_issuer = "ringcast-tests", jwt_audience = "ringcast"
//   [[namespace]] "/"      rooms ["lobby", "public:*"], publish ["lobby"]
//   [[namespace]] "/open"  anonymous, rooms ["public:*"], publish ["public:*"]
//   [[namespace]] "/wild"  anonymous, rooms ["*"], publish ["*"]
//   RINGCAST_URL=... RINGCAST_JWT_SECRET=... RINGCAST_KEYS_DIR=... node --test broker/access.test.js
//
// "Delivers nothing" is proven with a marker: the same sender broadcasts a marker afterwards to a
// room the receiver is in; the server writes one sender's broadcasts to a receiver in order, so
// once the marker has arrived anything sent before it would have arrived too.

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { io, Manager } = require("socket.io-client");
const { sign } = require("./jwt");

const URL = (process.env.RINGCAST_URL || "http://127.0.0.1:3000").replace(/\/+$/, "");
const SECRET = process.env.RINGCAST_JWT_SECRET;
const KEYS = process.env.RINGCAST_KEYS_DIR;
assert.ok(SECRET && KEYS, "RINGCAST_JWT_SECRET and RINGCAST_KEYS_DIR must be set");

const opened = [];
test.after(() => opened.forEach((s) => s.disconnect()));

const now = () => Math.floor(Date.now() / 1000);
let seq = 0;
const uniq = (p) => `${p}${++seq}-${process.pid}`;

/** A token with the test issuer, audience and a 10-minute exp; `claims` override (undefined removes). */
function token(claims = {}, alg = "HS256") {
  const all = { iss: "ringcast-tests", aud: "ringcast", exp: now() + 600, ...claims };
  for (const k of Object.keys(all)) if (all[k] === undefined) delete all[k];
  const key = alg === "HS256" ? SECRET : fs.readFileSync(path.join(KEYS, `${alg.toLowerCase()}.key`));
  return sign(alg, key, all);
}

function socket(nsp = "/", auth, transport = "websocket") {
  const s = io(URL + nsp, { forceNew: true, reconnection: false, transports: [transport], auth });
  opened.push(s);
  return s;
}

/** Connects; rejects with the connect error. */
function connect(nsp = "/", auth, transport) {
  const s = socket(nsp, auth, transport);
  return new Promise((resolve, reject) => {
    s.once("connect", () => resolve(s));
    s.once("connect_error", reject);
  });
}

/** The connect error a CONNECT gets; fails if it connects. */
function refusal(nsp, auth, transport) {
  const s = socket(nsp, auth, transport);
  return new Promise((resolve, reject) => {
    s.once("connect", () => reject(new Error(`${nsp} connected with ${JSON.stringify(auth)}`)));
    s.once("connect_error", resolve);
  });
}

const ack = (s, ...args) => s.timeout(5000).emitWithAck(...args);

/** Records every event `s` receives. */
function record(s) {
  const seen = [];
  s.onAny((ev, ...args) => seen.push([ev, ...args]));
  return seen;
}

/** `sender` broadcasts a marker to `room`; resolves once `receiver` got it. */
async function fence(sender, room, receiver) {
  const name = uniq("marker-");
  const got = new Promise((resolve) => receiver.once(name, resolve));
  assert.equal(await ack(sender, "broadcast", room, name, 1), true, `marker to ${room}`);
  await got;
  return name;
}

const FORBIDDEN = { error: "forbidden" };

/**
 * `seen` without the markers of earlier tests: a marker is awaited only by its receiver, and a
 * socket that joins the room later on another shard may still get it.
 */
function withoutStaleMarkers(seen, ...markers) {
  return seen.filter(([e]) => !(typeof e === "string" && e.startsWith("marker-")) || markers.includes(e));
}

for (const transport of ["websocket", "polling"]) {
  test(`tokens signed with HS256, RS256 and ES256 are accepted; the socket joins user:<sub> (${transport})`, async () => {
    const publisher = await connect("/", { token: token({ sub: uniq("pub-"), publish: ["user:*"] }) });
    for (const alg of ["HS256", "RS256", "ES256"]) {
      const sub = uniq(`${alg}-`);
      const s = await connect("/", { token: token({ sub }, alg) }, transport);
      const got = new Promise((resolve) => s.once("hello", resolve));
      assert.equal(await ack(publisher, "broadcast", `user:${sub}`, "hello", alg), true);
      assert.equal(await got, alg);
    }
  });
}

test("missing, invalid and expired tokens are refused with a reason", async () => {
  const rsKey = fs.readFileSync(path.join(KEYS, "rs256.pub"), "utf8");
  const good = token({ sub: "x" });
  const [h, , sig] = good.split(".");
  const tampered = `${h}.${Buffer.from(JSON.stringify({ sub: "admin", iss: "ringcast-tests", aud: "ringcast" })).toString("base64url")}.${sig}`;
  const cases = [
    [{}, "missing"],
    [undefined, "missing"],
    [{ token: null }, "missing"],
    [{ token: "" }, "missing"],
    [{ token: 42 }, "invalid"],
    [{ token: "not-a-jwt" }, "invalid"],
    [{ token: sign("HS256", "another-secret", { iss: "ringcast-tests", aud: "ringcast" }) }, "invalid"],
    [{ token: tampered }, "invalid"],
    // Algorithm confusion: HS256 keyed with the RS256 public key is not an RS256 token.
    [{ token: sign("HS256", rsKey, { iss: "ringcast-tests", aud: "ringcast" }) }, "invalid"],
    [{ token: token({ iss: "someone-else" }) }, "invalid"],
    [{ token: token({ aud: "another-service" }) }, "invalid"],
    [{ token: token({ iss: undefined }) }, "invalid"],
    [{ token: token({ aud: undefined }) }, "invalid"],
    [{ token: token({ rooms: ["a*b"] }) }, "invalid"],
    [{ token: token({ rooms: "lobby" }) }, "invalid"],
    [{ token: token({ exp: now() - 30 }) }, "expired"],
    [{ token: token({ exp: now() - 30 }, "RS256") }, "expired"],
    [{ token: token({ exp: now() - 30 }, "ES256") }, "expired"],
  ];
  for (const [auth, reason] of cases) {
    for (const transport of ["websocket", "polling"]) {
      const err = await refusal("/", auth, transport);
      assert.equal(err.message, "unauthorized", `${JSON.stringify(auth)} (${transport})`);
      assert.deepEqual(err.data, { reason }, `${JSON.stringify(auth)} (${transport})`);
    }
  }
});

test("a refused namespace leaves the other namespaces of the same connection alone", async () => {
  const m = new Manager(URL, { reconnection: false, transports: ["websocket"] });
  const open = m.socket("/open");
  const guarded = m.socket("/", { auth: { token: "bad" } });
  opened.push(open, guarded);
  const err = await new Promise((resolve) => guarded.once("connect_error", resolve));
  assert.deepEqual([err.message, err.data], ["unauthorized", { reason: "invalid" }]);
  if (!open.connected) await new Promise((resolve) => open.once("connect", resolve));
  assert.equal(await ack(open, "join", "public:same-conn"), true);
  const later = m.socket("/wild", { auth: { token: token({ sub: "late" }) } });
  opened.push(later);
  await new Promise((resolve) => later.once("connect", resolve));
  assert.equal(open.io.engine.id, later.io.engine.id, "one Engine.IO connection");
  assert.ok(open.connected);
});

test("a socket whose token expires while connected is disconnected then", async () => {
  // Seconds of margin: `now()` is floored and the leeway is 0, so the token must outlive the
  // connect and the join on a loaded machine.
  const exp = now() + 5;
  const m = new Manager(URL, { reconnection: false, transports: ["websocket"] });
  const s = m.socket("/", { auth: { token: token({ sub: uniq("exp-"), exp }) } });
  const neighbour = m.socket("/open");
  opened.push(s, neighbour);
  const reason = new Promise((resolve) => s.once("disconnect", resolve));
  await new Promise((resolve, reject) => {
    s.once("connect", resolve);
    s.once("connect_error", reject);
  });
  assert.equal(await ack(s, "join", "lobby"), true);
  assert.equal(await reason, "io server disconnect");
  assert.ok(Date.now() >= exp * 1000, "not before exp");
  // Only that socket: the other namespace on the same connection still works.
  assert.ok(neighbour.connected);
  assert.equal(await ack(neighbour, "join", "public:after-expiry"), true);
});

test("joins: namespace patterns (exact, trailing *), token patterns ({sub}, exact), forbidden otherwise", async () => {
  const s = await connect("/", { token: token({ sub: "alice", rooms: ["dm:{sub}:*", "vip"] }) });
  const cases = [
    ["lobby", true],
    ["lobby2", FORBIDDEN],
    ["public:x", true],
    ["public:", true],
    ["public", FORBIDDEN],
    ["dm:alice:1", true],
    ["dm:bob:1", FORBIDDEN],
    ["dm:{sub}:1", FORBIDDEN],
    ["vip", true],
    ["vip2", FORBIDDEN],
    ["user:bob", FORBIDDEN],
    [s.id, FORBIDDEN],
  ];
  for (const [room, reply] of cases) assert.deepEqual(await ack(s, "join", room), reply, room);
  // Without {sub} in the claims of another user, alice's grants are not bob's.
  const bob = await connect("/", { token: token({ sub: "bob" }) });
  assert.deepEqual(await ack(bob, "join", "dm:alice:1"), FORBIDDEN);
  assert.deepEqual(await ack(bob, "join", "vip"), FORBIDDEN);
  assert.equal(await ack(bob, "leave", "lobby"), true, "leaving is never restricted");
});

test("a forbidden join joins nothing", async () => {
  const victim = await connect("/", { token: token({ sub: uniq("v-") }) });
  const publisher = await connect("/", { token: token({ sub: uniq("p-"), publish: ["secret"] }) });
  const seen = record(victim);
  assert.deepEqual(await ack(victim, "join", "secret"), FORBIDDEN);
  assert.equal(await ack(victim, "join", "lobby"), true);
  assert.equal(await ack(publisher, "broadcast", "secret", "leak", 1), true);
  const marker = await fence(publisher, "lobby", victim);
  assert.deepEqual(seen, [[marker, 1]]);
});

test("the token's join claim joins rooms on connect; its publish claim allows broadcasts", async () => {
  const room = uniq("news-");
  const reader = await connect("/", { token: token({ sub: uniq("r-"), join: [room] }) });
  const writer = await connect("/", { token: token({ sub: uniq("w-"), publish: [`${room.slice(0, 5)}*`] }) });
  const got = new Promise((resolve) => reader.once("headline", resolve));
  assert.equal(await ack(writer, "broadcast", room, "headline", "hi"), true);
  assert.equal(await got, "hi");
});

test("forbidden broadcasts deliver nothing and ack forbidden; allowed ones ack true", async () => {
  const sender = await connect("/", { token: token({ sub: uniq("s-") }) });
  const receiver = await connect("/", { token: token({ sub: uniq("r-") }) });
  const room = "public:forbidden-broadcast";
  for (const s of [sender, receiver]) {
    assert.equal(await ack(s, "join", room), true);
    assert.equal(await ack(s, "join", "lobby"), true);
  }
  const seen = record(receiver);
  // "/" lets anyone join public:* but publish only to lobby.
  assert.deepEqual(await ack(sender, "broadcast", room, "nope", 1), FORBIDDEN);
  assert.deepEqual(await ack(sender, "broadcast_others", room, "nope", 2), FORBIDDEN);
  assert.deepEqual(await ack(sender, "broadcast", `user:${receiver.id}`, "nope", 3), FORBIDDEN);
  assert.deepEqual(await ack(sender, "broadcast", receiver.id, "nope", 4), FORBIDDEN);
  const marker = await fence(sender, "lobby", receiver);
  assert.deepEqual(withoutStaleMarkers(seen, marker), [[marker, 1]]);
  // Without an ack the forbidden broadcast is dropped silently, and still delivers nothing.
  sender.emit("broadcast", room, "nope", 5);
  const marker2 = await fence(sender, "lobby", receiver);
  assert.deepEqual(withoutStaleMarkers(seen, marker, marker2), [[marker, 1], [marker2, 1]]);
});

test("reserved event names are refused under permissions too", async () => {
  const a = await connect("/wild");
  const b = await connect("/wild");
  const room = uniq("reserved-");
  for (const s of [a, b]) assert.equal(await ack(s, "join", room), true);
  const seen = record(b);
  let dropped = null;
  b.on("disconnect", (r) => (dropped = r));
  for (const name of ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]) {
    assert.deepEqual(await ack(a, "broadcast", room, name, 1), { error: "reserved event" }, name);
    assert.deepEqual(await ack(a, "broadcast_others", room, name, 1), { error: "reserved event" }, name);
  }
  const marker = await fence(a, room, b);
  assert.deepEqual(seen, [[marker, 1]]);
  assert.equal(dropped, null);
});

test("an anonymous namespace takes clients without a token, with its own patterns", async () => {
  const s = await connect("/open");
  const other = await connect("/open");
  assert.equal(await ack(s, "join", "public:a"), true);
  assert.equal(await ack(other, "join", "public:a"), true);
  assert.deepEqual(await ack(s, "join", "lobby"), FORBIDDEN);
  const seen = record(other);
  assert.deepEqual(await ack(s, "broadcast", "lobby", "nope", 1), FORBIDDEN);
  const marker = await fence(s, "public:a", other);
  assert.deepEqual(seen, [[marker, 1]]);
  // A token that is sent is still checked.
  const err = await refusal("/open", { token: "garbage" });
  assert.deepEqual([err.message, err.data], ["unauthorized", { reason: "invalid" }]);
  // A valid one adds its grants.
  const vip = await connect("/open", { token: token({ sub: uniq("o-"), rooms: ["backstage"] }) });
  assert.equal(await ack(vip, "join", "backstage"), true);
  assert.deepEqual(await ack(s, "join", "backstage"), FORBIDDEN);
});

test("a namespace the config does not list is refused", async () => {
  const err = await refusal("/custom", { token: token({ sub: "x" }) });
  assert.equal(err.message, "Invalid namespace");
});

test("socket-id rooms never match a pattern, not even *", async () => {
  const a = await connect("/wild");
  const b = await connect("/wild");
  const room = uniq("wild-");
  assert.equal(await ack(a, "join", room), true, "* matches ordinary rooms");
  assert.equal(await ack(b, "join", room), true);
  assert.deepEqual(await ack(a, "join", b.id), FORBIDDEN, "another socket's id room");
  assert.deepEqual(await ack(a, "join", a.id), FORBIDDEN, "its own id room");
  const seen = record(b);
  assert.deepEqual(await ack(a, "broadcast", b.id, "private", 1), FORBIDDEN);
  assert.deepEqual(await ack(a, "broadcast_others", b.id, "private", 2), FORBIDDEN);
  const marker = await fence(a, room, b);
  assert.deepEqual(seen, [[marker, 1]]);
});
