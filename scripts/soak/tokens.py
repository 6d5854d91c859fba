"""The traffic: users, their tokens, and every kind of token an attacker or a bug sends.

Categories (what the soak counts and the oracle judges; see oracle.py):

  valid       a user's token signed by a key published before the run (rsa-1, ec-1, ec-2,
              ed-1), expiring in an hour; reused from a pool (so the authorizer's cache of
              verified tokens serves them) and minted fresh at a steady rate
  expiring    the same, but expiring a few seconds after minting, reused across `exp`
  rotated     signed by the newest keys the issuer rotated in during the run
  revoked     any of the above once a revocation covers it (its subject signed out, its
              `jti` or its sign-in's `origin_jti` revoked)
  no_grant    valid, but fills no template: a `sub` with a `/`, or no `sub` at all
  expired     signed by a held key but expired, not yet valid, or with no usable `exp`
  forged      a foreign key claiming kid rsa-1, a payload or signature altered, alg none,
              HS256 with the public key as secret, a key of the wrong type, jwk/jku/x5u
              headers, a `crit` header
  random_kid  signed by an attacker's key under a kid nobody published
  foreign     signed by a held key for another issuer or another audience
  garbage     not a JWT at all, or one past the 16 KiB cap

Tokens are plain data (`Token`); only tokens with a genuine signature of a key the issuer
publishes carry `claims`, which the oracle reads.
"""
import random
import time
import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization

from .issuer import AUDIENCE, ISSUER, Issuer, SigningKey, b64, b64json, mint, mint_hs256

VALID_SIGNATURE = ("valid", "expiring", "rotated", "revoked", "no_grant")
NEVER_VALID = ("expired", "forged", "random_kid", "foreign", "garbage")
CATEGORIES = VALID_SIGNATURE + NEVER_VALID
SCOPES = ("profile", "reports:read", "users:write", "admin")
GROUPS = ("ops", "reports")
SKEW_BACK = 5  # tokens are issued (iat) this many seconds before they are minted


@dataclass
class User:
    sub: str | None
    username: str
    scopes: tuple
    groups: tuple
    okta_style: bool  # scopes in `scp` (an array) instead of `scope`
    sign_in: str | None  # Cognito-style origin_jti shared by this sign-in's tokens


@dataclass(eq=False)
class Token:
    raw: str
    category: str
    variant: str
    claims: dict | None = None  # genuine signature of a published key only
    kid: str | None = None  # the issuer key that signed it (genuine signature only)
    user: User | None = None


def fresh_id() -> str:
    return str(uuid.uuid4())


