"use strict";
// Throughput of the event hook, beside the broker's own acks, from one Node process:
//   node broker/hooks_bench.js BACKEND_PORT      runs the backend only (answers {"ack": 1})
//   RINGCAST_URL=... node broker/hooks_bench.js  runs the clients: 20 sockets x 10 acks in flight
//     for 5 s each of: "join" (answered by the broker) and "echo" (answered by the backend)
// Start the broker with --proxy-event-url http://127.0.0.1:BACKEND_PORT/event.
const http = require("node:http");

if (process.argv[2]) {
  const agentless = http.createServer({ keepAlive: true }, (req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end('{"ack":1}'));
  });
  agentless.keepAliveTimeout = 60000;
  agentless.listen(Number(process.argv[2]), "127.0.0.1");
  return;
}

const { io } = require("socket.io-client");
const URL = process.env.RINGCAST_URL;
const SOCKETS = 20, INFLIGHT = 10, SECONDS = 5;

async function run(event, args) {
  const sockets = await Promise.all(
    Array.from({ length: SOCKETS }, () => new Promise((resolve, reject) => {
      const s = io(URL, { forceNew: true, reconnection: false, transports: ["websocket"] });
      s.once("connect", () => resolve(s));
      s.once("connect_error", reject);
    })),
  );
  let done = 0, stop = false;
  const loop = async (s) => { while (!stop) { await s.emitWithAck(event, ...args); done++; } };
  const loops = sockets.flatMap((s) => Array.from({ length: INFLIGHT }, () => loop(s)));
  const start = Date.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  stop = true;
  await Promise.all(loops);
  const rate = (done / ((Date.now() - start) / 1000)).toFixed(0);
  sockets.forEach((s) => s.disconnect());
  console.log(`${event}: ${rate} acks/s (${SOCKETS} sockets x ${INFLIGHT} in flight)`);
}

(async () => {
  await run("join", ["bench-room"]);
  await run("echo", [1]);
})();
