"""The shipped deploy/nginx.conf in front of a replica that requires sign-in, seen in Chromium.

oauth2-proxy (a program we do not own) is played by a stand-in that answers nginx's `auth_request`
as oauth2-proxy does with `--set-xauthrequest`: 202 with the user in X-Auth-Request-Email and
X-Auth-Request-Groups for a browser holding its session cookie, 401 otherwise. The browser claims
to be someone else in the identity headers itself; nginx must never pass that on.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml
from playwright.sync_api import expect

from data_layer import access, auth
from tests.conftest import ROOT, AppServer, free_port
from tests.nginx_server import NGINX, Nginx

SESSION = "_oauth2_proxy"
SIGN_IN_PAGE = "Stand-in for oauth2-proxy: sign in with your organisation's account"
FORGED = {"X-Forwarded-Email": "boss@example.com", "X-Forwarded-Groups": "leads"}


class StandInSignIn(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the name http.server calls
        if self.path.startswith("/oauth2/auth"):
            if f"{SESSION}=ana" in (self.headers.get("Cookie") or ""):
                self.send_response(202)
                self.send_header("X-Auth-Request-Email", "ana@example.com")
                self.send_header("X-Auth-Request-Groups", "readers")
            else:
                self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = SIGN_IN_PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    if not Path(NGINX).exists():
        pytest.skip("the deployment test needs Debian's nginx (apt-get install nginx)")
    signin = ThreadingHTTPServer(("127.0.0.1", free_port()), StandInSignIn)
    threading.Thread(target=signin.serve_forever, daemon=True).start()
    env = {
        access.REQUIRE_SIGNIN_VARIABLE: "1",
        auth.TRUSTED_HEADER_VARIABLE: "X-Forwarded-Email",
        auth.TRUSTED_GROUPS_HEADER_VARIABLE: "X-Forwarded-Groups",
        auth.ROLES_VARIABLE: "admin=group:leads,boss@example.com",
    }
    replica = AppServer(str(tmp_path_factory.mktemp("deploy") / "deploy.duckdb"), env=env)
    proxy = Nginx([replica.port], signin_port=signin.server_address[1])
    yield proxy
    proxy.stop()
    replica.stop()
    signin.shutdown()


@pytest.mark.browser
@pytest.mark.slow
def test_without_signing_in_the_proxy_shows_its_sign_in_page_and_no_dashboard(deployed, chromium):
    context = chromium.new_context(extra_http_headers=FORGED)
    try:
        page = context.new_page()
        response = page.goto(f"{deployed.url}/threads")
        assert response.status == 403
        assert page.locator("body").inner_text().strip() == SIGN_IN_PAGE
        assert page.locator('[data-testid="stApp"]').count() == 0
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.slow
def test_a_signed_in_user_is_who_the_proxy_says_not_who_the_browser_claims(deployed, chromium):
    context = chromium.new_context(extra_http_headers=FORGED, viewport={"width": 1400, "height": 1000})
    try:
        context.add_cookies([{"name": SESSION, "value": "ana", "url": deployed.url}])
        page = context.new_page()
        page.goto(f"{deployed.url}/threads")
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_text("ana@example.com").wait_for(timeout=60_000)
        # The caption naming the role is drawn after the user's name: wait for it too.
        expect(sidebar).to_contain_text("role reviewer", timeout=60_000)
        assert "boss" not in page.locator("body").inner_text()
        assert page.get_by_text("Audit trail").count() == 0
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        context.close()


@pytest.mark.slow
def test_the_api_answers_without_browser_sign_in(deployed):
    with httpx.Client(trust_env=False, timeout=30) as client:
        assert client.get(f"{deployed.url}/api/health", headers=FORGED).json() == {"status": "ok"}
        assert client.get(f"{deployed.url}/api/threads/t1/feedback", headers=FORGED).status_code == 401


# ---- the container deployment: the same rules, by construction ---------------------------------------


def _directives(conf: str) -> list[str]:
    """nginx directives without comments, blank lines and the upstream servers (names differ by setup)."""
    lines = [line.split("#", 1)[0].strip() for line in conf.splitlines()]
    return [line for line in lines if line and (not line.startswith("server ") or line == "server {")]


def test_the_compose_nginx_configuration_is_the_tested_one_with_container_names():
    tested = (ROOT / "deploy" / "nginx.conf").read_text()
    compose = (ROOT / "deploy" / "nginx.compose.conf").read_text()
    assert _directives(compose) == _directives(tested)
    assert "server oauth2-proxy:4180;" in compose and "server app1:8501" in compose


def test_every_compose_replica_requires_sign_in_and_trusts_only_nginx():
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    replicas = {name: service for name, service in services.items() if service.get("image") == "feedback-dashboard"}
    assert set(replicas) == {"app1", "app2"}
    nginx = services["proxy"]["networks"]["default"]["ipv4_address"]
    assert nginx == "${FEEDBACK_PROXY_ADDRESS:-172.30.0.10}"
    for service in replicas.values():
        environment = service["environment"]
        assert environment["FEEDBACK_REQUIRE_SIGNIN"] == "1"
        assert environment["FEEDBACK_TRUSTED_HEADER"] == "X-Forwarded-Email"
        assert environment["FEEDBACK_TRUSTED_GROUPS_HEADER"] == "X-Forwarded-Groups"
        assert environment["FEEDBACK_TRUSTED_PROXIES"] == f"{nginx}/32"
        assert environment["FORWARDED_ALLOW_IPS"] == ""
        assert "ports" not in service and access.ALLOW_LOCAL_MODE_VARIABLE not in environment
    assert "--set-xauthrequest=true" in services["oauth2-proxy"]["command"]
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "\nENV FEEDBACK_REQUIRE_SIGNIN=1\n" in dockerfile
    example = dict(
        line.split("=", 1) for line in (ROOT / "deploy" / "example.env").read_text().splitlines() if "=" in line
    )
    assert example["FEEDBACK_PROXY_ADDRESS"] == "172.30.0.10" and example["FEEDBACK_SUBNET"] == "172.30.0.0/24"
