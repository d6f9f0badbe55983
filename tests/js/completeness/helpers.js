"use strict";
// Shared by the completeness suites (tests/completeness.rs starts the server and sets RINGCAST_URL).

const URL = (process.env.RINGCAST_URL || "http://127.0.0.1:3000").replace(/\/+$/, "");

/** Resolves with the first `event` of `emitter` (rejects on `connect_error` when asked). */
function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}

/**
 * Wraps globalThis.fetch (engine.io-client's Fetch transport uses it) so a test can read the
 * headers of every polling request and response.
 */
function recordFetch() {
  const seen = [];
  const original = globalThis.fetch;
  globalThis.fetch = async (url, init = {}) => {
    const res = await original(url, init);
    seen.push({ url: String(url), method: init.method || "GET", request: new Headers(init.headers), response: res.headers });
    return res;
  };
  return { seen, restore: () => (globalThis.fetch = original) };
}

module.exports = { URL, once, recordFetch };
