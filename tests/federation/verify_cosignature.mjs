// An independent C2SP tlog-cosignature (cosignature/v1) verifier (Node.js crypto, not
// PyNaCl), used by the tests to show that our witnesses' cosignatures follow the spec.
// Usage: node verify_cosignature.mjs WITNESS_VKEY < note  → exit 0 valid, 1 invalid.
// The vkey may carry type 0x04 (cosignature) or 0x01 (plain Ed25519, same key); the
// key ID on the signature line is always computed with type 0x04.
import { createHash, createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";

const [name, idHex, ...rest] = process.argv[2].split("+");
const key = Buffer.from(rest.join("+"), "base64");
if (key.length !== 33 || (key[0] !== 0x04 && key[0] !== 0x01)) process.exit(1);
const pub = key.subarray(1);
const keyId = (type) =>
  createHash("sha256")
    .update(Buffer.concat([Buffer.from(name + "\n"), Buffer.from([type]), pub]))
    .digest()
    .subarray(0, 4);
if (keyId(key[0]).toString("hex") !== idHex) process.exit(1);
const id = keyId(0x04);
const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), pub]);
const publicKey = createPublicKey({ key: spki, format: "der", type: "spki" });

const note = readFileSync(0, "utf8");
const split = note.lastIndexOf("\n\n");
const text = note.slice(0, split + 1);
let ok = false;
for (const line of note.slice(split + 2).split("\n")) {
  const m = line.match(/^\u2014 (\S+) (\S+)$/);
  if (!m || m[1] !== name) continue;
  const sig = Buffer.from(m[2], "base64");
  if (sig.length !== 4 + 8 + 64 || !sig.subarray(0, 4).equals(id)) continue;
  const time = sig.readBigUInt64BE(4);
  const message = Buffer.concat([Buffer.from(`cosignature/v1\ntime ${time}\n`), Buffer.from(text)]);
  ok = verify(null, message, publicKey, sig.subarray(12));
}
process.exit(ok ? 0 : 1);
