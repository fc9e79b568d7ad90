"""Evaluation datasets from reviewed runs: named, versioned snapshots that never change once written.

`create` takes a name, a verdict rule (`spec.VERDICTS`) and the runs to take it from (the insight pages'
filters, or a queue's items), reads the items on one snapshot of the store (`items.py`), writes them as
JSONL and Parquet with a dataset card (`shapes.py`, `card.py`, `files.py`) and stores the snapshot as the
name's next version, its row, its files' bytes and its `dataset.created` event in one transaction: a
snapshot is there whole or not at all, and a name and version is never written twice. Making a dataset
takes the `manage_datasets` action; listing and downloading take `read`, as the export does.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from data_layer import auth
from data_layer.datasets import card, files
from data_layer.datasets.files import FORMATS, MEDIA_TYPES
from data_layer.datasets.spec import VERDICTS, DatasetSpec, name_of, version_of
from data_layer.errors import InvalidInput, NotFound
from data_layer.notify import outbox
from data_layer.rows import plain

__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "VERDICTS",
    "DatasetSpec",
    "content",
    "create",
    "file_name",
    "get",
    "listing",
    "write_file",
]

_COLUMNS = "name, version, created_at, created_by, verdict, filters, queue_name, items, counts, files"

_INSERT = f"""
INSERT INTO datasets ({_COLUMNS})
VALUES ($name, $version, $created_at, $created_by, $verdict, $filters, $queue_name, $items, $counts, $files)
"""
_NEXT = "SELECT coalesce(max(version), 0) + 1 FROM datasets WHERE name = $name"
_LIST = f"SELECT {_COLUMNS} FROM datasets ORDER BY name, version DESC"
_GET = f"SELECT {_COLUMNS} FROM datasets WHERE name = $name AND version = $version"
_LATEST = f"SELECT {_COLUMNS} FROM datasets WHERE name = $name ORDER BY version DESC LIMIT 1"
_QUEUE = "SELECT name FROM queues WHERE name = $name"


def create(store, name, *, verdict, filters=None, queue=None, actor: auth.Actor) -> dict:
    """Save the runs of `filters` (or of the queue `queue`) that the rule `verdict` keeps as the next
    version of the dataset `name`; returns the stored snapshot. `InvalidInput` naming a bad name, rule or
    filter, or saying that no run matches; `NotFound` for an unknown queue. Nothing is stored then."""
    auth.authorize(actor, "manage_datasets")
    spec = DatasetSpec(name, verdict, filters, queue)
    with tempfile.TemporaryDirectory(prefix="dataset-") as temporary:
        folder = Path(temporary)
        with store.engine.read() as conn:
            conn.snapshot()
            if spec.queue is not None and conn.one(_QUEUE, {"name": spec.queue}) is None:
                raise NotFound(f"queue {spec.queue} not found")
            counts = files.write(conn, spec, folder)
        if not counts["items"]:
            raise InvalidInput(f"no run matches the verdict rule {spec.verdict} {_source(spec)}: nothing was saved")
        described = {fmt: files.describe(folder, fmt) for fmt in ("jsonl", "parquet")}
        now = datetime.now(UTC)

        def write(conn) -> dict:
            dataset = {
                "name": spec.name,
                "version": int(conn.scalar(_NEXT, {"name": spec.name})),
                "created_at": now.isoformat(),
                "created_by": actor.user_id,
                "verdict": spec.verdict,
                "filters": spec.filters.as_dict(),
                "queue": spec.queue,
                "items": counts["items"],
                "counts": counts,
            }
            (folder / FORMATS["card"]).write_text(card.text({**dataset, "files": described}), encoding="utf-8")
            dataset["files"] = {**described, "card": files.describe(folder, "card")}
            conn.execute(_INSERT, _row(dataset, now))
            files.store(conn, spec.name, dataset["version"], folder)
            outbox.dataset_created(conn, {key: dataset[key] for key in _EVENT}, at=now)
            return dataset

        return store.engine.write(write)


# What the `dataset.created` event tells.
_EVENT = ("name", "version", "created_at", "created_by", "verdict", "filters", "queue", "items", "counts")


def _source(spec: DatasetSpec) -> str:
    chosen = spec.filters.as_dict()
    where = f"in queue {spec.queue}" if spec.queue else "among the stored runs"
    return f"{where} with the filters {json.dumps(chosen)}" if chosen else where


def _row(dataset: dict, now: datetime) -> dict:
    return {
        **dataset,
        "created_at": now,
        "queue_name": dataset["queue"],
        "filters": json.dumps(dataset["filters"]),
        "counts": json.dumps(dataset["counts"]),
        "files": json.dumps(dataset["files"]),
    }


def _dataset(row: dict) -> dict:
    dataset = plain(row)
    dataset["queue"] = dataset.pop("queue_name")
    for key in ("filters", "counts", "files"):
        dataset[key] = json.loads(dataset[key])
    return dataset


def listing(store, *, actor: auth.Actor) -> list[dict]:
    """Every snapshot, by name, newest version first: its definition, counts and files."""
    auth.authorize(actor, "read")
    with store.engine.read() as conn:
        return [_dataset(row) for row in conn.all(_LIST)]


def get(store, name, version=None, *, actor: auth.Actor) -> dict:
    """One snapshot (`version` None: the newest of the name); `NotFound` when there is none."""
    auth.authorize(actor, "read")
    name = name_of(name)
    with store.engine.read() as conn:
        if version is None:
            row = conn.one(_LATEST, {"name": name})
        else:
            row = conn.one(_GET, {"name": name, "version": version_of(version)})
    if row is None:
        raise NotFound(
            f"dataset {name} not found" if version is None else f"dataset {name} version {version} not found"
        )
    return _dataset(row)


def content(store, name, version, fmt: str, *, actor: auth.Actor) -> Iterator[bytes]:
    """The bytes of one file of a snapshot (`fmt`: jsonl, parquet or card), part by part. The caller, the
    format and the snapshot are checked now; the parts are read as they are consumed."""
    fmt = files.format_of(fmt)
    found = get(store, name, version, actor=actor)
    return files.parts(store.engine, found["name"], found["version"], fmt)


def file_name(dataset: dict, fmt: str) -> str:
    """The name a downloaded file is saved under: `NAME-vN.jsonl`, `NAME-vN.parquet`, `NAME-vN-README.md`."""
    suffix = {"jsonl": ".jsonl", "parquet": ".parquet", "card": "-README.md"}[files.format_of(fmt)]
    return f"{dataset['name']}-v{dataset['version']}{suffix}"


def write_file(store, name, version, fmt: str, path, *, actor: auth.Actor) -> Path:
    """Write one file of a snapshot to `path`, which appears only when complete; returns the path."""
    target = Path(path)
    files.save(content(store, name, version, fmt, actor=actor), target)
    return target
