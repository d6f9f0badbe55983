"use strict";
// Backend hooks ([proxy]), driven by socket.io-client. Started by tests/broker_hooks.rs with a
// backend it runs itself (answers by the CONNECT auth's `scenario` and by event name):
//   RINGCAST_URL       broker A: [auth] (HS256 $RINGCAST_JWT_SECRET), "/" anonymous with rooms and
//                      publish "public:*", "/chat" anonymous with "chat:*", connect and event
//                      hooks on the backend, --shards 1
//   RINGCAST_API_URL   broker A's [api] listener (key "hooks-api-key")
//   RINGCAST_DOWN_URL  broker B: open, connect hook on a port where nothing listens
//   RINGCAST_HANG_URL  broker C: open, connect hook on the backend, event hook on a path that never
//                      answers, timeout_ms 300

const test = require("node:test");
const assert = require("node:assert/strict");
const { io, Manager } = require("socket.io-client");
const { sign } = require("./jwt");

const URL = process.env.RINGCAST_URL;
const API = process.env.RINGCAST_API_URL;
const DOWN = process.env.RINGCAST_DOWN_URL;
const HANG = process.env.RINGCAST_HANG_URL;
const SECRET = process.env.RINGCAST_JWT_SECRET;
assert.ok(URL && DOWN && HANG && SECRET, "RINGCAST_URL, _DOWN_URL, _HANG_URL, _JWT_SECRET must be set");

const opened = [];
test.after(() => opened.forEach((s) => s.disconnect()));

function socket(url, auth, transport = "websocket", query) {
  const s = io(url, { forceNew: true, reconnection: false, transports: [transport], auth, query });
  opened.push(s);
  return s;
}

/** Connects; rejects with the connect error. */
function connect(url, auth, transport, query) {
  const s = socket(url, auth, transport, query);
  return new Promise((resolve, reject) => {
    s.once("connect", () => resolve(s));
    s.once("connect_error", reject);
  });
}

/** The connect error a CONNECT gets; fails if it connects. */
function refusal(url, auth, transport) {
  const s = socket(url, auth, transport);
  return new Promise((resolve, reject) => {
    s.once("connect", () => reject(new Error(`connected with ${JSON.stringify(auth)}`)));
    s.once("connect_error", resolve);
  });
}

const ack = (s, ...args) => s.timeout(15000).emitWithAck(...args);

/** Socket `id` as broker A's HTTP API lists it (`GET /api/sockets`). */
async function listed(id) {
  const r = await fetch(`${API}/api/sockets?nsp=/&room=${encodeURIComponent(id)}`, {
    headers: { Authorization: "Bearer hooks-api-key" },
  });
  assert.equal(r.status, 200);
  const { sockets } = await r.json();
  assert.equal(sockets.length, 1, JSON.stringify(sockets));
  return sockets[0];
}
const UNAVAILABLE = { error: "unavailable" };

for (const transport of ["websocket", "polling"]) {
  test(`an accepted connect gets the backend's user, rooms and patterns (${transport})`, async () => {
    const auth = { scenario: "accept" };
    const s = await connect(URL, auth, transport, { who: "a b" });
    const other = await connect(URL, auth, "websocket", { who: "a b" });
    // Patterns the backend added; the namespace's own still apply; the rest is denied.
    assert.equal(await ack(s, "join", "extra:1"), true);
    assert.equal(await ack(s, "join", "public:1"), true);
    assert.deepEqual(await ack(s, "join", "elsewhere"), { error: "forbidden" });
    // Rooms the backend joined: hooked:room and user:<user>.
    for (const room of ["hooked:room", "user:alice", "extra:1"]) {
      const got = new Promise((resolve) => s.once("news", resolve));
      assert.equal(await ack(other, "broadcast_others", room, "news", room), true, room);
      assert.equal(await got, room);
    }
    // The event hook sees the user the connect hook named, and both hooks
    // name the socket by its id (socket.id), the one the API's `sid` takes.
    const echoed = await ack(s, "echo", 1, { a: [2] });
    assert.deepEqual(echoed, { args: [1, { a: [2] }], user: "alice", nsp: "/", sid: s.id, sid_seen_at_connect: true });
    // The HTTP API shows the backend's user and data for the socket.
    const api = await listed(s.id);
    assert.equal(api.user, "alice");
    assert.deepEqual(api.data, { plan: "pro" });
  });
}

test("the token's sub is the connect hook's user", async () => {
  const exp = Math.floor(Date.now() / 1000) + 600;
  const token = sign("HS256", SECRET, { sub: "tok-user", exp });
  const s = await connect(URL, { token, scenario: "token" });
  assert.equal((await ack(s, "echo")).user, "tok-user");
  // The token's sub is the socket's user in the HTTP API too.
  assert.equal((await listed(s.id)).user, "tok-user");
  // An invalid token is refused by the token check, before the hook.
  const err = await refusal(URL, { token: "nope", scenario: "token" });
  assert.deepEqual(err.data, { reason: "invalid" });
});

test("refusals: the reply's error, else denied; a malformed 200 is unavailable", async () => {
  for (const [scenario, reason] of [["refuse", "banned"], ["deny", "denied"], ["malformed", "unavailable"]]) {
    for (const transport of ["websocket", "polling"]) {
      const err = await refusal(URL, { scenario }, transport);
      assert.equal(err.message, "unauthorized", scenario);
      assert.deepEqual(err.data, { reason }, scenario);
    }
  }
});

