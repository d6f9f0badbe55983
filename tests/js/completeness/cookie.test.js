"use strict";
// engine.io's `cookie` option (tests/completeness.rs starts a library server with
// `Config::cookie` and an `allow_request` hook): socket.io-client with `withCredentials` in Node
// keeps the `io` cookie of the handshake and sends it back on every later request, which is what
// cookie-based load-balancer affinity relies on.

const test = require("node:test");
const assert = require("node:assert");
const { io } = require("socket.io-client");
const { Fetch } = require("engine.io-client");
const { URL, once, recordFetch } = require("./helpers");

test("the handshake sets io=<sid>; later requests carry it back", async () => {
  const rec = recordFetch();
  const s = io(URL, { forceNew: true, reconnection: false, transports: [Fetch], withCredentials: true });
  try {
    await once(s, "connect");
    assert.strictEqual(await s.emitWithAck("echo", 1), 1);
    const sid = s.io.engine.id;
    // This session's requests only (see cors.test.js).
    const mine = rec.seen.filter((r) => [null, sid].includes(new globalThis.URL(r.url).searchParams.get("sid")));
    const [first, ...later] = mine;
    assert.strictEqual(
      first.response.get("set-cookie"),
      `io=${sid}; Path=/; HttpOnly; SameSite=Lax`,
    );
    assert.ok(later.length >= 2, `later requests: ${later.length}`);
    for (const r of later) {
      assert.strictEqual(r.request.get("cookie"), `io=${sid}`, `${r.method} ${r.url}`);
      assert.strictEqual(r.response.get("set-cookie"), null, "only the handshake sets it");
    }
  } finally {
    s.close();
    rec.restore();
  }
});

test("allow_request refuses with Node's 403 answer, seen as connect_error", async () => {
  for (const transport of ["polling", "websocket"]) {
    const s = io(URL, { forceNew: true, reconnection: false, transports: [transport], query: { deny: "1" } });
    const [err] = await once(s, "connect_error");
    s.close();
    assert.ok(err, `${transport}: refused`);
    if (transport === "polling") {
      assert.strictEqual(err.context?.status, 403);
    }
  }
});
