"use strict";
// The library's room quotas (in-process server of tests/quotas.rs with
// max_rooms_per_socket 3): `Socket::join` errors, rooms joined through the
// cluster API (`socketsJoin`, via the bridge and every shard), exempt rooms,
// and the shard's refusal counters.

const test = require("node:test");
const assert = require("node:assert/strict");
const { connect, closeAll, wait } = require("./helpers");

test.after(closeAll);

const TOO_MANY = { error: "too many rooms" };

async function refusalsReach(s, quota, n) {
  const deadline = Date.now() + 20000;
  for (;;) {
    const counts = await s.timeout(5000).emitWithAck("refusals");
    if (counts[quota] >= n) return counts;
    assert.ok(Date.now() < deadline, `${quota} never reached ${n}: ${JSON.stringify(counts)}`);
    await wait(20);
  }
}

test("caps hold for joins from the cluster API, exempt rooms are not counted", async () => {
  const s = await connect();
  for (const r of ["a", "b", "c"]) assert.equal(await s.timeout(5000).emitWithAck("join", r), true);
  assert.deepEqual(await s.timeout(5000).emitWithAck("join", "d"), TOO_MANY);
  const base = await refusalsReach(s, "max_rooms_per_socket", 1);

  // socketsJoin reaches the socket through the bridge: refused by its shard.
  assert.equal(await s.timeout(5000).emitWithAck("cluster_join", "d"), true);
  await refusalsReach(s, "max_rooms_per_socket", base.max_rooms_per_socket + 1);
  assert.equal(await s.timeout(5000).emitWithAck("cluster_join", "n".repeat(257)), true);
  await refusalsReach(s, "max_room_name_bytes", base.max_room_name_bytes + 1);
  assert.deepEqual(await s.timeout(5000).emitWithAck("rooms"), [s.id, "a", "b", "c"]);

  // A room the server joins on the socket's behalf does not use a slot.
  assert.equal(await s.timeout(5000).emitWithAck("join_exempt", "user:alice"), true);
  assert.deepEqual(await s.timeout(5000).emitWithAck("join", "d"), TOO_MANY);
  assert.equal(await s.timeout(5000).emitWithAck("leave", "a"), true);
  assert.equal(await s.timeout(5000).emitWithAck("join", "d"), true);
  // Leaving the exempt room gives no counted slot back.
  assert.equal(await s.timeout(5000).emitWithAck("leave", "user:alice"), true);
  assert.deepEqual(await s.timeout(5000).emitWithAck("join", "e"), TOO_MANY);
  assert.deepEqual(await s.timeout(5000).emitWithAck("rooms"), [s.id, "b", "c", "d"]);
});
