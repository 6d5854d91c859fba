#!/usr/bin/env bash
# The local demo, end to end, on a fresh machine: installs what is missing (pinned, into
# .venv/), starts moto_server on 127.0.0.1 as a local Cognito, creates a user pool, an app
# client and two users, gets real access tokens, runs the authorizer under
# `cargo lambda watch`, and shows for every API Gateway kind: Allow for alice's own
# /hello/{id}, no access to bob's, and a denial for a forged token. Stops what it started.
# Usage: scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/tools.sh
source scripts/lib/tools.sh

ensure_python_tools
echo "== building the authorizer"
cargo build --quiet --bin authorizer
echo "== starting moto_server (local Cognito) on 127.0.0.1"
start_moto MOTO_URL
python scripts/demo.py --moto "$MOTO_URL" --port "$(free_port)"
