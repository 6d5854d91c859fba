#!/usr/bin/env bash
# Runs every test of the product: formatting, lints, unit tests, integration tests
# (loopback JWKS servers, moto_server's Cognito and DynamoDB, the built binaries under a
# Lambda Runtime API host), each benchmark once in quick mode so it cannot rot, the SAM
# template checks (cfn-lint, sam validate --lint, tests/template_test.py) and the
# differential test against aws-jwt-verify and jsonwebtoken (scripts/differential.sh).
# The fuzz smoke, a test of nothing a user meets that costs minutes of release builds,
# runs in .ci/run (scripts/fuzz.sh).
#
# Installs what it needs on first use (pinned Python tools from requirements.txt into
# .venv/, aws-jwt-verify into tests/differential/node_modules/); later runs reuse them and
# target/. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/tools.sh
source scripts/lib/tools.sh

ensure_python_tools

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== cargo test (unit, integration, end-to-end, benches in quick mode)"
cargo test --workspace --all-targets

echo "== template.yaml: cfn-lint, sam validate --lint, checks against the code"
export SAM_CLI_TELEMETRY=0
cfn-lint template.yaml
if ! out=$(sam validate --lint --region us-east-1 2>&1); then
  echo "$out" >&2
  exit 1
fi
grep -i "valid" <<<"$out"
python -m unittest tests/template_test.py

echo "== differential: this authorizer, aws-jwt-verify and jsonwebtoken on one corpus"
scripts/differential.sh
