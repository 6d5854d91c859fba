#!/usr/bin/env bash
# `sam build` of template.yaml: cross-compiles the three Lambdas for provided.al2023 arm64
# through cargo lambda (zig from the cargo-lambda package), then prints each bootstrap's
# size. Not part of scripts/test.sh (a release cross-build takes minutes).
# Usage: scripts/sam-build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/tools.sh
source scripts/lib/tools.sh
ensure_python_tools
export SAM_CLI_TELEMETRY=0
sam build --region us-east-1
for function in AuthorizerFunction RefresherFunction HelloFunction; do
  bootstrap=".aws-sam/build/$function/bootstrap"
  printf '%-20s %s bytes  %s\n' "$function" "$(stat -c %s "$bootstrap")" "$(file -b "$bootstrap" | cut -d, -f1-2)"
done
