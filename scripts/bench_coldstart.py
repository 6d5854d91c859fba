#!/usr/bin/env python3
"""Cold start as Lambda runs it: TLS to the table and the issuer, the CPU share of a memory size.

scripts/bench_lambda.py times cold starts over plain HTTP at a full core; Lambda does
neither. Here, per run:

  * DynamoDB (moto_server) and the JWKS endpoint sit behind TLS on 127.0.0.1, with a
    certificate from a local CA that this script makes; the function trusts it through
    SSL_CERT_FILE = the system bundle plus that CA, so the whole root store is loaded, as
    on Lambda;
  * the function runs in a cgroup v1 CPU controller child whose CFS quota is the memory
    size's CPU share (1,769 MB = one vCPU, so 128 MB = 7.2 % of a core), entered before
    exec, with AWS_LAMBDA_FUNCTION_MEMORY_SIZE set to match. Without root and a writable
    /sys/fs/cgroup/cpu the cap is skipped (and the table says so);
  * a Runtime API host (scripts/lambda_host.py) times exec -> first answer of a REST
    TOKEN event, and when that answer arrives, before anything else runs in the process,
    reads its on-CPU time: the sum of the first field of /proc/PID/task/*/schedstat.

Tiers: `table` live item in the table (must make no JWKS request), `table3` three issuers
(JWT_ISSUERS), each with a live item of its own (one BatchGetItem, no JWKS request),
`jwks` empty table so the keys come from the JWKS endpoint and are written through,
`none` no KEYS_TABLE_NAME;
and, on request only, `hanging-table`: the table endpoint completes TLS and never answers
(the keys then come from the JWKS endpoint once the table's timeouts give up).
Every binary given with --binary runs every cell, interleaved run by run; --peer-binary
adds lmammino/oidc-authorizer (built by hand, see docs/benchmarks.md) on the JWKS tier.
--wrapper runs the function under another command (valgrind), uncapped (pair it with
--runs 1 and one tier: every run of every cell goes under the wrapper).

Usage: python scripts/bench_coldstart.py [--moto URL] [--binary LABEL=PATH ...]
       [--peer-binary PATH] [--runs 5] [--memory 128,256,512,1769] [--tiers table,table3,jwks,none]
       [--quick] [--json out.json] [--chart out.png] [--wrapper 'valgrind --tool=callgrind']
"""
import argparse
import asyncio
import datetime
import ipaddress
import json
import multiprocessing
import os
import re
import shlex
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lambda import AUDIENCE, ISSUER, JWKS, event, token  # noqa: E402
from lambda_host import RuntimeApi  # noqa: E402
from moto_table import FAKE_AWS, create_keys_table, dynamodb_client, keys_item_key, put_keys_item  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TABLE = "bench-coldstart-keys"
FULL_CORE_MB = 1769
MEMORY_SIZES = (128, 256, 512, FULL_CORE_MB)
TIERS = ("table", "table3", "jwks", "none")
# The `table3` tier: the first is the issuer the timed token is from.
THREE_ISSUERS = 3
CGROUP_CPU = Path("/sys/fs/cgroup/cpu")
SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
                  "/etc/ssl/cert.pem")


# ---------------------------------------------------------------------------------------
# A local CA and the TLS terminators.

def make_ca(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a 127.0.0.1/localhost server certificate (RSA 2048 both, as AWS serves),
    and a bundle = the system roots + the CA. Returns (bundle, cert chain, key)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jwt-authorizer bench CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)  # noqa: E731
    system = next((Path(p) for p in SYSTEM_BUNDLES if Path(p).exists()), None)
    bundle = directory / "bundle.pem"
    bundle.write_bytes((system.read_bytes() if system else b"") + pem(ca))
    chain, key_path = directory / "server.pem", directory / "server.key"
    chain.write_bytes(pem(leaf) + pem(ca))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    if system is None:
        print("bench_coldstart: no system CA bundle found; the root store holds only the local CA")
    return bundle, chain, key_path


