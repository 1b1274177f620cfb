# app.py — the application: asyncio tasks under a watchdog-style supervisor.
#
# Every long-running task beats (App.beat) at least once per WATCHDOG_MS; the watchdog task
# checks the beats once a second, feeds the hardware watchdog where there is one, and resets the
# device when a task has stopped beating (as a hardware watchdog would) or when a reset was
# requested over the console. Every HEAP_EVERY_MS it collects garbage and records the heap in use
# (heap_history): gc.mem_alloc() walks the whole heap, and between records MicroPython collects by
# itself when an allocation finds the heap full, so neither is needed every second. The console
# task sleeps until input arrives where hal's console can wait for it (console_task). On the
# virtual devkit the tasks run beside the REPL (its asyncio runs while the REPL is idle); on
# boards asyncio.run() owns the CPU and Ctrl-C returns to the REPL.
import asyncio
import gc
import time

import hal
from edgecall import log
from edgecall.console import Console
from edgecall.mgmt import Mgmt

WATCHDOG_MS = 8000
CONSOLE_POLL_MS = 10  # the console task's sleep between reads: input gathers in the UART's ring
CONFIRM_AFTER_MS = 3000  # the console healthy this long: the image confirms itself (image_ok)
HEAP_HISTORY = 64
HEAP_EVERY_MS = 5000  # heap_history's period: 64 records span 5 minutes


class App:
    def __init__(self):
        self.started_ms = time.ticks_ms()
        self.heap_history = []
        self.beats = {}
        self.to_bootloader = False
        self.confirmed = False
        self.console_waiting = False  # the console task is waiting for input (alive, not beating)
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
        """Serves the console. Where hal's console can wait for input (wait_input), the task
        sleeps until some arrives rather than polling every CONSOLE_POLL_MS (a wake-up of the
        device every 10 ms while idle), then gives the rest of the request CONSOLE_POLL_MS to
        arrive, as the poll did; while it waits the watchdog beats for it (the task is alive:
        the loop that would wake it runs the watchdog too)."""
        wait_input = getattr(self.console.port, "wait_input", None)
        while True:
            self.beat("console")
            if await self.console.poll():
                await asyncio.sleep_ms(0)
                continue
            if wait_input is not None:
                self.console_waiting = True
                try:
                    await wait_input()
                finally:
                    self.console_waiting = False
                self.beat("console")
            await asyncio.sleep_ms(CONSOLE_POLL_MS)

    async def watchdog_task(self):
        wdt = None
        try:
            import machine

            wdt = machine.WDT(timeout=WATCHDOG_MS)
        except (ImportError, AttributeError, ValueError):
            wdt = None
        next_heap = time.ticks_ms()
        while True:
            now = time.ticks_ms()
            if time.ticks_diff(now, next_heap) >= 0:
                gc.collect()
                self.heap_history.append([time.ticks_diff(now, self.started_ms), gc.mem_alloc()])
                if len(self.heap_history) > HEAP_HISTORY:
                    self.heap_history.pop(0)
                next_heap = time.ticks_add(now, HEAP_EVERY_MS)
            if self.console_waiting:
                self.beat("console")
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
