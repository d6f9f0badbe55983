"use strict";
// conformance-app-2.md section 14: the conformance app started with
// `--cors https://app.example.test --cors-credentials`. socket.io-client with `withCredentials`
// over engine.io-client's Fetch polling transport; a fetch wrapper reads every response's headers.

const test = require("node:test");
const assert = require("node:assert");
const { io } = require("socket.io-client");
const { Fetch } = require("engine.io-client");
const { URL, once, recordFetch } = require("./helpers");

const ORIGIN = "https://app.example.test";

async function session(origin) {
  const rec = recordFetch();
  const s = io(URL, {
    forceNew: true,
    reconnection: false,
    transports: [Fetch],
    withCredentials: true,
    extraHeaders: { Origin: origin },
  });
  let sid;
  try {
    await once(s, "connect");
    sid = s.io.engine.id;
    const reply = await s.emitWithAck("echo", "x");
    assert.strictEqual(reply, "x");
  } finally {
    s.close();
    rec.restore();
  }
  // Only this session's requests (an earlier session's close POST may land here).
  return rec.seen.filter((r) => {
    const other = new globalThis.URL(r.url).searchParams.get("sid");
    return other === null || other === sid;
  });
}

test("the configured origin is echoed with credentials on every polling response", async () => {
  const seen = await session(ORIGIN);
  assert.ok(seen.some((r) => r.method === "POST"), "a POST was made");
  assert.ok(seen.length >= 3, `requests: ${seen.length}`);
  for (const r of seen) {
    assert.strictEqual(r.request.get("origin"), ORIGIN);
    assert.strictEqual(r.response.get("access-control-allow-origin"), ORIGIN, `${r.method} ${r.url}`);
    assert.strictEqual(r.response.get("access-control-allow-credentials"), "true");
    assert.match(r.response.get("vary") || "", /Origin/);
  }
});

test("another origin gets no Access-Control-Allow-Origin (credentials header still sent)", async () => {
  const seen = await session("https://evil.example.test");
  for (const r of seen) {
    assert.strictEqual(r.response.get("access-control-allow-origin"), null, `${r.method} ${r.url}`);
    assert.strictEqual(r.response.get("access-control-allow-credentials"), "true");
  }
});
