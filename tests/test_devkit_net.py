"""The ARM devkit's network through the standard socket module: lwIP (MicroPython's modlwip) over
the board's LAN9118 driver (hal/devkit), with QEMU's user-mode network (`-nic user`: the board
gets 10.0.2.15 by DHCP; 10.0.2.2 is this machine's loopback) and `-netdev dgram` between two
devkits. Real QEMU running the devkit firmware, driven through mpremote's raw REPL on the pty;
real UDP and TCP servers on 127.0.0.1. Throughput and the idle CPU of a devkit are printed
(`pytest -s`)."""
from __future__ import annotations

import abc

import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent
from types import TracebackType
from typing import Self

import pytest
from mpremote.transport_serial import SerialTransport

from host_tools.native import devkit
from host_tools.paths import ROOT

UID = "0102030405060708"
BOOT_TIMEOUT = 20.0
DATAGRAMS = 500          # each way, 200 bytes each, paced at RATE per second: 5 s
DATAGRAM_BYTES = 200
RATE = 100


class DeviceError(RuntimeError):
    """Code on the devkit raised; the message is its traceback."""


class Devkit:
    """One devkit under QEMU, its UART on a pty driven by mpremote's raw REPL."""

    def __init__(self, firmware: Path, workdir: Path, uid: str, net: list[str]) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / "qemu.log"
        cmd = ["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none",
               "-semihosting-config", "enable=on,target=native", "-serial", "pty", "-no-reboot",
               *net, "-kernel", str(firmware), "-append", f"uid={uid} reset=1 time={int(time.time())}"]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
        self.port = self._pty()
        self.transport = SerialTransport(self.port, baudrate=115200)
        self.transport.enter_raw_repl(soft_reset=True)

    def _pty(self) -> str:
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            m = re.search(r"char device redirected to (/dev/pts/\d+)", self.log.read_text(errors="replace"))
            if m:
                return m.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.proc.kill()
        raise RuntimeError(f"QEMU gave no pty: {self.log.read_text(errors='replace')[-2000:]}")

    def run(self, code: str, timeout: float = 30) -> str:
        out: bytes
        err: bytes
        out, err = self.transport.exec_raw(dedent(code), timeout=timeout)
        if err:
            raise DeviceError(err.decode(errors="replace"))
        return out.decode(errors="replace")

    def value(self, code: str, timeout: float = 30) -> object:
        """The value of the last line of code's output, a Python literal."""
        out = self.run(code, timeout).strip().splitlines()
        return eval(out[-1], {})  # the device prints repr() of str/int/float/tuple/dict only

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        try:
            self.transport.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def firmware() -> Path:
    return devkit.build().bin


@pytest.fixture(scope="module")
def board(firmware: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devkit]:
    dev = Devkit(firmware, tmp_path_factory.mktemp("devkit"), UID, ["-nic", "user"])
    try:
        yield dev
    finally:
        dev.close()


# ---- servers on this machine's loopback

class Server(abc.ABC):
    """A socket on 127.0.0.1 served by a thread until the context ends (serve() per kind)."""

    def __init__(self, kind: int) -> None:
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)

    @abc.abstractmethod
    def serve(self) -> None:
        """Answers on self.sock until self.stop is set."""

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop.set()
        self.sock.close()
        self.thread.join(timeout=5)


class UdpEcho(Server):
    def __init__(self) -> None:
        super().__init__(socket.SOCK_DGRAM)
        self.sock.settimeout(0.2)

    def serve(self) -> None:
        while not self.stop.is_set():
            try:
                data, addr = self.sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            self.sock.sendto(data, addr)


