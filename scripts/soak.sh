#!/usr/bin/env bash
# The soak with faults: the release `authorizer` under a Lambda Runtime API host for at
# least 100,000 invocations of every API Gateway kind, with valid, forged, expired,
# revoked and random-kid tokens, while a schedule makes the keys table (moto_server behind
# a fault proxy) and the JWKS endpoint refuse, hang, fail and serve garbage, the issuer
# rotates its keys and users are revoked. Every answer is checked (scripts/soak/oracle.py);
# JWKS requests against the cooldown, VmRSS, latency per fault phase are reported, with a
# chart. Figures land in target/soak/ (soak.json, soak.png); exits 1 on any wrong answer
# or failed check. See docs/reliability.md.
#
# Usage: scripts/soak.sh [--quick] [--on-error allow|deny] [--per-kind N] [--seed N]
#   --quick  CI: one compressed cycle of the schedule, about 4,500 invocations, ~40 s once built
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/tools.sh
source scripts/lib/tools.sh

ensure_python_tools
echo "== building (release)"
cargo build --quiet --release --workspace --bins
start_moto MOTO_URL
echo "== soak $*"
PYTHONPATH=scripts python -m soak --moto "$MOTO_URL" "$@"
