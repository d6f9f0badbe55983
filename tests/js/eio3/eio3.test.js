"use strict";
// conformance-app-2.md section 12: the conformance app started with `--allow-eio3` (and short
// --ping-interval / --ping-timeout), driven by socket.io-client 2.x (Engine.IO v3, Socket.IO
// protocol v4) over polling, websocket and polling upgraded to websocket, next to a 4.x client.
// tests/eio3.rs starts the server and sets RINGCAST_URL and RINGCAST_PING_INTERVAL.

const test = require("node:test");
const assert = require("node:assert");
const ioV2 = require("socket.io-client-v2");
const { io: ioV4 } = require("socket.io-client");

const URL = (process.env.RINGCAST_URL || "http://127.0.0.1:3000").replace(/\/+$/, "");

/** Resolves with the arguments of the first `event` of `emitter`. */
function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}

/** The bytes of a Buffer, Uint8Array or ArrayBuffer (what 2.x hands out depends on the transport). */
function bytes(x) {
  assert.ok(Buffer.isBuffer(x) || x instanceof ArrayBuffer || ArrayBuffer.isView(x), `binary, got ${typeof x}`);
  return [...Buffer.from(x instanceof ArrayBuffer ? x : x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength))];
}

const open = [];
function v2(nsp, transports, opts = {}) {
  const s = ioV2(URL + nsp, { forceNew: true, reconnection: false, ...(transports ? { transports } : {}), ...opts });
  open.push(s);
  return s;
}
function v4(nsp, opts = {}) {
  const s = ioV4(URL + nsp, { forceNew: true, reconnection: false, ...opts });
  open.push(s);
  return s;
}
test.after(() => open.forEach((s) => s.close()));

/** An emit with an ack (socket.io-client 2.x has no emitWithAck). */
function call(s, ...args) {
  return new Promise((resolve) => s.emit(...args, (...reply) => resolve(reply)));
}

const kinds = [
  ["polling", ["polling"]],
  ["websocket", ["websocket"]],
  ["upgrade", undefined],
];

for (const [name, transports] of kinds) {
  test(`${name}: connects to / without a CONNECT, auth {} emitted, engine id = socket id`, async () => {
    const s = v2("/", transports);
    const [auth] = await once(s, "auth");
    assert.deepStrictEqual(auth, {});
    if (!s.connected) await once(s, "connect");
    assert.strictEqual(s.id, s.io.engine.id);
    if (name === "upgrade" && s.io.engine.transport.name !== "websocket") {
      await once(s.io.engine, "upgrade");
    }
    assert.strictEqual(s.io.engine.transport.name, name === "polling" ? "polling" : "websocket");
  });

  test(`${name}: emit with ack, binary both ways (top level and nested)`, async () => {
    const s = v2("/", transports);
    await once(s, "connect");
    if (name === "upgrade" && s.io.engine.transport.name !== "websocket") {
      await once(s.io.engine, "upgrade");
    }
    const text = await call(s, "echo", "héllo 😀", { n: [1, null, true] });
    assert.deepStrictEqual(text, ["héllo 😀", { n: [1, null, true] }]);
    const bin = await call(s, "echo", "b", Buffer.from([1, 2, 3]), { deep: [Buffer.from([]), Buffer.from([255])] });
    assert.strictEqual(bin[0], "b");
    assert.deepStrictEqual(bytes(bin[1]), [1, 2, 3]);
    assert.deepStrictEqual(bytes(bin[2].deep[0]), []);
    assert.deepStrictEqual(bytes(bin[2].deep[1]), [255]);
  });

  test(`${name}: custom namespace with a query as auth, echo there`, async () => {
    const s = v2("/custom", transports, { query: { token: "abc" } });
    const [auth] = await once(s, "auth");
    assert.deepStrictEqual(auth, { token: "abc" });
    if (!s.connected) await once(s, "connect");
    assert.strictEqual(s.id, "/custom#" + s.io.engine.id);
    const reply = await call(s, "echo", Buffer.from([7]));
    assert.deepStrictEqual(bytes(reply[0]), [7]);
  });

  test(`${name}: middleware refusal and invalid namespace`, async () => {
    const refused = v2("/admin", transports);
    const [err] = await once(refused, "error");
    assert.strictEqual(err, "unauthorized");
    const unknown = v2("/nope", transports);
    const [err2] = await once(unknown, "error");
    assert.deepStrictEqual(err2, { message: "Invalid namespace" });
    const admitted = v2("/admin", transports, { query: { token: "secret" } });
    await once(admitted, "connect");
  });
}

test("heartbeat: the 2.x client pings, gets pongs, and the session survives several intervals", async () => {
  for (const transports of [["polling"], ["websocket"]]) {
    const s = v2("/", transports);
    await once(s, "connect");
    let disconnected = null;
    s.on("disconnect", (reason) => (disconnected = reason));
    for (let i = 0; i < 4; i++) {
      await once(s, "pong");
    }
    assert.strictEqual(disconnected, null);
    assert.deepStrictEqual(await call(s, "echo", "still here"), ["still here"]);
  }
});

test("a 2.x client and a 4.x client in one room each receive the other's broadcast", async () => {
  for (const transports of [["polling"], ["websocket"]]) {
    const a = v2("/", transports);
    const b = v4("/", { transports });
    await Promise.all([once(a, "connect"), once(b, "connect")]);
    const room = `eio3-${transports[0]}-${Date.now()}`;
    await Promise.all([call(a, "join", room), b.emitWithAck("join", room)]);

    const fromV2 = Promise.all([once(a, "from_v2"), once(b, "from_v2")]);
    a.emit("broadcast", room, "from_v2", { text: "é", bin: Buffer.from([9, 8]) });
    for (const [data] of await fromV2) {
      assert.strictEqual(data.text, "é");
      assert.deepStrictEqual(bytes(data.bin), [9, 8]);
    }

    const fromV4 = Promise.all([once(a, "from_v4"), once(b, "from_v4")]);
    b.emit("broadcast", room, "from_v4", ["x", Buffer.from([1])]);
    for (const [data] of await fromV4) {
      assert.strictEqual(data[0], "x");
      assert.deepStrictEqual(bytes(data[1]), [1]);
    }
  }
});
