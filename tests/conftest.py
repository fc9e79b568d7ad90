"""Shared fixtures: real stores on both engines (a DuckDB file, a PostgreSQL server the tests start),
a real Streamlit server, real Chromium."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
sys.path.insert(0, str(ROOT))

import data_layer  # noqa: E402
from data_layer import demo, open_store  # noqa: E402
from data_layer.auth import SYSTEM  # noqa: E402
from tests.pg_server import PostgresServer, find_binaries  # noqa: E402

# Every test that takes `store` (and so `demo_store`, `seeded`) runs once per engine.
ENGINES = ("duckdb", pytest.param("postgresql", marks=pytest.mark.postgres))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """A test using the PostgreSQL server or Chromium carries the marker that says so, whether or not its
    module does, so `-m "not postgres and not browser"` leaves out every one (tryfirst: before `-m` selects)."""
    for item in items:
        used = getattr(item, "fixturenames", ())
        if "pg_server" in used:
            item.add_marker(pytest.mark.postgres)
        if "chromium" in used:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL server for the session; skipped outside CI when no server binaries exist."""
    binaries = find_binaries()
    if binaries is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries are missing in CI: .ci/run should have installed postgresql")
        pytest.skip("PostgreSQL tests need server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    server = PostgresServer(binaries)
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server):
    """The URL of a fresh, empty PostgreSQL database of this test's own, dropped afterwards."""
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)


@pytest.fixture
def db_path(tmp_path) -> str:
    return str(tmp_path / "feedback.duckdb")


@pytest.fixture(params=ENGINES)
def store_url(request, db_path) -> str:
    """Where this test's store lives: a DuckDB file, or a fresh database on the test PostgreSQL server."""
    if request.param == "duckdb":
        return db_path
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="module", params=ENGINES)
def module_store_url(request, tmp_path_factory) -> str:
    """Like `store_url`, shared by a module's tests (for a server started once per module and engine)."""
    if request.param == "duckdb":
        return str(tmp_path_factory.mktemp("db") / "feedback.duckdb")
    server = request.getfixturevalue("pg_server")
    url = server.create_database("m")
    request.addfinalizer(lambda: server.drop_database(url))
    return url


@pytest.fixture
def store(store_url):
    """An empty store, once on a real DuckDB file and once on a real PostgreSQL database."""
    with open_store(store_url) as opened:
        yield opened


@pytest.fixture
def demo_store(store):
    """A store holding the deterministic demo data (60 threads, to keep tests quick)."""
    report = demo.seed(store, threads=60, seed=7, actor=SYSTEM)
    assert report.ok, report.summary()
    return store


@pytest.fixture
def seeded(store):
    """A small hand-made fixture: one thread, two runs (the second a follow-up), messages."""
    report = store.ingest(
        [
            {"kind": "thread", "thread_id": "t1", "assistant_id": "lead_agent", "display_name": "Trip plan"},
            {
                "kind": "run",
                "run_id": "r1",
                "thread_id": "t1",
                "status": "success",
                "model_name": "m1",
                "created_at": "2026-11-01T10:00:00Z",
            },
            {
                "kind": "run",
                "run_id": "r2",
                "thread_id": "t1",
                "status": "success",
                "model_name": "m1",
                "created_at": "2026-11-01T10:05:00Z",
            },
            {
                "kind": "event",
                "thread_id": "t1",
                "run_id": "r1",
                "seq": 1,
                "event_type": "human_message",
                "content": {"type": "human", "content": "Plan a trip to Kyoto", "id": "h1"},
            },
            {
                "kind": "event",
                "thread_id": "t1",
                "run_id": "r1",
                "seq": 2,
                "event_type": "ai_message",
                "content": {"type": "ai", "content": "Day 1: temples.", "id": "a1"},
            },
            {
                "kind": "event",
                "thread_id": "t1",
                "run_id": "r2",
                "seq": 3,
                "event_type": "llm.human.input",
                "content": "Shorter please",
            },
            {
                "kind": "event",
                "thread_id": "t1",
                "run_id": "r2",
                "seq": 4,
                "event_type": "llm.ai.response",
                "content": "Temples, then food.",
            },
            {"kind": "thread", "thread_id": "t2", "assistant_id": "other"},
            {"kind": "run", "run_id": "r3", "thread_id": "t2", "status": "error", "error": "boom"},
        ],
        actor=SYSTEM,
    )
    assert report.ok, report.summary()
    return store


