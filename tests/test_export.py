"""Export round trips: CSV read back by Python's csv module (injection neutralized, awkward text
intact), JSONL and Parquet exact, row counts equal to the stored feedback; and the CLI command."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from data_layer import demo, export, export_csv, open_store, stats
from data_layer.auth import SYSTEM
from data_layer.errors import InvalidInput
from data_layer.filters import Filters
from tests.conftest import ROOT

HOSTILE = {
    "formula": '=HYPERLINK("http://evil.example","click")',
    "plus": "+1 555 0100",
    "minus": "-2+3",
    "at": "@SUM(A1:A2)",
    "tab": "\tleading tab",
    "cr": "\rleading carriage return",
    "awkward": 'a, b "quoted"\nsecond line, still\r\nthird',
    "unicode": "信息过时 — naïve café ✓",
}
RISKY = {"formula", "plus", "minus", "at", "tab", "cr"}


def _records():
    records = [
        {"kind": "thread", "thread_id": "t1", "assistant_id": "A", "display_name": "=1+1 title"},
        {"kind": "run", "run_id": "r1", "thread_id": "t1", "assistant_id": "A", "status": "success", "model_name": "m1",
         "created_at": "2026-03-02T10:00:00Z"},
        {"kind": "event", "thread_id": "t1", "run_id": "r1", "seq": 1, "event_type": "human_message",
         "content": {"type": "human", "content": "-What is 2+2?", "id": "h1"}},
        {"kind": "event", "thread_id": "t1", "run_id": "r1", "seq": 2, "event_type": "ai_message",
         "content": {"type": "ai", "content": "First answer", "id": "a1"}},
        {"kind": "event", "thread_id": "t1", "run_id": "r1", "seq": 3, "event_type": "ai_message",
         "content": {"type": "ai", "content": "Final answer: 4", "id": "a2"}},
    ]  # fmt: skip
    for index, (name, text) in enumerate(HOSTILE.items()):
        records.append(
            {
                "kind": "feedback",
                "thread_id": "t1",
                "run_id": "r1",
                "owner_id": f"reviewer-{name}",
                "rating": -1 if index % 2 else 1,
                "comment": text,
                "tags": ["incorrect", "slow"] if name == "unicode" else [],
                "source": "reviewer",
                "created_at": f"2026-03-02T11:{index:02d}:00.999500Z",
            }
        )
    return records


@pytest.fixture
def hostile(store):
    report = store.ingest(_records(), actor=SYSTEM)
    assert report.ok, report.summary()
    store.feedback.create(
        thread_id="t1", run_id="r1", rating=-1, owner_id="msg-reviewer", message_id="a1", actor=SYSTEM
    )
    return store


def _csv_rows(path):
    with open(path, encoding="utf-8-sig", newline="") as stream:
        return list(csv.DictReader(stream))


def _jsonl_rows(path):
    with open(path, encoding="utf-8") as stream:
        return [json.loads(line) for line in stream]


def test_csv_neutralizes_formulas_and_keeps_awkward_text(hostile, tmp_path):
    path = tmp_path / "out.csv"
    assert export.write(hostile, path, "csv", actor=SYSTEM) == len(HOSTILE) + 1
    assert path.read_bytes().startswith(export_csv.CSV_BOM)
    rows = {row["reviewer"]: row for row in _csv_rows(path)}
    for name, text in HOSTILE.items():
        expected = "'" + text if name in RISKY else text
        assert rows[f"reviewer-{name}"]["comment"] == expected, name
    assert rows["reviewer-unicode"]["tags"] == "incorrect;slow"
    assert rows["reviewer-formula"]["tags"] == ""
    assert rows["reviewer-formula"]["thread_title"] == "'=1+1 title"  # every text column, not just comments
    assert rows["reviewer-formula"]["human_message"] == "'-What is 2+2?"
    assert rows["reviewer-formula"]["rating"] == "1"  # numbers stay numbers
    # Times as spreadsheets read them, in UTC as the header says; JSONL and Parquet keep the microseconds.
    formula = rows["reviewer-formula"]
    assert "created_at" not in formula and formula["created_at_utc"] == "2026-03-02 11:00:00"
    assert formula["run_created_at_utc"] == "2026-03-02 10:00:00"
    assert formula["updated_at_utc"] == "2026-03-02 11:00:00"  # the second it began, never rounded up
    assert not any(name.startswith(".") for name in (p.name for p in tmp_path.iterdir()))  # no partial file left


def test_jsonl_and_parquet_keep_exact_text(hostile, tmp_path):
    export.write(hostile, tmp_path / "out.jsonl", "jsonl", actor=SYSTEM)
    export.write(hostile, tmp_path / "out.parquet", actor=SYSTEM)  # format from the extension
    from_json = {row["reviewer"]: row for row in _jsonl_rows(tmp_path / "out.jsonl")}
    table = pq.read_table(tmp_path / "out.parquet")
    from_parquet = {row["reviewer"]: row for row in table.to_pylist()}
    for name, text in HOSTILE.items():
        assert from_json[f"reviewer-{name}"]["comment"] == text
        assert from_parquet[f"reviewer-{name}"]["comment"] == text
    assert from_json["reviewer-unicode"]["tags"] == ["incorrect", "slow"]
    assert from_parquet["reviewer-unicode"]["tags"] == ["incorrect", "slow"]
    assert from_json["reviewer-formula"]["thread_title"] == "=1+1 title"
    assert from_json["reviewer-formula"]["created_at"] == "2026-03-02T11:00:00.999500+00:00"
    assert from_parquet["reviewer-formula"]["created_at"].microsecond == 999500
    assert str(table.schema.field("created_at").type) == "timestamp[us, tz=UTC]"
    assert table.schema.field("rating").type.bit_width == 16


def test_context_columns_and_message_scoped_votes(hostile, tmp_path):
    export.write(hostile, tmp_path / "out.jsonl", actor=SYSTEM)
    rows = {row["reviewer"]: row for row in _jsonl_rows(tmp_path / "out.jsonl")}
    run_vote, message_vote = rows["reviewer-plus"], rows["msg-reviewer"]
    assert (run_vote["assistant_id"], run_vote["model_name"], run_vote["run_status"]) == ("A", "m1", "success")
    assert run_vote["human_message"] == "-What is 2+2?"
    assert run_vote["ai_message"] == "Final answer: 4"  # the run's answer
    assert run_vote["message_id"] is None and run_vote["source"] == "reviewer"
    assert message_vote["message_id"] == "a1" and message_vote["ai_message"] == "First answer"  # the message itself


def test_filters_rating_and_columns(hostile, tmp_path):
    negatives = sum(1 for index in range(len(HOSTILE)) if index % 2) + 1
    assert export.count(hostile, {"rating": "negative"}, actor=SYSTEM) == negatives
    assert export.count(hostile, {"since": "2026-03-03"}, actor=SYSTEM) == 0
    assert export.count(hostile, {"reviewer": "reviewer-at"}, actor=SYSTEM) == 1
    path = tmp_path / "few.csv"
    assert export.write(
        hostile, path, "csv", {"assistant_id": "A", "rating": -1}, columns=["rating", "comment"], actor=SYSTEM
    ) == (negatives)
    rows = _csv_rows(path)
    assert list(rows[0]) == ["rating", "comment"] and {row["rating"] for row in rows} == {"-1"}
    with pytest.raises(InvalidInput, match="unknown column"):
        export.write(hostile, tmp_path / "bad.csv", columns=["rating", "password"], actor=SYSTEM)
    with pytest.raises(InvalidInput, match="format"):
        export.write(hostile, tmp_path / "bad.xlsx", actor=SYSTEM)
    with pytest.raises(InvalidInput, match="rating"):
        export.count(hostile, {"rating": "meh"}, actor=SYSTEM)
    with pytest.raises(InvalidInput, match="the export cannot be filtered by status"):
        export.write(hostile, tmp_path / "bad.csv", filters={"status": "error"}, actor=SYSTEM)
    assert not (tmp_path / "bad.csv").exists()


def test_empty_export_still_has_a_header_and_schema(store, tmp_path):
    assert export.write(store, tmp_path / "e.csv", actor=SYSTEM) == 0
    with open(tmp_path / "e.csv", encoding="utf-8-sig", newline="") as stream:
        times = {"created_at", "run_created_at", "updated_at"}
        assert next(csv.reader(stream)) == [f"{name}_utc" if name in times else name for name in export.COLUMNS]
    assert export.write(store, tmp_path / "e.parquet", actor=SYSTEM) == 0
    assert pq.read_table(tmp_path / "e.parquet").column_names == list(export.COLUMNS)
    assert export.write(store, tmp_path / "e.jsonl", actor=SYSTEM) == 0
    assert (tmp_path / "e.jsonl").read_text() == ""


def test_demo_export_round_trip_in_small_batches(demo_store, tmp_path):
    """Many batches (7 rows each): every format reads back the same rows as stored, in the same order."""
    total = stats.overview(demo_store)["votes"]
    assert export.count(demo_store, actor=SYSTEM) == total
    for fmt in export.FORMATS:
        assert export.write(demo_store, tmp_path / f"all.{fmt}", fmt, batch_size=7, actor=SYSTEM) == total
    from_csv = _csv_rows(tmp_path / "all.csv")
    from_json = _jsonl_rows(tmp_path / "all.jsonl")
    from_parquet = pq.read_table(tmp_path / "all.parquet").to_pylist()
    assert len(from_csv) == len(from_json) == len(from_parquet) == total
    assert [r["feedback_id"] for r in from_csv] == [r["feedback_id"] for r in from_json]
    assert [r["feedback_id"] for r in from_json] == [r["feedback_id"] for r in from_parquet]
    assert [int(r["rating"]) for r in from_csv] == [r["rating"] for r in from_json]
    assert [r["comment"] or None for r in from_csv] == [r["comment"] for r in from_json]  # no risky demo comments
    assert [r["tags"] for r in from_csv] == [";".join(r["tags"]) for r in from_parquet]
    assert sum(1 for r in from_json if "过时" in (r["comment"] or "")) > 0
    assert export.preview(demo_store, limit=3, actor=SYSTEM) == from_json[:3]


@pytest.fixture
def duck_file(tmp_path):
    path = str(tmp_path / "cli.duckdb")
    with open_store(path) as opened:
        assert demo.seed(opened, threads=20, seed=3, actor=SYSTEM).ok
        votes = stats.overview(opened)["votes"]
        negatives = export.count(opened, {"assistant_id": "coding-agent", "rating": "negative"}, actor=SYSTEM)
    return path, votes, negatives


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "data_layer", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


@pytest.mark.slow
def test_cli_export(duck_file, tmp_path):
    db, votes, negatives = duck_file
    out = tmp_path / "feedback.csv"
    done = _cli("export", "--db", db, "--format", "csv", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out) and done.stderr == ""
    assert len(_csv_rows(out)) == votes
    out = tmp_path / "few.jsonl"
    done = _cli("export", "--db", db, "-o", str(out), "--assistant", "coding-agent", "--rating", "negative",
                "--columns", "rating,comment", "--since", "2000-01-01", "--until", "2099-12-31")  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = _jsonl_rows(out)
    assert len(rows) == negatives and all(set(row) == {"rating", "comment"} for row in rows)


@pytest.mark.slow
def test_cli_export_errors_are_one_line(duck_file, tmp_path):
    db, _, _ = duck_file
    for args, words in (
        (["--since", "2026-02-30", "-o", str(tmp_path / "x.csv")], "since"),
        (["--columns", "nope", "-o", str(tmp_path / "x.csv")], "unknown column"),
        (["-o", str(tmp_path / "missing" / "x.csv")], "does not exist"),
        (["-o", str(tmp_path / "x.txt")], "format"),
    ):
        done = _cli("export", "--db", db, *args)
        assert done.returncode == 1
        assert done.stdout == "" and done.stderr.count("\n") == 1 and words in done.stderr, done.stderr
    assert not list(tmp_path.glob("x.*"))


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_cut_into_vote_time_slices_is_byte_identical(demo_store, tmp_path, monkeypatch, fmt):
    """Large exports are read in slices of vote time; cutting the demo data into dozens of them
    (filtered and not) must give exactly the bytes of one slice."""
    with demo_store.engine.read() as conn:
        assert len(export._slices(conn, Filters(), SYSTEM, 5)) > 20  # the demo data really is cut up
    cases = [
        ({}, None),
        ({"model_name": "gpt-4.1", "rating": "negative"}, None),
        ({"source": "end_user"}, ["comment"]),
    ]
    for n, (filters, columns) in enumerate(cases):
        whole = tmp_path / f"whole{n}.{fmt}"
        export.write(demo_store, whole, fmt, filters, columns=columns, actor=SYSTEM)
        monkeypatch.setattr(export, "SLICE_ROWS", 5)
        sliced = tmp_path / f"sliced{n}.{fmt}"
        export.write(demo_store, sliced, fmt, filters, columns=columns, batch_size=3, actor=SYSTEM)
        monkeypatch.undo()
        assert sliced.read_bytes() == whole.read_bytes()
        assert len(whole.read_bytes()) > 100


# Text COPY's CSV, the export's CSV and spreadsheets give a meaning to, set in SQL where the API would refuse it.
AWKWARD = {
    "reviewer-plus": {"comment": "", "tags": ["a,b", 'q"x', "back\\slash", "", "ü 日本", "=cmd"]},
    "reviewer-minus": {"comment": 'tab\tin\\N the middle, \\ "q" \r\nend', "tags": []},
    "reviewer-at": {"comment": "=cmd|' /C calc'!A0", "tags": ["\\N", None]},
}


def _awkward_store(url):
    store = open_store(url)
    on_message = {"kind": "feedback", "thread_id": "t1", "run_id": "r1", "owner_id": "msg-reviewer", "rating": -1}
    on_message |= {"message_id": "a1", "created_at": "2026-03-02T12:00:00Z"}
    report = store.ingest([*_records(), on_message], actor=SYSTEM)
    assert report.ok, report.summary()
    sql = "UPDATE feedback SET comment = $comment, tags = CAST($tags AS TEXT[]) WHERE owner_id = $owner"
    for owner, values in AWKWARD.items():
        store.engine.write(lambda conn, o=owner, v=values: conn.execute(sql, {**v, "owner": o}))
    title = "UPDATE threads SET title = $title WHERE thread_id = 't1'"
    store.engine.write(lambda conn: conn.execute(title, {"title": '\t=title, "x"\n\\'}))
    return store


@pytest.mark.postgres
def test_postgresql_copies_out_the_bytes_duckdb_and_its_cursor_write(pg_url, tmp_path, monkeypatch):
    """The same data on both engines exports to the same bytes; on PostgreSQL the rows come through COPY
    (`bulk_batches`), and reading them through the server-side cursor (`arrow_batches`) as before gives the
    same bytes. NULL and empty texts stay apart, awkward text and tags come back as they were stored."""
    from data_layer.engines.pg import PgConn

    stores = {"duckdb": _awkward_store(str(tmp_path / "awkward.duckdb")), "postgresql": _awkward_store(pg_url)}
    try:
        out = {}
        for name, store in stores.items():
            for fmt in ("csv", "jsonl"):
                export.write(store, tmp_path / f"{name}.{fmt}", fmt, actor=SYSTEM)
                out[name, fmt] = (tmp_path / f"{name}.{fmt}").read_bytes()
        monkeypatch.setattr(PgConn, "bulk_batches", PgConn.arrow_batches)
        for fmt in ("csv", "jsonl"):
            export.write(stores["postgresql"], tmp_path / f"cursor.{fmt}", fmt, actor=SYSTEM)
            out["cursor", fmt] = (tmp_path / f"cursor.{fmt}").read_bytes()
    finally:
        for store in stores.values():
            store.close()
    for fmt in ("csv", "jsonl"):
        assert out["postgresql", fmt] == out["duckdb", fmt] == out["cursor", fmt], fmt
    rows = {row["reviewer"]: row for row in _jsonl_rows(tmp_path / "postgresql.jsonl")}
    for owner, values in AWKWARD.items():
        assert rows[owner]["comment"] == values["comment"], owner
        assert rows[owner]["tags"] == values["tags"], owner
    assert rows["reviewer-unicode"]["comment"] == HOSTILE["unicode"]
    assert rows["reviewer-formula"]["created_at"] == "2026-03-02T11:00:00.999500+00:00"
    assert rows["msg-reviewer"]["comment"] is None and rows["msg-reviewer"]["message_id"] == "a1"
    csv_rows = {row["reviewer"]: row for row in _csv_rows(tmp_path / "postgresql.csv")}
    assert csv_rows["reviewer-plus"]["tags"] == 'a,b;q"x;back\\slash;;ü 日本;=cmd'
    assert csv_rows["reviewer-at"]["comment"] == "'=cmd|' /C calc'!A0"
    assert csv_rows["reviewer-plus"]["thread_title"] == '\'\t=title, "x"\n\\'
    assert csv_rows["reviewer-formula"]["created_at_utc"] == "2026-03-02 11:00:00"
    # An empty comment is an empty quoted cell, no comment an empty one.
    lines = out["postgresql", "csv"].decode("utf-8-sig").split("\r\n" if b"\r\n" in out["postgresql", "csv"] else "\n")
    assert any('"reviewer-plus"' in line and ',"",' in line for line in lines)
    assert any('"msg-reviewer"' in line and ",," in line for line in lines)
