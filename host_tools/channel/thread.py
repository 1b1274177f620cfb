"""The channel server on an event loop of its own, in a background thread, for synchronous
callers (the HIL runner, the pytest plugin): start, reconfigure, cut a member's link, stop."""
from __future__ import annotations

import asyncio
import threading
from dataclasses import asdict
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from host_tools.channel.impair import Impairment
from host_tools.channel.server import ChannelServer

T = TypeVar("T")


class ServerThread:
    def __init__(self, app_id: str, app_cert: bytes, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="channel-server", daemon=True)
        self._thread.start()
        self.server = ChannelServer(app_id, app_cert, **options)
        self._call(self.server.start())

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def run(self, fn: Callable[[ChannelServer], T]) -> T:
        """fn(server) on the server's loop (its state is not thread-safe); returns the result."""
        async def call() -> T:
            return fn(self.server)

        return self._call(call())

    def set_impairment(self, imp: Impairment, seed: int | None = None) -> None:
        self.run(lambda s: s.set_impairment(imp, seed))

    def outage(self, uid: str, seconds: float) -> None:
        self.run(lambda s: s.outage(uid, seconds))

    def snapshot(self) -> dict[str, Any]:
        """Members, calls and counters (the relay's bindings and dropped datagrams too), for reports."""
        def snap(s: ChannelServer) -> dict[str, Any]:
            return {"members": sorted(f"{ch}/{uid}" for ch, uid in s.members), "calls": len(s.calls),
                    "joins": s.stats.joins, "refused": dict(s.stats.refused), "forwarded": s.stats.forwarded,
                    "bad_messages": s.stats.bad_messages, "internal_errors": s.stats.internal_errors,
                    "send_errors": s.stats.send_errors, "relay": asdict(s.relay_stats),
                    "links": {f"{a}->{b}": dict(link.stats) for (a, b), link in s.links.items()}}

        return self.run(snap)

    def stop(self) -> None:
        if not self._loop.is_running():
            return
        async def shutdown() -> None:
            await self.server.stop()
            # connections of devices that stay joined were closed: let their tasks end, before the
            # loop does (what has not ended in a second is cancelled)
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            if tasks:
                _, late = await asyncio.wait(tasks, timeout=1.0)
                for t in late:
                    t.cancel()
                await asyncio.gather(*late, return_exceptions=True)

        try:
            self._call(shutdown())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()

    def __enter__(self) -> ServerThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
