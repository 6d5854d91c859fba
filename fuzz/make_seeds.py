#!/usr/bin/env python3
"""Writes the committed seed corpus of each fuzz target into fuzz/seeds/<target>/.

Deterministic; rerun after changing a target's input format:  python3 fuzz/make_seeds.py
"""
import base64
import hashlib
import json
import shutil
import struct
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent
SEEDS = FUZZ / "seeds"
NOW = 1_800_000_000
OIDC = "https://issuer.test"
COGNITO = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TEST"


def write(target, name, data):
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def compact(value):
    return json.dumps(value, separators=(",", ":"))


def minted():
    oidc = {
        "iss": OIDC, "aud": "test-client", "sub": "alice-1", "uid": 7, "username": "alice",
        "email": "alice@example.test", "exp": NOW + 3600, "iat": NOW - 10,
        "scope": "reports:read users:write orders", "cognito:groups": ["ops"],
        "groups": ["ops", "dev"], "custom:tenant": "acme", "tier": "gold",
    }
    access = {
        "iss": COGNITO, "client_id": "test-client", "token_use": "access", "sub": "alice-1",
        "username": "alice", "exp": NOW + 3600, "iat": NOW - 10, "scope": "aws.cognito.signin.user.admin",
    }
    id_token = dict(access, token_use="id", aud="test-client")
    del id_token["client_id"]
    claims_for = {0: oidc, 1: oidc, 2: access, 3: id_token}
    # kind, setup, signer, header bits, encoding bits, position (u16), xor
    for setup, claims in claims_for.items():
        for kind in range(4):
            prefix = bytes([kind, setup, 0, 0, 0]) + struct.pack("<H", 0) + b"\0"
            write("decide_minted", f"valid-setup{setup}-kind{kind}", prefix + compact(claims).encode())
    variants = {
        "ed25519": (1, 0, 0, 0, 0), "ec384": (2, 0, 0, 0, 0), "rsa": (3, 0, 0, 0, 0),
        "foreign-key": (6, 0, 0, 0, 0), "hs256-confusion": (7, 0, 0, 0, 0), "alg-none": (8, 0, 0, 0, 0),
        "kid-not-in-jwks": (9, 0, 0, 0, 0), "crit": (0, 0x04, 0, 0, 0), "jku-x5u-jwk": (0, 0x38, 0, 0, 0),
        "padded": (0, 0, 0x01, 0, 0), "bit-flip": (0, 0, 0, 5, 0x10), "no-token": (0, 0, 0x08, 0, 0),
    }
    for name, (signer, header, encoding, pos, xor) in variants.items():
        prefix = bytes([0, 0, signer, header, encoding]) + struct.pack("<H", pos) + bytes([xor])
        write("decide_minted", name, prefix + compact(oidc).encode())
    for name, edit in {
        "expired": {"exp": NOW - 1}, "no-exp": {"exp": None}, "future-nbf": {"nbf": NOW + 3600},
        "wrong-aud": {"aud": ["a", "b"]}, "claim-injection": {"sub": "*", "custom:tenant": "a/b"},
        "numeric-claims": {"sub": 42, "uid": 1.5, "tier": 1},
    }.items():
        claims = {k: v for k, v in dict(oidc, **edit).items() if v is not None}
        write("decide_minted", name, bytes([1, 0, 0, 0, 0, 0, 0, 0]) + compact(claims).encode())


def raw():
    for event in sorted((ROOT / "events").glob("*.json")):
        write("decide_raw", event.name, event.read_bytes())
    token = (ROOT / "events/rest-token.json").read_text()
    write("decide_raw", "rest-token-expired.json", token.replace("${TOKEN}", "${EXPIRED}"))
    write("decide_raw", "rest-token-forged.json", token.replace("${TOKEN}", "${FORGED}"))


def jwks():
    keys = ROOT / "tests/fixtures/keys"
    for name in ["jwks.json", "jwks-rotated.json", "jwks-foreign.json"]:
        write("jwks", name, struct.pack("<H", 0x3FF) + (keys / name).read_bytes())
    write("jwks", "jwks-rs256-only.json", struct.pack("<H", 0x002) + (keys / "jwks.json").read_bytes())
    doc = json.loads((keys / "jwks.json").read_text())
    doc["keys"][0]["use"] = "enc"
    doc["keys"][1]["alg"] = "ES384"
    del doc["keys"][2]["kid"]
    write("jwks", "jwks-unusable-members.json", struct.pack("<H", 0x3FF) + compact(doc).encode())


