#!/usr/bin/env bash
# Runs every test of the product: unit tests, integration tests (loopback JWKS servers,
# moto_server's Cognito and DynamoDB, the built binaries under a Lambda Runtime API
# host), the SAM
# template checks (cfn-lint, sam validate --lint and tests/*_test.py on template.yaml,
# authorizer.yaml and examples/sam/template.yaml), the CDK example's synth and cdk-nag
# (scripts/cdk-test.sh), the differential test against aws-jwt-verify and
# jsonwebtoken (scripts/differential.sh) and the DPoP interop test against oidc-provider
# and oauth4webapi (scripts/dpop-interop.sh).
# What is not a test of the product runs in .ci/run instead: formatting and clippy (a
# second, check-mode build of every dependency), every benchmark once in quick mode, the
# fuzz smoke (minutes of release builds), the soak.
#
# Installs what it needs on first use (pinned Python tools from requirements.txt into
# .venv/, aws-jwt-verify into tests/differential/node_modules/, oidc-provider and
# oauth4webapi into tests/dpop_interop/node_modules/, the CDK app's packages
# into examples/cdk/node_modules/); later runs reuse them and target/. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/tools.sh
source scripts/lib/tools.sh

ensure_python_tools

echo "== cargo test (unit, integration, end-to-end)"
cargo test --workspace --lib --bins --tests

echo "== SAM templates: cfn-lint, sam validate --lint, checks against the code"
# template.yaml (the demo stack), authorizer.yaml (the authorizer-only stack) and
# examples/sam/template.yaml (an existing API attached to it by ARN).
export SAM_CLI_TELEMETRY=0
for template in template.yaml authorizer.yaml examples/sam/template.yaml; do
  cfn-lint "$template"
  if ! out=$(sam validate --lint --region us-east-1 -t "$template" 2>&1); then
    echo "$out" >&2
    exit 1
  fi
  grep -i "valid" <<<"$out"
done
python -m unittest tests/template_test.py tests/authorizer_template_test.py tests/attach_sam_test.py

echo "== examples/cdk: cdk synth offline, the template and cdk-nag's findings checked"
scripts/cdk-test.sh

echo "== differential: this authorizer, aws-jwt-verify and jsonwebtoken on one corpus"
scripts/differential.sh

echo "== DPoP interop: oidc-provider issues, oauth4webapi proves, the authorizer judges"
scripts/dpop-interop.sh
