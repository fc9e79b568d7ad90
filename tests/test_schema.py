"""The schema is created and migrated by code: a version table and ordered steps."""

from __future__ import annotations

from data_layer import open_store
from data_layer.auth import SYSTEM
from data_layer.schema import STEPS, migrate


def versions(store) -> list[int]:
    with store.engine.read() as conn:
        return [row["version"] for row in conn.all("SELECT version FROM schema_version ORDER BY version")]


def test_steps_are_numbered_in_order():
    assert [step.version for step in STEPS] == list(range(1, len(STEPS) + 1))


def test_a_new_database_gets_every_step_once(store):
    assert versions(store) == [step.version for step in STEPS]
    assert store.schema_version == STEPS[-1].version
    assert migrate(store.engine) == STEPS[-1].version
    assert versions(store) == [step.version for step in STEPS]


def test_reopening_keeps_data_and_version(db_path):
    with open_store(db_path) as first:
        assert first.ingest([{"kind": "thread", "thread_id": "kept"}], actor=SYSTEM).ok
    with open_store(db_path) as second:
        assert second.threads.get("kept")["thread_id"] == "kept"
        assert versions(second) == [step.version for step in STEPS]


def test_timestamps_are_timezone_aware_utc(store):
    store.ingest([{"kind": "thread", "thread_id": "tz", "created_at": "2026-03-01T12:00:00+09:00"}], actor=SYSTEM)
    assert store.threads.get("tz")["created_at"] == "2026-03-01T03:00:00+00:00"
