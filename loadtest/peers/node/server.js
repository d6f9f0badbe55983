#!/usr/bin/env node
// Reference Node.js implementation of the ringcast conformance app.
// Contract: docs/contracts/conformance-app.md (sections 1-6).
//
//   node server.js [--port PORT] [--profile suite|bench] [--per-message-deflate 1]
//   PORT=3000 PROFILE=bench node server.js
//
// --per-message-deflate 1 (or PER_MESSAGE_DEFLATE=1): socket.io's perMessageDeflate option on
// (ws compresses every message of at least 1024 bytes, per socket); benchmarks only.
//
// It is both the peer in benchmarks and the oracle the client test suites are
// validated against, so it must stay a plain socket.io 4.8 server with exactly
// the handlers of the spec and nothing else.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");
const engine = require("engine.io");

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (!m) {
      throw new Error(`unexpected argument: ${a}`);
    }
    const key = m[1];
    let val = m[2];
    if (val === undefined) {
      val = argv[i + 1];
      i++;
    }
    if (val === undefined) {
      throw new Error(`missing value for --${key}`);
    }
    out[key] = val;
  }
  return out;
}

let args;
try {
  args = parseArgs(process.argv.slice(2));
} catch (e) {
  console.error(`${e.message}\nusage: node server.js [--port PORT] [--profile suite|bench]`);
  process.exit(2);
}
for (const k of Object.keys(args)) {
  // accepted for command-line compatibility with the Rust example; unused here
  if (!["port", "profile", "shards", "redis-url", "name", "per-message-deflate"].includes(k)) {
    console.error(`unknown option --${k}`);
    process.exit(2);
  }
}

const port = Number(args.port ?? process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid port: ${args.port ?? process.env.PORT}`);
  process.exit(2);
}
const profile = String(args.profile ?? process.env.PROFILE ?? "bench");
const deflateArg = String(args["per-message-deflate"] ?? process.env.PER_MESSAGE_DEFLATE ?? "0");
// threshold 1024 is socket.io's default once the option is on (and ringcast's)
const perMessageDeflate = ["1", "true"].includes(deflateArg) ? { threshold: 1024 } : false;

const TIMINGS = {
  // Socket.IO defaults
  bench: { pingInterval: 25000, pingTimeout: 20000, connectTimeout: 45000 },
  // hard-coded in socketio/engine.io-protocol and socketio/socket.io-protocol test suites
  suite: { pingInterval: 300, pingTimeout: 200, connectTimeout: 1000 },
};
const timings = TIMINGS[profile];
if (!timings) {
  console.error(`invalid profile: ${profile} (expected suite or bench)`);
  process.exit(2);
}

const MAX_PAYLOAD = 1e6; // maxHttpBufferSize, advertised as maxPayload in the handshake
const CORS = { origin: "*" }; // allow any origin

const httpServer = http.createServer((req, res) => {
  // reached only for paths that neither /socket.io/ nor /engine.io/ handle
  res.writeHead(404, { "Content-Type": "text/plain" });
  res.end("Not Found");
});

// --- Socket.IO at /socket.io/ --------------------------------------------------
const io = new Server(httpServer, {
  path: "/socket.io/",
  serveClient: false,
  transports: ["polling", "websocket"],
  pingInterval: timings.pingInterval,
  pingTimeout: timings.pingTimeout,
  connectTimeout: timings.connectTimeout,
  maxHttpBufferSize: MAX_PAYLOAD,
  cors: CORS,
  perMessageDeflate,
  // connectionStateRecovery deliberately not set (off): CONNECT reply is {"sid":"..."}
});

function takeAck(args) {
  return args.length > 0 && typeof args[args.length - 1] === "function" ? args.pop() : null;
}

function installEcho(socket) {
  socket.on("echo", (...args) => {
    const ack = takeAck(args);
    if (ack) ack(...args);
  });
}

// namespace "/"
io.on("connection", (socket) => {
  // section 6.1: right after the CONNECT reply, before anything else
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
    io.to(room).emit(event, data); // sender included
  });

  socket.on("broadcast_others", (room, event, data) => {
    socket.to(room).emit(event, data); // sender excluded
  });

  installEcho(socket);

  // section 6.2
  // exactly the handler of the official socket.io-protocol test-suite's reference server: when
  // the client asks for an ack on "message", the ack function is the last argument and becomes
  // the ack callback of the server's "message-back" emit (42<id>["message-back",...]); the
  // client's ack of that packet is then relayed as the ack of "message".
  socket.on("message", (...args) => {
    socket.emit("message-back", ...args);
  });

  socket.on("message-with-ack", (...args) => {
    const ack = takeAck(args);
    if (ack) ack(...args);
  });
});

// namespace "/custom"
io.of("/custom").on("connection", (socket) => {
  socket.emit("auth", socket.handshake.auth);
  installEcho(socket);
});

// namespace "/admin"
const admin = io.of("/admin");
admin.use((socket, next) => {
  const auth = socket.handshake.auth;
  if (auth && auth.token === "secret") {
    next();
  } else {
    next(new Error("unauthorized"));
  }
});
admin.on("connection", () => {});

// any other namespace: refused by socket.io with {"message":"Invalid namespace"}

// --- raw Engine.IO echo at /engine.io/ (section 6.3) --------------------------------
const eio = engine.attach(httpServer, {
  path: "/engine.io/",
  transports: ["polling", "websocket"],
  pingInterval: timings.pingInterval,
  pingTimeout: timings.pingTimeout,
  maxHttpBufferSize: MAX_PAYLOAD,
  cors: CORS,
  // do not let this engine destroy upgrade requests meant for /socket.io/
  destroyUpgrade: false,
});
eio.on("connection", (socket) => {
  socket.on("message", (data) => socket.send(data));
});

httpServer.listen(port, () => {
  const addr = httpServer.address();
  console.log(
    `ringcast node reference (socket.io ${require("socket.io/package.json").version}) ` +
      `listening on port ${addr.port} (profile ${profile}` +
      `${perMessageDeflate ? ", perMessageDeflate" : ""})`,
  );
});

function shutdown(signal) {
  console.log(`received ${signal}, closing`);
  io.close();
  eio.close();
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on("SIGINT", () => shutdown("SIGINT"));
process.on("SIGTERM", () => shutdown("SIGTERM"));
