# console.py — the device console: an SMP server on hal's console stream.
#
# Requests are SMP packets (see smp.py) framed on the serial port beside the REPL. Handlers are
# registered per (group, command id); each takes the request's CBOR map and the operation and
# returns the response map, or raises MgmtError(rc); a handler may also be a coroutine (async def),
# which lets long work yield to the event loop — on the virtual devkit garbage is only collected
# when control returns to the loop. Anything malformed gets an error frame when
# a header can be read (EINVAL, ENOTSUP, EMSGSIZE), or is dropped and counted; the app keeps
# running whatever arrives.
import sys

from edgecall import cbor, log, smp

# What poll() gives when nothing has arrived: on MicroPython an exhausted iterator, made once
# (`await` there takes any iterator: this one gives None at once, allocating nothing); elsewhere
# (CPython runs the firmware's tests) None, and poll() makes a coroutine as usual.
_NOTHING = iter(()) if sys.implementation.name == "micropython" else None


class MgmtError(Exception):
    """Raised by a handler with an mcumgr return code: MgmtError(rc[, reason]) (args[0], args[1])."""


class Console:
    def __init__(self, port):
        self.port = port  # hal console part: read() -> bytes, write(bytes)
        self.decoder = smp.Decoder()
        self.handlers = {}
        self.stats = {"requests": 0, "errors": 0, "dropped": 0}

    def register(self, group, cmd, handler):
        self.handlers[(group, cmd)] = handler

    def _send(self, body):
        for frame in smp.frames(body):
            self.port.write(frame)

    async def handle(self, body):
        """One packet body in; the response body out (None if no header could be read)."""
        try:
            hdr = smp.parse_header(body)
        except ValueError:
            self.stats["dropped"] += 1
            return None
        if hdr["op"] not in (smp.OP_READ, smp.OP_WRITE):
            self.stats["dropped"] += 1  # a response or unknown op: not for us
            return None
        self.stats["requests"] += 1
        if hdr["length"] != len(body) - 8:
            self.stats["errors"] += 1
            return smp.error(hdr, smp.EMSGSIZE)
        handler = self.handlers.get((hdr["group"], hdr["id"]))
        if handler is None:
            self.stats["errors"] += 1
            return smp.error(hdr, smp.ENOTSUP)
        try:
            req = cbor.decode(body[8:])
        except ValueError:
            self.stats["errors"] += 1
            return smp.error(hdr, smp.EINVAL)
        if not isinstance(req, dict):
            self.stats["errors"] += 1
            return smp.error(hdr, smp.EINVAL)
        try:
            rsp = handler(req, hdr["op"] == smp.OP_WRITE)
            if hasattr(rsp, "send"):  # a coroutine: run it to completion
                rsp = await rsp
        except MgmtError as e:
            self.stats["errors"] += 1
            return smp.error(hdr, e.args[0], rsn=e.args[1] if len(e.args) > 1 else None)
        except MemoryError:
            self.stats["errors"] += 1
            return smp.error(hdr, smp.ENOMEM)
        except Exception as e:  # a handler bug must not stop the console
            self.stats["errors"] += 1
            log.error("console handler %d/%d: %r" % (hdr["group"], hdr["id"], e))
            return smp.error(hdr, smp.EUNKNOWN)
        try:
            return smp.response(hdr, rsp)
        except ValueError:
            return smp.error(hdr, smp.EUNKNOWN)

    def poll(self):
        """An awaitable that handles whatever has arrived; awaited, True if anything did (else a
        false value). The app polls every 10 ms: on MicroPython nothing is allocated when nothing
        has arrived (no coroutine is made: the awaitable is _NOTHING)."""
        data = self.port.read()
        if not data and _NOTHING is not None:
            return _NOTHING
        return self._serve(data)

    async def _serve(self, data):
        if not data:
            return False
        for body in self.decoder.feed(data):
            out = await self.handle(body)
            if out is not None:
                self._send(out)
        return True
