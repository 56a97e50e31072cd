// An independent C2SP signed-note verifier (Node.js crypto, not PyNaCl), used by the
// tests to show that what `bashu ledger checkpoint` prints is a standard note.
// Usage: node verify_note.mjs VKEY < note   → exit 0 valid, 1 invalid.
import { createHash, createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";

// The base64 key may itself contain "+": split at the first two only.
const [name, idHex, ...rest] = process.argv[2].split("+");
const keyB64 = rest.join("+");
const key = Buffer.from(keyB64, "base64");
if (key[0] !== 0x01 || key.length !== 33) process.exit(1);
const pub = key.subarray(1);
const id = createHash("sha256")
  .update(Buffer.concat([Buffer.from(name + "\n"), Buffer.from([0x01]), pub]))
  .digest()
  .subarray(0, 4);
if (id.toString("hex") !== idHex) process.exit(1);
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
  if (!sig.subarray(0, 4).equals(id)) continue;
  ok = verify(null, Buffer.from(text), publicKey, sig.subarray(4));
}
process.exit(ok ? 0 : 1);

