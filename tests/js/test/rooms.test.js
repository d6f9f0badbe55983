"use strict";
// join / leave / broadcast / broadcast_others on namespace "/".
const { test, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const h = require("../lib/helpers");

afterEach(() => h.closeAll());

test("join and leave with ack reply true", async () => {
  const s = await h.connect("/");
  const room = h.uid();
  assert.deepEqual(await h.ack(s, "join", room), [true]);
  assert.deepEqual(await h.ack(s, "join", room), [true]); // joining twice is fine
  assert.deepEqual(await h.ack(s, "leave", room), [true]);
  assert.deepEqual(await h.ack(s, "leave", room), [true]); // leaving a room not joined is fine
  assert.deepEqual(await h.ack(s, "leave", h.uid()), [true]);
});

test("join without ack takes effect (and sends nothing back)", async () => {
  const s = await h.connect("/");
  const room = h.uid();
  const ev = h.uid("ev");
  const all = [];
  s.onAny((e, ...args) => {
    if (e !== "auth") all.push([e, ...args]);
  });
  s.emit("join", room);
  // per-socket ordering: the broadcast is handled after the join
  s.emit("broadcast", room, ev, { hello: "room" });
  const [data] = await h.once(s, ev);
  assert.deepEqual(data, { hello: "room" });
  assert.deepEqual(all, [[ev, { hello: "room" }]]);
});

test("leave without ack takes effect", async () => {
  const s = await h.connect("/");
  const room = h.uid();
  const other = h.uid();
  const ev = h.uid("ev");
  assert.deepEqual(await h.ack(s, "join", room), [true]);
  assert.deepEqual(await h.ack(s, "join", other), [true]);
  const got = h.collect(s, ev);
  s.emit("leave", room);
  s.emit("broadcast", room, ev, 1);
  await h.fence(s, other, [s]);
  assert.deepEqual(got, []);
});

test("broadcast reaches every socket of the room, sender included, nobody else", async () => {
  const [a, b, c, d] = await h.connectMany(4);
  const room = h.uid();
  const all = h.uid();
  for (const s of [a, b, c]) assert.deepEqual(await h.ack(s, "join", room), [true]);
  for (const s of [a, b, c, d]) assert.deepEqual(await h.ack(s, "join", all), [true]);
  const ev = h.uid("ev");
  const got = [a, b, c, d].map((s) => h.collect(s, ev));
  a.emit("broadcast", room, ev, { n: 1, s: "x" });
  await h.fence(a, all, [a, b, c, d]);
  assert.deepEqual(got, [[{ n: 1, s: "x" }], [{ n: 1, s: "x" }], [{ n: 1, s: "x" }], []]);
});

test("broadcast from a sender outside the room does not reach the sender", async () => {
  const [a, b] = await h.connectMany(2);
  const room = h.uid();
  const all = h.uid();
  assert.deepEqual(await h.ack(b, "join", room), [true]);
  for (const s of [a, b]) await h.ack(s, "join", all);
  const ev = h.uid("ev");
  const got = [a, b].map((s) => h.collect(s, ev));
  a.emit("broadcast", room, ev, "payload");
  await h.fence(a, all, [a, b]);
  assert.deepEqual(got, [[], ["payload"]]);
});

test("broadcast_others excludes the sender", async () => {
  const [a, b, c, d] = await h.connectMany(4);
  const room = h.uid();
  const all = h.uid();
  for (const s of [a, b, c]) await h.ack(s, "join", room);
  for (const s of [a, b, c, d]) await h.ack(s, "join", all);
  const ev = h.uid("ev");
  const got = [a, b, c, d].map((s) => h.collect(s, ev));
  a.emit("broadcast_others", room, ev, [1, 2, 3]);
  await h.fence(a, all, [a, b, c, d]);
  assert.deepEqual(got, [[], [[1, 2, 3]], [[1, 2, 3]], []]);
});

test("several rooms: each broadcast reaches exactly its room's members", async () => {
  const [a, b, c] = await h.connectMany(3);
  const r1 = h.uid("r1");
  const r2 = h.uid("r2");
  const r3 = h.uid("r3");
  const all = h.uid();
  // a: r1,r2   b: r2,r3   c: r3
  for (const [s, rooms] of [
    [a, [r1, r2]],
    [b, [r2, r3]],
    [c, [r3]],
  ]) {
    for (const r of [...rooms, all]) assert.deepEqual(await h.ack(s, "join", r), [true]);
  }
  const got = [a, b, c].map((s) => {
    const g = [];
    s.onAny((ev, data) => {
      if (ev.startsWith("ev-")) g.push(data);
    });
    return g;
  });
  const ev = h.uid("ev");
  c.emit("broadcast", r1, ev, "to-r1");
  c.emit("broadcast", r2, ev, "to-r2");
  c.emit("broadcast", r3, ev, "to-r3");
  a.emit("broadcast_others", r2, ev, "others-r2-from-a");
  b.emit("broadcast_others", r3, ev, "others-r3-from-b");
  await h.fence(c, all, [a, b, c]);
  await h.fence(a, all, [a, b, c]);
  await h.fence(b, all, [a, b, c]);
  assert.deepEqual(got[0], ["to-r1", "to-r2"]);
  assert.deepEqual(got[1].slice().sort(), ["others-r2-from-a", "to-r2", "to-r3"].sort());
  assert.deepEqual(got[2].slice().sort(), ["others-r3-from-b", "to-r3"].sort());
});

test("a socket in several rooms receives a room broadcast exactly once", async () => {
  const [a, b] = await h.connectMany(2);
  const room = h.uid();
  const r2 = h.uid();
  for (const r of [room, r2]) {
    await h.ack(a, "join", r);
    await h.ack(b, "join", r);
  }
  await h.ack(a, "join", room); // joined twice: still one membership
  const ev = h.uid("ev");
  const got = [a, b].map((s) => h.collect(s, ev));
  a.emit("broadcast", room, ev, "once");
  b.emit("broadcast_others", room, ev, "once-others");
  await h.fence(a, r2, [a, b]);
  await h.fence(b, r2, [a, b]);
  // Two senders: order is only guaranteed per sender, so compare as sets.
  assert.deepEqual([...got[0]].sort(), ["once", "once-others"]);
  assert.deepEqual(got[1], ["once"]);
});

test("after leave, broadcasts to the room are no longer received", async () => {
  const [a, b] = await h.connectMany(2);
  const room = h.uid();
  const all = h.uid();
  for (const s of [a, b]) {
    await h.ack(s, "join", room);
    await h.ack(s, "join", all);
  }
  assert.deepEqual(await h.ack(b, "leave", room), [true]);
  const ev = h.uid("ev");
  const got = [a, b].map((s) => h.collect(s, ev));
  a.emit("broadcast", room, ev, 1);
  await h.fence(a, all, [a, b]);
  assert.deepEqual(got, [[1], []]);
});

test("broadcast data keeps its JSON shape and key order", async () => {
  const s = await h.connect("/");
  const room = h.uid();
  await h.ack(s, "join", room);
  const data = { z: 1, a: { y: [1, { q: null, p: false }], x: "é∑😀" }, m: 1.5, n: 0, big: 9007199254740991, t: true };
  const ev = h.uid("ev");
  const p = h.once(s, ev);
  s.emit("broadcast", room, ev, data);
  const [got] = await p;
  assert.deepEqual(got, data);
  assert.equal(JSON.stringify(got), JSON.stringify(data));
});

test("broadcast with binary data (top level and nested) arrives as binary", async () => {
  const [a, b] = await h.connectMany(2);
  const room = h.uid();
  for (const s of [a, b]) await h.ack(s, "join", room);
  const bin = Buffer.from([1, 2, 3, 0, 255]);
  const empty = Buffer.alloc(0);
  const cases = [
    bin,
    empty,
    { file: bin, meta: { name: "f", parts: [empty, Buffer.from("xyz")] } },
    [Buffer.from([9]), "s", [Buffer.from([8]), { deep: Buffer.from([7]) }]],
  ];
  for (const data of cases) {
    const ev = h.uid("ev");
    const gotA = h.once(a, ev);
    b.emit("broadcast_others", room, ev, data);
    assert.deepEqual(h.norm((await gotA)[0]), h.norm(data));
    const ev2 = h.uid("ev");
    const both = [h.once(a, ev2), h.once(b, ev2)];
    a.emit("broadcast", room, ev2, data);
    for (const [got] of await Promise.all(both)) {
      assert.deepEqual(h.norm(got), h.norm(data));
    }
  }
  // top-level binary really is binary on the receiving side
  const ev = h.uid("ev");
  const p = h.once(b, ev);
  a.emit("broadcast", room, ev, bin);
  const [got] = await p;
  assert.ok(h.isBinary(got), `expected binary, got ${typeof got}`);
});
