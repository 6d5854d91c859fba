#!/usr/bin/env bash
# Every benchmark, side by side in one run, printed as one table (scripts/bench_report.py):
#   warm      criterion: whole warm REST TOKEN decision (RS256, ES256), repeated token,
#             bare aws-lc-rs verify; `openssl speed` rsa2048/ecdsap256 floors bracketing it
#   lambda    cold start per key tier and footprint (scripts/bench_lambda.py, moto on loopback,
#             plain HTTP, full core)
#   coldstart cold start as Lambda runs it (scripts/bench_coldstart.py): TLS to the table and
#             the JWKS, the CPU share of 128/256/512/1,769 MB, on-CPU ms, chart; the peer
#             lmammino/oidc-authorizer too when PEER_OIDC_AUTHORIZER names its binary
#   size      arm64 bootstrap from `cargo lambda build --release --arm64`, and its zip
#   peers     the shared peer harness with this verifier added (scripts/bench_peers.sh)
# Figures land in target/bench/*.json. --quick runs everything once (numbers meaningless),
# so CI keeps the scripts working; it skips the arm64 build.
# Usage: [PEER_OIDC_AUTHORIZER=path/to/bootstrap] scripts/bench.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/tools.sh
source scripts/lib/tools.sh

quick=""
[[ ${1:-} == --quick ]] && quick=1
OUT=target/bench
mkdir -p "$OUT"
ensure_python_tools

floor() {  # floor NAME SECONDS -> ns per verify from openssl speed -mr (field 5: verify/s)
  openssl speed -seconds "$2" -mr "$1" 2>/dev/null | awk -F: '/^\+F[24]:/ {printf "%.1f\n", 1e9 / $5; exit}'
}

echo "== building (release)"
cargo build --quiet --release --workspace --bins

echo "== warm decision"
secs=3; [[ -n $quick ]] && secs=1
rsa_before=$(floor rsa2048 $secs); ec_before=$(floor ecdsap256 $secs)
if [[ -n $quick ]]; then
  cargo bench --quiet --bench decision -- --test
else
  cargo bench --quiet --bench decision -- --noplot 2>&1 | grep -E "x bare verify" || true
fi
rsa_after=$(floor rsa2048 $secs); ec_after=$(floor ecdsap256 $secs)
python3 - "$rsa_before" "$rsa_after" "$ec_before" "$ec_after" "$quick" > "$OUT/warm.json" <<'PY'
import json, os, sys
rb, ra, eb, ea = map(float, sys.argv[1:5])
quick = sys.argv[5] if len(sys.argv) > 5 else ""
target = os.environ.get("CARGO_TARGET_DIR", "target")
def mean(group, name):
    try:
        with open(f"{target}/criterion/{group}/{name}/new/estimates.json") as f:
            return json.load(f)["mean"]["point_estimate"]
    except OSError:
        return None
out = {"quick": bool(quick), "floors": {"rs256": (rb + ra) / 2, "es256": (eb + ea) / 2}}
for group in ("rs256", "es256"):
    out[group] = {name: (None if quick else mean(group, name))
                  for name in ("warm_decision", "repeated_token_decision", "bare_signature_verify")}
# DPoP: RS256 token + ES256 proof (memory replay); token cache off and on.
out["dpop"] = {name: (None if quick else mean("dpop", name)) for name in ("warm_decision", "repeated_token_decision")}
print(json.dumps(out, indent=2))
PY

echo "== cold start per tier, footprint"
start_moto MOTO_URL
if [[ -n $quick ]]; then
  python scripts/bench_lambda.py --moto "$MOTO_URL" --runs 1 --decisions 200 --json "$OUT/lambda.json"
else
  python scripts/bench_lambda.py --moto "$MOTO_URL" --runs 7 --decisions 10000 --json "$OUT/lambda.json"
fi

echo "== DPoP replay table: one conditional PutItem per proof (timed against moto_server, not DynamoDB)"
writes=500; [[ -n $quick ]] && writes=20
cargo run --quiet --release --example replay_write_cost -- "$MOTO_URL" "$writes" | tee "$OUT/dpop_replay.json"

echo "== cold start as Lambda runs it (TLS, CPU share of the memory size)"
if [[ -n $quick ]]; then
  python scripts/bench_coldstart.py --moto "$MOTO_URL" --quick --json "$OUT/coldstart.json" --chart "$OUT/coldstart.png"
else
  python scripts/bench_coldstart.py --moto "$MOTO_URL" --json "$OUT/coldstart.json" --chart "$OUT/coldstart.png" \
    ${PEER_OIDC_AUTHORIZER:+--peer-binary "$PEER_OIDC_AUTHORIZER"}
fi

echo "== size of the Lambda package"
if [[ -n $quick ]]; then
  echo '{"skipped": "quick mode: no arm64 build"}' > "$OUT/size.json"
else
  cargo lambda build --release --arm64 --bin authorizer --quiet
  python3 - > "$OUT/size.json" <<'PY'
import io, json, os, zipfile
path = "target/lambda/authorizer/bootstrap"
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    z.write(path, "bootstrap")
print(json.dumps({"bootstrap_bytes": os.path.getsize(path), "zip_bytes": len(buf.getvalue())}))
PY
fi

echo "== peers"
rm -rf target/bench-peers/results
if [[ -n $quick ]]; then
  scripts/bench_peers.sh --quick
else
  scripts/bench_peers.sh --alg all
fi
python3 - > "$OUT/peers.json" <<'PY'
import glob, json
records = {}
for path in sorted(glob.glob("target/bench-peers/results/*.json")):
    with open(path) as f:
        record = json.load(f)
    records[record["alg"]] = record["summary"]
print(json.dumps(records, indent=2))
PY

echo
python3 scripts/bench_report.py "$OUT"
