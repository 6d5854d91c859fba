"""What the authorizer may answer: exact where the contract is exact, and a set of two
legitimate answers where timing makes both right. Judged after the run, in invocation
order, from what the harness recorded (`Call`), the upstreams' logs and the authorizer's
own per-invocation metrics.

A token with a genuine signature of a published key is judged by three rules, each
PASS (it must not be the reason for a refusal), FAIL (the token must be refused) or
EITHER:

  expiry       FAIL if `exp` <= the wall clock when the event was handed out (exp is
               compared with whole seconds, CLOCK_SKEW_SECONDS=0); PASS if `exp` is later
               than the wall clock when the answer arrived; EITHER in between. Also for
               tokens served from the cache of verified tokens.
  key          PASS for a key published before the run (the authorizer holds it: stale
               keys serve through any outage up to KEYS_MAX_STALE_SECONDS, far longer than
               the run). A key rotated in during the run: PASS once one of its tokens has
               been allowed (keys are never lost), or when the authorizer could fetch it
               (published, the JWKS endpoint `up` from hand-out to answer, and no JWKS
               request sent by this container in the JWKS_COOLDOWN_SECONDS before; a fetch
               that the authorizer itself reports as failed, e.g. a timeout under load,
               makes it EITHER); EITHER otherwise.
  revocation   with T = when the first revocation covering the token was written (the
               `authorizer-admin revoke` process had exited): EITHER before
               T + REVOCATION_CACHE_SECONDS; FAIL from then on, except that with
               REVOCATION_ON_ERROR=allow a revoked token may pass while the table is
               unreadable (a table fault, from 1 s before to ERROR_WINDOW + 1 s after; an
               `up` request the proxy saw fail or come back slowly, from 1 s before to
               ERROR_WINDOW + 2 s after, the lookup itself taking up to 1 s), unless this container
               has already refused a token covered by that same item (a revocation seen
               stays in force). With REVOCATION_ON_ERROR=deny, an unrevoked token may be
               refused while the table is unreadable, and must pass otherwise.

Any FAIL: the token must get the configured denial. All PASS: it must get its grant
(Allow on exactly its resources, or the explicit Deny when it fills no template).
Otherwise either. Every other token (forged, expired, random kid, foreign, garbage) must
get the configured denial, always.
"""
import bisect
import re
from dataclasses import dataclass, field

from .tokens import NEVER_VALID

PASS, FAIL, EITHER = "pass", "fail", "either"
ERROR_WINDOW = 5.0  # src/revocation/decide.rs: no table call for 5 s after a failed lookup
TABLE_CALL = 1.0  # a revocation lookup is bounded by 1 s
SAFE = re.compile(r"^[A-Za-z0-9._~@+=:-]{1,128}$")


@dataclass
class Revocation:
    """One `authorizer-admin revoke` that completed at `written_at` (monotonic)."""

    scope: str  # "subject" or "jti"
    value: str
    written_at: float
    before: int | None = None  # subject: revoked_before

    @property
    def item(self) -> str:
        return f"{self.scope}:{self.value}"

    def covers(self, claims: dict) -> bool:
        if self.scope == "subject":
            return claims.get("sub") == self.value and claims["iat"] < self.before
        return self.value in (claims.get("jti"), claims.get("origin_jti"))


class Revocations:
    """Every revocation written, indexed by the claim it names."""

    def __init__(self):
        self.all: list[Revocation] = []
        self._by_item: dict[str, list[Revocation]] = {}

    def add(self, revocation: Revocation) -> None:
        self.all.append(revocation)
        self._by_item.setdefault(revocation.item, []).append(revocation)

    def covering(self, claims: dict, at: float = float("inf")) -> list[Revocation]:
        """The revocations written by `at` (monotonic) that cover a token with `claims`."""
        found = []
        for item in (f"subject:{claims.get('sub')}", f"jti:{claims.get('jti')}", f"jti:{claims.get('origin_jti')}"):
            found += [r for r in self._by_item.get(item, ()) if r.written_at <= at and r.covers(claims)]
        return found


