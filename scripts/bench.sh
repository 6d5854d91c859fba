#!/usr/bin/env bash
# Warm-decision benchmark with its floor, measured side by side in one run:
#   1. `openssl speed rsa2048`: one RSA-2048 verify, the physical floor;
#   2. criterion: a whole warm REST TOKEN decision and a bare aws-lc-rs verify of the same token;
#   3. openssl again (the machine is shared: both ends bracket the run);
# then prints each as a ratio to the floor. Usage: scripts/bench.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."

quick=""
[[ ${1:-} == --quick ]] && quick=1

floor_ns() {
  # -mr prints "+F2:<n>:<bits>:<sign/s>:<verify/s>" for RSA.
  local seconds=$1 line
  line=$(openssl speed -seconds "$seconds" -mr rsa2048 2>/dev/null | grep '^+F2:') || return 1
  python3 -c 'import sys; print(1e9 / float(sys.argv[1].split(":")[4]))' "$line"
}

if [[ -n $quick ]]; then
  echo "== quick mode: each benchmark runs once; the numbers mean nothing"
  cargo bench --quiet --bench decision -- --test
  floor_ns 1 >/dev/null
  exit 0
fi

before=$(floor_ns 3)
cargo bench --quiet --bench decision -- --noplot 2>&1 | grep -E "^rs256|time:|ratio" || true
after=$(floor_ns 3)
python3 - "$before" "$after" <<'PY'
import json, os, sys
before, after = map(float, sys.argv[1:3])
floor = (before + after) / 2
target = os.environ.get("CARGO_TARGET_DIR", "target")
def mean(name):
    with open(f"{target}/criterion/rs256/{name}/new/estimates.json") as f:
        return json.load(f)["mean"]["point_estimate"]
decision, bare = mean("warm_token_decision"), mean("bare_signature_verify")
print()
print(f"{'measure':<42}{'ns':>10}{'x openssl floor':>18}")
print(f"{'openssl speed rsa2048 verify (floor)':<42}{floor:>10.0f}{1:>18.2f}   (before {before:.0f}, after {after:.0f})")
print(f"{'bare aws-lc-rs RS256 verify':<42}{bare:>10.0f}{bare / floor:>18.2f}")
print(f"{'whole warm TOKEN decision':<42}{decision:>10.0f}{decision / floor:>18.2f}   (x bare verify {decision / bare:.2f})")
PY
