#!/usr/bin/env bash
# Instructions per stage of the warm decision, counted with valgrind --tool=callgrind
# (repeatable, unlike time): examples/decision_profile.rs runs one stage N times after
# one run that pays every one-time cost; the count for N minus the count for 0, over N,
# is that stage's cost. Stages: event (events::parse), decode (verify::decode),
# signature (bare aws-lc-rs check), answer (serde_json::to_vec of the answer, as the
# Lambda runtime writes it), whole (the decision with the token cache off, answer
# serialized), repeated (the same, token cache on); "rest" is whole minus the other four.
# Built in the `profiling` profile (release with symbols, target/profiling).
#   scripts/profile_decision.sh            # the table, for RS256 and ES256; JSON in target/bench/profile.json
#   scripts/profile_decision.sh --annotate whole rs256   # where one stage's instructions go
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "profile_decision: valgrind is required" >&2; exit 1; }
cargo build --quiet --profile profiling --example decision_profile
bin=target/profiling/examples/decision_profile
runs=1000


if [[ ${1:-} == --annotate ]]; then
  out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "${2:?stage}" "${3:?alg}" "$runs" >/dev/null 2>&1
  callgrind_annotate --inclusive=yes "$out" | head -60
  rm -f "$out"
  exit 0
fi

mkdir -p target/bench
python3 - "$runs" > target/bench/profile.json <<PY
import json, subprocess, sys
runs = int(sys.argv[1])
def count(stage, alg, n):
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          "$bin", stage, alg, str(n)], capture_output=True, text=True, check=True)
    line = next(l for l in out.stderr.splitlines() if "Collected :" in l)
    return int(line.split()[-1])
table = {}
for alg in ("rs256", "es256"):
    row = {}
    for stage in ("event", "decode", "signature", "answer", "whole", "repeated"):
        # The one-time costs (aws-lc's entropy at start-up among them) vary by about
        # ±1 K instructions between runs: the cheap stages run 10 times as often.
        n = runs if stage in ("signature", "whole") else runs * 10
        row[stage] = round((count(stage, alg, n) - count(stage, alg, 0)) / n)
    row["rest"] = row["whole"] - row["event"] - row["decode"] - row["signature"] - row["answer"]
    table[alg] = row
print(json.dumps({"runs": runs, "instructions_per_decision": table}, indent=2))
PY
python3 - <<'PY'
import json
t = json.load(open("target/bench/profile.json"))["instructions_per_decision"]
stages = ("event", "decode", "signature", "answer", "rest", "whole", "repeated")
print("instructions per decision (callgrind)")
print(f"{'stage':<10}" + "".join(f"{alg:>12}" for alg in t))
for s in stages:
    print(f"{s:<10}" + "".join(f"{t[alg][s]:>12,}" for alg in t))
PY
