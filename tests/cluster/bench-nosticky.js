#!/usr/bin/env node
// Polling echo through a TCP proxy in front of two ringcast nodes (issue 14, item 5):
//   MODE=rr        one proxy port, each incoming connection to the next node (no affinity; the
//                  Node client opens a connection per polling request, so per request);
//   MODE=affinity  one proxy port per node; client i uses port i % 2, so every request of its
//                  session reaches the owner (what a sticky balancer achieves).
// The same proxy code (a separate process) carries both, so the difference is forwarding.
//
//   NODES=http://127.0.0.1:3001,http://127.0.0.1:3002 MODE=rr CLIENTS=50 ECHOES=200 \
//     node tests/cluster/bench-nosticky.js
"use strict";

const net = require("node:net");
const { fork } = require("node:child_process");

if (process.argv[2] === "proxy") {
  // proxy <rr|pin> <backend ports...>: prints the listening port(s) as JSON.
  const mode = process.argv[3];
  const backends = process.argv.slice(4).map(Number);
  const listen = (pick) =>
    new Promise((resolve) => {
      const srv = net.createServer((c) => {
        const u = net.connect(pick(), "127.0.0.1");
        c.setNoDelay(true);
        u.setNoDelay(true);
        c.pipe(u);
        u.pipe(c);
        const end = () => {
          c.destroy();
          u.destroy();
        };
        c.on("error", end);
        u.on("error", end);
        c.on("close", end);
        u.on("close", end);
      });
      srv.listen(0, "127.0.0.1", () => resolve(srv.address().port));
    });
  (async () => {
    let next = 0;
    const ports =
      mode === "rr"
        ? [await listen(() => backends[next++ % backends.length])]
        : await Promise.all(backends.map((b) => listen(() => b)));
    process.send(ports);
  })();
  return;
}

const { io } = require("socket.io-client");
const NODES = process.env.NODES.split(",");
const MODE = process.env.MODE || "rr";
const CLIENTS = Number(process.env.CLIENTS || 50);
const ECHOES = Number(process.env.ECHOES || 200);
// KIND=fanout: every client joins one room, client 0 broadcasts ECHOES messages of 64 B to it;
// reports deliveries/s until every client got every message (in order).
const KIND = process.env.KIND || "echo";
const payload = "x".repeat(64);

(async () => {
  const backends = NODES.map((u) => new URL(u).port);
  const proxy = fork(__filename, ["proxy", MODE === "rr" ? "rr" : "pin", ...backends]);
  const ports = await new Promise((r) => proxy.once("message", r));
  const socks = await Promise.all(
    Array.from({ length: CLIENTS }, (_, i) => {
      const port = ports[i % ports.length];
      const s = io(`http://127.0.0.1:${port}`, { transports: ["polling"], forceNew: true, reconnection: false });
      return new Promise((resolve, reject) => {
        s.once("connect", () => resolve(s));
        s.once("connect_error", reject);
      });
    }),
  );
  if (KIND === "fanout") {
    await Promise.all(
      socks.map((s) => new Promise((r) => s.timeout(30000).emit("join", "fan", () => r()))),
    );
    const done = socks.map(
      (s) =>
        new Promise((resolve, reject) => {
          let n = 0;
          s.on("m", ({ i }) => {
            if (i !== n) reject(new Error(`out of order: ${i} after ${n}`));
            n += 1;
            if (n === ECHOES) resolve();
          });
        }),
    );
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < ECHOES; i++) socks[0].emit("broadcast", "fan", "m", { i, p: payload });
    await Promise.all(done);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(
      JSON.stringify({
        mode: MODE,
        kind: "fanout",
        clients: CLIENTS,
        messages: ECHOES,
        seconds: Number(secs.toFixed(2)),
        deliveries_per_s: Math.round((CLIENTS * ECHOES) / secs),
      }),
    );
    for (const s of socks) s.close();
    proxy.kill();
    process.exit(0);
  }
  const lat = [];
  const t0 = process.hrtime.bigint();
  await Promise.all(
    socks.map(async (s) => {
      for (let k = 0; k < ECHOES; k++) {
        const a = process.hrtime.bigint();
        await new Promise((resolve, reject) =>
          s.timeout(30000).emit("echo", payload, (err) => (err ? reject(err) : resolve())),
        );
        lat.push(Number(process.hrtime.bigint() - a) / 1e6);
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(2);
  console.log(
    JSON.stringify({
      mode: MODE,
      clients: CLIENTS,
      echoes: lat.length,
      seconds: Number(secs.toFixed(2)),
      echoes_per_s: Math.round(lat.length / secs),
      p50_ms: Number(q(0.5)),
      p99_ms: Number(q(0.99)),
    }),
  );
  for (const s of socks) s.close();
  proxy.kill();
  process.exit(0);
})().catch((e) => {
  console.error("FAILED:", e);
  process.exit(1);
});