class Population:
    """Users and token pools. `pick(category)` returns a token of that category (or of a
    fallback category when it has none yet, e.g. `rotated` before the first rotation)."""

    def __init__(self, issuer: Issuer, rng: random.Random, users: int = 300, pool: int = 3000,
                 fresh: float = 0.1, expiring_life: tuple = (2, 20)):
        self.issuer = issuer
        self.rng = rng
        self.fresh = fresh
        self.expiring_life = expiring_life
        self.pool_size = pool
        self.users = [self._user(n) for n in range(users)]
        self.no_grant_users = [User(f"team/ops-{n}", f"team{n}", (), (), False, None) for n in range(10)]
        self.no_grant_users.append(User(None, "nosub", ("reports:read",), (), False, None))
        self.pools: dict[str, list[Token]] = {c: [] for c in VALID_SIGNATURE}
        self.hot: list[Token] = []  # the latest revocation's tokens
        self.hot_until = 0.0
        for _ in range(pool):
            self.pools["valid"].append(self.valid())
        for _ in range(60):
            self.pools["expiring"].append(self.expiring())
        for user in self.no_grant_users:
            for _ in range(5):
                self.pools["no_grant"].append(self._signed(user, "no_grant", "no-template", self._held_key()))

    # --- users and genuine tokens -------------------------------------------------------

    def _user(self, n: int) -> User:
        rng = self.rng
        scopes = tuple(s for s in SCOPES if rng.random() < (0.6 if s == "profile" else 0.25))
        groups = tuple(g for g in GROUPS if rng.random() < 0.3)
        return User(fresh_id(), f"user{n}", scopes, groups, rng.random() < 0.2,
                    fresh_id() if rng.random() < 0.5 else None)

    def _held_key(self) -> SigningKey:
        return self.rng.choices(self.issuer.initial, weights=(4, 3, 1.5, 1.5))[0]

    def claims(self, user: User, life: float = 3600, now: float | None = None) -> dict:
        now = int(now or time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "username": user.username,
                  "iat": now - SKEW_BACK, "exp": now + int(life), "jti": fresh_id()}
        if user.sub is not None:
            claims["sub"] = user.sub
        if user.sign_in:
            claims["origin_jti"] = user.sign_in
        if user.scopes:
            if user.okta_style:
                claims["scp"] = list(user.scopes)
            else:
                claims["scope"] = " ".join(user.scopes)
        if user.groups:
            claims["cognito:groups"] = list(user.groups)
        return claims

    def _signed(self, user: User, category: str, variant: str, key: SigningKey, life: float = 3600) -> Token:
        claims = self.claims(user, life)
        return Token(mint(key, claims), category, variant, claims, key.kid, user)

    def valid(self) -> Token:
        key = self._held_key()
        return self._signed(self.rng.choice(self.users), "valid", key.alg, key)

    def warm_token(self) -> Token:
        """A fresh valid token (a new `jti`, so one more revocation lookup to cache) signed
        by a key cheap to sign with; not pooled."""
        key = self.rng.choice(self.issuer.initial[1:])
        return self._signed(self.rng.choice(self.users), "valid", key.alg, key)

    def expiring(self) -> Token:
        key = self._held_key()
        life = self.rng.uniform(*self.expiring_life)
        return self._signed(self.rng.choice(self.users), "expiring", key.alg, key, life)

    def rotated_tokens(self, key: SigningKey, count: int = 40) -> None:
        """Tokens signed by a key the issuer just published (they replace older ones)."""
        fresh = [self._signed(self.rng.choice(self.users), "rotated", key.kid, key) for _ in range(count)]
        self.pools["rotated"] = (fresh + self.pools["rotated"])[: 3 * count]

    # --- picking -----------------------------------------------------------------------

    def pick(self, category: str) -> Token:
        rng = self.rng
        if category in ("rotated", "revoked") and not self.pools[category]:
            category = "valid"
        if category == "valid":
            pool = self.pools["valid"]
            if rng.random() < self.fresh:
                slot = rng.randrange(len(pool))
                pool[slot] = self.valid()
                return pool[slot]
            return rng.choice(pool)
        if category == "expiring":
            pool = self.pools["expiring"]
            slot = rng.randrange(len(pool))
            if pool[slot].claims["exp"] < time.time() - 5:
                pool[slot] = self.expiring()
            return pool[slot]
        if category == "revoked" and self.hot and time.monotonic() < self.hot_until and rng.random() < 0.7:
            return rng.choice(self.hot)
        if category in VALID_SIGNATURE:
            return rng.choice(self.pools[category])
        return getattr(self, category.replace("-", "_"))()

    def move_revoked(self, covers, hot_until: float) -> int:
        """Moves every pooled token `covers(token)` says is revoked to the revoked pool,
        refilling the valid pool; until `hot_until` (monotonic), most revoked tokens picked
        are these. Returns how many moved."""
        moved = []
        for category in ("valid", "expiring", "rotated"):
            keep = []
            for token in self.pools[category]:
                (moved if covers(token) else keep).append(token)
            self.pools[category] = keep
        self.pools["revoked"] += moved
        if moved:
            self.hot, self.hot_until = moved, hot_until
        while len(self.pools["valid"]) < self.pool_size:
            self.pools["valid"].append(self.valid())
        while len(self.pools["expiring"]) < 60:
            self.pools["expiring"].append(self.expiring())
        self.pools["revoked"] = self.pools["revoked"][-2000:]
        return len(moved)

    # --- tokens that must never pass --------------------------------------------------

    def expired(self) -> Token:
        rng, now = self.rng, int(time.time())
        user = rng.choice(self.users)
        claims = self.claims(user)
        variant = rng.choice(("expired", "just-expired", "not-yet-valid", "no-exp", "exp-string", "exp-null"))
        if variant == "expired":
            claims["exp"] = now - rng.randint(2, 7200)
        elif variant == "just-expired":
            claims["exp"] = now - 1
        elif variant == "not-yet-valid":
            claims["nbf"] = now + rng.randint(60, 3600)
        elif variant == "no-exp":
            del claims["exp"]
        elif variant == "exp-string":
            claims["exp"] = str(claims["exp"])
        else:
            claims["exp"] = None
        return Token(mint(self._held_key(), claims), "expired", variant)

    def forged(self) -> Token:
        rng = self.rng
        user = rng.choice(self.users)
        claims = self.claims(user)
        rsa1 = self.issuer.initial[0]
        attacker = rng.choice(self.issuer.attackers)
        variant = rng.choice(("foreign-key", "tampered-payload", "flipped-signature", "swapped-signature",
                              "alg-none", "hs256-public-key", "key-type-mismatch", "embedded-jwk", "jku-x5u",
                              "crit", "alg-lowercase"))
        if variant == "foreign-key":
            raw = mint(self.issuer.foreign, claims)
        elif variant == "tampered-payload":
            header, _, signature = rng.choice(self.pools["valid"]).raw.split(".")
            raw = f"{header}.{b64json({**claims, 'scope': 'admin users:write'})}.{signature}"
        elif variant == "flipped-signature":
            header, payload, signature = self.valid().raw.split(".")
            at = rng.randrange(len(signature) - 1)
            flipped = "A" if signature[at] != "A" else "B"
            raw = f"{header}.{payload}.{signature[:at]}{flipped}{signature[at + 1:]}"
        elif variant == "swapped-signature":
            a, b = rng.sample(self.pools["valid"], 2)
            raw = ".".join(a.raw.split(".")[:2] + b.raw.split(".")[2:])
        elif variant == "alg-none":
            raw = f"{b64json({'alg': 'none', 'kid': 'rsa-1'})}.{b64json(claims)}."
        elif variant == "hs256-public-key":
            secret = rsa1.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                             serialization.PublicFormat.SubjectPublicKeyInfo)
            raw = mint_hs256(secret, claims, {"kid": "rsa-1"})
        elif variant == "key-type-mismatch":
            raw = mint(rsa1, claims, {"kid": "ec-1"})
        elif variant == "embedded-jwk":
            raw = mint(attacker, claims, {"kid": "ec-1", "jwk": attacker.public_jwk()})
        elif variant == "jku-x5u":
            raw = mint(attacker, claims, {"kid": "ec-1", "jku": "http://127.0.0.1:9/jwks.json",
                                          "x5u": "http://127.0.0.1:9/cert.pem"})
        elif variant == "crit":
            raw = mint(rsa1, claims, {"crit": ["exp"]})
        else:
            raw = mint(rsa1, claims, {"alg": "rs256"})
        return Token(raw, "forged", variant)

    def random_kid(self) -> Token:
        attacker = self.rng.choice(self.issuer.attackers)
        claims = self.claims(self.rng.choice(self.users))
        kid = self.rng.choice((fresh_id(), f"rot-{self.rng.randint(100, 999)}", "rsa-1 ", "RSA-1", ""))
        return Token(mint(attacker, claims, {"kid": kid}), "random_kid", "random" if len(kid) > 8 else repr(kid))

    def foreign(self) -> Token:
        rng = self.rng
        claims = self.claims(rng.choice(self.users))
        variant = rng.choice(("other-issuer", "issuer-suffix", "issuer-case", "other-audience",
                              "audience-list", "audience-number", "no-audience"))
        if variant == "other-issuer":
            claims["iss"] = "https://evil.example"
        elif variant == "issuer-suffix":
            claims["iss"] = ISSUER + "/"
        elif variant == "issuer-case":
            claims["iss"] = ISSUER.upper()
        elif variant == "other-audience":
            claims["aud"] = "another-client"
        elif variant == "audience-list":
            claims["aud"] = ["x", "another-client"]
        elif variant == "audience-number":
            claims["aud"] = 5
        else:
            del claims["aud"]
        return Token(mint(self._held_key(), claims), "foreign", variant)

    def garbage(self) -> Token:
        rng = self.rng
        valid = rng.choice(self.pools["valid"]).raw
        variant = rng.choice(("empty", "junk", "two-segments", "four-segments", "header-not-json",
                              "header-array", "payload-array", "oversize", "unicode", "bearer-twice",
                              "padding", "whitespace"))
        raw = {
            "empty": "",
            "junk": b64(rng.randbytes(rng.randint(1, 300))),
            "two-segments": valid.rsplit(".", 1)[0],
            "four-segments": valid + "." + valid.split(".")[2],
            "header-not-json": b64(b"hello") + "." + valid.split(".", 1)[1],
            "header-array": b64json(["RS256"]) + "." + valid.split(".", 1)[1],
            "payload-array": valid.split(".")[0] + "." + b64json([1, 2]) + "." + valid.split(".")[2],
            "oversize": valid.split(".")[0] + "." + b64json({"pad": "x" * 17_000}) + "." + valid.split(".")[2],
            "unicode": "тест.токен.подпись",
            "bearer-twice": "Bearer " + valid,
            "padding": valid.replace(".", "==.", 1),
            "whitespace": valid[:20] + " " + valid[20:],
        }[variant]
        return Token(raw, "garbage", variant)
