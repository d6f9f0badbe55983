"use strict";
// Room and name quotas of the broker with its defaults (spec broker.md §8):
// max_rooms_per_socket 1000, max_room_name_bytes 256, max_event_name_bytes 256.

const test = require("node:test");
const assert = require("node:assert/strict");
const { connect, closeAll, range } = require("./helpers");

test.after(closeAll);

const TOO_MANY = { error: "too many rooms" };
const ROOM_TOO_LONG = { error: "room name too long" };
const EVENT_TOO_LONG = { error: "event name too long" };

for (const transport of ["websocket", "polling"]) {
  test(`joining past the room cap is refused (${transport})`, async () => {
    const s = await connect(transport);
    const acks = await Promise.all(range(1000).map((i) => s.timeout(20000).emitWithAck("join", `r${i}`)));
    assert.ok(acks.every((a) => a === true), "1000 rooms joined");
    assert.deepEqual(await s.timeout(5000).emitWithAck("join", "one-too-many"), TOO_MANY);
    // A room the socket is already in is not a new room.
    assert.equal(await s.timeout(5000).emitWithAck("join", "r7"), true);
    // Leaving frees a slot.
    assert.equal(await s.timeout(5000).emitWithAck("leave", "r0"), true);
    assert.equal(await s.timeout(5000).emitWithAck("join", "one-too-many"), true);
    assert.deepEqual(await s.timeout(5000).emitWithAck("join", "another"), TOO_MANY);
    assert.ok(s.connected, "a refused join keeps the socket connected");
  });

  test(`room names at and over the limit (${transport})`, async () => {
    const [a, b] = [await connect(transport), await connect(transport)];
    // One room per transport: the websocket run's broadcast, acked once the
    // sender's shard queued it, may still reach this b on another shard
    // after it joined (and that run's b stays in its room).
    const atLimit = transport[0] + "x".repeat(255);
    const over = transport[0] + "x".repeat(256);
    assert.equal(await b.timeout(5000).emitWithAck("join", atLimit), true);
    assert.deepEqual(await b.timeout(5000).emitWithAck("join", over), ROOM_TOO_LONG);
    // Bytes, not characters: 129 two-byte characters are 258 bytes.
    assert.deepEqual(await b.timeout(5000).emitWithAck("join", "é".repeat(129)), ROOM_TOO_LONG);
    const got = [];
    b.on("ev", (v) => got.push(v));
    for (const op of ["broadcast", "broadcast_others"]) {
      assert.deepEqual(await a.timeout(5000).emitWithAck(op, over, "ev", op), ROOM_TOO_LONG);
    }
    // At the limit it is delivered; per-sender order proves nothing came before.
    const delivered = new Promise((resolve) => b.once("ev", resolve));
    assert.equal(await a.timeout(5000).emitWithAck("broadcast", atLimit, "ev", "at-limit"), true);
    await delivered;
    assert.deepEqual(got, ["at-limit"]);
  });

  test(`event names at and over the limit (${transport})`, async () => {
    const s = await connect(transport);
    assert.deepEqual(await s.timeout(5000).emitWithAck("e".repeat(257), 1), EVENT_TOO_LONG);
    // At the limit the event reaches the app (which has no handler, so no
    // ack): the join ack sent after it arrives while its callback was never
    // called, and acks come back in order.
    let refused = false;
    s.emit("e".repeat(256), 1, () => {
      refused = true;
    });
    assert.equal(await s.timeout(5000).emitWithAck("join", "after"), true);
    assert.equal(refused, false, "a 256-byte event name is accepted");
    assert.ok(s.connected);
  });
}
