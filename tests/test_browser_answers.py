"""Real Chromium on a real dashboard: compare two models, read the verdict, open a theme's feedback."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from data_layer import demo
from tests.conftest import demo_server

pytestmark = pytest.mark.browser


@pytest.fixture
def answers_server(tmp_path):
    """The dashboard over the full-size demo data (the planted effects need its 200 threads)."""
    with demo_server(str(tmp_path / "answers.duckdb"), 200) as server:
        yield server


def _choose(page, label: str, option: str) -> None:
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label)
    box.click()
    page.get_by_role("option", name=option, exact=True).click()


def test_compare_two_models_then_open_a_theme(answers_server, page, chromium):
    # the whole of the demo's data: its end-user votes are too few for a verdict in the default 28 days
    whole = f"from={date.today() - timedelta(days=120)}&to={date.today() + timedelta(days=1)}"
    page.goto(f"{answers_server.url}/compare?{whole}")
    page.wait_for_selector('[data-testid="stApp"]')
    page.get_by_text("Slice A", exact=True).wait_for()
    _choose(page, "Slice A", "gpt-4.1")
    _choose(page, "Slice B", demo.WORSE_MODEL)
    # reviewer votes and end-user votes, each with its own verdict in its own column (the second may
    # draw a moment later); the demo's judges have a section of their own below, not counted here
    for source in ("Reviewer votes", "End-user votes"):
        column = page.locator('[data-testid="stColumn"]').filter(has_text=source)
        expect(column.get_by_text("B is worse than A")).to_have_count(1, timeout=20_000)
    expect(page.get_by_text("By an LLM judge")).to_be_visible()
    assert f"b={demo.WORSE_MODEL}" in page.url

    page.goto(f"{answers_server.url}/themes")
    pill = page.locator('[data-testid="stButtonGroup"] button').filter(has_text="outdated").first
    pill.wait_for(timeout=20_000)
    tables = page.locator('[data-testid="stDataFrame"]')
    before = tables.count()
    pill.click()
    page.get_by_text("negative comments contain “outdated”").wait_for(timeout=20_000)
    page.wait_for_function(
        f"document.querySelectorAll('[data-testid=\"stDataFrame\"]').length > {before}", timeout=20_000
    )
    assert page.locator('[data-testid="stException"]').count() == 0
