"use strict";
// echo (ack with the same arguments), message / message-back, message-with-ack, emitWithAck, timeouts.
const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const h = require("../lib/helpers");

let s;
before(async () => {
  s = await h.connect("/");
});
after(() => h.closeAll());

test("echo with 0 arguments acks with 0 arguments", async () => {
  assert.deepEqual(await h.ack(s, "echo"), []);
});

test("echo with 1 argument", async () => {
  for (const v of ["str", "", 0, 1, -1.25, 1e21, true, false, null, [], {}, [1, [2, [3]]], { a: 1 }]) {
    assert.deepEqual(await h.ack(s, "echo", v), [v], JSON.stringify(v));
  }
});

test("echo with 3 arguments preserves count, order and types", async () => {
  assert.deepEqual(await h.ack(s, "echo", "a", 2, { c: [3] }), ["a", 2, { c: [3] }]);
  assert.deepEqual(await h.ack(s, "echo", null, null, null), [null, null, null]);
  assert.deepEqual(await h.ack(s, "echo", [], "", 0), [[], "", 0]);
});

test("echo with many arguments", async () => {
  const args = Array.from({ length: 20 }, (_, i) => (i % 2 ? i : `s${i}`));
  assert.deepEqual(await h.ack(s, "echo", ...args), args);
});

test("echo of nested objects preserves key order", async () => {
  const obj = {
    zeta: 1,
    alpha: { z: [1, 2, { y: "y", b: "b", a: "a" }], a: null, m: { "2": 2, "10": 10, k: "k" } },
    beta: [{ d: 4, c: 3 }, [{ f: 6, e: 5 }]],
    "key with spaces": "v",
    "ünïcödé": "☃😀",
    "": "empty key",
  };
  const [got] = await h.ack(s, "echo", obj);
  assert.deepEqual(got, obj);
  assert.equal(JSON.stringify(got), JSON.stringify(obj));
  assert.deepEqual(Object.keys(got), Object.keys(obj));
  assert.deepEqual(Object.keys(got.alpha.z[2]), ["y", "b", "a"]);
});

test("echo of strings with special characters", async () => {
  const strs = ['quote " backslash \\ slash /', "newline\n\r\ttab", "\u0000\u001f", "\u2028\u2029", "😀🎉", "[]{},:"];
  assert.deepEqual(await h.ack(s, "echo", ...strs), strs);
  // a string that looks like a binary placeholder stays a string/object as sent
  const ph = { _placeholder: "no", num: "0" };
  assert.deepEqual(await h.ack(s, "echo", ph), [ph]);
});

test("echo of a large payload (~200 KB)", async () => {
  const big = { data: "x".repeat(200_000), arr: Array.from({ length: 1000 }, (_, i) => i) };
  assert.deepEqual(await h.ack(s, "echo", big), [big]);
});

test("echo of binary at top level", async () => {
  const buf = Buffer.from([0, 1, 2, 3, 254, 255]);
  const res = await h.ack(s, "echo", buf);
  assert.equal(res.length, 1);
  assert.ok(h.isBinary(res[0]), "binary preserved");
  assert.deepEqual(h.asBuffer(res[0]), buf);
});

test("echo of typed arrays and ArrayBuffer comes back as binary with the same bytes", async () => {
  const u8 = new Uint8Array([5, 6, 7]);
  const ab = new Uint8Array([8, 9]).buffer;
  const res = await h.ack(s, "echo", u8, ab);
  assert.equal(res.length, 2);
  assert.ok(h.isBinary(res[0]) && h.isBinary(res[1]));
  assert.deepEqual([...h.asBuffer(res[0])], [5, 6, 7]);
  assert.deepEqual([...h.asBuffer(res[1])], [8, 9]);
});

test("echo of binary nested in objects and arrays", async () => {
  const a = Buffer.from("hello");
  const b = Buffer.from([0xde, 0xad, 0xbe, 0xef]);
  const arg = { name: "file", content: a, parts: [b, { inner: a }, [[b]]], after: 1 };
  const res = await h.ack(s, "echo", arg, [a, "x", b]);
  assert.deepEqual(h.norm(res), h.norm([arg, [a, "x", b]]));
  assert.ok(h.isBinary(res[0].content));
  assert.ok(h.isBinary(res[0].parts[2][0][0]));
  assert.deepEqual(Object.keys(res[0]), ["name", "content", "parts", "after"]);
});

test("echo of empty buffers", async () => {
  const e = Buffer.alloc(0);
  const res = await h.ack(s, "echo", e, { e }, [e, e]);
  assert.equal(res.length, 3);
  assert.ok(h.isBinary(res[0]));
  assert.equal(h.asBuffer(res[0]).length, 0);
  assert.ok(h.isBinary(res[1].e));
  assert.ok(h.isBinary(res[2][0]) && h.isBinary(res[2][1]));
  assert.deepEqual(h.norm(res), h.norm([e, { e }, [e, e]]));
});

