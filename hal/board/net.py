# net.py (board) — UDP and TCP through the port's socket module (Pico W's CYW43, STM32 Ethernet),
# and the devkit's LAN9118 Ethernet (lwIP), non-blocking.
import select
import socket

MAX_DATAGRAM = 1500


class Udp:
    def __init__(self, local_port=0):
        self._s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._s.bind(socket.getaddrinfo("0.0.0.0", local_port)[0][-1])
        self._s.setblocking(False)
        self.port = local_port
        self._to = None  # (host, port, resolved address) of the last sendto
        self._poll = select.poll()
        self._poll.register(self._s, select.POLLIN)

    def sendto(self, data, host, port):
        to = self._to
        if to is None or to[0] != host or to[1] != port:  # resolved once per destination
            to = self._to = (host, port, socket.getaddrinfo(host, port)[0][-1])
        self._s.sendto(data, to[2])

    def recv(self):
        """The next datagram (bytes), or None when none is waiting: the media path's receive,
        without recvfrom's address tuple or the exception of an empty non-blocking read. (Not
        readinto: on a socket that is a stream read, which joins queued datagrams until the
        buffer is full.)"""
        for _ in self._poll.ipoll(0):
            try:
                return self._s.recv(MAX_DATAGRAM)
            except OSError:
                return None
        return None

    def recvfrom(self):
        try:
            data, addr = self._s.recvfrom(MAX_DATAGRAM)
        except OSError:
            return None
        return data, addr[0] if isinstance(addr, tuple) else addr, addr[1] if isinstance(addr, tuple) else 0

    def close(self):
        self._s.close()


class Tcp:
    def __init__(self, host, port):
        self._s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._s.connect(socket.getaddrinfo(host, port)[0][-1])
        self._s.setblocking(False)
        self.connected = True
        self._poll = select.poll()
        self._poll.register(self._s, select.POLLIN)

    def send(self, data):
        self._s.send(data)

    def recv(self, max_bytes=1024):
        """Bytes that have arrived (up to max_bytes), b"" when the peer closed, None when nothing
        waits. The socket is asked only when poll says it has something: an empty non-blocking
        recv would allocate max_bytes and an exception to say so (callers poll every few ms)."""
        for _ in self._poll.ipoll(0):
            try:
                data = self._s.recv(max_bytes)
            except OSError:
                return None
            if not data:
                self.connected = False
            return data
        return None

    def close(self):
        self.connected = False
        self._s.close()
