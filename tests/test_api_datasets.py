"""The evaluation datasets' REST endpoints over real HTTP on a running `streamlit run app.py`, on both
engines: the list, and each snapshot's files as downloads equal to what the data layer stored."""

from __future__ import annotations

import io
import json

import httpx
import pyarrow.parquet as pq
import pytest

from data_layer import auth, datasets, open_store
from data_layer.auth import SYSTEM
from tests.conftest import AppServer
from tests.test_datasets import conversation, vote

USERS = {"ana": "admin", "vi": "viewer", "eu": "end_user"}
TOKENS = {user: auth.new_token() for user in USERS}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(module_store_url):
    with open_store(module_store_url) as store:
        assert store.ingest(conversation(), actor=SYSTEM).ok
        vote(store, "r1", "t1", "alice", 1)
        vote(store, "r4", "t3", "alice", 1)
        datasets.create(store, "trips", verdict="good", actor=SYSTEM)
        stored = {fmt: b"".join(datasets.content(store, "trips", 1, fmt, actor=SYSTEM)) for fmt in datasets.FORMATS}
    tokens = ",".join(auth.token_entry(user, role, TOKENS[user]) for user, role in USERS.items())
    server = AppServer(module_store_url, env={"FEEDBACK_API_TOKENS": tokens, "FEEDBACK_DEMO": "0"})
    clients = {
        user: httpx.Client(base_url=f"{server.url}/api", headers={"Authorization": f"Bearer {TOKENS[user]}"})
        for user in USERS
    }
    clients[None] = httpx.Client(base_url=f"{server.url}/api")
    yield clients, stored
    for client in clients.values():
        client.close()
    server.stop()


def test_readers_list_the_snapshots_and_others_are_refused(api):
    clients, stored = api
    listed = clients["vi"].get("/datasets")
    assert listed.status_code == 200, listed.text
    (only,) = listed.json()
    assert (only["name"], only["version"], only["items"], only["verdict"]) == ("trips", 1, 2, "good")
    assert only["files"]["parquet"]["bytes"] == len(stored["parquet"])
    assert clients["eu"].get("/datasets").status_code == 403
    assert clients[None].get("/datasets").status_code == 401


def test_each_file_downloads_as_stored(api):
    clients, stored = api
    for extension, fmt, media in (
        ("jsonl", "jsonl", "application/x-ndjson"),
        ("parquet", "parquet", "application/vnd.apache.parquet"),
        ("md", "card", "text/markdown"),
    ):
        # Uncompressed: the dashboard's server gzips what a client accepts so, without a length.
        answer = clients["vi"].get(f"/datasets/trips/1.{extension}", headers={"Accept-Encoding": "identity"})
        assert answer.status_code == 200, answer.text
        assert answer.content == stored[fmt]
        assert answer.headers["content-type"].startswith(media)
        assert answer.headers["content-length"] == str(len(stored[fmt]))
    named = clients["vi"].get("/datasets/trips/1.jsonl").headers["content-disposition"]
    assert named == 'attachment; filename="trips-v1.jsonl"'
    lines = clients["vi"].get("/datasets/trips/1.jsonl").text.splitlines()
    assert [json.loads(line)["run_id"] for line in lines] == ["r1", "r4"]
    table = pq.read_table(io.BytesIO(clients["ana"].get("/datasets/trips/1.parquet").content))
    assert table.column("verdict").to_pylist() == ["good", "good"]


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        ("/datasets/trips/2.jsonl", 404, "dataset trips version 2 not found"),
        ("/datasets/nope/1.parquet", 404, "dataset nope version 1 not found"),
        ("/datasets/trips/1.csv", 400, "extension"),
        ("/datasets/trips/0.jsonl", 400, "version"),
        ("/datasets/bad%20name/1.jsonl", 400, "name"),
    ],
)
def test_a_bad_download_is_refused_naming_it(api, path, status, detail):
    clients, _ = api
    answer = clients["vi"].get(path)
    assert answer.status_code == status, answer.text
    assert detail in answer.json()["detail"]
    assert clients["eu"].get(path).status_code in (400, 403)