class TcpEcho(Server):
    """Echoes every connection; with silent=True accepts and reads but never answers."""

    def __init__(self, silent: bool = False) -> None:
        super().__init__(socket.SOCK_STREAM)
        self.silent = silent
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.received = 0
        self.first = self.last = 0.0

    def serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self.echo, args=(conn,), daemon=True).start()

    def echo(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            try:
                while data := conn.recv(65536):
                    self.last = time.monotonic()
                    if not self.received:
                        self.first = self.last
                    self.received += len(data)
                    if not self.silent:
                        conn.sendall(data)
            except OSError:
                pass


# ---- the interface

def test_dhcp_gives_the_board_an_address(board: Devkit) -> None:
    got = board.value("""
        import network, time
        n = network.LAN()
        t = time.ticks_ms()
        while not n.isconnected() and time.ticks_diff(time.ticks_ms(), t) < 5000:
            time.sleep_ms(10)
        print(repr((n.active(), n.isconnected(), n.status(), n.ipconfig('addr4'), n.ipconfig('gw4'),
                    n.ipconfig('dhcp4'), network.ipconfig('dns'), n.config('mac'), repr(n))))
    """)
    assert isinstance(got, tuple)
    active, connected, status, addr4, gw4, dhcp4, dns, mac, text = got
    assert (active, connected, status) == (True, True, 3)
    assert addr4 == ("10.0.2.15", "255.255.255.0")
    assert gw4 == "10.0.2.2" and dns == "10.0.2.3" and dhcp4 is True
    assert isinstance(mac, bytes) and len(mac) == 6 and mac[0] == 0x02  # locally administered, unicast
    assert text == "<LAN 3 10.0.2.15>"


def test_interface_goes_down_and_up_again(board: Devkit) -> None:
    got = board.value("""
        import network, time
        n = network.LAN()
        mac = n.config('mac')
        try:
            n.config(mac=b'\\x02\\x00\\x00\\x00\\x00\\x01')
            busy = False
        except OSError as e:
            busy = 'inactive' in str(e)
        n.active(False)
        down = (n.active(), n.isconnected(), n.status())
        n.config(mac=b'\\x02\\x00\\x00\\x00\\x00\\x01')
        changed = n.config('mac')
        n.config(mac=mac)
        n.active(True)
        t = time.ticks_ms()
        while not n.isconnected() and time.ticks_diff(time.ticks_ms(), t) < 5000:
            time.sleep_ms(10)
        print(repr((busy, down, changed, n.isconnected(), n.ipconfig('addr4')[0], n.config('mac') == mac)))
    """)
    assert got == (True, (False, False, 0), b"\x02\x00\x00\x00\x00\x01", True, "10.0.2.15", True)


def test_bad_arguments_are_refused(board: Devkit) -> None:
    got = board.value("""
        import network
        n = network.LAN()
        out = []
        for f in (lambda: network.LAN(1), lambda: n.config('nonsense'), lambda: n.status('nonsense'),
                  lambda: n.config(mac=b'123'), lambda: n.ipconfig(addr4='not-an-address')):
            try:
                f()
                out.append('ok')
            except (ValueError, TypeError) as e:
                out.append(type(e).__name__)
        print(repr(out))
    """)
    assert got == ["ValueError"] * 5


# ---- UDP and TCP to servers on this machine

def test_udp_echo_through_the_host(board: Devkit) -> None:
    with UdpEcho() as echo:
        got = board.value(f"""
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(3)
            a = socket.getaddrinfo('10.0.2.2', {echo.port})[0][-1]
            out = []
            for n in (1, 200, 1472):
                s.sendto(bytes(i & 255 for i in range(n)), a)
                d, peer = s.recvfrom(2048)
                out.append((d == bytes(i & 255 for i in range(n)), peer))
            s.close()
            print(repr(out))
        """)
    assert got == [(True, ("10.0.2.2", echo.port))] * 3


def test_tcp_connect_send_recv_and_peer_close(board: Devkit) -> None:
    with TcpEcho() as echo:
        got = board.value(f"""
            import socket
            s = socket.socket()
            s.settimeout(5)
            s.connect(socket.getaddrinfo('10.0.2.2', {echo.port})[0][-1])
            data = bytes(i * 7 & 255 for i in range(20000))
            s.write(data)
            back = b''
            while len(back) < len(data):
                back += s.recv(4096)
            s.close()
            print(repr((back == data, len(back))))
        """)
        assert echo.received == 20000
    assert got == (True, 20000)


def test_peer_close_reads_as_end_of_stream(board: Devkit) -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]

    def close_after_greeting() -> None:
        # Answers only once the device has spoken: a peer that closes before connect() returns
        # trips modlwip (connect raises OSError with a meaningless number, on boards too).
        conn, _ = srv.accept()
        conn.settimeout(10)
        conn.recv(10)
        conn.sendall(b"bye")
        conn.close()

    t = threading.Thread(target=close_after_greeting, daemon=True)
    t.start()
    try:
        got = board.value(f"""
            import socket
            s = socket.socket()
            s.settimeout(5)
            s.connect(socket.getaddrinfo('10.0.2.2', {port})[0][-1])
            s.send(b'hi')
            out = []
            while True:
                d = s.recv(100)
                out.append(d)
                if not d:
                    break
            print(repr(out))
        """)
    finally:
        t.join(timeout=5)
        srv.close()
    assert got == [b"bye", b""]


