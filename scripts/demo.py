#!/usr/bin/env python3
"""Drives the local demo (started by scripts/demo.sh, which provides moto_server).

Creates a Cognito user pool, app client and users alice and bob, and the keys table, in
moto; runs the Lambdas under `cargo lambda watch`; then shows:

1. every API Gateway kind (the files in events/): Allow for alice's own /hello/{id}, no
   access to bob's, a denial for a forged token; this first cold start fetched the JWKS
   and wrote it through to the table;
2. a second cold start, served from the table with no JWKS request, and an authorization
   rule: GET /reports/* only for the Cognito group `reports`, which alice is in and bob not;
3. the refresher on its scheduled event;
4. a sign-out: `authorizer-admin revoke --subject` on alice, her token refused within
   REVOCATION_CACHE_SECONDS while bob's still works;
5. a second tenant: another user pool, refused until `authorizer-admin issuers add`
   registers it (no redeploy), then allowed with its `tenant` in the context and its
   `{tenant}` route, then refused again within TENANT_CACHE_SECONDS of `issuers disable`,
   while the configured pool's users are unaffected.

Exits 1 if anything is not as expected, so the demo doubles as a smoke test.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = "jwt-keys"
GROUP = "reports"
# alice's own /hello and $connect for every valid token; /reports/* only for the group.
RULES = [{"resources": ["GET/reports/*"], "groups_any": [GROUP]}]
INVOKE_TIMEOUT = 180  # seconds; the first invoke may wait for a build
KINDS = [
    ("REST TOKEN", "rest-token.json"),
    ("REST REQUEST", "rest-request.json"),
    ("WebSocket $connect", "websocket-connect.json"),
    ("HTTP API 2.0", "http-api.json"),
]


def cognito(moto: str, *users: str, group: str | None = GROUP) -> dict:
    names = users or ("alice", "bob")
    command = [sys.executable, str(ROOT / "scripts/cognito_local.py"), "--endpoint", moto, "--username", names[0]]
    if len(names) > 1:
        command += ["--other-username", names[1]]
    if group:
        command += ["--group", group]
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def create_table(moto: str) -> None:
    from moto_table import create_keys_table, dynamodb_client  # boto3: scripts/demo.sh installs it
    create_keys_table(dynamodb_client(moto), TABLE)


def stored_item(moto: str, jwks_url: str) -> dict | None:
    from moto_table import dynamodb_client, keys_item_key
    return dynamodb_client(moto).get_item(TableName=TABLE, Key=keys_item_key(jwks_url)).get("Item")


class Watch:
    """`cargo lambda watch` serving the workspace's Lambdas: each start is a fresh cold start."""

    def __init__(self, port: int, env_file: Path, log: Path, package: str = "jwt-authorizer"):
        self.port, self.log_path = port, log
        self.log = open(log, "w")
        self.proc = subprocess.Popen(
            ["cargo", "lambda", "watch", "--invoke-address", "127.0.0.1", "--invoke-port", str(port),
             "--env-file", str(env_file), "--package", package],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port(port)

    def lines(self) -> list[dict]:
        out = []
        for line in self.log_path.read_text().splitlines():
            line = line[line.find("{"):] if "{" in line else ""
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=10)
        self.log.close()


def forge(token: str, other: str) -> str:
    """Bob's claims under alice's header and signature: a tampered token."""
    header, _, signature = token.split(".")
    return ".".join([header, other.split(".")[1], signature])


def wait_for_port(port: int, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"demo: cargo lambda watch did not listen on {port}")


def invoke(port: int, event: dict, workdir: Path, function: str = "authorizer") -> tuple[bool, object]:
    """(ok, answer JSON) or (False, error text)."""
    path = workdir / "event.json"
    path.write_text(json.dumps(event))
    out = subprocess.run(
        ["cargo", "lambda", "invoke", function, "--invoke-address", "127.0.0.1",
         "--invoke-port", str(port), "--data-file", str(path), "--output-format", "json"],
        capture_output=True, text=True, cwd=ROOT, timeout=INVOKE_TIMEOUT)
    if out.returncode == 0:
        return True, json.loads(out.stdout)
    return False, (out.stderr.strip().splitlines() or ["error"])[0]


