"""A snapshot's files: written to a temporary folder from the items' pages, kept in the database in
parts, read back part by part, and written out to a path only when whole.

The JSONL and Parquet files are written in one pass over the pages (Parquet a row group of at most
`ROW_GROUP` items at a time); the card last, once the snapshot's version and the other files' sizes and
digests are known.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq

from data_layer.datasets import items, shapes
from data_layer.datasets.spec import DatasetSpec
from data_layer.errors import InvalidInput

FORMATS = {"jsonl": "dataset.jsonl", "parquet": "dataset.parquet", "card": "README.md"}
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "parquet": "application/vnd.apache.parquet", "card": "text/markdown"}
PART = 1 << 20
ROW_GROUP = 5_000
COUNTS = ("items", "good", "bad", "disputed", "no_verdict", "corrected", "adjudicated")

_INSERT = """
INSERT INTO dataset_files (name, version, format, part, bytes) VALUES ($name, $version, $format, $part, $bytes)
"""
_PART = """
SELECT bytes FROM dataset_files WHERE name = $name AND version = $version AND format = $format AND part = $part
"""


def format_of(fmt) -> str:
    if fmt not in FORMATS:
        raise InvalidInput(f"a dataset is exported as {', '.join(FORMATS)}, not {str(fmt)[:40]!r}")
    return fmt


def write(conn, spec: DatasetSpec, folder: Path) -> dict:
    """Write the spec's items read on `conn` as `dataset.jsonl` and `dataset.parquet` in `folder`;
    returns the counts (items, by verdict, corrected, adjudicated)."""
    counts: Counter = Counter({name: 0 for name in COUNTS})
    waiting: list[dict] = []
    with (
        (folder / FORMATS["jsonl"]).open("wb") as jsonl,
        pq.ParquetWriter(folder / FORMATS["parquet"], shapes.SCHEMA, compression="zstd") as parquet,
    ):
        for page in items.pages(conn, spec):
            rows = [shapes.record(item) for item in page]
            jsonl.write(b"".join(shapes.line(row) for row in rows))
            for row in rows:
                counts["items"] += 1
                counts[row["verdict"] or "no_verdict"] += 1
                counts["corrected"] += row["correction"] is not None
                counts["adjudicated"] += row["verdict_by"] == "adjudication"
            waiting.extend(rows)
            if len(waiting) >= ROW_GROUP:
                parquet.write_table(shapes.table(waiting))
                waiting = []
        if waiting:
            parquet.write_table(shapes.table(waiting))
    return dict(counts)


def describe(folder: Path, fmt: str) -> dict:
    """A file's name, size and SHA-256."""
    path = folder / FORMATS[fmt]
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(PART):
            digest.update(block)
    return {"file": FORMATS[fmt], "bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def store(conn, name: str, version: int, folder: Path) -> None:
    """Insert every file of `folder` in parts, in `conn`'s transaction."""
    for fmt, file in FORMATS.items():
        with (folder / file).open("rb") as source:
            part = 0
            while block := source.read(PART):
                conn.execute(_INSERT, {"name": name, "version": version, "format": fmt, "part": part, "bytes": block})
                part += 1


def parts(engine, name: str, version: int, fmt: str) -> Iterator[bytes]:
    """The stored file's bytes, part by part, each part read on its own (a download of any size holds one)."""
    part = 0
    while True:
        with engine.read() as conn:
            block = conn.scalar(_PART, {"name": name, "version": version, "format": fmt, "part": part})
        if block is None:
            return
        yield bytes(block)
        part += 1


def save(blocks: Iterator[bytes], target: Path) -> None:
    """Write `blocks` to `target`, which appears only when complete (written beside it, then renamed)."""
    if target.is_dir():
        raise InvalidInput(f"{target} is a directory; give a file name")
    if not target.parent.is_dir():
        raise InvalidInput(f"directory {target.parent} does not exist")
    partial = target.with_name(f".{target.name}.part")
    try:
        with partial.open("wb") as sink:
            for block in blocks:
                sink.write(block)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
