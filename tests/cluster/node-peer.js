#!/usr/bin/env node
// A Node socket.io 4.8 node of a cluster: @socket.io/redis-adapter 8.3.0 over node-redis 4
// (SHARDED=1: its createShardedAdapter over SPUBLISH / SSUBSCRIBE),
// serving the cluster events of docs/contracts/redis-cluster.md section 2 (and join / leave /
// broadcast / broadcast_others / echo of docs/contracts/conformance-app.md).
//
//   PORT=3001 REDIS_URL=redis://127.0.0.1:6390 NODE_NAME=n1 node node-peer.js
//   PORT=3001 REDIS_CLUSTER=redis://127.0.0.1:7000,redis://127.0.0.1:7001 SHARDED=1 node node-peer.js
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");
const { createClient, createCluster } = require("redis");

const port = Number(process.env.PORT ?? 3001);
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const nodeName = process.env.NODE_NAME ?? "node";
// SHARDED=1: Redis 7 sharded pub/sub (createShardedAdapter, subscriptionMode SUBSCRIPTION_MODE
// or "dynamic")
const sharded = process.env.SHARDED === "1";
const subscriptionMode = process.env.SUBSCRIPTION_MODE || "dynamic";
// SPECIFIC_RESPONSE=1: answer requests on the requester's own response channel
const specificResponse = process.env.SPECIFIC_RESPONSE === "1";
// REDIS_CLUSTER=url1,url2,...: a Redis Cluster through node-redis createCluster
const clusterUrls = (process.env.REDIS_CLUSTER ?? "").split(",").filter(Boolean);

// After a slot migration, node-redis 4.7.1 under the sharded adapter leaves the MOVED reply to
// an (un)subscribe sent to the slot's old master as an unhandled rejection, and Node exits.
// That is the Node side's own limitation (tests/cluster.rs checks it only as a sender there):
// log it and keep serving. Any other unhandled rejection still ends the process.
process.on("unhandledRejection", (err) => {
  if (String(err?.message ?? err).startsWith("MOVED ")) {
    console.error(`node-redis left a MOVED reply unhandled: ${err.message}`);
    return;
  }
  console.error(err);
  process.exit(1);
});

async function main() {
  const socket = { reconnectStrategy: (retries) => Math.min(retries * 50, 500) };
  const pubClient = clusterUrls.length
    ? createCluster({ rootNodes: clusterUrls.map((url) => ({ url })), defaults: { socket } })
    : createClient({ url: redisUrl, socket });
  const subClient = pubClient.duplicate();
  for (const c of [pubClient, subClient]) {
    c.on("error", () => {}); // reconnects by itself
  }
  await Promise.all([pubClient.connect(), subClient.connect()]);

  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    cors: { origin: "*" },
    adapter: sharded
      ? createShardedAdapter(pubClient, subClient, { subscriptionMode })
      : createAdapter(pubClient, subClient, { publishOnSpecificResponseChannel: specificResponse }),
  });
  for (const nsp of ["/custom", "/admin"]) {
    io.of(nsp);
  }

  io.on("ping_all", (data) => {
    io.local.emit("server_side_seen", { node: nodeName, data });
  });
  io.on("ping_ack", (data, cb) => {
    if (typeof cb === "function") cb({ node: nodeName, data });
  });

  // Dynamic namespaces (docs/contracts/conformance-app.md section 10), with a broadcast and a
  // fetchSockets on the child for tests/cluster.rs `dynamic_*`.
  io.of(/^\/dyn-\d+$/).on("connection", (socket) => {
    socket.on("echo", (...args) => {
      const ack = args.pop();
      if (typeof ack === "function") ack(...args);
    });
    socket.on("broadcast", (event, data) => socket.nsp.emit(event, data));
    socket.on("fetch_sockets", async (ack) => {
      try {
        const sockets = await socket.nsp.fetchSockets();
        ack(sockets.map((s) => ({ id: s.id })));
      } catch (e) {
        ack({ error: e.message });
      }
    });
  });

  io.on("connection", (socket) => {
    socket.emit("auth", socket.handshake.auth);
    socket.on("join", (room, ack) => {
      socket.join(room);
      if (typeof ack === "function") ack(true);
    });
    socket.on("leave", (room, ack) => {
      socket.leave(room);
      if (typeof ack === "function") ack(true);
    });
    socket.on("broadcast", (room, event, data) => {
      io.to(room).emit(event, data);
    });
    socket.on("broadcast_others", (room, event, data) => {
      socket.to(room).emit(event, data);
    });
    socket.on("echo", (...args) => {
      const ack = args.pop();
      if (typeof ack === "function") ack(...args);
    });
    socket.on("fetch_sockets", async (room, ack) => {
      try {
        const sockets = await io.in(room).fetchSockets();
        ack(sockets.map((s) => ({ id: s.id, rooms: [...s.rooms] })));
      } catch (e) {
        ack({ error: e.message });
      }
    });
    socket.on("sockets_join", (room, newRoom, ack) => {
      io.in(room).socketsJoin(newRoom);
      ack(true);
    });
    socket.on("sockets_leave", (room, oldRoom, ack) => {
      io.in(room).socketsLeave(oldRoom);
      ack(true);
    });
    socket.on("disconnect_sockets", (room, ack) => {
      io.in(room).disconnectSockets(true);
      ack(true);
    });
    socket.on("server_side_emit", (event, data, ack) => {
      io.serverSideEmit(event, data);
      if (typeof ack === "function") ack(true);
    });
    socket.on("all_rooms", async (ack) => {
      try {
        ack([...(await io.of("/").adapter.allRooms())]);
      } catch (e) {
        ack({ error: e.message });
      }
    });
    socket.on("server_side_emit_with_ack", (event, data, ack) => {
      io.serverSideEmit(event, data, (err, responses) => {
        if (typeof ack === "function") ack({ err: !!err, responses: responses || [] });
      });
    });
    socket.on("broadcast_with_ack", (room, event, data, ack) => {
      io.to(room)
        .timeout(2000)
        .emit(event, data, (err, responses) => ack({ err: !!err, responses }));
    });
  });

  httpServer.listen(port, () => console.log(`node peer ${nodeName} listening on ${port}`));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