def event(file: str, token: str, user_id: str) -> dict:
    text = (ROOT / "events" / file).read_text()
    return json.loads(text.replace("${TOKEN}", token).replace("${USER_ID}", user_id))


def wildcard(pattern: str, text: str) -> bool:
    parts = pattern.split("*")
    if len(parts) == 1:
        return pattern == text
    if not text.startswith(parts[0]):
        return False
    pos = len(parts[0])
    for piece in parts[1:-1]:
        at = text.find(piece, pos)
        if at < 0:
            return False
        pos = at + len(piece)
    return len(text) - pos >= len(parts[-1]) and text.endswith(parts[-1])


def verdict(ok: bool, answer, arn: str) -> str:
    if not ok:
        return "401 Unauthorized" if "Unauthorized" in str(answer) else f"error: {answer}"
    if "isAuthorized" in answer:
        return "200 (isAuthorized)" if answer["isAuthorized"] else "403 (isAuthorized: false)"
    statements = answer["policyDocument"]["Statement"]
    if any(s["Effect"] == "Deny" for s in statements):
        return "403 (explicit Deny)"
    allowed = any(wildcard(r, arn) for s in statements if s["Effect"] == "Allow" for r in s["Resource"])
    return "200 (Allow)" if allowed else "403 (not in policy)"


def show_rule(port: int, workdir: Path, alice: dict, bob: dict) -> list[str]:
    """GET /reports/q3 through every kind for alice (in the group) and bob (not)."""
    print(f"   rule {json.dumps(RULES[0])}:")
    failures = []
    for label, file in KINDS[:2] + KINDS[3:]:
        results = []
        for user in (alice, bob):
            e = event(file, user["access_token"], user["sub"])
            field = "routeArn" if "routeArn" in e else "methodArn"
            e[field] = "/".join(e[field].split("/")[:2]) + "/GET/reports/q3"
            results.append(verdict(*invoke(port, e, workdir), e[field]))
        print(f"   {label:<20} alice -> GET /reports/q3: {results[0]:<20} bob -> GET /reports/q3: {results[1]}")
        if not results[0].startswith("200") or results[1].startswith("200"):
            failures.append(f"the group rule on {label}")
    return failures


def env_of(file: Path) -> dict:
    """The KEY=VALUE lines of an env file (a value in single quotes is taken literally)."""
    pairs = (line.split("=", 1) for line in file.read_text().splitlines() if "=" in line)
    return {k: v[1:-1] if len(v) > 1 and v[0] == v[-1] == "'" else v for k, v in pairs}