def serve_tls(chain: str, key: str, backend_port: int, hits, ports) -> None:
    """In its own process (so the host's timing does not share a GIL with it): a TLS
    terminator in front of moto_server, the JWKS endpoint over TLS, counting requests, and
    a "hanging table" that completes the TLS handshake and never answers."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain, key)
    context.set_alpn_protocols(["http/1.1"])

    async def pipe(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def terminate(client_reader, client_writer):
        try:
            backend_reader, backend_writer = await asyncio.open_connection("127.0.0.1", backend_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, backend_writer), pipe(backend_reader, client_writer))

    body = JWKS.encode()
    answer = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
              + str(len(body)).encode() + b"\r\n\r\n" + body)

    async def jwks(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    break
                with hits.get_lock():
                    hits.value += 1
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def hang(reader, writer):
        try:
            while await reader.read(65536):
                pass
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def main():
        dynamo = await asyncio.start_server(terminate, "127.0.0.1", 0, ssl=context)
        issuer = await asyncio.start_server(jwks, "127.0.0.1", 0, ssl=context)
        dead = await asyncio.start_server(hang, "127.0.0.1", 0, ssl=context)
        ports.send(tuple(server.sockets[0].getsockname()[1] for server in (dynamo, issuer, dead)))
        await asyncio.Event().wait()

    asyncio.run(main())


def start_moto() -> tuple[str, subprocess.Popen]:
    """moto_server on a port the kernel picks (`-p 0`), read back from its "Running on"
    line; its stderr (one line per request) is drained by a thread."""
    proc = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = threading.Timer(30, proc.kill)  # ends the read below if it never says
    deadline.start()

    def drain() -> None:
        for _ in proc.stderr:
            pass

    for line in proc.stderr:
        found = re.search(r"Running on http://127\.0\.0\.1:(\d+)", line)
        if found:
            deadline.cancel()
            threading.Thread(target=drain, daemon=True).start()
            url = f"http://127.0.0.1:{found.group(1)}"
            for _ in range(100):
                try:
                    urllib.request.urlopen(url + "/moto-api/data.json", timeout=1)
                    return url, proc
                except urllib.error.HTTPError:
                    return url, proc
                except OSError:
                    time.sleep(0.2)
            break
    proc.kill()
    raise SystemExit("bench_coldstart: moto_server did not come up")


# ---------------------------------------------------------------------------------------
# The CPU share of a memory size.

def cpu_cap_unavailable() -> str | None:
    """Why the CFS quota cannot be applied here, or None when it can."""
    if os.geteuid() != 0:
        return "not root"
    if not (CGROUP_CPU / "cpu.cfs_quota_us").exists():
        return f"no cgroup v1 CPU controller at {CGROUP_CPU}"
    if not os.access(CGROUP_CPU, os.W_OK):
        return f"{CGROUP_CPU} is not writable"
    return None


class CpuShare:
    """A cgroup v1 child whose quota is `memory_mb`'s share of one core (1,769 MB = 1 vCPU)."""

    count = 0

    def __init__(self, memory_mb: int):
        CpuShare.count += 1
        self.path = CGROUP_CPU / f"bench-coldstart-{os.getpid()}-{CpuShare.count}-{memory_mb}mb"
        self.path.mkdir(exist_ok=True)
        period = int((CGROUP_CPU / "cpu.cfs_period_us").read_text())
        (self.path / "cpu.cfs_period_us").write_text(str(period))
        self.quota_us = max(1000, period * memory_mb // FULL_CORE_MB)
        (self.path / "cpu.cfs_quota_us").write_text(str(self.quota_us))
        self.period_us = period

    @property
    def tasks(self) -> str:
        """The file a process writes its pid to, to enter this cgroup."""
        return str(self.path / "tasks")

    def close(self) -> None:
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.02)


# The function's parent: enters the cgroup (when given one), writes its own schedstat and
# stat lines (CPU time and page faults so far), and execs the function in its own task
# with stdout to /dev/null.
LAUNCHER = r"""
tasks=$1; shift
[ -n "$tasks" ] && echo $$ > "$tasks"
read -r schedstat < /proc/$$/schedstat
read -r stat < /proc/$$/stat
echo "$schedstat|$stat"
exec "$@" > /dev/null
"""


def at_exec(line: bytes) -> tuple[float, int]:
    """On-CPU ms and page faults of the launcher right before it execs the function."""
    schedstat, stat = line.decode().split("|", 1)
    fields = stat.rsplit(")", 1)[1].split()
    return int(schedstat.split()[0]) / 1e6, int(fields[7]) + int(fields[9])


