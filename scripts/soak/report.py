"""The soak's figures: answers per category and per phase (wrong ones first), JWKS
requests against the cooldown bound, table calls through the proxy, VmRSS over the run,
decision latency; printed as a summary, written as JSON, and drawn as a PNG (RSS and
latency over time, fault phases shaded)."""
import json
import math
import statistics
from collections import Counter, defaultdict
from pathlib import Path

from .tokens import CATEGORIES

MAX_LATENCY = 3.0  # seconds: a decision slower than this is a hang (the bounds add up to ~2 s)
# The one ERROR the run provokes on purpose: the poisoned keys item (schedule.py). Any
# other ERROR line (the authorizer's or its libraries') fails the soak: an operator's
# alarm on ERROR logs must mean something.
EXPECTED_ERROR = "unusable item in the keys table"
RSS_GROWTH = 1.10  # last quarter's median VmRSS may exceed the first quarter's by 10% at most
RSS_SLACK_KIB = 1024  # ... plus 1 MiB (allocator noise)


def percentile(values: list, q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(math.ceil(q * len(ordered))) - 1)]


def latency_ms(values: list) -> dict:
    return {"p50": round(percentile(values, 0.50) * 1000, 3), "p99": round(percentile(values, 0.99) * 1000, 3),
            "p999": round(percentile(values, 0.999) * 1000, 3), "max": round(max(values, default=0) * 1000, 3)}


def cooldown_check(times: list, cooldown: float, tolerance: float) -> dict:
    """Requests after the first (the cold start's): the smallest gap between two, and how
    many came sooner than `cooldown - tolerance` after the previous one."""
    times = sorted(times)
    gaps = [b - a for a, b in zip(times, times[1:])]
    return {"requests": len(times), "min_gap_s": round(min(gaps), 3) if gaps else None,
            "gaps_below_cooldown": sum(1 for g in gaps if g < cooldown - tolerance)}


