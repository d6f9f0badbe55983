"use strict";
// admin-ui's `mode` and `readonly` options, as Node's `instrument` has them:
//   ADMIN_MODE=production: config without ALL_EVENTS, and no per-socket traffic (no all_sockets,
//     socket_connected, room_joined, event_received), only server_stats;
//   ADMIN_MODE=readonly: config without the commands, and the commands do nothing.
//   RINGCAST_URL=... ADMIN_USER=... ADMIN_PASSWORD=... ADMIN_MODE=... node --test admin/modes.test.js

const test = require("node:test");
const assert = require("node:assert/strict");
const { USER, PASSWORD, socket, next, connected } = require("./common");

const MODE = process.env.ADMIN_MODE;
const COMMANDS = ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT"];

test(`admin-ui mode ${MODE}`, async () => {
  const admin = socket("/admin", { auth: { username: USER, password: PASSWORD } });
  const seen = [];
  admin.onAny((event) => seen.push(event));
  const config = next(admin, "config");
  await connected(admin);
  const [{ supportedFeatures }] = await config;
  const client = socket("/");
  await connected(client);
  if (MODE === "production") {
    assert.deepEqual(supportedFeatures, [...COMMANDS, "AGGREGATED_EVENTS"]);
    assert.equal(await client.timeout(5000).emitWithAck("join", "p1"), true);
    // The commands still act.
    const got = next(client, "hello");
    admin.emit("emit", "/", "p1", "hello", 1);
    assert.deepEqual(await got, [1]);
    // A report sent after all that: nothing per socket came before it (or at all).
    await next(admin, "server_stats", (s) => s.namespaces.some((n) => n.name === "/" && n.socketsCount >= 1));
    const perSocket = ["all_sockets", "socket_connected", "room_joined", "event_received", "event_sent"];
    assert.deepEqual(seen.filter((e) => perSocket.includes(e)), []);
  } else if (MODE === "readonly") {
    assert.deepEqual(supportedFeatures, ["AGGREGATED_EVENTS", "ALL_EVENTS"]);
    // The dashboard's join does nothing; a join of the client's own is reported.
    const wrong = [];
    admin.on("room_joined", (nsp, room) => room === "ro-admin" && wrong.push(room));
    client.on("hello", () => wrong.push("hello"));
    admin.emit("join", "/", "ro-admin", client.id);
    admin.emit("emit", "/", client.id, "hello", 1);
    const joined = next(admin, "room_joined", (nsp, room, id) => room === "ro-client" && id === client.id);
    assert.equal(await client.timeout(5000).emitWithAck("join", "ro-client"), true);
    await joined;
    // Without command handlers the commands are dropped on arrival; the next report comes
    // after that.
    await next(admin, "server_stats");
    assert.deepEqual(wrong, []);
  } else {
    assert.fail(`ADMIN_MODE must be production or readonly, not ${MODE}`);
  }
});
