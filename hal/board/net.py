# net.py (board) — UDP and TCP through the port's socket module (Pico W's CYW43, STM32 Ethernet),
# non-blocking, as the vdk backend behaves.
import socket


class Udp:
    def __init__(self, local_port=0):
        self._s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._s.bind(socket.getaddrinfo("0.0.0.0", local_port)[0][-1])
        self._s.setblocking(False)
        self.port = local_port

    def sendto(self, data, host, port):
        self._s.sendto(data, socket.getaddrinfo(host, port)[0][-1])

    def recvfrom(self):
        try:
            data, addr = self._s.recvfrom(1500)
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

    def send(self, data):
        self._s.send(data)

    def recv(self, max_bytes=1024):
        try:
            data = self._s.recv(max_bytes)
        except OSError:
            return None
        if not data:
            self.connected = False
        return data

    def close(self):
        self.connected = False
        self._s.close()
