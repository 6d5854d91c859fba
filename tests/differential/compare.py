#!/usr/bin/env python3
"""Compares the verdicts on the differential corpus; exits 1 on any unlisted difference.

    python3 tests/differential/compare.py DIR

DIR holds corpus.jsonl and one verdict file per verifier (authorizer.jsonl,
aws-jwt-verify.jsonl, jsonwebtoken.jsonl; see scripts/differential.sh). It fails when:

1. this authorizer's verdict differs from the corpus's expected one (nothing may be listed
   for that: the expectation comes from SPEC.md);
2. a peer's verdict differs from this authorizer's and no entry of
   tests/differential/expected-differences.json covers it (peer, label, both verdicts);
3. an entry covers no case any more (the list must stay true);
4. docs/security.md has no table row for an entry's id (the docs mirror the list).

It prints one summary table and writes DIR/summary.json.
"""

import fnmatch
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIST = ROOT / "tests/differential/expected-differences.json"
DOCS = ROOT / "docs/security.md"
PEERS = ["aws-jwt-verify", "jsonwebtoken"]


def lines(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main(directory):
    out = Path(directory)
    corpus = lines(out / "corpus.jsonl")
    ours = {v["id"]: v for v in lines(out / "authorizer.jsonl")}
    entries = json.loads(LIST.read_text(encoding="utf-8"))["differences"]
    failures = []

    wrong = [c for c in corpus if ours[c["id"]]["verdict"] != c["expected"]]
    for c in wrong:
        failures.append(
            f"authorizer: {c['label']}: expected {c['expected']}, got "
            f"{ours[c['id']]['verdict']} ({ours[c['id']]['reason']})"
        )

    used = Counter()
    summary = {"tokens": len(corpus), "authorizer": {}, "peers": {}}
    summary["authorizer"] = {
        "accepted": sum(ours[c["id"]]["verdict"] == "accept" for c in corpus),
        "as_expected": len(corpus) - len(wrong),
        "reasons": dict(Counter(ours[c["id"]]["reason"] for c in corpus).most_common()),
    }
    for peer in PEERS:
        theirs = {v["id"]: v for v in lines(out / f"{peer}.jsonl")}
        judged = agree = 0
        listed = defaultdict(list)
        for c in corpus:
            mine, other = ours[c["id"]]["verdict"], theirs[c["id"]]["verdict"]
            if other == "skipped":
                continue
            judged += 1
            if mine == other:
                agree += 1
                continue
            covering = [
                e
                for e in entries
                if e["peer"] == peer
                and e["authorizer"] == mine
                and e["peer_verdict"] == other
                and any(fnmatch.fnmatchcase(c["label"], g) for g in e["labels"])
            ]
            if not covering:
                failures.append(
                    f"{peer}: {c['label']}: authorizer {mine} "
                    f"({ours[c['id']]['reason']}), {peer} {other} "
                    f"({theirs[c['id']]['reason']}): not in {LIST.relative_to(ROOT)}"
                )
                continue
            for e in covering:
                used[(peer, e["id"])] += 1
                listed[e["id"]].append(c["label"])
        summary["peers"][peer] = {
            "judged": judged,
            "skipped": len(corpus) - judged,
            "agree": agree,
            "listed_differences": {k: len(v) for k, v in sorted(listed.items())},
        }

    docs = DOCS.read_text(encoding="utf-8")
    for e in entries:
        if not used[(e["peer"], e["id"])]:
            failures.append(
                f"{e['peer']}: listed difference {e['id']!r} covers no case any more: "
                "remove it (and its line in docs/security.md)"
            )
    for name in sorted({e["id"] for e in entries}):
        if f"| `{name}` |" not in docs:
            failures.append(f"docs/security.md has no row | `{name}` | in its table of differences")

    print(f"differential: {len(corpus)} tokens")
    a = summary["authorizer"]
    print(
        f"  {'authorizer':<16} as expected {a['as_expected']}/{len(corpus)}, "
        f"accepted {a['accepted']}"
    )
    for peer, s in summary["peers"].items():
        diff = s["judged"] - s["agree"]
        print(
            f"  {peer:<16} judged {s['judged']}, agree {s['agree']}, "
            f"differ {diff} (all listed: {diff == sum(s['listed_differences'].values())})"
        )
        for name, n in s["listed_differences"].items():
            print(f"      {n:4}  {name}")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    if failures:
        print(f"\n{len(failures)} failure(s):", file=sys.stderr)
        for f in failures:
            print(f"  {f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
