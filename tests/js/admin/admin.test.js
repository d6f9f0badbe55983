"use strict";
// @socket.io/admin-ui 0.5's protocol against the broker, spoken by socket.io-client as the
// dashboard speaks it (the shapes of the package's dist/typed-events.d.ts).
//   RINGCAST_URL=... ADMIN_USER=... ADMIN_PASSWORD=... [ADMIN_NAMESPACE=/admin] node --test admin/admin.test.js

const test = require("node:test");
const assert = require("node:assert/strict");
const { NSP, USER, PASSWORD, socket, next, connected, refused } = require("./common");

test("wrong or missing credentials get connect_error", async () => {
  for (const auth of [{ username: USER, password: PASSWORD + "x" }, { username: "x" + USER, password: PASSWORD }, {}]) {
    const err = await refused(socket(NSP, { auth }));
    assert.equal(err.message, "invalid credentials");
  }
});

test("the dashboard sees sockets and rooms, and its commands act on them", async () => {
  const admin = socket(NSP, { auth: { username: USER, password: PASSWORD } });
  const session = next(admin, "session");
  const config = next(admin, "config");
  const all = next(admin, "all_sockets");
  const stats = next(admin, "server_stats");
  await connected(admin);

  const [{ supportedFeatures }] = await config;
  // Node's default mode ("development") also has ALL_EVENTS.
  for (const f of ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS"]) {
    assert.ok(supportedFeatures.includes(f), `${f} in ${supportedFeatures}`);
  }
  const [sockets] = await all;
  assert.ok(Array.isArray(sockets));
  const me = sockets.find((s) => s.id === admin.id);
  assert.ok(me, "the dashboard's own socket is listed");
  assert.equal(me.nsp, NSP);
  assert.equal(me.handshake.auth, undefined, "auth (the password) is never sent");
  assert.ok(me.rooms.includes(admin.id));
  const [s0] = await stats;
  for (const k of ["serverId", "hostname"]) assert.equal(typeof s0[k], "string", k);
  for (const k of ["pid", "uptime", "clientsCount", "pollingClientsCount"]) assert.equal(typeof s0[k], "number", k);
  assert.ok(s0.namespaces.some((n) => n.name === "/" && typeof n.socketsCount === "number"));
  const [sessionId] = await session;
  assert.match(sessionId, /^[0-9a-f]{16}$/);

  // A report from now on has a rawConnection in aggregatedEvents (at least the client's).
  const aggregated = next(admin, "server_stats", (s) =>
    (s.aggregatedEvents || []).some((e) => e.type === "rawConnection" && e.count >= 1 && typeof e.timestamp === "number"),
  );
  // A client connects: socket_connected, with its transport and no auth.
  const client = socket("/", { auth: { secret: "not for the dashboard" } });
  const hello = next(admin, "socket_connected", (s) => s.nsp === "/");
  await connected(client);
  const [info, at] = await hello;
  assert.equal(info.id, client.id);
  assert.equal(info.nsp, "/");
  assert.equal(info.transport, "websocket");
  assert.equal(typeof info.clientId, "string");
  assert.equal(info.handshake.auth, undefined);
  assert.equal(typeof info.handshake.address, "string");
  assert.ok(!Number.isNaN(Date.parse(at)), at);

  // server_stats counts it (stats are sent every 2 s; wait for one that does).
  await next(admin, "server_stats", (s) => s.namespaces.some((n) => n.name === "/" && n.socketsCount >= 1));
  await aggregated;

  // The client joins a room: room_joined, and the event itself (ALL_EVENTS): event_received
  // with the name first and without the ack.
  const joined = next(admin, "room_joined", (nsp, room, id) => nsp === "/" && room === "r1" && id === client.id);
  const received = next(admin, "event_received", (nsp, id, args) => nsp === "/" && id === client.id && args[0] === "join");
  assert.equal(await client.timeout(5000).emitWithAck("join", "r1"), true);
  await joined;
  const [, , args, when] = await received;
  assert.deepEqual(args, ["join", "r1"]);
  assert.ok(!Number.isNaN(Date.parse(when)), when);

  // The dashboard's join and leave (filter: the client's id), then emit to it.
  const j2 = next(admin, "room_joined", (nsp, room, id) => room === "r2" && id === client.id);
  admin.emit("join", "/", "r2", client.id);
  await j2;
  const l2 = next(admin, "room_left", (nsp, room, id) => room === "r2" && id === client.id);
  admin.emit("leave", "/", "r2", client.id);
  await l2;
  // Packets and bytes both ways show in a later report (the dashboard's
  // packets and bytes charts): each kind with a positive count.
  const kinds = ["packetsIn", "packetsOut", "bytesIn", "bytesOut"];
  const seenKinds = new Set();
  const traffic = next(admin, "server_stats", (s) => {
    for (const e of s.aggregatedEvents || []) {
      if (kinds.includes(e.type) && e.count > 0 && typeof e.timestamp === "number") seenKinds.add(e.type);
    }
    return seenKinds.size === kinds.length;
  });
  const got = next(client, "hello");
  admin.emit("emit", "/", "r1", "hello", 1, { two: 2 });
  assert.deepEqual(await got, [1, { two: 2 }]);
  await traffic;

  // _disconnect: the client is disconnected by the server; socket_disconnected.
  const id = client.id; // undefined once the client is disconnected
  const gone = next(admin, "socket_disconnected", (nsp, sid) => nsp === "/" && sid === id);
  const kicked = next(client, "disconnect");
  admin.emit("_disconnect", "/", false, id);
  assert.equal((await kicked)[0], "io server disconnect");
  const [, , reason] = await gone;
  assert.equal(reason, "server namespace disconnect");

  // The session id logs in without the password.
  const again = socket(NSP, { auth: { sessionId } });
  await connected(again);
  assert.equal(await refused(socket(NSP, { auth: { sessionId: "0123456789abcdef" } })).then((e) => e.message), "invalid credentials");

  // A client on polling that upgrades: socket_connected says polling, socket_updated websocket.
  // (Every socket_updated is kept from the start: the upgrade may finish before anything here.)
  const updates = [];
  let onUpdate = () => {};
  admin.on("socket_updated", (u) => {
    updates.push(u);
    onUpdate();
  });
  const upgrader = socket("/", { transports: ["polling", "websocket"] });
  const seen = next(admin, "socket_connected", (s) => s.nsp === "/");
  await connected(upgrader);
  const [polled] = await seen;
  assert.equal(polled.id, upgrader.id);
  assert.equal(polled.transport, "polling");
  const find = () => updates.find((u) => u.id === polled.id);
  await new Promise((resolve) => {
    onUpdate = () => find() && resolve();
    onUpdate();
  });
  assert.deepEqual(find(), { id: polled.id, nsp: "/", transport: "websocket" });
});