def revocation_demo(port: int, pool: dict, env_file: Path, workdir: Path) -> list[str]:
    """Signs alice out with authorizer-admin (a REVOKED#{iss}#sub#{sub} item) and shows her
    token refused within REVOCATION_CACHE_SECONDS, bob's still allowed. Returns failures."""
    alice, bob = pool["users"]
    cache_seconds = 2
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    admin = target / "debug" / "authorizer-admin"
    env_rev = workdir / "lambda-revocation.env"
    env_rev.write_text(env_file.read_text() + f"REVOCATION=on\nREVOCATION_CACHE_SECONDS={cache_seconds}\n")
    print(f"== sign-out: a new container with REVOCATION=on, REVOCATION_CACHE_SECONDS={cache_seconds}")

    def call(user: dict) -> str:
        own = event(KINDS[0][1], user["access_token"], user["sub"])
        return verdict(*invoke(port, own, workdir), own["methodArn"])

    watch = Watch(port, env_rev, workdir / "watch-4.log")
    try:
        before = call(alice), call(bob)
        print(f"   REST TOKEN before: alice {before[0]}, bob {before[1]}")
        print(f"   $ authorizer-admin revoke --subject {alice['sub']}")
        out = subprocess.run([str(admin), "revoke", "--subject", alice["sub"]], capture_output=True,
                             text=True, timeout=60, env={**os.environ, **env_of(env_rev)})
        revoked_at = time.time()
        print("   " + (out.stdout.strip() or out.stderr.strip()))
        print(f"   REST TOKEN right after: alice {call(alice)} (a lookup cached before the sign-out may serve"
              f" until {cache_seconds} s after it)")
        time.sleep(max(0.0, revoked_at + cache_seconds - time.time()))
        after = call(alice), call(bob)
        print(f"   REST TOKEN {cache_seconds} s after: alice {after[0]}, bob {after[1]}")
        lines = watch.lines()
    finally:
        watch.stop()
    refused = [l for l in lines if l.get("message") == "decision" and l.get("reason") == "revoked"]
    if refused:
        print("   " + json.dumps(refused[-1]))
    emf = [l for l in lines if "_aws" in l]
    print(f"   metrics: RevocationLookups={sum(l.get('RevocationLookups', 0) for l in emf)},"
          f" RevokedTokens={sum(l.get('RevokedTokens', 0) for l in emf)},"
          f" RevocationErrors={sum(l.get('RevocationErrors', 0) for l in emf)}")
    failures = []
    if out.returncode != 0 or not out.stdout.startswith("revoked: "):
        failures.append("authorizer-admin revoke should write the subject item")
    if not before[0].startswith("200") or not before[1].startswith("200"):
        failures.append("alice and bob should be allowed before the sign-out")
    if after[0] != "401 Unauthorized" or not refused:
        failures.append(f"alice's token should be refused (revoked) {cache_seconds} s after her sign-out")
    if not after[1].startswith("200"):
        failures.append("bob's token should still be allowed")
    if not failures:
        print(f"   alice signed out: her token refused everywhere within {cache_seconds} s; bob unaffected")
    return failures


