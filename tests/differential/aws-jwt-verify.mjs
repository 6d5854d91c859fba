// The differential corpus judged by aws-jwt-verify (pinned in package-lock.json):
//   node tests/differential/aws-jwt-verify.mjs DIR
// reads DIR/setup.json and DIR/corpus.jsonl (written by `cargo run --example
// differential`) and writes DIR/aws-jwt-verify.jsonl: {"id", "verdict", "reason"} a line.
//
// Configured as the authorizer is (setup.json): a JwtVerifier for the OIDC issuer (issuer,
// audience) and a CognitoJwtVerifier for the user pool (access tokens, client id), both
// given the fixture JWKS with cacheJwks() and judged with verifySync(), so no key is
// ever fetched; a token goes to the verifier of its `iss`, as the authorizer picks an
// issuer by `iss`. The clock reads setup.json's `now`, the authorizer's manual clock.
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { syncBuiltinESMExports } from "node:module";
import { CognitoJwtVerifier, JwtVerifier } from "aws-jwt-verify";

const dir = process.argv[2];
if (!dir) {
  process.stderr.write("usage: node aws-jwt-verify.mjs DIR\n");
  process.exit(2);
}

// Keys come from the cache only: any fetch is a bug in this harness, not a verdict.
const deny = () => {
  throw new Error("network access attempted: the JWKS should be cached");
};
globalThis.fetch = deny;
http.request = http.get = https.request = https.get = deny;
syncBuiltinESMExports();

const setup = JSON.parse(readFileSync(`${dir}/setup.json`, "utf8"));
Date.now = () => setup.now * 1000;

const oidcConfig = setup.issuers.find((i) => i.kind === "oidc");
const cognitoConfig = setup.issuers.find((i) => i.kind === "cognito");
const oidc = JwtVerifier.create({
  issuer: oidcConfig.issuer,
  audience: oidcConfig.audience,
  jwksUri: "http://127.0.0.1:9/jwks.json",
});
oidc.cacheJwks(setup.jwks);
const cognito = CognitoJwtVerifier.create({
  userPoolId: cognitoConfig.user_pool_id,
  tokenUse: cognitoConfig.token_use,
  clientId: cognitoConfig.client_id,
});
cognito.cacheJwks(setup.jwks);

// The payload's `iss`, unverified, only to pick the verifier (both reject a foreign iss).
function claimedIssuer(token) {
  try {
    const payload = token.split(".")[1];
    return JSON.parse(Buffer.from(payload, "base64url").toString("utf8")).iss;
  } catch {
    return undefined;
  }
}

const out = [];
for (const line of readFileSync(`${dir}/corpus.jsonl`, "utf8").split("\n")) {
  if (!line.trim()) continue;
  const { id, token } = JSON.parse(line);
  const verifier = claimedIssuer(token) === oidcConfig.issuer ? oidc : cognito;
  let verdict = "accept";
  let reason = "ok";
  try {
    verifier.verifySync(token);
  } catch (err) {
    verdict = "reject";
    reason = err?.constructor?.name ?? String(err);
  }
  out.push(JSON.stringify({ id, verdict, reason }));
}
writeFileSync(`${dir}/aws-jwt-verify.jsonl`, out.join("\n") + "\n");
process.stdout.write(`aws-jwt-verify: judged ${out.length} tokens\n`);
