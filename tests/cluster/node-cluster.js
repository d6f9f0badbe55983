#!/usr/bin/env node
// Two (WORKERS) Node socket.io nodes on one port: node:cluster forks node-peer.js workers that share
// the listening socket (the primary hands out connections round-robin), each with its own
// @socket.io/redis-adapter. Used by bench-fanout.sh for the cross-node fan-out benchmark.
//
//   PORT=3001 REDIS_URL=redis://127.0.0.1:6390 WORKERS=2 node node-cluster.js
"use strict";

const cluster = require("node:cluster");

if (cluster.isPrimary) {
  const n = Number(process.env.WORKERS ?? 2);
  for (let i = 0; i < n; i++) cluster.fork({ NODE_NAME: `w${i}` });
  cluster.on("exit", (w, code) => {
    console.error(`worker ${w.process.pid} exited (${code})`);
    process.exit(1);
  });
} else {
  require("./node-peer.js");
}
