"""A run's share of the farm: places reserved through labgrid (the pool's tag and `health=ok`,
with a priority), acquired as the coordinator allocates them, released on exit — also on Ctrl-C
and on failure — and marked unhealthy when their transport keeps failing (the LAVA-style health
check: later runs do not get them until `edgecall farm health` finds them working again).

Exclusivity is labgrid's: a place is allocated to one reservation and acquired by one owner at a
time. Every labgrid call is timed, so a run reports what scheduling cost it.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from host_tools.farm import labgrid

POLL_S = 0.5  # how often a waiting reservation is polled (labgrid expires one unpolled for 60 s)


@dataclass
class Place:
    name: str
    url: str  # rfc2217://host:port
    host: str  # the exporter's name
    token: str
    acquired_at: float = field(default_factory=time.time)
    released_at: float | None = None


class Pool:
    """`want` places from the pool, handed out as they are acquired (`next_place`)."""

    def __init__(self, client: labgrid.Client, pool: str, want: int, prio: float = 0.0,
                 log: Callable[[str], None] = print) -> None:
        self.client = client
        self.filters = {"pool": pool, "health": "ok"}
        self.want = want
        self.prio = prio
        self.log = log
        self._tokens: list[str] = []
        self._waiting: set[str] = set()
        self._threads: list[threading.Thread] = []
        self._ready: list[Place] = []
        self.held: dict[str, Place] = {}
        self.unhealthy: dict[str, str] = {}
        self._lock = threading.Lock()
        self.timings: dict[str, list[float]] = {"reserve_to_allocated": [], "acquire": [], "release": []}
        self.closed = False

    def start(self) -> None:
        """Files the reservations; a thread per reservation polls it (which keeps it alive) until
        the coordinator allocates a place, then acquires the place."""
        for _ in range(self.want):
            if self.closed:
                return
            t = time.monotonic()
            token = self.client.reserve(self.filters, self.prio)
            with self._lock:
                self._tokens.append(token)
                self._waiting.add(token)
            th = threading.Thread(target=self._await, args=(token, t), daemon=True)
            self._threads.append(th)
            th.start()

    def _await(self, token: str, t0: float) -> None:
        place: Place | None = None
        try:
            while not self.closed:
                state, name = self.client.poll(token)
                if state != "waiting":
                    break
                time.sleep(POLL_S)
            else:
                return
            if name is None:
                self.log(f"farm: reservation {token} ended {state} without a place")
                return
            self.timings["reserve_to_allocated"].append(time.monotonic() - t0)
            t = time.monotonic()
            self.client.acquire(name)
            place = Place(name, "", "", token)
            with self._lock:
                self.held[name] = place  # from here on close() releases it, whatever follows
            place.url = served_url(self.client, name)
            place.host = self.client.show(name).exporter()
            self.timings["acquire"].append(time.monotonic() - t)
            with self._lock:  # ready before it stops counting as pending: a taker never misses it
                if not self.closed:
                    self._ready.append(place)
        except labgrid.LabgridError as e:
            self.log(f"farm: reservation {token}: {e}")
            if place is not None:
                self.release(place)
            return
        finally:
            with self._lock:
                self._waiting.discard(token)
        self.log(f"farm: acquired {name} ({place.url}, host {place.host})")

    def pending(self) -> int:
        """Reservations still waiting for a place."""
        with self._lock:
            return len(self._waiting)

    def take(self) -> Place | None:
        with self._lock:
            return self._ready.pop(0) if self._ready else None

    def _release(self, place: Place) -> None:
        t = time.monotonic()
        try:
            self.client.release(place.name)
        except labgrid.LabgridError as e:
            self.log(f"farm: releasing {place.name}: {e}")
        self.timings["release"].append(time.monotonic() - t)
        place.released_at = time.time()

    def release(self, place: Place) -> None:
        with self._lock:
            if self.held.pop(place.name, None) is None:
                return
        self._release(place)

    def mark_unhealthy(self, place: Place, reason: str) -> None:
        """health=bad (and why, in the place's comment): reservations no longer match it."""
        self.unhealthy[place.name] = reason
        try:
            self.client.set_tags(place.name, {"health": "bad"})
            self.client.set_comment(place.name, f"unhealthy {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}: "
                                                f"{reason[:200]}")
        except labgrid.LabgridError as e:
            self.log(f"farm: could not mark {place.name} unhealthy: {e}")
        self.log(f"farm: {place.name} marked unhealthy ({reason})")

    def close(self) -> None:
        """Cancels the reservations, releases what is held. Safe to call twice."""
        with self._lock:
            self.closed = True
        deadline = time.monotonic() + 30  # an acquisition under way ends, then its place is released
        for th in self._threads:
            if th.ident is not None:  # (started: an interrupt may come between filing and starting)
                th.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            held = list(self.held.values())
            self.held.clear()
            self._ready.clear()
            tokens = list(self._tokens)
        for place in held:
            self._release(place)
        for token in tokens:
            self.client.cancel(token)
        # a reservation filed when the run was interrupted, before its token came back: the
        # run's owner name is its own, so what it still owns is what it left
        try:
            for r in self.client.reservations():
                if str(r.get("owner", "")).endswith("/" + self.client.user) and r.get("token") not in tokens:
                    self.client.cancel(str(r["token"]))
        except labgrid.LabgridError as e:
            self.log(f"farm: could not sweep reservations: {e}")


def served_url(client: labgrid.Client, place: str, timeout: float = 15.0) -> str:
    """The acquired place's RFC 2217 URL, once its exporter serves it (the port is announced just
    after the acquisition)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return client.show(place).serial_url()
        except labgrid.LabgridError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def healthy_places(client: labgrid.Client, pool: str) -> list[labgrid.PlaceInfo]:
    """The pool's places whose health is ok."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as ex:
        infos = list(ex.map(client.show, client.places()))
    return [i for i in infos if i.tags.get("pool") == pool and i.tags.get("health") == "ok"]


def acquire(client: labgrid.Client, pool_tag: str, count: int, timeout: float = 300.0,
            log: Callable[[str], None] = print) -> tuple[Pool, list[Place]]:
    """`count` places of the pool, held until `pool.close()` (which the caller must call)."""
    pool = Pool(client, pool_tag, count, log=log)
    try:
        pool.start()
        got: list[Place] = []
        deadline = time.monotonic() + timeout
        while len(got) < count:
            place = pool.take()
            if place is not None:
                got.append(place)
                continue
            if time.monotonic() > deadline:
                raise labgrid.LabgridError(f"{count} place(s) of pool {pool_tag!r} were not allocated within "
                                           f"{timeout:.0f} s (held by other runs, or unhealthy?)")
            time.sleep(0.1)
        return pool, got
    except BaseException:
        pool.close()
        raise
