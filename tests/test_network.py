"""Who may reach the dashboard: local mode serves only a loopback Host (over HTTP and over the
Streamlit websocket), the identity headers count only from the proxy's addresses, a deployment that
requires sign-in does not start without it, and the Quick start binds to this machine.

Every request goes to a loopback address; only the Host header names somewhere else, as a
DNS-rebinding page or a visitor from the network would send it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import tomllib

import httpx
import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.testing.v1 import AppTest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from data_layer import access, auth, demo, open_store
from data_layer.auth import SYSTEM
from data_layer.errors import InvalidInput
from pages._text import safe_markdown
from tests.conftest import ROOT, AppServer, free_port

pytestmark = pytest.mark.slow

FOREIGN_HOSTS = ["evil.example", "192.168.1.5:8501", "localhost.evil.example", "127.0.0.1.nip.io:8501"]
NETWORK_VARIABLES = (
    auth.TRUSTED_HEADER_VARIABLE,
    auth.TRUSTED_GROUPS_HEADER_VARIABLE,
    access.TRUSTED_PROXIES_VARIABLE,
    access.ALLOW_LOCAL_MODE_VARIABLE,
    access.REQUIRE_SIGNIN_VARIABLE,
    auth.ROLES_VARIABLE,
    access.FORWARDED_VARIABLE,
)


@pytest.fixture(autouse=True)
def no_network_settings(monkeypatch):
    for variable in NETWORK_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


# ---- the rules (data_layer.auth), without Streamlit ----------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["localhost", "localhost:8501", "LOCALHOST.", "127.0.0.1", "127.0.0.1:8501", "127.8.9.10:1", "[::1]", "[::1]:8501"],
)
def test_loopback_hosts(host):
    assert access.is_loopback_host(host)


@pytest.mark.parametrize(
    "host",
    [
        None,
        "",
        "evil.example",
        "evil.example:8501",
        "192.168.1.5:8501",
        "10.0.0.1",
        "0.0.0.0:8501",
        "[::]:8501",
        "[fe80::1]:8501",
        "localhost.evil.example",
        "127.0.0.1.nip.io",
        "localhost:8501:80",
        "localhost:http",
        "localhost:123456",
        "[::1",
        "[::1]x",
        "user@localhost",
        "::1",
    ],
)
def test_every_other_host_is_foreign(host):
    assert not access.is_loopback_host(host)


def test_local_mode_serves_a_foreign_host_only_when_deliberately_opened(monkeypatch):
    assert access.local_mode_refusal("localhost:8501") is None
    refusal = access.local_mode_refusal("evil.example")
    assert "docs/identity.md" in refusal and "FEEDBACK_ALLOW_LOCAL_MODE=1" in refusal
    monkeypatch.setenv(access.ALLOW_LOCAL_MODE_VARIABLE, "1")
    assert access.local_mode_refusal("evil.example") is None
    monkeypatch.setenv(access.ALLOW_LOCAL_MODE_VARIABLE, "0")
    assert access.local_mode_refusal("evil.example") == refusal
    monkeypatch.setenv(access.ALLOW_LOCAL_MODE_VARIABLE, "please")
    with pytest.raises(InvalidInput, match="FEEDBACK_ALLOW_LOCAL_MODE must be 1 or 0"):
        access.local_mode_refusal("evil.example")


def test_identity_headers_count_only_from_the_proxys_addresses(monkeypatch):
    # the default: a proxy on this machine
    assert [str(network) for network in access.trusted_proxies()] == ["127.0.0.0/8", "::1/128"]
    assert access.is_trusted_proxy("127.0.0.1") and access.is_trusted_proxy("::1")
    assert access.is_trusted_proxy("::ffff:127.0.0.1")
    for stranger in ("192.168.1.5", "10.0.0.9", "::2", "", None, "localhost", "not an address"):
        assert not access.is_trusted_proxy(stranger), stranger
    assert access.proxy_refusal("127.0.0.1") is None
    refusal = access.proxy_refusal("192.168.1.5")
    assert "192.168.1.5" in refusal and "FEEDBACK_TRUSTED_PROXIES: 127.0.0.0/8, ::1/128" in refusal

    monkeypatch.setenv(access.TRUSTED_PROXIES_VARIABLE, " 10.1.0.0/16, 192.0.2.7 ,")
    assert access.is_trusted_proxy("10.1.200.3") and access.is_trusted_proxy("192.0.2.7")
    assert not access.is_trusted_proxy("127.0.0.1") and not access.is_trusted_proxy("192.0.2.8")
    assert not access.is_trusted_proxy("10.1.0.1", networks=())


@pytest.mark.parametrize("setting", ["10.0.0.5/24", "proxy.internal", "10.0.0.0/33", "*"])
def test_a_bad_trusted_proxies_setting_is_refused_with_the_entry(monkeypatch, setting):
    monkeypatch.setenv(access.TRUSTED_PROXIES_VARIABLE, f"127.0.0.1,{setting}")
    with pytest.raises(InvalidInput, match="FEEDBACK_TRUSTED_PROXIES: .* is not a CIDR"):
        access.trusted_proxies()
    assert "FEEDBACK_TRUSTED_PROXIES" in access.startup_problem("proxy")


def test_identity_headers_are_the_configured_ones(monkeypatch):
    assert access.identity_headers() == ()
    monkeypatch.setenv(auth.TRUSTED_HEADER_VARIABLE, "X-Forwarded-Email")
    monkeypatch.setenv(auth.TRUSTED_GROUPS_HEADER_VARIABLE, "X-Forwarded-Groups")
    assert access.identity_headers() == ("x-forwarded-email", "x-forwarded-groups")


def test_required_sign_in_refuses_local_mode_only(monkeypatch):
    assert access.startup_problem("local") is None
    monkeypatch.setenv(access.REQUIRE_SIGNIN_VARIABLE, "1")
    assert access.startup_problem("local") == access.SIGNIN_REQUIRED
    assert access.startup_problem("proxy") is None and access.startup_problem("oidc") is None
    monkeypatch.setenv(access.REQUIRE_SIGNIN_VARIABLE, "sure")
    assert "FEEDBACK_REQUIRE_SIGNIN must be 1 or 0" in access.startup_problem("proxy")


def test_proxy_mode_does_not_start_when_uvicorn_would_believe_x_forwarded_for_from_a_stranger(monkeypatch):
    # uvicorn's default (127.0.0.1 and ::1) lies within the default trusted proxies (loopback)
    assert access.startup_problem("proxy") is None
    monkeypatch.setenv(access.FORWARDED_VARIABLE, "*")
    assert "FORWARDED_ALLOW_IPS=* lets any client name its own address" in access.startup_problem("proxy")
    assert access.startup_problem("local") is None and access.startup_problem("oidc") is None
    monkeypatch.setenv(access.FORWARDED_VARIABLE, "127.0.0.1, 10.0.0.0/8")
    assert "includes 10.0.0.0/8, outside FEEDBACK_TRUSTED_PROXIES" in access.startup_problem("proxy")
    monkeypatch.setenv(access.TRUSTED_PROXIES_VARIABLE, "10.0.0.0/8,127.0.0.1")
    assert access.startup_problem("proxy") is None
    # a proxy elsewhere: uvicorn's default would let a local process pass for it
    monkeypatch.setenv(access.TRUSTED_PROXIES_VARIABLE, "172.30.0.10/32")
    monkeypatch.delenv(access.FORWARDED_VARIABLE)
    assert "includes 127.0.0.1/32, outside" in access.startup_problem("proxy")
    monkeypatch.setenv(access.FORWARDED_VARIABLE, "")
    assert access.startup_problem("proxy") is None
    monkeypatch.setenv(access.FORWARDED_VARIABLE, "proxy.internal")
    assert "FORWARDED_ALLOW_IPS: 'proxy.internal' is not a CIDR" in access.startup_problem("proxy")


# ---- a real server -------------------------------------------------------------------------------


def seeded(db: str) -> str:
    """A new DuckDB file holding the demo threads whose titles `TITLES` lists (each server needs its own file)."""
    with open_store(db) as store:
        assert demo.seed(store, threads=12, seed=7, actor=SYSTEM).ok
    return db


with open_store(":memory:") as _store:
    assert demo.seed(_store, threads=12, seed=7, actor=SYSTEM).ok
    TITLES = [thread["display_name"] for thread in _store.threads.list() if thread["display_name"]]


@pytest.fixture(scope="module")
def local_server(tmp_path_factory):
    server = AppServer(seeded(str(tmp_path_factory.mktemp("local") / "local.duckdb")))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def open_local_server(tmp_path_factory):
    db = seeded(str(tmp_path_factory.mktemp("open") / "open.duckdb"))
    server = AppServer(db, env={access.ALLOW_LOCAL_MODE_VARIABLE: "1"})
    yield server
    server.stop()


def shows_data(sent: bytes) -> bool:
    return any(title.encode() in sent for title in TITLES)


def get(server: AppServer, path: str, host: str, headers: dict | None = None) -> httpx.Response:
    """An HTTP request to the server's loopback port, with `host` as its Host header."""
    with httpx.Client(trust_env=False, timeout=30) as client:
        return client.get(f"{server.url}{path}", headers={"Host": host, **(headers or {})})