def report(soak, verdicts: list, logs, *, start: float, end: float, peak: int, failure: str | None,
           final_item: dict | None) -> dict:
    p, calls = soak.profile, soak.calls
    duration = end - start
    per_kind = Counter(c.kind for c in calls if c.index >= p.warmup)
    categories = {c: Counter() for c in CATEGORIES}
    either = defaultdict(Counter)
    phases = defaultdict(lambda: {"calls": 0, "wrong": 0, "latency": []})
    wrong_examples = []
    for call, verdict in zip(calls, verdicts):
        counts = categories[call.category]
        counts["calls"] += 1
        counts[call.observed] += 1
        phase = phases[call.phase]
        phase["calls"] += 1
        phase["latency"].append(call.answered - call.handed)
        if verdict.wrong:
            counts["wrong"] += 1
            phase["wrong"] += 1
            if len(wrong_examples) < 30:
                wrong_examples.append({
                    "index": call.index, "at_s": round(call.handed - start, 3), "phase": call.phase,
                    "kind": call.kind, "category": call.category, "variant": call.token.variant,
                    "observed": call.observed, "allowed": sorted(verdict.allowed), "problem": call.problem,
                    "rules": verdict.rules, "kid": call.token.kid, "metrics": call.metrics})
        elif len(verdict.allowed) > 1:
            either[call.category][verdict.why] += 1
    latencies = [c.answered - c.handed for c in calls]
    wrong = sum(v.wrong for v in verdicts)

    # JWKS: what the endpoint saw (a request arrives a little after it is sent), and what
    # the authorizer says it sent (EMF JwksFetches per invocation, which also counts
    # requests refused before reaching the endpoint). The first invocation's counters hold
    # the cold start's fetch. For two invocations that sent one, the second's answer came
    # at least a cooldown after the first was handed out, if their requests were.
    server = [r.arrived for r in soak.jwks.requests]
    fetching = [c for c in calls[1:] if c.metrics and c.metrics.get("JwksFetches")]
    spans = [b.answered - a.handed for a, b in zip(fetching, fetching[1:])]
    emf_fetches = sum(c.metrics.get("JwksFetches", 0) for c in calls if c.metrics)
    bound = 1 + math.floor(duration / p.cooldown) + 1
    jwks = {
        "cooldown_s": p.cooldown,
        "endpoint": {**cooldown_check(server, p.cooldown, 0.05),
                     "by_outcome": dict(Counter(r.outcome.split(":")[0] for r in soak.jwks.requests))},
        "authorizer_fetches": emf_fetches,
        "authorizer": {
            "fetching_invocations": len(fetching),
            "more_than_one_in_an_invocation": sum(1 for c in fetching if c.metrics["JwksFetches"] > 1),
            "min_span_s": round(min(spans), 3) if spans else None,
            "spans_below_cooldown": sum(1 for s in spans if s < p.cooldown),
        },
        "bound": bound,
        "within_bound": emf_fetches <= bound and len(server) <= bound,
    }
    jwks["within_window"] = (jwks["endpoint"]["gaps_below_cooldown"] == 0
                             and jwks["authorizer"]["spans_below_cooldown"] == 0
                             and jwks["authorizer"]["more_than_one_in_an_invocation"] == 0)

    table = Counter()
    for (mode, operation, outcome), n in soak.proxy.calls.items():
        table[f"{mode} {operation} {outcome}"] += n
    totals = Counter()
    for call in calls:
        for name, n in (call.metrics or {}).items():
            totals[name] += n

    # After the warm-up, by invocation: the first quarter's median against the last's.
    samples = [kib for _, i, kib in soak.rss if kib and i >= p.warmup]
    warm = [kib for _, i, kib in soak.rss if kib and i < p.warmup]
    def mib(kib):
        return round(kib / 1024, 2) if kib is not None else None

    quarter = max(1, len(samples) // 4)
    # No sample after the warm-up (the run failed before it ended): nothing to judge.
    first = statistics.median(samples[:quarter]) if samples else None
    last = statistics.median(samples[-quarter:]) if samples else None
    rss = {"samples": len(samples), "after_warmup_mib": mib(warm[-1]) if warm else None,
           "first_quarter_median_mib": mib(first), "last_quarter_median_mib": mib(last),
           "min_mib": mib(min(samples, default=None)), "max_sampled_mib": mib(max(samples, default=None)),
           "peak_vmhwm_mib": mib(peak),
           "flat": bool(samples) and last <= first * RSS_GROWTH + RSS_SLACK_KIB}

    try:
        item_ok = isinstance(json.loads(final_item["jwks"]["S"])["keys"], list)
    except (TypeError, KeyError, ValueError):
        item_ok = False
    reasons = defaultdict(Counter)
    for call in calls:
        reasons[call.category][logs.reasons.get(f"r{call.index}", "?")] += 1
    checks = {
        "no_failure": failure is None,
        "zero_wrong": wrong == 0,
        "every_kind": min(per_kind.values(), default=0) >= p.per_kind,
        "jwks_within_cooldown": jwks["within_bound"] and jwks["within_window"],
        "rss_flat": rss["flat"],
        "no_hang": max(latencies, default=0) <= MAX_LATENCY,
        "poisoned_item_replaced": item_ok,
        "errors_logged_only_for_the_poisoned_item": all(
            message.startswith(EXPECTED_ERROR) for (level, message) in logs.lines if level == "ERROR"),
    }
    summary = {
        "passed": all(checks.values()),
        "checks": checks,
        "failure": failure,
        "on_error": soak.args.on_error,
        "profile": vars(p) | {"expiring_life": list(p.expiring_life)},
        "wall_seconds": round(duration, 1),
        "invocations": len(calls),
        "warmup_invocations": min(p.warmup, len(calls)),
        "per_kind": dict(per_kind),
        "wrong": wrong,
        "categories": {c: dict(v) for c, v in categories.items()},
        "either": {c: dict(v) for c, v in either.items()},
        "latency_ms": latency_ms(latencies),
        "phases": {name: {"calls": v["calls"], "wrong": v["wrong"], **latency_ms(v["latency"])}
                   for name, v in phases.items()},
        "jwks": jwks,
        "table_calls": dict(sorted(table.items())),
        "authorizer_counters": dict(totals),
        "rss": rss,
        "rotations": sum(1 for _, a, _ in soak.actions if a == "rotate"),
        "revocations": len(soak.revocations.all),
        "actions": [(round(t - start, 2), a, d) for t, a, d in soak.actions],
        "log_lines": {f"{level} {message}": n for (level, message), n in logs.lines.most_common(40)},
        "decision_reasons": {c: dict(v.most_common()) for c, v in reasons.items()},
        "unparsed_output": logs.other,
        "wrong_examples": wrong_examples,
    }
    out = Path(soak.args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "soak.json").write_text(json.dumps(summary, indent=2, default=str))
    chart(soak, start, out / "soak.png")
    print_summary(summary)
    return summary


def print_summary(s: dict) -> None:
    print(f"soak: {s['invocations']} invocations in {s['wall_seconds']} s "
          f"(REVOCATION_ON_ERROR={s['on_error']}), {s['warmup_invocations']} of them warm-up; "
          f"after it: {s['per_kind']}")
    print(f"  wrong answers: {s['wrong']}")
    print(f"  {'category':<12}{'calls':>9}{'grant':>9}{'nogrant':>9}{'reject':>9}{'true':>8}{'false':>8}{'wrong':>7}")
    for name, c in s["categories"].items():
        print(f"  {name:<12}{c.get('calls', 0):>9}{c.get('grant', 0):>9}{c.get('nogrant', 0):>9}"
              f"{c.get('reject', 0):>9}{c.get('true', 0):>8}{c.get('false', 0):>8}{c.get('wrong', 0):>7}")
    for name, reasons in s["either"].items():
        print(f"  either answer allowed, {name}: " + ", ".join(f"{why} {n}" for why, n in reasons.items()))
    lat = s["latency_ms"]
    print(f"  latency ms: p50 {lat['p50']}  p99 {lat['p99']}  p99.9 {lat['p999']}  max {lat['max']}")
    print(f"  {'phase':<24}{'calls':>8}{'wrong':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name, ph in s["phases"].items():
        print(f"  {name:<24}{ph['calls']:>8}{ph['wrong']:>7}{ph['p50']:>9}{ph['p99']:>9}{ph['max']:>9}")
    j = s["jwks"]
    print(f"  JWKS: endpoint saw {j['endpoint']['requests']} requests {j['endpoint']['by_outcome']}, "
          f"min gap {j['endpoint']['min_gap_s']} s; authorizer sent {j['authorizer_fetches']} "
          f"(bound {j['bound']} for cooldown {j['cooldown_s']} s); within window: {j['within_window']}")
    r = s["rss"]
    warm = f"end of warm-up {r['after_warmup_mib']}, " if r["after_warmup_mib"] else ""
    print(f"  VmRSS MiB: {warm}first quarter {r['first_quarter_median_mib']}, last quarter "
          f"{r['last_quarter_median_mib']}, peak (VmHWM) {r['peak_vmhwm_mib']}; flat: {r['flat']}")
    print(f"  rotations {s['rotations']}, revocations {s['revocations']}; checks: "
          + ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in s["checks"].items()))
    if s["failure"]:
        print(f"  FAILURE: {s['failure']}")
    for example in s["wrong_examples"][:10]:
        print(f"  wrong: {json.dumps(example, default=str)[:600]}")


def chart(soak, start: float, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_rss, ax_lat) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True,
                                         gridspec_kw={"height_ratios": [1, 1.4]})
    for span in soak.timeline.spans:
        a, b = span.start - start, span.end - start
        color = {(True, False): "#f4b6b6", (False, True): "#b6cdf4", (True, True): "#d6b6f4"}.get(
            (span.table != "up", span.jwks != "up"), "#e4e4e4" if span.phase == "warm-up" else None)
        if color:
            for ax in (ax_rss, ax_lat):
                ax.axvspan(a, b, color=color, lw=0)
    for t, action, _ in soak.actions:
        if action == "rotate":
            for ax in (ax_rss, ax_lat):
                ax.axvline(t - start, color="#2a7d2a", lw=0.8, ls="--")

    ax_rss.plot([t - start for t, _, kib in soak.rss if kib], [kib / 1024 for _, _, kib in soak.rss if kib],
                color="black", lw=1)
    ax_rss.set_ylabel("VmRSS (MiB)")
    ax_rss.set_ylim(bottom=0)
    ax_rss.set_title(f"authorizer under faults: {len(soak.calls):,} invocations, "
                     f"REVOCATION_ON_ERROR={soak.args.on_error}")

    bucket = max(1.0, soak.profile.unit / 5)
    buckets = defaultdict(list)
    for call in soak.calls:
        buckets[int((call.handed - start) // bucket)].append((call.answered - call.handed) * 1000)
    xs = sorted(buckets)
    ax_lat.plot([x * bucket for x in xs], [percentile(buckets[x], 0.5) for x in xs], lw=1, label="p50")
    ax_lat.plot([x * bucket for x in xs], [percentile(buckets[x], 0.99) for x in xs], lw=1, label="p99")
    ax_lat.plot([x * bucket for x in xs], [max(buckets[x]) for x in xs], lw=0.6, color="grey", label="max")
    ax_lat.set_yscale("log")
    ax_lat.set_ylabel(f"decision latency (ms, per {bucket:g} s)")
    ax_lat.set_xlabel("seconds since start")
    from matplotlib.patches import Patch
    from matplotlib.lines import Line2D
    handles, _ = ax_lat.get_legend_handles_labels()
    handles += [Patch(color="#e4e4e4", label="warm-up"), Patch(color="#f4b6b6", label="table fault"), Patch(color="#b6cdf4", label="JWKS fault"),
                Patch(color="#d6b6f4", label="both"), Line2D([], [], color="#2a7d2a", ls="--", label="key rotation")]
    ax_lat.legend(handles=handles, loc="upper right", fontsize=8, ncol=4, framealpha=0.9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
