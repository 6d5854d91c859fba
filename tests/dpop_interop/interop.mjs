// DPoP interop: things nobody here wrote judge and drive the authorizer.
//
// - oidc-provider (a certified OpenID Provider) runs on 127.0.0.1 with DPoP,
//   client_credentials and resource indicators issuing JWT (at+jwt, RS256) access tokens;
// - oauth4webapi (a certified client library) obtains a DPoP-bound token with its own
//   ES256 key and makes the proofs of the requests it would send;
// - the requests are wrapped in the sample events of events/ (REST through a custom
//   domain, HTTP API) and decided by the authorizer (examples/dpop_interop.rs, the
//   library the Lambda runs) in one process, fed one event per line;
// - jose checks every accepted proof on its own (signature with the embedded jwk, typ,
//   the RFC 7638 thumbprint the token's cnf.jkt names).
//
// Usage: node interop.mjs <path to the dpop_interop binary>. Prints one row per case;
// exits non-zero on any verdict other than the expected one.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as jose from 'jose';
import * as oauth from 'oauth4webapi';
import Provider, { errors } from 'oidc-provider';

const [binary] = process.argv.slice(2);
if (!binary) {
  console.error('usage: node interop.mjs <dpop_interop binary>');
  process.exit(2);
}
const root = fileURLToPath(new URL('../..', import.meta.url));
const RESOURCE = 'https://api.example.com/';
const CLIENT = { client_id: 'interop-client', client_secret: 'interop-secret-of-32-characters!' };

// --- the OpenID Provider on 127.0.0.1 -------------------------------------------------
const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;
const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingKey = { ...(await jose.exportJWK(privateKey)), kid: 'op-rs256', alg: 'RS256', use: 'sig' };
const provider = new Provider(issuer, {
  jwks: { keys: [signingKey] },
  clients: [{
    ...CLIENT,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    dPoP: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => {
        if (resource !== RESOURCE) throw new errors.InvalidTarget();
        return {
          scope: 'hello:read',
          audience: RESOURCE,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 300,
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
});
server.on('request', provider.callback());

// --- the client: a DPoP-bound token with its own key ------------------------------------
const insecure = { [oauth.allowInsecureRequests]: true };
const as = await oauth
  .discoveryRequest(new URL(issuer), { algorithm: 'oidc', ...insecure })
  .then((response) => oauth.processDiscoveryResponse(new URL(issuer), response));
const client = { client_id: CLIENT.client_id };
const clientAuth = oauth.ClientSecretBasic(CLIENT.client_secret);
const keys = await oauth.generateKeyPair('ES256', { extractable: true });
const dpop = oauth.DPoP(client, keys);
const grant = () => oauth.clientCredentialsGrantRequest(
  as, client, clientAuth, new URLSearchParams({ resource: RESOURCE, scope: 'hello:read' }), { DPoP: dpop, ...insecure },
);
let response = await grant();
let token;
try {
  token = await oauth.processClientCredentialsResponse(as, client, response);
} catch (error) {
  // oidc-provider may ask for a nonce first; oauth4webapi remembers it.
  if (!oauth.isDPoPNonceError(error)) throw error;
  response = await grant();
  token = await oauth.processClientCredentialsResponse(as, client, response);
}
if (token.token_type !== 'dpop') throw new Error(`token_type ${token.token_type}, not DPoP`);
const accessToken = token.access_token;
const claims = jose.decodeJwt(accessToken);
const thumbprint = await jose.calculateJwkThumbprint(await jose.exportJWK(keys.publicKey), 'sha256');
if (claims.cnf?.jkt !== thumbprint) throw new Error('the token is not bound to the client key');
const sub = claims.sub;

// A second client key: the holder of a stolen token making its own proofs.
const thief = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));

/** The DPoP header oauth4webapi sends for `method` `url` with `handle`, captured. */
async function proofFor(method, url, handle = dpop) {
  let captured;
  await oauth.protectedResourceRequest(accessToken, method, new URL(url), new Headers(), null, {
    DPoP: handle,
    [oauth.customFetch]: async (_url, options) => {
      captured = new Headers(options.headers).get('dpop');
      return new Response('{}', { status: 200 });
    },
  });
  return captured;
}

// --- the events -------------------------------------------------------------------------
function sample(file, authorization, proof) {
  const text = readFileSync(`${root}/events/${file}`, 'utf8')
    .replaceAll('DPoP ${TOKEN}', authorization)
    .replaceAll('${TOKEN}', accessToken)
    .replaceAll('${USER_ID}', sub);
  const event = JSON.parse(text.replaceAll('${PROOF}', proof ?? ''));
  if (proof === undefined) {
    for (const map of [event.headers, event.multiValueHeaders]) {
      if (!map) continue;
      for (const name of Object.keys(map)) if (name.toLowerCase() === 'dpop') delete map[name];
    }
    if (event.identitySource) event.identitySource = [authorization];
  }
  return event;
}
const rest = (proof, authorization = `DPoP ${accessToken}`) => sample('rest-request-dpop.json', authorization, proof);
const http = (proof, authorization = `DPoP ${accessToken}`) => sample('http-api-dpop.json', authorization, proof);
const restUrl = `https://api.example.com/v1/hello/${sub}`;
const httpUrl = `https://h1t2t3p4a5.execute-api.us-east-1.amazonaws.com/hello/${sub}`;

const fresh = await proofFor('GET', restUrl);
const cases = [
  ['REST (custom domain, base path): fresh proof', rest(fresh), 'allow', 'ok'],
  ['REST: the same proof replayed', rest(fresh), 'unauthorized', 'proof_replayed'],
  ['REST: stolen token, thief\'s own key', rest(await proofFor('GET', restUrl, thief)), 'unauthorized', 'bad_proof/jkt'],
  ['REST: proof for another method (POST)', rest(await proofFor('POST', restUrl)), 'unauthorized', 'bad_proof/htm'],
  ['REST: proof for another URL', rest(await proofFor('GET', `https://api.example.com/v1/admin/${sub}`)), 'unauthorized', 'bad_proof/htu'],
  ['REST: proof for another host', rest(await proofFor('GET', `https://evil.example.com/v1/hello/${sub}`)), 'unauthorized', 'bad_proof/htu'],
  ['REST: stolen token sent as Bearer', rest(undefined, `Bearer ${accessToken}`), 'unauthorized', 'proof_required'],
  ['REST: DPoP scheme, no proof', rest(undefined), 'unauthorized', 'bad_proof/header_count'],
  ['REST: second fresh proof (token cache hit)', rest(await proofFor('GET', restUrl)), 'allow', 'ok'],
  ['HTTP API: fresh proof (query ignored)', http(await proofFor('GET', `${httpUrl}?lang=en`)), 'allow', 'ok'],
  ['HTTP API: proof for the REST URL', http(await proofFor('GET', restUrl)), 'deny', 'bad_proof/htu'],
];

// jose's own judgement of every proof the authorizer should accept.
for (const [label, event, outcome] of cases) {
  if (outcome !== 'allow') continue;
  const proof = (event.headers.DPoP ?? event.headers.dpop);
  const { payload, protectedHeader } = await jose.jwtVerify(proof, jose.EmbeddedJWK, { typ: 'dpop+jwt' });
  const jkt = await jose.calculateJwkThumbprint(protectedHeader.jwk, 'sha256');
  const ath = jose.base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken))));
  if (jkt !== claims.cnf.jkt || payload.ath !== ath) throw new Error(`jose refuses the proof of "${label}"`);
}

