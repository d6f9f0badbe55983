// Scenarios of tests/cluster.rs against a Redis Cluster (slots, migrate) and for the sharded
// adapter's subscriptionMode (modes); loaded by scenario.js, which hands over its helpers.
"use strict";

module.exports = (h) => {
  const {
    assert, log, sleep, connect, call, received, until, clear, fetchIds, waitServers, waitRoom,
    nodeClients, countSubs, createCluster, NODES, NAMES, CLUSTER, SHARDED, MODE,
  } = h;

/** The Redis Cluster as the scenario sees it: a client per node, the slot owners, node ids. */
async function clusterAdmin() {
  assert.ok(CLUSTER.length >= 2, "run against a Redis Cluster (REDIS_CLUSTER)");
  const cs = await nodeClients();
  const admin = {
    cs,
    async keyslot(key) {
      return Number(await cs[0].sendCommand(["CLUSTER", "KEYSLOT", key]));
    },
    /** The port of the master serving `slot`, as node `c` sees it. */
    async owner(slot, c = cs[0]) {
      for (const [start, end, [, port]] of await c.sendCommand(["CLUSTER", "SLOTS"])) {
        if (slot >= start && slot <= end) return Number(port);
      }
      return undefined;
    },
    async id(c) {
      return c.sendCommand(["CLUSTER", "MYID"]);
    },
    byPort(port) {
      return cs.find((c) => c.port === port);
    },
    async close() {
      for (const c of cs) await c.disconnect().catch(() => {});
    },
  };
  return admin;
}

/** Rooms whose channels lie on `n` different masters. */
async function roomsOnMasters(admin, n) {
  const byOwner = new Map();
  for (let k = 0; byOwner.size < n && k < 500; k++) {
    const room = `room${k}`;
    const owner = await admin.owner(await admin.keyslot(`socket.io#/#${room}#`));
    if (!byOwner.has(owner)) byOwner.set(owner, room);
  }
  assert.equal(byOwner.size, n, `rooms on ${n} masters`);
  log(`rooms by master: ${JSON.stringify([...byOwner])}`);
  return [...byOwner.values()];
}

/** Exactly once at each of `want`, never at the others of `all`. */
async function exactlyOnce(all, want, event, what) {
  await until(what, () => want.every((s) => received(s, event).length >= 1));
  await sleep(250);
  for (const s of all) {
    assert.equal(received(s, event).length, want.includes(s) ? 1 : 0, `${what}: ${event} on node ${s.node}`);
  }
}

/** A Redis Cluster: rooms on different masters, broadcasts (room / others / socket id / all),
 * fetchSockets, serverSideEmit with acks, broadcast with acks, each node as sender. */
async function slots() {
  await waitServers(NODES.length);
  const admin = await clusterAdmin();
  const rooms = await roomsOnMasters(admin, CLUSTER.length);
  const all = [];
  const members = {};
  for (const room of rooms) members[room] = [];
  for (let i = 0; i < NODES.length; i++) {
    for (const room of rooms) {
      const s = await connect(i);
      s.on("ask", (data, ack) => ack({ node: i, id: s.id, q: data }));
      await call(s, "join", room);
      members[room].push(s);
      all.push(s);
    }
    all.push(await connect(i)); // in no room
  }
  for (const room of rooms) await waitRoom(room, members[room]);
  for (let i = 0; i < NODES.length; i++) {
    for (const room of rooms) {
      const sender = members[room].find((s) => s.node === i);
      clear(all);
      sender.emit("broadcast", room, "to_room", { i, room });
      await exactlyOnce(all, members[room], "to_room", `${room} from node ${i}`);
      clear(all);
      sender.emit("broadcast_others", room, "to_others", { i, room });
      await exactlyOnce(all, members[room].filter((s) => s !== sender), "to_others", `${room} except sender from ${i}`);
      const target = all.find((s) => s.node !== i);
      clear(all);
      sender.emit("broadcast", target.id, "to_sid", i);
      await exactlyOnce(all, [target], "to_sid", `socket id from ${i}`);
    }
    // fetchSockets of each room from this node
    for (const room of rooms) {
      const r = await fetchIds(all.find((s) => s.node === i), room);
      assert.deepEqual(r.map((x) => x.id).sort(), members[room].map((s) => s.id).sort(), `fetch ${room} from ${i}`);
    }
    // serverSideEmit with acks: one answer per other node
    const r = await call(all.find((s) => s.node === i), "server_side_emit_with_ack", "ping_ack", { from: i });
    assert.equal(r.err, false, `serverSideEmit with ack from ${i}: ${JSON.stringify(r)}`);
    assert.deepEqual(r.responses.map((x) => x.node).sort(), NAMES.filter((_, j) => j !== i).sort());
    // broadcast with acks to each room
    for (const room of rooms) {
      const asker = members[room].find((s) => s.node === i);
      const a = await call(asker, "broadcast_with_ack", room, "ask", { i });
      assert.equal(a.err, false, `broadcast_with_ack ${room} from ${i}: ${JSON.stringify(a)}`);
      assert.deepEqual(a.responses.map((x) => x.id).sort(), members[room].map((s) => s.id).sort());
    }
  }
  // to all, as another adapter node publishes it on the namespace channel (its own master)
  const pub = createCluster({ rootNodes: CLUSTER.map((url) => ({ url })) });
  pub.on("error", () => {});
  await pub.connect();
  clear(all);
  await pub.sPublish("socket.io#/#", JSON.stringify({
    type: 3,
    data: { packet: { type: 2, data: ["to_all", 1], nsp: "/" }, opts: { rooms: [], except: [], flags: {} } },
    uid: "third-party",
    nsp: "/",
  }));
  await exactlyOnce(all, all, "to_all", "to all");
  await pub.disconnect();
  await admin.close();
  log("slots: ok");
}

/** A Redis Cluster: the slots of a room channel and of the namespace channel move to another
 * master while the nodes run; broadcasts and requests still reach everyone once. */
async function migrate() {
  await waitServers(NODES.length);
  const admin = await clusterAdmin();
  const room = "mig";
  const members = [];
  for (let i = 0; i < NODES.length; i++) {
    for (let k = 0; k < 2; k++) {
      const s = await connect(i);
      await call(s, "join", room);
      members.push(s);
    }
  }
  const roomCh = `socket.io#/#${room}#`;
  await until("room channel held by every node", async () => (await countSubs(admin.cs, roomCh)) === NODES.length);
  // node-redis 4.7.1's cluster client listens for 'server-sunsubscribe' while its client emits
  // 'sharded-channel-moved': a Node node never follows a moved sharded channel. Its SPUBLISHes
  // follow MOVED, so it is still checked as a sender; its sockets are not checked as receivers.
  const follows = NODES.map((_, i) => !NAMES[i].startsWith("js"));
  const send = async (tag, want = members) => {
    for (let i = 0; i < NODES.length; i++) {
      const sender = members.find((s) => s.node === i);
      const end = Date.now() + 8000;
      for (;;) {
        clear(members);
        sender.emit("broadcast", room, "mig_ev", `${tag}${i}`);
        try {
          // local delivery always; other nodes' members as far as they follow
          const expect = members.filter((s) => want.includes(s) || s.node === i);
          const watched = members.filter((s) => expect.includes(s) || follows[s.node]);
          await exactlyOnce(watched, expect, "mig_ev", `${tag} from node ${i}`);
          break;
        } catch (e) {
          if (Date.now() > end) throw e;
          log(`retrying ${tag} from ${i}: ${e.message}`);
        }
      }
    }
  };
  await send("before");
  const moves = [];
  for (const ch of [roomCh, "socket.io#/#"]) {
    const slot = await admin.keyslot(ch);
    const from = await admin.owner(slot);
    const to = admin.cs.map((c) => c.port).find((p) => p !== from);
    moves.push({ ch, slot, from, to });
  }
  const t0 = Date.now();
  for (const { ch, slot, from, to } of moves) {
    const [toId, fromId] = [await admin.id(admin.byPort(to)), await admin.id(admin.byPort(from))];
    log(`moving slot ${slot} (${ch}) from ${from} to ${to}`);
    // Redis's own migration protocol (as `redis-cli --cluster reshard` runs it): IMPORTING on the
    // new owner and MIGRATING on the old one first, so that `SETSLOT NODE` on the new owner bumps
    // its config epoch. Without the bump, a heartbeat the old owner (higher epoch) sent before its
    // own SETSLOT hands the slot back to it on the new owner, and the old owner, told since,
    // points at the new one: the slot is served by nobody and a subscriber can never follow it.
    await admin.byPort(to).sendCommand(["CLUSTER", "SETSLOT", String(slot), "IMPORTING", fromId]);
    await admin.byPort(from).sendCommand(["CLUSTER", "SETSLOT", String(slot), "MIGRATING", toId]);
    const order = [admin.byPort(to), admin.byPort(from), ...admin.cs.filter((c) => c.port !== to && c.port !== from)];
    for (const c of order) await c.sendCommand(["CLUSTER", "SETSLOT", String(slot), "NODE", toId]);
  }
  if (follows.includes(false)) log("Node nodes do not re-subscribe moved channels (node-redis 4.7.1): not checked as receivers");
  const followers = follows.filter(Boolean).length;
  for (const { ch, to } of moves) {
    const c = admin.byPort(to);
    await until(`${ch} subscribed on its new master by ${followers} nodes`, async () =>
      (await c.pubSubShardNumSub(ch))[ch] === followers, 10000);
  }
  log(`subscriptions moved in ${Date.now() - t0} ms`);
  const receivers = members.filter((s) => follows[s.node]);
  await send("after", receivers);
  for (let i = 0; i < NODES.length; i++) {
    if (!follows[i]) {
      // its serverCount (SHARDNUMSUB summed over node-redis' masters) is off after the move
      log(`node ${i} (Node): fetchSockets after the move not checked`);
      continue;
    }
    const r = await call(members.find((s) => s.node === i), "fetch_sockets", room);
    assert.ok(Array.isArray(r), `fetch_sockets from node ${i} after the move: ${JSON.stringify(r)}`);
    const want = members.filter((s) => follows[s.node] || s.node === i);
    assert.deepEqual(r.map((x) => x.id).sort(), want.map((s) => s.id).sort(), `fetch after the move from ${i}`);
  }
  await admin.close();
  log(`migrate: ok in ${Date.now() - t0} ms`);
}

/** subscriptionMode (SUBSCRIPTION_MODE): which channels the nodes hold and publish on, seen by a
 * spy SSUBSCRIBEd to the namespace, room and socket-id channels. */
async function modes() {
  assert.ok(SHARDED, "run with SHARDED=1");
  await waitServers(NODES.length);
  const [rc] = await nodeClients();
  const all = [];
  for (let i = 0; i < NODES.length; i++) {
    for (let k = 0; k < 2; k++) {
      const s = await connect(i);
      await call(s, "join", "md");
      all.push(s);
    }
  }
  const roomCh = "socket.io#/#md#";
  const numsub = async (ch) => (await rc.pubSubShardNumSub(ch))[ch];
  const wantRoom = MODE === "static" ? 0 : NODES.length;
  await until(`${MODE}: room channel held by ${wantRoom} nodes`, async () => (await numsub(roomCh)) === wantRoom);
  // dynamic-private: each socket's own room has a channel, SSUBSCRIBEd by its node after the
  // connection (not awaited by it): broadcasts to a socket id go there
  for (const s of all) await waitRoom(s.id, [s]);
  const spy = rc.duplicate();
  spy.on("error", () => {});
  await spy.connect();
  const seen = [];
  const spied = ["socket.io#/#", roomCh, ...all.map((s) => `socket.io#/#${s.id}#`)];
  await spy.sSubscribe(spied, (_msg, ch) => seen.push(ch));
  for (let i = 0; i < NODES.length; i++) {
    const sender = all.find((s) => s.node === i);
    clear(all);
    seen.length = 0;
    sender.emit("broadcast", "md", "md_ev", i);
    await exactlyOnce(all, all, "md_ev", `${MODE}: room from ${i}`);
    // the spy's copy travels beside the nodes' copies, not before them: wait for it too
    await until(`${MODE}: the spy saw the room broadcast from ${i}`, () => seen.length >= 1);
    assert.deepEqual(seen, [MODE === "static" ? "socket.io#/#" : roomCh], `${MODE}: room broadcast channel from ${i}`);
    for (const target of all.filter((s) => s.node !== i)) {
      const sidCh = `socket.io#/#${target.id}#`;
      clear(all);
      seen.length = 0;
      sender.emit("broadcast", target.id, "sid_ev", i);
      await exactlyOnce(all, [target], "sid_ev", `${MODE}: socket id from ${i}`);
      await until(`${MODE}: the spy saw the socket-id broadcast from ${i}`, () => seen.length >= 1);
      assert.deepEqual(seen, [MODE === "dynamic-private" ? sidCh : "socket.io#/#"], `${MODE}: socket-id channel from ${i}`);
      if (MODE === "dynamic-private") assert.equal(await numsub(sidCh), 2, "socket-id channel held by its node and the spy");
    }
  }
  await spy.disconnect();
  await rc.disconnect();
  log(`modes (${MODE}): ok`);
}

  return { slots, migrate, modes };
};
