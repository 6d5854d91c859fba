#!/usr/bin/env python3
"""Drives the local demo (started by scripts/demo.sh, which provides moto_server).

Creates a Cognito user pool, app client and users alice and bob in moto, starts the
authorizer under `cargo lambda watch`, invokes it with the files in events/ for every
API Gateway kind, and prints what each caller gets. Exits 1 if any answer is not the
expected one, so the demo doubles as a smoke test.
"""
import argparse
import base64
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
KINDS = [
    ("REST TOKEN", "rest-token.json"),
    ("REST REQUEST", "rest-request.json"),
    ("WebSocket $connect", "websocket-connect.json"),
    ("HTTP API 2.0", "http-api.json"),
]


def cognito(moto: str) -> dict:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts/cognito_local.py"), "--endpoint", moto,
         "--username", "alice", "--other-username", "bob"],
        check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


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


def invoke(port: int, event: dict, workdir: Path) -> tuple[bool, object]:
    """(ok, answer JSON) or (False, error text)."""
    path = workdir / "event.json"
    path.write_text(json.dumps(event))
    out = subprocess.run(
        ["cargo", "lambda", "invoke", "authorizer", "--invoke-address", "127.0.0.1",
         "--invoke-port", str(port), "--data-file", str(path), "--output-format", "json"],
        capture_output=True, text=True, cwd=ROOT)
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--moto", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    pool = cognito(args.moto)
    alice, bob = pool["users"]
    print(f"== user pool {pool['pool_id']}, app client {pool['client_id']}")
    print(f"   alice sub={alice['sub']}  bob sub={bob['sub']}")

    workdir = Path(tempfile.mkdtemp(prefix="authorizer-demo-"))
    env_file = workdir / "authorizer.env"
    env_file.write_text("\n".join([
        f"COGNITO_USER_POOL_ID={pool['pool_id']}",
        f"JWKS_URL={pool['jwks_url']}",
        f"JWT_AUDIENCE={pool['client_id']}",
        "POLICY_RESOURCES=GET/hello/{sub},$connect",
    ]) + "\n")
    print("== cargo lambda watch (the authorizer, Lambda Runtime API emulator on 127.0.0.1)")
    log = open(workdir / "watch.log", "w")
    watch = subprocess.Popen(
        ["cargo", "lambda", "watch", "--invoke-address", "127.0.0.1", "--invoke-port", str(args.port),
         "--env-file", str(env_file), "--bin", "authorizer"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    failures = 0
    try:
        wait_for_port(args.port)
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
            expected_bad = "403 (isAuthorized: false)" if label == "HTTP API 2.0" else "401 Unauthorized"
            if not results[0].startswith("200") or results[1].startswith("200") or results[2] != expected_bad:
                failures += 1
        print()
        decisions = [json.loads(l) for l in (workdir / "watch.log").read_text().splitlines()
                     if l.startswith("{") and '"decision"' in l]
        print(f"== {len(decisions)} decisions logged as JSON, e.g.:")
        if decisions:
            print("   " + json.dumps(decisions[-1]))
    finally:
        os.killpg(watch.pid, signal.SIGTERM)
        watch.wait(timeout=10)
        log.close()
    if failures:
        print(f"demo: {failures} kind(s) answered unexpectedly; log: {workdir / 'watch.log'}", file=sys.stderr)
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    print("== demo OK: every kind allowed alice's own path, refused bob's, and rejected the forged token")
    return 0


if __name__ == "__main__":
    sys.exit(main())
