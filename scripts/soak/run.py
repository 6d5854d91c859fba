"""Runs the soak: the release `authorizer` under a Lambda Runtime API host, fed every
API Gateway kind in turn with a mix of tokens, while the schedule switches the table and
the JWKS endpoint between their modes, rotates the issuer's keys and revokes users; then
judges every answer (oracle.py) and reports (report.py). See docs/reliability.md.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace
from urllib.parse import urlparse

from lambda_host import NoAnswer, RuntimeApi, rss_kib
from moto_table import aws_env, create_keys_table, dynamodb_client, keys_item_key, put_keys_item

from .faults import JwksServer, TableProxy
from .issuer import ALGORITHMS, AUDIENCE, ISSUER, ROOT, Issuer
from .oracle import (ERROR_WINDOW, POLICY_RESOURCES, POLICY_RULES, TABLE_CALL, Call, Expected, Oracle,
                    Revocation, Revocations, Settings, classify)
from .report import report
from .schedule import CYCLE, WARMUP, Scheduler, Timeline
from .tokens import Population, fresh_id

TABLE = "soak-keys"
KINDS = {"rest-token": "rest-token.json", "rest-request": "rest-request.json",
         "websocket": "websocket-connect.json", "http-api": "http-api.json"}
WEIGHTS = {"valid": 36, "expiring": 6, "rotated": 10, "revoked": 10, "no_grant": 3,
           "expired": 7, "forged": 10, "random_kid": 6, "foreign": 6, "garbage": 6}
ROUTES = {"own": 60, "other": 25, "reports": 15}
EMF_COUNTERS = ("JwksFetches", "JwksErrors", "TableReads", "TableErrors", "TableWrites", "StaleKeysServed",
                "RevokedTokens", "RevocationLookups", "RevocationErrors", "RevocationUnchecked")


@dataclass
class Profile:
    """How long and how hard: the full soak, or --quick for CI."""

    per_kind: int
    unit: float  # seconds per phase
    cooldown: int  # JWKS_COOLDOWN_SECONDS
    memory: int  # KEYS_MEMORY_SECONDS
    ttl: int  # KEYS_TTL_SECONDS: keys expire during the run, and serve stale while the issuer is down
    revocation_cache: int  # REVOCATION_CACHE_SECONDS
    jwks_timeout_ms: int
    rss_every: int  # invocations between VmRSS samples
    rate: float  # invocations per second at most (0: as fast as the function answers)
    pool: int  # distinct valid tokens in the pool
    expiring_life: tuple  # seconds
    warmup: int  # invocations of fresh valid tokens first, faults off: the caches fill to their bounds


FULL = Profile(per_kind=100_000, unit=10, cooldown=3, memory=5, ttl=60, revocation_cache=3, jwks_timeout_ms=300,
               rss_every=1000, rate=0, pool=3000, expiring_life=(2, 20), warmup=45_000)
QUICK = Profile(per_kind=1000, unit=2, cooldown=1, memory=1, ttl=60, revocation_cache=1, jwks_timeout_ms=300,
                rss_every=100, rate=4 * 1000 / (2 * len(CYCLE)) * 1.15, pool=400, expiring_life=(1, 5),
                warmup=0)


class Events:
    """The files in events/, one per kind, with ${TOKEN} and ${USER_ID} filled per call."""

    def __init__(self):
        self.templates = {}
        for kind, file in KINDS.items():
            text = (ROOT / "events" / file).read_text()
            for route in ("hello", "reports"):
                if route == "reports":
                    text = text.replace("GET/hello/${USER_ID}", "GET/reports/${USER_ID}")
                event = json.loads(text)
                self.templates[(kind, route)] = (text, event.get("methodArn") or event["routeArn"])

    def build(self, kind: str, route: str, token: str, user_id: str) -> tuple[bytes, str]:
        """The event and its methodArn / routeArn."""
        text, arn = self.templates[(kind, "reports" if route == "reports" else "hello")]
        text = text.replace("${TOKEN}", json.dumps(token)[1:-1]).replace("${USER_ID}", user_id)
        return text.encode(), arn.replace("${USER_ID}", user_id)


class LogReader:
    """Reads the function's stdout: one EMF line per invocation (its counters, in order),
    the decision line of each invocation (its reason, by request id), and the other JSON
    log lines (counted by level and message)."""

    def __init__(self, stream):
        self.metrics: list[dict | None] = []
        self.reasons: dict[str, str] = {}
        self.lines: Counter = Counter()
        self.other: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream) -> None:
        for raw in stream:
            try:
                line = json.loads(raw)
            except ValueError:
                if len(self.other) < 50:
                    self.other.append(raw.decode(errors="replace").rstrip())
                continue
            if "_aws" in line:
                counters = {k: line[k] for k in EMF_COUNTERS if line.get(k)}
                self.metrics.append(counters or None)
            elif line.get("message") == "decision":
                self.reasons[line.get("request_id")] = f"{line.get('outcome')} {line.get('reason')}"
            else:
                self.lines[(line.get("level", "?"), line.get("message", ""))] += 1


class Soak:
    def __init__(self, args, profile: Profile):
        self.args = args
        self.profile = profile
        self.rng = random.Random(args.seed)
        self.moto = args.moto
        self.dynamodb = dynamodb_client(args.moto)
        self.issuer = Issuer()
        self.jwks = JwksServer(self.issuer.document)
        self.proxy = TableProxy(urlparse(args.moto).netloc)
        self.timeline = Timeline()
        self.revocations = Revocations()
        self.actions: list[tuple[float, str, str]] = []
        self.events = Events()
        self.calls: list[Call] = []
        self.counts: Counter = Counter()  # invocations per kind after the warm-up
        self.rss: list[tuple[float, int, int]] = []  # (monotonic, invocation, VmRSS KiB)

    # --- environment -------------------------------------------------------------------

    def function_env(self) -> dict:
        p = self.profile
        return {
            "PATH": os.environ.get("PATH", ""),
            "AWS_LAMBDA_FUNCTION_NAME": "authorizer", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", **aws_env(self.proxy.url),
            "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE, "JWKS_URL": self.jwks.url,
            "JWT_ALGORITHMS": ALGORITHMS, "KEYS_TABLE_NAME": TABLE,
            "KEYS_MEMORY_SECONDS": str(p.memory), "KEYS_TTL_SECONDS": str(p.ttl),
            "JWKS_COOLDOWN_SECONDS": str(p.cooldown),
            "JWKS_TIMEOUT_MS": str(p.jwks_timeout_ms),
            "REVOCATION": "on", "REVOCATION_CACHE_SECONDS": str(p.revocation_cache),
            "REVOCATION_ON_ERROR": self.args.on_error,
            "POLICY_RESOURCES": POLICY_RESOURCES, "POLICY_RULES": POLICY_RULES,
            # The oracle judges HTTP API simple answers; with per-user templates those need
            # the authorizer cache declared off (HTTP_API_RESPONSE auto would answer IAM).
            "HTTP_API_RESPONSE": "simple", "HTTP_API_CACHE": "off",
            **dict(pair.split("=", 1) for pair in self.args.env),
        }

    def create_table(self) -> None:
        create_keys_table(self.dynamodb, TABLE, fresh=True)

    # --- scheduled actions -------------------------------------------------------------

    def act(self, action: str) -> None:
        detail = getattr(self, action)()
        self.actions.append((time.monotonic(), action, detail))

    def rotate(self) -> str:
        key = self.issuer.rotate()
        self.population.rotated_tokens(key)
        return f"published {key.kid} ({key.alg})"

    def revoke(self) -> str:
        """Revokes a user, one token or one sign-in, with `authorizer-admin revoke`. Right
        before, a token it covers is used once, so the container holds a fresh "not
        revoked" lookup: the case where REVOCATION_CACHE_SECONDS is what bounds the delay.
        For a few cache windows after, revoked tokens are mostly this revocation's."""
        rng, now = self.rng, int(time.time())
        token = rng.choice(self.population.pools["valid"])
        choice = rng.choice(("subject", "subject", "jti", "sign-in" if token.user.sign_in else "jti"))
        if choice == "subject":
            args = ["--subject", token.user.sub, "--before", str(now)]
            revocation = Revocation("subject", token.user.sub, 0, now)
        elif choice == "jti":
            args = ["--jti", token.claims["jti"], "--until", str(token.claims["exp"])]
            revocation = Revocation("jti", token.claims["jti"], 0)
        else:
            args = ["--jti", token.user.sign_in, "--until", str(now + 7200)]
            revocation = Revocation("jti", token.user.sign_in, 0)
            token.user.sign_in = fresh_id()  # the user signs in again: new tokens, new origin_jti
        self.call(token, "valid")
        env = {"PATH": os.environ.get("PATH", ""), **aws_env(self.moto), "JWT_ISSUER": ISSUER,
               "JWT_AUDIENCE": AUDIENCE, "KEYS_TABLE_NAME": TABLE}
        done = subprocess.run([self.args.admin, "revoke", *args], env=env, capture_output=True, text=True,
                              timeout=60)
        if done.returncode != 0:
            raise SystemExit(f"soak: authorizer-admin revoke failed: {done.stderr.strip()}")
        revocation.written_at = time.monotonic()
        self.revocations.add(revocation)
        moved = self.population.move_revoked(lambda t: t.claims is not None and revocation.covers(t.claims),
                                             hot_until=revocation.written_at + 4 * self.profile.revocation_cache)
        return f"{choice} {revocation.value[:8]}…: {moved} pooled tokens revoked"

    def poison(self) -> str:
        put_keys_item(self.dynamodb, TABLE, self.jwks.url, '{"keys": "poisoned"}')
        return "keys item replaced by one that does not parse"

    # --- the run -------------------------------------------------------------------------

    def run(self) -> dict:
        p, args = self.profile, self.args
        self.create_table()
        self.population = Population(self.issuer, self.rng, pool=p.pool, expiring_life=p.expiring_life)
        self.host = RuntimeApi()
        self.proc = self.host.spawn(args.binary, self.function_env(), stdout=subprocess.PIPE)
        logs = LogReader(self.proc.stdout)
        scheduler = Scheduler(p.unit)
        categories, weights = list(WEIGHTS), list(WEIGHTS.values())
        failure = None
        start = slot = time.monotonic()
        # Whatever ends the run (a failure, Ctrl-C), the function and the fakes stop.
        try:
            while True:
                now = time.monotonic()
                warming = len(self.calls) < p.warmup
                if warming:
                    entered, due = (WARMUP if not self.calls else None), []
                elif min(self.counts[k] for k in KINDS) >= p.per_kind and scheduler.cycles_done(now) >= 1:
                    break
                else:
                    entered, due = scheduler.tick(now)
                if entered:
                    self.timeline.begin(now, entered)
                    self.proxy.set_mode(entered.table)
                    self.jwks.set_mode(entered.jwks)
                for action in due:
                    self.act(action)
                if p.rate:  # evenly spread: no burst to catch up after slow decisions
                    slot = max(slot + 1 / p.rate, time.monotonic())
                    time.sleep(max(0.0, slot - time.monotonic()))
                if warming:
                    self.call(self.population.warm_token(), "valid")
                else:
                    category = self.rng.choices(categories, weights)[0]
                    self.call(self.population.pick(category), category)
        except NoAnswer as e:
            failure = f"invocation {len(self.calls)}: {e}; exit status {self.proc.poll()}"
        finally:
            end = time.monotonic()
            self.timeline.close(end)
            alive = self.proc.poll() is None
            self.rss.append((end, len(self.calls), rss_kib(self.proc.pid, "VmRSS") if alive else 0))
            peak = rss_kib(self.proc.pid, "VmHWM") if alive else 0
            self.proc.terminate()
            self.proc.wait()
            self.host.close()
            self.jwks.close()
            self.proxy.close()
        logs.thread.join(timeout=10)
        return self.judge(logs, start, end, peak, failure)

    def call(self, token, category: str) -> None:
        """One invocation with `token`, the kinds in turn; its answer classified."""
        index = len(self.calls)
        kind = list(KINDS)[index % len(KINDS)]
        if token.claims is not None and self.revocations.covering(token.claims):
            category = "revoked"
        elif token.category != category:
            category = token.category  # e.g. "rotated" asked before any rotation
        route = self.rng.choices(list(ROUTES), list(ROUTES.values()))[0]
        user_id = self.user_id(token, route)
        event, arn = self.events.build(kind, route, token.raw, user_id)
        wall_before = time.time()
        answer = self.host.invoke(event, timeout=10, request_id=f"r{index}")
        wall_after = time.time()
        try:
            body = json.loads(answer.body)
        except ValueError:
            body = answer.body
        observed, problem = classify(Expected(kind, arn, token.claims), answer.kind, body)
        self.calls.append(Call(index, kind, category, token, route, arn, answer.handed_at, answer.answered_at,
                               wall_before, wall_after, self.timeline.spans[-1].phase, observed, problem))
        if index >= self.profile.warmup:
            self.counts[kind] += 1
        if index % self.profile.rss_every == 0:
            self.rss.append((time.monotonic(), index, rss_kib(self.proc.pid, "VmRSS")))

    def user_id(self, token, route: str) -> str:
        if route == "reports":
            return "q3"
        if route == "own" and token.claims and isinstance(token.claims.get("sub"), str):
            return token.claims["sub"]
        return self.rng.choice(self.population.users).sub

    # --- judgement ---------------------------------------------------------------------

    def judge(self, logs: LogReader, start: float, end: float, peak: int, failure: str | None) -> dict:
        p = self.profile
        if len(logs.metrics) == len(self.calls):
            for call, metrics in zip(self.calls, logs.metrics):
                call.metrics = metrics
        elif failure is None:
            failure = f"{len(logs.metrics)} metrics lines for {len(self.calls)} invocations"
        unreadable = self.timeline.table_down(before=TABLE_CALL, after=ERROR_WINDOW + TABLE_CALL)
        unreadable += [(t - TABLE_CALL, t + ERROR_WINDOW + 2 * TABLE_CALL) for t in self.proxy.failures_up]
        attempts = sorted([c.answered for c in self.calls if c.metrics and c.metrics.get("JwksFetches")]
                          + [r.arrived for r in self.jwks.requests])

        def jwks_up(a: float, b: float) -> bool:
            return all(s.jwks == "up" for s in self.timeline.overlapping(a, b))

        oracle = Oracle(Settings(self.args.on_error, p.revocation_cache, p.cooldown),
                        {k.kid: k.published_at for k in self.issuer.keys}, self.revocations,
                        unreadable, jwks_up, attempts)
        verdicts = [oracle.judge(call) for call in self.calls]
        item = self.dynamodb.get_item(TableName=TABLE, Key=keys_item_key(self.jwks.url)).get("Item")
        return report(self, verdicts, logs, start=start, end=end, peak=peak, failure=failure, final_item=item)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moto", required=True, help="moto_server URL (DynamoDB)")
    parser.add_argument("--binary", default=str(ROOT / "target/release/authorizer"))
    parser.add_argument("--admin", default=str(ROOT / "target/release/authorizer-admin"))
    parser.add_argument("--quick", action="store_true", help="CI: one compressed cycle, a few thousand calls")
    parser.add_argument("--per-kind", type=int, help="invocations of each kind at least")
    parser.add_argument("--warmup", type=int, help="invocations of warm-up before the fault cycle")
    parser.add_argument("--on-error", choices=("allow", "deny"), default="allow", help="REVOCATION_ON_ERROR")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="set or override a variable of the function only (the oracle still judges by "
                             "the profile): shows that the oracle catches an authorizer that misbehaves")
    parser.add_argument("--out", default=str(ROOT / "target/soak"))
    args = parser.parse_args()
    profile = QUICK if args.quick else FULL
    if args.per_kind:
        profile = replace(profile, per_kind=args.per_kind)
    if args.warmup is not None:
        profile = replace(profile, warmup=args.warmup)
    summary = Soak(args, profile).run()
    sys.exit(0 if summary["passed"] else 1)
