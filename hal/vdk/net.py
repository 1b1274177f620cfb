"""UDP and TCP through the devkit's host network stack (Node, in the device's main thread).

Everything is non-blocking. Errors raise OSError with Linux errno numbers, as on a board.
"""
from _vdkhal import (
    tcp_avail, tcp_close, tcp_error, tcp_open, tcp_send, tcp_state, tcp_take, udp_close,
    udp_dropped, udp_open, udp_peek, udp_port, udp_send, udp_take,
)

from hal.vdk._buf import nbytes

_EBADF = 9


class Udp:
    """A UDP socket bound to local_port (0: any) on local_host ("": every interface)."""

    def __init__(self, local_port: int = 0, local_host: str = "") -> None:
        h = udp_open(local_port, local_host)
        if h < 0:
            raise OSError(-h)
        self._h = h
        self.port = udp_port(h)

    def sendto(self, data, host: str, port: int) -> int:
        nbytes(data)
        rc = udp_send(self._h, host, port, id(data))
        if rc < 0:
            raise OSError(-rc if rc > -100 else _EBADF)
        return rc

    def recvfrom(self) -> tuple | None:
        """(data, host, port) of the next datagram, or None. At most 32 wait; see dropped."""
        n = udp_peek(self._h)
        if n == -1:
            return None
        if n < 0:
            raise OSError(-n)
        data = bytes(n)
        src = udp_take(self._h, id(data))
        if not isinstance(src, str) or not src:
            raise OSError(_EBADF)
        port, host = src.split(" ", 1)
        return data, host, int(port)

    def recv(self):
        """The next datagram (bytes), or None when none is waiting."""
        got = self.recvfrom()
        return None if got is None else got[0]

    @property
    def dropped(self) -> int:
        return udp_dropped(self._h)

    def close(self) -> None:
        if self._h:
            udp_close(self._h)
            self._h = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Tcp:
    """A TCP connection to host:port; connecting goes on in the background (see connected)."""

    def __init__(self, host: str, port: int) -> None:
        self._h = tcp_open(host, port)

    @property
    def connected(self) -> bool:
        return tcp_state(self._h) == 1

    @property
    def error(self) -> int:
        """errno of a failed or reset connection (0: none)."""
        return tcp_error(self._h) if self._h else 0

    def send(self, data) -> int:
        """Queues bytes; returns how many were taken (0 while 64 KiB are still in flight)."""
        nbytes(data)
        rc = tcp_send(self._h, id(data))
        if rc < 0:
            raise OSError(-rc if rc > -100 else _EBADF)
        return rc

    def recv(self, max: int = 4096) -> bytes | None:
        """Up to max bytes; None: nothing yet; b"": closed (see error)."""
        n = tcp_avail(self._h)
        if n > 0:
            data = bytes(n if n < max else max)
            tcp_take(self._h, id(data))
            return data
        if n == 0:
            return None
        if n == -1:
            return b""
        raise OSError(-n)

    def close(self) -> None:
        if self._h:
            tcp_close(self._h)
            self._h = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