test("a backend that is down refuses with unavailable", async () => {
  const err = await refusal(DOWN, {});
  assert.equal(err.message, "unauthorized");
  assert.deepEqual(err.data, { reason: "unavailable" });
});

test("a backend that never answers: connect refused, event answered unavailable, after the timeout", async () => {
  // Broker C's connect hook is the live backend, which never answers this scenario.
  const err = await refusal(HANG, { scenario: "hang-connect" });
  assert.equal(err.message, "unauthorized");
  assert.deepEqual(err.data, { reason: "unavailable" });
  const s = await connect(HANG, {});
  assert.deepEqual(await ack(s, "anything", 1), UNAVAILABLE);
});

test("event hook: the ack is the backend's value; chunked replies; failures answer unavailable", async () => {
  const s = await connect(URL, {});
  assert.deepEqual(await ack(s, "echo", "x"), { args: ["x"], user: null, nsp: "/", sid: s.id, sid_seen_at_connect: true });
  assert.equal(await ack(s, "chunked"), "chunked ok");
  assert.equal(await ack(s, "no-ack-in-reply"), null);
  assert.deepEqual(await ack(s, "fail"), UNAVAILABLE);
  assert.deepEqual(await ack(s, "garbage"), UNAVAILABLE);
  // The backend closes a kept-alive connection unannounced: the next call still gets through.
  for (let i = 0; i < 3; i++) {
    assert.equal(await ack(s, "close-after"), "closing");
    assert.equal(await ack(s, "chunked"), "chunked ok");
  }
  // join/leave/broadcast are the broker's own, never forwarded.
  assert.equal(await ack(s, "leave", "public:1"), true);
});

test("a slow event hook blocks no other socket", async () => {
  // The backend holds `hold` until another socket's `release-events` reaches it, and answers
  // that one only once `hold` is held: on one shard (broker A has one), the second socket's
  // event goes to the backend and back while the first one's waits.
  const [a, b] = [await connect(URL, {}), await connect(URL, {})];
  const held = ack(a, "hold");
  assert.equal(await ack(b, "release-events"), "released a held event");
  assert.equal(await held, "held, then released");
});

test("an event sent without an ack is posted too", async () => {
  const s = await connect(URL, {});
  s.emit("note", "n1", { k: 1 });
  // Hook calls run concurrently: ask the backend until the note is there.
  const has = (notes) => notes.some((n) => JSON.stringify(n) === JSON.stringify(["n1", { k: 1 }]));
  while (!has(await ack(s, "notes")));
});

test("a slow connect hook blocks no other socket", async () => {
  // The backend holds this CONNECT until another client's "after-slow" event reaches it, and
  // answers that event only once this CONNECT is held: the other client connects and gets its
  // ack while this socket waits, on the same shard (broker A has one).
  const slow = socket(URL, { scenario: "slow" });
  const slowConnected = new Promise((resolve, reject) => {
    slow.once("connect", resolve);
    slow.once("connect_error", reject);
  });
  let slowDone = false;
  slowConnected.then(() => (slowDone = true), () => {});
  const fast = await connect(URL, {});
  assert.equal(slowDone, false, "the slow socket waits for its backend");
  assert.equal(await ack(fast, "after-slow"), "released a held connect");
  await slowConnected;
  assert.equal((await ack(slow, "echo")).user, "slowpoke");
});

test("hooks on another namespace: its name and socket id; a refusal there leaves / connected", async () => {
  for (const transport of ["websocket", "polling"]) {
    // One Engine.IO connection, two namespaces: the backend refuses /chat and accepts /.
    const m = new Manager(URL, { forceNew: true, reconnection: false, transports: [transport], query: { who: "a b" } });
    const root = m.socket("/", { auth: { scenario: "accept" } });
    const chat = m.socket("/chat", { auth: { scenario: "refuse" } });
    opened.push(root, chat);
    // Both hooks run concurrently, so either answer may come first: listen on
    // both sockets before awaiting either.
    const rootConnected = new Promise((resolve, reject) => {
      root.once("connect", resolve);
      root.once("connect_error", reject);
    });
    const chatRefused = new Promise((resolve, reject) => {
      chat.once("connect", () => reject(new Error("/chat connected")));
      chat.once("connect_error", resolve);
    });
    await rootConnected;
    const err = await chatRefused;
    assert.equal(err.message, "unauthorized");
    assert.deepEqual(err.data, { reason: "banned" });
    const rootAck = await ack(root, "echo", "still here");
    assert.deepEqual(rootAck, { args: ["still here"], user: "alice", nsp: "/", sid: root.id, sid_seen_at_connect: true });

    // Accepted on /chat: the event hook names /chat and that socket's id.
    const s = io(`${URL}/chat`, { forceNew: true, reconnection: false, transports: [transport], auth: { scenario: "accept" }, query: { who: "a b" } });
    opened.push(s);
    await new Promise((resolve, reject) => {
      s.once("connect", resolve);
      s.once("connect_error", reject);
    });
    assert.deepEqual(await ack(s, "echo", 7), { args: [7], user: "alice", nsp: "/chat", sid: s.id, sid_seen_at_connect: true });
    assert.notEqual(s.id, root.id);
    root.disconnect();
    s.disconnect();
  }
});
