"use strict";
// @socket.io/admin-ui with two broker nodes sharing Redis: a dashboard connected to node A
// sees each node's server_stats (its own serverId) and the sockets of node B.
//   RINGCAST_URL=<A> RINGCAST_URL_B=<B> ADMIN_USER=... ADMIN_PASSWORD=... node --test admin/cluster.test.js

const test = require("node:test");
const assert = require("node:assert/strict");
const { io } = require("socket.io-client");

const A = (process.env.RINGCAST_URL || "").replace(/\/+$/, "");
const B = (process.env.RINGCAST_URL_B || "").replace(/\/+$/, "");
const USER = process.env.ADMIN_USER || "admin";
const PASSWORD = process.env.ADMIN_PASSWORD || "";
const open = [];
test.after(() => open.forEach((s) => s.disconnect()));

function connect(url, opts = {}) {
  return new Promise((resolve, reject) => {
    const s = io(url, { forceNew: true, reconnection: false, transports: ["websocket"], ...opts });
    open.push(s);
    s.once("connect", () => resolve(s));
    s.once("connect_error", reject);
  });
}

test("each node reports itself; the dashboard sees the sockets of both", { skip: !B && "RINGCAST_URL_B unset" }, async () => {
  const early = await connect(B); // on node B before the dashboard comes
  const admin = io(A + "/admin", {
    forceNew: true,
    reconnection: false,
    transports: ["websocket"],
    auth: { username: USER, password: PASSWORD },
  });
  open.push(admin);
  const servers = new Set();
  const bothReported = new Promise((resolve) => {
    admin.on("server_stats", (s) => {
      servers.add(s.serverId);
      if (servers.has("node-a") && servers.has("node-b")) resolve();
    });
  });
  const all = new Promise((resolve) => admin.once("all_sockets", resolve));
  // A remote socket_connected: a node-B socket seen by a node-A dashboard (through Redis).
  // The time limit only turns a hang into a failure with a name.
  const guard = (p, what) =>
    Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error(what)), 20000))]);
  await guard(new Promise((resolve) => admin.once("connect", resolve)), "dashboard connect");
  const sockets = await guard(all, "all_sockets");
  assert.ok(sockets.some((s) => s.id === early.id && s.nsp === "/"), "node B's socket in all_sockets");
  await guard(bothReported, `server_stats of both nodes (got ${[...servers]})`);
  const later = new Promise((resolve) => admin.on("socket_connected", (s) => s.nsp === "/" && resolve(s.id)));
  const client = await connect(B);
  assert.equal(await guard(later, "socket_connected from node B"), client.id);
});