def stream(server: AppServer, host: str, headers: dict | None = None, query: str = "") -> bytes:
    """What the Streamlit websocket sends for one run of a page, as a browser at `http://{host}` asks it
    (Origin equal to Host, as after DNS rebinding); raises `InvalidStatus` when the handshake is refused."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    received = b""
    with connect(
        f"ws://{host}/_stcore/stream",
        sock=sock,
        origin=f"http://{host}",
        additional_headers=headers,
        proxy=None,
        max_size=None,
    ) as websocket:
        rerun = BackMsg()
        rerun.rerun_script.query_string = query
        websocket.send(rerun.SerializeToString())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            raw = websocket.recv(timeout=30)
            received += raw
            message = ForwardMsg()
            message.ParseFromString(raw)
            if message.WhichOneof("type") == "script_finished":
                return received
    raise AssertionError("the page did not finish within 60 s")


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
def test_local_mode_refuses_a_foreign_host_over_http_with_no_data(local_server, host):
    for path in ("/", "/threads", "/_stcore/host-config", "/api/health", "/api/openapi.json"):
        response = get(local_server, path, host)
        assert response.status_code == 403, (path, response.status_code)
        assert response.text.strip() == access.LOCAL_ONLY
        assert response.headers["content-type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
def test_local_mode_refuses_a_foreign_host_on_the_websocket(local_server, host):
    with pytest.raises(InvalidStatus) as refused:
        stream(local_server, host)
    assert refused.value.response.status_code == 403


def test_local_mode_serves_a_loopback_host(local_server):
    for host in (f"localhost:{local_server.port}", f"127.0.0.1:{local_server.port}", "[::1]"):
        page = get(local_server, "/", host)
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert get(local_server, "/api/health", host).json() == {"status": "ok"}
        sent = stream(local_server, host)
        assert b"Local mode, not signed in (you are the admin)" in sent
        assert shows_data(sent)


def test_allow_local_mode_serves_any_host(open_local_server):
    page = get(open_local_server, "/", "192.168.1.5:8501")
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert get(open_local_server, "/api/health", "evil.example").json() == {"status": "ok"}
    sent = stream(open_local_server, "192.168.1.5:8501")
    assert b"Local mode, not signed in (you are the admin)" in sent
    assert shows_data(sent)


PROXY = {
    auth.TRUSTED_HEADER_VARIABLE: "X-Forwarded-Email",
    auth.TRUSTED_GROUPS_HEADER_VARIABLE: "X-Forwarded-Groups",
    auth.ROLES_VARIABLE: "admin=group:leads",
}
CLAIM = {"X-Forwarded-Email": "mallory@example.com", "X-Forwarded-Groups": "leads"}


def shown(user_id: str) -> bytes:
    """A user id as the sidebar sends it: outside text, so through the one rendering rule."""
    return safe_markdown(user_id).encode()


def test_identity_headers_from_the_proxys_address_sign_in(tmp_path):
    server = AppServer(seeded(str(tmp_path / "proxy.duckdb")), env=PROXY)  # the default: the proxy is on loopback
    try:
        sent = stream(server, "feedback.example.com", CLAIM)
        assert shown("mallory@example.com") in sent and b"role **admin**" in sent
        assert shows_data(sent)
        # uvicorn takes the client's address from X-Forwarded-For sent from loopback: no longer the proxy's
        response = get(server, "/", "feedback.example.com", {**CLAIM, "X-Forwarded-For": "203.0.113.9"})
        assert response.status_code == 403 and "This request came from 203.0.113.9" in response.text
    finally:
        server.stop()


def test_identity_headers_from_another_address_sign_nobody_in(tmp_path):
    # the proxy is elsewhere, so this test's own loopback connection is a stranger sending the headers
    stranger = {**PROXY, access.TRUSTED_PROXIES_VARIABLE: "192.0.2.0/24", access.FORWARDED_VARIABLE: ""}
    server = AppServer(seeded(str(tmp_path / "stranger.duckdb")), env=stranger)
    try:
        for claim in (CLAIM, {"X-Forwarded-Groups": "leads"}, {"x-forwarded-email": "ana@example.com"}):
            response = get(server, "/", "feedback.example.com", claim)
            assert response.status_code == 403
            assert "not the authenticating proxy's (FEEDBACK_TRUSTED_PROXIES: 192.0.2.0/24)" in response.text
            with pytest.raises(InvalidStatus) as refused:
                stream(server, "feedback.example.com", claim)
            assert refused.value.response.status_code == 403
        # without the headers the page opens, says why nobody is signed in, and shows nothing else
        sent = stream(server, "feedback.example.com")
        assert b"not the authenticating proxy's" in sent and b"mallory" not in sent
        assert not shows_data(sent)
    finally:
        server.stop()


def _listening_addresses(port: int) -> set[str]:
    """The local addresses with a listening TCP socket on `port` (from /proc, no traffic sent)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        with open(table) as lines:
            for line in list(lines)[1:]:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.split(":")
                if state == "0A" and int(hex_port, 16) == port and len(address) == width:
                    found.add(address)
    return found


