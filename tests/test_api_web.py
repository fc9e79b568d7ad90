"""The API as a browser or a stranger meets it: its docs pages load nothing from another host and work
offline, and a trailing slash is never answered with a redirect built from the request's Host header."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import AppServer

FOREIGN_HOST = "evil.example"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = str(tmp_path_factory.mktemp("web") / "web.duckdb")
    # A foreign Host must reach the API here: local mode may otherwise refuse it before any route runs.
    running = AppServer(db, env={"FEEDBACK_DEMO": "0", "FEEDBACK_ALLOW_LOCAL_MODE": "1"})
    yield running
    running.stop()


SLASHED = [
    ("GET", "/api/health/"),
    ("GET", "/api/openapi.json/"),
    ("GET", "/api/docs/"),
    ("PUT", "/api/threads/t1/runs/r1/feedback/"),
    ("GET", "/api/threads/t1/runs/r1/feedback/stats/"),
    ("POST", "/api/ingest/"),
]


@pytest.mark.parametrize("host", [None, FOREIGN_HOST, f"{FOREIGN_HOST}:8501"])
def test_a_trailing_slash_answers_404_and_never_a_redirect(server, host):
    headers = {"Host": host} if host else {}
    for method, path in SLASHED:
        response = httpx.request(method, server.url + path, headers=headers, json={"rating": 1}, timeout=20)
        assert "location" not in response.headers, (method, path, response.headers.get("location"))
        assert response.status_code == 404, (method, path, response.status_code, response.text)
        assert response.json() == {"detail": "Not Found: API paths end without a slash"}, (method, path)
        assert response.headers["content-type"] == "application/json"
    unknown = httpx.get(f"{server.url}/api/no-such-path/", headers=headers, timeout=20)
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Not Found"})


def test_no_redirect_of_the_dashboard_names_a_foreign_host(server):
    """Streamlit's own pages redirect a trailing slash too: to a relative address."""
    for path in ("/threads/", "/_stcore/health/", "/api/"):
        response = httpx.get(server.url + path, headers={"Host": FOREIGN_HOST}, timeout=20)
        location = response.headers.get("location", "")
        assert FOREIGN_HOST not in location, (path, location)
        assert not location or (location.startswith("/") and not location.startswith("//")), (path, location)


class Assets(HTMLParser):
    """Every address an HTML page makes the browser load: script, stylesheet, icon, image, frame."""

    def __init__(self):
        super().__init__()
        self.addresses: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        for name in ("src", "href", "spec-url", "data", "poster"):
            if values.get(name):
                self.addresses.append(values[name])


def test_the_docs_page_names_only_assets_of_this_server(server):
    page = httpx.get(server.url + "/api/docs", timeout=20)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    parser = Assets()
    parser.feed(page.text)
    assert len(parser.addresses) == 3, parser.addresses  # script, stylesheet, icon
    for address in parser.addresses:
        parts = urlsplit(address)
        assert not parts.scheme and not parts.netloc, address
        assert address.startswith("/api/"), address
        asset = httpx.get(server.url + address, timeout=20)
        assert asset.status_code == 200, (address, asset.status_code)
        assert len(asset.content) > 1000, address
    assert "http://" not in page.text and "https://" not in page.text
    # ReDoc's page always loads its maker's logo from another host: it is not served.
    assert httpx.get(server.url + "/api/redoc", timeout=20).status_code == 404


def test_the_docs_page_renders_the_operations_offline_in_chromium(server, page):
    """Every request to another host is refused and recorded, as on a machine without internet."""
    own = urlsplit(server.url).netloc
    elsewhere: list[str] = []

    def only_this_server(route):
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.goto(server.url + "/api/docs")
    operations = page.locator(".opblock-summary-path")
    operations.first.wait_for(timeout=30_000)
    paths = {operations.nth(n).get_attribute("data-path") for n in range(operations.count())}
    document = httpx.get(server.url + "/api/openapi.json", timeout=20).json()
    assert paths == set(document["paths"])
    assert operations.count() == sum(len(methods) for methods in document["paths"].values())
    assert page.get_by_text("Create the caller's vote on a run or one of its messages").is_visible()
    page.wait_for_load_state("networkidle")
    assert elsewhere == []
