"use strict";
// Shared helpers for the end-to-end client tests.
//
//   RINGCAST_URL         server base URL (default http://127.0.0.1:3000)
//   RINGCAST_TRANSPORTS  websocket | polling | default (default: default)
//   RINGCAST_MANY        number of clients in the "many clients" test (default 1000)

const { io, Manager } = require("socket.io-client");
const crypto = require("node:crypto");

const URL = (process.env.RINGCAST_URL || "http://127.0.0.1:3000").replace(/\/+$/, "");
const MODE = process.env.RINGCAST_TRANSPORTS || "default";
if (!["websocket", "polling", "default"].includes(MODE)) {
  throw new Error(`RINGCAST_TRANSPORTS must be websocket|polling|default, got ${MODE}`);
}
const MANY = Number(process.env.RINGCAST_MANY || 1000);

// default per-operation timeout (ms)
const T = 5000;

function transportOpts() {
  switch (MODE) {
    case "websocket":
      return { transports: ["websocket"] };
    case "polling":
      return { transports: ["polling"] };
    default:
      return {}; // polling first, then upgrade to websocket
  }
}

const open = new Set();

/** Creates a socket with its own Manager (no multiplexing); not yet awaited. */
function client(nsp = "/", opts = {}) {
  const s = io(URL + nsp, {
    forceNew: true,
    reconnection: false,
    timeout: T,
    ...transportOpts(),
    ...opts,
  });
  open.add(s);
  return s;
}

/** Creates a Manager (for multiplexing several namespaces on one Engine.IO session). */
function manager(opts = {}) {
  const m = new Manager(URL, {
    reconnection: false,
    timeout: T,
    ...transportOpts(),
    ...opts,
  });
  return m;
}

function track(s) {
  open.add(s);
  return s;
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Resolves with the arguments of the next `event` on `emitter`. */
function once(emitter, event, ms = T) {
  return withTimeout(
    new Promise((resolve) => emitter.once(event, (...args) => resolve(args))),
    ms,
    `event "${event}"`,
  );
}

/** Resolves when the socket is connected, rejects on connect_error. */
function connected(s, ms = T) {
  if (s.connected) return Promise.resolve(s);
  return withTimeout(
    new Promise((resolve, reject) => {
      const onConnect = () => {
        s.off("connect_error", onError);
        resolve(s);
      };
      const onError = (err) => {
        s.off("connect", onConnect);
        reject(err);
      };
      s.once("connect", onConnect);
      s.once("connect_error", onError);
    }),
    ms,
    `connect of ${s.nsp}`,
  );
}

/** Resolves with the Error of the next connect_error, rejects if the socket connects. */
function connectError(s, ms = T) {
  return withTimeout(
    new Promise((resolve, reject) => {
      s.once("connect_error", (err) => resolve(err));
      s.once("connect", () => reject(new Error(`${s.nsp} unexpectedly connected`)));
    }),
    ms,
    `connect_error of ${s.nsp}`,
  );
}

/** Connected client on `nsp`. */
async function connect(nsp = "/", opts = {}) {
  const s = client(nsp, opts);
  await connected(s);
  return s;
}

/** Emits `event` with `args` and an ack callback; resolves with the ack's arguments (array). */
function ack(s, event, ...args) {
  return withTimeout(
    new Promise((resolve) => s.emit(event, ...args, (...res) => resolve(res))),
    T,
    `ack of "${event}"`,
  );
}

/** Unique name (room / event) so that concurrent runs on one server never interfere. */
function uid(prefix = "r") {
  return `${prefix}-${crypto.randomBytes(6).toString("hex")}`;
}

/** Collects every `event` received by `s`: returns an array that fills up. */
function collect(s, event) {
  const got = [];
  s.on(event, (...args) => got.push(args.length === 1 ? args[0] : args));
  return got;
}

/** Waits until `pred()` is true (polls). */
async function until(pred, what, ms = T) {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > ms) throw new Error(`timeout after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Fence: `sender` broadcasts a marker (sender included) to `room`; resolves when every socket
 * of `receivers` (all in `room`) got it. Since the server emits to each socket in order, anything
 * the server sent a receiver before the fence has been received once the fence arrives.
 */
async function fence(sender, room, receivers) {
  const ev = uid("fence");
  const waits = receivers.map((r) => once(r, ev));
  sender.emit("broadcast", room, ev, null);
  await Promise.all(waits);
}

/** Normalizes any binary value (Buffer, ArrayBuffer, typed array) to a Buffer; else null. */
function asBuffer(v) {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return null;
}

function isBinary(v) {
  return asBuffer(v) !== null;
}

/** Deep copy where every binary value becomes {$bin: hex} so that deepStrictEqual compares bytes. */
function norm(v) {
  if (isBinary(v)) return { $bin: asBuffer(v).toString("hex") };
  if (Array.isArray(v)) return v.map(norm);
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) o[k] = norm(v[k]);
    return o;
  }
  return v;
}

/** Disconnects every socket created through these helpers. */
function closeAll() {
  for (const s of open) {
    s.disconnect();
    if (s.io && s.io.engine) s.io.engine.close();
  }
  open.clear();
}

async function connectMany(n, nsp = "/", opts = {}, concurrency = 100) {
  const out = new Array(n);
  let next = 0;
  async function worker() {
    while (next < n) {
      const i = next++;
      out[i] = await connect(nsp, opts);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return out;
}

module.exports = {
  URL,
  MODE,
  MANY,
  T,
  transportOpts,
  client,
  manager,
  track,
  once,
  connected,
  connectError,
  connect,
  connectMany,
  ack,
  uid,
  collect,
  until,
  fence,
  asBuffer,
  isBinary,
  norm,
  closeAll,
  withTimeout,
};
