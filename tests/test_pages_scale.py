"""Every page at the benchmark's `small` scale (1,000 threads, 10,000 runs, 50,000 message events,
10,000 votes, made by `bench.generate`): it renders without an error within a generous bound, and no
query it runs hands back more than a page's worth of rows, so a page that loads a whole table into
pandas fails here long before it would slow the large scale down (docs/benchmarks.md)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from bench.generate import SCALES, generate
from data_layer import insights, open_store
from data_layer.auth import SYSTEM
from data_layer.engines import duck
from data_layer.queues import QueueSpec

# The benchmark's small scale, generated once per module: left out of the fast subset.
pytestmark = pytest.mark.slow

SMALL = SCALES["small"]
# The largest result any one query of a page may return: pages show 25 to 100 rows and charts draw
# aggregates (120 days times a few series); 10,000 runs or votes must never come back whole.
MAX_ROWS = 2_000
# Seconds one page run may take before AppTest gives up: generous, for a loaded CI machine.
BOUND = 60

PAGES = (
    ("pages/threads.py", {}),
    ("pages/thread.py", {"thread": None}),
    ("pages/queue.py", {}),
    ("pages/queues.py", {"queue": "scale-sample"}),
    ("pages/stats.py", {}),
    ("pages/compare.py", {}),
    ("pages/agreement.py", {}),
    ("pages/themes.py", {}),
    ("pages/export.py", {}),
    ("pages/datasets.py", {}),
    ("pages/audit.py", {}),
    ("pages/notifications.py", {}),
)


@pytest.fixture(scope="module")
def small_db(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("scale") / "small.duckdb")
    generate(path, SMALL)
    return path


@pytest.fixture
def fetched(monkeypatch) -> list[tuple[int, str, int]]:
    """(rows, SQL, the rows it may fetch) of every query result the pages fetch, through the engine's own cursor
    wrapper. Only the themes page's sample of the newest comments may fetch more than a page: it asks for
    `insights.CORPUS_LIMIT` rows."""
    seen: list[tuple[int, str, int]] = []
    all_rows, batches = duck.DuckConn.all, duck.DuckConn.arrow_batches

    def bound(params) -> int:
        return insights.CORPUS_LIMIT if params and params.get("limit") == insights.CORPUS_LIMIT else MAX_ROWS

    def counting_all(self, sql, params=None):
        rows = all_rows(self, sql, params)
        seen.append((len(rows), sql, bound(params)))
        return rows

    def counting_batches(self, sql, params=None, batch_size=65536):
        total = 0
        for batch in batches(self, sql, params, batch_size):
            total += batch.num_rows
            yield batch
        seen.append((total, sql, bound(params)))

    monkeypatch.setattr(duck.DuckConn, "all", counting_all)
    monkeypatch.setattr(duck.DuckConn, "arrow_batches", counting_batches)
    return seen


@pytest.mark.parametrize(("script", "params"), PAGES, ids=[script for script, _ in PAGES])
def test_each_page_renders_at_small_scale_without_whole_table_loads(
    small_db, script, params, fetched, monkeypatch, fresh_streamlit_caches
):
    if "thread" in params:
        store = open_store(small_db)
        try:
            busiest = store.threads.list(order="runs desc", limit=1)[0]
        finally:
            store.close()
        params = {"thread": busiest["thread_id"]}
        assert busiest["run_count"] >= 10
    if "queue" in params:
        with open_store(small_db) as store:
            if params["queue"] not in {queue["name"] for queue in store.queues.list(actor=SYSTEM)}:
                spec = QueueSpec(params["queue"], sample_rate=0.1, reviewers_per_item=2)
                store.queues.create(spec, actor=SYSTEM)
    monkeypatch.setenv("FEEDBACK_DB", small_db)
    monkeypatch.setenv("FEEDBACK_DEMO", "0")
    at = AppTest.from_file("../app.py", default_timeout=BOUND)
    at.switch_page(script)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, [error.value for error in at.exception]
    assert fetched, "the page ran no query: it did not draw its data"
    for rows, sql, bound in fetched:
        assert rows <= bound, f"{script} fetched {rows} rows in one query:\n{sql}"