@dataclass(slots=True)
class Call:
    """One invocation as the harness saw it."""

    index: int
    kind: str
    category: str  # tokens.CATEGORIES: the token's, or "revoked" once a revocation covers it
    token: object  # tokens.Token
    route: str  # "own", "other", "reports"
    arn: str
    handed: float  # monotonic: event handed to the function
    answered: float  # monotonic: answer received
    wall_before: float  # wall clock just before the event was queued
    wall_after: float  # wall clock just after the answer arrived
    phase: str
    observed: str  # "grant", "nogrant", "reject" or, HTTP API, "true" / "false"; "bad" otherwise
    problem: str | None  # how the answer's shape differs from the expected one
    metrics: dict | None = None  # the authorizer's EMF counters for this invocation


# --- expected answers ---------------------------------------------------------------------


def fills(value) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and SAFE.match(value) and set(value) != {"."}:
        return value
    return None


def principal(claims: dict) -> str | None:
    """PRINCIPAL_CLAIM=sub as a string: a non-empty string or a number."""
    sub = claims.get("sub")
    if isinstance(sub, str):
        return sub or None
    if isinstance(sub, (int, float)) and not isinstance(sub, bool):
        return str(sub)
    return None


def scopes_of(claims: dict) -> set:
    scopes = set(claims.get("scope", "").split()) if isinstance(claims.get("scope"), str) else set()
    scp = claims.get("scp")
    if isinstance(scp, list):
        scopes |= {s for s in scp if isinstance(s, str)}
    elif isinstance(scp, str):
        scopes |= set(scp.split())
    return scopes


def resources(claims: dict, prefix: str) -> list[str]:
    """The grant of POLICY_RESOURCES=GET/hello/{sub} and the soak's POLICY_RULES."""
    sub = fills(claims.get("sub"))
    scopes, groups = scopes_of(claims), set(claims.get("cognito:groups") or ())
    out = []
    if sub:
        out.append(f"{prefix}GET/hello/{sub}")
    if scopes & {"reports:read", "admin"}:
        out.append(f"{prefix}GET/reports/*")
    if sub and "users:write" in scopes and "ops" in groups:
        out.append(f"{prefix}DELETE/users/{sub}")
    return out


POLICY_RESOURCES = "GET/hello/{sub}"
POLICY_RULES = ('[{"resources":["GET/reports/*"],"scopes_any":["reports:read","admin"]},'
                '{"resources":["DELETE/users/{sub}"],"scopes_all":["users:write"],"groups_any":["ops"]}]')


def wildcard(pattern: str, text: str) -> bool:
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), text, re.S) is not None


def prefix_of(arn: str) -> str:
    head, _, rest = arn.partition("/")
    stage = rest.split("/", 1)[0]
    return f"{head}/{stage}/"


@dataclass
class Expected:
    """The answers a token deserves on one event, per decision."""

    kind: str
    arn: str
    claims: dict | None

    @property
    def prefix(self) -> str:
        return prefix_of(self.arn)

    @property
    def decision(self) -> str:
        """What a valid token gets: grant, or nogrant (explicit Deny: no template filled,
        or no principal)."""
        grant = resources(self.claims, self.prefix)
        return "grant" if grant and principal(self.claims) is not None else "nogrant"

    def route_granted(self) -> bool:
        """Whether an HTTP API simple answer must be true for this valid token."""
        return self.decision == "grant" and any(wildcard(r, self.arn) for r in resources(self.claims, self.prefix))

    def context(self) -> dict:
        return {k: self.claims[k] for k in ("sub", "username") if k in self.claims}