def page_faults(pid: int) -> int:
    """Minor + major page faults of the process so far (/proc/PID/stat fields 10 and 12)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[7]) + int(fields[9])
    except (OSError, ValueError, IndexError):
        return -1


def on_cpu_ms(pid: int) -> float:
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return float("nan")
    for tid in tasks:
        try:
            total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e6


# ---------------------------------------------------------------------------------------
# One cold start.

class ColdStart:
    def __init__(self, args, urls, hits, bundle):
        self.args, self.urls, self.hits, self.bundle = args, urls, hits, bundle
        self.first = event(token(0))

    def env(self, kind: str, tier: str, memory_mb: int) -> dict:
        base = {"PATH": os.environ.get("PATH", ""), "SSL_CERT_FILE": str(self.bundle),
                "AWS_LAMBDA_FUNCTION_NAME": "authorizer", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                # Shares below Lambda's smallest size (--memory 64,32,16: how far from the
                # edge a cold start is) are told 128 MB, the least Lambda accepts.
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(max(memory_mb or FULL_CORE_MB, 128)),
                **FAKE_AWS}
        if kind == "peer":
            return {**base, "JWKS_URI": self.urls["jwks"], "ACCEPTED_ISSUERS": ISSUER,
                    "ACCEPTED_AUDIENCES": AUDIENCE, "ACCEPTED_ALGORITHMS": "RS256",
                    "PRINCIPAL_ID_CLAIMS": "sub"}
        env = {**base, "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE, "JWKS_URL": self.urls["jwks"],
               "POLICY_RESOURCES": "GET/hello/{sub}",
               "AWS_ENDPOINT_URL": self.urls["hang" if tier == "hanging-table" else "dynamodb"]}
        if tier == "table3":
            for name in ("JWT_ISSUER", "JWT_AUDIENCE", "JWKS_URL"):
                del env[name]
            env["JWT_ISSUERS"] = json.dumps([
                {"issuer": issuer, "jwks_url": url, "audience": [AUDIENCE]}
                for issuer, url in three_issuers(self.urls["jwks"])])
        if tier != "none":
            env["KEYS_TABLE_NAME"] = TABLE
        return env

    def run(self, binary: str, kind: str, tier: str, memory_mb: int, share: "CpuShare | None") -> dict:
        hits_before = self.hits.value
        pid: list[int] = []
        cpu: list[float] = []
        faults: list[int] = []
        ready = threading.Event()

        arrived: list[float] = []

        def on_answer(_request_id):
            arrived.append(time.perf_counter())
            ready.wait(5)
            if pid:
                cpu.append(on_cpu_ms(pid[0]))
                faults.append(page_faults(pid[0]))

        runtime = RuntimeApi(on_answer=on_answer)
        env = {**self.env(kind, tier, memory_mb), "AWS_LAMBDA_RUNTIME_API": runtime.address}
        command = shlex.split(self.args.wrapper) + [binary] if self.args.wrapper else [binary]
        # A small shell is the function's parent, as Lambda's init is: it enters the
        # cgroup, reports its own CPU time and page faults, then execs the function in its
        # place (same task). What the function costs is counted from that report on: the
        # fork of this (large) Python process, and the exec tearing its copy down, are not
        # the function's cold start (with vfork, no preexec_fn, neither happens here).
        proc = subprocess.Popen(["/bin/sh", "-c", LAUNCHER, "launcher", share.tasks if share else "", *command],
                                env=env, stdout=subprocess.PIPE,
                                stderr=None if self.args.verbose else subprocess.DEVNULL)
        baseline = proc.stdout.readline()
        started = time.perf_counter()
        proc.stdout.close()
        pid.append(proc.pid)
        ready.set()
        base_cpu, base_faults = at_exec(baseline)
        try:
            answer = runtime.invoke(self.first, timeout=120 if self.args.wrapper else 30)
            answer_kind, body = answer.kind, answer.body
            elapsed = (arrived[0] if arrived else time.perf_counter()) - started
        finally:
            if self.args.wrapper:
                proc.terminate()  # valgrind writes its profile on SIGTERM
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            else:
                proc.kill()
            proc.wait()
            runtime.close()
        if answer_kind != "response" or b'"Allow"' not in body:
            raise SystemExit(f"bench_coldstart: {binary} ({tier}) answered {answer_kind}: {body[:300]!r}")
        return {"wall_ms": elapsed * 1000, "cpu_ms": cpu[0] - base_cpu if cpu else float("nan"),
                "page_faults": faults[0] - base_faults if faults else -1,
                "jwks_requests": self.hits.value - hits_before}


def summary(runs: list[dict]) -> dict:
    walls = [r["wall_ms"] for r in runs]
    cpus = [r["cpu_ms"] for r in runs]
    return {"runs": len(runs), "wall_median_ms": statistics.median(walls), "wall_min_ms": min(walls),
            "wall_max_ms": max(walls), "cpu_median_ms": statistics.median(cpus), "cpu_min_ms": min(cpus),
            "cpu_max_ms": max(cpus), "page_faults_median": statistics.median(r["page_faults"] for r in runs),
            "jwks_requests": sum(r["jwks_requests"] for r in runs),
            "runs_with_jwks_requests": sum(1 for r in runs if r["jwks_requests"]), "samples": runs}


def chart(path: Path, cells: list[dict], capped: bool) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({c["memory_mb"] for c in cells})
    fig, (wall_ax, cpu_ax) = plt.subplots(1, 2, figsize=(12, 5))
    for (label, tier) in dict.fromkeys((c["binary"], c["tier"]) for c in cells):
        series = sorted((c for c in cells if c["binary"] == label and c["tier"] == tier), key=lambda c: c["memory_mb"])
        xs = [sizes.index(c["memory_mb"]) for c in series]
        med = [c["wall_median_ms"] for c in series]
        err = [[m - c["wall_min_ms"] for m, c in zip(med, series)], [c["wall_max_ms"] - m for m, c in zip(med, series)]]
        style = "--" if label.startswith("peer") else "-"
        wall_ax.errorbar(xs, med, yerr=err, fmt="o" + style, capsize=3, label=f"{label}: {tier}")
        cpu_ax.plot(xs, [c["cpu_median_ms"] for c in series], "o" + style, label=f"{label}: {tier}")
    for ax, title in ((wall_ax, "exec -> first answer, wall (median, min-max)"),
                      (cpu_ax, "on-CPU time to the first answer (median)")):
        ax.set_xticks(range(len(sizes)), [f"{s} MB" for s in sizes])
        ax.set_yscale("log")
        ax.set_ylabel("ms (log scale)")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    wall_ax.legend(fontsize=8)
    fig.suptitle("Cold start by Lambda memory size (TLS to DynamoDB and the JWKS endpoint"
                 + (", CPU share of the memory size)" if capped else "; CPU NOT capped)"), fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moto", help="moto_server URL (default: start one)")
    parser.add_argument("--binary", action="append", default=[], metavar="LABEL=PATH",
                        help="a build of the authorizer (repeatable; default ours=target/release/authorizer)")
    parser.add_argument("--peer-binary", help="lmammino/oidc-authorizer release binary (JWKS tier only)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--memory", default=",".join(map(str, MEMORY_SIZES)),
                        help="comma list of memory sizes in MB; 0 = no CPU cap")
    parser.add_argument("--tiers", default=",".join(TIERS))
    parser.add_argument("--quick", action="store_true", help="1 run at 128 and 1,769 MB (CI)")
    parser.add_argument("--wrapper", help="command the function runs under, e.g. valgrind (implies no cap)")
    parser.add_argument("--json")
    parser.add_argument("--chart")
    parser.add_argument("--verbose", action="store_true", help="show the functions' stderr")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.memory = 1, f"128,{FULL_CORE_MB}"
    sizes = [int(m) for m in args.memory.split(",")]
    tiers = args.tiers.split(",")
    binaries = [tuple(b.split("=", 1)) if "=" in b else ("ours", b) for b in args.binary] \
        or [("ours", str(ROOT / "target/release/authorizer"))]
    for _, path in binaries + ([("peer", args.peer_binary)] if args.peer_binary else []):
        if not os.access(path, os.X_OK):
            raise SystemExit(f"bench_coldstart: {path} is not an executable (build it first)")
    why_not = cpu_cap_unavailable()
    if why_not and any(sizes):
        print(f"bench_coldstart: CPU share NOT applied ({why_not}); every cell runs at a full core")
    if args.wrapper:
        sizes = [0]

    moto_proc = None
    moto = args.moto
    if not moto:
        moto, moto_proc = start_moto()
    workdir = Path(tempfile.mkdtemp(prefix="bench-coldstart-"))
    bundle, chain, key = make_ca(workdir)
    hits = multiprocessing.Value("i", 0)
    receive, send = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.Process(target=serve_tls, daemon=True,
                                     args=(str(chain), str(key), int(moto.rsplit(":", 1)[1]), hits, send))
    server.start()
    send.close()  # the child's copy is the one left: its death ends the wait below
    if not receive.poll(30):
        server.terminate()
        raise SystemExit("bench_coldstart: the TLS terminators did not start within 30 s")
    try:
        dynamo_port, jwks_port, hang_port = receive.recv()
    except EOFError:
        raise SystemExit("bench_coldstart: the TLS terminators exited before they started") from None
    urls = {"dynamodb": f"https://127.0.0.1:{dynamo_port}",
            "jwks": f"https://127.0.0.1:{jwks_port}/.well-known/jwks.json",
            "hang": f"https://127.0.0.1:{hang_port}"}
    try:
        cells = measure(args, urls, hits, bundle, moto, sizes, tiers, binaries, why_not)
    finally:
        server.terminate()
        server.join()
        if moto_proc:
            moto_proc.kill()
            moto_proc.wait()
        for f in workdir.iterdir():
            f.unlink()
        workdir.rmdir()

    capped = not why_not and not args.wrapper
    print_table(cells, capped)
    report = {"capped": capped, "cap_skipped_because": why_not, "runs": args.runs,
              "machine": machine(), "cells": cells}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    if args.chart:
        chart(Path(args.chart), cells, capped)
        print(f"chart: {args.chart}")


def three_issuers(jwks_url: str) -> list[tuple[str, str]]:
    """The `table3` tier's issuers and their JWKS URLs: ISSUER first, each URL its own item."""
    return [(ISSUER if i == 1 else f"{ISSUER}/tenant-{i}", f"{jwks_url}?issuer={i}")
            for i in range(1, THREE_ISSUERS + 1)]