def test_many_datagrams_both_ways(board: Devkit) -> None:
    """500 datagrams of 200 bytes each way at once, 100/s each for 5 s; losses counted."""
    host = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    host.bind(("127.0.0.1", 0))
    host.settimeout(0.5)
    port = host.getsockname()[1]
    received: set[int] = set()
    times: list[float] = []
    sender_times: list[float] = []

    def host_side() -> None:
        started = False
        last = time.monotonic()
        deadline = last + 30
        while time.monotonic() < deadline:
            try:
                data, addr = host.recvfrom(2048)
            except (TimeoutError, OSError):
                if started and time.monotonic() - last > 2:
                    return
                continue
            last = time.monotonic()
            if data == b"start":
                started = True
                threading.Thread(target=send_stream, args=(addr,), daemon=True).start()
            elif len(data) == DATAGRAM_BYTES:
                received.add(int.from_bytes(data[:4], "big"))
                times.append(time.monotonic())

    def send_stream(addr: tuple[str, int]) -> None:
        t0 = time.monotonic()
        for i in range(DATAGRAMS):
            delay = t0 + i / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            host.sendto(i.to_bytes(4, "big") + bytes(DATAGRAM_BYTES - 4), addr)
            sender_times.append(time.monotonic())

    t = threading.Thread(target=host_side, daemon=True)
    t.start()
    try:
        dev = board.value(f"""
            import socket, select, time
            N, SIZE, PERIOD = {DATAGRAMS}, {DATAGRAM_BYTES}, {1000 // RATE}
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setblocking(False)
            dst = socket.getaddrinfo('10.0.2.2', {port})[0][-1]
            p = select.poll()
            p.register(s, select.POLLIN)
            seen = bytearray(N)
            pad = bytes(SIZE - 4)
            got = bad = sent = 0
            s.sendto(b'start', dst)
            t0 = time.ticks_ms()
            first = last = None
            while True:
                now = time.ticks_ms()
                while sent < N and time.ticks_diff(now, time.ticks_add(t0, sent * PERIOD)) >= 0:
                    s.sendto(sent.to_bytes(4, 'big') + pad, dst)
                    sent += 1
                wait = PERIOD if sent < N else 100
                for _ in p.poll(wait):
                    while True:
                        try:
                            d = s.recv(SIZE + 1)
                        except OSError:
                            break
                        i = int.from_bytes(d[:4], 'big')
                        if len(d) != SIZE or i >= N:
                            bad += 1
                        elif not seen[i]:
                            seen[i] = 1
                            got += 1
                        last = time.ticks_ms()
                        if first is None:
                            first = last
                if sent == N and (got == N or time.ticks_diff(time.ticks_ms(), last or t0) > 2000):
                    break
            s.close()
            print(repr({{'sent': sent, 'got': got, 'bad': bad, 'span_ms': time.ticks_diff(last, first)}}))
        """, timeout=60)
    finally:
        t.join(timeout=35)
        host.close()
    assert isinstance(dev, dict)
    down_lost = DATAGRAMS - dev["got"]
    up_lost = DATAGRAMS - len(received)
    up_rate = len(received) / (times[-1] - times[0])
    down_rate = dev["got"] / (dev["span_ms"] / 1000)
    print(f"\ndevkit-net: {DATAGRAMS} x {DATAGRAM_BYTES} B each way at {RATE}/s: device->host {up_rate:.0f}/s "
          f"lost {up_lost}; host->device {down_rate:.0f}/s lost {down_lost}")
    assert dev["sent"] == DATAGRAMS and dev["bad"] == 0
    assert len(sender_times) == DATAGRAMS
    assert up_lost <= DATAGRAMS // 100 and down_lost <= DATAGRAMS // 100, (up_lost, down_lost)
    assert up_rate >= 50 and down_rate >= 50
    assert times[-1] - times[0] >= 4.5 and dev["span_ms"] >= 4500  # sustained for 5 s


