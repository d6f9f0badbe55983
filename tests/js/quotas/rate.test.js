"use strict";
// The per-socket event bucket, with the broker started with
// --client-events-per-second 10 --client-events-burst 100.

const test = require("node:test");
const assert = require("node:assert/strict");
const { connect, closeAll, wait, range } = require("./helpers");

test.after(closeAll);

const RATE = 10;
const BURST = 100;

test("a flood of acked events is cut to burst + rate x elapsed", async () => {
  const s = await connect();
  const t0 = process.hrtime.bigint();
  const acks = await Promise.all(range(5000).map(() => s.timeout(30000).emitWithAck("join", "r")));
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const ok = acks.filter((a) => a === true).length;
  const limited = acks.filter((a) => a && a.error === "rate limited").length;
  assert.equal(ok + limited, 5000, "every event answered: true or rate limited");
  assert.ok(ok >= BURST, `the full bucket is served: ${ok} ok`);
  // The server's window is inside the client's (first send .. last ack); 2
  // tokens of slack for the coarse clock's granularity at either end.
  const most = BURST + RATE * elapsed + 2;
  assert.ok(ok <= most, `${ok} ok in ${elapsed.toFixed(2)} s, at most ${most.toFixed(1)} allowed`);
  assert.ok(s.connected, "a burst over the bucket does not disconnect");
});

test("a sustained flood is disconnected; another client keeps its round trips", async () => {
  const [flooder, other] = [await connect(), await connect()];
  const gone = new Promise((resolve) => flooder.once("disconnect", resolve));
  let done = false;
  gone.then(() => {
    done = true;
  });
  // The server drops for 10 s before it disconnects: a lower bound on
  // the time since the flood started (a loaded machine only lengthens it).
  const start = process.hrtime.bigint();
  const flood = (async () => {
    while (!done) {
      for (let i = 0; i < 50; i++) flooder.emit("join", "flood");
      await new Promise((r) => setImmediate(r));
    }
  })();
  const trips = [];
  while (!done) {
    trips.push(await other.timeout(20000).emitWithAck("join", "calm"));
    await wait(250); // stay well under the other client's own rate
  }
  const reason = await gone;
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  await flood;
  assert.equal(reason, "io server disconnect");
  assert.ok(elapsed >= 9.9, `disconnected after ${elapsed.toFixed(2)} s of flooding, not 10 s of dropping`);
  assert.ok(trips.length > 0);
  assert.ok(trips.every((t) => t === true), `every round trip answered: ${JSON.stringify(trips)}`);
  assert.ok(other.connected, "the other client stays connected");
  assert.equal(await other.timeout(5000).emitWithAck("join", "after"), true);
});