def classify(expected: Expected, kind: str, body: dict | None) -> tuple[str, str | None]:
    """The decision an answer shows and, if its shape is not exactly the one that decision
    deserves, what differs. `kind` is the Runtime API path's last segment."""
    http = expected.kind == "http-api"
    if kind == "error":
        if http:
            return "bad", f"HTTP API answered with a Lambda error {body}"
        if body != {"errorType": "Unauthorized", "errorMessage": "Unauthorized"}:
            return "reject", f"error body {body}"
        return "reject", None
    if not isinstance(body, dict):
        return "bad", f"not a JSON object: {body!r:.200}"
    if http:
        if set(body) != {"isAuthorized", "context"} or not isinstance(body["isAuthorized"], bool):
            return "bad", f"simple answer {body!r:.200}"
        if not body["isAuthorized"]:
            return "false", None if body["context"] == {} else f"context on a refusal: {body['context']}"
        if expected.claims is None:
            return "true", None
        return "true", None if body["context"] == expected.context() else f"context {body['context']}"
    document = body.get("policyDocument") or {}
    statements = document.get("Statement") or []
    if len(statements) != 1 or document.get("Version") != "2012-10-17":
        return "bad", f"policy {document!r:.200}"
    statement = statements[0]
    effect, granted = statement.get("Effect"), statement.get("Resource")
    if statement.get("Action") != ["execute-api:Invoke"] or not isinstance(granted, list):
        return "bad", f"statement {statement!r:.200}"
    if effect == "Deny":
        if body.get("principalId") != "anonymous" or granted != [expected.prefix + "*"]:
            return "nogrant", f"deny {body!r:.200}"
        return "nogrant", None if not body.get("context") else f"context on a Deny: {body['context']}"
    if effect != "Allow":
        return "bad", f"effect {effect}"
    if expected.claims is None:
        return "grant", None
    problems = []
    want = resources(expected.claims, expected.prefix)
    if sorted(granted) != sorted(want):
        problems.append(f"resources {granted} != {want}")
    if body.get("principalId") != principal(expected.claims):
        problems.append(f"principalId {body.get('principalId')!r}")
    if body.get("context") != expected.context():
        problems.append(f"context {body.get('context')}")
    return "grant", "; ".join(problems) or None


# --- the judgement ------------------------------------------------------------------------


@dataclass
class Settings:
    on_error: str  # "allow" or "deny"
    revocation_cache: float
    cooldown: float


@dataclass
class Verdict:
    allowed: set  # decisions allowed: subset of {"grant", "nogrant", "reject"}
    wrong: bool
    why: str  # which rule made it EITHER or FAIL (for the report); "" when exact PASS
    rules: dict = field(default_factory=dict)


