"""The threads list's page on DuckDB, ordered by row id before its rows are read whole (`Engine.row_id`), is the
page the one-pass read gives, for every filter, order and offset."""

from __future__ import annotations

import pytest

from data_layer import demo, open_store
from data_layer.auth import SYSTEM
from data_layer.rows import plain_all
from data_layer.threads import ORDERS, _page, order_by

FILTERS = [
    {},
    {"model_name": "qwen-max-old"},
    {"status": "error"},
    {"assistant_id": "coding-agent"},
    {"has_negative": True},
    {"negative_reviewer_feedback": True, "model_name": "gpt-4.1"},
    {"search": "the"},
    {"search": "the", "status": "success"},
]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with open_store(str(tmp_path_factory.mktemp("page") / "feedback.duckdb")) as opened:
        assert demo.seed(opened, threads=60, seed=7, actor=SYSTEM).ok
        yield opened


def reviewer(store) -> str:
    with store.engine.read() as conn:
        return conn.scalar("SELECT min(owner_id) FROM feedback WHERE source = 'reviewer'")


@pytest.mark.parametrize("order", [f"{key} {direction}" for key in ORDERS for direction in ("asc", "desc")])
def test_every_page_is_the_one_pass_page(store, order):
    assert store.engine.row_id == "rowid"
    for filters in [*FILTERS, {"not_reviewed_by": reviewer(store)}]:
        where, params, _ = store.threads._where(filters)
        total = store.threads.count(filters)
        assert total > 0, filters
        for offset in (0, 7, total - 3):
            with store.engine.read() as conn:
                expected = conn.all(_page(where, order_by(order), None), {**params, "limit": 7, "offset": offset})
            listed = store.threads.list(filters, order=order, limit=7, offset=offset)
            assert listed == plain_all(expected), (filters, offset)
            assert len(listed) == min(7, total - offset)