def test_throughput(board: Devkit) -> None:
    """As fast as the devkit goes: UDP datagrams to a host sink, TCP both ways (printed)."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sink.settimeout(2)
    count = 0
    stamps: list[float] = []

    def drain() -> None:
        nonlocal count
        try:
            while True:
                sink.recv(2048)
                count += 1
                stamps.append(time.monotonic())
        except (TimeoutError, OSError):
            pass

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    n = 5000
    board.run(f"""
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        a = socket.getaddrinfo('10.0.2.2', {sink.getsockname()[1]})[0][-1]
        d = bytes({DATAGRAM_BYTES})
        for i in range({n}):
            s.sendto(d, a)
        s.close()
    """, timeout=120)
    t.join(timeout=10)
    sink.close()
    host_s = max(stamps[-1] - stamps[0], 1e-3) if stamps else 1e9
    udp_rate = count / host_s

    with TcpEcho(silent=True) as up:
        board.run(f"""
            import socket
            s = socket.socket()
            s.connect(socket.getaddrinfo('10.0.2.2', {up.port})[0][-1])
            d = bytes(1024)
            for i in range(512):
                s.write(d)
            s.close()
        """, timeout=120)
        deadline = time.monotonic() + 10
        while up.received < 512 * 1024 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert up.received == 512 * 1024
        up_kbs = 512 / max(up.last - up.first, 1e-3)

    src = socket.socket()
    src.bind(("127.0.0.1", 0))
    src.listen(1)
    down_s = 0.0

    def push() -> None:
        # From the first byte sent to the device's close after it read the last one.
        nonlocal down_s
        conn, _ = src.accept()
        with conn:
            t0 = time.monotonic()
            conn.sendall(bytes(512 * 1024))
            conn.settimeout(30)
            conn.recv(1)
            down_s = time.monotonic() - t0

    pusher = threading.Thread(target=push, daemon=True)
    pusher.start()
    got = board.value(f"""
        import socket
        s = socket.socket()
        s.connect(socket.getaddrinfo('10.0.2.2', {src.getsockname()[1]})[0][-1])
        buf = bytearray(2048)
        n = 0
        while n < 512 * 1024:
            k = s.readinto(buf)
            if not k:
                break
            n += k
        s.close()
        print(n)
    """, timeout=120)
    pusher.join(timeout=35)
    src.close()
    assert got == 512 * 1024 and down_s > 0
    down_kbs = 512 / down_s
    print(f"\ndevkit-net: UDP device->host {count}/{n} datagrams of {DATAGRAM_BYTES} B, {udp_rate:.0f}/s "
          f"({udp_rate * DATAGRAM_BYTES / 1024:.0f} KB/s) at the host; "
          f"TCP device->host {up_kbs:.0f} KB/s, host->device {down_kbs:.0f} KB/s (host clock)")
    assert count >= n * 0.9  # what the host's socket buffer dropped is the host's, not the link's
    assert udp_rate >= 500 and up_kbs >= 100 and down_kbs >= 100


# ---- errors, timeouts, non-blocking, poll, asyncio

def test_timeouts_and_refusals_as_on_a_board(board: Devkit) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    got = board.value(f"""
        import socket, time, errno
        def timed(f):
            t = time.ticks_ms()
            try:
                f()
                r = 'ok'
            except OSError as e:
                r = errno.errorcode.get(e.errno, e.errno)
            return r, time.ticks_diff(time.ticks_ms(), t)
        out = {{}}
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(0.3)
        out['udp_timeout'] = timed(lambda: u.recv(10))
        u.sendto(b'anyone?', socket.getaddrinfo('10.0.2.2', {port})[0][-1])
        out['udp_closed_port'] = timed(lambda: u.recv(10))
        u.setblocking(False)
        out['udp_nonblocking'] = timed(lambda: u.recv(10))
        u.close()
        def connect(addr, timeout):
            s = socket.socket()
            s.settimeout(timeout)
            try:
                s.connect(socket.getaddrinfo(addr, {port})[0][-1])
            finally:
                s.close()
        out['tcp_closed_port'] = timed(lambda: connect('10.0.2.2', 5))
        out['tcp_no_such_host'] = timed(lambda: connect('10.0.2.99', 1))
        s = socket.socket()
        out['tcp_recv_not_connected'] = timed(lambda: s.recv(1))
        s.close()
        print(repr(out))
    """)
    assert isinstance(got, dict)
    assert got["udp_timeout"][0] == "ETIMEDOUT" and 250 <= got["udp_timeout"][1] < 1000
    assert got["udp_closed_port"][0] == "ETIMEDOUT"
    assert got["udp_nonblocking"][0] == "EAGAIN" and got["udp_nonblocking"][1] < 50
    # lwIP (Pico W, STM32 boards) reports the server's RST to a connect as ECONNRESET, at once.
    assert got["tcp_closed_port"][0] == "ECONNRESET" and got["tcp_closed_port"][1] < 2000
    # No ARP answer for 10.0.2.99: the connect times out after the socket's timeout.
    assert got["tcp_no_such_host"][0] == "ETIMEDOUT" and 900 <= got["tcp_no_such_host"][1] < 3000
    assert got["tcp_recv_not_connected"][0] == "ENOTCONN"


def test_nonblocking_connect_and_poll(board: Devkit) -> None:
    with TcpEcho() as echo, UdpEcho() as uecho:
        got = board.value(f"""
            import socket, select, errno, time
            def connect(addr, port):
                s = socket.socket()
                s.setblocking(False)
                try:
                    s.connect(socket.getaddrinfo(addr, port)[0][-1])
                    return s, 'connected'  # a fast peer can answer before connect() returns
                except OSError as e:
                    return s, errno.errorcode[e.errno]
            out = []
            pending, how = connect('10.0.2.99', 80)  # no such host: the SYN waits for ARP
            out.append(how)
            pending.close()
            s, how = connect('10.0.2.2', {echo.port})
            out.append(how in ('EINPROGRESS', 'connected'))
            p = select.poll()
            p.register(s, select.POLLOUT)
            out.append([ev for _, ev in p.poll(3000)])
            s.send(b'polled')
            p.modify(s, select.POLLIN)
            out.append([ev for _, ev in p.poll(3000)])
            out.append(s.recv(100))
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            p.register(u, select.POLLIN)
            u.sendto(b'dgram', socket.getaddrinfo('10.0.2.2', {uecho.port})[0][-1])
            ready = p.poll(3000)
            out.append([(o is u, ev) for o, ev in ready])
            out.append(u.recv(100))
            t = time.ticks_ms()
            out.append(p.poll(200))
            out.append(time.ticks_diff(time.ticks_ms(), t) >= 190)
            s.close()
            u.close()
            print(repr(out))
        """)
    assert got == ["EINPROGRESS", True, [4], [1], b"polled", [(True, 1)], b"dgram", [], True]


def test_asyncio_streams(board: Devkit) -> None:
    with TcpEcho() as echo, TcpEcho(silent=True) as silent:
        got = board.value(f"""
            import asyncio
            async def one(i):
                r, w = await asyncio.open_connection('10.0.2.2', {echo.port})
                msg = b'stream %d ' % i * 50
                w.write(msg)
                await w.drain()
                back = await r.readexactly(len(msg))
                w.close()
                await w.wait_closed()
                return back == msg
            async def main():
                ok = await asyncio.gather(*(one(i) for i in range(4)))
                r, w = await asyncio.open_connection('10.0.2.2', {silent.port})
                try:
                    await asyncio.wait_for(r.read(10), 0.3)
                    timed_out = False
                except asyncio.TimeoutError:
                    timed_out = True
                w.close()
                await w.wait_closed()
                try:
                    await asyncio.open_connection('10.0.2.99', 80)
                except OSError:
                    pass
                return ok, timed_out
            print(repr(asyncio.run(main())))
        """)
    assert got == ([True] * 4, True)


def test_hal_board_net_works_unchanged(board: Devkit) -> None:
    """hal/board/net.py (the firmware's UDP/TCP layer on Wi-Fi boards), as it is, on the devkit."""
    board.transport.fs_writefile("/board_net.py", (ROOT / "hal" / "board" / "net.py").read_bytes())
    with UdpEcho() as uecho, TcpEcho() as echo:
        got = board.value(f"""
            import board_net, time
            def wait(f):
                t = time.ticks_ms()
                while time.ticks_diff(time.ticks_ms(), t) < 3000:
                    r = f()
                    if r:
                        return r
                    time.sleep_ms(5)
            u = board_net.Udp()
            none_yet = u.recvfrom()
            u.sendto(b'via hal', '10.0.2.2', {uecho.port})
            udp = wait(u.recvfrom)
            none_recv = u.recv()
            for i in range(3):
                u.sendto(b'datagram %d' % i, '10.0.2.2', {uecho.port})
            time.sleep_ms(300)  # all three echoes queued on the socket
            each = [u.recv() for i in range(4)]
            u.close()
            t = board_net.Tcp('10.0.2.2', {echo.port})
            t.send(b'tcp via hal')
            tcp = wait(t.recv)
            t.close()
            print(repr((none_yet, udp, none_recv, each, tcp, t.connected)))
        """)
    # recv() gives one datagram a call (a stream read would join the queued ones), None when none waits
    assert got == (None, (b"via hal", "10.0.2.2", uecho.port), None,
                   [b"datagram 0", b"datagram 1", b"datagram 2", None], b"tcp via hal", False)


def test_sockets_are_closed_by_a_soft_reset(board: Devkit) -> None:
    with TcpEcho() as echo:
        board.run(f"""
            import socket
            keep = []
            for i in range(3):
                s = socket.socket()
                s.connect(socket.getaddrinfo('10.0.2.2', {echo.port})[0][-1])
                keep.append(s)
        """)
        board.transport.exit_raw_repl()
        board.transport.enter_raw_repl(soft_reset=True)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _established(echo.port):
            time.sleep(0.05)
        assert _established(echo.port) == 0
        assert board.value("import network; print(network.LAN().isconnected())") is True


def _established(port: int) -> int:
    out = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True, check=True).stdout
    return len(out.splitlines())


