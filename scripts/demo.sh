#!/usr/bin/env bash
# The local demo, end to end, on a fresh machine: installs what is missing (pinned, into
# .venv/), starts moto_server on 127.0.0.1 as a local Cognito and DynamoDB, creates a user
# pool, an app client, two users and the keys table, gets real access tokens, runs the
# Lambdas under `cargo lambda watch`, and shows: for every API Gateway kind, Allow for
# alice's own /hello/{id}, no access to bob's, and a denial for a forged token; a first
# cold start filling the table from the JWKS, a second one served from the table with no
# JWKS request, the refresher run, a sign-out with `authorizer-admin revoke` refusing
# alice's token within REVOCATION_CACHE_SECONDS, and a second tenant (another user pool)
# registered with `authorizer-admin issuers add`, then disabled, without a redeploy.
# Stops what it started (see scripts/demo.py).
# Then DPoP (docs/dpop.md): a local OpenID Provider (oidc-provider) issues a DPoP-bound
# token to a client library (oauth4webapi) holding its own key, and the authorizer allows
# the client's fresh proofs and refuses the replayed, stolen-token and wrong-URL rows
# (scripts/dpop-interop.sh, which checks its own answers).
# Usage: scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/tools.sh
source scripts/lib/tools.sh

ensure_python_tools
echo "== building the Lambdas"
cargo build --quiet --workspace --bins
echo "== starting moto_server (local Cognito and DynamoDB) on 127.0.0.1"
start_moto MOTO_URL
python scripts/demo.py --moto "$MOTO_URL" --port "$(free_port)"
echo "== DPoP: a DPoP-bound token from a local OpenID Provider; allowed, replayed, stolen"
scripts/dpop-interop.sh