def test_the_quick_start_binds_to_this_machine_only(tmp_path):
    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert settings["server"]["address"] == "localhost"
    server = AppServer(str(tmp_path / "quick.duckdb"), address=None)
    try:
        assert _listening_addresses(server.port) == {"0100007F"}  # 127.0.0.1, and no wildcard
        with httpx.Client(trust_env=False, timeout=30) as client:
            assert client.get(f"http://localhost:{server.port}/").status_code == 200
        log = server.log.read_text()
        assert f"URL: http://localhost:{server.port}" in log and "Network URL" not in log
    finally:
        server.stop()


# ---- a deployment that requires sign-in ------------------------------------------------------------


def _start(tmp_path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(free_port()),
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        env={**os.environ, "FEEDBACK_DB": str(tmp_path / "required.duckdb"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_deployment_that_requires_sign_in_does_not_start_in_local_mode(tmp_path):
    started = _start(tmp_path, {access.REQUIRE_SIGNIN_VARIABLE: "1"})
    assert started.returncode == 1
    assert f"error: {access.SIGNIN_REQUIRED}" in started.stderr
    bad = _start(tmp_path, {access.REQUIRE_SIGNIN_VARIABLE: "1", access.TRUSTED_PROXIES_VARIABLE: "the proxy"})
    assert bad.returncode == 1 and "FEEDBACK_TRUSTED_PROXIES: 'the proxy' is not a CIDR" in bad.stderr


def test_a_deployment_that_requires_sign_in_starts_with_it(tmp_path):
    server = AppServer(str(tmp_path / "signin.duckdb"), env={access.REQUIRE_SIGNIN_VARIABLE: "1", **PROXY})
    try:
        sent = stream(server, "feedback.example.com", {"X-Forwarded-Email": "ana@example.com"})
        assert shown("ana@example.com") in sent and b"role **reviewer**" in sent
    finally:
        server.stop()


def test_pages_refuse_local_mode_when_sign_in_is_required(tmp_path, monkeypatch, fresh_streamlit_caches):
    monkeypatch.setenv("FEEDBACK_DB", str(tmp_path / "pages.duckdb"))
    monkeypatch.setenv(access.REQUIRE_SIGNIN_VARIABLE, "1")
    app = AppTest.from_file("../app.py", default_timeout=30).run()
    assert not app.exception
    assert [error.value for error in app.error] == [access.SIGNIN_REQUIRED]
    assert not app.dataframe and not app.sidebar.text_input