def ai_message(thread_id: str, run_id: str, seq: int, text: str, message_id: str) -> dict:
    """An import record of one answer of the agent, as the gateway logs it (a LangChain message dump)."""
    return {
        "kind": "event",
        "thread_id": thread_id,
        "run_id": run_id,
        "seq": seq,
        "event_type": "ai_message",
        "content": {"type": "ai", "content": text, "id": message_id},
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


class AppServer:
    """`streamlit run app.py` on a free port against its own database (a DuckDB file or a PostgreSQL URL),
    on 127.0.0.1 (`address=None`: on the address of `.streamlit/config.toml`, as the Quick start runs)."""

    def __init__(self, db: str, env: dict | None = None, address: str | None = "127.0.0.1"):
        self.db = db
        if "://" in db:
            handle, log = tempfile.mkstemp(prefix="streamlit-", suffix=".log")
            os.close(handle)
            self.log = Path(log)
        else:
            self.log = Path(db).with_suffix(".log")
        environment = {**os.environ, "FEEDBACK_DB": db, **(env or {})}
        # A free port can be taken by another test process (pytest -n) before this server binds it:
        # then Streamlit says so and exits, and the next free port is tried.
        for _attempt in range(3):
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "streamlit",
                    "run",
                    "app.py",
                    "--server.headless",
                    "true",
                    "--server.port",
                    str(self.port),
                    *(["--server.address", address] if address else []),
                    "--server.fileWatcherType",
                    "none",
                    "--browser.gatherUsageStats",
                    "false",
                ],
                cwd=ROOT,
                env=environment,
                stdout=self.log.open("w"),
                stderr=subprocess.STDOUT,
            )
            if self._listening():
                try:
                    wait_for(f"{self.url}/_stcore/health")
                except TimeoutError:
                    break
                return
            if f"Port {self.port} is not available" not in self.log.read_text():
                break
        self.stop()
        raise RuntimeError(f"streamlit did not start:\n{self.log.read_text()[-3000:]}")

    def _listening(self, timeout: float = 60.0) -> bool:
        """Whether this server has bound its port (it prints its URL then); False when it exited first. A
        health check alone could be answered by another process's server on the same port."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(rf"URL: http://\S+:{self.port}\b", self.log.read_text()):
                return True
            if self.process.poll() is not None:
                return False
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@contextmanager
def demo_server(db: str, threads: int):
    """A running dashboard (pages and API) on a new database seeded with `threads` demo threads."""
    with open_store(db) as seeded_store:
        assert demo.seed(seeded_store, threads=threads, seed=7, actor=SYSTEM).ok
    server = AppServer(db)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def app_server(tmp_path):
    """A running dashboard on a temporary database with 40 demo threads."""
    with demo_server(str(tmp_path / "app.duckdb"), 40) as server:
        yield server


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium driven by Playwright; skipped (outside CI) when it is not installed."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run should have installed Debian's chromium")
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-quic",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def fresh_streamlit_caches():
    """AppTest runs share one process: caches and the shared store must not leak between tests."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    data_layer.release_shared()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()
    data_layer.release_shared()


@pytest.fixture
def held_db(tmp_path):
    """A DuckDB file held open by another process, as a running dashboard holds it: `(path, pid)`."""
    db = str(tmp_path / "held.duckdb")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({db!r}); print('ready', flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        yield db, holder.pid
    finally:
        holder.kill()
        holder.wait()