class Oracle:
    def __init__(self, settings: Settings, keys: dict, revocations: list, table_unreadable: list,
                 jwks_up, jwks_attempts: list):
        """`keys`: kid -> published_at (None for keys published before the run);
        `revocations`: a `Revocations`;
        `table_unreadable`: (start, end) monotonic intervals; `jwks_up(start, end)`: whether
        the endpoint was `up` throughout; `jwks_attempts`: sorted monotonic times at or after
        which this container's JWKS requests were sent (each an upper bound of the send)."""
        self.settings = settings
        self.keys = keys
        self.revocations = revocations
        self.unreadable = sorted(table_unreadable)
        self.jwks_up = jwks_up
        self.attempts = jwks_attempts
        self.held_since: dict[str, float] = {}
        # What this container has certainly read of each revocation item: for a subject
        # item, a lower bound of its `revoked_before`; for a token item, that it exists.
        self.seen: dict[str, float] = {}

    def table_unreadable(self, t: float) -> bool:
        return any(a <= t <= b for a, b in self.unreadable)

    def last_attempt_before(self, t: float) -> float | None:
        at = bisect.bisect_right(self.attempts, t)
        return self.attempts[at - 1] if at else None

    def expiry(self, call: Call, claims: dict) -> str:
        exp = claims["exp"]
        if exp <= call.wall_before:
            return FAIL
        return PASS if exp > call.wall_after else EITHER

    def key(self, call: Call, kid: str) -> tuple[str, str]:
        published = self.keys.get(kid)
        if published is None:
            return PASS, ""
        held = self.held_since.get(kid)
        if held is not None and call.handed > held:
            return PASS, ""
        last = self.last_attempt_before(call.handed)
        cooled = last is None or call.handed - last >= self.settings.cooldown
        if published < call.handed and cooled and self.jwks_up(call.handed, call.answered):
            if call.metrics and call.metrics.get("JwksErrors"):
                return EITHER, "rotated key: the authorizer's fetch failed"
            return PASS, ""
        return EITHER, "rotated key not fetched yet"

    def revocation(self, call: Call, claims: dict) -> tuple[str, str, list]:
        covering = self.revocations.covering(claims, call.handed)
        unreadable = self.table_unreadable(call.handed)
        if not covering:
            if self.settings.on_error == "deny" and unreadable:
                return EITHER, "table unreadable (REVOCATION_ON_ERROR=deny)", []
            return PASS, "", []
        written = min(r.written_at for r in covering)
        if call.handed < written + self.settings.revocation_cache:
            return EITHER, "revoked less than REVOCATION_CACHE_SECONDS ago", covering
        if self.settings.on_error == "allow" and unreadable and not self.seen_covers(claims, covering):
            return EITHER, "revoked, table unreadable (REVOCATION_ON_ERROR=allow)", covering
        return FAIL, "", covering

    def seen_covers(self, claims: dict, covering: list) -> bool:
        """Whether a revocation this container has already read covers the token."""
        for r in covering:
            bound = self.seen.get(r.item)
            if bound is not None and (r.scope == "jti" or claims["iat"] < bound):
                return True
        return False

    def judge(self, call: Call) -> Verdict:
        token = call.token
        claims = token.claims
        if claims is None or token.category in NEVER_VALID:
            allowed = {"reject"}
            return Verdict(allowed, not self.compatible(call, allowed, None), "")
        expected = Expected(call.kind, call.arn, claims)
        rules = {"expiry": (self.expiry(call, claims), "expiring token")}
        rules["key"] = self.key(call, token.kid)
        state, why, covering = self.revocation(call, claims)
        rules["revocation"] = (state, why)
        states = [s for s, _ in rules.values()]
        decision = expected.decision
        if FAIL in states:
            allowed, why = {"reject"}, ""
        elif all(s == PASS for s in states):
            allowed, why = {decision}, ""
        else:
            allowed = {decision, "reject"}
            why = "; ".join(w for s, w in rules.values() if s == EITHER)
        wrong = not self.compatible(call, allowed, expected)
        self.learn(call, expected, rules, covering)
        return Verdict(allowed, wrong, why, rules)

    @staticmethod
    def compatible(call: Call, allowed: set, expected: Expected | None) -> bool:
        if call.problem is not None or call.observed == "bad":
            return False
        if call.kind != "http-api":
            return call.observed in allowed
        granted = expected is not None and expected.route_granted()
        shown = {d: "true" if d == "grant" and granted else "false" for d in allowed}
        return call.observed in shown.values()

    def learn(self, call: Call, expected: Expected, rules: dict, covering: list) -> None:
        """What a decisive answer tells about the container: a rotated key allowed is held
        from then on; a revoked token refused (for no other reason) means the container
        has read that revocation."""
        decided = call.observed
        if call.kind == "http-api":
            decided = {"true": "grant", "false": "reject" if expected.route_granted() else None}.get(decided)
        token = call.token
        if decided == "grant" and token.kid in self.keys and token.kid not in self.held_since:
            self.held_since[token.kid] = call.answered
        items = {r.item for r in covering}
        if (decided == "reject" and self.settings.on_error == "allow" and len(items) == 1
                and rules["expiry"][0] == PASS and rules["key"][0] == PASS):
            # The container read a version of the item that covers this token: for a
            # subject item, one whose revoked_before is past the token's iat, i.e. at least
            # the smallest revoked_before written so far that does.
            item = items.pop()
            bound = min((r.before for r in covering), default=None) if covering[0].scope == "subject" else None
            bound = float("inf") if bound is None else bound
            self.seen[item] = max(self.seen.get(item, float("-inf")), bound)
