"use strict";
// What the admin-ui tests share: the environment, a socket.io-client factory whose sockets are
// closed after the file's tests, and waits on events.
//   RINGCAST_URL, ADMIN_NAMESPACE (default /admin), ADMIN_USER, ADMIN_PASSWORD

const test = require("node:test");
const { io } = require("socket.io-client");

const URL = (process.env.RINGCAST_URL || "http://127.0.0.1:3000").replace(/\/+$/, "");
const NSP = process.env.ADMIN_NAMESPACE || "/admin";
const USER = process.env.ADMIN_USER || "admin";
const PASSWORD = process.env.ADMIN_PASSWORD || "";
const open = [];
test.after(() => open.forEach((s) => s.disconnect()));

function socket(path, opts = {}) {
  const s = io(URL + path, {
    forceNew: true,
    reconnection: false,
    autoConnect: false,
    transports: ["websocket"],
    ...opts,
  });
  open.push(s);
  return s;
}

// The first `event` whose arguments satisfy `pred`; listens from now on. The time limit only
// turns a hang into a failure with a name.
function next(s, event, pred = () => true) {
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error(`no ${event}`)), 15000);
    const on = (...args) => {
      if (!pred(...args)) return;
      clearTimeout(guard);
      s.off(event, on);
      resolve(args);
    };
    s.on(event, on);
  });
}

function connected(s) {
  return new Promise((resolve, reject) => {
    s.once("connect", resolve);
    s.once("connect_error", reject);
    s.connect();
  });
}

function refused(s) {
  return new Promise((resolve, reject) => {
    s.once("connect", () => reject(new Error("connected")));
    s.once("connect_error", resolve);
    s.connect();
  });
}

module.exports = { URL, NSP, USER, PASSWORD, socket, next, connected, refused };
