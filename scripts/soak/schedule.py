"""The fault schedule: a cycle of phases, each setting the table's and the JWKS endpoint's
mode and doing a few things at given offsets (rotate the issuer's keys, revoke, poison the
keys item). The cycle repeats until the run has its invocations; `--quick` runs the same
cycle with a shorter unit. Every mode change is recorded (`Timeline`), so the oracle can
ask what the upstreams were doing at any moment.
"""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Phase:
    name: str
    table: str  # TableProxy mode
    jwks: str  # JwksServer mode
    actions: tuple = ()  # (offset as a fraction of the phase, action): "rotate", "revoke", "poison"


# Before the cycle: fresh valid tokens with both upstreams up, until the container's
# caches (verified tokens, revocation lookups) have reached their bounds.
WARMUP = Phase("warm-up", "up", "up")

CYCLE = (
    Phase("steady", "up", "up", ((0.2, "revoke"),)),
    Phase("table refuses", "refuse", "up", ((0.1, "revoke"),)),
    Phase("table hangs", "hang", "up", ((0.1, "revoke"),)),
    Phase("table 500", "error500", "up", ((0.5, "revoke"),)),
    Phase("table garbage", "garbage", "up", ((0.1, "revoke"),)),
    Phase("rotation", "up", "up", ((0.1, "rotate"), (0.3, "revoke"))),
    Phase("JWKS 500", "up", "error500", ((0.2, "revoke"),)),
    Phase("JWKS hangs", "up", "hang", ((0.1, "rotate"),)),
    Phase("JWKS garbage", "up", "garbage", ((0.2, "revoke"),)),
    Phase("JWKS stalls mid-body", "up", "stall", ()),
    Phase("rotation, JWKS resets", "up", "reset", ((0.1, "rotate"), (0.5, "revoke"))),
    Phase("JWKS refuses", "up", "refuse", ()),
    Phase("recovery", "up", "up", ((0.5, "revoke"),)),
    Phase("both down", "hang", "error500", ((0.1, "revoke"),)),
    Phase("both garbage, rotation", "garbage", "garbage", ((0.1, "rotate"),)),
    Phase("poisoned keys item", "up", "up", ((0.05, "poison"), (0.5, "revoke"))),
)


@dataclass
class Span:
    start: float  # monotonic
    end: float  # monotonic (inf while open)
    phase: str
    table: str
    jwks: str


@dataclass
class Timeline:
    """What the upstreams did, as consecutive spans of monotonic time."""

    spans: list = field(default_factory=list)

    def begin(self, at: float, phase: Phase) -> None:
        if self.spans:
            self.spans[-1].end = at
        self.spans.append(Span(at, float("inf"), phase.name, phase.table, phase.jwks))

    def close(self, at: float) -> None:
        if self.spans:
            self.spans[-1].end = at

    def overlapping(self, start: float, end: float):
        return [s for s in self.spans if s.start <= end and s.end >= start]

    def table_down(self, before: float = 0.0, after: float = 0.0) -> list[tuple[float, float]]:
        """Intervals the table was not `up`, widened by `before` and `after` seconds."""
        return [(s.start - before, s.end + after) for s in self.spans if s.table != "up"]


class Scheduler:
    """Walks the cycle in real time: `tick(now)` returns the phase to enter (or None) and
    the actions due since the last tick."""

    def __init__(self, unit: float, cycle=CYCLE):
        self.unit = unit
        self.cycle = cycle
        self.started: float | None = None
        self.index = -1
        self.done_actions: set = set()

    @property
    def cycle_seconds(self) -> float:
        return self.unit * len(self.cycle)

    def cycles_done(self, now: float) -> int:
        return int((now - self.started) // self.cycle_seconds) if self.started is not None else 0

    def tick(self, now: float) -> tuple[Phase | None, list[str]]:
        if self.started is None:
            self.started = now
        elapsed = now - self.started
        index = int(elapsed // self.unit)
        entered = None
        if index != self.index:
            self.index = index
            entered = self.cycle[index % len(self.cycle)]
        phase = self.cycle[index % len(self.cycle)]
        offset = (elapsed - index * self.unit) / self.unit
        due = []
        for at, action in phase.actions:
            key = (index, at, action)
            if offset >= at and key not in self.done_actions:
                self.done_actions.add(key)
                due.append(action)
        return entered, due
