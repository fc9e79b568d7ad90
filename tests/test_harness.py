"""The test servers hold up under `pytest -n`: a port another process took is retried, never mistaken for
ours, and cleaning up after killed sessions never touches a server whose session is still running."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests import conftest, pg_server


class AlwaysHealthy(BaseHTTPRequestHandler):
    """Another process's server on the port we were given: it answers every health check."""

    def do_GET(self):  # noqa: N802 - the name http.server calls
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def hand_out_first(monkeypatch, module, name: str, port: int) -> None:
    """Make `module.name()` (a free-port finder) return `port` once, then free ports again."""
    real = getattr(module, name)
    given = iter([port])
    monkeypatch.setattr(module, name, lambda: next(given, None) or real())


def finished_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def session_folder(owner: int, running: bool) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=pg_server._PREFIX))
    (folder / "owner").write_text(str(owner))
    if running:
        (folder / "data").mkdir()
        (folder / "data" / "postmaster.pid").write_text("0\n")
    return folder


def test_cleanup_removes_a_dead_sessions_server_and_keeps_a_live_ones(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the servers' folders are looked for
    live = session_folder(os.getpid(), running=True)  # as another pytest -n worker's server looks
    dead = session_folder(finished_pid(), running=False)
    pg_server._stop_orphans(tmp_path / "no-binaries")  # a dead session's folder without a server is only removed
    assert live.exists() and (live / "data" / "postmaster.pid").exists()
    assert not dead.exists()


@pytest.mark.slow
def test_a_dashboard_whose_port_was_taken_starts_on_another(tmp_path, monkeypatch):
    impostor = ThreadingHTTPServer(("127.0.0.1", 0), AlwaysHealthy)
    threading.Thread(target=impostor.serve_forever, daemon=True).start()
    taken = impostor.server_address[1]
    hand_out_first(monkeypatch, conftest, "free_port", taken)
    server = conftest.AppServer(str(tmp_path / "moved.duckdb"), env={"FEEDBACK_DEMO": "0"})
    try:
        assert server.port != taken
        assert server.process.poll() is None
        assert "Streamlit" in httpx.get(server.url, timeout=30).text
    finally:
        server.stop()
        impostor.shutdown()


@pytest.mark.postgres
def test_a_postgresql_server_whose_port_was_taken_starts_on_another(monkeypatch):
    binaries = pg_server.find_binaries()
    if binaries is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries are missing in CI: .ci/run should have installed postgresql")
        pytest.skip("needs the PostgreSQL server binaries (apt-get install postgresql)")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        hand_out_first(monkeypatch, pg_server, "_free_port", taken)
        server = pg_server.PostgresServer(binaries)
        try:
            assert server.port != taken
            url = server.create_database()
            assert url.startswith(f"postgresql://postgres:{pg_server.PASSWORD}@127.0.0.1:{server.port}/")
            server.admin("SELECT 1")
        finally:
            server.stop()
