#!/usr/bin/env bash
# The SAM templates, offline: cfn-lint and `sam validate --lint` on template.yaml (the demo
# stack), authorizer.yaml (the authorizer-only stack) and examples/sam/template.yaml (an
# existing API attached to it by ARN), then tests/*_test.py, which check them against the
# code (least privilege, the table's policy, retention, metric names, the attach
# example's authorizers and permissions). Run by scripts/test.sh. Installs the pinned
# Python tools on first use (scripts/lib/tools.sh). Usage: scripts/sam-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/tools.sh
source scripts/lib/tools.sh

ensure_python_tools
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
