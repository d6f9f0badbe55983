"use strict";
// Connects to RINGCAST_URL, prints READY_FOR_SHUTDOWN, and exits 0 when the
// server's shutdown reaches it as a disconnect ("transport close"); exits 1
// on any other outcome or after 15 s. Driven by tests/broker.rs.
const { io } = require("socket.io-client");

const s = io(process.env.RINGCAST_URL, { forceNew: true, reconnection: false, transports: ["websocket"] });
const fail = (why) => {
  console.log("FAIL " + why);
  process.exit(1);
};
setTimeout(() => fail("timeout"), 15000).unref();
s.once("connect_error", (e) => fail("connect_error " + e.message));
s.once("connect", () => console.log("READY_FOR_SHUTDOWN"));
s.once("disconnect", (reason) => {
  if (reason !== "transport close") fail("reason " + reason);
  console.log("DISCONNECTED " + reason);
  process.exit(0);
});
