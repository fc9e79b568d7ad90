"""A real OpenID Connect round trip in headless Chromium: a local provider (`oidc-provider-mock`), the
dashboard started with secrets pointing at it, two reviewers signing in, each voting, each seeing
their own vote as theirs and unable to change the other's; then an admin reads the audit trail.
Saves the signed-in view and the audit page to docs/screenshots/.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from data_layer import open_store
from data_layer.auth import SYSTEM, Actor
from pages._votes import panel_key
from tests.conftest import AppServer

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
TIMEOUT = 20_000
# Subjects typed on the provider's page, and the claims it returns for them: the dashboard must store
# the email, never the subject typed in.
USERS = {
    "sub-ana": {"email": "ana@example.com", "email_verified": True},
    "sub-bo": {"email": "bo@example.com", "email_verified": True},
    "sub-cy": {"email": "cy@example.com", "email_verified": True},
}


@pytest.fixture(scope="module")
def provider():
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread() as server:
        url = f"http://localhost:{server.server_port}"
        for subject, claims in USERS.items():
            assert httpx.put(f"{url}/users/{subject}", json=claims, timeout=10).status_code in (200, 204)
        yield url


@pytest.fixture(scope="module")
def server(provider, tmp_path_factory):
    folder = tmp_path_factory.mktemp("oidc")
    db = str(folder / "oidc.duckdb")
    with open_store(db) as store:
        assert store.ingest(
            [
                {"kind": "thread", "thread_id": "t1", "display_name": "Trip to Kyoto"},
                {"kind": "run", "run_id": "r1", "thread_id": "t1", "status": "success", "model_name": "m1"},
                {
                    "kind": "event",
                    "thread_id": "t1",
                    "run_id": "r1",
                    "seq": 1,
                    "event_type": "human_message",
                    "content": {"type": "human", "content": "Plan a day in Kyoto", "id": "h1"},
                },
                {
                    "kind": "event",
                    "thread_id": "t1",
                    "run_id": "r1",
                    "seq": 2,
                    "event_type": "ai_message",
                    "content": {"type": "ai", "content": "Temples in the morning, food in the evening.", "id": "a1"},
                },
            ],
            actor=SYSTEM,
        ).ok
    secrets_file = folder / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        'client_id = "feedback-dashboard"\n'
        'client_secret = "test-client-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
    )
    running = AppServer(
        db,
        env={
            "STREAMLIT_SECRETS_FILES": str(secrets_file),
            "FEEDBACK_ROLES": "admin=ana@example.com;default=reviewer",
            "FEEDBACK_DEMO": "0",
        },
    )
    yield running
    running.stop()


def wait_ready(page) -> None:
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=TIMEOUT)
    assert page.locator('[data-testid="stException"]').count() == 0


def sign_in(chromium, server, subject: str):
    """A fresh browser context signed in as `subject` through the provider's authorization page."""
    context = chromium.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    page.goto(f"{server.url}/thread?thread=t1")
    page.get_by_role("button", name="Sign in").click(timeout=TIMEOUT)
    page.wait_for_selector('input[name="sub"]', timeout=TIMEOUT)
    page.fill('input[name="sub"]', subject)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(re.escape(server.url)), timeout=TIMEOUT)
    expect(page.get_by_text(USERS[subject]["email"]).first).to_be_visible(timeout=TIMEOUT)
    return context, page


def open_thread(page, server):
    page.goto(f"{server.url}/thread?thread=t1")
    panel = page.locator(f".st-key-{panel_key('r1', None)}")
    expect(panel.get_by_role("radio", name="Thumbs up")).to_be_visible(timeout=TIMEOUT)
    wait_ready(page)
    return panel


