"use strict";
// RINGCAST_MANY (default 1000) concurrent clients, each in a room, each receives its room's broadcast once.
const { test, after } = require("node:test");
const assert = require("node:assert/strict");
const h = require("../lib/helpers");

after(() => h.closeAll());

test(`${h.MANY} concurrent clients each join a room and receive one room broadcast exactly once`, { timeout: 120000 }, async () => {
  const N = h.MANY;
  const K = Math.max(1, Math.min(10, N)); // number of rooms
  const base = h.uid("many");
  const rooms = Array.from({ length: K }, (_, k) => `${base}-${k}`);
  const t0 = Date.now();
  const clients = await h.connectMany(N, "/", {}, 100);
  const tConnected = Date.now();
  // every client joins its room (acked), all concurrently
  const joins = await h.withTimeout(
    Promise.all(clients.map((c, i) => h.ack(c, "join", rooms[i % K]))),
    60000,
    "all joins",
  );
  joins.forEach((j) => assert.deepEqual(j, [true]));
  const ev = h.uid("ev");
  const fenceEv = h.uid("fence");
  const got = clients.map((c) => h.collect(c, ev));
  const fenced = clients.map((c) => h.once(c, fenceEv, 60000));
  const sender = await h.connect("/");
  const senderGot = h.collect(sender, ev);
  for (let k = 0; k < K; k++) sender.emit("broadcast", rooms[k], ev, { room: k });
  for (let k = 0; k < K; k++) sender.emit("broadcast", rooms[k], fenceEv, null);
  await Promise.all(fenced);
  const tDone = Date.now();
  const bad = [];
  clients.forEach((c, i) => {
    if (!(got[i].length === 1 && got[i][0].room === i % K)) {
      bad.push(`client ${i} (room ${i % K}) got ${JSON.stringify(got[i])}`);
    }
  });
  assert.deepEqual(bad.slice(0, 5), [], `${bad.length} clients did not get exactly their room's broadcast`);
  assert.deepEqual(senderGot, []); // the sender is in none of the rooms
  console.log(
    `# ${N} clients (${h.MODE}): connect ${tConnected - t0} ms, join+broadcast ${tDone - tConnected} ms`,
  );
});
