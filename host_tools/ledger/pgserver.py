"""A throwaway PostgreSQL server for tests and benchmarks: initdb into a temporary folder, listen
on 127.0.0.1 and a private socket folder, stop and delete on exit. Runs the server as the
`postgres` system user when invoked as root (PostgreSQL refuses to run as root).

Stations on other (test) hosts: `TempPostgres(listen=["10.231.7.1"], allow=["10.231.7.0/30"],
password="…")` also listens on those addresses, lets in TCP clients from loopback and exactly the
`allow` networks (pg_hba.conf is written, not initdb's), and with a password every TCP client
authenticates as `postgres` with SCRAM-SHA-256; `url_at(addr)` is the URL to give such a client."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from host_tools.netaddr import free_port
PG_BIN_CANDIDATES = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def pg_bin() -> Path:
    for d in PG_BIN_CANDIDATES:
        if (d / "initdb").exists() and (d / "postgres").exists():
            return d
    raise FileNotFoundError("PostgreSQL server binaries not found: ./edgecall installs the Debian package postgresql")


class TempPostgres:
    """listen: addresses to listen on besides 127.0.0.1; allow: networks (CIDR) besides loopback
    whose TCP clients pg_hba.conf admits; password: the `postgres` role's password, required of
    every TCP client (SCRAM-SHA-256) when given, none asked (trust) otherwise. The Unix socket in
    the private folder stays trust, for the owner only."""

    def __init__(self, listen: Sequence[str] = (), allow: Sequence[str] = (), password: str | None = None) -> None:
        self.listen = ["127.0.0.1", *(a for a in listen if a != "127.0.0.1")]
        self.allow = list(allow)
        self.password = password
        self.dir = Path(tempfile.mkdtemp(prefix="edgecall-pg-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.url_at("127.0.0.1")

    def url_at(self, addr: str) -> str:
        """The URL a client reaches the server by at `addr` (one of the listen addresses)."""
        cred = f"postgres:{self.password}" if self.password is not None else "postgres"
        return f"postgresql://{cred}@{addr}:{self.port}/postgres"

    def _hba(self) -> str:
        method = "scram-sha-256" if self.password is not None else "trust"
        lines = ["local all all trust", f"host all all 127.0.0.1/32 {method}"]
        lines += [f"host all all {net} {method}" for net in self.allow]
        return "\n".join(lines) + "\n"

    def _as_owner(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd

    def start(self) -> TempPostgres:
        bin_dir = pg_bin()
        data, sock = self.dir / "data", self.dir / "sock"
        sock.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
            shutil.chown(sock, "postgres")
        pwfile = self.dir / "pw"
        pw_args: list[str] = []
        if self.password is not None:
            pwfile.write_text(self.password + "\n")
            pwfile.chmod(0o600)
            if os.geteuid() == 0:
                shutil.chown(pwfile, "postgres")
            pw_args = [f"--pwfile={pwfile}"]
        try:
            subprocess.run(self._as_owner([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                                           "--no-sync", "-E", "UTF8", *pw_args]), check=True, capture_output=True, timeout=120)
        finally:
            pwfile.unlink(missing_ok=True)
        (data / "pg_hba.conf").write_text(self._hba())
        log = open(self.dir / "server.log", "wb")
        self.proc = subprocess.Popen(
            self._as_owner([str(bin_dir / "postgres"), "-D", str(data), "-p", str(self.port), "-h", ",".join(self.listen),
                            "-k", str(sock), "-c", "max_connections=100", "-c", "fsync=on"]),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                r = subprocess.run([str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                                   capture_output=True, timeout=10)
                if r.returncode == 0:
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"PostgreSQL did not start: {(self.dir / 'server.log').read_text()[-800:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: smart shutdown
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> TempPostgres:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
