#!/usr/bin/env python3
"""Cold start per key tier, and footprint, of the release `authorizer` run as Lambda runs it.

A Runtime API host on 127.0.0.1 (scripts/lambda_host.py) starts the binary as a fresh
process per run and times exec -> first answer, for three cases:

  table  keys in the DynamoDB table (moto_server on loopback); must make zero JWKS requests
  jwks   empty table, JWKS endpoint on loopback delayed by 300 ms (an issuer across the internet)
  none   no table (KEYS_TABLE_NAME unset), same delayed JWKS endpoint

and one table round trip (GetItem through boto3) as the baseline. Then the footprint: one
process, a cold start plus N warm decisions over 200 distinct tokens, sampling VmRSS as it
goes and VmHWM (peak) at the end. Prints a table; --json writes the figures.

Usage: python scripts/bench_lambda.py --moto URL --binary target/release/authorizer
       [--runs 7] [--decisions 10000] [--json out.json]
"""
import argparse
import base64
import json
import os
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from lambda_host import QuietServer, RuntimeApi, rss_kib
from moto_table import aws_env, create_keys_table, dynamodb_client, keys_item_key, put_keys_item

ROOT = Path(__file__).resolve().parent.parent
JWKS = (ROOT / "tests/fixtures/keys/jwks.json").read_text()
KEY = serialization.load_pem_private_key((ROOT / "tests/fixtures/keys/rsa.pem").read_bytes(), None)
ISSUER, AUDIENCE, SUB = "https://issuer.test", "test-client", "7f3c2a10-5b1e-4c1a-9d2e-0a1b2c3d4e5f"
TABLE = "bench-keys"
ARN = f"arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/hello/{SUB}"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(n: int) -> str:
    now = int(time.time())
    header = b64(json.dumps({"alg": "RS256", "kid": "rsa-1"}).encode())
    claims = {"iss": ISSUER, "sub": SUB, "aud": AUDIENCE, "iat": now - 60, "exp": now + 3600,
              "jti": f"bench-{n}", "username": "alice"}
    payload = b64(json.dumps(claims).encode())
    signature = KEY.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{b64(signature)}"


def event(tok: str) -> bytes:
    return json.dumps({"type": "TOKEN", "authorizationToken": f"Bearer {tok}", "methodArn": ARN}).encode()


class SlowJwks:
    """A JWKS endpoint that answers after `delay` seconds and counts requests."""

    def __init__(self, delay: float):
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.hits += 1
                time.sleep(delay)
                body = JWKS.encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/.well-known/jwks.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--moto", required=True)
    parser.add_argument("--binary", default=str(ROOT / "target/release/authorizer"))
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--decisions", type=int, default=10_000)
    parser.add_argument("--json")
    args = parser.parse_args()

    dynamodb = dynamodb_client(args.moto)
    create_keys_table(dynamodb, TABLE)
    jwks = SlowJwks(0.3)
    pk = keys_item_key(jwks.url)

    def store_keys():
        put_keys_item(dynamodb, TABLE, jwks.url, JWKS)

    base_env = {"PATH": os.environ.get("PATH", ""),
                "AWS_LAMBDA_FUNCTION_NAME": "authorizer", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE,
                "JWKS_URL": jwks.url, "POLICY_RESOURCES": "GET/hello/{sub}", **aws_env(args.moto)}
    first = event(token(0))

    def cold(env: dict) -> tuple[float, int]:
        hits = jwks.hits
        runtime = RuntimeApi()
        started = time.perf_counter()
        proc = runtime.spawn(args.binary, env)
        try:
            answer = runtime.invoke(first)
            elapsed = time.perf_counter() - started
        finally:
            proc.kill()
            proc.wait()
            runtime.close()
        if answer.kind != "response" or b'"Allow"' not in answer.body:
            raise SystemExit(f"bench_lambda: unexpected answer {answer.kind}: {answer.body[:200]!r}")
        return elapsed, jwks.hits - hits

    cases = {
        "table": ({**base_env, "KEYS_TABLE_NAME": TABLE}, store_keys),
        "jwks": ({**base_env, "KEYS_TABLE_NAME": TABLE}, lambda: dynamodb.delete_item(TableName=TABLE, Key=pk)),
        "none": (base_env, lambda: None),
    }
    results = {}
    for name, (env, prepare) in cases.items():
        times, hits = [], []
        for _ in range(args.runs):
            prepare()
            t, h = cold(env)
            times.append(t)
            hits.append(h)
        results[name] = {"median_ms": statistics.median(times) * 1000, "min_ms": min(times) * 1000,
                         "max_ms": max(times) * 1000, "jwks_requests": max(hits)}

    store_keys()
    rtts = []
    for _ in range(max(args.runs * 3, 5)):
        started = time.perf_counter()
        dynamodb.get_item(TableName=TABLE, Key=pk)
        rtts.append(time.perf_counter() - started)
    rtt_ms = statistics.median(rtts) * 1000

    # Footprint: a cold start (table case) and N warm decisions over 200 distinct tokens.
    tokens = [event(token(n)) for n in range(200)]
    runtime = RuntimeApi()
    proc = runtime.spawn(args.binary, cases["table"][0])
    samples = []
    try:
        started = time.perf_counter()
        for i in range(args.decisions):
            if runtime.invoke(tokens[i % len(tokens)]).kind != "response":
                raise SystemExit("bench_lambda: a warm decision failed")
            if i % max(args.decisions // 10, 1) == 0:
                samples.append(rss_kib(proc.pid, "VmRSS"))
        warm_s = time.perf_counter() - started
        samples.append(rss_kib(proc.pid, "VmRSS"))
        peak = rss_kib(proc.pid, "VmHWM")
    finally:
        proc.kill()
        proc.wait()
        runtime.close()

    table_ms = results["table"]["median_ms"]
    report = {
        "cold_start": results,
        "table_round_trip_ms": rtt_ms,
        "table_overhead_ms": table_ms - rtt_ms,
        "ratios_to_table": {k: v["median_ms"] / table_ms for k, v in results.items()},
        "footprint": {"decisions": args.decisions, "rss_kib_samples": samples, "peak_rss_kib": peak,
                      "rss_growth_kib": samples[-1] - samples[0], "decisions_per_s_through_runtime_api": args.decisions / warm_s},
    }
    print(f"{'cold start (exec -> first answer)':<38}{'median ms':>10}{'x table':>9}{'JWKS req':>10}")
    for name, r in results.items():
        print(f"  {name:<36}{r['median_ms']:>10.1f}{r['median_ms'] / table_ms:>9.2f}{r['jwks_requests']:>10}")
    print(f"  one table round trip (boto3 GetItem) {rtt_ms:>10.1f}   -> table case adds {table_ms - rtt_ms:.1f} ms over it")
    print(f"footprint: peak RSS {peak / 1024:.1f} MiB after a cold start + {args.decisions} decisions; "
          f"RSS samples (MiB) {[round(s / 1024, 1) for s in samples]}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
