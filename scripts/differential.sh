#!/usr/bin/env bash
# The differential test (docs/reliability.md): one generated corpus of tokens (valid, and
# mutated in header, claims, encoding and signature) judged by this authorizer, by
# aws-jwt-verify (npm, pinned in tests/differential/package-lock.json) and by the
# jsonwebtoken crate (tests/differential/jsonwebtoken/, its own Cargo workspace); fails on
# any disagreement not listed, with its reason, in
# tests/differential/expected-differences.json (mirrored in docs/security.md). Then DPoP
# proofs (valid, and mutated per RFC 9449 section 4.3) judged by this authorizer and by
# jose (tests/differential/jose-dpop.mjs), where no difference at all is allowed.
#
# Usage: scripts/differential.sh [--seed N]   (the corpus is a function of the seed; 12
# by default). Needs cargo, node >= 18 with npm, python3. Output: target/differential/.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/tools.sh
source scripts/lib/tools.sh

seed=()
if [[ ${1:-} == --seed ]]; then
  seed=(--seed "${2:?--seed N}")
elif [[ $# -gt 0 ]]; then
  echo "usage: scripts/differential.sh [--seed N]" >&2
  exit 2
fi
for tool in node npm python3; do
  command -v "$tool" >/dev/null || { echo "differential: $tool is required" >&2; exit 1; }
done

out=target/differential
rm -rf "$out"
mkdir -p "$out"

echo "== differential: the corpus, judged by this authorizer"
cargo run --quiet --locked --example differential -- "$out" "${seed[@]}"

echo "== differential: aws-jwt-verify"
dir=tests/differential
npm_ci_locked "$dir"
node "$dir/aws-jwt-verify.mjs" "$out"

echo "== differential: DPoP proofs, judged by jose beside this authorizer"
node "$dir/jose-dpop.mjs" "$out"

echo "== differential: jsonwebtoken"
# Built in the project's target directory with the project's dev profile, so it reuses
# the dependencies the two workspaces share (aws-lc above all) instead of compiling them.
cargo run --quiet --locked --manifest-path "$dir/jsonwebtoken/Cargo.toml" \
  --target-dir "${CARGO_TARGET_DIR:-target}" -- "$out"

echo "== differential: compare"
python3 "$dir/compare.py" "$out"
