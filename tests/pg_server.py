"""A real PostgreSQL server for the tests: initdb in a temporary directory, a free loopback port, torn down after.

`initdb` and `postgres` refuse to run as root, so when the tests run as root the server runs as the
`postgres` system user. Host connections need a password (scram-sha-256), so tests of wrong
credentials meet the same refusal a real deployment gives; the socket in the data directory is
trusted, for the administration done here.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

PASSWORD = "s3cret-test-pw"
USER = "postgres"
_PREFIX = "feedback-pg-"
_SEARCH = ("/usr/lib/postgresql/15/bin", *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True))


def find_binaries() -> Path | None:
    """The directory holding `initdb` and `pg_ctl`: Debian's PostgreSQL 15 first, else any other version."""
    for directory in _SEARCH:
        if Path(directory, "initdb").is_file() and Path(directory, "pg_ctl").is_file():
            return Path(directory)
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_orphans(binaries: Path) -> None:
    """Stop servers left running by test sessions that were killed before their teardown."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*"):
        owner = folder / "owner"
        try:
            pid = int(owner.read_text())
        except (OSError, ValueError):
            continue
        if _alive(pid):
            continue
        if (folder / "data" / "postmaster.pid").exists():
            command = [f"{binaries}/pg_ctl", "-D", str(folder / "data"), "-m", "immediate", "-w", "stop"]
            if os.geteuid() == 0:
                command = ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(command)]
            subprocess.run(command, capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One server for a test session; `create_database()` gives each test its own empty database."""

    def __init__(self, binaries: Path, settings: dict[str, str] | None = None):
        """`settings` are extra server settings (`-c name=value`), given after the defaults so they win."""
        self.binaries = binaries
        self.as_postgres = os.geteuid() == 0
        _stop_orphans(binaries)
        self.dir = Path(tempfile.mkdtemp(prefix=_PREFIX))
        (self.dir / "owner").write_text(str(os.getpid()))
        self.data = self.dir / "data"
        self._count = 0
        pwfile = self.dir / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        self._run(
            f"{binaries}/initdb -D {self.data} -U {USER} --auth-local=trust --auth-host=scram-sha-256 "
            f"--pwfile={pwfile} -E UTF8 --locale=C.UTF-8 --no-sync"
        )
        # A free port can be taken by another test process (pytest -n) before the server binds it: then
        # the server says so and stops, and the next free port is tried.
        for attempt in range(3):
            self.port = _free_port()
            # Durability is not what these tests measure; without fsync the suite stays fast.
            options = (
                f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            ) + "".join(f" -c {name}={value}" for name, value in (settings or {}).items())
            try:
                self._run(f"{binaries}/pg_ctl -D {self.data} -o '{options}' -l {self.dir}/log -w start")
                break
            except RuntimeError as error:
                if attempt == 2 or "Address already in use" not in str(error):
                    raise
        self._wait()

    def _run(self, command: str) -> None:
        argv = ["su", "postgres", "-s", "/bin/sh", "-c", command] if self.as_postgres else ["sh", "-c", command]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            log = self.dir / "log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{command!r} failed:\n{done.stdout}\n{done.stderr}\n{tail}")

    def _wait(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.url("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def url(self, database: str, *, password: str = PASSWORD, port: int | None = None) -> str:
        return f"postgresql://{USER}:{password}@127.0.0.1:{port or self.port}/{database}"

    def admin(self, sql: str) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its URL."""
        self._count += 1
        name = f"{prefix}_{os.getpid()}_{self._count}"
        self.admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')

    def stop(self) -> None:
        try:
            self._run(f"{self.binaries}/pg_ctl -D {self.data} -m immediate -w stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class StandbyServer(PostgresServer):
    """A streaming hot standby of `primary`, cloned with `pg_basebackup -R` (the tests of FEEDBACK_DB_READ).

    `settings` are the standby's own server settings (e.g. `recovery_min_apply_delay`). It keeps its port
    across `kill()` and `start()`, so that a URL naming it names it again once it is back.
    """

    def __init__(self, primary: PostgresServer, settings: dict[str, str] | None = None):
        self.binaries = primary.binaries
        self.as_postgres = primary.as_postgres
        self.dir = Path(tempfile.mkdtemp(prefix=_PREFIX))
        (self.dir / "owner").write_text(str(os.getpid()))
        self.data = self.dir / "data"
        self._count = 0
        # A standby needs at least the primary's max_connections.
        self.settings = {"hot_standby": "on", "max_connections": "200", **(settings or {})}
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        # The primary's socket directory trusts local replication connections (initdb's pg_hba.conf).
        self._run(
            f"{self.binaries}/pg_basebackup -h {primary.dir} -p {primary.port} -U {USER} -D {self.data} "
            "-R -X stream -c fast --no-sync"
        )
        self.port = _free_port()
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off" + "".join(
            f" -c {name}={value}" for name, value in self.settings.items()
        )
        self._run(f"{self.binaries}/pg_ctl -D {self.data} -o '{options}' -l {self.dir}/log -w start")
        self._wait()

    def kill(self) -> None:
        """Stop at once, as a crash or a pulled cable does (no shutdown handshake with clients)."""
        self._run(f"{self.binaries}/pg_ctl -D {self.data} -m immediate -w stop")

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.kill()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