def tenant_demo(port: int, moto: str, pool: dict, env_file: Path, workdir: Path) -> list[str]:
    """Registers a second user pool as tenant `globex` with authorizer-admin while a
    container runs, then disables it. Returns failures."""
    cache_seconds = 2
    other = cognito(moto, "carol", group=None)
    carol, alice = other["users"][0], pool["users"][0]
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    admin = target / "debug" / "authorizer-admin"
    env_tenants = workdir / "lambda-tenants.env"
    env_tenants.write_text(env_file.read_text().replace(
        "POLICY_RESOURCES=GET/hello/{sub},$connect", "POLICY_RESOURCES=GET/hello/{sub},GET/tenants/{tenant}/*,$connect")
        + "TENANT_REGISTRY=on\nTENANT_ISSUER_PATTERN=https://cognito-idp.*.amazonaws.com/*\n"
        + f"TENANT_CACHE_SECONDS={cache_seconds}\n")
    print(f"== a second tenant: user pool {other['pool_id']} (carol), registered at runtime;"
          f" a new container with TENANT_REGISTRY=on, TENANT_CACHE_SECONDS={cache_seconds}")

    def call(user: dict, path: str = "hello") -> tuple[str, dict]:
        request = event(KINDS[1][1], user["access_token"], user["sub"])
        arn = request["methodArn"]
        if path != "hello":
            arn = arn.replace(f"/GET/hello/{user['sub']}", f"/GET/{path}")
        ok, answer = invoke(port, request, workdir)
        context = answer.get("context", {}) if ok and isinstance(answer, dict) else {}
        return verdict(ok, answer, arn), context

    def admin_run(*args: str) -> subprocess.CompletedProcess:
        print("   $ authorizer-admin " + " ".join(args))
        out = subprocess.run([str(admin), *args], capture_output=True, text=True, timeout=60,
                             env={**os.environ, **env_of(env_tenants)})
        print("   " + (out.stdout.strip() or out.stderr.strip()).splitlines()[0][:160])
        return out

    watch = Watch(port, env_tenants, workdir / "watch-5.log")
    try:
        before, _ = call(carol)
        print(f"   REST REQUEST, carol before registration: {before}")
        added = admin_run("issuers", "add", "--issuer", other["issuer"], "--audience", other["client_id"],
                          "--tenant", "globex", "--cognito-user-pool-id", other["pool_id"],
                          "--jwks-url", other["jwks_url"])
        time.sleep(cache_seconds)  # the refusal above is remembered for TENANT_CACHE_SECONDS
        registered, context = call(carol)
        own_tenant, _ = call(carol, "tenants/globex/invoices")
        print(f"   carol -> own /hello: {registered}, context tenant={context.get('tenant')};"
              f" carol -> /tenants/globex/invoices: {own_tenant}")
        disabled_out = admin_run("issuers", "disable", "--issuer", other["issuer"])
        time.sleep(cache_seconds)
        disabled, _ = call(carol)
        still, _ = call(alice)
        print(f"   {cache_seconds} s after: carol {disabled}; alice (the configured pool) {still}")
        lines = watch.lines()
    finally:
        watch.stop()
    reasons = [l.get("reason") for l in lines if l.get("message") == "decision"]
    print(f"   decisions' reasons: {', '.join(reasons)}")
    failures = []
    if before != "401 Unauthorized" or "unknown_issuer" not in reasons:
        failures.append("an unregistered pool's token should be refused (unknown_issuer)")
    if added.returncode != 0 or disabled_out.returncode != 0:
        failures.append("authorizer-admin issuers add/disable should succeed")
    if not registered.startswith("200") or context.get("tenant") != "globex" or not own_tenant.startswith("200"):
        failures.append("the registered tenant should be allowed with tenant=globex and its {tenant} route")
    if disabled != "401 Unauthorized" or "issuer_disabled" not in reasons:
        failures.append(f"the disabled tenant should be refused within {cache_seconds} s")
    if not still.startswith("200"):
        failures.append("the configured pool should be unaffected")
    if not failures:
        print("   tenant globex added and disabled without a redeploy; the configured pool unaffected")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--moto", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    pool = cognito(args.moto)
    alice, bob = pool["users"]
    print(f"== user pool {pool['pool_id']}, app client {pool['client_id']}")
    print(f"   alice sub={alice['sub']} (group {GROUP})  bob sub={bob['sub']}")

    workdir = Path(tempfile.mkdtemp(prefix="authorizer-demo-"))
    create_table(args.moto)
    print(f"== keys table {TABLE} (PK, TTL on expires_at) in moto's DynamoDB")
    env_file = workdir / "lambda.env"
    env_file.write_text("\n".join([
        f"COGNITO_USER_POOL_ID={pool['pool_id']}",
        f"JWKS_URL={pool['jwks_url']}",
        f"JWT_AUDIENCE={pool['client_id']}",
        "POLICY_RESOURCES=GET/hello/{sub},$connect",
        f"POLICY_RULES='{json.dumps(RULES, separators=(',', ':'))}'",
        f"KEYS_TABLE_NAME={TABLE}",
        f"AWS_ENDPOINT_URL={args.moto}",
        "AWS_REGION=us-east-1",
        "AWS_ACCESS_KEY_ID=testing",
        "AWS_SECRET_ACCESS_KEY=testing",
    ]) + "\n")
    failures = []

    print("== cold start 1: cargo lambda watch (Lambda Runtime API emulator on 127.0.0.1)")
    watch = Watch(args.port, env_file, workdir / "watch-1.log")
    try:
        forged = forge(alice["access_token"], bob["access_token"])
        print()
        print(f"{'API Gateway kind':<20} {'alice -> own /hello':<22} {'alice -> bob /hello':<26} {'forged token':<26}")
        for label, file in KINDS:
            own = event(file, alice["access_token"], alice["sub"])
            other = event(file, alice["access_token"], bob["sub"])
            bad = event(file, forged, alice["sub"])
            own_arn = own.get("routeArn") or own["methodArn"]
            stage_prefix = "/".join(own_arn.split("/")[:2])
            other_arn = f"{stage_prefix}/GET/hello/{bob['sub']}"
            results = [
                verdict(*invoke(args.port, own, workdir), own_arn),
                verdict(*invoke(args.port, other, workdir), other_arn),
                verdict(*invoke(args.port, bad, workdir), own_arn),
            ]
            print(f"{label:<20} {results[0]:<22} {results[1]:<26} {results[2]:<26}")
            # Per-user templates: the HTTP API answers with IAM (HTTP_API_RESPONSE auto), and
            # never uses DENY_MODE, so a forged token gets the explicit Deny.
            expected_bad = "403 (explicit Deny)" if label == "HTTP API 2.0" else "401 Unauthorized"
            if not results[0].startswith("200") or results[1].startswith("200") or results[2] != expected_bad:
                failures.append(label)
        print()
        lines = watch.lines()
    finally:
        watch.stop()
    decisions = [l for l in lines if l.get("message") == "decision"]
    print(f"   {len(decisions)} decisions logged as JSON, e.g.:")
    if decisions:
        print("   " + json.dumps(decisions[-1]))
    loaded = [l for l in lines if l.get("message") == "keys loaded"]
    item = stored_item(args.moto, pool["jwks_url"])
    print(f"   keys loaded from: {', '.join(l.get('tier', '?') for l in loaded) or 'nothing'}"
          f"; table item written: {'yes, fetched_at=' + item['fetched_at']['N'] if item else 'no'}")
    if not loaded or loaded[0].get("tier") != "jwks" or not item:
        failures.append("cold start 1 should load from the JWKS and write the table")

    print("== cold start 2: a new container")
    watch = Watch(args.port, env_file, workdir / "watch-2.log")
    try:
        own = event(KINDS[0][1], alice["access_token"], alice["sub"])
        second = verdict(*invoke(args.port, own, workdir), own["methodArn"])
        failures += show_rule(args.port, workdir, alice, bob)
        lines = watch.lines()
    finally:
        watch.stop()
    loaded = [l for l in lines if l.get("message") == "keys loaded"]
    emf = next((l for l in lines if "_aws" in l), {})
    print(f"   REST TOKEN: {second}; keys loaded from: {', '.join(l.get('tier', '?') for l in loaded)}"
          f"; JWKS requests: {emf.get('JwksFetches')}, table reads: {emf.get('TableReads')}")
    print("   its metrics line (CloudWatch EMF): " + json.dumps({k: v for k, v in emf.items() if k != "_aws"}))
    if not second.startswith("200") or not loaded or loaded[0].get("tier") != "dynamodb" or emf.get("JwksFetches") != 0:
        failures.append("cold start 2 should be served from the table with no JWKS request")

    print("== the refresher, on its scheduled event (events/refresher-schedule.json)")
    watch = Watch(args.port, env_file, workdir / "watch-3.log", package="refresher")
    try:
        time.sleep(1)  # a strictly newer fetched_at than the write-through
        ok, summary = invoke(args.port, json.loads((ROOT / "events/refresher-schedule.json").read_text()), workdir, "refresher")
    finally:
        watch.stop()
    print("   " + (json.dumps(summary) if ok else f"failed: {summary}"))
    if not ok or not summary.get("refreshed"):
        failures.append("the refresher should store the keys")

    failures += revocation_demo(args.port, pool, env_file, workdir)
    failures += tenant_demo(args.port, args.moto, pool, env_file, workdir)

    if failures:
        print("demo: unexpected: " + "; ".join(failures) + f" (logs in {workdir})", file=sys.stderr)
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    print("== demo OK: every kind allowed alice's own path, refused bob's and the forged token;"
          " the second cold start used the table; the refresher stored the keys; a sign-out and a"
          " tenant added and disabled at runtime took effect within their cache times")
    return 0


if __name__ == "__main__":
    sys.exit(main())
