"use strict";
// 20 clients, each at the room cap (1000) with maximal names (256 bytes):
// the server's RSS growth stays within docs/architecture.md's bound
// (RINGCAST_PID: the broker's pid; RINGCAST_RSS_BOUND: bytes for 20 sockets).

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const { connect, closeAll, range } = require("./helpers");

test.after(closeAll);

function rss() {
  const status = fs.readFileSync(`/proc/${process.env.RINGCAST_PID}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
  return kb * 1024;
}

test("20 sockets at the room cap with 256-byte names stay within the bound", async () => {
  const bound = Number(process.env.RINGCAST_RSS_BOUND);
  assert.ok(bound > 0);
  const before = rss();
  const clients = [];
  for (const _ of range(20)) clients.push(await connect());
  for (const [c, s] of clients.entries()) {
    const prefix = `${String(c).padStart(2, "0")}-`;
    const names = range(1000).map((i) => (prefix + String(i).padStart(4, "0")).padEnd(256, "n"));
    const acks = await Promise.all(names.map((n) => s.timeout(20000).emitWithAck("join", n)));
    assert.ok(acks.every((a) => a === true));
    assert.deepEqual(await s.timeout(5000).emitWithAck("join", prefix.padEnd(256, "z")), {
      error: "too many rooms",
    });
  }
  const growth = rss() - before;
  console.log(`RSS growth for 20 sockets x 1000 rooms x 256 B: ${(growth / 1048576).toFixed(1)} MiB (bound ${(bound / 1048576).toFixed(1)} MiB)`);
  assert.ok(growth <= bound, `RSS grew ${growth} bytes, bound ${bound}`);
});
