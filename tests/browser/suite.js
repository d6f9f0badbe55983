// Browser-side test suite: runs inside Chromium, page served from another origin than the server.
// window.runSuite(url, transport) -> Promise<[{name, ok, error?, ms}]>
"use strict";

(function () {
  const T = 5000;

  function log(line) {
    const el = document.getElementById("log");
    if (el) el.textContent += line + "\n";
  }

  function withTimeout(p, ms, what) {
    let timer;
    return Promise.race([
      p,
      new Promise((_, rej) => {
        timer = setTimeout(() => rej(new Error(`timeout after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  function once(emitter, ev, ms = T) {
    return withTimeout(new Promise((res) => emitter.once(ev, (...a) => res(a))), ms, `event "${ev}"`);
  }

  function connected(s) {
    return withTimeout(
      new Promise((res, rej) => {
        s.once("connect", () => res(s));
        s.once("connect_error", (e) => rej(new Error(`connect_error: ${e.message}`)));
      }),
      T,
      `connect of ${s.nsp}`,
    );
  }

  function connectError(s) {
    return withTimeout(
      new Promise((res, rej) => {
        s.once("connect_error", (e) => res(e));
        s.once("connect", () => rej(new Error(`${s.nsp} unexpectedly connected`)));
      }),
      T,
      `connect_error of ${s.nsp}`,
    );
  }

  function ack(s, ev, ...args) {
    return withTimeout(new Promise((res) => s.emit(ev, ...args, (...r) => res(r))), T, `ack of "${ev}"`);
  }

  function assert(cond, msg) {
    if (!cond) throw new Error(`assertion failed: ${msg}`);
  }

  function eqJSON(a, b, msg) {
    const ja = JSON.stringify(a);
    const jb = JSON.stringify(b);
    if (ja !== jb) throw new Error(`${msg}: expected ${jb}, got ${ja}`);
  }

  function bytes(v) {
    if (v instanceof ArrayBuffer) return Array.from(new Uint8Array(v));
    if (ArrayBuffer.isView(v)) return Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    throw new Error(`expected binary, got ${Object.prototype.toString.call(v)} ${JSON.stringify(v)}`);
  }

  function isArrayBuffer(v) {
    return v instanceof ArrayBuffer;
  }

  function uid(p) {
    return `${p}-${Math.random().toString(16).slice(2, 10)}${Date.now().toString(16)}`;
  }

  window.runSuite = async function runSuite(url, transport) {
    const opened = [];
    const opts = { forceNew: true, reconnection: false, timeout: T, transports: [transport] };
    const mk = (nsp, extra = {}) => {
      const s = io(url + nsp, { ...opts, ...extra });
      opened.push(s);
      return s;
    };

    const tests = [];
    const test = (name, fn) => tests.push({ name, fn });

    test("page origin differs from the server origin", async () => {
      assert(new URL(url).origin !== location.origin, `${location.origin} vs ${url}`);
    });

    test("connect on / with auth: auth event echoes the payload", async () => {
      const s = mk("/", { auth: { token: "browser", n: 1 } });
      const a = once(s, "auth");
      await connected(s);
      eqJSON((await a)[0], { token: "browser", n: 1 }, "auth payload");
      assert(typeof s.id === "string" && s.id.length > 0, "socket id");
    });

    test(`transport is ${transport} only`, async () => {
      const s = mk("/");
      await connected(s);
      await ack(s, "echo", 1);
      assert(s.io.engine.transport.name === transport, `transport ${s.io.engine.transport.name}`);
    });

    test("echo with ack: JSON arguments (count, order, key order)", async () => {
      const s = mk("/");
      await connected(s);
      eqJSON(await ack(s, "echo"), [], "0 args");
      const args = ["a", 1, { z: 1, a: [true, null, { y: 2, x: 1 }] }, "é😀"];
      eqJSON(await ack(s, "echo", ...args), args, "4 args");
    });

    test("echo with ack: ArrayBuffer and typed arrays come back as ArrayBuffer", async () => {
      const s = mk("/");
      await connected(s);
      const ab = new Uint8Array([0, 1, 2, 254, 255]).buffer;
      const u8 = new Uint8Array([9, 8, 7]);
      const empty = new ArrayBuffer(0);
      const res = await ack(s, "echo", ab, u8, empty);
      assert(res.length === 3, "3 args");
      assert(isArrayBuffer(res[0]) && isArrayBuffer(res[1]) && isArrayBuffer(res[2]), "ArrayBuffer results");
      eqJSON(bytes(res[0]), [0, 1, 2, 254, 255], "ab bytes");
      eqJSON(bytes(res[1]), [9, 8, 7], "u8 bytes");
      eqJSON(bytes(res[2]), [], "empty");
    });

    test("echo with ack: binary nested in objects and arrays, order preserved", async () => {
      const s = mk("/");
      await connected(s);
      const a = new Uint8Array([1, 2]).buffer;
      const b = new Uint8Array([3]).buffer;
      const c = new Uint8Array([4, 5, 6]).buffer;
      const [r] = await ack(s, "echo", { first: a, list: [b, { deep: c }, "s"], n: 1 });
      eqJSON(Object.keys(r), ["first", "list", "n"], "key order");
      eqJSON(bytes(r.first), [1, 2], "first");
      eqJSON(bytes(r.list[0]), [3], "list[0]");
      eqJSON(bytes(r.list[1].deep), [4, 5, 6], "deep");
      eqJSON([r.list[2], r.n], ["s", 1], "plain values");
    });

    test("echo with ack: Blob is sent as binary", async () => {
      const s = mk("/");
      await connected(s);
      const blob = new Blob([new Uint8Array([10, 20, 30])]);
      const [r] = await ack(s, "echo", blob);
      eqJSON(bytes(r), [10, 20, 30], "blob bytes");
    });

    test("emitWithAck and timeout", async () => {
      const s = mk("/");
      await connected(s);
      assert((await s.timeout(T).emitWithAck("echo", "x", "y")) === "x", "emitWithAck first arg");
      let err = null;
      try {
        await s.timeout(300).emitWithAck("no-such-event");
      } catch (e) {
        err = e;
      }
      assert(err && err.message === "operation has timed out", `timeout error: ${err && err.message}`);
    });

    test("echo without ack does not break the connection", async () => {
      const s = mk("/");
      await connected(s);
      s.emit("echo", 1, new Uint8Array([1]).buffer);
      eqJSON(await ack(s, "echo", "alive"), ["alive"], "still answers");
    });

    test("message -> message-back with binary; message-with-ack", async () => {
      const s = mk("/");
      await connected(s);
      const back = once(s, "message-back");
      s.emit("message", "txt", new Uint8Array([7, 7]).buffer, { b: new Uint8Array([]).buffer });
      const r = await back;
      assert(r[0] === "txt", "text arg");
      eqJSON(bytes(r[1]), [7, 7], "binary arg");
      eqJSON(bytes(r[2].b), [], "nested empty binary");
      const r2 = await ack(s, "message-with-ack", 1, new Uint8Array([2]).buffer);
      assert(r2[0] === 1, "ack arg 0");
      eqJSON(bytes(r2[1]), [2], "ack arg 1");
    });

    test("join + broadcast (sender included) + broadcast_others with binary", async () => {
      const a = mk("/");
      const b = mk("/");
      await Promise.all([connected(a), connected(b)]);
      const room = uid("room");
      eqJSON(await ack(a, "join", room), [true], "join a");
      eqJSON(await ack(b, "join", room), [true], "join b");
      const ev = uid("ev");
      const pa = once(a, ev);
      const pb = once(b, ev);
      a.emit("broadcast", room, ev, { bin: new Uint8Array([42]).buffer, s: "x" });
      for (const [d] of [await pa, await pb]) {
        eqJSON(bytes(d.bin), [42], "broadcast binary");
        assert(d.s === "x", "broadcast text");
      }
      const ev2 = uid("ev");
      const got = [];
      a.on(ev2, (d) => got.push(d));
      const pb2 = once(b, ev2);
      a.emit("broadcast_others", room, ev2, new Uint8Array([1, 2, 3]).buffer);
      eqJSON(bytes((await pb2)[0]), [1, 2, 3], "broadcast_others binary");
      // fence: a's own broadcast after broadcast_others; a must not have got ev2
      const fev = uid("fence");
      const fa = once(a, fev);
      a.emit("broadcast", room, fev, null);
      await fa;
      eqJSON(got, [], "sender excluded");
      eqJSON(await ack(a, "leave", room), [true], "leave");
    });

    test("/custom: auth event and binary echo", async () => {
      const s = mk("/custom", { auth: { token: "abc" } });
      const a = once(s, "auth");
      await connected(s);
      eqJSON((await a)[0], { token: "abc" }, "auth");
      const [r] = await ack(s, "echo", new Uint8Array([5]).buffer);
      eqJSON(bytes(r), [5], "custom echo");
    });

    test("/admin: refused without token, accepted with token; / unaffected on the same Manager", async () => {
      const m = new io.Manager(url, { reconnection: false, timeout: T, transports: [transport] });
      const root = m.socket("/");
      const admin = m.socket("/admin");
      opened.push(root, admin);
      const [err] = await Promise.all([connectError(admin), connected(root)]);
      assert(err.message === "unauthorized", `admin error ${err.message}`);
      eqJSON(await ack(root, "echo", "ok"), ["ok"], "root after refusal");
      const ok = mk("/admin", { auth: { token: "secret" } });
      await connected(ok);
    });

    test("unknown namespace: Invalid namespace", async () => {
      const s = mk("/nope");
      const err = await connectError(s);
      assert(err.message === "Invalid namespace", err.message);
    });

    if (transport === "polling") {
      test("polling with a custom request header (CORS preflight)", async () => {
        const s = mk("/", { extraHeaders: { "x-ringcast-test": "1" } });
        await connected(s);
        eqJSON(await ack(s, "echo", "preflight"), ["preflight"], "echo");
      });
    }

    test("client-side disconnect", async () => {
      const s = mk("/");
      await connected(s);
      const d = once(s, "disconnect");
      s.disconnect();
      assert((await d)[0] === "io client disconnect", "reason");
    });

    const results = [];
    for (const t of tests) {
      const t0 = performance.now();
      try {
        await t.fn();
        results.push({ name: t.name, ok: true, ms: Math.round(performance.now() - t0) });
        log(`ok   ${t.name}`);
      } catch (e) {
        results.push({ name: t.name, ok: false, error: String((e && e.stack) || e), ms: Math.round(performance.now() - t0) });
        log(`FAIL ${t.name}: ${e}`);
      }
      for (const s of opened.splice(0)) s.disconnect();
    }
    return results;
  };
})();
