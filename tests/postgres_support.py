"""A private PostgreSQL 15 server for tests: initdb into a temporary directory, pg_ctl start on
127.0.0.1 with trust authentication, stop and start again at will, remove at the end."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(args: list[str]) -> list[str]:
    """``args`` run as the ``postgres`` OS user when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", "postgres", "--", *args]


def skip_reason() -> str | None:
    """Why no private server can run here, or ``None`` when one can."""
    if not all((PG_BIN / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
        return f"PostgreSQL server binaries not found in {PG_BIN}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' OS user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root and 'runuser' is missing"
    return None


def _run(args: list[str]) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=60)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """A throwaway server; :attr:`url` connects as the ``postgres`` superuser."""

    def __init__(self) -> None:
        # Not under pytest's tmp dir: its parents are private to root and the server runs as
        # postgres.
        self.root = Path(tempfile.mkdtemp(prefix="shoprec-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.data, self.port = self.root / "data", _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        initdb = [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"]
        _run(_as_postgres([*initdb, "-E", "UTF8", "--locale=C", "--no-sync"]))
        self._ctl = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log")]

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        _run(_as_postgres([*self._ctl, "-w", "-o", options, "start"]))

    def stop(self, mode: str = "fast") -> None:
        _run(_as_postgres([*self._ctl, "-w", "-m", mode, "stop"]))

    def remove(self) -> None:
        subprocess.run(_as_postgres([*self._ctl, "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
