#!/usr/bin/env bash
# The DPoP interop test (docs/dpop.md): a certified OpenID Provider (oidc-provider) on
# 127.0.0.1 issues a DPoP-bound JWT access token to a certified client library
# (oauth4webapi) holding its own key; the proofs that library makes are judged by the
# authorizer (examples/dpop_interop.rs, one process, events from events/), and every
# accepted proof by jose as well. Allowed with a fresh proof; refused replayed, with
# another key, method or URL, as Bearer, without a proof. Packages pinned in
# tests/dpop_interop/package-lock.json, installed with `npm ci` when the lock changes.
#
# Usage: scripts/dpop-interop.sh. Needs cargo, node >= 20.19 with npm.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/tools.sh
source scripts/lib/tools.sh
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "dpop interop: $tool is required" >&2; exit 1; }
done

dir=tests/dpop_interop
npm_ci_locked "$dir"

cargo build --quiet --locked --example dpop_interop
target_dir="${CARGO_TARGET_DIR:-target}"
# oidc-provider's warnings about the development-only in-memory adapter and the Node
# release go to stderr; the verdicts to stdout.
node "$dir/interop.mjs" "$target_dir/debug/examples/dpop_interop"