def measure(args, urls, hits, bundle, moto, sizes, tiers, binaries, why_not) -> list[dict]:
    dynamodb = dynamodb_client(moto)
    create_keys_table(dynamodb, TABLE)

    def prepare(tier: str) -> None:
        if tier == "table":
            put_keys_item(dynamodb, TABLE, urls["jwks"], JWKS)
        elif tier == "table3":
            for _, url in three_issuers(urls["jwks"]):
                put_keys_item(dynamodb, TABLE, url, JWKS)
        elif tier == "jwks":
            dynamodb.delete_item(TableName=TABLE, Key=keys_item_key(urls["jwks"]))

    cold = ColdStart(args, urls, hits, bundle)
    plan = [(label, path, "ours", tier) for tier in tiers for label, path in binaries]
    if args.peer_binary:
        plan.append(("peer oidc-authorizer", args.peer_binary, "peer", "jwks"))
    cells = []
    for memory_mb in sizes:
        results: dict[tuple, list] = {}
        quota = "none"
        for _ in range(args.runs):
            for label, path, kind, tier in plan:
                prepare(tier)
                # A fresh cgroup per run, as a fresh sandbox: its quota is whole at exec, not
                # drained by the run before it.
                share = CpuShare(memory_mb) if memory_mb and not why_not else None
                try:
                    results.setdefault((label, tier), []).append(cold.run(path, kind, tier, memory_mb, share))
                finally:
                    if share:
                        quota = f"{share.quota_us}/{share.period_us} us"
                        share.close()
        for (label, tier), runs in results.items():
            cells.append({"binary": label, "tier": tier, "memory_mb": memory_mb or FULL_CORE_MB,
                          "cpu_quota": quota, **summary(runs)})
    return cells


def print_table(cells: list[dict], capped: bool) -> None:
    print(f"cold start, exec -> first answer, TLS to DynamoDB and the JWKS; "
          f"{'CPU share of the memory size' if capped else 'CPU NOT capped'}")
    head = f"{'binary':<22}{'tier':<7}{'MB':>6}{'wall med':>10}{'min':>8}{'max':>8}{'CPU ms':>8}{'JWKS req':>10}"
    print(head)
    for c in cells:
        print(f"{c['binary']:<22}{c['tier']:<7}{c['memory_mb']:>6}{c['wall_median_ms']:>10.1f}{c['wall_min_ms']:>8.1f}"
              f"{c['wall_max_ms']:>8.1f}{c['cpu_median_ms']:>8.1f}{c['runs_with_jwks_requests']:>6}/{c['runs']}")
    print("(JWKS req: runs that made a JWKS request / runs)")


def machine() -> dict:
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpu": model, "kernel": os.uname().release, "cores": os.cpu_count()}


if __name__ == "__main__":
    main()