def test_idle_devkit_costs_little_host_cpu(board: Devkit) -> None:
    """Nothing polls: idle, lwIP's service runs only for its own timers (ARP, DHCP, IGMP)."""
    runs0 = board.value("import network; print(network.LAN().status('counters')[4])")
    ta = time.monotonic()
    board.transport.exit_raw_repl()  # the friendly REPL waits for a key, as a board left alone
    time.sleep(1)
    c0, t0 = board.cpu_seconds(), time.monotonic()
    time.sleep(5)
    c1, t1 = board.cpu_seconds(), time.monotonic()
    board.transport.enter_raw_repl(soft_reset=False)
    runs1 = board.value("import network; print(network.LAN().status('counters')[4])")
    tb = time.monotonic()
    assert isinstance(runs0, int) and isinstance(runs1, int)
    share = (c1 - c0) / (t1 - t0)
    runs_per_s = (runs1 - runs0) / (tb - ta)
    print(f"\ndevkit-net: idle devkit with its network up: {share * 100:.1f}% of a host core, "
          f"lwIP service {runs_per_s:.0f} runs/s")
    assert runs_per_s < 30
    assert share < 0.10


# ---- two devkits on one link

def test_two_devkits_over_a_dgram_link(firmware: Path, tmp_path: Path) -> None:
    ports = [_free_udp_port(), _free_udp_port()]
    devs: list[Devkit] = []
    try:
        for i in range(2):
            link = (f"dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port={ports[i]},"
                    f"remote.type=inet,remote.host=127.0.0.1,remote.port={ports[1 - i]}")
            devs.append(Devkit(firmware, tmp_path / f"dev{i}", f"0a0000000000000{i + 1}",
                               ["-netdev", link, "-net", "nic,netdev=n0"]))
        macs = []
        for i, dev in enumerate(devs):
            macs.append(dev.value(f"""
                import network
                n = network.LAN()
                n.ipconfig(dhcp4=False)
                n.ipconfig(addr4='192.168.77.{i + 1}/24')
                print(repr(n.config('mac')))
            """))
        assert macs[0] != macs[1]
        devs[1].transport.exec_raw_no_follow(dedent("""
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(socket.getaddrinfo('0.0.0.0', 7000)[0][-1])
            s.settimeout(10)
            for i in range(3):
                d, a = s.recvfrom(100)
                s.sendto(d.upper(), a)
            print(a[0])
        """))
        time.sleep(0.5)
        got = devs[0].value("""
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(3)
            out = []
            for i in range(3):
                s.sendto(b'hello %d' % i, socket.getaddrinfo('192.168.77.2', 7000)[0][-1])
                out.append(s.recvfrom(100))
            print(repr(out))
        """)
        out, err = devs[1].transport.follow(10)
        assert err == b"" and out.strip() == b"192.168.77.1"
        assert got == [(b"HELLO %d" % i, ("192.168.77.2", 7000)) for i in range(3)]
    finally:
        for dev in devs:
            dev.close()


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
