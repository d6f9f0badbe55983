"use strict";
// JWTs for the broker's auth tests, signed with Node's own crypto (an implementation independent
// of the broker's `jsonwebtoken` crate), and the key pairs they are signed with.
//   node broker/jwt.js keys DIR   writes DIR/rs256.{key,pub} and DIR/es256.{key,pub} (PEM)

const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");

const b64u = (buf) => Buffer.from(buf).toString("base64url");

/** A compact JWS of `claims` with `alg` (HS256: `key` is the secret; RS256/ES256: a private key PEM). */
function sign(alg, key, claims, header = {}) {
  const data = `${b64u(JSON.stringify({ alg, typ: "JWT", ...header }))}.${b64u(JSON.stringify(claims))}`;
  let sig;
  if (alg === "HS256") sig = crypto.createHmac("sha256", key).update(data).digest();
  else if (alg === "RS256") sig = crypto.sign("sha256", Buffer.from(data), key);
  else if (alg === "ES256") sig = crypto.sign("sha256", Buffer.from(data), { key, dsaEncoding: "ieee-p1363" });
  else throw new Error(`unsupported alg ${alg}`);
  return `${data}.${b64u(sig)}`;
}

function writeKeys(dir) {
  const pem = { publicKeyEncoding: { type: "spki", format: "pem" }, privateKeyEncoding: { type: "pkcs8", format: "pem" } };
  const pairs = {
    rs256: crypto.generateKeyPairSync("rsa", { modulusLength: 2048, ...pem }),
    es256: crypto.generateKeyPairSync("ec", { namedCurve: "P-256", ...pem }),
  };
  for (const [name, { publicKey, privateKey }] of Object.entries(pairs)) {
    fs.writeFileSync(path.join(dir, `${name}.pub`), publicKey);
    fs.writeFileSync(path.join(dir, `${name}.key`), privateKey);
  }
}

module.exports = { sign, writeKeys };

if (require.main === module) {
  const [cmd, dir] = process.argv.slice(2);
  if (cmd !== "keys" || !dir) {
    console.error("usage: node broker/jwt.js keys DIR");
    process.exit(2);
  }
  writeKeys(dir);
}
