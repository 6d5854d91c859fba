"""The identity provider of the soak: its signing keys, their rotation, and token minting.

It starts with the fixture keys of tests/fixtures/keys (jwks.json: rsa-1 RS256, ec-1
ES256, ec-2 ES384, ed-1 EdDSA). Each rotation publishes one more key, never removing one
(as Cognito and Okta do: a rotated-out key stays published while its tokens live): the
first is the fixture rsa-2 (jwks-rotated.json), later ones are generated, alternately
ES256 and RS256. `document()` is what the JWKS endpoint serves in mode `up`.

Attackers have their own keys: rsa-foreign (the fixture that claims kid rsa-1) and a few
fresh EC keys for tokens with random kids.
"""
import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests/fixtures/keys"
ISSUER = "https://issuer.soak.test"
AUDIENCE = "soak-client"
ALGORITHMS = "RS256,ES256,ES384,EdDSA"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def _num(n: int, size: int | None = None) -> str:
    return b64(n.to_bytes(size or (n.bit_length() + 7) // 8, "big"))


@dataclass
class SigningKey:
    """A private key with its `kid` and `alg`; `published_at` (monotonic) is when the
    issuer added it to its JWKS: None for the keys published before the run."""

    kid: str
    alg: str
    private: object
    published_at: float | None = None

    def public_jwk(self) -> dict:
        pub = self.private.public_key()
        if self.alg == "RS256":
            n = pub.public_numbers()
            return {"kty": "RSA", "kid": self.kid, "alg": "RS256", "use": "sig",
                    "n": _num(n.n), "e": _num(n.e)}
        if self.alg in ("ES256", "ES384"):
            n = pub.public_numbers()
            crv, size = ("P-256", 32) if self.alg == "ES256" else ("P-384", 48)
            return {"kty": "EC", "kid": self.kid, "alg": self.alg, "use": "sig", "crv": crv,
                    "x": _num(n.x, size), "y": _num(n.y, size)}
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "kid": self.kid, "alg": "EdDSA", "use": "sig", "crv": "Ed25519", "x": b64(raw)}

    def sign(self, data: bytes) -> bytes:
        if self.alg == "RS256":
            return self.private.sign(data, padding.PKCS1v15(), hashes.SHA256())
        if self.alg in ("ES256", "ES384"):
            digest, size = (hashes.SHA256(), 32) if self.alg == "ES256" else (hashes.SHA384(), 48)
            r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(digest)))
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")
        return self.private.sign(data)


def load_key(name: str, kid: str, alg: str) -> SigningKey:
    private = serialization.load_pem_private_key((FIXTURES / name).read_bytes(), None)
    return SigningKey(kid, alg, private)


def mint(key: SigningKey, claims: dict, header: dict | None = None) -> str:
    """A JWT signed by `key`; `header` adds to (or overrides) {"alg", "kid"}."""
    head = {"alg": key.alg, "kid": key.kid, **(header or {})}
    signing_input = f"{b64json(head)}.{b64json(claims)}"
    return f"{signing_input}.{b64(key.sign(signing_input.encode()))}"


def mint_hs256(secret: bytes, claims: dict, header: dict) -> str:
    signing_input = f"{b64json({'alg': 'HS256', **header})}.{b64json(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


class Issuer:
    """The issuer's key set; rotations add keys. Thread-safe for the JWKS server."""

    def __init__(self):
        self.initial = [load_key("rsa.pem", "rsa-1", "RS256"), load_key("ec256.pem", "ec-1", "ES256"),
                        load_key("ec384.pem", "ec-2", "ES384"), load_key("ed25519.pem", "ed-1", "EdDSA")]
        self.rotated: list[SigningKey] = []
        self.foreign = load_key("rsa-foreign.pem", "rsa-1", "RS256")
        self.attackers = [SigningKey("attacker", "ES256", ec.generate_private_key(ec.SECP256R1()))
                          for _ in range(3)]
        self._lock = threading.Lock()
        self._publish()
        expected = json.loads((FIXTURES / "jwks.json").read_text())
        if json.loads(self._document) != expected:
            raise SystemExit("soak: the fixture keys do not match tests/fixtures/keys/jwks.json")

    @property
    def keys(self) -> list[SigningKey]:
        return self.initial + self.rotated

    def document(self) -> tuple[bytes, tuple]:
        with self._lock:
            return self._document, self._kids

    def rotate(self) -> SigningKey:
        """Publishes one more signing key and returns it."""
        n = len(self.rotated)
        if n == 0:
            key = load_key("rsa-rotated.pem", "rsa-2", "RS256")
        elif n % 2:
            key = SigningKey(f"rot-{n + 1}", "ES256", ec.generate_private_key(ec.SECP256R1()))
        else:
            key = SigningKey(f"rot-{n + 1}", "RS256", rsa.generate_private_key(65537, 2048))
        key.published_at = time.monotonic()
        self.rotated.append(key)
        self._publish()
        if n == 0 and json.loads(self._document) != json.loads((FIXTURES / "jwks-rotated.json").read_text()):
            raise SystemExit("soak: the rotated key does not match tests/fixtures/keys/jwks-rotated.json")
        return key

    def _publish(self) -> None:
        document = json.dumps({"keys": [k.public_jwk() for k in self.keys]}, indent=2) + "\n"
        with self._lock:
            self._document = document.encode()
            self._kids = tuple(k.kid for k in self.keys)
