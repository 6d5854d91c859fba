#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ (cargo-fuzz, libFuzzer) for SECONDS each, one after the
# other, and prints one line per target: executions, executions per second, coverage
# (edges, features), corpus size, crashes. Each target asserts its invariants inside every
# run (see the doc comment atop fuzz/fuzz_targets/*.rs and docs/reliability.md).
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]     (default: 600 s, every target)
#
# Installs cargo-fuzz (pinned below) when missing; libFuzzer needs a nightly-only flag,
# enabled on the stable toolchain with RUSTC_BOOTSTRAP=1, and builds with the local C++
# compiler. Each target's working corpus is fuzz/corpus/TARGET (kept between runs,
# git-ignored), seeded from the committed fuzz/seeds/TARGET; a crash lands in
# fuzz/artifacts/TARGET; logs and the summary in target/fuzz/. Exits non-zero when any
# target found a crash.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
ALL_TARGETS=(decide_minted decide_raw jwks key_record config template dpop_proof)

seconds=600
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${ALL_TARGETS[@]}")

if ! cargo fuzz --version 2>/dev/null | grep -qF " $CARGO_FUZZ_VERSION"; then
  echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION (once)" >&2
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --quiet
fi
export RUSTC_BOOTSTRAP=1

logs=target/fuzz
mkdir -p "$logs"
echo "== fuzz: build (release, debug assertions, AddressSanitizer)"
cargo fuzz build

summary="$logs/summary.md"
{
  echo "| target | seconds | executions | exec/s | coverage (edges) | features | corpus | crashes |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
} >"$summary"
failed=()
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  log="$logs/$t.log"
  dict=()
  [[ -f fuzz/dict/$t.dict ]] && dict=("-dict=fuzz/dict/$t.dict")
  echo "== fuzz: $t for ${seconds} s"
  status=0
  cargo fuzz run "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=4096 \
    "${dict[@]}" >"$log" 2>&1 || status=$?
  stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n1; }
  last=$(grep -E '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$log" | tail -n1 || true)
  cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
  crashes=$(find "fuzz/artifacts/$t" -type f | wc -l)
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$seconds" "$(stat number_of_executed_units)" \
    "$(stat average_exec_per_sec)" "${cov:-?}" "${ft:-?}" "$corpus" "$crashes" | tee -a "$summary"
  if [[ $status -ne 0 || $crashes -ne 0 ]]; then
    failed+=("$t")
    echo "fuzz: $t failed (exit $status); the end of $log:" >&2
    tail -n 40 "$log" >&2
  fi
done
echo "fuzz: summary in $summary"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs in fuzz/artifacts/; replay with: RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET FILE)" >&2
  exit 1
fi
