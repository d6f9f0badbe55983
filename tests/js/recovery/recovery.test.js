"use strict";
// Connection state recovery driven by a real socket.io-client, against the
// app of tests/recovery.rs (2 shards, recovery on). socket.io-client sends
// `{pid, offset}` on its own once the server gave a pid and an offset.
//
//   RINGCAST_URL=http://127.0.0.1:PORT RINGCAST_SHORT_URL=http://127.0.0.1:PORT2 \
//     node --test tests/js/recovery/

const test = require("node:test");
const assert = require("node:assert/strict");
const { client, once, connected, kill } = require("./common");

const URL = (process.env.RINGCAST_URL || "http://127.0.0.1:3000").replace(/\/+$/, "");
const SHORT = (process.env.RINGCAST_SHORT_URL || URL).replace(/\/+$/, "");
const STORM = Number(process.env.RINGCAST_STORM || 2000);

// A connected socket that has received its `hello` (so it holds an offset).
async function ready(url, auth) {
  const s = client(url, auth);
  const hello = once(s, "hello");
  await connected(s);
  await hello;
  return s;
}

// Collects `gone` notices of a watcher: resolves when `ids` are all gone.
function watcher(w) {
  const gone = new Set();
  const waits = [];
  w.on("gone", ([id]) => {
    gone.add(id);
    for (const x of waits.splice(0)) if (!x.check()) waits.push(x);
  });
  return (ids) =>
    new Promise((resolve) => {
      const x = { check: () => ids.every((i) => gone.has(i)) && (resolve(), true) };
      if (!x.check()) waits.push(x);
    });
}

test("a killed transport recovers: same id, rooms, data; missed packets in order exactly once", async () => {
  const w = await ready(URL);
  assert.equal(await w.emitWithAck("join", "watchers"), true);
  const goneAll = watcher(w);
  // Several rounds: each reconnect lands on either shard.
  for (let round = 0; round < 6; round++) {
    const a = await ready(URL, { tag: `t${round}` });
    assert.equal(await a.emitWithAck("join", "r"), true);
    const id = a.id;
    const news = [];
    // This round's packets only: a shout of an earlier round, acked once
    // the sender's shard queued it, may still reach the other shard after
    // this socket connected or joined r there.
    const thisRound = new RegExp(`^[a-z]+-${round}(-\\d+)?$`);
    a.on("news", (n, offset) => {
      assert.equal(typeof offset, "string");
      if (thisRound.test(n)) news.push(n);
    });
    await kill(a);
    await goneAll([id]);
    // Missed while disconnected: to all, to its room, to another room
    // (not for it), to its own id.
    const sent = [];
    for (let i = 0; i < 5; i++) {
      assert.equal(await w.emitWithAck("shout", "", `all-${round}-${i}`), true);
      sent.push(`all-${round}-${i}`);
      assert.equal(await w.emitWithAck("shout", "r", `room-${round}-${i}`), true);
      sent.push(`room-${round}-${i}`);
      assert.equal(await w.emitWithAck("shout", "elsewhere", `no-${round}-${i}`), true);
    }
    assert.equal(await w.emitWithAck("shout", id, `own-${round}`), true);
    sent.push(`own-${round}`);
    const hello = once(a, "hello");
    a.connect();
    await connected(a);
    assert.equal(a.recovered, true);
    assert.equal(a.id, id);
    assert.equal((await hello)[0].recovered, true);
    const me = await a.emitWithAck("whoami");
    assert.equal(me.id, id);
    assert.equal(me.recovered, true);
    assert.deepEqual(me.rooms.sort(), [id, "r"].sort());
    assert.deepEqual(me.data, { tag: `t${round}` });
    // A live packet after the replay: everything before it arrived once.
    assert.equal(await w.emitWithAck("shout", "r", `live-${round}`), true);
    sent.push(`live-${round}`);
    while (news.length < sent.length) await once(a, "news");
    assert.deepEqual(news, sent);
    a.close();
  }
});