def key_record():
    jwks = compact(json.loads((ROOT / "tests/fixtures/keys/jwks.json").read_text()))
    live = f"@now={NOW}\nPK=S:JWKS#https://issuer.test/jwks\njwks=S:{jwks}\nfetched_at=N:{NOW - 60}\nexpires_at=N:{NOW + 1296000}\n"
    write("key_record", "keys-item", live)
    write("key_record", "discovery-item",
          f"@now={NOW}\nPK=S:DISCOVERY#https://issuer.test\njwks_uri=S:https://issuer.test/jwks\nfetched_at=N:{NOW}\nexpires_at=N:{NOW + 60}\n")
    write("key_record", "future-fetch", live.replace(f"fetched_at=N:{NOW - 60}", f"fetched_at=N:{NOW + 301}"))
    write("key_record", "bad-types", f"@now={NOW}\njwks=B:{jwks}\nfetched_at=S:{NOW}\nexpires_at=N:1.5\n")


def config():
    rules = compact([
        {"resources": ["GET/hello/{sub}"]},
        {"resources": ["GET/reports/*"], "scopes_any": ["reports:read", "admin"]},
        {"resources": ["DELETE/users/*"], "scopes_all": ["users:write"], "groups_any": ["ops"]},
        {"resources": ["PUT/t/{custom:tenant}/*"], "claims": {"tier": ["gold", 1, True]}},
    ])
    issuers = compact([
        {"cognito_user_pool_id": "us-east-1_AbC123", "audience": ["client1"], "token_use": "id"},
        {"issuer": "https://dev-123.okta.com/oauth2/default", "audience": ["api://default"],
         "jwks_url": "https://dev-123.okta.com/oauth2/default/v1/keys", "algorithms": ["RS256", "ES256"]},
        {"issuer": "https://login.example.test", "audience": ["app"], "hs256_secret_env": "LOGIN_SECRET"},
    ])
    envs = {
        "cognito": "COGNITO_USER_POOL_ID=us-east-1_AbC123\nJWT_AUDIENCE=client1\n",
        "okta": "JWT_ISSUER=https://dev-123.okta.com/oauth2/default\nJWT_AUDIENCE=api://default\nJWKS_URL=https://dev-123.okta.com/oauth2/default/v1/keys\nJWT_ALGORITHMS=RS256,ES256,EdDSA\n",
        "hs256": "JWT_ISSUER=https://login.example.test\nJWT_AUDIENCE=app\nJWT_HS256_SECRET=0123456789abcdef0123456789abcdef\n",
        "rules": f"COGNITO_USER_POOL_ID=us-east-1_AbC123\nJWT_AUDIENCE=client1\nPOLICY_RESOURCES=GET/hello/{{uid}},PUT/profile/{{uid}}\nPOLICY_RULES={rules}\nGROUPS_CLAIM=groups\n",
        "multi-issuer": f"JWT_ISSUERS={issuers}\nLOGIN_SECRET=0123456789abcdef0123456789abcdef0123\nKEYS_TABLE_NAME=keys\n",
        "everything": "COGNITO_USER_POOL_ID=eu-west-1_X1\nJWT_AUDIENCE=a,b\nJWT_TOKEN_USE=id\nCLOCK_SKEW_SECONDS=60\n"
                      "KEYS_TABLE_NAME=keys\nKEYS_TTL_SECONDS=86400\nKEYS_MEMORY_SECONDS=900\nKEYS_MAX_STALE_SECONDS=604800\n"
                      "JWKS_COOLDOWN_SECONDS=30\nJWKS_TIMEOUT_MS=1500\nPRINCIPAL_CLAIM=username\n"
                      "CONTEXT_CLAIMS=sub,user=username,groups=cognito:groups\nTOKEN_SOURCES=header:Authorization,query:auth\n"
                      "DENY_MODE=deny\nHTTP_API_RESPONSE=iam\nTOKEN_CACHE_SIZE=0\nAWS_LAMBDA_FUNCTION_MEMORY_SIZE=1769\n"
                      "METRICS_NAMESPACE=Auth\n",
        "tenants": "COGNITO_USER_POOL_ID=us-east-1_AbC123\nJWT_AUDIENCE=client1\nKEYS_TABLE_NAME=keys\n"
                   "TENANT_REGISTRY=on\nTENANT_ISSUER_PATTERN=https://cognito-idp.*.amazonaws.com/*,https://*.okta.com/oauth2/*\n"
                   "TENANT_CACHE_SECONDS=60\nTENANT_LOOKUPS_PER_SECOND=5\nPOLICY_RESOURCES=GET/tenants/{tenant}/*\n",
    }
    for name, env in envs.items():
        write("config", name, env)


