"use strict";
// Connection, namespaces, admin middleware, auth event, transports, client-side disconnect.
const { test, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const h = require("../lib/helpers");

afterEach(() => h.closeAll());

test("connect on / and receive the auth event with an empty auth payload", async () => {
  const s = h.client("/");
  const auth = h.once(s, "auth");
  await h.connected(s);
  assert.equal(typeof s.id, "string");
  assert.ok(s.id.length > 0);
  const [payload] = await auth;
  assert.deepEqual(payload, {});
});

test("the auth event echoes the auth payload (key order preserved)", async () => {
  const payload = { token: "123", z: 1, a: [1, "x", { c: null, b: true }], m: { y: 2, x: 1 } };
  const s = h.client("/", { auth: payload });
  const auth = h.once(s, "auth");
  await h.connected(s);
  const [got] = await auth;
  assert.deepEqual(got, payload);
  assert.equal(JSON.stringify(got), JSON.stringify(payload));
});

test("auth is the first event, before replies to events emitted on connect", async () => {
  const s = h.client("/", { auth: { token: "first" } });
  const events = [];
  s.onAny((ev, ...args) => events.push([ev, ...args]));
  s.on("connect", () => s.emit("message", "hello"));
  await h.connected(s);
  await h.until(() => events.length >= 2, "auth + message-back");
  assert.deepEqual(events, [
    ["auth", { token: "first" }],
    ["message-back", "hello"],
  ]);
});

test("connect on /custom: auth event and echo", async () => {
  const s = h.client("/custom", { auth: { token: "abc" } });
  const auth = h.once(s, "auth");
  await h.connected(s);
  assert.deepEqual((await auth)[0], { token: "abc" });
  assert.deepEqual(await h.ack(s, "echo", 1, "two", { three: 3 }), [1, "two", { three: 3 }]);
});

test("/custom: binary echo", async () => {
  const s = await h.connect("/custom");
  const buf = Buffer.from([0, 1, 2, 255]);
  const res = await h.ack(s, "echo", buf, { nested: [buf] });
  assert.ok(h.isBinary(res[0]));
  assert.deepEqual(h.norm(res), h.norm([buf, { nested: [buf] }]));
});

test("/admin with token secret connects", async () => {
  const s = h.client("/admin", { auth: { token: "secret" } });
  await h.connected(s);
  assert.ok(s.connected);
  assert.equal(typeof s.id, "string");
});

test("/admin without token is refused with 'unauthorized'", async () => {
  const s = h.client("/admin");
  const err = await h.connectError(s);
  assert.ok(err instanceof Error);
  assert.equal(err.message, "unauthorized");
  assert.equal(s.connected, false);
});

test("/admin with a wrong token is refused with 'unauthorized'", async () => {
  for (const auth of [{ token: "wrong" }, { token: "" }, { tok: "secret" }, { token: ["secret"] }]) {
    const s = h.client("/admin", { auth });
    const err = await h.connectError(s);
    assert.equal(err.message, "unauthorized", JSON.stringify(auth));
  }
});

test("/admin refusal does not affect / and /custom multiplexed on the same Manager", async () => {
  const m = h.manager();
  const root = h.track(m.socket("/"));
  const admin = h.track(m.socket("/admin"));
  const custom = h.track(m.socket("/custom", { auth: { token: "c" } }));
  const rootAuth = h.once(root, "auth");
  const customAuth = h.once(custom, "auth");
  const [err] = await Promise.all([h.connectError(admin), h.connected(root), h.connected(custom)]);
  assert.equal(err.message, "unauthorized");
  assert.deepEqual((await rootAuth)[0], {});
  assert.deepEqual((await customAuth)[0], { token: "c" });
  // same Engine.IO session
  assert.ok(m.engine);
  assert.equal(root.io, admin.io);
  // still fully functional after the refusal
  assert.deepEqual(await h.ack(root, "echo", "after", 1), ["after", 1]);
  assert.deepEqual(await h.ack(custom, "echo", "after", 2), ["after", 2]);
  const back = h.once(root, "message-back");
  root.emit("message", "still-here");
  assert.deepEqual(await back, ["still-here"]);
  assert.equal(root.connected, true);
  assert.equal(custom.connected, true);
  assert.equal(admin.connected, false);
});

test("/admin accepted and / on the same Manager", async () => {
  const m = h.manager();
  const root = h.track(m.socket("/"));
  const admin = h.track(m.socket("/admin", { auth: { token: "secret" } }));
  await Promise.all([h.connected(root), h.connected(admin)]);
  assert.notEqual(root.id, admin.id);
  assert.deepEqual(await h.ack(root, "echo", "x"), ["x"]);
});

test("unknown namespace is refused with 'Invalid namespace'", async () => {
  const s = h.client("/does-not-exist");
  const err = await h.connectError(s);
  assert.equal(err.message, "Invalid namespace");
});

test("unknown namespace refusal does not affect / on the same Manager", async () => {
  const m = h.manager();
  const root = h.track(m.socket("/"));
  const bad = h.track(m.socket("/nope"));
  const [err] = await Promise.all([h.connectError(bad), h.connected(root)]);
  assert.equal(err.message, "Invalid namespace");
  assert.deepEqual(await h.ack(root, "echo", 42), [42]);
});

test("transport matches RINGCAST_TRANSPORTS", async () => {
  const s = h.client("/");
  await h.connected(s);
  const engine = s.io.engine;
  if (h.MODE === "default") {
    if (engine.transport.name !== "websocket") {
      await h.once(engine, "upgrade");
    }
    assert.equal(engine.transport.name, "websocket");
    // still works after the upgrade
    const buf = Buffer.from([7, 0, 255]);
    assert.deepEqual(h.norm(await h.ack(s, "echo", "upgraded", buf)), h.norm(["upgraded", buf]));
  } else {
    assert.equal(engine.transport.name, h.MODE);
    await h.ack(s, "echo", "x");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(engine.transport.name, h.MODE);
  }
});

test("client-side disconnect", async () => {
  const s = await h.connect("/");
  const reason = h.once(s, "disconnect");
  s.disconnect();
  assert.equal((await reason)[0], "io client disconnect");
  assert.equal(s.connected, false);
});

test("after a client-side disconnect the server forgot the socket's rooms", async () => {
  const room = h.uid();
  const common = h.uid();
  const a = await h.connect("/");
  const b = await h.connect("/");
  assert.deepEqual(await h.ack(a, "join", room), [true]);
  assert.deepEqual(await h.ack(b, "join", room), [true]);
  assert.deepEqual(await h.ack(b, "join", common), [true]);
  const oldId = a.id;
  const gone = h.once(a, "disconnect");
  a.disconnect();
  await gone;
  // reconnect the same client object: a new server-side socket, in no room
  a.connect();
  await h.connected(a);
  assert.notEqual(a.id, oldId);
  assert.deepEqual(await h.ack(a, "join", common), [true]);
  const ev = h.uid("ev");
  const gotA = h.collect(a, ev);
  const gotB = h.collect(b, ev);
  b.emit("broadcast", room, ev, "x");
  await h.fence(b, common, [a, b]);
  assert.deepEqual(gotB, ["x"]);
  assert.deepEqual(gotA, []);
});

test("disconnecting one namespace keeps the others of the Manager alive", async () => {
  const m = h.manager();
  const root = h.track(m.socket("/"));
  const custom = h.track(m.socket("/custom"));
  await Promise.all([h.connected(root), h.connected(custom)]);
  const reason = h.once(custom, "disconnect");
  custom.disconnect();
  assert.equal((await reason)[0], "io client disconnect");
  assert.deepEqual(await h.ack(root, "echo", "alive"), ["alive"]);
  assert.equal(root.connected, true);
});
