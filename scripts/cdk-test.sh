#!/usr/bin/env bash
# The CDK attach example (examples/cdk): installs its pinned packages (aws-cdk-lib,
# cdk-nag, the aws-cdk CLI, TypeScript, from examples/cdk/package-lock.json) when
# node_modules/ does not match the lock, then `node --test`, which runs `cdk synth`
# offline (no credentials, no context lookups, no version check, no telemetry) and
# checks the synthesized template and that cdk-nag's AWS Solutions pack left nothing
# unfixed or unacknowledged. Run by scripts/test.sh. Needs node >= 20 with npm.
# Usage: scripts/cdk-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/tools.sh
source scripts/lib/tools.sh
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "cdk-test: $tool is required" >&2; exit 1; }
done
npm_ci_locked examples/cdk
cd examples/cdk
export CDK_DISABLE_VERSION_CHECK=true CDK_DISABLE_CLI_TELEMETRY=true
node --test test/synth.test.mjs
