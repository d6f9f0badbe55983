"use strict";
// conformance-app-2.md section 11: the conformance app started with `--parser msgpack`, driven by
// socket.io-client 4.8 with socket.io-msgpack-parser 3.0.2, over websocket and polling.

const test = require("node:test");
const assert = require("node:assert");
const { io } = require("socket.io-client");
const parser = require("socket.io-msgpack-parser");
const { URL, once } = require("./helpers");

const open = [];
function connect(nsp, transport, opts = {}) {
  const s = io(URL + nsp, { parser, forceNew: true, reconnection: false, transports: [transport], ...opts });
  open.push(s);
  return s;
}
test.after(() => open.forEach((s) => s.close()));

for (const transport of ["websocket", "polling"]) {
  test(`${transport}: connect /custom, auth emitted back`, async () => {
    const s = connect("/custom", transport, { auth: { token: "t", n: 1 } });
    const [auth] = await once(s, "auth");
    assert.deepStrictEqual(auth, { token: "t", n: 1 });
    assert.ok(s.connected && s.id);
  });

  test(`${transport}: echo with binary at depth, ack`, async () => {
    const s = connect("/custom", transport);
    await once(s, "connect");
    const reply = await new Promise((resolve) =>
      s.emit("echo", "hi", Buffer.from([1, 2]), { n: [1, { b: Buffer.from([3]) }] }, (...args) => resolve(args)),
    );
    assert.strictEqual(reply[0], "hi");
    assert.ok(Buffer.isBuffer(reply[1]), "top-level binary arrives as a Buffer");
    assert.deepStrictEqual([...reply[1]], [1, 2]);
    assert.strictEqual(reply[2].n[0], 1);
    assert.ok(Buffer.isBuffer(reply[2].n[1].b), "nested binary arrives as a Buffer");
    assert.deepStrictEqual([...reply[2].n[1].b], [3]);
  });

  test(`${transport}: broadcast to a room reaches both members, binary intact`, async () => {
    const a = connect("/", transport);
    const b = connect("/", transport === "websocket" ? "polling" : "websocket");
    await Promise.all([once(a, "connect"), once(b, "connect")]);
    const room = `mp-${transport}-${Date.now()}`;
    await Promise.all([a.emitWithAck("join", room), b.emitWithAck("join", room)]);
    const got = Promise.all([once(a, "news"), once(b, "news")]);
    a.emit("broadcast", room, "news", { text: "é", bin: Buffer.from([9, 8, 7]), list: [1.5, null, true] });
    for (const [data] of await got) {
      assert.strictEqual(data.text, "é");
      assert.deepStrictEqual([...data.bin], [9, 8, 7]);
      assert.deepStrictEqual(data.list, [1.5, null, true]);
    }
  });

  test(`${transport}: unknown namespace refused with "Invalid namespace"`, async () => {
    const s = connect("/nope", transport);
    const [err] = await once(s, "connect_error");
    assert.strictEqual(err.message, "Invalid namespace");
  });

  test(`${transport}: middleware refusal on /admin, then success with the token`, async () => {
    const bad = connect("/admin", transport);
    const [err] = await once(bad, "connect_error");
    assert.strictEqual(err.message, "unauthorized");
    const good = connect("/admin", transport, { auth: { token: "secret" } });
    await once(good, "connect");
  });
}

test("a JSON-parser client never connects to a msgpack server (its text packets are a parse error)", async () => {
  const s = io(URL, { forceNew: true, reconnection: false, transports: ["websocket"] });
  open.push(s);
  const ended = await Promise.race([
    once(s, "disconnect").then(() => "disconnect"),
    once(s, "connect_error").then(() => "connect_error"),
    once(s, "connect").then(() => "connect"),
  ]);
  assert.notStrictEqual(ended, "connect");
});
