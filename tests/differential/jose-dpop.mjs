// The DPoP proofs of the differential corpus judged by jose (pinned in package-lock.json)
// and a few lines of checks of its own, as RFC 9449 §4.3 reads:
//   node tests/differential/jose-dpop.mjs DIR
// reads DIR/dpop-corpus.jsonl and DIR/dpop-authorizer.jsonl (written by `cargo run
// --example differential`), writes DIR/dpop-jose.jsonl ({"id", "verdict", "reason"} a
// line) and fails when jose's verdict differs from this authorizer's, or this
// authorizer's from the corpus's expected one.
//
// jose verifies the JWS with the embedded jwk (EmbeddedJWK: public keys only, use/alg of
// the JWK checked), the `typ` (as a media type) and the algorithm list; the claims are
// checked here: htm, htu (WHATWG URL parsing; query and fragment dropped), iat within
// [now - max_age, now], jti, ath = base64url(SHA-256(token)), and the RFC 7638 thumbprint
// of the jwk (jose's calculateJwkThumbprint) against the token's cnf.jkt.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import * as jose from "jose";

const dir = process.argv[2];
if (!dir) {
  process.stderr.write("usage: node jose-dpop.mjs DIR\n");
  process.exit(2);
}
const lines = (file) => readFileSync(`${dir}/${file}`, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const corpus = lines("dpop-corpus.jsonl");
const ours = new Map(lines("dpop-authorizer.jsonl").map((v) => [v.id, v]));

const normalized = (url) => {
  const u = new URL(url);
  u.search = "";
  u.hash = "";
  return u.href;
};

async function judge(c) {
  let verified;
  try {
    verified = await jose.jwtVerify(c.proof, jose.EmbeddedJWK, {
      typ: "dpop+jwt",
      algorithms: c.algorithms,
      currentDate: new Date(c.now * 1000),
    });
  } catch (error) {
    return ["reject", `jose: ${error.code ?? error.name}`];
  }
  const { payload, protectedHeader } = verified;
  if (payload.htm !== c.method) return ["reject", "htm"];
  let htu;
  try {
    htu = normalized(payload.htu);
  } catch {
    return ["reject", "htu"];
  }
  if (htu !== normalized(c.url)) return ["reject", "htu"];
  if (typeof payload.iat !== "number" || payload.iat < c.now - c.max_age || payload.iat > c.now) return ["reject", "iat"];
  if (typeof payload.jti !== "string" || payload.jti.length === 0 || Buffer.byteLength(payload.jti) > 256) return ["reject", "jti"];
  const ath = createHash("sha256").update(c.token, "ascii").digest("base64url");
  if (payload.ath !== ath) return ["reject", "ath"];
  if ((await jose.calculateJwkThumbprint(protectedHeader.jwk, "sha256")) !== c.jkt) return ["reject", "jkt"];
  return ["accept", "ok"];
}

let out = "";
const failures = [];
for (const c of corpus) {
  const [verdict, reason] = await judge(c);
  out += `${JSON.stringify({ id: c.id, verdict, reason })}\n`;
  const mine = ours.get(c.id);
  if (mine.verdict !== c.expected) failures.push(`authorizer: ${c.label}: expected ${c.expected}, got ${mine.verdict} (${mine.reason})`);
  if (verdict !== mine.verdict) failures.push(`jose: ${c.label}: ${verdict} (${reason}), authorizer ${mine.verdict} (${mine.reason})`);
  process.stdout.write(`${verdict === mine.verdict ? "same" : "DIFF"}  ${c.label.padEnd(46)} authorizer ${mine.verdict} (${mine.reason}), jose ${verdict} (${reason})\n`);
}
writeFileSync(`${dir}/dpop-jose.jsonl`, out);
if (failures.length) {
  process.stderr.write(`${failures.join("\n")}\n`);
  process.exit(1);
}
process.stdout.write(`dpop differential: ${corpus.length} proofs, jose and the authorizer agree on every one\n`);