def template():
    cases = {
        "sub": "GET/hello/{sub}\nsub=\"alice-1\"\n",
        "integer": "PUT/users/{uid}/files/*\nuid=42\n",
        "two": "DELETE/items/{custom:tenant}/{sub}\ncustom:tenant=\"acme\"\nsub=\"u@x.com\"\n",
        "bounded": "*/users/{a}-{b}.json\na=\"x\"\nb=7\n",
        "injection": "GET/hello/{sub}\nsub=\"*\"\n",
        "slash": "GET/hello/{sub}\nsub=\"a/b\"\n",
        "connect": "$connect\n",
        "everything": "*\n",
        # Found by this target: a claim whose name is empty.
        "found-empty-name": "*/users/{a}/{b}.json\n=\"x\"\nb=7\n",
    }
    for name, text in cases.items():
        write("template", name, text)


def dpop_proof():
    """Mode 1: header JSON, newline, claims JSON, signed by the target (P-256 key; mode 3:
    Ed25519). Mode 0: a raw proof text."""
    jwk = next(k for k in json.loads((ROOT / "tests/fixtures/keys/jwks.json").read_text())["keys"] if k["kid"] == "ec-1")
    jwk = {k: jwk[k] for k in ("kty", "crv", "x", "y")}
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}
    # base64url(SHA-256) of the target's token, "a.b.c".
    ath = base64.urlsafe_b64encode(hashlib.sha256(b"a.b.c").digest()).rstrip(b"=").decode()
    claims = {"htm": "GET", "htu": "https://api.example.com/v1/hello/alice-1", "iat": NOW, "jti": "seed-1", "ath": ath}
    variants = {
        "valid": (header, claims),
        "htu-spelled": (header, dict(claims, htu="HTTPS://API.example.com:443/v1/./hello/alice-1?q#f")),
        "htu-other": (header, dict(claims, htu="https://api.example.com/v1/hello/bob")),
        "iat-old": (header, dict(claims, iat=NOW - 66)),
        "iat-ahead": (header, dict(claims, iat=NOW + 6)),
        "no-ath": (header, {k: v for k, v in claims.items() if k != "ath"}),
        "private-jwk": (dict(header, jwk=dict(jwk, d="AAAA")), claims),
        "typ-jwt": (dict(header, typ="JWT"), claims),
        "alg-hs256": (dict(header, alg="HS256"), claims),
        "crit": (dict(header, crit=["x"]), claims),
        # Found by this target: a colon in a host without brackets.
        "found-host-colon": (header, dict(claims, htu="HTTPS://A:443xample.com:443/v1/hello/alice-1")),
        # Found by this target: `typ` in another case (a media type: still `dpop+jwt`).
        "found-typ-case": (dict(header, typ="dpOp+jwt"), claims),
    }
    for name, (h, c) in variants.items():
        write("dpop_proof", name, b"\x01" + (compact(h) + "\n" + compact(c)).encode())
    write("dpop_proof", "raw-garbage", b"\x00eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.c2ln")
    write("dpop_proof", "raw-pem", b"\x00-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n")


if __name__ == "__main__":
    if SEEDS.exists():
        shutil.rmtree(SEEDS)
    minted()
    raw()
    jwks()
    key_record()
    config()
    template()
    dpop_proof()
    print(f"seeds: {sum(1 for _ in SEEDS.rglob('*') if _.is_file())} files in {SEEDS.relative_to(ROOT)}")