// --- the authorizer ---------------------------------------------------------------------
const env = {
  ...process.env,
  JWT_ISSUER: issuer,
  JWKS_URL: as.jwks_uri,
  JWT_AUDIENCE: RESOURCE,
  JWT_ALGORITHMS: 'RS256',
  JWT_TYP: 'at+jwt',
  POLICY_RESOURCES: 'GET/hello/{sub}',
  DPOP: 'on',
  DPOP_REPLAY: 'memory',
  RUST_LOG: 'off',
};
delete env.KEYS_TABLE_NAME;
const child = spawn(binary, [], { env, stdio: ['pipe', 'pipe', 'inherit'] });
const lines = createInterface({ input: child.stdout });
const answers = lines[Symbol.asyncIterator]();
let failed = 0;
console.log(`provider ${issuer} (oidc-provider), client oauth4webapi, token ${accessToken.length} bytes, typ ${jose.decodeProtectedHeader(accessToken).typ}, cnf.jkt ${claims.cnf.jkt}`);
for (const [label, event, outcome, reason] of cases) {
  child.stdin.write(`${JSON.stringify(event)}\n`);
  const { value } = await answers.next();
  const verdict = JSON.parse(value);
  const got = `${verdict.outcome} ${verdict.reason}${verdict.detail ? `/${verdict.detail}` : ''}`;
  const want = `${outcome} ${reason}`;
  const ok = got === want;
  failed += ok ? 0 : 1;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${label.padEnd(48)} ${got}${ok ? '' : ` (expected ${want})`}${verdict.cached ? ' [cached token]' : ''}`);
}
child.stdin.end();
await new Promise((resolve) => child.on('close', resolve));
server.close();
if (failed) {
  console.error(`dpop interop: ${failed} of ${cases.length} cases failed`);
  process.exit(1);
}
console.log(`dpop interop: ${cases.length} cases as expected`);
process.exit(0);