test("echo of several buffers preserves their order", async () => {
  // 10 attachments: the most socket.io-parser >= 4.2.5 accepts in one packet (maxAttachments: 10);
  // the reference server closes the connection on a packet announcing more.
  const bufs = Array.from({ length: 10 }, (_, i) => Buffer.alloc(i * 7, i + 1)); // distinct sizes and contents
  const res = await h.ack(s, "echo", ...bufs);
  assert.equal(res.length, bufs.length);
  res.forEach((r, i) => {
    assert.ok(h.isBinary(r), `arg ${i} is binary`);
    assert.deepEqual(h.asBuffer(r), bufs[i], `arg ${i}`);
  });
  // mixed with JSON values in between
  const mixed = ["a", bufs[3], 1, { x: bufs[1], y: [bufs[2], bufs[0]] }, bufs[5]];
  assert.deepEqual(h.norm(await h.ack(s, "echo", ...mixed)), h.norm(mixed));
});

test("echo of a large binary (~500 KB)", async () => {
  const buf = Buffer.alloc(500_000);
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 31) & 0xff;
  const [got] = await h.ack(s, "echo", buf);
  assert.ok(h.asBuffer(got).equals(buf));
});

test("echo without ack does not crash; the server still answers afterwards", async () => {
  s.emit("echo");
  s.emit("echo", 1, 2, 3);
  s.emit("echo", Buffer.from([1]), { b: Buffer.from([2]) });
  assert.deepEqual(await h.ack(s, "echo", "still alive"), ["still alive"]);
  assert.equal(s.connected, true);
  // and on another fresh connection too
  const other = await h.connect("/");
  assert.deepEqual(await h.ack(other, "echo", "fresh"), ["fresh"]);
});

test("concurrent acks are matched to the right callbacks", async () => {
  const res = await Promise.all(Array.from({ length: 100 }, (_, i) => h.ack(s, "echo", i, `v${i}`)));
  res.forEach((r, i) => assert.deepEqual(r, [i, `v${i}`]));
});

test("message -> message-back with the same arguments", async () => {
  for (const args of [[], ["one"], [1, { two: 2 }, [3]]]) {
    const p = h.once(s, "message-back");
    s.emit("message", ...args);
    assert.deepEqual(await p, args);
  }
});

test("message -> message-back preserves binary and attachment order", async () => {
  const a = Buffer.from([1, 2]);
  const b = Buffer.alloc(0);
  const c = Buffer.from([3]);
  const args = [a, { b, list: [c, a] }, "text", c];
  const p = h.once(s, "message-back");
  s.emit("message", ...args);
  const got = await p;
  assert.deepEqual(h.norm(got), h.norm(args));
  assert.ok(h.isBinary(got[0]) && h.isBinary(got[1].b) && h.isBinary(got[3]));
});

test("message-with-ack acks with the same arguments", async () => {
  assert.deepEqual(await h.ack(s, "message-with-ack", 1, "2", [3]), [1, "2", [3]]);
  assert.deepEqual(await h.ack(s, "message-with-ack"), []);
  const buf = Buffer.from([4, 5, 6]);
  assert.deepEqual(h.norm(await h.ack(s, "message-with-ack", buf, { buf })), h.norm([buf, { buf }]));
});

test("emitWithAck resolves with the first ack argument", async () => {
  assert.equal(await s.emitWithAck("echo", "first", "second"), "first");
  assert.deepEqual(await s.emitWithAck("echo", { k: [1] }), { k: [1] });
  assert.equal(await s.timeout(h.T).emitWithAck("echo", 42), 42);
});

test("timeout: emitWithAck on an event without ack rejects after the timeout", async () => {
  const t0 = Date.now();
  await assert.rejects(s.timeout(300).emitWithAck("no-such-event", 1), (err) => {
    assert.ok(err instanceof Error);
    assert.equal(err.message, "operation has timed out");
    return true;
  });
  assert.ok(Date.now() - t0 >= 250);
  // "broadcast" never acks either
  await assert.rejects(s.timeout(300).emitWithAck("broadcast", h.uid(), "ev", 1), /operation has timed out/);
});

test("timeout: callback form gets (err) on timeout and (null, ...args) on success", async () => {
  const timedOut = await new Promise((resolve) => s.timeout(200).emit("no-such-event", (err) => resolve(err)));
  assert.ok(timedOut instanceof Error);
  const ok = await new Promise((resolve) => s.timeout(h.T).emit("echo", "a", "b", (...args) => resolve(args)));
  assert.deepEqual(ok, [null, "a", "b"]);
});

test("/custom echo behaves like /", async () => {
  const c = await h.connect("/custom");
  assert.deepEqual(await h.ack(c, "echo"), []);
  assert.deepEqual(await h.ack(c, "echo", 1, { b: 2, a: 1 }, "3"), [1, { b: 2, a: 1 }, "3"]);
  const buf = Buffer.from([1, 2, 3]);
  const e = Buffer.alloc(0);
  const args = [buf, { e, l: [buf, e] }];
  assert.deepEqual(h.norm(await h.ack(c, "echo", ...args)), h.norm(args));
  c.emit("echo", "no ack");
  assert.deepEqual(await h.ack(c, "echo", "alive"), ["alive"]);
});