def test_two_signed_in_reviewers_vote_as_themselves(server, chromium):
    SHOTS.mkdir(parents=True, exist_ok=True)
    bo_context, bo = sign_in(chromium, server, "sub-bo")
    cy_context, cy = sign_in(chromium, server, "sub-cy")
    try:
        expect(bo.get_by_text("Signed in with single sign-on")).to_contain_text("role reviewer")
        assert bo.get_by_role("link", name="Audit trail").count() == 0
        assert bo.get_by_text("Local mode, not signed in").count() == 0

        bo_panel = open_thread(bo, server)
        bo_panel.get_by_role("radio", name="Thumbs up").click()
        expect(bo_panel.get_by_text("Your vote: good")).to_be_visible(timeout=TIMEOUT)

        cy_panel = open_thread(cy, server)
        expect(cy_panel.get_by_text(re.compile("^others: 1 thumb_up"))).to_be_visible(timeout=TIMEOUT)
        expect(cy_panel.get_by_text("not voted yet")).to_be_visible()
        cy_panel.get_by_role("radio", name="Thumbs down").click()
        expect(cy_panel.get_by_text("Your vote: bad")).to_be_visible(timeout=TIMEOUT)

        # each sees their own vote as theirs, the other's among the others, with nothing to change it by
        bo_panel = open_thread(bo, server)
        expect(bo_panel.get_by_role("radio", name="Thumbs up")).to_have_attribute("aria-checked", "true")
        expect(bo_panel.get_by_text(re.compile("^others: 0 thumb_up · 1 thumb_down"))).to_be_visible()
        bo_panel.get_by_text(re.compile(r"^Other votes")).click()
        expect(bo_panel.get_by_text("cy@example.com")).to_be_visible(timeout=TIMEOUT)
        assert bo_panel.get_by_role("button", name="Delete").count() == 0
        wait_ready(bo)
        bo_panel.get_by_text("cy@example.com").scroll_into_view_if_needed()
        bo.screenshot(path=str(SHOTS / "signed-in.png"))

        # bo changes his vote; cy's stays as she left it
        bo_panel.get_by_role("radio", name="Thumbs down").click()
        expect(bo_panel.get_by_text("Your vote: bad")).to_be_visible(timeout=TIMEOUT)
        cy_panel = open_thread(cy, server)
        expect(cy_panel.get_by_role("radio", name="Thumbs down")).to_have_attribute("aria-checked", "true")
        expect(cy_panel.get_by_text(re.compile("^others: 0 thumb_up · 1 thumb_down"))).to_be_visible()
    finally:
        bo_context.close()
        cy_context.close()

    # an admin sees every step of both, in order, and may delete anyone's vote
    ana_context, ana = sign_in(chromium, server, "sub-ana")
    try:
        ana_panel = open_thread(ana, server)
        ana_panel.get_by_text(re.compile(r"^Other votes")).click()
        expect(ana_panel.get_by_role("button", name="Delete")).to_have_count(2, timeout=TIMEOUT)
        ana.goto(f"{server.url}/audit")
        expect(ana.get_by_text("3 changes")).to_be_visible(timeout=TIMEOUT)
        expect(ana.locator('[data-testid="stDataFrame"]')).to_be_visible(timeout=TIMEOUT)
        expect(ana.get_by_label("Who (user id)")).to_be_visible()
        wait_ready(ana)
        ana.wait_for_timeout(500)  # the table is drawn on a canvas after its element appears
        ana.screenshot(path=str(SHOTS / "audit.png"))
    finally:
        ana_context.close()
    server.stop()  # DuckDB lets one process hold the file
    with open_store(server.db) as store:
        votes = {vote["owner_id"]: vote["rating"] for vote in store.feedback.list_by_run("t1", "r1", actor=SYSTEM)}
        steps = store.audit.list(actor=Actor("ana@example.com", "admin"))
    assert votes == {"bo@example.com": -1, "cy@example.com": -1}
    assert [(step["actor_id"], step["action"]) for step in steps] == [
        ("bo@example.com", "create"),
        ("cy@example.com", "create"),
        ("bo@example.com", "update"),
    ]
