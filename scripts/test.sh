#!/usr/bin/env bash
# Runs every test of the product: unit tests, integration tests (loopback JWKS servers,
# moto_server's Cognito and DynamoDB, the built binaries under a Lambda Runtime API
# host), the SAM template checks (scripts/sam-test.sh: cfn-lint, sam validate --lint and
# tests/*_test.py on template.yaml, authorizer.yaml and examples/sam/template.yaml), the
# CDK example's synth and cdk-nag (scripts/cdk-test.sh), the differential test against
# aws-jwt-verify, jose and jsonwebtoken (scripts/differential.sh) and the DPoP interop
# test against oidc-provider and oauth4webapi (scripts/dpop-interop.sh).
# What is not a test of the product runs in .ci/run instead: formatting and clippy (a
# second, check-mode build of every dependency), every benchmark once in quick mode, the
# fuzz smoke (minutes of release builds), the soak.
#
# Installs what it needs on first use (pinned Python tools from requirements.txt, once
# per machine, linked as .venv; aws-jwt-verify and jose into tests/differential/node_modules/,
# oidc-provider and oauth4webapi into tests/dpop_interop/node_modules/, the CDK app's
# packages into examples/cdk/node_modules/); later runs reuse them and target/.
#
# The order: the template checks and the CDK synth (with the installs they need) and the
# two npm installs the peers need start in the background, since they wait on the
# network and the disk more than on the CPU; one cargo build compiles everything Rust
# the run needs (the tests, the binaries, the examples the differential and the DPoP
# interop run); each background job's output is shown (its failure fails the run) before
# the step that needs it: the template checks and the CDK synth before the tests, so
# they never take the CPU from the tests that measure time. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/tools.sh
source scripts/lib/tools.sh

tools_start sam scripts/sam-test.sh
tools_start cdk scripts/cdk-test.sh
tools_start npm-differential npm_ci_locked tests/differential
tools_start npm-dpop-interop npm_ci_locked tests/dpop_interop

echo "== cargo build: the tests, the binaries, the differential's and the DPoP interop's examples"
# One invocation, so one feature resolution (dev-dependencies on) for all of it:
# cargo test, the refresher the end-to-end test runs and the examples reuse it all.
cargo build --workspace --lib --bins --tests --example differential --example dpop_interop

echo "== SAM templates: cfn-lint, sam validate --lint, checks against the code"
tools_await sam

echo "== examples/cdk: cdk synth offline, the template and cdk-nag's findings checked"
tools_await cdk

echo "== cargo test (unit, integration, end-to-end)"
# moto_server and the Cognito helper come from the Python tools (made ready by the
# template job above; this only puts them on PATH).
ensure_python_tools
# Two test threads per core: the integration tests mostly wait (on moto_server starting,
# on the timeouts and cooldowns they exercise), so the cores' count (the default) leaves
# them idle; on 2 cores 4 threads take 23 s where 2 took 33 to 41. RUST_TEST_THREADS set
# by the caller wins.
RUST_TEST_THREADS="${RUST_TEST_THREADS:-$((2 * $(nproc)))}" \
  cargo test --workspace --lib --bins --tests

echo "== differential: this authorizer, aws-jwt-verify, jose and jsonwebtoken on one corpus"
tools_await npm-differential
scripts/differential.sh

echo "== DPoP interop: oidc-provider issues, oauth4webapi proves, the authorizer judges"
tools_await npm-dpop-interop
scripts/dpop-interop.sh