test("one socket recovers again and again, wherever each reconnect lands", async () => {
  // A recovery on the shard that does not own the pid used to keep the
  // next session there, where the next recovery (asking the pid's shard)
  // never looked: the second recovery failed.
  const w = await ready(URL);
  assert.equal(await w.emitWithAck("join", "watchers"), true);
  // The next `gone` of `id` (the id comes back each round).
  const goneNext = (id) =>
    new Promise((resolve) => {
      const f = ([gid]) => {
        if (gid === id) {
          w.off("gone", f);
          resolve();
        }
      };
      w.on("gone", f);
    });
  const a = await ready(URL, { tag: "again" });
  assert.equal(await a.emitWithAck("join", "r"), true);
  const id = a.id;
  const news = [];
  // The previous test's last shouts may still reach the other shard.
  a.on("news", (n) => n.startsWith("again-") && news.push(n));
  const sent = [];
  for (let round = 0; round < 8; round++) {
    const gone = goneNext(id);
    await kill(a);
    await gone;
    assert.equal(await w.emitWithAck("shout", "r", `again-${round}`), true);
    sent.push(`again-${round}`);
    a.connect();
    await connected(a);
    assert.equal(a.recovered, true, `round ${round}`);
    assert.equal(a.id, id);
    const me = await a.emitWithAck("whoami");
    assert.deepEqual(me.rooms.sort(), [id, "r"].sort());
    assert.deepEqual(me.data, { tag: "again" });
    while (news.length < sent.length) await once(a, "news");
    assert.deepEqual(news, sent);
  }
  a.close();
});

test("an expired session fails cleanly: new id, not recovered, nothing missed delivered", async () => {
  const w = await ready(SHORT);
  assert.equal(await w.emitWithAck("join", "watchers"), true);
  const goneAll = watcher(w);
  const a = await ready(SHORT, { tag: "x" });
  const id = a.id;
  // The missed packet goes to a room of the old session only: a shout to
  // all, acked once w's shard queued it, could still reach the new session
  // live on the other shard.
  assert.equal(await a.emitWithAck("join", "gone-r"), true);
  const news = [];
  a.on("news", (n) => news.push(n));
  await kill(a);
  await goneAll([id]);
  assert.equal(await w.emitWithAck("shout", "gone-r", "missed"), true);
  // The session lives 1 ms: wait past it.
  await new Promise((r) => setTimeout(r, 20));
  a.connect();
  await connected(a);
  assert.equal(a.recovered, false);
  assert.notEqual(a.id, id);
  const me = await a.emitWithAck("whoami");
  assert.equal(me.recovered, false);
  assert.deepEqual(me.rooms, [a.id]);
  assert.deepEqual(me.data, { tag: "x" });
  assert.equal(await w.emitWithAck("shout", "", "after"), true);
  while (news.length < 1) await once(a, "news");
  assert.deepEqual(news, ["after"]);
  a.close();
});

test(`a recovery storm of ${STORM} sockets completes`, async () => {
  const w = await ready(URL);
  assert.equal(await w.emitWithAck("join", "watchers"), true);
  const goneAll = watcher(w);
  const socks = await Promise.all(Array.from({ length: STORM }, () => ready(URL)));
  const ids = socks.map((s) => s.id);
  const got = socks.map(() => []);
  socks.forEach((s, i) => s.on("news", (n) => got[i].push(n)));
  await Promise.all(socks.map(kill));
  await goneAll(ids);
  assert.equal(await w.emitWithAck("shout", "", "storm-missed"), true);
  for (const s of socks) s.connect();
  await Promise.all(socks.map(connected));
  assert.ok(socks.every((s) => s.recovered));
  assert.deepEqual(socks.map((s) => s.id), ids);
  assert.equal(await w.emitWithAck("shout", "", "storm-live"), true);
  await Promise.all(
    socks.map(async (s, i) => {
      while (got[i].length < 2) await once(s, "news");
    }),
  );
  for (const g of got) assert.deepEqual(g, ["storm-missed", "storm-live"]);
  for (const s of socks) s.close();
});
