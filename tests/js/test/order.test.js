"use strict";
// Ordering guarantees: per-sender broadcast order at every receiver, ack order.
const { test, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const h = require("../lib/helpers");

afterEach(() => h.closeAll());

const COUNT = 200;

function payload(i) {
  // every 10th message carries binary, so that binary and plain packets interleave
  return i % 10 === 0 ? { i, bin: Buffer.from([i & 0xff, 0, 0xff]) } : { i };
}

async function orderTest(event) {
  const clients = await h.connectMany(4);
  const [sender, ...receivers] = clients;
  const room = h.uid();
  for (const s of clients) assert.deepEqual(await h.ack(s, "join", room), [true]);
  const ev = h.uid("seq");
  const expectSender = event === "broadcast";
  const watched = expectSender ? clients : receivers;
  const got = watched.map((s) => h.collect(s, ev));
  const senderGot = expectSender ? got[0] : h.collect(sender, ev);
  for (let i = 0; i < COUNT; i++) sender.emit(event, room, ev, payload(i));
  await h.until(() => got.every((g) => g.length >= COUNT), `${COUNT} messages at every receiver`, 15000);
  await h.fence(sender, room, clients); // nothing more (no duplicates)
  for (const g of got) {
    assert.equal(g.length, COUNT);
    assert.deepEqual(
      g.map((d) => d.i),
      Array.from({ length: COUNT }, (_, i) => i),
    );
    for (const d of g) {
      if (d.i % 10 === 0) assert.deepEqual(h.asBuffer(d.bin), Buffer.from([d.i & 0xff, 0, 0xff]));
    }
  }
  if (!expectSender) {
    // the sender got none of its own broadcast_others
    assert.deepEqual(senderGot, []);
  }
}

test(`a sender's ${COUNT} sequential broadcasts arrive in order at every receiver (sender included)`, () =>
  orderTest("broadcast"));

test(`a sender's ${COUNT} sequential broadcast_others arrive in order at every other receiver`, () =>
  orderTest("broadcast_others"));

test(`${COUNT} echo acks arrive in emission order`, async () => {
  const s = await h.connect("/");
  const order = [];
  const all = [];
  for (let i = 0; i < COUNT; i++) {
    all.push(
      new Promise((resolve) =>
        s.emit("echo", i, (v) => {
          order.push(v);
          resolve();
        }),
      ),
    );
  }
  await h.withTimeout(Promise.all(all), 15000, "all acks");
  assert.deepEqual(order, Array.from({ length: COUNT }, (_, i) => i));
});

test(`${COUNT} message -> message-back arrive in order`, async () => {
  const s = await h.connect("/");
  const got = h.collect(s, "message-back");
  for (let i = 0; i < COUNT; i++) s.emit("message", i);
  await h.until(() => got.length >= COUNT, "message-back", 15000);
  assert.deepEqual(got, Array.from({ length: COUNT }, (_, i) => i));
});
