"""The Datasets page through AppTest on a real store: an admin (local mode) saves a dataset from the filter
bar or a queue and a bad one is not saved; a viewer (signed in) sees the snapshots and their downloads but
no form; the Export page links to it for those who may save."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from data_layer import auth, datasets, open_store
from data_layer.auth import SYSTEM
from data_layer.queues import QueueSpec
from tests.test_datasets import conversation, vote

ROLES = "admin=ad@x.com;lead=lee@x.com;viewer=vi@x.com;default=reviewer"


@pytest.fixture
def db(tmp_path, monkeypatch, fresh_streamlit_caches):
    path = str(tmp_path / "datasets.duckdb")
    monkeypatch.setenv("FEEDBACK_DB", path)
    monkeypatch.setenv("FEEDBACK_DEMO", "0")
    monkeypatch.setenv(auth.ROLES_VARIABLE, ROLES)
    monkeypatch.delenv(auth.TRUSTED_HEADER_VARIABLE, raising=False)
    with open_store(path) as store:
        assert store.ingest(conversation(), actor=SYSTEM).ok
        store.queues.create(QueueSpec("two", selection={"assistant_id": "a2"}), actor=SYSTEM)
        vote(store, "r1", "t1", "alice", 1)
        vote(store, "r3", "t2", "alice", 1)
        vote(store, "r4", "t3", "alice", 1)
        vote(store, "r2", "t1", "alice", -1)
    return path


def page(email: str | None = None, path: str = "pages/datasets.py") -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=30)
    if email:
        at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s" * 32}
        at.user = {"is_logged_in": True, "email": email, "sub": f"sub-{email}"}
    at.switch_page(path)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def stored(db: str) -> list[tuple]:
    with open_store(db) as store:
        return [(d["name"], d["version"], d["items"], d["queue"]) for d in datasets.listing(store, actor=SYSTEM)]


def save(at: AppTest, name: str, verdict: str = "good", queue: str = "") -> AppTest:
    at.text_input(key="ds_name").input(name)
    at.selectbox(key="ds_verdict").set_value(verdict)
    at.selectbox(key="ds_queue").set_value(queue)
    at.button(key="FormSubmitter:ds_form-Save dataset").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_an_admin_saves_datasets_and_a_bad_one_is_not_saved(db):
    at = page()
    assert "No dataset yet. Save one above." in at.info[0].value
    save(at, "bad name!")
    assert any(e.value.startswith("Not saved: dataset name") for e in at.error), [e.value for e in at.error]
    save(at, "trips", verdict="corrected")
    assert any("Not saved: no run matches the verdict rule corrected" in e.value for e in at.error)
    assert stored(db) == []
    save(at, "trips")
    assert "Saved: dataset trips version 1, 3 runs." in at.success[0].value
    save(at, "trips", queue="two")
    assert "Saved: dataset trips version 2, 1 run." in at.success[0].value
    assert stored(db) == [("trips", 2, 1, "two"), ("trips", 1, 3, None)]
    listed = at.dataframe[0].value
    assert list(zip(listed["name"], listed["version"], listed["runs"], strict=True)) == [
        ("trips", 2, 1),
        ("trips", 1, 3),
    ]
    buttons = at.get("download_button")
    assert [b.proto.label for b in buttons] == ["JSONL", "Parquet", "Card (README.md)"]
    at.selectbox(key="ds_pick").set_value(1).run()
    assert "trips v1 · 3 runs" in at.selectbox(key="ds_pick").format_func(1)


def test_a_viewer_downloads_and_cannot_save(db):
    with open_store(db) as store:
        datasets.create(store, "trips", verdict="good", actor=SYSTEM)
    at = page("vi@x.com")
    assert "ds_name" not in {w.key for w in at.text_input}
    assert [b.proto.label for b in at.get("download_button")] == ["JSONL", "Parquet", "Card (README.md)"]
    assert list(at.dataframe[0].value["by"]) == ["system"]
    export = page("vi@x.com", "pages/export.py")
    assert not [button for button in export.button if "dataset" in button.label]
    lead = page("lee@x.com", "pages/export.py")
    assert [button.label for button in lead.button if "dataset" in button.label] == [
        "Save the reviewed runs of these filters as an evaluation dataset"
    ]
