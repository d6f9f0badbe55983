"use strict";
// max_connections_per_ip = 5 with real clients: the sixth is refused on
// both transports and accepted again once one of the five has closed.

const test = require("node:test");
const assert = require("node:assert/strict");
const { connect, closeAll, wait, range } = require("./helpers");

test.after(closeAll);

async function refused(transport) {
  try {
    await connect(transport);
  } catch (e) {
    return e.message;
  }
  return null;
}

test("the sixth connection from one address is refused until one closes", async () => {
  const five = [];
  for (const i of range(5)) five.push(await connect(i % 2 ? "polling" : "websocket"));
  assert.equal(await refused("polling"), "xhr poll error");
  assert.equal(await refused("websocket"), "websocket error");
  five[0].disconnect();
  // Wait for the server to see the close: retry until admitted.
  const deadline = Date.now() + 20000;
  let sixth = null;
  while (!sixth) {
    sixth = await connect().catch(() => null);
    if (!sixth) {
      assert.ok(Date.now() < deadline, "a slot was freed by the close");
      await wait(50);
    }
  }
  assert.ok(sixth.connected);
  assert.equal(await sixth.timeout(5000).emitWithAck("join", "r"), true);
  assert.notEqual(await refused("websocket"), null, "back at the cap");
});
