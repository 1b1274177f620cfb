"""Per-link network impairment in user space (the kernel here has no netem), seeded and
reproducible: Gilbert–Elliott loss with netem's parameters (p: good→bad, r: bad→good, 1−h: loss
in bad, 1−k: loss in good), delay with jitter (normal or Pareto-normal), reordering, duplication
and a rate cap (token bucket with a bounded queue)."""
from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Impairment:
    p: float = 0.0  # good -> bad per packet
    r: float = 1.0  # bad -> good per packet
    loss_bad: float = 1.0  # 1 - h
    loss_good: float = 0.0  # 1 - k
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    jitter_dist: str = "normal"  # normal | pareto
    reorder: float = 0.0  # probability a packet skips the delay (sent at once, arriving early)
    duplicate: float = 0.0
    rate_kbps: float = 0.0  # 0: unlimited
    queue_ms: float = 200.0  # rate-cap queue limit; later packets are dropped

    def mean_loss(self) -> float:
        """Stationary loss rate of the Gilbert–Elliott chain."""
        if self.p == 0:
            return self.loss_good
        pi_bad = self.p / (self.p + self.r)
        return pi_bad * self.loss_bad + (1 - pi_bad) * self.loss_good


@dataclass
class Link:
    """One direction between two members: decides each packet's fate."""

    imp: Impairment
    seed: int
    bad: bool = False
    next_free_ms: float = 0.0
    rng: random.Random = field(init=False)
    stats: dict[str, int] = field(default_factory=lambda: {"in": 0, "lost": 0, "dup": 0, "queue_drop": 0, "out": 0})

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def _lost(self) -> bool:
        i = self.imp
        if self.bad:
            if self.rng.random() < i.r:
                self.bad = False
        elif self.rng.random() < i.p:
            self.bad = True
        return self.rng.random() < (i.loss_bad if self.bad else i.loss_good)

    def _delay(self) -> float:
        i = self.imp
        if i.jitter_ms <= 0:
            return i.delay_ms
        if i.jitter_dist == "pareto":
            j = (self.rng.paretovariate(3.0) - 1.5) * i.jitter_ms
        else:
            j = self.rng.gauss(0.0, i.jitter_ms)
        return max(0.0, i.delay_ms + j)

    def schedule(self, now_ms: float, size: int) -> list[float]:
        """Departure times (ms) for the copies of a packet sent at now_ms; [] if dropped."""
        self.stats["in"] += 1
        if self._lost():
            self.stats["lost"] += 1
            return []
        copies = 2 if self.rng.random() < self.imp.duplicate else 1
        if copies == 2:
            self.stats["dup"] += 1
        out = []
        for _ in range(copies):
            t = now_ms
            if self.imp.rate_kbps > 0:
                start = max(now_ms, self.next_free_ms)
                if start - now_ms > self.imp.queue_ms:
                    self.stats["queue_drop"] += 1
                    continue
                self.next_free_ms = start + size * 8 / self.imp.rate_kbps
                t = self.next_free_ms
            t += 0.0 if self.rng.random() < self.imp.reorder else self._delay()
            out.append(t)
            self.stats["out"] += 1
        return out
