# app.py — the application: asyncio tasks under a watchdog-style supervisor.
#
# Every long-running task beats (App.beat) at least once per WATCHDOG_MS; the watchdog task
# checks the beats once a second, records the heap, feeds the hardware watchdog where there is
# one, and resets the device when a task has stopped beating (as a hardware watchdog would) or
# when a reset was requested over the console. On the virtual devkit the tasks run beside the
# REPL (its asyncio runs while the REPL is idle); on boards asyncio.run() owns the CPU and
# Ctrl-C returns to the REPL.
import asyncio
import gc
import time

import hal
from edgecall import log
from edgecall.console import Console
from edgecall.mgmt import Mgmt

WATCHDOG_MS = 8000
CONFIRM_AFTER_MS = 3000  # the console healthy this long: the image confirms itself (image_ok)
HEAP_HISTORY = 64


class App:
    def __init__(self):
        self.started_ms = time.ticks_ms()
        self.heap_history = []
        self.beats = {}
        self.to_bootloader = False
        self.confirmed = False
        self.console = Console(hal.part("console"))
        self.mgmt = Mgmt(self.console, self)

    def beat(self, name):
        self.beats[name] = time.ticks_ms()

    def unbeat(self, name):
        """A task that ended on purpose: the watchdog stops expecting its beat."""
        self.beats.pop(name, None)

    def task_health(self):
        now = time.ticks_ms()
        return {k: time.ticks_diff(now, v) for k, v in self.beats.items()}

    def request_reset(self, force=0, bootloader=False):
        """Resets (or enters the bootloader) shortly, once the console's response has gone out."""
        self.to_bootloader = bool(bootloader)
        asyncio.create_task(self._reset_soon())

    async def _reset_soon(self):
        await asyncio.sleep_ms(100)
        import machine

        if self.to_bootloader:
            machine.bootloader()
        machine.reset()

    def check_confirm(self, now):
        if self.confirmed or time.ticks_diff(now, self.started_ms) < CONFIRM_AFTER_MS:
            return
        if time.ticks_diff(now, self.beats.get("console", self.started_ms)) > 2000:
            return
        self.confirmed = True
        try:
            if hal.part("boot").confirm():
                log.info("image confirmed")
        except OSError as e:
            log.error("image confirm failed: %r" % (e,))

    async def console_task(self):
        while True:
            self.beat("console")
            busy = await self.console.poll()
            await asyncio.sleep_ms(0 if busy else 10)

    async def watchdog_task(self):
        wdt = None
        try:
            import machine

            wdt = machine.WDT(timeout=WATCHDOG_MS)
        except (ImportError, AttributeError, ValueError):
            wdt = None
        while True:
            now = time.ticks_ms()
            gc.collect()
            self.heap_history.append([time.ticks_diff(now, self.started_ms), gc.mem_alloc()])
            if len(self.heap_history) > HEAP_HISTORY:
                self.heap_history.pop(0)
            stale = [k for k, v in self.beats.items() if time.ticks_diff(now, v) > WATCHDOG_MS]
            if stale:
                log.error("watchdog: no beat from %s; resetting" % ",".join(stale))
            self.check_confirm(now)
            if stale:
                import machine

                machine.reset()
            if wdt is not None:
                wdt.feed()
            await asyncio.sleep_ms(1000)

    async def call_task(self):
        """Joins the channel at boot when the device is provisioned and call/server is set."""
        from edgecall import call

        svc = call.get(self)
        if svc.configured():
            try:
                svc.start()
            except (OSError, ValueError) as e:
                log.error("call service: %r" % (e,))

    def tasks(self):
        return [self.console_task(), self.watchdog_task(), self.call_task()]


app = None


def start():
    """Starts the application; on boards it runs until interrupted."""
    global app
    app = App()
    log.info("app start")
    async def main():
        await asyncio.gather(*app.tasks())

    asyncio.run(main())
    return app
