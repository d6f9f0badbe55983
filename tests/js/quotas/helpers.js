"use strict";
// Shared by the quota suites (tests/quotas.rs starts the server and sets RINGCAST_URL).

const { io } = require("socket.io-client");

const URL = (process.env.RINGCAST_URL || "http://127.0.0.1:3000").replace(/\/+$/, "");
const open = [];

function connect(transport = "websocket") {
  return new Promise((resolve, reject) => {
    const s = io(URL, { forceNew: true, reconnection: false, transports: [transport] });
    open.push(s);
    s.once("connect", () => resolve(s));
    s.once("connect_error", (e) => {
      s.close();
      reject(e);
    });
  });
}

const closeAll = () => open.forEach((s) => s.disconnect());
const wait = (ms) => new Promise((r) => setTimeout(r, ms));
const range = (n) => Array.from({ length: n }, (_, i) => i);

module.exports = { URL, connect, closeAll, wait, range };
