"""Where import records come from: JSONL files and streams, JSON arrays, Parquet files, HTTP bodies.

Each reader yields `(line, record)` pairs, numbered as the source is (a JSONL line, a position in an
array, a Parquet row); a line that cannot be read at all is a `RecordError` carried to the report.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator

import pyarrow as pa

from data_layer.errors import InvalidInput
from data_layer.ingest.records import RecordError


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r:.60}")
            seen.add(key)
    return result


# One decoder for every line: `json.loads` with a hook builds a new one per call.
_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys)


def decode_line(raw: bytes):
    """One JSONL line as a record, or a `RecordError` saying why it cannot be read."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return RecordError(f"invalid UTF-8 at byte {error.start}")
    try:
        return _DECODER.decode(text)
    except RecursionError:
        return RecordError("JSON nested too deeply")
    except ValueError as error:
        return RecordError(f"malformed JSON: {error}")


def read_jsonl(stream) -> Iterator[tuple[int, object]]:
    """Number the lines of a binary JSONL stream; blank lines are skipped but keep their number. A UTF-8
    byte-order mark before the first line (as Windows tools write one) is not part of it."""
    for line, raw in enumerate(stream, start=1):
        if line == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        if raw.strip():
            yield line, decode_line(raw)


def read_json_array(data: bytes) -> Iterator[tuple[int, object]]:
    """A JSON array of records, numbered from 1 by position."""
    record = decode_line(data.removeprefix(codecs.BOM_UTF8))
    if isinstance(record, RecordError):
        yield 1, record
        return
    if not isinstance(record, list):
        yield 1, RecordError("expected a JSON array of records")
        return
    yield from enumerate(record, start=1)


def read_body(data: bytes) -> Iterator[tuple[int, object]]:
    """An HTTP body: a JSON array of records, or JSONL (either may start with a UTF-8 byte-order mark)."""
    data = data.removeprefix(codecs.BOM_UTF8)
    if data.lstrip()[:1] == b"[":
        return read_json_array(data)
    return read_jsonl(data.splitlines())


class JsonlFile:
    """The numbered records of a `.jsonl` file; `run_import` first tries the fast reader on `path`
    (`fast.py`)."""

    def __init__(self, path: str):
        self.path = path

    def __iter__(self) -> Iterator[tuple[int, object]]:
        with open(self.path, "rb") as stream:
            yield from read_jsonl(stream)


def read_file(path: str) -> Iterable[tuple[int, object]]:
    """Records of a `.jsonl`, `.jsonl.gz`, `.json` or `.parquet` file, numbered."""
    if str(path).lower().endswith((".jsonl", ".ndjson")):
        return JsonlFile(str(path))
    return _read_other(str(path))


def _read_other(path: str) -> Iterator[tuple[int, object]]:
    name = path.lower()
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        try:
            source = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as error:
            raise InvalidInput(f"{path}: not a readable Parquet file ({error})") from error
        line = 0
        for batch in source.iter_batches(batch_size=10_000):
            for row in batch.to_pylist():
                line += 1
                yield line, {key: value for key, value in row.items() if value is not None}
        return
    if name.endswith((".jsonl.gz", ".ndjson.gz")):
        import gzip

        with open(path, "rb") as raw, gzip.open(raw) as stream:
            try:
                yield from read_jsonl(stream)
            except (OSError, EOFError) as error:
                raise InvalidInput(f"{path}: not a readable gzip file ({error})") from error
        return
    if name.endswith(".json"):
        with open(path, "rb") as stream:
            yield from read_json_array(stream.read())
        return
    raise InvalidInput(f"{path}: unknown file type; expected .jsonl, .jsonl.gz, .json or .parquet")
